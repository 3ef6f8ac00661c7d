"""Training config of the VLA's supervised fine-tuning (``algos.vla_sft.train_vla_sft``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldalign.configs.pretrain import OptimizerConfig, RunConfig
from worldalign.errors import ConfigError
from worldalign.models.vla.configuration_vla import VLAConfig

DEFAULT_RELEASE_KEEP = 0.25
"""Fraction of the ``release`` steps (the task already solved, the hand holding still) kept as
SFT samples. Measured on ``data generate --tasks mt10 --noise 0.2`` (docs/vla.md): half of the
100-step expert episodes are ``release``; keeping a quarter of them makes them ~20% of the
samples, so the reach / grasp / move / place steps that decide success dominate the loss."""


@dataclass(frozen=True)
class VLASFTConfig:
    """Everything an SFT run depends on; saved as ``OUT/train_config.json``.

    Loss (RoboAlign's SFT stage; pi0's flow head, arXiv:2410.24164): token cross-entropy on the
    reasoning, the FAST ids (arXiv:2501.09747) and the end token, plus
    ``model.flow_loss_weight`` times the flow-matching loss of the action head.
    """

    model: VLAConfig = field(default_factory=VLAConfig)
    """The policy's shape; ``horizon``, ``action_dim``, ``action_vocab_size``, ``views`` and
    ``state_dim`` are set from the FAST tokenizer and the dataset by ``vla_sft_config``."""
    steps: int = 2000
    """Optimizer steps."""
    batch_size: int = 8
    """Samples (one step of one episode each) per optimizer step."""
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(learning_rate=3e-4, warmup_steps=50))
    """AdamW, warmup and cosine decay, gradient clipping."""
    release_keep: float = DEFAULT_RELEASE_KEEP
    """Fraction of the ``release``-phase steps kept (a seeded draw); 1 keeps them all."""
    run: RunConfig = field(default_factory=lambda: RunConfig(checkpoint_every=200, log_every=10))
    """Checkpointing, logging and seeding (``run.seed`` also seeds the release draw and the
    order of the samples)."""

    def __post_init__(self) -> None:
        if not 0 < self.release_keep <= 1:
            raise ConfigError(f"VLASFTConfig.release_keep={self.release_keep}; expected a fraction in (0, 1]")
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VLASFTConfig.{name}={getattr(self, name)}; expected >= 1")
