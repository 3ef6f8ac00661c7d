"""Atomic writes: write to a temporary file beside the target, fsync, then rename.

A reader never sees a half-written file: either the old content or the new one. Used for every
file worldalign writes that a user or a resumed run will read back.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from worldalign.errors import ConfigError
from worldalign.utils.json_values import strict_dumps


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
    make_folder(target.parent)
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
    """Write ``obj`` as indented, valid JSON to ``target`` atomically (NaN and infinities become
    ``null``, with a warning: ``utils.json_values``)."""
    atomic_write_bytes(target, (strict_dumps(obj, where=str(target), indent=2) + "\n").encode())


def make_folder(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` (and its parents) if needed; a ``ConfigError`` naming the path when it,
    or one of its parents, is an existing file rather than a folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise ConfigError(
            f"{blocking} is an existing file, not a folder: expected a folder for {folder} "
            "(choose another output path, e.g. another --out)"
        ) from None
    return folder
