"""``worldalign train idm``, ``worldalign idm evaluate``, ``worldalign execute``: the inverse dynamics model (EVA).

``register`` adds the top-level verbs ``idm`` and ``execute`` (IDM-decoded plans run in the
simulator); ``add_train_idm_parser`` adds ``idm`` to the ``train`` group.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from worldalign.cli.parsing import parse_indices
from worldalign.utils.text import split_list

if TYPE_CHECKING:
    from worldalign.configs.idm import IDMTrainingConfig

TRAIN_IDM_EPILOG = """\
examples:
  worldalign data generate --tasks reach-v3,button-press-topdown-v3,drawer-close-v3,window-close-v3 \\
      --episodes-per-task 16 --noise 0.2 --out data/idm-easy
  worldalign train idm --dataset data/idm-easy --out runs/idm
  worldalign train idm --dataset data/idm-easy --out runs/idm-wrist --views wrist --steps 300
  worldalign train idm --dataset data/easy-noise0 data/easy-noise0.5 --out runs/idm-mix
  # + a head decoding the hand's displacement, beside the frozen action IDM (the shipped recipe)
  worldalign train idm --dataset data/easy-noise0 data/easy-noise0.5 --out runs/idm-ee \\
      --init-from runs/idm-mix/model --state-dims 0,1,2 --steps 8000

Several datasets (e.g. the same tasks at several action-noise levels) each fill an equal share
of every batch. Held-out episodes (the last --held-out of each task of each dataset) are never
trained on; the run ends with their MAE per action dimension and gripper sign accuracy vs the
mean-action baseline, printed per dataset and written to OUT/eval.json. The model is
OUT/model; running the same command again resumes from the newest checkpoint in OUT/checkpoints.

