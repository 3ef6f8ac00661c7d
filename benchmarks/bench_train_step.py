"""Training-step cost of the world model and the autoencoder, against this machine's matmul peak.

Measures, in one run (so the ratios hold even on a loaded machine):
- the matmul peak: a loop of 1024x1024 fp32 and bf16 matmuls (GFLOP/s);
- every time is the fastest of several runs (the least disturbed by other jobs on the machine);
- a world-model training step (forward, backward, AdamW) of a preset at its batch size, for
  several context lengths and averaged over the training context-length distribution:
  milliseconds, tokens/s, FLOPs counted by ``torch.utils.flop_counter`` and achieved GFLOP/s as a
  fraction of the fp32 (or bf16) peak;
- an autoencoder training step at its batch size.

    .venv/bin/python benchmarks/bench_train_step.py                 # cpu preset, 1 view
    .venv/bin/python benchmarks/bench_train_step.py --views 3 --bf16 --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from worldalign.algos.pretrain import autoencoder_loss, flow_matching_loss
from worldalign.configs.presets import get_preset
from worldalign.configs.pretrain import AutoencoderTrainingConfig, WorldModelTrainingConfig
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.sampling.guidance import autocast_context


def best_seconds(fn: Callable[[], object], warmup: int, repeats: int) -> float:
    """Fastest wall time of ``fn`` over ``repeats`` calls after ``warmup`` calls.

    The minimum, not the median: on a machine shared with other jobs, the fastest run is the
    one least disturbed by them, and it is what the code itself costs.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def matmul_peak(dtype: torch.dtype, size: int = 1024, repeats: int = 60) -> float:
    """GFLOP/s of the fastest of ``repeats`` ``size``-square matmuls in ``dtype``."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    return 2 * size**3 / best_seconds(lambda: torch.mm(a, b), warmup=3, repeats=repeats) / 1e9


def context_distribution(config: WorldModelTrainingConfig) -> dict[int, float]:
    """P(context length) of the training loop (``algos.pretrain.sample_context_length``)."""
    low, high = config.min_context_frames, config.model.max_context_frames
    lengths = range(low, high + 1)
    if config.context_sampling == "max":
        return {high: 1.0}
    weights = [1.0 if config.context_sampling == "uniform" else 1.0 / (c + 1) for c in lengths]
    return {c: w / sum(weights) for c, w in zip(lengths, weights, strict=True)}


def world_model_step(config: WorldModelTrainingConfig, context: int, bf16: bool) -> Callable[[], None]:
    """A closure running one training step of a fresh model with ``context`` context frames."""
    torch.manual_seed(0)
    model_config = config.model
    model = WorldModel(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch, latent = (
        config.batch_size,
        (model_config.latent_channels, model_config.latent_size, model_config.latent_size),
    )
    views, future = model_config.num_views, model_config.future_frames
    future_latents = torch.randn(batch, views, future, *latent)
    context_latents = torch.randn(batch, views, context, *latent)
    actions = torch.randn(batch, context + future - 1, model_config.action_dim)
    t, noise = torch.rand(batch), torch.randn_like(future_latents)

    def step() -> None:
        with autocast_context(torch.device("cpu"), bf16):
            loss = flow_matching_loss(model, future_latents, context_latents, t, noise, actions)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def counted_flops(step: Callable[[], None]) -> int:
    """FLOPs of one call of ``step`` (matmuls, convolutions and attention, forward and backward)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def time_world_model(config: WorldModelTrainingConfig, context: int, mode: str, peak: float, repeats: int) -> dict:
    """One row of the table: a training step with ``context`` context frames in ``mode``."""
    step = world_model_step(config, context, bf16=mode == "bf16")
    flops = counted_flops(step)
    seconds = best_seconds(step, warmup=2, repeats=repeats)
    tokens = config.batch_size * config.model.sequence_tokens(context)
    return {
        "context": context,
        "mode": mode,
        "tokens": tokens,
        "ms_per_step": seconds * 1e3,
        "tokens_per_s": tokens / seconds,
        "gflop": flops / 1e9,
        "gflops": flops / seconds / 1e9,
        "fraction_of_peak": flops / seconds / 1e9 / peak,
    }


