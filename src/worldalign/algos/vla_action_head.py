"""The VLA stage after alignment: a new flow action head on a trained backbone (RoboAlign).

RoboAlign (``../shared/seeds/001_36de1df6bd8cbac4.txt``) aligns a language backbone with SFT and
then GRPO on FAST action tokens, and measures what the alignment is worth by building a VLA on
it: a diffusion action head on top of the backbone, trained on robot data, evaluated in closed
loop. The SFT-only baseline gets the same head and the same training. Here the head is the
policy's flow head (pi0, arXiv:2410.24164), newly initialised from ``run.seed`` (so two backbones
get the same initial head and the same batches), trained on the flow-matching loss alone over the
SFT samples of a dataset (``algos.vla_sft.build_sft_samples``), with the backbone trained too or
frozen (``VLAHeadConfig.freeze_backbone``). The token head is left as the backbone run made it.
The loop is ``algos.training_run.TrainingRun`` (checkpoints, exact resume, TensorBoard, progress
bar, a NaN loss stops the run before anything of that step is saved).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from worldalign.algos.training_run import TrainingResult, TrainingRun, default_device
from worldalign.algos.vla_sft import SampleBatches
from worldalign.configs.vla_head import VLAHeadConfig
from worldalign.data.fast_tokenizer import FastActionTokenizer
from worldalign.models.vla import VLASample, load_vla_policy
from worldalign.runs.layout import run_tokenizer_folder


def train_vla_action_head(
    config: VLAHeadConfig,
    backbone_model: str | os.PathLike[str],
    samples: Sequence[VLASample],
    tokenizer: FastActionTokenizer,
    out_dir: str | os.PathLike[str],
    *,
    device: str | torch.device | None = None,
    progress: bool = True,
    resume: bool = True,
) -> TrainingResult:
    """Train a new flow head on the policy of model folder ``backbone_model`` (an SFT or GRPO
    run's ``model/``) with ``samples``; write ``OUT/model`` and a copy of ``tokenizer`` in
    ``OUT/fast_tokenizer`` (so ``vla eval OUT`` works with either head). With ``resume``, a run
    finding checkpoints in ``out_dir`` continues from the newest, bit for bit.

    TensorBoard (``OUT/tensorboard``): ``train/loss`` (the flow loss), ``grad_norm``, ``lr``,
    ``steps_per_second``.
    """
    out_dir = Path(out_dir)
    device = torch.device(device) if device is not None else default_device()
    policy = load_vla_policy(backbone_model)
    torch.manual_seed(config.run.seed)
    policy.flow_head = policy.new_flow_head()
    if config.freeze_backbone:
        policy.requires_grad_(False)
        policy.flow_head.requires_grad_(True)
    policy = policy.to(device)
    data = SampleBatches(samples, config.batch_size, config.run.seed)
    tokenizer.save(run_tokenizer_folder(out_dir))
    run = TrainingRun(policy, config.optimizer, config.run, config.steps, out_dir, data, config, progress, resume)
    result = TrainingResult(step=run.step, resumed_from=run.resumed_from)
    with run:
        for chosen in run.batches():
            policy.train()
            loss = policy.action_head_loss(policy.processor.collate(chosen).to(device), generator=run.generator)
            grad_norm = run.update(loss, terms={"flow_loss": loss.detach()})
            result.losses.append(float(loss.detach()))
            run.log({"loss": result.losses[-1], "grad_norm": grad_norm})
            if run.due(config.run.checkpoint_every):
                run.checkpoint()
        result.step = run.step
        result.model_dir = run.finish()
    return result
