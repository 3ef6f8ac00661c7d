"""Bad input through the command line: each case is a clear error (exit 2, no traceback) naming
the file, the field and the expected value, or a case handled and said (issue 19).

Every test runs ``worldalign ARGV`` in-process through ``main`` (which turns worldalign's errors
into exit 2) on a tiny moving-squares dataset and tiny-preset runs trained for 2 steps.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from moving_squares import tiny_runs

from worldalign.cli.main import main
from worldalign.models.checkpoint import write_checkpoint
from worldalign.models.idm import IDMConfig, InverseDynamicsModel

FRONT = "observation.images.front"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dataset, autoencoder and world-model runs of ``tiny_runs``, and a random tiny IDM
    for the dataset's one 16 px view."""
    root = tmp_path_factory.mktemp("bad_inputs")
    found = tiny_runs(root)
    torch.manual_seed(0)
    config = IDMConfig(
        views=("front",), past_frames=1, future_frames=1, image_size=16, channels=(8, 8), view_features=8, hidden=16
    )
    found["idm"] = write_checkpoint(root / "idm", InverseDynamicsModel(config))
    return found


def fails(argv: list[object], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``, check it is a clean error (exit 2, no traceback) and return its message."""
    code = main([str(arg) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def succeeds(argv: list[object], capsys: pytest.CaptureFixture[str]) -> str:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def copy(folder: Path, to: Path) -> Path:
    return Path(shutil.copytree(folder, to))


def rollout_argv(runs: dict[str, Path], out: Path, **models: Path) -> list[object]:
    world_model, autoencoder = models.get("wm", runs["wm"]), models.get("ae", runs["ae"])
    return ["rollout", "--world-model", world_model, "--autoencoder", autoencoder, "--dataset", runs["dataset"],
            "--out", out, "--context", 2, "--steps", 2, "--horizon", 2]  # fmt: skip


def align_argv(runs: dict[str, Path], out: Path, *extra: object) -> list[object]:
    return ["align", "--world-model", runs["wm"], "--autoencoder", runs["ae"], "--dataset", runs["dataset"],
            "--out", out, "--iterations", 1, "--conditions-per-iteration", 1, "--group-size", 2,
            "--sampling-steps", 2, "--eval-episodes", 1, "--eval-horizon", 2, "--window", 3, *extra]  # fmt: skip


# -- 1. a corrupt or truncated model.safetensors -------------------------------------------------


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def scramble_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8:40] = b"\xff" * 32  # inside the JSON header
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, scramble_header])
@pytest.mark.parametrize("command", ["rollout world model", "rollout autoencoder", "export", "reward score"])
def test_a_corrupt_model_file_is_named(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, damage: object
) -> None:
    if command == "rollout world model":
        folder = copy(runs["wm"], tmp_path / "wm")
        argv, weights = rollout_argv(runs, tmp_path / "out", wm=folder), folder / "model/model.safetensors"
    elif command == "rollout autoencoder":
        folder = copy(runs["ae"], tmp_path / "ae")
        argv, weights = rollout_argv(runs, tmp_path / "out", ae=folder), folder / "model/model.safetensors"
    elif command == "export":
        folder = copy(runs["wm"], tmp_path / "wm")
        argv, weights = ["export", folder / "model", tmp_path / "exported"], folder / "model/model.safetensors"
    else:
        folder = copy(runs["idm"], tmp_path / "idm")
        argv, weights = ["reward", "score", runs["dataset"], "--idm", folder], folder / "model.safetensors"
    damage(weights)  # type: ignore[operator]
    message = fails(argv, capsys)
    assert f"{weights}: cannot read the safetensors file (truncated or corrupt)" in message


# -- 3, 7. reward options and weights of align ---------------------------------------------------


def test_align_with_a_judge_folder_that_does_not_exist_names_it(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = fails(align_argv(runs, tmp_path / "align", "--rewards", "judge=1.0", "--judge", str(tmp_path / "nope")), capsys)
    assert f"judge checkpoint folder {tmp_path / 'nope'} not found: pass --judge FOLDER" in message


@pytest.mark.parametrize("weight", ["nan", "inf"])
def test_align_with_a_non_finite_reward_weight_is_refused(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], weight: str
) -> None:
    message = fails(align_argv(runs, tmp_path / "align", "--rewards", f"fidelity={weight}"), capsys)
    assert f"weight {weight} of 'fidelity'; expected a finite number (negative: a penalty" in message


# -- 4, 5. data generate and --out ---------------------------------------------------------------


def test_generate_with_a_negative_episode_count_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["data", "generate", "--tasks", "reach-v3", "--episodes-per-task", -1, "--out", tmp_path / "data"]
    message = fails(argv, capsys)
    assert "episodes_per_task = -1 (--episodes-per-task): expected a positive integer" in message
    assert not (tmp_path / "data").exists()


def test_an_out_that_is_an_existing_file_is_named(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("keep me")
    commands = [
        ["data", "generate", "--tasks", "reach-v3", "--episodes-per-task", 1, "--out", taken],
        ["train", "autoencoder", "--dataset", runs["dataset"], "--preset", "tiny", "--steps", 1, "--out", taken],
        ["train", "idm", "--dataset", runs["dataset"], "--views", "front", "--past-frames", 1, "--future-frames", 1,
         "--steps", 1, "--out", taken],
        ["export", runs["wm"], taken / "exported"],
        [*rollout_argv(runs, taken), "--policy", "full-history"],
        [*align_argv(runs, taken), "--fidelity-metrics", "ssim=1", "--eval-rewards", "fidelity=1"],
    ]
    for argv in commands:
        assert f"{taken} is an existing file, not a folder" in fails(argv, capsys), argv
    assert taken.read_text() == "keep me"


# -- 6. statistics that are not finite -----------------------------------------------------------


def test_nan_action_statistics_stop_training_before_anything_is_written(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = copy(runs["dataset"], tmp_path / "data")
    stats_path = dataset / "meta/stats.json"
    stats = json.loads(stats_path.read_text())
    stats["action"]["mean"][0] = float("nan")
    stats["action"]["std"][0] = 0.0
    stats_path.write_text(json.dumps(stats))  # a bare NaN, as other tools write it
    argv = ["train", "world-model", "--dataset", dataset, "--autoencoder", runs["ae"], "--preset", "tiny",
            "--steps", 2, "--batch-size", 2, "--out", tmp_path / "wm"]  # fmt: skip
    message = fails(argv, capsys)
    assert f"{stats_path}: feature 'action' statistic 'mean' is [nan] at dimension(s) [0]; expected finite" in message
    assert not (tmp_path / "wm" / "model").exists()


# -- 8. reward score uses its weights ------------------------------------------------------------


def test_reward_score_uses_its_weights_in_the_total(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ["reward", "score", runs["dataset"], "--idm", runs["idm"], "--clip-frames", 4, "--stride", 4]
    succeeds([*base, "--rewards", "executability", "--json", tmp_path / "one.json"], capsys)
    single = json.loads((tmp_path / "one.json").read_text())
    printed = succeeds([*base, "--rewards", "executability=-2", "--json", tmp_path / "neg.json"], capsys)
    assert "total = -2 x executability" in " ".join(printed.split())  # the title, however rich wraps it
    negative = json.loads((tmp_path / "neg.json").read_text())
    assert single["weights"] == {"executability": 1.0} and negative["weights"] == {"executability": -2.0}
    for task, terms in negative["per_task"].items():
        assert terms["total"] == pytest.approx(-2 * single["per_task"][task]["executability"])
    for weight in ("nan", "inf"):
        assert f"weight {weight} of 'executability'" in fails([*base, "--rewards", f"executability={weight}"], capsys)


# -- 9, 10. dataset folders ------------------------------------------------------------------------


def test_a_camera_shape_that_disagrees_with_its_video_names_info_json(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = copy(runs["dataset"], tmp_path / "data")
    info_path = dataset / "meta/info.json"
    info = json.loads(info_path.read_text())
    info["features"][FRONT]["shape"] = [32, 32, 3]
    info_path.write_text(json.dumps(info))
    for argv in (["data", "info", dataset], ["data", "preview", dataset, "--out", tmp_path / "p.mp4"]):
        message = fails(argv, capsys)
        assert f"{info_path}: feature '{FRONT}' declares frames of (height, width) (32, 32), its video " in message
        assert "has (16, 16)" in message


def test_a_missing_dataset_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = fails(["data", "info", tmp_path / "nowhere"], capsys)
    assert f"{tmp_path / 'nowhere'}: the dataset folder does not exist" in message


# -- 12. resuming with another seed ----------------------------------------------------------------


def test_resuming_with_another_seed_says_how_to_start_afresh(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy(runs["wm"], tmp_path / "wm")
    argv = ["train", "world-model", "--dataset", runs["dataset"], "--autoencoder", runs["ae"], "--preset", "tiny",
            "--steps", 3, "--batch-size", 2, "--out", run, "--preview-every", 0, "--seed", 1]  # fmt: skip
    message = fails(argv, capsys)
    assert "this run's seed (--seed) is 1: resume with --seed 0, or run with --no-resume or a new --out" in message


# -- 2. a corrupt checkpoint on resume (the fallback itself: tests/algos/test_resume_fallback.py) ---


def test_resuming_when_no_checkpoint_loads_names_them_and_says_how_to_start_afresh(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = copy(runs["wm"], tmp_path / "wm")
    checkpoints = sorted((run / "checkpoints").iterdir())
    for checkpoint in checkpoints:
        (checkpoint / "training_state.json").write_text('{"step": 2, "optim')
    argv = ["train", "world-model", "--dataset", runs["dataset"], "--autoencoder", runs["ae"], "--preset", "tiny",
            "--steps", 3, "--batch-size", 2, "--out", run, "--preview-every", 0]  # fmt: skip
    message = fails(argv, capsys)
    assert f"no checkpoint of {run / 'checkpoints'} loads ({checkpoints[-1].name}: " in message
    assert "training_state.json: not valid JSON (truncated or corrupt)" in message
    assert "run with --no-resume or a new --out to start afresh" in message
