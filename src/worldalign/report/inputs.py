"""The result files a report is built from: recognised by their content, checked field by field.

An input is a JSON file or a run folder:

- a rollout's ``metrics.json`` (``worldalign rollout``): per-horizon PSNR/SSIM/LPIPS of one context
  policy, its baselines, its cost and its videos (beside the file);
- an alignment's ``before_after.json`` (``worldalign align``): the held-out evaluation before and
  after, and its videos (listed relative to the run folder); its run folder's TensorBoard log
  gives the reward and held-out curves;
- an evaluation's ``eval.json`` (``worldalign eval``): several world models on the same starts,
  per split: per-horizon curves per context policy, baselines, cost, action gap, reward terms
  overall and per task, and side-by-side videos (listed relative to its folder);
- a training run folder with a TensorBoard log and none of these files (``worldalign train``): its
  loss and probe curves.

Anything else, a file from another command, or one from an older version that lacks a field the
report needs, is a ``ResultFileError`` naming the file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worldalign.errors import ResultFileError

# The names the stages write (stages.rollout.METRICS_FILE, stages.align.SUMMARY_FILE,
# stages.evaluate.EVAL_FILE / EVAL_FORMAT / EVAL_FORMAT_VERSION, runs.layout.TENSORBOARD_DIR);
# tests/report checks they agree.
METRICS_FILE = "metrics.json"
SUMMARY_FILE = "before_after.json"
EVAL_FILE = "eval.json"
EVAL_FORMAT, EVAL_FORMAT_VERSION = "worldalign-eval", 1
TENSORBOARD_DIR = "tensorboard"
ROLLOUT_METRICS = ("psnr", "ssim", "lpips")
SEED_SPREAD_SUFFIX = "/seed_std"


def headline_terms(names: Iterable[str]) -> list[str]:
    """The reward terms a summary shows: every reward's value, its success component
    (``execution/success``) and a judge's dimensions (``judge/...``, ``judge_teacher/...``); the
    other components stay in the result file."""
    return [name for name in names if "/" not in name or name.endswith("/success") or name.startswith("judge")]


@dataclass(frozen=True)
class RolloutResult:
    """A rollout's ``metrics.json``: one context policy's per-horizon scores and videos."""

    source: Path
    policy: str
    window: int | None
    context: int
    horizon: int
    episodes: list[int]
    views: list[str]
    curves: dict[str, list[float]]
    """metric -> mean per horizon 1..horizon."""
    baselines: dict[str, dict[str, list[float]]]
    """baseline name (copy_last, mean_frame, autoencoder_ceiling) -> metric -> per horizon."""
    mean_frame_latency_s: float
    peak_context_frames: int
    peak_sequence_tokens: int
    videos: list[Path]


@dataclass(frozen=True)
class AlignmentResult:
    """An alignment's ``before_after.json``: the held-out evaluation before and after, and videos."""

    source: Path
    algorithm: str
    conditions: str
    rewards: str
    iterations: int
    training_seconds: float
    before: dict[str, float] | None
    after: dict[str, float]
    videos: list[Path]
    log: Path | None
    """The run's TensorBoard folder, when there is one."""


@dataclass(frozen=True)
class TrainingLog:
    """A training run folder read for its TensorBoard curves only."""

    source: Path
    log: Path


@dataclass(frozen=True)
class EvalSplit:
    """One split of an evaluation: every (model, policy) rollout scored on the same episodes."""

    name: str
    episodes: list[int]
    tasks: list[str]
    curves: dict[str, dict[str, list[float]]]
    """"model (policy)" -> metric -> mean per horizon 1..horizon."""
    spread: dict[str, dict[str, list[float]]]
    """The same, the standard deviation over sampling seeds."""
    baselines: dict[str, dict[str, list[float]]]
    """baseline name (copy_last, mean_frame, autoencoder_ceiling) -> metric -> per horizon."""
    cost: dict[str, tuple[float, int, int]]
    """"model (policy)" -> (seconds per frame, peak context frames, peak tokens)."""
    action_gap: dict[str, dict[str, list[float]]]
    """model -> metric -> true-minus-shuffled-action gap per horizon (action-conditioned models)."""
    rewards: dict[str, dict[str, float]]
    """model -> reward term -> mean; empty when the evaluation scored no rewards."""
    reward_spread: dict[str, dict[str, float]]
    rewards_per_task: dict[str, dict[str, dict[str, float]]]
    """model -> task -> reward term -> mean."""
    videos: list[Path]


@dataclass(frozen=True)
class EvalResult:
    """An evaluation's ``eval.json``: world models compared on one or two splits."""

    source: Path
    models: list[str]
    metrics: list[str]
    horizon: int
    reward_policy: str
    splits: list[EvalSplit]

    @property
    def videos(self) -> list[Path]:
        return [video for split in self.splits for video in split.videos]


ReportInput = RolloutResult | AlignmentResult | EvalResult | TrainingLog


