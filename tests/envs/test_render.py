"""Camera names and the fast renderer: shapes, dtype, upright images, errors."""

import os
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from worldalign.envs.cameras import CAMERAS, DEFAULT_VIEWS, resolve_views
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.errors import ConfigError

SIZE = 32


@pytest.fixture(scope="module")
def env():
    with MetaWorldEnv("reach-v3", views=tuple(CAMERAS), image_size=SIZE, seed=1) as environment:
        yield environment


def _table_fraction(rows: np.ndarray) -> float:
    """Fraction of pixels with the colour of the wooden table top (red > green > blue)."""
    rgb = rows.astype(int)
    wood = (rgb[..., 0] - rgb[..., 2] > 25) & (rgb[..., 1] - rgb[..., 2] > 10) & (rgb[..., 0] < 200)
    return float(wood.mean())


def test_default_views_are_two_external_cameras_and_the_wrist() -> None:
    assert len(DEFAULT_VIEWS) == 3
    assert DEFAULT_VIEWS[-1] == "wrist"
    assert CAMERAS["wrist"] == CAMERAS["gripperPOV"], "wrist is the dataset name of Meta-World's gripperPOV"
    assert all(name in CAMERAS for name in DEFAULT_VIEWS)


def test_render_gives_one_uint8_image_per_view(env: MetaWorldEnv) -> None:
    images = env.render()
    assert images.shape == (len(CAMERAS), SIZE, SIZE, 3)
    assert images.dtype == np.uint8
    # Every view sees something: no blank (single-colour) image.
    assert all(image.reshape(-1, 3).std(axis=0).max() > 5 for image in images)


@pytest.mark.parametrize("view", ["oblique", "front", "corner", "corner2", "corner4"])
def test_external_views_are_upright(env: MetaWorldEnv, view: str) -> None:
    image = env.render()[env.views.index(view)]
    # Upright: the table top fills the bottom of the image and is absent from the top.
    assert _table_fraction(image[-SIZE // 3 :]) > _table_fraction(image[: SIZE // 3]) + 0.2


def test_corner_view_is_mujoco_image_rotated_180_degrees(env: MetaWorldEnv) -> None:
    model, data = env.model, env.data
    with mujoco.Renderer(model, SIZE, SIZE) as raw:
        raw.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        raw.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        raw.update_scene(data, camera="corner")
        upside_down = raw.render()
    np.testing.assert_array_equal(env.render()[env.views.index("corner")], upside_down[::-1, ::-1])


def test_resolve_views_reads_lists_and_comma_strings() -> None:
    assert resolve_views("oblique, gripperPOV") == ("oblique", "gripperPOV")
    assert resolve_views(["front"]) == ("front",)


def test_unknown_or_repeated_camera_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown camera view 'gripperPVO'. Did you mean 'gripperPOV'.*Valid views: oblique"):
        resolve_views(["oblique", "gripperPVO"])
    with pytest.raises(ConfigError, match="more than once"):
        resolve_views("front,front")
    with pytest.raises(ConfigError, match="topveiw"):
        MetaWorldEnv("reach-v3", views=("topveiw",))


def test_importing_worldalign_envs_first_renders_headless_without_mujoco_gl() -> None:
    script = (
        "from worldalign.envs.metaworld_env import MetaWorldEnv\n"
        "print(MetaWorldEnv('reach-v3', views=('front',), image_size=8).render().shape)"
    )
    environment = {key: value for key, value in os.environ.items() if key not in ("MUJOCO_GL", "DISPLAY")}
    result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 8, 8, 3)"
