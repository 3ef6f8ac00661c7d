"""The named camera views of the embedded world.

Two kinds of view:

- free cameras, placed by orbit parameters around a point of the table (MuJoCo's
  ``mjCAMERA_FREE``): the default external views, chosen so that the whole arm and the objects
  are visible and upright at 64 px;
- Meta-World's fixed cameras (Yu et al. 2019, arXiv:1910.10897), rendered by name. Their
  ``corner*`` cameras are oriented upside down in Meta-World's XML, so their images are rotated
  by 180 degrees (a rotation, not a flip: a flip would mirror the scene).

The default views are two external cameras and the wrist camera (``wrist``, Meta-World's
``gripperPOV``), the layout of real robot datasets such as DROID (two exterior views and a wrist
view).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from worldalign.errors import ConfigError
from worldalign.utils.text import split_list


@dataclass(frozen=True)
class FreeCamera:
    """A camera orbiting ``lookat`` (MuJoCo's ``mjvCamera`` of type ``mjCAMERA_FREE``).

    Attributes:
        lookat: world point the camera looks at, metres.
        distance: distance from ``lookat``, metres.
        azimuth: degrees around the vertical axis; -90 looks along -y, i.e. from the far side
            of the table back at the robot.
        elevation: degrees, negative looks down.
    """

    lookat: tuple[float, float, float]
    distance: float
    azimuth: float
    elevation: float


@dataclass(frozen=True)
class FixedCamera:
    """A camera defined in Meta-World's scene, rendered by its name.

    Attributes:
        name: the camera's name in the MuJoCo model.
        rotate_180: rotate the image by 180 degrees (Meta-World's ``corner*`` cameras render
            upside down).
    """

    name: str
    rotate_180: bool = False


CameraSpec = FreeCamera | FixedCamera

CAMERAS: dict[str, CameraSpec] = {
    # Close three-quarter view from the front right: the whole arm, gripper and objects.
    "oblique": FreeCamera(lookat=(0.0, 0.6, 0.15), distance=1.1, azimuth=-55.0, elevation=-30.0),
    # From across the table, 45 degrees down, facing the robot: sideways and vertical motion
    # appear undistorted, and objects the oblique view sees edge-on are seen from the front.
    "front": FreeCamera(lookat=(0.0, 0.65, 0.1), distance=1.1, azimuth=-90.0, elevation=-45.0),
    "topview": FixedCamera("topview"),
    "corner": FixedCamera("corner", rotate_180=True),
    "corner2": FixedCamera("corner2", rotate_180=True),
    "corner3": FixedCamera("corner3", rotate_180=True),
    "corner4": FixedCamera("corner4", rotate_180=True),
    "behindGripper": FixedCamera("behindGripper"),
    "gripperPOV": FixedCamera("gripperPOV"),
    # The wrist camera under the name robot datasets use (``observation.images.wrist``).
    "wrist": FixedCamera("gripperPOV"),
}
"""Every view ``MetaWorldEnv`` can render, by name."""

DEFAULT_VIEWS: tuple[str, ...] = ("oblique", "front", "wrist")
"""Two external views and the wrist view."""


def get_camera(name: str) -> CameraSpec:
    """The camera of view ``name``; ``ConfigError`` listing the valid names if unknown."""
    if name not in CAMERAS:
        close = difflib.get_close_matches(name, list(CAMERAS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown camera view {name!r}.{hint} Valid views: {', '.join(CAMERAS)}.")
    return CAMERAS[name]


def resolve_views(views: str | Sequence[str]) -> tuple[str, ...]:
    """Validate view names; a string is read as a comma-separated list.

    Raises ``ConfigError`` for an unknown or repeated name (a repeated view would store the
    same pixels twice).
    """
    names = list(split_list(views)) if isinstance(views, str) else list(views)
    for name in names:
        get_camera(name)
    if len(set(names)) != len(names):
        raise ConfigError(f"camera views {names} name a view more than once")
    return tuple(names)
