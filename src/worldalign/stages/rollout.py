"""The rollout stage: roll a trained world model out from the starts of recorded episodes, write
what a person looks at and score it against the recorded frames.

Each chosen episode gives its first ``context`` frames, encoded by the autoencoder, and its
recorded actions, normalised with the statistics the world model was trained with; the world
model generates ``horizon`` frames under a context policy (full history, fixed window or Sliding
Window Re-encoding). Written to ``out``: one mp4 per episode (real row over generated row, one
column per view), a still of it (each view's real and generated frames at 7 horizons) and
``metrics.json`` with PSNR, SSIM and (frames of 31 px or more) LPIPS at every horizon, the
per-frame latency, the peak context length and the baselines (copy last frame, mean frame,
autoencoder ceiling). The scores are
``eval.world_model.evaluate_world_model``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from worldalign.data.clips import split_episodes
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_uint8_video
from worldalign.data.selection import check_image_size, select_views
from worldalign.errors import ConfigError, DatasetError
from worldalign.eval.world_model import evaluate_world_model
from worldalign.metrics.lpips import MIN_SIDE
from worldalign.runs.loading import autoencoder_folder, load_autoencoder, load_world_model_run
from worldalign.sampling.context_policies import context_policy_by_short_name
from worldalign.utils.atomic import atomic_write_json
from worldalign.viz.video_grid import (
    compose_filmstrip,
    compose_grid,
    filmstrip_frames,
    viewing_scale,
    write_image,
    write_video,
)

METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class RolloutSetup:
    """Which model is rolled out, from which episodes, how, and where the results go."""

    world_model: Path
    autoencoder: Path
    dataset: Path
    out: Path
    episodes: Sequence[int] | None = None
    """Episode indices (default: the first ``max_episodes`` held-out episodes)."""
    held_out: float = 0.1
    """Held-out fraction of each task's episodes in training (the default episodes)."""
    max_episodes: int = 4
    """Most held-out episodes rolled out when ``episodes`` is None."""
    views: Sequence[str] | None = None
    """Camera views (default: all of the dataset's)."""
    horizon: int = 48
    context: int = 2
    policy: str = "swr"
    """full-history, fixed-window or swr (``sampling.context_policies``)."""
    window: int | None = None
    """Context frames of fixed-window (default 2) and swr (default 6); a cap for full-history."""
    sampling_steps: int = 10
    guidance_scale: float = 1.0
    action_guidance_scale: float = 1.0
    seed: int = 0
    batch_size: int = 8


