"""The judge on its benchmark: rank agreement with the rule labels, calibration, throughput.

RoboAlign-R1 (arXiv:2605.03821) evaluates its judges by how well their scores rank videos on
each of the six dimensions; here Spearman and pairwise accuracy against the benchmark's rule
labels, the student's agreement with its teacher, and videos per second (the student exists to be
fast enough to score every RL candidate). Training and distillation are ``algos/judge.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from worldalign.algos.judge import DistillPool, Judge, pool_from_data, predict_pool
from worldalign.models.judge.bench_data import load_split, read_meta
from worldalign.models.judge.calibration_plot import draw_calibration
from worldalign.models.judge.ranking import pairwise_accuracy, spearman
from worldalign.models.text import InstructionEncoder
from worldalign.utils.atomic import atomic_write_json


def evaluate(model: Judge, pool: DistillPool, labels: Tensor, keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per dimension: Spearman and pairwise accuracy of ``model``'s rubric scores against ``labels``."""
    predictions = predict_pool(model, pool, rubric=True).numpy()
    truth = labels.numpy()
    return {
        key: {"spearman": spearman(predictions[:, d], truth[:, d]), "pairwise_accuracy": pairwise_accuracy(predictions[:, d], truth[:, d])}
        for d, key in enumerate(keys)
    }


def rank_agreement_per_split(
    bench: str | Path, judges: dict[str, Judge]
) -> dict[str, tuple[int, dict[str, dict[str, dict[str, float]]]]]:
    """Per benchmark test split: its number of videos and, per judge name, ``evaluate``'s numbers."""
    meta = read_meta(bench)
    encoder = InstructionEncoder()
    splits: dict[str, tuple[int, dict[str, dict[str, dict[str, float]]]]] = {}
    for split in (s for s in ("test", "heldout_test") if s in meta.splits):
        data = load_split(bench, split)
        pool = pool_from_data(data, encoder, meta.max_scores, split)
        results = {name: evaluate(model, pool, data.scores, meta.keys) for name, model in judges.items()}
        splits[split] = (len(data), results)
    return splits


def scores_by_source(
    sources: np.ndarray, labels: np.ndarray, rubric: dict[str, np.ndarray], keys: tuple[str, ...]
) -> dict[str, dict[str, object]]:
    """Per item source (``judge_bench.build.SOURCES``): its number of videos and, per dimension and
    for the six-dimension ``sum``, the mean label and each judge's mean rubric score. A judge that
    overrates a source's items (e.g. painted artifacts) shows here, where rank correlations over
    a whole split hide it."""
    table: dict[str, dict[str, object]] = {}
    for source in sorted(set(sources.tolist())):
        chosen = sources == source
        means = {"labels": labels[chosen], **{name: scores[chosen] for name, scores in rubric.items()}}
        table[source] = {"videos": int(chosen.sum())}
        for name, scores in means.items():
            table[source][name] = {key: float(scores[:, d].mean()) for d, key in enumerate(keys)}
            table[source][name]["sum"] = float(scores.sum(axis=1).mean())  # type: ignore[index]
    return table


def videos_per_second(model: Judge, pool: DistillPool, batch_size: int = 16, repeats: int = 2) -> float:
    """Throughput of ``model.predict`` on the first ``batch_size`` videos of ``pool`` (best of ``repeats``)."""
    video, embeddings, actions, _ = pool.batch(torch.arange(min(batch_size, len(pool))))
    model.predict(video, embeddings, actions)  # warm-up: first calls allocate
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(video, embeddings, actions)
        best = min(best, time.perf_counter() - start)
    return video.shape[0] / best


def judge_report(bench: str | Path, judges: dict[str, Judge], out: str | Path, *, progress: bool = True) -> dict[str, object]:
    """Every number of the judge benchmark, written to ``out/judge_report.json`` with calibration PNGs.

    Per split (``test``, ``heldout_test``) and dimension: Spearman and pairwise accuracy of each
    judge's rubric scores (``to_rubric``: whole score levels) against the rule labels, and of its
    continuous predictions (``*_continuous``); with a ``teacher`` and a ``student``, their agreement
    (Spearman between their predictions, mean absolute difference in score points); per source of
    the items (``scores_by_source``), the mean label and each judge's mean rubric score; and each
    judge's throughput in videos/s, with the student/teacher ratio.
    """
    meta = read_meta(bench)
    out = Path(out)
    encoder = InstructionEncoder()
    scale = torch.tensor(meta.max_scores, dtype=torch.float32)
    report: dict[str, object] = {"bench": str(bench), "splits": {}}
    for split in (s for s in ("test", "heldout_test") if s in meta.splits):
        data = load_split(bench, split)
        pool = pool_from_data(data, encoder, meta.max_scores, split)
        normalised = {
            name: predict_pool(model, pool)
            for name, model in tqdm(judges.items(), desc=split, disable=not progress)
        }
        raw = {name: (value * scale).numpy() for name, value in normalised.items()}
        rubric = {name: (judges[name].to_rubric(value) * scale).numpy() for name, value in normalised.items()}
        labels = data.scores.numpy()
        entry: dict[str, object] = {
            name: {
                key: {
                    "spearman": spearman(rubric[name][:, d], labels[:, d]),
                    "pairwise_accuracy": pairwise_accuracy(rubric[name][:, d], labels[:, d]),
                    "spearman_continuous": spearman(raw[name][:, d], labels[:, d]),
                    "pairwise_accuracy_continuous": pairwise_accuracy(raw[name][:, d], labels[:, d]),
                }
                for d, key in enumerate(meta.keys)
            }
            for name in judges
        }
        if {"teacher", "student"} <= set(raw):
            entry["student_teacher_agreement"] = {
                key: {
                    "spearman": spearman(raw["student"][:, d], raw["teacher"][:, d]),
                    "mean_abs_difference": float(np.abs(raw["student"][:, d] - raw["teacher"][:, d]).mean()),
                }
                for d, key in enumerate(meta.keys)
            }
        entry["by_source"] = scores_by_source(data.items["source"].to_numpy(), labels, rubric, meta.keys)
        entry["videos"] = len(data)
        draw_calibration(out / f"calibration_{split}.png", raw, labels, meta.titles, meta.max_scores, f"{split}: {len(data)} videos")
        report["splits"][split] = entry  # type: ignore[index]
        if split == "test":
            report["videos_per_second"] = {name: videos_per_second(model, pool) for name, model in judges.items()}
    speeds = report.get("videos_per_second", {})
    if isinstance(speeds, dict) and {"teacher", "student"} <= set(speeds):
        report["student_speedup"] = speeds["student"] / speeds["teacher"]
    atomic_write_json(out / "judge_report.json", report)
    return report
