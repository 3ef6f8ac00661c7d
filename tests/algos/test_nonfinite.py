"""A NaN or infinite loss, loss term or gradient stops every training loop with a TrainingError
naming the step and the term, before the update; nothing non-finite is ever saved, so the newest
checkpoint stays the last good state."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from align_setup import BrightnessReward, episode_pool, tiny_models
from moving_squares import write_dataset
from pretrain_data import SyntheticFrames
from torch import Tensor, nn

from worldalign.algos import diffusion_nft, pretrain
from worldalign.algos import idm as idm_module
from worldalign.algos.align import align
from worldalign.algos.conditions import RolloutStateConditions
from worldalign.algos.idm import train_idm
from worldalign.algos.training_run import optimizer_step
from worldalign.configs.align import AlignConfig
from worldalign.configs.idm import IDMTrainingConfig
from worldalign.configs.presets import get_preset
from worldalign.configs.pretrain import OptimizerConfig
from worldalign.errors import TrainingError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.checkpoint import load_model, write_checkpoint
from worldalign.models.idm import IDMConfig
from worldalign.rewards.compose import RewardComposer
from worldalign.runs.layout import ALIGN_LOG_FILE

BASE = get_preset("tiny").autoencoder
CONFIG = dataclasses.replace(BASE, run=dataclasses.replace(BASE.run, checkpoint_every=2, keep_checkpoints=2))


def nan_on_call(function: Any, bad_call: int) -> Any:
    """``function`` whose result's loss (the first element, or the result) is NaN on call
    ``bad_call`` (1-based)."""
    calls = {"count": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        result = function(*args, **kwargs)
        if calls["count"] != bad_call:
            return result
        if isinstance(result, tuple):
            return (result[0] * float("nan"), *result[1:])
        return result * float("nan")

    return wrapped


def test_a_nan_loss_stops_pretraining_and_the_last_good_checkpoint_stays_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pretrain, "autoencoder_loss", nan_on_call(pretrain.autoencoder_loss, bad_call=5))
    with pytest.raises(TrainingError, match=r"step 5 of 8: non-finite loss = nan; stopped before the update"):
        train_autoencoder_run(tmp_path)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_0000002", "step_0000004"]
    assert not (tmp_path / "model").exists()
    load_model(Autoencoder, tmp_path / "checkpoints" / "step_0000004")  # loads: finite weights


def train_autoencoder_run(out: Path) -> None:
    pretrain.train_autoencoder(CONFIG, SyntheticFrames(), out, progress=False)


def test_a_nan_loss_term_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = pretrain.autoencoder_loss

    def nan_l1(*args: Any, **kwargs: Any) -> tuple[Tensor, dict[str, float]]:
        loss, scalars = original(*args, **kwargs)
        return loss * float("nan"), {**scalars, "l1": float("nan")}

    monkeypatch.setattr(pretrain, "autoencoder_loss", nan_l1)
    with pytest.raises(TrainingError, match=r"step 1 of 8: non-finite l1 = nan, .*loss = nan"):
        train_autoencoder_run(tmp_path)
    assert not (tmp_path / "checkpoints").exists()


class InfiniteGradient(torch.autograd.Function):
    """Identity forward, infinite gradient backward: a finite loss whose gradient overflows."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad * float("inf")


def test_an_infinite_gradient_stops_the_step_before_the_weights_change() -> None:
    model = nn.Linear(3, 1)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    optimizer = torch.optim.AdamW(model.parameters())
    loss = InfiniteGradient.apply(model.weight).sum()
    with pytest.raises(TrainingError, match=r"step 3 of 10: non-finite gradient norm = (inf|nan)"):
        optimizer_step(model, optimizer, loss, 2, 10, OptimizerConfig(warmup_steps=1))
    assert all(torch.equal(model.state_dict()[name], value) for name, value in before.items())


