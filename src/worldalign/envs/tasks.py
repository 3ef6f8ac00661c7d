"""The task suite of the embedded world: Meta-World v3 tasks with instruction paraphrases.

Meta-World (Yu et al. 2019, arXiv:1910.10897) gives tasks names but no language, so every task
here carries several hand-written paraphrases. Two splits measure generalization:

- tasks: the ten MT10 tasks train; eight other tasks, whose scripted experts solve every
  layout tried without noise, are held out;
- paraphrases: each task keeps some paraphrases out of training, so instruction following can
  be measured on wording the model never saw.

Suite names for ``resolve_tasks``: ``mt10`` (== ``train``), ``heldout``, ``all``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from worldalign.errors import ConfigError
from worldalign.utils.text import split_list

DEFAULT_MAX_STEPS = 100
"""Policy steps per episode: 2.5 s at 40 fps (``action_repeat=2``). Over 20 seeded layouts the
noise-free experts of the ten training tasks succeed by step 91 at the latest (medians 22-50),
so 100 steps hold a solved episode plus some settling, and noisy experts have room to fail
or recover. (door-open-v3's expert misses one layout in 20 at any length.)"""

TaskSplit = Literal["train", "heldout"]
InstructionSplit = Literal["train", "heldout"]


@dataclass(frozen=True)
class TaskSpec:
    """One task of the suite.

    Attributes:
        name: Meta-World v3 environment name, e.g. ``"reach-v3"``.
        split: ``"train"`` for MT10 tasks, ``"heldout"`` for generalization tasks.
        instructions: paraphrases used when recording training data.
        heldout_instructions: paraphrases never used for training, for instruction-following
            generalization.
    """

    name: str
    split: TaskSplit
    instructions: tuple[str, ...]
    heldout_instructions: tuple[str, ...]


_SPECS: tuple[TaskSpec, ...] = (
    # MT10: the training tasks.
    TaskSpec(
        "reach-v3",
        "train",
        (
            "reach the goal position",
            "move the gripper to the target",
            "reach toward the goal point",
            "put the hand at the target location",
        ),
        (
            "bring the end effector to the goal",
            "extend the arm until the gripper is at the target",
        ),
    ),
    TaskSpec(
        "push-v3",
        "train",
        (
            "push the puck to the goal",
            "slide the puck to the target",
            "push the puck over to the goal position",
            "shove the puck to the target spot",
        ),
        (
            "move the puck to the goal by pushing it along the table",
            "nudge the puck until it reaches the target",
        ),
    ),
    TaskSpec(
        "pick-place-v3",
        "train",
        (
            "pick up the puck and place it at the goal",
            "grasp the puck and put it on the target",
            "lift the puck and move it to the goal position",
            "pick the puck up and set it at the target",
        ),
        (
            "take the puck and set it down at the goal",
            "grab the puck, carry it to the target and hold it there",
        ),
    ),
    TaskSpec(
        "door-open-v3",
        "train",
        (
            "open the door",
            "pull the door open",
            "swing the door open",
            "open the door by its handle",
        ),
        (
            "grab the door handle and open it",
            "make the door swing open",
        ),
    ),
    TaskSpec(
        "drawer-open-v3",
        "train",
        (
            "open the drawer",
            "pull the drawer out",
            "slide the drawer open",
            "pull the drawer open by its handle",
        ),
        (
            "grab the drawer handle and pull",
            "draw the drawer out toward the robot",
        ),
    ),
    TaskSpec(
        "drawer-close-v3",
        "train",
        (
            "close the drawer",
            "push the drawer shut",
            "slide the drawer closed",
            "push the drawer back in",
        ),
        (
            "shut the open drawer",
            "press the drawer until it is closed",
        ),
    ),
    TaskSpec(
        "button-press-topdown-v3",
        "train",
        (
            "press the button from the top",
            "push the button down",
            "press down on the button",
            "press the button from above",
        ),
        (
            "push the top button down with the gripper",
            "hit the button from above",
        ),
    ),
    TaskSpec(
        "peg-insert-side-v3",
        "train",
        (
            "insert the peg into the hole",
            "pick up the peg and insert it sideways into the hole",
            "put the peg into the hole in the box",
            "push the peg into the side hole",
        ),
        (
            "grab the peg and slide it into the hole",
            "fit the peg into the opening of the box",
        ),
    ),
    TaskSpec(
        "window-open-v3",
        "train",
        (
            "open the window",
            "slide the window open",
            "push the window sash open",
            "slide the window sideways to open it",
        ),
        (
            "move the window pane to open it",
            "open the sliding window",
        ),
    ),
    TaskSpec(
        "window-close-v3",
        "train",
        (
            "close the window",
            "slide the window shut",
            "push the window sash closed",
            "slide the window sideways to close it",
        ),
        (
            "move the window pane to close it",
            "shut the sliding window",
        ),
    ),
    # Held-out tasks: unseen in training, related to the training skills.
    TaskSpec(
        "button-press-v3",
        "heldout",
        (
            "press the button",
            "push the button in",
            "press the button on the front of the box",
            "push the button forward",
        ),
        (
            "hit the button",
            "press the button with the gripper",
        ),
    ),
    TaskSpec(
        "coffee-button-v3",
        "heldout",
        (
            "press the coffee machine button",
            "push the button on the coffee machine",
            "start the coffee machine",
            "press the button of the coffee maker",
        ),
        (
            "turn on the coffee machine",
            "hit the coffee machine's button",
        ),
    ),
    TaskSpec(
        "door-close-v3",
        "heldout",
        (
            "close the door",
            "push the door shut",
            "swing the door closed",
            "shut the door",
        ),
        (
            "push the open door closed",
            "make the door swing shut",
        ),
    ),
    TaskSpec(
        "faucet-open-v3",
        "heldout",
        (
            "open the faucet",
            "turn the faucet on",
            "rotate the faucet handle to open it",
            "turn on the tap",
        ),
        (
            "twist the faucet open",
            "turn the tap handle to open it",
        ),
    ),
    TaskSpec(
        "faucet-close-v3",
        "heldout",
        (
            "close the faucet",
            "turn the faucet off",
            "rotate the faucet handle to close it",
            "turn off the tap",
        ),
        (
            "twist the faucet closed",
            "turn the tap handle to close it",
        ),
    ),
    TaskSpec(
        "handle-press-v3",
        "heldout",
        (
            "press the handle down",
            "push the handle down",
            "press down on the handle",
            "push the lever handle down",
        ),
        (
            "lower the handle",
            "press the handle all the way down",
        ),
    ),
    TaskSpec(
        "plate-slide-v3",
        "heldout",
        (
            "slide the plate to the goal",
            "push the plate into the goal",
            "slide the plate forward into the goal",
            "move the plate to the target by sliding it",
        ),
        (
            "shove the plate into the goal",
            "push the plate along the table to the target",
        ),
    ),
    TaskSpec(
        "push-wall-v3",
        "heldout",
        (
            "push the puck around the wall to the goal",
            "push the puck past the wall to the target",
            "slide the puck around the wall to the goal",
            "push the puck to the target, going around the wall",
        ),
        (
            "get the puck to the goal without hitting the wall",
            "move the puck behind the wall by pushing it",
        ),
    ),
)

TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _SPECS}
"""Every task of the suite by name, training tasks first (MT10 order), then held-out ones."""

