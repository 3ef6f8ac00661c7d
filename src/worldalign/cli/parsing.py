"""Parsing the command line's comma-separated values, shared by every verb (built on
``utils.text.split_list``)."""

from __future__ import annotations

from worldalign.errors import ConfigError
from worldalign.utils.text import split_list


def parse_indices(text: str | None, option: str = "--episodes") -> list[int] | None:
    """``"0,1,2"`` -> ``[0, 1, 2]``; None when the option is not given."""
    if text is None:
        return None
    try:
        return [int(part) for part in split_list(text)]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected comma-separated integers, e.g. 0,1,2") from None


def parse_weights(text: str | None, option: str) -> dict[str, float] | None:
    """``"a=1,b=0.5"`` -> ``{"a": 1.0, "b": 0.5}``; None when the option is not given."""
    if text is None:
        return None
    weights = {}
    for item in split_list(text):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"{option} {text!r}: {item!r} is not name=number") from None
    return weights
