"""Named presets of the autoencoder and world-model training configs: ``tiny``, ``cpu``, ``gpu``.

- ``tiny``: for tests, 16 px frames, 2x2x4 latents, a ~100k-parameter world model; seconds.
- ``cpu``: the default. 64 px frames → 8x8x16 latents; a 4.3M-parameter world model (width
  192, depth 6, patch 2) whose training step at batch 16 with one view takes 207 ms with 2
  context frames, 787 ms with 16, 351 ms on average over the log-uniform context lengths (fp32,
  2 cores; ``benchmarks/bench_train_step.py``; with the 3 views of the embedded default, 1.4 s);
  the autoencoder's step at batch 32 takes ~0.5 s. It is the architecture of the shipped
  checkpoints (world model: 6000 steps at batch 16 on 2 cores, about 2 h 20 min, then 5561 steps
  at batch 256 on a GPU, about 8 min). The prototype's size,
  width 128 and depth 4 (1.3M, the shipped model until session 6), underfit: it plateaued
  higher and scored lower on every held-out number (docs/benchmarks.md). Short from-scratch
  runs were measured with that smaller model ("Short from-scratch runs"); ``--width 128
  --depth 4`` gives it back.
- ``gpu``: the same design at scale: 128 px frames → 8x8x16 latents with patch 1, a ~60M-parameter
  world model, bf16, larger batches.

Every field can be overridden with ``dataclasses.replace``; the number of views and the action
dimension come from the dataset (``with_dataset``).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

from worldalign.configs.pretrain import (
    AutoencoderTrainingConfig,
    OptimizerConfig,
    RunConfig,
    WorldModelTrainingConfig,
)
from worldalign.errors import ConfigError
from worldalign.models.autoencoder.configuration_autoencoder import AutoencoderConfig
from worldalign.models.world_model.configuration_world_model import WorldModelConfig


@dataclass(frozen=True)
class Preset:
    """A matching pair of training configs (the world model's latents are the autoencoder's)."""

    name: str
    """The preset's name."""
    description: str
    """One line on what it is for."""
    autoencoder: AutoencoderTrainingConfig
    """Frame autoencoder training."""
    world_model: WorldModelTrainingConfig
    """World model training."""

    def with_dataset(self, num_views: int, action_dim: int, instruction_dim: int | None = None) -> Preset:
        """This preset with the world model sized for a dataset's views and actions."""
        changes: dict[str, int] = {"num_views": num_views, "action_dim": action_dim}
        if instruction_dim is not None:
            changes["instruction_dim"] = instruction_dim
        model = dataclasses.replace(self.world_model.model, **changes)
        return dataclasses.replace(self, world_model=dataclasses.replace(self.world_model, model=model))


def _world_model_for(autoencoder: AutoencoderConfig, **fields: object) -> WorldModelConfig:
    """A world model config whose latent shape is the autoencoder's."""
    return WorldModelConfig(
        latent_channels=autoencoder.latent_channels,
        latent_size=autoencoder.latent_size,
        **fields,  # type: ignore[arg-type]
    )


def _tiny() -> Preset:
    autoencoder = AutoencoderConfig(image_size=16, latent_channels=4, channels=(8, 8, 16), norm_groups=4)
    run = RunConfig(checkpoint_every=4, log_every=1, keep_checkpoints=3)
    return Preset(
        name="tiny",
        description="tests: 16 px frames, 2x2x4 latents, ~100k-parameter world model; seconds on a CPU",
        autoencoder=AutoencoderTrainingConfig(
            model=autoencoder,
            steps=8,
            batch_size=8,
            optimizer=OptimizerConfig(learning_rate=1e-3, warmup_steps=2),
            run=run,
        ),
        world_model=WorldModelTrainingConfig(
            model=_world_model_for(
                autoencoder,
                patch_size=1,
                max_context_frames=4,
                future_frames=2,
                width=48,
                depth=2,
                num_heads=2,
                instruction_dim=16,
            ),
            steps=8,
            batch_size=4,
            optimizer=OptimizerConfig(learning_rate=1e-3, warmup_steps=2),
            run=run,
        ),
    )


def _cpu() -> Preset:
    autoencoder = AutoencoderConfig(image_size=64, latent_channels=16, channels=(32, 64, 128))
    return Preset(
        name="cpu",
        description="the default: 64 px frames, 8x8x16 latents, 4.3M-parameter world model, ~1.4 s/step on 2 cores",
        autoencoder=AutoencoderTrainingConfig(model=autoencoder, steps=3000, batch_size=32),
        world_model=WorldModelTrainingConfig(
            model=_world_model_for(
                autoencoder, width=192, depth=6, num_heads=4, max_context_frames=16, future_frames=4
            ),
            steps=5000,
            batch_size=16,
            run=RunConfig(ema_decay=0.999),
            # "both"-conditioned models (the shipped one) see the instruction without actions in
            # 22.5% of steps: enough for instruction-prompted generation without actions.
            action_dropout=0.25,
        ),
    )


def _gpu() -> Preset:
    autoencoder = AutoencoderConfig(
        image_size=128, latent_channels=16, channels=(64, 128, 256, 256), blocks_per_level=(1, 2, 2, 2)
    )
    run = RunConfig(bf16=True, checkpoint_every=2000)
    world_model_run = RunConfig(bf16=True, checkpoint_every=2000, ema_decay=0.9999)
    return Preset(
        name="gpu",
        description="GPUs: 128 px frames, 8x8x16 latents with patch 1, ~60M-parameter world model, bf16",
        autoencoder=AutoencoderTrainingConfig(
            model=autoencoder, steps=50_000, batch_size=128, optimizer=OptimizerConfig(learning_rate=2e-4), run=run
        ),
        world_model=WorldModelTrainingConfig(
            model=_world_model_for(
                autoencoder, patch_size=1, width=512, depth=12, num_heads=8, max_context_frames=16, future_frames=4
            ),
            steps=200_000,
            batch_size=64,
            optimizer=OptimizerConfig(learning_rate=1e-4, warmup_steps=2000),
            # Batch 32 at a 16-frame context took 45 GiB on an H200 without it; recomputing the
            # blocks halves the peak of a step (0.48x, measured on the CPU at batch 2), so batch 64
            # should fit an 80 GB card (docs/benchmarks.md; not yet measured on a GPU).
            activation_checkpointing=True,
            run=world_model_run,
        ),
    )


PRESETS = {"tiny": _tiny, "cpu": _cpu, "gpu": _gpu}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; a ``ConfigError`` suggests the closest name on a typo."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown preset {name!r}{hint}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]()
