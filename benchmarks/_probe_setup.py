"""What the update probes share: the align loop's rollout-state conditions of a world model, and
the cross-batch cosine that measures the share of signal in an update's gradient."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from worldalign.algos.conditions import RolloutStateConditions
from worldalign.data.clips import split_episodes, spread_evenly
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.text.instruction_encoder import InstructionEncoder
from worldalign.models.world_model import WorldModel
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.runs.side_files import scratch_instruction_cache
from worldalign.sampling.context_policies import SlidingWindowReencode
from worldalign.stages.align import episode_pool


@dataclass
class RolloutStateProbe:
    """A world model in eval mode, its autoencoder and the align CLI's default rollout states."""

    policy: WorldModel
    autoencoder: Autoencoder
    conditions: RolloutStateConditions
    instructions: InstructionEncoder | None


def rollout_state_probe(
    world_model: Path, autoencoder: Path, dataset: Path, max_train_episodes: int | None = None
) -> RolloutStateProbe:
    """The training episodes of ``dataset`` (evenly thinned to ``max_train_episodes``, as the
    reproduce recipes load them) as rollout states: 2 real frames, a prefix of the model's own
    0-3 chunks, continuations of 1-2 chunks, Sliding Window Re-encoding over 6 frames."""
    run = load_world_model_run(world_model, torch.device("cpu"))
    data = LeRobotDataset(dataset)
    train, _ = split_episodes(data.task_names, held_out_fraction=0.1)
    pool = episode_pool(data, spread_evenly(train, max_train_episodes), tuple(data.views), run.normalizer)
    instructions = None
    if run.instruction_encoder is not None:  # a copy of the cache: the model folder is never written
        instructions = InstructionEncoder(scratch_instruction_cache(run.model_dir))
    return RolloutStateProbe(
        policy=run.model.eval(),
        autoencoder=load_autoencoder(autoencoder),
        conditions=RolloutStateConditions(pool, 2, 3, 2, SlidingWindowReencode(6)),
        instructions=instructions,
    )


def cosines(gradients: Tensor) -> str:
    """Mean ± standard error of the cosine between every pair of rows of ``gradients (N, P)``."""
    unit = gradients / gradients.norm(dim=1, keepdim=True)
    pairs = torch.tensor([float(unit[i] @ unit[j]) for i, j in itertools.combinations(range(len(unit)), 2)])
    return f"{float(pairs.mean()):+.4f} ± {float(pairs.std() / len(pairs) ** 0.5):.4f}"

