"""One ``Episode`` in one safetensors file: arrays as tensors, scalar fields as JSON metadata.

The generator stages every finished episode this way (a crashed generation resumes from the
files already there) and anything may use it as a cache. Writes are atomic, so a file that
exists is complete.

Tensors: ``frames``, ``actions``, ``state``, ``privileged.<name>``, and ``snapshots`` /
``layout`` when the episode has them. Metadata key ``worldalign.episode``: JSON with ``task``,
``instruction``, ``views``, ``success``, ``fps``, ``metadata``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save

from worldalign.data.types import Episode
from worldalign.errors import DatasetError
from worldalign.utils.atomic import atomic_write_bytes

FORMAT = "worldalign.episode/1"
_METADATA_KEY = "worldalign.episode"
_PRIVILEGED = "privileged."
_TENSORS = ("frames", "actions", "state")
_FIELDS = ("task", "instruction", "views", "success", "fps", "metadata")


def save_episode(path: str | os.PathLike[str], episode: Episode) -> None:
    """Write ``episode`` to ``path`` (a ``.safetensors`` file), atomically."""
    episode.validate()
    tensors = {"frames": episode.frames, "actions": episode.actions, "state": episode.state}
    tensors |= {_PRIVILEGED + name: values for name, values in episode.privileged.items()}
    if episode.snapshots is not None:
        tensors["snapshots"] = episode.snapshots
    if episode.layout is not None:
        tensors["layout"] = episode.layout
    fields = {
        "format": FORMAT,
        "task": episode.task,
        "instruction": episode.instruction,
        "views": list(episode.views),
        "success": episode.success,
        "fps": episode.fps,
        "metadata": episode.metadata,
    }
    try:
        header = json.dumps(fields)
    except TypeError as error:
        raise DatasetError(f"{path}: episode metadata must be JSON-serialisable: {error}") from error
    payload = save(
        {name: np.ascontiguousarray(array) for name, array in tensors.items()}, metadata={_METADATA_KEY: header}
    )
    atomic_write_bytes(path, payload)


@dataclass(frozen=True)
class EpisodeSummary:
    """What an episode file's header tells without loading its arrays."""

    task: str
    success: bool | None
    length: int
    snapshot_width: int | None


def read_episode_summary(path: str | os.PathLike[str]) -> EpisodeSummary:
    """Task, success, length and snapshot width of a ``save_episode`` file, from its header only."""
    try:
        with safe_open(str(path), framework="np") as handle:
            fields = json.loads((handle.metadata() or {}).get(_METADATA_KEY, "{}"))
            keys = set(handle.keys())
            if "frames" not in keys or "task" not in fields:
                raise DatasetError(f"{path}: not a worldalign episode file (no frames tensor or task field)")
            length = int(handle.get_slice("frames").get_shape()[1])
            width = int(handle.get_slice("snapshots").get_shape()[1]) if "snapshots" in keys else None
    except (SafetensorError, OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: not a readable safetensors file (truncated or corrupt): {error}") from error
    return EpisodeSummary(fields["task"], fields.get("success"), length, width)


def load_episode(path: str | os.PathLike[str]) -> Episode:
    """Read an episode written by ``save_episode``; ``DatasetError`` naming the file and field
    if it is missing, corrupt or incomplete."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: episode file not found")
    try:
        with safe_open(str(path), framework="np") as handle:
            header = (handle.metadata() or {}).get(_METADATA_KEY)
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise DatasetError(f"{path}: not a readable safetensors file (truncated or corrupt): {error}") from error
    if header is None:
        raise DatasetError(
            f"{path}: safetensors metadata has no {_METADATA_KEY!r} entry; not a worldalign episode file"
        )
    try:
        fields = json.loads(header)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: metadata {_METADATA_KEY!r} is not valid JSON: {error}") from error
    if fields.get("format") != FORMAT:
        raise DatasetError(f"{path}: format {fields.get('format')!r}, expected {FORMAT!r}")
    missing = [name for name in _FIELDS if name not in fields] + [name for name in _TENSORS if name not in tensors]
    if missing:
        raise DatasetError(
            f"{path}: field(s) {missing} missing; "
            f"an episode file has tensors {list(_TENSORS)} and fields {list(_FIELDS)}"
        )
    try:
        # Episode's own validation checks that the shapes agree with each other.
        return Episode(
            task=fields["task"],
            instruction=fields["instruction"],
            views=tuple(fields["views"]),
            frames=tensors["frames"],
            actions=tensors["actions"],
            state=tensors["state"],
            privileged={
                name[len(_PRIVILEGED) :]: array for name, array in tensors.items() if name.startswith(_PRIVILEGED)
            },
            success=fields["success"],
            fps=fields["fps"],
            snapshots=tensors.get("snapshots"),
            layout=tensors.get("layout"),
            metadata=fields["metadata"],
        )
    except DatasetError as error:
        raise DatasetError(f"{path}: {error}") from error
