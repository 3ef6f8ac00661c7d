"""``worldalign align``: RL post-training of a pretrained world model against chosen rewards.

Turns a world-model run, its autoencoder and a dataset into the inputs of ``algos.align``: the
training and held-out episode pools (the split the world model was trained with), the condition
producer (instruction prompts or PersistWorld rollout states), the rewards by name and weight,
and a held-out evaluation on every reward term (optimised or not) before, during and after. At
the end it writes ``OUT/before_after.json`` and one video per evaluated episode (real, pretrained
and aligned rows, one column per view), and OUT can be used as ``--world-model`` by the other
commands. ``register`` adds the verb to the top-level parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worldalign.errors import ConfigError

if TYPE_CHECKING:
    from worldalign.algos.conditions import EpisodePool
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.data.stats import Normalizer

SUMMARY_FILE = "before_after.json"
VIDEOS_DIR = "videos"
POLICIES = {"full-history": "full_history", "fixed-window": "fixed_window", "swr": "sliding_window_reencode"}
DEFAULT_REWARDS = {"rollout-states": "fidelity=1.0", "prompts": "executability=1.0"}

ALIGN_EPILOG = """\
examples:
  # PersistWorld: DiffusionNFT on the model's own rollout states, multi-view fidelity rewards
  worldalign align --world-model checkpoints/world-model-cpu --autoencoder checkpoints/autoencoder-cpu \\
      --dataset data/mt10 --out runs/align-nft --algo nft --conditions rollout-states --rewards fidelity=1.0
  # EVA: Flow-GRPO on instruction prompts, executability of IDM-decoded actions
  worldalign align --world-model checkpoints/world-model-cpu --autoencoder checkpoints/autoencoder-cpu \\
      --dataset data/mt10 --out runs/align-grpo --algo grpo --conditions prompts --rewards executability=1.0
  # RoboAlign-R1: GRPO with the distilled judge, LPIPS/SSIM watched on held-out episodes
  worldalign align ... --algo grpo --conditions prompts --rewards judge=1.0 --judge runs/student
  # two processes through Accelerate (GPUs when there are, else CPU processes talking over gloo)
  accelerate launch --multi_gpu --num_processes 2 -m worldalign.cli.main align ... --out runs/align-2p

