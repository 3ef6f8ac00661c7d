"""The ``worldalign`` command: one sub-parser per verb group, each defined in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from worldalign import __version__
from worldalign.cli import align as align_command
from worldalign.cli import data as data_commands
from worldalign.cli import demo as demo_command
from worldalign.cli import evaluate as eval_command
from worldalign.cli import export as export_command
from worldalign.cli import idm as idm_commands
from worldalign.cli import judge as judge_commands
from worldalign.cli import plan as plan_command
from worldalign.cli import report as report_command
from worldalign.cli import reproduce as reproduce_command
from worldalign.cli import rewards as reward_commands
from worldalign.cli import rollout as rollout_command
from worldalign.cli import train as train_commands
from worldalign.cli import vla as vla_commands
from worldalign.errors import WorldAlignError

DESCRIPTION = """\
worldalign: reward-aligned post-training of robot world models and VLA policies.

The embedded default is a Meta-World (MuJoCo) benchmark rendered offscreen on the CPU:
10 training tasks (MT10) and held-out tasks, scripted experts with action noise, several
camera views, and episodes stored in the LeRobot v3 layout (parquet + mp4 + meta json).

A first session:
  worldalign demo --out outputs/demo                 # the whole chain so far, on the default
  worldalign data generate --tasks mt10 --episodes-per-task 10 --out data/mt10
  worldalign data info data/mt10                     # what is in a dataset
  worldalign data preview data/mt10 --episode 0      # look at an episode (mp4 grid of views)
  worldalign train autoencoder --dataset data/mt10 --out runs/ae   # then: train world-model, train idm
  worldalign rollout --world-model runs/wm --autoencoder runs/ae --dataset data/mt10 --out runs/rollouts --policy swr
  worldalign align --world-model runs/wm --autoencoder runs/ae --dataset data/mt10 --out runs/align --algo nft
  worldalign reproduce persistworld --world-model runs/wm --autoencoder runs/ae --dataset data/mt10 --page docs/results.md
  worldalign report runs/rollouts runs/align --out runs/report    # tables, plots, videos in one HTML page
  worldalign reward score data/mt10 --rewards executability      # score episodes with any rewards
  worldalign execute data/mt10 --idm checkpoints/idm-cpu         # run IDM-decoded plans in the simulator
  worldalign plan --world-model runs/wm --autoencoder runs/ae --dataset data/mt10 --out runs/plan  # plan, replan
  worldalign judge-bench build --out bench/default               # the six-dimension judge benchmark
  worldalign train judge --bench bench/default --out runs/teacher
  worldalign vla tokenizer fit --dataset data/mt10 --out runs/fast  # FAST action tokens for a VLA

Every verb has its own --help with examples.
"""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="worldalign", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"worldalign {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    data_commands.register(verbs)
    train_commands.register(verbs)
    rollout_command.register(verbs)
    eval_command.register(verbs)
    align_command.register(verbs)
    reproduce_command.register(verbs)
    idm_commands.register(verbs)
    plan_command.register(verbs)
    reward_commands.register(verbs)
    judge_commands.register(verbs)
    export_command.register(verbs)
    demo_command.register(verbs)
    vla_commands.register(verbs)
    report_command.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except WorldAlignError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to continue where it stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
