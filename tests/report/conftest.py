"""Tiny real results to build reports from: two rollouts (SWR and full history), an alignment, an
evaluation of the pretrained and aligned models and a world-model training run, made in seconds on
the moving-squares data (``tiny_runs``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from moving_squares import run_cli, tiny_runs


@pytest.fixture(scope="session")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"swr", "full", "align", "eval", "wm"}``: the result folders (do not modify them: copy first)."""
    root = tmp_path_factory.mktemp("report_inputs")
    runs = tiny_runs(root)
    models = ["--world-model", str(runs["wm"]), "--autoencoder", str(runs["ae"]), "--dataset", str(runs["dataset"])]
    for policy, name in (("swr", "swr"), ("full-history", "full")):
        argv = ["rollout", *models, "--out", str(root / name), "--policy", policy, "--horizon", "8", "--steps", "2"]
        assert run_cli([*argv, "--window", "3", "--episodes", "1,2"]) == 0
    align = [
        "align", *models, "--out", str(root / "align"), "--iterations", "2", "--conditions-per-iteration", "1",
        "--group-size", "2", "--sampling-steps", "2", "--max-prefix-chunks", "1", "--max-continuation-chunks", "1",
        "--fidelity-metrics", "ssim=1,psnr=1", "--eval-rewards", "fidelity=1", "--eval-episodes", "1",
        "--eval-horizon", "4", "--eval-seeds", "2", "--window", "3",
    ]  # fmt: skip
    assert run_cli(align) == 0
    evaluation = [
        "eval", "--world-model", f"pretrained={runs['wm']}", "--world-model", f"aligned={root / 'align'}",
        "--autoencoder", str(runs["ae"]), "--dataset", str(runs["dataset"]), "--out", str(root / "eval"),
        "--horizon", "4", "--steps", "2", "--policies", "swr:3,full-history", "--rewards", "fidelity=1",
        "--fidelity-metrics", "ssim=1,psnr=1",
    ]  # fmt: skip
    assert run_cli(evaluation) == 0
    folders = {name: root / name for name in ("swr", "full", "align", "eval")}
    return {**folders, "wm": runs["wm"]}
