"""``worldalign train autoencoder`` and ``worldalign train world-model``: the world model's two stages.

Parses a dataset folder, a preset name and its overrides into a training config and runs
``worldalign.stages.pretrain``. ``add_train_autoencoder_parser`` and
``add_train_world_model_parser`` add the two sub-verbs to the ``train`` group.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from worldalign.configs.presets import PRESETS
from worldalign.configs.pretrain import WORLD_MODEL_CONDITIONS
from worldalign.errors import ConfigError

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
  worldalign data encode --dataset data/mt10 --autoencoder runs/ae --out data/mt10-latents
  worldalign train world-model --latents data/mt10-latents --autoencoder runs/ae --out runs/wm

The frozen autoencoder (--autoencoder: its run folder or its model/ folder, trained with the
same --preset) maps clips to latents; the world model learns to predict --preset's future
frames from up to its context frames, conditioned on the actions, the instruction (MiniLM
embedding) or both; the last --held-out of each task's episodes are never trained on (keep
them for evaluating rollouts). The model is OUT/model, the action statistics it was trained with
OUT/action_normalizer.json, previews (real over generated rows, per view) OUT/previews/step_N.mp4;
running the same command again resumes from the newest checkpoint in OUT/checkpoints.
--init-from fine-tunes a trained world model: the architecture and action statistics are that
model's, the optimizer and schedule start afresh. --latents trains from a dataset encoded once
(`worldalign data encode`): the same windows for the same --seed, on whatever device is there
(a GPU when present), resumable on another device.
"""


# --------------------------------------------------------------------------------------------
# Parsers


def _add_common_arguments(parser: argparse.ArgumentParser, *, latents: bool = False) -> None:
    if latents:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--dataset", type=Path, help="dataset folder (LeRobot v3 layout)")
        source.add_argument(
            "--latents",
            type=Path,
            help="the dataset's latents, encoded once by `worldalign data encode` with the same --autoencoder: "
            "the same training windows without decoding videos (runs without PyAV and MuJoCo)",
        )
    else:
        parser.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3 layout)")
    parser.add_argument("--out", required=True, type=Path, help="run folder")
    parser.add_argument(
        "--preset", default="cpu", help=f"model and training preset: {', '.join(PRESETS)} (default: cpu)"
    )
    parser.add_argument("--steps", type=int, help="optimizer steps in total (default: the preset's)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the preset's)")
    parser.add_argument(
        "--lr",
        type=float,
        help="peak learning rate after the warmup (default: the preset's, 3e-4): lower it to fine-tune with "
        "--init-from at a smaller batch than the model was trained at",
    )
    parser.add_argument("--views", help="comma-separated camera views (default: all of the dataset's)")
    parser.add_argument(
        "--held-out", type=float, default=0.1, help="fraction of each task's episodes held out (default: 0.1)"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        help="steps between checkpoints a restart resumes from (default: the preset's, 500 for cpu): lower it for "
        "long runs on a CPU, where 500 steps of the cpu preset take about an hour",
    )
    parser.add_argument(
        "--preview-every", type=int, help="steps between previews, 0 for none (default: the checkpoint period)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds initialisation and data order (default: 0)")
    parser.add_argument(
        "--bf16", action="store_true", help="bf16 autocast (default: the preset's; gpu has it): for a GPU run"
    )
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
    _add_common_arguments(parser, latents=True)
    parser.add_argument(
        "--autoencoder", required=True, type=Path, help="autoencoder run folder, or its model/ folder"
    )
    parser.add_argument(
        "--condition",
        choices=WORLD_MODEL_CONDITIONS,
        default="actions",
        help="what the model is conditioned on (default: actions)",
    )
    parser.add_argument("--width", type=int, help="transformer width (default: the preset's; a multiple of its heads)")
    parser.add_argument("--depth", type=int, help="transformer blocks (default: the preset's)")
    parser.add_argument(
        "--causal-context",
        action="store_true",
        help="context tokens attend to the context only, never to the noisy future, so sampling computes them once "
        "per chunk instead of at every denoising step (faster rollouts and RL sampling); with --init-from, a "
        "full-attention model is fine-tuned into a causal one (the same weights)",
    )
    parser.add_argument(
        "--action-displacement",
        action="store_true",
        help="also condition each future frame on the sum of the actions since the last context frame (the "
        "displacement commanded so far); with --init-from, a model trained without it gains it, starting unchanged",
    )
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
    parser.add_argument(
        "--action-dropout",
        type=float,
        help="probability of training a clip with the null action instead of its actions (classifier-free "
        "guidance needs some; fewer leaves more steps that must read the actions; default: the preset's, 0.25 "
        "for cpu)",
    )
    parser.add_argument(
        "--probe-every",
        type=int,
        default=0,
        help="every N steps (and at the end) measure the flow loss of fixed training and held-out clips with fixed "
        "noise, logged to TensorBoard as probe/train and probe/held_out: is the model still learning what "
        "generalises? (default: 0, never)",
    )
    parser.add_argument(
        "--activation-checkpointing",
        action="store_true",
        help="recompute the transformer blocks' activations in the backward pass: the same gradients for ~1/3 more "
        "compute and much less memory (large batches or contexts on a GPU)",
    )
    parser.set_defaults(handler=run_train_world_model)


