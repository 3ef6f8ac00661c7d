"""RL post-training of a world model: the loop both Flow-GRPO and DiffusionNFT run in.

One iteration: the current model generates ``S`` conditions × ``K`` candidates
(``algos.conditions``: instruction prompts or PersistWorld rollout states); the rewards score
them (``rewards.RewardComposer``); group-normalised advantages (``algos.advantages``) weight one
update of the chosen objective:

- ``grpo``: Flow-GRPO (Liu et al. 2025, arXiv:2505.05470): SDE samples with stored per-step
  log-probabilities, a clipped importance ratio per denoising step, KL to the frozen pretrained
  model, on a subset of the denoising steps, for ``inner_epochs`` passes;
- ``nft``: DiffusionNFT (Zheng et al. 2025, arXiv:2509.16117): clean samples from any sampler
  (the ODE by default), the contrastive forward-process objective against an EMA "old" model.

Every term's loss is back-propagated on its own (gradient accumulation), so that under
Accelerate's DistributedDataParallel each forward has exactly one backward; processes exchange
gradients once per update (``no_sync`` for the other terms). Each process draws its own
conditions (its generator is seeded by rank), and the loop checks at every checkpoint that the
processes' weights are still identical. Checkpoints carry everything an exact resume needs
(weights, optimizer, the EMA model, every process's generator); ``OUT/log.jsonl`` has one line
per iteration (rewards, KL, clip fraction, seconds) for plots against wall-clock time (valid
JSON: a NaN is written ``null`` and its key listed under ``"nonfinite"``).

A sample whose weighted reward is NaN or infinite is dropped from its group (``RewardComposer``
counts it); an iteration where every sample is dropped, or whose gradient norm is not finite (a
NaN or infinite loss term), stops the run with a ``TrainingError`` before the update, so the
newest checkpoint stays the last good one (``training_run.check_finite``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from worldalign.algos.advantages import group_advantages, within_group_std
from worldalign.algos.conditions import Conditions, InstructionEmbedder
from worldalign.algos.diffusion_nft import nft_update
from worldalign.algos.flow_grpo import grpo_update
from worldalign.algos.training_run import (
    check_finite,
    load_training_checkpoint,
    restore_newest,
    save_training_checkpoint,
)
from worldalign.configs.align import AlignConfig
from worldalign.data.types import Rollout
from worldalign.errors import ConfigError, TrainingError, WorldAlignError
from worldalign.models.autoencoder import Autoencoder
from worldalign.models.checkpoint import write_checkpoint
from worldalign.models.world_model import WorldModel
from worldalign.rewards.compose import RewardComposer, RewardOutput
from worldalign.runs.layout import ALIGN_CONFIG_FILE, ALIGN_LOG_FILE, FINAL_MODEL_DIR, TENSORBOARD_DIR
from worldalign.sampling.samplers import EulerODESampler, FlowSDESampler
from worldalign.utils.atomic import atomic_write_bytes, atomic_write_json
from worldalign.utils.config_serialization import config_to_dict
from worldalign.utils.json_values import log_record

logger = logging.getLogger(__name__)

# (current model, iteration) -> held-out scalars, e.g. LPIPS of rollouts on unoptimised terms.
Evaluator = Callable[[WorldModel, int], dict[str, float]]
# (fresh candidates) -> scalars, e.g. the judge's relabel-and-refresh hook.
RelabelCallback = Callable[[Rollout], dict[str, float]]


@dataclass
class AlignResult:
    """What an alignment call did.

    Attributes:
        iteration: the last completed iteration.
        history: one record per iteration run by this call (the lines of ``log.jsonl``).
        evaluations: ``{iteration: scalars}`` of the held-out evaluations run by this call.
        model_dir: the aligned model (``OUT/model``).
        resumed_from: the iteration this call resumed from.
    """

    iteration: int
    history: list[dict[str, float]] = field(default_factory=list)
    evaluations: dict[int, dict[str, float]] = field(default_factory=dict)
    model_dir: Path = Path()
    resumed_from: int = 0


def candidate_sampler(config: AlignConfig) -> EulerODESampler | FlowSDESampler:
    """The sampler candidates are drawn with: the SDE for Flow-GRPO (its steps need
    log-probabilities), the ODE for DiffusionNFT unless ``nft_sampler`` says "sde"."""
    if config.algorithm == "grpo" or config.nft_sampler == "sde":
        return FlowSDESampler(steps=config.sampling_steps, noise_level=config.sde_noise_level)
    return EulerODESampler(steps=config.sampling_steps)


class _AlignRun:
    """Models, optimizer, generators and files of one run, on one process of an Accelerate job
    (the ``algos.update_loop.UpdateLoop`` the algorithms' updates run through)."""

    def __init__(
        self, config: AlignConfig, policy: WorldModel, out_dir: Path, accelerator: Any, resume: bool
    ) -> None:
        self.config = config
        self.out_dir = out_dir
        self.accelerator = accelerator
        device = accelerator.device
        policy = policy.to(device)
        uses_kl = (config.grpo.kl_coef if config.algorithm == "grpo" else config.nft.kl_coef) > 0
        self.reference = _frozen(policy) if uses_kl else None
        self.old = _frozen(policy) if config.algorithm == "nft" else None
        optimizer = torch.optim.AdamW(
            policy.parameters(), lr=config.peak_learning_rate, weight_decay=config.weight_decay
        )
        self.model, self.optimizer = accelerator.prepare(policy, optimizer)
        self.generator = torch.Generator().manual_seed(config.seed + accelerator.process_index)
        self.iteration = 0
        if resume:
            restore_newest(out_dir, self._restore)
        self.resumed_from = self.iteration

    @property
    def unwrapped(self) -> WorldModel:
        return self.accelerator.unwrap_model(self.model)

    def no_sync(self, last: bool) -> contextlib.AbstractContextManager[None]:
        """Gradients are exchanged on the last backward of an update only."""
        return contextlib.nullcontext() if last else self.accelerator.no_sync(self.model)

    def step(self, losses: dict[str, Tensor]) -> float:
        """Clip, step (at the warmed-up learning rate), zero; returns the gradient norm. A
        non-finite norm (the same on every process) is a ``TrainingError`` naming the
        non-finite ``losses`` (this process's loss terms) before the weights change."""
        clip = self.config.grad_clip if self.config.grad_clip > 0 else float("inf")
        norm = float(self.accelerator.clip_grad_norm_(self.model.parameters(), clip))
        if not math.isfinite(norm):
            check_finite(f"iteration {self.iteration + 1}", {**losses, "gradient norm": norm})
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.learning_rate_at(self.iteration)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return norm

    def checksum(self) -> Tensor:
        """``(processes,)`` float64 sums of every process's weights; all equal when in sync."""
        total = sum(p.detach().double().sum() for p in self.unwrapped.parameters())
        local = torch.as_tensor(total, dtype=torch.float64, device=self.accelerator.device)
        return self.accelerator.gather(local[None])

    def check_sync(self) -> float:
        """The largest weight-checksum difference between processes; raises if they diverged."""
        sums = self.checksum().cpu()
        spread = float(sums.max() - sums.min())
        if spread > 1e-6 * max(1.0, float(sums.abs().max())):
            raise WorldAlignError(f"alignment processes are out of sync: weight checksums {sums.tolist()}")
        return spread

    def checkpoint(self) -> None:
        """Every process's generator is gathered; the main process writes the folder."""
        generators = self.accelerator.gather(self.generator.get_state().to(self.accelerator.device)[None]).cpu()
        if not self.accelerator.is_main_process:
            return
        tensors = {f"rng.loop.{rank}": state for rank, state in enumerate(generators)}
        tensors["rng.torch"] = torch.get_rng_state()
        if self.old is not None:
            tensors.update({f"old.{name}": value for name, value in self.old.state_dict().items()})
        save_training_checkpoint(
            self.out_dir,
            self.iteration,
            self.unwrapped,
            getattr(self.optimizer, "optimizer", self.optimizer),  # the one Accelerate wraps
            tensors=tensors,
            info={"iteration": self.iteration, "processes": len(generators)},
            keep=self.config.keep_checkpoints,
        )

    def _restore(self, folder: Path) -> None:
        optimizer = getattr(self.optimizer, "optimizer", self.optimizer)  # the one Accelerate wraps
        tensors, info = load_training_checkpoint(folder, self.unwrapped, optimizer)
        rank = self.accelerator.process_index
        if info.get("processes") != self.accelerator.num_processes:
            raise ConfigError(
                f"{folder} was written by {info.get('processes')} process(es); resume it with the same number "
                f"(this run has {self.accelerator.num_processes})"
            )
        self.generator.set_state(tensors[f"rng.loop.{rank}"])
        torch.set_rng_state(tensors["rng.torch"])
        if self.old is not None:
            self.old.load_state_dict({name[4:]: value for name, value in tensors.items() if name.startswith("old.")})
        self.iteration = int(info["iteration"])
        logger.info("resumed from %s (iteration %d)", folder, self.iteration)


def _frozen(model: nn.Module) -> Any:
    copied = copy.deepcopy(model).eval()
    copied.requires_grad_(False)
    return copied


def align(
    config: AlignConfig,
    policy: WorldModel,
    autoencoder: Autoencoder,
    conditions: Conditions,
    rewards: RewardComposer,
    out_dir: str | Path,
    *,
    instruction_encoder: InstructionEmbedder | None = None,
    evaluate: Evaluator | None = None,
    relabel: RelabelCallback | None = None,
    accelerator: Any = None,
    progress: bool = True,
    resume: bool = True,
) -> AlignResult:
    """Post-train ``policy`` (the pretrained world model, updated in place) against ``rewards``.

    Args:
        config: the run's configuration.
        policy: the world model to align; its weights at the call are the KL reference.
        autoencoder: the frozen autoencoder of the model's latents.
        conditions: where candidates come from (``PromptConditions`` or ``RolloutStateConditions``).
        rewards: the composed rewards; their weighted total is optimised.
        out_dir: the run folder (checkpoints, TensorBoard, ``log.jsonl``, ``model/``).
        instruction_encoder: required for instruction-conditioned models.
        evaluate: held-out evaluation, run on the main process before the first update, every
            ``eval_every`` iterations and at the end (a resumed run first redoes the one due at
            its checkpoint: a kill may have cut it off).
        relabel: called with fresh candidates every ``relabel_every`` iterations.
        accelerator: an ``accelerate.Accelerator`` (default: a new one; a launch with
            ``accelerate launch --num_processes N`` makes it distributed).
        progress: show a progress bar (main process).
        resume: continue from the newest checkpoint in ``out_dir``.
    """
    from accelerate import Accelerator

    out_dir = Path(out_dir)
    accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
    autoencoder = autoencoder.to(accelerator.device).eval()
    run = _AlignRun(config, policy, out_dir, accelerator, resume)
    main = accelerator.is_main_process
    result = AlignResult(iteration=run.iteration, resumed_from=run.resumed_from)
    # Before the first update; on resuming, again at the checkpoint when an evaluation is due there
    # (a killed run may have been cut off in it: the same weights and sampling seeds give it again).
    evaluate_first = evaluate is not None and (
        run.iteration in (0, config.iterations) or _evaluation_due(config, run.iteration)
    )
    log = _AlignLog(out_dir, config, run.iteration, main, progress, redo_evaluation=evaluate_first)

    def evaluation(iteration: int) -> None:
        if evaluate is not None and main:
            run.unwrapped.eval()
            result.evaluations[iteration] = evaluate(run.unwrapped, iteration)
            log.evaluation(iteration, result.evaluations[iteration])
        if evaluate is not None:
            accelerator.wait_for_everyone()

    sampler = candidate_sampler(config)
    started = time.perf_counter()
    try:
        if evaluate_first:
            evaluation(run.iteration)
        while run.iteration < config.iterations:
            record = _iterate(run, conditions, rewards, sampler, autoencoder, instruction_encoder, relabel)
            out_of_time = _out_of_time(accelerator, config.max_seconds, time.perf_counter() - started)
            checkpoint_due = out_of_time or run.iteration % config.checkpoint_every == 0
            if checkpoint_due or run.iteration == config.iterations:
                record["sync/weight_checksum_spread"] = run.check_sync()
            if main:
                record["time/elapsed_s"] = time.perf_counter() - started
            log.iteration(run.iteration, record)
            result.history.append(record)
            if checkpoint_due or run.iteration == config.iterations:
                run.checkpoint()  # after the log line: a resume never lacks the line of its iteration
            if out_of_time:
                break
            if _evaluation_due(config, run.iteration) and run.iteration < config.iterations:
                evaluation(run.iteration)
        if run.iteration not in result.evaluations and run.resumed_from < run.iteration:
            evaluation(run.iteration)
        result.iteration = run.iteration
        if main:
            write_checkpoint(out_dir / FINAL_MODEL_DIR, run.unwrapped)
        accelerator.wait_for_everyone()
    finally:
        log.close()
    result.model_dir = out_dir / FINAL_MODEL_DIR
    return result


def _iterate(
    run: _AlignRun,
    conditions: Conditions,
    rewards: RewardComposer,
    sampler: EulerODESampler | FlowSDESampler,
    autoencoder: Autoencoder,
    instruction_encoder: InstructionEmbedder | None,
    relabel: RelabelCallback | None,
) -> dict[str, float]:
    """One iteration: sample candidate groups, score them, update the policy; returns its log record."""
    config, accelerator = run.config, run.accelerator
    began = time.perf_counter()
    run.unwrapped.eval()
    with torch.no_grad():
        batch = conditions.sample(
            run.unwrapped,
            autoencoder,
            config.conditions_per_iteration,
            config.group_size,
            sampler,
            run.generator,
            instruction_encoder,
            bf16=config.bf16,
        )
        scored = rewards(batch.rollout)
    _check_some_reward_valid(accelerator, scored, run.iteration)
    advantages = group_advantages(scored.total.cpu(), config.group_size).to(accelerator.device)
    sampled = time.perf_counter()
    if config.algorithm == "grpo":
        stats = grpo_update(run, config.grpo, batch, advantages)
    else:
        stats = nft_update(run, config.nft, batch, advantages, bf16=config.bf16)
    run.iteration += 1
    scalars = {**scored.log_scalars(), **_group_spreads(scored, rewards.names, config.group_size)}
    record = _gathered_scalars(accelerator, scalars)
    record.update({f"train/{name}": value for name, value in stats.items()})
    record["time/sampling_s"] = sampled - began
    record["time/iteration_s"] = time.perf_counter() - began
    if relabel is not None and config.relabel_every and run.iteration % config.relabel_every == 0:
        record.update({f"relabel/{k}": v for k, v in relabel(batch.rollout).items()})
    return record


class _AlignLog:
    """What the main process records of a run: ``align_config.json``, ``log.jsonl`` (one line per
    iteration and per evaluation), TensorBoard scalars and the progress bar. Other processes
    record nothing."""

    def __init__(
        self, out_dir: Path, config: AlignConfig, iteration: int, main: bool, progress: bool, redo_evaluation: bool
    ) -> None:
        self.path = out_dir / ALIGN_LOG_FILE
        self.writer: Any = None
        self.bar: Any = None
        if not main:
            return
        atomic_write_json(out_dir / ALIGN_CONFIG_FILE, config_to_dict(config))
        _truncate_log(self.path, iteration, drop_evaluation=redo_evaluation)
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(out_dir / TENSORBOARD_DIR), purge_step=iteration + 1 if iteration else None)
        self.bar = tqdm(total=config.iterations, initial=iteration, disable=not progress, dynamic_ncols=True)

    def evaluation(self, iteration: int, scalars: dict[str, float]) -> None:
        if self.writer is None:
            return
        for name, value in scalars.items():
            self.writer.add_scalar(f"eval/{name}", value, iteration)
        _append_log(self.path, {"iteration": iteration, "kind": "eval", **scalars})

    def iteration(self, iteration: int, record: dict[str, float]) -> None:
        if self.writer is None:
            return
        for name, value in record.items():
            self.writer.add_scalar(name, value, iteration)
        self.bar.update(1)
        shown = {
            "reward": record.get("reward/total"),
            "kl": record.get("train/kl"),
            "clip": record.get("train/clip_fraction"),
            "s/it": record.get("time/iteration_s"),
        }
        self.bar.set_postfix({name: f"{value:.4g}" for name, value in shown.items() if value is not None})
        _append_log(self.path, {"iteration": iteration, "kind": "train", **record})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def _check_some_reward_valid(accelerator: Any, scored: RewardOutput, iteration: int) -> None:
    """A ``TrainingError`` when no candidate of the iteration (on any process) has a finite
    weighted reward: there is nothing to learn from, and going on would hide it."""
    valid = torch.tensor([float(scored.valid.sum())], device=accelerator.device)
    if accelerator.num_processes > 1:
        valid = accelerator.gather(valid)
    if float(valid.sum()) == 0:
        invalid = {name: int(mask.sum()) for name, mask in scored.invalid.items() if bool(mask.any())}
        raise TrainingError(
            f"iteration {iteration + 1}: the reward of every candidate is NaN or infinite (NaN or infinite "
            f"samples per reward: {invalid}); stopped before the update, the newest checkpoint is the last good "
            "state: check the rewards' inputs (IDM, judge checkpoint) and weights"
        )


