"""``build_report``: result files in, a static HTML folder out.

Every input is read and checked, every video it lists found and probed and every training log
read before anything is written: a missing or unplayable video is a ``ResultFileError`` naming the result file, not a
page with a hole in it. The folder then gets ``index.html``, its figures under ``figures/`` and
copies of the videos under ``videos/``: it can be moved, zipped or served as it is, and loads
nothing from the network.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from worldalign.data.video import probe_video
from worldalign.errors import ConfigError, ResultFileError
from worldalign.report import html, plots
from worldalign.report.evaluation import evaluation_section
from worldalign.report.inputs import (
    SEED_SPREAD_SUFFIX,
    AlignmentResult,
    EvalResult,
    ReportInput,
    RolloutResult,
    TrainingLog,
    read_input,
)
from worldalign.report.logs import Series, panels, read_scalars
from worldalign.utils.atomic import atomic_path, atomic_write_bytes, make_folder

INDEX_FILE = "index.html"
FIGURES_DIR = plots.FIGURES_DIR
VIDEOS_DIR = "videos"
BROWSER_VIDEO = ("h264", "yuv420p")


def build_report(inputs: Sequence[Path], out: Path, title: str = "worldalign report") -> Path:
    """Write a report of ``inputs`` (result JSON files or run folders) into ``out``.

    Args:
        inputs: rollout ``metrics.json`` files, alignment ``before_after.json`` files, or run
            folders holding one of them or a TensorBoard log (``report.inputs``).
        out: the report folder (created; an earlier report's files there are replaced or left unlinked).
        title: the page's title.

    Returns:
        The path of ``out/index.html``.
    """
    if not inputs:
        raise ConfigError("no input to report on: give result files or run folders")
    results = [read_input(Path(path)) for path in inputs]
    for result in results:
        if not isinstance(result, TrainingLog):
            for path in result.videos:
                _check_video(path, result.source)
    logged = {
        index: _logged_panels(result.log)
        for index, result in enumerate(results)
        if isinstance(result, (AlignmentResult, TrainingLog)) and result.log is not None
    }
    make_folder(out)
    parts = [_inputs_table(results)]
    rollouts = [(index, result) for index, result in enumerate(results) if isinstance(result, RolloutResult)]
    if rollouts:
        parts.append(_rollouts_section(rollouts, out))
    for index, result in enumerate(results):
        if isinstance(result, AlignmentResult):
            parts.append(_alignment_section(index, result, logged.get(index), out))
        elif isinstance(result, EvalResult):
            parts.append(evaluation_section(index, _label(index, result), result, out, _copy_videos))
        elif isinstance(result, TrainingLog):
            parts.append(html.section(f"Training {_label(index, result)}", _curves(index, result.log, logged[index], out)))
    index_file = out / INDEX_FILE
    atomic_write_bytes(index_file, html.page(title, parts).encode())
    return index_file


def _check_video(path: Path, source: Path) -> None:
    """A video the result lists exists and is one every browser plays (H.264 in yuv420p)."""
    if not path.is_file():
        raise ResultFileError(
            f"{source}: field 'videos' lists {path.name}, which was not written (no file {path}): rerun the command "
            "that wrote the result, or report without it"
        )
    probe = probe_video(path)
    if (probe.codec, probe.pix_fmt) != BROWSER_VIDEO:
        raise ResultFileError(
            f"{path} (listed in {source}): {probe.codec} in {probe.pix_fmt}, which not every browser plays (Safari and "
            "hardware decoders lack 4:4:4 H.264): a report's videos are H.264 in yuv420p, as rollout and align write them"
        )


def _label(index: int, result: ReportInput) -> str:
    folder = result.source if isinstance(result, TrainingLog) else result.source.parent
    return f"#{index + 1} {folder.name}"


def _kind(result: ReportInput) -> str:
    if isinstance(result, RolloutResult):
        return "rollout"
    if isinstance(result, EvalResult):
        return "evaluation"
    return "alignment" if isinstance(result, AlignmentResult) else "training log"


def _inputs_table(results: Sequence[ReportInput]) -> str:
    rows = [[html.text(_label(i, r)), html.text(_kind(r)), html.text(r.source)] for i, r in enumerate(results)]
    return html.table("Inputs", ["input", "kind", "read from"], rows)


def _copy_videos(index: int, videos: Sequence[Path], out: Path) -> list[str]:
    """Copy ``videos`` into ``out/videos/<input number>/``; their paths relative to ``out``."""
    copied = []
    for video in videos:
        relative = f"{VIDEOS_DIR}/{index + 1}/{video.name}"
        with atomic_path(out / relative) as tmp:
            shutil.copyfile(video, tmp)
        copied.append(relative)
    return copied


def _rollout_label(index: int, result: RolloutResult) -> str:
    window = "" if result.window is None else f" (window {result.window})"
    return f"{result.policy}{window} {_label(index, result)}"


def _rollouts_section(rollouts: Sequence[tuple[int, RolloutResult]], out: Path) -> str:
    """Per-horizon tables and curves of every rollout with its baselines, the cost, the videos."""
    metrics = [m for m in plots.METRIC_LABELS if any(m in result.curves for _, result in rollouts)]
    curves = [(_rollout_label(index, result), result.curves) for index, result in rollouts]
    baselines = _baselines(rollouts)
    figure = plots.horizon_curves(curves, baselines, metrics, out / FIGURES_DIR / "rollout_horizons.png")
    horizon = max(result.horizon for _, result in rollouts)
    shown = sorted({h for h in plots.TABLE_HORIZONS if h <= horizon} | {horizon})
    tables = []
    for metric in metrics:
        columns = [*curves, *baselines]
        rows = [
            [str(h)] + [html.number(values[metric][h - 1]) if h <= len(values.get(metric, [])) else "–"
                        for _, values in columns]  # fmt: skip
            for h in shown
        ]
        caption = f"{plots.METRIC_LABELS[metric]} per horizon (mean over episodes and views)"
        tables.append(html.table(caption, ["horizon", *(label for label, _ in columns)], rows))
    cost = html.table(
        "Rollout setup and cost",
        ["rollout", "context", "episodes", "views", "ms per frame", "peak context frames", "peak tokens"],
        [
            [
                html.text(_rollout_label(index, result)),
                str(result.context),
                html.text(", ".join(map(str, result.episodes))),
                html.text(", ".join(result.views)),
                html.number(1000 * result.mean_frame_latency_s, 3),
                str(result.peak_context_frames),
                str(result.peak_sequence_tokens),
            ]
            for index, result in rollouts
        ],
    )
    videos = [
        html.video(path, f"{_rollout_label(index, result)}: {Path(path).stem} (real over generated)")
        for index, result in rollouts
        for path in _copy_videos(index, result.videos, out)
    ]
    return html.section(
        "World-model rollouts",
        html.image(figure.relative_to(out).as_posix(), "metric vs horizon per context policy, with baselines"),
        *tables,
        cost,
        html.videos(videos) if videos else html.note("no videos listed"),
    )


def _baselines(rollouts: Sequence[tuple[int, RolloutResult]]) -> list[tuple[str, dict[str, list[float]]]]:
    """The baselines of each distinct set of scored episodes (one set: no input named)."""
    sets: dict[tuple[tuple[int, ...], tuple[str, ...], int, int], tuple[int, RolloutResult]] = {}
    for index, result in rollouts:
        sets.setdefault((tuple(result.episodes), tuple(result.views), result.context, result.horizon), (index, result))
    named = len(sets) > 1
    return [
        (plots.BASELINE_LABELS.get(name, name) + (f" {_label(index, result)}" if named else ""), values)
        for index, result in sets.values()
        for name, values in result.baselines.items()
    ]


def _alignment_section(index: int, result: AlignmentResult, logged: dict[str, list[Series]] | None, out: Path) -> str:
    label = _label(index, result)
    setup = html.table(
        "Run",
        ["field", "value"],
        [
            ["algorithm", html.text(result.algorithm)],
            ["conditions", html.text(result.conditions)],
            ["rewards", html.text(result.rewards)],
            ["iterations", str(result.iterations)],
            ["training seconds", html.number(result.training_seconds, 4)],
        ],
    )
    terms = [name for name in result.after if not name.endswith(SEED_SPREAD_SUFFIX)]
    before = result.before or {}
    rows = [
        [
            html.text(name),
            _with_spread(before, name),
            _with_spread(result.after, name),
            html.number(result.after[name] - before[name]) if name in before else "–",
        ]
        for name in terms
    ]
    compared = html.table(
        "Held-out evaluation before and after (± spread over sampling seeds)", ["term", "before", "after", "change"], rows
    )
    top = [name for name in terms if "/" not in name]
    bars = plots.before_after_bars(result.before, result.after, top, out / FIGURES_DIR / f"{index + 1}_before_after.png")
    parts = [setup, html.image(bars.relative_to(out).as_posix(), f"{label}: before/after bars"), compared]
    if result.log is not None and logged is not None:
        parts.append(_curves(index, result.log, logged, out))
    else:
        parts.append(html.note(f"no TensorBoard log beside {result.source}"))
    videos = [
        html.video(path, f"{label}: {Path(path).stem} (real | pretrained | aligned)")
        for path in _copy_videos(index, result.videos, out)
    ]
    parts.append(html.videos(videos) if videos else html.note("no videos listed"))
    return html.section(f"Alignment {label}", *parts)


def _with_spread(values: dict[str, float], name: str) -> str:
    if name not in values:
        return "–"
    spread = values.get(name + SEED_SPREAD_SUFFIX)
    return html.number(values[name]) + ("" if spread is None else f" ± {html.number(spread, 2)}")


def _logged_panels(log: Path) -> dict[str, list[Series]]:
    """The curves a report draws from a run's log; a ``ResultFileError`` when it holds none."""
    chosen = panels(read_scalars(log))
    if not chosen:
        raise ResultFileError(
            f"{log}: none of the scalars a report draws was logged (reward/total, eval/*, train/loss, probe/*)"
        )
    return chosen


def _curves(index: int, log: Path, logged: dict[str, list[Series]], out: Path) -> str:
    figure = plots.training_curves(logged, out / FIGURES_DIR / f"{index + 1}_training_curves.png")
    return html.image(figure.relative_to(out).as_posix(), f"training curves of {log}")
