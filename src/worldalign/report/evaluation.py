"""The report's section of an evaluation (``worldalign eval``): the world models compared, split
by split, on the same starts.

Per split: metric vs horizon for every model under every context policy with the baselines, a
table per metric at a few horizons (mean ± spread over sampling seeds), the cost of each policy,
the action gap, the reward terms (bars with the seed spread, and a table per task) and the
side-by-side videos (real, then each model under each policy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from worldalign.report import html, plots
from worldalign.report.inputs import EvalResult, EvalSplit, headline_terms

CopyVideos = Callable[[int, Sequence[Path], Path], list[str]]
"""``(input index, videos, report folder) -> their paths relative to the report``."""


def evaluation_section(index: int, label: str, result: EvalResult, out: Path, copy_videos: CopyVideos) -> str:
    """The HTML section of input ``index`` (figures written under ``out/figures``)."""
    models = html.table(
        "Compared",
        ["field", "value"],
        [
            ["world models", html.text(", ".join(result.models))],
            ["metrics", html.text(", ".join(result.metrics))],
            ["horizon", str(result.horizon)],
            ["rewards scored under", html.text(result.reward_policy)],
        ],
    )
    parts = [models]
    for split in result.splits:
        parts.append(_split_part(index, split, result, out, copy_videos))
    return html.section(f"Evaluation {label}", *parts)


def _split_part(index: int, split: EvalSplit, result: EvalResult, out: Path, copy_videos: CopyVideos) -> str:
    title = split.name.replace("_", " ")
    figure = out / plots.FIGURES_DIR / f"{index + 1}_{split.name}_horizons.png"
    baselines = [(plots.BASELINE_LABELS.get(name, name), values) for name, values in split.baselines.items()]
    plots.horizon_curves(list(split.curves.items()), baselines, result.metrics, figure)
    shown = sorted({h for h in plots.TABLE_HORIZONS if h <= result.horizon} | {result.horizon})
    parts = [
        f"<h3>{html.text(title)}: {len(split.episodes)} episodes of {html.text(', '.join(split.tasks))}</h3>",
        html.image(figure.relative_to(out).as_posix(), f"{title}: metric vs horizon per model and context policy"),
    ]
    for metric in result.metrics:
        rows = [
            [str(h)]
            + [_mean_spread(split.curves[row][metric][h - 1], split.spread[row][metric][h - 1]) for row in split.curves]
            + [html.number(values[metric][h - 1]) for values in split.baselines.values()]
            for h in shown
        ]
        headers = ["horizon", *split.curves, *(plots.BASELINE_LABELS.get(name, name) for name in split.baselines)]
        caption = f"{title}: {plots.METRIC_LABELS.get(metric, metric)} per horizon (± sampling-seed spread)"
        parts.append(html.table(caption, headers, rows))
    cost_rows = [
        [html.text(row), html.number(1000 * seconds, 3), str(frames), str(tokens)]
        for row, (seconds, frames, tokens) in split.cost.items()
    ]
    parts.append(
        html.table(
            f"{title}: cost", ["model (policy)", "ms per frame", "peak context frames", "peak tokens"], cost_rows
        )
    )
    if split.action_gap:
        last = result.horizon
        gap_rows = [
            [html.text(model)] + [html.number(gaps[metric][h - 1]) for metric in result.metrics for h in (1, last)]
            for model, gaps in split.action_gap.items()
        ]
        headers = ["model", *(f"{metric} gap t+{h}" for metric in result.metrics for h in (1, last))]
        parts.append(
            html.table(
                f"{title}: action gap (true minus another episode's actions; > 0: actions followed)", headers, gap_rows
            )
        )
    if split.rewards:
        parts += _rewards_part(index, split, title, out)
    videos = [
        html.video(path, f"{title}: {Path(path).stem} (real, then each model under each policy)")
        for path in copy_videos(index, split.videos, out)
    ]
    parts.append(html.videos(videos) if videos else html.note(f"{title}: no videos written"))
    return "".join(parts)


def _rewards_part(index: int, split: EvalSplit, title: str, out: Path) -> list[str]:
    first = next(iter(split.rewards.values()))
    drawn = headline_terms(first)
    figure = plots.grouped_bars(
        list(split.rewards.items()),
        drawn,
        out / plots.FIGURES_DIR / f"{index + 1}_{split.name}_rewards.png",
        spreads=[split.reward_spread[model] for model in split.rewards],
    )
    terms = list(first)
    rows = [
        [html.text(term)]
        + [_mean_spread(split.rewards[m].get(term), split.reward_spread[m].get(term)) for m in split.rewards]
        for term in terms
    ]
    # Per task: one row per (task, model), the rewards' values and success rates (a judge's
    # dimensions stay in eval.json), so the table keeps a page's width however many models.
    task_terms = [term for term in drawn if "/" not in term or term.endswith("/success")]
    tasks = sorted({task for per_task in split.rewards_per_task.values() for task in per_task})
    task_rows = [
        [html.text(task), html.text(m)]
        + [html.number(split.rewards_per_task[m].get(task, {}).get(term, float("nan"))) for term in task_terms]
        for task in tasks
        for m in split.rewards
    ]
    task_headers = ["task", "model", *task_terms]
    return [
        html.image(figure.relative_to(out).as_posix(), f"{title}: reward terms per model (± sampling-seed spread)"),
        html.table(f"{title}: reward terms (± sampling-seed spread)", ["term", *split.rewards], rows),
        html.table(f"{title}: reward terms per task (mean over seeds and episodes)", task_headers, task_rows),
    ]


def _mean_spread(mean: float | None, spread: float | None) -> str:
    if mean is None:
        return "–"
    return html.number(mean) + ("" if not spread else f" ± {html.number(spread, 2)}")
