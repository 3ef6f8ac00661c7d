"""``worldalign align`` end to end on the tiny preset: both algorithms, both kinds of conditions,
the before/after summary and videos, and a resumed run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moving_squares import run_cli as run
from moving_squares import tiny_runs

from worldalign.errors import ConfigError
from worldalign.stages.align import SUMMARY_FILE, VIDEOS_DIR


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dataset and the autoencoder and world model runs, each trained for 2 tiny steps."""
    return tiny_runs(tmp_path_factory.mktemp("align_cli"))


def align_argv(runs: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "align", "--world-model", str(runs["wm"]), "--autoencoder", str(runs["ae"]), "--dataset", str(runs["dataset"]),
        "--out", str(out), "--iterations", "2", "--conditions-per-iteration", "2", "--group-size", "2",
        "--sampling-steps", "2", "--max-prefix-chunks", "1", "--max-continuation-chunks", "1", "--horizon", "2",
        "--fidelity-metrics", "ssim=1,psnr=1", "--eval-rewards", "fidelity=1", "--eval-episodes", "1",
        "--eval-horizon", "4", "--eval-seeds", "2", "--eval-sampling-steps", "2", "--checkpoint-every", "1",
        "--window", "3", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("algorithm", "conditions"), [("nft", "rollout-states"), ("grpo", "prompts")]
)
def test_align_writes_model_summary_videos_and_resumes(
    runs: dict[str, Path], tmp_path: Path, algorithm: str, conditions: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "align"
    argv = align_argv(runs, out, "--algo", algorithm, "--conditions", conditions, "--rewards", "fidelity=1")
    assert run(argv) == 0
    printed = capsys.readouterr().out
    assert "held-out rollouts before vs after 2" in printed and "fidelity/ssim" in printed
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["algorithm"] == algorithm and summary["iterations"] == 2
    for moment in ("before", "after"):
        assert {"fidelity", "fidelity/ssim", "fidelity/psnr", "fidelity/ssim/seed_std"} <= set(summary[moment])
    assert summary["before"] != summary["after"], "two updates change the held-out rollouts"
    assert (out / "model" / "model.safetensors").is_file() and (out / "action_normalizer.json").is_file()
    videos = list((out / VIDEOS_DIR).glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 0
    assert summary["videos"] == [f"{VIDEOS_DIR}/{videos[0].name}"]  # what `worldalign report` shows
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in log] == ["eval", "train", "train", "eval"]

    more = [*argv[: argv.index("--iterations") + 1], "3", *argv[argv.index("--iterations") + 2 :]]
    assert run(more) == 0  # resumes at iteration 2 and runs the third
    resumed = json.loads((out / SUMMARY_FILE).read_text())
    assert resumed["resumed_from"] == 2 and resumed["iterations"] == 3
    assert resumed["before"] == summary["before"] and resumed["after"] == resumed["evaluations"]["3"]
    assert run(more) == 0  # nothing left to do: the summary still describes the whole run
    assert json.loads((out / SUMMARY_FILE).read_text())["after"] == resumed["after"]


def test_bad_options_are_named(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--fidelity-metrics"):
        run(align_argv(runs, tmp_path / "a", "--fidelity-metrics", "ssim=high"))
    with pytest.raises(ConfigError, match="unknown reward 'fidelty'"):
        run(align_argv(runs, tmp_path / "b", "--rewards", "fidelty=1"))
    with pytest.raises(ConfigError, match="uses 6 context frames; the world model accepts 1..4"):
        run([*align_argv(runs, tmp_path / "c"), "--window", "6"])
    with pytest.raises(ConfigError, match="--eval-sampling-steps 0: expected >= 1"):
        run([*align_argv(runs, tmp_path / "d"), "--eval-sampling-steps", "0"])
    with pytest.raises(ConfigError, match="bf16=True with algorithm='grpo'"):
        run([*align_argv(runs, tmp_path / "e"), "--algo", "grpo", "--bf16"])
