"""Run by ``accelerate launch --cpu --num_processes 2``: a short NFT alignment of the tiny set-up.

Each process writes ``OUT/rank_R.json``: the float64 sum of its final weights, every weight
tensor's own sum, and the (episode, start) pairs it drew, for the two-process test to compare.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from align_setup import brightness_rewards, episode_pool, tiny_models

from worldalign.algos.align import align
from worldalign.algos.conditions import RolloutStateConditions
from worldalign.configs.align import AlignConfig


@dataclass(frozen=True)
class RecordingConditions(RolloutStateConditions):
    """Rollout states that remember which episodes and frames they drew."""

    drawn: list = None  # type: ignore[assignment]

    def sample(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        batch = super().sample(*args, **kwargs)
        self.drawn.extend(zip(batch.episodes, batch.start_frames, strict=True))
        return batch


def main(out: Path, algorithm: str) -> None:
    accelerator = Accelerator(cpu=True)
    model, autoencoder = tiny_models()
    conditions = RecordingConditions(episode_pool(), 2, 1, 2, drawn=[])
    config = AlignConfig(
        algorithm=algorithm, iterations=3, conditions_per_iteration=2, group_size=2, sampling_steps=3,
        learning_rate=3e-3, warmup_iterations=2, checkpoint_every=1, seed=0,
    )
    align(config, model, autoencoder, conditions, brightness_rewards(), out, accelerator=accelerator, progress=False)
    weights = {name: float(p.detach().double().sum()) for name, p in model.named_parameters()}
    record = {"checksum": sum(weights.values()), "weights": weights, "drawn": conditions.drawn,
              "processes": accelerator.num_processes}
    (out / f"rank_{accelerator.process_index}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(Path(sys.argv[1]), sys.argv[2])
