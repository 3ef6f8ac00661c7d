"""Inverse dynamics model: a short window of frames from several views -> the action between them.

EVA ("Executable Video Alignment", the executability reward of worldalign; see
``rewards/executability.py``) trains an IDM on real robot trajectories and uses it to read the
actions a generated video implies. Here the IDM predicts action ``a_t`` (which moves frame ``t``
to frame ``t + 1``) from frames ``t - past_frames .. t + future_frames`` of each configured view:

- each view's window is stacked along channels with its frame-to-frame differences (motion is
  what carries the action; the differences make it explicit to the first convolution);
- one small convolutional encoder, shared by all views, turns each view into a feature vector
  (flattened, not pooled: where the hand is in the image matters);
- the view features are concatenated in the configured view order and an MLP predicts the
  action, in normalised units; ``predict`` maps it back to the embodiment's units with the
  action statistics stored in the model's buffers (so a checkpoint carries its normalisation);
- with ``config.state_dims``, a second network of the same shape (the state head: its own view
  encoder and MLP, reading the same stacked windows) predicts the displacement ``state[t+1] -
  state[t]`` of those proprioceptive dimensions (Meta-World: the hand's xyz, metres), normalised
  with its own statistics buffers (``predict_with_state``). Being separate, it can be trained
  beside a frozen action-only IDM (``IDMTrainingConfig.init_from``), whose decoded actions then
  stay exactly the same. (Measured on Meta-World, held-out episodes at action noise 0.4: with
  its own encoder the state head's MAE is 0.7 mm per axis, with an MLP on the frozen action
  encoder's features 1.4-1.6 mm; sharing one encoder trained on both retrains, and so changes,
  the actions.) The executability reward scores the
  smoothness of this decoded end-effector trajectory: unlike a noisy commanded action, which the
  hand low-passes, the displacement is visible in the frames, so it is decoded without
  regression toward the mean.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from worldalign.errors import ConfigError
from worldalign.models.conv_stack import strided_conv_layers
from worldalign.models.idm.configuration_idm import IDMConfig


class _ViewEncoder(nn.Module):
    """``(N, C_in, H, W) -> (N, view_features)``: strided convolutions, then a linear map."""

    def __init__(self, config: IDMConfig, in_channels: int) -> None:
        super().__init__()
        layers, in_channels = strided_conv_layers(in_channels, config.channels)
        self.convs = nn.Sequential(*layers)
        side = config.image_size // 2 ** len(config.channels)
        self.project = nn.Linear(in_channels * side * side, config.view_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.project(self.convs(x).flatten(1))


def _head(config: IDMConfig, outputs: int) -> nn.Sequential:
    """``(N, views * view_features) -> (N, outputs)``: a two-hidden-layer MLP."""
    return nn.Sequential(
        nn.Linear(len(config.views) * config.view_features, config.hidden),
        nn.GELU(),
        nn.Linear(config.hidden, config.hidden),
        nn.GELU(),
        nn.Linear(config.hidden, outputs),
    )


class InverseDynamicsModel(nn.Module):
    """Frames ``(B, V, K, 3, H, W)`` in [-1, 1] -> action ``(B, A)`` and, with
    ``config.state_dims``, state displacement ``(B, S)`` (see the module docstring)."""

    model_type = "idm"
    action_mean: Tensor
    action_std: Tensor
    state_mean: Tensor
    state_std: Tensor

    def __init__(self, config: IDMConfig) -> None:
        super().__init__()
        self.config = config
        in_channels = 3 * config.window + 3 * (config.window - 1)
        self.encoder = _ViewEncoder(config, in_channels)
        self.head = _head(config, config.action_dim)
        if config.state_dims:  # absent otherwise, so checkpoints without a state head load unchanged
            self.state_encoder = _ViewEncoder(config, in_channels)
            self.state_head = _head(config, len(config.state_dims))
        # Saved with the weights: a checkpoint maps its outputs to action units on its own.
        self.register_buffer("action_mean", torch.zeros(config.action_dim))
        self.register_buffer("action_std", torch.ones(config.action_dim))
        if config.state_dims:
            self.register_buffer("state_mean", torch.zeros(len(config.state_dims)))
            self.register_buffer("state_std", torch.ones(len(config.state_dims)))

    @property
    def has_state_head(self) -> bool:
        """Whether the model also predicts the displacement of ``config.state_dims``."""
        return bool(self.config.state_dims)

    def set_action_statistics(self, mean: Tensor, std: Tensor) -> None:
        """Use the training data's per-dimension action mean and std ``(A,)`` for ``predict``."""
        self.action_mean.copy_(torch.as_tensor(mean, dtype=self.action_mean.dtype))
        self.action_std.copy_(torch.as_tensor(std, dtype=self.action_std.dtype).clamp_min(1e-6))

    def set_state_statistics(self, mean: Tensor, std: Tensor) -> None:
        """Use the training data's mean and std ``(S,)`` of the one-step state displacement."""
        if not self.has_state_head:
            raise ConfigError("set_state_statistics: the IDM has no state head (IDMConfig.state_dims is empty)")
        self.state_mean.copy_(torch.as_tensor(mean, dtype=self.state_mean.dtype))
        self.state_std.copy_(torch.as_tensor(std, dtype=self.state_std.dtype).clamp_min(1e-6))

    def forward(self, windows: Tensor, *, with_state: bool = True) -> Tensor:
        """Normalised outputs ``(B, A + S)`` from ``windows (B, V, K, 3, H, W)``: the action,
        then the displacement of the ``S = len(config.state_dims)`` state dimensions (``S = 0``
        with ``with_state=False``, which skips the state head's pass)."""
        config = self.config
        batch, views, steps = windows.shape[:3]
        expected = (len(config.views), config.window, 3, config.image_size, config.image_size)
        if tuple(windows.shape[1:]) != expected:
            raise ConfigError(
                f"InverseDynamicsModel: windows must be (B, {', '.join(map(str, expected))}) "
                f"(views {config.views}, {config.window} frames), got {tuple(windows.shape)}"
            )
        motion = windows[:, :, 1:] - windows[:, :, :-1]  # (B, V, K-1, 3, H, W)
        stacked = torch.cat([windows.flatten(2, 3), motion.flatten(2, 3)], dim=2)  # (B, V, C_in, H, W)
        stacked = stacked.flatten(0, 1)
        actions = self.head(self.encoder(stacked).view(batch, views * config.view_features))
        if not (self.has_state_head and with_state):
            return actions
        state = self.state_head(self.state_encoder(stacked).view(batch, views * config.view_features))
        return torch.cat([actions, state], dim=1)

    def to_action_units(self, normalized: Tensor) -> Tensor:
        """Normalised actions ``(..., A)`` -> the embodiment's units."""
        return normalized * self.action_std + self.action_mean

    def to_normalized(self, actions: Tensor) -> Tensor:
        """Actions ``(..., A)`` in the embodiment's units -> the model's normalised units."""
        return (actions - self.action_mean) / self.action_std

    def state_to_normalized(self, displacement: Tensor) -> Tensor:
        """State displacements ``(..., S)`` in the state's units -> the model's normalised units."""
        return (displacement - self.state_mean) / self.state_std

    def predict_with_state(self, windows: Tensor, *, with_state: bool = True) -> tuple[Tensor, Tensor]:
        """Action ``(B, A)`` in the embodiment's units and state displacement ``(B, S)`` in the
        state's units (``S = 0`` without a state head) from ``windows (B, V, K, 3, H, W)``."""
        outputs = self(windows, with_state=with_state)
        actions = self.to_action_units(outputs[:, : self.config.action_dim])
        state = outputs[:, self.config.action_dim :]
        if state.shape[1]:
            state = state * self.state_std + self.state_mean
        return actions, state

    def predict(self, windows: Tensor) -> Tensor:
        """Action ``(B, A)`` in the embodiment's units from ``windows (B, V, K, 3, H, W)``."""
        return self.predict_with_state(windows, with_state=False)[0]

    def select_views(self, frames: Tensor, views: tuple[str, ...]) -> Tensor:
        """The model's views, in its order, from ``frames (B, V, T, 3, H, W)`` named ``views``."""
        missing = [view for view in self.config.views if view not in views]
        if missing:
            raise ConfigError(
                f"the IDM reads views {list(self.config.views)}; the video has {list(views)} (missing {missing})"
            )
        return frames[:, [views.index(view) for view in self.config.views]]

    @torch.no_grad()
    def decode_video(self, frames: Tensor, views: tuple[str, ...], *, first: int = 0, chunk: int = 256) -> Tensor:
        """The actions ``(B, T - 1 - first, A)`` (embodiment units) a video ``(B, V, T, 3, H, W)``
        implies: ``[:, i]`` moves frame ``first + i`` to ``first + i + 1`` (``first`` skips the
        transitions a caller does not need, e.g. those inside a rollout's context).

        Windows that reach past either end of the video repeat its first or last frame (as if
        the scene stood still there). Windows are evaluated ``chunk`` at a time.
        """
        return self.decode_video_with_state(frames, views, first=first, chunk=chunk, with_state=False)[0]

    @torch.no_grad()
    def decode_video_with_state(
        self, frames: Tensor, views: tuple[str, ...], *, first: int = 0, chunk: int = 256, with_state: bool = True
    ) -> tuple[Tensor, Tensor]:
        """``decode_video``'s actions ``(B, N, A)`` and the state displacements ``(B, N, S)``
        (``S = 0`` without a state head) of the same transitions, from one pass of the model."""
        video = self.select_views(frames, views).to(self.action_mean.device, self.action_mean.dtype)
        batch, _, steps = video.shape[:3]
        if not 0 <= first < steps - 1:
            raise ConfigError(
                f"decode_video: a video of {steps} frames has transitions 0..{steps - 2}; asked to start at {first}"
            )
        config = self.config
        offsets = torch.arange(-config.past_frames, config.future_frames + 1)  # (K,)
        index = (torch.arange(first, steps - 1)[:, None] + offsets[None, :]).clamp(0, steps - 1)  # (N, K)
        windows = video[:, :, index]  # (B, V, N, K, 3, H, W)
        windows = windows.permute(0, 2, 1, 3, 4, 5, 6).flatten(0, 1)  # (B * N, V, K, 3, H, W)
        parts = [self.predict_with_state(part, with_state=with_state) for part in windows.split(chunk)]
        actions = torch.cat([action for action, _ in parts]).view(batch, len(index), -1)
        state = torch.cat([displacement for _, displacement in parts]).view(batch, len(index), -1)
        return actions, state
