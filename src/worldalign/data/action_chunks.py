"""Action chunks cut from a dataset's episodes: every window of ``H`` consecutive actions,
normalised with the dataset's statistics, read from the parquet files alone (no video decoded).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from worldalign.data import lerobot_format as fmt
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.stats import Normalizer
from worldalign.errors import ConfigError, DatasetError


def dataset_action_chunks(
    dataset: LeRobotDataset,
    normalizer: Normalizer,
    horizon: int,
    *,
    stride: int = 1,
    episodes: Iterable[int] | None = None,
) -> np.ndarray:
    """``(N, horizon, A)`` float32 normalised chunks: the windows of each episode of ``episodes``
    (default: all) starting at frames ``0, stride, 2 * stride, ...`` that fit inside it (episodes
    shorter than ``horizon`` give none).

    A ``DatasetError`` naming the dataset, the episode, the frame and the dimension when an
    action is NaN or infinite; a ``ConfigError`` when no episode is long enough.
    """
    if horizon < 1 or stride < 1:
        raise ConfigError(f"action chunks: horizon={horizon}, stride={stride}; expected both >= 1")
    order = list(range(dataset.num_episodes)) if episodes is None else list(episodes)
    chunks = []
    for index, actions in zip(order, dataset.iter_actions(order), strict=True):
        bad = np.argwhere(~np.isfinite(actions))
        if len(bad):
            frame, dim = bad[0]
            raise DatasetError(
                f"{dataset.root}: episode {index} column {fmt.ACTION!r} is {actions[frame, dim]} at frame {frame}, "
                f"dimension {dim} ({len(bad)} non-finite value(s) in the episode); expected finite actions "
                "(clean or regenerate the dataset)"
            )
        if len(actions) < horizon:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(actions, horizon, axis=0)[::stride]  # (W, A, H)
        chunks.append(normalizer.normalize(fmt.ACTION, windows.transpose(0, 2, 1)))
    if not chunks:
        raise ConfigError(
            f"{dataset.root}: no selected episode has {horizon} actions (of {len(order)} episode(s), the longest has "
            f"{max(dataset.episode_lengths[order], default=0)}); "
            "expected a horizon no longer than the episodes"
        )
    return np.concatenate(chunks).astype(np.float32)
