"""Spearman correlation and pairwise ranking accuracy against known values."""

from __future__ import annotations

import math

import numpy as np

from worldalign.models.judge.ranking import average_ranks, pairwise_accuracy, spearman


def test_ranks_average_ties() -> None:
    assert average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]


def test_spearman_known_values() -> None:
    labels = np.array([0, 0, 1, 2, 3], float)
    assert spearman(labels * 2 + 1, labels) == 1.0
    assert spearman(-labels, labels) == -1.0
    # with ties: the Pearson correlation of the average ranks
    prediction = np.array([0.2, 0.1, 0.5, 0.9, 0.7])
    a, b = average_ranks(prediction), average_ranks(labels)
    expected = np.corrcoef(a, b)[0, 1]
    assert math.isclose(spearman(prediction, labels), expected)
    assert math.isnan(spearman(np.ones(5), labels))


def test_pairwise_accuracy_counts_label_ordered_pairs() -> None:
    labels = np.array([0, 1, 2], float)
    assert pairwise_accuracy(np.array([0.1, 0.2, 0.3]), labels) == 1.0
    assert pairwise_accuracy(np.array([0.3, 0.2, 0.1]), labels) == 0.0
    assert pairwise_accuracy(np.array([0.1, 0.1, 0.3]), labels) == (0.5 + 1 + 1) / 3  # a tie counts half
    assert math.isnan(pairwise_accuracy(np.array([1.0, 2.0]), np.array([1.0, 1.0])))


def test_a_continuous_score_cannot_reach_spearman_one_on_a_rare_binary_label() -> None:
    # 1 negative in 8 (as temporal consistency): a continuous score orders every pair right, yet
    # varies within a level, so Spearman stays near sqrt(3 p (1 - p)); whole levels reach 1.
    labels = np.array([0] * 100 + [1] * 700, float)
    continuous = labels + np.linspace(0.0, 0.9, 800)
    assert pairwise_accuracy(continuous, labels) == 1.0
    assert math.isclose(spearman(continuous, labels), math.sqrt(3 * 0.125 * 0.875), abs_tol=0.01)
    assert spearman(np.round(continuous - 0.45), labels) == 1.0
