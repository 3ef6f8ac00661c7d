"""The rules of the house, checked: lower rooms never import higher ones, and nothing pickles.

Each room of ``src/worldalign`` may import only the rooms listed for it below. A new room has
to be placed here deliberately, which is the point.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "src" / "worldalign"

BASE = {"errors", "utils", "__init__"}
ALLOWED_IMPORTS: dict[str, set[str]] = {
    "errors": set(),
    "utils": {"errors"},
    "data": BASE,
    "metrics": BASE,
    "envs": BASE | {"data"},
    "viz": BASE | {"data"},
    "configs": BASE,
    "models": BASE | {"configs", "data", "metrics"},
    "sampling": BASE | {"configs", "models", "data"},
    "rewards": BASE | {"data", "metrics", "models", "sampling", "envs"},
    "bench": BASE | {"data", "envs", "metrics", "viz"},
    "algos": BASE | {"configs", "data", "metrics", "models", "sampling", "rewards", "viz"},
    "eval": BASE | {"configs", "data", "envs", "metrics", "models", "sampling", "rewards", "algos", "viz", "bench"},
    "cli": None,  # the top: may import anything
}


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
