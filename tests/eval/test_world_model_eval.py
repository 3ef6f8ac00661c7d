"""``evaluate_world_model`` on tiny random models and a synthetic 32 px, 2-view dataset.

32 px because LPIPS's AlexNet needs frames of at least 31 px; the tiny preset's models are
resized to it (4x4 latents). The autoencoder ceiling is checked with an exactly invertible
"autoencoder" (pixel unshuffle), whose reconstructions are the frames themselves.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from worldalign.configs.presets import get_preset
from worldalign.data import lerobot_format as fmt
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.data.stats import Normalizer
from worldalign.errors import DatasetError
from worldalign.eval.world_model import COPY_LAST, MEAN_FRAME, WorldModelReport, derangement, evaluate_world_model
from worldalign.metrics import lpips, psnr, ssim
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.world_model import WorldModel
from worldalign.sampling.context_policies import FixedWindow, FullHistory, SlidingWindowReencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))  # the data tests' synthetic episodes
from synthetic_episodes import VIEWS, make_episode  # noqa: E402

SIZE, LENGTH, EPISODES, CONTEXT, HORIZON = 32, 8, 4, 2, 5
Batches = list[tuple[str, int, list[int], tuple[int, ...]]]
POLICIES = {"full": FullHistory(), "swr-3": SlidingWindowReencode(window=3)}


def random_world_model(**changes: object) -> WorldModel:
    """The tiny preset's world model with 2 views, its zero-initialised output layers randomised."""
    torch.manual_seed(0)
    config = dataclasses.replace(get_preset("tiny").world_model.model, num_views=len(VIEWS), **changes)
    model = WorldModel(config)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and module.weight.abs().sum() == 0:
                module.weight.normal_(0, 0.05)
    return model.eval()


class PixelUnshuffleAutoencoder(nn.Module):
    """An exactly invertible "autoencoder": 3x32x32 frames <-> 192x4x4 latents."""

    def encode(self, frames: Tensor) -> Tensor:
        return F.pixel_unshuffle(frames, 8)

    def decode(self, latents: Tensor) -> Tensor:
        return F.pixel_shuffle(latents, 8)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> LeRobotDataset:
    root = tmp_path_factory.mktemp("eval_wm") / "data"
    with LeRobotWriter(root, fps=10, views=VIEWS, image_size=(SIZE, SIZE), action_dim=4, state_dim=5) as writer:
        for seed in range(EPISODES):
            writer.add_episode(make_episode(seed, length=LENGTH, size=SIZE, simulated=False))
    return LeRobotDataset(root)


@pytest.fixture(scope="module")
def autoencoder() -> Autoencoder:
    torch.manual_seed(0)
    config = dataclasses.replace(get_preset("tiny").autoencoder.model, image_size=SIZE)
    return Autoencoder(config).eval()


@pytest.fixture(scope="module")
def world_model(autoencoder: Autoencoder) -> WorldModel:
    return random_world_model(latent_size=autoencoder.config.latent_size, action_dim=4, instruction_dim=0)


@pytest.fixture(scope="module")
def normalizer(dataset: LeRobotDataset) -> Normalizer:
    return Normalizer(dataset.stats, features=(fmt.ACTION,))


def evaluate(
    world_model: WorldModel,
    autoencoder: Autoencoder,
    dataset: LeRobotDataset,
    normalizer: Normalizer,
    **overrides: Any,
) -> WorldModelReport:
    arguments: dict[str, Any] = dict(
        views=VIEWS,
        policies=POLICIES,
        normalizer=normalizer,
        context=CONTEXT,
        horizon=HORIZON,
        seeds=(0, 1),
        sampling_steps=1,
        batch_size=2,
    )
    episodes = overrides.pop("episodes", list(range(EPISODES)))
    return evaluate_world_model(world_model, autoencoder, dataset, episodes, **(arguments | overrides))


