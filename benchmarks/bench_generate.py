"""Data generation throughput: ``worldalign data generate`` vs a bare loop of the same renders.

The bare loop does only what any generator must: reset, query the scripted expert, step the
simulator and render every view. Ours also records state, privileged state and exact
snapshots, stages every episode atomically and packs the LeRobot v3 dataset (parquet, lossless
mp4 per camera, metadata, stats). Both run in this process, one worker, same episodes.

    .venv/bin/python benchmarks/bench_generate.py [--episodes-per-task 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile

from _timing import interleaved_medians

from worldalign.envs.cameras import DEFAULT_VIEWS
from worldalign.envs.experts import ScriptedExpert
from worldalign.envs.generate import GenerationConfig, generate_dataset, plan_episodes
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.tasks import DEFAULT_MAX_STEPS


def bare_loop(config: GenerationConfig, environments: dict[str, MetaWorldEnv]) -> None:
    """Reset + expert + step + render of every planned episode, nothing kept."""
    for spec in plan_episodes(config):
        env = environments[spec.task]
        expert = ScriptedExpert(spec.task, noise=config.noise, seed=spec.seed)
        observation = env.reset(spec.seed)
        for _ in range(config.max_steps):
            env.render()
            observation = env.step(expert.act(observation))


def ours(config: GenerationConfig) -> None:
    with tempfile.TemporaryDirectory() as out:
        generate_dataset(config, f"{out}/dataset", workers=1, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes-per-task", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
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
    # Both paths keep one environment per task (the generator caches its own), so scene loads
    # are outside the timed rounds for both.
    environments = {
        task: MetaWorldEnv(task, views=config.views, image_size=config.image_size, action_repeat=config.action_repeat)
        for task in config.tasks
    }
    medians = interleaved_medians(
        {"bare": lambda: bare_loop(config, environments), "ours": lambda: ours(config)}, repeats=args.repeats
    )
    frames = len(config.tasks) * config.episodes_per_task * config.max_steps
    print(f"{frames // config.max_steps} episodes x {config.max_steps} steps, {len(config.views)} views at "
          f"{config.image_size} px; median of {args.repeats} interleaved rounds")
    print(f"bare loop (reset+expert+step+render): {medians['bare']:7.2f} s  {frames / medians['bare']:7.1f} frames/s")
    print(f"worldalign data generate (1 worker):  {medians['ours']:7.2f} s  {frames / medians['ours']:7.1f} frames/s")
    print(f"overhead: {medians['ours'] / medians['bare'] - 1:+.1%}  (target <= +10%)")


if __name__ == "__main__":
    main()
