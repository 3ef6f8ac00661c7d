"""``worldalign vla tokenizer fit|info`` on a tiny moving-squares dataset: what it writes and
prints, and its bad inputs (exit 2 with a message naming the file and the expected value)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from moving_squares import moving_square_episode, write_dataset

from worldalign.cli.main import main
from worldalign.data.fast_tokenizer import BPE_FILE, CONFIG_FILE, FastActionTokenizer
from worldalign.data.lerobot_writer import LeRobotWriter


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("vla") / "data")


def run(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fit_writes_a_tokenizer_and_reports_its_quality(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fast"
    code, printed, err = run(
        ["vla", "tokenizer", "fit", "--dataset", dataset, "--out", out, "--horizon", 4, "--scale", 5], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted([BPE_FILE, CONFIG_FILE])
    config = json.loads((out / CONFIG_FILE).read_text())
    assert (config["horizon"], config["action_dim"], config["scale"], config["fitted_chunks"]) == (4, 4, 5.0, 27)
    assert "27 chunks of 4 steps x 4 dims, scale 5" in printed
    tokens = re.search(r"tokens per chunk: mean ([\d.]+), max (\d+) \(naive 16: ([\d.]+)x compression\)", printed)
    assert tokens and float(tokens[1]) <= int(tokens[2])
    assert float(tokens[3]) == pytest.approx(16 / float(tokens[1]), rel=0.01)
    error = re.search(r"\|error\|: mean ([\d.]+), max ([\d.]+) \(normalised\)", printed)
    assert error and float(error[2]) <= 2 * 0.5 / 5  # sqrt(H) * 0.5 / scale with H = 4
    assert re.search(r"fit in [\d.]+ s", printed)

    tokenizer = FastActionTokenizer.load(out)
    chunk = np.zeros((4, 4), np.float32)
    assert tokenizer.decode(tokenizer.encode(chunk)).shape == (4, 4)

    code, printed, err = run(["vla", "tokenizer", "info", out], capsys)
    assert code == 0, err
    assert "horizon 4, action_dim 4, scale 5" in printed and f"fitted on 27 chunks of {dataset}" in printed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--horizon", "13"], "no selected episode has 13 actions (of 3 episode(s), the longest has 12)"),
        (["--vocab-size", "3"], "vocab_size=3 is below the"),
        (["--scale", "-1"], "scale=-1.0; expected a positive number"),
    ],
)
def test_fit_bad_settings_are_clear_errors(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code, _, err = run(["vla", "tokenizer", "fit", "--dataset", dataset, "--out", tmp_path / "fast", *extra], capsys)
    assert code == 2 and err.startswith("error: ") and message in err and "Traceback" not in err


def test_missing_dataset_and_tokenizer_folders_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["vla", "tokenizer", "fit", "--dataset", tmp_path / "none", "--out", tmp_path / "t"], capsys)
    assert code == 2 and "the dataset folder does not exist" in err
    code, _, err = run(["vla", "tokenizer", "info", tmp_path / "none"], capsys)
    assert code == 2 and f"{tmp_path / 'none' / CONFIG_FILE} not found" in err


def test_nan_actions_are_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    episode = moving_square_episode(0)
    episode.actions[3, 1] = np.nan
    with LeRobotWriter(tmp_path / "nan", fps=10, views=("front",), image_size=(16, 16), action_dim=4, state_dim=5) as w:
        w.add_episode(episode)
    code, _, err = run(["vla", "tokenizer", "fit", "--dataset", tmp_path / "nan", "--out", tmp_path / "t"], capsys)
    assert code == 2 and "stats.json: feature 'action' statistic" in err and "expected finite numbers" in err
    assert not (tmp_path / "t").exists()
