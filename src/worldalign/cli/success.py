"""``worldalign train success``: the success classifier, trained on the simulator's labels (what
``WorldModelEnv`` and the ``success`` reward judge generated frames with)."""

from __future__ import annotations

import argparse
from pathlib import Path

TRAIN_SUCCESS_EPILOG = """\
example:
  worldalign train success --dataset data/mt10 --autoencoder checkpoints/autoencoder-cpu --out runs/success

Writes OUT/config.json + OUT/model.safetensors (the classifier) and OUT/training.json (held-out
frame accuracy, balanced accuracy and episode agreement). With --autoencoder the training frames
are its reconstructions, the kind of frames a world model decodes.
"""


def add_train_success_parser(train_subparsers: argparse._SubParsersAction) -> None:
    """Add ``success`` to the ``worldalign train`` group."""
    from worldalign.configs.success import SuccessTrainingConfig

    defaults = SuccessTrainingConfig()
    parser = train_subparsers.add_parser(
        "success",
        help="train the success classifier (frames -> task solved) on the simulator's labels",
        description="Train the success classifier on a dataset from `worldalign data generate`.",
        epilog=TRAIN_SUCCESS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", required=True, type=Path, help="dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="classifier folder to write")
    parser.add_argument("--views", default=None, help="comma-separated views (default: all of the dataset's)")
    parser.add_argument("--autoencoder", type=Path, default=None, help="train on this autoencoder's reconstructions")
    parser.add_argument(
        "--steps", type=int, default=defaults.steps, help=f"optimizer steps (default: {defaults.steps})"
    )
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="frames per step")
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="AdamW learning rate")
    parser.add_argument("--held-out", type=float, default=defaults.held_out, help="held-out fraction per task")
    parser.add_argument("--max-episodes-per-task", type=int, default=None, help="most training episodes per task")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.set_defaults(handler=run_train_success)


def run_train_success(args: argparse.Namespace) -> int:
    """Train, write the classifier folder and print the held-out numbers."""
    from worldalign.algos.success_classifier import train_success_classifier
    from worldalign.configs.success import SuccessTrainingConfig
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.runs.loading import load_autoencoder
    from worldalign.utils.text import split_list

    config = SuccessTrainingConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        held_out=args.held_out,
        max_episodes_per_task=args.max_episodes_per_task,
        seed=args.seed,
    )
    report = train_success_classifier(
        LeRobotDataset(args.dataset),
        args.out,
        views=split_list(args.views) if args.views else None,
        config=config,
        autoencoder=load_autoencoder(args.autoencoder) if args.autoencoder else None,
    )
    held = report.get("held_out")
    if held:
        print(
            f"held-out: accuracy {held['accuracy']:.3f}, balanced accuracy {held['balanced_accuracy']:.3f}, "
            f"episode agreement {held['episode_agreement']:.3f} over {held['episodes']} episodes"
        )
    print(f"wrote {args.out}")
    return 0
