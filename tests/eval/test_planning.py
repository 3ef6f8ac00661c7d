"""The world model planning in the simulator: open loop (one plan) against closed loop (replanning
from what the simulator rendered), with the shipped models on freshly recorded episodes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.envs.generate import GenerationConfig, generate_dataset
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.snapshot import Snapshot
from worldalign.errors import ConfigError
from worldalign.eval.planning import PlanExecutor
from worldalign.rewards.decode import load_idm
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.sampling.context_policies import context_policy_by_short_name
from worldalign.stages.align import episode_pool
from worldalign.stages.planning import PLANNING_FILE, PlanningSetup, plan_in_simulator

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"
VIEWS = ("oblique", "front", "wrist")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = GenerationConfig(
        tasks=("drawer-close-v3",), episodes_per_task=2, noise=0.0, views=VIEWS,
        image_size=64, action_repeat=2, max_steps=20, seed=11,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("planning") / "data"
    generate_dataset(config, out, workers=1, progress=False)
    return out


def test_closed_loop_plans_execute_in_the_simulator_from_what_it_rendered(dataset: Path, tmp_path: Path) -> None:
    setup = PlanningSetup(
        world_model=SHIPPED / "world-model-cpu", autoencoder=SHIPPED / "autoencoder-cpu", dataset=dataset,
        out=tmp_path / "plan", episodes=1, horizon=8, replan_every=(8, 3), seeds=1, sampling_steps=2, videos=1,
    )  # fmt: skip
    report = plan_in_simulator(setup)
    open_loop, closed_loop = report["modes"]["every 8"], report["modes"]["every 3"]
    assert open_loop["open_loop"] and not closed_loop["open_loop"]
    assert open_loop["rounds"] == 1.0
    solved = closed_loop["success"]["mean"] > 0
    assert closed_loop["rounds"] == 3.0 or solved, "8 actions, 3 per plan: plans of 3, 3 and 2 frames"
    assert set(closed_loop["by_task"]) == {"drawer-close-v3"}
    assert json.loads((setup.out / PLANNING_FILE).read_text())["modes"] == report["modes"]
    assert sorted(path.name for path in (setup.out / "videos").iterdir()) == [
        f"episode_{report['episodes'][0]}_every_3.mp4",
        f"episode_{report['episodes'][0]}_every_8.mp4",
    ]

    # The executed frames are the simulator's: replaying the executed actions reproduces them bitwise.
    data = LeRobotDataset(dataset)
    world_model = load_world_model_run(SHIPPED / "world-model-cpu")
    pool = episode_pool(data, report["episodes"], VIEWS, world_model.normalizer)
    executor = PlanExecutor(
        world_model.model,
        load_autoencoder(SHIPPED / "autoencoder-cpu"),
        load_idm(None),
        context_policy_by_short_name("swr"),
        VIEWS,
        data.fps,
        instruction_encoder=world_model.instruction_encoder,
        sampling_steps=2,
    )
    start = pool.start(0, 1)
    assert start is not None
    result = executor.run(start, pool.frames(0, 0, 2), pool.episodes[0].instruction, 8, 3, torch.Generator())
    executor.close()
    assert result.actions.shape == (result.outcome.steps, 4) and result.observed.shape[:2] == (3, result.outcome.steps)
    with MetaWorldEnv(start.task, views=VIEWS, image_size=64) as env:
        replay = env.execute(result.actions, Snapshot.from_vector(start.snapshot, start.layout))
    np.testing.assert_array_equal(replay.frames, result.observed)
    assert not np.array_equal(result.planned, result.observed), "the plan is generated, not rendered"

    for wrong, message in (
        ({"replan_every": (0,)}, "--replan-every 0"),
        ({"tasks": ("reach-v3",)}, r"--tasks \['reach-v3'\]: not in"),
    ):
        with pytest.raises(ConfigError, match=message):
            plan_in_simulator(dataclasses.replace(setup, **wrong))
