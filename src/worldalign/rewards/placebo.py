"""The placebo reward: a value in [0, 1] that says nothing about the rollout, a control for RL.

A policy-gradient update moves the weights even when its reward carries no information: the
group-normalised advantages of random scores are as large as anyone's, and each update follows
them. So when an aligned model gets *worse* (docs/benchmarks.md: PersistWorld's fidelity reward
lowers held-out fidelity in every seed), the first question is whether the reward did it or the
update would have done it anyway. Training the same recipe on this reward answers it: the
placebo arm's drift is what the update's own noise costs; a real reward is only doing something
where it moves the model away from the placebo arm. (Random-reward controls are the RL analogue
of a placebo arm; Shao et al. 2025, "Spurious Rewards", arXiv:2506.10947, use them on LLMs.)

``placebo[b] = blake2b(frames[b] as float32 bytes) / 2**64``: uniform over candidates, fixed for a
given candidate (so an exactly resumed run scores exactly the same), uncorrelated with anything a
person would call quality. No components.
"""

from __future__ import annotations

import hashlib

import torch
from torch import Tensor

from worldalign.data.types import Rollout

_HASH_BYTES = 8


def content_hash_uniform(sample: Tensor) -> float:
    """A number in [0, 1) fixed by ``sample``'s float32 values and nothing else."""
    data = sample.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    digest = hashlib.blake2b(data, digest_size=_HASH_BYTES).digest()
    return int.from_bytes(digest, "little") / 2.0 ** (8 * _HASH_BYTES)


class PlaceboReward:
    """Scores each generated sample by a hash of its frames (module docstring)."""

    name = "placebo"

    @torch.no_grad()
    def __call__(self, rollout: Rollout) -> dict[str, Tensor]:
        frames = rollout.frames.detach().to("cpu", torch.float32)  # one copy for the whole batch
        values = [content_hash_uniform(sample) for sample in frames]
        return {self.name: torch.tensor(values, dtype=torch.float32, device=rollout.frames.device)}


def make_placebo_reward() -> PlaceboReward:
    """Registry factory of ``PlaceboReward`` (``--rewards placebo=1.0``); it takes no options."""
    return PlaceboReward()
