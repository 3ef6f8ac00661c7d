"""``worldalign rollout``: roll a trained world model out from real episode starts and score it.

Each chosen episode (by default the held-out episodes of training) gives its first ``--context``
frames, encoded by the autoencoder, and its recorded actions, normalised with the statistics the
world model was trained with (``WM_RUN/action_normalizer.json``); the world model then generates
``--horizon`` frames under a context policy (full history, fixed window, or Sliding Window
Re-encoding). Written to ``--out``: one mp4 per episode (real row over generated row, one column
per view) and ``metrics.json`` with the PSNR and SSIM against the recorded frames at every
horizon (averaged over episodes and views), the per-frame latency and the peak context length.
``register`` adds the verb to the top-level parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from worldalign.errors import ConfigError, DatasetError

if TYPE_CHECKING:
    from torch import Tensor

    from worldalign.data.lerobot_reader import LeRobotDataset

METRICS_FILE = "metrics.json"
TABLE_HORIZONS = (1, 2, 4, 8, 16, 24, 32, 48)
POLICIES = {"full-history": "full_history", "fixed-window": "fixed_window", "swr": "sliding_window_reencode"}

ROLLOUT_EPILOG = """\
examples:
  worldalign rollout --world-model runs/wm --autoencoder runs/ae --dataset data/mt10 --out runs/rollout-swr
  worldalign rollout --world-model runs/wm --autoencoder runs/ae --dataset data/mt10 --out runs/rollout-full \\
      --policy full-history --horizon 32 --episodes 9,19

From each episode's first --context frames (encoded) the world model generates --horizon frames
driven by the episode's recorded actions (normalised with WM_RUN/action_normalizer.json). OUT
gets episode_N.mp4 (real row over generated row, one column per view) and metrics.json: PSNR and
SSIM against the recorded frames at every horizon (mean over episodes and views), per-frame
latency and the peak context length. Policies: full-history (every frame so far, up to the
model's maximum context), fixed-window (the last --window frames, default 2) and swr (Sliding
Window Re-encoding: at most --window frames, default 6, restarted from re-encoded pixels).
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
    parser.add_argument("--seed", type=int, default=0, help="seeds the sampling noise (default: 0)")
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


def _world_model_run(path: Path) -> tuple[Path, Path]:
    """``(run folder, model folder)`` of ``--world-model`` given as either."""
    from worldalign.cli.world_model import model_folder

    model_dir = model_folder(path, "--world-model", "train world-model")
    return model_dir.parent, model_dir


def _table_horizons(horizon: int) -> list[int]:
    return [h for h in TABLE_HORIZONS if h <= horizon]