def read_input(path: Path) -> ReportInput:
    """Recognise ``path`` (a result JSON file or a run folder) and read it, checked."""
    if path.is_dir():
        for name in (METRICS_FILE, SUMMARY_FILE, EVAL_FILE):
            if (path / name).is_file():
                return read_input(path / name)
        if (path / TENSORBOARD_DIR).is_dir():
            return TrainingLog(source=path, log=path / TENSORBOARD_DIR)
        raise ResultFileError(
            f"{path}: a folder with no result worldalign report reads: expected {METRICS_FILE} (worldalign rollout), "
            f"{SUMMARY_FILE} (worldalign align), {EVAL_FILE} (worldalign eval) or {TENSORBOARD_DIR}/ (worldalign train)"
        )
    if not path.is_file():
        raise ResultFileError(f"{path}: no such file or folder")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultFileError(f"{path}: not a JSON file ({error})") from None
    if isinstance(data, dict) and "policy" in data and "per_episode" in data:
        return _rollout(path, data)
    if isinstance(data, dict) and "algorithm" in data and "evaluations" in data:
        return _alignment(path, data)
    if isinstance(data, dict) and data.get("format") == EVAL_FORMAT:
        return _evaluation(path, data)
    found = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, dict) else type(data).__name__
    raise ResultFileError(
        f"{path}: not a result worldalign report reads: a rollout's {METRICS_FILE} has the fields 'policy' and "
        f"'per_episode', an alignment's {SUMMARY_FILE} 'algorithm' and 'evaluations', an evaluation's {EVAL_FILE} "
        f"'format': {EVAL_FORMAT!r} (found: {found})"
    )


def _rollout(path: Path, data: dict[str, Any]) -> RolloutResult:
    fields = _Fields(path, data, "worldalign rollout")
    horizon = fields.integer("horizon")
    metrics = [name for name in ROLLOUT_METRICS if name in data] or ["psnr"]  # psnr: name it as missing
    curves = {name: fields.curve(name, horizon) for name in metrics}
    baselines = fields.mapping("baselines")
    checked_baselines = {
        str(name): {metric: fields.curve(f"baselines.{name}.{metric}", horizon) for metric in metrics}
        for name in baselines
    }
    window = data.get("window")
    if window is not None and not isinstance(window, int):
        raise fields.wrong("window", "an integer or null")
    return RolloutResult(
        source=path,
        policy=fields.text("policy"),
        window=window,
        context=fields.integer("context"),
        horizon=horizon,
        episodes=fields.integers("episodes"),
        views=fields.texts("views"),
        curves=curves,
        baselines=checked_baselines,
        mean_frame_latency_s=fields.number("mean_frame_latency_s"),
        peak_context_frames=fields.integer("peak_context_frames"),
        peak_sequence_tokens=fields.integer("peak_sequence_tokens"),
        # Written beside metrics.json; the list may hold paths relative to wherever the rollout ran.
        videos=[path.parent / Path(video).name for video in fields.texts("videos")],
    )


def _alignment(path: Path, data: dict[str, Any]) -> AlignmentResult:
    fields = _Fields(path, data, "worldalign align")
    before = None if data.get("before") is None else fields.scalars("before")
    log = path.parent / TENSORBOARD_DIR
    return AlignmentResult(
        source=path,
        algorithm=fields.text("algorithm"),
        conditions=fields.text("conditions"),
        rewards=fields.text("rewards"),
        iterations=fields.integer("iterations"),
        training_seconds=fields.number("training_seconds"),
        before=before,
        after=fields.scalars("after"),
        videos=[path.parent / video for video in fields.texts("videos")],
        log=log if log.is_dir() else None,
    )


def _evaluation(path: Path, data: dict[str, Any]) -> EvalResult:
    fields = _Fields(path, data, "worldalign eval")
    if fields.get("format_version") != EVAL_FORMAT_VERSION:
        raise ResultFileError(
            f"{path}: field 'format_version' is {data['format_version']!r}; this worldalign reads version "
            f"{EVAL_FORMAT_VERSION} (rerun `worldalign eval` to write it)"
        )
    metrics = fields.texts("metrics")
    horizon = fields.integer("config.horizon")
    models = list(fields.mapping("world_models"))
    splits = [_eval_split(fields, name, models, metrics, horizon) for name in fields.mapping("splits")]
    return EvalResult(path, models, metrics, horizon, fields.text("reward_policy"), splits)


