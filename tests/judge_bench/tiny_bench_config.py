"""The tiny judge benchmark of these tests: one view, 32 px, 6 frames, two tasks."""

from __future__ import annotations

from worldalign.judge_bench.build import BuildConfig

TINY = BuildConfig(
    seed=3,
    views=("front",),
    image_size=32,
    frames=6,
    stride=4,
    items_per_source=3,
    train_tasks=("reach-v3", "push-v3"),
    heldout_tasks=(),
)
