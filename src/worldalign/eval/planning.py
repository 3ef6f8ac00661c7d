"""The world model as a planner, executed in the simulator, open loop and closed loop (EVA).

EVA (Executable Video Alignment) uses a video world model as a robot planner: generate a video of
the task from the current observation and the instruction, turn it into actions with an inverse
dynamics model, execute them. ``rewards.execution`` scores the *open-loop* plan: one video of the
whole horizon, decoded and executed blind. A plan drifts, and nothing corrects it.

``PlanExecutor.run`` also plans *closed loop*: generate ``replan_every`` frames from the latest
**observed** frames (rendered by the simulator, not generated), decode and execute their actions,
observe the result, repeat until ``horizon`` actions ran or the task is solved. With
``replan_every >= horizon`` it is the open-loop plan. Each round costs one generation, so closed
loop trades sampling time for correction. The simulator starts from the exact recorded state of
the last context frame (``SimulatorStart``), so success is ground truth.

``evaluate_planning`` runs both on held-out episodes for several sampling seeds and reports
success and progress (the fraction of Meta-World's object-to-target distance removed) per task.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from worldalign.algos.conditions import EpisodePool, InstructionEmbedder, instruction_embedding
from worldalign.data.pixels import to_uint8_video, to_unit_range
from worldalign.data.types import Rollout, SimulatorStart
from worldalign.envs.snapshot import Snapshot
from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.idm import InverseDynamicsModel
from worldalign.models.world_model import WorldModel
from worldalign.rewards.decode import decode_rollout_actions
from worldalign.rewards.execution import ExecutionOutcome, SimulatorExecutor
from worldalign.sampling.context_policies import ContextPolicy
from worldalign.sampling.rollout import rollout
from worldalign.sampling.samplers import EulerODESampler


@dataclass
class PlanResult:
    """One planned-and-executed episode.

    Attributes:
        outcome: success, start and final object-to-target distance, actions executed.
        rounds: generations made (1 for an open-loop plan).
        actions: ``(N, A)`` the decoded actions executed, in order.
        observed: ``(V, N, H, W, 3)`` uint8, the simulator's frame after each action.
        planned: ``(V, N, H, W, 3)`` uint8, the generated frame each action was decoded towards.
    """

    outcome: ExecutionOutcome
    rounds: int
    actions: np.ndarray
    observed: np.ndarray
    planned: np.ndarray


@dataclass
class PlanExecutor:
    """Plans with ``model``, decodes with ``idm``, executes in Meta-World (module docstring)."""

    model: WorldModel
    autoencoder: Autoencoder
    idm: InverseDynamicsModel
    policy: ContextPolicy
    views: tuple[str, ...]
    """The world model's views, in its order (the simulator renders these)."""
    fps: int
    instruction_encoder: InstructionEmbedder | None = None
    sampling_steps: int = 10
    action_repeat: int = 2
    simulator: SimulatorExecutor = field(init=False, repr=False)
    """One simulator per task, rendering the world model's views."""

    def __post_init__(self) -> None:
        missing = [view for view in self.idm.config.views if view not in self.views]
        if missing:
            raise ConfigError(f"the IDM reads views {list(self.idm.config.views)}; the world model has {self.views}")
        image_size = self.autoencoder.config.image_size
        self.simulator = SimulatorExecutor(self.action_repeat, views=self.views, image_size=image_size)

    @torch.no_grad()
    def run(
        self,
        start: SimulatorStart,
        context: Tensor,
        instruction: str,
        horizon: int,
        replan_every: int,
        generator: torch.Generator,
    ) -> PlanResult:
        """Plan and execute up to ``horizon`` actions from ``start``, whose last context frames
        are ``context`` ``(V, C, 3, H, W)`` in [-1, 1], generating ``replan_every`` frames per
        round from the latest observed frames; stops early once the task is solved."""
        if horizon < 1 or replan_every < 1:
            raise ConfigError(f"horizon {horizon} and replan_every {replan_every}: expected >= 1 each")
        env = self.simulator.env(start.task)
        env.restore(Snapshot.from_vector(start.snapshot, start.layout))
        start_distance = float(env.privileged()["obj_to_target"][0])
        horizon = min(horizon, env.max_policy_steps - env.policy_step)
        if horizon < 1:
            raise ConfigError(f"{start.task}: the start state is at Meta-World's last step; nothing is left to execute")
        device = self.autoencoder.latent_mean.device
        embedding = instruction_embedding(self.model, [instruction], self.instruction_encoder, device)
        observed, planned, actions = [context.to(device)], [], []
        success, rounds, executed = False, 0, 0
        while executed < horizon and not success:
            frames = torch.cat(observed[-context.shape[1] :], dim=1)[:, -context.shape[1] :]  # (V, C, ...): real only
            plan = self._plan(frames, embedding, min(replan_every, horizon - executed), generator)
            rounds += 1
            decoded = decode_rollout_actions(self.idm, plan, with_state=False).actions[0].cpu().numpy()
            for step, action in enumerate(decoded):
                env.step(action)
                observed.append(to_unit_range(env.render()).unsqueeze(1).to(device))
                planned.append(plan.frames[0, :, step : step + 1])
                actions.append(action)
                executed += 1
                if env.success():
                    success = True
                    break
        final_distance = float(env.privileged()["obj_to_target"][0])
        return PlanResult(
            outcome=ExecutionOutcome(success, start_distance, final_distance, executed),
            rounds=rounds,
            actions=np.stack(actions),
            observed=to_uint8_video(torch.cat(observed[1:], dim=1)),
            planned=to_uint8_video(torch.cat(planned, dim=1)),
        )

    def _plan(self, frames: Tensor, embedding: Tensor | None, length: int, generator: torch.Generator) -> Rollout:
        """``length`` frames generated after the observed ``frames`` (one video)."""
        result = rollout(
            self.model,
            self.autoencoder,
            self.autoencoder.encode(frames[None]),
            length,
            self.policy,
            sampler=EulerODESampler(steps=self.sampling_steps),
            instruction=embedding,
            generator=generator,
        )
        assert result.frames is not None
        return Rollout(frames=result.frames, views=self.views, fps=self.fps, context=frames[None])

    def close(self) -> None:
        """Free every simulator (and its renderer)."""
        self.simulator.close()


