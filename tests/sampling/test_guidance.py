"""Classifier-free guidance of the world-model velocity: on all conditions and on the actions alone."""

from __future__ import annotations

import pytest
import torch

from worldalign.models.world_model import WorldModel
from worldalign.sampling.guidance import WorldModelVelocity

BATCH = 3


def inputs(model: WorldModel) -> dict[str, torch.Tensor]:
    config = model.config
    latent = (config.num_views, config.latent_channels, config.latent_size, config.latent_size)
    generator = torch.Generator().manual_seed(0)
    return {
        "x_t": torch.randn(BATCH, latent[0], 2, *latent[1:], generator=generator),
        "t": torch.rand(BATCH, generator=generator),
        "context": torch.randn(BATCH, latent[0], 3, *latent[1:], generator=generator),
        "actions": torch.randn(BATCH, 4, config.action_dim, generator=generator),
        "instruction": torch.randn(BATCH, config.instruction_dim, generator=generator),
    }


def velocity_with(model: WorldModel, given: dict[str, torch.Tensor], actions: bool, instruction: bool) -> torch.Tensor:
    """One plain model call with the actions and/or the instruction kept or nulled."""
    keep = {name: torch.full((BATCH,), flag) for name, flag in (("actions", actions), ("instruction", instruction))}
    return model(
        given["x_t"],
        given["t"],
        given["context"],
        given["actions"],
        given["instruction"],
        keep_actions=keep["actions"],
        keep_instruction=keep["instruction"],
    )


def test_guidance_matches_its_formulas(instructed_world_model: WorldModel) -> None:
    model = instructed_world_model
    given = inputs(model)
    conditional = velocity_with(model, given, actions=True, instruction=True)
    unconditional = velocity_with(model, given, actions=False, instruction=False)
    without_actions = velocity_with(model, given, actions=False, instruction=True)
    assert not torch.allclose(conditional, without_actions)  # the actions matter to this model

    def guided(guidance_scale: float, action_guidance_scale: float) -> torch.Tensor:
        velocity_fn = WorldModelVelocity(
            model,
            given["context"],
            given["actions"],
            given["instruction"],
            guidance_scale=guidance_scale,
            action_guidance_scale=action_guidance_scale,
        )
        with torch.no_grad():
            return velocity_fn(given["x_t"], given["t"])

    with torch.no_grad():
        torch.testing.assert_close(guided(1.0, 1.0), conditional)
        torch.testing.assert_close(guided(2.5, 1.0), unconditional + 2.5 * (conditional - unconditional))
        # Actions alone: the instruction stays in both terms (InstructPix2Pix's second scale).
        torch.testing.assert_close(guided(1.0, 4.0), without_actions + 4.0 * (conditional - without_actions))
        torch.testing.assert_close(
            guided(2.0, 3.0),
            unconditional + 2.0 * (conditional - unconditional) + 2.0 * (conditional - without_actions),
        )


def test_action_guidance_without_actions_is_the_plain_model(instructed_world_model: WorldModel) -> None:
    model = instructed_world_model
    given = inputs(model)
    plain = WorldModelVelocity(model, given["context"], None, given["instruction"])
    guided = WorldModelVelocity(model, given["context"], None, given["instruction"], action_guidance_scale=5.0)
    with torch.no_grad():
        torch.testing.assert_close(guided(given["x_t"], given["t"]), plain(given["x_t"], given["t"]))


def test_a_causal_context_is_encoded_once_per_velocity_function(causal_world_model: WorldModel) -> None:
    """Every denoising step of a chunk reuses the context's keys and values (computed at the first
    call without gradients) and gets the velocity of the uncached model, guided or not."""
    model = causal_world_model
    given = inputs(model)
    calls = []
    encode = model.encode_context

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(kwargs)
        return encode(*args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(model, "encode_context", counted)
        for guidance, action_guidance in ((1.0, 1.0), (2.0, 3.0)):
            calls.clear()
            scales = {"guidance_scale": guidance, "action_guidance_scale": action_guidance}
            conditions = (given["context"], given["actions"], given["instruction"])
            velocity_fn = WorldModelVelocity(model, *conditions, **scales)
            with torch.no_grad():
                steps = [velocity_fn(given["x_t"] * s, given["t"] * s) for s in (1.0, 0.5, 0.25)]
            assert len(calls) == 1, "one encoding for every step"
            uncached = WorldModelVelocity(model, *conditions, **scales)
            with torch.enable_grad():  # with gradients nothing is cached: the model's own pass
                fresh = [uncached(given["x_t"] * s, given["t"] * s).detach() for s in (1.0, 0.5, 0.25)]
            assert len(calls) == 1 and uncached._cache is None
            for cached_step, fresh_step in zip(steps, fresh, strict=True):
                torch.testing.assert_close(cached_step, fresh_step, atol=1e-6, rtol=1e-5)
