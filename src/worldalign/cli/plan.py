"""``worldalign plan``: the world model as a planner in the simulator, open loop and closed loop (EVA)."""

from __future__ import annotations

import argparse
from pathlib import Path

from worldalign.cli.parsing import parse_indices
from worldalign.utils.text import split_list

PLAN_EPILOG = """\
examples:
  worldalign plan --world-model checkpoints/world-model-cpu --autoencoder checkpoints/autoencoder-cpu \\
      --dataset data/mt10 --out runs/plan                        # open loop vs replanning every 8 frames
  worldalign plan ... --tasks drawer-close-v3,window-close-v3 --horizon 64 --replan-every 64,16,4
  worldalign plan --world-model runs/align-eva --autoencoder ... # an aligned model (its run folder)

EVA uses a video world model as a robot planner: generate the task's video from the current
observation and instruction, decode its actions with the inverse dynamics model (--idm), execute
them. Each held-out episode (those `align` never trains on) restarts the simulator from the exact
recorded state of its last context frame. With --replan-every K the model generates K frames from
the latest frames the simulator rendered, their actions are executed, and it plans again from what
happened, until --horizon actions ran or the task is solved; K >= --horizon is the open-loop plan
(one video, executed blind). Reported per mode and task: success rate and progress (the fraction
of the object-to-target distance removed), mean over episodes and --seeds sampling seeds with the
sampling-seed std; OUT/planning.json holds them, OUT/videos/ one video per episode and mode (the
executed frames above the planned ones).
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``plan`` to the top-level parser."""
    parser = verbs.add_parser(
        "plan",
        help="plan with the world model in the simulator (decoded by the IDM), open loop vs closed loop",
        description="Plan with a world model, decode the plans with an IDM, execute them in Meta-World.",
        epilog=PLAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--world-model", required=True, type=Path, help="world model (run or model folder)")
    parser.add_argument("--autoencoder", required=True, type=Path, help="its autoencoder")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset with simulator states (`data generate`)")
    parser.add_argument("--out", required=True, type=Path, help="folder of planning.json and the videos")
    parser.add_argument("--idm", type=Path, help="inverse dynamics model (default: checkpoints/idm-cpu)")
    parser.add_argument("--tasks", help="comma-separated tasks (default: every task of the held-out episodes)")
    parser.add_argument("--episodes", type=int, default=10, help="held-out episodes (default: 10)")
    parser.add_argument("--held-out", type=float, default=0.1, help="held-out fraction, as in align (default: 0.1)")
    parser.add_argument("--context-frames", type=int, default=2, help="real start frames (default: 2)")
    parser.add_argument("--horizon", type=int, default=48, help="actions executed at most (default: 48)")
    parser.add_argument(
        "--replan-every",
        default="48,8",
        help="frames generated per plan, one mode each; >= --horizon is open loop (default: 48,8)",
    )
    parser.add_argument("--seeds", type=int, default=2, help="sampling seeds (default: 2)")
    parser.add_argument("--sampling-steps", type=int, default=10, help="Euler steps per chunk (default: 10)")
    parser.add_argument("--policy", default="swr", help="context policy of the plans (default: swr)")
    parser.add_argument("--window", type=int, help="context window of the policy (default: the policy's)")
    parser.add_argument("--videos", type=int, default=2, help="episodes with a video per mode (default: 2)")
    parser.set_defaults(handler=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from worldalign.stages.planning import PLANNING_FILE, PlanningSetup, plan_in_simulator

    setup = PlanningSetup(
        world_model=args.world_model,
        autoencoder=args.autoencoder,
        dataset=args.dataset,
        out=args.out,
        idm=args.idm,
        tasks=tuple(split_list(args.tasks)) if args.tasks else (),
        episodes=args.episodes,
        held_out=args.held_out,
        context_frames=args.context_frames,
        horizon=args.horizon,
        replan_every=tuple(parse_indices(args.replan_every, "--replan-every")),
        seeds=args.seeds,
        sampling_steps=args.sampling_steps,
        policy=args.policy,
        window=args.window,
        videos=args.videos,
    )
    report = plan_in_simulator(setup)
    table = Table(title=f"plans executed in the simulator ({len(report['episodes'])} held-out episodes)")
    for column in ("mode", "task", "success", "progress", "plans per episode"):
        table.add_column(column, justify="left" if column in ("mode", "task") else "right")
    for mode, summary in report["modes"].items():
        name = f"{mode} (open loop)" if summary["open_loop"] else f"{mode} (closed loop)"
        table.add_row(name, "all", _cell(summary["success"]), _cell(summary["progress"]), f"{summary['rounds']:.1f}")
        for task, scores in summary["by_task"].items():
            table.add_row("", task, _cell(scores["success"]), _cell(scores["progress"]), "")
    Console().print(table)
    print(f"results: {args.out / PLANNING_FILE}; videos: {args.out / 'videos'}")
    return 0


def _cell(score: dict[str, float]) -> str:
    return f"{score['mean']:.3f} ± {score['seed_std']:.3f}"
