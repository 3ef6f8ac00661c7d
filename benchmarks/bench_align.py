r"""Alignment benchmarks of issue 6: GRPO vs NFT at equal wall-clock, PersistWorld-style NFT on
rollout states, executability-rewarded GRPO; seeds side by side, mean ± std.

Every run is an ordinary ``worldalign align`` command (printed), so any number here can be
reproduced by hand. Runs of one comparison are interleaved by seed (GRPO seed 0, NFT seed 0,
GRPO seed 1, ...), so a change of machine load hits both algorithms alike.

1. ``compare``: Flow-GRPO and DiffusionNFT on the same rollout-state conditions, the same
   fidelity reward and the same wall-clock budget per run; held-out evaluations every
   ``--eval-every`` iterations. Reported: the held-out fidelity (and LPIPS/SSIM/PSNR, and the
   unoptimised executability) before and after, and the training seconds each algorithm needs to
   reach the smaller of the two mean held-out gains (their ratio is DiffusionNFT's speed-up claim,
   measured). The NFT runs are PersistWorld's protocol: their before/after is the long-horizon
   fidelity of autoregressive rollouts.
2. ``executability``: Flow-GRPO on instruction prompts with the executability reward; held-out
   jerk, bound violations of the IDM-decoded actions and the simulator execution of the decoded
   plans, before and after.
3. ``iteration``: the seconds of one DiffusionNFT iteration (PersistWorld's: rollout states,
   fidelity reward, 4 conditions x 4 candidates) with each lever of issue 21 item 3 against the
   default (10 Euler steps, float32), runs interleaved by seed: fewer Euler steps (DiffusionNFT
   trains on clean samples, whatever solver made them) and bf16 autocast of the world model
   (sampling and update); and a Flow-GRPO iteration of the same batch (the per-update cost ratio
   of the ``nft-vs-grpo`` race, measured side by side; ``--iteration-rewards brightness=1.0`` for
   the race's reward, ``--levers 0,5`` for those two alone). Reported per lever: seconds per
   iteration, its sampling (rewards included) and update parts, the ratio to the default, and the
   mean training reward of the candidates (what fewer steps cost in sample quality). The first
   iteration of every run is left out (one-off allocations).

A difference smaller than the spread between seeds (and between sampling seeds of one
evaluation: ``seed_std``) is reported as not significant.

    .venv/bin/python benchmarks/bench_align.py --world-model checkpoints/world-model-cpu \
        --autoencoder checkpoints/autoencoder-cpu --dataset outputs/demo/dataset --out outputs/bench-align
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

WORLDALIGN = str(Path(sys.executable).parent / "worldalign")


def run_align(common: list[str], out: Path, extra: list[str]) -> dict[str, Any]:
    """Run one ``worldalign align`` (resuming if OUT exists) and read its summary and log."""
    argv = [WORLDALIGN, "align", *common, "--out", str(out), *extra]
    print("$", shlex.join(argv[1:]).replace(WORLDALIGN, "worldalign"), flush=True)
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "before_after.json").read_text())
    for moment in ("before", "after"):  # a NaN is stored as null (valid JSON); read it back as NaN
        summary[moment] = {k: float("nan") if v is None else v for k, v in (summary[moment] or {}).items()}
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {"summary": summary, "log": log}


def training_seconds_at_evaluations(log: list[dict[str, Any]]) -> dict[int, float]:
    """Training seconds (sampling + updates, evaluations excluded) spent by each evaluated iteration."""
    spent, seconds = {0: 0.0}, 0.0
    for line in log:
        if line["kind"] == "train":
            seconds += line["time/iteration_s"]
            spent[line["iteration"]] = seconds
    return {line["iteration"]: spent[line["iteration"]] for line in log if line["kind"] == "eval"}


def gain_curve(run: dict[str, Any], term: str) -> list[tuple[float, float]]:
    """(training seconds, held-out gain of ``term`` over iteration 0) at every evaluation."""
    evaluations = {int(k): v for k, v in run["summary"]["evaluations"].items()}
    seconds = training_seconds_at_evaluations(run["log"])
    base = evaluations[0][term]
    return [(seconds[i], evaluations[i][term] - base) for i in sorted(evaluations) if i in seconds]


def time_to_reach(curve: list[tuple[float, float]], target: float) -> float | None:
    """First training time at which the gain reaches ``target`` (linear between evaluations)."""
    previous = (0.0, 0.0)
    for seconds, gain in curve:
        if gain >= target:
            (s0, g0) = previous
            return s0 + (seconds - s0) * (target - g0) / (gain - g0) if gain != g0 else seconds
        previous = (seconds, gain)
    return None


def mean_std(values: list[float]) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def before_after_table(runs: list[dict[str, Any]], terms: list[str], title: str) -> None:
    print(f"\n### {title} ({len(runs)} seeds)\n")
    print("| term | before | after | change | significant? |")
    print("|---|---|---|---|---|")
    for term in terms:
        before = [r["summary"]["before"][term] for r in runs if term in r["summary"]["before"]]
        after = [r["summary"]["after"][term] for r in runs if term in r["summary"]["after"]]
        if not before or not after:
            continue
        changes = [a - b for a, b in zip(after, before, strict=True)]
        seed_spread = max(r["summary"]["after"].get(f"{term}/seed_std", 0.0) for r in runs)
        spread = max(statistics.stdev(changes) if len(changes) > 1 else 0.0, seed_spread)
        verdict = "yes" if abs(statistics.mean(changes)) > spread else "no (within the spread)"
        print(f"| {term} | {mean_std(before)} | {mean_std(after)} | {mean_std(changes)} | {verdict} |")


def compare(args: argparse.Namespace, common: list[str]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"grpo": [], "nft": []}
    for seed in range(args.seeds):
        for algorithm in ("grpo", "nft"):
            extra = [
                "--algo", algorithm, "--conditions", "rollout-states", "--rewards", "fidelity=1.0",
                "--eval-rewards", "fidelity=1.0,executability=0.0", "--seed", str(seed),
                "--iterations", "10000", "--max-minutes", str(args.minutes), "--eval-every", str(args.eval_every),
                "--eval-horizon", str(args.eval_horizon),
            ]
            runs[algorithm].append(run_align(common, args.out / f"compare-{algorithm}-seed{seed}", extra))
    terms = ["fidelity", "fidelity/lpips", "fidelity/ssim", "fidelity/psnr", "executability", "executability/jerk"]
    for algorithm, label in (("grpo", "Flow-GRPO"), ("nft", "DiffusionNFT")):
        iterations = [r["summary"]["iterations"] for r in runs[algorithm]]
        before_after_table(
            runs[algorithm], terms, f"{label}, rollout states, fidelity reward, {args.minutes} min per run "
            f"({mean_std([float(i) for i in iterations])} iterations; held-out horizon {args.eval_horizon})"
        )
    final = {a: statistics.mean(gain_curve(r, "fidelity")[-1][1] for r in runs[a]) for a in runs}
    target = min(final.values())
    print(f"\nmean final held-out fidelity gain: GRPO {final['grpo']:+.4f}, NFT {final['nft']:+.4f}")
    reach: dict[str, list[float | None]] = {}
    if target > 0:
        for algorithm in runs:
            reach[algorithm] = [time_to_reach(gain_curve(r, "fidelity"), target) for r in runs[algorithm]]
            shown = ", ".join("not reached" if t is None else f"{t:.0f} s" for t in reach[algorithm])
            print(f"training seconds to a gain of {target:+.4f}: {algorithm}: {shown}")
        reached = {a: [t for t in times if t is not None] for a, times in reach.items()}
        if reached["grpo"] and reached["nft"]:
            ratio = statistics.mean(reached["grpo"]) / statistics.mean(reached["nft"])
            print(f"wall-clock ratio GRPO / NFT to the same gain: {ratio:.2f}x")
    else:
        print("one algorithm did not improve the held-out fidelity: no common gain to time")
    return {"runs": {a: [r["summary"] for r in rs] for a, rs in runs.items()}, "target_gain": target, "reach": reach}


def executability(args: argparse.Namespace, common: list[str]) -> dict[str, Any]:
    runs = []
    for seed in range(args.seeds):
        extra = [
            "--algo", "grpo", "--conditions", "prompts", "--rewards", "executability=1.0",
            "--eval-rewards", "executability=1.0,execution=0.0,fidelity=0.0", "--seed", str(seed),
            "--iterations", "10000", "--max-minutes", str(args.minutes), "--eval-horizon", str(args.eval_horizon),
        ]
        runs.append(run_align(common, args.out / f"executability-grpo-seed{seed}", extra))
    terms = [
        "executability", "executability/jerk", "executability/acceleration", "executability/velocity",
        "executability/action_bounds", "executability/workspace", "execution", "execution/success",
        "execution/progress", "fidelity/lpips", "fidelity/ssim",
    ]
    before_after_table(runs, terms, f"Flow-GRPO, instruction prompts, executability reward, {args.minutes} min per run")
    return {"runs": [r["summary"] for r in runs]}


ITERATION_LEVERS: dict[str, list[str]] = {
    "10 Euler steps, float32 (default)": [],
    "10 steps, bf16": ["--bf16"],
    "4 steps, float32": ["--sampling-steps", "4"],
    "4 steps, bf16": ["--sampling-steps", "4", "--bf16"],
    "2 steps, bf16": ["--sampling-steps", "2", "--bf16"],
    "Flow-GRPO, 10 SDE steps, float32": ["--algo", "grpo"],
}


def iteration(args: argparse.Namespace, common: list[str]) -> dict[str, Any]:
    """Seconds of a DiffusionNFT iteration per lever of ``ITERATION_LEVERS`` (module docstring, part 3)."""
    chosen = [int(index) for index in args.levers.split(",")] if args.levers else range(len(ITERATION_LEVERS))
    levers = [(index, name, flags) for index, (name, flags) in enumerate(ITERATION_LEVERS.items()) if index in chosen]
    logs: dict[str, list[list[dict[str, Any]]]] = {lever: [] for _, lever, _ in levers}
    for seed in range(args.seeds):
        for index, lever, flags in levers:  # run folders keep the lever's index in ITERATION_LEVERS
            extra = [
                "--algo", "nft", "--conditions", "rollout-states", "--rewards", args.iteration_rewards,
                "--seed", str(seed), "--iterations", str(args.iterations), "--eval-episodes", "1",
                "--eval-horizon", "4", "--eval-seeds", "1", "--eval-rewards", args.iteration_rewards, "--no-resume",
                *flags,  # a lever's --algo replaces the default's (argparse keeps the last)
            ]
            run = run_align(common, args.out / f"iteration-{index}-seed{seed}", extra)
            logs[lever].append([line for line in run["log"] if line["kind"] == "train" and line["iteration"] > 1])
    print(f"\n### DiffusionNFT iteration, {args.seeds} seeds x {args.iterations - 1} iterations per lever\n")
    print("| lever | s per iteration | sampling s | update s | vs default | training reward (candidates) |")
    print("|---|---|---|---|---|---|")
    results: dict[str, Any] = {}
    default = None
    for lever, runs in logs.items():
        lines = [line for run in runs for line in run]
        seconds = statistics.mean(line["time/iteration_s"] for line in lines)
        sampling = statistics.mean(line["time/sampling_s"] for line in lines)
        reward = [line["reward/total"] for line in lines]
        default = default or seconds
        results[lever] = {"iteration_s": seconds, "sampling_s": sampling, "reward": statistics.mean(reward)}
        print(
            f"| {lever} | {seconds:.2f} | {sampling:.2f} | {seconds - sampling:.2f} | {default / seconds:.2f}x | "
            f"{statistics.mean(reward):.4f} ± {statistics.stdev(reward) / len(reward) ** 0.5:.4f} |"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", required=True)
    parser.add_argument("--autoencoder", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", type=Path, required=True, help="run folders and results.json")
    parser.add_argument("--part", choices=("all", "compare", "executability", "iteration"), default="all")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=3.0, help="wall-clock budget per run (default: 3)")
    parser.add_argument("--eval-every", type=int, default=4, help="iterations between evaluations (default: 4)")
    parser.add_argument("--eval-horizon", type=int, default=24, help="frames per held-out rollout (default: 24)")
    parser.add_argument("--eval-episodes", type=int, default=8, help="held-out episodes (default: 8)")
    parser.add_argument("--train-episodes", type=int, default=40, help="training episodes loaded (default: 40)")
    parser.add_argument("--iterations", type=int, default=12, help="iteration part: updates per run (default: 12)")
    parser.add_argument(
        "--levers", help="iteration part: indices into ITERATION_LEVERS, comma-separated (default: all; 0 = default)"
    )
    parser.add_argument(
        "--iteration-rewards", default="fidelity=1.0", help="iteration part: the optimised rewards (default: fidelity)"
    )
    args = parser.parse_args()
    common = [
        "--world-model", args.world_model, "--autoencoder", args.autoencoder, "--dataset", args.dataset,
        "--eval-episodes", str(args.eval_episodes), "--eval-seeds", "2", "--checkpoint-every", "1000",
        "--max-train-episodes", str(args.train_episodes),
    ]
    results: dict[str, Any] = {}
    if args.part in ("all", "compare"):
        results["compare"] = compare(args, common)
    if args.part in ("all", "executability"):
        results["executability"] = executability(args, common)
    if args.part in ("all", "iteration"):
        results["iteration"] = iteration(args, common)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"results-{args.part}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
