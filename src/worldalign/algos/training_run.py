"""The machinery every training loop shares: LR schedule, resumable checkpoints, the training run.

Reads top to bottom: AdamW with its warmup + cosine learning-rate schedule, the two functions that write and
read a resumable checkpoint folder (``OUT/checkpoints/step_NNNNNNN``: model, optimizer state and
whatever else the loop needs to resume exactly: RNG states, data position), then ``TrainingRun``,
the generic loop body of ``algos.pretrain`` (AdamW, clipping, checkpoints, exact resume,
TensorBoard, progress bar).

Data protocol of ``TrainingRun``: any iterable of batches, iterated again when exhausted. For an
exact resume, the iterable may also have ``state_dict() -> dict`` (JSON-serialisable) and
``load_state_dict(dict)`` (``ResumableData``): the run saves ``state_dict()`` in every
checkpoint, taken after the checkpoint's last batch was drawn, and calls ``load_state_dict``
before iterating again, so the next batch drawn after a resume is the one the uninterrupted run
would have drawn.

When things go wrong (the README's "What happens when…"):

- a NaN or infinite loss, loss term or gradient norm stops the run with a ``TrainingError``
  naming the step and the term, before the optimizer step (``check_finite``): the weights are
  untouched and nothing of that step is saved, so the newest checkpoint stays the last good
  state, to resume from (e.g. with a lower learning rate). Stopping, not skipping, is the
  default of the trainers users know (a NaN usually means a diverged run or bad data, which
  skipping steps would hide); ``write_checkpoint`` also refuses non-finite weights;
- a resume takes the newest checkpoint that loads (``restore_newest``): one whose files are
  truncated or corrupt is skipped with a warning naming it and why, and the next older one
  (``keep_checkpoints`` are kept) is used.
"""

from __future__ import annotations

import copy
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from tqdm import tqdm

from worldalign.configs.pretrain import OptimizerConfig, RunConfig
from worldalign.errors import CheckpointError, ConfigError, TrainingError
from worldalign.models.checkpoint import (
    STATE_JSON_FILE,
    load_optimizer_state,
    load_weights,
    optimizer_state,
    read_training_state,
    write_checkpoint,
)
from worldalign.runs.layout import (
    CHECKPOINTS_DIR,
    FINAL_MODEL_DIR,
    TENSORBOARD_DIR,
    TRAIN_CONFIG_FILE,
    checkpoint_folder,
    checkpoints_newest_first,
)
from worldalign.utils.atomic import atomic_write_json
from worldalign.utils.config_serialization import config_to_dict

logger = logging.getLogger(__name__)

EMA_PREFIX = "ema."
OPTIMIZER_PREFIX = "optimizer"


