"""Success classifier: frames of one instant (all views) -> probability that the task is solved."""

from worldalign.models.success.configuration_success import SuccessClassifierConfig
from worldalign.models.success.modeling_success import SuccessClassifier

__all__ = ["SuccessClassifier", "SuccessClassifierConfig"]
