"""Clip sampling throughput of ``ClipSampler`` next to the world model's consumption rate.

A synthetic dataset (3 views at 64 px, lossless mp4 as the generator writes it) is written
to a temporary folder; the sampler decodes it once (the one-off cost, timed), then draws
batches of 16 clips in a training-loop pattern (each batch is held until the next arrives).
The world model consumes ~200 clips/s here (a 16-clip training step takes ~80 ms, see
ENVIRONMENT.md); the target is a sampler at least 10x faster than that.

    .venv/bin/python benchmarks/bench_clip_sampling.py [--episodes 24] [--length 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from worldalign.data.clips import ClipSampler
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.data.stats import Normalizer
from worldalign.data.types import Episode

VIEWS = ("front", "side", "wrist")
SIZE = 64
BATCH = 16
MODEL_CLIPS_PER_S = 200.0
TARGET_RATIO = 10.0


def synthetic_episode(seed: int, length: int) -> Episode:
    """Textured background with a moving square per view (compresses like rendered scenes)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    texture = rng.integers(0, 24, (SIZE, SIZE, 3))
    path = np.clip(rng.integers(8, SIZE - 8, 2) + np.cumsum(rng.integers(-1, 2, (length, 2)), axis=0), 0, SIZE - 8)
    frames = np.empty((len(VIEWS), length, SIZE, SIZE, 3), np.uint8)
    for v in range(len(VIEWS)):
        background = np.stack([xx * 2, yy * 2, np.full_like(xx, 60 * v)], axis=-1) + texture
        for t in range(length):
            image = background.copy()
            y, x = path[t]
            image[y : y + 8, x : x + 8] = (220, 40 + 60 * v, 40)
            frames[v, t] = image
    return Episode(
        task=f"task-{seed % 3}",
        instruction=f"do task {seed % 3}",
        views=VIEWS,
        frames=frames,
        actions=rng.normal(size=(length, 4)).astype(np.float32),
        state=rng.normal(size=(length, 39)).astype(np.float32),
    )


def clips_per_second(sampler: ClipSampler, seconds: float) -> float:
    stream = iter(sampler)
    for _ in range(3):  # warm the buffers
        batch = next(stream)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = next(stream)  # noqa: F841 - held like a training loop holds its batch
        count += 1
    return count * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3.0, help="timing window per configuration")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "dataset"
        start = time.perf_counter()
        with LeRobotWriter(root, fps=10, views=VIEWS, image_size=(SIZE, SIZE), action_dim=4, state_dim=39) as writer:
            for seed in range(args.episodes):
                writer.add_episode(synthetic_episode(seed, args.length))
        written = time.perf_counter() - start
        dataset = LeRobotDataset(root)
        normalizer = Normalizer(dataset.stats)
        frames = args.episodes * args.length * len(VIEWS)
        print(f"dataset: {args.episodes} episodes x {args.length} frames, {len(VIEWS)} views at {SIZE} px")
        print(f"  written (lossless mp4) in {written:.2f} s")
        print(f"world model consumption: ~{MODEL_CLIPS_PER_S:.0f} clips/s (16 clips per ~80 ms step)")
        for context, future in ((2, 4), (16, 4)):
            start = time.perf_counter()
            sampler = ClipSampler(
                dataset, context_frames=context, future_frames=future, batch_size=BATCH, normalizer=normalizer
            )
            decode = time.perf_counter() - start
            rate = clips_per_second(sampler, args.seconds)
            ratio = rate / MODEL_CLIPS_PER_S
            verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
            print(f"C={context:2d} F={future} batch {BATCH}:")
            print(f"  one-off decode into the cache: {decode:5.2f} s ({frames / decode:,.0f} frames/s)")
            print(
                f"  sampler: {rate:8,.0f} clips/s = {ratio:5.1f}x the model (target >= {TARGET_RATIO:.0f}x: {verdict})"
            )
            del sampler


if __name__ == "__main__":
    main()
