"""Generate a LeRobot v3 dataset of Meta-World episodes: deterministic, parallel, resumable.

Every episode is a pure function of its ``EpisodeSpec`` (task, index, seed), so the dataset
depends only on the generation config and the seed, never on the number of workers or on
interruptions. Finished episodes are staged one file each (atomic writes) in ``OUT/.staging``;
a second run with the same config skips them. When all are staged they are packed into the
LeRobot layout, ``meta/info.json`` last, and the staging folder is removed.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing
import shutil
import zlib
from collections.abc import Callable, Iterator
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import numpy as np
from tqdm import tqdm

from worldalign.data.episode_file import load_episode, read_episode_summary, save_episode
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.recorder import record_in_env
from worldalign.errors import ConfigError
from worldalign.utils.atomic import atomic_write_json

STAGING_DIR = ".staging"
GENERATION_CONFIG_FILE = "worldalign_generation.json"


@dataclass(frozen=True)
class GenerationConfig:
    """What to generate; saved with the dataset and checked again on resume."""

    tasks: tuple[str, ...]
    """Meta-World task names, e.g. ("reach-v3", "push-v3")."""
    episodes_per_task: int
    """Episodes recorded for every task."""
    noise: float
    """Std of the Gaussian noise added to the scripted expert's actions (0 = clean expert)."""
    views: tuple[str, ...]
    """Camera names, in the order they are stored."""
    image_size: int
    """Height and width of every rendered view, in pixels."""
    action_repeat: int
    """Simulator steps per policy action (frame skip)."""
    max_steps: int
    """Policy steps per episode at most."""
    seed: int
    """Master seed: with the rest of the config, it fixes every episode bit for bit."""
    lossless: bool = True
    """Store videos losslessly (H.264 RGB, qp 0) so pixels round-trip exactly."""
    instruction_split: str = "train"
    """Which instruction paraphrases to draw from: "train" or "heldout"."""
    explore: float = 0.0
    """Expected fraction of steps in random-action exploration segments (see ``ScriptedExpert``)."""


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode to record: its dataset index, task and simulator seed."""

    index: int
    task: str
    seed: int


@dataclass(frozen=True)
class EpisodeOutcome:
    """What the progress report needs from a finished episode."""

    index: int
    task: str
    success: bool
    length: int


def episode_seed(master_seed: int, task: str, repeat: int) -> int:
    """A seed for the ``repeat``-th episode of ``task``, independent of which other tasks run."""
    task_key = zlib.crc32(task.encode())
    return int(np.random.SeedSequence([master_seed, task_key, repeat]).generate_state(1)[0])


# Fields that must be positive integers, with the ``data generate`` option that sets each.
_POSITIVE_FIELDS = {
    "episodes_per_task": "--episodes-per-task",
    "image_size": "--size",
    "action_repeat": "--action-repeat",
    "max_steps": "--max-steps",
}


def check_generation_config(config: GenerationConfig) -> None:
    """A ``ConfigError`` naming the field (and its option) of ``config`` that cannot make a
    dataset: no task, or a count or size below 1."""
    if not config.tasks:
        raise ConfigError("no task to generate: expected at least one Meta-World task (--tasks)")
    for name, option in _POSITIVE_FIELDS.items():
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} = {value!r} ({option}): expected a positive integer")


def plan_episodes(config: GenerationConfig) -> list[EpisodeSpec]:
    """All episodes of the dataset, task-major, with their dataset indices."""
    specs = []
    for task in config.tasks:
        for repeat in range(config.episodes_per_task):
            specs.append(EpisodeSpec(len(specs), task, episode_seed(config.seed, task, repeat)))
    return specs


def staged_path(out: Path, index: int) -> Path:
    return out / STAGING_DIR / f"episode_{index:06d}.safetensors"


# One environment per task and process: loading a scene and its renderer costs more than a
# short episode, and ``reset(seed)`` makes a reused environment record exactly as a fresh one.
_ENVIRONMENTS: dict[tuple[str, tuple[str, ...], int, int], MetaWorldEnv] = {}


def _close_environments() -> None:
    for env in _ENVIRONMENTS.values():
        env.close()
    _ENVIRONMENTS.clear()


def _environment(config: GenerationConfig, task: str) -> MetaWorldEnv:
    key = (task, config.views, config.image_size, config.action_repeat)
    if key not in _ENVIRONMENTS:
        _ENVIRONMENTS[key] = MetaWorldEnv(
            task, views=config.views, image_size=config.image_size, action_repeat=config.action_repeat
        )
        if len(_ENVIRONMENTS) == 1:
            # Registered after mujoco registers eglTerminate (on its first GL context), so that
            # at exit (last in, first out) our renderers are freed while EGL is still up.
            atexit.register(_close_environments)
    return _ENVIRONMENTS[key]


def record_and_stage(config: GenerationConfig, out: Path, spec: EpisodeSpec) -> EpisodeOutcome:
    """Record one episode and stage it atomically (runs in a worker process)."""
    episode = record_in_env(
        _environment(config, spec.task),
        seed=spec.seed,
        noise=config.noise,
        explore=config.explore,
        max_steps=config.max_steps,
        instruction_split=config.instruction_split,
    )
    episode.metadata["episode_seed"] = spec.seed
    save_episode(staged_path(out, spec.index), episode)
    return EpisodeOutcome(spec.index, spec.task, bool(episode.success), episode.length)


def _record_worker(job: tuple[GenerationConfig, Path, EpisodeSpec]) -> EpisodeOutcome:
    return record_and_stage(*job)


def _finished_outcomes(config: GenerationConfig, out: Path) -> list[EpisodeOutcome] | None:
    """The outcomes of a finished dataset made with ``config``; None if ``out`` is not finished.

    Raises ConfigError if ``out`` holds a finished dataset made with another config.
    """
    if not (out / "meta" / "info.json").exists():
        return None
    saved = out / "meta" / GENERATION_CONFIG_FILE
    if not saved.exists() or _read_saved_config(saved) != _as_json(config):
        raise ConfigError(f"{out} already holds a finished dataset made differently; choose another --out or delete it")
    dataset = LeRobotDataset(out)
    return [
        EpisodeOutcome(i, dataset.episode_task(i), bool(dataset.episode_success(i)), dataset.episode_lengths[i])
        for i in range(dataset.num_episodes)
    ]


def _as_json(config: GenerationConfig) -> dict[str, object]:
    return json.loads(json.dumps(asdict(config)))


def _read_saved_config(path: Path) -> dict[str, object]:
    """A saved generation config, completed with the defaults of fields added since it was saved
    (a dataset made before ``explore`` existed was made with ``explore=0``)."""
    defaults = {field.name: field.default for field in fields(GenerationConfig) if field.default is not MISSING}
    return {**defaults, **json.loads(path.read_text())}


def _check_resumable(config: GenerationConfig, out: Path) -> None:
    """Refuse to mix episodes of two different configs in one output folder."""
    saved = out / STAGING_DIR / GENERATION_CONFIG_FILE
    if saved.exists():
        previous = _read_saved_config(saved)
        current = _as_json(config)
        if previous != current:
            differing = sorted(k for k in current if previous.get(k) != current[k])
            raise ConfigError(
                f"{out} holds an interrupted generation with a different config "
                f"(differs in: {', '.join(differing)}); rerun with the same options to resume, "
                f"or choose another --out"
            )
    else:
        atomic_write_json(saved, asdict(config))


def _outcome_of_staged(path: Path, spec: EpisodeSpec) -> EpisodeOutcome:
    summary = read_episode_summary(path)
    return EpisodeOutcome(spec.index, spec.task, bool(summary.success), summary.length)


def _run_pending(
    config: GenerationConfig, out: Path, pending: list[EpisodeSpec], workers: int
) -> Iterator[EpisodeOutcome]:
    jobs = [(config, out, spec) for spec in pending]
    if workers <= 1 or len(jobs) <= 1:
        yield from map(_record_worker, jobs)
        return
    # spawn, not fork: each worker opens its own rendering context from scratch.
    with multiprocessing.get_context("spawn").Pool(processes=workers) as pool:
        yield from pool.imap_unordered(_record_worker, jobs)


def generate_dataset(
    config: GenerationConfig,
    out: str | Path,
    *,
    workers: int = 1,
    progress: bool = True,
    on_episode: Callable[[EpisodeOutcome], None] | None = None,
) -> list[EpisodeOutcome]:
    """Record every planned episode not yet staged, then pack all of them into ``out``.

    Returns the outcome of every episode in dataset order (staged ones included).
    """
    check_generation_config(config)
    out = Path(out)
    finished = _finished_outcomes(config, out)
    if finished is not None:
        shutil.rmtree(out / STAGING_DIR, ignore_errors=True)  # left by a kill during clean-up
        return finished
    _check_resumable(config, out)
    specs = plan_episodes(config)
    outcomes: dict[int, EpisodeOutcome] = {}
    pending = []
    for spec in specs:
        path = staged_path(out, spec.index)
        if path.exists():
            outcomes[spec.index] = _outcome_of_staged(path, spec)
        else:
            pending.append(spec)

    bar = tqdm(total=len(specs), initial=len(outcomes), desc="episodes", unit="ep", disable=not progress)
    for outcome in _run_pending(config, out, pending, workers):
        outcomes[outcome.index] = outcome
        successes = sum(o.success for o in outcomes.values())
        bar.set_postfix(success=f"{successes}/{len(outcomes)}")
        bar.update(1)
        if on_episode is not None:
            on_episode(outcome)
    bar.close()

    _pack(config, out, specs, progress)
    return [outcomes[spec.index] for spec in specs]


def _pack(config: GenerationConfig, out: Path, specs: list[EpisodeSpec], progress: bool) -> None:
    """Write the staged episodes into the LeRobot v3 layout, then drop the staging folder."""
    # Without meta/info.json (checked by the caller) these can only be the remains of a pack
    # that was interrupted; the staged episodes are the truth, so pack again from scratch.
    for partial in ("data", "videos", "meta"):
        shutil.rmtree(out / partial, ignore_errors=True)
    first = load_episode(staged_path(out, specs[0].index))
    # Simulator states differ in size by task: the dataset stores the widest (see LeRobotWriter).
    summaries = (read_episode_summary(staged_path(out, spec.index)) for spec in specs)
    widths = [summary.snapshot_width for summary in summaries if summary.snapshot_width is not None]
    writer = LeRobotWriter(
        out,
        fps=first.fps,
        views=first.views,
        image_size=first.frames.shape[2:4],
        action_dim=first.actions.shape[1],
        state_dim=first.state.shape[1],
        lossless=config.lossless,
        snapshot_dim=max(widths, default=None),
    )
    for spec in tqdm(specs, desc="packing", unit="ep", disable=not progress):
        writer.add_episode(load_episode(staged_path(out, spec.index)))
    # Saved before info.json (written last by finalize) so a finished dataset always has it.
    atomic_write_json(out / "meta" / GENERATION_CONFIG_FILE, asdict(config))
    writer.finalize()
    shutil.rmtree(out / STAGING_DIR)
