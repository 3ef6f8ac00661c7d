"""The benchmark build: deterministic from the seed, every source labelled as its rule says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_bench_config import TINY

from worldalign.errors import ConfigError, DatasetError
from worldalign.judge_bench.build import SOURCES, BuildConfig, Unit, build_benchmark, build_unit, plan_units
from worldalign.judge_bench.labels import DIMENSION_KEYS
from worldalign.models.judge.bench_data import load_split, read_meta


def test_build_is_a_function_of_the_seed(tiny_bench: Path, tmp_path: Path) -> None:
    build_benchmark(TINY, tmp_path, workers=2, progress=False)
    for path in sorted(tiny_bench.rglob("*.safetensors")):
        if path.name.startswith("instruction_cache"):
            continue
        assert path.read_bytes() == (tmp_path / path.relative_to(tiny_bench)).read_bytes(), path
    for split in ("train", "val", "test"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tiny_bench / split / "items.parquet"), pd.read_parquet(tmp_path / split / "items.parquet")
        )


def test_every_unit_gets_a_split_and_training_tasks_cover_all_three() -> None:
    units = plan_units(TINY)
    assert len(units) == 6
    for task in TINY.train_tasks:
        assert sorted(u.split for u in units if u.task == task) == ["test", "train", "val"]
    held = plan_units(
        BuildConfig(
            items_per_source=3, train_tasks=("reach-v3", "push-v3"), heldout_tasks=("button-press-v3", "plate-slide-v3")
        )
    )
    assert {u.split for u in held if u.task in ("button-press-v3", "plate-slide-v3")} == {"heldout_test"}


def test_sources_get_the_labels_their_rules_give() -> None:
    items = build_unit(TINY, Unit("push-v3", 0, "train", ("reach-v3",)))
    by_source = {item.source: item for item in items}
    assert [item.source for item in items] == list(SOURCES)
    score = {name: dict(zip(DIMENSION_KEYS, item.scores.tolist())) for name, item in by_source.items()}
    assert score["wrong_instruction"]["instruction_following"] == 0
    assert score["wrong_instruction"]["manipulation_success"] == 0
    assert by_source["wrong_instruction"].instruction != by_source["expert"].instruction
    assert score["action_mismatch"]["action_outcome_consistency"] == 0
    assert score["temporal"]["temporal_consistency"] == 0
    assert score["expert"]["temporal_consistency"] == score["expert"]["action_outcome_consistency"] == 1
    # the nuisance item is a clean item with altered pixels and identical labels
    nuisance = by_source["nuisance"]
    base = next(item for item in items if item.source in ("expert", "noisy") and item.sim_seed == nuisance.sim_seed)
    assert nuisance.scores.tolist() == base.scores.tolist()
    assert not np.array_equal(nuisance.frames, base.frames)
    assert nuisance.frames.shape == (1, 6, 32, 32, 3)
    # the artifact item: a clean item painted, physics adherence 0, every other label the clean one's
    artifact = by_source["artifact"]
    base = next(item for item in items if item.source in ("expert", "noisy") and item.sim_seed == artifact.sim_seed)
    physics = DIMENSION_KEYS.index("physics_adherence")
    assert artifact.scores[physics] == 0
    assert np.delete(artifact.scores, physics).tolist() == np.delete(base.scores, physics).tolist()
    assert not np.array_equal(artifact.frames, base.frames) and artifact.frames.shape == base.frames.shape


def test_reader_returns_what_the_builder_wrote(tiny_bench: Path) -> None:
    meta = read_meta(tiny_bench)
    assert meta.keys == DIMENSION_KEYS and meta.views == ("front",)
    data = load_split(tiny_bench, "train")
    assert data.frames.shape == (meta.splits["train"], 1, 6, 32, 32, 3) and data.frames.dtype == torch.uint8
    assert data.actions is not None and data.actions.shape == (len(data), 6, 4)
    table = pd.read_parquet(tiny_bench / "train" / "items.parquet")
    assert torch.equal(data.scores, torch.tensor(table[list(DIMENSION_KEYS)].to_numpy(), dtype=torch.float32))
    assert (tiny_bench / "score_distribution.md").read_text().count("Instruction Following") == 4  # all + 3 splits


def test_reader_names_the_problem(tiny_bench: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="meta.json"):
        read_meta(tmp_path)
    with pytest.raises(DatasetError, match="no split 'heldout_test'"):
        load_split(tiny_bench, "heldout_test")


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ConfigError, match="items_per_source"):
        BuildConfig(items_per_source=2)
    with pytest.raises(ConfigError, match="view"):
        BuildConfig(views=())
