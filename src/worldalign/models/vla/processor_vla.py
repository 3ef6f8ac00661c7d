"""Text side of the VLA: tokenizers, the FAST-id mapping, training batches and completion parsing.

Sequence of one sample (RoboAlign; pi0-FAST, arXiv:2501.09747)::

    [image tokens][state token][instruction] <think> reasoning </think> [FAST action ids] <eos>
    '------------ prefix (no loss) ---------''------------- targets (cross-entropy) ---------'

FAST ids ``0 .. action_vocab_size - 1`` are the *last* ``action_vocab_size`` ids of the LM's
vocabulary (pi0-FAST's choice): no embedding is added, SmolLM2 gives up 1024 of its rarest BPE
tokens, and one rule serves every backbone. Text never encodes into that range on the byte
tokenizer; on a BPE tokenizer a rare word can: SmolLM2 encodes "grab" as id 48862 (FAST id 734),
which 4 of the 108 instruction paraphrases contain, so those prompts share that embedding with an
action token (prompts are never parsed); none of 2000 measured reasoning texts does. Generated
text that did would be read as action tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from worldalign.errors import ConfigError

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


class TextCodec(Protocol):
    """What the policy needs of a tokenizer."""

    vocab_size: int
    eos_id: int
    pad_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes as ids 0..255, then ``<pad>`` and ``<eos>``, then the FAST range.

    The ``tiny`` backbone's tokenizer: no file to ship or load (tests take seconds), nothing to
    train, every string encodable. The cost is length: a 140-character reasoning text is 140
    tokens (54 with SmolLM2's BPE), affordable for a 2-layer, 96-wide model.
    """

    def __init__(self, action_vocab_size: int) -> None:
        self.pad_id = 256
        self.eos_id = 257
        self.vocab_size = 258 + action_vocab_size

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


class HFTextCodec:
    """A Hugging Face tokenizer as a ``TextCodec`` (no BOS added; ``eos`` is the tokenizer's)."""

    def __init__(self, tokenizer: object, vocab_size: int, where: str) -> None:
        eos = getattr(tokenizer, "eos_token_id", None)
        if eos is None:
            raise ConfigError(f"{where}: the tokenizer has no end-of-sequence token")
        self._tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.eos_id = int(eos)
        pad = getattr(tokenizer, "pad_token_id", None)
        self.pad_id = int(pad) if pad is not None else self.eos_id

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer(text, add_special_tokens=False)["input_ids"])  # type: ignore[operator]

    def decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=True)  # type: ignore[attr-defined]

    def save(self, folder: Path) -> None:
        """Write the tokenizer's files into ``folder`` (``AutoTokenizer.from_pretrained`` reads them)."""
        self._tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]


@dataclass
class VLASample:
    """One training example (numpy, as read from a dataset).

    Attributes:
        frames: ``(V, H, W, 3)`` uint8, the views at the step.
        instruction: the task instruction.
        state: ``(S,)`` proprioception, or None.
        reasoning: the text inside ``<think> … </think>`` (``data.reasoning_text``), or None.
        fast_ids: FAST token ids of the chunk, each in ``[0, action_vocab_size)``, or None.
        actions: ``(H, A)`` normalised action chunk for the flow head, or None.
    """

    frames: np.ndarray
    instruction: str
    state: np.ndarray | None = None
    reasoning: str | None = None
    fast_ids: Sequence[int] | None = None
    actions: np.ndarray | None = None


@dataclass
class VLABatch:
    """A padded batch in model layout.

    Attributes:
        frames: ``(B, V, H, W, 3)`` uint8.
        state: ``(B, S)`` float32 or None.
        input_ids: ``(B, L)`` int64, instruction then targets, right-padded.
        labels: ``(B, L)`` int64, the ids each position is trained to be (the inputs themselves).
        target_mask: ``(B, L)`` bool, the positions that are trained: reasoning, FAST ids, eos.
        attention_mask: ``(B, L)`` bool, False on padding.
        prompt_lengths: ``(B,)`` int64, instruction tokens of each sample.
        actions: ``(B, H, A)`` float32 normalised chunk, or None.
    """

    frames: Tensor
    state: Tensor | None
    input_ids: Tensor
    labels: Tensor
    target_mask: Tensor
    attention_mask: Tensor
    prompt_lengths: Tensor
    actions: Tensor | None

    def _map(self, change: Callable[[Tensor], Tensor]) -> VLABatch:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return VLABatch(**{name: None if value is None else change(value) for name, value in fields.items()})

    def to(self, device: torch.device | str) -> VLABatch:
        """The batch on ``device``."""
        return self._map(lambda tensor: tensor.to(device))

    def rows(self, rows: Sequence[int]) -> VLABatch:
        """The samples ``rows`` of the batch (padding kept as is)."""
        index = torch.as_tensor(list(rows), dtype=torch.long)
        return self._map(lambda tensor: tensor[index.to(tensor.device)])


@dataclass(frozen=True)
class Completion:
    """A generated continuation, parsed.

    Attributes:
        ids: the generated LM ids, up to and including the end token (what GRPO scores the
            log-probability of).
        text: the decoded text before the first action id.
        action_tokens: the FAST ids (not LM ids) of the run of action ids after the text.
        ended: whether the end token closed the completion.
        trailing: ids between the run of action ids and the end (or the last id): text written
            after the actions.
        well_formed: text is ``<think> … </think>``, at least one action token follows, then the
            end token and nothing else (the format GRPO rewards).
    """

    ids: tuple[int, ...]
    text: str
    action_tokens: tuple[int, ...]
    ended: bool
    trailing: int
    well_formed: bool


