"""``worldalign export``: a trained model as a self-contained folder to ship or share.

Copies the final model of a run (weights + config, no optimizer or RNG state) and the files the
other commands read beside it (the action statistics and the instruction-embedding cache of a
world model), optionally storing the weights in float16 (half the size; the commands load them
back into float32). ``register`` adds the verb to the top-level parser.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

EXPORT_EPILOG = """\
examples:
  worldalign export runs/wm checkpoints/world-model-cpu --half
  worldalign export runs/ae/model checkpoints/autoencoder-cpu --half

RUN is a training run folder (its model/ is exported) or a model folder. DEST receives
model.safetensors, config.json and, when RUN has them, action_normalizer.json and
instruction_embeddings.safetensors: DEST then works wherever a run folder is accepted
(--world-model, --autoencoder). An existing DEST is replaced whole.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    """Add ``export`` to the top-level parser."""
    parser = verbs.add_parser(
        "export",
        help="copy a trained model (and its run's side files) into a folder to ship",
        description="Copy a trained model and its side files into a self-contained folder.",
        epilog=EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", type=Path, help="run folder or model folder")
    parser.add_argument("dest", type=Path, help="destination folder")
    parser.add_argument("--half", action="store_true", help="store weights as float16 (half the size)")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    import torch

    from worldalign.cli.world_model import INSTRUCTION_CACHE_FILE, NORMALIZER_FILE, model_folder, run_folder_of
    from worldalign.models.checkpoint import export_checkpoint

    model_dir = model_folder(args.run, "RUN", "train ...")
    run_dir = run_folder_of(model_dir)
    export_checkpoint(model_dir, args.dest, torch.float16 if args.half else None)
    copied = []
    for name in (NORMALIZER_FILE, INSTRUCTION_CACHE_FILE):
        if (run_dir / name).is_file():
            shutil.copyfile(run_dir / name, args.dest / name)
            copied.append(name)
    size = sum(p.stat().st_size for p in args.dest.iterdir()) / 1e6
    extras = f" with {', '.join(copied)}" if copied else ""
    print(f"exported {model_dir} to {args.dest}{extras} ({size:.1f} MB{', float16' if args.half else ''})")
    return 0
