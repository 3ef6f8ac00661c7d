"""A tiny judge benchmark, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_bench_config import TINY

from worldalign.judge_bench.build import build_benchmark


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    build_benchmark(TINY, out, workers=1, progress=False)
    return out
