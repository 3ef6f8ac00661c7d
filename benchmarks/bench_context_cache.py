"""What a causal context saves: sampling with full attention against a causal-context model that
computes its context once per chunk (``WorldModelConfig.causal_context``, ``WorldModel.encode_context``).

Two measurements on randomly initialised models of a preset (weights do not change the cost), the
two architectures taking turns in every round (``_timing.interleaved_medians``):

- ``chunk``: one chunk of ``--batch`` samples, ``--steps`` Euler steps, for each context length;
- ``rollout``: autoregressive rollouts of ``--horizon`` frames from 2 real frames under Sliding
  Window Re-encoding (W = 6, as alignment samples its candidates; the model's limit if smaller),
  decoding included: the
  sampling part of an RL iteration.

    .venv/bin/python benchmarks/bench_context_cache.py
    .venv/bin/python benchmarks/bench_context_cache.py --contexts 2,6,16 --steps 2,10 --repeats 5
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace

import torch
from _timing import interleaved_medians

from worldalign.configs.presets import get_preset
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.sampling.context_policies import SlidingWindowReencode
from worldalign.sampling.guidance import WorldModelVelocity
from worldalign.sampling.rollout import rollout
from worldalign.sampling.samplers import EulerODESampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="samples per chunk (PersistWorld's 4 x 4 candidates)")
    parser.add_argument("--contexts", default="2,6,16", help="context lengths of the chunk measurement")
    parser.add_argument("--steps", default="2,4,10", help="Euler steps per chunk")
    parser.add_argument("--horizon", type=int, default=8, help="frames per rollout (0 skips the rollouts)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    preset = get_preset(args.preset)
    torch.manual_seed(0)
    config = replace(preset.world_model.model, num_views=args.views)
    models = {"full attention": WorldModel(config).eval()}
    models["causal context"] = WorldModel(replace(config, causal_context=True)).eval()
    models["causal context"].load_state_dict(models["full attention"].state_dict())
    latent = (config.num_views, config.latent_channels, config.latent_size, config.latent_size)
    steps_list = [int(s) for s in args.steps.split(",")]
    print(
        f"{args.preset} world model, {args.views} views, batch {args.batch}, chunks of {config.future_frames} frames, "
        f"{torch.get_num_threads()} thread(s); median of {args.repeats} interleaved rounds"
    )
    print(f"{'part':>8} {'context':>7} {'steps':>5} {'full ms':>9} {'causal ms':>9} {'speed-up':>8}")
    for context_frames in (int(c) for c in args.contexts.split(",")):
        context = torch.randn(args.batch, latent[0], context_frames, *latent[1:])
        actions = torch.randn(args.batch, context_frames + config.future_frames - 1, config.action_dim)
        noise = torch.randn(args.batch, latent[0], config.future_frames, *latent[1:])
        for steps in steps_list:
            sampler = EulerODESampler(steps=steps)

            def chunk(model: WorldModel, sampler: EulerODESampler = sampler) -> Callable[[], object]:
                return lambda: sampler.sample(WorldModelVelocity(model, context, actions), noise)

            _report("chunk", context_frames, steps, {name: chunk(model) for name, model in models.items()}, args)
    if args.horizon <= 0:
        return
    autoencoder = Autoencoder(preset.autoencoder.model).eval()
    size = preset.autoencoder.model.image_size
    start = autoencoder.encode(torch.rand(args.batch, args.views, 2, 3, size, size) * 2 - 1)
    actions = torch.randn(args.batch, 2 + args.horizon - 1, config.action_dim)
    for steps in steps_list:

        def rollouts(model: WorldModel, steps: int = steps) -> Callable[[], object]:
            window = min(6, config.max_context_frames)
            policy, sampler = SlidingWindowReencode(window, 1), EulerODESampler(steps=steps)
            return lambda: rollout(model, autoencoder, start, args.horizon, policy, sampler=sampler, actions=actions)

        _report("rollout", 2, steps, {name: rollouts(model) for name, model in models.items()}, args)


def _report(
    part: str, context: int, steps: int, runs: dict[str, Callable[[], object]], args: argparse.Namespace
) -> None:
    with torch.no_grad():
        medians = interleaved_medians(runs, args.repeats)
    full, causal = medians["full attention"] * 1e3, medians["causal context"] * 1e3
    print(f"{part:>8} {context:>7} {steps:>5} {full:>9.1f} {causal:>9.1f} {full / causal:>7.2f}x")


if __name__ == "__main__":
    main()