Each iteration generates --conditions-per-iteration conditions x --group-size candidates (per
process), scores them, and makes one update (GRPO: --inner-epochs passes over a
--timestep-fraction of the denoising steps). Conditions come from the training episodes of the
world model's split (--held-out, as in `train world-model`); the held-out episodes are rolled
out for --eval-horizon frames before the first update, every --eval-every iterations and at the
end, and scored with --eval-rewards (all terms reported, with their spread over --eval-seeds).
OUT gets checkpoints/ (the same command resumes), tensorboard/, log.jsonl (one line per
iteration: reward, KL, clip fraction, seconds), model/, before_after.json and videos/.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``align`` to the top-level parser."""
    parser = verbs.add_parser(
        "align",
        help="RL post-training of a world model (Flow-GRPO or DiffusionNFT) against rewards",
        description="Post-train a pretrained world model with Flow-GRPO or DiffusionNFT against rewards.",
        epilog=ALIGN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--world-model", required=True, type=Path, help="world-model run folder (with model/)")
    parser.add_argument("--autoencoder", required=True, type=Path, help="autoencoder run folder or model/ folder")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3 layout)")
    parser.add_argument("--out", required=True, type=Path, help="run folder")
    parser.add_argument("--algo", choices=("grpo", "nft"), default="nft", help="objective (default: nft)")
    parser.add_argument(
        "--conditions",
        choices=("rollout-states", "prompts"),
        default="rollout-states",
        help="rollout-states (PersistWorld: the model's own rollouts, actions) or prompts (observation + "
        "instruction) (default: rollout-states)",
    )
    parser.add_argument(
        "--rewards", help="name=weight pairs (default: fidelity=1.0 for rollout-states, executability=1.0 for prompts)"
    )
    parser.add_argument(
        "--fidelity-metrics", help="fidelity reward's metric weights, e.g. lpips=1,ssim=1,psnr=1 (default: all 1)"
    )
    parser.add_argument("--view-weights", help="fidelity reward's view weights, e.g. wrist=2 (default: all 1)")
    parser.add_argument("--idm", type=Path, help="IDM for executability/execution (default: checkpoints/idm-cpu)")
    parser.add_argument("--judge", type=Path, help="student judge folder for the judge reward")
    parser.add_argument("--teacher", type=Path, help="teacher judge folder, for --relabel-every")
    parser.add_argument(
        "--relabel-every",
        type=int,
        default=0,
        help="every K updates the teacher scores fresh candidates and the student judge is refreshed on them "
        "(RoboAlign-R1's anti-hacking loop; needs the judge reward and --teacher) (default: 0, never)",
    )
    parser.add_argument("--iterations", type=int, default=20, help="updates (default: 20)")
    parser.add_argument("--conditions-per-iteration", type=int, default=4, help="per process (default: 4)")
    parser.add_argument("--group-size", type=int, default=4, help="candidates per condition (default: 4)")
    parser.add_argument("--sampling-steps", type=int, default=10, help="denoising steps per chunk (default: 10)")
    parser.add_argument("--lr", type=float, default=1e-5, help="learning rate after the warmup (default: 1e-5)")
    parser.add_argument("--warmup", type=int, default=5, help="iterations of linear LR warmup (default: 5)")
    parser.add_argument("--kl", type=float, help="KL-to-pretrained coefficient (default: the algorithm's)")
    parser.add_argument("--beta", type=float, help="DiffusionNFT's guidance strength b (default: NFTConfig's)")
    parser.add_argument("--clip-range", type=float, help="GRPO's ratio clip (default: FlowGRPOConfig's)")
    parser.add_argument("--timestep-fraction", type=float, help="GRPO: fraction of denoising steps trained")
    parser.add_argument("--inner-epochs", type=int, help="GRPO: passes over each batch")
    parser.add_argument("--context-frames", type=int, default=2, help="real start frames (default: 2)")
    parser.add_argument("--horizon", type=int, default=8, help="prompts: frames per candidate (default: 8)")
    parser.add_argument("--max-prefix-chunks", type=int, default=3, help="rollout-states: 0..N chunks (default: 3)")
    parser.add_argument(
        "--max-continuation-chunks", type=int, default=2, help="rollout-states: 1..N chunks per candidate (default: 2)"
    )
    parser.add_argument("--policy", choices=tuple(POLICIES), default="swr", help="context policy (default: swr)")
    parser.add_argument("--window", type=int, help="context window of fixed-window/swr (default: 2 / 6)")
    parser.add_argument("--held-out", type=float, default=0.1, help="held-out fraction per task (default: 0.1)")
    parser.add_argument("--eval-episodes", type=int, default=8, help="held-out episodes evaluated (default: 8)")
    parser.add_argument("--eval-horizon", type=int, default=24, help="frames per evaluation rollout (default: 24)")
    parser.add_argument("--eval-seeds", type=int, default=2, help="sampling seeds per evaluation (default: 2)")
    parser.add_argument("--eval-every", type=int, default=0, help="iterations between evaluations (default: 0)")
    parser.add_argument(
        "--eval-rewards", default="fidelity=1.0,executability=0.0", help="evaluation rewards (all terms reported)"
    )
    parser.add_argument("--max-train-episodes", type=int, help="cap on training episodes loaded (default: all)")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="wall-clock budget, 0 = none (default: 0)")
    parser.add_argument("--checkpoint-every", type=int, default=10, help="iterations between checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="seeds every draw (default: 0)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if OUT has checkpoints")
    parser.set_defaults(handler=run_align)


def _pool(
    dataset: LeRobotDataset, indices: list[int], views: tuple[str, ...], normalizer: Normalizer | None
) -> EpisodePool:
    from worldalign.algos.conditions import EpisodePool

    episodes = list(dataset.iter_episodes(indices, views))
    return EpisodePool(episodes=episodes, indices=indices, views=views, normalizer=normalizer, fps=dataset.fps)


def _parse_weights(text: str | None, option: str) -> dict[str, float] | None:
    """``"a=1,b=0.5"`` -> ``{"a": 1.0, "b": 0.5}``; None when the option is not given."""
    if text is None:
        return None
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"{option} {text!r}: {item!r} is not name=number") from None
    return weights


def _config(args: argparse.Namespace) -> Any:
    from worldalign.algos.align import AlignConfig
    from worldalign.algos.diffusion_nft import NFTConfig
    from worldalign.algos.flow_grpo import FlowGRPOConfig

    grpo, nft = FlowGRPOConfig(), NFTConfig()
    grpo_changes = {
        "kl_coef": args.kl if args.algo == "grpo" else None,
        "clip_range": args.clip_range,
        "train_timestep_fraction": args.timestep_fraction,
        "inner_epochs": args.inner_epochs,
    }
    nft_changes = {"kl_coef": args.kl if args.algo == "nft" else None, "beta": args.beta}
    grpo = dataclasses.replace(grpo, **{k: v for k, v in grpo_changes.items() if v is not None})
    nft = dataclasses.replace(nft, **{k: v for k, v in nft_changes.items() if v is not None})
    return AlignConfig(
        algorithm=args.algo,
        iterations=args.iterations,
        conditions_per_iteration=args.conditions_per_iteration,
        group_size=args.group_size,
        sampling_steps=args.sampling_steps,
        learning_rate=args.lr,
        warmup_iterations=args.warmup,
        grpo=grpo,
        nft=nft,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
        relabel_every=args.relabel_every,
        max_seconds=60.0 * args.max_minutes,
        seed=args.seed,
    )


def run_align(args: argparse.Namespace) -> int:
    import copy

    import torch
    from accelerate import Accelerator

    from worldalign.algos.align import align
    from worldalign.algos.conditions import PromptConditions, RolloutStateConditions
    from worldalign.cli.rollout import load_world_model_run
    from worldalign.cli.world_model import (
        INSTRUCTION_CACHE_FILE,
        NORMALIZER_FILE,
        autoencoder_folder,
        check_image_size,
        run_folder_of,
    )
    from worldalign.data.clips import split_episodes, spread_evenly
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.eval.alignment import HeldOutRollouts
    from worldalign.models.autoencoder import Autoencoder
    from worldalign.models.checkpoint import load_model
    from worldalign.models.text.instruction_encoder import InstructionEncoder
    from worldalign.rewards.registry import build_rewards
    from worldalign.sampling.context_policies import check_policy, context_policy
    from worldalign.utils.atomic import atomic_write_json

    config = _config(args)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    main, device = accelerator.is_main_process, accelerator.device
    world_model = load_world_model_run(args.world_model, device)
    model, normalizer, run_dir = world_model.model, world_model.normalizer, run_folder_of(world_model.model_dir)
    autoencoder = load_model(Autoencoder, autoencoder_folder(args.autoencoder), device=device).eval()
    dataset = LeRobotDataset(args.dataset)
    views = _model_views(dataset, model.config.num_views, args.world_model)
    check_image_size(dataset, views, autoencoder.config.image_size, "the autoencoder")
    instructions = None
    if world_model.instruction_encoder is not None:
        # A copy of the run's embedding cache in OUT, so new instructions never write into the run.
        if main and (run_dir / INSTRUCTION_CACHE_FILE).is_file():
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_dir / INSTRUCTION_CACHE_FILE, args.out / INSTRUCTION_CACHE_FILE)
        accelerator.wait_for_everyone()
        instructions = InstructionEncoder(args.out / INSTRUCTION_CACHE_FILE)
    train, held_out = split_episodes(dataset.task_names, held_out_fraction=args.held_out)
    if not held_out:
        raise ConfigError(f"--held-out {args.held_out} leaves no held-out episode of {args.dataset} to evaluate on")
    pool = _pool(dataset, spread_evenly(train, args.max_train_episodes), views, normalizer)
    policy = context_policy(POLICIES[args.policy], frames=args.window)
    limit = model.config.max_context_frames
    check_policy(policy.resolved(limit), limit, model.config.future_frames)
    if args.conditions == "prompts":
        conditions: Any = PromptConditions(pool, args.context_frames, args.horizon, policy)
    else:
        conditions = RolloutStateConditions(
            pool, args.context_frames, args.max_prefix_chunks, args.max_continuation_chunks, policy
        )
    reward_spec = args.rewards or DEFAULT_REWARDS[args.conditions]
    options = {
        "idm": args.idm,
        "judge_checkpoint": args.judge,
        "device": device,
        "metric_weights": _parse_weights(args.fidelity_metrics, "--fidelity-metrics"),
        "view_weights": _parse_weights(args.view_weights, "--view-weights"),
    }
    options = {name: value for name, value in options.items() if value is not None}
    rewards = build_rewards(reward_spec, **options)
    relabel = _relabel_hook(args, rewards, device)
    evaluator = None
    pretrained = None
    if main:
        eval_pool = _pool(dataset, spread_evenly(held_out, args.eval_episodes), views, normalizer)
        evaluator = HeldOutRollouts(
            pool=eval_pool,
            autoencoder=autoencoder,
            rewards=build_rewards(args.eval_rewards, **options),
            policy=policy,
            context_frames=args.context_frames,
            horizon=args.eval_horizon,
            sampling_steps=args.sampling_steps,
            seeds=tuple(range(args.eval_seeds)),
            use_actions=args.conditions == "rollout-states",
            instruction_encoder=instructions,
        )
        pretrained = copy.deepcopy(model).eval()
        args.out.mkdir(parents=True, exist_ok=True)
        if (run_dir / NORMALIZER_FILE).is_file():
            shutil.copyfile(run_dir / NORMALIZER_FILE, args.out / NORMALIZER_FILE)
        print(
            f"align: {args.algo} on {args.conditions}, rewards {reward_spec}; {len(pool.episodes)} training and "
            f"{len(eval_pool.episodes)} held-out episodes; {accelerator.num_processes} process(es) on {device}"
        )
    result = align(
        config,
        model,
        autoencoder,
        conditions,
        rewards,
        args.out,
        instruction_encoder=instructions,
        evaluate=evaluator,
        relabel=relabel,
        accelerator=accelerator,
        resume=not args.no_resume,
    )
    if not main:
        return 0
    assert evaluator is not None and pretrained is not None
    summary = _summary(args, result, reward_spec)
    atomic_write_json(args.out / SUMMARY_FILE, summary)
    _print_summary(summary)
    videos = _before_after_videos(evaluator, pretrained, model, args.out / VIDEOS_DIR, min(4, args.eval_episodes))
    print(f"aligned model: {result.model_dir}; {SUMMARY_FILE} and {len(videos)} videos in {args.out}")
    return 0


def _relabel_hook(args: argparse.Namespace, rewards: Any, device: Any) -> Any:
    """The judge relabel hook of ``--relabel-every``, refreshing the judge reward's own student."""
    if args.relabel_every <= 0:
        return None
    judges = [reward for reward in rewards.rewards if reward.name == "judge"]
    if not judges or args.teacher is None:
        raise ConfigError(
            "--relabel-every refreshes the student judge of the judge reward with a teacher: add judge=W to "
            "--rewards (with --judge STUDENT) and pass --teacher TEACHER"
        )
    from worldalign.algos.judge import RelabelHook
    from worldalign.models.checkpoint import load_model
    from worldalign.models.judge.networks import JudgeTeacher

    teacher = load_model(JudgeTeacher, args.teacher, device=device)
    return RelabelHook(teacher, judges[0].student, judges[0].encoder)


