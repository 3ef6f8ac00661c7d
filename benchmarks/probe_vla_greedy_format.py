"""What GRPO changed in the policy's greedy completions, without the simulator: the VLA rewards
(``rewards.vla``) of greedy and sampled completions on a fixed set of SFT samples, for each model.

    python benchmarks/probe_vla_greedy_format.py --dataset outputs/vla/data \\
        --models outputs/vla/sft-seed0,outputs/vla/grpo-seed0 --samples 60

The samples: every ``len(samples) // N``-th sample of the first model's SFT run (its views,
``release_keep`` and seed), so most lie outside any GRPO pool. Prints, per model, the mean of
every reward term for greedy decoding (what ``vla eval`` uses) and for ``--temperature``
sampling (what GRPO trains on), and the seconds it took.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from worldalign.algos.vla_grpo import read_sft_settings
from worldalign.algos.vla_sft import build_sft_samples, load_sft_tokenizer
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.models.vla import VLAObservation, load_vla_policy
from worldalign.rewards.compose import RewardComposer
from worldalign.rewards.vla import CompletionGroup, vla_rewards
from worldalign.runs.layout import model_folder, run_tokenizer_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--models", required=True, help="comma-separated run folders (SFT or GRPO)")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = [Path(run) for run in args.models.split(",")]
    dataset = LeRobotDataset(args.dataset)
    tokenizer = load_sft_tokenizer(run_tokenizer_folder(runs[0]), dataset)
    first = load_vla_policy(model_folder(runs[0], "model", "vla train"))
    settings = read_sft_settings(runs[0])
    samples = build_sft_samples(dataset, tokenizer, first.config.views, settings.release_keep, settings.seed).samples
    chosen = samples[:: max(1, len(samples) // args.samples)][: args.samples]
    weights = {"action_accuracy": 1.0, "format": 1.0, "format_strict": 0.0}
    composer = RewardComposer(weights, vla_rewards(tokenizer, list(weights)))
    for run in runs:
        policy = load_vla_policy(model_folder(run, "model", "vla train"))
        for temperature in (0.0, args.temperature):
            start = time.perf_counter()
            generator = torch.Generator().manual_seed(0)
            completions = [
                policy.generate(VLAObservation(s.frames, s.instruction, s.state), max_new_tokens=args.max_new_tokens,
                                temperature=temperature, generator=generator)[0]
                for s in chosen
            ]
            out = composer(CompletionGroup(completions, [tuple(s.fast_ids or ()) for s in chosen]))
            terms = {key: float(value.mean()) for key, value in out.terms.items()}
            label = "greedy" if temperature == 0 else f"T={temperature:g}"
            print(f"{run} {label}: " + ", ".join(f"{key} {value:.3f}" for key, value in terms.items())
                  + f" ({time.perf_counter() - start:.0f} s, {len(chosen)} samples)")


if __name__ == "__main__":
    main()
