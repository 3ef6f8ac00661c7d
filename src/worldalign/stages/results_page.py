"""``docs/results.md``: the seed papers' numbers beside ours, from ``stages.reproduce`` results.

The page is regenerated from the ``results.json`` files, never edited by hand: for each effect,
the recipe, the claims with the pretrained and aligned values (mean ± training-seed std, with the
sampling-seed spread), whether each change counts (beyond both spreads) and meets its target, the
held-out learning curve against updates and training wall-clock (a table, and a figure of every
arm's curves in ``results/figures/``), and a verdict on the effect as a whole. SWR, which trains nothing, is a comparison of context policies on the same starts
(``stages.reproduce_swr``) with its own section. Effects without results are listed as not run.

An effect can have several arms: the recipe, and runs with other optimised rewards or other
training settings (RoboAlign-R1's distilled judge against an LPIPS-only reward; PersistWorld with
8 candidates per state); an arm is its rewards and every training change from the recipe
(``reproduce.arm_changes``), and the page compares the arms in one table. An effect that is a
speed claim (``reproduce.Race``: DiffusionNFT against its Flow-GRPO arm) is judged by the time each
arm takes to the gain both reach (``race_verdict``). Every ``results.json`` a page was written
from is copied into ``results/`` beside it, so the page can be rewritten from the repository alone.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from worldalign.errors import ConfigError
from worldalign.report.plots import LearningCurve, learning_curves
from worldalign.stages.reproduce import (
    EFFECTS,
    RESULTS_VERSION,
    Race,
    arm_changes,
    change_noise,
    recipe_reward_models,
    relative_text,
    retrained_reward_models,
    sample_std,
)
from worldalign.stages.reproduce_swr import COMPARISON_KIND, SWR_CITATION, SWR_EFFECT, SWR_TITLE
from worldalign.utils.atomic import atomic_write_bytes

REQUIRED_FIELDS = ("effect", "title", "citation", "seeds", "recipe", "claims", "verdicts")
KIND_FIELDS = {"alignment": ("curve",), COMPARISON_KIND: ("episodes", "horizons", "policies")}
"""Fields of each kind of results: an alignment's learning curve, or a comparison's policies."""
MIN_TRAINING_SEEDS = 3
"""Training seeds an alignment effect needs before it can count as reproduced."""
RESULTS_FOLDER = "results"
"""Beside the page: a copy of every ``results.json`` the page was written from."""
FIGURES_FOLDER = "figures"
"""In ``RESULTS_FOLDER``: each effect's learning curves, ``<effect>.png``."""
LEGEND_LABEL_CHARACTERS = 110
"""An arm's label in a figure's legend is cut to this many characters (the arms table has it whole)."""


def read_results(path: Path) -> dict[str, Any]:
    """A ``results.json`` written by ``reproduce_effect``; a ``ConfigError`` naming the file and
    the field when it is something else."""
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        expected = "expected a results.json of `worldalign reproduce`"
        raise ConfigError(f"{path}: cannot read it as JSON ({error}); {expected}")
    if not isinstance(results, dict) or results.get("version") != RESULTS_VERSION:
        found = results.get("version") if isinstance(results, dict) else type(results).__name__
        raise ConfigError(f"{path}: field 'version' is {found!r}; expected {RESULTS_VERSION} (`worldalign reproduce`)")
    kind = results.get("kind", "alignment")
    if kind not in KIND_FIELDS:
        raise ConfigError(f"{path}: field 'kind' is {kind!r}; expected one of {sorted(KIND_FIELDS)}")
    missing = [name for name in (*REQUIRED_FIELDS, *KIND_FIELDS[kind]) if name not in results]
    if missing:
        raise ConfigError(f"{path}: missing field(s) {missing}; expected a results.json of `worldalign reproduce`")
    return results


def arm_label(results: dict[str, Any]) -> str:
    """What tells an effect's arms apart, as the page shows it (Markdown): the optimised rewards,
    their options and every other change from the effect's recipe (``reproduce.arm_changes``),
    e.g. ``fidelity=1.0`` in backticks, then ``, metric_weights {"lpips": 1.0}, group_size 8``."""
    setup = results["recipe"]["setup"]
    options = sorted((setup.get("reward_options") or {}).items())
    differences = dict([*options, *sorted(arm_changes(results).items())])
    return f"`{setup['rewards']}`" + (f", {_changes_text(differences)}" if differences else "")


