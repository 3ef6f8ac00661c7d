"""Tiny synthetic episodes for the data tests: coloured squares moving over a gradient."""

from __future__ import annotations

import numpy as np

from worldalign.data.types import PRIVILEGED_FIELDS, Episode

VIEWS = ("front", "wrist")


def make_episode(
    seed: int,
    *,
    length: int = 12,
    size: int = 16,
    views: tuple[str, ...] = VIEWS,
    task: str = "reach-v3",
    action_dim: int = 4,
    state_dim: int = 5,
    simulated: bool = True,
    fps: int = 10,
) -> Episode:
    """An episode whose every array is a deterministic function of ``seed``.

    Each view shows a square moving by the episode's actions; ``simulated`` adds privileged
    fields, snapshots and a layout as the simulator would.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    frames = np.empty((len(views), length, size, size, 3), np.uint8)
    actions = rng.normal(size=(length, action_dim)).astype(np.float32)
    position = rng.integers(0, size - 4, 2) + np.cumsum(np.sign(actions[:, :2]), axis=0).astype(int)
    position = np.clip(position, 0, size - 4)
    for v in range(len(views)):
        colour = rng.integers(64, 256, 3)
        for t in range(length):
            image = np.stack([xx * (255 // size), yy * (255 // size), np.full_like(xx, 40 * v)], axis=-1)
            y, x = position[t]
            image[y : y + 4, x : x + 4] = colour
            frames[v, t] = image
    privileged = {}
    snapshots = layout = None
    if simulated:
        privileged = {
            name: rng.normal(size=(length, *shape)).astype(np.float32) for name, shape in PRIVILEGED_FIELDS.items()
        }
        snapshots = rng.normal(size=(length, 7))
        layout = rng.normal(size=6)
    return Episode(
        task=task,
        instruction=f"do {task} please",
        views=views,
        frames=frames,
        actions=actions,
        state=rng.normal(size=(length, state_dim)).astype(np.float32),
        privileged=privileged,
        success=bool(seed % 2) if simulated else None,
        fps=fps,
        snapshots=snapshots,
        layout=layout,
        metadata={"seed": seed, "noise": 0.1} if simulated else {},
    )