def test_non_finite_weights_are_never_written(tmp_path: Path) -> None:
    model = Autoencoder(BASE.model)
    write_checkpoint(tmp_path / "ckpt", model)
    good = (tmp_path / "ckpt" / "model.safetensors").read_bytes()
    with torch.no_grad():
        next(model.parameters())[0] = float("nan")
    with pytest.raises(TrainingError, match=r"not writing .*ckpt: 1 tensor\(s\) of the model's weights .* hold NaN"):
        write_checkpoint(tmp_path / "ckpt", model)
    with pytest.raises(TrainingError, match="not writing"):
        write_checkpoint(tmp_path / "other", model)
    assert (tmp_path / "ckpt" / "model.safetensors").read_bytes() == good and not (tmp_path / "other").exists()


def test_a_nan_loss_stops_idm_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = write_dataset(tmp_path / "data")
    model = IDMConfig(
        views=("front",), past_frames=1, future_frames=1, image_size=16, channels=(8, 8), view_features=8, hidden=16
    )
    config = IDMTrainingConfig(model=model, steps=4, batch_size=2, checkpoint_every=2, held_out_fraction=0.3)
    monkeypatch.setattr(idm_module, "idm_loss", nan_on_call(idm_module.idm_loss, bad_call=3))
    with pytest.raises(TrainingError, match=r"step 3 of 4: non-finite loss = nan"):
        train_idm(dataset, tmp_path / "idm", config, progress=False, device="cpu")
    assert sorted(p.name for p in (tmp_path / "idm" / "checkpoints").iterdir()) == ["step_0000002"]
    assert not (tmp_path / "idm" / "model").exists()


def align_config() -> AlignConfig:
    return AlignConfig(
        iterations=3, conditions_per_iteration=2, group_size=2, sampling_steps=2, checkpoint_every=1, seed=0
    )


def align_run(out: Path, rewards: RewardComposer) -> None:
    model, autoencoder = tiny_models()
    conditions = RolloutStateConditions(episode_pool(), context_frames=2, max_prefix_chunks=1, max_continuation_chunks=1)
    align(align_config(), model, autoencoder, conditions, rewards, out, progress=False)


def test_a_nan_loss_stops_alignment_naming_the_term(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diffusion_nft, "nft_loss", nan_on_call(diffusion_nft.nft_loss, bad_call=2))
    rewards = RewardComposer({"brightness": 1.0}, [BrightnessReward()])
    with pytest.raises(TrainingError, match=r"iteration 2: non-finite NFT loss \(chunk \d\) = nan.*gradient norm = nan"):
        align_run(tmp_path, rewards)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_0000001"]
    lines = [json.loads(line) for line in (tmp_path / ALIGN_LOG_FILE).read_text().splitlines()]
    assert [line["iteration"] for line in lines] == [1]


class NaNReward:
    """A reward that is NaN for every sample (a broken reward model)."""

    name = "broken"

    def __call__(self, rollout: Any) -> dict[str, Tensor]:
        return {self.name: torch.full((rollout.batch_size,), float("nan"))}


def test_an_iteration_whose_every_reward_is_nan_stops_alignment(tmp_path: Path) -> None:
    rewards = RewardComposer({"broken": 1.0}, [NaNReward()])
    with pytest.raises(TrainingError, match=r"iteration 1: the reward of every candidate is NaN or infinite .*'broken': 4"):
        align_run(tmp_path, rewards)
    assert not (tmp_path / "checkpoints").exists()


def test_a_nan_logged_by_alignment_is_null_in_valid_json(tmp_path: Path) -> None:
    """A zero-weight reward is logged, not trained on: NaN for every sample, it leaves training
    alone and its log value is null, named under "nonfinite"."""
    rewards = RewardComposer({"brightness": 1.0, "broken": 0.0}, [BrightnessReward(), NaNReward()])
    align_run(tmp_path, rewards)

    def refuse(constant: str) -> None:
        raise ValueError(f"bare {constant} in log.jsonl")

    lines = [json.loads(line, parse_constant=refuse) for line in (tmp_path / ALIGN_LOG_FILE).read_text().splitlines()]
    assert [line["iteration"] for line in lines] == [1, 2, 3]
    for line in lines:
        assert line["reward/broken"] is None and "reward/broken" in line["nonfinite"]
        assert isinstance(line["reward/total"], float)