def is_recipe_arm(results: dict[str, Any]) -> bool:
    """Whether ``results`` is its effect's recipe: its rewards with nothing else changed (a
    comparison has one arm)."""
    if results.get("kind") == COMPARISON_KIND:
        return True
    recipe_rewards = EFFECTS[results["effect"]].setup["rewards"]
    return results["recipe"]["setup"]["rewards"] == recipe_rewards and not arm_changes(results)


def main_arm(arms: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The arm an effect's section reports: the recipe itself, else the arm with the recipe's
    rewards and the fewest changes (e.g. a run at a smaller budget), else None."""
    if not arms:
        return None
    rewards = EFFECTS[arms[0]["effect"]].setup["rewards"]
    candidates = [entry for entry in arms if entry["recipe"]["setup"]["rewards"] == rewards]
    return min(candidates, key=lambda entry: (len(arm_changes(entry)), arm_label(entry)), default=None)


def store_results(results: dict[str, Any], page: Path) -> Path:
    """Copy ``results`` into the page's ``results/`` folder: ``<effect>.json`` for the recipe's arm
    (a newer run of it replaces the older), ``<effect>.<hash of the arm>.json`` for another arm.
    A stored run that is another arm now (the recipe's reward models were retrained since) is
    moved to its own file first, not replaced."""
    path = _stored_path(results, page)
    if path.is_file():
        older = read_results(path)
        if arm_label(older) != arm_label(results) and _stored_path(older, page) != path:
            store_results(older, page)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(results, indent=1, sort_keys=True) + "\n").encode())
    return path


def _stored_path(results: dict[str, Any], page: Path) -> Path:
    suffix = "" if is_recipe_arm(results) else "." + hashlib.sha256(arm_label(results).encode()).hexdigest()[:8]
    return page.parent / RESULTS_FOLDER / f"{results['effect']}{suffix}.json"


def stored_results(page: Path) -> list[dict[str, Any]]:
    """Every results file in the page's ``results/`` folder, checked."""
    return [read_results(path) for path in sorted((page.parent / RESULTS_FOLDER).glob("*.json"))]


def write_results_page(results: Sequence[dict[str, Any]], path: Path) -> Path:
    """Write the page for ``results`` (one or more arms per effect) to ``path``."""
    lines = [
        "# Reproduced effects",
        "",
        "Generated by `worldalign reproduce EFFECT ... --page docs/results.md` from the runs' `results.json`",
        f"files (kept in `{RESULTS_FOLDER}/` beside this page): do not edit by hand. Each aligned arm is trained",
        "once per training seed from the same pretrained model and evaluated on the same held-out episodes",
        "with the same sampling seeds; the pretrained model (update 0) is the baseline. A change **counts**",
        "only when it exceeds both the training-seed spread (std over the seeds) and the sampling-seed",
        "spread; a target is met only by a change that counts; a guard metric (no target) holds unless it",
        "got worse beyond the noise.",
        "",
    ]
    for name, effect in EFFECTS.items():
        lines += [f"## {effect.title}", "", f"Paper: {effect.citation}.", ""]
        arms = [entry for entry in results if entry["effect"] == name]
        main = main_arm(arms)
        if not arms:
            lines += ["Not run yet.", ""]
        elif main is None:
            lines += [f"The recipe's rewards (`{effect.setup['rewards']}`) are not run yet.", ""]
        else:
            race = None if effect.race is None else race_verdict(effect.race, main, arms)
            lines += _effect_section(main, race)
            lines += _figure(name, [main, *(entry for entry in arms if entry is not main)], path)
        if len(arms) > 1 or (arms and main is None):
            lines += _arms_table(sorted(arms, key=lambda entry: (entry is not main, arm_label(entry))))
        if any(retrained_reward_models(entry) for entry in arms):
            lines += _reward_models_note(name)
    lines += [f"## {SWR_TITLE}", "", f"Paper: {SWR_CITATION}.", ""]
    swr = next((entry for entry in results if entry["effect"] == SWR_EFFECT), None)
    lines += ["Not run yet.", ""] if swr is None else _comparison_section(swr)
    atomic_write_bytes(path, "\n".join(lines).encode())
    return path


def _figure(effect: str, arms: Sequence[dict[str, Any]], page: Path) -> list[str]:
    """Draw the learning curves of ``arms`` (the main one first) beside ``page`` and link them;
    nothing while no arm has an evaluation after training."""
    curves = [entry for entry in arms if len(entry["curve"]) > 1]
    if not curves:
        return []
    claims = arms[0]["claims"]
    arrows = {claim["metric"]: " ↓" if claim["lower_is_better"] else " ↑" for claim in claims}
    panels = [(claim["metric"], claim["label"] + arrows[claim["metric"]]) for claim in claims]
    relative = Path(RESULTS_FOLDER) / FIGURES_FOLDER / f"{effect}.png"
    (page.parent / relative).parent.mkdir(parents=True, exist_ok=True)
    learning_curves([learning_curve(entry) for entry in curves], panels, page.parent / relative)
    return [
        "Learning curves of every arm (held-out; mean over training seeds, band ± their std; the heavier",
        "line is the arm reported above):",
        "",
        f"![Learning curves: {EFFECTS[effect].title}]({relative.as_posix()})",
        "",
    ]


def learning_curve(entry: dict[str, Any]) -> LearningCurve:
    """An arm's aggregated curve (``reproduce.aggregate``'s) as a figure's ``LearningCurve``, labelled
    with the arm and its training seeds."""
    curve = entry["curve"]
    label = arm_label(entry).replace("`", "")
    if len(label) > LEGEND_LABEL_CHARACTERS:
        label = label[: LEGEND_LABEL_CHARACTERS - 1] + "…"
    names = [name for name in curve[0]["metrics"] if all(name in point["metrics"] for point in curve)]
    return LearningCurve(
        label=f"{label} ({len(entry['seeds'])} training seed{'s' if len(entry['seeds']) > 1 else ''})",
        updates=[point["iteration"] for point in curve],
        minutes=[point["seconds"] / 60 for point in curve],
        means={name: [point["metrics"][name]["mean"] for point in curve] for name in names},
        spreads={name: [point["metrics"][name]["train_std"] for point in curve] for name in names},
    )


def _reward_models_note(effect: str) -> list[str]:
    """What the digests in an effect's arm labels mean: the reward models its recipe reads today."""
    today = ", ".join(f"{role} `{digest}`" for role, digest in recipe_reward_models(effect).items())
    return [
        f"Reward models the recipe reads today (SHA-256 of their weights, first digits): {today}. An arm",
        "named with another digest was trained or scored by weights replaced since (`git log -- checkpoints/`):",
        "its numbers are on another yardstick.",
        "",
    ]


def _arms_table(arms: Sequence[dict[str, Any]]) -> list[str]:
    """The claims after the last update of each arm: value, change and whether it counts."""
    claims = arms[0]["claims"]
    lines = [
        "Arms (the recipe, and the recipe with other optimised rewards or the changes named): each claim's",
        "held-out value after the last update, its change from the pretrained model, and * where the change",
        "counts beyond both spreads.",
        "",
        "| arm | updates | training seeds | " + " | ".join(claim["label"] for claim in claims) + " |",
        "|---|---|---|" + "---|" * len(claims),
    ]
    for entry in arms:
        verdicts = {verdict["metric"]: verdict for verdict in entry["verdicts"]}
        cells = []
        for claim in claims:
            verdict = verdicts.get(claim["metric"], {"measured": False})
            if not verdict["measured"]:
                cells.append("not measured")
                continue
            mark = "*" if verdict["exceeds_noise"] else ""
            cells.append(f"{verdict['after']:.4f} ({relative_text(verdict)}{mark})")
        recipe = " (the recipe)" if is_recipe_arm(entry) else ""
        iterations = entry["curve"][-1]["iteration"] if entry["curve"] else 0
        lines.append(f"| {arm_label(entry)}{recipe} | {iterations} | {entry['seeds']} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _effect_section(entry: dict[str, Any], race: list[str] | None = None) -> list[str]:
    """The main arm's recipe, verdicts and learning curve; ``race`` (``race_verdict``) replaces the
    verdict of an effect that is a speed claim."""
    setup, config = entry["recipe"]["setup"], entry["recipe"]["config"]
    curve = entry["curve"]
    lines = [
        f"Recipe: {config['algorithm']} on {setup['conditions']}, rewards `{setup['rewards']}`, "
        f"{config['iterations']} updates of {config['conditions_per_iteration']} conditions x {config['group_size']} "
        f"candidates, lr {config['learning_rate']}; base model `{setup['world_model']}`, data `{setup['dataset']}`; "
        f"held-out: {setup['eval_episodes']} episodes, {setup['eval_horizon']} frames, {setup['eval_seeds']} sampling "
        f"seeds; training seeds {entry['seeds']}.",
        "",
    ]
    changes = arm_changes(entry)
    if changes:
        lines += [f"Changed from the recipe: {_changes_text(changes)} (the recipe itself is not run yet).", ""]
    if len(curve) < 2:
        return [*lines, "No evaluation after training yet (the runs are in progress).", ""]
    claims = {claim["metric"]: claim for claim in entry["claims"]}
    first, last = curve[0]["metrics"], curve[-1]["metrics"]
    lines += [
        f"| metric | paper | pretrained | after {curve[-1]['iteration']} updates | change | counts | target |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += _verdict_rows(entry, before=lambda m: _value(first[m]), after=lambda m: _value(last[m]))
    lines += ["", *(race or [effect_verdict(entry, training_seeds=len(entry["seeds"]))])]
    metrics = [claim["metric"] for claim in entry["claims"] if claim["metric"] in first]
    lines += [
        "",
        "Learning curve (held-out, mean over training seeds; wall-clock = training time, evaluations excluded):",
        "",
        "| updates | wall-clock | " + " | ".join(claims[m]["label"] for m in metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for point in curve:
        values = " | ".join(f"{point['metrics'][m]['mean']:.4f}" for m in metrics)
        lines.append(f"| {point['iteration']} | {point['seconds'] / 60:.1f} min | {values} |")
    return [*lines, ""]


def race_verdict(race: Race, main: dict[str, Any], arms: Sequence[dict[str, Any]]) -> list[str]:
    """The speed claim ``race`` judged on the mean learning curves: the held-out gain of
    ``race.metric`` both the recipe (``main``) and the rival reach (the smaller of their final
    gains: "equal reward"), and the training wall-clock each takes to first reach it (linear
    between evaluations); the recipe's as a fraction of the rival's, per training seed too. Every
    other arm that is not a rival (e.g. the recipe with a faster sampler) is timed to the same
    gain, shown but not judged. Judged only when both gains count (beyond both spreads): without
    a gain there is nothing to time."""
    rivals = [entry for entry in arms if entry is not main and race.rival.items() <= arm_changes(entry).items()]
    lines = [
        f"Race: the recipe against the arm with {_changes_text(race.rival)}, on the {race.metric} both raise; "
        "each is timed to the gain both reach (the smaller final gain); the target: the recipe there within "
        f"{race.target:.2f} of the rival's training wall-clock.",
        "",
    ]
    if not rivals:
        return [*lines, "**Effect: not measured** (the rival arm is not run yet)."]
    # The rival that differs from the recipe's arm by the least beyond the race's own changes.
    main_changes = arm_changes(main).items()
    rival = min(rivals, key=lambda entry: len(arm_changes(entry).items() ^ main_changes))
    (main_gain, main_noise), (rival_gain, rival_noise) = _final_gain(main, race.metric), _final_gain(rival, race.metric)
    baseline = main["curve"][0]["metrics"][race.metric]["mean"]
    level = baseline + min(main_gain, rival_gain)
    rival_time = time_to_reach(rival["curve"], race.metric, level)
    lines += [
        "| arm | updates | training wall-clock | held-out gain | noise | reaches the common gain after | "
        "fraction of the rival's time to it (per training seed) | updates to it |",
        "|---|---|---|---|---|---|---|---|",
    ]
    others = [entry for entry in arms if entry is not main and all(entry is not r for r in rivals)]
    for entry in [main, *others, rival]:
        end, (gain, noise) = entry["curve"][-1], _final_gain(entry, race.metric)
        reached = time_to_reach(entry["curve"], race.metric, level)
        updates = time_to_reach(entry["curve"], race.metric, level, clock="iteration")
        timing = "not reached | | " if reached is None else f"{reached / 60:.1f} min | "
        if entry is rival:
            timing += "(the rival) | "
        elif reached is not None and rival_time:
            per_seed = _seed_times(entry, race.metric, level)
            seeds = ", ".join("not reached" if t is None else f"{t / rival_time:.2f}" for t in per_seed)
            timing += f"{reached / rival_time:.2f} ({seeds}) | "
        lines.append(
            f"| {arm_label(entry)} | {end['iteration']} | {end['seconds'] / 60:.1f} min | {gain:+.4f} | {noise:.4f} | "
            f"{timing}{'' if updates is None else f'{updates:.0f}'} |"
        )
    lines.append("")
    flat = [
        f"{name}'s gain {gain:+.4f} is within the noise {noise:.4f}"
        for name, gain, noise in (("the recipe", main_gain, main_noise), ("the rival", rival_gain, rival_noise))
        if gain <= noise
    ]
    recipe_time = time_to_reach(main["curve"], race.metric, level)
    if flat or recipe_time is None or not rival_time:
        return [*lines, f"**Effect: not measured** ({'; '.join(flat) or 'no common gain to time'})."]
    fraction = recipe_time / rival_time
    per_seed = _seed_times(main, race.metric, level)
    # Like a change, a fraction counts only beyond the training-seed spread: every seed must get
    # there, and the mean plus the seeds' std must stay within the target.
    spread = sample_std([t / rival_time for t in per_seed if t is not None])
    met = None not in per_seed and fraction + spread <= race.target
    if None in per_seed:
        outcome = "missed: a training seed does not get there"
    elif met:
        outcome = "met"
    else:
        outcome = "missed" if fraction > race.target else "met on the mean, not beyond the seed spread"
    verdict = "Effect reproduced" if met else "Effect not reproduced"
    return [
        *lines,
        f"**{verdict}**: the recipe reaches the common gain ({level - baseline:+.4f}) after {recipe_time / 60:.1f} min "
        f"of training, {fraction:.2f} ± {spread:.2f} (training seeds) of the rival's {rival_time / 60:.1f} min "
        f"(target <= {race.target:.2f}: {outcome}; {len(main['seeds'])} and {len(rival['seeds'])} training seeds).",
    ]


def _final_gain(entry: dict[str, Any], metric: str) -> tuple[float, float]:
    """An arm's held-out gain of ``metric`` after its last update, and the noise it must exceed."""
    before, after = entry["curve"][0]["metrics"][metric], entry["curve"][-1]["metrics"][metric]
    return after["mean"] - before["mean"], change_noise(before, after)


def seed_curves(curve: Sequence[dict[str, Any]], metric: str) -> list[list[dict[str, Any]]]:
    """``curve`` (``reproduce.aggregate``'s) split into one curve of ``metric`` per training
    seed, at the mean wall-clock of each evaluation."""
    seeds = len(curve[0]["metrics"][metric]["per_seed"])
    return [
        [
            {**point, "metrics": {metric: {"mean": point["metrics"][metric]["per_seed"][index]}}}
            for point in curve
        ]
        for index in range(seeds)
    ]


def _seed_times(entry: dict[str, Any], metric: str, level: float) -> list[float | None]:
    """The training seconds at which each training seed of ``entry`` first reaches ``level`` of
    ``metric`` (``time_to_reach`` on its ``seed_curves``)."""
    return [time_to_reach(curve, metric, level) for curve in seed_curves(entry["curve"], metric)]


def time_to_reach(
    curve: Sequence[dict[str, Any]], metric: str, level: float, clock: str = "seconds"
) -> float | None:
    """The training seconds (``clock="iteration"``: updates) at which ``curve``'s mean ``metric``
    first reaches ``level`` (linear between evaluations), or None if it never does."""
    for earlier, point in zip(curve, curve[1:], strict=False):
        low, high = earlier["metrics"][metric]["mean"], point["metrics"][metric]["mean"]
        if high >= level:
            share = 1.0 if high == low else min(max((level - low) / (high - low), 0.0), 1.0)
            return earlier[clock] + share * (point[clock] - earlier[clock])
    return None


def _changes_text(changes: dict[str, Any]) -> str:
    return ", ".join(f"{key} {json.dumps(value, sort_keys=True)}" for key, value in changes.items())


def _comparison_section(entry: dict[str, Any]) -> list[str]:
    """SWR against full history (``stages.reproduce_swr``): the verdicts at the last horizon, then
    each policy's metrics per horizon with its latency."""
    setup, policies = entry["recipe"]["setup"], entry["policies"]
    last = str(entry["horizons"][-1])
    lines = [
        f"Setup: no training; base model `{setup['world_model']}`, data `{setup['dataset']}`; "
        f"{len(entry['episodes'])} held-out episodes from {setup['context']} real frames, {last} generated frames, "
        f"{setup['sampling_steps']} Euler steps per chunk, sampling seeds {entry['seeds']} (the same noise for every "
        f"policy). Full history keeps up to {policies['full']['peak_context_frames']} frames (the model's limit); "
        f"SWR and the fixed window keep W = {setup['window']}. With no training, a change counts beyond the "
        "sampling-seed spread.",
        "",
        f"| metric | paper | full history at {last} frames | SWR at {last} frames | change | counts | target |",
        "|---|---|---|---|---|---|---|",
    ]

    def at_last(role: str) -> Callable[[str], str]:
        return lambda metric: "{mean:.4f} ± {std:.4f}".format(**policies[role]["at"][last][metric])

    lines += _verdict_rows(entry, before=at_last("full"), after=at_last("swr"))
    lines += ["", effect_verdict(entry)]
    claims = {claim["metric"]: claim for claim in entry["claims"]}
    metrics = [claim["metric"] for claim in entry["claims"] if claim["metric"] in policies["full"]["at"][last]]
    header = " | ".join(f"{claims[m]['label']} at {h}" for h in entry["horizons"] for m in metrics)
    lines += [
        "",
        "Per policy (mean over sampling seeds; latency: wall-clock per generated frame of a batch of "
        f"{setup['batch_size']} episodes, mean over horizons, on the machine as it was):",
        "",
        f"| policy | context frames | ms per frame | {header} |",
        "|---|---|---|" + "---|" * (len(metrics) * len(entry["horizons"])),
    ]
    for role, name in (("full", "full history"), ("swr", "SWR"), ("fixed", "fixed window (no re-encoding)")):
        policy = policies[role]
        values = " | ".join(f"{policy['at'][str(h)][m]['mean']:.4f}" for h in entry["horizons"] for m in metrics)
        latency = policy["mean_frame_latency_s"] * 1000
        lines.append(f"| {name} | {policy['peak_context_frames']} | {latency:.0f} | {values} |")
    return [*lines, ""]


def _verdict_rows(entry: dict[str, Any], before: Callable[[str], str], after: Callable[[str], str]) -> list[str]:
    """One table row per claim: the paper's number, the baseline and the measured value (as
    ``before``/``after`` write a metric's), the change, whether it counts and the verdict."""
    claims = {claim["metric"]: claim for claim in entry["claims"]}
    rows = []
    for verdict in entry["verdicts"]:
        claim = claims[verdict["metric"]]
        if not verdict["measured"]:
            rows.append(f"| {claim['label']} | {claim['paper']} | not measured | | | | |")
            continue
        target = "" if claim["target"] is None else f"{claim['target'] * 100:+g}% better: " if claim["target"] else (
            "a gain beyond the noise: "
        )
        met = verdict_word(claim, verdict["meets_target"], emphasis="**")
        rows.append(
            f"| {claim['label']} | {claim['paper']} | {before(claim['metric'])} | {after(claim['metric'])} | "
            f"{relative_text(verdict)} | {'yes' if verdict['exceeds_noise'] else 'no'} | {target}{met} |"
        )
    return rows


def effect_verdict(entry: dict[str, Any], training_seeds: int | None = None) -> str:
    """The effect as a whole: reproduced only when every target is met and every guard holds (a
    gain bought by breaking a guard, e.g. smoothness by standing still, does not count), and only
    with ``MIN_TRAINING_SEEDS`` training seeds where training is involved."""
    claims = {claim["metric"]: claim for claim in entry["claims"]}
    judged = [verdict for verdict in entry["verdicts"] if verdict["measured"]]
    failed = [claims[verdict["metric"]] for verdict in judged if not verdict["meets_target"]]
    missed = [claim["label"] for claim in failed if claim["target"] is not None]
    broken = [claim["label"] for claim in failed if claim["target"] is None]
    reasons = [f"target missed: {', '.join(missed)}"] if missed else []
    reasons += [f"guard broken: {', '.join(broken)}"] if broken else []
    if training_seeds is not None and training_seeds < MIN_TRAINING_SEEDS:
        reasons.append(f"{training_seeds} training seed(s) of the {MIN_TRAINING_SEEDS} a verdict needs")
    if not judged:
        return "**Effect: not measured.**"
    if not reasons:
        return "**Effect reproduced**: every target met beyond the noise, every guard held."
    return f"**Effect not reproduced** ({'; '.join(reasons)})."


def verdict_word(claim: dict[str, Any], meets_target: bool, emphasis: str = "") -> str:
    """How a verdict reads: a target is "met" or "missed", a guard (no target) "held" or "broken"
    (worse beyond the noise); ``emphasis`` wraps the bad outcome (e.g. Markdown's ``**``)."""
    if claim["target"] is None:
        return "guard held" if meets_target else f"{emphasis}guard broken{emphasis}"
    return "target met" if meets_target else f"{emphasis}target missed{emphasis}"


def _value(metric: dict[str, Any]) -> str:
    """``mean ± training-seed std (sampling ± std)``."""
    if math.isnan(metric["mean"]):
        return "NaN"
    return f"{metric['mean']:.4f} ± {metric['train_std']:.4f} (sampling ± {metric['sampling_std']:.4f})"
