"""Success rates and rank agreement between the simulator and the world model."""

import pytest

from worldalign.eval.policy_ranking import Outcome, correlations, summarise


def test_correlations_of_agreeing_and_reversed_rankings() -> None:
    agree = correlations([1.0, 0.8, 0.3, 0.0], [0.9, 0.7, 0.6, 0.1])
    assert agree["spearman"] == pytest.approx(1.0) and agree["pearson"] > 0.9
    reversed_ = correlations([1.0, 0.8, 0.3, 0.0], [0.1, 0.2, 0.5, 0.9])
    assert reversed_["spearman"] == pytest.approx(-1.0) and reversed_["pearson"] < -0.9


def test_correlations_over_constant_rates_or_too_few_points_are_undefined_with_the_reason() -> None:
    constant = correlations([1.0, 0.5, 0.0], [1.0, 1.0, 1.0])
    assert constant["spearman"] is None and constant["pearson"] is None
    assert "world-model rates are all equal (1.000)" in constant["undefined"]
    assert "at least 3" in correlations([1.0, 0.0], [1.0, 0.0])["undefined"]


def test_summarise_gives_rates_per_task_and_policy_and_pooled_correlations() -> None:
    def runs(task: str, policy: str, sim: list[bool], wm: list[bool]) -> list[Outcome]:
        return [Outcome(task, i, policy, s, w, 0.5) for i, (s, w) in enumerate(zip(sim, wm, strict=True))]

    outcomes = (
        runs("a", "expert", [True, True], [True, True])
        + runs("a", "noisy", [True, False], [False, False])
        + runs("a", "random", [False, False], [False, False])
        + runs("b", "expert", [True, True], [True, False])
        + runs("b", "noisy", [True, False], [True, False])
        + runs("b", "random", [False, False], [True, False])
    )
    summary = summarise(outcomes, ["expert", "noisy", "random"])
    a = summary["per_task"]["a"]
    assert a["rates"]["noisy"] == {"episodes": 2, "simulator": 0.5, "world_model": 0.0}
    assert a["correlation"]["spearman"] == pytest.approx(0.866, abs=1e-3)  # ties in the world model's rates
    assert summary["per_task"]["b"]["correlation"]["undefined"].startswith("the world-model rates are all equal")
    assert summary["pooled_task_policy_pairs"]["points"] == 6
    assert summary["mean_over_tasks"]["rates"]["expert"] == {"simulator": 1.0, "world_model": 0.75}
    assert summary["episode_agreement"] == pytest.approx(9 / 12)
