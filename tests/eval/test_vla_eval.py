"""Closed-loop VLA evaluation: malformed completions act with the counted fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vla_fixtures import vla_dataset_and_tokenizer

from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.models.vla import Completion, VLAConfig, VLAObservation, VLAPolicy, VLAProcessor
from worldalign.models.vla.decoding_vla import FastGrammar, decode_completion
from worldalign.models.vla.processor_vla import ByteTokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> FastActionTokenizer:
    return FastActionTokenizer.load(vla_dataset_and_tokenizer(tmp_path_factory.mktemp("vla-eval"))[1])


def _completion(action_tokens: tuple[int, ...]) -> Completion:
    return Completion(
        ids=(),
        text="<think> phase: reach. </think>",
        action_tokens=action_tokens,
        ended=True,
        trailing=0,
        well_formed=bool(action_tokens),
    )


def test_no_action_tokens_give_the_hold_still_fallback(tokenizer: FastActionTokenizer) -> None:
    decoded = decode_completion(_completion(()), tokenizer)
    assert decoded.fallback and "no action tokens" in decoded.reason
    np.testing.assert_allclose(decoded.actions, np.zeros((tokenizer.horizon, tokenizer.action_dim)), atol=1e-6)


def test_undecodable_action_tokens_give_the_fallback_and_good_ones_decode(tokenizer: FastActionTokenizer) -> None:
    truncated = decode_completion(_completion((tokenizer.encode(tokenizer.hold_still)[0],)), tokenizer)
    assert truncated.fallback and truncated.reason
    good = tokenizer.encode(tokenizer.hold_still * 0 + 0.5)
    decoded = decode_completion(_completion(tuple(good)), tokenizer)
    assert not decoded.fallback and decoded.actions.shape == (tokenizer.horizon, tokenizer.action_dim)


def test_a_completion_that_runs_on_is_decoded_from_its_first_full_chunk(tokenizer: FastActionTokenizer) -> None:
    chunk = tokenizer.hold_still * 0 + 0.5
    ids = tokenizer.encode(chunk)
    overlong = Completion(ids=(), text="", action_tokens=(*ids, *ids), ended=False, trailing=0, well_formed=False)
    decoded = decode_completion(overlong, tokenizer)
    assert decoded.overlong and not decoded.fallback
    np.testing.assert_allclose(decoded.actions, decode_completion(_completion(tuple(ids)), tokenizer).actions)
    ended = Completion(ids=(), text="", action_tokens=(*ids, *ids), ended=True, trailing=0, well_formed=True)
    assert decode_completion(ended, tokenizer).fallback  # it chose to stop there: not a chunk


def test_the_grammar_masks_what_cannot_make_one_chunk(tokenizer: FastActionTokenizer) -> None:
    processor = VLAProcessor(ByteTokenizer(tokenizer.vocab_size), tokenizer.vocab_size, tokenizer.horizon,
                             tokenizer.action_dim)
    grammar = FastGrammar(tokenizer, processor)
    eos, offset = processor.codec.eos_id, processor.action_offset
    chunk = processor.action_lm_ids(tokenizer.encode(tokenizer.hold_still))
    text = processor.codec.encode("<think> x </think>")
    before, partial, full = grammar.allowed([text, text + chunk[:1], text + chunk])
    assert not before[eos] and before[ord("a")] and before[offset:].any()
    assert not partial[eos] and not partial[:offset].any() and partial[offset:].any()
    assert full.tolist() == [i == eos for i in range(processor.codec.vocab_size)]
    left = tokenizer.horizon * tokenizer.action_dim - int(grammar.coefficients[chunk[0] - offset])
    assert (grammar.coefficients[partial[offset:]] <= left).all()


def test_constrained_sampling_always_writes_one_decodable_chunk(tokenizer: FastActionTokenizer) -> None:
    config = VLAConfig(horizon=tokenizer.horizon, action_vocab_size=tokenizer.vocab_size, flow_hidden=32,
                       flow_layers=1, flow_steps=2)
    torch.manual_seed(0)
    policy = VLAPolicy(config).eval()  # random weights: any ids are likely, only the grammar keeps the format
    observation = VLAObservation(np.zeros((3, 64, 64, 3), np.uint8), "reach the goal")
    grammar = FastGrammar(tokenizer, policy.processor)
    completions = policy.generate(observation, max_new_tokens=120, temperature=1.0, num_samples=6,
                                  generator=torch.Generator().manual_seed(0), allowed=grammar.allowed)
    finished = [c for c in completions if c.action_tokens]
    assert len(finished) >= 4
    for completion in finished:
        assert completion.ended and completion.trailing == 0
        decoded = decode_completion(completion, tokenizer)
        assert not decoded.fallback and not decoded.overlong
