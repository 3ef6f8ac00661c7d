"""Training configs of the frame autoencoder and the world model (``algos.pretrain`` runs them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldalign.errors import ConfigError
from worldalign.models.autoencoder.configuration_autoencoder import AutoencoderConfig
from worldalign.models.world_model.configuration_world_model import WorldModelConfig

CONTEXT_SAMPLINGS = ("log_uniform", "uniform", "max")
TIME_SAMPLINGS = ("logit_normal", "uniform")


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW with linear warmup then cosine decay, and gradient-norm clipping."""

    learning_rate: float = 3e-4
    """Peak learning rate, reached after ``warmup_steps``."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW's moment decay rates."""
    weight_decay: float = 0.01
    """AdamW's decoupled weight decay."""
    warmup_steps: int = 200
    """Steps of linear warmup from 0 to ``learning_rate``."""
    min_lr_ratio: float = 0.1
    """The cosine decay ends at ``learning_rate * min_lr_ratio`` on the last step."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this value (0 disables clipping)."""


@dataclass(frozen=True)
class RunConfig:
    """How a training run is kept, logged and checkpointed (shared by both trainers)."""

    checkpoint_every: int = 500
    """Write a resumable checkpoint every this many steps (and at the end)."""
    keep_checkpoints: int = 2
    """Most recent checkpoints kept; older ones are deleted."""
    log_every: int = 10
    """Write TensorBoard scalars every this many steps."""
    preview_every: int = 0
    """Call the preview callback (e.g. a sample video) every this many steps; 0 = never."""
    seed: int = 0
    """Seeds the initialisation and every random draw of the loop."""
    bf16: bool = False
    """Run forward passes under bf16 autocast (GPUs; on CPUs only larger models gain)."""
    ema_decay: float = 0.0
    """Keep an exponential moving average of the weights with this decay (warmed up as
    ``min(decay, (1 + step) / (10 + step))``) and make it the final model; 0 = none. Diffusion
    models sample markedly better from averaged weights (DDPM, Ho et al. 2020; DiT)."""


@dataclass(frozen=True)
class AutoencoderTrainingConfig:
    """Training of the frame autoencoder on single frames of every view."""

    model: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    """The architecture."""
    steps: int = 3000
    """Optimizer steps in total."""
    batch_size: int = 32
    """Frames per step (the data sampler is built with it)."""
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(learning_rate=4e-4, warmup_steps=100))
    """Optimizer and schedule."""
    l1_weight: float = 1.0
    """Weight of the mean absolute pixel error."""
    mse_weight: float = 1.0
    """Weight of the mean squared pixel error."""
    gradient_weight: float = 0.5
    """Weight of the L1 error of horizontal and vertical image gradients (keeps edges: fingers,
    small objects)."""
    perceptual_weight: float = 0.0
    """Weight of an optional perceptual loss callable passed to the trainer (e.g. LPIPS)."""
    latent_noise: float = 0.05
    """Gaussian noise, relative to the batch's latent std, added to the latents before decoding,
    so the decoder tolerates the small latent errors of world-model predictions."""
    run: RunConfig = field(default_factory=RunConfig)
    """Checkpointing, logging and seeding."""


# What a world model can be conditioned on: the actions, the instruction, or both.
WORLD_MODEL_CONDITIONS = ("actions", "instruction", "both")


@dataclass(frozen=True)
class WorldModelTrainingConfig:
    """Rectified-flow training of the world model on latent clips."""

    model: WorldModelConfig = field(default_factory=WorldModelConfig)
    """The architecture."""
    steps: int = 5000
    """Optimizer steps in total."""
    batch_size: int = 16
    """Clips per step (the data sampler is built with it, with ``model.max_context_frames``
    context frames and ``model.future_frames`` future frames per clip)."""
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    """Optimizer and schedule."""
    min_context_frames: int = 1
    """Fewest context frames a training step uses."""
    context_sampling: str = "log_uniform"
    """How each step's context length is drawn in [min_context_frames, max_context_frames]:
    "log_uniform" (P(c) ∝ 1/c: every scale of history is trained, short ones often, which keeps
    the average step cheap), "uniform", or "max" (always the longest)."""
    time_sampling: str = "logit_normal"
    """Flow-time distribution: "logit_normal" (SD3's, mean 0, std 1: favours mid times) or
    "uniform"."""
    action_dropout: float = 0.1
    """Probability of replacing a clip's actions by the null action (enables CFG)."""
    instruction_dropout: float = 0.1
    """Probability of replacing a clip's instruction by the null instruction (enables CFG)."""
    context_noise: float = 0.0
    """Largest noise level of the context latents, in [0, 1): each clip moves its context along the
    rectified-flow path toward Gaussian noise to a flow time drawn uniformly in [0, context_noise],
    and the model is told that time (the context frames' flow-time embedding), so it learns to read
    imperfect context like the predictions it conditions on in a rollout while clean context (time
    0, what rollouts give) stays recognisable: GameNGen's noise augmentation with noise-level
    conditioning against autoregressive drift (Valevski et al. 2024, arXiv:2408.14837). 0 trains
    on clean context."""
    pad_episode_starts: bool = True
    """Let clips begin up to ``max_context_frames - 1`` frames before an episode (frame 0 held
    still under the zero action), so the first frames of episodes are prediction targets too:
    rollouts from a real start begin there."""
    cache_latents: bool = True
    """Keep the latents of every frame encoded so far in memory (keyed by episode and frame),
    so the frozen autoencoder encodes each frame once per run."""
    preview_sampling_steps: int = 10
    """Euler steps of the previews' ODE sampling."""
    probe_every: int = 0
    """Steps between measurements of the flow loss of fixed training and held-out clips
    (``algos.pretrain.FlowLossProbe``); 0 = never."""
    activation_checkpointing: bool = False
    """Recompute the transformer blocks' activations in the backward pass (the same gradients,
    ~1/3 more compute, a fraction of the memory): for large batches or contexts on a GPU."""
    run: RunConfig = field(default_factory=RunConfig)
    """Checkpointing, logging and seeding."""

    def __post_init__(self) -> None:
        if self.context_sampling not in CONTEXT_SAMPLINGS:
            raise ConfigError(f"context_sampling={self.context_sampling!r}; choose one of {CONTEXT_SAMPLINGS}")
        if self.time_sampling not in TIME_SAMPLINGS:
            raise ConfigError(f"time_sampling={self.time_sampling!r}; choose one of {TIME_SAMPLINGS}")
        if not 0 <= self.context_noise < 1:
            raise ConfigError(f"context_noise={self.context_noise} must be in [0, 1): a flow time below pure noise")
        for name in ("action_dropout", "instruction_dropout"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be a probability in [0, 1]")
        if not 0 <= self.min_context_frames <= self.model.max_context_frames:
            raise ConfigError(
                f"min_context_frames={self.min_context_frames} must be in 0..model.max_context_frames="
                f"{self.model.max_context_frames}"
            )
