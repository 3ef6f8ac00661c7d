"""Training curves read back from a run's TensorBoard event files.

The panels a report draws, each from the scalars the training code logs: the alignment's reward
per iteration (``reward/total``) and its held-out evaluation (``eval/*``, ``algos.align``), a
world model's or autoencoder's loss (``train/loss``, ``algos.training_run``) and the flow-loss
probes of fixed training and held-out clips (``probe/*``, ``algos.pretrain``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from worldalign.errors import ResultFileError

# panel title -> the tag prefix (ending in "/") or exact tag it draws
PANELS = {
    "training reward": "reward/total",
    "held-out evaluation": "eval/",
    "training loss": "train/loss",
    "flow-loss probes": "probe/",
}


@dataclass(frozen=True)
class Series:
    """One logged scalar: its steps and values."""

    tag: str
    steps: list[int]
    values: list[float]


def read_scalars(folder: Path) -> dict[str, Series]:
    """Every scalar in the TensorBoard event files of ``folder``, by tag."""
    from tensorboard.backend.event_processing import event_accumulator

    if not any(folder.glob("events.out.tfevents.*")):
        raise ResultFileError(f"{folder}: no TensorBoard event files (events.out.tfevents.*)")
    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    series = {}
    for tag in accumulator.Tags()["scalars"]:
        events = accumulator.Scalars(tag)
        series[tag] = Series(tag, [event.step for event in events], [event.value for event in events])
    return series


def panels(scalars: dict[str, Series]) -> dict[str, list[Series]]:
    """The curves of each panel of ``PANELS`` that the log holds."""
    chosen = {}
    for title, pattern in PANELS.items():
        matches = [series for tag, series in sorted(scalars.items()) if _drawn(tag, pattern)]
        if matches:
            chosen[title] = matches
    return chosen


def _drawn(tag: str, pattern: str) -> bool:
    """``tag`` is ``pattern`` or, for a prefix, one of its direct children: ``eval/fidelity`` is
    drawn, its parts (``eval/fidelity/ssim``) and seed spreads are in the page's tables."""
    if not pattern.endswith("/"):
        return tag == pattern
    return tag.startswith(pattern) and "/" not in tag[len(pattern) :]
