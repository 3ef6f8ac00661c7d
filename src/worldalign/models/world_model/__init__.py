"""The latent flow-matching video world model (DiT-style, action- and/or instruction-conditioned)."""

from worldalign.models.world_model.configuration_world_model import WorldModelConfig
from worldalign.models.world_model.modeling_world_model import FINE_TUNED_INTO, ContextCache, WorldModel

__all__ = ["FINE_TUNED_INTO", "ContextCache", "WorldModel", "WorldModelConfig"]
