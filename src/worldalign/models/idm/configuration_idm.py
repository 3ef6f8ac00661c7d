"""Configuration of the inverse dynamics model (IDM): which views, which frames, how wide, what it predicts."""

from __future__ import annotations

from dataclasses import dataclass

from worldalign.errors import ConfigError


@dataclass(frozen=True)
class IDMConfig:
    """Shape of an ``InverseDynamicsModel``; saved as the checkpoint's ``config.json``."""

    views: tuple[str, ...] = ("oblique", "front", "wrist")
    """Camera names the model reads, in this order (any subset of a dataset's views)."""
    past_frames: int = 2
    """Frames before t in the window: the hand lags its mocap target, so earlier motion tells
    the model how much of the t -> t+1 displacement is momentum rather than the new action."""
    future_frames: int = 2
    """Frames after t in the window (>= 1). Two, because Meta-World's hand follows its mocap
    target with a lag: at action_repeat 2, the x-displacement of frames t -> t+1 correlates with
    a_t at 0.38 under action noise 0.5, that of frames t+1 -> t+2 at 0.76 (0.72 vs 0.93 for the
    noise-free expert), so action t is mostly visible one frame later."""
    image_size: int = 64
    """Square frame side in pixels."""
    action_dim: int = 4
    """Action size (Meta-World: hand displacement xyz + gripper effort)."""
    gripper_index: int | None = 3
    """Index of the gripper-effort dimension (its sign is open/close), or None if there is none."""
    state_dims: tuple[int, ...] = ()
    """Dimensions of the dataset's ``observation.state`` whose displacement ``state[t+1] -
    state[t]`` the model also predicts (Meta-World: (0, 1, 2), the hand's xyz in metres); empty:
    actions only. The commanded action of a noisy policy is not fully visible (the hand low-passes
    it), so an action-only IDM regresses its jitter toward the mean; the displacement of the
    hand IS visible, and the executability reward (EVA) scores its smoothness (see
    ``rewards/executability.py``)."""
    channels: tuple[int, ...] = (16, 32, 64, 64)
    """Output channels of the per-view convolutions, each halving the resolution."""
    view_features: int = 128
    """Feature size of one view after its encoder."""
    hidden: int = 256
    """Width of the fusion MLP."""

    def __post_init__(self) -> None:
        if not self.views or len(set(self.views)) != len(self.views):
            raise ConfigError(f"IDMConfig.views={self.views}; expected distinct camera names, at least one")
        if self.past_frames < 0 or self.future_frames < 1:
            raise ConfigError(
                f"IDMConfig: past_frames={self.past_frames}, future_frames={self.future_frames}; expected >= 0 and >= 1"
            )
        reduced = self.image_size // 2 ** len(self.channels)
        if reduced < 1 or self.image_size % 2 ** len(self.channels):
            raise ConfigError(
                f"IDMConfig: image_size={self.image_size} must be divisible by 2**{len(self.channels)} "
                f"(one halving per entry of channels={self.channels})"
            )
        if self.gripper_index is not None and not 0 <= self.gripper_index < self.action_dim:
            raise ConfigError(
                f"IDMConfig.gripper_index={self.gripper_index}; expected None or 0..{self.action_dim - 1}"
            )
        if len(set(self.state_dims)) != len(self.state_dims) or any(dim < 0 for dim in self.state_dims):
            raise ConfigError(
                f"IDMConfig.state_dims={self.state_dims}; expected distinct indices >= 0 into observation.state"
            )

    @property
    def window(self) -> int:
        """Frames the model reads per prediction: ``past_frames + 1 + future_frames``."""
        return self.past_frames + 1 + self.future_frames
