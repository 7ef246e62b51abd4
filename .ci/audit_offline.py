"""Known-vulnerability check of the installed packages against a local copy of the PyPA
advisory database (https://github.com/pypa/advisory-database), for machines that cannot
reach PyPI's vulnerability data or OSV (police intranets; this build machine).

    python .ci/audit_offline.py PATH/TO/advisory-database [--git-rev HEAD]

Reads ``vulns/<package>/*.yaml`` (from the work tree, or with ``--git-rev`` from a bare git
checkout) for every installed distribution and reports each advisory whose ECOSYSTEM ranges
or version list include the installed version. Exit 1 when any is found, 0 otherwise. The
verdict is only as fresh as the copy: the report prints its date.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def affected(version: str, advisory: dict, package: str) -> bool:
    """True when ``version`` of ``package`` falls in the advisory's affected ranges."""
    try:
        v = Version(version)
    except InvalidVersion:
        return False
    for entry in advisory.get("affected") or []:
        if normalise((entry.get("package") or {}).get("name", "")) != package:
            continue
        if version in [str(x) for x in entry.get("versions") or []]:
            return True
        for rng in entry.get("ranges") or []:
            if rng.get("type") != "ECOSYSTEM":
                continue
            inside = False
            for event in rng.get("events") or []:
                (kind, bound), = event.items()
                bound_v = Version("0") if str(bound) == "0" else Version(str(bound))
                if kind == "introduced" and v >= bound_v:
                    inside = True
                elif kind == "fixed" and v >= bound_v:
                    inside = False
                elif kind == "last_affected" and v > bound_v:
                    inside = False
            if inside:
                return True
    return False


class Database:
    """The advisories, read from a work tree or from one revision of a git directory."""

    def __init__(self, root: Path, rev: str | None) -> None:
        self.root, self.rev = root, rev

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.root), *args], check=True,
                              capture_output=True, text=True).stdout

    def date(self) -> str:
        if self.rev or (self.root / ".git").exists():
            return self._git("log", "-1", "--format=%cd", "--date=short", self.rev or "HEAD")
        return "unknown"

    def advisories(self, package: str) -> list[dict]:
        if self.rev:
            names = self._git("ls-tree", "--name-only", f"{self.rev}:vulns/{package}/") \
                if package in self.packages() else ""
            return [yaml.safe_load(self._git("show", f"{self.rev}:vulns/{package}/{n}"))
                    for n in names.split()]
        folder = self.root / "vulns" / package
        return [yaml.safe_load(f.read_text()) for f in sorted(folder.glob("*.yaml"))] \
            if folder.is_dir() else []

    def packages(self) -> set[str]:
        if not hasattr(self, "_packages"):
            self._packages = set(self._git("ls-tree", "--name-only", f"{self.rev}:vulns/")
                                 .split()) if self.rev else \
                {p.name for p in (self.root / "vulns").iterdir()}
        return self._packages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("database", type=Path)
    ap.add_argument("--git-rev", help="read this revision of a (bare) git directory")
    args = ap.parse_args(argv)
    db = Database(args.database, args.git_rev)
    installed = {normalise(d.metadata["Name"]): d.version for d in metadata.distributions()
                 if d.metadata["Name"]}
    found = []
    for name, version in sorted(installed.items()):
        for adv in db.advisories(name):
            if adv.get("withdrawn"):
                continue
            if affected(version, adv, name):
                fixed = sorted({str(ev["fixed"]) for e in adv.get("affected") or []
                                for r in e.get("ranges") or [] for ev in r.get("events") or []
                                if "fixed" in ev and r.get("type") == "ECOSYSTEM"})
                found.append(f"{name} {version}: {adv.get('id')} (fixed in {', '.join(fixed) or '?'})")
    print(f"{len(installed)} installed distributions checked against the PyPA advisory "
          f"database of {db.date().strip()} ({len(db.packages())} packages with advisories): "
          f"{len(found)} known vulnerabilities")
    for line in found:
        print("  " + line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
