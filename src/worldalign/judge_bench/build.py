"""Build the judge benchmark: items from nine sources, labelled by rule, split, stored.

RoboAlign-R1 (arXiv:2605.03821) trains its judge on scored video-instruction pairs. Every item
here is a pure function of ``(config, task, unit index)``: a unit simulates four clips of one
task (a clean expert, a noisy expert, a contact violation, a physics violation) and derives five
more items from them, so the benchmark depends on the seed alone, never on ``workers``.

Sources (``docs/judge_labels.md`` gives the labels each one gets):

- ``expert``: the noise-free scripted expert;
- ``wrong_instruction``: the expert video with another task's instruction;
- ``noisy``: the expert with strong action noise (failures and partial progress);
- ``action_mismatch``: a video with the actions of another simulation;
- ``temporal``: frozen, dropped, reversed or shuffled frames;
- ``contact_violation``: the object slides while the hand is out of reach;
- ``physics_violation``: the object floats or sinks into the table, or the arm jumps;
- ``nuisance``: blur, noise or brightness on a clean item (labels unchanged);
- ``artifact``: a red blob growing in a view, or the red robot swelling, painted on a clean item
  (task labels unchanged, physics adherence 0): what a judge-aligned generator learnt to paint.

Splits: the units of each training task are divided train/val/test, so derived items share a
split with the clip they come from; every unit of a held-out task is ``heldout_test``.
"""

from __future__ import annotations

import multiprocessing
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from worldalign.envs.cameras import DEFAULT_VIEWS
from worldalign.envs.tasks import SUITES, pick_instruction
from worldalign.errors import ConfigError
from worldalign.judge_bench.corruptions import (
    ARTIFACT_KINDS,
    DROPPED_FRAMES,
    NUISANCE_KINDS,
    TEMPORAL_KINDS,
    apply_artifact,
    apply_nuisance,
    can_swell,
    temporal_indices,
)
from worldalign.judge_bench.labels import LabelEvidence, label
from worldalign.judge_bench.simulate import Edit, SimulatedClip, simulate_clip
from worldalign.judge_bench.storage import BenchItem, write_benchmark

SOURCES: tuple[str, ...] = (
    "expert",
    "wrong_instruction",
    "noisy",
    "action_mismatch",
    "temporal",
    "contact_violation",
    "physics_violation",
    "nuisance",
    "artifact",
)
SPLITS: tuple[str, ...] = ("train", "val", "test", "heldout_test")
NOISY_LEVELS = (0.3, 0.6, 1.0)
"""Action-noise standard deviations of the noisy source: mild slips to outright failures."""


@dataclass(frozen=True)
class BuildConfig:
    """What to build; saved in the benchmark's ``meta.json``."""

    seed: int = 0
    """Master seed: with the rest of the config it fixes every item bit for bit."""
    views: tuple[str, ...] = DEFAULT_VIEWS
    """Camera names, in the order stored."""
    image_size: int = 64
    """Height and width of every view, pixels."""
    frames: int = 16
    """Frames shown per item."""
    stride: int = 5
    """Policy steps between shown frames (40 fps simulation -> 8 fps clips)."""
    items_per_source: int = 10
    """Units per task: each gives one item of every source."""
    train_tasks: tuple[str, ...] = SUITES["train"]
    """Tasks of the train/val/test splits."""
    heldout_tasks: tuple[str, ...] = SUITES["heldout"]
    """Tasks of the heldout_test split."""
    val_fraction: float = 0.1
    """Fraction of each training task's units in val (at least one)."""
    test_fraction: float = 0.2
    """Fraction of each training task's units in test (at least one)."""

    def __post_init__(self) -> None:
        if self.items_per_source < 3:
            raise ConfigError(f"items_per_source must be >= 3 (a unit each for train, val and test), got {self.items_per_source}")
        if self.frames < 4 or self.stride < 1 or self.image_size < 8:
            raise ConfigError(
                f"need frames >= 4, stride >= 1, image_size >= 8; got {self.frames}, {self.stride}, {self.image_size}"
            )
        if not self.views:
            raise ConfigError("the benchmark needs at least one view")
        if len(self.train_tasks) < 2 or (self.heldout_tasks and len(self.heldout_tasks) < 2):
            raise ConfigError("wrong-instruction items need at least 2 tasks in each task group")


