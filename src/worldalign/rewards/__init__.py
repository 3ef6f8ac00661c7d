"""Rewards on rollouts: one contract, weighted composition, and the reward families.

- ``base``: the contract (``Reward``: ``name`` + ``__call__(rollout) -> {name: (B,), ...}``);
- ``compose``: ``RewardComposer`` -> ``RewardOutput`` (total, terms, invalid samples, timings);
- ``registry``: ``register_reward``, ``build_rewards("fidelity=1.0,executability=0.5")``;
- ``fidelity``: multi-view LPIPS/SSIM/PSNR against the real future (PersistWorld, arXiv:2603.25685);
- ``executability``: smoothness and limits of IDM-decoded actions (EVA);
- ``execution``: decoded plans executed in Meta-World (EVA's downstream test);
- ``brightness``: the mean pixel value, a diagnostic reward any RL method must climb;
- ``motion_match``: as much motion as the real future, against fidelity's pull to stillness;
- ``speed_match``: the IDM-decoded speed of the real future, against executability's pull to stillness;
- ``success``: a success classifier trained on the simulator's labels (WorldGym's success judge).

The reward modules are imported where used (the simulator-backed ones load MuJoCo).
"""

from worldalign.rewards.base import Reward, component_key
from worldalign.rewards.compose import RewardComposer, RewardOutput
from worldalign.rewards.registry import available_rewards, build_rewards, parse_reward_spec, register_reward

__all__ = [
    "Reward",
    "RewardComposer",
    "RewardOutput",
    "available_rewards",
    "build_rewards",
    "component_key",
    "parse_reward_spec",
    "register_reward",
]
