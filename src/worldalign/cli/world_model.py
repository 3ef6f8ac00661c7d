"""``worldalign train autoencoder`` and ``worldalign train world-model``: the world model's two stages.

Turns a dataset folder and a preset name into the inputs of ``algos.pretrain``: the held-out
split, the frame and clip samplers (resumable, so running a command again continues exactly),
the preset sized for the dataset, the instruction encoder, and preview callbacks (a PNG grid of
reconstructions, an mp4 of predicted futures). ``add_train_autoencoder_parser`` and
``add_train_world_model_parser`` add the two sub-verbs to the ``train`` group.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from worldalign.configs.presets import PRESETS
from worldalign.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.data.stats import Normalizer

PREVIEWS_DIR = "previews"
NORMALIZER_FILE = "action_normalizer.json"
INSTRUCTION_CACHE_FILE = "instruction_embeddings.safetensors"
CONDITIONS = ("actions", "instruction", "both")
CALIBRATION_FRAMES = 256
EVALUATION_FRAMES = 1024
PREVIEW_FRAMES = 8

TRAIN_AUTOENCODER_EPILOG = """\
examples:
  worldalign train autoencoder --dataset data/mt10 --out runs/ae
  worldalign train autoencoder --dataset data/mt10 --out runs/ae-front --views front --steps 500
  worldalign train autoencoder --dataset data/mt10-128px --out runs/ae-gpu --preset gpu

Frames of every view of the training episodes are drawn uniformly; the last --held-out of each
task's episodes are never trained on, and the run ends with the reconstruction PSNR/SSIM on
them. The model is OUT/model, previews (real row over reconstruction row) OUT/previews/step_N.png;
running the same command again resumes from the newest checkpoint in OUT/checkpoints.
"""

TRAIN_WORLD_MODEL_EPILOG = """\
examples:
  worldalign train world-model --dataset data/mt10 --autoencoder runs/ae --out runs/wm
  worldalign train world-model --dataset data/mt10 --autoencoder runs/ae/model --out runs/wm-text \\
      --condition instruction --steps 2000
  worldalign train world-model --dataset data/explore --autoencoder checkpoints/autoencoder-cpu \\
      --condition both --init-from checkpoints/world-model-cpu --steps 2000 --out runs/wm-finetuned

