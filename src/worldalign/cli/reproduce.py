"""``worldalign reproduce EFFECT``: a seed paper's effect over several training seeds, with a verdict."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from worldalign.cli.parsing import parse_indices, parse_weights

REPRODUCE_EPILOG = """\
examples:
  worldalign reproduce persistworld --world-model checkpoints/world-model-cpu \\
      --autoencoder checkpoints/autoencoder-cpu --dataset data/mt10 --out runs/reproduce --page docs/results.md
  worldalign reproduce eva ... --seeds 0 --iterations 40 --eval-every 10     # find the recipe on one seed first
  worldalign reproduce roboalign-r1 ...     # the shipped judges: student reward, teacher relabels and scores
  worldalign reproduce eva ... --seeds 0,1,2 --seeds-from docs/results/eva.json   # seed 0 read back, 1-2 run
  worldalign reproduce swr ... --eval-horizon 96 --window 6 --page docs/results.md   # no training
  worldalign reproduce nft-vs-grpo ... --out runs/race-nft --page docs/results.md
  worldalign reproduce nft-vs-grpo ... --algo grpo --out runs/race-grpo --page docs/results.md

Effects: persistworld (DiffusionNFT on rollout states, fidelity reward; LPIPS and SSIM at long
horizons), eva (Flow-GRPO on prompts, executability reward), roboalign-r1 (Flow-GRPO on prompts,
distilled-judge reward, the teacher relabelling every 25 updates and scoring the held-out rollouts;
--judge STUDENT replaces the shipped student), nft-vs-grpo (DiffusionNFT and, as an arm with --algo
grpo, Flow-GRPO on the brightness reward both climb; the page times each arm to the held-out gain
both reach). Each training seed runs in OUT/EFFECT/seed-S (the same
command resumes an interrupted run and reads finished ones back); OUT/EFFECT/results.json holds
the held-out learning curves (mean over seeds, training-seed and sampling-seed spreads) and the
verdict on each of the paper's claims: a change counts only beyond both spreads. --page copies
every results.json under OUT into the results/ folder beside the page (docs/results/) and rewrites
the page (docs/results.md) from all the files there: an arm with other --rewards is compared with
the recipe's in one table. results.json records a digest of every reward model a run read (judge,
teacher, IDM): a run scored by judges retrained since is another arm, kept beside the new one.
Options left out keep the effect's recipe (printed first).

