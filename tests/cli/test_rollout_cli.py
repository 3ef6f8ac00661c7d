"""``worldalign rollout`` end to end on the tiny preset.

A synthetic 16 px dataset (a square moving over a gradient, 3 episodes of 12 frames, one view),
an autoencoder and a world model trained for 2 steps each, then rollouts under every policy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from moving_squares import run_cli as run
from moving_squares import tiny_runs
from PIL import Image

from worldalign.errors import DatasetError
from worldalign.viz.video_grid import CAPTION_HEIGHT, viewing_scale

CONTEXT, HORIZON, WINDOW = 2, 8, 4


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dataset and the autoencoder and world model runs, each trained for 2 tiny steps."""
    return tiny_runs(tmp_path_factory.mktemp("rollout_cli"))


def rollout_argv(runs: dict[str, Path], out: Path) -> list[str]:
    return ["rollout", "--world-model", str(runs["wm"]), "--autoencoder", str(runs["ae"]), "--dataset"] + [
        str(runs["dataset"]), "--out", str(out), "--context", str(CONTEXT), "--steps", "2",
    ]  # fmt: skip


@pytest.mark.parametrize("policy", ["full-history", "fixed-window", "swr"])
def test_rollout_writes_videos_and_per_horizon_metrics(
    runs: dict[str, Path], tmp_path: Path, policy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*rollout_argv(runs, tmp_path), "--horizon", str(HORIZON), "--policy", policy, "--window", str(WINDOW)]
    assert run(argv) == 0
    assert (tmp_path / "episode_2.mp4").stat().st_size > 0  # the held-out episode of 3
    # The still: the one view's real and generated frames at 7 of the 8 horizons, 16 px frames upscaled.
    side = 16 * viewing_scale(16)
    still = np.asarray(Image.open(tmp_path / "episode_2.png"))
    assert still.shape == (CAPTION_HEIGHT + 2 * (CAPTION_HEIGHT + side), 7 * side, 3) and still.std() > 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["episodes"] == [2] and metrics["horizon"] == HORIZON
    for key in ("psnr", "ssim", "frame_latency_s"):
        assert len(metrics[key]) == HORIZON and all(np.isfinite(metrics[key]))
    assert metrics["peak_context_frames"] <= WINDOW
    assert set(metrics["baselines"]) == {"copy_last", "mean_frame", "autoencoder_ceiling"}
    assert all(len(metrics["baselines"][name]["ssim"]) == HORIZON for name in metrics["baselines"])
    output = capsys.readouterr().out
    assert "PSNR" in output and "peak context" in output


def test_swr_context_stays_within_its_window(runs: dict[str, Path], tmp_path: Path) -> None:
    argv = [*rollout_argv(runs, tmp_path), "--horizon", str(HORIZON), "--policy", "swr", "--window", "3"]
    assert run([*argv, "--episodes", "0,1"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["episodes"] == [0, 1] and metrics["peak_context_frames"] <= 3
    assert (tmp_path / "episode_0.mp4").is_file() and (tmp_path / "episode_1.mp4").is_file()


def test_action_guidance_changes_the_rollout_and_is_recorded(runs: dict[str, Path], tmp_path: Path) -> None:
    options = ["--horizon", "4", "--episodes", "2", "--policy", "full-history"]
    assert run([*rollout_argv(runs, tmp_path / "plain"), *options]) == 0
    assert run([*rollout_argv(runs, tmp_path / "guided"), *options, "--action-guidance-scale", "4"]) == 0
    plain = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    guided = json.loads((tmp_path / "guided" / "metrics.json").read_text())
    assert (plain["action_guidance_scale"], guided["action_guidance_scale"]) == (1.0, 4.0)
    assert guided["psnr"] != plain["psnr"]


def test_too_short_episode_names_it_and_both_lengths(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"episode 2 .* 12 frames.* needs 13"):
        run([*rollout_argv(runs, tmp_path), "--horizon", "11"])