@dataclass(frozen=True)
class Unit:
    """One unit of work: the ``index``-th unit of ``task``, and its split."""

    task: str
    index: int
    split: str
    other_tasks: tuple[str, ...] = field(default=())


def unit_seed(master_seed: int, task: str, index: int) -> np.random.SeedSequence:
    """The seed sequence of a unit, independent of which other tasks and units are built."""
    return np.random.SeedSequence([master_seed, zlib.crc32(task.encode()), index])


def plan_units(config: BuildConfig) -> list[Unit]:
    """Every unit of the benchmark with its split, task-major."""
    units = []
    for group, heldout in ((config.train_tasks, False), (config.heldout_tasks, True)):
        for task in group:
            others = tuple(t for t in group if t != task)
            if heldout:
                splits = ["heldout_test"] * config.items_per_source
            else:
                n_val = max(1, round(config.val_fraction * config.items_per_source))
                n_test = max(1, round(config.test_fraction * config.items_per_source))
                ordered = ["test"] * n_test + ["val"] * n_val + ["train"] * (config.items_per_source - n_val - n_test)
                # A stream apart from every unit's (unit indices count up from 0).
                split_stream = np.random.SeedSequence([config.seed, zlib.crc32(task.encode()), 2**32 - 1])
                order = np.random.default_rng(split_stream).permutation(config.items_per_source)
                splits = [ordered[i] for i in order]
            units.extend(Unit(task, index, splits[index], others) for index in range(config.items_per_source))
    return units


def _evidence(
    clip: SimulatedClip, frame_index: np.ndarray, *, instruction_matches: bool, actions_are_own: bool, painted: bool
) -> LabelEvidence:
    return LabelEvidence(
        frame_index=frame_index,
        obj_to_target=clip.obj_to_target,
        success=clip.success,
        hand_pos=clip.hand_pos,
        object_pos=clip.object_pos,
        object_free=clip.object_free,
        rest_height=clip.rest_height,
        instruction_matches=instruction_matches,
        actions_are_own=actions_are_own,
        painted=painted,
    )


def _item(
    unit: Unit,
    source: str,
    detail: str,
    clip: SimulatedClip,
    frame_index: np.ndarray,
    *,
    instruction: str | None = None,
    actions: np.ndarray | None = None,
    frames: np.ndarray | None = None,
    painted: bool = False,
) -> BenchItem:
    """An item showing ``clip``'s rendered frames ``frame_index`` (or ``frames``, ``painted`` with
    an artifact), labelled by the rules."""
    evidence = _evidence(
        clip, frame_index, instruction_matches=instruction is None, actions_are_own=actions is None, painted=painted
    )
    shown = len(frame_index)
    return BenchItem(
        frames=clip.frames[:, frame_index] if frames is None else frames,
        actions=clip.actions[:shown] if actions is None else actions,
        scores=label(evidence),
        instruction=clip.instruction if instruction is None else instruction,
        task=clip.task,
        source=source,
        detail=detail,
        split=unit.split,
        unit=unit.index,
        sim_seed=clip.seed,
    )


