"""The Python API page's example chain runs as written: pretraining, alignment and rollouts as
library calls (docs/python_api.md), on the tiny preset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from moving_squares import run_cli, tiny_runs, write_dataset

from worldalign.errors import ConfigError

DOC = Path(__file__).resolve().parents[1] / "docs" / "python_api.md"


def example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1, "docs/python_api.md has one example block"
    return blocks[0]


def test_the_documented_chain_runs_in_at_most_15_lines_of_calls(tmp_path: Path) -> None:
    code = example_code()
    body = [line for line in code.splitlines() if line.startswith("    ")]
    assert len(body) <= 15, f"the chain takes {len(body)} lines"
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    metrics = namespace["chain"](write_dataset(tmp_path / "data"), tmp_path / "runs")
    assert (tmp_path / "runs" / "align" / "before_after.json").is_file()
    assert len(metrics["psnr"]) == 4 and all(value > 0 for value in metrics["psnr"])
    written = json.loads((tmp_path / "runs" / "rollout" / "metrics.json").read_text())
    assert written["psnr"] == metrics["psnr"] and written["world_model"].endswith("align/model")


def test_an_alignment_refused_for_its_arguments_writes_nothing(tmp_path: Path) -> None:
    runs = tiny_runs(tmp_path / "runs")
    out = tmp_path / "align"
    with pytest.raises(ConfigError, match="needs the option"):
        run_cli([
            "align", "--world-model", str(runs["wm"]), "--autoencoder", str(runs["ae"]), "--dataset",
            str(runs["dataset"]), "--out", str(out), "--window", "3", "--eval-horizon", "4", "--rewards", "success=1.0",
        ])  # fmt: skip
    assert not out.exists(), "a refused run leaves no OUT folder behind"