swr trains nothing: it rolls the world model out from the held-out starts under full history,
SWR with window --window (default 6) and a plain fixed window of the same size, for --eval-horizon
frames (default 96, long enough for a model that drifts to show it), with --eval-seeds sampling
seeds (default 3) on --eval-episodes episodes (default 10), by `worldalign eval` into OUT/swr/
(resumable), and judges SWR against full history at the last horizon beyond the sampling-seed
spread.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``reproduce`` to the top-level parser."""
    from worldalign.stages.reproduce import EFFECTS
    from worldalign.stages.reproduce_swr import SWR_EFFECT

    parser = verbs.add_parser(
        "reproduce",
        help="reproduce a seed paper's effect: several training seeds, learning curves, a verdict beyond the noise",
        description="Run a seed paper's alignment recipe over training seeds and judge its held-out effect.",
        epilog=REPRODUCE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("effect", choices=(*EFFECTS, SWR_EFFECT), help="the effect to reproduce")
    parser.add_argument("--world-model", required=True, type=Path, help="pretrained world model (run or model folder)")
    parser.add_argument("--autoencoder", required=True, type=Path, help="its autoencoder")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset of the conditions and held-out episodes")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/reproduce"), help="folder of the runs (default: runs/reproduce)"
    )
    parser.add_argument("--seeds", help="training seeds, comma-separated (default: 0,1,2; swr trains nothing)")
    parser.add_argument("--page", type=Path, help="rewrite this results page (e.g. docs/results.md) afterwards")
    parser.add_argument(
        "--seeds-from",
        type=Path,
        action="append",
        default=[],
        metavar="RESULTS_JSON",
        help="take the seeds an earlier results.json of the same recipe holds instead of training them again "
        "(e.g. docs/results/eva.json; repeatable; its recipe must match field by field)",
    )
    recipe = parser.add_argument_group("changes to the recipe (default: the effect's)")
    recipe.add_argument(
        "--algo",
        choices=("nft", "grpo"),
        help="the algorithm (an arm of its own; nft-vs-grpo races the recipe's nft against --algo grpo)",
    )
    recipe.add_argument("--iterations", type=int, help="updates per seed")
    recipe.add_argument("--eval-every", type=int, help="updates between held-out evaluations")
    recipe.add_argument(
        "--lr", type=float, help="learning rate after the warmup (default: the algorithm's, 3e-5 grpo, 1e-5 nft)"
    )
    recipe.add_argument(
        "--kl", type=float, help="weight of the KL to the pretrained model (default: the algorithm's, 0.04 grpo, 0 nft)"
    )
    recipe.add_argument("--group-size", type=int, help="candidates per condition")
    recipe.add_argument("--conditions-per-iteration", type=int, help="conditions per update")
    recipe.add_argument("--rewards", help="optimised rewards, name=weight pairs")
    recipe.add_argument("--eval-episodes", type=int, help="held-out episodes evaluated")
    recipe.add_argument("--eval-horizon", type=int, help="frames per evaluation rollout")
    recipe.add_argument("--eval-seeds", type=int, help="sampling seeds per evaluation")
    recipe.add_argument("--max-train-episodes", type=int, help="cap on the training episodes loaded")
    recipe.add_argument("--sampling-steps", type=int, help="denoising steps per chunk")
    recipe.add_argument(
        "--bf16",
        action="store_true",
        default=None,
        help="DiffusionNFT recipes: the world model's forward passes under bf16 autocast (align --bf16)",
    )
    recipe.add_argument("--context-frames", type=int, help="real start frames")
    recipe.add_argument("--horizon", type=int, help="prompts: frames per candidate")
    recipe.add_argument("--max-prefix-chunks", type=int, help="rollout states: the model's own prefix is 0..N chunks")
    recipe.add_argument("--max-continuation-chunks", type=int, help="rollout states: candidates continue 1..N chunks")
    recipe.add_argument("--window", type=int, help="context window of the context policy")
    recipe.add_argument(
        "--fidelity-metrics",
        help="the optimised fidelity reward's metric weights, e.g. lpips=1 (an arm: the held-out claims keep theirs)",
    )
    recipe.add_argument(
        "--eval-fidelity-metrics",
        help="the held-out fidelity's metric weights, every arm alike (default: lpips=1,ssim=1,psnr=1)",
    )
    recipe.add_argument("--checkpoint-every", type=int, help="updates between checkpoints")
    recipe.add_argument("--judge", type=Path, help="student judge folder (default: checkpoints/judge-student-cpu)")
    recipe.add_argument("--idm", type=Path, help="IDM folder (the executability reward; default: checkpoints/idm-cpu)")
    parser.set_defaults(handler=run_reproduce)


def _changes(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The command line's (AlignSetup, AlignConfig) changes to the recipe."""
    setup = {
        "rewards": args.rewards,
        "eval_episodes": args.eval_episodes,
        "eval_horizon": args.eval_horizon,
        "eval_seeds": args.eval_seeds,
        "max_train_episodes": args.max_train_episodes,
        "context_frames": args.context_frames,
        "horizon": args.horizon,
        "max_prefix_chunks": args.max_prefix_chunks,
        "max_continuation_chunks": args.max_continuation_chunks,
        "window": args.window,
    }
    options = {
        "judge_checkpoint": args.judge,
        "idm": args.idm,
        "metric_weights": parse_weights(args.fidelity_metrics, "--fidelity-metrics"),
    }
    setup["reward_options"] = {name: value for name, value in options.items() if value is not None} or None
    eval_weights = parse_weights(args.eval_fidelity_metrics, "--eval-fidelity-metrics")
    setup["eval_reward_options"] = {"metric_weights": eval_weights} if eval_weights is not None else None
    config = {
        "algorithm": args.algo,
        "iterations": args.iterations,
        "eval_every": args.eval_every,
        "learning_rate": args.lr,
        "kl_coef": args.kl,
        "group_size": args.group_size,
        "conditions_per_iteration": args.conditions_per_iteration,
        "sampling_steps": args.sampling_steps,
        "bf16": args.bf16,
        "checkpoint_every": args.checkpoint_every,
    }
    return ({k: v for k, v in setup.items() if v is not None}, {k: v for k, v in config.items() if v is not None})


SWR_OPTIONS = ("eval_episodes", "eval_horizon", "eval_seeds", "window", "context_frames", "sampling_steps")
"""The recipe options ``reproduce swr`` reads."""
_ALIGN_ONLY = (
    "iterations", "eval_every", "lr", "kl", "group_size", "conditions_per_iteration", "rewards", "max_train_episodes",
    "horizon", "max_prefix_chunks", "max_continuation_chunks", "fidelity_metrics", "eval_fidelity_metrics",
    "checkpoint_every", "judge", "idm", "bf16", "algo",
)  # fmt: skip
"""The options that change an alignment recipe (swr refuses them)."""


