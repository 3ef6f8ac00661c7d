"""The judge benchmark: labelled robot videos built from the simulator (RoboAlign-R1, arXiv:2605.03821).

RoboAlign-R1 ("Distilled Multimodal Reward Alignment for Robot Video World Models") trains its
judge on video-instruction pairs scored on six dimensions. Here the pairs come from Meta-World
and every score is computed by a written rule from privileged simulator state and from the edit
that made the item (``docs/judge_labels.md`` is the one place the rules are written down).

Modules, one job each:

- ``labels``: the six dimensions, their ranges, and the label rules.
- ``simulate``: one short clip of a task, with optional mid-episode edits of the MuJoCo state.
- ``corruptions``: temporal corruptions (frame orders) and label-preserving nuisances.
- ``items``: the benchmark item and how each source turns simulated clips into items.
- ``build``: the deterministic, parallel builder (``worldalign judge-bench build``).
- ``storage``: the on-disk format (safetensors shards + parquet + JSON) and score tables.

Importing the package selects a headless GL backend first (``worldalign.envs`` does it), since
MuJoCo reads ``MUJOCO_GL`` once, at import.
"""

import worldalign.envs  # noqa: F401  (sets MUJOCO_GL before anything imports mujoco)