def _print_metrics(metrics: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    for column in ("horizon", "PSNR (dB)", "SSIM", "latency (ms/frame)"):
        table.add_column(column, justify="right", no_wrap=True)
    for h in _table_horizons(metrics["horizon"]):
        table.add_row(
            str(h),
            f"{metrics['psnr'][h - 1]:.2f}",
            f"{metrics['ssim'][h - 1]:.3f}",
            f"{metrics['frame_latency_s'][h - 1] * 1000:.1f}",
        )
    Console().print(table)
    print(
        f"mean latency {metrics['mean_frame_latency_s'] * 1000:.1f} ms/frame, peak context "
        f"{metrics['peak_context_frames']} frames ({metrics['peak_sequence_tokens']} tokens), "
        f"policy {metrics['policy']}"
    )


def run_rollout(args: argparse.Namespace) -> int:
    import torch

    from worldalign.cli.world_model import (
        INSTRUCTION_CACHE_FILE,
        NORMALIZER_FILE,
        autoencoder_folder,
        check_image_size,
        dataset_views,
        to_uint8_video,
        to_unit_range,
    )
    from worldalign.data import lerobot_format as fmt
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.data.stats import Normalizer
    from worldalign.metrics import psnr, ssim
    from worldalign.models.autoencoder import Autoencoder
    from worldalign.models.checkpoint import load_model
    from worldalign.models.text.instruction_encoder import InstructionEncoder
    from worldalign.models.world_model import WorldModel
    from worldalign.sampling.context_policies import context_policy
    from worldalign.sampling.rollout import rollout
    from worldalign.sampling.samplers import EulerODESampler
    from worldalign.utils.atomic import atomic_write_json
    from worldalign.viz.video_grid import compose_grid, viewing_scale, write_video

    if args.context < 1 or args.horizon < 1 or args.steps < 1:
        raise ConfigError(
            f"--context {args.context}, --horizon {args.horizon}, --steps {args.steps}: expected each >= 1"
        )
    dataset = LeRobotDataset(args.dataset)
    views = dataset_views(dataset, args.views)
    episodes = _episodes(dataset, args)
    run_dir, model_dir = _world_model_run(args.world_model)
    if not (run_dir / NORMALIZER_FILE).is_file():
        raise ConfigError(
            f"{run_dir / NORMALIZER_FILE} not found: the world model's action statistics are written there by "
            "`worldalign train world-model`"
        )
    normalizer = Normalizer.from_file(run_dir / NORMALIZER_FILE, features=(fmt.ACTION,))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    autoencoder_dir = autoencoder_folder(args.autoencoder)
    autoencoder = load_model(Autoencoder, autoencoder_dir, device=device).eval()
    model = load_model(WorldModel, model_dir, device=device).eval()
    check_image_size(dataset, views, autoencoder.config.image_size, f"the autoencoder {autoencoder_dir}")
    if model.config.num_views != len(views):
        raise ConfigError(
            f"the world model {model_dir} was trained on {model.config.num_views} view(s); --views gives "
            f"{len(views)} ({', '.join(views)})"
        )
    instructions = InstructionEncoder(run_dir / INSTRUCTION_CACHE_FILE) if model.config.instruction_dim > 0 else None
    policy = context_policy(POLICIES[args.policy], frames=args.window)
    sampler = EulerODESampler(steps=args.steps)
    generator = torch.Generator().manual_seed(args.seed)
    end = args.context + args.horizon
    scores: dict[str, list[Tensor]] = {"psnr": [], "ssim": [], "latency": []}
    per_episode: dict[str, dict[str, list[float]]] = {}
    peak_context, peak_tokens, videos = 0, 0, []
    for index in episodes:
        episode = dataset.episode(index, views)
        real = to_unit_range(episode.frames[:, :end].transpose(0, 1, 4, 2, 3))[None].to(device)  # (1, V, T, 3, H, W)
        actions = None
        if model.config.action_dim > 0:
            # actions[t] moves frame t to t + 1: the start's and all generated frames' but the last.
            actions = torch.from_numpy(normalizer.normalize(fmt.ACTION, episode.actions[: end - 1]))[None].to(device)
        instruction = None if instructions is None else instructions([episode.instruction]).to(device)
        result = rollout(
            model,
            autoencoder,
            autoencoder.encode(real[:, :, : args.context]),
            args.horizon,
            policy,
            sampler=sampler,
            actions=actions,
            instruction=instruction,
            generator=generator,
        )
        target = real[:, :, args.context :]
        episode_psnr = psnr(result.frames, target, max_db=100.0)[0].mean(0).cpu()  # (T,), mean over views
        episode_ssim = ssim(result.frames, target)[0].mean(0).cpu()
        scores["psnr"].append(episode_psnr)
        scores["ssim"].append(episode_ssim)
        scores["latency"].append(result.frame_latency_s)
        per_episode[str(index)] = {"psnr": episode_psnr.tolist(), "ssim": episode_ssim.tolist()}
        peak_context = max(peak_context, result.peak_context_frames)
        peak_tokens = max(peak_tokens, result.peak_sequence_tokens)
        rows = [to_uint8_video(frames[0]) for frames in (target, result.frames)]  # (V, T, H, W, 3)
        grid = compose_grid(
            rows,
            column_labels=list(views),
            row_labels=["real", "generated"],
            title=f"episode {index} ({args.policy})",
            scale=viewing_scale(real.shape[-1]),
        )
        videos.append(str(write_video(grid, args.out / f"episode_{index}.mp4", fps=dataset.fps)))
    latency = torch.stack(scores["latency"]).mean(0)
    metrics = {
        "world_model": str(model_dir),
        "autoencoder": str(autoencoder_dir),
        "dataset": str(args.dataset),
        "episodes": episodes,
        "views": list(views),
        "policy": policy.name,
        "window": policy.resolved(model.config.max_context_frames).limit,
        "context": args.context,
        "horizon": args.horizon,
        "sampling_steps": args.steps,
        "seed": args.seed,
        "device": str(device),
        "psnr": torch.stack(scores["psnr"]).mean(0).tolist(),
        "ssim": torch.stack(scores["ssim"]).mean(0).tolist(),
        "frame_latency_s": latency.tolist(),
        "mean_frame_latency_s": float(latency.mean()),
        "peak_context_frames": peak_context,
        "peak_sequence_tokens": peak_tokens,
        "videos": videos,
        "per_episode": per_episode,
    }
    atomic_write_json(args.out / METRICS_FILE, metrics)
    _print_metrics(metrics, f"{args.policy} rollouts of {len(episodes)} episode(s) of {args.dataset}")
    print(f"videos and {METRICS_FILE}: {args.out}")
    return 0
