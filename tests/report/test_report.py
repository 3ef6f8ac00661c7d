"""``worldalign report``: the page built from real (tiny) rollout, alignment and training results,
and every bad input named: another command's file, an older version's, a wrong value, a listed
video that was not written or that a browser cannot play."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from moving_squares import run_cli

from worldalign.cli.main import main
from worldalign.data.video import encode_video
from worldalign.errors import ResultFileError
from worldalign.report import build_report
from worldalign.report import inputs as report_inputs
from worldalign.runs.layout import TENSORBOARD_DIR
from worldalign.stages.align import SUMMARY_FILE
from worldalign.stages.evaluate import EVAL_FILE, EVAL_FORMAT, EVAL_FORMAT_VERSION
from worldalign.stages.rollout import METRICS_FILE


class PageParts(HTMLParser):
    """The tags, sources and captions of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.sources: dict[str, list[str]] = {"img": [], "video": []}
        self.captions: list[str] = []
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in self.sources:
            self.sources[tag].append(dict(attrs)["src"] or "")
        self._in_caption = tag == "caption"

    def handle_endtag(self, tag: str) -> None:
        self._in_caption = self._in_caption and tag != "caption"

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.captions.append(data)


def parse(index: Path) -> PageParts:
    parts = PageParts()
    parts.feed(index.read_text())
    return parts


def copy_of(folder: Path, tmp_path: Path) -> Path:
    """A copy of a result folder (the session's results stay untouched)."""
    return Path(shutil.copytree(folder, tmp_path / folder.name))


