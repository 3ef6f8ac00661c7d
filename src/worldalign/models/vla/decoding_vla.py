"""A completion's FAST ids as robot actions, with the defined fallback and the overlong rule.

Shared by closed-loop evaluation (``eval.vla``) and GRPO's format reward (``rewards.vla``): a
completion is *decodable* when its action tokens spell exactly one chunk (FAST, arXiv:2501.09747);
one that does not acts with the tokenizer's hold-still chunk (``FastActionTokenizer.decode_safe``),
flagged, never raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from worldalign.data import lerobot_format as fmt
from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.models.vla.processor_vla import Completion


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
    if not completion.action_tokens:
        chunk = tokenizer.hold_still
        return DecodedAction(robot_actions(chunk, tokenizer), True, "no action tokens in the completion")
    decoded = tokenizer.decode_safe(list(completion.action_tokens))
    if decoded.ok:
        return DecodedAction(robot_actions(decoded.actions, tokenizer), False)
    prefix = None if completion.ended else chunk_prefix(completion.action_tokens, tokenizer)
    if prefix is not None:
        return DecodedAction(robot_actions(tokenizer.decode(prefix), tokenizer), False, decoded.reason, overlong=True)
    return DecodedAction(robot_actions(decoded.actions, tokenizer), True, decoded.reason)


def robot_actions(chunk: np.ndarray, tokenizer: FastActionTokenizer) -> np.ndarray:
    """A normalised ``(H, A)`` chunk in the robot's units (the tokenizer's action statistics)."""
    return tokenizer.normalizer.unnormalize(fmt.ACTION, chunk.astype(np.float64)).astype(np.float32)