def _model_views(dataset: LeRobotDataset, count: int, where: Path) -> tuple[str, ...]:
    if len(dataset.views) != count:
        raise ConfigError(
            f"the world model {where} predicts {count} view(s); {dataset.root} has {list(dataset.views)}: use the "
            "dataset (views) the world model was trained on"
        )
    return tuple(dataset.views)


def _summary(args: argparse.Namespace, result: Any, reward_spec: str) -> dict[str, Any]:
    """The run's evaluations read back from its log, so a resumed call reports the whole run."""
    import json

    from worldalign.algos.align import LOG_FILE

    lines = [json.loads(line) for line in (args.out / LOG_FILE).read_text().splitlines() if line]
    evaluations = {line["iteration"]: _scalars(line) for line in lines if line["kind"] == "eval"}
    trained = [line for line in lines if line["kind"] == "train"]
    return {
        "algorithm": args.algo,
        "conditions": args.conditions,
        "rewards": reward_spec,
        "eval_rewards": args.eval_rewards,
        "iterations": result.iteration,
        "resumed_from": result.resumed_from,
        "training_seconds": sum(line["time/iteration_s"] for line in trained),
        "before": evaluations.get(0),
        "after": evaluations.get(result.iteration),
        "evaluations": {str(k): v for k, v in evaluations.items()},
    }


