"""Rendering cost: worldalign's fast path versus MuJoCo's default settings, side by side.

Both renderers draw the same Meta-World scene (Yu et al. 2019, arXiv:1910.10897) from the same
cameras in one process. The default one keeps shadows, reflections and 4x multisampling (what
``gym.make(..., render_mode="rgb_array")`` gives); the fast one (``FastRenderer``) switches
them off. Prints milliseconds per view and the speed-up.

    python benchmarks/bench_render.py --sizes 64 128 --repeats 20
"""

from __future__ import annotations

import argparse
import time

import worldalign.envs  # noqa: F401  (selects the headless GL backend before mujoco loads)

import mujoco
import numpy as np

from worldalign.envs.cameras import DEFAULT_VIEWS, FreeCamera, get_camera
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.envs.render import FastRenderer, free_camera


def _time_per_view(render, views: int, repeats: int) -> float:
    """Milliseconds per view, best of three runs of ``repeats`` renders (after one warm-up)."""
    render()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            render()
        best = min(best, (time.perf_counter() - start) / (repeats * views))
    return 1000 * best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="pick-place-v3")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    with MetaWorldEnv(args.task, views=(), seed=0) as env:
        model, data = env.model, env.data
        samples = model.vis.quality.offsamples
        cameras = [
            free_camera(spec) if isinstance(spec, FreeCamera) else spec.name
            for spec in (get_camera(name) for name in DEFAULT_VIEWS)
        ]
        print(f"{args.task}, views {', '.join(DEFAULT_VIEWS)}")
        print(f"{'size':>6} {'default ms/view':>16} {'fast ms/view':>13} {'speed-up':>9}")
        for size in args.sizes:
            # The default renderer must exist before FastRenderer turns multisampling off in
            # the shared model: the sample count is fixed when a GL context is made.
            default = mujoco.Renderer(model, height=size, width=size)

            def render_default() -> np.ndarray:
                for camera in cameras:
                    default.update_scene(data, camera=camera)
                    image = default.render()
                return image

            default_ms = _time_per_view(render_default, len(cameras), args.repeats)
            with FastRenderer(model, DEFAULT_VIEWS, size) as fast:
                fast_ms = _time_per_view(lambda: fast.render(data), len(cameras), args.repeats)
            default.close()
            model.vis.quality.offsamples = samples
            print(f"{size:>6} {default_ms:>16.1f} {fast_ms:>13.1f} {default_ms / fast_ms:>8.1f}x")


if __name__ == "__main__":
    main()
