"""``worldalign vla ...``: the vision-language-action policy's verbs (so far: its FAST action
tokenizer, ``worldalign vla tokenizer fit|info``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from worldalign.data.fast_tokenizer import DEFAULT_HORIZON, DEFAULT_SCALE, DEFAULT_VOCAB_SIZE

VLA_EPILOG = """\
examples:
  worldalign vla tokenizer fit --dataset data/mt10 --out runs/fast
  worldalign vla tokenizer info runs/fast
"""

TOKENIZER_EPILOG = """\
examples:
  worldalign vla tokenizer fit --dataset data/mt10 --out runs/fast
  worldalign vla tokenizer info runs/fast

FAST (arXiv 2501.09747) turns a chunk of H normalised actions into a few token ids: a DCT of
each action dimension along time, scaled and rounded, then byte-pair encoded.
"""

FIT_EPILOG = """\
examples:
  worldalign vla tokenizer fit --dataset data/mt10 --out runs/fast
  worldalign vla tokenizer fit --dataset data/mt10 --out runs/fast-h16 --horizon 16 --scale 20 --vocab-size 2048

Every window of --horizon consecutive actions of every episode (read from the parquet files, no
video decoded), normalised with the dataset's mean/std action statistics, is a fitting chunk.
Each chunk's DCT coefficients are multiplied by --scale and rounded: a larger scale
reconstructs more exactly (error <= 0.5 / scale per coefficient) and needs more tokens per
chunk. --vocab-size counts one token per coefficient value plus the byte-pair merges.

OUT gets tokenizer.json (the byte-pair encoding, Hugging Face format) and fast_config.json
(horizon, action_dim, scale, the action statistics and their hash). The command prints the
tokens per chunk, the compression against one token per action value, the reconstruction error
on the fitting chunks (normalised and in the robot's units) and the fit time.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``vla tokenizer fit|info`` to the top-level parser."""
    vla = verbs.add_parser(
        "vla",
        help="the vision-language-action policy (so far: its FAST action tokenizer)",
        description="The vision-language-action policy: its FAST action tokenizer.",
        epilog=VLA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups = vla.add_subparsers(dest="vla_verb", metavar="COMMAND", required=True)
    tokenizer = groups.add_parser(
        "tokenizer",
        help="fit or inspect a FAST action tokenizer",
        description="Fit or inspect a FAST action tokenizer (action chunks <-> token ids).",
        epilog=TOKENIZER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = tokenizer.add_subparsers(dest="tokenizer_verb", metavar="COMMAND", required=True)

    fit = sub.add_parser(
        "fit",
        help="fit a FAST action tokenizer on a dataset's action chunks",
        description="Fit a FAST action tokenizer on a dataset's action chunks and report its quality.",
        epilog=FIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3 layout)")
    fit.add_argument("--out", required=True, type=Path, help="tokenizer folder to write")
    fit.add_argument(
        "--horizon", type=int, default=DEFAULT_HORIZON, help=f"actions per chunk (default: {DEFAULT_HORIZON})"
    )
    fit.add_argument(
        "--scale", type=float, default=DEFAULT_SCALE,
        help=f"DCT coefficients are multiplied by it before rounding (default: {DEFAULT_SCALE:g})",
    )
    fit.add_argument(
        "--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE,
        help=f"tokens: coefficient values plus byte-pair merges (default: {DEFAULT_VOCAB_SIZE})",
    )
    fit.set_defaults(handler=run_fit)

    info = sub.add_parser(
        "info",
        help="show what a FAST tokenizer folder holds",
        description="Show the horizon, action dimension, scale, vocabulary and statistics of a FAST tokenizer.",
        epilog="example:\n  worldalign vla tokenizer info runs/fast",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("tokenizer", type=Path, help="tokenizer folder (tokenizer.json + fast_config.json)")
    info.set_defaults(handler=run_info)


def run_fit(args: argparse.Namespace) -> int:
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.stages.vla_tokenizer import fit_action_tokenizer

    fitted = fit_action_tokenizer(
        LeRobotDataset(args.dataset), args.out, horizon=args.horizon, scale=args.scale, vocab_size=args.vocab_size
    )
    quality, tokenizer = fitted.quality, fitted.tokenizer
    print(f"FAST tokenizer written to {fitted.folder}")
    print(
        f"  {quality.chunks} chunks of {tokenizer.horizon} steps x {tokenizer.action_dim} dims, "
        f"scale {tokenizer.scale:g}, vocabulary {tokenizer.vocab_size} tokens, fit in {fitted.fit_seconds:.2f} s"
    )
    print(
        f"  tokens per chunk: mean {quality.tokens_mean:.2f}, max {quality.tokens_max} "
        f"(naive {quality.naive_tokens}: {quality.compression:.2f}x compression)"
    )
    print(
        f"  reconstruction |error|: mean {quality.error_mean:.4f}, max {quality.error_max:.4f} (normalised); "
        f"mean {quality.robot_error_mean:.4f}, max {quality.robot_error_max:.4f} (robot units)"
    )
    return 0


def run_info(args: argparse.Namespace) -> int:
    from worldalign.data.fast_tokenizer import FastActionTokenizer

    config = FastActionTokenizer.load(args.tokenizer).config
    print(f"FAST tokenizer {args.tokenizer}")
    print(f"  horizon {config.horizon}, action_dim {config.action_dim}, scale {config.scale:g}")
    print(
        f"  vocabulary {config.vocab_size} tokens (coefficient values "
        f"{config.min_coefficient}..{config.max_coefficient} and merges), "
        f"fitted on {config.fitted_chunks} chunks of {config.source_dataset}"
    )
    print(f"  action mean {[round(v, 4) for v in config.action_mean]}, std {[round(v, 4) for v in config.action_std]}")
    print(f"  action statistics sha256 {config.action_stats_sha256}")
    return 0