def _out_of_time(accelerator: Any, budget: float, elapsed: float) -> bool:
    """Whether the budget is spent, decided by the main process for all (they stop together)."""
    if budget <= 0:
        return False
    spent = torch.tensor([float(elapsed > budget)], device=accelerator.device)
    return bool(accelerator.gather(spent)[0] > 0) if accelerator.num_processes > 1 else bool(spent[0] > 0)


def _group_spreads(scored: RewardOutput, names: list[str], group_size: int) -> dict[str, float]:
    """``reward/<name>/group_std``: how far the total and each reward tell a condition's candidates
    apart (``within_group_std``), the scale the advantages divide away."""
    values = {"total": scored.total, **{name: scored.terms[name] for name in names}}
    return {f"reward/{name}/group_std": within_group_std(v.cpu(), group_size) for name, v in values.items()}


def _gathered_scalars(accelerator: Any, scalars: dict[str, float]) -> dict[str, float]:
    """Every process's scalars averaged (NaN-aware), so logs describe the whole job."""
    if accelerator.num_processes == 1:
        return dict(scalars)
    names = sorted(scalars)
    values = torch.tensor([scalars[name] for name in names], dtype=torch.float64, device=accelerator.device)
    gathered = accelerator.gather(values[None]).cpu()
    return {name: float(gathered[:, i].nanmean()) for i, name in enumerate(names)}


def _append_log(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as handle:
        handle.write(log_record(record) + "\n")


def _evaluation_due(config: AlignConfig, iteration: int) -> bool:
    """Whether ``config`` evaluates after update ``iteration`` (0: before the first)."""
    return bool(config.eval_every) and iteration % config.eval_every == 0


def _truncate_log(path: Path, iteration: int, drop_evaluation: bool) -> None:
    """Drop the log lines a killed run wrote after its last checkpoint ``iteration`` (they are
    redone), and with ``drop_evaluation`` the evaluation at the checkpoint (it is redone first)."""
    if not path.exists():
        return

    def kept_line(record: dict[str, Any]) -> bool:
        at_checkpoint = record["iteration"] == iteration
        return record["iteration"] < iteration or (at_checkpoint and not (drop_evaluation and record["kind"] == "eval"))

    kept = [line for line in path.read_text().splitlines() if line and kept_line(json.loads(line))]
    atomic_write_bytes(path, "".join(line + "\n" for line in kept).encode())
