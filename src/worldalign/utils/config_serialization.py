"""Frozen-dataclass configs to and from JSON, and a readable diff between two configs.

Every config worldalign saves (``config.json`` beside weights, the resolved training config
beside a run) goes through here, so a config read back compares equal to the one written.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import PurePath
from typing import Any, TypeVar

from worldalign.errors import ConfigError

ConfigT = TypeVar("ConfigT")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (possibly nested) dataclass config; tuples become lists, paths strings."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return {field.name: _to_json(getattr(config, field.name)) for field in dataclasses.fields(config)}


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, (tuple, list)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    return value


def config_from_dict(cls: type[ConfigT], data: dict[str, Any], where: str = "config") -> ConfigT:
    """Rebuild ``cls`` from ``config_to_dict`` output; unknown fields are a ``ConfigError``.

    Fields missing from ``data`` take their defaults, so configs written before a field was added
    still load. ``where`` names the source (a file path) in error messages.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(names)}")
    kwargs = {name: _from_json(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise ConfigError(f"{where}: cannot build {cls.__name__}: {error}") from error


def _from_json(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return config_from_dict(hint, value, where)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], item, where) for item in value)
        return tuple(_from_json(arg, item, where) for arg, item in zip(args, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            if (dataclasses.is_dataclass(arg) and isinstance(value, dict)) or (
                typing.get_origin(arg) is tuple and isinstance(value, list)
            ):
                return _from_json(arg, value, where)
    return value


def config_differences(
    expected: Any, found: Any, prefix: str = "", labels: tuple[str, str] = ("expected", "found")
) -> list[str]:
    """``"field: expected X, found Y"`` for every differing (nested) field of two configs.

    ``labels`` names the two sides (e.g. ``("model has", "checkpoint has")``).
    """
    if type(expected) is not type(found):
        return [f"{prefix or 'config'}: {labels[0]} a {type(expected).__name__}, {labels[1]} a {type(found).__name__}"]
    lines = []
    for field in dataclasses.fields(expected):
        a, b = getattr(expected, field.name), getattr(found, field.name)
        name = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
            lines.extend(config_differences(a, b, prefix=f"{name}.", labels=labels))
        elif a != b:
            lines.append(f"{name}: {labels[0]} {a!r}, {labels[1]} {b!r}")
    return lines
