"""The VLA stage after alignment (``algos.vla_action_head``): a new flow head trained on a
backbone, the backbone frozen or not, exact resume, and the CLI verb on a real SFT run."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from vla_fixtures import AUTOENCODER, vla_dataset_and_tokenizer

from worldalign.algos.vla_action_head import train_vla_action_head
from worldalign.algos.vla_sft import build_sft_samples, load_sft_tokenizer, train_vla_sft, vla_sft_config
from worldalign.cli.main import main
from worldalign.configs.pretrain import OptimizerConfig, RunConfig
from worldalign.configs.vla_head import VLAHeadConfig
from worldalign.configs.vla_sft import VLASFTConfig
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.models.checkpoint import MODEL_FILE
from worldalign.models.vla import VLAConfig, VLAPolicy, VLASample, load_vla_policy
from worldalign.runs.layout import CHECKPOINTS_DIR, run_tokenizer_folder

SMALL = VLAConfig(flow_hidden=64, flow_layers=2, flow_steps=4)


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[VLASample]]:
    """``(dataset folder, SFT run folder, its samples)``: 3 SFT steps of the tiny policy."""
    root = tmp_path_factory.mktemp("vla-head")
    dataset, fast = vla_dataset_and_tokenizer(root)
    data = LeRobotDataset(dataset)
    tokenizer = load_sft_tokenizer(fast, data)
    base = VLASFTConfig(model=SMALL, steps=3, batch_size=4, release_keep=1.0, run=RunConfig(log_every=1))
    config = vla_sft_config(base, data, tokenizer)
    samples = build_sft_samples(data, tokenizer, SMALL.views, 1.0, 0).samples
    train_vla_sft(config, samples, tokenizer, AUTOENCODER, root / "sft", progress=False)
    return dataset, root / "sft", samples


def _train(sft: Path, samples: list[VLASample], out: Path, steps: int, **options: object):
    config = VLAHeadConfig(steps=steps, batch_size=4, optimizer=OptimizerConfig(learning_rate=2e-3, warmup_steps=1),
                           release_keep=1.0, run=RunConfig(log_every=1, checkpoint_every=3), **options)
    tokenizer = load_sft_tokenizer(run_tokenizer_folder(sft), LeRobotDataset(sft.parent / "data"))
    return train_vla_action_head(config, sft / "model", samples, tokenizer, out, progress=False)


def _fresh_head(policy: VLAPolicy) -> torch.nn.Module:
    """The head a run of seed 0 starts from."""
    torch.manual_seed(0)
    return policy.new_flow_head()


def _flow_loss(policy: VLAPolicy, samples: list[VLASample]) -> float:
    """The flow loss on ``samples``, averaged over 8 fixed draws of times and noise."""
    batch = policy.processor.collate(samples)
    with torch.no_grad():
        return float(np.mean([float(policy.action_head_loss(batch, torch.Generator().manual_seed(seed)))
                              for seed in range(8)]))


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(model_dir / MODEL_FILE)


def test_the_new_head_learns_and_the_backbone_trains_with_it(
    sft_run: tuple[Path, Path, list[VLASample]], tmp_path: Path
) -> None:
    _, sft, samples = sft_run
    result = _train(sft, samples[:4], tmp_path, 40)
    start = load_vla_policy(sft / "model")
    start.flow_head = _fresh_head(start)
    assert _flow_loss(load_vla_policy(result.model_dir), samples[:4]) < 0.75 * _flow_loss(start, samples[:4])
    before, after = _weights(sft / "model"), _weights(result.model_dir)
    assert before.keys() == after.keys()
    lm, encoder = "lm.model.layers.0.mlp.up_proj.weight", "vision.autoencoder.encoder.stem.weight"
    assert not torch.equal(before[lm], after[lm]) and torch.equal(before[encoder], after[encoder])
    assert load_vla_policy(result.model_dir).config == load_vla_policy(sft / "model").config
    assert (tmp_path / "fast_tokenizer" / "fast_config.json").is_file()


def test_a_frozen_backbone_keeps_every_weight_but_the_new_head(
    sft_run: tuple[Path, Path, list[VLASample]], tmp_path: Path
) -> None:
    _, sft, samples = sft_run
    result = _train(sft, samples, tmp_path, 3, freeze_backbone=True)
    before, after = _weights(sft / "model"), _weights(result.model_dir)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(name.startswith("flow_head.") for name in changed)
    # A new head, not the SFT head trained on: seeded by run.seed, the same for every backbone.
    fresh = _fresh_head(load_vla_policy(sft / "model")).state_dict()
    first = _train(sft, samples, tmp_path / "one-step", 1, freeze_backbone=True)
    moved = max(float((_weights(first.model_dir)[f"flow_head.{k}"] - v).abs().max()) for k, v in fresh.items())
    assert moved < 1e-2 < max(float((before[f"flow_head.{k}"] - v).abs().max()) for k, v in fresh.items())


def test_resume_after_a_kill_gives_identical_weights(
    sft_run: tuple[Path, Path, list[VLASample]], tmp_path: Path
) -> None:
    _, sft, samples = sft_run
    straight = _train(sft, samples, tmp_path / "a", 6)
    _train(sft, samples, tmp_path / "b", 6)
    shutil.rmtree(tmp_path / "b" / CHECKPOINTS_DIR / "step_0000006")
    shutil.rmtree(tmp_path / "b" / "model")
    resumed = _train(sft, samples, tmp_path / "b", 6)
    assert resumed.resumed_from == 3 and resumed.losses == straight.losses[3:]
    a, b = _weights(straight.model_dir), _weights(resumed.model_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_cli_verb_writes_a_policy_that_acts_with_its_new_head(
    sft_run: tuple[Path, Path, list[VLASample]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset, sft, _ = sft_run
    out = tmp_path / "head"
    assert main(["vla", "train-head", str(sft), "--dataset", str(dataset), "--out", str(out), "--steps", "2",
                 "--batch-size", "4", "--freeze-backbone"]) == 0
    printed = capsys.readouterr().out
    assert "training the head only" in printed and "flow loss" in printed
    assert main(["vla", "eval", str(out), "--tasks", "reach-v3", "--seeds", "1", "--max-steps", "4",
                 "--execute-steps", "4", "--head", "flow", "--out", str(tmp_path / "eval")]) == 0
    assert (tmp_path / "eval" / "vla_eval.json").is_file()
