"""The task suite: names, splits, suite expansion, instruction paraphrases."""

import numpy as np
import pytest
from metaworld.policies import ENV_POLICY_MAP

from worldalign.envs.tasks import SUITES, TASKS, get_task, pick_instruction, resolve_tasks
from worldalign.errors import ConfigError

MT10 = [
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
]


def test_train_suite_is_mt10_and_heldout_is_disjoint() -> None:
    assert resolve_tasks("mt10") == MT10
    assert resolve_tasks("train") == MT10
    heldout = resolve_tasks("heldout")
    assert len(heldout) >= 5
    assert not set(heldout) & set(MT10)
    assert resolve_tasks("all") == MT10 + heldout
    assert all(TASKS[name].split == "heldout" for name in heldout)


def test_resolve_mixes_names_and_suites_keeping_order_without_duplicates() -> None:
    assert resolve_tasks(" door-close-v3, MT10 ,reach-v3,") == ["door-close-v3", *MT10]


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [("reach-v2", "reach-v3"), ("mt-10", "mt10"), ("heldot", "heldout"), ("pick-place", "pick-place-v3")],
)
def test_unknown_name_error_suggests_a_close_one(spec: str, suggestion: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown task or suite '{spec}'.*Did you mean '{suggestion}'"):
        resolve_tasks(f"reach-v3,{spec}")


def test_empty_spec_and_unknown_task_errors_name_the_valid_values() -> None:
    with pytest.raises(ConfigError, match="mt10"):
        resolve_tasks(" , ")
    with pytest.raises(ConfigError, match="Valid tasks: reach-v3, push-v3"):
        get_task("hammer-v3")


def test_every_task_has_an_expert_and_enough_distinct_paraphrases() -> None:
    for spec in TASKS.values():
        assert spec.name in ENV_POLICY_MAP
        assert len(spec.instructions) + len(spec.heldout_instructions) >= 4
        assert spec.heldout_instructions
        assert not set(spec.instructions) & set(spec.heldout_instructions)
    assert SUITES["mt10"] == SUITES["train"]


def test_pick_instruction_is_deterministic_and_respects_the_split() -> None:
    first = [pick_instruction("push-v3", np.random.default_rng(7)) for _ in range(3)]
    assert len(set(first)) == 1
    rng = np.random.default_rng(0)
    drawn = {pick_instruction("push-v3", rng, "heldout") for _ in range(30)}
    assert drawn == set(TASKS["push-v3"].heldout_instructions)
    with pytest.raises(ConfigError, match="'train' or 'heldout'"):
        pick_instruction("push-v3", rng, "test")  # type: ignore[arg-type]