class VLAProcessor:
    """Turns samples into ``VLABatch``es and generated ids into ``Completion``s."""

    def __init__(self, codec: TextCodec, action_vocab_size: int, horizon: int, action_dim: int) -> None:
        if action_vocab_size >= codec.vocab_size:
            raise ConfigError(
                f"action_vocab_size={action_vocab_size} does not fit in the LM's vocabulary of {codec.vocab_size}"
            )
        self.codec = codec
        self.action_vocab_size = action_vocab_size
        self.action_offset = codec.vocab_size - action_vocab_size
        self.horizon = horizon
        self.action_dim = action_dim

    def action_lm_ids(self, fast_ids: Sequence[int]) -> list[int]:
        """FAST ids → LM ids; a ``ConfigError`` for an id outside ``[0, action_vocab_size)``."""
        bad = [i for i in fast_ids if not 0 <= int(i) < self.action_vocab_size]
        if bad:
            raise ConfigError(f"FAST ids {bad[:5]} outside [0, {self.action_vocab_size}) (VLAConfig.action_vocab_size)")
        return [self.action_offset + int(i) for i in fast_ids]

    def prompt_ids(self, instruction: str) -> list[int]:
        return self.codec.encode(instruction.strip() + "\n")

    def target_ids(self, reasoning: str | None, fast_ids: Sequence[int] | None) -> list[int]:
        """``<think> reasoning </think>`` (when given), the FAST ids as LM ids, the end token."""
        text = self.codec.encode(f"{THINK_OPEN} {reasoning} {THINK_CLOSE}") if reasoning is not None else []
        return text + self.action_lm_ids(fast_ids or ()) + [self.codec.eos_id]

    def check_chunk(self, actions: np.ndarray | Tensor, where: str = "action chunk") -> None:
        """A ``ConfigError`` unless the trailing shape is ``(horizon, action_dim)``."""
        expected = (self.horizon, self.action_dim)
        if tuple(actions.shape[-2:]) != expected:
            raise ConfigError(
                f"{where} has shape {tuple(actions.shape)}; expected (..., {expected[0]}, {expected[1]}) "
                f"(VLAConfig.horizon={expected[0]}, action_dim={expected[1]})"
            )

    def collate(self, samples: Sequence[VLASample]) -> VLABatch:
        """Pad ``samples`` into one batch (targets right after each instruction)."""
        return self._pad(samples, [self.target_ids(s.reasoning, s.fast_ids) for s in samples])

    def collate_generated(self, samples: Sequence[VLASample], generated: Sequence[Sequence[int]]) -> VLABatch:
        """Pad observations ``samples`` with the LM ids each one generated (``Completion.ids``) as
        targets: the batch whose ``VLAPolicy.token_log_probs`` GRPO trains on."""
        if len(samples) != len(generated):
            raise ConfigError(f"{len(samples)} observations for {len(generated)} completions; expected one each")
        empty = [row for row, ids in enumerate(generated) if not ids]
        if empty:
            raise ConfigError(f"completions {empty} are empty; a generated completion has at least one token")
        return self._pad(samples, [list(map(int, ids)) for ids in generated])

    def _pad(self, samples: Sequence[VLASample], targets: Sequence[list[int]]) -> VLABatch:
        prompts = [self.prompt_ids(s.instruction) for s in samples]
        length = max(len(p) + len(t) for p, t in zip(prompts, targets))
        ids = torch.full((len(samples), length), self.codec.pad_id, dtype=torch.long)
        target_mask = torch.zeros((len(samples), length), dtype=torch.bool)
        attention = torch.zeros((len(samples), length), dtype=torch.bool)
        for row, (prompt, target) in enumerate(zip(prompts, targets)):
            ids[row, : len(prompt) + len(target)] = torch.tensor(prompt + target)
            target_mask[row, len(prompt) : len(prompt) + len(target)] = True
            attention[row, : len(prompt) + len(target)] = True
        has_actions = [s.actions is not None for s in samples]
        if any(has_actions) and not all(has_actions):
            raise ConfigError("a batch mixes samples with and without an action chunk")
        actions = None
        if all(has_actions):
            for s in samples:
                self.check_chunk(s.actions)  # type: ignore[arg-type]
            actions = torch.as_tensor(np.stack([s.actions for s in samples]), dtype=torch.float32)  # type: ignore[misc]
        states = [s.state for s in samples]
        state = torch.as_tensor(np.stack(states), dtype=torch.float32) if all(x is not None for x in states) else None
        return VLABatch(
            frames=torch.as_tensor(np.stack([s.frames for s in samples])),
            state=state,
            input_ids=ids,
            labels=ids.clone(),
            target_mask=target_mask,
            attention_mask=attention,
            prompt_lengths=torch.tensor([len(p) for p in prompts]),
            actions=actions,
        )

    def parse(self, ids: Sequence[int]) -> Completion:
        """Split generated LM ids into text, FAST ids and the end token, and judge the format."""
        ids = [int(i) for i in ids]
        ended = self.codec.eos_id in ids
        body = ids[: ids.index(self.codec.eos_id)] if ended else ids
        first_action = next((k for k, i in enumerate(body) if i >= self.action_offset), len(body))
        text = self.codec.decode(body[:first_action])
        actions: list[int] = []
        for i in body[first_action:]:
            if i < self.action_offset:
                break
            actions.append(i - self.action_offset)
        trailing = len(body) - first_action - len(actions)
        stripped = text.strip()
        well_formed = (
            stripped.startswith(THINK_OPEN) and stripped.endswith(THINK_CLOSE) and bool(actions) and ended
            and trailing == 0
        )
        kept = body + [self.codec.eos_id] if ended else body
        return Completion(
            ids=tuple(kept), text=text, action_tokens=tuple(actions), ended=ended, trailing=trailing,
            well_formed=well_formed,
        )
