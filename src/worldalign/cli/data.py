"""``worldalign data ...``: generate, inspect and look at episode datasets."""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from worldalign.utils.text import split_list

if TYPE_CHECKING:  # the simulator is imported by the verbs that run it, not by the CLI
    from worldalign.envs.generate import EpisodeOutcome

GENERATE_EPILOG = """\
examples:
  worldalign data generate --tasks mt10 --episodes-per-task 10 --out data/mt10
  worldalign data generate --tasks reach-v3,push-v3 --noise 0.5 --views front,wrist --size 128 --out data/noisy
  worldalign data generate --tasks heldout --episodes-per-task 5 --instructions heldout --out data/heldout
  worldalign data generate --tasks mt10 --episodes-per-task 16 --noise 0.2 --explore 0.3 --out data/explore

Task suites: mt10 (= train: the 10 MT10 tasks), heldout, all. The dataset is fixed by the
options and --seed alone (not by --workers). An interrupted run continues where it stopped
when the same command is run again.
"""

ENCODE_EPILOG = """\
examples:
  worldalign data encode --dataset data/mt10 --autoencoder checkpoints/autoencoder-cpu --out data/mt10-latents
  worldalign train world-model --latents data/mt10-latents --autoencoder checkpoints/autoencoder-cpu --out runs/wm

The frozen autoencoder encodes every frame of every view once; training from the latent folder
(`train world-model --latents`) draws the same windows as from the dataset for the same --seed,
without decoding videos or running the encoder at every step, and without PyAV or MuJoCo: copy
the folder (a few tens of MB, int8) and the autoencoder to a GPU machine and train there. int8
keeps each latent to within half of its (frame, view, channel) scale: the printed relative error.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``data generate|info|preview|encode`` to the top-level parser."""
    data = verbs.add_parser("data", help="generate, inspect and preview episode datasets")
    sub = data.add_subparsers(dest="data_verb", metavar="COMMAND", required=True)
    _register_generate(sub)
    _register_info(sub)
    _register_preview(sub)
    _register_encode(sub)


def _register_generate(sub: argparse._SubParsersAction) -> None:
    from worldalign.envs.cameras import DEFAULT_VIEWS
    from worldalign.envs.tasks import DEFAULT_MAX_STEPS

    gen = sub.add_parser(
        "generate",
        help="record scripted-expert episodes in Meta-World into a LeRobot v3 dataset",
        description="Record scripted-expert episodes in Meta-World into a LeRobot v3 dataset.",
        epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gen.add_argument("--tasks", default="mt10", help="comma-separated task names and/or suites (default: mt10)")
    gen.add_argument("--episodes-per-task", type=int, default=10, help="episodes per task (default: 10)")
    gen.add_argument(
        "--noise", type=float, default=0.0,
        help="std of Gaussian noise on the expert's actions in [-1, 1]; 0.5 gives many failures (default: 0)",
    )
    gen.add_argument(
        "--explore", type=float, default=0.0,
        help="expected fraction of steps in which the expert holds a random action for 4-12 steps "
        "(data on which a world model must follow its actions; default: 0)",
    )
    gen.add_argument(
        "--views", default=",".join(DEFAULT_VIEWS),
        help=f"comma-separated camera names (default: {','.join(DEFAULT_VIEWS)})",
    )
    gen.add_argument("--size", type=int, default=64, help="image height and width in pixels (default: 64)")
    gen.add_argument("--action-repeat", type=int, default=2, help="simulator steps per action (default: 2)")
    gen.add_argument(
        "--max-steps", type=int, default=DEFAULT_MAX_STEPS, help=f"policy steps per episode (default: {DEFAULT_MAX_STEPS})"
    )
    gen.add_argument("--seed", type=int, default=0, help="master seed (default: 0)")
    gen.add_argument(
        "--instructions", choices=("train", "heldout"), default="train",
        help="which instruction paraphrases to use (default: train)",
    )
    gen.add_argument("--lossy", action="store_true", help="store H.264 yuv420p instead of lossless RGB video")
    gen.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel recording processes (default: cores, max 2)"
    )
    gen.add_argument("--out", required=True, type=Path, help="output dataset folder")
    gen.set_defaults(handler=run_generate)