def time_autoencoder(config: AutoencoderTrainingConfig, peak: float, repeats: int) -> dict:
    """An autoencoder training step at the preset's batch size."""
    torch.manual_seed(0)
    autoencoder = Autoencoder(config.model)
    optimizer = torch.optim.AdamW(autoencoder.parameters(), lr=1e-4)
    size = config.model.image_size
    frames = torch.rand(config.batch_size, 3, size, size) * 2 - 1

    def step() -> None:
        reconstruction, _ = autoencoder(frames)
        loss, _ = autoencoder_loss(reconstruction, frames, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    flops = counted_flops(step)
    seconds = best_seconds(step, warmup=2, repeats=repeats)
    return {
        "parameters": sum(p.numel() for p in autoencoder.parameters()),
        "batch": config.batch_size,
        "ms_per_step": seconds * 1e3,
        "gflops": flops / seconds / 1e9,
        "fraction_of_peak": flops / seconds / 1e9 / peak,
    }


ROW = "{context:>8} {mode:>5} {tokens:>7} {ms_per_step:>8.1f} {tokens_per_s:>9.0f} {gflop:>7.2f} {gflops:>8.1f} "
ROW += "{fraction_of_peak:>8.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--views", type=int, default=1, help="camera views of the world model (default: 1)")
    parser.add_argument("--contexts", default="2,6,16", help="context lengths to show (comma-separated)")
    parser.add_argument("--bf16", action="store_true", help="also time the steps under bf16 autocast")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    args = parser.parse_args()

    threads = torch.get_num_threads()
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(f"threads {threads}; matmul peak 1024²: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s")

    preset = get_preset(args.preset)
    config = replace(preset.world_model, model=replace(preset.world_model.model, num_views=args.views))
    model = config.model
    parameters = sum(p.numel() for p in WorldModel(model).parameters())
    print(
        f"world model ({args.preset}): {parameters / 1e6:.2f}M parameters, width {model.width}, depth {model.depth}, "
        f"{args.views} view(s), batch {config.batch_size}, {model.future_frames} future frames"
    )
    shown = {int(c) for c in args.contexts.split(",")}
    distribution = context_distribution(config)
    results: dict[str, object] = {"threads": threads, "matmul_peak_gflops": peaks, "parameters": parameters}
    rows = []
    columns = ("context", "mode", "tokens", "ms/step", "tokens/s", "GFLOP", "GFLOP/s", "of peak")
    print(" ".join(f"{name:>{width}}" for name, width in zip(columns, (8, 5, 7, 8, 9, 7, 8, 8), strict=True)))
    for mode in ["fp32", "bf16"] if args.bf16 else ["fp32"]:
        # Every context length the loop can draw is timed (fewer repeats for those not shown) so
        # the expected step time under the training distribution is measured, not extrapolated.
        by_context = {}
        for context in sorted(shown | set(distribution)):
            repeats = args.repeats if context in shown else max(3, args.repeats // 3)
            row = time_world_model(config, context, mode, peaks[mode], repeats)
            by_context[context] = row["ms_per_step"]
            rows.append(row)
            if context in shown:
                print(ROW.format(**row))
        expected = sum(p * by_context[c] for c, p in distribution.items())
        results[f"expected_ms_per_step_{mode}"] = expected
        print(f"expected step under {config.context_sampling} context sampling ({mode}): {expected:.1f} ms")
    results["rows"] = rows

    autoencoder = time_autoencoder(preset.autoencoder, peaks["fp32"], max(3, args.repeats // 2))
    results["autoencoder"] = autoencoder
    print(
        f"autoencoder step (batch {autoencoder['batch']}, {preset.autoencoder.model.image_size}px, "
        f"{autoencoder['parameters'] / 1e6:.2f}M parameters): {autoencoder['ms_per_step']:.0f} ms, "
        f"{autoencoder['gflops']:.1f} GFLOP/s ({autoencoder['fraction_of_peak']:.1%} of fp32 peak)"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
