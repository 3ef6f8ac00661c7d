"""Strict JSON: what worldalign writes is valid JSON, never the bare ``NaN``/``Infinity`` that
Python's ``json`` writes by default and other readers (``jq``, JavaScript, pandas) refuse.

Two rules, chosen once for every file:

- a file with a fixed schema (configs, ``stats.json``, summaries: ``atomic_write_json``) gets
  ``null`` where a value is NaN or infinite, and a warning names the file and the keys; the
  reader of that file then refuses or reports the ``null`` as a missing value;
- a log line (``log.jsonl``, one flat record per iteration: ``log_record``) gets ``null`` for
  the value and lists the keys it replaced under ``"nonfinite"``, so a plot can tell "NaN" from
  "not logged".
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

NONFINITE_KEY = "nonfinite"


def without_nonfinite(obj: Any, path: str = "") -> tuple[Any, list[str]]:
    """``obj`` with every NaN or infinite float (at any depth) replaced by ``None``, and the
    dotted paths of the replaced values (``"a.b[2]"``)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None, [path or "<value>"]
    if isinstance(obj, Mapping):
        out, replaced = {}, []
        for key, value in obj.items():
            out[key], found = without_nonfinite(value, f"{path}.{key}" if path else str(key))
            replaced += found
        return out, replaced
    if isinstance(obj, (list, tuple)):
        items = [without_nonfinite(value, f"{path}[{i}]") for i, value in enumerate(obj)]
        return [value for value, _ in items], [p for _, found in items for p in found]
    return obj, []


def strict_dumps(obj: Any, *, where: str, indent: int | None = None) -> str:
    """``obj`` as valid JSON: NaN and infinities become ``null``, with a warning naming ``where``
    (the file) and the keys."""
    clean, replaced = without_nonfinite(obj)
    if replaced:
        logger.warning("%s: NaN or infinite value(s) written as null: %s", where, ", ".join(replaced[:20]))
    return json.dumps(clean, indent=indent, allow_nan=False)


def log_record(record: Mapping[str, Any]) -> str:
    """One ``log.jsonl`` line: non-finite values become ``null`` and their keys are listed under
    ``"nonfinite"`` (absent when every value is finite)."""
    clean, replaced = without_nonfinite(dict(record))
    if replaced:
        clean[NONFINITE_KEY] = replaced
    return json.dumps(clean, allow_nan=False)
