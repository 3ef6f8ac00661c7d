"""Held-out quality against training clips seen, and the clips each of issue 20's targets needs on that trend.

Reads reports of ``benchmarks/eval_world_model.py --out`` for world models that differ only in
how many training clips they saw (same architecture, data and evaluation), and for each target
(48-frame PSNR, SSIM and LPIPS under full history, the action gap at 8, 16 and 24 frames) prints
the value per model, the change per 10x clips of a straight line in log10(clips) fitted through
the points (with two models: the line through them), and the clips, hours and days at which that
line reaches the target at the given training throughputs. An extrapolation, not a measurement:
if returns diminish faster than log-linear the real need is larger. ``--plot`` draws one panel
per target.

    .venv/bin/python benchmarks/quality_vs_clips.py --model 96000=outputs/ship/eval-shipped.json \\
        --model 1420000=outputs/ship/eval-continued.json --plot docs/images/world-model-clips.png
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from worldalign.utils.atomic import atomic_path

POLICY = "full-history"
# Training throughput of the cpu preset, clips per second (issue 20: batch 256 with a 16-frame
# context on one H200, and batch 16 on the 2-core CPU).
THROUGHPUTS = {"one H200": 2600.0, "2 CPU cores": 11.0}


@dataclass(frozen=True)
class Target:
    """One of issue 20's targets: a metric at a horizon, from the rollout curves or the action gap."""

    label: str
    metric: str
    horizon: int
    goal: float
    higher_is_better: bool
    action_gap: bool = False

    def value(self, report: dict) -> float:
        if self.action_gap:
            gap = report["action_gap"]
            if gap is None or gap["policy"] != POLICY:
                raise SystemExit(f"the report has no action gap under {POLICY}: rerun eval_world_model.py with it")
            return float(gap["gap_mean"][self.metric][self.horizon - 1])
        return float(report["policies"][POLICY]["curves"]["mean"][self.metric][self.horizon - 1])


TARGETS = (
    Target("PSNR at 48 (dB)", "psnr", 48, 21.0, True),
    Target("SSIM at 48", "ssim", 48, 0.75, True),
    Target("LPIPS at 48", "lpips", 48, 0.13, False),
    Target("action gap at 8 (dB PSNR)", "psnr", 8, 2.5, True, action_gap=True),
    Target("action gap at 16 (dB PSNR)", "psnr", 16, 2.5, True, action_gap=True),
    Target("action gap at 24 (dB PSNR)", "psnr", 24, 2.5, True, action_gap=True),
)


def clips_needed(clips: list[float], values: list[float], target: Target) -> tuple[float, float]:
    """(change per 10x clips, clips at which the log-linear fit reaches the goal; inf if it never does)."""
    slope, intercept = np.polyfit(np.log10(clips), values, 1)
    improving = slope > 0 if target.higher_is_better else slope < 0
    if not improving:
        return float(slope), math.inf
    return float(slope), float(10 ** ((target.goal - intercept) / slope))


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds < 72 * 3600 else f"{seconds / 86400:.0f} days"


def _parse_model(text: str) -> tuple[float, Path]:
    clips, sep, path = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--model {text!r}: expected CLIPS=EVAL_JSON, e.g. 96000=eval.json")
    return float(clips), Path(path)


def _load(path: Path) -> dict:
    report = json.loads(path.read_text())
    if POLICY not in report.get("policies", {}):
        raise SystemExit(f"{path}: no {POLICY} rollouts (field 'policies'); rerun with --policies {POLICY},...")
    return report


def _plot(clips: list[float], rows: list[tuple[Target, list[float], float, float]], out: Path) -> None:
    """One panel per target: the measured points, the fitted line out to the goal, the goal."""
    figure = Figure(figsize=(12, 6.5))
    for index, (target, values, slope, needed) in enumerate(rows, start=1):
        axes = figure.add_subplot(2, 3, index)
        end = needed if math.isfinite(needed) else max(clips) * 1000
        line_x = np.geomspace(min(clips), max(end, max(clips)), 50)
        line_y = values[-1] + slope * np.log10(line_x / clips[-1])
        axes.plot(clips, values, "o-", color="C0", label="measured")
        axes.plot(line_x, line_y, "--", color="C0", alpha=0.6, label="log-linear trend")
        axes.axhline(target.goal, color="C3", lw=1, label="target")
        axes.set_xscale("log")
        axes.set_title(target.label, fontsize=10)
        axes.set_xlabel("training clips seen")
        axes.grid(alpha=0.3)
        if index == 1:
            axes.legend(fontsize=8)
    figure.suptitle("World model on held-out episodes: quality against training clips (two points, extrapolated)")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", type=_parse_model, required=True,
                        help="CLIPS=EVAL_JSON: training clips the model saw and its eval_world_model.py report (2+)")
    parser.add_argument("--plot", type=Path, help="write the figure here (PNG)")
    args = parser.parse_args()
    if len(args.model) < 2:
        parser.error("give at least two --model CLIPS=EVAL_JSON to fit a trend")
    models = sorted(args.model)
    clips = [c for c, _ in models]
    reports = [_load(path) for _, path in models]
    header = ["target", *(f"{c:,.0f} clips" for c in clips), "per 10x clips", "clips needed",
              *(f"on {name}" for name in THROUGHPUTS)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    rows = []
    for target in TARGETS:
        values = [target.value(report) for report in reports]
        slope, needed = clips_needed(clips, values, target)
        rows.append((target, values, slope, needed))
        if math.isfinite(needed):
            times = [_duration(needed / rate) for rate in THROUGHPUTS.values()]
            reach = f"{needed / 1e6:.1f} M"
        else:
            times, reach = ["-"] * len(THROUGHPUTS), "never on this trend"
        cells = [f"{target.label}, goal {target.goal:g}", *(f"{v:.3f}" for v in values), f"{slope:+.3f}", reach, *times]
        print("| " + " | ".join(cells) + " |")
    if args.plot:
        _plot(clips, rows, args.plot)
        print(f"figure: {args.plot}")


if __name__ == "__main__":
    main()
