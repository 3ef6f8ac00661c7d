"""Execution in the simulator: decoded plans run from the rollout's exact start state."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from worldalign.data.types import Episode
from worldalign.envs.recorder import record_episode
from worldalign.envs.snapshot import Snapshot
from worldalign.errors import ConfigError
from worldalign.models.idm import InverseDynamicsModel
from worldalign.rewards.episode_rollouts import episode_rollout, stack_rollouts
from worldalign.rewards.execution import ExecutionOutcome, ExecutionReward, SimulatorExecutor

EASY_TASKS = ("reach-v3", "button-press-topdown-v3", "drawer-close-v3", "window-close-v3")


def test_progress_is_the_fraction_of_the_distance_removed() -> None:
    assert ExecutionOutcome(True, 0.2, 0.05, 10).progress == pytest.approx(0.75)
    assert ExecutionOutcome(False, 0.1, 0.3, 10).progress == -1.0  # clipped
    assert ExecutionOutcome(True, 0.0, 0.0, 10).progress == 0.0


def test_replaying_recorded_expert_actions_from_the_first_snapshot_succeeds(expert_episodes: list[Episode]) -> None:
    executor = SimulatorExecutor(action_repeat=2)
    try:
        for episode in expert_episodes:
            assert episode.snapshots is not None and episode.layout is not None
            # The actions that lead to the recorded frames 1..T-1 (the last one has no recorded outcome).
            outcome = executor.run(
                episode.task, Snapshot.from_vector(episode.snapshots[0], episode.layout), episode.actions[:-1]
            )
            assert outcome.success == episode.success
            assert outcome.final_distance == float(episode.privileged["obj_to_target"][-1, 0])
    finally:
        executor.close()


def test_execution_reward_scores_decoded_plans(
    shipped_idm: InverseDynamicsModel, expert_episodes: list[Episode]
) -> None:
    reward = ExecutionReward(shipped_idm)
    rollout = stack_rollouts([episode_rollout(e, start=3, length=24, context_frames=3) for e in expert_episodes])
    out = reward(rollout)
    assert set(out) == {"execution", "execution/success", "execution/progress", "execution/final_distance"}
    assert set(out["execution/success"].tolist()) <= {0.0, 1.0}
    assert np.isfinite(out["execution"].numpy()).all()
    # Decoded expert motion brings the object (or hand) towards the goal on average.
    assert out["execution/progress"].mean() > 0
    with pytest.raises(ConfigError, match="no start states"):
        reward(replace(rollout, starts=None))


@pytest.mark.slow
def test_decoded_expert_videos_execute_in_the_simulator(shipped_idm: InverseDynamicsModel) -> None:
    """Full-length expert episodes (seeds the IDM never saw): decode the whole video, execute
    open-loop from the first state; prints success and progress per task.

    Measured with the shipped IDM (replaying the recorded actions succeeds 100% everywhere;
    in brackets the previous IDM, trained 800 steps on noise-0.4 data only):

    | task | `data generate --noise 0 --seed 7` (5) | seeds 3000-3004 here (5) |
    |---|---|---|
    | drawer-close | 100% (100%) | 100% (100%) |
    | window-close | 100% (80%) | 100% (0%) |
    | button-press-topdown | 80% (20%) | 100% (40%) |
    | reach | 20% (20%) | 40% (0%) |

    Progress here: 0.76 / 0.64 / 0.70 / 0.95 (reach, button-press, drawer-close, window-close).
    "Most episodes of easy tasks succeed" holds for three tasks of four, not for reach: its
    open-loop plans remove 76% of the start distance on average, often short of the 5 cm success
    radius (an open-loop plan has no way to correct a small decoding bias over 99 steps). The
    test guards each level less one episode, and the mean progress."""
    reward = ExecutionReward(shipped_idm)
    success, progress = {}, {}
    for task in EASY_TASKS:
        episodes = [
            record_episode(task, seed=3000 + i, views=shipped_idm.config.views, max_steps=100) for i in range(5)
        ]
        out = reward(stack_rollouts([episode_rollout(e, start=1, length=99, context_frames=1) for e in episodes]))
        success[task], progress[task] = float(out["execution/success"].mean()), float(out["execution/progress"].mean())
    print("decoded-plan success per task:", success, "progress:", progress)
    for task in ("drawer-close-v3", "window-close-v3", "button-press-topdown-v3"):
        assert success[task] >= 0.8, success
    assert success["reach-v3"] >= 0.2, success
    assert np.mean(list(progress.values())) >= 0.6, progress
