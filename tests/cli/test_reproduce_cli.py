"""``worldalign reproduce``: seeds run and resume, curves aggregate over seeds, verdicts count only
beyond both spreads, and the results page is regenerated from the JSON files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from moving_squares import run_cli as run
from moving_squares import tiny_runs
from PIL import Image

from worldalign.cli.main import build_parser
from worldalign.cli.reproduce import _changes
from worldalign.errors import ConfigError
from worldalign.rewards.judge import SHIPPED_JUDGE_TEACHER
from worldalign.runs.layout import ALIGN_LOG_FILE
from worldalign.stages.align import prepare_alignment
from worldalign.stages.reproduce import (
    EFFECTS,
    RESULTS_FILE,
    Claim,
    ReproduceSetup,
    aggregate,
    arm_changes,
    recipe,
    relative_text,
    reward_model_digests,
    verdicts,
)
from worldalign.stages.results_page import (
    FIGURES_FOLDER,
    RESULTS_FOLDER,
    arm_label,
    effect_verdict,
    is_recipe_arm,
    learning_curve,
    main_arm,
    race_verdict,
    read_results,
    store_results,
    stored_results,
    time_to_reach,
    verdict_word,
    write_results_page,
)
from worldalign.utils.config_serialization import config_to_dict

TINY = [
    "--iterations", "2", "--eval-every", "1", "--conditions-per-iteration", "2", "--group-size", "2",
    "--sampling-steps", "2", "--max-prefix-chunks", "1", "--max-continuation-chunks", "1",
    "--fidelity-metrics", "ssim=1,psnr=1", "--eval-fidelity-metrics", "ssim=1,psnr=1", "--eval-episodes", "1",
    "--eval-horizon", "4", "--eval-seeds", "2",
    "--checkpoint-every", "1", "--window", "3",
]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tiny_runs(tmp_path_factory.mktemp("reproduce_cli"))


def reproduce_argv(runs: dict[str, Path], out: Path, effect: str = "persistworld") -> list[str]:
    paths = ["--world-model", str(runs["wm"]), "--autoencoder", str(runs["ae"]), "--dataset", str(runs["dataset"])]
    return ["reproduce", effect, *paths, "--out", str(out), "--seeds", "0,1", *TINY]


def test_seeds_run_aggregate_resume_and_write_the_page(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, page = tmp_path / "reproduce", tmp_path / "results.md"
    assert run([*reproduce_argv(runs, out), "--page", str(page)]) == 0
    printed = capsys.readouterr().out
    assert "recipe: nft on rollout-states" in printed and "SSIM:" in printed and "results page" in printed
    results = read_results(out / "persistworld" / RESULTS_FILE)
    assert [point["iteration"] for point in results["curve"]] == [0, 1, 2]
    ssim = results["curve"][-1]["metrics"]["fidelity/ssim"]
    assert len(ssim["per_seed"]) == 2 and ssim["train_std"] > 0, "two training seeds give two different models"
    baseline = results["curve"][0]["metrics"]["fidelity/ssim"]
    assert baseline["train_std"] == 0, "update 0 is the same pretrained model for every seed"
    judged = {verdict["metric"]: verdict for verdict in results["verdicts"]}
    assert judged["fidelity/lpips"] == {"metric": "fidelity/lpips", "measured": False}  # not in the fidelity metrics
    assert judged["fidelity/ssim"]["measured"] and judged["fidelity/ssim"]["iteration"] == 2
    text = page.read_text()
    assert "## PersistWorld" in text and "| SSIM |" in text and "Not run yet." in text  # eva, roboalign-r1
    assert "Learning curve" in text and "| 2 |" in text
    assert stored_results(page) == [results], "the page's inputs are kept beside it"
    # the tiny budget is an arm of its own beside the recipe's `persistworld.json`
    assert [path.name[:13] for path in (tmp_path / RESULTS_FOLDER).glob("*.json")] == ["persistworld."]

    logs = [(out / "persistworld" / f"seed-{seed}" / ALIGN_LOG_FILE).read_text() for seed in (0, 1)]
    assert run(reproduce_argv(runs, out)) == 0  # finished seeds are read back, not rerun
    assert [(out / "persistworld" / f"seed-{seed}" / ALIGN_LOG_FILE).read_text() for seed in (0, 1)] == logs
    assert read_results(out / "persistworld" / RESULTS_FILE)["curve"] == results["curve"]


def test_seeds_of_an_earlier_results_file_are_read_back_not_trained_again(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """A seed kept only in a stored results.json (its run folder gone) joins new seeds exactly as
    if it had been trained beside them; a file of another recipe is refused, naming the field."""
    both = reproduce_argv(runs, tmp_path / "both")  # seeds 0 and 1 trained in one place
    assert run(both) == 0
    together = read_results(tmp_path / "both" / "persistworld" / RESULTS_FILE)
    assert run([*reproduce_argv(runs, tmp_path / "first"), "--seeds", "0"]) == 0
    first = tmp_path / "first" / "persistworld" / RESULTS_FILE
    assert run([*reproduce_argv(runs, tmp_path / "later"), "--seeds-from", str(first)]) == 0
    assert not (tmp_path / "later" / "persistworld" / "seed-0").exists(), "seed 0 was read back, not trained"
    merged = read_results(tmp_path / "later" / "persistworld" / RESULTS_FILE)
    assert [point["metrics"] for point in merged["curve"]] == [point["metrics"] for point in together["curve"]]
    assert merged["curve"][-1]["per_seed_seconds"][0] == read_results(first)["curve"][-1]["seconds"]

    with pytest.raises(ConfigError, match=r"not a run of this recipe \(seed 0\): config.group_size 2 there, 3 here"):
        run([*reproduce_argv(runs, tmp_path / "other"), "--group-size", "3", "--seeds-from", str(first)])
    def written_before_per_seed_fields(results: dict) -> Path:
        older = json.loads(json.dumps(results))
        for point in older["curve"]:
            del point["per_seed_seconds"]
            for metric in point["metrics"].values():
                del metric["per_seed_sampling_std"]
        path = tmp_path / f"old-{len(results['seeds'])}-seeds.json"
        path.write_text(json.dumps(older))
        return path

    # one seed: its mean is that seed's, so an older file still splits exactly
    old_first = written_before_per_seed_fields(read_results(first))
    assert run([*reproduce_argv(runs, tmp_path / "old1"), "--seeds-from", str(old_first)]) == 0
    merged_old = read_results(tmp_path / "old1" / "persistworld" / RESULTS_FILE)
    assert [point["metrics"] for point in merged_old["curve"]] == [point["metrics"] for point in together["curve"]]
    with pytest.raises(ConfigError, match="aggregated without each seed's sampling spread"):
        run([*reproduce_argv(runs, tmp_path / "old2"), "--seeds-from", str(written_before_per_seed_fields(together))])


def test_an_arm_with_other_rewards_is_compared_with_the_recipe(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    out, page = tmp_path / "reproduce", tmp_path / "docs" / "results.md"
    assert run([*reproduce_argv(runs, out), "--seeds", "0"]) == 0
    recipe_arm = read_results(out / "persistworld" / RESULTS_FILE)
    other = json.loads(json.dumps(recipe_arm))
    other["recipe"]["setup"]["rewards"] = "fidelity=1.0,motion_match=1.0"
    for entry in (recipe_arm, other, recipe_arm):  # storing the same arm again replaces it
        store_results(entry, page)
    assert len(stored_results(page)) == 2
    text = write_results_page(stored_results(page), page).read_text()
    assert "Changed from the recipe: conditions_per_iteration 2, group_size 2," in text  # the tiny budget
    table = text[text.index("Arms (the recipe") :]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert rows[0].startswith('| `fidelity=1.0`, metric_weights {"psnr": 1.0, "ssim": 1.0}, conditions_per_iteration 2')
    assert rows[1].startswith("| `fidelity=1.0,motion_match=1.0`, metric_weights") and "not measured" in rows[1]
    ssim = next(v for v in recipe_arm["verdicts"] if v["metric"] == "fidelity/ssim")
    assert f"{ssim['after']:.4f} ({ssim['relative']:+.1%}" in rows[1]

    figure = page.parent / RESULTS_FOLDER / FIGURES_FOLDER / "persistworld.png"
    assert f"]({RESULTS_FOLDER}/{FIGURES_FOLDER}/persistworld.png)" in text, "the page links its learning curves"
    with Image.open(figure) as image:
        assert image.format == "PNG" and image.width >= 750
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or ()) > 50, "curves drawn, not a blank canvas"
    curve = learning_curve(recipe_arm)
    assert curve.updates == [point["iteration"] for point in recipe_arm["curve"]]
    assert curve.minutes == [point["seconds"] / 60 for point in recipe_arm["curve"]]
    assert curve.means["fidelity/ssim"] == [point["metrics"]["fidelity/ssim"]["mean"] for point in recipe_arm["curve"]]
    assert curve.spreads["fidelity/ssim"] == [0.0] * len(recipe_arm["curve"]), "one training seed: no band"
    assert curve.label.startswith("fidelity=1.0, metric_weights") and curve.label.endswith("(1 training seed)")

    figure.unlink()
    only_other = write_results_page([other], page).read_text()
    assert "The recipe's rewards (`fidelity=1.0`) are not run yet." in only_other
    assert "Learning curves" not in only_other and not figure.exists()


def test_an_arm_is_its_rewards_and_every_training_change_from_the_recipe(tmp_path: Path) -> None:
    """Two runs of the same rewards with other training settings (8 candidates instead of 4) are
    two arms side by side; a longer run or other evaluation settings are the same arm."""
    stored = {"effect": "persistworld", "kind": "alignment"}
    unchanged = ReproduceSetup(world_model=Path("wm"), autoencoder=Path("ae"), dataset=Path("data"), out=tmp_path)
    setup, config = recipe(EFFECTS["persistworld"], unchanged, seed=0)
    as_stored = {"setup": config_to_dict(setup), "config": config_to_dict(config)}
    the_recipe = {**stored, "recipe": as_stored}
    assert arm_changes(the_recipe) == {} and is_recipe_arm(the_recipe)
    longer = json.loads(json.dumps(the_recipe))
    longer["recipe"]["config"].update(iterations=400, seed=2, checkpoint_every=5)
    longer["recipe"]["setup"].update(eval_episodes=10, max_train_episodes=80, world_model="elsewhere")
    assert arm_changes(longer) == {} and arm_label(longer) == arm_label(the_recipe) == "`fidelity=1.0`"
    wider = json.loads(json.dumps(the_recipe))
    wider["recipe"]["config"].update(group_size=8, bf16=True)
    wider["recipe"]["config"]["nft"]["beta"] = 0.5
    assert arm_changes(wider) == {"bf16": True, "group_size": 8, "nft.beta": 0.5}
    assert arm_label(wider) == "`fidelity=1.0`, bf16 true, group_size 8, nft.beta 0.5" and not is_recipe_arm(wider)
    older = json.loads(json.dumps(the_recipe))
    del older["recipe"]["config"]["bf16"]  # written before the field existed: it had its default
    assert arm_changes(older) == {}
    assert main_arm([wider, the_recipe]) is the_recipe and main_arm([wider]) is wider


def test_the_kl_weight_reaches_the_recipes_algorithm(tmp_path: Path) -> None:
    """``reproduce --kl`` sets the KL of whichever algorithm the arm trains, nothing else."""
    for effect, algorithm in (("persistworld", "nft"), ("eva", "grpo")):
        changed = ReproduceSetup(
            world_model=Path("wm"), autoencoder=Path("ae"), dataset=Path("data"), out=tmp_path,
            config_changes={"kl_coef": 0.5},
        )  # fmt: skip
        _, config = recipe(EFFECTS[effect], changed, seed=0)
        assert config.algorithm == algorithm and getattr(config, algorithm).kl_coef == 0.5
        _, unchanged = recipe(EFFECTS[effect], dataclasses.replace(changed, config_changes={}), seed=0)
        assert dataclasses.replace(config, **{algorithm: getattr(unchanged, algorithm)}) == unchanged


def test_an_arms_fidelity_metrics_change_its_reward_not_the_held_out_claims(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """A PSNR-only arm is judged on the recipe's fidelity (``--eval-fidelity-metrics``, every arm
    alike; without it the fidelity reward's defaults), and the reward models' paths serve both."""
    argv = [*reproduce_argv(runs, tmp_path), "--fidelity-metrics", "psnr=1", "--idm", "idm-folder"]
    setup_changes, config_changes = _changes(build_parser().parse_args(argv))
    where = ReproduceSetup(
        runs["wm"], runs["ae"], runs["dataset"], tmp_path, setup_changes=setup_changes, config_changes=config_changes
    )
    setup, config = recipe(EFFECTS["persistworld"], where, seed=0)
    assert setup.eval_reward_options == {"idm": Path("idm-folder"), "metric_weights": {"ssim": 1.0, "psnr": 1.0}}
    job = prepare_alignment(setup, config)
    (evaluated,) = [reward for reward in job.eval_rewards.rewards if reward.name == "fidelity"]
    (optimised,) = [reward for reward in job.rewards.rewards if reward.name == "fidelity"]
    assert evaluated.config.metric_weights == {"ssim": 1.0, "psnr": 1.0}
    assert optimised.config.metric_weights == {"psnr": 1.0}
    without_a_yardstick = {name: value for name, value in setup_changes.items() if name != "eval_reward_options"}
    setup, _ = recipe(EFFECTS["persistworld"], dataclasses.replace(where, setup_changes=without_a_yardstick), seed=0)
    assert setup.eval_reward_options == {"idm": Path("idm-folder")}


def test_nft_is_raced_against_its_grpo_arm_on_the_page(runs: dict[str, Path], tmp_path: Path) -> None:
    page = tmp_path / "docs" / "results.md"
    for arm in ([], ["--algo", "grpo"]):
        argv = [*reproduce_argv(runs, tmp_path / ("race" + "-".join(arm)), "nft-vs-grpo"), "--seeds", "0"]
        assert run([*argv, *arm, "--page", str(page)]) == 0
    arms = [entry for entry in stored_results(page) if entry["effect"] == "nft-vs-grpo"]
    assert sorted(entry["recipe"]["config"]["algorithm"] for entry in arms) == ["grpo", "nft"]
    nft, grpo = sorted(arms, key=lambda entry: entry["recipe"]["config"]["algorithm"] == "grpo")
    beyond_the_budget = dict(arm_changes(grpo).items() - arm_changes(nft).items())
    assert beyond_the_budget == {"algorithm": "grpo", "learning_rate": 3e-5}, "each algorithm at its own default lr"
    text = page.read_text()
    section = text[text.index("## DiffusionNFT against Flow-GRPO") : text.index("## RoboAlign-R1: Sliding")]
    assert 'Race: the recipe against the arm with algorithm "grpo"' in section
    assert section.count('| `brightness=1.0`, metric_weights {"psnr": 1.0, "ssim": 1.0}, algorithm "grpo", ') == 2
    verdict = next(line for line in section.splitlines() if line.startswith("**Effect"))
    assert verdict.startswith(("**Effect: not measured** (", "**Effect reproduced**: the recipe",
                               "**Effect not reproduced**: the recipe"))  # fmt: skip


def test_the_race_times_the_first_crossing_of_the_rivals_gain() -> None:
    def point(iteration: int, seconds: float, value: float) -> dict:
        return {"iteration": iteration, "seconds": seconds, "metrics": {"brightness": {"mean": value}}}

    curve = [point(0, 0.0, 0.40), point(10, 100.0, 0.41), point(20, 200.0, 0.45), point(30, 300.0, 0.44)]
    assert time_to_reach(curve, "brightness", 0.43) == pytest.approx(150.0)  # halfway from 0.41 to 0.45
    assert time_to_reach(curve, "brightness", 0.41) == pytest.approx(100.0)
    assert time_to_reach(curve, "brightness", 0.46) is None


def test_the_race_verdict_is_the_recipes_fraction_of_the_rivals_wall_clock(tmp_path: Path) -> None:
    effect = EFFECTS["nft-vs-grpo"]
    unchanged = ReproduceSetup(world_model=Path("wm"), autoencoder=Path("ae"), dataset=Path("data"), out=tmp_path)

    def arm(changes: dict, points: list[tuple[int, float, list[float]]]) -> dict:
        setup, config = recipe(effect, ReproduceSetup(**{**vars(unchanged), "config_changes": changes}), seed=0)
        curve = [
            {"iteration": i, "seconds": t, "metrics": {"brightness": {
                "mean": sum(v) / len(v), "train_std": 0.001 if i else 0.0, "sampling_std": 0.001, "per_seed": v}}}
            for i, t, v in points
        ]  # fmt: skip
        recipe_dict = {"setup": config_to_dict(setup), "config": config_to_dict(config)}
        return {"effect": effect.name, "seeds": [0, 1], "recipe": recipe_dict, "curve": curve}

    base = [0.40, 0.40]
    nft = arm({}, [(0, 0.0, base), (10, 100.0, [0.41, 0.41]), (20, 200.0, [0.44, 0.42]), (30, 300.0, [0.45, 0.45])])
    grpo = arm({"algorithm": "grpo"}, [(0, 0.0, base), (30, 1000.0, [0.43, 0.43])])
    fast = arm({"sampling_steps": 4}, [(0, 0.0, base), (30, 150.0, [0.45, 0.45])])
    lines = race_verdict(effect.race, nft, [nft, fast, grpo])
    rows = [line for line in lines if line.startswith("| `")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| `brightness=1.0`", "| `brightness=1.0`, sampling_steps 4", '| `brightness=1.0`, algorithm "grpo", '
        "learning_rate 3e-05"]  # fmt: skip
    # +0.03 is 0.43: the mean curve is there at 200 s; seed 0 two thirds of the way from 0.41 (100 s) to 0.44
    # (200 s), seed 1 a third of the way from 0.42 (200 s) to 0.45 (300 s)
    assert "| 3.3 min | 0.20 (0.17, 0.23) | 20 |" in rows[0] and rows[2].endswith("| 16.7 min | (the rival) | 30 |")
    assert "| 1.5 min | 0.09 (0.09, 0.09) | 18 |" in rows[1]  # 3/5 of 150 s and of 30 updates
    assert lines[-1].startswith("**Effect reproduced**: the recipe reaches the common gain (+0.0300) after 3.3 min")
    # a rival that ends higher is timed to the recipe's final gain: 0.45 at 300 s against 250 s
    high_grpo = arm({"algorithm": "grpo"}, [(0, 0.0, base), (30, 1000.0, [0.60, 0.60])])
    assert "(+0.0500) after 5.0 min of training, 1.20 ± 0.00 (training seeds) of the rival's 4.2 min" in race_verdict(
        effect.race, nft, [nft, high_grpo])[-1]
    # 200 s of 650 is within the target, but not with the seeds' spread (167 and 233 s)
    close_grpo = arm({"algorithm": "grpo"}, [(0, 0.0, base), (30, 650.0, [0.43, 0.43])])
    close = race_verdict(effect.race, nft, [nft, close_grpo])[-1]
    assert close.startswith("**Effect not reproduced**") and "0.31 ± 0.07 (training seeds)" in close
    assert "met on the mean, not beyond the seed spread" in close
    slow_grpo = arm({"algorithm": "grpo"}, [(0, 0.0, base), (30, 400.0, [0.43, 0.43])])
    assert "(target <= 0.33: missed;" in race_verdict(effect.race, nft, [nft, slow_grpo])[-1]
    flat_grpo = arm({"algorithm": "grpo"}, [(0, 0.0, base), (30, 400.0, [0.4005, 0.4005])])
    assert race_verdict(effect.race, nft, [nft, flat_grpo])[-1].startswith("**Effect: not measured** (the rival's")
    assert race_verdict(effect.race, nft, [nft])[-1] == "**Effect: not measured** (the rival arm is not run yet)."


def test_a_run_with_retrained_reward_models_is_another_arm_and_the_older_run_is_kept(tmp_path: Path) -> None:
    """RoboAlign-R1's spec ``judge=1.0`` reads whatever judges are shipped: a run scored by judges
    retrained since is another yardstick, so it may not replace the older run on the page."""
    unchanged = ReproduceSetup(world_model=Path("wm"), autoencoder=Path("ae"), dataset=Path("data"), out=tmp_path)
    setup, config = recipe(EFFECTS["roboalign-r1"], unchanged, seed=0)
    today = reward_model_digests(setup, config)
    assert set(today) == {"judge", "judge_teacher", "execution", "teacher"}  # execution: the IDM
    assert today["teacher"] == today["judge_teacher"] != today["judge"] and len(today["judge"]) == 12
    fields = {name: "" for name in ("title", "citation", "claims", "verdicts", "curve")}
    as_stored = {"setup": config_to_dict(setup), "config": config_to_dict(config)}
    rerun = {"version": 1, "effect": "roboalign-r1", "seeds": [0], **fields, "recipe": as_stored}
    rerun["reward_models"] = today
    older = {**rerun, "reward_models": {**today, "judge": "0" * 12, "judge_teacher": "1" * 12, "teacher": "1" * 12}}
    assert arm_changes(rerun) == {} and is_recipe_arm(rerun)
    assert arm_changes(older) == {"judge model": "0" * 12, "judge_teacher model": "1" * 12, "teacher model": "1" * 12}
    assert not is_recipe_arm(older) and 'judge model "000000000000"' in arm_label(older)
    unknown = {key: value for key, value in older.items() if key != "reward_models"}
    assert arm_changes(unknown) == {}, "a results.json written before the digests were recorded: no change known"

    page = tmp_path / "docs" / "results.md"
    stored_before = page.parent / RESULTS_FOLDER / "roboalign-r1.json"
    stored_before.parent.mkdir(parents=True)
    stored_before.write_text(json.dumps(older))  # stored as the recipe's arm when its judges were the shipped ones
    assert store_results(rerun, page) == stored_before
    assert sorted(map(arm_label, stored_results(page))) == sorted(map(arm_label, [rerun, older]))
    assert read_results(stored_before)["reward_models"] == today
    note = "Reward models the recipe reads today (SHA-256 of their weights, first digits): judge `"
    assert note + today["judge"] in write_results_page([rerun, older], page).read_text()


def test_roboalign_r1_is_scored_by_the_teacher_that_relabels_its_student(runs: dict[str, Path], tmp_path: Path) -> None:
    where = ReproduceSetup(runs["wm"], runs["ae"], runs["dataset"], tmp_path)
    setup, config = recipe(EFFECTS["roboalign-r1"], where, 0)
    assert setup.rewards == "judge=1.0" and "judge_teacher=1.0" in setup.eval_rewards
    assert setup.teacher == SHIPPED_JUDGE_TEACHER and config.relabel_every > 0
    lpips_only = ReproduceSetup(
        runs["wm"], runs["ae"], runs["dataset"], tmp_path, setup_changes={"rewards": "fidelity=1"}
    )
    _, compared = recipe(EFFECTS["roboalign-r1"], lpips_only, 0)
    assert compared.relabel_every == 0, "an arm without the judge reward has no student to relabel"
    claimed = {claim.metric: claim.target for claim in EFFECTS["roboalign-r1"].claims}
    assert claimed["judge_teacher"] == 0.10 and claimed["judge_teacher/manipulation_success"] == 0.075


def curve(values_by_iteration: dict[int, tuple[list[float], float]]) -> list[list[dict]]:
    """Per-seed curves of one metric ``m`` from ``{iteration: (per-seed values, sampling std)}``."""
    seeds = len(next(iter(values_by_iteration.values()))[0])
    return [
        [
            {"iteration": it, "seconds": float(it), "metrics": {"m": values[s], "m/seed_std": spread}}
            for it, (values, spread) in values_by_iteration.items()
        ]
        for s in range(seeds)
    ]


def test_a_change_counts_only_beyond_both_spreads() -> None:
    improve = Claim("m", "m", "paper", 0.10)
    merged = aggregate(curve({0: ([1.0, 1.0, 1.0], 0.01), 10: ([1.20, 1.21, 1.19], 0.01)}))
    assert merged[-1]["metrics"]["m"]["train_std"] == pytest.approx(0.01)
    (verdict,) = verdicts(merged, [improve])
    assert verdict["exceeds_noise"] and verdict["meets_target"] and verdict["relative"] == pytest.approx(0.20)
    # The same mean change, but one seed far off: within the training-seed spread.
    (verdict,) = verdicts(aggregate(curve({0: ([1.0] * 3, 0.01), 10: ([1.0, 1.0, 1.6], 0.01)})), [improve])
    assert not verdict["exceeds_noise"] and not verdict["meets_target"]
    # Tight seeds, but a wide sampling spread at the baseline.
    (verdict,) = verdicts(aggregate(curve({0: ([1.0] * 3, 0.5), 10: ([1.2] * 3, 0.01)})), [improve])
    assert not verdict["exceeds_noise"]
    # Lower is better (LPIPS): a 20% drop is a 20% improvement.
    lpips = Claim("m", "LPIPS", "paper", 0.10, lower_is_better=True)
    (verdict,) = verdicts(aggregate(curve({0: ([1.0] * 3, 0.01), 10: ([0.8, 0.81, 0.79], 0.01)})), [lpips])
    assert verdict["improvement"] == pytest.approx(0.20) and verdict["meets_target"]
    # A guard fails only on a change for the worse beyond the noise.
    guard = Claim("m", "guard", "paper", None)
    (worse,) = verdicts(aggregate(curve({0: ([1.0] * 3, 0.01), 10: ([0.8, 0.81, 0.79], 0.01)})), [guard])
    (noisy,) = verdicts(aggregate(curve({0: ([1.0] * 3, 0.01), 10: ([0.99, 1.0, 1.01], 0.01)})), [guard])
    assert not worse["meets_target"] and noisy["meets_target"]


def test_from_a_zero_baseline_a_gain_meets_a_relative_target_and_a_loss_breaks_a_guard() -> None:
    """RoboAlign-R1's Manipulation Success starts at 0 on the teacher's scale: no ratio exists."""
    improve = Claim("m", "m", "paper", 0.075)
    (gain,) = verdicts(aggregate(curve({0: ([0.0] * 3, 0.0), 10: ([0.8, 0.81, 0.79], 0.01)})), [improve])
    (flat,) = verdicts(aggregate(curve({0: ([0.0] * 3, 0.0), 10: ([0.0] * 3, 0.0)})), [improve])
    assert gain["meets_target"] and gain["relative"] is None and relative_text(gain) == "from 0"
    assert not flat["meets_target"] and relative_text(flat) == "+0.0%"
    guard = Claim("m", "guard", "paper", None, lower_is_better=True)
    (worse,) = verdicts(aggregate(curve({0: ([0.0] * 3, 0.0), 10: ([0.5, 0.5, 0.5], 0.01)})), [guard])
    assert not worse["meets_target"] and worse["improvement"] is None


def test_results_from_something_else_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"version": 0}))
    with pytest.raises(ConfigError, match="field 'version' is 0"):
        read_results(path)
    path.write_text(json.dumps({"version": 1, "effect": "x"}))
    with pytest.raises(ConfigError, match=r"missing field\(s\) \['title'"):
        read_results(path)


def test_targets_read_met_or_missed_and_guards_held_or_broken() -> None:
    target, guard = {"target": 0.1}, {"target": None}
    assert verdict_word(target, True) == "target met"
    assert verdict_word(target, False, emphasis="**") == "**target missed**"
    assert verdict_word(guard, True) == "guard held"
    assert verdict_word(guard, False, emphasis="**") == "**guard broken**"


SWR_TINY = [
    "--eval-horizon", "6", "--window", "2", "--eval-episodes", "1", "--eval-seeds", "2", "--sampling-steps", "2"
]  # fmt: skip


def swr_argv(runs: dict[str, Path], out: Path) -> list[str]:
    paths = ["--world-model", str(runs["wm"]), "--autoencoder", str(runs["ae"]), "--dataset", str(runs["dataset"])]
    return ["reproduce", "swr", *paths, "--out", str(out), *SWR_TINY]


def test_swr_compares_three_policies_without_training_and_writes_its_section(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, page = tmp_path / "reproduce", tmp_path / "results.md"
    assert run([*swr_argv(runs, out), "--page", str(page)]) == 0
    assert "full history vs SWR W=2 vs fixed window 2, 6 frames" in capsys.readouterr().out
    results = read_results(out / "swr" / RESULTS_FILE)
    assert results["kind"] == "comparison" and results["seeds"] == [0, 1] and results["horizons"] == [6]
    policies = results["policies"]
    assert {role: policy["key"] for role, policy in policies.items()} == {
        "swr": "swr-2", "full": "full-history", "fixed": "fixed-window-2"
    }  # fmt: skip
    assert policies["swr"]["peak_context_frames"] <= 2 < policies["full"]["peak_context_frames"]
    judged = {verdict["metric"]: verdict for verdict in results["verdicts"]}
    ssim_full, ssim_swr = policies["full"]["at"]["6"]["ssim"], policies["swr"]["at"]["6"]["ssim"]
    assert judged["ssim"]["before"] == ssim_full["mean"] and judged["ssim"]["after"] == ssim_swr["mean"]
    assert judged["ssim"]["noise"] == max(ssim_full["std"], ssim_swr["std"]) > 0, "two sampling seeds differ"
    assert not (out / "swr" / "seed-0").exists(), "nothing is trained"
    text = page.read_text()
    section = text[text.index("## RoboAlign-R1: Sliding Window Re-encoding") :]
    assert "| SSIM | +2.8% |" in section and "| fixed window (no re-encoding) | 2 |" in section
    assert stored_results(page) == [results]

    parts = sorted(path.stat().st_mtime_ns for path in (out / "swr" / "parts").rglob("*.json"))
    assert parts and run(swr_argv(runs, out)) == 0  # measured parts are read back, not measured again
    assert sorted(path.stat().st_mtime_ns for path in (out / "swr" / "parts").rglob("*.json")) == parts
    assert read_results(out / "swr" / RESULTS_FILE) == results


def test_swr_refuses_the_options_of_a_training_recipe(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--iterations, --lr: swr trains nothing"):
        run([*swr_argv(runs, tmp_path), "--iterations", "3", "--lr", "1e-4"])
    assert not (tmp_path / "swr").exists()


def test_an_effect_counts_only_with_every_target_met_every_guard_held_and_three_seeds() -> None:
    claims = [{"metric": "jerk", "label": "jerk", "target": 0.2}, {"metric": "speed", "label": "speed", "target": None}]

    def entry(jerk_met: bool, speed_held: bool) -> dict:
        verdicts = [
            {"metric": "jerk", "measured": True, "meets_target": jerk_met},
            {"metric": "speed", "measured": True, "meets_target": speed_held},
        ]
        return {"claims": claims, "verdicts": verdicts}

    assert effect_verdict(entry(True, True), training_seeds=3).startswith("**Effect reproduced**")
    smooth_by_standing_still = effect_verdict(entry(True, False), training_seeds=3)
    assert smooth_by_standing_still == "**Effect not reproduced** (guard broken: speed)."
    one_seed = effect_verdict(entry(True, True), training_seeds=1)
    assert one_seed.startswith("**Effect not reproduced**") and "1 training seed(s)" in one_seed
    assert "target missed: jerk" in effect_verdict(entry(False, True))  # a comparison: no training seeds


def test_the_speed_levers_reach_the_recipe_and_swr_refuses_bf16(runs: dict[str, Path], tmp_path: Path) -> None:
    argv = ["reproduce", "persistworld", "--world-model", "W", "--autoencoder", "A", "--dataset", "D"]
    _, config = _changes(build_parser().parse_args([*argv, "--sampling-steps", "4", "--bf16"]))
    assert config == {"sampling_steps": 4, "bf16": True}
    _, config = _changes(build_parser().parse_args(argv))
    assert config == {}  # the recipe's own precision and steps
    with pytest.raises(ConfigError, match=r"--bf16: swr trains nothing"):
        run([*swr_argv(runs, tmp_path), "--bf16"])
