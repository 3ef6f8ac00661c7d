"""DiffusionNFT's objective by hand on a one-parameter model, and one step on the tiny world model."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from align_setup import tiny_world_model
from torch import Tensor, nn

from worldalign.algos.advantages import optimality_probability
from worldalign.algos.diffusion_nft import implicit_velocities, nft_loss, nft_objective
from worldalign.algos.training_run import ema_update
from worldalign.configs.align import NFTConfig
from worldalign.configs.presets import get_preset
from worldalign.errors import ConfigError
from worldalign.models.autoencoder import Autoencoder
from worldalign.sampling.context_policies import FullHistory
from worldalign.sampling.rollout import RolloutChunk, rollout
from worldalign.sampling.samplers import EulerODESampler


class Scale(nn.Module):
    """A world model stand-in with the same call signature: ``v = w * x_t``."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(
        self, x_t: Tensor, t: Tensor, context: Tensor, actions: Tensor | None = None, instruction: Tensor | None = None
    ) -> Tensor:
        return self.w * x_t


class Wrapped(nn.Module):
    """Stands for a DDP wrapper: the model sits in ``.module``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


def toy_chunk(x0: Tensor) -> RolloutChunk:
    return RolloutChunk(
        context=torch.zeros(x0.shape[0], 1, 1, 1, 1, 1), actions=None, instruction=None, guidance_scale=1.0,
        first_frame=0, latents=x0, trajectory=None,
    )


def test_objective_by_hand() -> None:
    # t = 0.5, x0 = [1, -1], eps = [1, 1] -> x_t = [1, 0]; v_theta = 0.5 x_t, v_old = 0.2 x_t; b = 1:
    # v+ = [0.5, 0], v- = 2 v_old - v_theta = [-0.1, 0]; x0+ = [0.75, 0], x0- = [1.05, 0].
    # L+ = mean([0.0625, 1]) / mean([0.25, 1]) = 0.53125 / 0.625; L- = 0.50125 / 0.525.
    x0 = torch.tensor([[1.0, -1.0]])
    t = torch.tensor([0.5])
    x_t = torch.tensor([[1.0, 0.0]])
    positive, negative = 0.53125 / 0.625, 0.50125 / 0.525
    r = 0.75
    expected = (r * positive + (1 - r) * negative) * 5.0 / 1.0
    got = nft_objective(0.5 * x_t, 0.2 * x_t, x_t, x0, t, torch.tensor([r]), NFTConfig(beta=1.0, adv_clip_max=5.0))
    torch.testing.assert_close(got, torch.tensor([expected]))
    # b = 0.5: v+ = [0.35, 0], v- = [0.05, 0] -> x0+ = [0.825, 0], x0- = [0.975, 0].
    half = nft_objective(0.5 * x_t, 0.2 * x_t, x_t, x0, t, torch.tensor([r]), NFTConfig(beta=0.5, adv_clip_max=5.0))
    positive = ((0.175**2 + 1) / 2) / ((0.175 + 1) / 2)
    negative = ((0.025**2 + 1) / 2) / ((0.025 + 1) / 2)
    torch.testing.assert_close(half, torch.tensor([(r * positive + (1 - r) * negative) * 5.0 / 0.5]))


def test_nft_loss_draws_t_and_noise_from_the_generator_and_applies_the_objective() -> None:
    x0 = torch.randn(3, 1, 2, 4, 2, 2, generator=torch.Generator().manual_seed(0))
    config = NFTConfig(time_min=0.2, time_max=0.9)
    optimality = torch.tensor([0.0, 0.5, 1.0])
    policy, old = Scale(0.5), Scale(0.2)
    loss, stats = nft_loss(policy, old, None, toy_chunk(x0), optimality, config, torch.Generator().manual_seed(7))
    draws = torch.Generator().manual_seed(7)
    t = torch.rand(3, generator=draws) * 0.7 + 0.2
    eps = torch.randn(x0.shape, generator=draws)
    x_t = (1 - t.view(3, 1, 1, 1, 1, 1)) * x0 + t.view(3, 1, 1, 1, 1, 1) * eps
    v_theta, v_old = 0.5 * x_t, 0.2 * x_t
    by_hand = []
    for i in range(3):
        terms = []
        for velocity in (v_theta[i], 2 * v_old[i] - v_theta[i]):
            error = x_t[i] - t[i] * velocity - x0[i]
            terms.append(error.square().mean() / error.abs().mean())
        by_hand.append((optimality[i] * terms[0] + (1 - optimality[i]) * terms[1]) * 5.0)
    torch.testing.assert_close(loss, torch.stack(by_hand).mean())
    assert stats["kl"].item() == 0.0 and stats["loss"].item() == pytest.approx(loss.item())
    loss.backward()
    assert policy.w.grad is not None and policy.w.grad.abs() > 0
    assert old.w.grad is None  # the old model is only evaluated


def test_same_weights_make_both_implicit_policies_the_model() -> None:
    v = torch.randn(2, 5)
    v_positive, v_negative = implicit_velocities(v, v.clone(), 0.7)
    torch.testing.assert_close(v_positive, v)
    torch.testing.assert_close(v_negative, v)
    x0 = torch.randn(2, 1, 1, 4, 2, 2, generator=torch.Generator().manual_seed(1))
    _, stats = nft_loss(Scale(0.3), Scale(0.3), None, toy_chunk(x0), torch.tensor([0.2, 0.9]), NFTConfig(),
                        torch.Generator().manual_seed(0))
    torch.testing.assert_close(stats["positive_loss"], stats["negative_loss"])


def test_one_adam_step_on_ode_chunks_lowers_the_loss() -> None:
    policy = tiny_world_model()
    old, reference = copy.deepcopy(policy), copy.deepcopy(policy)
    generator = torch.Generator().manual_seed(1)
    start = torch.randn(2, 1, 2, 4, 2, 2, generator=generator).repeat_interleave(4, dim=0)
    actions = torch.randn(8, 5, 4, generator=generator)
    autoencoder = Autoencoder(get_preset("tiny").autoencoder.model).eval()
    chunks = rollout(
        policy, autoencoder, start, 4, FullHistory(), sampler=EulerODESampler(steps=3), actions=actions,
        generator=generator, decode=False, record_chunks=True,
    ).chunks
    assert chunks[0].trajectory is None
    optimality = optimality_probability(torch.randn(8, generator=generator) * 2, 5.0)
    config = NFTConfig(kl_coef=0.1)

    def total() -> tuple[Tensor, dict[str, Tensor]]:
        terms = [nft_loss(policy, old, reference, chunk, optimality, config, torch.Generator().manual_seed(5))
                 for chunk in chunks]
        return torch.stack([loss for loss, _ in terms]).mean(), terms[0][1]

    before_weights = [parameter.detach().clone() for parameter in policy.parameters()]
    loss, stats = total()
    assert stats["kl"].item() == 0.0
    torch.testing.assert_close(stats["positive_loss"], stats["negative_loss"])
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before_weights, policy.parameters(), strict=True))
    after, after_stats = total()
    assert after.item() < loss.item() - 1e-4
    assert after_stats["kl"].item() > 0


def test_ema_update() -> None:
    old, policy = Scale(1.0), Scale(3.0)
    policy.calls.fill_(4)
    ema_update(old, Wrapped(policy), 1.0)
    assert old.w.item() == 1.0 and old.calls.item() == 4  # integer buffers are copied
    ema_update(old, Wrapped(policy), 0.75)
    assert old.w.item() == pytest.approx(0.75 * 1.0 + 0.25 * 3.0)
    ema_update(old, policy, 0.0)
    assert old.w.item() == 3.0
    assert old.w.grad is None and policy.w.requires_grad
    with pytest.raises(ConfigError, match="different parameters"):
        ema_update(old, nn.Linear(1, 1), 0.5)


def test_ema_schedule_grows_monotonically_to_its_cap() -> None:
    config = NFTConfig(ema_decay=0.5, ema_decay_rate=0.001)
    decays = [config.ema_decay_at(i) for i in range(0, 2000, 7)]
    assert decays[0] == 0.0 and max(decays) == 0.5
    assert all(a <= b for a, b in zip(decays, decays[1:], strict=False))
    constant = NFTConfig(ema_decay=0.9, ema_decay_rate=0.0)
    assert {constant.ema_decay_at(i) for i in (0, 1, 1000)} == {0.9}


@pytest.mark.parametrize(
    "field, value",
    [("beta", 0.0), ("kl_coef", -0.1), ("adv_clip_max", 0.0), ("ema_decay", 1.0), ("ema_decay_rate", -1.0),
     ("time_min", 1.0)],
)
def test_config_validation(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        dataclasses.replace(NFTConfig(), **{field: value})
