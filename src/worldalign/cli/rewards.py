"""``worldalign reward score``: any rewards, by name and weight, on the clips of recorded episodes."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from worldalign.cli.parsing import parse_indices

SCORE_EPILOG = """\
examples:
  worldalign reward score data/expert --rewards executability=1.0 --idm checkpoints/idm-cpu
  worldalign reward score data/noisy --rewards executability=1.0,execution=0.5 --clip-frames 16 --json noisy.json

Every --clip-frames window (one every --stride frames) of every episode is scored as if it
were a generated rollout: the earlier frames are its context, the recorded actions its commands,
the real frames its reference (so fidelity is 1 here: use it on generated videos).
The weights make the "total" column (sum of weight x reward; shown unless a single reward has
weight 1); each must be a finite number (negative: a penalty; 0: shown, not in the total).
"""

def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``reward score`` to the top-level parser."""
    reward = verbs.add_parser("reward", help="score recorded episodes with the rewards")
    reward_sub = reward.add_subparsers(dest="reward_verb", metavar="COMMAND", required=True)
    score = reward_sub.add_parser(
        "score",
        help="score clips of recorded episodes with rewards chosen by name and weight",
        epilog=SCORE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("dataset", type=Path, help="dataset folder")
    score.add_argument("--rewards", default="executability=1.0", help="name=weight pairs (default: executability=1.0)")
    score.add_argument("--idm", type=Path, help="IDM checkpoint folder (default: the shipped checkpoints/idm-cpu)")
    score.add_argument("--clip-frames", type=int, default=16, help="frames per scored clip (default: 16)")
    score.add_argument("--context-frames", type=int, default=3, help="context frames before each clip (default: 3)")
    score.add_argument("--stride", type=int, default=16, help="frames between clip starts (default: 16)")
    score.add_argument("--episodes", help="comma-separated episode indices (default: all)")
    score.add_argument("--json", type=Path, help="also write per-task means here")
    score.set_defaults(handler=run_reward_score)


def run_reward_score(args: argparse.Namespace) -> int:
    from worldalign.stages.score import score_dataset
    from worldalign.utils.atomic import atomic_write_json

    scores = score_dataset(
        args.dataset,
        args.rewards,
        idm=args.idm,
        clip_frames=args.clip_frames,
        context_frames=args.context_frames,
        stride=args.stride,
        episodes=parse_indices(args.episodes),
    )
    # One row per task; columns named by the part after "reward/" so the table fits a terminal.
    terms = list(next(iter(scores.per_task.values())))
    if list(scores.weights.values()) == [1.0]:  # the total is the single reward: show it once
        terms.remove("total")
    weighted = " + ".join(f"{weight:g} x {name}" for name, weight in scores.weights.items())
    table = Table(title=f"mean rewards on {args.dataset} ({args.clip_frames}-frame clips; total = {weighted})")
    table.add_column("task", no_wrap=True)
    for key in terms:
        table.add_column(key.rsplit("/", 1)[-1], justify="right", no_wrap=True)
    for task, values in scores.per_task.items():
        table.add_row(task.removesuffix("-v3"), *(f"{values[key]:.2f}" for key in terms))
    console = Console()
    console.width = max(console.width, 120)  # whole term names beat an 80-column default in logs
    console.print(table)
    if args.json:
        record = {"dataset": str(args.dataset), "rewards": args.rewards, "weights": scores.weights}
        atomic_write_json(args.json, {**record, "per_task": scores.per_task})
    return 0