With --state-dims (0,1,2: Meta-World's hand xyz in observation.state) the IDM also predicts the
hand's displacement between frames, and the executability reward then scores the smoothness of
that decoded end-effector trajectory instead of the decoded commanded actions (which an IDM
regresses toward the mean where the hand low-passes a noisy policy's jitter). --init-from trains
only that head, with its own encoder, beside a frozen action-only IDM, whose decoded actions (and
so the execution reward) stay exactly the same: measured, training both jointly ranked as well
but executed window-close plans at 0% instead of 100% (docs/benchmarks.md).
"""

EXECUTE_EPILOG = """\
examples:
  worldalign execute data/expert-eval --idm checkpoints/idm-cpu
  worldalign execute data/expert-eval --idm runs/idm/model --episodes 0,1,2 --json execution.json

Each episode's recorded video is decoded into actions with the IDM; the actions are executed
open-loop in Meta-World from the episode's first state. Reported per task: the success rate
of the decoded plan and of replaying the recorded actions.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``idm evaluate`` and ``execute`` to the top-level parser."""
    idm = verbs.add_parser("idm", help="evaluate an inverse dynamics model")
    idm_sub = idm.add_subparsers(dest="idm_verb", metavar="COMMAND", required=True)
    evaluate = idm_sub.add_parser(
        "evaluate",
        help="MAE per action dimension and gripper accuracy on held-out episodes vs the mean-action baseline",
        epilog="example:\n  worldalign idm evaluate checkpoints/idm-cpu --dataset data/idm-easy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("checkpoint", type=Path, help="IDM checkpoint folder (model.safetensors + config.json)")
    evaluate.add_argument("--dataset", required=True, type=Path, help="dataset folder")
    evaluate.add_argument(
        "--held-out", type=float, default=0.2, help="fraction of each task's episodes evaluated (default: 0.2)"
    )
    evaluate.add_argument(
        "--all-episodes", action="store_true", help="evaluate every episode (a dataset not trained on)"
    )
    evaluate.add_argument("--json", type=Path, help="also write the results here")
    evaluate.set_defaults(handler=run_idm_evaluate)

    execute = verbs.add_parser(
        "execute",
        help="decode recorded videos with the IDM and execute the actions in the simulator",
        epilog=EXECUTE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    execute.add_argument("dataset", type=Path, help="dataset folder with sim.snapshot rows (from `data generate`)")
    execute.add_argument("--idm", type=Path, help="IDM checkpoint folder (default: the shipped checkpoints/idm-cpu)")
    execute.add_argument("--episodes", help="comma-separated episode indices (default: all)")
    execute.add_argument("--json", type=Path, help="also write per-task and per-episode results here")
    execute.set_defaults(handler=run_execute)


def add_train_idm_parser(train_subparsers: argparse._SubParsersAction) -> None:
    """Add ``idm`` to the ``worldalign train`` group."""
    from worldalign.configs.idm import IDMTrainingConfig

    defaults = IDMTrainingConfig()
    parser = train_subparsers.add_parser(
        "idm",
        help="train the inverse dynamics model (frames -> actions) on a dataset",
        description="Train the inverse dynamics model (EVA) on a dataset from `worldalign data generate`.",
        epilog=TRAIN_IDM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--dataset", required=True, type=Path, nargs="+", help="dataset folder(s); several share every batch equally"
    )
    parser.add_argument("--out", required=True, type=Path, help="run folder")
    parser.add_argument(
        "--steps", type=int, default=defaults.steps, help=f"optimizer steps (default: {defaults.steps})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help=f"windows per step (default: {defaults.batch_size})"
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=defaults.learning_rate,
        help=f"peak learning rate (default: {defaults.learning_rate})",
    )
    parser.add_argument(
        "--held-out",
        type=float,
        default=defaults.held_out_fraction,
        help=f"fraction of each task's episodes held out (default: {defaults.held_out_fraction})",
    )
    _add_idm_model_arguments(parser.add_argument_group("model", "the IDM's inputs and heads"), defaults)
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"seed (default: {defaults.seed})")
    parser.add_argument("--no-resume", action="store_true", help="start from scratch even if OUT has checkpoints")
    parser.set_defaults(handler=run_train_idm)


def _add_idm_model_arguments(group: argparse._ArgumentGroup, defaults: IDMTrainingConfig) -> None:
    group.add_argument(
        "--views",
        default=",".join(defaults.model.views),
        help=f"comma-separated views (default: {','.join(defaults.model.views)})",
    )
    group.add_argument(
        "--past-frames",
        type=int,
        default=defaults.model.past_frames,
        help=f"frames before t in the window (default: {defaults.model.past_frames})",
    )
    group.add_argument(
        "--future-frames",
        type=int,
        default=defaults.model.future_frames,
        help=f"frames after t in the window (default: {defaults.model.future_frames})",
    )
    group.add_argument(
        "--state-dims",
        default="none",
        help="comma-separated observation.state dimensions whose displacement state[t+1] - state[t] the IDM "
        "also predicts, or 'none' for actions only (default: none; 0,1,2 is the hand's xyz in metres in "
        "Meta-World datasets from `data generate`; on other robots pick the end-effector position "
        "dimensions, not joint angles)",
    )
    group.add_argument(
        "--init-from",
        type=Path,
        help="action-only IDM checkpoint to load and freeze: only the state head trains, so the decoded actions "
        "stay exactly that checkpoint's (train on the datasets it was trained on)",
    )


def parse_state_dims(text: str) -> tuple[int, ...]:
    """``--state-dims``: ``"0,1,2"`` -> ``(0, 1, 2)``; ``"none"`` (or empty) -> ``()``."""
    from worldalign.errors import ConfigError

    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"--state-dims {text!r}: expected comma-separated state indices, e.g. 0,1,2, or 'none'"
        ) from None


def _print_idm_evaluation(evaluation: object, title: str) -> None:
    from worldalign.algos.idm import IDMEvaluation

    assert isinstance(evaluation, IDMEvaluation)
    table = Table(title=title)
    for column in ("action dim", "IDM MAE", "mean-action MAE", "ratio"):
        table.add_column(column, justify="right")
    for index, (mae, base) in enumerate(zip(evaluation.mae, evaluation.baseline_mae, strict=True)):
        table.add_row(str(index), f"{mae:.4f}", f"{base:.4f}", f"{mae / base:.2f}" if base > 0 else "-")
    if evaluation.gripper_accuracy is not None and evaluation.baseline_gripper_accuracy is not None:
        table.add_row(
            "gripper sign acc.", f"{evaluation.gripper_accuracy:.1%}", f"{evaluation.baseline_gripper_accuracy:.1%}", ""
        )
    Console().print(table)
    if evaluation.state_mae:
        state_table = Table(title=escape(f"{title}: state displacement state[t+1] - state[t]"))
        for column in ("state dim", "IDM MAE", "mean-displacement MAE", "ratio"):
            state_table.add_column(column, justify="right")
        rows = zip(evaluation.state_dims, evaluation.state_mae, evaluation.baseline_state_mae, strict=True)
        for dim, mae, base in rows:
            state_table.add_row(str(dim), f"{mae:.5f}", f"{base:.5f}", f"{mae / base:.2f}" if base > 0 else "-")
        Console().print(state_table)
    print(f"{evaluation.windows} held-out windows from episodes {evaluation.episodes}")


def run_train_idm(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from worldalign.algos.idm import train_idm
    from worldalign.configs.idm import IDMTrainingConfig
    from worldalign.models.idm import IDMConfig
    from worldalign.runs.layout import FINAL_MODEL_DIR, IDM_EVAL_FILE

    defaults = IDMTrainingConfig()
    config = replace(
        defaults,
        model=IDMConfig(
            views=split_list(args.views),
            past_frames=args.past_frames,
            future_frames=args.future_frames,
            state_dims=parse_state_dims(args.state_dims),
        ),
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        held_out_fraction=args.held_out,
        init_from=None if args.init_from is None else str(args.init_from),
        seed=args.seed,
    )
    _, evaluations = train_idm(args.dataset, args.out, config, resume=not args.no_resume)
    for dataset, evaluation in zip(args.dataset, evaluations, strict=True):
        _print_idm_evaluation(evaluation, f"IDM on held-out episodes of {dataset}")
    print(f"model: {args.out / FINAL_MODEL_DIR}   results: {args.out / IDM_EVAL_FILE}")
    return 0


def run_idm_evaluate(args: argparse.Namespace) -> int:
    import torch

    from worldalign.algos.idm import evaluate_idm, split_dataset
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.rewards.decode import load_idm
    from worldalign.utils.atomic import atomic_write_json

    model = load_idm(args.checkpoint)
    dataset = LeRobotDataset(args.dataset)
    episodes = list(range(dataset.num_episodes)) if args.all_episodes else split_dataset(dataset, args.held_out)[1]
    # The baseline is the mean action the model was trained around (stored with its weights).
    evaluation = evaluate_idm(model, dataset, episodes, model.action_mean.detach().clone().cpu().to(torch.float32))
    _print_idm_evaluation(evaluation, f"{args.checkpoint} on {args.dataset}")
    if args.json:
        atomic_write_json(
            args.json, {"checkpoint": str(args.checkpoint), "dataset": str(args.dataset), **evaluation.as_json()}
        )
    return 0


def run_execute(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.rewards.decode import load_idm
    from worldalign.rewards.execution import evaluate_decoded_execution, success_by_task
    from worldalign.utils.atomic import atomic_write_json

    results = evaluate_decoded_execution(load_idm(args.idm), LeRobotDataset(args.dataset), parse_indices(args.episodes))
    summary = success_by_task(results)
    table = Table(title=f"IDM-decoded plans executed in Meta-World ({args.dataset})")
    for column in ("task", "episodes", "decoded success", "replayed success", "decoded progress"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task, row in summary.items():
        table.add_row(
            task,
            str(int(row["episodes"])),
            f"{row['decoded_success']:.0%}",
            f"{row['replayed_success']:.0%}",
            f"{row['decoded_progress']:.2f}",
        )
    Console().print(table)
    if args.json:
        atomic_write_json(
            args.json, {"dataset": str(args.dataset), "per_task": summary, "episodes": [asdict(r) for r in results]}
        )
    return 0
