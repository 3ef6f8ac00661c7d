r"""Frame autoencoder throughput on the CPU: memory layout and precision, side by side.

Every RL iteration decodes its candidates (the rewards score pixels) and, under Sliding Window
Re-encoding, re-encodes frames; on the 2-core machine the decodes took more of a DiffusionNFT
iteration than the world model (docs/benchmarks.md, "Cheaper iterations"). This times
``Autoencoder.decode`` / ``encode`` as shipped (channels-last convolutions) against the plain
contiguous layout, and both under bf16 autocast, interleaved in rounds so a change of machine
load hits every variant alike. Printed: median seconds per batch, the ratio to the contiguous
float32 baseline, and the largest and mean absolute difference of the outputs from it.

    .venv/bin/python benchmarks/bench_autoencoder.py --autoencoder checkpoints/autoencoder-cpu \
        --frames 192 --rounds 5 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from worldalign.models.autoencoder import Autoencoder
from worldalign.runs.loading import load_autoencoder


def contiguous_decode(autoencoder: Autoencoder, latents: Tensor) -> Tensor:
    """``Autoencoder.decode`` without the channels-last layout (the baseline)."""
    raw = latents * autoencoder.latent_std[:, None, None] + autoencoder.latent_mean[:, None, None]
    return autoencoder.decoder(raw).clamp(-1.0, 1.0)


def contiguous_encode(autoencoder: Autoencoder, frames: Tensor) -> Tensor:
    """``Autoencoder.encode`` without the channels-last layout (the baseline)."""
    raw = autoencoder.encoder(frames)
    return (raw - autoencoder.latent_mean[:, None, None]) / autoencoder.latent_std[:, None, None]


def timed(fn: Callable[[], Tensor], bf16: bool) -> tuple[float, Tensor]:
    precision = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with torch.no_grad(), precision:
        began = time.perf_counter()
        out = fn().float()
    return time.perf_counter() - began, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--autoencoder", default="checkpoints/autoencoder-cpu", help="autoencoder run or model folder")
    parser.add_argument("--frames", type=int, default=192, help="frames per batch (default: 192 = 16 x 3 views x 4)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per variant (default: 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    autoencoder = load_autoencoder(Path(args.autoencoder)).eval()
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(args.frames, *autoencoder.latent_shape, generator=generator)
    frames = autoencoder.decode(latents).detach()  # realistic inputs for the encoder
    variants: dict[str, tuple[Callable[[], Tensor], bool]] = {
        "decode, contiguous, float32 (baseline)": (lambda: contiguous_decode(autoencoder, latents), False),
        "decode, channels-last, float32 (shipped)": (lambda: autoencoder.decode(latents), False),
        "decode, channels-last, bf16": (lambda: autoencoder.decode(latents), True),
        "encode, contiguous, float32 (baseline)": (lambda: contiguous_encode(autoencoder, frames), False),
        "encode, channels-last, float32 (shipped)": (lambda: autoencoder.encode(frames), False),
        "encode, channels-last, bf16": (lambda: autoencoder.encode(frames), True),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    outputs: dict[str, Tensor] = {}
    for name, (fn, bf16) in variants.items():  # warm-up: one-off allocations and kernel choice
        outputs[name] = timed(fn, bf16)[1]
    for _ in range(args.rounds):
        for name, (fn, bf16) in variants.items():
            seconds[name].append(timed(fn, bf16)[0])
    print(f"{args.frames} frames of {autoencoder.config.image_size}px, {args.threads} threads, {args.rounds} rounds\n")
    print("| variant | median s | vs baseline | max abs difference | mean abs difference |")
    print("|---|---|---|---|---|")
    for name in variants:
        baseline = name.split(",")[0] + ", contiguous, float32 (baseline)"
        ratio = statistics.median(seconds[baseline]) / statistics.median(seconds[name])
        difference = (outputs[name] - outputs[baseline]).abs()
        print(
            f"| {name} | {statistics.median(seconds[name]):.3f} | {ratio:.2f}x | {float(difference.max()):.1e} | "
            f"{float(difference.mean()):.1e} |"
        )


if __name__ == "__main__":
    main()
