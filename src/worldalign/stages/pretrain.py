"""The pretraining stages: a dataset in, a trained frame autoencoder or world model out.

Turns a dataset folder and a training config into the inputs of ``algos.pretrain``: the held-out
split, the frame and clip samplers (resumable, so calling the stage again continues exactly),
the world model sized for the dataset's views and conditions, the instruction encoder, the
action statistics recorded in the run, and previews (a PNG grid of reconstructions, an mp4 of
predicted futures). The autoencoder stage ends with its reconstruction quality on held-out
episodes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from worldalign.algos.pretrain import AutoencoderPreview, WorldModelPreview, train_autoencoder, train_world_model
from worldalign.algos.training_run import TrainingResult, default_device
from worldalign.configs.pretrain import WORLD_MODEL_CONDITIONS, AutoencoderTrainingConfig, WorldModelTrainingConfig
from worldalign.data.clips import ClipSampler, split_episodes
from worldalign.data.frame_cache import FrameCache
from worldalign.data.frame_sampler import FrameSampler
from worldalign.data.latent_clips import LatentClipSampler
from worldalign.data.latent_shards import LatentShards
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_uint8_video, to_unit_range
from worldalign.data.selection import check_image_size, select_views
from worldalign.data.types import LatentClipBatch
from worldalign.errors import ConfigError
from worldalign.metrics import psnr, ssim
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.autoencoder.latent_cache import ClipLatentEncoder
from worldalign.models.checkpoint import MODEL_FILE, load_model, read_config
from worldalign.models.text.instruction_encoder import EMBEDDING_DIM, InstructionEncoder
from worldalign.models.world_model import FINE_TUNED_INTO, WorldModel
from worldalign.models.world_model.configuration_world_model import WorldModelConfig
from worldalign.runs.layout import PREVIEWS_DIR, model_folder
from worldalign.runs.loading import autoencoder_folder, load_autoencoder
from worldalign.runs.side_files import (
    dataset_action_normalizer,
    instruction_cache_file,
    model_action_normalizer,
    save_action_normalizer,
)
from worldalign.utils.hashing import file_sha256
from worldalign.viz.video_grid import compose_grid, video_suffix, viewing_scale, write_image, write_video

CALIBRATION_FRAMES = 256
PROBE_BATCHES = 4
EVALUATION_FRAMES = 1024
PREVIEW_FRAMES = 8


@dataclass
class AutoencoderOutcome:
    """A trained autoencoder and its reconstruction quality on held-out episodes."""

    training: TrainingResult
    held_out_episodes: list[int]
    evaluated_frames: int
    psnr: float | None
    ssim: float | None


def pretrain_autoencoder(
    config: AutoencoderTrainingConfig,
    dataset: LeRobotDataset,
    out: Path,
    *,
    views: Sequence[str] | None = None,
    held_out: float = 0.1,
    resume: bool = True,
) -> AutoencoderOutcome:
    """Train the frame autoencoder on every view of the training episodes' frames, then measure
    its reconstruction PSNR/SSIM on the held-out episodes (None without held-out episodes)."""
    views = select_views(dataset, views)
    check_image_size(dataset, views, config.model.image_size, "the autoencoder config (image_size)")
    train, evaluation_episodes = split_episodes(dataset.task_names, held_out_fraction=held_out)
    normalizer = dataset_action_normalizer(dataset)
    frames = FrameCache.build(dataset, normalizer=normalizer, views=views, episodes=train).frames
    seed = config.run.seed
    sampler = FrameSampler(frames, batch_size=config.batch_size, seed=seed)
    calibration = np.random.default_rng(seed).choice(len(frames), min(CALIBRATION_FRAMES, len(frames)), False)
    result = train_autoencoder(
        config,
        sampler,
        out,
        preview=autoencoder_preview(out),
        calibration_frames=to_unit_range(frames[np.sort(calibration)], channels_last=False),
        resume=resume,
    )
    outcome = AutoencoderOutcome(result, evaluation_episodes, 0, None, None)
    if not evaluation_episodes:
        return outcome
    model = load_model(Autoencoder, result.model_dir).eval()
    evaluation = FrameCache.build(dataset, normalizer=normalizer, views=views, episodes=evaluation_episodes).frames
    picked = np.unique(np.linspace(0, len(evaluation) - 1, min(EVALUATION_FRAMES, len(evaluation))).astype(int))
    scores: dict[str, list[Tensor]] = {"psnr": [], "ssim": []}
    with torch.no_grad():
        for first in range(0, len(picked), config.batch_size):
            real = to_unit_range(evaluation[picked[first : first + config.batch_size]], channels_last=False)
            reconstruction = model(real)[0].clamp(-1, 1)
            scores["psnr"].append(psnr(reconstruction, real, max_db=100.0))
            scores["ssim"].append(ssim(reconstruction, real))
    outcome.evaluated_frames = len(picked)
    outcome.psnr, outcome.ssim = (float(torch.cat(scores[name]).mean()) for name in ("psnr", "ssim"))
    return outcome


def pretrain_world_model(
    config: WorldModelTrainingConfig,
    dataset: LeRobotDataset | LatentShards,
    autoencoder: Path,
    out: Path,
    *,
    condition: Literal["actions", "instruction", "both"] = "actions",
    views: Sequence[str] | None = None,
    held_out: float = 0.1,
    init_from: Path | None = None,
    resume: bool = True,
) -> TrainingResult:
    """Train the world model on clips of the training episodes, in the latents of the frozen
    ``autoencoder`` (its run or model folder), conditioned on ``condition``.

    ``dataset`` is a dataset folder (its videos decoded once, then encoded as training meets
    each frame) or that dataset's latents encoded once by the same autoencoder
    (``stages.latents.encode_latents``): the same windows for the same seed, without decoding
    videos or running the encoder in the loop (nor importing PyAV), on the training device.

    ``config.model`` is sized here for the dataset's views and actions and the instruction
    embedding; ``init_from`` (a world model's folder) fine-tunes that model instead: its
    architecture and action statistics are kept, the optimizer and schedule start afresh. With
    ``config.model.causal_context`` a full-attention model is fine-tuned into a causal-context
    one: the same weights, its context no longer attending to the future (the way CausVid starts
    its causal student from a bidirectional model, arXiv:2412.07772); with
    ``config.model.action_displacement`` a model gains the displacement conditioning, its
    embedding starting at zero (``FINE_TUNED_INTO``).
    """
    if condition not in WORLD_MODEL_CONDITIONS:
        raise ConfigError(f"condition {condition!r}: choose one of {', '.join(WORLD_MODEL_CONDITIONS)}")
    views = select_views(dataset, views)
    folder = autoencoder_folder(autoencoder)
    frozen = load_autoencoder(folder)
    if isinstance(dataset, LatentShards):
        _check_same_autoencoder(dataset, folder)
    else:
        check_image_size(dataset, views, frozen.config.image_size, f"the autoencoder {folder}")
    actions, instruction = condition in ("actions", "both"), condition in ("instruction", "both")
    sized = dataclasses.replace(
        config.model,
        num_views=len(views),
        action_dim=dataset.action_dim if actions else 0,
        instruction_dim=EMBEDDING_DIM if instruction else 0,
    )
    config = dataclasses.replace(config, model=sized)
    initial_model = None
    if init_from is not None:
        initial_model = model_folder(init_from, "--init-from", "train world-model")
        needed_by = f"{dataset.root} ({len(views)} views, --condition {condition}) and the autoencoder {folder}"
        fitted = _fitting_model(initial_model, config.model, needed_by)
        added = {name: getattr(fitted, name) or getattr(config.model, name) for name in FINE_TUNED_INTO}
        config = dataclasses.replace(config, model=dataclasses.replace(fitted, **added))
    train, held_out_episodes = split_episodes(dataset.task_names, held_out_fraction=held_out)
    _check_episode_length(dataset, train, config)
    if initial_model is not None:
        normalizer = model_action_normalizer(initial_model)
    else:
        is_latent = isinstance(dataset, LatentShards)
        normalizer = dataset.action_normalizer() if is_latent else dataset_action_normalizer(dataset)
    windows = {
        "context_frames": config.model.max_context_frames,
        "future_frames": config.model.future_frames,
        "batch_size": config.batch_size,
        "normalizer": normalizer,
        "seed": config.run.seed,
        "views": views,
        "episodes": train,
        "pad_start": config.model.max_context_frames - 1 if config.pad_episode_starts else 0,
    }
    def sampler_of(episodes: list[int]) -> ClipSampler | LatentClipSampler:
        if isinstance(dataset, LatentShards):
            return LatentClipSampler(dataset, device=default_device(), **(windows | {"episodes": episodes}))
        return ClipSampler(dataset, **(windows | {"episodes": episodes}))

    sampler = sampler_of(train)
    probes = None
    if config.probe_every > 0:
        episodes = {"train": train, "held_out": held_out_episodes}
        probes = {name: _probe_clips(sampler_of(chosen), frozen, config) for name, chosen in episodes.items() if chosen}
    save_action_normalizer(normalizer, out)
    return train_world_model(
        config,
        sampler,
        frozen,
        out,
        instruction_encoder=InstructionEncoder(instruction_cache_file(out)) if instruction else None,
        preview=world_model_preview(out, views, dataset.fps),
        resume=resume,
        initial_weights=initial_model,
        probes=probes,
    )


def _probe_clips(
    sampler: ClipSampler | LatentClipSampler, autoencoder: Autoencoder, config: WorldModelTrainingConfig
) -> list[LatentClipBatch]:
    """``PROBE_BATCHES`` batches of windows drawn with their own seed (the training stream is not
    touched), as latents."""
    rng = np.random.default_rng(config.run.seed + 104729)
    if isinstance(sampler, LatentClipSampler):
        return [sampler.sample(rng) for _ in range(PROBE_BATCHES)]
    encoder = ClipLatentEncoder(autoencoder, cache=False)
    return [encoder.latent_clips(sampler.sample(rng)) for _ in range(PROBE_BATCHES)]  # frames freed batch by batch


def _fitting_model(folder: Path, needed: WorldModelConfig, needed_by: str) -> WorldModelConfig:
    """The stored config of the world model in ``folder``, checked to fit ``needed_by``."""
    stored = read_config(folder, WorldModelConfig, WorldModel.model_type)
    fitted = ("num_views", "action_dim", "instruction_dim", "latent_channels", "latent_size")
    differences = [
        f"{name} {getattr(stored, name)} (needed: {getattr(needed, name)})"
        for name in fitted
        if getattr(stored, name) != getattr(needed, name)
    ]
    if differences:
        raise ConfigError(
            f"--init-from {folder} does not fit {needed_by}: the checkpoint has " + "; ".join(differences)
        )
    return stored


def _check_same_autoencoder(latents: LatentShards, autoencoder: Path) -> None:
    """``ConfigError`` unless ``latents`` were encoded by the autoencoder in ``autoencoder``."""
    digest = file_sha256(autoencoder / MODEL_FILE)
    if digest != latents.autoencoder_sha256:
        encoded_by = latents.index["autoencoder"]["folder"]
        raise ConfigError(
            f"{latents.root} was encoded by the autoencoder {encoded_by} (sha256 {latents.autoencoder_sha256[:12]}...), "
            f"--autoencoder {autoencoder} has sha256 {digest[:12]}...: pass the autoencoder that encoded the latents"
        )


def _check_episode_length(dataset: LeRobotDataset | LatentShards, train: list[int], config: WorldModelTrainingConfig) -> None:
    span = config.model.max_context_frames + config.model.future_frames
    longest = int(dataset.episode_lengths[train].max())
    if longest < span:
        raise ConfigError(
            f"the world model trains on clips of {span} frames ({config.model.max_context_frames} context + "
            f"{config.model.future_frames} future); the longest training episode of {dataset.root} has {longest}: "
            "use longer episodes or a preset with fewer context frames"
        )


def autoencoder_preview(out_dir: Path) -> AutoencoderPreview:
    """A callback writing ``out_dir/previews/step_N.png``: real frames over their reconstructions."""

    def write(step: int, real: Tensor, reconstruction: Tensor) -> None:
        count = min(PREVIEW_FRAMES, real.shape[0])
        rows = [to_uint8_video(frames[:count, None]) for frames in (real, reconstruction)]  # (N, 1, H, W, 3)
        scale = viewing_scale(real.shape[-1])
        grid = compose_grid(
            rows, column_labels=[str(i) for i in range(count)], row_labels=["real", "rec."], scale=scale
        )
        write_image(grid[0], out_dir / PREVIEWS_DIR / f"step_{step}.png")

    return write


def world_model_preview(out_dir: Path, views: Sequence[str], fps: int) -> WorldModelPreview:
    """A callback writing ``out_dir/previews/step_N.mp4`` (``.gif`` without PyAV): a real row over a
    generated row, one column per (clip, view)."""
    suffix = video_suffix()

    def write(step: int, real: Tensor, generated: Tensor) -> None:
        clips = real.shape[0]
        rows = [to_uint8_video(video.flatten(0, 1)) for video in (real, generated)]  # (B * V, T, H, W, 3)
        labels = [f"#{clip} {view}" for clip in range(clips) for view in views]
        scale = viewing_scale(real.shape[-1])
        grid = compose_grid(rows, column_labels=labels, row_labels=["real", "generated"], scale=scale)
        write_video(grid, out_dir / PREVIEWS_DIR / f"step_{step}{suffix}", fps=fps)

    return write
