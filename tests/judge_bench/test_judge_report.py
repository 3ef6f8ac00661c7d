"""The judge on its benchmark (``eval/judge.py``): the numbers the report writes are the ranking's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from worldalign.eval.judge import judge_report, rank_agreement_per_split, scores_by_source
from worldalign.models.judge.bench_data import read_meta
from worldalign.models.judge.configuration_judge import student_config
from worldalign.models.judge.modeling_judge import JudgeStudent


def test_the_report_holds_each_judges_rank_agreement_per_dimension(tiny_bench: Path, tmp_path: Path) -> None:
    meta = read_meta(tiny_bench)
    torch.manual_seed(0)
    judges = {"student": JudgeStudent(student_config(meta.keys, meta.max_scores, meta.views)).eval()}

    agreement = rank_agreement_per_split(tiny_bench, judges)
    report = judge_report(tiny_bench, judges, tmp_path / "report", progress=False)

    assert list(agreement) == ["test"]  # the tiny benchmark has no held-out tasks
    videos, per_judge = agreement["test"]
    assert videos == report["splits"]["test"]["videos"] > 0
    for key in meta.keys:
        ranked = per_judge["student"][key]
        written = report["splits"]["test"]["student"][key]
        assert written["spearman"] == pytest.approx(ranked["spearman"], nan_ok=True)
        assert written["pairwise_accuracy"] == pytest.approx(ranked["pairwise_accuracy"])
        assert 0.0 <= ranked["pairwise_accuracy"] <= 1.0
    assert report["videos_per_second"]["student"] > 0
    written = json.loads((tmp_path / "report" / "judge_report.json").read_text())["splits"]["test"]
    assert written["videos"] == videos
    assert sum(entry["videos"] for entry in written["by_source"].values()) == videos
    assert (tmp_path / "report" / "calibration_test.png").stat().st_size > 0


def test_the_report_breaks_scores_down_by_source() -> None:
    sources = np.array(["expert", "artifact", "expert", "artifact"])
    labels = np.array([[3, 2], [3, 0], [1, 2], [1, 0]], dtype=np.float32)
    fooled = np.array([[3, 2], [3, 2], [1, 2], [1, 2]], dtype=np.float32)  # never sees the artifact
    table = scores_by_source(sources, labels, {"teacher": fooled}, ("instruction_following", "physics_adherence"))
    assert list(table) == ["artifact", "expert"] and table["artifact"]["videos"] == 2
    assert table["artifact"]["labels"] == {"instruction_following": 2.0, "physics_adherence": 0.0, "sum": 2.0}
    assert table["artifact"]["teacher"] == {"instruction_following": 2.0, "physics_adherence": 2.0, "sum": 4.0}
    assert table["expert"]["teacher"] == table["expert"]["labels"]
