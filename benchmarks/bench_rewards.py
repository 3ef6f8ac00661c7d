"""Reward computation cost for one RL iteration of the ``cpu`` preset, as a fraction of it.

A batch like one GRPO iteration: 8 prompts x 8 samples = 64 rollouts of 3 views x 8 frames at
64 px (3 context frames kept for the IDM). Timed (median of interleaved repeats):

- ``fidelity``: LPIPS + SSIM + PSNR against the reference (PersistWorld's multi-view reward);
- ``executability``: IDM forward over every transition, then the penalties (EVA);
- ``idm forward only``: the IDM part of it.

The RL iteration times are ENVIRONMENT.md's measurements on this machine (2 cores, fp32): a
GRPO iteration (8 prompts x 8) ~4-6 s, taken as 5 s; a DiffusionNFT iteration ~3 s. The
execution reward (simulator) is not in the per-iteration budget: it is an evaluation-time
ground truth (~ms per simulated action, see the printed estimate).

    .venv/bin/python benchmarks/bench_rewards.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _timing import interleaved_medians

from worldalign.data.types import Rollout, SimulatorStart
from worldalign.envs.metaworld_env import MetaWorldEnv
from worldalign.models.idm import IDMConfig, InverseDynamicsModel
from worldalign.rewards.decode import SHIPPED_IDM, load_idm
from worldalign.rewards.executability import ExecutabilityReward
from worldalign.rewards.execution import ExecutionReward
from worldalign.rewards.fidelity import FidelityReward

PROMPTS, SAMPLES, VIEWS, FRAMES, CONTEXT, SIZE = 8, 8, ("oblique", "front", "wrist"), 8, 3, 64
GRPO_ITERATION_S = 5.0  # ENVIRONMENT.md: 4-6 s per GRPO iteration (8 x 8) on this machine
NFT_ITERATION_S = 3.0  # ENVIRONMENT.md: ~3 s per DiffusionNFT iteration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    batch = PROMPTS * SAMPLES
    frames = torch.rand(batch, len(VIEWS), FRAMES, 3, SIZE, SIZE) * 2 - 1
    with MetaWorldEnv("reach-v3", views=()) as env:
        start = SimulatorStart("reach-v3", env.snapshot().to_vector(), env.layout)
    rollout = Rollout(
        frames=frames,
        views=VIEWS,
        fps=40,
        tasks=["reach-v3"] * batch,
        context=torch.rand(batch, len(VIEWS), CONTEXT, 3, SIZE, SIZE) * 2 - 1,
        reference=(frames + 0.1 * torch.randn_like(frames)).clamp(-1, 1),
        starts=[start] * batch,
    )
    idm = load_idm(SHIPPED_IDM) if SHIPPED_IDM.is_dir() else InverseDynamicsModel(IDMConfig(views=VIEWS)).eval()
    fidelity, executability = FidelityReward(), ExecutabilityReward(idm)
    with torch.no_grad():
        windows = torch.rand(batch * FRAMES, len(VIEWS), idm.config.window, 3, SIZE, SIZE)
        medians = interleaved_medians(
            {
                "fidelity (LPIPS+SSIM+PSNR)": lambda: fidelity(rollout),
                "executability (IDM + penalties)": lambda: executability(rollout),
                "idm forward only": lambda: idm(windows),
            },
            args.repeats,
        )
    print(
        f"batch: {PROMPTS} prompts x {SAMPLES} samples x {len(VIEWS)} views x {FRAMES} frames at {SIZE} px, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(f"{'reward':34s} {'ms':>9s} {'of GRPO iter (5 s)':>19s} {'of NFT iter (3 s)':>18s}")
    for name, seconds in medians.items():
        print(f"{name:34s} {seconds * 1e3:9.1f} {seconds / GRPO_ITERATION_S:19.1%} {seconds / NFT_ITERATION_S:18.1%}")
    both = medians["fidelity (LPIPS+SSIM+PSNR)"] + medians["executability (IDM + penalties)"]
    name = "fidelity + executability"
    print(f"{name:34s} {both * 1e3:9.1f} {both / GRPO_ITERATION_S:19.1%} {both / NFT_ITERATION_S:18.1%}")

    small = Rollout(frames=frames[:4], views=VIEWS, fps=40, context=rollout.context[:4], starts=[start] * 4)
    execution = ExecutionReward(idm)
    execution(small)  # warm-up: builds the simulator
    began = time.perf_counter()
    execution(small)
    per_sample = (time.perf_counter() - began) / 4
    print(
        f"execution (simulator, {FRAMES} actions): {per_sample * 1e3:.1f} ms per sample "
        f"(x{batch} = {per_sample * batch:.2f} s per batch: evaluation only)"
    )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
