"""The world model as a policy evaluator: success of the same action sequences in the world model
and in the simulator, and how well the world model ranks the policies.

WorldGym (ICLR 2026) evaluates policies inside a video world model and reports the correlation
between a policy's success there and its real success (Pearson r = 0.78 over its policies).
Here the "real" side is the simulator (``envs.policy_runs``: each policy run from the state of
the episode's last context frame, its actions recorded), and the world-model side replays the
same actions open-loop in ``WorldModelEnv`` from the same real context
(``world_model_success``). ``summarise`` turns the per-(task, episode, policy) outcomes into
success rates per task and policy, and Spearman's rank correlation and Pearson's r between the
two rates: across policies per task, across the (task, policy) pairs pooled, and across policies
with the rates averaged over tasks. A correlation over constant rates is undefined and is
reported as ``None`` with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from worldalign.errors import ConfigError
from worldalign.eval.world_model_env import WorldModelEnv


@dataclass(frozen=True)
class Outcome:
    """One policy on one episode, in the simulator and in the world model."""

    task: str
    episode: int
    policy: str
    simulator_success: bool
    world_model_success: bool
    world_model_best_probability: float
    """The highest per-step reward (the success classifier: the highest frame probability)."""


def world_model_success(env: WorldModelEnv, episode: int, actions: np.ndarray, seed: int) -> tuple[bool, float]:
    """Replay ``(T, A)`` actions open-loop from ``episode``'s real context, ``env.chunk`` per step.

    Returns whether any step succeeded and the highest per-step reward. The rollout stops at the
    first success (the environment terminates), as Meta-World counts an episode solved then.
    """
    if actions.ndim != 2 or actions.shape[0] % env.chunk:
        raise ConfigError(
            f"world_model_success: actions of shape {actions.shape}; expected (T, A) with T a multiple of the "
            f"environment's chunk {env.chunk}"
        )
    env.reset(seed=seed, options={"episode": episode})
    best = -np.inf
    for start in range(0, actions.shape[0], env.chunk):
        _, reward, terminated, _, info = env.step(actions[start : start + env.chunk])
        best = max(best, reward)
        if terminated:
            return bool(info["success"]), float(best)
    return False, float(best)


def correlations(simulator: Sequence[float], world_model: Sequence[float]) -> dict[str, Any]:
    """Spearman's rho and Pearson's r of two equally long rate lists (``None`` where undefined)."""
    x, y = np.asarray(simulator, float), np.asarray(world_model, float)
    out: dict[str, Any] = {"points": len(x), "spearman": None, "pearson": None}
    if len(x) < 3:
        out["undefined"] = f"{len(x)} point(s): a correlation needs at least 3"
    elif np.ptp(x) == 0 or np.ptp(y) == 0:
        which = "simulator" if np.ptp(x) == 0 else "world-model"
        out["undefined"] = f"the {which} rates are all equal ({x[0] if which == 'simulator' else y[0]:.3f})"
    else:
        out["spearman"] = float(stats.spearmanr(x, y).statistic)
        out["pearson"] = float(stats.pearsonr(x, y).statistic)
    return out


def summarise(outcomes: Sequence[Outcome], policies: Sequence[str]) -> dict[str, Any]:
    """Success rates per task and policy in both worlds, and their correlations (module docstring)."""
    tasks = sorted({outcome.task for outcome in outcomes})
    per_task: dict[str, Any] = {}
    pooled_sim, pooled_wm = [], []
    for task in tasks:
        rates: dict[str, dict[str, float | int]] = {}
        for policy in policies:
            rows = [o for o in outcomes if o.task == task and o.policy == policy]
            if not rows:
                continue
            rates[policy] = {
                "episodes": len(rows),
                "simulator": float(np.mean([o.simulator_success for o in rows])),
                "world_model": float(np.mean([o.world_model_success for o in rows])),
            }
        sim = [float(rate["simulator"]) for rate in rates.values()]
        wm = [float(rate["world_model"]) for rate in rates.values()]
        pooled_sim += sim
        pooled_wm += wm
        per_task[task] = {"rates": rates, "correlation": correlations(sim, wm)}
    mean_rates = {
        policy: {
            world: float(
                np.mean([per_task[t]["rates"][policy][world] for t in tasks if policy in per_task[t]["rates"]])
            )
            for world in ("simulator", "world_model")
        }
        for policy in policies
        if any(policy in per_task[t]["rates"] for t in tasks)
    }
    agreement = float(np.mean([o.simulator_success == o.world_model_success for o in outcomes])) if outcomes else None
    return {
        "per_task": per_task,
        "pooled_task_policy_pairs": correlations(pooled_sim, pooled_wm),
        "mean_over_tasks": {
            "rates": mean_rates,
            "correlation": correlations(
                [rate["simulator"] for rate in mean_rates.values()],
                [rate["world_model"] for rate in mean_rates.values()],
            ),
        },
        "episode_agreement": agreement,
    }
