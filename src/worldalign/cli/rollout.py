"""``worldalign rollout``: roll a trained world model out from real episode starts and score it.

Parses the options into a ``RolloutSetup``, runs ``worldalign.stages.rollout`` (videos, stills and
``metrics.json`` in --out) and prints the per-horizon table. ``register`` adds the verb to the
top-level parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from worldalign.cli.parsing import parse_indices
from worldalign.sampling.context_policies import SHORT_POLICY_NAMES
from worldalign.utils.text import split_list

TABLE_HORIZONS = (1, 2, 4, 8, 16, 24, 32, 48)
COLUMNS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "lpips": "LPIPS"}

ROLLOUT_EPILOG = """\
examples:
  worldalign rollout --world-model runs/wm --autoencoder runs/ae --dataset data/mt10 --out runs/rollout-swr
  worldalign rollout --world-model runs/wm --autoencoder runs/ae --dataset data/mt10 --out runs/rollout-full \\
      --policy full-history --horizon 32 --episodes 9,19

From each episode's first --context frames (encoded) the world model generates --horizon frames
driven by the episode's recorded actions (normalised with WM_RUN/action_normalizer.json). OUT
gets episode_N.mp4 (real row over generated row, one column per view), episode_N.png (a still:
each view's real and generated frames at 7 horizons from t+1 to t+HORIZON) and metrics.json: PSNR, SSIM
and LPIPS (frames of 31 px or more) against the recorded frames at every horizon (mean over
episodes and views), per-frame latency, the peak context length and the baselines (copy last frame,
mean frame, autoencoder ceiling). Policies: full-history (every
frame so far, up to the model's maximum context), fixed-window (the last --window frames, default
2) and swr (Sliding Window Re-encoding: at most --window frames, default 6, restarted from
re-encoded pixels).

rollout looks at one model under one policy; `worldalign eval` compares several models under
several policies on the same starts, with rewards, seeds and held-out tasks, in one eval.json.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``rollout`` to the top-level parser."""
    parser = verbs.add_parser(
        "rollout",
        help="roll a world model out from real episode starts; videos and per-horizon PSNR/SSIM",
        description="Roll a trained world model out from the starts of recorded episodes and score it.",
        epilog=ROLLOUT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--world-model", required=True, type=Path, help="world model run folder (with action_normalizer.json)"
    )
    parser.add_argument("--autoencoder", required=True, type=Path, help="autoencoder run folder, or its model/ folder")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3 layout)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (videos and metrics.json)")
    episodes = parser.add_mutually_exclusive_group()
    episodes.add_argument("--episodes", help="comma-separated episode indices (default: the held-out episodes)")
    episodes.add_argument(
        "--held-out",
        type=float,
        default=0.1,
        help="fraction of each task's episodes held out in training, rolled out (default: 0.1)",
    )
    parser.add_argument(
        "--max-episodes", type=int, default=4, help="most held-out episodes rolled out (default: 4; not --episodes)"
    )
    parser.add_argument("--views", help="comma-separated camera views (default: all of the dataset's)")
    parser.add_argument("--horizon", type=int, default=48, help="frames generated per episode (default: 48)")
    parser.add_argument("--context", type=int, default=2, help="real start frames given as context (default: 2)")
    parser.add_argument("--policy", choices=tuple(SHORT_POLICY_NAMES), default="swr", help="context policy (default: swr)")
    parser.add_argument(
        "--window",
        type=int,
        help="context frames of fixed-window (default 2) and swr (default 6); a cap for full-history",
    )
    parser.add_argument("--steps", type=int, default=10, help="Euler sampling steps per chunk (default: 10)")
    parser.add_argument(
        "--guidance-scale",
        type=float,
        default=1.0,
        help="classifier-free guidance scale on the actions and instruction (default: 1, none)",
    )
    parser.add_argument(
        "--action-guidance-scale",
        type=float,
        default=1.0,
        help="guidance scale on the actions alone: above 1 the arm follows its actions more closely; 2-3 on the "
        "shipped model (docs/benchmarks.md), at 1.6-1.7x the time per frame (default: 1, none)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the sampling noise (default: 0)")
    parser.add_argument(
        "--batch-size", type=int, default=8, help="episodes rolled out together in one batch (default: 8)"
    )
    parser.set_defaults(handler=run_rollout)


def _table_horizons(horizon: int) -> list[int]:
    return [h for h in TABLE_HORIZONS if h <= horizon]


def _print_metrics(metrics: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    scored = [name for name in ("psnr", "ssim", "lpips") if name in metrics]
    for column in ("horizon", *(COLUMNS[name] for name in scored), "latency (ms/frame)"):
        table.add_column(column, justify="right", no_wrap=True)
    for h in _table_horizons(metrics["horizon"]):
        values = [f"{metrics[name][h - 1]:.{2 if name == 'psnr' else 3}f}" for name in scored]
        table.add_row(str(h), *values, f"{metrics['frame_latency_s'][h - 1] * 1000:.1f}")
    Console().print(table)
    print(
        f"mean latency {metrics['mean_frame_latency_s'] * 1000:.1f} ms/frame, peak context "
        f"{metrics['peak_context_frames']} frames ({metrics['peak_sequence_tokens']} tokens), "
        f"policy {metrics['policy']}"
    )


def run_rollout(args: argparse.Namespace) -> int:
    from worldalign.stages.rollout import METRICS_FILE, RolloutSetup, roll_out_and_score

    setup = RolloutSetup(
        world_model=args.world_model,
        autoencoder=args.autoencoder,
        dataset=args.dataset,
        out=args.out,
        episodes=parse_indices(args.episodes),
        held_out=args.held_out,
        max_episodes=args.max_episodes,
        views=None if args.views is None else split_list(args.views),
        horizon=args.horizon,
        context=args.context,
        policy=args.policy,
        window=args.window,
        sampling_steps=args.steps,
        guidance_scale=args.guidance_scale,
        action_guidance_scale=args.action_guidance_scale,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    metrics = roll_out_and_score(setup)
    _print_metrics(metrics, f"{args.policy} rollouts of {len(metrics['episodes'])} episode(s) of {args.dataset}")
    print(f"videos and {METRICS_FILE}: {args.out}")
    return 0
