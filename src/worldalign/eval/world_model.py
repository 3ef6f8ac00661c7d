"""World-model quality: rollouts from real episode starts, scored at every horizon.

For each episode, its first ``context`` real frames are encoded and the world model generates
``horizon`` frames driven by the episode's recorded actions (and instruction); the frames are
scored against the recorded future with PSNR, SSIM (Wang et al. 2004) and LPIPS (Zhang et al.
2018, arXiv:1801.03924) at every horizon 1..T, per context policy (full history, fixed window,
RoboAlign-R1's Sliding Window Re-encoding) and over several sampling seeds. Episodes are rolled
out B at a time (one batched ``rollout`` call per batch, policy and seed).

The numbers are read against references scored the same way:

- ``copy_last``: every future frame is the last context frame (a static world).
- ``mean_frame``: every future frame is the per-view mean of the episode's own ``context``
  frames. It uses only what the model sees, needs no pass over the training set, and scores a
  model that has learnt nothing beyond "the scene stays roughly as it was".
- the autoencoder ceiling: ``decode(encode(real future))`` against the real future; the world
  model generates latents, so no rollout can beat its autoencoder.
- the action gap (action-conditioned models only): the same rollouts, with the same noise, but
  with the future actions of another episode of the batch (a seeded cyclic permutation, so no
  episode keeps its own). The context actions stay true, so the model sees a consistent start;
  the gap is how much better the true actions score (PSNR and SSIM: true - shuffled; LPIPS:
  shuffled - true; positive means the model uses its actions).

Noise: rollout batch ``b`` under seed ``s`` draws its noise from ``Generator(s * 100003 + b)``,
so every policy (and the shuffled-action rollouts) sees the same first-chunk noise: comparisons
are paired. Latencies are per generated frame of a whole batch.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from worldalign.data import lerobot_format as fmt
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_unit_range
from worldalign.data.stats import Normalizer
from worldalign.errors import ConfigError, DatasetError
from worldalign.metrics import METRIC_NAMES, compare_frames
from worldalign.metrics.lpips import MIN_SIDE
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.text.instruction_encoder import InstructionEncoder
from worldalign.models.world_model import WorldModel
from worldalign.sampling.context_policies import ContextPolicy, SlidingWindowReencode, check_policy
from worldalign.sampling.rollout import RolloutResult, rollout
from worldalign.sampling.samplers import EulerODESampler

TABLE_HORIZONS = (1, 2, 4, 8, 16, 24, 32, 48)
PSNR_MAX_DB = 100.0
COPY_LAST = "copy_last"
MEAN_FRAME = "mean_frame"
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "lpips": False}
METRIC_LABELS = {"psnr": "PSNR (dB) ↑", "ssim": "SSIM ↑", "lpips": "LPIPS ↓"}
_NOISE_SEED_STRIDE = 100_003

_Score = Callable[[Tensor, Tensor], dict[str, Tensor]]
"""``(generated, real)`` frames in [-1, 1] -> per-metric ``(B, V, T)`` scores."""

RolloutCallback = Callable[[str, int, list[int], Tensor, Tensor], None]
"""``(policy key, seed, episode indices, generated (B, V, T, 3, H, W), real future)``, frames in [-1, 1]."""


@dataclass
class Curves:
    """Per-horizon scores of one method; every list has one value per horizon 1..T.

    Attributes:
        mean: metric -> mean over seeds of the mean over episodes and views.
        std: metric -> standard deviation over seeds of that mean (0 with one seed or for a
            deterministic method).
        per_view: view -> metric -> mean over seeds and episodes.
        per_episode: episode index (as text) -> metric -> mean over seeds and views.
    """

    mean: dict[str, list[float]]
    std: dict[str, list[float]]
    per_view: dict[str, dict[str, list[float]]]
    per_episode: dict[str, dict[str, list[float]]]

    @classmethod
    def from_scores(cls, scores: Mapping[str, Tensor], episodes: Sequence[int], views: Sequence[str]) -> Curves:
        """Summarise ``{metric: (S seeds, N episodes, V views, T)}`` scores."""
        mean: dict[str, list[float]] = {}
        std: dict[str, list[float]] = {}
        per_view: dict[str, dict[str, list[float]]] = {view: {} for view in views}
        per_episode: dict[str, dict[str, list[float]]] = {str(episode): {} for episode in episodes}
        for metric, values in scores.items():
            values = values.double()
            by_seed = values.mean(dim=(1, 2))  # (S, T)
            mean[metric] = by_seed.mean(0).tolist()
            std[metric] = by_seed.std(0, correction=1 if by_seed.shape[0] > 1 else 0).tolist()
            for v, view in enumerate(views):
                per_view[view][metric] = values[:, :, v].mean(dim=(0, 1)).tolist()
            for n, episode in enumerate(episodes):
                per_episode[str(episode)][metric] = values[:, n].mean(dim=(0, 1)).tolist()
        return cls(mean=mean, std=std, per_view=per_view, per_episode=per_episode)


@dataclass
class PolicyResult:
    """Rollouts under one context policy.

    Attributes:
        policy: the context policy's name (``full_history``, ``fixed_window``, ...).
        window: its resolved context limit in frames (the SWR window W).
        curves: the scores against the recorded future.
        frame_latency_s: seconds per generated frame of a batch, per horizon, mean over batches
            and seeds.
        mean_frame_latency_s: their mean.
        peak_context_frames: most context frames any world-model call saw.
        peak_sequence_tokens: longest token sequence the transformer attended over.
    """

    policy: str
    window: int
    curves: Curves
    frame_latency_s: list[float]
    mean_frame_latency_s: float
    peak_context_frames: int
    peak_sequence_tokens: int


@dataclass
class ActionGap:
    """How much better rollouts score with their own actions than with another episode's.

    Attributes:
        policy: the key (in ``WorldModelReport.policies``) of the policy the rollouts used.
        action_sources: episode (as text) -> the episode whose future actions it was given.
        shuffled: the scores of the shuffled-action rollouts.
        gap_mean: metric -> per horizon, mean over seeds of the paired gap (positive: the true
            actions score better; PSNR/SSIM true - shuffled, LPIPS shuffled - true).
        gap_std: metric -> its standard deviation over seeds.
    """

    policy: str
    action_sources: dict[str, int]
    shuffled: Curves
    gap_mean: dict[str, list[float]]
    gap_std: dict[str, list[float]]


@dataclass
class WorldModelReport:
    """Everything ``evaluate_world_model`` measured; ``to_json`` and ``markdown`` render it."""

    episodes: list[int]
    views: list[str]
    context: int
    horizon: int
    seeds: list[int]
    sampling_steps: int
    batch_size: int
    metrics: list[str]
    policies: dict[str, PolicyResult]
    baselines: dict[str, Curves]
    autoencoder_ceiling: Curves
    action_gap: ActionGap | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field."""
        return dataclasses.asdict(self)

    def best_swr(self, metric: str = "psnr") -> str | None:
        """Key of the SWR policy with the best ``metric`` averaged over horizons 1..T, if any."""
        swr = {key: result for key, result in self.policies.items() if result.policy == SlidingWindowReencode.name}
        if not swr:
            return None
        sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
        return max(swr, key=lambda key: sign * float(np.mean(swr[key].curves.mean[metric])))

    def markdown(self, horizons: Sequence[int] = TABLE_HORIZONS) -> str:
        """Markdown tables: quality per horizon (policies, baselines, AE ceiling) per metric, the
        action gap, the SWR window sweep and the cost of each policy."""
        shown = [h for h in horizons if 1 <= h <= self.horizon]
        sections = [self._quality_tables(shown), self._action_gap_table(shown), self._swr_table(), self._cost_table()]
        sections += ["\n".join(f"- {note}" for note in self.notes)] if self.notes else []
        return "\n\n".join(section for section in sections if section)

    def _quality_tables(self, horizons: Sequence[int]) -> str:
        methods: dict[str, Curves] = {key: result.curves for key, result in self.policies.items()}
        methods |= {"copy last": self.baselines[COPY_LAST], "mean frame": self.baselines[MEAN_FRAME]}
        methods["AE ceiling"] = self.autoencoder_ceiling
        stochastic = set(self.policies)
        tables = []
        for metric in self.metrics:
            rows = [
                [str(h)]
                + [
                    _cell(curves.mean[metric][h - 1], curves.std[metric][h - 1] if key in stochastic else None, metric)
                    for key, curves in methods.items()
                ]  # fmt: skip
                for h in horizons
            ]
            title = (
                f"**{METRIC_LABELS[metric]}** per horizon: {len(self.episodes)} episode(s) x {len(self.views)} "
                f"view(s), mean ± std over {len(self.seeds)} seed(s), context {self.context}"
            )
            tables.append(f"{title}\n\n{_table(['h', *methods], rows)}")
        return "\n\n".join(tables)

    def _action_gap_table(self, horizons: Sequence[int]) -> str:
        gap = self.action_gap
        if gap is None:
            return ""
        rows = [
            [str(h)] + [_cell(gap.gap_mean[m][h - 1], gap.gap_std[m][h - 1], m, signed=True) for m in self.metrics]
            for h in horizons
        ]
        title = (
            f"**Action gap** under {gap.policy}: true vs another episode's actions, same noise "
            "(positive: the true actions score better)"
        )
        return f"{title}\n\n{_table(['h', *(f'Δ{m.upper()}' for m in self.metrics)], rows)}"

    def _swr_table(self) -> str:
        best = self.best_swr(self.metrics[0])
        if best is None:
            return ""
        rows = []
        for key, result in self.policies.items():
            if result.policy != SlidingWindowReencode.name:
                continue
            means = [_cell(float(np.mean(result.curves.mean[m])), None, m) for m in self.metrics]
            finals = [_cell(result.curves.mean[m][-1], None, m) for m in self.metrics]
            rows.append(
                [f"{key}{' (best)' if key == best else ''}", str(result.window), *means, *finals]
                + [f"{result.mean_frame_latency_s * 1000:.1f}", str(result.peak_sequence_tokens)]
            )
        header = ["policy", "W", *(f"mean {m}" for m in self.metrics)]
        header += [f"{m} @T={self.horizon}" for m in self.metrics]
        title = f"**SWR window sweep** (best W by mean {self.metrics[0]} over horizons 1..{self.horizon})"
        return f"{title}\n\n{_table([*header, 'ms/frame', 'peak tokens'], rows)}"

    def _cost_table(self) -> str:
        rows = [
            [key, result.policy, str(result.window), f"{result.mean_frame_latency_s * 1000:.1f}"]
            + [str(result.peak_context_frames), str(result.peak_sequence_tokens)]
            for key, result in self.policies.items()
        ]
        header = ["policy", "name", "limit", "ms/frame", "peak context frames", "peak tokens"]
        return f"**Cost** per policy (batch of up to {self.batch_size} rollouts)\n\n{_table(header, rows)}"