def roll_out_and_score(setup: RolloutSetup) -> dict[str, Any]:
    """Roll out, write the videos, stills and ``metrics.json``; the metrics written."""
    if min(setup.context, setup.horizon, setup.sampling_steps, setup.batch_size) < 1:
        raise ConfigError(
            f"--context {setup.context}, --horizon {setup.horizon}, --steps {setup.sampling_steps}, --batch-size "
            f"{setup.batch_size}: expected each >= 1"
        )
    policy = context_policy_by_short_name(setup.policy, frames=setup.window)
    dataset = LeRobotDataset(setup.dataset)
    views = select_views(dataset, setup.views)
    episodes = _episodes(dataset, setup)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    run = load_world_model_run(setup.world_model, device)
    autoencoder_dir = autoencoder_folder(setup.autoencoder)
    autoencoder = load_autoencoder(autoencoder_dir, device)
    check_image_size(dataset, views, autoencoder.config.image_size, f"the autoencoder {autoencoder_dir}")
    if run.model.config.num_views != len(views):
        raise ConfigError(
            f"the world model {run.model_dir} was trained on {run.model.config.num_views} view(s); --views gives "
            f"{len(views)} ({', '.join(views)})"
        )
    videos: list[str] = []

    def write_videos(key: str, seed: int, indices: list[int], generated: Tensor, target: Tensor) -> None:
        for row, index in enumerate(indices):
            real, fake = (to_uint8_video(frames[row]) for frames in (target, generated))  # (V, T, H, W, 3)
            videos.append(str(_write_episode(real, fake, views, setup, index, dataset.fps)))

    # LPIPS's AlexNet needs frames of at least MIN_SIDE pixels; smaller frames get PSNR and SSIM only.
    scored = ("psnr", "ssim", "lpips") if autoencoder.config.image_size >= MIN_SIDE else ("psnr", "ssim")
    report = evaluate_world_model(
        run.model,
        autoencoder,
        dataset,
        episodes,
        views=views,
        policies={setup.policy: policy},
        normalizer=run.normalizer,
        instruction_encoder=run.instruction_encoder,
        context=setup.context,
        horizon=setup.horizon,
        seeds=(setup.seed,),
        sampling_steps=setup.sampling_steps,
        guidance_scale=setup.guidance_scale,
        action_guidance_scale=setup.action_guidance_scale,
        batch_size=setup.batch_size,
        metrics=scored,
        action_gap=False,
        on_rollout=write_videos,
    )
    result = report.policies[setup.policy]
    metrics = {
        "world_model": str(run.model_dir),
        "autoencoder": str(autoencoder_dir),
        "dataset": str(setup.dataset),
        "episodes": episodes,
        "views": list(views),
        "policy": result.policy,
        "window": result.window,
        "context": setup.context,
        "horizon": setup.horizon,
        "sampling_steps": setup.sampling_steps,
        "guidance_scale": setup.guidance_scale,
        "action_guidance_scale": setup.action_guidance_scale,
        "seed": setup.seed,
        "batch_size": setup.batch_size,
        "device": str(device),
        **{name: result.curves.mean[name] for name in scored},
        "frame_latency_s": result.frame_latency_s,
        "mean_frame_latency_s": result.mean_frame_latency_s,
        "peak_context_frames": result.peak_context_frames,
        "peak_sequence_tokens": result.peak_sequence_tokens,
        "videos": videos,
        "per_episode": result.curves.per_episode,
        # The same episodes and views scored without the model: what the curves are measured against.
        "baselines": {
            **{name: curves.mean for name, curves in report.baselines.items()},
            "autoencoder_ceiling": report.autoencoder_ceiling.mean,
        },
    }
    atomic_write_json(setup.out / METRICS_FILE, metrics)
    return metrics


def _write_episode(real: Any, fake: Any, views: Sequence[str], setup: RolloutSetup, index: int, fps: int) -> Path:
    """``episode_N.mp4`` (real row over generated row) and its still ``episode_N.png``."""
    scale = viewing_scale(real.shape[-2])
    title = f"episode {index} ({setup.policy})"
    grid = compose_grid(
        [real, fake], column_labels=list(views), row_labels=["real", "generated"], title=title, scale=scale
    )
    strip = compose_filmstrip(
        [video for view in range(len(views)) for video in (real[view], fake[view])],
        frames=filmstrip_frames(real.shape[1]),
        row_labels=[f"{name} {kind}" for name in views for kind in ("real", "gen.")],
        title=title,
        scale=scale,
    )
    write_image(strip, setup.out / f"episode_{index}.png")
    return write_video(grid, setup.out / f"episode_{index}.mp4", fps=fps)


def _episodes(dataset: LeRobotDataset, setup: RolloutSetup) -> list[int]:
    """The episodes to roll out, each checked to hold ``context`` + ``horizon`` frames."""
    if setup.episodes is None:
        if setup.max_episodes < 1:
            raise ConfigError(f"--max-episodes {setup.max_episodes}: expected >= 1")
        chosen = split_episodes(dataset.task_names, held_out_fraction=setup.held_out)[1][: setup.max_episodes]
        if not chosen:
            raise ConfigError(
                f"--held-out {setup.held_out} holds out no episode of {dataset.root}: choose them with --episodes"
            )
    else:
        chosen = list(setup.episodes)
    if not chosen:
        raise ConfigError("--episodes names no episode")
    needed = setup.context + setup.horizon
    for index in chosen:
        if not 0 <= index < dataset.num_episodes:
            raise ConfigError(f"episode {index} does not exist: {dataset.root} has {dataset.num_episodes} episodes")
        length = int(dataset.episode_lengths[index])
        if length < needed:
            raise DatasetError(
                f"episode {index} of {dataset.root} has {length} frames; --context {setup.context} + --horizon "
                f"{setup.horizon} needs {needed}: choose longer episodes or a shorter horizon"
            )
    return chosen
