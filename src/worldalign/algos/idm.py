"""Train and evaluate the inverse dynamics model (EVA's IDM) on a recorded episode dataset.

Reads top to bottom: the config, the loss, the evaluation against the mean-action baseline,
the training loop (AdamW, progress bar, TensorBoard scalars, checkpoint folders, exact resume).

EVA ("Executable Video Alignment"; see ``rewards/executability.py``) trains its IDM on real
robot trajectories; here: one or more ``worldalign data generate`` datasets (e.g. the same
tasks at several action-noise levels, so the model sees both smooth and jittery motion), each
split by episode (the last ``held_out_fraction`` of each task's episodes are held out) so the
evaluation sees scenes the model never saw. Every dataset fills an equal share of each batch.
With ``IDMConfig.state_dims`` the model also learns the displacement of those dimensions of the
dataset's ``observation.state`` (Meta-World: the hand's xyz), the loss being the sum of the two
normalised losses; the executability reward scores the decoded end-effector trajectory. With
``init_from``, an action-only IDM is loaded and frozen and only the state head trains.
Run folder::

    OUT/config.json                the resolved training config
    OUT/checkpoints/step_NNNNNNN   model + config + training state (resumable)
    OUT/model                      the final model (weights + config)
    OUT/eval.json                  held-out MAE per dimension (actions, and state displacements
                                   with a state head) and gripper accuracy vs the baseline:
                                   the first dataset's at the top level, the others' under
                                   ``other_datasets``
    OUT/tensorboard/               training scalars
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from worldalign.algos.training_run import (
    adamw,
    default_device,
    load_training_checkpoint,
    optimizer_step,
    restore_newest,
    save_training_checkpoint,
)
from worldalign.configs.idm import IDMTrainingConfig
from worldalign.data import lerobot_format as fmt
from worldalign.data.clips import ClipSampler, split_episodes
from worldalign.data.frame_cache import FrameCache
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.stats import Normalizer
from worldalign.data.types import ClipBatch
from worldalign.errors import ConfigError
from worldalign.models.checkpoint import load_model, write_checkpoint
from worldalign.models.idm import IDMConfig, InverseDynamicsModel
from worldalign.runs.layout import FINAL_MODEL_DIR, IDM_EVAL_FILE, TENSORBOARD_DIR, TRAIN_CONFIG_FILE
from worldalign.runs.side_files import dataset_action_normalizer
from worldalign.utils.atomic import atomic_write_json
from worldalign.utils.config_serialization import config_to_dict

logger = logging.getLogger(__name__)



def strided_windows(
    clip: ClipBatch, strides: Tensor, config: IDMConfig, normalizer: Normalizer, max_stride: int
) -> tuple[Tensor, Tensor]:
    """IDM windows and their targets cut from clips of ``(window - 1) * max_stride + 1`` frames.

    Sample ``b`` takes the frames ``stride_b`` apart around the clip's centre frame
    ``c = past_frames * max_stride``; its target is the action leaving frame ``c`` with, for
    every dimension but the gripper, the sum of the ``stride_b`` actions from ``c`` (the
    displacement those frames show).

    Returns:
        windows ``(B, V, K, 3, H, W)`` and targets ``(B, A)`` in action units.
    """
    centre = config.past_frames * max_stride
    offsets = torch.arange(-config.past_frames, config.future_frames + 1)  # (K,)
    frame_index = centre + strides[:, None] * offsets[None, :]  # (B, K)
    rows = torch.arange(len(strides))
    windows = clip.frames[rows[:, None], :, frame_index].permute(0, 2, 1, 3, 4, 5)  # (B, V, K, 3, H, W)
    actions = normalizer.unnormalize(fmt.ACTION, clip.actions)  # (B, clip length - 1, A)
    steps = torch.arange(max_stride)
    covered = (steps[None, :] < strides[:, None]).to(actions.dtype)  # (B, max_stride)
    target = torch.einsum("bs,bsa->ba", covered, actions[:, centre : centre + max_stride])
    if config.gripper_index is not None:
        target[:, config.gripper_index] = actions[:, centre, config.gripper_index]
    return windows, target


def state_displacements(
    cache: FrameCache, clip: ClipBatch, strides: Tensor, config: IDMConfig, max_stride: int
) -> Tensor:
    """The displacement ``state[c + stride_b] - state[c]`` of ``config.state_dims`` for the
    windows ``strided_windows`` cuts from ``clip`` (``c`` its centre frame): what the frames of
    sample ``b`` show the hand doing, in the state's units, ``(B, S)``."""
    position = np.searchsorted(cache.episode_index, clip.episode_index.numpy())  # cached episode of each clip
    centre = cache.offsets[position] + clip.start_frame.numpy() + config.past_frames * max_stride
    dims = list(config.state_dims)
    after = cache.state[centre + strides.numpy()][:, dims]
    return torch.from_numpy(after - cache.state[centre][:, dims])


