"""The VLA evaluation stage: a trained policy in, a JSON of closed-loop success and one video per
task out.

Runs ``eval.vla.evaluate_tasks`` and writes ``OUT/vla_eval.json`` (per task: success per layout
seed, mean and std over seeds, fallbacks, ms per chunk; overall means) and ``OUT/<task>.mp4``:
every seed's episode one after the other, the policy's views side by side, the title naming the
task, seed, instruction and outcome, and under each frame what the policy said when it planned
the chunk being executed (its ``<think>`` text for the token head).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.eval.vla import Head, TaskResult, evaluate_tasks
from worldalign.models.vla import VLAPolicy
from worldalign.utils.atomic import atomic_write_json, make_folder
from worldalign.viz.video_grid import add_captions, compose_grid, video_suffix, write_video

RESULT_FILE = "vla_eval.json"
FPS = 10
"""Playback rate of the videos: a quarter of the simulation's 40 fps, slow enough to read the text."""


@dataclass
class VLAEvaluation:
    """What ``evaluate_vla`` wrote: the results, the JSON file and the videos."""

    results: list[TaskResult]
    json_path: Path
    videos: list[Path]


def _task_video(result: TaskResult, views: Sequence[str], out: Path) -> Path:
    clips = []
    for episode in result.episodes:
        title = (
            f"{episode.task} seed {episode.seed}: {episode.instruction} [{'success' if episode.success else 'failure'}]"
        )
        grid = compose_grid([episode.frames], column_labels=list(views), title=title)
        clips.append(add_captions(grid, [f"{episode.head}: {text}" for text in episode.captions]))
    return write_video(np.concatenate(clips), out / f"{result.task}{video_suffix()}", fps=FPS)


def evaluate_vla(
    policy: VLAPolicy,
    tokenizer: FastActionTokenizer,
    tasks: Sequence[str],
    seeds: Sequence[int],
    out: str | os.PathLike[str],
    *,
    head: Head = "tokens",
    execute_steps: int = 5,
    max_steps: int = 100,
    max_new_tokens: int = 256,
    model: str = "",
) -> VLAEvaluation:
    """Evaluate ``policy`` on ``tasks`` x ``seeds`` and write the JSON and one video per task."""
    folder = make_folder(out)
    results = evaluate_tasks(
        policy,
        tokenizer,
        tasks,
        seeds,
        head=head,
        execute_steps=execute_steps,
        max_steps=max_steps,
        max_new_tokens=max_new_tokens,
    )
    summaries = {result.task: result.summary() for result in results}
    means = [float(s["success_mean"]) for s in summaries.values()]  # type: ignore[arg-type]
    chunks = sum(int(s["chunks"]) for s in summaries.values())  # type: ignore[call-overload]
    report = {
        "model": model,
        "tokenizer": tokenizer.source,
        "head": head,
        "seeds": list(seeds),
        "execute_steps": execute_steps,
        "max_steps": max_steps,
        "tasks": summaries,
        "success_mean": float(np.mean(means)),
        "success_std_over_tasks": float(np.std(means)),
        "fallbacks": sum(int(s["fallbacks"]) for s in summaries.values()),  # type: ignore[call-overload]
        "overlong": sum(int(s["overlong"]) for s in summaries.values()),  # type: ignore[call-overload]
        "chunks": chunks,
        "ms_per_chunk": float(
            sum(float(s["ms_per_chunk"]) * int(s["chunks"]) for s in summaries.values()) / max(chunks, 1)  # type: ignore[arg-type,call-overload]
        ),
    }
    json_path = folder / RESULT_FILE
    atomic_write_json(json_path, report)
    return VLAEvaluation(results, json_path, [_task_video(result, policy.config.views, folder) for result in results])
