"""The alignment loop: a real learning signal for both algorithms, exact resume, and the sampling
of conditions (rollout states and prompts) it trains on."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from align_setup import brightness_rewards, episode_pool, tiny_models

from worldalign.algos.align import align
from worldalign.algos.conditions import PromptConditions, RolloutStateConditions
from worldalign.configs.align import AlignConfig, FlowGRPOConfig
from worldalign.data.types import Rollout
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import load_model
from worldalign.models.world_model import WorldModel
from worldalign.runs.layout import ALIGN_LOG_FILE, FINAL_MODEL_DIR
from worldalign.sampling.context_policies import FullHistory
from worldalign.sampling.rollout import rollout
from worldalign.sampling.samplers import EulerODESampler, FlowSDESampler
from worldalign.stages.align import _anchor_clips


def mean_brightness(model: WorldModel, autoencoder: torch.nn.Module) -> float:
    """Mean pixel of ODE rollouts from fixed starts with fixed noise."""
    pool = episode_pool()
    starts = torch.stack([pool.frames(e, 0, 2) for e in range(4)])
    actions = torch.stack([pool.actions(e, 0, 5, normalized=True) for e in range(4)])
    with torch.no_grad():
        result = rollout(
            model.eval(),
            autoencoder,
            autoencoder.encode(starts),
            4,
            FullHistory(),
            sampler=EulerODESampler(steps=4),
            actions=actions,
            generator=torch.Generator().manual_seed(123),
        )
    return float(result.frames.mean())


def conditions() -> RolloutStateConditions:
    return RolloutStateConditions(episode_pool(), context_frames=2, max_prefix_chunks=1, max_continuation_chunks=2)


def config(**changes: object) -> AlignConfig:
    options = {
        "iterations": 6,
        "conditions_per_iteration": 2,
        "group_size": 4,
        "sampling_steps": 4,
        "learning_rate": 3e-3,
        "warmup_iterations": 1,
        "checkpoint_every": 2,
        "seed": 0,
    }
    return AlignConfig(**(options | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["grpo", "nft"])
def test_a_brightness_reward_makes_rollouts_brighter(algorithm: str, tmp_path: Path) -> None:
    model, autoencoder = tiny_models()
    before = mean_brightness(model, autoencoder)
    # GRPO's score-function gradient is noisier than NFT's regression: a larger step, KL off.
    cfg = config(algorithm=algorithm, learning_rate=3e-2 if algorithm == "grpo" else 3e-3, relabel_every=3)
    if algorithm == "grpo":
        cfg = dataclasses.replace(cfg, grpo=FlowGRPOConfig(kl_coef=0.0))
    relabelled: list[int] = []

    def relabel(candidates: Rollout) -> dict[str, float]:  # what the judge's JudgeRelabelHook receives
        relabelled.append(candidates.batch_size)
        return {"calls": float(len(relabelled))}

    result = align(cfg, model, autoencoder, conditions(), brightness_rewards(), tmp_path, relabel=relabel, progress=False)
    assert relabelled == [8, 8] and result.history[5]["relabel/calls"] == 2.0  # after updates 3 and 6
    after = mean_brightness(model, autoencoder)
    assert result.iteration == 6 and len(result.history) == 6
    assert after > before + 0.02, f"{algorithm}: mean brightness {before:.4f} -> {after:.4f}"
    saved = load_model(WorldModel, tmp_path / FINAL_MODEL_DIR)
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), model.state_dict().values(), strict=True))
    lines = [json.loads(line) for line in (tmp_path / ALIGN_LOG_FILE).read_text().splitlines()]
    assert [line["iteration"] for line in lines if line["kind"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert all("reward/brightness" in line and "time/iteration_s" in line for line in lines if line["kind"] == "train")
    # Brightness is the only reward, with weight 1: its spread within groups is the total's, and > 0.
    train = [line for line in lines if line["kind"] == "train"]
    spreads = [(line["reward/brightness/group_std"], line["reward/total/group_std"]) for line in train]
    assert all(term == pytest.approx(total) and total > 0 for term, total in spreads)
    assert all(line["sync/weight_checksum_spread"] == 0.0 for line in lines if "sync/weight_checksum_spread" in line)


def test_resume_after_a_stop_continues_exactly(tmp_path: Path) -> None:
    model, autoencoder = tiny_models()
    straight = align(config(iterations=4), model, autoencoder, conditions(), brightness_rewards(), tmp_path / "a", progress=False)
    first, _ = tiny_models()
    align(config(iterations=2), first, autoencoder, conditions(), brightness_rewards(), tmp_path / "b", progress=False)
    second, _ = tiny_models()  # a fresh process: pretrained weights, then the checkpoint
    resumed = align(config(iterations=4), second, autoencoder, conditions(), brightness_rewards(), tmp_path / "b", progress=False)
    assert resumed.resumed_from == 2 and resumed.iteration == 4
    for a, b in zip(model.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    rewards = [r["reward/total"] for r in straight.history[2:]]
    assert rewards == [r["reward/total"] for r in resumed.history]
    lines = (tmp_path / "b" / ALIGN_LOG_FILE).read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == [1, 2, 3, 4]


def test_an_evaluation_cut_off_by_a_kill_is_redone_once_on_resume(tmp_path: Path) -> None:
    """A kill during the evaluation after checkpoint 2 leaves no line for it; a restart from
    scratch after a kill during the first evaluation leaves one. Either way each evaluation is
    in the log once, with the value the weights give."""
    _, autoencoder = tiny_models()
    calls: list[int] = []

    def evaluate(model: WorldModel, iteration: int) -> dict[str, float]:
        calls.append(iteration)
        return {"checksum": float(sum(float(p.detach().sum()) for p in model.parameters()))}

    def run(out: Path, iterations: int) -> list[tuple[str, int]]:
        model, _ = tiny_models()
        cfg = config(iterations=iterations, eval_every=2)
        align(cfg, model, autoencoder, conditions(), brightness_rewards(), out, evaluate=evaluate, progress=False)
        lines = [json.loads(line) for line in (out / ALIGN_LOG_FILE).read_text().splitlines()]
        return [(line["kind"], line["iteration"]) for line in lines]

    straight = run(tmp_path / "straight", 4)
    values = [json.loads(line) for line in (tmp_path / "straight" / ALIGN_LOG_FILE).read_text().splitlines()]
    assert straight == [("eval", 0), ("train", 1), ("train", 2), ("eval", 2), ("train", 3), ("train", 4), ("eval", 4)]

    killed = tmp_path / "killed"
    run(killed, 2)  # then cut the evaluation after checkpoint 2 off, as a kill during it would
    log = killed / ALIGN_LOG_FILE
    records = [json.loads(line) for line in log.read_text().splitlines()]
    log.write_text("".join(json.dumps(r) + "\n" for r in records if (r["kind"], r["iteration"]) != ("eval", 2)))
    calls.clear()
    assert run(killed, 4) == straight and calls == [2, 4]
    resumed = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line.get("checksum") for line in resumed] == [line.get("checksum") for line in values]

    restarted = tmp_path / "restarted"
    restarted.mkdir()
    (restarted / ALIGN_LOG_FILE).write_text(json.dumps({"iteration": 0, "kind": "eval", "checksum": 0.0}) + "\n")
    assert run(restarted, 4) == straight, "the cut-off run's first evaluation is not kept beside the new one"


def test_rollout_state_candidates_share_a_state_and_follow_the_real_actions() -> None:
    model, autoencoder = tiny_models()
    producer = conditions()
    batch = producer.sample(model.eval(), autoencoder, 3, 4, FlowSDESampler(steps=3), torch.Generator().manual_seed(1))
    candidates = batch.rollout
    assert candidates.batch_size == 12 and batch.group_size == 4 and len(batch.episodes) == 3
    horizon = candidates.frames.shape[2]
    assert horizon in (2, 4) and len(batch.chunks) == horizon // 2
    first = batch.chunks[0]
    assert first.trajectory is not None and first.latents.shape[0] == 12
    # The K candidates of a state see the same context and actions, and differ by their noise.
    assert torch.equal(first.context[0], first.context[3]) and not torch.equal(first.latents[0], first.latents[1])
    assert candidates.reference is not None and torch.equal(candidates.reference[0], candidates.reference[3])
    pool = producer.pool
    for s, (episode, start) in enumerate(zip(batch.episodes, batch.start_frames, strict=True)):
        real = pool.frames(episode, start, horizon)
        assert torch.allclose(candidates.reference[4 * s], real)
        expected = pool.actions(episode, start - 1, horizon, normalized=False)
        assert torch.equal(candidates.actions[4 * s], expected)


def test_bf16_candidates_stay_close_to_float32_ones() -> None:
    model, autoencoder = tiny_models()
    producer = conditions()

    def candidates(bf16: bool) -> torch.Tensor:
        generator = torch.Generator().manual_seed(3)
        batch = producer.sample(model.eval(), autoencoder, 2, 2, EulerODESampler(steps=3), generator, bf16=bf16)
        return torch.cat([chunk.latents for chunk in batch.chunks], dim=2)

    full, half = candidates(False), candidates(True)
    assert full.shape == half.shape and not torch.equal(full, half)  # the same draws, another precision
    assert float((full - half).abs().max()) < 0.05 * float(full.abs().max())


def test_a_bf16_nft_run_updates_float32_weights(tmp_path: Path) -> None:
    model, autoencoder = tiny_models()
    before = [p.detach().clone() for p in model.parameters()]
    result = align(config(algorithm="nft", bf16=True, iterations=2), model, autoencoder, conditions(),
                   brightness_rewards(), tmp_path, progress=False)
    assert result.iteration == 2 and all(torch.isfinite(torch.tensor(r["train/loss"])) for r in result.history)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_prompt_candidates_carry_instruction_reference_and_start() -> None:
    model, autoencoder = tiny_models()
    producer = PromptConditions(episode_pool(), context_frames=2, horizon=4)
    batch = producer.sample(model.eval(), autoencoder, 2, 3, EulerODESampler(steps=2), torch.Generator().manual_seed(0))
    assert batch.rollout.frames.shape[:3] == (6, 1, 4)
    assert batch.rollout.instructions == ["reach the goal"] * 6 and batch.rollout.actions is None
    assert batch.chunks[0].actions is None and batch.chunks[0].trajectory is None


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match="algorithm"):
        AlignConfig(algorithm="ppo")
    with pytest.raises(ConfigError, match="group_size"):
        AlignConfig(group_size=1)
    with pytest.raises(ConfigError, match="bf16"):
        AlignConfig(algorithm="grpo", bf16=True)
    with pytest.raises(ConfigError, match="max_continuation_chunks"):
        RolloutStateConditions(episode_pool(), max_continuation_chunks=0)


@pytest.mark.parametrize("algorithm", ["nft", "grpo"])
def test_two_processes_through_accelerate_stay_in_sync(algorithm: str, tmp_path: Path) -> None:
    here = Path(__file__).parent
    script = here / "two_process_align.py"
    launcher = Path(sys.executable).parent / "accelerate"
    # --multi_gpu selects Accelerate's torchrun launcher; without GPUs each process's Accelerator
    # runs on the CPU with the gloo backend (``--cpu`` would start a single process).
    command = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               str(script), str(tmp_path), algorithm]
    paths = [str(here), str(here.parent), os.environ.get("PYTHONPATH", "")]  # align_setup, moving_squares
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank_{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["processes"] == ranks[1]["processes"] == 2
    assert ranks[0]["weights"] == ranks[1]["weights"]  # bit-identical after 3 updates
    assert ranks[0]["drawn"] != ranks[1]["drawn"]  # each process trained on its own conditions
    pretrained, _ = tiny_models()
    assert ranks[0]["checksum"] != sum(float(p.detach().double().sum()) for p in pretrained.parameters())
    log = [json.loads(line) for line in (tmp_path / ALIGN_LOG_FILE).read_text().splitlines()]
    assert [line["iteration"] for line in log] == [1, 2, 3]  # the main process alone writes the log
    assert all(line["sync/weight_checksum_spread"] == 0.0 for line in log)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_learning_rate_warms_up_linearly() -> None:
    config = AlignConfig(learning_rate=1e-5, warmup_iterations=5)
    assert [config.learning_rate_at(i) for i in (0, 1, 4, 9)] == pytest.approx([2e-6, 4e-6, 1e-5, 1e-5])


def test_the_default_learning_rate_is_the_algorithms() -> None:
    assert AlignConfig(algorithm="grpo").peak_learning_rate == pytest.approx(3e-5)
    assert AlignConfig(algorithm="nft").peak_learning_rate == pytest.approx(1e-5)
    assert AlignConfig(algorithm="grpo", learning_rate=3e-5).peak_learning_rate == pytest.approx(3e-5)


def test_the_relabel_anchor_is_real_clips_as_long_as_the_candidates() -> None:
    pool = episode_pool(count=4)
    anchor = _anchor_clips(pool, length=5, count=3)
    assert anchor.frames.shape[:3] == (3, 1, 5) and anchor.views == pool.views
    middle = (pool.episodes[0].length - 5) // 2
    torch.testing.assert_close(anchor.reference[0], anchor.frames[0])  # real frames, not generated
    assert anchor.actions is not None and torch.equal(
        anchor.actions[0], torch.from_numpy(pool.episodes[0].actions[middle - 1 : middle + 4]).float()
    )
    with pytest.raises(ConfigError, match="longer than"):
        _anchor_clips(pool, length=pool.episodes[0].length)
