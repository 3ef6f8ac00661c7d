"""``judge score`` and the training commands' argument checks, through the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from worldalign.cli.judge import add_train_judge_parser, register
from worldalign.data.video import encode_video
from worldalign.errors import ConfigError, DatasetError
from worldalign.models.checkpoint import write_checkpoint
from worldalign.models.judge.configuration_judge import JudgeConfig
from worldalign.models.judge.modeling_judge import JudgeStudent


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="worldalign")
    verbs = parser.add_subparsers(dest="verb", required=True)
    register(verbs)
    add_train_judge_parser(verbs.add_parser("train").add_subparsers(dest="train_verb", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


@pytest.fixture
def student_checkpoint(tmp_path: Path, tiny_student_config: JudgeConfig) -> Path:
    torch.manual_seed(0)
    return write_checkpoint(tmp_path / "student", JudgeStudent(tiny_student_config))


def tiled_mp4(path: Path, views: int, size: int = 16, frames: int = 6) -> Path:
    rng = np.random.default_rng(0)
    encode_video(path, rng.integers(0, 256, (frames, size, views * size, 3), dtype=np.uint8), fps=8)
    return path


def test_judge_score_writes_json_for_a_video_of_the_right_shape(
    tmp_path: Path, student_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from judge_fakes import FakeEncoder

    monkeypatch.setattr("worldalign.models.text.InstructionEncoder", lambda *a, **k: FakeEncoder())
    video = tiled_mp4(tmp_path / "clip.mp4", views=2)
    out = tmp_path / "scores.json"
    assert (
        run(
            [
                "judge",
                "score",
                str(video),
                "--instruction",
                "push the puck",
                "--judge",
                str(student_checkpoint),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    [item] = result["items"]
    assert item["video"] == str(video) and set(item["scores"]) >= {"instruction_following", "physics_adherence"}
    assert 0 <= item["scores"]["instruction_following"] <= 3
    assert item["total"] == pytest.approx(sum(item["scores"].values()))


def test_judge_score_refuses_bad_input(tmp_path: Path, student_checkpoint: Path) -> None:
    three_views = tiled_mp4(tmp_path / "three.mp4", views=3)
    with pytest.raises(DatasetError, match="expects 2 square views side by side"):
        run(["judge", "score", str(three_views), "--instruction", "push", "--judge", str(student_checkpoint)])
    two_views = tiled_mp4(tmp_path / "two.mp4", views=2)
    with pytest.raises(ConfigError, match="must not be empty"):
        run(["judge", "score", str(two_views), "--instruction", " ", "--judge", str(student_checkpoint)])
    with pytest.raises(DatasetError, match="no such video"):
        run(
            [
                "judge",
                "score",
                str(tmp_path / "missing.mp4"),
                "--instruction",
                "push",
                "--judge",
                str(student_checkpoint),
            ]
        )
    with pytest.raises(ConfigError, match="not a checkpoint|not found"):
        run(["judge", "score", str(two_views), "--instruction", "push", "--judge", str(tmp_path)])


def test_training_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected 6"):
        run(["train", "judge", "--bench", str(tmp_path), "--out", str(tmp_path / "t"), "--dimension-weights", "1,2"])
    with pytest.raises(ConfigError, match="class-balance"):
        run(["train", "judge", "--bench", str(tmp_path), "--out", str(tmp_path / "t"), "--class-balance", "2"])
    with pytest.raises(DatasetError, match="not a finished judge benchmark"):
        run(["train", "judge", "--bench", str(tmp_path), "--out", str(tmp_path / "t"), "--steps", "1"])


def test_vlm_failures_are_recorded_items_and_the_exit_code_says_so(tmp_path: Path) -> None:
    from judge_fakes import KEYS, Server, chat_reply

    good = chat_reply(
        json.dumps(
            dict.fromkeys(
                KEYS,
                1,
            )
        )
    )
    server = Server([(200, good), (200, chat_reply('{"instruction_following": 1, "manip'))])
    try:
        videos = [tiled_mp4(tmp_path / f"clip{i}.mp4", views=2) for i in range(2)]
        out = tmp_path / "vlm.json"
        code = run(
            [
                "judge",
                "score",
                *map(str, videos),
                "--instruction",
                "push the puck",
                "--vlm-url",
                server.url,
                "--vlm-model",
                "judge-vlm",
                "--views",
                "oblique,front",
                "--out",
                str(out),
            ]
        )
    finally:
        server.close()
    assert code == 1
    first, second = json.loads(out.read_text())["items"]
    assert first["total"] == 6 and first["scores"]["physics_adherence"] == 1
    assert second["scores"] is None and second["total"] is None and "not valid JSON" in second["error"]


def test_the_benchmark_verb_cannot_be_taken_for_the_timing_scripts() -> None:
    from worldalign.cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args(["judge-bench", "build", "--out", "b"])
    assert args.handler.__name__ == "run_bench_build" and args.out == Path("b")
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "build", "--out", "b"])  # benchmarks/ holds the timings