def _cell(value: float, std: float | None, metric: str, signed: bool = False) -> str:
    digits = 2 if metric == "psnr" else 3
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text if std is None else f"{text} ± {std:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def derangement(size: int, rng: np.random.Generator) -> list[int]:
    """A random permutation of ``range(size)`` without fixed points (Sattolo 1986: a uniformly
    random single cycle), for ``size >= 2``."""
    if size < 2:
        raise ConfigError(f"a permutation without fixed points needs at least 2 elements, got {size}")
    order = list(range(size))
    for i in range(size - 1, 0, -1):
        j = int(rng.integers(0, i))
        order[i], order[j] = order[j], order[i]
    return order


def usable_episodes(
    dataset: LeRobotDataset, episodes: Sequence[int], context: int, horizon: int
) -> tuple[list[int], list[int]]:
    """``(episodes holding context + horizon frames, those too short)``, in the given order."""
    lengths = dataset.episode_lengths
    for index in episodes:
        if not 0 <= index < dataset.num_episodes:
            raise ConfigError(f"episode {index} does not exist: {dataset.root} has {dataset.num_episodes} episodes")
    usable = [index for index in episodes if int(lengths[index]) >= context + horizon]
    return usable, [index for index in episodes if index not in usable]


@dataclass
class _Batch:
    """One batch of episodes, loaded: pixels in [-1, 1] and the world model's conditions."""

    indices: list[int]
    real: Tensor  # (B, V, context + horizon, 3, H, W)
    actions: Tensor | None  # (B, context + horizon - 1, A), normalised
    instruction: Tensor | None  # (B, E)


