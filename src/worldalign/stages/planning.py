"""``worldalign plan``: a world model planning in the simulator, open loop against closed loop.

Loads the world model, its autoencoder and the IDM, takes held-out episodes of the dataset (those
``align`` never trains on, optionally of some tasks only), and runs ``eval.planning`` on them:
success and progress per mode and task, written to ``OUT/planning.json``, and one video per
episode and mode (the simulator's frames above the plan's) for a person to look at.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worldalign.data.clips import split_episodes, spread_evenly
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.selection import check_image_size
from worldalign.errors import ConfigError
from worldalign.eval.planning import PlanExecutor, PlanResult, evaluate_planning
from worldalign.models.text.instruction_encoder import InstructionEncoder
from worldalign.rewards.decode import load_idm
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.runs.side_files import copy_side_files, instruction_cache_file
from worldalign.sampling.context_policies import check_policy, context_policy_by_short_name
from worldalign.stages.align import episode_pool, model_views
from worldalign.utils.atomic import atomic_write_json, make_folder
from worldalign.utils.config_serialization import config_to_dict
from worldalign.viz.video_grid import compose_grid, viewing_scale, write_video

PLANNING_FILE = "planning.json"
VIDEOS_DIR = "videos"


@dataclass(frozen=True)
class PlanningSetup:
    """What to plan with, on which episodes, how (``worldalign plan --help``)."""

    world_model: Path
    autoencoder: Path
    dataset: Path
    out: Path
    idm: Path | None = None
    """Inverse dynamics model folder (default: the shipped ``checkpoints/idm-cpu``)."""
    tasks: tuple[str, ...] = ()
    """Only held-out episodes of these tasks (default: every task)."""
    episodes: int = 10
    """Held-out episodes, spread evenly over the held-out split."""
    held_out: float = 0.1
    """The held-out fraction of each task's episodes (``align``'s split)."""
    context_frames: int = 2
    horizon: int = 48
    """Actions executed at most (fewer if the task is solved first)."""
    replan_every: tuple[int, ...] = (48, 8)
    """Frames generated per round, one mode each; ``>= horizon`` is the open-loop plan."""
    seeds: int = 2
    """Sampling seeds."""
    sampling_steps: int = 10
    policy: str = "swr"
    window: int | None = None
    videos: int = 2
    """Episodes with a video per mode (sampling seed 0)."""


def plan_in_simulator(setup: PlanningSetup) -> dict[str, Any]:
    """Run ``setup``; returns (and writes to ``OUT/planning.json``) the summary per mode."""
    counts = {
        "--episodes": setup.episodes,
        "--seeds": setup.seeds,
        "--horizon": setup.horizon,
        "--context-frames": setup.context_frames,
        "--replan-every": min(setup.replan_every, default=0),  # one or more frame counts
    }
    wrong = [f"{name} {value}" for name, value in counts.items() if value < 1]
    if wrong or setup.videos < 0:
        videos = [f"--videos {setup.videos} (expected >= 0)"] if setup.videos < 0 else []
        raise ConfigError(f"{', '.join(wrong + videos)}: expected >= 1")
    world_model = load_world_model_run(setup.world_model)
    autoencoder = load_autoencoder(setup.autoencoder)
    dataset = LeRobotDataset(setup.dataset)
    views = model_views(dataset, world_model.model.config.num_views, setup.world_model)
    check_image_size(dataset, views, autoencoder.config.image_size, "the autoencoder")
    _, held_out = split_episodes(dataset.task_names, held_out_fraction=setup.held_out)
    unknown = sorted(set(setup.tasks) - set(dataset.task_names))
    if unknown:
        raise ConfigError(f"--tasks {unknown}: not in {setup.dataset} (its tasks: {sorted(set(dataset.task_names))})")
    chosen = [index for index in held_out if not setup.tasks or dataset.task_names[index] in setup.tasks]
    if not chosen:
        raise ConfigError(f"{setup.dataset}: no held-out episode (--held-out {setup.held_out}) of tasks {setup.tasks}")
    chosen = spread_evenly(chosen, setup.episodes)
    pool = episode_pool(dataset, chosen, views, world_model.normalizer)
    policy = context_policy_by_short_name(setup.policy, frames=setup.window)
    limit = world_model.model.config.max_context_frames
    check_policy(policy.resolved(limit), limit, world_model.model.config.future_frames)

    make_folder(setup.out)
    instructions = None
    if world_model.model.config.instruction_dim > 0:  # new instructions are cached here, not in the source run
        copy_side_files(world_model.model_dir, setup.out)
        instructions = InstructionEncoder(instruction_cache_file(setup.out))
    executor = PlanExecutor(
        world_model.model,
        autoencoder,
        load_idm(setup.idm),
        policy,
        views,
        dataset.fps,
        instruction_encoder=instructions,
        sampling_steps=setup.sampling_steps,
    )
    try:
        summaries, planned = evaluate_planning(
            executor,
            pool,
            context_frames=setup.context_frames,
            horizon=setup.horizon,
            replan_every=setup.replan_every,
            seeds=range(setup.seeds),
        )
    finally:
        executor.close()
    videos = {mode: _videos(mode, seeds[0], pool.indices, views, setup, dataset.fps) for mode, seeds in planned.items()}
    report = {
        "setup": config_to_dict(setup),
        "episodes": chosen,
        "modes": summaries,
        "videos": {mode: [str(path.relative_to(setup.out)) for path in paths] for mode, paths in videos.items()},
    }
    atomic_write_json(setup.out / PLANNING_FILE, report)
    return report


def _videos(
    mode: str,
    episodes: Sequence[tuple[str, PlanResult]],
    indices: list[int],
    views: tuple[str, ...],
    setup: PlanningSetup,
    fps: int,
) -> list[Path]:
    """The first ``setup.videos`` episodes of one mode: the simulator's frames above the plan's."""
    written = []
    for (task, result), index in list(zip(episodes, indices, strict=True))[: setup.videos]:
        outcome = "solved" if result.outcome.success else f"not solved, progress {result.outcome.progress:+.2f}"
        grid = compose_grid(
            [result.observed, result.planned],
            column_labels=list(views),
            row_labels=["executed", "planned"],
            title=f"episode {index} ({task}), {mode}: {result.rounds} plan(s), {outcome}",
            scale=viewing_scale(result.observed.shape[-2]),
        )
        name = f"episode_{index}_{mode.replace(' ', '_')}.mp4"
        written.append(write_video(grid, setup.out / VIDEOS_DIR / name, fps=fps))
    return written