@pytest.fixture(scope="module")
def report_and_batches(
    world_model: WorldModel, autoencoder: Autoencoder, dataset: LeRobotDataset, normalizer: Normalizer
) -> tuple[WorldModelReport, Batches]:
    batches: Batches = []

    def record(key: str, seed: int, indices: list[int], generated: Tensor, target: Tensor) -> None:
        assert generated.shape == target.shape
        batches.append((key, seed, indices, tuple(generated.shape)))

    return evaluate(world_model, autoencoder, dataset, normalizer, on_rollout=record), batches


def real_frames(dataset: LeRobotDataset, index: int) -> Tensor:
    """Episode ``index``'s first context + horizon frames as (V, T, 3, H, W) in [-1, 1]."""
    frames = dataset.episode(index, VIEWS).frames[:, : CONTEXT + HORIZON]
    return torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0


def test_report_has_every_curve_per_horizon_view_and_episode(
    report_and_batches: tuple[WorldModelReport, Batches],
) -> None:
    report, _ = report_and_batches
    assert list(report.policies) == list(POLICIES) and report.metrics == ["psnr", "ssim", "lpips"]
    everything = [result.curves for result in report.policies.values()]
    everything += [report.baselines[COPY_LAST], report.baselines[MEAN_FRAME], report.autoencoder_ceiling]
    assert report.action_gap is not None
    everything += [report.action_gap.shuffled]
    for curves in everything:
        for metric in report.metrics:
            assert len(curves.mean[metric]) == len(curves.std[metric]) == HORIZON
            assert np.isfinite(curves.mean[metric]).all()
            assert all(len(curves.per_view[view][metric]) == HORIZON for view in VIEWS)
        assert sorted(curves.per_episode) == [str(i) for i in range(EPISODES)]
    for key, result in report.policies.items():
        assert len(result.frame_latency_s) == HORIZON and result.mean_frame_latency_s > 0
        assert result.peak_context_frames <= POLICIES[key].resolved(4).limit
    assert report.policies["swr-3"].window == 3 and report.best_swr() == "swr-3"
    assert max(report.policies["full"].curves.std["psnr"]) > 0  # two seeds, two different rollouts
    assert report.autoencoder_ceiling.mean["psnr"][0] < 100  # a random autoencoder is no identity
    json.loads(json.dumps(report.to_json()))
    table = report.markdown()
    assert "SWR window sweep" in table and "Action gap" in table and "AE ceiling" in table
    assert "| 4 |" in table and "| 8 |" not in table  # horizons (1, 2, 4, 8, ...) up to T = 5


def test_rollouts_are_batched(report_and_batches: tuple[WorldModelReport, Batches]) -> None:
    _, batches = report_and_batches
    assert len(batches) == len(POLICIES) * 2 * 2  # policies x seeds x 2 batches of 2 episodes
    assert {tuple(indices) for _, _, indices, _ in batches} == {(0, 1), (2, 3)}
    assert all(shape == (2, len(VIEWS), HORIZON, 3, SIZE, SIZE) for *_, shape in batches)


def test_baselines_score_what_they_say(
    report_and_batches: tuple[WorldModelReport, Batches], dataset: LeRobotDataset
) -> None:
    report, _ = report_and_batches
    real = real_frames(dataset, 1)
    target = real[:, CONTEXT:]
    for name, guess in ((COPY_LAST, real[:, CONTEXT - 1 : CONTEXT]), (MEAN_FRAME, real[:, :CONTEXT].mean(1, True))):
        guess = guess.expand_as(target)
        by_hand = {
            "psnr": psnr(guess, target, max_db=100.0),
            "ssim": ssim(guess, target),
            "lpips": lpips(guess, target),
        }
        for metric, values in by_hand.items():  # (V, T) -> mean over views
            np.testing.assert_allclose(
                report.baselines[name].per_episode["1"][metric], values.double().mean(0), rtol=1e-5, atol=1e-6
            )
        assert report.baselines[name].std["psnr"] == [0.0] * HORIZON


