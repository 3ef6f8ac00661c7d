"""``worldalign eval``: one or several world models scored the same way, in one ``eval.json``.

Parses the options into an ``EvalSetup``, runs ``worldalign.stages.evaluate`` and prints a table
per split. ``register`` adds the verb to the top-level parser.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from worldalign.cli.parsing import parse_weights
from worldalign.errors import ConfigError
from worldalign.stages.evaluate import DEFAULT_REWARDS, EVAL_FILE, EvalSetup, evaluate_world_models
from worldalign.utils.text import split_list

EVAL_EPILOG = f"""\
examples:
  worldalign eval --world-model checkpoints/world-model-cpu --autoencoder checkpoints/autoencoder-cpu \\
      --dataset data/mt10 --out runs/eval
  worldalign eval --world-model pretrained=checkpoints/world-model-cpu --world-model aligned=runs/align-nft \\
      --autoencoder checkpoints/autoencoder-cpu --dataset data/mt10 --held-out-tasks data/held-out \\
      --policies swr:4,swr:8,full-history --horizon 48 --seeds 3 --out runs/eval-compare
  worldalign report runs/eval-compare --out runs/report

Every model is rolled out from the same real starts with the same sampling noise: the held-out
episodes of DATASET's tasks (--held-out, as the models were trained) and, with --held-out-tasks,
episodes of tasks they never saw. Per model and split, OUT/{EVAL_FILE} gets PSNR, SSIM and LPIPS per
horizon and per view under every context policy (with the copy-last-frame and mean-frame baselines,
the autoencoder ceiling, the action gap, ms per frame and peak tokens) and the --rewards of the
rollouts under the first policy, per task and overall with their spread over sampling seeds. The
default rewards are EVA's executability of the IDM-decoded actions, the simulator success of
executing them from each episode's recorded start and RoboAlign-R1's six dimensions scored by the
shipped teacher judge (judge_teacher; judge=1 scores with the distilled student).
OUT/videos/ gets one video per episode (real, then each model under each policy). Each measured
part is kept in OUT/parts/ under a key of its settings and the weights' sha256: running the same
command again reuses it, so an interrupted evaluation resumes.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the top-level parser."""
    parser = verbs.add_parser(
        "eval",
        help="score one or several world models on the same starts: quality per horizon, rewards, videos",
        description="Score one or several world models the same way, into one eval.json a report reads.",
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--world-model",
        dest="world_models",
        action="append",
        required=True,
        metavar="[LABEL=]PATH",
        help="a world model (run, model or exported folder); repeat to compare (label: default the folder name)",
    )
    parser.add_argument("--autoencoder", required=True, type=Path, help="autoencoder run folder, or its model/ folder")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset of the training tasks (held-out episodes)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (eval.json, videos/, parts/)")
    parser.add_argument("--held-out-tasks", type=Path, help="dataset of tasks none of the models trained on")
    parser.add_argument(
        "--held-out", type=float, default=0.1, help="held-out fraction of each task's episodes (default: 0.1)"
    )
    parser.add_argument("--episodes", type=int, default=8, help="most episodes per split (default: 8)")
    parser.add_argument(
        "--policies",
        default="swr,full-history",
        help="context policies NAME[:FRAMES] of full-history, fixed-window, swr (default: swr,full-history)",
    )
    parser.add_argument("--context", type=int, default=2, help="real start frames (default: 2)")
    parser.add_argument("--horizon", type=int, default=24, help="frames generated per episode (default: 24)")
    parser.add_argument("--seeds", type=int, default=2, help="sampling seeds (default: 2)")
    parser.add_argument("--steps", type=int, default=10, help="Euler sampling steps per chunk (default: 10)")
    parser.add_argument("--batch-size", type=int, default=8, help="episodes rolled out together (default: 8)")
    parser.add_argument(
        "--rewards", default=DEFAULT_REWARDS, help=f"rollout rewards, or 'none' (default: {DEFAULT_REWARDS})"
    )
    parser.add_argument("--idm", type=Path, help="IDM for executability/execution (default: checkpoints/idm-cpu)")
    parser.add_argument("--judge", type=Path, help="student judge of the judge reward (default: the shipped one)")
    parser.add_argument(
        "--teacher", type=Path, help="teacher judge of the judge_teacher reward (default: the shipped one)"
    )
    parser.add_argument("--fidelity-metrics", help="fidelity reward's metric weights, e.g. ssim=1,psnr=1")
    parser.add_argument("--videos", type=int, default=2, help="episodes per split drawn as videos (default: 2)")
    parser.set_defaults(handler=run_eval)


def world_model_labels(values: list[str]) -> list[tuple[str, Path]]:
    """``[LABEL=]PATH`` options as (label, path); the label defaults to the folder's name."""
    labelled = []
    for value in values:
        label, separator, path = value.partition("=")
        if not separator:
            label, path = Path(value).name, value
        if not label or not path:
            raise ConfigError(f"--world-model {value!r}: expected PATH or LABEL=PATH")
        labelled.append((label, Path(path)))
    return labelled


