"""Fuzzing the dataset reader: random truncations and byte flips of every file of a small dataset
give either a clean ``worldalign`` error or an identical read, never another exception or a hang.

The cases are drawn once from a fixed seed (``CASES`` of them, spread over the file kinds:
``meta/info.json``, ``meta/tasks.parquet``, the episodes parquet, the data parquets and the
mp4s), each on a fresh copy of the session's dataset, opened and read whole with a time limit.

"Identical read" means: the same episodes with the same actions, state, privileged fields,
snapshots, layout, task, instruction, success and metadata (exactly), and frames of the same
shape and dtype. Frame *values* may differ: a flipped byte inside an mp4's compressed picture
data usually decodes to other pixels without any error (H.264 carries no checksum), which no
reader can detect; everything else a byte flip can touch is covered by a check (parquet page
checksums, which the writer stores and the reader verifies; frame counts and timestamps; the
metadata's internal agreement).
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.types import Episode
from worldalign.errors import WorldAlignError

CASES = 60
SEED = 19
TIME_LIMIT_S = 20.0


@dataclass(frozen=True)
class Damage:
    """One case: a file of the dataset, truncated to ``keep`` bytes or with the byte at
    ``offset`` XOR-ed with ``mask``."""

    file: str
    kind: str
    offset: int
    mask: int = 0

    def apply(self, root: Path) -> None:
        path = root / self.file
        data = bytearray(path.read_bytes())
        if self.kind == "truncate":
            del data[self.offset :]
        else:
            data[self.offset] ^= self.mask
        path.write_bytes(bytes(data))


def dataset_files(root: Path) -> list[str]:
    """Every file the reader reads (``meta/stats.json`` is read only by a normalizer, and has its
    own tests), relative to ``root``, sorted."""
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".json", ".parquet", ".mp4")]
    return sorted(str(p.relative_to(root)) for p in files if p.name != "stats.json")


def draw_cases(root: Path) -> list[Damage]:
    """``CASES`` damages from ``SEED``: files in turn, half truncations and half byte flips, a
    third of the positions within the first 64 bytes (headers, where a flip changes the most)."""
    rng = np.random.default_rng(SEED)
    files = dataset_files(root)
    cases = []
    for index in range(CASES):
        file = files[index % len(files)]
        size = (root / file).stat().st_size
        near_start = rng.random() < 1 / 3
        offset = int(rng.integers(0, min(size, 64) if near_start else size))
        if rng.random() < 0.5:
            cases.append(Damage(file, "truncate", offset))
        else:
            cases.append(Damage(file, "flip", offset, int(rng.integers(1, 256))))
    return cases


def read_whole(root: Path) -> list[Episode]:
    dataset = LeRobotDataset(root)
    return list(dataset.iter_episodes())


def read_with_time_limit(root: Path) -> list[Episode] | BaseException:
    """The episodes, or the exception reading them raised; fails the test on a hang."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["episodes"] = read_whole(root)
        except BaseException as error:  # noqa: BLE001 (the test judges the exception type)
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(TIME_LIMIT_S)
    if thread.is_alive():
        pytest.fail(f"reading {root} did not finish within {TIME_LIMIT_S} s (a hang)")
    return outcome.get("error", outcome.get("episodes"))  # type: ignore[return-value]


def differences(read: list[Episode], expected: list[Episode]) -> list[str]:
    """What differs between two reads, frame values excepted (see the module docstring)."""
    if len(read) != len(expected):
        return [f"{len(read)} episodes instead of {len(expected)}"]
    found = []
    for index, (episode, reference) in enumerate(zip(read, expected, strict=True)):
        for name in ("task", "instruction", "views", "success", "fps", "metadata"):
            if getattr(episode, name) != getattr(reference, name):
                found.append(f"episode {index}: {name} {getattr(episode, name)!r} != {getattr(reference, name)!r}")
        for name in ("actions", "state", "snapshots", "layout"):
            if not _same_array(getattr(episode, name), getattr(reference, name)):
                found.append(f"episode {index}: {name} differ")
        if episode.privileged.keys() != reference.privileged.keys() or not all(
            _same_array(episode.privileged[key], value) for key, value in reference.privileged.items()
        ):
            found.append(f"episode {index}: privileged fields differ")
        if episode.frames.shape != reference.frames.shape or episode.frames.dtype != reference.frames.dtype:
            found.append(f"episode {index}: frames {episode.frames.shape} {episode.frames.dtype}")
    return found


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def test_damaged_files_give_a_clean_error_or_an_identical_read(written_dataset: Path, tmp_path: Path) -> None:
    expected = read_whole(written_dataset)
    cases = draw_cases(written_dataset)
    assert {Path(case.file).suffix for case in cases} == {".json", ".parquet", ".mp4"}
    failures = []
    outcomes = {"error": 0, "identical": 0}
    for number, case in enumerate(cases):
        root = Path(shutil.copytree(written_dataset, tmp_path / f"case_{number}"))
        case.apply(root)
        result = read_with_time_limit(root)
        if isinstance(result, WorldAlignError):
            outcomes["error"] += 1
        elif isinstance(result, BaseException):
            failures.append(f"{case}: {type(result).__name__}: {result}")
        else:
            found = differences(result, expected)
            if found:
                failures.append(f"{case}: read without error but {found[:3]}")
            outcomes["identical"] += 1
        shutil.rmtree(root)
    assert not failures, "\n".join(failures)
    assert outcomes["error"] > CASES // 3, outcomes  # the damage is real: most cases are caught