def run_reproduce(args: argparse.Namespace) -> int:
    from worldalign.stages.reproduce import EFFECTS, RESULTS_FILE, ReproduceSetup, recipe, reproduce_effect
    from worldalign.stages.reproduce_swr import SWR_EFFECT

    if args.effect == SWR_EFFECT:
        return _run_swr(args)
    effect = EFFECTS[args.effect]
    setup_changes, config_changes = _changes(args)
    where = ReproduceSetup(
        world_model=args.world_model,
        autoencoder=args.autoencoder,
        dataset=args.dataset,
        out=args.out,
        seeds=tuple(parse_indices(args.seeds or "0,1,2", "--seeds")),
        setup_changes=setup_changes,
        config_changes=config_changes,
        seeds_from=tuple(args.seeds_from),
    )
    first_setup, first_config = recipe(effect, where, where.seeds[0])
    print(f"{effect.title}\n  paper: {effect.citation}")
    print(
        f"  recipe: {first_config.algorithm} on {first_setup.conditions}, rewards {first_setup.rewards}, "
        f"{first_config.iterations} updates, evaluation every {first_config.eval_every} on {first_setup.eval_episodes} "
        f"held-out episodes x {first_setup.eval_horizon} frames x {first_setup.eval_seeds} sampling seeds; "
        f"training seeds {list(where.seeds)}"
    )
    results = reproduce_effect(effect, where)
    _print_verdicts(results)
    print(f"results: {args.out / effect.name / RESULTS_FILE}")
    _write_page(args)
    return 0


def _run_swr(args: argparse.Namespace) -> int:
    """``reproduce swr``: three context policies rolled out, SWR judged against full history."""
    from worldalign.errors import ConfigError
    from worldalign.stages.reproduce import RESULTS_FILE
    from worldalign.stages.reproduce_swr import SWR_CITATION, SWR_EFFECT, SWR_TITLE, SwrSetup, reproduce_swr

    def flags(names: tuple[str, ...] | list[str]) -> str:
        return ", ".join("--" + name.replace("_", "-") for name in names)

    ignored = [name for name in ("seeds", *_ALIGN_ONLY) if getattr(args, name) is not None]
    ignored += ["seeds_from"] if args.seeds_from else []
    if ignored:
        raise ConfigError(f"{flags(ignored)}: swr trains nothing; of the recipe options it reads {flags(SWR_OPTIONS)}")
    given = {
        "horizon": args.eval_horizon,
        "episodes": args.eval_episodes,
        "seeds": args.eval_seeds,
        "window": args.window,
        "context": args.context_frames,
        "sampling_steps": args.sampling_steps,
    }
    setup = SwrSetup(
        world_model=args.world_model,
        autoencoder=args.autoencoder,
        dataset=args.dataset,
        out=args.out,
        **{name: value for name, value in given.items() if value is not None},
    )
    print(f"{SWR_TITLE}\n  paper: {SWR_CITATION}")
    print(
        f"  setup: full history vs SWR W={setup.window} vs fixed window {setup.window}, {setup.horizon} frames from "
        f"{setup.context} real ones, {setup.episodes} held-out episodes x {setup.seeds} sampling seeds"
    )
    results = reproduce_swr(setup)
    _print_verdicts(results)
    print(f"results: {args.out / SWR_EFFECT / RESULTS_FILE}")
    _write_page(args)
    return 0


def _print_verdicts(results: dict[str, Any]) -> None:
    from worldalign.stages.reproduce import relative_text
    from worldalign.stages.results_page import verdict_word

    claims = {claim["metric"]: claim for claim in results["claims"]}
    for verdict in results["verdicts"]:
        if verdict["measured"]:
            print(
                f"  {claims[verdict['metric']]['label']}: {verdict['before']:.4f} -> {verdict['after']:.4f} "
                f"({relative_text(verdict)}; noise {verdict['noise']:.4f}; "
                f"{'counts' if verdict['exceeds_noise'] else 'within the noise'}; "
                f"{verdict_word(claims[verdict['metric']], verdict['meets_target'])})"
            )


def _write_page(args: argparse.Namespace) -> None:
    """With --page: copy every results.json under --out beside the page and rewrite it."""
    from worldalign.stages.reproduce import RESULTS_FILE
    from worldalign.stages.results_page import (
        RESULTS_FOLDER,
        read_results,
        store_results,
        stored_results,
        write_results_page,
    )

    if args.page is not None:
        for path in sorted(args.out.glob(f"*/{RESULTS_FILE}")):
            store_results(read_results(path), args.page)
        stored = stored_results(args.page)
        write_results_page(stored, args.page)
        print(f"results page: {args.page} ({len(stored)} result file(s) in {args.page.parent / RESULTS_FOLDER})")
