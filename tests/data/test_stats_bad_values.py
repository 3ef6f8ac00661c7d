"""Statistics a Normalizer refuses: NaN or infinite values, a negative std, max below min; each
error names the file, the feature and the statistic. A zero std is a constant dimension."""

from __future__ import annotations

import numpy as np
import pytest

from worldalign.data.stats import Normalizer
from worldalign.errors import DatasetError

SOURCE = "data/x/meta/stats.json"


def stats(**action: list[float]) -> dict[str, dict[str, np.ndarray]]:
    entry = {"mean": [0.0, 0.0], "std": [1.0, 1.0], "min": [-1.0, -1.0], "max": [1.0, 1.0]} | action
    return {"action": {name: np.asarray(values) for name, values in entry.items()}}


@pytest.mark.parametrize(
    ("mode", "bad", "message"),
    [
        ("mean_std", {"mean": [0.0, float("nan")]}, r"feature 'action' statistic 'mean' is \[nan\] at dimension\(s\) \[1\]; expected finite"),
        ("mean_std", {"std": [float("inf"), 1.0]}, r"feature 'action' statistic 'std' is \[inf\] at dimension\(s\) \[0\]"),
        ("mean_std", {"std": [1.0, -0.5]}, r"feature 'action' statistic 'std' is negative at dimension\(s\) \[1\]; expected >= 0"),
        ("min_max", {"max": [1.0, -2.0]}, r"feature 'action' has 'max' below 'min' at dimension\(s\) \[1\]"),
    ],
)
def test_bad_statistics_are_refused_naming_file_feature_and_statistic(
    mode: str, bad: dict[str, list[float]], message: str
) -> None:
    with pytest.raises(DatasetError, match=rf"^{SOURCE}: {message}"):
        Normalizer(stats(**bad), mode=mode, features=("action",), source=SOURCE)  # type: ignore[arg-type]


def test_a_zero_std_is_a_constant_dimension_that_maps_to_zero() -> None:
    normalizer = Normalizer(stats(mean=[0.5, 2.0], std=[1.0, 0.0]), features=("action",), source=SOURCE)
    assert np.allclose(normalizer.normalize("action", np.array([[1.5, 2.0]])), [[1.0, 0.0]])
