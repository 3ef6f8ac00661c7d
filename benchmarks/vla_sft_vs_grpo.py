"""Issue 22's table: closed-loop success of SFT vs SFT + GRPO over training seeds, from the
``vla_eval.json`` files ``scripts/vla_grpo_ab.sh`` writes.

    python benchmarks/vla_sft_vs_grpo.py --root outputs/vla --seeds 0,1,2

For each arm (sft, grpo) and head (tokens, flow): the success rate of each training seed (the
mean over tasks and layout seeds of ``ROOT/eval-ARM-seedS-HEAD/vla_eval.json``), their mean and
standard deviation, and the fallback fraction of the token head's chunks. The layout-seed spread
is the standard deviation over layout seeds of the per-layout-seed success, averaged over
training seeds. A change counts only when it exceeds both spreads (the house's rule).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def _eval(root: Path, arm: str, seed: int, head: str) -> dict | None:
    path = root / f"eval-{arm}-seed{seed}-{head}" / "vla_eval.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _layout_spread(report: dict) -> float:
    """Std over layout seeds of the success rate over tasks at each layout seed."""
    tasks = report["tasks"].values()
    per_seed = [statistics.fmean(float(task["success_by_seed"][str(seed)]) for task in tasks) for seed in report["seeds"]]
    return statistics.pstdev(per_seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("outputs/vla"))
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print("| head | arm | success per training seed | mean ± std (training seeds) | layout-seed spread | fallbacks |")
    print("|---|---|---|---|---|---|")
    for head in ("tokens", "flow"):
        for arm in ("sft", "grpo"):
            reports = {seed: _eval(args.root, arm, seed, head) for seed in seeds}
            done = {seed: r for seed, r in reports.items() if r is not None}
            if not done:
                continue
            rates = [r["success_mean"] for r in done.values()]
            spread = statistics.fmean(_layout_spread(r) for r in done.values())
            std = statistics.stdev(rates) if len(rates) > 1 else float("nan")
            fallbacks = sum(r["fallbacks"] for r in done.values()) / max(1, sum(r["chunks"] for r in done.values()))
            per_seed = ", ".join(f"{seed}: {r['success_mean']:.3f}" for seed, r in done.items())
            print(f"| {head} | {arm} | {per_seed} | {statistics.fmean(rates):.3f} ± {std:.3f} | {spread:.3f} | "
                  f"{fallbacks:.0%} |")


if __name__ == "__main__":
    main()
