"""The embedded world: Meta-World v3 (Yu et al. 2019, arXiv:1910.10897) on MuJoCo, headless.

Modules, one job each:

- ``tasks``: the task suite (train / held-out split) and instruction paraphrases.
- ``cameras``: the named views (free cameras and Meta-World's fixed cameras).
- ``render``: the fast offscreen renderer (no shadows, reflections or multisampling).
- ``snapshot``: exact simulator snapshots, flattened to one float64 row per frame.
- ``metaworld_env``: ``MetaWorldEnv``, the adapter (reset, step, render, snapshot/restore,
  execute).
- ``experts``: Meta-World's scripted policies with seeded Gaussian action noise.
- ``recorder``: ``record_episode``, one expert episode as a ``worldalign.data.types.Episode``.

Importing any of them selects EGL for MuJoCo's offscreen context unless the user chose a
backend: MuJoCo reads ``MUJOCO_GL`` once, at import, and without a headless backend the first
render fails with a misleading ``_mjr_context`` AttributeError.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