def edit_json(path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def test_file_names_are_the_stages(results: dict[str, Path]) -> None:
    """The report room sits below the stages and names their files itself: the names agree."""
    assert report_inputs.METRICS_FILE == METRICS_FILE
    assert report_inputs.SUMMARY_FILE == SUMMARY_FILE
    assert report_inputs.TENSORBOARD_DIR == TENSORBOARD_DIR
    assert report_inputs.EVAL_FILE == EVAL_FILE
    assert (report_inputs.EVAL_FORMAT, report_inputs.EVAL_FORMAT_VERSION) == (EVAL_FORMAT, EVAL_FORMAT_VERSION)


def test_report_of_rollouts_alignment_and_training(results: dict[str, Path], tmp_path: Path) -> None:
    inputs = [results["swr"], results["full"] / METRICS_FILE, results["align"], results["wm"]]
    index = build_report(inputs, tmp_path / "report")
    assert index == tmp_path / "report" / "index.html"
    page = parse(index)
    captions = " ".join(page.captions)
    for caption in ("Inputs", "PSNR (dB) ↑ per horizon", "SSIM ↑ per horizon", "Rollout setup and cost",
                    "Run", "Held-out evaluation before and after"):  # fmt: skip
        assert caption in captions
    # Inputs, PSNR and SSIM per horizon (16 px frames: no LPIPS), rollout cost, the alignment's run and numbers.
    assert page.tags.count("table") == 6
    # The figures: horizons (both policies and the baselines), before/after bars, two training-curve figures.
    assert len(page.sources["img"]) == 4
    # Two rollouts of two episodes, one alignment video.
    assert len(page.sources["video"]) == 5
    for source in page.sources["img"] + page.sources["video"]:
        assert not Path(source).is_absolute() and (index.parent / source).is_file(), source
    text = index.read_text()
    assert "http" not in text, "nothing may be loaded from the network"
    assert "sliding_window_reencode" in text and "full_history" in text and "copy last frame" in text
    assert "<script" not in text


def test_report_of_an_evaluation_compares_the_models(results: dict[str, Path], tmp_path: Path) -> None:
    index = build_report([results["eval"]], tmp_path / "report")
    page = parse(index)
    captions = " ".join(page.captions)
    for caption in ("Compared", "training tasks: PSNR (dB) ↑ per horizon", "training tasks: SSIM ↑ per horizon",
                    "training tasks: cost", "training tasks: reward terms (", "reward terms per task"):  # fmt: skip
        assert caption in captions
    # Inputs, Compared, PSNR, SSIM, cost, rewards, rewards per task; an action gap needs 2 episodes (1 here).
    assert page.tags.count("table") == 7
    assert len(page.sources["img"]) == 2 and len(page.sources["video"]) == 1  # horizons, reward bars; one episode
    text = index.read_text()
    for row in ("pretrained (swr-3)", "aligned (swr-3)", "pretrained (full-history)", "aligned (full-history)"):
        assert row in text
    assert "reach-v3" in text and "copy last frame" in text and "http" not in text
    per_task = text[text.index("reward terms per task") :]
    per_task = per_task[: per_task.index("</table>")]
    split = json.loads((results["eval"] / "eval.json").read_text())["splits"]["training_tasks"]
    models, tasks = split["models"], split["tasks"]
    assert ">model<" in per_task and per_task.count("<tr") == 1 + len(tasks) * len(models), "a row per task and model"


def test_cli_prints_the_index_and_names_bad_input(
    results: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert run_cli(["report", str(results["swr"]), "--out", str(out), "--title", "a <b>"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    assert "<title>a &lt;b&gt;</title>" in (out / "index.html").read_text()
    config = results["align"] / "align_config.json"
    assert main(["report", str(config), "--out", str(tmp_path / "other")]) == 2
    assert f"{config}: not a result worldalign report reads" in capsys.readouterr().err


def test_text_is_escaped(results: dict[str, Path], tmp_path: Path) -> None:
    rollout = copy_of(results["swr"], tmp_path)
    edit_json(rollout / METRICS_FILE, lambda data: data.update(policy="<script>alert(1)</script>", views=["a&b"]))
    page = build_report([rollout], tmp_path / "report").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&amp;b" in page


def test_another_commands_json_is_named(results: dict[str, Path], tmp_path: Path) -> None:
    for path in (results["align"] / "align_config.json", results["wm"] / "train_config.json"):
        with pytest.raises(ResultFileError, match="not a result worldalign report reads"):
            build_report([path], tmp_path / "report")
    broken = tmp_path / "broken.json"
    broken.write_text('{"policy": ')
    with pytest.raises(ResultFileError, match="broken.json: not a JSON file"):
        build_report([broken], tmp_path / "report")
    with pytest.raises(ResultFileError, match="a folder with no result"):
        build_report([results["wm"] / "model"], tmp_path / "report")
    with pytest.raises(ResultFileError, match="no such file or folder"):
        build_report([tmp_path / "nowhere"], tmp_path / "report")
    assert not (tmp_path / "report").exists(), "nothing is written for a bad input"


@pytest.mark.parametrize(
    ("kind", "field", "change", "message"),
    [
        ("swr", "baselines", lambda d: d.pop("baselines"), "field 'baselines' is missing: written by an older version"),
        ("swr", "horizon", lambda d: d.update(horizon="8"), "field 'horizon' should be an integer"),
        ("swr", "psnr", lambda d: d.update(psnr=d["psnr"][:3]), "field 'psnr' should be a list of 8 numbers"),
        ("swr", "baselines", lambda d: d["baselines"]["copy_last"].pop("ssim"), "field 'baselines.copy_last.ssim'"),
        ("align", "videos", lambda d: d.pop("videos"), "field 'videos' is missing: written by an older version"),
        ("align", "after", lambda d: d.update(after={"total": "high"}), "field 'after' should be an object of numbers"),
        ("eval", "format_version", lambda d: d.update(format_version=0), "field 'format_version' is 0; this worldalign"),
        ("eval", "reward_policy", lambda d: d.pop("reward_policy"), "field 'reward_policy' is missing"),
        (
            "eval",
            "splits.training_tasks.models.aligned.quality.policies.swr-3.curves.mean.ssim",
            lambda d: d["splits"]["training_tasks"]["models"]["aligned"]["quality"]["policies"]["swr-3"]["curves"][
                "mean"
            ].pop("ssim"),
            "is missing",
        ),
    ],
)
def test_an_older_or_broken_result_names_file_and_field(
    results: dict[str, Path], tmp_path: Path, kind: str, field: str, change, message: str  # type: ignore[no-untyped-def]
) -> None:
    folder = copy_of(results[kind], tmp_path)
    name = {"align": SUMMARY_FILE, "eval": EVAL_FILE}.get(kind, METRICS_FILE)
    path = edit_json(folder / name, change)
    with pytest.raises(ResultFileError, match=rf"^{path}: ") as error:
        build_report([folder], tmp_path / "report")
    assert message in str(error.value) and field in str(error.value)


def test_a_listed_video_that_was_not_written_is_an_error(results: dict[str, Path], tmp_path: Path) -> None:
    """Decided: an error before anything is written, not a page with a hole (the result claims a video)."""
    for kind, video in (
        ("swr", "episode_2.mp4"),
        ("align", "videos/episode_2.mp4"),
        ("eval", "videos/training_tasks_episode_2.mp4"),
    ):
        folder = copy_of(results[kind], tmp_path / kind)
        (folder / video).unlink()
        with pytest.raises(ResultFileError, match=rf"field 'videos' lists {Path(video).name}, which was not written"):
            build_report([folder], tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_a_video_browsers_cannot_play_is_an_error(results: dict[str, Path], tmp_path: Path) -> None:
    folder = copy_of(results["swr"], tmp_path)
    frames = np.zeros((4, 16, 16, 3), np.uint8)
    (folder / "episode_2.mp4").unlink()
    encode_video(folder / "episode_2.mp4", frames, fps=10, lossless=True)  # H.264 in RGB: decoded as gbrp (High 4:4:4)
    with pytest.raises(ResultFileError, match="h264 in gbrp, which not every browser plays"):
        build_report([folder], tmp_path / "report")


def test_a_training_log_without_drawn_scalars_is_an_error(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path / "run" / TENSORBOARD_DIR)) as writer:
        writer.add_scalar("something/else", 1.0, 1)
    with pytest.raises(ResultFileError, match="none of the scalars a report draws"):
        build_report([tmp_path / "run"], tmp_path / "report")
    (tmp_path / "empty" / TENSORBOARD_DIR).mkdir(parents=True)
    with pytest.raises(ResultFileError, match="no TensorBoard event files"):
        build_report([tmp_path / "empty"], tmp_path / "report")
