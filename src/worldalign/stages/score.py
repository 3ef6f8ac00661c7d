"""The scoring stage: named rewards on the recorded episodes of a dataset, averaged per task.

Each chosen episode is cut into clips of ``clip_frames`` frames (every ``stride`` frames, after
``context_frames`` of context), the clips are scored as rollouts by the composed rewards (EVA's
executability of the actions the inverse dynamics model decodes, by default), and every term is
averaged over the task's clips. Recorded episodes are the reference a generated rollout's scores
are read against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import ConfigError
from worldalign.rewards.decode import load_idm
from worldalign.rewards.episode_rollouts import episode_rollout, stack_rollouts
from worldalign.rewards.registry import build_rewards


@dataclass(frozen=True)
class DatasetScores:
    """Mean reward terms per task.

    Attributes:
        weights: the composed rewards' weights (``total`` is their weighted sum).
        per_task: ``{task: {"total" | term: mean over the task's clips}}``.
    """

    weights: dict[str, float]
    per_task: dict[str, dict[str, float]]


def score_dataset(
    dataset: str | Path,
    rewards: str,
    *,
    idm: str | Path | None = None,
    clip_frames: int = 16,
    context_frames: int = 3,
    stride: int = 16,
    episodes: Sequence[int] | None = None,
    progress: bool = True,
) -> DatasetScores:
    """Score clips of ``dataset``'s recorded episodes with the rewards ``rewards`` names
    (``name=weight`` pairs), through the inverse dynamics model ``idm`` (default: the shipped one).

    Raises:
        ConfigError: ``clip_frames < 2``, ``context_frames < 1`` or ``stride < 1``.
    """
    if clip_frames < 2 or context_frames < 1 or stride < 1:
        raise ConfigError(
            f"clip_frames {clip_frames}, context_frames {context_frames}, stride {stride}: expected >= 2, >= 1 and >= 1"
        )
    data = LeRobotDataset(dataset)
    model = load_idm(idm)
    composer = build_rewards(rewards, idm=model)
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    chosen = list(episodes) if episodes else list(range(data.num_episodes))
    for index in tqdm(chosen, desc="scoring episodes", disable=not progress):
        episode = data.episode(index, views=model.config.views)
        starts = range(context_frames, episode.length - clip_frames + 1, stride)
        clips = [episode_rollout(episode, start=s, length=clip_frames, context_frames=context_frames) for s in starts]
        if not clips:
            continue
        output = composer(stack_rollouts(clips))
        for key, scores in {"total": output.total, **output.terms}.items():
            values[episode.task][key].extend(scores.tolist())
    per_task = {task: {key: float(np.nanmean(v)) for key, v in terms.items()} for task, terms in values.items()}
    return DatasetScores(weights=dict(composer.weights), per_task=per_task)
