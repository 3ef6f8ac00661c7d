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

Effects: persistworld (DiffusionNFT on rollout states, fidelity reward; LPIPS and SSIM at long
horizons), eva (Flow-GRPO on prompts, executability reward), roboalign-r1 (Flow-GRPO on prompts,
distilled-judge reward, the teacher relabelling every 25 updates and scoring the held-out rollouts;
--judge STUDENT replaces the shipped student). Each training seed runs in OUT/EFFECT/seed-S (the same
command resumes an interrupted run and reads finished ones back); OUT/EFFECT/results.json holds
the held-out learning curves (mean over seeds, training-seed and sampling-seed spreads) and the
verdict on each of the paper's claims: a change counts only beyond both spreads. --page copies
every results.json under OUT into the results/ folder beside the page (docs/results/) and rewrites
the page (docs/results.md) from all the files there: an arm with other --rewards is compared with
the recipe's in one table. Options left out keep the effect's recipe (printed first).
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``reproduce`` to the top-level parser."""
    from worldalign.stages.reproduce import EFFECTS

    parser = verbs.add_parser(
        "reproduce",
        help="reproduce a seed paper's effect: several training seeds, learning curves, a verdict beyond the noise",
        description="Run a seed paper's alignment recipe over training seeds and judge its held-out effect.",
        epilog=REPRODUCE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("effect", choices=tuple(EFFECTS), help="the effect to reproduce")
    parser.add_argument("--world-model", required=True, type=Path, help="pretrained world model (run or model folder)")
    parser.add_argument("--autoencoder", required=True, type=Path, help="its autoencoder")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset of the conditions and held-out episodes")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/reproduce"), help="folder of the runs (default: runs/reproduce)"
    )
    parser.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated (default: 0,1,2)")
    parser.add_argument("--page", type=Path, help="rewrite this results page (e.g. docs/results.md) afterwards")
    recipe = parser.add_argument_group("changes to the recipe (default: the effect's)")
    recipe.add_argument("--iterations", type=int, help="updates per seed")
    recipe.add_argument("--eval-every", type=int, help="updates between held-out evaluations")
    recipe.add_argument(
        "--lr", type=float, help="learning rate after the warmup (default: the algorithm's, 3e-5 grpo, 1e-5 nft)"
    )
    recipe.add_argument("--group-size", type=int, help="candidates per condition")
    recipe.add_argument("--conditions-per-iteration", type=int, help="conditions per update")
    recipe.add_argument("--rewards", help="optimised rewards, name=weight pairs")
    recipe.add_argument("--eval-episodes", type=int, help="held-out episodes evaluated")
    recipe.add_argument("--eval-horizon", type=int, help="frames per evaluation rollout")
    recipe.add_argument("--eval-seeds", type=int, help="sampling seeds per evaluation")
    recipe.add_argument("--max-train-episodes", type=int, help="cap on the training episodes loaded")
    recipe.add_argument("--sampling-steps", type=int, help="denoising steps per chunk")
    recipe.add_argument("--context-frames", type=int, help="real start frames")
    recipe.add_argument("--horizon", type=int, help="prompts: frames per candidate")
    recipe.add_argument("--max-prefix-chunks", type=int, help="rollout states: the model's own prefix is 0..N chunks")
    recipe.add_argument("--max-continuation-chunks", type=int, help="rollout states: candidates continue 1..N chunks")
    recipe.add_argument("--window", type=int, help="context window of the context policy")
    recipe.add_argument("--fidelity-metrics", help="fidelity reward's metric weights, e.g. lpips=1,ssim=1,psnr=1")
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
    config = {
        "iterations": args.iterations,
        "eval_every": args.eval_every,
        "learning_rate": args.lr,
        "group_size": args.group_size,
        "conditions_per_iteration": args.conditions_per_iteration,
        "sampling_steps": args.sampling_steps,
        "checkpoint_every": args.checkpoint_every,
    }
    return ({k: v for k, v in setup.items() if v is not None}, {k: v for k, v in config.items() if v is not None})


def run_reproduce(args: argparse.Namespace) -> int:
    from worldalign.stages.reproduce import EFFECTS, RESULTS_FILE, ReproduceSetup, recipe, reproduce_effect
    from worldalign.stages.results_page import (
        RESULTS_FOLDER,
        read_results,
        store_results,
        stored_results,
        verdict_word,
        write_results_page,
    )

    effect = EFFECTS[args.effect]
    setup_changes, config_changes = _changes(args)
    where = ReproduceSetup(
        world_model=args.world_model,
        autoencoder=args.autoencoder,
        dataset=args.dataset,
        out=args.out,
        seeds=tuple(parse_indices(args.seeds, "--seeds")),
        setup_changes=setup_changes,
        config_changes=config_changes,
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
    claims = {claim["metric"]: claim for claim in results["claims"]}
    for verdict in results["verdicts"]:
        if verdict["measured"]:
            print(
                f"  {claims[verdict['metric']]['label']}: {verdict['before']:.4f} -> {verdict['after']:.4f} "
                f"({verdict['relative']:+.1%}; noise {verdict['noise']:.4f}; "
                f"{'counts' if verdict['exceeds_noise'] else 'within the noise'}; "
                f"{verdict_word(claims[verdict['metric']], verdict['meets_target'])})"
            )
    print(f"results: {args.out / effect.name / RESULTS_FILE}")
    if args.page is not None:
        for path in sorted(args.out.glob(f"*/{RESULTS_FILE}")):
            store_results(read_results(path), args.page)
        stored = stored_results(args.page)
        write_results_page(stored, args.page)
        print(f"results page: {args.page} ({len(stored)} result file(s) in {args.page.parent / RESULTS_FOLDER})")
    return 0