def learning_rate(step: int, total_steps: int, config: OptimizerConfig) -> float:
    """Learning rate of (0-based) ``step``: linear warmup, then cosine decay to the minimum."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.learning_rate * (config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine)


def adamw(model: nn.Module, config: OptimizerConfig) -> torch.optim.AdamW:
    """AdamW over ``model``'s parameters with ``config``'s peak rate, betas and weight decay."""
    return torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, betas=config.betas, weight_decay=config.weight_decay
    )


NONFINITE_ADVICE = (
    "stopped before the update: the weights are unchanged and nothing of this step was saved, so the newest "
    "checkpoint in OUT/checkpoints is the last good state; resume from it with a lower learning rate, or check "
    "the data (e.g. meta/stats.json)"
)


def check_finite(where: str, values: Mapping[str, Tensor | float]) -> None:
    """A ``TrainingError`` naming ``where`` (e.g. ``"step 12"``) and every value of ``values``
    (loss terms, gradient norm) that is NaN or infinite."""
    bad = {name: float(value) for name, value in values.items() if not math.isfinite(float(value))}
    if bad:
        terms = ", ".join(f"{name} = {value}" for name, value in bad.items())
        raise TrainingError(f"{where}: non-finite {terms}; {NONFINITE_ADVICE}")


def optimizer_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss: Tensor,
    step: int,
    total_steps: int,
    config: OptimizerConfig,
    terms: Mapping[str, Tensor | float] | None = None,
) -> float:
    """Step ``step`` (0-based) on ``loss``: schedule, backward, clip, update; the norm before clipping.

    A non-finite ``loss``, term of ``terms`` (the loss's parts, for the message) or gradient
    norm is a ``TrainingError`` raised before the weights change (``check_finite``).
    """
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(step, total_steps, config)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip = config.grad_clip if config.grad_clip > 0 else float("inf")
    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
    # Checked after the backward pass, whose norm already waits for the device: no extra sync.
    where = f"step {step + 1} of {total_steps}"
    check_finite(where, {**(terms or {}), "loss": loss.detach()})
    check_finite(where, {"gradient norm": grad_norm})
    optimizer.step()
    return grad_norm


def default_device() -> torch.device:
    """The first CUDA device when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------------------------
# Resumable checkpoint folders


def save_training_checkpoint(
    out_dir: Path,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    tensors: dict[str, Tensor] | None = None,
    info: dict[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write ``out_dir/checkpoints/step_NNNNNNN``; keep only the newest ``keep`` such folders.

    The folder holds the model, the optimizer state, the extra ``tensors`` (RNG states, ...) and
    the JSON ``{"step": step, "optimizer": ..., **info}`` (data position, ...).
    """
    state_tensors, optimizer_info = optimizer_state(optimizer, prefix=OPTIMIZER_PREFIX)
    state_tensors.update(tensors or {})
    folder = checkpoint_folder(out_dir, step)
    state_info = {"step": step, "optimizer": optimizer_info, **(info or {})}
    write_checkpoint(folder, model, state_tensors, state_info)  # type: ignore[arg-type]
    for old in checkpoints_newest_first(out_dir)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def load_training_checkpoint(
    folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Load ``folder``'s weights into ``model`` and its optimizer state into ``optimizer``.

    Returns:
        ``(tensors, info)``: the checkpoint's other tensors and JSON entries (``info["step"]``
        included), for the caller to restore its RNGs and data position.

    Raises:
        CheckpointError: a file of ``folder`` is missing, truncated or corrupt; the training
            state is read first, so ``model`` is only changed once it has been read whole.
    """
    tensors, info = read_training_state(folder)
    missing = [key for key in ("step", "optimizer") if key not in info]
    if missing:
        raise CheckpointError(f"{folder / STATE_JSON_FILE}: field(s) {missing} missing (corrupt training state)")
    load_weights(model, folder)  # type: ignore[arg-type]
    try:
        load_optimizer_state(optimizer, tensors, info["optimizer"], prefix=OPTIMIZER_PREFIX)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{folder}: the optimizer state does not load (corrupt training state): {error!r}") from None
    rest = {name: tensor for name, tensor in tensors.items() if not name.startswith(OPTIMIZER_PREFIX + ".")}
    return rest, {key: value for key, value in info.items() if key != "optimizer"}


def restore_newest(out_dir: str | Path, restore: Callable[[Path], None]) -> Path | None:
    """Call ``restore`` on the newest checkpoint of ``out_dir`` that loads and return it (None
    when there is none: a fresh run).

    A checkpoint whose ``restore`` raises ``CheckpointError`` (a truncated or corrupt file) is
    skipped with a warning naming it and why, and the next older one is tried; ``restore`` must
    overwrite everything an earlier, failed call may have loaded. Other errors (a config that
    does not match) are raised at once: an older checkpoint would not fix them.

    Raises:
        CheckpointError: there are checkpoints, and none of them loads.
    """
    skipped = []
    for folder in checkpoints_newest_first(out_dir):
        try:
            restore(folder)
        except CheckpointError as error:
            logger.warning("resume: skipped checkpoint %s, it does not load: %s", folder, error)
            skipped.append(f"{folder.name}: {error}")
            continue
        if skipped:
            logger.warning("resume: resumed from the older checkpoint %s", folder)
        return folder
    if skipped:
        raise CheckpointError(
            f"no checkpoint of {Path(out_dir) / CHECKPOINTS_DIR} loads ({'; '.join(skipped)}): "
            "run with --no-resume or a new --out to start afresh"
        )
    return None


# --------------------------------------------------------------------------------------------
# The training run


@torch.no_grad()
def ema_update(old: nn.Module, policy: nn.Module, decay: float) -> None:
    """In place: ``old = decay * old + (1 - decay) * policy`` for every parameter and float buffer
    (other buffers are copied). ``policy`` may be DDP-wrapped. Both the weight average of
    pretraining (``RunConfig.ema_decay``) and DiffusionNFT's soft update of the old policy
    (arXiv:2509.16117); decay 0 copies the policy, decay 1 keeps ``old``."""
    if not 0 <= decay <= 1:
        raise ConfigError(f"the EMA decay must be in [0, 1], got {decay}")
    source = getattr(policy, "module", policy)
    for kind, old_tensors, new_tensors in (
        ("parameters", dict(old.named_parameters()), dict(source.named_parameters())),
        ("buffers", dict(old.named_buffers()), dict(source.named_buffers())),
    ):
        if old_tensors.keys() != new_tensors.keys():
            raise ConfigError(f"the old model and the policy have different {kind}; they must share one architecture")
        for name, target in old_tensors.items():
            value = new_tensors[name].to(target.device)
            if target.is_floating_point():
                target.lerp_(value.to(target.dtype), 1.0 - decay)
            else:
                target.copy_(value)


def ema_decay_at(step: int, decay: float) -> float:
    """The weight EMA's decay after ``step`` updates: ``min(decay, (1 + step) / (10 + step))``, so
    the average forgets the random initialisation within the first hundreds of steps."""
    return min(decay, (1 + step) / (10 + step))


def checkpoint_ema_weights(folder: str | Path) -> dict[str, Tensor] | None:
    """The weight EMA stored in a resumable checkpoint folder (what ``TrainingRun.finish`` would
    write as the final model at that step), or ``None`` when the run keeps no EMA."""
    return _ema_entries(read_training_state(folder)[0]) or None


def _ema_entries(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The ``ema.``-prefixed entries of a checkpoint's training-state tensors, prefix removed."""
    return {name[len(EMA_PREFIX) :]: t for name, t in tensors.items() if name.startswith(EMA_PREFIX)}


@runtime_checkable
class ResumableData(Protocol):
    """A data source whose position can be saved and restored (see the module docstring)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainingResult:
    """What a training call did.

    Attributes:
        step: the last completed step.
        losses: the loss of every step run by this call (not those before a resume).
        model_dir: the final model folder (``out_dir/model``).
        resumed_from: the step this call resumed from (0 for a fresh run).
        probes: periodic measurements of this call (e.g. ``algos.pretrain.FlowLossProbe``), each
            ``{"step": ..., name: value}``.
    """

    step: int
    losses: list[float] = field(default_factory=list)
    model_dir: Path = Path()
    resumed_from: int = 0
    probes: list[dict[str, float]] = field(default_factory=list)


class TrainingRun:
    """Optimizer, schedule, checkpoints, exact resume and logging of a single-process training loop.

    Randomness of the loop (context lengths, flow times, noise, dropout) comes from one CPU
    ``torch.Generator`` seeded from the config and saved in every checkpoint; with the data
    source's state, the model and the optimizer, that is all a bit-exact resume needs.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer_config: OptimizerConfig,
        run: RunConfig,
        total_steps: int,
        out_dir: Path,
        data: Iterable[Any],
        training_config: Any,
        progress: bool,
        resume: bool,
    ) -> None:
        self.model = model
        self.optimizer_config = optimizer_config
        self.run = run
        self.total_steps = total_steps
        self.out_dir = out_dir
        self.data = data
        self.generator = torch.Generator().manual_seed(run.seed)
        self.optimizer = adamw(model, optimizer_config)
        self.ema: nn.Module | None = None
        if run.ema_decay > 0:
            self.ema = copy.deepcopy(model).eval().requires_grad_(False)
        self.step = 0
        if resume:
            restore_newest(out_dir, self._restore)
        self.resumed_from = self.step
        atomic_write_json(out_dir / TRAIN_CONFIG_FILE, config_to_dict(training_config))
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a killed run logged after its last checkpoint.
        self.writer = SummaryWriter(str(out_dir / TENSORBOARD_DIR), purge_step=self.step + 1 if self.step else None)
        self.bar = tqdm(total=total_steps, initial=self.step, disable=not progress, dynamic_ncols=True)
        self._iterator: Iterator[Any] | None = None
        self._last_time = time.perf_counter()

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the progress bar and flush TensorBoard, also when the run dies."""
        self.bar.close()
        self.writer.close()

    def batches(self) -> Iterator[Any]:
        """Batches until the last step, re-iterating the data source when it is exhausted."""
        while self.step < self.total_steps:
            if self._iterator is None:
                self._iterator = iter(self.data)
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._iterator = None
                continue
            yield batch

    def update(self, loss: Tensor, terms: Mapping[str, Tensor | float] | None = None) -> float:
        """One optimizer step on ``loss`` (whose parts ``terms`` name a non-finite loss in the
        error: ``optimizer_step``); returns the gradient norm before clipping."""
        grad_norm = optimizer_step(
            self.model, self.optimizer, loss, self.step, self.total_steps, self.optimizer_config, terms
        )
        if self.ema is not None:
            ema_update(self.ema, self.model, ema_decay_at(self.step, self.run.ema_decay))
        self.step += 1
        return grad_norm

    def log(self, scalars: dict[str, float]) -> None:
        """Progress bar every step, TensorBoard every ``log_every`` steps."""
        self.bar.update(1)
        self.bar.set_postfix({name: f"{value:.4g}" for name, value in scalars.items() if name in ("loss", "psnr")})
        if self.step % self.run.log_every == 0 or self.step == self.total_steps:
            now = time.perf_counter()
            scalars = {**scalars, "steps_per_second": self.run.log_every / max(now - self._last_time, 1e-9)}
            self._last_time = now
            scalars["lr"] = self.optimizer.param_groups[0]["lr"]
            for name, value in scalars.items():
                self.writer.add_scalar(f"train/{name}", value, self.step)

    def log_values(self, scalars: dict[str, float]) -> None:
        """Write ``scalars`` (names with their group, e.g. ``probe/held_out``) to TensorBoard at this step."""
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, self.step)

    def due(self, every: int) -> bool:
        """Whether a periodic action of period ``every`` falls on the step just completed."""
        return every > 0 and self.step % every == 0

    def checkpoint(self) -> Path:
        """Write ``checkpoints/step_NNNNNNN`` with the full training state; prune old ones."""
        tensors = {"rng.loop": self.generator.get_state(), "rng.torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            for index, state in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{index}"] = state
        if self.ema is not None:
            tensors.update({f"{EMA_PREFIX}{name}": value for name, value in self.ema.state_dict().items()})
        data = self.data.state_dict() if isinstance(self.data, ResumableData) else None
        return save_training_checkpoint(
            self.out_dir,
            self.step,
            self.model,
            self.optimizer,
            tensors=tensors,
            info={"data": data},
            keep=self.run.keep_checkpoints,
        )

    def _restore(self, folder: Path) -> None:
        tensors, info = load_training_checkpoint(folder, self.model, self.optimizer)
        if self.ema is not None:
            ema = _ema_entries(tensors)
            if not ema:
                raise ConfigError(
                    f"{folder} has no EMA weights: it was trained with ema_decay=0; resume it the same way"
                )
            self.ema.load_state_dict(ema)
        self.generator.set_state(tensors["rng.loop"])
        torch.set_rng_state(tensors["rng.torch"])
        if torch.cuda.is_available():
            states = [tensors[f"rng.cuda.{i}"] for i in range(torch.cuda.device_count()) if f"rng.cuda.{i}" in tensors]
            if states:
                torch.cuda.set_rng_state_all(states)
        if isinstance(self.data, ResumableData) and info.get("data") is not None:
            self.data.load_state_dict(info["data"])
        else:
            logger.warning("the data source has no state_dict(): the resumed run sees a different data order")
        self.step = int(info["step"])
        logger.info("resumed from %s (step %d)", folder, self.step)

    def finish(self) -> Path:
        """Final resumable checkpoint, then ``out_dir/model`` (weights + config only): the EMA
        weights when the run keeps an EMA, else the trained ones."""
        if not (checkpoint_folder(self.out_dir, self.step)).exists():
            self.checkpoint()
        final = self.ema if self.ema is not None else self.model
        return write_checkpoint(self.out_dir / FINAL_MODEL_DIR, final)  # type: ignore[arg-type]
