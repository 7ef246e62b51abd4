"""Shared by the benchmarks: the machine's details and writing one section of RESULTS.md."""
from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_line(redis_info: dict) -> str:
    """One line naming the CPU, cores, Python and the Redis-compatible server."""
    server = redis_info.get("server_name", "redis")
    version = redis_info.get("valkey_version") or redis_info.get("redis_version", "?")
    load = os.getloadavg()
    return (f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"{server} {version}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.")


def write_section(title: str, text: str, path: Path = RESULTS) -> None:
    """Replace the section headed ``title`` (e.g. "## Wall refresh") or append it."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.strip() == title), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        new = "".join(lines[:start]) + text + ("\n" + "".join(lines[end:]) if end < len(lines)
                                               else "")
    path.write_text(new, encoding="utf-8")
