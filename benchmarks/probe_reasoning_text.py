r"""The reasoning texts of a recorded dataset: the share of steps in each phase per task, the text
length in SmolLM2 tokens and in bytes (the ``tiny`` backbone's tokens), and examples.

    .venv/bin/worldalign data generate --tasks mt10 --episodes-per-task 2 --noise 0.2 --seed 1 --out /tmp/d
    .venv/bin/python benchmarks/probe_reasoning_text.py --dataset /tmp/d --horizon 10
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from transformers import AutoTokenizer

from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.reasoning_text import PHASES, episode_phases, reasoning_text
from worldalign.models.vla.backbone_vla import gguf_default_path
from worldalign.models.vla.processor_vla import THINK_CLOSE, THINK_OPEN


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True, help="dataset folder with privileged state")
    parser.add_argument("--horizon", type=int, default=10, help="action chunk steps (default: 10)")
    parser.add_argument("--examples", type=int, nargs="*", default=[0, 20, 40], help="steps to print per task")
    args = parser.parse_args()
    dataset = LeRobotDataset(args.dataset)
    gguf = gguf_default_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    tokens, characters = [], []
    examples: dict[str, list[tuple[int, str]]] = {}
    first_episode: dict[str, int] = {}
    for index in range(dataset.num_episodes):
        episode = dataset.episode(index, views=dataset.views[:1])
        counts[episode.task].update(episode_phases(episode))
        for step in range(episode.length):
            text = f"{THINK_OPEN} {reasoning_text(episode, step, args.horizon)} {THINK_CLOSE}"
            tokens.append(len(tokenizer(text, add_special_tokens=False).input_ids))
            characters.append(len(text.encode("utf-8")))
            if step in args.examples and first_episode.setdefault(episode.task, index) == index:
                examples.setdefault(episode.task, []).append((step, text))
    print(f"{'task':26s}" + "".join(f"{phase:>9s}" for phase in PHASES) + "    steps")
    for task, count in counts.items():
        total = sum(count.values())
        print(f"{task:26s}" + "".join(f"{100 * count[phase] / total:8.0f}%" for phase in PHASES) + f"{total:9d}")
    lengths = np.array(tokens)
    print(f"{lengths.size} texts: SmolLM2 tokens mean {lengths.mean():.1f}, median {np.median(lengths):.0f}, "
          f"range {lengths.min()}-{lengths.max()}; bytes (tiny backbone tokens) mean {np.mean(characters):.0f}")
    for task, rows in examples.items():
        for step, text in rows:
            print(f"{task} step {step}: {text}")


if __name__ == "__main__":
    main()
