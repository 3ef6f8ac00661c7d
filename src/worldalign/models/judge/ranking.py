"""Agreement between predicted and labelled scores: Spearman correlation and pairwise accuracy.

RoboAlign-R1 (arXiv:2605.03821) uses the judge to rank videos, so the measures are rank-based:
Spearman's rho (Pearson correlation of average ranks, ties averaged) and pairwise ranking
accuracy (of the pairs whose labels differ, the fraction the prediction orders the same way).
"""

from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """``(N,)`` ranks from 0, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0
        start = end + 1
    return ranks


def spearman(prediction: np.ndarray, label: np.ndarray) -> float:
    """Spearman's rho of two ``(N,)`` arrays; NaN when either is constant."""
    a, b = average_ranks(np.asarray(prediction, float)), average_ranks(np.asarray(label, float))
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def pairwise_accuracy(prediction: np.ndarray, label: np.ndarray) -> float:
    """Fraction of label-ordered pairs the prediction orders the same way (prediction ties count half)."""
    prediction, label = np.asarray(prediction, float), np.asarray(label, float)
    label_order = np.sign(label[:, None] - label[None, :])
    predicted_order = np.sign(prediction[:, None] - prediction[None, :])
    mask = label_order > 0
    if not mask.any():
        return float("nan")
    agree = (predicted_order[mask] > 0).sum() + 0.5 * (predicted_order[mask] == 0).sum()
    return float(agree / mask.sum())
