"""FAST action tokens against the rounding scale (and the vocabulary size) on a real dataset.

For each scale, the tokenizer is fitted on every action window of the dataset (fit time: the
median of 3 fits) and measured on those windows: tokens per chunk against the naive H x A, and
the reconstruction error in normalised units (beside the bound sqrt(H) * 0.5 / scale that
rounding implies) and in the robot's units. A second fit on the training episodes only
(``split_episodes``, the last quarter of each task's episodes held out) is measured on the
held-out episodes' windows: tokens and error on actions the BPE never saw, and how many of
their coefficients fell outside the fitted alphabet (clipped). Then, at the default
scale, the share of non-zero coefficients at each frequency (what the BPE has left to compress)
and the tokens per chunk for several vocabulary sizes. Everything printed is measured in
this run.

    PYTHONPATH=src python benchmarks/fast_tokenizer.py --dataset DATA [--horizon 8]
        [--scales 2,4,6,8,10,14,20] [--vocab-sizes 256,512,1024,2048]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from worldalign.data.action_chunks import dataset_action_chunks
from worldalign.data.clips import split_episodes
from worldalign.data.fast_tokenizer import DEFAULT_HORIZON, DEFAULT_SCALE, DEFAULT_VOCAB_SIZE, FastActionTokenizer
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.runs.side_files import dataset_action_normalizer
from worldalign.stages.vla_tokenizer import measure_tokenizer

HELD_OUT_FRACTION = 0.25
FIT_REPEATS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, type=Path)
    parser.add_argument("--horizon", type=int, default=DEFAULT_HORIZON)
    parser.add_argument("--scales", default="2,4,6,8,10,14,20")
    parser.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE)
    parser.add_argument("--vocab-sizes", default="256,512,1024,2048")
    args = parser.parse_args()

    dataset = LeRobotDataset(args.dataset)
    normalizer = dataset_action_normalizer(dataset)
    train, held_out = split_episodes(dataset.task_names, held_out_fraction=HELD_OUT_FRACTION)
    chunks = dataset_action_chunks(dataset, normalizer, args.horizon)
    train_chunks = dataset_action_chunks(dataset, normalizer, args.horizon, episodes=train)
    held_out_chunks = dataset_action_chunks(dataset, normalizer, args.horizon, episodes=held_out)
    naive = args.horizon * dataset.action_dim
    print(
        f"{args.dataset}: {dataset.num_episodes} episodes, {len(chunks)} chunks of {args.horizon} x "
        f"{dataset.action_dim} (naive {naive} tokens), vocab size {args.vocab_size}; held out: "
        f"{len(held_out)} episodes, {len(held_out_chunks)} chunks"
    )
    print()
    print(
        "| scale | vocab | tokens/chunk mean | max | compression | abs err mean | max | bound sqrt(H)/(2 scale) "
        "| robot abs err mean | max | fit s | held-out tokens mean | max | held-out abs err mean | max | clipped |"
    )
    print("|---" * 16 + "|")
    for scale in [float(s) for s in args.scales.split(",")]:
        fits, seconds = [], []
        for _ in range(FIT_REPEATS):
            start = time.perf_counter()
            fits.append(FastActionTokenizer.fit(chunks, normalizer, scale=scale, vocab_size=args.vocab_size))
            seconds.append(time.perf_counter() - start)
        tokenizer = fits[0]
        seen = measure_tokenizer(tokenizer, chunks)
        held_out_tokenizer = FastActionTokenizer.fit(train_chunks, normalizer, scale=scale, vocab_size=args.vocab_size)
        unseen = measure_tokenizer(held_out_tokenizer, held_out_chunks)
        print(
            f"| {scale:g} | {tokenizer.vocab_size} | {seen.tokens_mean:.2f} | {seen.tokens_max} | "
            f"{seen.compression:.2f}x | {seen.error_mean:.4f} | {seen.error_max:.4f} | "
            f"{np.sqrt(args.horizon) * 0.5 / scale:.4f} | {seen.robot_error_mean:.4f} | {seen.robot_error_max:.4f} | "
            f"{statistics.median(seconds):.2f} | "
            f"{unseen.tokens_mean:.2f} | {unseen.tokens_max} | {unseen.error_mean:.4f} | {unseen.error_max:.4f} | "
            f"{unseen.clipped} |"
        )
    default = FastActionTokenizer.fit(chunks, normalizer, scale=DEFAULT_SCALE, vocab_size=args.vocab_size)
    coefficients = default.quantize(chunks).reshape(len(chunks), args.horizon, dataset.action_dim)
    nonzero = (coefficients != 0).mean(axis=(0, 2))
    print()
    print(f"non-zero coefficients at scale {DEFAULT_SCALE:g}, frequency 0 first: {nonzero.round(2).tolist()}")
    print()
    print(f"vocabulary size at scale {DEFAULT_SCALE:g}:")
    print()
    print("| vocab asked | vocab | tokens/chunk mean | max | compression | held-out tokens mean |")
    print("|---" * 6 + "|")
    for vocab_size in [int(v) for v in args.vocab_sizes.split(",")]:
        tokenizer = FastActionTokenizer.fit(chunks, normalizer, scale=DEFAULT_SCALE, vocab_size=vocab_size)
        seen = measure_tokenizer(tokenizer, chunks)
        held_out_tokenizer = FastActionTokenizer.fit(
            train_chunks, normalizer, scale=DEFAULT_SCALE, vocab_size=vocab_size
        )
        unseen = measure_tokenizer(held_out_tokenizer, held_out_chunks)
        print(
            f"| {vocab_size} | {tokenizer.vocab_size} | {seen.tokens_mean:.2f} | {seen.tokens_max} | "
            f"{seen.compression:.2f}x | {unseen.tokens_mean:.2f} |"
        )


if __name__ == "__main__":
    main()