def build_unit(config: BuildConfig, unit: Unit) -> list[BenchItem]:
    """The nine items of one unit, in ``SOURCES`` order (runs in a worker process)."""
    sequence = unit_seed(config.seed, unit.task, unit.index)
    seeds = [int(s.generate_state(1)[0] % (2**31)) for s in sequence.spawn(4)]
    rng = np.random.default_rng(sequence.spawn(5)[-1])
    rendered = config.frames + DROPPED_FRAMES
    common = dict(frames=rendered, stride=config.stride, views=config.views, image_size=config.image_size)
    angle = float(rng.uniform(-np.pi / 3, np.pi / 3))
    direction = (float(np.cos(angle)), float(np.sin(angle)))

    expert = simulate_clip(unit.task, seed=seeds[0], noise=0.0, edit=Edit("none"), **common)
    noise = float(rng.choice(NOISY_LEVELS))
    noisy = simulate_clip(unit.task, seed=seeds[1], noise=noise, edit=Edit("none"), **common)
    contact = simulate_clip(unit.task, seed=seeds[2], noise=0.0, edit=Edit("slide", direction=direction), **common)
    physics_kind = str(rng.choice(["float", "sink", "teleport"] if contact.object_free else ["teleport"]))
    jump = (float(np.cos(angle * 3)), float(np.sin(angle * 3)))
    physics = simulate_clip(unit.task, seed=seeds[3], noise=0.0, edit=Edit(physics_kind, direction=jump), **common)  # type: ignore[arg-type]

    in_order = np.arange(config.frames)
    other_task = unit.other_tasks[int(rng.integers(len(unit.other_tasks)))]
    wrong = pick_instruction(other_task, rng)
    base = expert if rng.random() < 0.5 else noisy
    donor = noisy if base is expert else expert
    temporal_kind = TEMPORAL_KINDS[int(rng.integers(len(TEMPORAL_KINDS)))]
    corrupted = temporal_indices(temporal_kind, config.frames, rng)
    clean = expert if rng.random() < 0.5 else noisy
    nuisance_kind = NUISANCE_KINDS[int(rng.integers(len(NUISANCE_KINDS)))]
    # Drawn after the other sources' draws except the nuisance's noise and brightness (drawn in
    # the list below): builds before the artifact source differ from this one in those pixels only.
    canvas = expert if rng.random() < 0.5 else noisy
    painted_view = int(rng.integers(len(config.views)))
    shown = canvas.frames[:, : config.frames]
    artifact_kind = ARTIFACT_KINDS[int(rng.integers(len(ARTIFACT_KINDS)))]
    if artifact_kind == "swelling" and not can_swell(shown[painted_view]):
        artifact_kind = "blob"
    return [
        _item(unit, "expert", "noise=0", expert, in_order),
        _item(unit, "wrong_instruction", f"instruction of {other_task}", expert, in_order, instruction=wrong),
        _item(unit, "noisy", f"noise={noise}", noisy, in_order),
        _item(unit, "action_mismatch", "actions of another simulation", base, in_order, actions=donor.actions[: config.frames]),
        _item(unit, "temporal", temporal_kind, base, corrupted),
        _item(unit, "contact_violation", f"slide at frame {contact.edit_frame}", contact, in_order),
        _item(unit, "physics_violation", f"{physics_kind} at frame {physics.edit_frame}", physics, in_order),
        _item(
            unit, "nuisance", nuisance_kind, clean, in_order,
            frames=apply_nuisance(clean.frames[:, : config.frames], nuisance_kind, rng),
        ),
        _item(
            unit, "artifact", f"{artifact_kind} in {config.views[painted_view]}", canvas, in_order,
            frames=apply_artifact(shown, artifact_kind, rng, view=painted_view), painted=True,
        ),
    ]


def _unit_worker(job: tuple[BuildConfig, Unit]) -> tuple[Unit, list[BenchItem]]:
    return job[1], build_unit(*job)


def _run_units(config: BuildConfig, units: list[Unit], workers: int) -> Iterator[tuple[Unit, list[BenchItem]]]:
    jobs = [(config, unit) for unit in units]
    if workers <= 1:
        yield from map(_unit_worker, jobs)
        return
    # spawn, not fork: each worker opens its own rendering context from scratch.
    with multiprocessing.get_context("spawn").Pool(processes=workers) as pool:
        yield from pool.imap_unordered(_unit_worker, jobs)


def build_benchmark(config: BuildConfig, out: str | Path, *, workers: int = 1, progress: bool = True) -> dict[str, int]:
    """Build the benchmark into ``out``; returns the number of items per split."""
    units = plan_units(config)
    order = {(unit.task, unit.index): position for position, unit in enumerate(units)}
    results: dict[int, list[BenchItem]] = {}
    for unit, items in tqdm(_run_units(config, units, workers), total=len(units), desc="bench units", disable=not progress):
        results[order[(unit.task, unit.index)]] = items
    items = [item for position in sorted(results) for item in results[position]]
    return write_benchmark(out, items, config, progress=progress)
