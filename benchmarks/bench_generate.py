"""Data generation throughput: ``worldalign data generate`` vs a bare loop of the same renders.

The bare loop does only what any generator must: reset, query the scripted expert, step the
simulator and render every view. Ours also records state, privileged state and exact
snapshots, stages every episode atomically and packs the LeRobot v3 dataset (parquet, lossless
mp4 per camera, metadata, stats). Both run in this process, one worker, same episodes.

    .venv/bin/python benchmarks/bench_generate.py [--episodes-per-task 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from worldalign.envs.cameras import DEFAULT_VIEWS
from worldalign.envs.experts import ScriptedExpert
from worldalign.envs.generate import GenerationConfig, generate_dataset, plan_episodes
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.recorder import DEFAULT_MAX_STEPS


def bare_loop(config: GenerationConfig) -> float:
    """Seconds for reset + expert + step + render of every planned episode, nothing kept."""
    environments = {
        task: MetaWorldEnv(task, views=config.views, image_size=config.image_size, action_repeat=config.action_repeat)
        for task in config.tasks
    }
    start = time.perf_counter()
    for spec in plan_episodes(config):
        env = environments[spec.task]
        expert = ScriptedExpert(spec.task, noise=config.noise, seed=spec.seed)
        observation = env.reset(spec.seed)
        for _ in range(config.max_steps):
            env.render()
            observation = env.step(expert.act(observation))
    elapsed = time.perf_counter() - start
    for env in environments.values():
        env.close()
    return elapsed


def ours(config: GenerationConfig) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        generate_dataset(config, f"{out}/dataset", workers=1, progress=False)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes-per-task", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    config = GenerationConfig(
        tasks=("reach-v3", "push-v3", "drawer-open-v3"),
        episodes_per_task=args.episodes_per_task,
        noise=0.1,
        views=DEFAULT_VIEWS,
        image_size=args.size,
        action_repeat=2,
        max_steps=DEFAULT_MAX_STEPS,
        seed=0,
    )
    episodes = len(config.tasks) * config.episodes_per_task
    frames = episodes * config.max_steps
    # Warm both paths once (scene loads, codec start-up) with the smallest job.
    warm = GenerationConfig(**{**config.__dict__, "episodes_per_task": 1, "max_steps": 5})
    bare_loop(warm), ours(warm)
    bare = bare_loop(config)
    full = ours(config)
    print(f"{episodes} episodes x {config.max_steps} steps, {len(config.views)} views at {config.image_size} px")
    print(f"bare loop (reset+expert+step+render): {bare:7.2f} s  {frames / bare:7.1f} frames/s")
    print(f"worldalign data generate (1 worker):  {full:7.2f} s  {frames / full:7.1f} frames/s")
    print(f"overhead: {full / bare - 1:+.1%}  (target <= +10%)")


if __name__ == "__main__":
    main()
