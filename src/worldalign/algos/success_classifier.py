"""Train the success classifier on the simulator's own labels (a few minutes on the CPU).

Every frame of a ``worldalign data generate`` dataset carries Meta-World's per-step success flag
(``privileged["success"]``), so success can be learnt as plain supervised classification,
frames of one instant (all views) -> flag. WorldGym (ICLR 2026) judges success in its world
model's videos with a VLM; a simulator gives exact labels for free, which is what this module
uses. The classifier is applied to frames the world model generated, which are always decoded
by its autoencoder; with ``autoencoder`` given, training frames go through the same
``decode(encode(x))`` first, so the classifier learns on the blur it will be read on.

Episodes are split as every trainer of the house splits them (``data.clips.split_episodes``:
the last ``held_out`` fraction of each task's episodes), and the held-out frames give the
numbers written to ``OUT/training.json``: frame accuracy, balanced accuracy, and the episode
agreement (the classifier's "some frame succeeded" vs the episode's ``success`` flag).
Output folder: ``config.json`` + ``model.safetensors`` (a checkpoint ``load_model`` reads) and
``training.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from worldalign.configs.success import SuccessTrainingConfig
from worldalign.data.clips import split_episodes
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.pixels import to_pixels, to_unit_range
from worldalign.data.selection import check_image_size, select_views
from worldalign.errors import ConfigError, DatasetError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.checkpoint import write_checkpoint
from worldalign.models.success import SuccessClassifier, SuccessClassifierConfig
from worldalign.runs.layout import SUCCESS_TRAINING_FILE
from worldalign.utils.atomic import atomic_write_json

SUCCESS_FIELD = "success"


@dataclass
class _Frames:
    """Instants of several episodes: ``pixels (N, V, H, W, 3)`` uint8, ``labels (N,)``, ``episode (N,)``."""

    pixels: np.ndarray
    labels: np.ndarray
    episode: np.ndarray


def _read_frames(
    dataset: LeRobotDataset, episodes: Sequence[int], views: Sequence[str], autoencoder: Autoencoder | None
) -> _Frames:
    pixels, labels, owners = [], [], []
    for index in tqdm(episodes, desc="reading frames", leave=False):
        episode = dataset.episode(index, views)
        if SUCCESS_FIELD not in episode.privileged:
            raise DatasetError(
                f"{dataset.root}: episode {index} has no per-step 'observation.privileged.{SUCCESS_FIELD}' column "
                "(the simulator's success flag); the success classifier trains on datasets from "
                "`worldalign data generate`"
            )
        frames = np.moveaxis(episode.frames, 1, 0)  # (T, V, H, W, 3)
        if autoencoder is not None:
            with torch.no_grad():
                # (1, V, T, 3, H, W) through the autoencoder: the frames a world model's decoder makes.
                unit = to_unit_range(episode.frames).unsqueeze(0)
                frames = to_pixels(autoencoder.decode(autoencoder.encode(unit))[0]).movedim(1, 0).numpy()
        pixels.append(frames)
        labels.append(episode.privileged[SUCCESS_FIELD][:, 0] > 0.5)
        owners.append(np.full(len(frames), index))
    return _Frames(np.concatenate(pixels), np.concatenate(labels), np.concatenate(owners))


@torch.no_grad()
def success_probabilities(classifier: SuccessClassifier, pixels: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``(N, V, H, W, 3)`` uint8 instants -> ``(N,)`` success probabilities."""
    device = next(classifier.parameters()).device
    out = [
        classifier.probability(to_unit_range(pixels[start : start + batch_size]).to(device)).cpu()
        for start in range(0, len(pixels), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def _held_out_numbers(probabilities: np.ndarray, frames: _Frames, threshold: float) -> dict[str, Any]:
    predicted = probabilities >= threshold
    truth = frames.labels
    recalls = [float((predicted[truth == value] == value).mean()) for value in (True, False) if (truth == value).any()]
    episodes = sorted(set(frames.episode.tolist()))
    agree = [bool(predicted[frames.episode == e].any()) == bool(truth[frames.episode == e].any()) for e in episodes]
    return {
        "frames": int(len(truth)),
        "positive_fraction": float(truth.mean()) if len(truth) else float("nan"),
        "accuracy": float((predicted == truth).mean()) if len(truth) else float("nan"),
        "balanced_accuracy": float(np.mean(recalls)) if recalls else float("nan"),
        "episodes": len(episodes),
        "episode_agreement": float(np.mean(agree)) if agree else float("nan"),
    }


def train_success_classifier(
    dataset: LeRobotDataset,
    out: Path,
    *,
    views: Sequence[str] | None = None,
    config: SuccessTrainingConfig = SuccessTrainingConfig(),
    model_config: SuccessClassifierConfig | None = None,
    autoencoder: Autoencoder | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a ``SuccessClassifier`` on ``dataset``'s per-step success flags and write it to ``out``.

    Args:
        dataset: a recorded dataset whose episodes carry ``privileged["success"]``.
        out: the checkpoint folder to write (``config.json``, ``model.safetensors``, ``training.json``).
        views: the views to read, in the world model's order (default: all of the dataset's).
        config: the training settings.
        model_config: the classifier's shape (default: ``SuccessClassifierConfig`` with the
            dataset's views and frame size).
        autoencoder: when given, training frames are its reconstructions (see the module docstring).
        progress: show progress bars.

    Returns:
        What ``training.json`` holds: the configs, the episodes, and the held-out numbers.
    """
    if config.steps < 1 or config.batch_size < 1:
        raise ConfigError(f"steps={config.steps}, batch_size={config.batch_size}: expected each >= 1")
    chosen = select_views(dataset, views)
    size = dataset.image_size(chosen[0])[0]
    if model_config is None:
        model_config = SuccessClassifierConfig(views=chosen, image_size=size)
    if tuple(model_config.views) != chosen:
        raise ConfigError(f"model_config.views={model_config.views} differ from the views read {chosen}")
    check_image_size(dataset, chosen, model_config.image_size, "the success classifier")
    train, held = split_episodes(dataset.task_names, held_out_fraction=config.held_out)
    if config.max_episodes_per_task is not None:
        per_task: dict[str, list[int]] = {}
        for index in train:
            per_task.setdefault(dataset.episode_task(index), []).append(index)
        train = sorted(i for indices in per_task.values() for i in indices[: config.max_episodes_per_task])
    torch.manual_seed(config.seed)
    frames = _read_frames(dataset, train, chosen, autoencoder)
    positives = int(frames.labels.sum())
    if positives == 0 or positives == len(frames.labels):
        raise DatasetError(
            f"{dataset.root}: the {len(frames.labels)} training frames are all "
            f"{'successful' if positives else 'unsuccessful'}; a classifier needs both kinds"
        )
    model = SuccessClassifier(model_config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    # Weighting the positives by the class ratio keeps a task that is mostly solved (or mostly
    # not) from teaching the classifier a constant answer.
    pos_weight = torch.tensor((len(frames.labels) - positives) / positives)
    labels = torch.from_numpy(frames.labels.astype(np.float32))
    rng = np.random.default_rng(config.seed)
    losses: list[float] = []
    model.train()
    for _ in tqdm(range(config.steps), desc="training success classifier", disable=not progress):
        picks = rng.integers(0, len(labels), size=config.batch_size)
        batch: Tensor = to_unit_range(frames.pixels[picks])
        loss = F.binary_cross_entropy_with_logits(model(batch), labels[picks], pos_weight=pos_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    report: dict[str, Any] = {
        "dataset": str(dataset.root),
        "views": list(chosen),
        "training": asdict(config),
        "through_autoencoder": autoencoder is not None,
        "train_episodes": train,
        "held_out_episodes": held,
        "train_frames": int(len(labels)),
        "train_positive_fraction": positives / len(labels),
        "final_loss": float(np.mean(losses[-50:])),
    }
    if held:
        held_frames = _read_frames(dataset, held, chosen, autoencoder)
        probabilities = success_probabilities(model, held_frames.pixels)
        report["held_out"] = _held_out_numbers(probabilities, held_frames, config.threshold)
    write_checkpoint(out, model)
    atomic_write_json(Path(out) / SUCCESS_TRAINING_FILE, report)
    return report
