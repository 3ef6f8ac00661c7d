"""LPIPS cost per frame vs a bare forward of the same AlexNet trunk, side by side.

LPIPS (Zhang et al. 2018, arXiv:1801.03924) runs the AlexNet trunk on both frames of a pair and
adds a cheap head (unit normalization, squared difference, 1x1 linear, spatial mean). The table
gives, at each frame size, the time per frame pair of ``LPIPS`` and of the bare trunk on the same
frames (once: the generated frames alone; twice: both frames of each pair, the work LPIPS must
do), and their ratios; a head that costs little shows as a ratio near 1 against the trunk on
both frames.

    .venv/bin/python benchmarks/bench_lpips.py [--frames 64] [--sizes 64 128] [--repeats 10] [--threads N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from _timing import interleaved_medians

from worldalign.metrics import LPIPS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=64, help="frame pairs per batch")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="frame sizes in pixels")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per measurement (median)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    metric = LPIPS().to(device)

    def scale(frames: torch.Tensor) -> torch.Tensor:
        """LPIPS's scaling layer, so the bare trunk sees exactly what LPIPS feeds it."""
        return (frames - metric.shift) / metric.scale

    def waited(run: Callable[[], object]) -> Callable[[], None]:
        """``run`` followed by a wait for the GPU, so asynchronous kernels are timed in full."""

        def run_and_wait() -> None:
            run()
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        return run_and_wait

    print(
        f"LPIPS (AlexNet v0.1) vs bare AlexNet trunk, {args.frames} frame pairs, float32, {device}"
        + (f", {torch.get_num_threads()} torch threads" if device.type == "cpu" else "")
        + f", median of {args.repeats}"
    )
    print(
        f"{'size':>5} {'LPIPS ms/pair':>14} {'trunk x1 ms/frame':>18} {'trunk x2 ms/pair':>17} "
        f"{'LPIPS/x1':>9} {'LPIPS/x2':>9}"
    )
    generator = torch.Generator().manual_seed(0)
    for size in args.sizes:
        generated = (torch.rand(args.frames, 3, size, size, generator=generator) * 2 - 1).to(device)
        reference = (torch.rand(args.frames, 3, size, size, generator=generator) * 2 - 1).to(device)
        both = torch.cat([generated, reference])

        with torch.inference_mode():
            seconds = interleaved_medians(
                {
                    "lpips": waited(lambda: metric(generated, reference)),
                    "trunk once": waited(lambda: metric.trunk(scale(generated))),
                    "trunk twice": waited(lambda: metric.trunk(scale(both))),
                },
                args.repeats,
            )
        lpips_ms, trunk_once_ms, trunk_twice_ms = (
            seconds[name] / args.frames * 1e3 for name in ("lpips", "trunk once", "trunk twice")
        )
        print(
            f"{size:>5} {lpips_ms:>14.3f} {trunk_once_ms:>18.3f} {trunk_twice_ms:>17.3f} "
            f"{lpips_ms / trunk_once_ms:>9.2f} {lpips_ms / trunk_twice_ms:>9.2f}"
        )


if __name__ == "__main__":
    main()
