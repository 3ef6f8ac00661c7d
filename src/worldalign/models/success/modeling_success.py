"""Success classifier: the frames of one instant, every view -> the probability of task success.

WorldGym (ICLR 2026) scores policies inside a world model by judging the generated videos for
task success and checks those scores against real success rates. With a simulator at hand, the
judge can be learnt from the simulator's own labels: every recorded frame carries Meta-World's
per-step success flag (``Episode.privileged["success"]``), so this classifier is trained on
frames -> flag (``algos.success_classifier``) and reads success off generated frames
(``rewards.success``). One small convolutional encoder is shared by all views (each view
flattened, not pooled: where the hand and object are matters); an MLP fuses the views into one
logit.
"""

from __future__ import annotations

from torch import Tensor, nn

from worldalign.errors import ConfigError
from worldalign.models.conv_stack import strided_conv_layers
from worldalign.models.success.configuration_success import SuccessClassifierConfig


class SuccessClassifier(nn.Module):
    """Frames ``(N, V, 3, H, W)`` in [-1, 1] -> success logits ``(N,)``."""

    model_type = "success_classifier"

    def __init__(self, config: SuccessClassifierConfig) -> None:
        super().__init__()
        self.config = config
        layers, in_channels = strided_conv_layers(3, config.channels)
        side = config.image_size // 2 ** len(config.channels)
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(in_channels * side * side, config.view_features))
        self.head = nn.Sequential(
            nn.Linear(len(config.views) * config.view_features, config.hidden), nn.GELU(), nn.Linear(config.hidden, 1)
        )

    def forward(self, frames: Tensor) -> Tensor:
        """``(N, V, 3, H, W)`` in [-1, 1] -> ``(N,)`` logits."""
        expected = (len(self.config.views), 3, self.config.image_size, self.config.image_size)
        if frames.ndim != 5 or tuple(frames.shape[1:]) != expected:
            raise ConfigError(
                f"the success classifier reads (N, {', '.join(map(str, expected))}) frames of views "
                f"{list(self.config.views)}, got {tuple(frames.shape)}"
            )
        batch, views = frames.shape[:2]
        features = self.encoder(frames.flatten(0, 1)).reshape(batch, views * self.config.view_features)
        return self.head(features).squeeze(-1)

    def probability(self, frames: Tensor) -> Tensor:
        """``(N, V, 3, H, W)`` in [-1, 1] -> ``(N,)`` success probabilities."""
        return self.forward(frames).sigmoid()
