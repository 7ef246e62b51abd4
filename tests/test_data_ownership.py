"""Each feature owns its data: only dashboard/dispatch/ reads or writes incidents and units.

Walks every module of dashboard/, callbacks/, layouts/ and feeds/ and fails when one
outside dashboard/dispatch/ calls a key builder of ``Keys`` for incident or unit data
(``keys.incident(…)``, ``keys.units_geo()``, ``keys.report_incident()`` …). Others ask
dispatch (``dashboard.dispatch.incidents`` / ``units``) for what they need; the units feed
writes positions through ``units.apply_feed``.
"""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

from dashboard.storage.keys import Keys

REPO = Path(__file__).resolve().parents[1]
OWNER = REPO / "dashboard" / "dispatch"
# the builders of dispatch's keys: incident*, unit*, report_incident
DISPATCH_KEYS = {name for name, _ in inspect.getmembers(Keys, inspect.isfunction)
                 if name.startswith(("incident", "unit")) or name == "report_incident"}


def sources() -> list[Path]:
    files: list[Path] = []
    for top in ("dashboard", "callbacks", "layouts", "feeds"):
        files += sorted((REPO / top).rglob("*.py"))
    return [f for f in files if OWNER not in f.parents]


def dispatch_key_uses(path: Path, root: Path = REPO) -> list[str]:
    """``file:line .name()`` for every call of a dispatch key builder in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(root)}:{node.lineno} .{node.func.attr}()"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in DISPATCH_KEYS]


def test_the_dispatch_key_builders_are_known():
    assert {"incident", "incidents_open", "incidents_index", "incident_seq", "unit",
            "units_geo", "units_index", "report_incident"} <= DISPATCH_KEYS


def test_only_dispatch_uses_incident_and_unit_keys():
    found = [use for path in sources()
             if path != REPO / "dashboard" / "storage" / "keys.py"
             for use in dispatch_key_uses(path)]
    assert found == []


def test_the_walker_finds_a_planted_read(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f(r, keys):\n    return r.hget(keys.incident('INC-1'), 'status')\n",
                       encoding="utf-8")
    assert dispatch_key_uses(planted, tmp_path) == ["planted.py:2 .incident()"]