# --------------------------------------------------------------------------------------------
# Shared set-up


def _views(text: str | None) -> tuple[str, ...] | None:
    from worldalign.utils.text import split_list

    return None if text is None else split_list(text)


def _run_config(run: Any, args: argparse.Namespace) -> Any:
    checkpoint_every = run.checkpoint_every if args.checkpoint_every is None else args.checkpoint_every
    if checkpoint_every < 1:
        raise ConfigError(f"--checkpoint-every {args.checkpoint_every}: expected >= 1")
    preview_every = checkpoint_every if args.preview_every is None else args.preview_every
    return dataclasses.replace(
        run, seed=args.seed, checkpoint_every=checkpoint_every, preview_every=preview_every, bf16=run.bf16 or args.bf16
    )


def _training_config(config: Any, args: argparse.Namespace) -> Any:
    """``config`` with the command line's steps, batch size, learning rate, seed and preview period."""
    changes: dict[str, Any] = {"run": _run_config(config.run, args)}
    if args.lr is not None:
        if not args.lr > 0:
            raise ConfigError(f"--lr {args.lr}: expected a learning rate > 0")
        changes["optimizer"] = dataclasses.replace(config.optimizer, learning_rate=args.lr)
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.batch_size is not None:
        changes["batch_size"] = args.batch_size
    if changes.get("steps", config.steps) < 1 or changes.get("batch_size", config.batch_size) < 1:
        raise ConfigError(f"--steps {args.steps} and --batch-size {args.batch_size}: expected both >= 1")
    return dataclasses.replace(config, **changes)


def _with_architecture(config: Any, args: argparse.Namespace) -> Any:
    """``config`` with the command line's world-model width, depth, causal context and action
    displacement, context noise, action dropout and activation checkpointing."""
    model = config.model
    width = model.width if args.width is None else args.width
    depth = model.depth if args.depth is None else args.depth
    if width < 1 or depth < 1 or width % model.num_heads:
        raise ConfigError(
            f"--width {args.width} --depth {args.depth}: expected >= 1, the width a multiple of the "
            f"preset's {model.num_heads} heads"
        )
    noise = config.context_noise if args.context_noise is None else args.context_noise
    action_dropout = config.action_dropout if args.action_dropout is None else args.action_dropout
    return dataclasses.replace(
        config,
        model=dataclasses.replace(
            model,
            width=width,
            depth=depth,
            causal_context=model.causal_context or args.causal_context,
            action_displacement=model.action_displacement or args.action_displacement,
        ),
        context_noise=noise,
        action_dropout=action_dropout,
        activation_checkpointing=config.activation_checkpointing or args.activation_checkpointing,
        probe_every=args.probe_every,
    )


# --------------------------------------------------------------------------------------------
# train autoencoder


def run_train_autoencoder(args: argparse.Namespace) -> int:
    from worldalign.configs.presets import get_preset
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.stages.pretrain import pretrain_autoencoder

    config = _training_config(get_preset(args.preset).autoencoder, args)
    outcome = pretrain_autoencoder(
        config,
        LeRobotDataset(args.dataset),
        args.out,
        views=_views(args.views),
        held_out=args.held_out,
        resume=not args.no_resume,
    )
    result = outcome.training
    print(f"model: {result.model_dir} (step {result.step}; resumed from step {result.resumed_from})")
    if outcome.psnr is None:
        print(f"no held-out episodes (--held-out {args.held_out}): reconstruction quality not measured")
        return 0
    print(
        f"held-out reconstruction on {outcome.evaluated_frames} frames of episodes {outcome.held_out_episodes}: "
        f"PSNR {outcome.psnr:.2f} dB, SSIM {outcome.ssim:.3f}"
    )
    return 0


# --------------------------------------------------------------------------------------------
# train world-model


def run_train_world_model(args: argparse.Namespace) -> int:
    from worldalign.configs.presets import get_preset
    from worldalign.data.latent_shards import LatentShards
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.stages.pretrain import pretrain_world_model

    if args.init_from is not None and (args.width is not None or args.depth is not None):
        raise ConfigError("--init-from keeps its checkpoint's width and depth: drop --width and --depth")
    config = _with_architecture(_training_config(get_preset(args.preset).world_model, args), args)
    result = pretrain_world_model(
        config,
        LatentShards(args.latents) if args.latents is not None else LeRobotDataset(args.dataset),
        args.autoencoder,
        args.out,
        condition=args.condition,
        views=_views(args.views),
        held_out=args.held_out,
        init_from=args.init_from,
        resume=not args.no_resume,
    )
    print(f"model: {result.model_dir} (step {result.step}; resumed from step {result.resumed_from})")
    for probe in result.probes:
        scores = ", ".join(f"{name} {value:.4f}" for name, value in probe.items() if name != "step")
        print(f"flow loss of the probe clips at step {int(probe['step'])}: {scores}")
    return 0
