"""Inverse dynamics model: frames of one or more views -> the action between them (EVA)."""

from worldalign.models.idm.configuration_idm import IDMConfig
from worldalign.models.idm.modeling_idm import InverseDynamicsModel

__all__ = ["IDMConfig", "InverseDynamicsModel"]
