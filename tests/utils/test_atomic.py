"""Atomic writes: all or nothing, and files as readable as plainly written ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from worldalign.utils.atomic import atomic_path, atomic_write_json


def test_atomic_files_get_the_permissions_of_plainly_written_ones(tmp_path: Path) -> None:
    (tmp_path / "plain.json").write_text("{}")
    plain = (tmp_path / "plain.json").stat().st_mode & 0o777
    atomic_write_json(tmp_path / "atomic.json", {"a": 1})
    with atomic_path(tmp_path / "tensors.safetensors") as tmp:
        save_file({"x": torch.zeros(2)}, str(tmp))  # safetensors alone writes 0600
    for name in ("atomic.json", "tensors.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == plain, name


def test_a_failed_write_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "target.json"
    atomic_write_json(target, {"version": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text().strip().replace(" ", "").replace("\n", "") == '{"version":1}'
    assert [p.name for p in tmp_path.iterdir()] == ["target.json"]
