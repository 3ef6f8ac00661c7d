"""``worldalign train autoencoder`` and ``train world-model`` end to end on the tiny preset.

The dataset is synthetic (a square moving over a gradient, 16 px, no simulator): 3 episodes of
12 frames, one view, so both commands run in seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
import torch
from moving_squares import write_dataset
from safetensors.torch import load_file, save_file

from worldalign.cli.export import run_export
from worldalign.cli.world_model import add_train_autoencoder_parser, add_train_world_model_parser
from worldalign.envs.tasks import all_instructions
from worldalign.errors import ConfigError
from worldalign.runs.layout import run_folder_of
from worldalign.runs.loading import load_world_model_run


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    add_train_autoencoder_parser(sub)
    add_train_world_model_parser(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


def final_step(out: Path) -> int:
    steps = sorted((out / "checkpoints").glob("step_*"))
    return json.loads((steps[-1] / "training_state.json").read_text())["step"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(dataset, autoencoder run folder) after 4 tiny steps."""
    root = tmp_path_factory.mktemp("wm_cli")
    dataset = write_dataset(root / "data")
    ae = root / "ae"
    assert run(["autoencoder", "--dataset", str(dataset), "--out", str(ae), "--preset", "tiny", "--steps", "4"]) == 0
    return dataset, ae


