"""Supervised fine-tuning of the VLA policy (RoboAlign's SFT stage, before GRPO).

Reads top to bottom: the samples cut from a dataset's episodes (``build_sft_samples``), the
resumable batch source (``SampleBatches``), the config sized for the dataset and the FAST tokenizer
(``vla_sft_config``), and the loop (``train_vla_sft``) driven by ``algos.training_run.TrainingRun``
(AdamW + warmup/cosine, clipping, checkpoints, exact resume, TensorBoard, progress bar, a NaN loss
stops the run before anything of that step is saved).

One sample is one step ``t`` of one episode: the views at ``t``, the instruction, the
``observation.state``, the reasoning text of ``data.reasoning_text`` and, for the next chunk of
``H`` actions ``t .. t + H - 1`` normalised with the dataset's statistics, its FAST ids
(arXiv:2501.09747) as token targets and the chunk itself as the flow head's target (pi0,
arXiv:2410.24164). Steps whose chunk would run past the episode's end are not samples. A seeded
fraction ``release_keep`` of the ``release``-phase steps is kept (``configs.vla_sft``).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from worldalign.algos.training_run import TrainingResult, TrainingRun, default_device
from worldalign.configs.vla_sft import VLASFTConfig
from worldalign.data.action_chunks import dataset_action_chunks
from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.reasoning_text import PHASES, episode_phases, reasoning_text
from worldalign.data.selection import check_image_size
from worldalign.errors import ConfigError
from worldalign.models.vla import VLASample, new_vla_policy
from worldalign.runs.layout import run_folder_of, run_tokenizer_folder
from worldalign.runs.side_files import dataset_action_normalizer

# --------------------------------------------------------------------------------------------
# Samples


@dataclass
class SFTSamples:
    """The samples of a dataset and how they were chosen.

    Attributes:
        samples: one ``VLASample`` per kept step.
        phases: the phase of each sample.
        available: steps of each phase before the ``release`` subsampling.
    """

    samples: list[VLASample]
    phases: list[str]
    available: dict[str, int]

    def kept(self) -> dict[str, int]:
        """Samples of each phase."""
        counts = Counter(self.phases)
        return {phase: counts.get(phase, 0) for phase in PHASES}


def load_sft_tokenizer(folder: str | os.PathLike[str], dataset: LeRobotDataset) -> FastActionTokenizer:
    """The FAST tokenizer of ``folder``, checked to be fitted on ``dataset`` (same action dimension
    and statistics): a ``ConfigError`` naming its ``fast_config.json`` and the expected value."""
    return FastActionTokenizer.load(folder, normalizer=dataset_action_normalizer(dataset))


def build_sft_samples(
    dataset: LeRobotDataset, tokenizer: FastActionTokenizer, views: Sequence[str], release_keep: float, seed: int
) -> SFTSamples:
    """Every step of every episode whose next ``tokenizer.horizon`` actions lie inside the episode,
    with ``release`` steps kept with probability ``release_keep`` (seeded by ``seed``).

    A ``DatasetError`` naming the episode, frame and dimension for a NaN action
    (``dataset_action_chunks``) or when the episodes carry no privileged state (no reasoning).
    """
    horizon = tokenizer.horizon
    chunks = dataset_action_chunks(dataset, tokenizer.normalizer, horizon)  # checks every action is finite
    ids = tokenizer.encode_batch(chunks)
    rng = np.random.default_rng([seed, 0x5F7])
    result = SFTSamples([], [], {phase: 0 for phase in PHASES})
    row = 0
    for episode in dataset.iter_episodes(views=views):
        windows = episode.length - horizon + 1
        if windows < 1:
            continue
        phases = episode_phases(episode)
        for t in range(windows):
            result.available[phases[t]] += 1
            keep = phases[t] != "release" or rng.random() < release_keep
            if keep:
                result.samples.append(
                    VLASample(
                        frames=episode.frames[:, t],
                        instruction=episode.instruction,
                        state=episode.state[t],
                        reasoning=reasoning_text(episode, t, horizon),
                        fast_ids=ids[row + t],
                        actions=chunks[row + t],
                    )
                )
                result.phases.append(phases[t])
        row += windows
    return result


class SampleBatches:
    """Lists of ``batch_size`` samples, each pass over the samples in a new seeded order (the last
    partial batch of a pass is dropped); ``state_dict`` / ``load_state_dict`` make a resumed run
    draw exactly the batches an uninterrupted one would (``algos.training_run``). SFT collates
    them into ``VLABatch``es; GRPO generates completions for them."""

    def __init__(self, samples: Sequence[VLASample], batch_size: int, seed: int) -> None:
        if len(samples) < batch_size:
            raise ConfigError(
                f"{len(samples)} sample(s) for a batch size of {batch_size}; expected at least one batch "
                "(a larger dataset, a smaller batch size, or a shorter tokenizer horizon)"
            )
        self.samples = samples
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self.position = 0

    def _order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.samples))

    def __iter__(self) -> Iterator[list[VLASample]]:
        while True:
            order = self._order(self.epoch)
            while self.position + self.batch_size <= len(order):
                chosen = order[self.position : self.position + self.batch_size]
                self.position += self.batch_size
                yield [self.samples[i] for i in chosen]
            self.epoch, self.position = self.epoch + 1, 0

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


# --------------------------------------------------------------------------------------------
# Config and loop


def vla_sft_config(base: VLASFTConfig, dataset: LeRobotDataset, tokenizer: FastActionTokenizer) -> VLASFTConfig:
    """``base`` with the policy sized for the data: the dataset's views (at the frame
    autoencoder's size) and state, the tokenizer's horizon, action dimension and vocabulary."""
    views = tuple(view for view in base.model.views if view in dataset.views)
    if views != base.model.views:
        raise ConfigError(
            f"{dataset.root} has views {list(dataset.views)}; the VLA reads {list(base.model.views)} "
            "(VLAConfig.views): generate the dataset with those views"
        )
    check_image_size(dataset, views, base.model.image_size, "the VLA policy's vision (VLAConfig.image_size)")
    model = dataclasses.replace(
        base.model,
        horizon=tokenizer.horizon,
        action_dim=tokenizer.action_dim,
        action_vocab_size=tokenizer.vocab_size,
        state_dim=dataset.state_dim,
    )
    return dataclasses.replace(base, model=model)


def train_vla_sft(
    config: VLASFTConfig,
    samples: Sequence[VLASample],
    tokenizer: FastActionTokenizer,
    autoencoder: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    resume: bool = True,
) -> TrainingResult:
    """Fine-tune a new policy (``config.model``'s backbone; for ``vision="autoencoder"`` the frame
    autoencoder of the folder ``autoencoder``, unused by a ViT) on ``samples``; write
    ``OUT/model`` and a copy of ``tokenizer`` in ``OUT/fast_tokenizer``. With ``resume``, a run
    finding checkpoints in ``out_dir`` continues from the newest, bit for bit as if never stopped.

    TensorBoard (``OUT/tensorboard``): ``train/loss``, ``token_loss``, ``flow_loss``,
    ``token_accuracy``, ``grad_norm``, ``lr``, ``steps_per_second``. A non-finite loss term is a
    ``TrainingError`` naming the step, raised before the weights change.
    """
    out_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    if (tokenizer.horizon, tokenizer.action_dim) != (config.model.horizon, config.model.action_dim):
        raise ConfigError(
            f"{tokenizer.source}: horizon {tokenizer.horizon}, action_dim {tokenizer.action_dim}; the policy expects "
            f"horizon {config.model.horizon}, action_dim {config.model.action_dim} (vla_sft_config sizes it)"
        )
    torch.manual_seed(config.run.seed)
    policy = new_vla_policy(config.model, autoencoder).to(device)
    data = SampleBatches(samples, config.batch_size, config.run.seed)
    tokenizer.save(run_tokenizer_folder(out_dir))
    run = TrainingRun(policy, config.optimizer, config.run, config.steps, out_dir, data, config, progress, resume)
    result = TrainingResult(step=run.step, resumed_from=run.resumed_from)
    with run:
        for chosen in run.batches():
            policy.train()
            out = policy(policy.processor.collate(chosen).to(device), generator=run.generator)
            terms = {name: out[name] for name in ("token_loss", "flow_loss")}
            scalars = {name: float(value) for name, value in out.items() if name != "loss"}
            scalars["grad_norm"] = run.update(out["loss"], terms=terms)
            scalars["loss"] = float(out["loss"].detach())
            result.losses.append(scalars["loss"])
            run.log(scalars)
            if run.due(config.run.checkpoint_every):
                run.checkpoint()
        result.step = run.step
        result.model_dir = run.finish()
    return result


def load_sft_tokenizer_of_run(model_dir: Path, folder: Path | None = None) -> FastActionTokenizer:
    """The FAST tokenizer ``folder``, or (None) the one the SFT run of ``model_dir`` saved."""
    path = folder if folder is not None else run_tokenizer_folder(run_folder_of(Path(model_dir)))
    return FastActionTokenizer.load(path)