def test_action_gap_swaps_the_future_actions_of_another_episode(
    report_and_batches: tuple[WorldModelReport, Batches],
) -> None:
    report, _ = report_and_batches
    gap = report.action_gap
    assert gap is not None and gap.policy == "full"
    assert {int(e) for e in gap.action_sources} == set(range(EPISODES))
    assert all(int(episode) != source for episode, source in gap.action_sources.items())
    assert all(int(episode) // 2 == source // 2 for episode, source in gap.action_sources.items())  # same batch
    # A random action-conditioned model reacts to its actions; both rollouts share their noise.
    assert max(abs(value) for value in gap.gap_mean["psnr"]) > 0
    true, shuffled = report.policies["full"].curves.mean["psnr"], gap.shuffled.mean["psnr"]
    np.testing.assert_allclose(gap.gap_mean["psnr"], np.subtract(true, shuffled), atol=1e-9)


@pytest.mark.parametrize("size", range(2, 9))
def test_derangement_has_no_fixed_points(size: int) -> None:
    for seed in range(20):
        order = derangement(size, np.random.default_rng(seed))
        assert sorted(order) == list(range(size)) and all(order[i] != i for i in range(size))


def test_same_seed_gives_the_same_numbers(
    world_model: WorldModel, autoencoder: Autoencoder, dataset: LeRobotDataset, normalizer: Normalizer
) -> None:
    def run(seed: int) -> dict[str, Any]:
        report = evaluate(
            world_model, autoencoder, dataset, normalizer,
            episodes=[0, 1], policies={"swr-3": POLICIES["swr-3"]}, seeds=(seed,), horizon=2, metrics=("psnr",),
        )  # fmt: skip
        assert report.action_gap is not None
        return {"policy": report.policies["swr-3"].curves.mean, "gap": report.action_gap.gap_mean}

    first = run(7)
    assert run(7) == first
    assert run(8) != first


def test_guidance_scale_reaches_the_sampler(
    world_model: WorldModel, autoencoder: Autoencoder, dataset: LeRobotDataset, normalizer: Normalizer
) -> None:
    def run(**guidance: float) -> dict[str, Any]:
        report = evaluate(
            world_model, autoencoder, dataset, normalizer,
            episodes=[0, 1], policies={"swr-3": POLICIES["swr-3"]}, seeds=(0,), horizon=2, metrics=("psnr",),
            action_gap=False, **guidance,
        )  # fmt: skip
        return report.policies["swr-3"].curves.mean

    plain = run()
    assert run(guidance_scale=1.0) == plain
    assert run(guidance_scale=3.0) != plain


def test_exact_autoencoder_has_a_perfect_ceiling_and_no_actions_no_gap(dataset: LeRobotDataset) -> None:
    model = random_world_model(latent_channels=3 * 64, latent_size=SIZE // 8, action_dim=0, instruction_dim=0)
    report = evaluate_world_model(
        model,
        PixelUnshuffleAutoencoder(),
        dataset,
        [0, 1],
        views=VIEWS,
        policies={"fixed-2": FixedWindow(2)},
        context=CONTEXT,
        horizon=2,
        sampling_steps=1,
    )
    ceiling = report.autoencoder_ceiling.mean
    assert ceiling["psnr"] == [100.0, 100.0]
    np.testing.assert_allclose(ceiling["ssim"], 1.0, atol=1e-9)
    np.testing.assert_allclose(ceiling["lpips"], 0.0, atol=1e-6)
    assert report.action_gap is None and any("not conditioned on actions" in note for note in report.notes)


def test_too_short_episode_is_named(
    world_model: WorldModel, autoencoder: Autoencoder, dataset: LeRobotDataset, normalizer: Normalizer
) -> None:
    with pytest.raises(DatasetError, match=rf"episode 0 .* {LENGTH} frames.* needs {LENGTH + 1}"):
        evaluate(world_model, autoencoder, dataset, normalizer, horizon=LENGTH - CONTEXT + 1)
