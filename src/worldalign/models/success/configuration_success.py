"""Configuration of the success classifier: which views, what frame size, how wide."""

from __future__ import annotations

from dataclasses import dataclass

from worldalign.errors import ConfigError


@dataclass(frozen=True)
class SuccessClassifierConfig:
    """Shape of a ``SuccessClassifier``; saved as the checkpoint's ``config.json``."""

    views: tuple[str, ...] = ("oblique", "front", "wrist")
    """Camera names the classifier reads, in this order (the world model's views)."""
    image_size: int = 64
    """Square frame side in pixels."""
    channels: tuple[int, ...] = (16, 32, 64, 64)
    """Output channels of the per-view convolutions, each halving the resolution."""
    view_features: int = 64
    """Feature size of one view after its encoder."""
    hidden: int = 128
    """Width of the fusion MLP."""

    def __post_init__(self) -> None:
        if not self.views or len(set(self.views)) != len(self.views):
            raise ConfigError(
                f"SuccessClassifierConfig.views={self.views}; expected distinct camera names, at least one"
            )
        if not self.channels or self.image_size % 2 ** len(self.channels):
            raise ConfigError(
                f"SuccessClassifierConfig: image_size={self.image_size} must be divisible by 2**{len(self.channels)} "
                f"(one halving per entry of channels={self.channels})"
            )
