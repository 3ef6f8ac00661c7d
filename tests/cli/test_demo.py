"""``worldalign demo`` (the README's main command) runs its whole chain and leaves its outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worldalign.cli.main import main


def test_demo_chain_on_two_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--tasks", "reach-v3,drawer-close-v3", "--episodes-per-task", "2", "--workers", "1",
            "--align-iterations", "1", "--judge-iterations", "1", "--eval-episodes", "2",
            "--eval-horizon", "16"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "$ worldalign data generate" in printed, "every step is printed as the command a user can rerun"
    assert sorted(p.name for p in (out / "previews").iterdir()) == ["drawer-close-v3.mp4", "reach-v3.mp4"]
    scores = json.loads((out / "executability.json").read_text())["per_task"]
    assert set(scores) == {"reach-v3", "drawer-close-v3"}
    assert all(row["executability"] <= 0 for row in scores.values()), "executability is minus a sum of penalties"
    execution = json.loads((out / "execution.json").read_text())
    assert "drawer-close-v3" in json.dumps(execution)
    summary = json.loads((out / "align" / "before_after.json").read_text())
    assert summary["iterations"] == 1 and summary["algorithm"] == "nft"
    assert {"fidelity/lpips", "fidelity/ssim", "executability"} <= set(summary["before"]) <= set(summary["after"])
    assert len(list((out / "align" / "videos").glob("episode_*.mp4"))) == 2  # one held-out episode per task
    judged = json.loads((out / "align-judge" / "before_after.json").read_text())
    assert judged["iterations"] == 1 and judged["algorithm"] == "grpo"
    assert {"judge_teacher", "judge_teacher/manipulation_success", "judge"} <= set(judged["before"])
    vla = json.loads((out / "vla" / "vla_eval.json").read_text())
    assert vla["head"] == "flow" and set(vla["tasks"]) == {"window-open-v3", "window-close-v3"}
    assert all(task["chunks"] >= 1 for task in vla["tasks"].values())
    assert {p.name for p in (out / "vla").glob("*.mp4")} == {"window-open-v3.mp4", "window-close-v3.mp4"}
    evaluation = json.loads((out / "eval" / "eval.json").read_text())
    assert evaluation["config"]["horizon"] == 16
    models = evaluation["splits"]["training_tasks"]["models"]
    assert set(models) == {"shipped", "aligned", "judge-aligned"}
    assert evaluation["splits"]["training_tasks"]["tasks"] == sorted(scores)
    assert {"executability", "execution", "judge_teacher"} <= set(models["aligned"]["rewards"]["mean"])
    page = (out / "report" / "index.html").read_text()
    assert "Evaluation" in page and "Alignment" in page and "aligned (swr)" in page
    assert f"open the report: {out / 'report' / 'index.html'}" in printed.replace("\n", "")

    assert main(argv) == 0  # a second run reuses the dataset, finds the alignment done and the evaluation measured
    printed = capsys.readouterr().out
    assert "reusing" in printed and "reused" in printed
