"""``worldalign demo``: the main job on the embedded default, end to end, as far as it exists.

Today the chain is: generate a small multi-view Meta-World dataset of the 10 training tasks
(LeRobot v3 layout), summarise it, and write preview videos a person can watch. Each later
capability (world model, rewards, alignment) extends this command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

DEMO_EPILOG = """\
example:
  worldalign demo --out outputs/demo
Runs in about a minute on 2 CPU cores. Running it again reuses what is already done.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    demo = verbs.add_parser(
        "demo",
        help="run the main job on the embedded Meta-World default",
        description=__doc__,
        epilog=DEMO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--out", type=Path, default=Path("outputs/demo"), help="output folder (default: outputs/demo)")
    demo.add_argument("--episodes-per-task", type=int, default=2, help="episodes per training task (default: 2)")
    demo.add_argument("--seed", type=int, default=0, help="master seed (default: 0)")
    demo.add_argument("--workers", type=int, default=2, help="parallel recording processes (default: 2)")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from worldalign.cli.data import print_success_summary
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.envs.cameras import DEFAULT_VIEWS
    from worldalign.envs.generate import GenerationConfig, generate_dataset
    from worldalign.envs.recorder import DEFAULT_MAX_STEPS
    from worldalign.envs.tasks import resolve_tasks
    from worldalign.viz.video_grid import write_episode_preview

    console = Console()
    dataset_dir = args.out / "dataset"
    console.rule("1. generate episodes of the 10 training tasks")
    config = GenerationConfig(
        tasks=tuple(resolve_tasks("mt10")),
        episodes_per_task=args.episodes_per_task,
        noise=0.1,
        views=tuple(DEFAULT_VIEWS),
        image_size=64,
        action_repeat=2,
        max_steps=DEFAULT_MAX_STEPS,
        seed=args.seed,
    )
    outcomes = generate_dataset(config, dataset_dir, workers=args.workers)
    print_success_summary(outcomes)

    console.rule("2. preview videos (one episode per task)")
    dataset = LeRobotDataset(dataset_dir)
    previews = args.out / "previews"
    for task, indices in dataset.episodes_by_task().items():
        path = write_episode_preview(dataset.episode(indices[0]), previews / f"{task}.mp4")
        console.print(f"  {path}")
    console.rule("done")
    console.print(f"dataset: {dataset_dir}  (inspect with: worldalign data info {dataset_dir})")
    return 0