def one_step_state_displacements(cache: FrameCache, state_dims: tuple[int, ...]) -> Tensor:
    """Every ``state[t + 1] - state[t]`` of ``state_dims`` within the cached episodes ``(M, S)``."""
    inside = np.ones(cache.num_frames - 1, dtype=bool)
    inside[cache.offsets[1:-1] - 1] = False  # no displacement across an episode boundary
    state = cache.state[:, list(state_dims)]
    return torch.from_numpy(np.diff(state, axis=0)[inside])


def idm_loss(
    model: InverseDynamicsModel, windows: Tensor, target: Tensor, state_target: Tensor | None = None
) -> Tensor:
    """Smooth-L1 between predicted and target actions, in the model's normalised units; with a
    state head, plus the same loss on the state displacements (``state_target (B, S)``)."""
    outputs = model(windows)
    action_dim = model.config.action_dim
    loss = F.smooth_l1_loss(outputs[:, :action_dim], model.to_normalized(target), beta=0.1)
    if model.has_state_head:
        if state_target is None:
            raise ConfigError("idm_loss: the IDM has a state head (IDMConfig.state_dims); pass state_target")
        loss = loss + F.smooth_l1_loss(outputs[:, action_dim:], model.state_to_normalized(state_target), beta=0.1)
    return loss


# --------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class IDMEvaluation:
    """Held-out accuracy of the IDM and of the mean-action baseline.

    Attributes:
        mae: per action dimension, mean absolute error of the IDM (action units).
        baseline_mae: the same for always predicting the training set's mean action.
        gripper_accuracy: fraction of windows with a non-zero gripper effort whose sign is right
            (None when the model has no gripper dimension or no window commands one).
        baseline_gripper_accuracy: the same for the baseline's constant sign.
        windows: number of held-out windows evaluated.
        episodes: the held-out episode indices.
        state_dims: the ``observation.state`` dimensions of the model's state head.
        state_mae: per dimension of ``state_dims``, mean
            absolute error of the predicted displacement ``state[t+1] - state[t]`` (state units);
            empty without a state head.
        baseline_state_mae: the same for always predicting the training set's mean displacement.
    """

    mae: list[float]
    baseline_mae: list[float]
    gripper_accuracy: float | None
    baseline_gripper_accuracy: float | None
    windows: int
    episodes: list[int]
    state_dims: list[int] = field(default_factory=list)
    state_mae: list[float] = field(default_factory=list)
    baseline_state_mae: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "mae": self.mae,
            "baseline_mae": self.baseline_mae,
            "mae_ratio": [m / b if b > 0 else None for m, b in zip(self.mae, self.baseline_mae, strict=True)],
            "gripper_accuracy": self.gripper_accuracy,
            "baseline_gripper_accuracy": self.baseline_gripper_accuracy,
            "windows": self.windows,
            "episodes": self.episodes,
            "state_dims": self.state_dims,
            "state_mae": self.state_mae,
            "baseline_state_mae": self.baseline_state_mae,
        }


