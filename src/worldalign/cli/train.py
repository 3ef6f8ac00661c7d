"""``worldalign train ...``: one sub-verb per model family, each defined beside its family's verbs."""

from __future__ import annotations

import argparse

from worldalign.cli import idm as idm_commands
from worldalign.cli import judge as judge_commands
from worldalign.cli import success as success_commands
from worldalign.cli import world_model as world_model_commands

TRAIN_EPILOG = """\
examples:
  worldalign train autoencoder --dataset data/mt10 --out runs/ae
  worldalign train world-model --dataset data/mt10 --autoencoder runs/ae --out runs/wm
  worldalign train idm --dataset data/mt10 --out runs/idm
  worldalign train judge --bench bench/default --out runs/teacher
  worldalign train success --dataset data/mt10 --autoencoder checkpoints/autoencoder-cpu --out runs/success

Runs write checkpoint folders (model.safetensors + config.json). The autoencoder, world-model
and idm runs also save their training state and resume exactly from their latest checkpoint
when run again with the same --out.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``train`` and its model families to the top-level parser."""
    train = verbs.add_parser(
        "train",
        help="train a model (autoencoder, world model, inverse dynamics, judge teacher, success classifier)",
        description="Train one of worldalign's models on a dataset or benchmark.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    families = train.add_subparsers(dest="train_verb", metavar="MODEL", required=True)
    world_model_commands.add_train_autoencoder_parser(families)
    world_model_commands.add_train_world_model_parser(families)
    idm_commands.add_train_idm_parser(families)
    judge_commands.add_train_judge_parser(families)
    success_commands.add_train_success_parser(families)
