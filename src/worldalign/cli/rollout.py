"""``worldalign rollout``: roll a trained world model out from real episode starts and score it.

Each chosen episode (by default the held-out episodes of training) gives its first ``--context``
frames, encoded by the autoencoder, and its recorded actions, normalised with the statistics the
world model was trained with (``WM_RUN/action_normalizer.json``); the world model then generates
``--horizon`` frames under a context policy (full history, fixed window, or Sliding Window
Re-encoding), ``--batch-size`` episodes per rollout call. Written to ``--out``: one mp4 per episode
(real row over generated row, one column per view), a still of it (each view's real and generated
frames at 7 horizons) and ``metrics.json`` with the PSNR, SSIM and
(frames of 31 px or more) LPIPS against the recorded frames at every horizon (averaged over
episodes and views), the per-frame latency and the peak context length. The rollouts and scores
are ``worldalign.eval.world_model.evaluate_world_model``'s; ``register`` adds the verb to the
top-level parser.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from worldalign.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.data.stats import Normalizer
    from worldalign.models.text.instruction_encoder import InstructionEncoder
    from worldalign.models.world_model import WorldModel

METRICS_FILE = "metrics.json"
TABLE_HORIZONS = (1, 2, 4, 8, 16, 24, 32, 48)
COLUMNS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "lpips": "LPIPS"}
POLICIES = {"full-history": "full_history", "fixed-window": "fixed_window", "swr": "sliding_window_reencode"}

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
episodes and views), per-frame latency and the peak context length. Policies: full-history (every
frame so far, up to the model's maximum context), fixed-window (the last --window frames, default
2) and swr (Sliding Window Re-encoding: at most --window frames, default 6, restarted from
re-encoded pixels).
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
    parser.add_argument("--policy", choices=tuple(POLICIES), default="swr", help="context policy (default: swr)")
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


def _episodes(dataset: LeRobotDataset, args: argparse.Namespace) -> list[int]:
    """The episodes to roll out, each checked to hold ``--context`` + ``--horizon`` frames."""
    from worldalign.cli.rewards import parse_indices
    from worldalign.cli.world_model import _split

    chosen = parse_indices(args.episodes)
    if chosen is None:
        if args.max_episodes < 1:
            raise ConfigError(f"--max-episodes {args.max_episodes}: expected >= 1")
        chosen = _split(dataset, args.held_out)[1][: args.max_episodes]
        if not chosen:
            raise ConfigError(
                f"--held-out {args.held_out} holds out no episode of {dataset.root}: choose them with --episodes"
            )
    if not chosen:
        raise ConfigError(f"--episodes {args.episodes!r} names no episode")
    needed = args.context + args.horizon
    for index in chosen:
        if not 0 <= index < dataset.num_episodes:
            raise ConfigError(f"episode {index} does not exist: {dataset.root} has {dataset.num_episodes} episodes")
        length = int(dataset.episode_lengths[index])
        if length < needed:
            raise DatasetError(
                f"episode {index} of {dataset.root} has {length} frames; --context {args.context} + --horizon "
                f"{args.horizon} needs {needed}: choose longer episodes or a shorter horizon"
            )
    return chosen


@dataclass
class WorldModelRun:
    """A trained world model loaded from its run folder, with what rolling it out needs."""

    model_dir: Path
    model: WorldModel
    normalizer: Normalizer | None
    instruction_encoder: InstructionEncoder | None


def load_world_model_run(path: Path, device: torch.device) -> WorldModelRun:
    """The world model of ``--world-model`` (a run folder or its ``model/``), its action
    statistics (``action_normalizer.json``, action-conditioned models) and instruction encoder
    (cached in ``instruction_embeddings.safetensors``, instruction-conditioned models)."""
    from worldalign.cli.world_model import (
        INSTRUCTION_CACHE_FILE,
        model_action_normalizer,
        model_folder,
        run_folder_of,
    )
    from worldalign.models.checkpoint import load_model
    from worldalign.models.text.instruction_encoder import InstructionEncoder
    from worldalign.models.world_model import WorldModel

    model_dir = model_folder(path, "--world-model", "train world-model")
    run_dir = run_folder_of(model_dir)
    model = load_model(WorldModel, model_dir, device=device).eval()
    normalizer = model_action_normalizer(model_dir) if model.config.action_dim > 0 else None
    instructions = InstructionEncoder(run_dir / INSTRUCTION_CACHE_FILE) if model.config.instruction_dim > 0 else None
    return WorldModelRun(model_dir, model, normalizer, instructions)


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
    import torch

    from worldalign.cli.world_model import autoencoder_folder, check_image_size, dataset_views, to_uint8_video
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.eval.world_model import evaluate_world_model
    from worldalign.metrics.lpips import MIN_SIDE
    from worldalign.models.autoencoder import Autoencoder
    from worldalign.models.checkpoint import load_model
    from worldalign.sampling.context_policies import context_policy
    from worldalign.utils.atomic import atomic_write_json
    from worldalign.viz.video_grid import (
        compose_filmstrip,
        compose_grid,
        filmstrip_frames,
        viewing_scale,
        write_image,
        write_video,
    )

    if min(args.context, args.horizon, args.steps, args.batch_size) < 1:
        raise ConfigError(
            f"--context {args.context}, --horizon {args.horizon}, --steps {args.steps}, --batch-size "
            f"{args.batch_size}: expected each >= 1"
        )
    dataset = LeRobotDataset(args.dataset)
    views = dataset_views(dataset, args.views)
    episodes = _episodes(dataset, args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    run = load_world_model_run(args.world_model, device)
    autoencoder_dir = autoencoder_folder(args.autoencoder)
    autoencoder = load_model(Autoencoder, autoencoder_dir, device=device).eval()
    check_image_size(dataset, views, autoencoder.config.image_size, f"the autoencoder {autoencoder_dir}")
    if run.model.config.num_views != len(views):
        raise ConfigError(
            f"the world model {run.model_dir} was trained on {run.model.config.num_views} view(s); --views gives "
            f"{len(views)} ({', '.join(views)})"
        )
    policy = context_policy(POLICIES[args.policy], frames=args.window)
    videos: list[str] = []

    def write_videos(key: str, seed: int, indices: list[int], generated: Tensor, target: Tensor) -> None:
        scale = viewing_scale(target.shape[-1])
        for row, index in enumerate(indices):
            real, fake = (to_uint8_video(frames[row]) for frames in (target, generated))  # (V, T, H, W, 3)
            title = f"episode {index} ({args.policy})"
            grid = compose_grid(
                [real, fake], column_labels=list(views), row_labels=["real", "generated"], title=title, scale=scale
            )
            videos.append(str(write_video(grid, args.out / f"episode_{index}.mp4", fps=dataset.fps)))
            strip = compose_filmstrip(
                [video for view in range(len(views)) for video in (real[view], fake[view])],
                frames=filmstrip_frames(real.shape[1]),
                row_labels=[f"{name} {kind}" for name in views for kind in ("real", "gen.")],
                title=title,
                scale=scale,
            )
            write_image(strip, args.out / f"episode_{index}.png")

    # LPIPS's AlexNet needs frames of at least MIN_SIDE pixels; smaller frames get PSNR and SSIM only.
    scored = ("psnr", "ssim", "lpips") if autoencoder.config.image_size >= MIN_SIDE else ("psnr", "ssim")
    report = evaluate_world_model(
        run.model,
        autoencoder,
        dataset,
        episodes,
        views=views,
        policies={args.policy: policy},
        normalizer=run.normalizer,
        instruction_encoder=run.instruction_encoder,
        context=args.context,
        horizon=args.horizon,
        seeds=(args.seed,),
        sampling_steps=args.steps,
        guidance_scale=args.guidance_scale,
        action_guidance_scale=args.action_guidance_scale,
        batch_size=args.batch_size,
        metrics=scored,
        action_gap=False,
        on_rollout=write_videos,
    )
    result = report.policies[args.policy]
    metrics = {
        "world_model": str(run.model_dir),
        "autoencoder": str(autoencoder_dir),
        "dataset": str(args.dataset),
        "episodes": episodes,
        "views": list(views),
        "policy": result.policy,
        "window": result.window,
        "context": args.context,
        "horizon": args.horizon,
        "sampling_steps": args.steps,
        "guidance_scale": args.guidance_scale,
        "action_guidance_scale": args.action_guidance_scale,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "device": str(device),
        **{name: result.curves.mean[name] for name in scored},
        "frame_latency_s": result.frame_latency_s,
        "mean_frame_latency_s": result.mean_frame_latency_s,
        "peak_context_frames": result.peak_context_frames,
        "peak_sequence_tokens": result.peak_sequence_tokens,
        "videos": videos,
        "per_episode": result.curves.per_episode,
    }
    atomic_write_json(args.out / METRICS_FILE, metrics)
    _print_metrics(metrics, f"{args.policy} rollouts of {len(episodes)} episode(s) of {args.dataset}")
    print(f"videos and {METRICS_FILE}: {args.out}")
    return 0
