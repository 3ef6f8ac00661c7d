"""What worldalign writes is valid JSON: NaN and infinities become null (and are listed in a
log line's "nonfinite"), never the bare NaN/Infinity other readers refuse."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from worldalign.utils.atomic import atomic_write_json
from worldalign.utils.json_values import log_record


def strict_loads(text: str) -> object:
    def refuse(constant: str) -> None:
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_log_line_writes_null_and_names_the_non_finite_keys() -> None:
    line = log_record({"iteration": 3, "reward/total": float("nan"), "train/kl": float("inf"), "loss": 0.5})
    assert strict_loads(line) == {
        "iteration": 3, "reward/total": None, "train/kl": None, "loss": 0.5, "nonfinite": ["reward/total", "train/kl"]
    }  # fmt: skip
    assert "nonfinite" not in strict_loads(log_record({"iteration": 1, "loss": 0.5}))


def test_atomic_json_writes_null_for_nan_at_any_depth_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "summary.json"
    with caplog.at_level(logging.WARNING):
        atomic_write_json(path, {"after": {"psnr": float("-inf"), "ssim": [0.5, float("nan")]}, "steps": 2})
    assert strict_loads(path.read_text()) == {"after": {"psnr": None, "ssim": [0.5, None]}, "steps": 2}
    assert any("summary.json" in r.getMessage() and "after.psnr, after.ssim[1]" in r.getMessage() for r in caplog.records)
