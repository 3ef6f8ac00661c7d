"""RoboAlign-R1's Sliding Window Re-encoding against full history, in the regime where it drifts.

RoboAlign-R1 (seed paper A) generates a long rollout in segments of W frames (W = 6) and, at each
segment boundary, decodes the last predicted frame to pixels and re-encodes it as fresh context, so
the context stays bounded and latent errors do not compound. Training-free; the paper reports SSIM
+2.8%, LPIPS -9.8% and PSNR +0.6 dB against full history at +1.1% latency.

Unlike the alignment effects (``stages.reproduce``), nothing is trained: the same world model is
rolled out from the same real starts with the same sampling noise under three context policies,
full history (every generated frame up to the model's context limit), SWR with window W and a
plain fixed window of W frames (SWR's cost without the re-encoding), by ``worldalign eval``
(``stages.evaluate``: resumable, one ``eval.json``). The verdict compares SWR with full history at
the last horizon; with no training, the noise a change must exceed is the sampling-seed spread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from worldalign.errors import ConfigError
from worldalign.stages.evaluate import TRAINING_TASKS, EvalSetup, evaluate_world_models, policy_key
from worldalign.stages.reproduce import RESULTS_FILE, RESULTS_VERSION, Claim, judge_change
from worldalign.utils.atomic import atomic_write_json
from worldalign.utils.config_serialization import config_to_dict

SWR_EFFECT = "swr"
SWR_TITLE = "RoboAlign-R1: Sliding Window Re-encoding against full history, long rollouts"
SWR_CITATION = "RoboAlign-R1 (seed paper A): SSIM +2.8%, LPIPS -9.8%, PSNR +0.6 dB vs full history, +1.1% latency"
SWR_CLAIMS = (
    Claim("ssim", "SSIM", "+2.8%", 0.028),
    Claim("lpips", "LPIPS", "-9.8%", 0.098, lower_is_better=True),
    Claim("psnr", "PSNR", "+0.6 dB", None),
)
COMPARISON_KIND = "comparison"
"""``results.json``'s ``kind`` for an effect measured by comparing policies, not by training."""
REPORTED_HORIZONS = (16, 48)
"""Horizons the results show besides the last one."""
MODEL_LABEL = "model"


@dataclass(frozen=True)
class SwrSetup:
    """Which model is rolled out, how far, and where the evaluation goes (``out/swr/``)."""

    world_model: Path
    autoencoder: Path
    dataset: Path
    """Its held-out episodes of the training tasks are the starts (as ``worldalign eval``)."""
    out: Path
    horizon: int = 96
    """Frames generated per episode: long enough for a model that drifts under full history to show it."""
    window: int = 6
    """SWR's window W (and the fixed window's), in frames."""
    episodes: int = 10
    seeds: int = 3
    """Sampling seeds 0..seeds-1."""
    context: int = 2
    """Real start frames."""
    sampling_steps: int = 10
    batch_size: int = 10

    def policy_specs(self) -> dict[str, str]:
        """Role -> the context policy as ``worldalign eval`` takes it (``NAME[:FRAMES]``)."""
        return {"swr": f"swr:{self.window}", "full": "full-history", "fixed": f"fixed-window:{self.window}"}


def reproduce_swr(
    setup: SwrSetup, *, progress: bool = True, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Evaluate (or resume, or read back) the three policies, then write and return the results."""
    if setup.horizon < 2 or setup.window < 1:
        raise ConfigError(f"horizon {setup.horizon}, window {setup.window}: expected a horizon >= 2 and a window >= 1")
    folder = setup.out / SWR_EFFECT
    evaluation = EvalSetup(
        world_models=[(MODEL_LABEL, setup.world_model)],
        autoencoder=setup.autoencoder,
        dataset=setup.dataset,
        out=folder,
        episodes=setup.episodes,
        policies=tuple(setup.policy_specs().values()),
        context=setup.context,
        horizon=setup.horizon,
        seeds=setup.seeds,
        sampling_steps=setup.sampling_steps,
        batch_size=setup.batch_size,
        rewards=None,
        videos=1,
    )
    summary = evaluate_world_models(evaluation, progress=progress, log=log)
    results = swr_results(summary, setup)
    atomic_write_json(folder / RESULTS_FILE, results)
    return results


def swr_results(summary: dict[str, Any], setup: SwrSetup) -> dict[str, Any]:
    """The results of ``reproduce_swr`` from its ``eval.json``: per policy the metrics at the
    reported horizons (mean and sampling-seed std), latency and context; verdicts of SWR against
    full history at the last horizon."""
    quality = summary["splits"][TRAINING_TASKS]["models"][MODEL_LABEL]["quality"]
    horizon = int(quality["horizon"])
    horizons = sorted({h for h in REPORTED_HORIZONS if h < horizon} | {horizon})
    keys = {role: policy_key(spec) for role, spec in setup.policy_specs().items()}
    missing = [key for key in keys.values() if key not in quality["policies"]]
    if missing:
        raise ConfigError(f"{setup.out / SWR_EFFECT}: its eval.json lacks the policies {missing}")
    policies = {}
    for role, key in keys.items():
        result = quality["policies"][key]
        curves = result["curves"]
        policies[role] = {
            "key": key,
            "window": result["window"],
            "mean_frame_latency_s": result["mean_frame_latency_s"],
            "peak_context_frames": result["peak_context_frames"],
            "at": {
                str(h): {m: {"mean": curves["mean"][m][h - 1], "std": curves["std"][m][h - 1]} for m in curves["mean"]}
                for h in horizons
            },
        }
    last = str(horizon)
    verdicts = []
    for claim in SWR_CLAIMS:
        full, swr = policies["full"]["at"][last].get(claim.metric), policies["swr"]["at"][last].get(claim.metric)
        if full is None or swr is None:
            verdicts.append({"metric": claim.metric, "measured": False})
            continue
        judged = judge_change(claim, full["mean"], swr["mean"], noise=max(full["std"], swr["std"]))
        verdicts.append({"metric": claim.metric, "measured": True, **judged})
    return {
        "version": RESULTS_VERSION,
        "kind": COMPARISON_KIND,
        "effect": SWR_EFFECT,
        "title": SWR_TITLE,
        "citation": SWR_CITATION,
        "seeds": list(quality["seeds"]),
        "recipe": {"setup": {key: value for key, value in config_to_dict(setup).items() if key != "out"}},
        "claims": [asdict(claim) for claim in SWR_CLAIMS],
        "episodes": quality["episodes"],
        "horizons": horizons,
        "policies": policies,
        "verdicts": verdicts,
    }