@torch.no_grad()
def evaluate_idm(
    model: InverseDynamicsModel,
    dataset: LeRobotDataset,
    episodes: list[int],
    baseline_action: Tensor,
    *,
    batch_size: int = 128,
    progress: bool = True,
) -> IDMEvaluation:
    """MAE per dimension and gripper sign accuracy on every window of ``episodes``, for the
    model and for the constant ``baseline_action (A,)``; with a state head, the MAE of the state
    displacements too, the baseline being the model's stored mean displacement."""
    model.eval()
    config = model.config
    check_state_dims(dataset, config)
    normalizer = dataset_action_normalizer(dataset)
    sampler = _window_sampler(dataset, config, normalizer, batch_size, episodes, seed=0, max_stride=1)
    device = model.action_mean.device
    errors, baseline_errors, signs_right, count = 0.0, 0.0, 0.0, 0
    state_errors, baseline_state_errors = torch.zeros(len(config.state_dims)), torch.zeros(len(config.state_dims))
    baseline_signs_right, gripper_count = 0.0, 0
    total = -(-sampler.num_windows // batch_size)
    for clip in tqdm(sampler.all_windows(), total=total, desc="evaluating IDM", disable=not progress, leave=False):
        strides = torch.ones(len(clip.tasks), dtype=torch.long)
        windows, target = strided_windows(clip, strides, config, normalizer, 1)
        target = target.to(device)
        predicted, predicted_state = model.predict_with_state(windows.to(device))
        errors = errors + (predicted - target).abs().sum(0)
        baseline_errors = baseline_errors + (baseline_action.to(device) - target).abs().sum(0)
        if model.has_state_head:
            state_target = state_displacements(sampler.cache, clip, strides, config, 1).to(device)
            state_errors += (predicted_state - state_target).abs().sum(0).cpu()
            baseline_state_errors += (model.state_mean - state_target).abs().sum(0).cpu()
        if config.gripper_index is not None:
            g = config.gripper_index
            # A zero effort (an expert that leaves the gripper alone) has no sign to get right.
            commanded = target[:, g] != 0
            truth = torch.sign(target[commanded, g])
            signs_right += float((torch.sign(predicted[commanded, g]) == truth).sum())
            baseline_signs_right += float((torch.sign(baseline_action[g].to(device)) == truth).sum())
            gripper_count += int(commanded.sum())
        count += len(target)
    with_gripper = config.gripper_index is not None
    return IDMEvaluation(
        mae=(errors / count).tolist(),
        baseline_mae=(baseline_errors / count).tolist(),
        gripper_accuracy=signs_right / gripper_count if with_gripper and gripper_count else None,
        baseline_gripper_accuracy=baseline_signs_right / gripper_count if with_gripper and gripper_count else None,
        windows=count,
        episodes=list(episodes),
        state_dims=list(config.state_dims),
        state_mae=(state_errors / count).tolist(),
        baseline_state_mae=(baseline_state_errors / count).tolist(),
    )


# --------------------------------------------------------------------------------------------
# Training


def _window_sampler(
    dataset: LeRobotDataset,
    config: IDMConfig,
    normalizer: Normalizer,
    batch_size: int,
    episodes: list[int],
    seed: int,
    max_stride: int,
) -> ClipSampler:
    """Clips long enough for windows of frames up to ``max_stride`` steps apart."""
    missing = [view for view in config.views if view not in dataset.views]
    if missing:
        raise ConfigError(
            f"{dataset.root}: the IDM needs views {list(config.views)}; the dataset has {list(dataset.views)}"
        )
    size = dataset.image_size(config.views[0])
    if size != (config.image_size, config.image_size):
        raise ConfigError(
            f"{dataset.root}: frames are {size[0]}x{size[1]}, the IDM expects {config.image_size}x{config.image_size}"
        )
    return ClipSampler(
        dataset,
        context_frames=config.past_frames * max_stride + 1,
        future_frames=config.future_frames * max_stride,
        batch_size=batch_size,
        normalizer=normalizer,
        seed=seed,
        views=config.views,
        episodes=episodes,
    )


def check_state_dims(dataset: LeRobotDataset, config: IDMConfig) -> None:
    """``ConfigError`` unless every ``config.state_dims`` index is inside the dataset's state."""
    outside = [dim for dim in config.state_dims if dim >= dataset.state_dim]
    if outside:
        raise ConfigError(
            f"{dataset.root}: IDMConfig.state_dims={config.state_dims} (--state-dims) but its "
            f"{fmt.STATE} has {dataset.state_dim} dimension(s); expected indices 0..{dataset.state_dim - 1}"
            + (" (record the state, or pass --state-dims none)" if dataset.state_dim == 0 else "")
        )


def split_dataset(dataset: LeRobotDataset, held_out_fraction: float) -> tuple[list[int], list[int]]:
    """(train, held-out) episode indices, by task (``data.clips.split_episodes``)."""
    return split_episodes(dataset.task_names, held_out_fraction=held_out_fraction)


def _training_datasets(
    datasets: list[LeRobotDataset], config: IDMTrainingConfig
) -> tuple[IDMTrainingConfig, list[tuple[LeRobotDataset, list[int], list[int]]]]:
    """The config with the data's action and frame sizes, and each dataset's (train, held-out) episodes."""
    first = datasets[0]
    # The data fixes the action size and the frame size; the config fixes everything else.
    known_view = next((view for view in config.model.views if view in first.views), None)
    image_size = first.image_size(known_view)[0] if known_view is not None else config.model.image_size
    config = replace(config, model=replace(config.model, action_dim=first.action_dim, image_size=image_size))
    splits = []
    for dataset in datasets:
        if dataset.action_dim != first.action_dim:
            raise ConfigError(
                f"{dataset.root}: actions have {dataset.action_dim} dimensions, {first.root} {first.action_dim}"
            )
        check_state_dims(dataset, config.model)
        train_episodes, held_out = split_dataset(dataset, config.held_out_fraction)
        if not held_out:
            raise ConfigError(
                f"{dataset.root}: no held-out episode with held_out_fraction={config.held_out_fraction}; "
                "record at least 2 episodes per task or raise the fraction"
            )
        splits.append((dataset, train_episodes, held_out))
    return config, splits


def train_idm(
    dataset_roots: str | Path | list[str | Path],
    out: str | Path,
    config: IDMTrainingConfig | None = None,
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    resume: bool = True,
) -> tuple[InverseDynamicsModel, list[IDMEvaluation]]:
    """Train an IDM on the training episodes of ``dataset_roots`` (one dataset or several, each
    filling an equal share of every batch), evaluate it on each dataset's held-out episodes.

    With ``resume``, a run continues bit-exactly from the newest checkpoint in ``out``. Writes
    the run folder described in the module docstring; returns the model and one evaluation
    per dataset, in the order given.
    """
    config = config or IDMTrainingConfig()
    out = Path(out)
    device = torch.device(device) if device is not None else default_device()
    roots = [dataset_roots] if isinstance(dataset_roots, (str, Path)) else list(dataset_roots)
    if not roots or config.batch_size < len(roots):
        raise ConfigError(f"{len(roots)} datasets and batch_size={config.batch_size}; expected 1..batch_size datasets")
    config, splits = _training_datasets([LeRobotDataset(root) for root in roots], config)
    if config.max_frame_stride < 1 or not 0 <= config.strided_fraction <= 1:
        raise ConfigError(
            f"max_frame_stride={config.max_frame_stride}, strided_fraction={config.strided_fraction}; "
            "expected >= 1 and within [0, 1]"
        )
    max_stride = config.max_frame_stride
    # Dataset i contributes shares[i] windows to every batch (the remainder goes to the first ones).
    shares = [config.batch_size // len(splits) + (i < config.batch_size % len(splits)) for i in range(len(splits))]
    normalizers = [dataset_action_normalizer(dataset) for dataset, _, _ in splits]
    samplers = [
        _window_sampler(dataset, config.model, normalizer, share, train_episodes, config.seed, max_stride)
        for (dataset, train_episodes, _), normalizer, share in zip(splits, normalizers, shares, strict=True)
    ]
    model = _new_model(config, samplers, normalizers, device)
    optimizer = adamw(model, config.optimizer)
    rng = np.random.default_rng(config.seed)
    step = 0

    def restore(checkpoint: Path) -> None:
        nonlocal step
        tensors, info = load_training_checkpoint(checkpoint, model, optimizer)
        torch.set_rng_state(tensors["rng.torch"])
        rng.bit_generator.state = info["sampler_rng"]
        step = int(info["step"])
        logger.info("resumed from %s (step %d)", checkpoint, step)

    if resume:
        restore_newest(out, restore)
    atomic_write_json(out / TRAIN_CONFIG_FILE, config_to_dict(config))

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out / TENSORBOARD_DIR), purge_step=step + 1 if step else None)
    bar = tqdm(total=config.steps, initial=step, desc="training IDM", disable=not progress, dynamic_ncols=True)
    model.train()
    while step < config.steps:
        parts = [
            _training_windows(sampler, normalizer, config, rng)
            for sampler, normalizer in zip(samplers, normalizers, strict=True)
        ]
        windows, target = torch.cat([w for w, _, _ in parts]), torch.cat([t for _, t, _ in parts])
        state_target = torch.cat([d for _, _, d in parts]).to(device) if model.has_state_head else None
        loss = idm_loss(model, windows.to(device), target.to(device), state_target)
        grad_norm = optimizer_step(model, optimizer, loss, step, config.steps, config.optimizer)
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if step % config.log_every == 0 or step == config.steps:
            writer.add_scalar("train/loss", loss.item(), step)
            writer.add_scalar("train/grad_norm", grad_norm, step)
            writer.add_scalar("train/lr", optimizer.param_groups[0]["lr"], step)
        if step % config.checkpoint_every == 0 or step == config.steps:
            save_training_checkpoint(
                out,
                step,
                model,
                optimizer,
                tensors={"rng.torch": torch.get_rng_state()},
                info={"sampler_rng": rng.bit_generator.state},
                keep=config.keep_checkpoints,
            )
    bar.close()
    write_checkpoint(out / FINAL_MODEL_DIR, model)  # type: ignore[arg-type]

    baseline = model.action_mean.detach().cpu()  # the training mean (init_from: the loaded model's)
    evaluations = [
        evaluate_idm(model, dataset, held_out, baseline, progress=progress) for dataset, _, held_out in splits
    ]
    _log_evaluation(writer, evaluations[0], step)  # TensorBoard: the first dataset; eval.json: all
    writer.close()
    results = [
        {"dataset": str(dataset.root), **each.as_json()}
        for (dataset, _, _), each in zip(splits, evaluations, strict=True)
    ]
    atomic_write_json(out / IDM_EVAL_FILE, {**results[0], **({"other_datasets": results[1:]} if len(results) > 1 else {})})
    return model, evaluations


