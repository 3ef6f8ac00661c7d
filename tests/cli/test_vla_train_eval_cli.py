"""``worldalign vla train``, ``vla align`` and ``vla eval`` end to end on the tiny backbone (a
16-step Meta-World dataset, 3 SFT steps, 2 GRPO rounds, 1 task x 1 seed x 6 closed-loop steps), and
their bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vla_fixtures import metaworld_episodes, vla_dataset_and_tokenizer, write_episodes

from worldalign.cli.main import main
from worldalign.data.video import probe_video


def run(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("vla-cli")
    dataset, fast = vla_dataset_and_tokenizer(root)
    return root, dataset, fast


def test_train_then_eval_writes_the_json_and_a_video(
    prepared: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, dataset, fast = prepared
    argv = [
        "vla",
        "train",
        "--dataset",
        dataset,
        "--tokenizer",
        fast,
        "--out",
        tmp_path / "run",
        "--steps",
        3,
        "--batch-size",
        2,
    ]
    code, printed, err = run(argv, capsys)
    assert code == 0, err
    assert "26 SFT samples from 2 episodes" in printed and "VLA policy written to" in printed
    align = ["vla", "align", tmp_path / "run", "--dataset", dataset, "--out", tmp_path / "grpo", "--updates", 2,
             "--observations-per-update", 2, "--group-size", 2, "--max-new-tokens", 16, "--pool-fraction", 0.1]
    code, printed, err = run(align, capsys)
    assert code == 0, err
    assert "GRPO pool: 2 observations = 7.69% of the SFT run's 26 distinct samples" in printed
    assert "4 observation visits (66.67% of its 6 sample visits)" in printed
    assert "first -> last round: reward/action_accuracy" in printed and "aligned VLA policy written to" in printed
    code, _, err = run([*align, "--rewards", "action_accuracy=1,bogus=1"], capsys)
    assert code != 0 and "unknown reward 'bogus'; available: action_accuracy, format" in err
    for head in ("tokens", "flow"):
        out = tmp_path / f"eval-{head}"
        argv = [
            "vla",
            "eval",
            tmp_path / ("grpo" if head == "tokens" else "run"),
            "--tasks",
            "reach-v3",
            "--seeds",
            1,
            "--max-steps",
            6,
            "--execute-steps",
            3,
            "--max-new-tokens",
            24,
            "--head",
            head,
            "--out",
            out,
        ]
        code, printed, err = run(argv, capsys)
        assert code == 0, err
        report = json.loads((out / "vla_eval.json").read_text())
        task = report["tasks"]["reach-v3"]
        assert report["head"] == head and list(task["success_by_seed"]) == ["1000000"]
        assert task["chunks"] >= 1 and task["ms_per_chunk"] > 0 and task["success_std"] == 0.0
        assert task["fallbacks"] + task["overlong"] <= task["chunks"]
        assert head == "tokens" or task["fallbacks"] == task["overlong"] == 0
        probe = probe_video(out / "reach-v3.mp4")
        assert probe.codec == "h264" and probe.width == 3 * 192  # three views at 3x
        assert probe.end_s == pytest.approx((task["steps_by_seed"]["1000000"] + 1) / 10)  # every frame, 10 fps


def test_train_with_the_vit_vision_and_lora_then_flow_eval(
    prepared: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, dataset, fast = prepared
    argv = ["vla", "train", "--dataset", dataset, "--tokenizer", fast, "--out", tmp_path / "vit", "--steps", 2,
            "--batch-size", 2, "--vision", "vit", "--autoencoder", tmp_path / "not-read", "--lora-rank", 2]
    code, printed, err = run(argv, capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "vit" / "model" / "config.json").read_text())["config"]
    assert config["vision"] == "vit" and config["lora_rank"] == 2
    align = ["vla", "align", tmp_path / "vit", "--dataset", dataset, "--out", tmp_path / "grpo", "--updates", 1,
             "--observations-per-update", 2, "--group-size", 2, "--max-new-tokens", 8, "--pool-fraction", 0.1]
    code, printed, err = run(align, capsys)
    assert code == 0, err
    out = tmp_path / "eval"
    argv = ["vla", "eval", tmp_path / "grpo", "--tasks", "reach-v3", "--seeds", 1, "--max-steps", 3, "--execute-steps",
            3, "--head", "flow", "--out", out]
    code, printed, err = run(argv, capsys)
    assert code == 0, err
    assert json.loads((out / "vla_eval.json").read_text())["tasks"]["reach-v3"]["chunks"] == 1


def test_nan_actions_are_a_clear_error_before_anything_is_written(
    prepared: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, fast = prepared
    episodes = metaworld_episodes()
    episodes[1].actions[5, 2] = float("nan")
    nan = write_episodes(tmp_path / "nan", episodes)
    code, _, err = run(["vla", "train", "--dataset", nan, "--tokenizer", fast, "--out", tmp_path / "r"], capsys)
    assert code == 2 and "stats.json: feature 'action'" in err and "expected finite numbers" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("verb", ["train", "align", "eval"])
def test_help_shows_examples(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["vla", verb, "--help"])
    assert exit_info.value.code == 0 and f"worldalign vla {verb} " in capsys.readouterr().out
