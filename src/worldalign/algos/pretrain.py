"""Pretraining of the frame autoencoder and of the latent flow-matching world model.

Reads top to bottom: the two losses, then ``train_autoencoder`` and ``train_world_model``, both
driven by ``algos.training_run.TrainingRun`` (AdamW + warmup/cosine, clipping, checkpoints, exact
resume, TensorBoard, progress bar).

World-model objective: rectified flow / flow matching (Liu et al. 2022, arXiv:2209.03003;
Lipman et al. 2022, arXiv:2210.02747) on the latents of the future frames, with the convention
of ``worldalign.sampling.flow_math``: ``x_t = (1 - t) x0 + t eps``, target ``v = eps - x0``.
Every step draws a context length (so one model serves full-history, short-window and SWR
rollouts), flow times from a logit-normal (SD3, Esser et al. 2024, arXiv:2403.03206), and drops
actions/instructions with some probability (classifier-free guidance, arXiv:2207.12598).

Data: the trainers take any iterable of batches (``(N, 3, H, W)`` frame tensors for the
autoencoder; for the world model ``ClipBatch`` es of frames, encoded by the frozen autoencoder as
they come, or ``LatentClipBatch`` es of latents encoded before the run); see ``algos.training_run`` for how an iterable
with ``state_dict``/``load_state_dict`` makes a resume bit-exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from worldalign.algos.training_run import TrainingResult, TrainingRun, default_device
from worldalign.configs.pretrain import AutoencoderTrainingConfig, WorldModelTrainingConfig
from worldalign.data.types import ClipBatch, LatentClipBatch
from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.autoencoder.latent_cache import ClipLatentEncoder
from worldalign.models.checkpoint import load_weights
from worldalign.models.world_model import FINE_TUNED_INTO, WorldModel
from worldalign.sampling.flow_math import interpolate, velocity_target
from worldalign.sampling.guidance import WorldModelVelocity, autocast_context
from worldalign.sampling.samplers import EulerODESampler

# (prediction (N, 3, H, W), target (N, 3, H, W)) in [-1, 1] -> scalar loss, e.g. LPIPS.
PerceptualLoss = Callable[[Tensor, Tensor], Tensor]
# (step, real (N, 3, H, W), reconstruction (N, 3, H, W)): e.g. write an image grid.
AutoencoderPreview = Callable[[int, Tensor, Tensor], None]
# (step, real (B, V, T, 3, H, W), generated (B, V, T, 3, H, W)), the generated clip being the real
# context followed by the predicted future: e.g. write a side-by-side video.
WorldModelPreview = Callable[[int, Tensor, Tensor], None]
# (B instructions) -> (B, E) embeddings, e.g. ``models.text.InstructionEncoder``.
InstructionEmbedder = Callable[[list[str]], Tensor]
# Fixed clips whose flow loss is measured as training goes, by name (e.g. "train", "held_out"),
# as latents (``ClipLatentEncoder.latent_clips`` turns a ``ClipBatch`` into one).
ProbeClips = Mapping[str, Sequence[LatentClipBatch]]


# --------------------------------------------------------------------------------------------
# Losses


def image_gradient_l1(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean L1 difference of horizontal and vertical finite differences of ``(N, 3, H, W)`` images."""
    dx = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    dy = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    return (dx(prediction) - dx(target)).abs().mean() + (dy(prediction) - dy(target)).abs().mean()