def _setup(args: argparse.Namespace) -> EvalSetup:
    rewards = None if args.rewards.strip().lower() == "none" else args.rewards
    options = {
        "idm": args.idm,
        "judge_checkpoint": args.judge,
        "teacher_checkpoint": args.teacher,
        "metric_weights": parse_weights(args.fidelity_metrics, "--fidelity-metrics"),
    }
    return EvalSetup(
        world_models=world_model_labels(args.world_models),
        autoencoder=args.autoencoder,
        dataset=args.dataset,
        out=args.out,
        held_out_tasks=args.held_out_tasks,
        held_out=args.held_out,
        episodes=args.episodes,
        policies=split_list(args.policies),
        context=args.context,
        horizon=args.horizon,
        seeds=args.seeds,
        sampling_steps=args.steps,
        batch_size=args.batch_size,
        rewards=rewards,
        reward_options={name: value for name, value in options.items() if value is not None},
        videos=args.videos,
    )


def run_eval(args: argparse.Namespace) -> int:
    summary = evaluate_world_models(_setup(args))
    console = Console()
    console.width = max(console.width, 120)  # whole numbers beat an 80-column default in logs
    for split, result in summary["splits"].items():
        console.print(_quality_table(split, result, summary["metrics"], summary["config"]["horizon"]))
        if any("rewards" in parts for parts in result["models"].values()):
            console.print(_rewards_table(split, result))
    print(f"wrote {args.out / EVAL_FILE} and {sum(len(r['videos']) for r in summary['splits'].values())} videos")
    return 0


def _quality_table(split: str, result: dict[str, Any], metrics: list[str], horizon: int) -> Table:
    table = Table(title=f"{split}: {len(result['episodes'])} episodes, t+{horizon}, mean ± sampling-seed std")
    table.add_column("model (policy)")
    for metric in metrics:
        table.add_column(metric.upper(), justify="right")
    table.add_column("ms/frame", justify="right")
    rows: list[tuple[str, dict[str, Any]]] = []
    for label, parts in result["models"].items():
        quality = parts["quality"]
        if not rows:
            rows += [(name, {"curves": curves}) for name, curves in quality["baselines"].items()]
        rows += [(f"{label} ({key})", policy) for key, policy in quality["policies"].items()]
    for name, entry in rows:
        curves = entry["curves"]
        cells = [_mean_std(curves["mean"][metric][-1], curves["std"][metric][-1]) for metric in metrics]
        latency = entry.get("mean_frame_latency_s")
        table.add_row(name, *cells, "" if latency is None else f"{1000 * latency:.0f}")
    return table


def _rewards_table(split: str, result: dict[str, Any]) -> Table:
    first = next(parts["rewards"] for parts in result["models"].values())
    from worldalign.report.inputs import headline_terms  # report reads videos: imported only when printing

    # One row per term (a judge alone has six), one column per model: it fits a terminal.
    terms = headline_terms(first["mean"])  # the other components: eval.json
    table = Table(title=f"{split}: rollout rewards ({first['policy']}), mean ± seed std")
    table.add_column("term", no_wrap=True)
    for label in result["models"]:
        table.add_column(label, justify="right", no_wrap=True)
    rewards = [parts["rewards"] for parts in result["models"].values()]
    for term in terms:
        shown = "  " + term.split("/", 1)[1] if "/" in term else term  # a component under its reward
        table.add_row(shown, *(_mean_std(each["mean"][term], each["seed_std"][term]) for each in rewards))
    return table


def _mean_std(mean: float | None, std: float | None) -> str:
    if mean is None or not math.isfinite(mean):
        return "n/a"
    return f"{mean:.3f}" if not std else f"{mean:.3f}±{std:.3f}"
