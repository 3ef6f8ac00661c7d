"""The latent world model: variable context, conditioning with null embeddings, clear errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from worldalign.configs.presets import get_preset
from worldalign.errors import ConfigError
from worldalign.models.world_model import WorldModel
from worldalign.models.world_model.configuration_world_model import WorldModelConfig
from worldalign.models.world_model.modeling_world_model import action_displacements

CONFIG = dataclasses.replace(get_preset("tiny").world_model.model, num_views=2)


def make_model(config: WorldModelConfig = CONFIG) -> WorldModel:
    """A tiny model whose zero-initialised output layers are randomised, so outputs depend on inputs."""
    torch.manual_seed(0)
    model = WorldModel(config)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and module.weight.abs().sum() == 0:
                module.weight.normal_(0, 0.05)
    return model


def inputs(context: int, future: int = 2, batch: int = 3) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    latent = (CONFIG.latent_channels, CONFIG.latent_size, CONFIG.latent_size)
    return {
        "noisy_future": torch.randn(batch, 2, future, *latent, generator=generator),
        "t": torch.rand(batch, generator=generator),
        "context": torch.randn(batch, 2, context, *latent, generator=generator),
        "actions": torch.randn(batch, context + future - 1, CONFIG.action_dim, generator=generator),
        "instruction": torch.randn(batch, CONFIG.instruction_dim, generator=generator),
    }


@pytest.mark.parametrize("context", [0, 1, 3, 4])
def test_any_context_length_up_to_the_maximum(context: int) -> None:
    model = make_model()
    batch = inputs(context)
    velocity = model(**batch)
    assert velocity.shape == batch["noisy_future"].shape


def test_fewer_future_frames_than_a_chunk() -> None:
    velocity = make_model()(**inputs(context=2, future=1))
    assert velocity.shape[2] == 1


def test_output_starts_at_zero_as_in_dit() -> None:
    torch.manual_seed(0)
    velocity = WorldModel(CONFIG)(**inputs(context=2))
    assert torch.count_nonzero(velocity) == 0


def test_dropping_conditions_equals_null_conditions() -> None:
    model = make_model()
    batch = inputs(context=2)
    keep = torch.tensor([True, False, True])
    dropped = model(**batch, keep_actions=keep, keep_instruction=keep)
    null = model(batch["noisy_future"], batch["t"], batch["context"])
    conditioned = model(**batch)
    torch.testing.assert_close(dropped[1], null[1])
    torch.testing.assert_close(dropped[0], conditioned[0])
    assert not torch.allclose(conditioned[1], null[1])


def test_actions_and_time_change_the_prediction() -> None:
    model = make_model()
    batch = inputs(context=2)
    base = model(**batch)
    other_actions = model(**{**batch, "actions": batch["actions"] + 1})
    other_time = model(**{**batch, "t": batch["t"] * 0.5})
    assert not torch.allclose(base, other_actions)
    assert not torch.allclose(base, other_time)


def test_the_context_noise_level_is_a_condition_and_zero_means_clean() -> None:
    model = make_model()
    batch = inputs(context=2)
    clean = model(**batch)
    torch.testing.assert_close(model(**batch, context_time=torch.zeros(3)), clean)
    noisy = model(**batch, context_time=torch.tensor([0.0, 0.3, 0.6]))
    torch.testing.assert_close(noisy[0], clean[0])
    assert not torch.allclose(noisy[1], clean[1]) and not torch.allclose(noisy[2], noisy[1])


def test_samples_are_independent() -> None:
    model = make_model()
    batch = inputs(context=2)
    full = model(**batch)
    first = model(**{name: value[:1] for name, value in batch.items()})
    torch.testing.assert_close(full[:1], first, atol=1e-5, rtol=1e-5)


def test_bad_inputs_name_both_sides() -> None:
    model = make_model()
    batch = inputs(context=2)
    with pytest.raises(ConfigError, match=r"3 views.*num_views=2"):
        model(**{**batch, "context": torch.cat([batch["context"], batch["context"][:, :1]], dim=1)})
    with pytest.raises(ConfigError, match=r"\(3, 2, 2, 8, 2, 2\).*latent_channels=4"):
        model(**{**batch, "context": torch.zeros(3, 2, 2, 8, 2, 2)})
    with pytest.raises(ConfigError, match=r"5 context frames.*max_context_frames=4"):
        model(**inputs(context=5))
    with pytest.raises(ConfigError, match=r"\(3, 2, 4\).*\(3, 3, 4\)"):
        model(**{**batch, "actions": batch["actions"][:, :2]})
    with pytest.raises(ConfigError, match=r"instruction_dim=16"):
        model(**{**batch, "instruction": torch.zeros(3, 384)})


def test_unconditioned_model_rejects_conditions() -> None:
    model = make_model(dataclasses.replace(CONFIG, action_dim=0, instruction_dim=0))
    batch = inputs(context=2)
    with pytest.raises(ConfigError, match="action_dim=0"):
        model(batch["noisy_future"], batch["t"], batch["context"], actions=batch["actions"])
    with pytest.raises(ConfigError, match="instruction_dim=0"):
        model(batch["noisy_future"], batch["t"], batch["context"], instruction=batch["instruction"])


def test_presets_have_the_documented_sizes() -> None:
    counts = {
        name: sum(p.numel() for p in WorldModel(get_preset(name).world_model.model).parameters())
        for name in ("tiny", "cpu")
    }
    assert 50_000 < counts["tiny"] < 200_000
    assert 4_000_000 < counts["cpu"] < 4_500_000
    gpu = get_preset("gpu").world_model.model
    # Counted from the config (instantiating 60M parameters is slow): 12 (attention + MLP + adaLN) blocks.
    per_block = 4 * gpu.width**2 + 2 * gpu.mlp_ratio * gpu.width**2 + 6 * gpu.width**2
    assert gpu.depth * per_block > 10_000_000


def test_activation_checkpointing_gives_the_same_output_and_gradients() -> None:
    batch = inputs(3)
    grads = []
    for recompute in (False, True):
        model = make_model().train()
        model.activation_checkpointing = recompute
        velocity = model(**batch)
        velocity.square().mean().backward()
        grads.append((velocity.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}))
    (plain, plain_grads), (recomputed, recomputed_grads) = grads
    assert torch.allclose(plain, recomputed, atol=1e-6) and plain_grads.keys() == recomputed_grads.keys()
    assert all(torch.allclose(plain_grads[name], recomputed_grads[name], atol=1e-6) for name in plain_grads)
    assert any(float(g.abs().sum()) > 0 for g in plain_grads.values())


CAUSAL = dataclasses.replace(CONFIG, causal_context=True)


def block_causal_reference(model: WorldModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``model``'s weights run as a full-attention model whose attention is masked so that no
    context token sees a future token: the semantics ``causal_context`` promises."""
    full = make_model(dataclasses.replace(model.config, causal_context=False))
    full.load_state_dict(model.state_dict())
    views, context, future = 2, batch["context"].shape[2], batch["noisy_future"].shape[2]
    is_future = (torch.arange(context + future) >= context).repeat_interleave(CONFIG.tokens_per_frame).repeat(views)
    allowed = is_future[:, None] | ~is_future[None, :]  # (query, key)
    plain = torch.nn.functional.scaled_dot_product_attention

    def masked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return plain(q, k, v, attn_mask=allowed)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("worldalign.models.world_model.modeling_world_model.F.scaled_dot_product_attention", masked)
        return full(**batch)