def _load_batch(
    dataset: LeRobotDataset,
    indices: list[int],
    views: Sequence[str],
    frames: int,
    normalizer: Normalizer | None,
    instruction_encoder: InstructionEncoder | None,
    device: torch.device,
) -> _Batch:
    episodes = [dataset.episode(index, views) for index in indices]
    pixels = np.stack([episode.frames[:, :frames] for episode in episodes])  # (B, V, T, H, W, 3) uint8
    real = to_unit_range(pixels).to(device)
    actions = None
    if normalizer is not None:
        # actions[t] moves frame t to t + 1: the context's and all generated frames' but the last.
        steps = [normalizer.normalize(fmt.ACTION, episode.actions[: frames - 1]) for episode in episodes]
        actions = torch.from_numpy(np.stack(steps)).float().to(device)
    instruction = None
    if instruction_encoder is not None:
        instruction = instruction_encoder([episode.instruction for episode in episodes]).to(device)
    return _Batch(indices, real, actions, instruction)


def _check_arguments(
    model: WorldModel,
    dataset: LeRobotDataset,
    episodes: Sequence[int],
    views: Sequence[str],
    policies: Mapping[str, ContextPolicy],
    normalizer: Normalizer | None,
    instruction_encoder: InstructionEncoder | None,
    numbers: Mapping[str, int],
    seeds: Sequence[int],
    metrics: Sequence[str],
) -> None:
    for name, value in numbers.items():
        if value < 1:
            raise ConfigError(f"{name}={value}: expected >= 1")
    if not episodes or not seeds or not policies or not metrics:
        raise ConfigError(
            f"nothing to evaluate: {len(episodes)} episode(s), {len(seeds)} seed(s), {len(policies)} policy(ies), "
            f"{len(metrics)} metric(s); each needs at least one"
        )
    unknown = [metric for metric in metrics if metric not in METRIC_NAMES]
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; choose from {list(METRIC_NAMES)}")
    config = model.config
    if config.num_views != len(views):
        raise ConfigError(
            f"the world model was trained on {config.num_views} view(s); views gives {len(views)} ({', '.join(views)})"
        )
    if config.action_dim > 0 and normalizer is None:
        raise ConfigError("the world model is action-conditioned: pass the action normalizer it was trained with")
    if config.instruction_dim > 0 and instruction_encoder is None:
        raise ConfigError("the world model is instruction-conditioned: pass an instruction encoder")
    for policy in policies.values():
        check_policy(policy.resolved(config.max_context_frames), config.max_context_frames, config.future_frames)
    side = min(min(dataset.image_size(view)) for view in views)
    if "lpips" in metrics and side < MIN_SIDE:
        raise ConfigError(f"LPIPS needs frames of at least {MIN_SIDE} px, the dataset's are {side} px: drop 'lpips'")
    _, short = usable_episodes(dataset, episodes, numbers["context"], numbers["horizon"])
    if short:
        index = short[0]
        needed = numbers["context"] + numbers["horizon"]
        raise DatasetError(
            f"episode {index} of {dataset.root} has {int(dataset.episode_lengths[index])} frames; context "
            f"{numbers['context']} + horizon {numbers['horizon']} needs {needed}: choose longer episodes or a "
            "shorter horizon"
        )


