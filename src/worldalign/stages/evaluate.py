"""The evaluation stage: one or several world models, scored the same way on the same starts, in
one JSON file a report reads.

For each split (held-out episodes of the training tasks; with ``held_out_tasks``, episodes of
tasks the models never saw) and each model:

- ``quality``: ``eval.world_model.evaluate_world_model`` under every context policy asked (full
  history, fixed window, RoboAlign-R1's Sliding Window Re-encoding): PSNR, SSIM and LPIPS per
  horizon and per view, the baselines, the action gap, ms per frame and peak tokens;
- ``rewards``: ``eval.alignment.HeldOutRollouts`` under the first policy, scored by named
  rewards (default: EVA's executability of IDM-decoded actions, the simulator success of
  executing them from the episode's recorded start state, and RoboAlign-R1's six dimensions
  scored by the shipped teacher judge), mean and seed spread, overall and per task.

Every (split, model, part) result is written to ``OUT/parts/`` as soon as it is measured, with a
key naming everything it depends on (the settings and the sha256 of the model's and the
autoencoder's weights); a rerun reuses the parts whose key matches, so an interrupted evaluation
resumes and a changed model is measured again. ``OUT/eval.json`` gathers the parts with the
config, the checkpoints' hashes and the package versions; ``OUT/videos/`` holds one side-by-side
video per chosen episode (real, then every model under every policy).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from worldalign.algos.conditions import EpisodePool
from worldalign.data.clips import split_episodes, spread_evenly
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_uint8_video
from worldalign.data.selection import check_image_size
from worldalign.errors import ConfigError
from worldalign.eval.alignment import HeldOutRollouts
from worldalign.eval.world_model import evaluate_world_model, usable_episodes
from worldalign.metrics.lpips import MIN_SIDE
from worldalign.models.checkpoint import MODEL_FILE
from worldalign.rewards.compose import RewardComposer
from worldalign.rewards.registry import build_rewards
from worldalign.runs.loading import WorldModelRun, autoencoder_folder, load_autoencoder, load_world_model_run
from worldalign.sampling.context_policies import ContextPolicy, check_policy, context_policy_by_short_name
from worldalign.stages.align import episode_pool
from worldalign.utils.atomic import atomic_write_json
from worldalign.utils.hashing import file_sha256
from worldalign.viz.video_grid import compose_grid, viewing_scale, write_video

EVAL_FILE = "eval.json"
EVAL_FORMAT = "worldalign-eval"
EVAL_FORMAT_VERSION = 1
PARTS_DIR = "parts"
VIDEOS_DIR = "videos"
TRAINING_TASKS, HELD_OUT_TASKS = "training_tasks", "held_out_tasks"
DEFAULT_REWARDS = "executability=1.0,execution=1.0,judge_teacher=1.0"
LABEL = re.compile(r"[A-Za-z0-9_+-]+")
PACKAGES = ("worldalign", "torch", "numpy", "safetensors", "transformers", "av", "mujoco", "metaworld")


@dataclass(frozen=True)
class EvalSetup:
    """What an evaluation compares, on which episodes, how, and where it writes."""

    world_models: Sequence[tuple[str, Path]]
    """(label, folder) of every world model, in the order they are shown."""
    autoencoder: Path
    """The autoencoder all of them generate latents of."""
    dataset: Path
    """A dataset of the training tasks: its held-out episodes (``held_out``) are evaluated."""
    out: Path
    held_out_tasks: Path | None = None
    """A dataset of tasks none of the models trained on (the same views): its episodes are a second split."""
    held_out: float = 0.1
    """Held-out fraction of each task's episodes, as the world models were trained with."""
    episodes: int = 8
    """Most episodes per split, spread evenly over its tasks."""
    policies: Sequence[str] = ("swr", "full-history")
    """Context policies as ``NAME[:FRAMES]`` (full-history, fixed-window, swr); rewards use the first."""
    context: int = 2
    horizon: int = 24
    seeds: int = 2
    """Sampling seeds 0..seeds-1 (the spread between them is reported)."""
    sampling_steps: int = 10
    batch_size: int = 8
    rewards: str | None = DEFAULT_REWARDS
    """Rewards of the generated rollouts as ``name=weight`` pairs; None skips the rewards part."""
    reward_options: dict[str, Any] = field(default_factory=dict)
    """Options of the reward factories (``idm``, ``judge_checkpoint``, ``metric_weights``, ...)."""
    videos: int = 2
    """Episodes per split drawn as side-by-side videos."""


@dataclass(frozen=True)
class _Split:
    name: str
    dataset: LeRobotDataset
    episodes: list[int]
    skipped: list[int]
    """Episodes shorter than context + horizon."""

    @property
    def views(self) -> tuple[str, ...]:
        return tuple(self.dataset.views)


