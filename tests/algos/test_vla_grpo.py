"""VLA GRPO (RoboAlign's RL stage): the loss, the rewards, the pool budget, the loop and its resume."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from vla_fixtures import AUTOENCODER, vla_dataset_and_tokenizer

from worldalign.algos.advantages import group_advantages
from worldalign.algos.vla_grpo import (
    build_grpo_pool,
    grpo_pool,
    grpo_token_loss,
    read_sft_settings,
    train_vla_grpo,
)
from worldalign.algos.vla_sft import build_sft_samples, load_sft_tokenizer, train_vla_sft, vla_sft_config
from worldalign.configs.pretrain import OptimizerConfig, RunConfig
from worldalign.configs.vla_grpo import VLAGRPOConfig
from worldalign.configs.vla_sft import VLASFTConfig
from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import MODEL_FILE
from worldalign.models.vla import Completion, VLAConfig, load_vla_policy
from worldalign.rewards.compose import RewardComposer
from worldalign.rewards.vla import CompletionGroup, vla_rewards
from worldalign.runs.layout import CHECKPOINTS_DIR

SMALL = VLAConfig(flow_hidden=64, flow_layers=2, flow_steps=4)


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[LeRobotDataset, FastActionTokenizer, Path]:
    """The fixture dataset, its tokenizer and a 120-step SFT run on it (it then writes reasoning and
    action tokens often enough for the rewards to differ within a group)."""
    root = tmp_path_factory.mktemp("vla-grpo")
    dataset, fast = vla_dataset_and_tokenizer(root)
    data = LeRobotDataset(dataset)
    tokenizer = load_sft_tokenizer(fast, data)
    base = VLASFTConfig(model=SMALL, steps=120, batch_size=4, release_keep=1.0,
                        optimizer=OptimizerConfig(learning_rate=2e-3, warmup_steps=2), run=RunConfig(log_every=1))
    config = vla_sft_config(base, data, tokenizer)
    samples = build_sft_samples(data, tokenizer, SMALL.views, 1.0, 0).samples
    result = train_vla_sft(config, samples, tokenizer, AUTOENCODER, root / "sft", progress=False)
    return data, tokenizer, result.model_dir


def _config(updates: int, **changes: object) -> VLAGRPOConfig:
    values: dict[str, object] = dict(
        updates=updates, observations_per_update=2, group_size=4, minibatches=2, max_new_tokens=200, pool_fraction=1.0,
        optimizer=OptimizerConfig(learning_rate=1e-3, weight_decay=0.0, warmup_steps=0, min_lr_ratio=1.0),
        run=RunConfig(log_every=1, checkpoint_every=2),
    )
    values.update(changes)
    return VLAGRPOConfig(**values)  # type: ignore[arg-type]


def _completion(text: str, actions: tuple[int, ...], ended: bool, trailing: int = 0) -> Completion:
    well_formed = text.startswith("<think>") and text.endswith("</think>") and bool(actions) and ended and not trailing
    return Completion(ids=(1,), text=text, action_tokens=actions, ended=ended, trailing=trailing,
                      well_formed=well_formed)


# -- the loss -------------------------------------------------------------------------------


def test_on_policy_gradient_is_the_advantage_over_each_completions_tokens() -> None:
    log_probs = torch.tensor([[-1.0, -2.0, 0.0], [-0.5, -0.5, -0.5]], requires_grad=True)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    advantages = torch.tensor([1.0, -2.0])
    loss, stats = grpo_token_loss(log_probs, log_probs.detach(), None, mask, advantages, 0.2, 0.0)
    loss.backward()
    # d loss / d logp = -A_b / (tokens of b) / B on target tokens, 0 elsewhere (ratio 1, no clip).
    expected = torch.tensor([[-1 / 2 / 2, -1 / 2 / 2, 0.0], [2 / 3 / 2, 2 / 3 / 2, 2 / 3 / 2]])
    torch.testing.assert_close(log_probs.grad, expected)
    assert float(stats["ratio"]) == pytest.approx(1.0) and float(stats["clip_fraction"]) == 0.0
    # Dr. GRPO: every completion's tokens divided by the same constant, whatever its length.
    log_probs.grad = None
    loss, _ = grpo_token_loss(log_probs, log_probs.detach(), None, mask, advantages, 0.2, 0.0, normalizer=10)
    loss.backward()
    torch.testing.assert_close(log_probs.grad, torch.tensor([[-1 / 10 / 2, -1 / 10 / 2, 0.0], [2 / 10 / 2] * 3]))


def test_the_clip_stops_the_gradient_of_a_ratio_already_past_it() -> None:
    old = torch.zeros(1, 2)
    log_probs = torch.tensor([[0.5, 0.05]], requires_grad=True)  # ratios e^0.5 = 1.65 (clipped), 1.05
    loss, stats = grpo_token_loss(log_probs, old, None, torch.ones(1, 2, dtype=torch.bool), torch.ones(1), 0.2, 0.0)
    loss.backward()
    assert log_probs.grad[0, 0] == 0 and log_probs.grad[0, 1] < 0
    assert float(stats["clip_fraction"]) == pytest.approx(0.5)


def test_the_kl_estimate_is_zero_at_the_reference_and_positive_away_from_it() -> None:
    mask = torch.ones(1, 3, dtype=torch.bool)
    same = torch.tensor([[-1.0, -2.0, -3.0]])
    _, at_reference = grpo_token_loss(same, same, same, mask, torch.zeros(1), 0.2, 0.1)
    _, away = grpo_token_loss(same + 0.3, same + 0.3, same, mask, torch.zeros(1), 0.2, 0.1)
    assert float(at_reference["kl"]) == 0.0 and float(away["kl"]) > 0


def test_updates_raise_the_probability_of_the_rewarded_completion_and_lower_the_others(
    sft_run: tuple[LeRobotDataset, FastActionTokenizer, Path],
) -> None:
    data, tokenizer, model = sft_run
    policy = load_vla_policy(model)
    sample = build_sft_samples(data, tokenizer, SMALL.views, 1.0, 0).samples[3]
    # Three different completions (sampling from a trained policy can repeat one exactly).
    vocabulary = policy.processor.codec.vocab_size
    completions = torch.randint(0, vocabulary, (3, 12), generator=torch.Generator().manual_seed(1)).tolist()
    batch = policy.processor.collate_generated([sample] * 3, completions)
    advantages = group_advantages(torch.tensor([1.0, 0.0, 0.0]), group_size=3)
    old = policy.token_log_probs(batch)[0].detach()
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-4)
    for _ in range(5):
        log_probs, mask = policy.token_log_probs(batch)
        loss, _ = grpo_token_loss(log_probs, old, None, mask, advantages, 0.2, 0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    change = (policy.token_log_probs(batch)[0].detach() - old).sum(dim=1)
    assert change[0] > 0 and change[1] < 0 and change[2] < 0


# -- the rewards ----------------------------------------------------------------------------


def test_action_accuracy_is_the_matching_prefix_over_the_experts_length(tokenizer_only: FastActionTokenizer) -> None:
    completions = [_completion("<think> x </think>", (5, 6, 7), True), _completion("", (5, 9, 7, 8), True),
                   _completion("", (), False)]
    group = CompletionGroup(completions, [(5, 6, 7, 8)] * 3)
    weights = {"action_accuracy": 1.0, "format": 0.0}
    out = RewardComposer(weights, vla_rewards(tokenizer_only, list(weights)))(group)
    torch.testing.assert_close(out.terms["action_accuracy"], torch.tensor([0.75, 0.25, 0.0]))
    torch.testing.assert_close(out.terms["action_accuracy/exact"], torch.zeros(3))


def test_format_counts_its_checks_in_order_so_ending_at_once_earns_nothing(tokenizer_only: FastActionTokenizer) -> None:
    chunk = tuple(tokenizer_only.encode(tokenizer_only.hold_still))
    completions = [
        _completion("<think> phase: reach. </think>", chunk, True),  # well formed, decodes
        _completion("<think> phase: reach. </think>", chunk, False),  # never ended
        _completion("<think> phase: reach. </think>", chunk[:1], True),  # too few coefficients
        _completion("", (), True),  # the end token at once
        _completion("<think> phase: reach. </think>", chunk, True, trailing=2),  # text after the actions
    ]
    group = CompletionGroup(completions, [chunk] * 5)
    ordered, strict = vla_rewards(tokenizer_only, ["format", "format_strict"])
    out = ordered(group)
    torch.testing.assert_close(out["format"], torch.tensor([1.0, 2 / 3, 1 / 3, 0.0, 2 / 3]))
    torch.testing.assert_close(out["format/ended"], torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0]))
    # format_strict: nothing without a decodable chunk (the rule), the same checks otherwise.
    torch.testing.assert_close(strict(group)["format_strict"], torch.tensor([1.0, 2 / 3, 0.0, 0.0, 2 / 3]))


def test_action_distance_is_one_at_the_experts_chunk_lower_away_from_it_and_zero_undecoded(
    tokenizer_only: FastActionTokenizer,
) -> None:
    expert_chunk = np.linspace(-1.0, 1.0, tokenizer_only.horizon * tokenizer_only.action_dim, dtype=np.float32)
    expert_chunk = expert_chunk.reshape(tokenizer_only.horizon, tokenizer_only.action_dim)
    expert = tuple(tokenizer_only.encode(expert_chunk))
    near = tuple(tokenizer_only.encode(expert_chunk + 0.3))
    far = tuple(tokenizer_only.encode(-expert_chunk))
    completions = [_completion("", ids, True) for ids in (expert, near, far)] + [_completion("", expert[:1], True)]
    (reward,) = vla_rewards(tokenizer_only, ["action_distance"])
    out = reward(CompletionGroup(completions, [expert] * 4))
    values = out["action_distance"]
    assert float(values[0]) == pytest.approx(1.0)
    assert 1.0 > float(values[1]) > float(values[2]) > 0.0  # dense: nearer chunks score higher
    # A chunk 0.3 off in every normalised coordinate: exp(-0.09), up to FAST's rounding.
    assert float(values[1]) == pytest.approx(np.exp(-0.09), abs=0.02)
    assert float(values[3]) == 0.0  # too few coefficients: no chunk, no reward
    torch.testing.assert_close(out["action_distance/decoded"], torch.tensor([1.0, 1.0, 1.0, 0.0]))


def test_a_group_of_mismatched_lengths_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="2 completions for 1 expert"):
        CompletionGroup([_completion("", (), True)] * 2, [(1,)])


@pytest.fixture(scope="module")
def tokenizer_only(sft_run: tuple[LeRobotDataset, FastActionTokenizer, Path]) -> FastActionTokenizer:
    return sft_run[1]


# -- the pool -------------------------------------------------------------------------------


def test_the_pool_holds_at_most_the_fraction_of_the_sft_samples(
    sft_run: tuple[LeRobotDataset, FastActionTokenizer, Path],
) -> None:
    data, tokenizer, model = sft_run
    samples = build_sft_samples(data, tokenizer, SMALL.views, 1.0, 0).samples
    pool = grpo_pool(samples, 120, _config(1, pool_fraction=0.2), seed=0)
    assert len(pool.samples) == int(0.2 * len(samples)) and pool.sft_samples == len(samples)
    assert "% of the SFT run's" in pool.describe(_config(1))
    with pytest.raises(ConfigError, match="fewer than observations_per_update=2"):
        grpo_pool(samples, 120, _config(1, pool_fraction=0.01), seed=0)
    settings = read_sft_settings(model.parent)
    assert settings.sample_visits == 120 * 4 and settings.release_keep == 1.0


def test_a_run_folder_without_an_sft_config_is_named(tmp_path: Path) -> None:
    (tmp_path / "train_config.json").write_text(json.dumps({"steps": 3}))
    with pytest.raises(ConfigError, match="train_config.json"):
        read_sft_settings(tmp_path)


# -- the loop -------------------------------------------------------------------------------


def test_the_loop_logs_every_reward_term_and_resumes_exactly(
    sft_run: tuple[LeRobotDataset, FastActionTokenizer, Path], tmp_path: Path
) -> None:
    data, _, model = sft_run
    config = _config(4)
    pool, tokenizer = build_grpo_pool(model, data, config, seed=0)
    straight = train_vla_grpo(config, model, pool, tokenizer, tmp_path / "a", progress=False)
    assert straight.step == 8 and len(straight.rounds) == 4
    assert {"reward/action_accuracy", "reward/format", "reward/format/ended", "reward/total"} <= set(
        straight.rounds[0]
    )
    assert FastActionTokenizer.load(tmp_path / "a" / "fast_tokenizer").config == tokenizer.config
    train_vla_grpo(config, model, pool, tokenizer, tmp_path / "b", progress=False)
    # A kill after round 2's checkpoint (optimizer step 4).
    shutil.rmtree(tmp_path / "b" / CHECKPOINTS_DIR / "step_0000008")
    shutil.rmtree(tmp_path / "b" / "model")
    resumed = train_vla_grpo(config, model, pool, tokenizer, tmp_path / "b", progress=False)
    def measured(rounds: list[dict[str, float]]) -> list[dict[str, float]]:
        return [{k: v for k, v in r.items() if not k.endswith("/seconds")} for r in rounds]

    assert resumed.resumed_from == 4 and measured(resumed.rounds) == measured(straight.rounds[2:])
    from safetensors.torch import load_file

    a, b = load_file(straight.model_dir / MODEL_FILE), load_file(resumed.model_dir / MODEL_FILE)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    sft = load_file(model / MODEL_FILE)
    flow = [k for k in a if k.startswith("flow_head.")]
    assert flow and all(torch.equal(a[k], sft[k]) for k in flow)  # GRPO does not train the flow head
    assert any(not torch.equal(a[k], sft[k]) for k in a if k.startswith("lm."))
    assert np.isfinite(straight.losses).all()


def test_constrained_rounds_sample_only_decodable_chunks(
    sft_run: tuple[LeRobotDataset, FastActionTokenizer, Path], tmp_path: Path
) -> None:
    data, _, model = sft_run
    weights = {"action_distance": 1.0, "format": 1.0}
    free, constrained = (_config(2, reward_weights=weights, constrained=c) for c in (False, True))
    pool, tokenizer = build_grpo_pool(model, data, free, seed=0)
    runs = {c.constrained: train_vla_grpo(c, model, pool, tokenizer, tmp_path / str(c.constrained), progress=False)
            for c in (free, constrained)}
    # Every sampled completion that writes action tokens spells one chunk under the grammar.
    decodable = [r["reward/action_distance/decoded"] for r in runs[True].rounds]
    action_tokens = [r["completion/action_tokens"] for r in runs[True].rounds]
    assert all(a > 0 for a in action_tokens) and all(d == 1.0 for d in decodable)
    assert min(r["reward/action_distance/decoded"] for r in runs[False].rounds) < 1.0
    assert np.isfinite(runs[True].losses).all()


def test_a_tokenizer_of_another_shape_is_refused(
    sft_run: tuple[LeRobotDataset, FastActionTokenizer, Path], tmp_path: Path
) -> None:
    data, tokenizer, model = sft_run
    from worldalign.stages.vla_tokenizer import fit_action_tokenizer

    other = fit_action_tokenizer(data, tmp_path / "fast8", horizon=8, vocab_size=64).tokenizer
    pool, _ = build_grpo_pool(model, data, _config(1), seed=0)
    with pytest.raises(ConfigError, match="pass the tokenizer of its SFT run"):
        train_vla_grpo(_config(1), model, pool, other, tmp_path / "run", progress=False)


def test_instructions_of_different_lengths_split_into_minibatches(
    sft_run: tuple[LeRobotDataset, FastActionTokenizer, Path], tmp_path: Path
) -> None:
    data, _, model = sft_run
    config = _config(1, group_size=2, minibatches=2)
    pool, tokenizer = build_grpo_pool(model, data, config, seed=0)
    # One observation per minibatch, their prompts (and so their logit windows) of different lengths.
    pool.samples = [dataclasses.replace(pool.samples[0], instruction="reach"),
                    dataclasses.replace(pool.samples[1], instruction="reach the goal with the gripper, slowly")]
    result = train_vla_grpo(config, model, pool, tokenizer, tmp_path, progress=False)
    assert result.step == 2 and np.isfinite(result.losses).all()
