"""What training from latents encoded once buys, and what activation checkpointing costs and saves.

Measured side by side in one run:
1. Producing a training batch (``cpu`` preset windows, batch 16, all views of the dataset):
   ``ClipSampler`` + ``ClipLatentEncoder`` with every frame's latents already cached (the video
   path after its first epoch; its start-up decode is timed separately) against
   ``LatentClipSampler`` on the same dataset's int8 latents (start-up: reading the shards).
   Also the resident memory each holds for the data set.
2. One world-model training step (forward, backward, AdamW) with and without activation
   checkpointing: time, and peak memory above the model's own (each in a fresh subprocess,
   ``ru_maxrss``), for a preset at a given batch and context.

    .venv/bin/python benchmarks/bench_latent_training.py --dataset DATA --autoencoder checkpoints/autoencoder-cpu
    .venv/bin/python benchmarks/bench_latent_training.py --preset gpu --batch 2 --context 16   # part 2 only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_train_step import best_seconds

STEP_SCRIPT = """
import dataclasses, json, resource, sys, time, torch
from worldalign.algos.pretrain import flow_matching_loss
from worldalign.configs.presets import get_preset
from worldalign.models.world_model import WorldModel
preset, views, batch, context, recompute = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
config = get_preset(preset).world_model.model
config = dataclasses.replace(config, num_views=views)
torch.manual_seed(0)
model = WorldModel(config).train()
model.activation_checkpointing = recompute
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
latent = (config.latent_channels, config.latent_size, config.latent_size)
future = torch.randn(batch, views, config.future_frames, *latent)
past = torch.randn(batch, views, context, *latent)
actions = torch.randn(batch, context + config.future_frames - 1, config.action_dim)
def step():
    loss = flow_matching_loss(model, future, past, torch.rand(batch), torch.randn_like(future), actions)
    optimizer.zero_grad(set_to_none=True); loss.backward(); optimizer.step()
step()  # optimizer state allocated: what remains is activation memory
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(3):
    began = time.perf_counter(); step(); times.append(time.perf_counter() - began)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"ms": min(times) * 1e3, "peak_mib": peak / 1024, "params_m": sum(p.numel() for p in model.parameters()) / 1e6}))
"""


def step_cost(preset: str, views: int, batch: int, context: int, recompute: bool) -> dict:
    """Time and peak resident memory of a training step, measured in a fresh interpreter."""
    argv = [sys.executable, "-c", STEP_SCRIPT, preset, str(views), str(batch), str(context), str(int(recompute))]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def sampling_costs(dataset_path: Path, autoencoder: Path, batch: int) -> None:
    from worldalign.configs.presets import get_preset
    from worldalign.data.clips import ClipSampler, split_episodes
    from worldalign.data.latent_clips import LatentClipSampler
    from worldalign.data.latent_shards import LatentShards
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.data.pixels import to_unit_range
    from worldalign.models.autoencoder.latent_cache import ClipLatentEncoder
    from worldalign.runs.loading import load_autoencoder
    from worldalign.runs.side_files import dataset_action_normalizer
    from worldalign.stages.latents import encode_latents

    dataset = LeRobotDataset(dataset_path)
    model = get_preset("cpu").world_model.model
    train, _ = split_episodes(dataset.task_names, held_out_fraction=0.1)
    windows = {"context_frames": model.max_context_frames, "future_frames": model.future_frames}
    windows |= {"batch_size": batch, "seed": 0, "episodes": train, "pad_start": model.max_context_frames - 1}
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        encoding = encode_latents(dataset, autoencoder, Path(folder) / "latents", progress=False)
        encode_s = time.perf_counter() - began
        began = time.perf_counter()
        clips = ClipSampler(dataset, normalizer=dataset_action_normalizer(dataset), **windows)
        decode_s = time.perf_counter() - began
        encoder = ClipLatentEncoder(load_autoencoder(autoencoder))
        cache, views = clips.cache, len(clips.views)
        for position, episode in enumerate(cache.episode_index):  # warm: the video path after one epoch
            frames = np.arange(cache.offsets[position], cache.offsets[position + 1])
            rows = np.arange(views)[:, None] * cache.num_frames + frames[None, :]  # (V, T)
            encoder.prefill(int(episode), to_unit_range(cache.frames[rows], channels_last=False))
        began = time.perf_counter()
        shards = LatentShards(encoding.folder)
        latent_clips = LatentClipSampler(shards, normalizer=shards.action_normalizer(), **windows)
        load_s = time.perf_counter() - began
        video_stream, latent_stream = iter(clips), iter(latent_clips)
        video_ms = best_seconds(lambda: encoder.encode(next(video_stream)), warmup=2, repeats=20) * 1e3
        latent_ms = best_seconds(lambda: next(latent_stream).latents, warmup=2, repeats=20) * 1e3
        video_bytes = clips.cache.frames.nbytes + sum(t.numel() * t.element_size() for t in encoder._cache.values())
        latent_bytes = latent_clips._latents.numel() + (latent_clips._scales.numel() * 2)
    print(f"data set: {encoding.episodes} episodes ({len(train)} for training), {encoding.frames} frames x "
          f"{len(dataset.views)} views")
    print(f"start-up: decode videos {decode_s:.1f} s | encode once into int8 latents {encode_s:.1f} s "
          f"({encoding.bytes_written / 2**20:.1f} MiB, error {encoding.relative_error:.2%}) then load {load_s:.2f} s")
    print(f"batch of {batch} clips: video path (latent cache warm) {video_ms:.1f} ms | latents {latent_ms:.1f} ms "
          f"| ratio {video_ms / latent_ms:.1f}x")
    print(f"resident data: video path {video_bytes / 2**20:.0f} MiB (frames + cached float latents) | "
          f"latents {latent_bytes / 2**20:.0f} MiB | ratio {video_bytes / latent_bytes:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, help="a dataset folder for part 1 (without it, only part 2 runs)")
    parser.add_argument("--autoencoder", type=Path, default=Path("checkpoints/autoencoder-cpu"))
    parser.add_argument("--preset", default="cpu", help="world-model preset of part 2 (default: cpu)")
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--context", type=int, default=16)
    args = parser.parse_args()
    if args.dataset is not None:
        sampling_costs(args.dataset, args.autoencoder, args.batch)
    else:
        print("part 1 (batch production) skipped: it needs --dataset")
    plain = step_cost(args.preset, args.views, args.batch, args.context, recompute=False)
    recomputed = step_cost(args.preset, args.views, args.batch, args.context, recompute=True)
    print(f"training step, {args.preset} preset ({plain['params_m']:.1f}M parameters), batch {args.batch}, "
          f"context {args.context}, {args.views} views:")
    print(f"  plain {plain['ms']:.0f} ms, peak {plain['peak_mib']:.0f} MiB | activation checkpointing "
          f"{recomputed['ms']:.0f} ms, peak {recomputed['peak_mib']:.0f} MiB | time ratio "
          f"{recomputed['ms'] / plain['ms']:.2f}x, memory ratio {recomputed['peak_mib'] / plain['peak_mib']:.2f}x")


if __name__ == "__main__":
    main()