def evaluate_world_models(
    setup: EvalSetup, *, progress: bool = True, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Measure every part not measured yet, write ``eval.json`` and the videos; the JSON written."""
    labels = [label for label, _ in setup.world_models]
    if not labels or len(set(labels)) != len(labels):
        raise ConfigError(f"world models {labels}: expected at least one, each with its own label")
    unusable = [label for label in labels if not LABEL.fullmatch(label)]
    if unusable:
        raise ConfigError(
            f"world model labels {unusable}: use letters, digits, '_', '+' and '-' (a label names a folder of parts)"
        )
    if min(setup.context, setup.horizon, setup.seeds, setup.sampling_steps, setup.batch_size, setup.episodes) < 1:
        raise ConfigError(
            f"context {setup.context}, horizon {setup.horizon}, seeds {setup.seeds}, steps {setup.sampling_steps}, "
            f"batch size {setup.batch_size}, episodes {setup.episodes}: expected each >= 1"
        )
    evaluation = _Evaluation(setup, progress, log)
    results: dict[str, Any] = {}
    for split in evaluation.splits:
        pool = functools.cache(lambda split=split: episode_pool(split.dataset, split.episodes, split.views, None))
        models: dict[str, Any] = {}
        for label in labels:
            models[label] = {"quality": evaluation.quality(split, label)}
            if evaluation.rewards is not None:
                models[label]["rewards"] = evaluation.reward_terms(split, label, pool())
        results[split.name] = {
            "dataset": str(split.dataset.root),
            "episodes": split.episodes,
            "skipped": split.skipped,
            "tasks": sorted({split.dataset.task_names[index] for index in split.episodes}),
            "models": models,
            "videos": evaluation.videos(split, pool),
        }
    summary = {
        "format": EVAL_FORMAT,
        "format_version": EVAL_FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": evaluation.settings,
        "world_models": {
            label: {"path": str(folder), "sha256": evaluation.hashes[label]} for label, folder in setup.world_models
        },
        "autoencoder": {"path": str(evaluation.autoencoder_dir), "sha256": evaluation.autoencoder_sha},
        "metrics": list(evaluation.metrics),
        "policies": list(evaluation.policies),
        "reward_policy": evaluation.reward_policy,
        "packages": package_versions(),
        "splits": results,
    }
    atomic_write_json(setup.out / EVAL_FILE, summary)
    return summary


class _Evaluation:
    """Everything the parts share, loaded and checked before anything is measured, and how each
    part is measured."""

    def __init__(self, setup: EvalSetup, progress: bool, log: Callable[[str], None]) -> None:
        self.setup, self.progress, self.log = setup, progress, log
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.autoencoder_dir = autoencoder_folder(setup.autoencoder)
        self.autoencoder = load_autoencoder(self.autoencoder_dir, self.device)
        self.folders = dict(setup.world_models)
        self.runs = {label: self._load_run(folder) for label, folder in self.folders.items()}
        self.splits = _splits(setup)
        self.policies = _policies(setup.policies)
        for split in self.splits:
            where = f"the autoencoder {self.autoencoder_dir}"
            check_image_size(split.dataset, split.views, self.autoencoder.config.image_size, where)
            for run in self.runs.values():
                _check_fits(run, split, self.policies)
        self.reward_policy = next(iter(self.policies))
        lpips = self.autoencoder.config.image_size >= MIN_SIDE  # LPIPS's AlexNet needs frames of 31 px or more
        self.metrics = ("psnr", "ssim", "lpips") if lpips else ("psnr", "ssim")
        self.autoencoder_sha = file_sha256(self.autoencoder_dir / MODEL_FILE)
        self.hashes = {label: file_sha256(run.model_dir / MODEL_FILE) for label, run in self.runs.items()}
        options = {**setup.reward_options, "device": self.device}
        self.rewards = build_rewards(setup.rewards, **options) if setup.rewards else None
        self.settings = _settings(setup)

    def _load_run(self, folder: Path) -> WorldModelRun:
        """The world model at ``folder``, checked to generate this autoencoder's latents."""
        run = load_world_model_run(folder, self.device)
        config = run.model.config
        shape = (config.latent_channels, config.latent_size, config.latent_size)
        if shape != tuple(self.autoencoder.latent_shape):
            raise ConfigError(
                f"the world model {run.model_dir} generates latents of shape {shape} (C, h, w); the autoencoder "
                f"{self.autoencoder_dir} has {tuple(self.autoencoder.latent_shape)}: evaluate it with the autoencoder it "
                "was trained with"
            )
        return run

    def quality(self, split: _Split, label: str) -> dict[str, Any]:
        """``evaluate_world_model``'s report of model ``label`` on ``split`` (reused when measured)."""

        def measure() -> dict[str, Any]:
            run = self.runs[label]
            return evaluate_world_model(
                run.model,
                self.autoencoder,
                split.dataset,
                split.episodes,
                views=split.views,
                policies=self.policies,
                normalizer=run.normalizer,
                instruction_encoder=run.instruction_encoder,
                context=self.setup.context,
                horizon=self.setup.horizon,
                seeds=range(self.setup.seeds),
                sampling_steps=self.setup.sampling_steps,
                batch_size=self.setup.batch_size,
                metrics=self.metrics,
                progress=self.progress,
            ).to_json()

        return self._part(split, label, "quality", measure)

    def reward_terms(self, split: _Split, label: str, pool: EpisodePool) -> dict[str, Any]:
        """Every reward term of model ``label``'s rollouts on ``split`` (reused when measured)."""
        assert self.rewards is not None
        rewards = self.rewards

        def measure() -> dict[str, Any]:
            run = self.runs[label]
            evaluator = self._evaluator(pool, run, self.policies[self.reward_policy], rewards)
            return _reward_summary(evaluator.episode_scores(run.model), evaluator.pool, self.reward_policy)

        return self._part(split, label, "rewards", measure)

    def videos(self, split: _Split, pool: Callable[[], EpisodePool]) -> list[str]:
        """Real | every model under every policy (sampling seed 0) for the first ``videos``
        episodes of ``split`` (the first of ``pool()``, the split's episodes, loaded once);
        paths relative to OUT. Kept when they exist for the same models."""
        episodes = split.episodes[: self.setup.videos]
        names = [f"{VIDEOS_DIR}/{split.name}_episode_{index}.mp4" for index in episodes]
        record = self.setup.out / PARTS_DIR / split.name / "videos.json"
        key = _digest([self.settings, [self.hashes[label] for label in self.folders], names])
        if all((self.setup.out / name).is_file() for name in names) and _stored_key(record) == key:
            self.log(f"{split.name} / videos: reused")
            return names
        self.log(f"{split.name} / videos: writing {len(names)}")
        rows: dict[str, list[np.ndarray]] = {}
        real: list[np.ndarray] = []
        for label in self.folders:
            run = self.runs[label]
            for name, policy in self.policies.items():
                evaluator = self._evaluator(pool(), run, policy, RewardComposer({}, []))
                with torch.no_grad():
                    rollout = evaluator.generate(
                        run.model, list(range(len(episodes))), torch.Generator().manual_seed(0)
                    )
                rows[f"{label} ({name})"] = [to_uint8_video(frames) for frames in rollout.frames]
                real = [to_uint8_video(frames) for frames in rollout.reference]
        for position, (index, name) in enumerate(zip(episodes, names, strict=True)):
            grid = compose_grid(
                [real[position], *(videos[position] for videos in rows.values())],
                column_labels=list(split.views),
                row_labels=["real", *rows],
                title=f"{split.name.replace('_', ' ')}: episode {index}",
                scale=viewing_scale(real[position].shape[-2]),
            )
            write_video(grid, self.setup.out / name, fps=split.dataset.fps)
        atomic_write_json(record, {"key": key, "result": names})
        return names

    def _evaluator(
        self, pool: EpisodePool, run: WorldModelRun, policy: ContextPolicy, rewards: RewardComposer
    ) -> HeldOutRollouts:
        """Rollouts from the starts of ``pool``'s episodes, driven by actions in ``run``'s statistics."""
        return HeldOutRollouts(
            pool=dataclasses.replace(pool, normalizer=run.normalizer),
            autoencoder=self.autoencoder,
            rewards=rewards,
            policy=policy,
            context_frames=self.setup.context,
            horizon=self.setup.horizon,
            sampling_steps=self.setup.sampling_steps,
            seeds=tuple(range(self.setup.seeds)),
            batch_size=self.setup.batch_size,
            instruction_encoder=run.instruction_encoder,
        )

    def _part(self, split: _Split, label: str, part: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The stored part if its key matches, else measured now and stored (atomically)."""
        ignored = {"world_models", "out", "videos", "held_out_tasks", "dataset"}
        if part != "rewards":
            ignored |= {"rewards", "reward_options"}
        relevant = {name: value for name, value in self.settings.items() if name not in ignored}
        dataset = str(split.dataset.root.resolve())
        key = _digest([relevant, split.name, dataset, split.episodes, part, self.autoencoder_sha, self.hashes[label]])
        path, what = (
            self.setup.out / PARTS_DIR / split.name / label / f"{part}.json",
            f"{split.name} / {label} / {part}",
        )
        if _stored_key(path) == key:
            self.log(f"{what}: reused {path}")
            return dict(json.loads(path.read_text())["result"])
        self.log(f"{what}: measuring")
        start = time.perf_counter()
        result = measure()
        result["seconds"] = time.perf_counter() - start
        atomic_write_json(path, {"key": key, "result": result})
        return result


def package_versions() -> dict[str, str | None]:
    """The installed version of every package the numbers depend on (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def policy_key(spec: str) -> str:
    """The key ``eval.json`` files a ``NAME[:FRAMES]`` context policy under: ``swr:6`` -> ``swr-6``."""
    name, _, frames = spec.partition(":")
    return name if not frames else f"{name}-{frames}"


def _policies(specs: Sequence[str]) -> dict[str, ContextPolicy]:
    """``{"swr-6": SlidingWindowReencode(6), ...}`` from ``NAME[:FRAMES]`` specs."""
    policies: dict[str, ContextPolicy] = {}
    for spec in specs:
        name, _, frames = spec.partition(":")
        if frames and not frames.isdigit():
            raise ConfigError(f"context policy {spec!r}: expected NAME or NAME:FRAMES with FRAMES a whole number")
        policy = context_policy_by_short_name(name, frames=int(frames) if frames else None)
        key = policy_key(spec)
        if key in policies:
            raise ConfigError(f"context policy {spec!r} is asked twice")
        policies[key] = policy
    if not policies:
        raise ConfigError("no context policy: give at least one of full-history, fixed-window, swr")
    return policies


def _splits(setup: EvalSetup) -> list[_Split]:
    dataset = LeRobotDataset(setup.dataset)
    _, held_out = split_episodes(dataset.task_names, held_out_fraction=setup.held_out)
    splits = [_split(TRAINING_TASKS, dataset, held_out, setup)]
    if setup.held_out_tasks is not None:
        other = LeRobotDataset(setup.held_out_tasks)
        shared = sorted(set(other.task_names) & set(dataset.task_names))
        if shared:
            raise ConfigError(
                f"{setup.held_out_tasks} holds tasks of {setup.dataset} ({', '.join(shared)}): the held-out-tasks "
                "dataset must hold only tasks the world models never trained on"
            )
        if tuple(other.views) != tuple(dataset.views):
            raise ConfigError(
                f"{setup.held_out_tasks} has views {list(other.views)}; {setup.dataset} has {list(dataset.views)}"
            )
        splits.append(_split(HELD_OUT_TASKS, other, list(range(other.num_episodes)), setup))
    return splits


def _split(name: str, dataset: LeRobotDataset, candidates: list[int], setup: EvalSetup) -> _Split:
    usable, skipped = usable_episodes(dataset, candidates, setup.context, setup.horizon)
    if not usable:
        raise ConfigError(
            f"{dataset.root}: none of its {len(candidates)} {name.replace('_', ' ')} episodes holds {setup.context} + "
            f"{setup.horizon} frames (context + horizon): lower --horizon"
        )
    return _Split(name, dataset, spread_evenly(usable, setup.episodes), skipped)


def _check_fits(run: WorldModelRun, split: _Split, policies: dict[str, ContextPolicy]) -> None:
    """The split's views are the world model's, and every context policy fits its context."""
    config = run.model.config
    if len(split.views) != config.num_views:
        raise ConfigError(
            f"the world model {run.model_dir} predicts {config.num_views} view(s); {split.dataset.root} has "
            f"{list(split.views)}: evaluate on the views it was trained on"
        )
    for policy in policies.values():
        check_policy(policy.resolved(config.max_context_frames), config.max_context_frames, config.future_frames)


def _settings(setup: EvalSetup) -> dict[str, Any]:
    """The setup as JSON (paths as text); what every part's key is made of."""
    values = dataclasses.asdict(setup)
    values["world_models"] = [[label, str(path)] for label, path in setup.world_models]
    return json.loads(json.dumps(values, default=str))


def _reward_summary(scores: dict[str, torch.Tensor], pool: EpisodePool, policy: str) -> dict[str, Any]:
    """``{term: (seeds, episodes)}`` scores as each term's mean and seed spread, overall, per task
    and per episode (means over seeds and episodes)."""
    tasks = [episode.task for episode in pool.episodes]
    per_task: dict[str, dict[str, float]] = {}
    for task in sorted(set(tasks)):
        columns = [n for n, name in enumerate(tasks) if name == task]
        per_task[task] = {term: float(values[:, columns].nanmean()) for term, values in scores.items()}
    by_seed = {term: values.nanmean(dim=1) for term, values in scores.items()}
    return {
        "policy": policy,
        "mean": {term: float(values.mean()) for term, values in by_seed.items()},
        "seed_std": {term: float(values.std()) if len(values) > 1 else 0.0 for term, values in by_seed.items()},
        "per_task": per_task,
        "per_episode": {
            str(index): {term: float(values[:, n].nanmean()) for term, values in scores.items()}
            for n, index in enumerate(pool.indices)
        },
    }


def _digest(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _stored_key(path: Path) -> str | None:
    """The key a stored part was measured under (None: no part, or not one of ours)."""
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return stored.get("key") if isinstance(stored, dict) and "result" in stored else None
