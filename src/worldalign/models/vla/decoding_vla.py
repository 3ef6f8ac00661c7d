"""A completion's FAST ids as robot actions, with the defined fallback and the overlong rule, and
the grammar that makes every generated chunk decodable (``FastGrammar``).

Shared by closed-loop evaluation (``eval.vla``) and GRPO's format reward (``rewards.vla``): a
completion is *decodable* when its action tokens spell exactly one chunk (FAST, arXiv:2501.09747);
one that does not acts with the tokenizer's hold-still chunk (``FastActionTokenizer.decode_safe``),
flagged, never raised.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from worldalign.data import lerobot_format as fmt
from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.errors import ConfigError
from worldalign.models.vla.processor_vla import Completion, VLAProcessor


def check_tokenizer_fits(tokenizer: FastActionTokenizer, processor: VLAProcessor) -> None:
    """A ``ConfigError`` naming the tokenizer's file unless its horizon, action dimension and
    vocabulary are the policy's (``VLAPolicy.processor``)."""
    mine = (tokenizer.horizon, tokenizer.action_dim, tokenizer.vocab_size)
    expected = (processor.horizon, processor.action_dim, processor.action_vocab_size)
    if mine != expected:
        raise ConfigError(
            f"{tokenizer.source}: horizon, action_dim, vocabulary {mine}; the policy expects {expected}: "
            "pass the tokenizer of its SFT run"
        )


@dataclass
class DecodedAction:
    """The robot-unit ``(H, A)`` chunk of a completion, or the fallback and why.

    ``overlong``: the completion ran on past a full chunk without ending and its first action
    tokens that make exactly one chunk were decoded (``chunk_prefix``)."""

    actions: np.ndarray
    fallback: bool
    reason: str = ""
    overlong: bool = False


def chunk_prefix(action_tokens: Sequence[int], tokenizer: FastActionTokenizer) -> list[int] | None:
    """The shortest prefix of ``action_tokens`` whose tokens spell exactly ``H * A`` coefficients
    (each FAST token is one or more coefficients), or None when no prefix does."""
    needed, count = tokenizer.horizon * tokenizer.action_dim, 0
    for position, token_id in enumerate(action_tokens):
        token = tokenizer.bpe.id_to_token(int(token_id)) if 0 <= int(token_id) < tokenizer.vocab_size else None
        if token is None:
            return None
        count += len(token)
        if count >= needed:
            return list(action_tokens[: position + 1]) if count == needed else None
    return None


def decode_completion(completion: Completion, tokenizer: FastActionTokenizer) -> DecodedAction:
    """The completion's FAST ids as robot actions; no ids, or ids that do not decode, give the
    tokenizer's hold-still chunk with ``fallback=True`` and the reason (never an exception).

    A completion that did not end (it hit the token limit) and whose action tokens run past one
    chunk is decoded from its first full chunk (``chunk_prefix``) and flagged ``overlong``: the
    policy wrote the chunk and failed to stop, which the end token's loss had not yet taught it.
    """
    normalised = decode_normalised(completion, tokenizer)
    return dataclasses.replace(normalised, actions=robot_actions(normalised.actions, tokenizer))


def decode_normalised(completion: Completion, tokenizer: FastActionTokenizer) -> DecodedAction:
    """``decode_completion`` in the tokenizer's normalised units (zero mean, unit std per action
    dimension over the dataset it was fitted on)."""
    if not completion.action_tokens:
        return DecodedAction(tokenizer.hold_still, True, "no action tokens in the completion")
    decoded = tokenizer.decode_safe(list(completion.action_tokens))
    if decoded.ok:
        return DecodedAction(decoded.actions, False)
    prefix = None if completion.ended else chunk_prefix(completion.action_tokens, tokenizer)
    if prefix is not None:
        return DecodedAction(tokenizer.decode(prefix), False, decoded.reason, overlong=True)
    return DecodedAction(decoded.actions, True, decoded.reason)


def robot_actions(chunk: np.ndarray, tokenizer: FastActionTokenizer) -> np.ndarray:
    """A normalised ``(H, A)`` chunk in the robot's units (the tokenizer's action statistics)."""
    return tokenizer.normalizer.unnormalize(fmt.ACTION, chunk.astype(np.float64)).astype(np.float32)


class FastGrammar:
    """Constrained decoding of a chunk of FAST tokens (``VLAPolicy.generate(allowed=...)``).

    FAST's byte-pair tokens each spell one or more DCT coefficients, and a chunk is exactly
    ``H x A`` of them; a policy that writes the right number of tokens but the wrong number of
    coefficients acts with the fallback (measured on the tiny SFT policy: 596 of 600 chunks,
    docs/vla.md). As structured generation does for JSON, the grammar masks what cannot lead to a
    decodable chunk: before the first action token, the end token (text and action tokens that
    fit are free); after it, any text, the end token, and every action token spelling more
    coefficients than are left; once the count is reached, everything but the end token. The
    reasoning text is not constrained.
    """

    def __init__(self, tokenizer: FastActionTokenizer, processor: VLAProcessor) -> None:
        check_tokenizer_fits(tokenizer, processor)
        self.needed = tokenizer.horizon * tokenizer.action_dim
        self.offset = processor.action_offset
        self.eos = processor.codec.eos_id
        self.vocab = processor.codec.vocab_size
        spelled = [len(tokenizer.bpe.id_to_token(i) or "") for i in range(tokenizer.vocab_size)]
        self.coefficients = torch.tensor(spelled)
        """Coefficients each FAST id spells (0: an id the byte-pair encoding lacks, never allowed)."""

    def allowed(self, rows: Sequence[Sequence[int]]) -> Tensor:
        """``(len(rows), vocab)`` bool: the LM ids each row may write next."""
        mask = torch.ones(len(rows), self.vocab, dtype=torch.bool)
        for row, ids in enumerate(rows):
            if self.eos in ids:
                continue  # finished: what follows is discarded
            actions = [i - self.offset for i in ids if i >= self.offset]
            left = self.needed - int(self.coefficients[actions].sum()) if actions else self.needed
            fits = (self.coefficients >= 1) & (self.coefficients <= left)
            if actions:
                mask[row, : self.offset] = False  # no text after the actions
            mask[row, self.eos] = bool(actions) and left == 0
            mask[row, self.offset :] = fits
        return mask
