"""The world model as a policy evaluator (issue 23, item 2): does success in the world model rank
policies as the simulator does?

For each task, ``--episodes-per-task`` recorded episodes (after skipping the first
``--skip-per-task`` of each task: by default the 16 per task the shipped models were trained on)
give a real start. Each policy (the scripted expert, the expert with action noise 0.2 and 0.5,
a random policy; ``envs.policy_runs``) runs ``--horizon`` steps in Meta-World from the state of
the episode's last context frame; its actions are replayed open-loop in ``WorldModelEnv`` from
the same ``--context`` real frames (Sliding Window Re-encoding by default), and the success
classifier judges the generated frames. Writes JSON: every outcome, success rates per task and
policy in both worlds, Spearman's rho and Pearson's r per task, pooled over (task, policy) pairs
and over the task-averaged rates (``eval.policy_ranking``). WorldGym (ICLR 2026) reports r = 0.78.

    .venv/bin/python benchmarks/world_model_policy_eval.py --dataset outputs/data/mt10-48 \\
        --success outputs/success-cpu --tasks reach-v3,drawer-close-v3 --episodes-per-task 3 \\
        --horizon 24 --out outputs/policy_eval.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tqdm import tqdm

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.policy_runs import POLICY_NAMES, make_policy, run_policy
from worldalign.envs.snapshot import Snapshot
from worldalign.errors import ConfigError
from worldalign.eval.policy_ranking import Outcome, summarise, world_model_success
from worldalign.eval.world_model_env import WorldModelEnv
from worldalign.rewards.success import make_success_reward
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.sampling.context_policies import context_policy_by_short_name
from worldalign.utils.atomic import atomic_write_json
from worldalign.utils.text import split_list

TRAINED_EPISODES_PER_TASK = 16  # `make shipped-checkpoints` generates 16 episodes per task (seed 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", type=Path, default=Path("checkpoints/world-model-cpu"))
    parser.add_argument("--autoencoder", type=Path, default=Path("checkpoints/autoencoder-cpu"))
    parser.add_argument("--dataset", type=Path, required=True, help="a `worldalign data generate` dataset")
    parser.add_argument("--success", type=Path, required=True, help="a success classifier folder")
    parser.add_argument("--tasks", default=None, help="comma-separated tasks (default: all of the dataset's)")
    parser.add_argument("--policies", default=",".join(POLICY_NAMES))
    parser.add_argument("--episodes-per-task", type=int, default=3)
    parser.add_argument("--skip-per-task", type=int, default=TRAINED_EPISODES_PER_TASK)
    parser.add_argument("--context", type=int, default=2)
    parser.add_argument("--horizon", type=int, default=24, help="policy steps (a multiple of the model's chunk)")
    parser.add_argument("--context-policy", default="swr", help="swr, full-history or fixed-window")
    parser.add_argument("--window", type=int, default=None, help="context frames of swr / fixed-window")
    parser.add_argument("--sampling-steps", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=0.5, help="success classifier threshold")
    parser.add_argument("--action-repeat", type=int, default=2, help="the dataset's simulator steps per action")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    dataset = LeRobotDataset(args.dataset)
    by_task = dataset.episodes_by_task()
    tasks = list(split_list(args.tasks)) if args.tasks else list(by_task)
    unknown = [task for task in tasks if task not in by_task]
    if unknown:
        raise ConfigError(f"--tasks {unknown}: not in {args.dataset}, which has {list(by_task)}")
    policies = list(split_list(args.policies))
    chosen = {task: by_task[task][args.skip_per_task : args.skip_per_task + args.episodes_per_task] for task in tasks}
    short = [task for task, episodes in chosen.items() if len(episodes) < args.episodes_per_task]
    if short:
        raise ConfigError(
            f"--episodes-per-task {args.episodes_per_task} after --skip-per-task {args.skip_per_task}: {short} have "
            f"fewer episodes in {args.dataset}"
        )
    run = load_world_model_run(args.world_model)
    env = WorldModelEnv(
        run.model,
        load_autoencoder(args.autoencoder),
        dataset,
        make_success_reward(args.success, args.threshold),
        normalizer=run.normalizer,
        instruction_encoder=run.instruction_encoder,
        episodes=[e for episodes in chosen.values() for e in episodes],
        context=args.context,
        max_steps=args.horizon // run.model.config.future_frames,
        policy=context_policy_by_short_name(args.context_policy, frames=args.window),
        sampling_steps=args.sampling_steps,
    )
    if args.horizon % env.chunk:
        raise ConfigError(f"--horizon {args.horizon}: expected a multiple of the model's chunk {env.chunk}")
    outcomes: list[Outcome] = []
    began = time.perf_counter()
    bar = tqdm(total=sum(map(len, chosen.values())) * len(policies), desc="policy evaluation", unit="run")
    for task, episodes in chosen.items():
        with MetaWorldEnv(task, views=(), action_repeat=args.action_repeat) as simulator:
            for episode_index in episodes:
                # One view is enough for the snapshots; the environment reads the frames it needs.
                episode = dataset.episode(episode_index, dataset.views[:1])
                if episode.snapshots is None or episode.layout is None:
                    raise ConfigError(f"{args.dataset}: episode {episode_index} has no simulator snapshots")
                start = Snapshot.from_vector(episode.snapshots[args.context - 1], episode.layout)
                for p, name in enumerate(policies):
                    policy = make_policy(name, task, seed=args.seed * 1_000_003 + episode_index * 101 + p)
                    simulated = run_policy(simulator, policy, start, args.horizon)
                    # The same noise seed for every policy of an episode: the comparison is paired.
                    success, best = world_model_success(
                        env, episode_index, simulated.actions, seed=args.seed * 1_000_003 + episode_index
                    )
                    outcomes.append(Outcome(task, episode_index, name, simulated.success, success, best))
                    bar.update()
        atomic_write_json(args.out, _report(args, outcomes, policies, chosen, time.perf_counter() - began))
    bar.close()
    report = _report(args, outcomes, policies, chosen, time.perf_counter() - began)
    atomic_write_json(args.out, report)
    _print(report)


def _report(
    args: argparse.Namespace, outcomes: list[Outcome], policies: list[str], chosen: dict[str, list[int]], seconds: float
) -> dict[str, object]:
    return {
        "config": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "episodes": chosen,
        "seconds": seconds,
        "outcomes": [vars(outcome) for outcome in outcomes],
        **summarise(outcomes, policies),
    }


def _cell(value: object) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def _print(report: dict[str, object]) -> None:
    per_task = report["per_task"]
    assert isinstance(per_task, dict)
    for task, result in per_task.items():
        rates = ", ".join(f"{p} {r['simulator']:.2f}/{r['world_model']:.2f}" for p, r in result["rates"].items())
        corr = result["correlation"]
        print(f"{task}: sim/wm {rates}; spearman {_cell(corr['spearman'])} pearson {_cell(corr['pearson'])}")
    pooled = report["pooled_task_policy_pairs"]
    assert isinstance(pooled, dict)
    print(f"pooled (task, policy) pairs: spearman {_cell(pooled['spearman'])} pearson {_cell(pooled['pearson'])}")
    mean = report["mean_over_tasks"]
    assert isinstance(mean, dict)
    print(
        f"mean over tasks: spearman {_cell(mean['correlation']['spearman'])} "
        f"pearson {_cell(mean['correlation']['pearson'])}; agreement per episode {report['episode_agreement']:.2f}"
    )
    print(f"{report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
