"""``worldalign eval`` end to end on the tiny preset: two labelled world models, the held-out
episodes of the training tasks and a dataset of held-out tasks, per-horizon quality, rewards per
task, videos, and resuming from the stored parts (its report section: tests/report)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from moving_squares import moving_square_episode, tiny_runs
from moving_squares import run_cli as run

from worldalign.data.lerobot_writer import LeRobotWriter
from worldalign.errors import ConfigError
from worldalign.utils.hashing import file_sha256

HORIZON = 4


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval_cli")
    runs = tiny_runs(root)
    # Two episodes of a task the world model never saw (the training dataset holds only reach-v3).
    with LeRobotWriter(root / "unseen", fps=10, views=("front",), image_size=(16, 16), action_dim=4, state_dim=5) as w:
        for seed in (5, 6):
            w.add_episode(dataclasses.replace(moving_square_episode(seed, shade=200), task="push-v3"))
    return {**runs, "unseen": root / "unseen"}


def eval_argv(runs: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "eval", "--world-model", f"pretrained={runs['wm']}", "--world-model", f"other={runs['wm']}",
        "--autoencoder", str(runs["ae"]), "--dataset", str(runs["dataset"]), "--held-out-tasks", str(runs["unseen"]),
        "--out", str(out), "--horizon", str(HORIZON), "--steps", "2", "--policies", "swr:3,full-history",
        "--rewards", "fidelity=1", "--fidelity-metrics", "psnr=1,ssim=1", *extra,
    ]  # fmt: skip


def test_eval_writes_one_json_with_both_splits_every_model_and_videos(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(eval_argv(runs, tmp_path)) == 0
    summary = json.loads((tmp_path / "eval.json").read_text())
    assert (summary["format"], summary["format_version"]) == ("worldalign-eval", 1)
    assert summary["world_models"]["pretrained"]["sha256"] == file_sha256(runs["wm"] / "model" / "model.safetensors")
    assert summary["packages"]["torch"] and summary["policies"] == ["swr-3", "full-history"]
    training, unseen = summary["splits"]["training_tasks"], summary["splits"]["held_out_tasks"]
    assert (training["episodes"], training["tasks"]) == ([2], ["reach-v3"])
    assert (unseen["episodes"], unseen["tasks"]) == ([0, 1], ["push-v3"])
    for split in (training, unseen):
        assert set(split["models"]) == {"pretrained", "other"}
        quality = split["models"]["pretrained"]["quality"]
        for policy in ("swr-3", "full-history"):
            curves = quality["policies"][policy]["curves"]
            assert len(curves["mean"]["psnr"]) == HORIZON and all(np.isfinite(curves["mean"]["ssim"]))
            assert set(curves["per_view"]) == {"front"}
        assert quality["policies"]["swr-3"]["peak_context_frames"] <= 3
        rewards = split["models"]["pretrained"]["rewards"]
        assert rewards["policy"] == "swr-3" and np.isfinite(rewards["mean"]["fidelity"])
        assert set(rewards["per_task"]) == set(split["tasks"])
        # The same weights, starts and noise: two labels of one model score the same.
        assert split["models"]["other"]["rewards"]["mean"] == rewards["mean"]
        for video in split["videos"]:
            assert (tmp_path / video).stat().st_size > 0
    assert len(unseen["videos"]) == 2
    assert "t+4, mean ± sampling-seed std" in capsys.readouterr().out


def test_eval_resumes_from_its_parts_and_measures_again_what_changed(runs: dict[str, Path], tmp_path: Path) -> None:
    assert run(eval_argv(runs, tmp_path)) == 0
    part = tmp_path / "parts" / "training_tasks" / "pretrained" / "quality.json"
    first = part.read_text()
    part.write_text(first)  # the same content, a new modification time
    stamp = part.stat().st_mtime_ns
    assert run(eval_argv(runs, tmp_path)) == 0
    assert part.stat().st_mtime_ns == stamp  # reused, not rewritten
    assert run(eval_argv(runs, tmp_path, "--seeds", "1")) == 0
    assert part.stat().st_mtime_ns != stamp and json.loads(part.read_text())["key"] != json.loads(first)["key"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--policies", "swr:x"], "NAME:FRAMES"),
        (["--policies", "swr,swr"], "asked twice"),
        (["--horizon", "20"], "lower --horizon"),
    ],
)
def test_eval_bad_options_are_clear_errors(
    runs: dict[str, Path], tmp_path: Path, extra: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        run(eval_argv(runs, tmp_path, *extra))


def test_eval_refuses_held_out_tasks_that_were_trained_on_and_repeated_labels(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    argv = eval_argv(runs, tmp_path)
    argv[argv.index("--held-out-tasks") + 1] = str(runs["dataset"])
    with pytest.raises(ConfigError, match="reach-v3"):
        run(argv)
    argv = eval_argv(runs, tmp_path)
    argv[argv.index(f"other={runs['wm']}")] = f"pretrained={runs['wm']}"
    with pytest.raises(ConfigError, match="own label"):
        run(argv)


def test_eval_refuses_a_world_model_of_another_autoencoders_latents(runs: dict[str, Path], tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "checkpoints" / "autoencoder-cpu"  # 8x8x16 latents; tiny: 2x2x4
    argv = eval_argv(runs, tmp_path)
    argv[argv.index("--autoencoder") + 1] = str(shipped)
    with pytest.raises(ConfigError, match=r"latents of shape \(4, 2, 2\) .* has \(16, 8, 8\)"):
        run(argv)