The frozen autoencoder (--autoencoder: its run folder or its model/ folder, trained with the
same --preset) maps clips to latents; the world model learns to predict --preset's future
frames from up to its context frames, conditioned on the actions, the instruction (MiniLM
embedding) or both; the last --held-out of each task's episodes are never trained on (keep
them for evaluating rollouts). The model is OUT/model, the action statistics it was trained with
OUT/action_normalizer.json, previews (real over generated rows, per view) OUT/previews/step_N.mp4;
running the same command again resumes from the newest checkpoint in OUT/checkpoints.
--init-from fine-tunes a trained world model: the architecture and action statistics are that
model's, the optimizer and schedule start afresh.
"""


class FrameSampler:
    """Endless batches of single frames ``(N, 3, H, W)`` float32 in [-1, 1], drawn uniformly.

    ``frames`` is ``(M, 3, H, W)`` uint8 (every view of every frame, e.g. ``FrameCache.frames``).
    The same seed gives the same stream; ``state_dict``/``load_state_dict`` save and restore its
    position, so a resumed training run draws the batches the uninterrupted one would have.
    """

    def __init__(self, frames: np.ndarray, *, batch_size: int, seed: int = 0) -> None:
        if batch_size < 1 or len(frames) == 0:
            raise ConfigError(f"FrameSampler: batch_size={batch_size} with {len(frames)} frames; expected both >= 1")
        self.frames = frames
        self.batch_size = batch_size
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def __iter__(self) -> Iterator[Tensor]:
        while True:
            yield to_unit_range(self.frames[self._rng.integers(0, len(self.frames), self.batch_size)])

    def state_dict(self) -> dict[str, Any]:
        """The stream's position (JSON-serialisable)."""
        return {"seed": self.seed, "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the stream from a position saved by ``state_dict``."""
        if state.get("seed") != self.seed:
            raise ConfigError(
                f"FrameSampler: the saved stream was seeded {state.get('seed')}, this sampler {self.seed}"
            )
        self._rng.bit_generator.state = state["rng"]


def to_unit_range(frames: np.ndarray) -> Tensor:
    """uint8 ``(..., 3, H, W)`` → float32 in [-1, 1]."""
    import torch

    return torch.from_numpy(frames.astype(np.float32) / 127.5 - 1.0)


def to_uint8_video(frames: Tensor) -> np.ndarray:
    """Float ``(..., 3, H, W)`` in [-1, 1] → uint8 ``(..., H, W, 3)``."""
    import torch

    pixels = ((frames.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.movedim(-3, -1).numpy()


# --------------------------------------------------------------------------------------------
# Parsers


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3 layout)")
    parser.add_argument("--out", required=True, type=Path, help="run folder")
    parser.add_argument(
        "--preset", default="cpu", help=f"model and training preset: {', '.join(PRESETS)} (default: cpu)"
    )
    parser.add_argument("--steps", type=int, help="optimizer steps in total (default: the preset's)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the preset's)")
    parser.add_argument("--views", help="comma-separated camera views (default: all of the dataset's)")
    parser.add_argument(
        "--held-out", type=float, default=0.1, help="fraction of each task's episodes held out (default: 0.1)"
    )
    parser.add_argument(
        "--preview-every", type=int, help="steps between previews, 0 for none (default: the preset's checkpoint period)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds initialisation and data order (default: 0)")
    parser.add_argument("--no-resume", action="store_true", help="start from scratch even if OUT has checkpoints")


def add_train_autoencoder_parser(train_subparsers: argparse._SubParsersAction) -> None:
    """Add ``autoencoder`` to the ``worldalign train`` group."""
    parser = train_subparsers.add_parser(
        "autoencoder",
        help="train the frame autoencoder (frames <-> latents) the world model works in",
        description="Train the frame autoencoder, shared by every view, on a dataset's frames.",
        epilog=TRAIN_AUTOENCODER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common_arguments(parser)
    parser.set_defaults(handler=run_train_autoencoder)


def add_train_world_model_parser(train_subparsers: argparse._SubParsersAction) -> None:
    """Add ``world-model`` to the ``worldalign train`` group."""
    parser = train_subparsers.add_parser(
        "world-model",
        help="train the latent flow-matching world model on clips of a dataset",
        description="Train the world model (rectified flow on autoencoder latents) on a dataset's clips.",
        epilog=TRAIN_WORLD_MODEL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common_arguments(parser)
    parser.add_argument(
        "--autoencoder", required=True, type=Path, help="autoencoder run folder, or its model/ folder"
    )
    parser.add_argument(
        "--condition",
        choices=CONDITIONS,
        default="actions",
        help="what the model is conditioned on (default: actions)",
    )
    parser.add_argument("--width", type=int, help="transformer width (default: the preset's; a multiple of its heads)")
    parser.add_argument("--depth", type=int, help="transformer blocks (default: the preset's)")
    parser.add_argument(
        "--init-from",
        type=Path,
        help="start from this world model's weights (a run folder, its model/ or an exported folder) and keep "
        "its architecture and action statistics: fine-tuning (default: random initialisation)",
    )
    parser.add_argument(
        "--context-noise",
        type=float,
        help="largest noise level (flow time in [0, 1)) of the context latents in training, told to the model: "
        "against rollout drift (default: the preset's, 0)",
    )
    parser.set_defaults(handler=run_train_world_model)


# --------------------------------------------------------------------------------------------
# Shared set-up


def dataset_views(dataset: LeRobotDataset, text: str | None) -> tuple[str, ...]:
    if text is None:
        return dataset.views
    views = tuple(view.strip() for view in text.split(",") if view.strip())
    unknown = [view for view in views if view not in dataset.views]
    if unknown or not views:
        raise ConfigError(f"--views {text!r}: unknown view(s) {unknown}; {dataset.root} has {list(dataset.views)}")
    return views


def check_image_size(dataset: LeRobotDataset, views: Sequence[str], size: int, expected_by: str) -> None:
    for view in views:
        height, width = dataset.image_size(view)
        if (height, width) != (size, size):
            raise ConfigError(
                f"{dataset.root} view {view!r} has {height}x{width} frames, {expected_by} expects {size}x{size}: "
                "choose a preset of the dataset's size or generate the dataset at that size"
            )


def _split(dataset: LeRobotDataset, held_out: float) -> tuple[list[int], list[int]]:
    from worldalign.data.clips import split_episodes

    return split_episodes(dataset.task_names, held_out_fraction=held_out)


def _action_normalizer(dataset: LeRobotDataset) -> Normalizer:
    from worldalign.data import lerobot_format as fmt
    from worldalign.data.stats import Normalizer

    return Normalizer(dataset.stats, features=(fmt.ACTION,), source=str(dataset.root / fmt.STATS_PATH))


def _run_config(run: Any, args: argparse.Namespace) -> Any:
    preview_every = run.checkpoint_every if args.preview_every is None else args.preview_every
    return dataclasses.replace(run, seed=args.seed, preview_every=preview_every)


def _training_config(config: Any, args: argparse.Namespace) -> Any:
    """``config`` with the command line's steps, batch size, seed and preview period."""
    changes: dict[str, Any] = {"run": _run_config(config.run, args)}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.batch_size is not None:
        changes["batch_size"] = args.batch_size
    if changes.get("steps", config.steps) < 1 or changes.get("batch_size", config.batch_size) < 1:
        raise ConfigError(f"--steps {args.steps} and --batch-size {args.batch_size}: expected both >= 1")
    return dataclasses.replace(config, **changes)


def _with_architecture(config: Any, args: argparse.Namespace) -> Any:
    """``config`` with the command line's world-model width and depth (between the presets' sizes)
    and context noise."""
    model = config.model
    width = model.width if args.width is None else args.width
    depth = model.depth if args.depth is None else args.depth
    if width < 1 or depth < 1 or width % model.num_heads:
        raise ConfigError(
            f"--width {args.width} --depth {args.depth}: expected >= 1, the width a multiple of the "
            f"preset's {model.num_heads} heads"
        )
    noise = config.context_noise if args.context_noise is None else args.context_noise
    return dataclasses.replace(config, model=dataclasses.replace(model, width=width, depth=depth), context_noise=noise)


# --------------------------------------------------------------------------------------------
# train autoencoder


def autoencoder_preview(out_dir: Path) -> Any:
    """A callback writing ``out_dir/previews/step_N.png``: real frames over their reconstructions."""
    from worldalign.viz.video_grid import compose_grid, viewing_scale, write_image

    def write(step: int, real: Tensor, reconstruction: Tensor) -> None:
        count = min(PREVIEW_FRAMES, real.shape[0])
        rows = [to_uint8_video(frames[:count, None]) for frames in (real, reconstruction)]  # (N, 1, H, W, 3)
        scale = viewing_scale(real.shape[-1])
        grid = compose_grid(
            rows, column_labels=[str(i) for i in range(count)], row_labels=["real", "rec."], scale=scale
        )
        write_image(grid[0], out_dir / PREVIEWS_DIR / f"step_{step}.png")

    return write


def run_train_autoencoder(args: argparse.Namespace) -> int:
    import torch

    from worldalign.algos.pretrain import train_autoencoder
    from worldalign.configs.presets import get_preset
    from worldalign.data.frame_cache import FrameCache
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.metrics import psnr, ssim
    from worldalign.models.autoencoder import Autoencoder
    from worldalign.models.checkpoint import load_model

    preset = get_preset(args.preset)
    config = _training_config(preset.autoencoder, args)
    dataset = LeRobotDataset(args.dataset)
    views = dataset_views(dataset, args.views)
    check_image_size(dataset, views, config.model.image_size, f"preset {preset.name!r} (image_size)")
    train, held_out = _split(dataset, args.held_out)
    normalizer = _action_normalizer(dataset)
    frames = FrameCache.build(dataset, normalizer=normalizer, views=views, episodes=train).frames
    sampler = FrameSampler(frames, batch_size=config.batch_size, seed=args.seed)
    calibration = np.random.default_rng(args.seed).choice(len(frames), min(CALIBRATION_FRAMES, len(frames)), False)
    result = train_autoencoder(
        config,
        sampler,
        args.out,
        preview=autoencoder_preview(args.out),
        calibration_frames=to_unit_range(frames[np.sort(calibration)]),
        resume=not args.no_resume,
    )
    print(f"model: {result.model_dir} (step {result.step}; resumed from step {result.resumed_from})")
    if not held_out:
        print(f"no held-out episodes (--held-out {args.held_out}): reconstruction quality not measured")
        return 0
    model = load_model(Autoencoder, result.model_dir).eval()
    evaluation = FrameCache.build(dataset, normalizer=normalizer, views=views, episodes=held_out).frames
    picked = np.unique(np.linspace(0, len(evaluation) - 1, min(EVALUATION_FRAMES, len(evaluation))).astype(int))
    scores: dict[str, list[Tensor]] = {"psnr": [], "ssim": []}
    with torch.no_grad():
        for first in range(0, len(picked), config.batch_size):
            real = to_unit_range(evaluation[picked[first : first + config.batch_size]])
            reconstruction = model(real)[0].clamp(-1, 1)
            scores["psnr"].append(psnr(reconstruction, real, max_db=100.0))
            scores["ssim"].append(ssim(reconstruction, real))
    print(
        f"held-out reconstruction on {len(picked)} frames of episodes {held_out}: "
        f"PSNR {torch.cat(scores['psnr']).mean():.2f} dB, SSIM {torch.cat(scores['ssim']).mean():.3f}"
    )
    return 0


# --------------------------------------------------------------------------------------------
# train world-model


def world_model_preview(out_dir: Path, views: Sequence[str], fps: int) -> Any:
    """A callback writing ``out_dir/previews/step_N.mp4``: a real row over a generated row, one
    column per (clip, view)."""
    from worldalign.viz.video_grid import compose_grid, viewing_scale, write_video

    def write(step: int, real: Tensor, generated: Tensor) -> None:
        clips = real.shape[0]
        rows = [to_uint8_video(video.flatten(0, 1)) for video in (real, generated)]  # (B * V, T, H, W, 3)
        labels = [f"#{clip} {view}" for clip in range(clips) for view in views]
        scale = viewing_scale(real.shape[-1])
        grid = compose_grid(rows, column_labels=labels, row_labels=["real", "generated"], scale=scale)
        write_video(grid, out_dir / PREVIEWS_DIR / f"step_{step}.mp4", fps=fps)

    return write


def model_folder(path: Path, option: str, command: str) -> Path:
    """The model folder of ``option``'s value, given as a run's --out folder or its ``model/``."""
    from worldalign.algos.run_folder import FINAL_MODEL_DIR
    from worldalign.models.checkpoint import CONFIG_FILE

    if (path / CONFIG_FILE).is_file():
        return path
    if (path / FINAL_MODEL_DIR / CONFIG_FILE).is_file():
        return path / FINAL_MODEL_DIR
    raise ConfigError(
        f"{option} {path}: neither it nor {path / FINAL_MODEL_DIR} holds a checkpoint ({CONFIG_FILE}); "
        f"pass the --out folder of `worldalign {command}` once it has finished (for a run still training, "
        f"`worldalign export RUN/checkpoints/step_N DEST` writes one to pass)"
    )


def run_folder_of(model_dir: Path) -> Path:
    """Where a model's side files (action statistics, instruction cache) are: the run folder of a
    ``RUN/model`` or ``RUN/checkpoints/step_N`` folder, else the model folder itself (as
    ``worldalign export`` writes it)."""
    from worldalign.algos.run_folder import FINAL_MODEL_DIR, is_resumable_checkpoint

    if model_dir.name == FINAL_MODEL_DIR:
        return model_dir.parent
    if is_resumable_checkpoint(model_dir):
        return model_dir.parent.parent
    return model_dir


def _initial_model(config: Any, args: argparse.Namespace, needed_by: str) -> tuple[Any, Path | None]:
    """``config`` with the model of ``--init-from`` (and that model's folder), checked to fit the
    dataset and autoencoder (``needed_by``); ``config`` unchanged without ``--init-from``."""
    if args.init_from is None:
        return config, None
    from worldalign.configs.world_model import WorldModelConfig
    from worldalign.models.checkpoint import read_config
    from worldalign.models.world_model import WorldModel

    if args.width is not None or args.depth is not None:
        raise ConfigError("--init-from keeps its checkpoint's architecture: drop --width and --depth")
    folder = model_folder(args.init_from, "--init-from", "train world-model")
    stored = read_config(folder, WorldModelConfig, WorldModel.model_type)
    fitted = ("num_views", "action_dim", "instruction_dim", "latent_channels", "latent_size")
    differences = [
        f"{name} {getattr(stored, name)} (needed: {getattr(config.model, name)})"
        for name in fitted
        if getattr(stored, name) != getattr(config.model, name)
    ]
    if differences:
        raise ConfigError(
            f"--init-from {folder} does not fit {needed_by}: the checkpoint has " + "; ".join(differences)
        )
    return dataclasses.replace(config, model=stored), folder


def model_action_normalizer(model_dir: Path) -> Normalizer:
    """The action statistics a world model was trained with, beside it or in its run folder."""
    from worldalign.data import lerobot_format as fmt
    from worldalign.data.stats import Normalizer

    path = run_folder_of(model_dir) / NORMALIZER_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path} not found: the world model's action statistics are written there by `worldalign train world-model`"
        )
    return Normalizer.from_file(path, features=(fmt.ACTION,))


def _initial_normalizer(dataset: LeRobotDataset, initial_model: Path | None) -> Normalizer:
    """The action statistics of the model fine-tuned from (its inputs keep their meaning), else
    the dataset's."""
    return _action_normalizer(dataset) if initial_model is None else model_action_normalizer(initial_model)


def autoencoder_folder(path: Path) -> Path:
    """The model folder of ``--autoencoder``."""
    return model_folder(path, "--autoencoder", "train autoencoder")


def run_train_world_model(args: argparse.Namespace) -> int:
    from worldalign.algos.pretrain import train_world_model
    from worldalign.configs.presets import get_preset
    from worldalign.data.clips import ClipSampler
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.models.autoencoder import Autoencoder
    from worldalign.models.checkpoint import load_model
    from worldalign.models.text.instruction_encoder import EMBEDDING_DIM, InstructionEncoder

    dataset = LeRobotDataset(args.dataset)
    views = dataset_views(dataset, args.views)
    folder = autoencoder_folder(args.autoencoder)
    autoencoder = load_model(Autoencoder, folder).eval()
    check_image_size(dataset, views, autoencoder.config.image_size, f"the autoencoder {folder}")
    actions, instruction = args.condition in ("actions", "both"), args.condition in ("instruction", "both")
    preset = get_preset(args.preset).with_dataset(
        len(views), dataset.action_dim if actions else 0, EMBEDDING_DIM if instruction else 0
    )
    config, initial_model = _initial_model(
        _with_architecture(_training_config(preset.world_model, args), args),
        args,
        f"{dataset.root} ({len(views)} views, --condition {args.condition}) and the autoencoder {folder}",
    )
    train, _ = _split(dataset, args.held_out)
    span = config.model.max_context_frames + config.model.future_frames
    longest = int(dataset.episode_lengths[train].max())
    if longest < span:
        raise ConfigError(
            f"preset {preset.name!r} trains on clips of {span} frames ({config.model.max_context_frames} context + "
            f"{config.model.future_frames} future); the longest training episode of {dataset.root} has {longest}: "
            "use longer episodes or a preset with fewer context frames"
        )
    normalizer = _initial_normalizer(dataset, initial_model)
    sampler = ClipSampler(
        dataset,
        context_frames=config.model.max_context_frames,
        future_frames=config.model.future_frames,
        batch_size=config.batch_size,
        normalizer=normalizer,
        seed=args.seed,
        views=views,
        episodes=train,
        pad_start=config.model.max_context_frames - 1 if config.pad_episode_starts else 0,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    normalizer.save(args.out / NORMALIZER_FILE)
    result = train_world_model(
        config,
        sampler,
        autoencoder,
        args.out,
        instruction_encoder=InstructionEncoder(args.out / INSTRUCTION_CACHE_FILE) if instruction else None,
        preview=world_model_preview(args.out, views, dataset.fps),
        resume=not args.no_resume,
        initial_weights=initial_model,
    )
    print(f"model: {result.model_dir} (step {result.step}; resumed from step {result.resumed_from})")
    return 0
