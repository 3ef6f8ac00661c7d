"""``worldalign export``: a trained model as a self-contained folder to ship or share.

Copies the final model of a run, or the weight EMA of one of its resumable checkpoints (weights +
config, no optimizer or RNG state), and the files the other commands read beside it (the action
statistics and the instruction-embedding cache of a world model, completed with every instruction
of the embedded suite), optionally storing the weights
in float16 (half the size; the commands load them back into float32). ``register`` adds the verb
to the top-level parser.
"""

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
    import torch

    from worldalign.algos.training_run import checkpoint_ema_weights
    from worldalign.models.checkpoint import STATE_TENSORS_FILE, export_checkpoint
    from worldalign.runs.layout import model_folder
    from worldalign.runs.side_files import INSTRUCTION_CACHE_FILE, copy_side_files

    model_dir = model_folder(args.run, "RUN", "train ...")
    ema = checkpoint_ema_weights(model_dir) if (model_dir / STATE_TENSORS_FILE).is_file() else None
    export_checkpoint(model_dir, args.dest, torch.float16 if args.half else None, weights=ema)
    copied = copy_side_files(model_dir, args.dest)
    if INSTRUCTION_CACHE_FILE in copied:
        _embed_suite_instructions(args.dest / INSTRUCTION_CACHE_FILE)
    size = sum(p.stat().st_size for p in args.dest.iterdir()) / 1e6
    extras = f" with {', '.join(copied)}" if copied else ""
    source = f"the weight EMA of {model_dir}" if ema is not None else str(model_dir)
    print(f"exported {source} to {args.dest}{extras} ({size:.1f} MB{', float16' if args.half else ''})")
    return 0


def _embed_suite_instructions(cache_file: Path) -> None:
    """Complete an instruction cache with every paraphrase of the embedded Meta-World suite, so
    that using the exported model on the embedded benchmark never rewrites its folder (a shipped
    folder stays as committed) nor loads the sentence encoder."""
    from worldalign.envs.tasks import all_instructions
    from worldalign.models.text.instruction_encoder import InstructionEncoder

    InstructionEncoder(cache_file).encode(all_instructions())
