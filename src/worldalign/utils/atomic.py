"""Atomic writes: write to a temporary file beside the target, fsync, then rename.

A reader never sees a half-written file: either the old content or the new one. Used for every
file worldalign writes that a user or a resumed run will read back.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def plain_mode(directory: bool = False) -> int:
    """The permission bits a plain ``open``/``mkdir`` would give under the process's umask.

    ``tempfile`` creates private (0600/0700) files and folders, and so does safetensors'
    ``save_file``; whatever is written through them gets these bits instead, so that datasets
    and checkpoints stay readable by a team sharing a machine, as any other file would be.
    """
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    The temporary keeps the target's suffix so that writers choosing a format by extension
    (PyAV, pyarrow) behave as for the real name. On an exception the temporary is removed and
    the target is left untouched. The target gets the permissions of a plainly written file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.chmod(plain_mode())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(target: str | os.PathLike[str], payload: bytes) -> None:
    """Write ``payload`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(payload)


def atomic_write_json(target: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically."""
    atomic_write_bytes(target, (json.dumps(obj, indent=2) + "\n").encode())
