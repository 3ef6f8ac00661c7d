"""The world model's quality numbers (issue 3): per-horizon PSNR/SSIM/LPIPS under each context policy.

Rolls a trained world model out from the starts of held-out episodes (by default the 0.1 of each
task that training held out) under full history, a fixed 2-frame window and Sliding Window
Re-encoding with W = 4, 6, 8, 12 (windows beyond the model's maximum context are skipped), each
over ``--seeds`` sampling seeds, and prints markdown tables: quality per horizon next to the
copy-last-frame and mean-frame baselines and the autoencoder ceiling, the action gap (true vs
another episode's actions), the SWR window sweep with the best W, and each policy's latency and
peak context. ``--out`` gets the full report as JSON. See ``worldalign.eval.world_model``.

    .venv/bin/python benchmarks/eval_world_model.py --world-model runs/wm --autoencoder runs/ae \\
        --dataset data/mt10 --out eval.json
    .venv/bin/python benchmarks/eval_world_model.py --world-model /tmp/smoke/wm --autoencoder /tmp/smoke/ae \\
        --dataset /tmp/demo_run/dataset --episodes 4 --horizon 12 --seeds 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from worldalign.data.clips import split_episodes, spread_evenly
from worldalign.data.lerobot_reader import LeRobotDataset
from worldalign.data.selection import check_image_size, select_views
from worldalign.errors import ConfigError
from worldalign.eval.world_model import evaluate_world_model, usable_episodes
from worldalign.runs.loading import load_autoencoder, load_world_model_run
from worldalign.sampling.context_policies import ContextPolicy, FixedWindow, FullHistory, SlidingWindowReencode
from worldalign.utils.atomic import atomic_write_json
from worldalign.utils.text import split_list

HELD_OUT_FRACTION = 0.1  # what `worldalign train world-model` holds out by default
SWR_WINDOWS = (4, 6, 8, 12)
FIXED_WINDOW = 2


def _policies(max_context_frames: int, notes: list[str]) -> dict[str, ContextPolicy]:
    policies: dict[str, ContextPolicy] = {
        "full-history": FullHistory(),
        f"fixed-{FIXED_WINDOW}": FixedWindow(FIXED_WINDOW),
    }
    for window in SWR_WINDOWS:
        if window > max_context_frames:
            notes.append(f"SWR W={window} skipped: the model accepts at most {max_context_frames} context frames")
            continue
        policies[f"swr-{window}"] = SlidingWindowReencode(window=window)
    return policies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-model", required=True, type=Path, help="world model run folder (or its model/)")
    parser.add_argument("--autoencoder", required=True, type=Path, help="autoencoder run folder (or its model/)")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset folder (LeRobot v3 layout)")
    parser.add_argument(
        "--episodes", type=int, help="evaluate N held-out episodes spread over the tasks (default: all)"
    )
    parser.add_argument("--horizon", type=int, default=48, help="frames generated per episode (default: 48)")
    parser.add_argument("--context", type=int, default=4, help="real start frames given as context (default: 4)")
    parser.add_argument("--seeds", type=int, default=3, help="sampling seeds 0..N-1 (default: 3)")
    parser.add_argument("--steps", type=int, default=10, help="Euler sampling steps per chunk (default: 10)")
    parser.add_argument(
        "--guidance-scale", type=float, default=1.0, help="classifier-free guidance scale (default: 1, none)"
    )
    parser.add_argument(
        "--action-guidance-scale",
        type=float,
        default=1.0,
        help="guidance scale on the actions alone (default: 1, none)",
    )
    parser.add_argument(
        "--policies", help=f"comma-separated policy keys, e.g. full-history,swr-6 (default: all; fixed-{FIXED_WINDOW}, "
        f"swr-W for W in {SWR_WINDOWS})"
    )
    parser.add_argument("--batch-size", type=int, default=8, help="episodes per rollout call (default: 8)")
    parser.add_argument("--views", help="comma-separated camera views (default: all of the dataset's)")
    parser.add_argument("--out", type=Path, help="write the full report here as JSON")
    args = parser.parse_args()

    began = time.perf_counter()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dataset = LeRobotDataset(args.dataset)
    views = select_views(dataset, None if args.views is None else split_list(args.views))
    run = load_world_model_run(args.world_model, device)
    autoencoder = load_autoencoder(args.autoencoder, device)
    check_image_size(dataset, views, autoencoder.config.image_size, f"the autoencoder {args.autoencoder}")

    notes: list[str] = []
    held_out = split_episodes(dataset.task_names, held_out_fraction=HELD_OUT_FRACTION)[1]
    episodes, short = usable_episodes(dataset, held_out, args.context, args.horizon)
    if short:
        notes.append(
            f"skipped {len(short)} held-out episode(s) shorter than context {args.context} + horizon "
            f"{args.horizon} frames: {short}"
        )
    episodes = spread_evenly(episodes, args.episodes)
    if not episodes:
        raise ConfigError(
            f"no held-out episode of {args.dataset} holds {args.context + args.horizon} frames: lower --horizon"
        )
    policies = _policies(run.model.config.max_context_frames, notes)
    if args.policies:
        wanted = [key.strip() for key in args.policies.split(",") if key.strip()]
        unknown = [key for key in wanted if key not in policies]
        if unknown:
            raise ConfigError(f"--policies: unknown {unknown}; this model offers {list(policies)}")
        policies = {key: policies[key] for key in wanted}
    report = evaluate_world_model(
        run.model,
        autoencoder,
        dataset,
        episodes,
        views=views,
        policies=policies,
        normalizer=run.normalizer,
        instruction_encoder=run.instruction_encoder,
        context=args.context,
        horizon=args.horizon,
        seeds=range(args.seeds),
        sampling_steps=args.steps,
        guidance_scale=args.guidance_scale,
        action_guidance_scale=args.action_guidance_scale,
        batch_size=args.batch_size,
        progress=True,
    )
    report.notes[:0] = notes
    elapsed = time.perf_counter() - began
    config = run.model.config
    dims = {"actions": config.action_dim, "instruction": config.instruction_dim}
    conditions = [name for name, dim in dims.items() if dim > 0]
    print(
        f"# World model {run.model_dir}\n\n{len(episodes)} held-out episode(s) {episodes} of {args.dataset}, views "
        f"{', '.join(views)}; conditioned on {' and '.join(conditions) or 'nothing'}; {args.steps} Euler steps, "
        f"guidance scale {args.guidance_scale:g}, action guidance scale {args.action_guidance_scale:g}, device "
        f"{device}; {elapsed:.1f} s\n"
    )
    print(report.markdown())
    if args.out is not None:
        payload = report.to_json() | {
            "world_model": str(run.model_dir),
            "autoencoder": str(args.autoencoder),
            "dataset": str(args.dataset),
            "guidance_scale": args.guidance_scale,
            "action_guidance_scale": args.action_guidance_scale,
            "device": str(device),
            "wall_time_s": elapsed,
        }
        atomic_write_json(args.out, payload)
        print(f"\nreport: {args.out}")


if __name__ == "__main__":
    main()
