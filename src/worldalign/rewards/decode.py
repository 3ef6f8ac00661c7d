"""Read the actions (and, with a state head, the end-effector motion) a rollout's video implies
with an inverse dynamics model (EVA).

Shared by the executability reward (which scores the decoded actions) and the execution reward
(which runs them in the simulator), so both decode the same way:

- with ``rollout.context``, the last context frames are put before the generated ones, so the
  decoded actions are the ``T`` that lead into generated frames ``0 .. T-1``, aligned with
  ``rollout.actions`` (whose ``[:, 0]`` leads from the last context frame);
- without it, the ``T - 1`` actions between generated frames, aligned with ``rollout.actions[:, 1:]``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import load_model
from worldalign.models.idm import InverseDynamicsModel

SHIPPED_IDM = Path(__file__).resolve().parents[3] / "checkpoints" / "idm-cpu"
"""The small IDM trained on Meta-World's easy tasks that ships with the repository."""


def load_idm(
    idm: InverseDynamicsModel | str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> InverseDynamicsModel:
    """An IDM in eval mode: ``idm`` itself, the checkpoint folder it names, or the shipped one."""
    if isinstance(idm, InverseDynamicsModel):
        return idm.eval()
    folder = Path(idm) if idm is not None else SHIPPED_IDM
    if not folder.is_dir():
        raise ConfigError(
            f"IDM checkpoint folder {folder} not found; train one with "
            "`worldalign train idm --dataset DATA --out RUN` and pass RUN/model"
        )
    return load_model(InverseDynamicsModel, folder, device=device).eval()


@dataclass
class DecodedActions:
    """Actions decoded from a rollout.

    Attributes:
        actions: ``(B, N, A)`` in the embodiment's units.
        commanded: ``(B, N, A)`` the rollout's commanded actions for the same steps, if any.
        state_displacement: ``(B, N, S)`` the displacement of the IDM's ``config.state_dims``
            over the same transitions (state units; Meta-World: metres), ``S = 0`` without a
            state head.
        from_context: True when ``actions[:, 0]`` leaves the last context frame (N = T),
            False when it leaves generated frame 0 (N = T - 1).
    """

    actions: Tensor
    commanded: Tensor | None
    from_context: bool
    state_displacement: Tensor


def decode_rollout_actions(idm: InverseDynamicsModel, rollout: Rollout, *, with_state: bool = True) -> DecodedActions:
    """The actions ``idm`` reads from ``rollout`` (alignment in the module docstring)."""
    frames = rollout.frames
    from_context = rollout.context is not None and rollout.context.shape[2] > 0
    if from_context:
        assert rollout.context is not None
        keep = min(rollout.context.shape[2], idm.config.past_frames + 1)
        frames = torch.cat([rollout.context[:, :, -keep:].to(frames), frames], dim=2)
        skip = keep - 1  # transitions inside the context are not the rollout's
    else:
        skip = 0
    if frames.shape[2] < 2:
        raise ConfigError(
            f"cannot decode actions from a rollout of {rollout.frames.shape[2]} frame(s) without context frames"
        )
    actions, state_displacement = idm.decode_video_with_state(frames, rollout.views, first=skip, with_state=with_state)  # (B, N, A|S)
    commanded = None
    if rollout.actions is not None:
        commanded = rollout.actions if from_context else rollout.actions[:, 1:]
        commanded = commanded.to(actions)
    return DecodedActions(
        actions=actions, commanded=commanded, from_context=from_context, state_displacement=state_displacement
    )
