"""``worldalign data encode`` then ``train world-model --latents``: trains what the video path
trains, resumes, refuses latents of another autoencoder, and runs without PyAV and MuJoCo."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from moving_squares import run_cli, write_dataset

from worldalign.configs.presets import get_preset
from worldalign.data.latent_shards import LatentShards
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.errors import ConfigError
from worldalign.stages.pretrain import pretrain_world_model


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A moving-squares dataset, a tiny autoencoder (2 steps) and the dataset encoded by it in
    float16 and (through the CLI) int8."""
    root = tmp_path_factory.mktemp("latent_cli")
    dataset = write_dataset(root / "data")
    argv = ["train", "autoencoder", "--dataset", str(dataset), "--preset", "tiny", "--steps", "2", "--held-out", "0"]
    assert run_cli([*argv, "--out", str(root / "ae")]) == 0
    for dtype in ("int8", "float16"):
        argv = ["data", "encode", "--dataset", str(dataset), "--autoencoder", str(root / "ae")]
        assert run_cli([*argv, "--out", str(root / dtype), "--dtype", dtype]) == 0
    return {"dataset": dataset, "ae": root / "ae", "int8": root / "int8", "float16": root / "float16"}


def test_latent_training_follows_the_video_path_step_for_step(folders: dict[str, Path], tmp_path: Path) -> None:
    preset = get_preset("tiny").world_model
    config = dataclasses.replace(
        preset, steps=4, batch_size=3, run=dataclasses.replace(preset.run, preview_every=0, checkpoint_every=4)
    )
    common = {"held_out": 0.0, "resume": False}
    videos = pretrain_world_model(config, LeRobotDataset(folders["dataset"]), folders["ae"], tmp_path / "v", **common)
    latents = pretrain_world_model(config, LatentShards(folders["float16"]), folders["ae"], tmp_path / "l", **common)
    # Same initialisation, windows, flow times and noise: only float16 storage separates the losses.
    assert np.allclose(videos.losses, latents.losses, rtol=2e-3), (videos.losses, latents.losses)
    assert len(set(np.round(videos.losses, 4))) == 4  # distinct steps, not one repeated value


def test_train_world_model_from_latents_previews_and_resumes(folders: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "wm"
    argv = ["train", "world-model", "--latents", str(folders["int8"]), "--autoencoder", str(folders["ae"])]
    argv += ["--out", str(out), "--preset", "tiny", "--steps", "3", "--batch-size", "2", "--held-out", "0"]
    argv += ["--preview-every", "3"]
    assert run_cli(argv) == 0
    assert (out / "model" / "model.safetensors").is_file() and (out / "action_normalizer.json").is_file()
    assert (out / "previews" / "step_3.mp4").stat().st_size > 0
    argv[argv.index("--steps") + 1] = "5"
    assert run_cli(argv) == 0
    assert (out / "checkpoints" / "step_0000005").is_dir()


def test_latents_of_another_autoencoder_are_refused(folders: dict[str, Path], tmp_path: Path) -> None:
    argv = ["train", "autoencoder", "--dataset", str(folders["dataset"]), "--preset", "tiny", "--steps", "1"]
    assert run_cli([*argv, "--held-out", "0", "--seed", "1", "--out", str(tmp_path / "other")]) == 0
    argv = ["train", "world-model", "--latents", str(folders["int8"]), "--autoencoder", str(tmp_path / "other")]
    with pytest.raises(ConfigError, match="was encoded by the autoencoder .* pass the autoencoder that encoded"):
        run_cli([*argv, "--out", str(tmp_path / "wm"), "--preset", "tiny", "--steps", "1"])


def test_latent_training_runs_without_pyav_and_mujoco(folders: dict[str, Path], tmp_path: Path) -> None:
    """A GPU machine need not have the video decoder or the simulator: both imports fail here."""
    blocked = "import sys\nfor name in ('av', 'mujoco', 'metaworld', 'gymnasium'):\n    sys.modules[name] = None\n"
    argv = ["train", "world-model", "--latents", str(folders["int8"]), "--autoencoder", str(folders["ae"])]
    argv += ["--out", str(tmp_path / "wm"), "--preset", "tiny", "--steps", "2", "--batch-size", "2"]
    argv += ["--held-out", "0", "--preview-every", "2"]
    script = blocked + f"from worldalign.cli.main import main\nsys.exit(main({argv!r}))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "wm" / "model" / "model.safetensors").is_file()
    assert (tmp_path / "wm" / "previews" / "step_2.gif").stat().st_size > 0  # no mp4 encoder: a GIF
    # The same blocking makes a video decode fail: the run above never needed one.
    assert subprocess.run([sys.executable, "-c", blocked + "import av\n"], capture_output=True).returncode != 0


@pytest.mark.parametrize("source", ["dataset", "float16"])
def test_probes_measure_training_and_held_out_flow_loss(
    folders: dict[str, Path], source: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    flag = "--dataset" if source == "dataset" else "--latents"
    argv = ["train", "world-model", flag, str(folders[source]), "--autoencoder", str(folders["ae"])]
    argv += ["--out", str(tmp_path / "wm"), "--preset", "tiny", "--steps", "4", "--batch-size", "2"]
    assert run_cli([*argv, "--held-out", "0.34", "--probe-every", "2", "--preview-every", "0"]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("flow loss of the probe")]
    assert [line.split(":")[0][-6:] for line in printed] == ["step 2", "step 4"]
    assert all("train" in line and "held_out" in line for line in printed)
    values = [float(part.split()[-1]) for line in printed for part in line.split(":")[1].split(",")]
    assert all(np.isfinite(values)) and len(set(values)) == 4


def test_a_probe_scores_the_same_model_the_same(folders: dict[str, Path]) -> None:
    from worldalign.algos.pretrain import FlowLossProbe
    from worldalign.data.latent_clips import LatentClipSampler
    from worldalign.models.world_model import WorldModel

    config = get_preset("tiny").world_model
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, num_views=1, action_dim=4))
    shards = LatentShards(folders["int8"])
    sampler = LatentClipSampler(
        shards,
        normalizer=shards.action_normalizer(),
        context_frames=config.model.max_context_frames,
        future_frames=config.model.future_frames,
        batch_size=3,
    )
    probe = FlowLossProbe({"train": [next(iter(sampler))]}, config, None, "cpu")
    model = WorldModel(config.model)
    first, second = probe.measure(model, 0), probe.measure(model, 1)
    assert first["train"] == second["train"] and model.training
