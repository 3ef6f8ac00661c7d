"""Per-frame rollout cost as the horizon grows, under each context policy.

Rolls a randomly initialised world model of a preset out for horizons 12/24/48/96 frames under
full history (context up to the model maximum), a fixed 2-frame window and Sliding Window
Re-encoding (window 6, 1 re-encoded frame), decoding every chunk, and prints the mean per-frame
latency (median of repeated rollouts), the peak context length and token count, and the peak
memory. Weights do not change the cost, so no training is needed; quality is measured elsewhere.

    .venv/bin/python benchmarks/bench_rollout.py
    .venv/bin/python benchmarks/bench_rollout.py --horizons 12,24 --views 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace

import torch

from worldalign.configs.presets import get_preset
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.sampling.context_policies import FixedWindow, FullHistory, SlidingWindowReencode
from worldalign.sampling.rollout import rollout
from worldalign.sampling.samplers import EulerODESampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1, help="rollouts generated together")
    parser.add_argument("--horizons", default="12,24,48,96")
    parser.add_argument("--steps", type=int, default=10, help="Euler steps per chunk")
    parser.add_argument("--window", type=int, default=6, help="SWR window W")
    parser.add_argument("--reencode-frames", type=int, default=1)
    parser.add_argument("--fixed-window", type=int, default=2)
    parser.add_argument("--start-frames", type=int, default=2, help="real context frames the rollout starts from")
    parser.add_argument("--repeats", type=int, default=3, help="rollouts per setting; the median is reported")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    preset = get_preset(args.preset)
    torch.manual_seed(0)
    autoencoder = Autoencoder(preset.autoencoder.model).eval()
    model = WorldModel(replace(preset.world_model.model, num_views=args.views)).eval()
    config = model.config
    policies = [
        FullHistory(),
        FixedWindow(args.fixed_window),
        SlidingWindowReencode(args.window, args.reencode_frames),
    ]
    size = preset.autoencoder.model.image_size
    start_frames = torch.rand(args.batch, args.views, args.start_frames, 3, size, size) * 2 - 1
    start = autoencoder.encode(start_frames)
    sampler = EulerODESampler(steps=args.steps)
    print(
        f"{args.preset} world model, {args.views} view(s), batch {args.batch}, {args.steps} Euler steps per chunk of "
        f"{config.future_frames}, max context {config.max_context_frames}, threads {torch.get_num_threads()}"
    )
    print(f"{'policy':>24} {'horizon':>7} {'ms/frame':>9} {'peak ctx':>8} {'peak tokens':>11} {'peak MiB':>9}")
    # Warm-up rollouts visit every context length once, so no measured chunk pays for a first
    # call at a new shape.
    warmup_horizon = config.max_context_frames + 2 * config.future_frames
    for policy in policies:
        warmup_actions = torch.zeros(args.batch, args.start_frames + warmup_horizon - 1, config.action_dim)
        rollout(model, autoencoder, start, warmup_horizon, policy, sampler=sampler, actions=warmup_actions)
    rows = []
    for policy in policies:
        for horizon in (int(h) for h in args.horizons.split(",")):
            actions = torch.randn(args.batch, args.start_frames + horizon - 1, config.action_dim)
            results = [
                rollout(
                    model,
                    autoencoder,
                    start,
                    horizon,
                    policy,
                    sampler=sampler,
                    actions=actions,
                    generator=torch.Generator().manual_seed(0),
                )
                for _ in range(args.repeats)
            ]
            result = results[0]
            row: dict[str, object] = {
                "policy": policy.name,
                "horizon": horizon,
                "ms_per_frame": statistics.median(float(r.frame_latency_s.mean()) for r in results) * 1e3,
                "peak_context_frames": result.peak_context_frames,
                "peak_sequence_tokens": result.peak_sequence_tokens,
                "peak_memory_mib": max(r.peak_memory_bytes for r in results) / 2**20,
                "memory_method": result.memory_method,
            }
            rows.append(row)
            print(
                f"{policy.name:>24} {horizon:>7} {row['ms_per_frame']:>9.1f} {row['peak_context_frames']:>8} "
                f"{row['peak_sequence_tokens']:>11} {row['peak_memory_mib']:>9.1f}"
            )
    print(f"memory: {rows[0]['memory_method']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