def _eval_split(fields: _Fields, name: str, models: list[str], metrics: list[str], horizon: int) -> EvalSplit:
    at = f"splits.{name}"
    curves: dict[str, dict[str, list[float]]] = {}
    spread: dict[str, dict[str, list[float]]] = {}
    cost: dict[str, tuple[float, int, int]] = {}
    gaps: dict[str, dict[str, list[float]]] = {}
    rewards: dict[str, dict[str, float]] = {}
    reward_spread: dict[str, dict[str, float]] = {}
    per_task: dict[str, dict[str, dict[str, float]]] = {}
    baselines: dict[str, dict[str, list[float]]] = {}
    for model in models:
        quality = f"{at}.models.{model}.quality"
        for key in fields.mapping(f"{quality}.policies"):
            policy, row = f"{quality}.policies.{key}", f"{model} ({key})"
            curves[row] = {metric: fields.curve(f"{policy}.curves.mean.{metric}", horizon) for metric in metrics}
            spread[row] = {metric: fields.curve(f"{policy}.curves.std.{metric}", horizon) for metric in metrics}
            cost[row] = (
                fields.number(f"{policy}.mean_frame_latency_s"),
                fields.integer(f"{policy}.peak_context_frames"),
                fields.integer(f"{policy}.peak_sequence_tokens"),
            )
        if fields.get(f"{quality}.action_gap") is not None:
            gaps[model] = {
                metric: fields.curve(f"{quality}.action_gap.gap_mean.{metric}", horizon) for metric in metrics
            }
        named = {f"baselines.{name}": name for name in fields.mapping(f"{quality}.baselines")}
        for where, baseline in {**named, "autoencoder_ceiling": "autoencoder_ceiling"}.items():
            values = {metric: fields.curve(f"{quality}.{where}.mean.{metric}", horizon) for metric in metrics}
            baselines.setdefault(baseline, values)  # the same starts: every model's baselines agree
        if "rewards" in fields.mapping(f"{at}.models.{model}"):
            rewards[model] = fields.scalars(f"{at}.models.{model}.rewards.mean")
            reward_spread[model] = fields.scalars(f"{at}.models.{model}.rewards.seed_std")
            per_task[model] = fields.nested_scalars(f"{at}.models.{model}.rewards.per_task")
    return EvalSplit(
        name=name,
        episodes=fields.integers(f"{at}.episodes"),
        tasks=fields.texts(f"{at}.tasks"),
        curves=curves,
        spread=spread,
        baselines=baselines,
        cost=cost,
        action_gap=gaps,
        rewards=rewards,
        reward_spread=reward_spread,
        rewards_per_task=per_task,
        videos=[fields.path.parent / video for video in fields.texts(f"{at}.videos")],
    )


class _Fields:
    """Typed access to a result file's fields; each failure names the file and the field."""

    def __init__(self, path: Path, data: dict[str, Any], writer: str) -> None:
        self.path, self.data, self.writer = path, data, writer

    def wrong(self, name: str, expected: str) -> ResultFileError:
        return ResultFileError(f"{self.path}: field {name!r} should be {expected}")

    def get(self, name: str) -> Any:
        """The value at a dotted ``name``; missing means another command or an older version."""
        value: Any = self.data
        for part in name.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ResultFileError(
                    f"{self.path}: field {name!r} is missing: written by an older version of worldalign or by "
                    f"another command (rerun `{self.writer}` to write it)"
                )
            value = value[part]
        return value

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str):
            raise self.wrong(name, "text")
        return value

    def integer(self, name: str) -> int:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong(name, "an integer")
        return value

    def number(self, name: str) -> float:
        value = self.get(name)
        if value is None:  # NaN is written as null (utils.json_values)
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.wrong(name, "a number")
        return float(value)

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.get(name)
        if not isinstance(value, dict):
            raise self.wrong(name, "an object")
        return value

    def _list(self, name: str) -> list[Any]:
        value = self.get(name)
        if not isinstance(value, list):
            raise self.wrong(name, "a list")
        return value

    def integers(self, name: str) -> list[int]:
        values = self._list(name)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise self.wrong(name, "a list of integers")
        return values

    def texts(self, name: str) -> list[str]:
        values = self._list(name)
        if not all(isinstance(v, str) for v in values):
            raise self.wrong(name, "a list of text")
        return values

    def curve(self, name: str, horizon: int) -> list[float]:
        values = self._list(name)
        if len(values) != horizon or not all(_is_number_or_null(v) for v in values):
            raise self.wrong(name, f"a list of {horizon} numbers (one per horizon)")
        return [math.nan if v is None else float(v) for v in values]

    def scalars(self, name: str) -> dict[str, float]:
        values = self.mapping(name)
        if not all(_is_number_or_null(v) for v in values.values()):
            raise self.wrong(name, "an object of numbers")
        return {key: math.nan if v is None else float(v) for key, v in values.items()}

    def nested_scalars(self, name: str) -> dict[str, dict[str, float]]:
        """An object of objects of numbers, keyed by names that may hold dots (tasks)."""
        values = self.mapping(name)
        if not all(
            isinstance(inner, dict) and all(map(_is_number_or_null, inner.values())) for inner in values.values()
        ):
            raise self.wrong(name, "an object of objects of numbers")
        return {
            key: {k: math.nan if v is None else float(v) for k, v in inner.items()} for key, inner in values.items()
        }


def _is_number_or_null(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
