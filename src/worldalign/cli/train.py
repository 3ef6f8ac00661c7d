"""``worldalign train ...``: one sub-verb per model family, each defined beside its family's verbs."""

from __future__ import annotations

import argparse

from worldalign.cli import judge as judge_commands
from worldalign.cli import rewards as reward_commands

TRAIN_EPILOG = """\
examples:
  worldalign train idm --dataset data/mt10 --out runs/idm
  worldalign train judge --bench bench/default --out runs/teacher

Runs write checkpoint folders (model.safetensors + config.json). `train idm` also saves its
training state and resumes from its latest checkpoint when run again with the same --out.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``train`` and its model families to the top-level parser."""
    train = verbs.add_parser(
        "train",
        help="train a model (inverse dynamics, judge teacher)",
        description="Train one of worldalign's models on a dataset or benchmark.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    families = train.add_subparsers(dest="train_verb", metavar="MODEL", required=True)
    reward_commands.add_train_idm_parser(families)
    judge_commands.add_train_judge_parser(families)
