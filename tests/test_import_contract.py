"""The import contract: which part of the code may import which.

Walks every import statement (function-level ones too) of dashboard/, feeds/, layouts/,
callbacks/ and app.py and fails on any that crosses the layers the wrong way. The rules are
the README's architecture map:

- top level: dashboard/ ← feeds/, layouts/ ← callbacks/ ← app.py (an arrow points at the
  importer); dashboard/ never imports feeds/, layouts/, callbacks/ or app;
- inside dashboard/, packages by concern in layers; a module imports its own package or
  a lower layer only;
- Flask and werkzeug are imported only by dashboard/web/ and app.py (the composition root);
- layouts are pure: no Flask, no Redis, no storage, web or services.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# dashboard's layers, lowest first; a unit is a top-level module or a package of dashboard/
LAYERS: list[set[str]] = [
    {"settings", "model", "timeutil", "masking", "congestion", "textfiles"},
    {"storage", "city"},   # city: the profile (settings + timeutil), below every domain
    {"auth", "audit"},
    {"roads"},
    {"citizen"},   # QR stickers, the phone form's rules, move-car tasks (below dispatch)
    {"dispatch"},
    {"comms"},
    {"live"},
    {"services"},
    {"web", "cli"},
]
LAYER_OF = {unit: n for n, units in enumerate(LAYERS) for unit in units}
TOP_ALLOWED = {   # top-level part → the top-level parts it may import
    "dashboard": {"dashboard"},
    "feeds": {"dashboard", "feeds"},
    "layouts": {"dashboard", "layouts"},
    "callbacks": {"dashboard", "layouts", "callbacks"},
    "app": {"dashboard", "feeds", "layouts", "callbacks"},
}
OURS = set(TOP_ALLOWED)
FLASK = {"flask", "werkzeug"}
NOT_IN_LAYOUTS = {"flask", "werkzeug", "redis", "dashboard.storage", "dashboard.web",
                  "dashboard.services"}


def sources(repo: Path) -> list[Path]:
    files = [repo / "app.py"] if (repo / "app.py").exists() else []
    for top in ("dashboard", "feeds", "layouts", "callbacks"):
        files += sorted((repo / top).rglob("*.py"))
    return files


def module_name(path: Path, repo: Path) -> str:
    parts = list(path.relative_to(repo).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, repo: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path, repo).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            if base in OURS or base.count(".") == 1 and base.startswith("dashboard."):
                # `from dashboard import audit` imports the module dashboard.audit
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return found


def dashboard_unit(dotted: str) -> str | None:
    """The layer unit of a dashboard module: ``dashboard.roads.geo`` → ``roads``."""
    parts = dotted.split(".")
    return parts[1] if parts[0] == "dashboard" and len(parts) > 1 else None


def violations(repo: Path = REPO) -> list[str]:
    """Every import that breaks the contract, as 'file:line imports X: why'."""
    problems = []
    for path in sources(repo):
        me = module_name(path, repo)
        top = me.split(".")[0]
        rel = path.relative_to(repo)
        for line, target in imports_of(path, repo):
            root = target.split(".")[0]
            where = f"{rel}:{line} imports {target}"
            if root in OURS and root not in TOP_ALLOWED[top]:
                problems.append(f"{where}: {top}/ may not import {root}")
            if root in FLASK and not (me.startswith("dashboard.web") or me == "app"):
                problems.append(f"{where}: only dashboard/web/ and app.py use Flask")
            if top == "layouts" and any(target == p or target.startswith(p + ".")
                                        for p in NOT_IN_LAYOUTS):
                problems.append(f"{where}: layouts are pure (no Flask, Redis, storage, web)")
            if top == "dashboard" and root == "dashboard":
                mine, theirs = dashboard_unit(me), dashboard_unit(target)
                if mine is None or theirs is None or mine == theirs:
                    continue
                if mine not in LAYER_OF or theirs not in LAYER_OF:
                    problems.append(f"{where}: {mine or theirs} is in no layer of this test")
                elif LAYER_OF[theirs] >= LAYER_OF[mine]:
                    problems.append(f"{where}: {mine} (layer {LAYER_OF[mine]}) may not import "
                                    f"{theirs} (layer {LAYER_OF[theirs]})")
    return problems


def test_every_import_follows_the_contract():
    assert violations() == []


def test_every_dashboard_unit_has_a_layer():
    units = {p.stem for p in (REPO / "dashboard").glob("*.py") if p.stem != "__init__"}
    units |= {p.parent.name for p in (REPO / "dashboard").glob("*/__init__.py")}
    assert units <= set(LAYER_OF), sorted(units - set(LAYER_OF))


def test_dashboard_top_level_stays_small():
    modules = [p for p in (REPO / "dashboard").glob("*.py") if p.stem != "__init__"]
    assert len(modules) <= 12, sorted(p.name for p in modules)


@pytest.mark.parametrize("line, expected", [
    ("from dashboard.live import wall", "roads (layer 3) may not import live (layer 7)"),
    ("from ..web import session", "roads (layer 3) may not import web (layer 9)"),
    ("def f():\n    import flask", "only dashboard/web/ and app.py use Flask"),
    ("from layouts import ids", "dashboard/ may not import layouts"),
])
def test_the_checker_catches_a_wrong_import(tmp_path, line, expected):
    """The walker itself: a wrong import planted in a scratch dashboard/roads is reported."""
    planted = tmp_path / "dashboard" / "roads"
    planted.mkdir(parents=True)
    (planted / "planted.py").write_text(line + "\n", encoding="utf-8")
    found = violations(tmp_path)
    assert len(found) == 1 and expected in found[0], found