PlannedEpisodes = list[list[tuple[str, PlanResult]]]
"""Per sampling seed, per episode: (task, what planning it did)."""


def evaluate_planning(
    executor: PlanExecutor,
    pool: EpisodePool,
    *,
    context_frames: int,
    horizon: int,
    replan_every: Sequence[int],
    seeds: Sequence[int],
    progress: bool = True,
) -> tuple[dict[str, dict[str, object]], dict[str, PlannedEpisodes]]:
    """Every episode of ``pool`` planned and executed from its frame ``context_frames - 1`` with
    each ``replan_every`` (``>= horizon``: open loop) for each sampling seed. Returns, per mode
    (``"every K"``), the summary (success and progress overall and per task, each the mean over
    episodes then over seeds, with the sampling-seed std) and every episode's ``PlanResult``."""
    summaries, episodes = {}, {}
    bar = tqdm(total=len(replan_every) * len(seeds) * len(pool.episodes), desc="planning", disable=not progress)
    for every in replan_every:
        per_seed: PlannedEpisodes = []
        for seed in seeds:
            generator = torch.Generator().manual_seed(seed)
            results = []
            for position, episode in enumerate(pool.episodes):
                start = pool.start(position, context_frames - 1)
                if start is None:
                    raise ConfigError(f"episode {pool.indices[position]} recorded no simulator states: cannot execute")
                context = pool.frames(position, 0, context_frames)
                result = executor.run(start, context, episode.instruction, horizon, every, generator)
                results.append((episode.task, result))
                bar.update()
                bar.set_postfix(every=every, seed=seed, solved=int(result.outcome.success))
            per_seed.append(results)
        mode = f"every {min(every, horizon)}"
        summaries[mode], episodes[mode] = _summary(per_seed, open_loop=every >= horizon), per_seed
    bar.close()
    return summaries, episodes


def _summary(per_seed: PlannedEpisodes, open_loop: bool) -> dict[str, object]:
    def spread(values: list[float]) -> dict[str, float]:
        return {"mean": statistics.fmean(values), "seed_std": statistics.stdev(values) if len(values) > 1 else 0.0}

    def rates(results: list[tuple[str, PlanResult]]) -> tuple[float, float, float]:
        outcomes = [result.outcome for _, result in results]
        return (
            statistics.fmean(float(o.success) for o in outcomes),
            statistics.fmean(o.progress for o in outcomes),
            statistics.fmean(result.rounds for _, result in results),
        )

    overall = [rates(results) for results in per_seed]
    tasks = sorted({task for task, _ in per_seed[0]})
    by_task = {
        task: [rates([(t, r) for t, r in results if t == task]) for results in per_seed] for task in tasks
    }
    return {
        "open_loop": open_loop,
        "success": spread([row[0] for row in overall]),
        "progress": spread([row[1] for row in overall]),
        "rounds": statistics.fmean(row[2] for row in overall),
        "by_task": {
            task: {"success": spread([row[0] for row in rows]), "progress": spread([row[1] for row in rows])}
            for task, rows in by_task.items()
        },
    }
