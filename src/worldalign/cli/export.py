"""``worldalign export``: a trained model as a self-contained folder to ship or share
(``stages.export.export_model``). ``register`` adds the verb to the top-level parser."""

from __future__ import annotations

import argparse
from pathlib import Path

EXPORT_EPILOG = """\
examples:
  worldalign export runs/wm checkpoints/world-model-cpu --half
  worldalign export runs/ae/model checkpoints/autoencoder-cpu --half
  worldalign export runs/wm/checkpoints/step_0002500 runs/wm-step2500

RUN is a training run folder (its model/ is exported), a model folder, or one of a run's
resumable checkpoints (RUN/checkpoints/step_N: its weight EMA is exported, the model the run
would have written had it stopped there; use it to evaluate a run that is still training).
DEST receives model.safetensors, config.json and, when the run has them, action_normalizer.json
and instruction_embeddings.safetensors: DEST then works wherever a run folder is accepted
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
    parser.add_argument("run", type=Path, help="run folder, model folder or RUN/checkpoints/step_N")
    parser.add_argument("dest", type=Path, help="destination folder")
    parser.add_argument("--half", action="store_true", help="store weights as float16 (half the size)")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from worldalign.stages.export import export_model

    result = export_model(args.run, args.dest, half=args.half)
    extras = f" with {', '.join(result.side_files)}" if result.side_files else ""
    source = f"the weight EMA of {result.source}" if result.from_ema else str(result.source)
    size = f"{result.size_bytes / 1e6:.1f} MB{', float16' if args.half else ''}"
    print(f"exported {source} to {args.dest}{extras} ({size})")
    return 0
