"""Autoregressive rollouts under the three context policies, on the tiny preset."""

from __future__ import annotations

import copy

import pytest
import torch

from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.sampling.context_policies import (
    FixedWindow,
    FullHistory,
    SlidingWindowReencode,
    context_policy,
)
from worldalign.sampling.rollout import rollout
from worldalign.sampling.samplers import EulerODESampler, FlowSDESampler, recompute_log_probs

BATCH, VIEWS, START = 2, 2, 2


def start_latents(autoencoder: Autoencoder) -> torch.Tensor:
    frames = torch.rand(BATCH, VIEWS, START, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return autoencoder.encode(frames)


def actions_for(horizon: int) -> torch.Tensor:
    return torch.randn(BATCH, START + horizon - 1, 4, generator=torch.Generator().manual_seed(1))


def run(model: WorldModel, autoencoder: Autoencoder, policy, horizon: int = 9, seed: int = 0, **kwargs):
    return rollout(
        model,
        autoencoder,
        start_latents(autoencoder),
        horizon,
        policy,
        sampler=kwargs.pop("sampler", EulerODESampler(steps=3)),
        actions=actions_for(horizon),
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )


@pytest.mark.parametrize("policy", [FullHistory(), FixedWindow(2), SlidingWindowReencode(3, 1)])
def test_shapes(world_model: WorldModel, autoencoder: Autoencoder, policy) -> None:
    result = run(world_model, autoencoder, policy, horizon=9)  # chunks of 2: the last one has 1 frame
    assert result.latents.shape == (BATCH, VIEWS, 9, 4, 2, 2)
    assert result.frames is not None and result.frames.shape == (BATCH, VIEWS, 9, 3, 16, 16)
    assert result.frame_latency_s.shape == (9,) and bool((result.frame_latency_s > 0).all())
    assert result.policy == policy.name
    assert result.peak_memory_bytes >= 0 and result.memory_method


def test_full_history_grows_to_the_model_maximum(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    result = run(world_model, autoencoder, FullHistory(), horizon=9)
    assert result.context_frames == [2, 4, 4, 4, 4]  # 2 real, then +2 per chunk, capped at 4
    assert result.peak_context_frames == world_model.config.max_context_frames
    assert result.peak_sequence_tokens == VIEWS * (4 + 2) * world_model.config.tokens_per_frame


def test_final_context_continues_the_rollout(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    result = run(world_model, autoencoder, FixedWindow(2), horizon=6)
    assert result.final_context_first_frame == START + 6 - 2
    torch.testing.assert_close(result.final_context, result.latents[:, :, -2:])
    swr = run(world_model, autoencoder, SlidingWindowReencode(window=4, reencode_frames=1), horizon=2)
    # 2 start + 2 predicted frames filled the window: the next call would see the re-encoded last frame.
    assert swr.final_context.shape[2] == 1 and swr.final_context_first_frame == START + 2 - 1
    expected = autoencoder.encode(autoencoder.decode(swr.latents[:, :, -1:]))
    torch.testing.assert_close(swr.final_context, expected)


def test_fixed_window_keeps_its_length(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    assert run(world_model, autoencoder, FixedWindow(1)).context_frames == [1] * 5


def test_sliding_window_never_exceeds_the_window(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    result = run(world_model, autoencoder, SlidingWindowReencode(window=4, reencode_frames=1), horizon=12)
    assert max(result.context_frames) <= 4
    # 2 real frames + a chunk of 2 fill the window: the segment restarts from 1 re-encoded frame,
    # grows by a chunk (3 < 4), and the next chunk fills it again.
    assert result.context_frames == [2, 1, 3, 1, 3, 1]


def test_sliding_window_context_is_the_reencoded_prediction(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    policy = SlidingWindowReencode(window=3, reencode_frames=1)
    result = run(world_model, autoencoder, policy, horizon=6, record_chunks=True)
    first, second = result.chunks[0], result.chunks[1]
    assert second.first_frame == START + 2 and second.context.shape[2] == 1
    last_predicted = result.latents[:, :, 1:2]
    expected = autoencoder.encode(autoencoder.decode(last_predicted))
    torch.testing.assert_close(second.context, expected)
    assert not torch.allclose(second.context, last_predicted)  # pixels, not latents, were carried over
    # Actions line up with the rollout's frames: the chunk after the boundary starts at frame 3.
    torch.testing.assert_close(second.actions, actions_for(6)[:, 3 : 3 + 1 + 2 - 1])
    assert first.context.shape[2] == START


def test_same_seed_same_rollout(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    policy = SlidingWindowReencode(3, 1)
    a = run(world_model, autoencoder, policy, seed=3, sampler=FlowSDESampler(steps=3))
    b = run(world_model, autoencoder, policy, seed=3, sampler=FlowSDESampler(steps=3))
    c = run(world_model, autoencoder, policy, seed=4, sampler=FlowSDESampler(steps=3))
    assert torch.equal(a.latents, b.latents) and torch.equal(a.frames, b.frames)
    assert not torch.equal(a.latents, c.latents)


@pytest.mark.parametrize(("guidance_scale", "action_guidance_scale"), [(1.0, 1.0), (2.5, 1.0), (1.0, 3.0)])
def test_sde_rollout_log_probs_can_be_recomputed(
    world_model: WorldModel, autoencoder: Autoencoder, guidance_scale: float, action_guidance_scale: float
) -> None:
    result = run(
        world_model,
        autoencoder,
        FullHistory(),
        horizon=5,
        sampler=FlowSDESampler(steps=3),
        record_chunks=True,
        guidance_scale=guidance_scale,
        action_guidance_scale=action_guidance_scale,
    )
    assert len(result.chunks) == 3
    for chunk in result.chunks:
        recomputed = recompute_log_probs(chunk.velocity_fn(world_model), chunk.trajectory)
        torch.testing.assert_close(recomputed, chunk.trajectory.log_probs, rtol=0, atol=1e-6)
    # New weights give other log-probabilities (the GRPO ratio moves away from 1).
    changed = copy.deepcopy(world_model)
    with torch.no_grad():
        changed.final.linear.weight.mul_(1.1)
    chunk = result.chunks[-1]
    recomputed = recompute_log_probs(chunk.velocity_fn(changed), chunk.trajectory)
    assert not torch.allclose(recomputed, chunk.trajectory.log_probs)


def test_latents_only_rollout_skips_decoding(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    decoded = run(world_model, autoencoder, SlidingWindowReencode(3, 1))
    latents_only = run(world_model, autoencoder, SlidingWindowReencode(3, 1), decode=False)
    assert latents_only.frames is None
    torch.testing.assert_close(latents_only.latents, decoded.latents)


def test_guidance_scales_change_the_rollout(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    plain = run(world_model, autoencoder, FixedWindow(2), horizon=2)
    guided = run(world_model, autoencoder, FixedWindow(2), horizon=2, guidance_scale=3.0)
    action_guided = run(world_model, autoencoder, FixedWindow(2), horizon=2, action_guidance_scale=3.0)
    assert not torch.allclose(plain.latents, guided.latents)
    assert not torch.allclose(plain.latents, action_guided.latents)
    # This model has no instruction, so guiding the actions alone is guiding every condition.
    torch.testing.assert_close(guided.latents, action_guided.latents)


def test_bad_policies_and_actions_are_named(world_model: WorldModel, autoencoder: Autoencoder) -> None:
    with pytest.raises(ConfigError, match=r"uses 6 context frames.*1\.\.4"):
        run(world_model, autoencoder, SlidingWindowReencode(window=6))
    with pytest.raises(ConfigError, match="reencode_frames=3"):
        run(world_model, autoencoder, SlidingWindowReencode(window=4, reencode_frames=3))
    with pytest.raises(ConfigError, match=r"\(2, 5, 4\).*\(2, 10, 4\)"):
        rollout(world_model, autoencoder, start_latents(autoencoder), 9, FixedWindow(2), actions=actions_for(4))
    with pytest.raises(ConfigError, match="unknown context policy 'swr'"):
        context_policy("swr")


def test_policies_by_name() -> None:
    assert context_policy("full_history") == FullHistory()
    assert context_policy("fixed_window", 3) == FixedWindow(3)
    assert context_policy("sliding_window_reencode", 6, reencode_frames=2) == SlidingWindowReencode(6, 2)
