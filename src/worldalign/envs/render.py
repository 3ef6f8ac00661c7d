"""Fast offscreen rendering of several camera views of a MuJoCo scene.

``mujoco.Renderer`` with MuJoCo's default visual settings (shadows, reflections, 4x
multisampling; what ``gym.make(..., render_mode="rgb_array")`` uses) costs 140-215 ms per view
on this project's CPUs. Small training images gain nothing from those effects, and switching
them off brings a 64-128 px view to about 10 ms (``benchmarks/bench_render.py`` measures both).
"""

from __future__ import annotations

import mujoco
import numpy as np

from worldalign.envs.cameras import FixedCamera, FreeCamera, get_camera
from worldalign.errors import ConfigError


def free_camera(spec: FreeCamera) -> mujoco.MjvCamera:
    """The ``mjvCamera`` that ``spec`` describes."""
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = spec.lookat
    camera.distance = spec.distance
    camera.azimuth = spec.azimuth
    camera.elevation = spec.elevation
    return camera


class FastRenderer:
    """Renders named views of one model at one square resolution, without costly effects.

    Creating it sets ``model.vis.quality.offsamples = 0`` (multisampling is fixed when the GL
    context is made, so it must be off before) and grows the model's offscreen buffer if
    ``image_size`` exceeds it. Call ``close`` (or use it as a context manager) to free the GL
    context.
    """

    def __init__(self, model: mujoco.MjModel, views: tuple[str, ...], image_size: int) -> None:
        if image_size < 1:
            raise ConfigError(f"image_size must be a positive number of pixels, got {image_size}")
        self.views = views
        self.image_size = image_size
        self._cameras: list[mujoco.MjvCamera | str] = []
        self._rotate: list[bool] = []
        for name in views:
            spec = get_camera(name)
            if isinstance(spec, FreeCamera):
                self._cameras.append(free_camera(spec))
                self._rotate.append(False)
            else:
                assert isinstance(spec, FixedCamera)
                self._cameras.append(spec.name)
                self._rotate.append(spec.rotate_180)
        model.vis.quality.offsamples = 0
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, image_size)
        model.vis.global_.offheight = max(model.vis.global_.offheight, image_size)
        try:
            self._renderer = mujoco.Renderer(model, height=image_size, width=image_size)
        except mujoco.FatalError as error:
            backend = getattr(getattr(mujoco, "GLContext", None), "__module__", "none")
            raise ConfigError(
                f"MuJoCo could not make an offscreen OpenGL context with backend {backend!r} ({error}). "
                "Set MUJOCO_GL=egl (or osmesa) before anything imports mujoco; importing worldalign.envs "
                "first does it."
            ) from error
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """``(V, H, W, 3)`` uint8 RGB images of the current state of ``data``, one per view."""
        images = np.empty((len(self.views), self.image_size, self.image_size, 3), dtype=np.uint8)
        for index, (camera, rotate) in enumerate(zip(self._cameras, self._rotate)):
            self._renderer.update_scene(data, camera=camera)
            image = self._renderer.render()
            images[index] = image[::-1, ::-1] if rotate else image
        return images

    def close(self) -> None:
        """Free the GL context."""
        self._renderer.close()

    def __enter__(self) -> FastRenderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
