"""Architecture of the latent flow-matching world model; see ``models.world_model``."""

from __future__ import annotations

from dataclasses import dataclass

from worldalign.errors import ConfigError


@dataclass(frozen=True)
class WorldModelConfig:
    """A DiT-style spatiotemporal transformer over the latent tokens of context and future frames.

    Tokens: every view's every frame is cut into ``(latent_size / patch_size) ** 2`` patches; the
    model attends over all tokens of up to ``max_context_frames`` context frames and
    ``future_frames`` future frames of all ``num_views`` views.
    """

    latent_channels: int = 16
    """Channels of the autoencoder latents (must equal ``AutoencoderConfig.latent_channels``)."""
    latent_size: int = 8
    """Height and width of the latent grid (must equal ``AutoencoderConfig.latent_size``)."""
    patch_size: int = 2
    """Side of the square latent patch that becomes one token."""
    num_views: int = 1
    """Camera views predicted jointly; a learned embedding tells them apart."""
    max_context_frames: int = 16
    """Most context frames the model accepts (any number from 0 up to it works)."""
    future_frames: int = 4
    """Frames predicted per call (a chunk); a call may ask for fewer."""
    action_dim: int = 4
    """Dimension of the per-step actions; 0 builds a model without action conditioning."""
    instruction_dim: int = 0
    """Dimension of the instruction embedding (384 for MiniLM); 0 = no instruction conditioning."""
    width: int = 128
    """Transformer hidden size."""
    depth: int = 4
    """Number of transformer blocks."""
    num_heads: int = 4
    """Attention heads (must divide ``width``)."""
    mlp_ratio: float = 4.0
    """Hidden size of the MLPs relative to ``width``."""
    action_displacement: bool = False
    """Also condition each future frame on the sum of the (normalised) actions since the last
    context frame: the displacement commanded so far, not only the step into the frame
    (``action_displacements``). Its embedding starts at zero, so a model trained without it
    fine-tunes into it unchanged at step 0 (``train world-model --init-from M --action-displacement``)."""
    causal_context: bool = False
    """Context tokens attend to context tokens only, not to the noisy future: their keys and values
    are computed once per chunk and reused at every denoising step (``WorldModel.encode_context``).
    A model trained without it cannot simply switch it on (its context tokens learned to read the
    future); it can be fine-tuned into it (``train world-model --init-from M --causal-context``)."""

    def __post_init__(self) -> None:
        if self.latent_size % self.patch_size:
            raise ConfigError(
                f"WorldModelConfig.latent_size={self.latent_size} is not divisible by patch_size={self.patch_size}"
            )
        if self.width % self.num_heads:
            raise ConfigError(f"WorldModelConfig.num_heads={self.num_heads} does not divide width={self.width}")
        if self.num_views < 1 or self.future_frames < 1 or self.max_context_frames < 0:
            raise ConfigError(
                "WorldModelConfig needs num_views >= 1, future_frames >= 1 and max_context_frames >= 0, got "
                f"{self.num_views}, {self.future_frames}, {self.max_context_frames}"
            )
        if self.action_displacement and self.action_dim == 0:
            raise ConfigError(
                "WorldModelConfig.action_displacement needs an action-conditioned model (action_dim > 0): "
                "train with --condition actions or both"
            )

    @property
    def tokens_per_frame(self) -> int:
        """Tokens one view of one frame becomes."""
        return (self.latent_size // self.patch_size) ** 2

    def sequence_tokens(self, context_frames: int, future_frames: int | None = None) -> int:
        """Length of the token sequence the transformer attends over for one sample."""
        future = self.future_frames if future_frames is None else future_frames
        return self.num_views * (context_frames + future) * self.tokens_per_frame