SUITES: dict[str, tuple[str, ...]] = {
    "mt10": tuple(spec.name for spec in _SPECS if spec.split == "train"),
    "train": tuple(spec.name for spec in _SPECS if spec.split == "train"),
    "heldout": tuple(spec.name for spec in _SPECS if spec.split == "heldout"),
    "all": tuple(TASKS),
}
"""Named groups of tasks that ``resolve_tasks`` expands."""


def _suggestion(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def get_task(name: str) -> TaskSpec:
    """The ``TaskSpec`` of ``name``; ``ConfigError`` with a suggestion if there is none."""
    if name not in TASKS:
        raise ConfigError(
            f"unknown task {name!r}.{_suggestion(name, list(TASKS))} Valid tasks: {', '.join(TASKS)}."
        )
    return TASKS[name]


def resolve_tasks(spec: str) -> list[str]:
    """Expand a comma-separated list of task and suite names into task names.

    Order is kept and duplicates are dropped, so ``"reach-v3,mt10"`` gives ``reach-v3`` once,
    first. Raises ``ConfigError`` naming the unknown entry and a close valid name.
    """
    entries = split_list(spec)
    if not entries:
        raise ConfigError(f"empty task list {spec!r}; give task names or one of the suites {', '.join(SUITES)}")
    names: list[str] = []
    for entry in entries:
        if entry.lower() in SUITES:
            expanded = SUITES[entry.lower()]
        elif entry in TASKS:
            expanded = (entry,)
        else:
            raise ConfigError(
                f"unknown task or suite {entry!r} in {spec!r}.{_suggestion(entry, [*SUITES, *TASKS])} "
                f"Valid suites: {', '.join(SUITES)}; valid tasks: {', '.join(TASKS)}."
            )
        names.extend(name for name in expanded if name not in names)
    return names


def all_instructions() -> list[str]:
    """Every instruction paraphrase of every task of the suite, train and held-out, once each."""
    texts = (text for spec in _SPECS for text in (*spec.instructions, *spec.heldout_instructions))
    return list(dict.fromkeys(texts))


def pick_instruction(task: str, rng: np.random.Generator, split: InstructionSplit = "train") -> str:
    """Draw one paraphrase of ``task``'s instruction, from the train or the held-out paraphrases.

    Deterministic given the state of ``rng`` (one integer is drawn).
    """
    spec = get_task(task)
    if split == "train":
        choices = spec.instructions
    elif split == "heldout":
        choices = spec.heldout_instructions
    else:
        raise ConfigError(f"unknown instruction split {split!r}; expected 'train' or 'heldout'")
    return choices[int(rng.integers(len(choices)))]
