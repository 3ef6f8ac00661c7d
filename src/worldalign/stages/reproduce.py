"""Reproduce a seed paper's effect: the same alignment recipe over several training seeds, held-out
learning curves against updates and wall-clock, and a verdict that counts only what exceeds the
noise.

An effect (``EFFECTS``) is a recipe (``AlignSetup``/``AlignConfig`` changes) and the paper's
claims about held-out metrics. ``reproduce_effect`` runs the recipe once per training seed, each
in its own folder (``OUT/<effect>/seed-<s>``, resumable: a finished seed is read back, an
interrupted one continues from its checkpoint), then reads every run's evaluations (iteration 0 is
the pretrained model, the baseline; the same held-out starts and sampling seeds at every
evaluation) and writes ``OUT/<effect>/results.json``: per evaluation, each metric's mean over the
training seeds, their spread (std) and the sampling-seed spread. A change from the baseline
counts only when it exceeds both spreads. ``stages.results_page`` turns the JSON files into
``docs/results.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worldalign.configs.align import AlignConfig
from worldalign.errors import ConfigError
from worldalign.rewards.judge import SHIPPED_JUDGE_TEACHER
from worldalign.rewards.registry import parse_reward_spec
from worldalign.rewards.reward_models import reward_model_digest, reward_model_folder
from worldalign.runs.layout import ALIGN_LOG_FILE
from worldalign.stages.align import SUMMARY_FILE, AlignSetup, align_world_model
from worldalign.utils.atomic import atomic_write_json
from worldalign.utils.config_serialization import config_to_dict

RESULTS_FILE = "results.json"
RESULTS_VERSION = 1
_READ_BY = "`worldalign reproduce`"
NOT_ARM_FIELDS = frozenset(
    {
        # where it ran and what it read
        "world_model", "autoencoder", "dataset", "out", "resume", "max_train_episodes", "held_out",
        "teacher",  # its weights tell arms apart, by digest (``reward_model_digests``), not its path
        # how long, and the bookkeeping
        "seed", "iterations", "checkpoint_every", "keep_checkpoints", "max_seconds",
        # how it was evaluated
        "eval_every", "eval_rewards", "eval_reward_options", "eval_episodes", "eval_horizon", "eval_seeds",
        "eval_sampling_steps", "videos",
        # named by the arm's label itself
        "rewards", "reward_options",
    }
)
"""Recipe fields that do not tell an effect's arms apart: where and how long a run trained, how it
was evaluated (the page states those), and the optimised rewards (the arm's label names them)."""


@dataclass(frozen=True)
class Claim:
    """A paper's claim about one held-out metric."""

    metric: str
    """The held-out evaluation's key, e.g. ``fidelity/lpips`` (``eval.alignment.HeldOutRollouts``)."""
    label: str
    """How a reader calls it, e.g. "LPIPS"."""
    paper: str
    """The paper's number and where it was measured, as text."""
    target: float | None
    """Our target: the relative improvement over the pretrained model (0.10 = 10% better), or None
    for a guard, a metric that must not get significantly worse."""
    lower_is_better: bool = False
    """LPIPS-like metrics improve downwards."""


@dataclass(frozen=True)
class Race:
    """A claim about speed: the recipe reaches the held-out gain both it and a rival arm reach
    ("equal reward") in a fraction of the rival's training wall-clock (DiffusionNFT against
    Flow-GRPO; judged by ``results_page.race_verdict``)."""

    metric: str
    """The held-out metric both arms raise."""
    rival: dict[str, Any]
    """``AlignConfig`` changes that make the rival arm (run as ``reproduce ... --algo grpo``)."""
    target: float
    """The largest fraction of the rival's wall-clock to that gain the claim allows."""


@dataclass(frozen=True)
class Effect:
    """A seed paper's effect: its recipe and its claims."""

    name: str
    title: str
    citation: str
    claims: tuple[Claim, ...]
    setup: dict[str, Any] = field(default_factory=dict)
    """``AlignSetup`` fields of the recipe."""
    config: dict[str, Any] = field(default_factory=dict)
    """``AlignConfig`` fields of the recipe."""
    race: Race | None = None
    """A speed claim against a rival arm, judged on the results page (``results_page``)."""


EFFECTS: dict[str, Effect] = {
    effect.name: effect
    for effect in (
        Effect(
            name="persistworld",
            title="PersistWorld: DiffusionNFT on the model's own rollout states, multi-view fidelity reward",
            citation="PersistWorld (seed paper C): LPIPS -14% (external cameras), SSIM +9.1% (wrist) on DROID",
            claims=(
                Claim("fidelity/lpips", "LPIPS", "-14% (DROID, 14-step rollouts)", 0.10, lower_is_better=True),
                Claim("fidelity/ssim", "SSIM", "+9.1% (DROID, wrist camera)", 0.05),
                Claim("fidelity/psnr", "PSNR", "not reported", None),
                Claim("motion_match/generated", "motion of the generated frames", "not reported", None),
            ),
            setup={
                "conditions": "rollout-states",
                "rewards": "fidelity=1.0",
                "eval_rewards": "fidelity=1.0,motion_match=0.0",
                "eval_horizon": 24,
            },
            config={"algorithm": "nft", "iterations": 100, "eval_every": 25},
        ),
        Effect(
            name="eva",
            title="EVA: Flow-GRPO on instruction prompts, executability reward from the inverse dynamics model",
            citation="EVA (seed paper B): kinematic plausibility +20.9%, downstream success 52% -> 64%",
            # The targets: jerk and acceleration of the decoded actions 20% lower, counted only
            # while the motion itself, the decoded plan's task progress and the fidelity hold (a model
            # that stops moving is smooth too).
            claims=(
                Claim("executability/jerk", "jerk of the decoded actions", "kinematic plausibility +20.9%", 0.20,
                      lower_is_better=True),
                Claim("executability/acceleration", "acceleration of the decoded actions",
                      "kinematic plausibility +20.9%", 0.20, lower_is_better=True),
                Claim("executability", "executability (the reward)", "not reported", None),
                Claim("executability/velocity", "speed of the decoded actions (a still model is smooth)",
                      "not reported", None),
                Claim("execution/progress", "task progress of the decoded plan, executed", "success 52% -> 64%", None),
                Claim("fidelity", "fidelity (not optimised)", "no loss of visual quality", None),
            ),
            setup={
                "conditions": "prompts",
                "rewards": "executability=1.0",
                "eval_rewards": "executability=1.0,execution=0.0,fidelity=0.0",
                "eval_horizon": 8,
            },
            config={"algorithm": "grpo", "iterations": 100, "eval_every": 25},
        ),
        Effect(
            name="roboalign-r1",
            title="RoboAlign-R1: Flow-GRPO on instruction prompts, distilled-judge reward",
            citation="RoboAlign-R1 (seed paper A): six-dimension sum +10.1%, Manipulation +7.5%, Instruction +4.6%",
            claims=(
                Claim("judge_teacher", "six-dimension sum (teacher)", "+10.1%", 0.10),
                Claim("judge_teacher/manipulation_success", "Manipulation Success (teacher)", "+7.5%", 0.075),
                Claim("judge_teacher/instruction_following", "Instruction Following (teacher)", "+4.6%", 0.046),
                Claim("judge", "six-dimension sum (student, optimised)", "not reported", None),
                Claim("execution/success", "IDM-decoded plan success (outside the judge)", "not reported", None),
                Claim("fidelity", "fidelity (not optimised)", "LPIPS, SSIM not worse", None),
            ),
            setup={
                "conditions": "prompts",
                "rewards": "judge=1.0",
                "eval_rewards": "judge_teacher=1.0,judge=0.0,execution=0.0,fidelity=0.0",
                # The teacher reads 16 frames: shorter candidates would be stretched by repeating
                # frames, which it scores as stalls (docs/benchmarks.md, RoboAlign-R1 seed 0).
                "horizon": 16,
                "eval_horizon": 16,
                "teacher": SHIPPED_JUDGE_TEACHER,
            },
            config={"algorithm": "grpo", "iterations": 100, "eval_every": 25, "relabel_every": 25},
        ),
        Effect(
            name="nft-vs-grpo",
            title="DiffusionNFT against Flow-GRPO: training wall-clock to the same held-out gain",
            citation="DiffusionNFT (Zheng et al., 2025): up to 25x more efficient than Flow-GRPO head to head",
            # The race needs a reward both algorithms raise: none of the papers' rewards climbs under
            # either on this base model (docs/benchmarks.md), the dense brightness reward climbs under
            # both ("RL climbs an easy reward"). Fidelity is logged, not claimed: brighter frames
            # are further from the real ones by design.
            claims=(Claim("brightness", "brightness (the reward)", "the reward climbs", 0.0),),
            setup={
                "conditions": "rollout-states",
                "rewards": "brightness=1.0",
                "eval_rewards": "brightness=1.0,fidelity=0.0",
                "eval_horizon": 8,
            },
            config={"algorithm": "nft", "iterations": 50, "eval_every": 10},
            race=Race(metric="brightness", rival={"algorithm": "grpo"}, target=1 / 3),
        ),
    )
}


@dataclass(frozen=True)
class ReproduceSetup:
    """Where an effect is reproduced, and what of its recipe is changed."""

    world_model: Path
    autoencoder: Path
    dataset: Path
    out: Path
    """Each effect writes ``out/<effect>/``: one folder per seed and ``results.json``."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds (each also fixes its conditions and noise; the evaluation's sampling
    seeds are ``AlignSetup.eval_seeds``, the same for every training seed)."""
    setup_changes: dict[str, Any] = field(default_factory=dict)
    """``AlignSetup`` fields that replace the recipe's (e.g. ``eval_episodes``, ``reward_options``)."""
    config_changes: dict[str, Any] = field(default_factory=dict)
    """``AlignConfig`` fields that replace the recipe's (e.g. ``iterations``, ``learning_rate``)."""
    seeds_from: tuple[Path, ...] = ()
    """``results.json`` files of earlier runs of the same recipe (``reproduce --seeds-from``): a
    seed one of them holds is read from it instead of trained again, unless ``out`` holds a
    finished run of it. Its recipe must equal this one's field by field (``earlier_curves``)."""


YARDSTICK_OPTIONS = ("metric_weights", "view_weights")
"""Reward options that change what a reward measures. An arm's apply to its optimised reward
only: the held-out claims keep the recipe's (or ``eval_reward_options``'s, for every arm alike),
so that an LPIPS-only arm is still judged on the recipe's fidelity."""

ALGORITHM_FIELDS = ("kl_coef",)
"""Recipe changes that set a field of the algorithm's own config (``AlignConfig.nft`` or ``.grpo``)."""


def recipe(effect: Effect, where: ReproduceSetup, seed: int) -> tuple[AlignSetup, AlignConfig]:
    """The alignment of ``effect`` for training seed ``seed``, with ``where``'s changes."""
    fields = {**effect.setup, **where.setup_changes}
    shared = {k: v for k, v in fields.get("reward_options", {}).items() if k not in YARDSTICK_OPTIONS}
    fields["eval_reward_options"] = {**shared, **fields.get("eval_reward_options", {})}
    setup = AlignSetup(
        world_model=where.world_model,
        autoencoder=where.autoencoder,
        dataset=where.dataset,
        out=where.out / effect.name / f"seed-{seed}",
        **fields,
    )
    changes = {**effect.config, **where.config_changes, "seed": seed}
    per_algorithm = {name: changes.pop(name) for name in ALGORITHM_FIELDS if name in changes}
    config = dataclasses.replace(AlignConfig(), **changes)
    if per_algorithm:  # e.g. the KL weight: a field of the recipe's algorithm's own config
        section = dataclasses.replace(getattr(config, config.algorithm), **per_algorithm)
        config = dataclasses.replace(config, **{config.algorithm: section})
    # The recipe names its learning rate (the algorithm's default when none is given).
    config = dataclasses.replace(config, learning_rate=config.peak_learning_rate)
    if config.relabel_every and "judge" not in parse_reward_spec(setup.rewards):
        # Relabelling refreshes the optimised student judge: an arm that optimises other rewards
        # (RoboAlign-R1's LPIPS-only comparison) has none to refresh.
        config = dataclasses.replace(config, relabel_every=0)
    if config.eval_every <= 0:
        raise ConfigError(f"the {effect.name} recipe evaluates every {config.eval_every} iterations; expected >= 1")
    return setup, config


def arm_changes(results: dict[str, Any]) -> dict[str, Any]:
    """What an arm trained with that its effect's recipe does not: every field of ``results``'s
    recipe (``results.json``, nested fields dotted, e.g. ``nft.beta``) outside ``NOT_ARM_FIELDS``
    that differs from the recipe run with no changes, and every reward model whose weights differ
    from the ones the recipe reads today (``<role> model``: the digest, ``reward_model_digests``).
    A field an older ``results.json`` lacks had its default then, so it is no change. Two runs with
    equal rewards and equal changes are the same arm (a rerun replaces the older)."""
    reference = _recipe_reference(results["effect"])[0]
    found = _flat(results["recipe"])
    changes = {
        name.split(".", 1)[1]: value
        for name, value in sorted(found.items())
        if name.split(".")[-1] not in NOT_ARM_FIELDS and name in reference and value != reference[name]
    }
    changes.update({f"{role} model": digest for role, digest in retrained_reward_models(results).items()})
    return changes


def retrained_reward_models(results: dict[str, Any]) -> dict[str, str]:
    """The reward models of ``results`` whose weights (digests) differ from the ones its effect's
    recipe reads today: retrained since, or replaced by the arm. Empty for an older
    ``results.json`` that recorded no digests."""
    today = recipe_reward_models(results["effect"])
    recorded = results.get("reward_models", {})
    return {role: digest for role, digest in sorted(recorded.items()) if role in today and digest != today[role]}


def recipe_reward_models(effect: str) -> dict[str, str]:
    """The digests of the reward models ``effect``'s recipe reads today (``reward_model_digests``)."""
    return _recipe_reference(effect)[1]


def reward_model_digests(setup: AlignSetup, config: AlignConfig) -> dict[str, str]:
    """The weights of every trained reward model a run reads (``rewards.reward_models``), by role:
    each reward of its optimised and held-out specs that reads one, and ``teacher`` when the run
    relabels its student judge. The digest is of the weights it starts from."""
    digests = {}
    eval_options = setup.reward_options if setup.eval_reward_options is None else setup.eval_reward_options
    for spec, options in ((setup.rewards, setup.reward_options), (setup.eval_rewards, eval_options)):
        for name in parse_reward_spec(spec):
            folder = reward_model_folder(name, options)
            if folder is not None and name not in digests:
                digests[name] = reward_model_digest(folder)
    if config.relabel_every and setup.teacher is not None:
        digests["teacher"] = reward_model_digest(setup.teacher)
    return digests


@functools.cache
def _recipe_reference(effect: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``effect``'s recipe with no changes, as ``results.json`` stores it and flattened (``_flat``),
    and the digests of the reward models it reads today."""
    unchanged = ReproduceSetup(world_model=Path(), autoencoder=Path(), dataset=Path(), out=Path(), seeds=(0,))
    setup, config = recipe(EFFECTS[effect], unchanged, seed=0)
    fields = _flat({"setup": config_to_dict(setup), "config": config_to_dict(config)})
    return fields, reward_model_digests(setup, config)


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict with dotted keys (``{"config": {"nft": {"beta": 1}}}`` ->
    ``{"config.nft.beta": 1}``); dicts under ``NOT_ARM_FIELDS`` stay whole."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and key not in NOT_ARM_FIELDS:
            flat.update(_flat(value, prefix=f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def reproduce_effect(effect: Effect, where: ReproduceSetup) -> dict[str, Any]:
    """Run (or resume, or read back) every seed of ``effect``, then write and return its results."""
    if len(where.seeds) < 1 or len(set(where.seeds)) != len(where.seeds):
        raise ConfigError(f"seeds {list(where.seeds)}: expected distinct training seeds (3 for a verdict)")
    runs = [recipe(effect, where, seed) for seed in where.seeds]
    earlier = earlier_curves(where.seeds_from, effect, runs)
    for setup, config in runs:
        if _finished(setup.out, config.iterations):
            earlier.pop(config.seed, None)
        elif config.seed not in earlier:
            align_world_model(setup, config)
    curves = [earlier[config.seed] if config.seed in earlier else read_curve(setup.out) for setup, config in runs]
    results = {
        "version": RESULTS_VERSION,
        "effect": effect.name,
        "title": effect.title,
        "citation": effect.citation,
        "seeds": list(where.seeds),
        "recipe": {"setup": _without(config_to_dict(runs[0][0]), "out"), "config": config_to_dict(runs[0][1])},
        "reward_models": reward_model_digests(*runs[0]),
        "claims": [dataclasses.asdict(claim) for claim in effect.claims],
        "curve": aggregate(curves),
    }
    results["verdicts"] = verdicts(results["curve"], effect.claims)
    atomic_write_json(where.out / effect.name / RESULTS_FILE, results)
    return results


def earlier_curves(
    paths: Sequence[Path], effect: Effect, runs: Sequence[tuple[AlignSetup, AlignConfig]]
) -> dict[int, list[dict[str, Any]]]:
    """The curves (``read_curve``'s) of the training seeds of ``runs`` that the ``results.json``
    files ``paths`` hold, split back per seed (``split_curves``). Each file must be a run of
    ``effect`` whose recipe equals the seed's run in ``runs`` in every field but the seed and the
    output folder, with the same reward-model weights; a ``ConfigError`` names the fields that
    differ. A field a file lacks had the recipe's value then (as in ``arm_changes``)."""
    wanted = {config.seed: (setup, config) for setup, config in runs}
    curves: dict[int, list[dict[str, Any]]] = {}
    for path in paths:
        stored = _read_json(path)
        if stored.get("effect") != effect.name:
            raise ConfigError(f"{path}: field 'effect' is {stored.get('effect')!r}; expected {effect.name!r}")
        if "recipe" not in stored:
            raise ConfigError(f"{path}: missing field 'recipe'; expected a results.json of {_READ_BY}")
        for seed, curve in split_curves(stored, path).items():
            if seed not in wanted:
                continue
            if seed in curves:
                raise ConfigError(f"{path}: training seed {seed} is in another --seeds-from file too; expected one")
            differences = recipe_differences(stored, *wanted[seed])
            if differences:
                listed = "; ".join(differences[:6]) + ("; ..." if len(differences) > 6 else "")
                raise ConfigError(f"{path}: not a run of this recipe (seed {seed}): {listed}")
            curves[seed] = curve
    return curves


def recipe_differences(stored: dict[str, Any], setup: AlignSetup, config: AlignConfig) -> list[str]:
    """Where the recipe of a stored ``results.json`` differs from the run ``setup``/``config``:
    every field but the seed and the output folder, then the reward models' digests."""
    reference = _recipe_reference(stored["effect"])[0]
    found = _flat(stored["recipe"])
    here = _flat({"setup": _without(config_to_dict(setup), "out"), "config": config_to_dict(config)})
    differences = [
        f"{name} {found.get(name, reference.get(name))!r} there, {value!r} here"
        for name, value in here.items()
        if name != "config.seed" and found.get(name, reference.get(name)) != value
    ]
    digests = reward_model_digests(setup, config)
    recorded = stored.get("reward_models", digests)
    differences += [
        f"{role} model {recorded.get(role)!r} there, {digest!r} here"
        for role, digest in digests.items()
        if recorded.get(role) != digest
    ]
    return differences


def split_curves(results: dict[str, Any], path: Path) -> dict[int, list[dict[str, Any]]]:
    """``results``'s aggregated curve (``aggregate``) split back into each training seed's
    (``read_curve``'s form). A file of several seeds written before ``aggregate`` kept each
    seed's sampling spread and wall-clock cannot be split: a ``ConfigError``."""
    seeds = results.get("seeds") or []
    curves: dict[int, list[dict[str, Any]]] = {seed: [] for seed in seeds}
    for point in results.get("curve") or []:
        alone = [point["seconds"]] if len(seeds) == 1 else None
        seconds = point.get("per_seed_seconds", alone)
        for index, seed in enumerate(seeds):
            metrics = {}
            for name, metric in point["metrics"].items():
                spreads = metric.get("per_seed_sampling_std", [metric["sampling_std"]] if len(seeds) == 1 else None)
                if seconds is None or spreads is None:
                    raise ConfigError(
                        f"{path}: seeds {seeds} were aggregated without each seed's sampling spread and "
                        "wall-clock (written before they were kept); expected a results.json of one seed or a newer one"
                    )
                metrics[name], metrics[f"{name}/seed_std"] = metric["per_seed"][index], spreads[index]
            curves[seed].append({"iteration": point["iteration"], "seconds": seconds[index], "metrics": metrics})
    return curves


def _read_json(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it as JSON ({error}); expected a results.json of {_READ_BY}")
    if not isinstance(found, dict) or found.get("version") != RESULTS_VERSION:
        raise ConfigError(f"{path}: field 'version' is not {RESULTS_VERSION}; expected a results.json of {_READ_BY}")
    return found


def _finished(out: Path, iterations: int) -> bool:
    """Whether the run in ``out`` completed ``iterations`` updates (its summary says so)."""
    path = out / SUMMARY_FILE
    return path.is_file() and json.loads(path.read_text()).get("iterations") == iterations


def read_curve(out: Path) -> list[dict[str, Any]]:
    """One run's held-out evaluations from its log: ``[{iteration, seconds, metrics}]``, where
    ``seconds`` is the training wall-clock up to that iteration."""
    path = out / ALIGN_LOG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; expected the log of an alignment run")
    seconds, elapsed, points = {0: 0.0}, 0.0, []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for line in lines:
        if line["kind"] == "train":
            elapsed += float(line.get("time/iteration_s") or 0.0)
            seconds[int(line["iteration"])] = elapsed
    for line in lines:
        if line["kind"] == "eval":
            iteration = int(line["iteration"])
            skipped = ("iteration", "kind", "nonfinite")
            metrics = {key: _number(value) for key, value in line.items() if key not in skipped}
            points.append({"iteration": iteration, "seconds": seconds.get(iteration, elapsed), "metrics": metrics})
    return points


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def aggregate(curves: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The seeds' curves at the iterations all of them evaluated: per metric the mean over
    training seeds, their std (``train_std``) and the mean sampling-seed std (``sampling_std``),
    with each seed's value, sampling spread and wall-clock kept (``split_curves`` inverts it)."""
    common = sorted(set.intersection(*({point["iteration"] for point in curve} for curve in curves)))
    merged = []
    for iteration in common:
        points = [next(p for p in curve if p["iteration"] == iteration) for curve in curves]
        names = [name for name in points[0]["metrics"] if not name.endswith("/seed_std")]
        metrics = {}
        for name in names:
            values = [point["metrics"][name] for point in points]
            spreads = [point["metrics"].get(f"{name}/seed_std", 0.0) for point in points]
            metrics[name] = {
                "mean": statistics.fmean(values),
                "train_std": sample_std(values),
                "sampling_std": statistics.fmean(spreads),
                "per_seed": values,
                "per_seed_sampling_std": spreads,
            }
        seconds = [point["seconds"] for point in points]
        timing = {"iteration": iteration, "seconds": statistics.fmean(seconds), "per_seed_seconds": seconds}
        merged.append({**timing, "metrics": metrics})
    return merged


def verdicts(curve: list[dict[str, Any]], claims: Sequence[Claim]) -> list[dict[str, Any]]:
    """Each claim judged on the last evaluation against the first (the pretrained model): the
    change, the relative improvement, whether the change exceeds both the training-seed and the
    sampling-seed spread, and whether it meets the target (a guard: no change beyond the noise
    for the worse)."""
    if len(curve) < 2:
        return []
    first, last = curve[0]["metrics"], curve[-1]["metrics"]
    judged = []
    for claim in claims:
        if claim.metric not in first or claim.metric not in last:
            judged.append({"metric": claim.metric, "measured": False})
            continue
        before, after = first[claim.metric], last[claim.metric]
        noise = change_noise(before, after)
        judged.append(
            {
                "metric": claim.metric,
                "measured": True,
                "iteration": curve[-1]["iteration"],
                **judge_change(claim, before["mean"], after["mean"], noise),
            }
        )
    return judged


def change_noise(before: dict[str, Any], after: dict[str, Any]) -> float:
    """The spread a change of one metric (``aggregate``'s entries) must exceed to count: the
    training-seed spread after, and the sampling-seed spread before and after."""
    return max(after["train_std"], after["sampling_std"], before["sampling_std"])


def judge_change(claim: Claim, before: float, after: float, noise: float) -> dict[str, Any]:
    """A change of ``claim``'s metric from ``before`` to ``after`` judged against ``noise`` (the
    largest spread it must exceed): the change, relative and as an improvement, whether it counts,
    and whether it meets the target (a guard: no change beyond the noise for the worse).

    From a zero baseline every change is infinitely large relative to it: a gain beyond the noise
    meets any relative target, a loss breaks it, and ``relative``/``improvement`` are stored as
    None (JSON has no infinity; ``relative_text`` writes "from 0")."""
    change = after - before
    if before:
        relative = change / abs(before)
    else:  # from zero, every change is infinitely large relative to the baseline
        relative = math.copysign(math.inf, change) if change else 0.0
    improvement = -relative if claim.lower_is_better else relative
    exceeds = abs(change) > noise
    meets = not (exceeds and improvement < 0) if claim.target is None else exceeds and improvement >= claim.target
    return {
        "before": before,
        "after": after,
        "change": change,
        "relative": relative if math.isfinite(relative) else None,
        "improvement": improvement if math.isfinite(improvement) else None,
        "noise": noise,
        "exceeds_noise": bool(exceeds),
        "meets_target": bool(meets),
    }


def relative_text(verdict: dict[str, Any]) -> str:
    """A judged change relative to its baseline, as a signed percentage ("from 0" when the
    baseline is zero)."""
    return "from 0" if verdict["relative"] is None else f"{verdict['relative']:+.1%}"


def sample_std(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _without(values: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key != name}
