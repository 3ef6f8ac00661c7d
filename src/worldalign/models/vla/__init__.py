"""Vision-language-action policy (RoboAlign): views + instruction -> ``<think>`` reasoning, FAST
action tokens, and a flow-matching action head."""

from worldalign.models.vla.configuration_vla import VLAConfig
from worldalign.models.vla.modeling_vla import VLAObservation, VLAPolicy, load_vla_policy, new_vla_policy
from worldalign.models.vla.processor_vla import Completion, VLABatch, VLAProcessor, VLASample

__all__ = [
    "Completion", "VLABatch", "VLAConfig", "VLAObservation", "VLAPolicy", "VLAProcessor", "VLASample",
    "load_vla_policy", "new_vla_policy",
]
