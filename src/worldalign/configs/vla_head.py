"""Training config of the VLA stage after alignment (``algos.vla_action_head``): a new flow
action head on a trained backbone."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldalign.configs.pretrain import OptimizerConfig, RunConfig
from worldalign.configs.vla_sft import DEFAULT_RELEASE_KEEP
from worldalign.errors import ConfigError


@dataclass(frozen=True)
class VLAHeadConfig:
    """Everything a head run depends on; saved as ``OUT/train_config.json``.

    RoboAlign (``../shared/seeds/001_36de1df6bd8cbac4.txt``) evaluates an aligned language
    backbone by adding a diffusion action head on top of it and training the VLA on robot data;
    the SFT baseline gets the same stage. Loss: the flow-matching loss of the head alone (pi0,
    arXiv:2410.24164), back-propagated into the backbone unless ``freeze_backbone``.
    """

    steps: int = 1000
    """Optimizer steps."""
    batch_size: int = 8
    """Samples per optimizer step."""
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(learning_rate=3e-4, warmup_steps=50))
    """AdamW, warmup and cosine decay, gradient clipping."""
    freeze_backbone: bool = False
    """Train the head only: the backbone's representation is then measured as it came out of
    SFT or GRPO (a probe); False trains the whole VLA, as RoboAlign does."""
    release_keep: float = DEFAULT_RELEASE_KEEP
    """Fraction of the ``release``-phase steps kept (``configs.vla_sft``)."""
    run: RunConfig = field(default_factory=lambda: RunConfig(checkpoint_every=200, log_every=10))
    """Checkpointing, logging and seeding (``run.seed`` seeds the new head, the release draw and
    the order of the samples: equal seeds give two backbones the same head and data)."""

    def __post_init__(self) -> None:
        if not 0 < self.release_keep <= 1:
            raise ConfigError(f"VLAHeadConfig.release_keep={self.release_keep}; expected a fraction in (0, 1]")
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VLAHeadConfig.{name}={getattr(self, name)}; expected >= 1")
