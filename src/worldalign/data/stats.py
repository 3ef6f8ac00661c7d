"""Normalisation statistics of dataset features, and the ``Normalizer`` built from them.

``RunningStats`` accumulates min/max/mean/std/count of one feature batch by batch and merges
exactly (Chan, Golub & LeVeque's pairwise variance update), so per-episode statistics combine
into dataset statistics without a second pass. Quantiles are exact: the values of features
that want them are kept (vectors only; a few floats per frame).

The layout is LeRobot's ``meta/stats.json``: ``{feature: {stat: list}}`` with ``min, max,
mean, std, count`` and ``q01``/``q99``; image statistics are per channel, shape ``(3, 1, 1)``,
on pixels scaled to [0, 1].
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import torch

from worldalign.data import lerobot_format as fmt
from worldalign.data.types import Episode
from worldalign.errors import DatasetError
from worldalign.utils.atomic import atomic_write_json

Stats = dict[str, dict[str, np.ndarray]]
"""``{feature: {stat: array}}``, the in-memory form of ``meta/stats.json``."""

DEFAULT_QUANTILES = (0.01, 0.99)
# Image statistics of a long episode use evenly spaced frames, as LeRobot does: every frame of
# a 500-step episode at camera resolution costs seconds and changes nothing that matters.
IMAGE_STATS_MAX_FRAMES = 100


def quantile_name(q: float) -> str:
    """The stats key of quantile ``q``: 0.01 -> ``q01``, 0.5 -> ``q50``, 0.99 -> ``q99``."""
    return f"q{round(q * 100):02d}"


class RunningStats:
    """min/max/mean/std/count (+ quantiles) of one feature, accumulated over batches.

    A batch is ``(N, ..., D)``: ``count`` grows by N (frames) and every statistic reduces all
    axes but the last. ``of_images`` builds the per-channel statistics of uint8 frames.
    """

    def __init__(self, *, quantiles: Sequence[float] = ()) -> None:
        self.quantiles = tuple(quantiles)
        self.count = 0
        self._n = 0  # values reduced per dimension (N times the inner axes); 0 = no data yet
        self._min = self._max = self._mean = np.zeros(0)
        self._m2 = np.zeros(0)  # sum of squared deviations from the mean
        self._kept: list[np.ndarray] = []

    def update(self, values: np.ndarray) -> None:
        """Add a batch ``(N, ..., D)``."""
        flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
        if flat.shape[0] == 0:
            return
        batch = RunningStats(quantiles=self.quantiles)
        batch.count = values.shape[0]
        batch._n = flat.shape[0]
        batch._min = flat.min(axis=0)
        batch._max = flat.max(axis=0)
        batch._mean = flat.mean(axis=0)
        batch._m2 = np.square(flat - batch._mean).sum(axis=0)
        if self.quantiles:
            batch._kept = [flat.astype(np.float32)]
        self.merge(batch)

    @classmethod
    def of_images(cls, frames: np.ndarray) -> RunningStats:
        """Per-channel statistics of ``(T, H, W, 3)`` uint8 frames, on pixels scaled to [0, 1].

        Exact, from a 256-bin histogram per channel (10x faster than float reductions);
        ``count`` is the number of frames used (at most ``IMAGE_STATS_MAX_FRAMES``).
        """
        stats = cls()
        if len(frames) == 0:
            return stats
        picks = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), IMAGE_STATS_MAX_FRAMES)).round().astype(int))
        sample = frames[picks]
        histograms = np.stack([np.bincount(sample[..., c].ravel(), minlength=256) for c in range(3)])  # (3, 256)
        levels = np.arange(256) / 255.0
        n = int(histograms[0].sum())
        stats.count, stats._n = len(picks), n
        stats._mean = histograms @ levels / n
        stats._m2 = (histograms * np.square(levels[None, :] - stats._mean[:, None])).sum(axis=1)
        present = histograms > 0
        stats._min = levels[present.argmax(axis=1)]
        stats._max = levels[255 - present[:, ::-1].argmax(axis=1)]
        return stats

    def merge(self, other: RunningStats) -> None:
        """Fold ``other`` (statistics of disjoint data of the same feature) into these."""
        if other._n == 0:
            return
        if self._n == 0:
            self.count, self._n = other.count, other._n
            self._min, self._max, self._mean, self._m2 = other._min, other._max, other._mean, other._m2
            self._kept = list(other._kept)
            return
        if self._mean.shape != other._mean.shape:
            raise DatasetError(f"statistics of {self._mean.shape[0]} dimensions merged with {other._mean.shape[0]}")
        n = self._n + other._n
        delta = other._mean - self._mean
        self._mean = self._mean + delta * (other._n / n)
        self._m2 = self._m2 + other._m2 + np.square(delta) * (self._n * other._n / n)
        self._min = np.minimum(self._min, other._min)
        self._max = np.maximum(self._max, other._max)
        self._n = n
        self.count += other.count
        self._kept.extend(other._kept)

    def result(self) -> dict[str, np.ndarray]:
        """``{min, max, mean, std: (D,), count: (1,), q..: (D,)}``; ``DatasetError`` if empty."""
        if self._n == 0:
            raise DatasetError("statistics requested of a feature that received no values")
        out = {
            "min": self._min,
            "max": self._max,
            "mean": self._mean,
            "std": np.sqrt(self._m2 / self._n),
            "count": np.array([self.count], dtype=np.int64),
        }
        if self.quantiles:
            values = np.concatenate(self._kept)
            for q, row in zip(self.quantiles, np.quantile(values, self.quantiles, axis=0), strict=True):
                out[quantile_name(q)] = row.astype(np.float64)
        return out


class StatsAccumulator:
    """Statistics of many features over many episodes (or any batches of frames)."""

    def __init__(self, *, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> None:
        self.quantiles = tuple(quantiles)
        self._features: dict[str, RunningStats] = {}
        self._images: set[str] = set()

    def add(self, feature: str, values: np.ndarray) -> None:
        """Add ``(T, D)`` (or ``(T,)`` scalar) values of a vector feature."""
        values = np.asarray(values)
        if values.ndim == 1:
            values = values[:, None]
        self._stats(feature, image=False).update(values)

    def add_images(self, feature: str, frames: np.ndarray) -> None:
        """Add ``(T, H, W, 3)`` uint8 frames of a camera (per-channel stats in [0, 1])."""
        self._stats(feature, image=True).merge(RunningStats.of_images(frames))

    def add_episode(self, episode: Episode) -> None:
        """Add every camera, the state, the actions and the privileged fields of ``episode``."""
        for view, frames in zip(episode.views, episode.frames, strict=True):
            self.add_images(fmt.video_key(view), frames)
        self.add(fmt.STATE, episode.state)
        self.add(fmt.ACTION, episode.actions)
        for name, values in episode.privileged.items():
            self.add(fmt.privileged_key(name), values.reshape(len(values), -1))

    def merge(self, other: StatsAccumulator) -> None:
        """Fold the statistics of ``other`` (disjoint data) into these."""
        for feature, stats in other._features.items():
            self._stats(feature, image=feature in other._images).merge(stats)

    def result(self) -> Stats:
        """``{feature: {stat: array}}``; image stats shaped ``(3, 1, 1)``."""
        out: Stats = {}
        for feature, stats in self._features.items():
            result = stats.result()
            if feature in self._images:
                result = {k: v if k == "count" else v.reshape(3, 1, 1) for k, v in result.items()}
            out[feature] = result
        return out

    def _stats(self, feature: str, *, image: bool) -> RunningStats:
        if feature not in self._features:
            self._features[feature] = RunningStats(quantiles=() if image else self.quantiles)
            if image:
                self._images.add(feature)
        return self._features[feature]


def compute_stats(episodes: Iterable[Episode], *, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> Stats:
    """Statistics of the cameras, state, actions and privileged fields of ``episodes``."""
    accumulator = StatsAccumulator(quantiles=quantiles)
    for episode in episodes:
        accumulator.add_episode(episode)
    return accumulator.result()


def stats_to_json(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, list[Any]]]:
    """``Stats`` as nested lists, the stats.json form."""
    return {
        feature: {name: np.asarray(value).tolist() for name, value in entry.items()} for feature, entry in stats.items()
    }


def stats_from_json(obj: object, *, source: str) -> Stats:
    """Parse the stats.json form; ``DatasetError`` naming ``source`` if it is malformed."""
    if not isinstance(obj, dict):
        raise DatasetError(f"{source}: expected a JSON object {{feature: {{stat: list}}}}, got {type(obj).__name__}")
    out: Stats = {}
    for feature, entry in obj.items():
        if not isinstance(entry, dict):
            raise DatasetError(
                f"{source}: stats of feature {feature!r} must be an object {{stat: list}}, got {entry!r:.80}"
            )
        try:
            out[feature] = {
                name: np.asarray(value, dtype=np.int64 if name == "count" else np.float64)
                for name, value in entry.items()
            }
        except (TypeError, ValueError) as error:
            raise DatasetError(f"{source}: stats of feature {feature!r} are not numeric lists: {error}") from error
    return out


def save_stats(path: str | os.PathLike[str], stats: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write ``stats`` as LeRobot's stats.json, atomically."""
    atomic_write_json(path, stats_to_json(stats))


