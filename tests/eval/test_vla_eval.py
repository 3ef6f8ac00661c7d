"""Closed-loop VLA evaluation: malformed completions act with the counted fallback."""

from __future__ import annotations

import numpy as np
import pytest
from vla_fixtures import vla_dataset_and_tokenizer

from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.models.vla import Completion
from worldalign.models.vla.decoding_vla import decode_completion


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