def _scalars(line: dict[str, Any]) -> dict[str, float]:
    """A log line's scalars; a NaN logged as null (``utils.json_values``) reads back as NaN."""
    skipped = ("iteration", "kind", "nonfinite")
    return {key: float("nan") if value is None else value for key, value in line.items() if key not in skipped}


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    before, after = summary["before"], summary["after"]
    if not before or not after:
        print("no before/after evaluation in the run's log (was it evaluated before its first update?)")
        return
    table = Table(title=f"held-out rollouts before vs after {summary['iterations']} {summary['algorithm']} updates")
    for column in ("term", "before", "after", "change", "seed spread (after)"):
        table.add_column(column, justify="right" if column != "term" else "left")
    for name, value in before.items():
        if name.endswith("/seed_std") or name not in after or "/view/" in name:
            continue
        spread = after.get(f"{name}/seed_std", float("nan"))
        table.add_row(name, f"{value:.4f}", f"{after[name]:.4f}", f"{after[name] - value:+.4f}", f"{spread:.4f}")
    Console().print(table)


def _before_after_videos(evaluator: Any, pretrained: Any, aligned: Any, folder: Path, count: int) -> list[Path]:
    """Real | pretrained | aligned rows (one column per view) for the first ``count`` held-out starts."""
    import torch

    from worldalign.cli.world_model import to_uint8_video
    from worldalign.viz.video_grid import compose_grid, viewing_scale, write_video

    episodes = list(range(min(count, len(evaluator.pool.episodes))))
    rows = {}
    for name, model in (("pretrained", pretrained), ("aligned", aligned.eval())):
        with torch.no_grad():
            rows[name] = evaluator.generate(model, episodes, torch.Generator().manual_seed(0))
    written = []
    for position, episode in enumerate(episodes):
        real = rows["aligned"].reference[position]
        generated = (rows["pretrained"].frames[position], rows["aligned"].frames[position])
        videos = [to_uint8_video(x) for x in (real, *generated)]
        grid = compose_grid(
            videos,
            column_labels=list(evaluator.pool.views),
            row_labels=["real", "pretrained", "aligned"],
            title=f"held-out episode {evaluator.pool.indices[episode]}",
            scale=viewing_scale(real.shape[-1]),
        )
        path = folder / f"episode_{evaluator.pool.indices[episode]}.mp4"
        written.append(write_video(grid, path, fps=evaluator.pool.fps))
    return written