def _new_model(
    config: IDMTrainingConfig, samplers: list[ClipSampler], normalizers: list[Normalizer], device: torch.device
) -> InverseDynamicsModel:
    """A fresh IDM whose output units are the training actions' mean and std over all datasets
    (and the one-step state displacements', with a state head), or ``config.init_from``'s."""
    train_actions = torch.cat(
        [
            torch.from_numpy(normalizer.unnormalize(fmt.ACTION, sampler.cache.actions)).float()
            for sampler, normalizer in zip(samplers, normalizers, strict=True)
        ]
    )
    torch.manual_seed(config.seed)
    model = InverseDynamicsModel(config.model).to(device)
    model.set_action_statistics(train_actions.mean(0), train_actions.std(0))
    if model.has_state_head:
        displacements = torch.cat([one_step_state_displacements(s.cache, config.model.state_dims) for s in samplers])
        model.set_state_statistics(displacements.mean(0), displacements.std(0))
    if config.init_from is not None:
        load_frozen_action_model(model, config.init_from)
    return model


def _log_evaluation(writer: Any, evaluation: IDMEvaluation, step: int) -> None:
    """The held-out errors (and their mean-action baselines) per dimension, to TensorBoard."""
    for index, (mae, base) in enumerate(zip(evaluation.mae, evaluation.baseline_mae, strict=True)):
        writer.add_scalar(f"eval/mae_dim{index}", mae, step)
        writer.add_scalar(f"eval/baseline_mae_dim{index}", base, step)
    for index, (mae, base) in enumerate(zip(evaluation.state_mae, evaluation.baseline_state_mae, strict=True)):
        writer.add_scalar(f"eval/state_mae_dim{evaluation.state_dims[index]}", mae, step)
        writer.add_scalar(f"eval/baseline_state_mae_dim{evaluation.state_dims[index]}", base, step)
    if evaluation.gripper_accuracy is not None:
        writer.add_scalar("eval/gripper_accuracy", evaluation.gripper_accuracy, step)