@pytest.mark.parametrize("context", [0, 1, 3])
def test_causal_context_is_full_attention_with_the_context_blind_to_the_future(context: int) -> None:
    model = make_model(CAUSAL).eval()
    batch = inputs(context)
    with torch.no_grad():
        velocity = model(**batch)
        torch.testing.assert_close(velocity, block_causal_reference(model, batch), atol=1e-5, rtol=1e-5)
        # The cache computed once gives the same velocity at any flow time and noisy future.
        cache = model.encode_context(batch["context"], 2, batch["actions"], batch["instruction"])
        for t in (batch["t"], torch.full_like(batch["t"], 0.9)):
            moved = {**batch, "t": t, "noisy_future": batch["noisy_future"] * 0.5}
            torch.testing.assert_close(model(**moved, cache=cache), model(**moved), atol=0, rtol=0)
        if context:
            other = {**batch, "context": batch["context"] + 1.0}
            assert not torch.allclose(model(**other), velocity), "the future reads the context"


def test_causal_context_trains_through_the_context_with_or_without_recompute() -> None:
    batch = {**inputs(3), "context": inputs(3)["context"].requires_grad_(True)}
    outcomes = []
    for recompute in (False, True):
        model = make_model(CAUSAL).train()
        model.activation_checkpointing = recompute
        batch["context"].grad = None
        velocity = model(**batch)
        velocity.square().mean().backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        outcomes.append((velocity.detach(), grads, batch["context"].grad.clone()))
    (plain, plain_grads, plain_context), (recomputed, recomputed_grads, recomputed_context) = outcomes
    assert float(plain_context.abs().sum()) > 0, "the loss reaches the context through its keys and values"
    torch.testing.assert_close(plain, recomputed, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(plain_context, recomputed_context, atol=1e-6, rtol=1e-5)
    assert plain_grads.keys() == recomputed_grads.keys()
    assert all(torch.allclose(plain_grads[name], recomputed_grads[name], atol=1e-6) for name in plain_grads)


def test_a_context_cache_must_match_the_model_and_the_call() -> None:
    batch = inputs(3)
    causal = make_model(CAUSAL).eval()
    cache = causal.encode_context(batch["context"], 2, batch["actions"], batch["instruction"])
    with pytest.raises(ConfigError, match="without causal_context"):
        make_model()(**batch, cache=cache)
    with pytest.raises(ConfigError, match="needs a world model with causal_context"):
        make_model().encode_context(batch["context"], 2, batch["actions"], batch["instruction"])
    shorter = inputs(2)
    with pytest.raises(ConfigError, match=r"3 samples x 3 frames given for 3 x 2"):
        causal(**shorter, cache=cache)


DISPLACED = dataclasses.replace(CONFIG, action_displacement=True)


@pytest.mark.parametrize("context", [0, 1, 3])
def test_action_displacements_sum_the_actions_since_the_last_context_frame(context: int) -> None:
    actions = inputs(context, future=3)["actions"]
    displacement = action_displacements(actions, context)
    assert displacement.shape == (3, 3, CONFIG.action_dim)
    start = max(context - 1, 0)  # the action out of the last context frame (none without context)
    for future in range(3):
        last = context + future  # window index of the future frame
        expected = actions[:, start:last].sum(dim=1) if last > 0 else torch.zeros_like(actions[:, 0])
        torch.testing.assert_close(displacement[:, future], expected)


def test_action_displacement_starts_as_the_model_without_it_then_reads_the_sum() -> None:
    batch = inputs(context=3, future=2)
    plain = make_model()
    torch.manual_seed(0)
    displaced = WorldModel(DISPLACED)
    added = {name for name in displaced.state_dict() if name.startswith("displacement_embed.")}
    assert set(displaced.state_dict()) - set(plain.state_dict()) == added and added
    displaced.load_state_dict({**plain.state_dict(), **{n: displaced.state_dict()[n] for n in added}})
    with torch.no_grad():
        torch.testing.assert_close(displaced(**batch), plain(**batch), atol=0, rtol=0)
        displaced.displacement_embed[-1].weight.normal_(0, 0.05)
        velocity = displaced(**batch)
        assert not torch.allclose(velocity, plain(**batch))
        # Each future frame's condition gains the embedded sum of the actions since the last
        # context frame; the context frames' conditions are untouched.
        args = (3, 3, 2, batch["t"], batch["actions"], batch["instruction"], None, None, None)
        gained = displaced._frame_conditions(*args) - plain._frame_conditions(*args)
        torch.testing.assert_close(gained[:, :3], torch.zeros_like(gained[:, :3]))
        expected = displaced.displacement_embed(action_displacements(batch["actions"], 3))
        torch.testing.assert_close(gained[:, 3:], expected, atol=1e-6, rtol=1e-5)


def test_action_displacement_leaves_the_context_cacheable_and_drops_with_the_actions() -> None:
    model = make_model(dataclasses.replace(CAUSAL, action_displacement=True)).eval()
    batch = inputs(3)
    with torch.no_grad():
        cache = model.encode_context(batch["context"], 2, batch["actions"], batch["instruction"])
        torch.testing.assert_close(model(**batch, cache=cache), model(**batch), atol=0, rtol=0)
        dropped = model(**batch, keep_actions=torch.zeros(3, dtype=torch.bool))
        torch.testing.assert_close(dropped, model(**{**batch, "actions": None}), atol=0, rtol=0)
    with pytest.raises(ConfigError, match="action_displacement needs an action-conditioned model"):
        dataclasses.replace(CONFIG, action_displacement=True, action_dim=0)