def load_stats(path: str | os.PathLike[str]) -> Stats:
    """Read a stats.json; ``DatasetError`` naming the file if missing or malformed."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: statistics file not found") from None
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: not valid JSON: {error}") from error
    return stats_from_json(obj, source=str(path))


def check_statistics(source: str, feature: str, statistics: Mapping[str, np.ndarray]) -> None:
    """A ``DatasetError`` naming ``source`` (the stats file), ``feature``, the statistic and the
    dimensions when a value is NaN or infinite, a ``std`` is negative or a ``max`` below its
    ``min``."""
    for name, values in statistics.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DatasetError(
                f"{source}: feature {feature!r} statistic {name!r} is {values[bad].tolist()[:5]} at dimension(s) "
                f"{bad.tolist()[:5]}; expected finite numbers (recompute the statistics of the data)"
            )
    if "std" in statistics and (statistics["std"] < 0).any():
        bad = np.flatnonzero(statistics["std"] < 0)
        raise DatasetError(
            f"{source}: feature {feature!r} statistic 'std' is negative at dimension(s) {bad.tolist()[:5]}; "
            "expected >= 0 (0: a constant dimension)"
        )
    if "min" in statistics and "max" in statistics and (statistics["max"] < statistics["min"]).any():
        bad = np.flatnonzero(statistics["max"] < statistics["min"])
        raise DatasetError(f"{source}: feature {feature!r} has 'max' below 'min' at dimension(s) {bad.tolist()[:5]}")


NormalizationMode = Literal["mean_std", "min_max"]
_MODE_STATS: dict[str, tuple[str, str]] = {"mean_std": ("mean", "std"), "min_max": ("min", "max")}
# Guards the division for constant dimensions (a gripper never opened); LeRobot's value.
_EPS = 1e-8

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


class Normalizer:
    """Maps features to a normalised range and back, from dataset statistics.

    ``mean_std``: ``(x - mean) / std``. ``min_max``: ``[min, max] -> [-1, 1]``. A feature
    without the statistics its mode needs is an error when the normalizer is built, and a
    feature it was not built for is an error when used: nothing passes through unnormalised.
    Statistics must be finite, with ``std >= 0`` and ``max >= min`` (``check_statistics``); a
    zero spread is a constant dimension (a gripper never opened), which maps to 0.
    """

    def __init__(
        self,
        stats: Mapping[str, Mapping[str, np.ndarray]],
        *,
        mode: NormalizationMode = "mean_std",
        features: Sequence[str] = (fmt.ACTION, fmt.STATE),
        source: str = "stats",
    ) -> None:
        if mode not in _MODE_STATS:
            raise DatasetError(f"normalization mode {mode!r}: expected one of {sorted(_MODE_STATS)}")
        self.mode = mode
        self.source = source
        self.stats: Stats = {}
        self._offset: dict[str, np.ndarray] = {}
        self._scale: dict[str, np.ndarray] = {}
        for feature in features:
            if feature not in stats:
                raise DatasetError(
                    f"{source}: no statistics for feature {feature!r}; features with statistics: {sorted(stats)}"
                )
            needed = _MODE_STATS[mode]
            missing = [name for name in needed if name not in stats[feature]]
            if missing:
                raise DatasetError(
                    f"{source}: feature {feature!r} lacks statistic(s) {missing} needed by {mode} normalization; "
                    f"it has {sorted(stats[feature])}"
                )
            first, second = (np.asarray(stats[feature][name], dtype=np.float64).reshape(-1) for name in needed)
            check_statistics(source, feature, {needed[0]: first, needed[1]: second})
            self.stats[feature] = {needed[0]: first, needed[1]: second}
            if mode == "mean_std":
                self._offset[feature], self._scale[feature] = first, second + _EPS
            else:
                self._offset[feature], self._scale[feature] = (first + second) / 2, (second - first) / 2 + _EPS

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        mode: NormalizationMode = "mean_std",
        features: Sequence[str] = (fmt.ACTION, fmt.STATE),
    ) -> Normalizer:
        """Build from a stats.json (a dataset's, or one written by ``save``)."""
        return cls(load_stats(path), mode=mode, features=features, source=str(path))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the statistics this normalizer uses as a stats.json (e.g. into a checkpoint)."""
        save_stats(path, self.stats)

    @property
    def features(self) -> tuple[str, ...]:
        """The features this normalizer maps."""
        return tuple(self.stats)

    def normalize(self, feature: str, x: ArrayT) -> ArrayT:
        """``x`` ``(..., D)`` mapped to the normalised range (same type, dtype and device)."""
        offset, scale = self._params(feature, x)
        return (x - offset) / scale

    def unnormalize(self, feature: str, x: ArrayT) -> ArrayT:
        """The inverse of ``normalize``."""
        offset, scale = self._params(feature, x)
        return x * scale + offset

    def _params(self, feature: str, x: ArrayT) -> tuple[ArrayT, ArrayT]:
        if feature not in self._offset:
            raise DatasetError(
                f"{self.source}: this normalizer has no statistics for {feature!r}; it maps {sorted(self._offset)}"
            )
        offset, scale = self._offset[feature], self._scale[feature]
        if x.shape[-1] != offset.shape[0]:
            raise DatasetError(
                f"{self.source}: feature {feature!r} has {offset.shape[0]} dimensions in the statistics, "
                f"the values have {x.shape[-1]} (shape {tuple(x.shape)})"
            )
        if isinstance(x, torch.Tensor):
            return (
                torch.as_tensor(offset, dtype=x.dtype, device=x.device),
                torch.as_tensor(scale, dtype=x.dtype, device=x.device),
            )
        return offset.astype(x.dtype, copy=False), scale.astype(x.dtype, copy=False)
