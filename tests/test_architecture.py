"""The rules of the house, checked: lower rooms never import higher ones, and nothing pickles.

Each room of ``src/worldalign`` may import only the rooms listed for it below. A new room has
to be placed here deliberately, which is the point.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "src" / "worldalign"

BASE = {"errors", "utils", "__init__"}
# The imports each room makes today: a new one is a decision, made here on purpose.
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "errors": set(),
    "utils": {"errors"},
    "data": BASE,
    "metrics": BASE,
    "envs": BASE | {"data"},
    "viz": BASE | {"data"},
    "report": BASE | {"data"},
    "models": BASE | {"data"},
    "configs": BASE | {"models"},
    "sampling": BASE | {"models"},
    "runs": BASE | {"data", "models"},
    "rewards": BASE | {"data", "metrics", "models", "envs"},
    "judge_bench": BASE | {"envs"},
    "algos": BASE | {"configs", "data", "models", "sampling", "rewards", "runs"},
    "eval": BASE | {"data", "metrics", "envs", "models", "sampling", "rewards", "algos"},
    "stages": BASE
    | {"configs", "data", "metrics", "envs", "models", "sampling", "rewards", "runs", "algos", "eval", "viz", "report"},
    "cli": None,  # the top: may import anything
}
# Rooms in dependency order: a room may import only rooms before it (no cycles between rooms).
ORDER = ("errors", "utils", "data", "metrics", "envs", "viz", "report", "models", "configs", "sampling", "runs",
         "rewards", "judge_bench", "algos", "eval", "stages", "cli")


def _room_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE_ROOT)
    return relative.parts[0].removesuffix(".py")


def _imported_rooms(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    rooms = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("worldalign"):
            parts = node.module.split(".")
            if len(parts) > 1:
                rooms.add(parts[1])
            else:
                rooms.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "worldalign" and len(parts) > 1:
                    rooms.add(parts[1])
    return rooms


def test_lower_rooms_never_import_higher_ones() -> None:
    violations = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        room = _room_of(path)
        if room == "__init__":
            continue
        assert room in ALLOWED_IMPORTS, f"{path}: room {room!r} is not placed in ALLOWED_IMPORTS"
        allowed = ALLOWED_IMPORTS[room]
        if allowed is None:
            continue
        for imported in _imported_rooms(path) - {room}:
            if imported not in allowed:
                violations.append(f"{path.relative_to(PACKAGE_ROOT)} imports worldalign.{imported}")
    assert not violations, "\n".join(violations)


def test_nothing_a_user_loads_is_pickled() -> None:
    offenders = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        text = path.read_text()
        if "pickle.load(" in text or "torch.load(" in text and "weights_only=True" not in text:
            offenders.append(str(path.relative_to(PACKAGE_ROOT)))
    assert not offenders, f"pickle loading in: {offenders}"


def test_rooms_only_import_rooms_below_them() -> None:
    assert set(ORDER) == set(ALLOWED_IMPORTS)
    for room, allowed in ALLOWED_IMPORTS.items():
        below = set(ORDER[: ORDER.index(room)]) | {"__init__"}
        assert allowed is None or allowed <= below, f"{room} may import {sorted(allowed - below)}, above it"


def test_every_allowed_import_is_made() -> None:
    """The table is the real graph: an allowance nobody uses would let new coupling pass silently."""
    made: dict[str, set[str]] = {room: set() for room in ALLOWED_IMPORTS}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        room = _room_of(path)
        if room != "__init__":
            made[room] |= _imported_rooms(path) - {room}
    unused = {
        room: sorted(allowed - made[room] - {"__init__", "errors", "utils"})
        for room, allowed in ALLOWED_IMPORTS.items()
        if allowed is not None and allowed - made[room] - {"__init__", "errors", "utils"}
    }
    assert not unused, f"allowed but never imported (remove them from ALLOWED_IMPORTS): {unused}"


def test_nothing_outside_the_cli_imports_it() -> None:
    """The command line sits on the library: scripts and the library never reach into it."""
    roots = [PACKAGE_ROOT, PACKAGE_ROOT.parents[1] / "benchmarks"]
    offenders = [
        str(path)
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if not (root == PACKAGE_ROOT and _room_of(path) == "cli") and "cli" in _imported_rooms(path)
    ]
    assert not offenders, f"these import worldalign.cli: {offenders}"
