"""The VLA policy on the ``tiny`` backbone: shapes, loss masking, flow-head overfitting,
checkpoint round trip, generation, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from worldalign.errors import ConfigError
from worldalign.models.checkpoint import write_checkpoint
from worldalign.models.vla import VLAConfig, VLAObservation, VLAPolicy, VLASample, load_vla_policy, new_vla_policy

AUTOENCODER = Path(__file__).resolve().parents[2] / "checkpoints" / "autoencoder-cpu"
CONFIG = VLAConfig(state_dim=4, action_vocab_size=64, horizon=4, flow_hidden=64, flow_layers=2, flow_steps=4)


@pytest.fixture(scope="module")
def policy() -> VLAPolicy:
    torch.manual_seed(0)
    return new_vla_policy(CONFIG, AUTOENCODER)


def _samples(count: int = 2, seed: int = 0) -> list[VLASample]:
    rng = np.random.default_rng(seed)
    return [
        VLASample(
            frames=rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8),
            instruction=["push the puck to the goal", "open the drawer"][i % 2],
            state=rng.normal(size=4).astype(np.float32),
            reasoning=f"phase: reach. puck: {i + 2} cm left.",
            fast_ids=[3, 7, 11 + i],
            actions=rng.normal(size=(4, 4)).astype(np.float32),
        )
        for i in range(count)
    ]


def test_shapes(policy: VLAPolicy) -> None:
    batch = policy.processor.collate(_samples())
    assert policy.vision(batch.frames).shape == (2, CONFIG.image_tokens, CONFIG.tiny_width)
    assert CONFIG.image_tokens == 48  # 3 views x (8 / 2) ** 2
    out = policy(batch)
    assert set(out) == {"loss", "token_loss", "flow_loss", "token_accuracy"}
    assert all(value.ndim == 0 and torch.isfinite(value) for value in out.values())
    observation = VLAObservation(batch.frames[0].numpy(), "open the drawer", np.zeros(4, np.float32))
    assert policy.act_with_flow_head(observation, num_samples=3).shape == (3, 4, 4)


def test_token_loss_only_on_target_positions(policy: VLAPolicy) -> None:
    batch = policy.processor.collate(_samples())
    mask = policy.loss_mask(batch)
    prefix = policy.prefix_visual_tokens + int(batch.prompt_lengths[0])
    assert not mask[:, : policy.prefix_visual_tokens].any() and not mask[0, :prefix].any() and mask[0, prefix]
    generator = torch.Generator().manual_seed(0)
    reference = policy(batch, generator)["token_loss"]
    instruction_labels = batch.labels.clone()
    instruction_labels[0, : int(batch.prompt_lengths[0])] = 5  # instruction positions
    changed = policy(replace(batch, labels=instruction_labels), torch.Generator().manual_seed(0))["token_loss"]
    assert torch.equal(reference, changed)
    # Equal to the cross-entropy over full-sequence logits at the masked positions.
    with torch.no_grad():
        visual = policy._visual_prefix(batch.frames, batch.state)
        embeddings = torch.cat([visual, policy.lm.get_input_embeddings()(batch.input_ids)], dim=1)
        attention = torch.cat([torch.ones(visual.shape[:2], dtype=torch.long), batch.attention_mask.long()], dim=1)
        logits = policy.lm(inputs_embeds=embeddings, attention_mask=attention).logits
    labels = torch.cat([torch.zeros(visual.shape[:2], dtype=torch.long), batch.labels], dim=1)
    full = torch.nn.functional.cross_entropy(logits[:, :-1][mask[:, 1:]], labels[:, 1:][mask[:, 1:]])
    assert torch.allclose(reference, full, atol=1e-5)
    target_labels = batch.labels.clone()
    target_labels[0, int(batch.prompt_lengths[0]) + 2] += 1  # a reasoning position
    assert not torch.equal(reference, policy(replace(batch, labels=target_labels))["token_loss"])


def test_flow_loss_decreases_when_overfitting_one_batch() -> None:
    torch.manual_seed(1)
    policy = VLAPolicy(CONFIG)
    batch = policy.processor.collate(_samples())
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=2e-3)

    def flow_loss() -> float:
        with torch.no_grad():
            losses = [float(policy(batch, torch.Generator().manual_seed(seed))["flow_loss"]) for seed in range(4)]
        return float(np.mean(losses))

    before = flow_loss()
    for _ in range(50):
        optimizer.zero_grad()
        policy(batch)["loss"].backward()
        optimizer.step()
    assert flow_loss() < 0.5 * before


def test_action_head_loss_equals_the_full_forward_flow_loss(policy: VLAPolicy) -> None:
    batch = policy.processor.collate(_samples(3))  # instructions of different lengths: right padding
    assert len(set(batch.prompt_lengths.tolist())) > 1
    with torch.no_grad():
        full = policy(batch, torch.Generator().manual_seed(7))["flow_loss"]
        prefix_only = policy.action_head_loss(batch, torch.Generator().manual_seed(7))
    assert torch.allclose(full, prefix_only, atol=1e-5)
    with pytest.raises(ConfigError, match="without action chunks"):
        policy.action_head_loss(replace(batch, actions=None))


def test_checkpoint_round_trip_gives_identical_outputs(policy: VLAPolicy, tmp_path: Path) -> None:
    write_checkpoint(tmp_path / "vla", policy)
    loaded = load_vla_policy(tmp_path / "vla")
    batch = policy.processor.collate(_samples())
    policy.eval()
    for key in ("loss", "token_loss", "flow_loss"):
        a = policy(batch, torch.Generator().manual_seed(3))[key]
        b = loaded(batch, torch.Generator().manual_seed(3))[key]
        assert torch.equal(a, b), key
    observation = VLAObservation(batch.frames[0], "push the puck", batch.state[0])
    assert torch.equal(policy.act_with_flow_head(observation, generator=torch.Generator().manual_seed(0)),
                       loaded.act_with_flow_head(observation, generator=torch.Generator().manual_seed(0)))
    assert policy.generate(observation, max_new_tokens=8) == loaded.generate(observation, max_new_tokens=8)


def test_generation_is_parsed_and_greedy_matches_a_full_forward(policy: VLAPolicy) -> None:
    sample = _samples(1)[0]
    observation = VLAObservation(sample.frames, sample.instruction, sample.state)
    completions = policy.generate(observation, max_new_tokens=6, temperature=1.0, num_samples=3,
                                  generator=torch.Generator().manual_seed(0))
    assert len(completions) == 3
    for completion in completions:
        assert isinstance(completion.text, str) and isinstance(completion.action_tokens, tuple)
        assert all(0 <= token < CONFIG.action_vocab_size for token in completion.action_tokens)
        assert not completion.well_formed  # an untrained model does not write the format
    # The cached greedy decoding equals argmax over full forward passes.
    with torch.no_grad():
        sequence = policy._prefix(observation, 1)
        expected = []
        for _ in range(4):
            token = policy.lm(inputs_embeds=sequence).logits[0, -1].argmax()
            expected.append(int(token))
            sequence = torch.cat([sequence, policy.lm.get_input_embeddings()(token[None, None])], dim=1)
    greedy = policy.generate(observation, max_new_tokens=4)[0]
    assert list(greedy.ids) == expected[: len(greedy.ids)] and len(greedy.ids) >= 1


def test_after_overfitting_one_sample_greedy_generation_writes_it_back_well_formed() -> None:
    torch.manual_seed(0)
    policy = VLAPolicy(CONFIG)
    sample = replace(_samples(1)[0], reasoning="phase: grasp.", fast_ids=[5, 9, 2])
    batch = policy.processor.collate([sample])
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(150):
        optimizer.zero_grad()
        out = policy(batch)
        out["loss"].backward()
        optimizer.step()
        if float(out["token_accuracy"]) == 1.0:
            break
    completion = policy.generate(VLAObservation(sample.frames, sample.instruction, sample.state), max_new_tokens=40)[0]
    assert completion.text == "<think> phase: grasp. </think>" and completion.action_tokens == (5, 9, 2)
    assert completion.ended and completion.well_formed
    assert list(completion.ids) == batch.input_ids[0, int(batch.prompt_lengths[0]) :].tolist()


def test_wrong_frames_name_the_expected_shape(policy: VLAPolicy) -> None:
    batch = policy.processor.collate(_samples())
    with pytest.raises(ConfigError, match=r"expected \(B, 3, 64, 64, 3\) uint8 for views"):
        policy(replace(batch, frames=batch.frames[:, :2]))
    with pytest.raises(ConfigError, match=r"expected \(B, 3, 64, 64, 3\)"):
        policy(replace(batch, frames=batch.frames[:, :, :32, :32]))


def test_wrong_action_chunk_is_a_clear_error(policy: VLAPolicy) -> None:
    samples = _samples()
    samples[1].actions = np.zeros((4, 7), np.float32)
    with pytest.raises(ConfigError, match=r"shape \(4, 7\); expected \(\.\.\., 4, 4\)"):
        policy.processor.collate(samples)
    batch = policy.processor.collate(_samples())
    with pytest.raises(ConfigError, match="batch.actions"):
        policy(replace(batch, actions=torch.zeros(2, 4, 3)))


def test_wrong_state_is_a_clear_error(policy: VLAPolicy) -> None:
    batch = policy.processor.collate(_samples())
    with pytest.raises(ConfigError, match=r"expected \(B, 4\)"):
        policy(replace(batch, state=torch.zeros(2, 3)))


VIT_CONFIG = replace(CONFIG, vision="vit", vit_width=32, vit_layers=1, vit_heads=2)


def test_vit_vision_reads_pixels_trains_with_the_policy_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    policy = new_vla_policy(VIT_CONFIG, None)  # no autoencoder to read
    assert not any("autoencoder" in name for name, _ in policy.named_parameters())
    batch = policy.processor.collate(_samples())
    assert VIT_CONFIG.image_tokens == 48  # 3 views x (64 / 16) ** 2, as many as the autoencoder's tokens
    assert policy.vision(batch.frames).shape == (2, 48, VIT_CONFIG.tiny_width)
    # Each view's tokens depend on its own pixels: changing one view's top-left patch moves the tokens.
    changed = batch.frames.clone()
    changed[:, 2, :16, :16] = 255 - changed[:, 2, :16, :16]
    assert not torch.equal(policy.vision(batch.frames), policy.vision(changed))
    policy(batch)["loss"].backward()
    for name in ("patch_embedding.weight", "position", "projection.weight"):
        gradient = dict(policy.vision.named_parameters())[name].grad
        assert gradient is not None and gradient.abs().sum() > 0, name
    write_checkpoint(tmp_path / "vit", policy)
    loaded = load_vla_policy(tmp_path / "vit")
    assert loaded.config.vision == "vit"
    policy.eval()
    assert torch.equal(policy.vision(batch.frames), loaded.vision(batch.frames))


def test_vision_choice_errors() -> None:
    with pytest.raises(ConfigError, match="VLAConfig.vision='clip'; expected one of autoencoder, vit"):
        VLAConfig(vision="clip")
    with pytest.raises(ConfigError, match="vit_patch=12 must divide the 64 px views"):
        VLAConfig(vision="vit", vit_patch=12)
    with pytest.raises(ConfigError, match="needs an autoencoder checkpoint folder"):
        new_vla_policy(CONFIG, None)


def test_lora_trains_adapters_only_in_the_backbone_and_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    full = new_vla_policy(CONFIG, AUTOENCODER)
    torch.manual_seed(0)
    lora = new_vla_policy(replace(CONFIG, lora_rank=4), AUTOENCODER)
    trainable = {name for name, p in lora.lm.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    assert {name for name, p in lora.named_parameters() if p.requires_grad and not name.startswith("lm.")} == {
        name for name, p in full.named_parameters() if p.requires_grad and not name.startswith("lm.")
    }  # vision projection, state token and flow head train as without LoRA
    batch = lora.processor.collate(_samples())
    # LoRA's B starts at zero: the wrapped backbone computes what the plain one does.
    lora.eval()
    with lora.lm.disable_adapter():
        plain = lora(batch, torch.Generator().manual_seed(1))["loss"]
    assert torch.allclose(plain, lora(batch, torch.Generator().manual_seed(1))["loss"], atol=1e-6)
    frozen = {name: p.detach().clone() for name, p in lora.lm.named_parameters() if not p.requires_grad}
    optimizer = torch.optim.Adam([p for p in lora.parameters() if p.requires_grad], lr=1e-2)
    lora.train()
    first = None
    for _ in range(20):
        optimizer.zero_grad()
        out = lora(batch, torch.Generator().manual_seed(1))
        first = float(out["token_loss"]) if first is None else first
        out["loss"].backward()
        optimizer.step()
    assert float(out["token_loss"]) < 0.95 * first
    adapters_b = [p for name, p in lora.lm.named_parameters() if "lora_B" in name]
    assert adapters_b and all(p.abs().sum() > 0 for p in adapters_b)  # every adapter left its zero start
    assert all(torch.equal(frozen[name], p) for name, p in lora.lm.named_parameters() if name in frozen)
    write_checkpoint(tmp_path / "lora", lora)
    loaded = load_vla_policy(tmp_path / "lora")
    lora.eval()
    assert torch.equal(lora(batch, torch.Generator().manual_seed(2))["loss"],
                       loaded(batch, torch.Generator().manual_seed(2))["loss"])
    with pytest.raises(ConfigError, match=r"has no layers named \['c_attn'\]"):
        VLAPolicy(replace(CONFIG, lora_rank=4, lora_targets=("c_attn",)))