def test_autoencoder_trains_previews_and_resumes(trained: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    dataset, ae = trained
    assert (ae / "model" / "model.safetensors").is_file() and (ae / "model" / "config.json").is_file()
    assert (ae / "previews" / "step_4.png").is_file()
    assert final_step(ae) == 4
    argv = ["autoencoder", "--dataset", str(dataset), "--out", str(ae), "--preset", "tiny", "--steps", "4"]
    assert run(argv) == 0
    output = capsys.readouterr().out
    assert "resumed from step 4" in output and "PSNR" in output and "SSIM" in output
    assert final_step(ae) == 4


def test_autoencoder_resume_after_a_kill_is_exact(trained: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, _ = trained
    argv = ["autoencoder", "--dataset", str(dataset), "--preset", "tiny", "--steps", "8", "--preview-every", "0"]
    assert run([*argv, "--out", str(tmp_path / "whole")]) == 0
    # A run killed after its step-4 checkpoint: the frame stream must continue where it stood.
    shutil.copytree(tmp_path / "whole", tmp_path / "killed")
    shutil.rmtree(tmp_path / "killed" / "checkpoints" / "step_0000008")
    shutil.rmtree(tmp_path / "killed" / "model")
    assert run([*argv, "--out", str(tmp_path / "killed")]) == 0
    whole, resumed = (load_file(tmp_path / name / "model" / "model.safetensors") for name in ("whole", "killed"))
    assert all(torch.equal(whole[key], resumed[key]) for key in whole)


def test_world_model_trains_previews_and_resumes(trained: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, ae = trained
    out = tmp_path / "wm"
    argv = ["world-model", "--dataset", str(dataset), "--autoencoder", str(ae), "--out", str(out)]
    argv += ["--preset", "tiny", "--steps", "4", "--batch-size", "2"]
    assert run(argv) == 0
    assert (out / "model" / "model.safetensors").is_file() and (out / "model" / "config.json").is_file()
    assert (out / "previews" / "step_4.mp4").stat().st_size > 0
    assert (out / "action_normalizer.json").is_file()
    # Continues from step 4 to 6, this time naming the autoencoder's model/ folder.
    argv[argv.index(str(ae))] = str(ae / "model")
    argv[argv.index("--steps") + 1] = "6"
    assert run(argv) == 0
    assert final_step(out) == 6


def test_export_of_a_checkpoint_gives_its_weight_ema_and_the_run_side_files(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    dataset, ae = trained
    out = tmp_path / "wm"
    argv = ["world-model", "--dataset", str(dataset), "--autoencoder", str(ae), "--out", str(out), "--preset", "tiny"]
    assert run([*argv, "--steps", "3", "--batch-size", "2", "--preview-every", "0"]) == 0
    checkpoint = out / "checkpoints" / "step_0000003"
    raw = load_file(checkpoint / "model.safetensors")
    # The tiny preset keeps no EMA: the checkpoint's own weights, which are the final model's.
    # Exported like the shipped models, into a folder that happens to be called checkpoints/.
    shipped = tmp_path / "checkpoints" / "plain"
    assert run_export(argparse.Namespace(run=checkpoint, dest=shipped, half=False)) == 0
    plain = load_file(shipped / "model.safetensors")
    assert all(torch.equal(plain[name], raw[name]) for name in raw)
    assert (shipped / "action_normalizer.json").is_file()  # found in the run folder
    assert "weight EMA" not in capsys.readouterr().out
    assert run_folder_of(shipped) == shipped and run_folder_of(checkpoint) == out
    assert load_world_model_run(shipped, torch.device("cpu")).normalizer is not None
    # A run that keeps an EMA stores it in the training state: that is what gets exported.
    state = load_file(checkpoint / "training_state.safetensors")
    state.update({f"ema.{name}": tensor + 1 for name, tensor in raw.items()})
    save_file(state, checkpoint / "training_state.safetensors")
    assert run_export(argparse.Namespace(run=checkpoint, dest=tmp_path / "ema", half=False)) == 0
    assert "the weight EMA of" in capsys.readouterr().out
    ema = load_file(tmp_path / "ema" / "model.safetensors")
    assert all(torch.equal(ema[name], raw[name] + 1) for name in raw)


def test_instruction_conditioned_world_model(trained: tuple[Path, Path], tmp_path: Path) -> None:
    dataset, ae = trained
    out = tmp_path / "wm"
    argv = ["world-model", "--dataset", str(dataset), "--autoencoder", str(ae), "--out", str(out), "--preset", "tiny"]
    assert run([*argv, "--condition", "instruction", "--steps", "2", "--batch-size", "2", "--preview-every", "0"]) == 0
    config = json.loads((out / "model" / "config.json").read_text())["config"]
    assert (config["action_dim"], config["instruction_dim"]) == (0, 384)
    assert (out / "instruction_embeddings.safetensors").is_file() and not (out / "previews").exists()
    # The export carries the cache, completed with every instruction of the embedded suite: using
    # them does not write to the exported folder (the encoder writes only for missing ones).
    assert run_export(argparse.Namespace(run=out, dest=tmp_path / "shared", half=True)) == 0
    cache_file = tmp_path / "shared" / "instruction_embeddings.safetensors"
    before = cache_file.stat().st_mtime_ns
    encoder = load_world_model_run(tmp_path / "shared", torch.device("cpu")).instruction_encoder
    assert encoder is not None and encoder.encode(all_instructions()).shape == (len(all_instructions()), 384)
    assert cache_file.stat().st_mtime_ns == before


def test_architecture_context_noise_action_dropout_and_lr_override_the_preset(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    dataset, ae = trained
    argv = ["world-model", "--dataset", str(dataset), "--autoencoder", str(ae), "--preset", "tiny"]
    argv += ["--steps", "1", "--batch-size", "2", "--preview-every", "0"]
    changes = ["--width", "48", "--depth", "3", "--context-noise", "0.3", "--causal-context", "--checkpoint-every", "7"]
    changes += ["--action-dropout", "0.05", "--lr", "5e-5"]
    assert run([*argv, "--out", str(tmp_path / "wm"), *changes]) == 0
    config = json.loads((tmp_path / "wm" / "model" / "config.json").read_text())["config"]
    assert (config["width"], config["depth"], config["causal_context"]) == (48, 3, True)
    assert json.loads((tmp_path / "wm" / "train_config.json").read_text())["run"]["checkpoint_every"] == 7
    assert load_world_model_run(tmp_path / "wm", torch.device("cpu")).model.config.causal_context
    train_config = json.loads((tmp_path / "wm" / "train_config.json").read_text())
    assert (train_config["context_noise"], train_config["action_dropout"]) == (0.3, 0.05)
    assert train_config["optimizer"]["learning_rate"] == 5e-5
    with pytest.raises(ConfigError, match="multiple of"):
        run([*argv, "--out", str(tmp_path / "odd"), "--width", "47"])
    with pytest.raises(ConfigError, match="context_noise"):
        run([*argv, "--out", str(tmp_path / "negative"), "--context-noise", "-1"])
    with pytest.raises(ConfigError, match="--lr 0.0: expected a learning rate > 0"):
        run([*argv, "--out", str(tmp_path / "still"), "--lr", "0"])
    with pytest.raises(ConfigError, match=r"action_dropout=1.5 must be a probability in \[0, 1\]"):
        run([*argv, "--out", str(tmp_path / "dropout"), "--action-dropout", "1.5"])
    with pytest.raises(ConfigError, match="--checkpoint-every 0: expected >= 1"):
        run([*argv, "--out", str(tmp_path / "never"), "--checkpoint-every", "0"])


def test_image_size_mismatch_names_both_sizes(tmp_path: Path, trained: tuple[Path, Path]) -> None:
    dataset = write_dataset(tmp_path / "data32", size=32)
    with pytest.raises(ConfigError, match=r"32x32.*16x16"):
        run(["autoencoder", "--dataset", str(dataset), "--out", str(tmp_path / "ae"), "--preset", "tiny"])
    _, ae = trained
    with pytest.raises(ConfigError, match=r"32x32.*16x16"):
        run(["world-model", "--dataset", str(dataset), "--autoencoder", str(ae), "--out", str(tmp_path / "wm")])


def test_short_episodes_are_a_clear_error(tmp_path: Path, trained: tuple[Path, Path]) -> None:
    _, ae = trained
    argv = ["world-model", "--dataset", str(trained[0]), "--autoencoder", str(ae), "--out", str(tmp_path / "wm")]
    with pytest.raises(ConfigError, match="longest training episode"):
        run([*argv, "--preset", "cpu"])  # clips of 16 + 4 frames, episodes of 12


def test_init_from_fine_tunes_a_trained_model_with_its_architecture_and_statistics(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    dataset, ae = trained
    argv = ["world-model", "--dataset", str(dataset), "--autoencoder", str(ae), "--preset", "tiny"]
    argv += ["--batch-size", "2", "--preview-every", "0"]
    assert run([*argv, "--out", str(tmp_path / "base"), "--steps", "2", "--width", "48"]) == 0
    base = load_file(tmp_path / "base" / "model" / "model.safetensors")
    normalizer = json.loads((tmp_path / "base" / "action_normalizer.json").read_text())
    normalizer["action"]["mean"] = [value + 1.0 for value in normalizer["action"]["mean"]]
    (tmp_path / "base" / "action_normalizer.json").write_text(json.dumps(normalizer))

    tuned = tmp_path / "tuned"
    assert run([*argv, "--out", str(tuned), "--steps", "1", "--init-from", str(tmp_path / "base")]) == 0
    assert json.loads((tuned / "model" / "config.json").read_text())["config"]["width"] == 48
    assert json.loads((tuned / "action_normalizer.json").read_text()) == normalizer
    # One small optimizer step away from the base weights, far from another initialisation.
    weights = load_file(tuned / "model" / "model.safetensors")
    fresh = tmp_path / "fresh"
    assert run([*argv, "--out", str(fresh), "--steps", "1", "--width", "48", "--seed", "1"]) == 0
    fresh_weights = load_file(fresh / "model" / "model.safetensors")
    moved = max((weights[name] - base[name]).abs().max().item() for name in base)
    apart = max((fresh_weights[name] - base[name]).abs().max().item() for name in base)
    assert moved < apart / 10

    with pytest.raises(ConfigError, match="drop --width"):
        run([*argv, "--out", str(tmp_path / "wide"), "--init-from", str(tuned), "--width", "64"])
    # The same weights with the context blind to the future: fine-tuned into a causal-context model.
    causal = tmp_path / "causal"
    assert run([*argv, "--out", str(causal), "--steps", "1", "--init-from", str(tuned), "--causal-context"]) == 0
    config = json.loads((causal / "model" / "config.json").read_text())["config"]
    assert config["causal_context"] and config["width"] == 48
    assert load_file(causal / "model" / "model.safetensors").keys() == weights.keys()
    # A model gains the displacement conditioning: the same weights plus an embedding that
    # starts at zero, one small step later.
    displaced = tmp_path / "displaced"
    tuning = ["--steps", "1", "--init-from", str(tuned), "--action-displacement"]
    assert run([*argv, "--out", str(displaced), *tuning]) == 0
    assert json.loads((displaced / "model" / "config.json").read_text())["config"]["action_displacement"]
    displaced_weights = load_file(displaced / "model" / "model.safetensors")
    added = displaced_weights.keys() - weights.keys()
    assert added and all(name.startswith("displacement_embed.") for name in added)
    assert max((displaced_weights[name] - weights[name]).abs().max().item() for name in weights) < apart / 10
    assert displaced_weights["displacement_embed.2.weight"].abs().max().item() < apart / 10
    with pytest.raises(ConfigError, match=r"instruction_dim 0 \(needed: 384\)"):
        run([*argv, "--out", str(tmp_path / "text"), "--init-from", str(tuned), "--condition", "both"])
