"""FAST action tokens: an action chunk <-> a short sequence of integer token ids.

FAST (Pertsch et al., "FAST: Efficient Action Tokenization for Vision-Language-Action Models",
arXiv 2501.09747) compresses a chunk of ``H`` normalised actions of ``A`` dimensions:

1. DCT-II (orthonormal) of every action dimension along time: smooth motions put their energy in
   the first few coefficients;
2. multiply by ``scale`` and round to integers (most high-frequency coefficients become 0);
3. flatten low frequency first: coefficient 0 of every dimension, then coefficient 1, ...;
4. byte-pair encoding (Hugging Face ``tokenizers``) of those integers, each written as one
   character (``chr(q + char_offset)``), merges frequent runs (the long tails of zeros) into
   single tokens.

Decoding inverts each step; it is exact up to the rounding of step 2. Rounding moves every DCT
coefficient by at most ``0.5 / scale``; the orthonormal DCT preserves Euclidean length, so per
action dimension the chunk's error has norm ``<= sqrt(H) * 0.5 / scale``: a root-mean-square
error over the ``H`` steps ``<= 0.5 / scale`` and a largest single error ``<= sqrt(H) * 0.5 /
scale`` (normalised units; times the dimension's ``std`` in the robot's units).

The coefficient alphabet is the range of integers met in the fitting chunks: a chunk of the same
dataset always fits, a coefficient outside the range (another dataset's larger motions) is
clipped to it when encoding, and the bound above then no longer holds for that chunk.

A tokenizer folder holds two plain files (no pickle): ``tokenizer.json`` (the BPE, Hugging Face's
format) and ``fast_config.json`` (horizon, action_dim, scale, vocabulary size, coefficient range,
``char_offset``, and the action statistics the chunks were normalised with, with their hash).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft
from tokenizers import Tokenizer, models, trainers

from worldalign.data import lerobot_format as fmt
from worldalign.data.stats import Normalizer
from worldalign.errors import CheckpointError, ConfigError, DatasetError, DecodeError
from worldalign.utils.atomic import atomic_write_bytes, atomic_write_json, make_folder

BPE_FILE = "tokenizer.json"
CONFIG_FILE = "fast_config.json"
FORMAT = "worldalign-fast-action-tokenizer"
FORMAT_VERSION = 1
DEFAULT_HORIZON = 8
DEFAULT_SCALE = 10.0
DEFAULT_VOCAB_SIZE = 1024
# Coefficient q is written as chr(q + char_offset), the smallest coefficient as this code point
# (past ASCII and its control codes). The BPE has no normalizer and no pre-tokenizer, so every
# character, whitespace included, is an ordinary symbol to it (round trip checked at scale 1000).
_FIRST_CHARACTER = 0x100
# Keeps the characters below the UTF-16 surrogates (0xD800), which are not characters.
_MAX_ALPHABET = 0xD000
_MIN_MERGE_FREQUENCY = 2  # a pair is merged only if it occurs at least twice in the fitting chunks


@dataclass(frozen=True)
class FastConfig:
    """What ``fast_config.json`` holds: everything needed to turn ids back into actions."""

    horizon: int
    action_dim: int
    scale: float
    vocab_size: int
    min_coefficient: int
    max_coefficient: int
    char_offset: int
    action_mean: list[float]
    action_std: list[float]
    action_stats_sha256: str
    fitted_chunks: int
    source_dataset: str | None


@dataclass(frozen=True)
class DecodedChunk:
    """What ``decode_safe`` returns: the chunk, or the fallback with the reason it was needed.

    Attributes:
        actions: ``(H, A)`` float32, normalised. When ``ok`` is False: the hold-still action
            (zero in the robot's units, normalised) at every step.
        ok: whether the ids decoded.
        reason: why they did not ("" when ``ok``).
    """

    actions: np.ndarray
    ok: bool
    reason: str


class FastActionTokenizer:
    """FAST action tokenizer (arXiv 2501.09747) of one dataset's normalised action chunks.

    Build one with ``fit`` (or ``load`` a saved folder); ``encode``/``encode_batch`` turn
    ``(H, A)`` / ``(B, H, A)`` normalised chunks into token ids, ``decode`` turns ids back into a
    chunk (``DecodeError`` on malformed ids), ``decode_safe`` never raises and flags a fallback.
    """

    def __init__(self, bpe: Tokenizer, config: FastConfig, *, source: str = "FAST tokenizer (not saved)") -> None:
        self.bpe = bpe
        self.config = config
        self.source = source
        self.normalizer = Normalizer(
            {fmt.ACTION: {"mean": np.asarray(config.action_mean), "std": np.asarray(config.action_std)}},
            features=(fmt.ACTION,),
            source=source,
        )

    @property
    def horizon(self) -> int:
        """H, actions per chunk."""
        return self.config.horizon

    @property
    def action_dim(self) -> int:
        """A, dimensions per action."""
        return self.config.action_dim

    @property
    def scale(self) -> float:
        """Multiplier of the DCT coefficients before rounding."""
        return self.config.scale

    @property
    def vocab_size(self) -> int:
        """Number of token ids (``0 .. vocab_size - 1``)."""
        return self.config.vocab_size

    @property
    def hold_still(self) -> np.ndarray:
        """``(H, A)`` float32: the action that is zero in the robot's units, normalised, at every
        step (``decode_safe``'s fallback: the robot stays where it is)."""
        still = self.normalizer.normalize(fmt.ACTION, np.zeros(self.action_dim, np.float64))
        return np.tile(still, (self.horizon, 1)).astype(np.float32)

    # -- fitting -------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        chunks: np.ndarray,
        normalizer: Normalizer,
        *,
        scale: float = DEFAULT_SCALE,
        vocab_size: int = DEFAULT_VOCAB_SIZE,
        source_dataset: str | None = None,
    ) -> FastActionTokenizer:
        """Train the BPE on ``chunks`` ``(N, H, A)``, normalised with ``normalizer``'s mean/std
        action statistics (recorded in the tokenizer, so that its tokens keep their meaning).

        ``vocab_size`` counts the coefficient alphabet (one token per integer met) plus the
        merges; training stops earlier when no pair occurs twice, so the tokenizer's
        ``vocab_size`` may be smaller than asked.
        """
        chunks = np.asarray(chunks, dtype=np.float64)
        if chunks.ndim != 3 or 0 in chunks.shape:
            raise ConfigError(f"FAST fit: chunks of shape {chunks.shape}; expected (N, H, A) with N, H, A >= 1")
        _check_finite(chunks, "FAST fit: chunks")
        if not (math.isfinite(scale) and scale > 0):
            raise ConfigError(f"FAST fit: scale={scale}; expected a positive number (e.g. {DEFAULT_SCALE:g})")
        mean, std = _action_stats(normalizer)
        if len(mean) != chunks.shape[2]:
            raise ConfigError(
                f"FAST fit: the chunks have {chunks.shape[2]} action dimensions, the statistics "
                f"{normalizer.source} have {len(mean)}; expected the same"
            )
        coefficients = np.rint(_dct(chunks) * scale).astype(np.int64)
        low, high = int(coefficients.min()), int(coefficients.max())
        alphabet = high - low + 1
        if alphabet > _MAX_ALPHABET:
            raise ConfigError(
                f"FAST fit: scale={scale:g} gives {alphabet} distinct coefficient values; expected at most "
                f"{_MAX_ALPHABET} (use a smaller scale)"
            )
        if vocab_size < alphabet:
            raise ConfigError(
                f"FAST fit: vocab_size={vocab_size} is below the {alphabet} coefficient values at scale {scale:g} "
                f"(integers {low}..{high}); expected vocab_size >= {alphabet} (or a smaller scale)"
            )
        char_offset = _FIRST_CHARACTER - low
        bpe = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=_MIN_MERGE_FREQUENCY,
            initial_alphabet=[chr(q + char_offset) for q in range(low, high + 1)],
            special_tokens=[],
            show_progress=False,
        )
        bpe.train_from_iterator(_to_strings(coefficients.reshape(len(chunks), -1), char_offset), trainer)
        config = FastConfig(
            horizon=chunks.shape[1],
            action_dim=chunks.shape[2],
            scale=float(scale),
            vocab_size=bpe.get_vocab_size(),
            min_coefficient=low,
            max_coefficient=high,
            char_offset=char_offset,
            action_mean=mean.tolist(),
            action_std=std.tolist(),
            action_stats_sha256=_stats_hash(mean, std),
            fitted_chunks=len(chunks),
            source_dataset=source_dataset,
        )
        return cls(bpe, config)

    # -- encoding ------------------------------------------------------------------------

    def quantize(self, chunks: np.ndarray) -> np.ndarray:
        """``(B, H, A)`` normalised chunks -> ``(B, H * A)`` int64 rounded, scaled DCT
        coefficients, low frequency first, clipped to the fitted range."""
        coefficients = self._rounded_coefficients(chunks)
        return np.clip(coefficients, self.config.min_coefficient, self.config.max_coefficient)

    def count_clipped(self, chunks: np.ndarray) -> int:
        """How many coefficients of ``(B, H, A)`` chunks fall outside the fitted range (``quantize``
        clips them; 0 for chunks of the fitting dataset)."""
        coefficients = self._rounded_coefficients(chunks)
        return int(((coefficients < self.config.min_coefficient) | (coefficients > self.config.max_coefficient)).sum())

    def _rounded_coefficients(self, chunks: np.ndarray) -> np.ndarray:
        chunks = self._check_chunks(chunks, batch=True)
        return np.rint(_dct(chunks) * self.scale).astype(np.int64).reshape(len(chunks), -1)

    def dequantize(self, coefficients: np.ndarray) -> np.ndarray:
        """``(B, H * A)`` integer coefficients -> ``(B, H, A)`` float32 normalised chunks."""
        coefficients = np.asarray(coefficients, dtype=np.float64).reshape(-1, self.horizon, self.action_dim)
        return _idct(coefficients / self.scale).astype(np.float32)

    def encode(self, chunk: np.ndarray) -> list[int]:
        """Token ids of one ``(H, A)`` normalised chunk."""
        chunk = self._check_chunks(chunk, batch=False)
        return self.encode_batch(chunk[None])[0]

    def encode_batch(self, chunks: np.ndarray) -> list[list[int]]:
        """Token ids of each ``(B, H, A)`` normalised chunk."""
        strings = _to_strings(self.quantize(chunks), self.config.char_offset)
        return [encoding.ids for encoding in self.bpe.encode_batch(strings)]

    # -- decoding ------------------------------------------------------------------------

    def decode_coefficients(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """``(H * A,)`` int64 coefficients of ``ids``; ``DecodeError`` naming what is wrong: not
        a flat sequence of integers, an id outside ``0 .. vocab_size - 1``, or a count of
        coefficients other than ``H * A`` (an empty or truncated sequence, or extra tokens)."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        if not isinstance(ids, (list, tuple)):
            raise DecodeError(f"FAST decode: ids of type {type(ids).__name__}; expected a sequence of integers")
        expected = self.horizon * self.action_dim
        if not ids:
            raise DecodeError(f"FAST decode: no token ids; expected the tokens of {expected} coefficients")
        pieces = []
        for position, token_id in enumerate(ids):
            token = None
            if isinstance(token_id, (int, np.integer)) and not isinstance(token_id, bool):
                token = self.bpe.id_to_token(int(token_id)) if 0 <= token_id < self.vocab_size else None
            if token is None:
                raise DecodeError(
                    f"FAST decode: id {token_id!r} at position {position} is not a token; "
                    f"expected integers 0..{self.vocab_size - 1} ({self.source})"
                )
            pieces.append(token)
        codes = np.frombuffer("".join(pieces).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        coefficients = codes - self.config.char_offset
        outside = (coefficients < self.config.min_coefficient) | (coefficients > self.config.max_coefficient)
        if outside.any():
            raise DecodeError(
                f"FAST decode: {int(outside.sum())} character(s) outside the coefficient alphabet "
                f"{self.config.min_coefficient}..{self.config.max_coefficient} ({self.source})"
            )
        if len(coefficients) != expected:
            raise DecodeError(
                f"FAST decode: {len(ids)} token(s) give {len(coefficients)} coefficients; expected {expected} "
                f"(horizon {self.horizon} x action_dim {self.action_dim})"
            )
        return coefficients

    def decode(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """``(H, A)`` float32 normalised chunk of ``ids``; ``DecodeError`` on malformed ids."""
        return self.dequantize(self.decode_coefficients(ids)[None])[0]

    def decode_safe(self, ids: Sequence[int] | np.ndarray) -> DecodedChunk:
        """``decode`` that never raises: malformed ids give ``ok=False``, the reason, and the
        hold-still chunk (``hold_still``) as a defined fallback."""
        try:
            return DecodedChunk(self.decode(ids), True, "")
        except DecodeError as error:
            return DecodedChunk(self.hold_still, False, str(error))

    # -- compatibility and files ---------------------------------------------------------

    def check_normalizer(self, normalizer: Normalizer) -> None:
        """A ``ConfigError`` unless ``normalizer`` (a dataset's action statistics) is the one
        this tokenizer was fitted with: same action dimension and the same statistics."""
        mean, std = _action_stats(normalizer)
        if len(mean) != self.action_dim:
            raise ConfigError(
                f"{self.source}: action_dim is {self.action_dim}, {normalizer.source} has {len(mean)} action "
                f"dimensions; expected a FAST tokenizer fitted on this dataset (worldalign vla tokenizer fit)"
            )
        found = _stats_hash(mean, std)
        if found != self.config.action_stats_sha256:
            raise ConfigError(
                f"{self.source}: action_stats_sha256 is {self.config.action_stats_sha256}, the action statistics of "
                f"{normalizer.source} hash to {found}; expected a FAST tokenizer fitted on this dataset "
                "(its tokens would mean other actions; worldalign vla tokenizer fit)"
            )

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``tokenizer.json`` and ``fast_config.json`` into ``folder`` (each atomically,
        the config last); return the folder."""
        folder = make_folder(folder)
        atomic_write_bytes(folder / BPE_FILE, self.bpe.to_str(pretty=True).encode())
        atomic_write_json(folder / CONFIG_FILE, {"format": FORMAT, "version": FORMAT_VERSION, **asdict(self.config)})
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, normalizer: Normalizer | None = None) -> FastActionTokenizer:
        """Read a folder written by ``save``; with ``normalizer`` (the dataset's action
        statistics), also check that the tokenizer was fitted on that dataset."""
        folder = Path(folder)
        config_path = folder / CONFIG_FILE
        if not config_path.is_file():
            raise ConfigError(
                f"{config_path} not found: {folder} is not a FAST tokenizer folder ({BPE_FILE} + {CONFIG_FILE}, "
                "written by `worldalign vla tokenizer fit`)"
            )
        config = _read_config(config_path)
        bpe_path = folder / BPE_FILE
        try:
            bpe = Tokenizer.from_file(str(bpe_path))
        except Exception as error:  # tokenizers raises plain Exception for missing and corrupt files
            raise CheckpointError(f"{bpe_path}: cannot read the BPE tokenizer (missing or corrupt): {error}") from None
        if bpe.get_vocab_size() != config.vocab_size:
            raise CheckpointError(
                f"{config_path}: vocab_size is {config.vocab_size}, {bpe_path} has {bpe.get_vocab_size()} tokens; "
                "expected the two files of one fit"
            )
        tokenizer = cls(bpe, config, source=str(config_path))
        if normalizer is not None:
            tokenizer.check_normalizer(normalizer)
        return tokenizer

    def _check_chunks(self, chunks: np.ndarray, *, batch: bool) -> np.ndarray:
        chunks = np.asarray(chunks, dtype=np.float64)
        expected = (self.horizon, self.action_dim)
        if chunks.ndim != 2 + batch or chunks.shape[batch:] != expected:
            wanted = f"(B, {expected[0]}, {expected[1]})" if batch else str(expected)
            raise ConfigError(
                f"FAST encode: a chunk of shape {chunks.shape}; expected {wanted} (horizon {expected[0]}, "
                f"action_dim {expected[1]} in {self.source})"
            )
        _check_finite(chunks, "FAST encode: chunk")
        return chunks


def _dct(chunks: np.ndarray) -> np.ndarray:
    """Orthonormal DCT-II along time (axis -2) of ``(..., H, A)``."""
    return scipy.fft.dct(chunks, type=2, norm="ortho", axis=-2)


def _idct(coefficients: np.ndarray) -> np.ndarray:
    """The inverse of ``_dct``."""
    return scipy.fft.idct(coefficients, type=2, norm="ortho", axis=-2)


def _to_strings(coefficients: np.ndarray, char_offset: int) -> list[str]:
    """``(B, N)`` integer coefficients -> B strings of N characters ``chr(q + char_offset)``."""
    codes = (coefficients + char_offset).astype("<u4")
    return [row.tobytes().decode("utf-32-le") for row in codes]


def _check_finite(values: np.ndarray, what: str) -> None:
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        raise DatasetError(
            f"{what}: {len(bad)} NaN or infinite value(s), the first at index {tuple(bad[0].tolist())}; "
            "expected finite normalised actions"
        )


def _action_stats(normalizer: Normalizer) -> tuple[np.ndarray, np.ndarray]:
    """The mean and std action statistics of ``normalizer``; ``ConfigError`` unless it
    normalises actions by mean and std (FAST's scale assumes unit-variance actions)."""
    if normalizer.mode != "mean_std" or fmt.ACTION not in normalizer.stats:
        raise ConfigError(
            f"{normalizer.source}: a {normalizer.mode} normalizer of {list(normalizer.features)}; "
            f"expected mean_std statistics of {fmt.ACTION!r}"
        )
    stats = normalizer.stats[fmt.ACTION]
    return stats["mean"], stats["std"]


def _stats_hash(mean: np.ndarray, std: np.ndarray) -> str:
    """SHA-256 of the float64 little-endian bytes of mean then std."""
    payload = np.concatenate([mean, std]).astype("<f8").tobytes()
    return hashlib.sha256(payload).hexdigest()


_CONFIG_TYPES: dict[str, Any] = {
    "horizon": int,
    "action_dim": int,
    "scale": (int, float),
    "vocab_size": int,
    "min_coefficient": int,
    "max_coefficient": int,
    "char_offset": int,
    "action_mean": list,
    "action_std": list,
    "action_stats_sha256": str,
    "fitted_chunks": int,
    "source_dataset": (str, type(None)),
}


def _read_config(path: Path) -> FastConfig:
    """``fast_config.json`` as a ``FastConfig``; ``CheckpointError`` naming the field at fault."""
    try:
        stored = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON (truncated or corrupt): {error}") from None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        found = stored.get("format") if isinstance(stored, dict) else type(stored).__name__
        raise CheckpointError(f"{path}: 'format' is {found!r}; expected {FORMAT!r}")
    if stored.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: 'version' is {stored.get('version')!r}; expected {FORMAT_VERSION}")
    for name, kind in _CONFIG_TYPES.items():
        value = stored.get(name)
        if name not in stored or not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(f"{path}: field {name!r} is {value!r:.80}; expected {_kind_name(kind)}")
    config = FastConfig(**{name: stored[name] for name in _CONFIG_TYPES})
    if config.horizon < 1 or config.action_dim < 1 or not 0 < config.scale < math.inf or config.vocab_size < 1:
        raise CheckpointError(
            f"{path}: horizon {config.horizon}, action_dim {config.action_dim}, scale {config.scale}, vocab_size "
            f"{config.vocab_size}; expected each positive (and a finite scale)"
        )
    for name in ("action_mean", "action_std"):
        values = getattr(config, name)
        if len(values) != config.action_dim or not all(isinstance(v, (int, float)) for v in values):
            raise CheckpointError(f"{path}: field {name!r} must be {config.action_dim} numbers (action_dim)")
    found = _stats_hash(np.asarray(config.action_mean, np.float64), np.asarray(config.action_std, np.float64))
    if found != config.action_stats_sha256:
        raise CheckpointError(
            f"{path}: action_stats_sha256 is {config.action_stats_sha256}, the stored action_mean/action_std "
            f"hash to {found}; expected them to agree (the file was edited or corrupted)"
        )
    return config


def _kind_name(kind: Any) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