class _Scores:
    """Per-method, per-metric, per-seed lists of ``(B, V, T)`` batch scores, in episode order."""

    def __init__(self) -> None:
        self._scores: dict[str, dict[str, dict[int, list[Tensor]]]] = {}

    def add(self, method: str, seed_index: int, scores: Mapping[str, Tensor]) -> None:
        for metric, values in scores.items():
            by_seed = self._scores.setdefault(method, {}).setdefault(metric, {})
            by_seed.setdefault(seed_index, []).append(values.detach().double().cpu())

    def stacked(self, method: str) -> dict[str, Tensor]:
        """``{metric: (S, N, V, T)}``."""
        return {
            metric: torch.stack([torch.cat(by_seed[s]) for s in sorted(by_seed)])
            for metric, by_seed in self._scores[method].items()
        }


def _paired_gap(
    true: Mapping[str, Tensor], shuffled: Mapping[str, Tensor]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Mean and std over seeds of the per-horizon gap (positive: ``true`` scores better)."""
    means: dict[str, list[float]] = {}
    stds: dict[str, list[float]] = {}
    for metric in true:
        sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
        by_seed = (sign * (true[metric] - shuffled[metric])).mean(dim=(1, 2))  # (S, T)
        means[metric] = by_seed.mean(0).tolist()
        stds[metric] = by_seed.std(0, correction=1 if by_seed.shape[0] > 1 else 0).tolist()
    return means, stds


@dataclass
class _Sampling:
    """What every rollout of one evaluation shares."""

    sampler: EulerODESampler
    horizon: int
    guidance_scale: float
    action_guidance_scale: float

    def roll_out(
        self,
        model: WorldModel,
        autoencoder: Autoencoder,
        start: Tensor,
        policy: ContextPolicy,
        batch: _Batch,
        actions: Tensor | None,
        noise_seed: int,
    ) -> RolloutResult:
        """``batch`` rolled out from ``start`` under ``policy``; equal ``noise_seed`` pairs the noise."""
        return rollout(
            model,
            autoencoder,
            start,
            self.horizon,
            policy,
            sampler=self.sampler,
            actions=actions,
            instruction=batch.instruction,
            guidance_scale=self.guidance_scale,
            action_guidance_scale=self.action_guidance_scale,
            generator=torch.Generator().manual_seed(noise_seed),
        )


class _Tally:
    """Everything an evaluation measures, batch by batch, turned into the report's parts at the end."""

    def __init__(self, policies: Mapping[str, ContextPolicy]) -> None:
        self.scores, self.references, self.shuffled = _Scores(), _Scores(), _Scores()
        self.latencies: dict[str, list[Tensor]] = {key: [] for key in policies}
        self.peaks: dict[str, tuple[int, int]] = {key: (0, 0) for key in policies}
        self.action_sources: dict[str, int] = {}

    def add_references(self, autoencoder: Autoencoder, real: Tensor, context: int, score: _Score) -> None:
        """The static baselines and the autoencoder ceiling of one batch (``real``: all its frames)."""
        target = real[:, :, context:]
        self.references.add(COPY_LAST, 0, score(real[:, :, context - 1 : context].expand_as(target), target))
        self.references.add(MEAN_FRAME, 0, score(real[:, :, :context].mean(2, keepdim=True).expand_as(target), target))
        self.references.add("ceiling", 0, score(autoencoder.decode(autoencoder.encode(target)), target))

    def add_rollout(self, key: str, seed_index: int, result: RolloutResult, scores: Mapping[str, Tensor]) -> None:
        self.scores.add(key, seed_index, scores)
        self.latencies[key].append(result.frame_latency_s)
        peak_frames, peak_tokens = self.peaks[key]
        self.peaks[key] = (max(peak_frames, result.peak_context_frames), max(peak_tokens, result.peak_sequence_tokens))

    def policy_results(
        self, policies: Mapping[str, ContextPolicy], max_context_frames: int, episodes: list[int], views: list[str]
    ) -> dict[str, PolicyResult]:
        results = {}
        for key, policy in policies.items():
            latency = torch.stack(self.latencies[key]).mean(0)
            results[key] = PolicyResult(
                policy=policy.name,
                window=policy.resolved(max_context_frames).limit,
                curves=Curves.from_scores(self.scores.stacked(key), episodes, views),
                frame_latency_s=latency.tolist(),
                mean_frame_latency_s=float(latency.mean()),
                peak_context_frames=self.peaks[key][0],
                peak_sequence_tokens=self.peaks[key][1],
            )
        return results

    def action_gap(self, gap_policy: str, episodes: list[int], views: list[str]) -> ActionGap:
        shuffled = self.shuffled.stacked(gap_policy)
        gap_mean, gap_std = _paired_gap(self.scores.stacked(gap_policy), shuffled)
        return ActionGap(
            policy=gap_policy,
            action_sources=self.action_sources,
            shuffled=Curves.from_scores(shuffled, episodes, views),
            gap_mean=gap_mean,
            gap_std=gap_std,
        )

    def reference(self, name: str, episodes: list[int], views: list[str]) -> Curves:
        return Curves.from_scores(self.references.stacked(name), episodes, views)


def _action_gap_plan(
    model: WorldModel, policies: Mapping[str, ContextPolicy], wanted: bool, policy_key: str | None, episodes: int
) -> tuple[str, bool, list[str]]:
    """The policy the action gap is measured under, whether it is measured, and why not."""
    gap_policy = policy_key if policy_key is not None else next(iter(policies))
    if gap_policy not in policies:
        raise ConfigError(f"action_gap_policy {gap_policy!r} is not one of the policies {list(policies)}")
    conditioned_on_actions = model.config.action_dim > 0
    if wanted and not conditioned_on_actions:
        return gap_policy, False, ["action gap: not applicable, the world model is not conditioned on actions"]
    if wanted and episodes < 2:
        return gap_policy, False, ["action gap: not measured, it needs at least 2 episodes to swap actions between"]
    return gap_policy, wanted, []


def _shuffled_future_actions(actions: Tensor, context: int, rng: np.random.Generator) -> tuple[Tensor, list[int]]:
    """``actions`` with each episode's future actions taken from another episode of the batch."""
    order = derangement(actions.shape[0], rng)
    shuffled = actions.clone()
    shuffled[:, context - 1 :] = actions[order, context - 1 :]
    return shuffled, order


@torch.no_grad()
def evaluate_world_model(
    model: WorldModel,
    autoencoder: Autoencoder,
    dataset: LeRobotDataset,
    episodes: Sequence[int],
    *,
    views: Sequence[str],
    policies: Mapping[str, ContextPolicy],
    normalizer: Normalizer | None = None,
    instruction_encoder: InstructionEncoder | None = None,
    context: int = 4,
    horizon: int = 48,
    seeds: Sequence[int] = (0,),
    sampling_steps: int = 10,
    guidance_scale: float = 1.0,
    action_guidance_scale: float = 1.0,
    batch_size: int = 8,
    metrics: Sequence[str] = METRIC_NAMES,
    action_gap: bool = True,
    action_gap_policy: str | None = None,
    on_rollout: RolloutCallback | None = None,
    progress: bool = False,
) -> WorldModelReport:
    """Roll ``model`` out from the starts of ``episodes`` and score it at every horizon.

    Args:
        model: the world model (its device is used); conditioned on actions, an instruction or both.
        autoencoder: the autoencoder whose latents the model generates.
        dataset: the recorded episodes.
        episodes: episode indices, each holding at least ``context + horizon`` frames.
        views: camera views, in the order the model was trained on.
        policies: key -> context policy, e.g. ``{"swr-6": SlidingWindowReencode(6)}``.
        normalizer: the action statistics the model was trained with (action-conditioned models).
        instruction_encoder: embeds the episodes' instructions (instruction-conditioned models).
        context: real start frames given to the model.
        horizon: T, frames generated per episode.
        seeds: sampling seeds; every policy is rolled out once per seed.
        sampling_steps: Euler steps of the probability-flow ODE per chunk.
        guidance_scale: classifier-free guidance scale on all conditions (1 = the plain
            conditional model); above 1 it pushes the rollouts toward their actions/instruction.
        action_guidance_scale: guidance scale on the actions alone (1 = none;
            ``sampling.guidance.WorldModelVelocity``).
        batch_size: most episodes per rollout call; the episodes are split into equal batches.
        metrics: names from ``worldalign.metrics.METRIC_NAMES`` (LPIPS needs frames >= 31 px).
        action_gap: measure the action gap (ignored for models without action conditioning).
        action_gap_policy: key of the policy the action gap is measured under (default: the first).
        on_rollout: called with every batch of generated frames (e.g. to write videos).
        progress: show a tqdm bar.

    Raises:
        ConfigError: an argument does not fit the model or the dataset.
        DatasetError: an episode is shorter than ``context + horizon`` frames.
    """
    from tqdm import tqdm

    episodes, views, seeds, metrics = list(episodes), list(views), list(seeds), list(metrics)
    numbers = {
        "context": context, "horizon": horizon, "sampling_steps": sampling_steps, "batch_size": batch_size
    }  # fmt: skip
    _check_arguments(
        model, dataset, episodes, views, policies, normalizer, instruction_encoder, numbers, seeds, metrics
    )
    gap_policy, measure_gap, notes = _action_gap_plan(model, policies, action_gap, action_gap_policy, len(episodes))
    device = next(model.parameters()).device
    sampling = _Sampling(EulerODESampler(steps=sampling_steps), horizon, guidance_scale, action_guidance_scale)
    score: _Score = functools.partial(compare_frames, metrics=metrics, psnr_max_db=PSNR_MAX_DB)
    batches = [list(map(int, part)) for part in np.array_split(episodes, math.ceil(len(episodes) / batch_size))]
    calls = len(batches) * len(seeds) * (len(policies) + int(measure_gap))
    bar = tqdm(total=calls, desc="world-model eval", unit="rollout", disable=not progress)
    tally = _Tally(policies)
    for b, indices in enumerate(batches):
        batch = _load_batch(
            dataset,
            indices,
            views,
            context + horizon,
            normalizer if model.config.action_dim > 0 else None,
            instruction_encoder if model.config.instruction_dim > 0 else None,
            device,
        )
        start, target = autoencoder.encode(batch.real[:, :, :context]), batch.real[:, :, context:]
        tally.add_references(autoencoder, batch.real, context, score)
        shuffled_actions = None
        if measure_gap:
            assert batch.actions is not None
            rng = np.random.default_rng([seeds[0], b])
            shuffled_actions, order = _shuffled_future_actions(batch.actions, context, rng)
            tally.action_sources |= {str(indices[i]): indices[j] for i, j in enumerate(order)}
        for key, policy in policies.items():
            for s, seed in enumerate(seeds):
                noise_seed = seed * _NOISE_SEED_STRIDE + b
                result = sampling.roll_out(model, autoencoder, start, policy, batch, batch.actions, noise_seed)
                assert result.frames is not None
                tally.add_rollout(key, s, result, score(result.frames, target))
                if on_rollout is not None:
                    on_rollout(key, seed, indices, result.frames, target)
                bar.update()
                if key == gap_policy and shuffled_actions is not None:
                    swapped = sampling.roll_out(model, autoencoder, start, policy, batch, shuffled_actions, noise_seed)
                    assert swapped.frames is not None
                    tally.shuffled.add(gap_policy, s, score(swapped.frames, target))
                    bar.update()
    bar.close()
    return WorldModelReport(
        episodes=episodes,
        views=views,
        context=context,
        horizon=horizon,
        seeds=seeds,
        sampling_steps=sampling_steps,
        batch_size=batch_size,
        metrics=metrics,
        policies=tally.policy_results(policies, model.config.max_context_frames, episodes, views),
        baselines={name: tally.reference(name, episodes, views) for name in (COPY_LAST, MEAN_FRAME)},
        autoencoder_ceiling=tally.reference("ceiling", episodes, views),
        action_gap=tally.action_gap(gap_policy, episodes, views) if measure_gap else None,
        notes=notes,
    )