def autoencoder_loss(
    reconstruction: Tensor,
    target: Tensor,
    config: AutoencoderTrainingConfig,
    perceptual: PerceptualLoss | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Weighted L1 + MSE + image-gradient (+ perceptual) loss and its terms for logging."""
    terms = {
        "l1": F.l1_loss(reconstruction, target),
        "mse": F.mse_loss(reconstruction, target),
        "gradient": image_gradient_l1(reconstruction, target),
    }
    total = (
        config.l1_weight * terms["l1"] + config.mse_weight * terms["mse"] + config.gradient_weight * terms["gradient"]
    )
    if perceptual is not None and config.perceptual_weight > 0:
        terms["perceptual"] = perceptual(reconstruction, target)
        total = total + config.perceptual_weight * terms["perceptual"]
    scalars = {name: float(value.detach()) for name, value in terms.items()}
    scalars["psnr"] = 10 * math.log10(4.0 / max(scalars["mse"], 1e-12))  # data range 2 for [-1, 1]
    return total, scalars


def flow_matching_loss(
    model: WorldModel,
    future: Tensor,
    context: Tensor,
    t: Tensor,
    noise: Tensor,
    actions: Tensor | None = None,
    instruction: Tensor | None = None,
    keep_actions: Tensor | None = None,
    keep_instruction: Tensor | None = None,
    context_time: Tensor | None = None,
) -> Tensor:
    """Rectified-flow MSE between the predicted and the true velocity of the future latents.

    ``future (B, V, Tf, C, h, w)`` clean latents, ``context (B, V, Tc, C, h, w)``, ``t (B,)``,
    ``noise`` like ``future``; ``context_time (B,)`` the noise level of the context (``noise_context``).
    """
    squared_error = flow_squared_error(
        model, future, context, t, noise, actions, instruction, keep_actions, keep_instruction, context_time
    )
    return squared_error.mean()


def flow_squared_error(
    model: WorldModel,
    future: Tensor,
    context: Tensor,
    t: Tensor,
    noise: Tensor,
    actions: Tensor | None = None,
    instruction: Tensor | None = None,
    keep_actions: Tensor | None = None,
    keep_instruction: Tensor | None = None,
    context_time: Tensor | None = None,
) -> Tensor:
    """``flow_matching_loss`` per element, ``(B, V, Tf, C, h, w)``: the squared error of the
    predicted velocity, for losses or probes that weigh positions differently."""
    noisy = interpolate(future, noise, t)
    velocity = model(
        noisy, t, context, actions, instruction, keep_actions, keep_instruction, context_time=context_time
    )
    return (velocity.float() - velocity_target(future, noise)) ** 2


# --------------------------------------------------------------------------------------------
# Frame autoencoder


def train_autoencoder(
    config: AutoencoderTrainingConfig,
    frames: Iterable[Tensor],
    out_dir: str | Path,
    *,
    perceptual: PerceptualLoss | None = None,
    preview: AutoencoderPreview | None = None,
    calibration_frames: Tensor | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    resume: bool = True,
) -> TrainingResult:
    """Train the frame autoencoder on batches of frames ``(N, 3, H, W)`` in [-1, 1].

    Every checkpoint's latent statistics (``Autoencoder.calibrate``) are measured on
    ``calibration_frames`` ``(M, 3, H, W)`` when given, else on the current training batch.
    With ``resume``, a run finding checkpoints in ``out_dir`` continues from the latest one.
    """
    out_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(config.run.seed)
    model = Autoencoder(config.model).to(device)
    run = TrainingRun(model, config.optimizer, config.run, config.steps, out_dir, frames, config, progress, resume)
    result = TrainingResult(step=run.step, resumed_from=run.resumed_from)
    batch = calibration_frames
    with run:
        for batch in run.batches():
            batch = batch.to(device)
            model.train()
            with autocast_context(device, config.run.bf16):
                _, raw = model(batch)
                scale = raw.detach().std() * config.latent_noise
                noise = torch.randn(raw.shape, generator=run.generator).to(device)
                reconstruction = model.decoder(raw + scale * noise).float()
            loss, scalars = autoencoder_loss(reconstruction, batch, config, perceptual)
            scalars["grad_norm"] = run.update(loss, terms=scalars)
            scalars["loss"] = float(loss.detach())
            result.losses.append(scalars["loss"])
            run.log(scalars)
            if run.due(config.run.checkpoint_every):
                model.calibrate([calibration_frames if calibration_frames is not None else batch])
                run.checkpoint()
            if preview is not None and run.due(config.run.preview_every):
                with torch.no_grad():
                    preview(run.step, batch.cpu(), model.decoder(model.encoder(batch)).clamp(-1, 1).cpu())
        if batch is not None:
            model.calibrate([calibration_frames if calibration_frames is not None else batch])
        result.step = run.step
        result.model_dir = run.finish()
    return result


# --------------------------------------------------------------------------------------------
# World model


def sample_context_length(config: WorldModelTrainingConfig, available: int, generator: torch.Generator) -> int:
    """A step's context length in ``[min_context_frames, min(available, max_context_frames)]``."""
    low, high = config.min_context_frames, min(available, config.model.max_context_frames)
    if high < low:
        raise ConfigError(
            f"clips carry {available} context frames, fewer than min_context_frames={config.min_context_frames}: "
            f"build the clip sampler with {config.model.max_context_frames} context frames"
        )
    if config.context_sampling == "max":
        return high
    lengths = torch.arange(low, high + 1, dtype=torch.float64)
    weights = torch.ones_like(lengths) if config.context_sampling == "uniform" else 1.0 / (lengths + 1.0)
    return low + int(torch.multinomial(weights, 1, generator=generator))


def sample_flow_times(config: WorldModelTrainingConfig, batch: int, generator: torch.Generator) -> Tensor:
    """``(B,)`` flow times in (0, 1)."""
    if config.time_sampling == "uniform":
        return torch.rand(batch, generator=generator)
    return torch.sigmoid(torch.randn(batch, generator=generator))


def noise_context(context: Tensor, max_time: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``context (B, V, Tc, C, h, w)`` moved along the rectified-flow path toward Gaussian noise, to
    a flow time each clip draws uniformly in ``[0, max_time]``, and those times ``(B,)`` for the
    model to condition on (``WorldModelTrainingConfig.context_noise``)."""
    times = (torch.rand(context.shape[0], generator=generator) * max_time).to(context.device)
    noise = torch.randn(context.shape, generator=generator).to(device=context.device, dtype=context.dtype)
    return interpolate(context, noise, times), times


def _check_clip(clip: ClipBatch | LatentClipBatch, config: WorldModelTrainingConfig) -> None:
    model = config.model
    views, frames = (clip.latents if isinstance(clip, LatentClipBatch) else clip.frames).shape[1:3]
    future = frames - clip.context_frames
    if views != model.num_views:
        raise ConfigError(
            f"the dataset's clips have {views} views, the world model was configured for num_views={model.num_views}"
        )
    if future != model.future_frames:
        raise ConfigError(
            f"clips carry {future} future frames, the world model predicts future_frames={model.future_frames}: "
            "build the clip sampler with the model's future_frames"
        )
    if model.action_dim > 0 and clip.actions.shape[-1] != model.action_dim:
        raise ConfigError(
            f"the dataset's actions have dimension {clip.actions.shape[-1]}, the world model expects "
            f"action_dim={model.action_dim}"
        )


def train_world_model(
    config: WorldModelTrainingConfig,
    clips: Iterable[ClipBatch | LatentClipBatch],
    autoencoder: Autoencoder,
    out_dir: str | Path,
    *,
    instruction_encoder: InstructionEmbedder | None = None,
    preview: WorldModelPreview | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    resume: bool = True,
    initial_weights: str | Path | None = None,
    probes: ProbeClips | None = None,
) -> TrainingResult:
    """Train the world model on ``ClipBatch`` es (or ``LatentClipBatch`` es already encoded by it),
    in the latent space of a frozen ``autoencoder``.

    ``probes`` (e.g. fixed training and held-out clips) are scored every
    ``config.probe_every`` steps and at the end by ``FlowLossProbe``: their flow loss with fixed
    flow times and noise, logged as ``probe/<name>`` and kept in ``TrainingResult.probes``.

    Clips should carry ``model.max_context_frames`` context frames (each step uses the last
    ``c`` of them, ``c`` drawn by ``sample_context_length``) and ``model.future_frames`` future
    frames. ``instruction_encoder`` is required when the model is instruction-conditioned.
    ``initial_weights`` is a world model checkpoint folder of the same config (but perhaps the
    switches of ``FINE_TUNED_INTO``) to start from (fine-tuning); a run that resumes continues
    from its own checkpoint instead.
    """
    out_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    model_config = config.model
    if tuple(autoencoder.latent_shape) != (
        model_config.latent_channels,
        model_config.latent_size,
        model_config.latent_size,
    ):
        raise ConfigError(
            f"the autoencoder's latents are {autoencoder.latent_shape} (C, h, w), the world model expects "
            f"({model_config.latent_channels}, {model_config.latent_size}, {model_config.latent_size}) "
            "(WorldModelConfig latent_channels, latent_size)"
        )
    if model_config.instruction_dim > 0 and instruction_encoder is None:
        raise ConfigError(
            "the world model is instruction-conditioned (instruction_dim > 0): pass an instruction_encoder"
        )
    torch.manual_seed(config.run.seed)
    model = WorldModel(model_config).to(device)
    model.activation_checkpointing = config.activation_checkpointing
    if initial_weights is not None:
        # e.g. a full-attention model's weights start a causal-context one (``stages.pretrain``).
        added_tensors = [prefix for prefixes in FINE_TUNED_INTO.values() for prefix in prefixes]
        load_weights(model, initial_weights, may_differ=tuple(FINE_TUNED_INTO), may_lack=added_tensors)
    encoder = ClipLatentEncoder(autoencoder.to(device), cache=config.cache_latents)
    run = TrainingRun(model, config.optimizer, config.run, config.steps, out_dir, clips, config, progress, resume)
    result = TrainingResult(step=run.step, resumed_from=run.resumed_from)
    probe = FlowLossProbe(probes, config, instruction_encoder, device) if probes else None
    with run:
        for clip in run.batches():
            _check_clip(clip, config)
            latents = _latents(clip, encoder, device)  # (B, V, C0 + F, C, h, w)
            batch, available = latents.shape[0], clip.context_frames
            length = sample_context_length(config, available, run.generator)
            context, context_time = latents[:, :, available - length : available], None
            if config.context_noise > 0:
                context, context_time = noise_context(context, config.context_noise, run.generator)
            future = latents[:, :, available:]
            actions = clip.actions[:, available - length :].to(device) if model_config.action_dim > 0 else None
            instruction = None
            if model_config.instruction_dim > 0 and instruction_encoder is not None:
                instruction = instruction_encoder(clip.instructions).to(device)
            t = sample_flow_times(config, batch, run.generator).to(device)
            noise = torch.randn(future.shape, generator=run.generator).to(device)
            keep_actions = (torch.rand(batch, generator=run.generator) >= config.action_dropout).to(device)
            keep_instruction = (torch.rand(batch, generator=run.generator) >= config.instruction_dropout).to(device)
            model.train()
            with autocast_context(device, config.run.bf16):
                loss = flow_matching_loss(
                    model, future, context, t, noise, actions, instruction, keep_actions, keep_instruction, context_time
                )
            scalars = {"loss": float(loss.detach()), "context_frames": float(length)}
            scalars["grad_norm"] = run.update(loss)
            result.losses.append(scalars["loss"])
            run.log(scalars)
            if run.due(config.run.checkpoint_every):
                run.checkpoint()
            if preview is not None and run.due(config.run.preview_every):
                _preview_world_model(run.step, config, model, autoencoder, clip, latents, instruction, preview)
            if probe is not None and (run.due(config.probe_every) or run.step == config.steps):
                result.probes.append(probe.measure(run.ema if run.ema is not None else model, run.step))
                run.log_values({f"probe/{name}": value for name, value in result.probes[-1].items() if name != "step"})
        result.step = run.step
        result.model_dir = run.finish()
    return result


def _latents(clip: ClipBatch | LatentClipBatch, encoder: ClipLatentEncoder, device: torch.device) -> Tensor:
    """The clip's latents ``(B, V, T, C, h, w)`` on ``device``: encoded now, or before the run."""
    return clip.latents.to(device) if isinstance(clip, LatentClipBatch) else encoder.encode(clip)


@dataclass
class FlowLossProbe:
    """The flow loss of fixed clips, comparable from one measurement to the next: each clip keeps
    its flow time and noise (drawn once, seeded by ``config.run.seed``), uses its full context and
    its conditions (no dropout). Measured on training clips and on held-out ones as training goes,
    the two curves tell whether the model still learns what generalises or has begun to memorise
    (issue 20: how much data a longer run needs)."""

    clips: ProbeClips
    config: WorldModelTrainingConfig
    instruction_encoder: InstructionEmbedder | None
    device: torch.device

    def __post_init__(self) -> None:
        generator = torch.Generator().manual_seed(self.config.run.seed + 7919)
        self._draws = {
            name: [
                (sample_flow_times(self.config, len(clip.instructions), generator), self._noise(clip, generator))
                for clip in clips
            ]
            for name, clips in self.clips.items()
        }

    def _noise(self, clip: LatentClipBatch, generator: torch.Generator) -> Tensor:
        model = self.config.model
        latent = (model.latent_channels, model.latent_size, model.latent_size)
        return torch.randn(len(clip.instructions), model.num_views, model.future_frames, *latent, generator=generator)

    @torch.no_grad()
    def measure(self, model: WorldModel, step: int) -> dict[str, float]:
        """``{"step": step, name: mean flow loss of the named clips}``."""
        was_training = model.training
        model.eval()
        scores: dict[str, float] = {"step": float(step)}
        for name, clips in self.clips.items():
            losses = []
            for clip, (t, noise) in zip(clips, self._draws[name], strict=True):
                latents = clip.latents.to(self.device)
                available = clip.context_frames
                actions = clip.actions.to(self.device) if self.config.model.action_dim > 0 else None
                instruction = None
                if self.config.model.instruction_dim > 0 and self.instruction_encoder is not None:
                    instruction = self.instruction_encoder(clip.instructions).to(self.device)
                with autocast_context(self.device, self.config.run.bf16):
                    loss = flow_matching_loss(
                        model,
                        latents[:, :, available:],
                        latents[:, :, :available],
                        t.to(self.device),
                        noise.to(self.device),
                        actions,
                        instruction,
                    )
                losses.append(float(loss))
            scores[name] = sum(losses) / len(losses)
        model.train(was_training)
        return scores


def _preview_world_model(
    step: int,
    config: WorldModelTrainingConfig,
    model: WorldModel,
    autoencoder: Autoencoder,
    clip: ClipBatch | LatentClipBatch,
    latents: Tensor,
    instruction: Tensor | None,
    preview: WorldModelPreview,
) -> None:
    """Predict the future of (up to 4 of) the step's clips from their full context; hand both over
    (for latent clips the real row is the autoencoder's reconstruction of the real frames)."""
    count = min(4, latents.shape[0])
    available = clip.context_frames
    context = latents[:count, :, :available][:, :, -config.model.max_context_frames :]
    first = available - context.shape[2]
    actions = clip.actions[:count, first:].to(context.device) if config.model.action_dim > 0 else None
    velocity_fn = WorldModelVelocity(
        model, context, actions, None if instruction is None else instruction[:count], bf16=config.run.bf16
    )
    # A generator of its own, so previews never shift the training run's random stream.
    generator = torch.Generator().manual_seed(config.run.seed * 1_000_003 + step)
    noise = torch.randn(latents[:count, :, available:].shape, generator=generator).to(context.device)
    model.eval()
    with torch.no_grad():
        future = EulerODESampler(steps=config.preview_sampling_steps).sample(velocity_fn, noise).sample
        predicted = autoencoder.decode(future)
    with torch.no_grad():
        real = autoencoder.decode(latents[:count]) if isinstance(clip, LatentClipBatch) else clip.frames[:count]
    real = real.cpu()
    generated = torch.cat([real[:, :, :available], predicted.cpu()], dim=2)
    preview(step, real, generated)