def load_frozen_action_model(model: InverseDynamicsModel, folder: str | Path) -> None:
    """Load the action-only IDM in ``folder`` into ``model`` (encoder, action head, action
    statistics) and freeze those: only ``model``'s state head (``state_encoder``, ``state_head``)
    is left to train."""
    if not model.has_state_head:
        raise ConfigError(f"init_from={folder}: only a state head can be trained on a frozen IDM; set state_dims")
    source = load_model(InverseDynamicsModel, Path(folder))
    if source.has_state_head or replace(source.config, state_dims=model.config.state_dims) != model.config:
        raise ConfigError(
            f"init_from={folder}: expected an action-only IDM shaped like the one trained here "
            f"({replace(model.config, state_dims=())}); it has {source.config}"
        )
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    assert not unexpected and all(name.startswith(("state_head.", "state_")) for name in missing), missing
    for module in (model.encoder, model.head):
        module.requires_grad_(False)


def _training_windows(
    sampler: ClipSampler, normalizer: Normalizer, config: IDMTrainingConfig, rng: np.random.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """One dataset's share of a training batch: windows, a ``strided_fraction`` of them with
    frames 2 .. ``max_frame_stride`` apart, their action targets (``strided_windows``) and
    their state displacements (``state_displacements``; ``(B, 0)`` without state dims)."""
    max_stride = config.max_frame_stride
    clip = sampler.sample(rng)
    strides = np.ones(sampler.batch_size, dtype=np.int64)
    if max_stride > 1:
        strided = rng.random(sampler.batch_size) < config.strided_fraction
        strides[strided] = rng.integers(2, max_stride + 1, int(strided.sum()))
    strides_tensor = torch.from_numpy(strides)
    windows, target = strided_windows(clip, strides_tensor, config.model, normalizer, max_stride)
    state = state_displacements(sampler.cache, clip, strides_tensor, config.model, max_stride)
    return windows, target, state