def _register_info(sub: argparse._SubParsersAction) -> None:
    info = sub.add_parser(
        "info",
        help="summarise a LeRobot v3 dataset (ours or any other)",
        description="Summarise a LeRobot v3 dataset: size, views, features, and episodes and success per task.",
        epilog="example:\n  worldalign data info data/mt10",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("dataset", type=Path, help="dataset folder (the one holding meta/info.json)")
    info.set_defaults(handler=run_info)


def _register_preview(sub: argparse._SubParsersAction) -> None:
    preview = sub.add_parser(
        "preview",
        help="write an mp4 or GIF with the views of an episode side by side",
        epilog="example:\n  worldalign data preview data/mt10 --episode 3 --scale 4 --out ep3.gif",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    preview.add_argument("dataset", type=Path, help="dataset folder")
    preview.add_argument("--episode", type=int, default=0, help="episode index (default: 0)")
    preview.add_argument("--views", default=None, help="comma-separated views (default: all)")
    preview.add_argument("--scale", type=int, default=3, help="integer upscaling for viewing (default: 3)")
    preview.add_argument("--out", type=Path, default=None, help="output .mp4 or .gif (default: DATASET/preview_episode_N.mp4)")
    preview.set_defaults(handler=run_preview)


def _register_encode(sub: argparse._SubParsersAction) -> None:
    encode = sub.add_parser(
        "encode",
        help="encode a dataset's frames once into autoencoder latents (to train the world model from)",
        description="Encode every frame of a dataset with a frozen autoencoder into latent shards (safetensors).",
        epilog=ENCODE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    encode.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3 layout)")
    encode.add_argument("--autoencoder", required=True, type=Path, help="autoencoder run folder, or its model/ folder")
    encode.add_argument("--out", required=True, type=Path, help="latent folder to write")
    encode.add_argument("--views", default=None, help="comma-separated views (default: all of the dataset's)")
    encode.add_argument(
        "--dtype", choices=("int8", "float16"), default="int8", help="storage of the latents (default: int8)"
    )
    encode.add_argument("--episodes-per-shard", type=int, default=64, help="episodes per shard file (default: 64)")
    encode.set_defaults(handler=run_encode)


def run_generate(args: argparse.Namespace) -> int:
    from worldalign.envs.cameras import resolve_views
    from worldalign.envs.generate import GenerationConfig, generate_dataset
    from worldalign.envs.tasks import resolve_tasks

    config = GenerationConfig(
        tasks=tuple(resolve_tasks(args.tasks)),
        episodes_per_task=args.episodes_per_task,
        noise=args.noise,
        explore=args.explore,
        views=tuple(resolve_views(split_list(args.views))),
        image_size=args.size,
        action_repeat=args.action_repeat,
        max_steps=args.max_steps,
        seed=args.seed,
        lossless=not args.lossy,
        instruction_split=args.instructions,
    )
    outcomes = generate_dataset(config, args.out, workers=args.workers)
    print_success_summary(outcomes)
    Console().print(f"dataset written to [bold]{args.out}[/bold]")
    return 0


def print_success_summary(outcomes: list[EpisodeOutcome]) -> None:
    """A per-task table of episodes, successes and mean length."""
    by_task: dict[str, list[EpisodeOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_task[outcome.task].append(outcome)
    table = Table(title="generated episodes")
    for column in ("task", "episodes", "successes", "success rate", "mean length"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task, items in by_task.items():
        wins = sum(o.success for o in items)
        mean_length = sum(o.length for o in items) / len(items)
        table.add_row(task, str(len(items)), str(wins), f"{wins / len(items):.0%}", f"{mean_length:.1f}")
    total_wins = sum(o.success for o in outcomes)
    table.add_row("all", str(len(outcomes)), str(total_wins), f"{total_wins / max(len(outcomes), 1):.0%}", "", style="bold")
    Console().print(table)


def run_info(args: argparse.Namespace) -> int:
    from worldalign.data.lerobot_reader import LeRobotDataset

    dataset = LeRobotDataset(args.dataset)
    console = Console()
    overview = Table(title=str(args.dataset), show_header=False)
    overview.add_row("episodes", str(dataset.num_episodes))
    overview.add_row("frames", str(sum(dataset.episode_lengths)))
    overview.add_row("fps", str(dataset.fps))
    overview.add_row("views", ", ".join(dataset.views))
    overview.add_row("action dim", str(dataset.action_dim))
    overview.add_row("state dim", str(dataset.state_dim))
    console.print(overview)

    features = Table(title="features")
    for column in ("name", "dtype", "shape"):
        features.add_column(column)
    for name, spec in dataset.features.items():
        features.add_row(name, str(spec["dtype"]), str(spec["shape"]))
    console.print(features)

    tasks = Table(title="episodes per task")
    for column in ("task", "episodes", "success rate", "mean length"):
        tasks.add_column(column, justify="left" if column == "task" else "right")
    for task, indices in dataset.episodes_by_task().items():
        lengths = [dataset.episode_lengths[i] for i in indices]
        flags = [dataset.episode_success(i) for i in indices]
        known = [f for f in flags if f is not None]
        rate = f"{sum(known) / len(known):.0%}" if known else "not recorded"
        tasks.add_row(task, str(len(indices)), rate, f"{sum(lengths) / len(lengths):.1f}")
    console.print(tasks)
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.viz.video_grid import write_episode_preview

    dataset = LeRobotDataset(args.dataset)
    views = split_list(args.views) if args.views else None
    episode = dataset.episode(args.episode, views=views)
    out = args.out or args.dataset / f"preview_episode_{args.episode}.mp4"
    write_episode_preview(episode, out, scale=args.scale)
    Console().print(f"preview of episode {args.episode} ({episode.task}: {episode.instruction!r}) written to [bold]{out}[/bold]")
    return 0


def run_encode(args: argparse.Namespace) -> int:
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.stages.latents import encode_latents

    views = split_list(args.views) if args.views else None
    written = encode_latents(
        LeRobotDataset(args.dataset),
        args.autoencoder,
        args.out,
        views=views,
        dtype=args.dtype,
        episodes_per_shard=args.episodes_per_shard,
    )
    Console().print(
        f"{written.episodes} episodes, {written.frames} frames encoded ({args.dtype}, {written.bytes_written / 2**20:.1f} MiB; "
        f"mean absolute error {written.relative_error:.2%} of the mean latent magnitude) "
        f"written to [bold]{written.folder}[/bold]"
    )
    return 0
