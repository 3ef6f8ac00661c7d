"""Issue 22's table: closed-loop success of SFT vs SFT + GRPO over training seeds, from the
``vla_eval.json`` files ``scripts/vla_grpo_ab.sh`` writes.

    python benchmarks/vla_sft_vs_grpo.py --root outputs/vla --seeds 0,1,2 --arms sft,grpo,grpo-t07

For each arm and head (tokens, tokens-constrained, flow): the success rate of each training seed (the
mean over tasks and layout seeds of ``ROOT/eval-ARM-seedS-HEAD/vla_eval.json``), their mean and
standard deviation, and the fallback fraction of the token head's chunks. The layout-seed spread
is the standard deviation over layout seeds of the per-layout-seed success, averaged over
training seeds. A change counts only when it exceeds both spreads (the house's rule).

Then each GRPO arm's training reward per seed: the mean of each term over the first and the last
``--block`` rounds (``ROOT/ARM-seedS/tensorboard``); for the head arms of
``scripts/vla_head_ab.sh`` (``head-ARM``), the final flow loss of each seed; for SFT arms, the
final token loss, flow loss and token accuracy of each seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from worldalign.report.logs import read_scalars
from worldalign.runs.layout import TENSORBOARD_DIR


def _eval(root: Path, arm: str, seed: int, head: str) -> dict | None:
    path = root / f"eval-{arm}-seed{seed}-{head}" / "vla_eval.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _layout_spread(report: dict) -> float:
    """Std over layout seeds of the success rate over tasks at each layout seed."""
    tasks = report["tasks"].values()
    per_seed = [statistics.fmean(float(task["success_by_seed"][str(seed)]) for task in tasks) for seed in report["seeds"]]
    return statistics.pstdev(per_seed)


SHOWN_TERMS = ("completion/tokens",)
"""Besides every ``reward/...`` value the run logged (its rewards differ by arm), less the
composer's bookkeeping (``BOOKKEEPING``)."""
BOOKKEEPING = ("/seconds", "/invalid", "/invalid_samples")
SFT_TERMS = ("train/token_loss", "train/flow_loss", "train/token_accuracy")
"""What an SFT arm (``scripts/vla_sft_seeds.sh``, e.g. another vision encoder) shows of its training."""


def _training_reward(scalars: dict, block: int) -> dict[str, tuple[float, float]]:
    """``{term: (mean of the first block rounds, mean of the last block rounds)}`` of a GRPO run's
    TensorBoard ``scalars``."""
    rewards = [term for term in scalars if term.startswith("reward/") and not term.endswith(BOOKKEEPING)]
    terms = sorted(rewards) + list(SHOWN_TERMS)
    values = {term: scalars[term].values for term in terms}
    return {term: (statistics.fmean(v[:block]), statistics.fmean(v[-block:])) for term, v in values.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("outputs/vla"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--arms", default="sft,grpo", help="run-name prefixes; the first is the SFT arm")
    parser.add_argument("--block", type=int, default=20, help="rounds averaged at each end (default: 20)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",")
    print("| head | arm | success per training seed | mean ± std (training seeds) | layout-seed spread | fallbacks |")
    print("|---|---|---|---|---|---|")
    for head in ("tokens", "tokens-constrained", "flow"):
        for arm in arms:
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
    for arm in arms:
        runs = {seed: args.root / f"{arm}-seed{seed}" for seed in seeds
                if (args.root / f"{arm}-seed{seed}" / "model").is_dir()}  # finished runs only
        logged = {seed: read_scalars(run / TENSORBOARD_DIR) for seed, run in runs.items()}
        if logged and all(any(term.startswith("reward/") for term in scalars) for scalars in logged.values()):
            _print_training_reward(arm, {seed: _training_reward(s, args.block) for seed, s in logged.items()}, args.block)
        elif logged and arm.startswith("head-"):
            final = {seed: statistics.fmean(scalars["train/loss"].values[-10:]) for seed, scalars in logged.items()}
            print(f"\n{arm}: final flow loss (mean of the last 10 logged steps) "
                  + ", ".join(f"seed {seed}: {value:.3f}" for seed, value in final.items()))
        elif logged and all(SFT_TERMS[0] in scalars for scalars in logged.values()):
            finals = {term: [statistics.fmean(s[term].values[-10:]) for s in logged.values()] for term in SFT_TERMS}
            shown = "; ".join(f"{term.removeprefix('train/')} {', '.join(f'{v:.3f}' for v in values)}"
                              for term, values in finals.items())
            print(f"\n{arm} (SFT), mean of the last 10 logged steps per seed: {shown}")


def _print_training_reward(arm: str, logged: dict[int, dict[str, tuple[float, float]]], block: int) -> None:
    print(f"\n| {arm} training term | first {block} rounds, per seed | last {block} rounds, per seed | "
          "change, mean ± std over seeds |")
    print("|---|---|---|---|")
    for term in next(iter(logged.values())):
        first = [logged[seed][term][0] for seed in logged]
        last = [logged[seed][term][1] for seed in logged]
        change = [b - a for a, b in zip(first, last)]
        std = statistics.stdev(change) if len(change) > 1 else float("nan")
        print(f"| {term} | {', '.join(f'{v:.3f}' for v in first)} | {', '.join(f'{v:.3f}' for v in last)} | "
              f"{statistics.fmean(change):+.3f} ± {std:.3f} |")


if __name__ == "__main__":
    main()
