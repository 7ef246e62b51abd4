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


# -- processes the benchmarks start (stdlib only; every process is stopped by its PID) --------
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lukuang_argv(*args: str) -> list[str]:
    """The ``lukuang`` command line, run with this interpreter (no PATH needed)."""
    import sys

    return [sys.executable, "-c", f"import sys, app; sys.exit(app.main({list(args)!r}))"]


def children(pid: int) -> list[int]:
    """The PIDs whose parent is ``pid`` (from /proc/<pid>/stat)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ")"
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


def descendants(pid: int) -> list[int]:
    """Every PID below ``pid`` in the process tree, parents before children."""
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop(0)):
            out.append(child)
            todo.append(child)
    return out


def rss_mb(pid: int) -> float | None:
    """VmRSS of ``pid`` in MB, None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds ``pid`` has used so far, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def gunicorn_pids(run_pid: int) -> tuple[int | None, list[int]]:
    """(master, workers) of the gunicorn that ``lukuang run`` (``run_pid``) started."""
    for pid in descendants(run_pid):
        if "gunicorn" in cmdline(pid) and "gunicorn" not in cmdline(
                int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])):
            return pid, children(pid)
    return None, []


class Procs:
    """The processes a benchmark started; ``stop_all`` ends them (and what they started) by
    PID: SIGTERM, then SIGKILL after a grace period."""

    def __init__(self) -> None:
        self.started: list[tuple[str, object]] = []   # (name, subprocess.Popen)

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path, **kw):
        import subprocess

        out = open(log, "ab")
        try:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=kw.pop("stdout", out),
                                    stderr=out, **kw)
        finally:
            out.close()
        self.started.append((name, proc))
        return proc

    def stop(self, proc, timeout: float = 20.0) -> None:
        """SIGTERM ``proc``; SIGKILL it and whatever it started that is still alive after
        ``timeout``."""
        import signal
        import subprocess

        if proc.poll() is not None:
            return
        below = [(p, cmdline(p)) for p in descendants(proc.pid)]
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        for pid, cmd in reversed(below):   # orphans left behind (same PID, same command)
            if cmd and cmdline(pid) == cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def stop_all(self) -> None:
        for _, proc in reversed(self.started):
            try:
                self.stop(proc)
            except Exception as exc:  # noqa: BLE001 - go on stopping the others
                print(f"could not stop pid {proc.pid}: {exc!r}")


def stop_process(proc, timeout: float = 20.0) -> None:
    """SIGTERM ``proc`` and wait; SIGKILL it if it is still alive after ``timeout``."""
    import subprocess

    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks stop the children as on Ctrl-C."""
    import signal

    def _exit(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def wait_http(url: str, proc, timeout: float, log: Path) -> None:
    """Wait until ``url`` answers 200; raise with the log's tail when ``proc`` dies first."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{url} did not come up (exit {proc.poll()}):\n{tail}")
        time.sleep(0.3)


def wall_request(seen: dict | None, search: str = "") -> dict:
    """The body the browser POSTs to /_dash-update-component for the wall's refresh callback
    (``seen``: the page state from the previous answer; ``search``: the page's ?query)."""
    from layouts import ids

    outputs = [(ids.WALL_MAP, "figure"), (ids.WALL_MAP_DATA, "data"),
               (ids.WALL_KPIS, "children"),
               (ids.WALL_CIDX, "figure"), (ids.WALL_HOURLY, "figure"),
               (ids.WALL_TICKER, "children"), (ids.WALL_CONN_BANNER, "children"),
               (ids.WALL_CONN_BANNER, "className"), (ids.WALL_VIEW_NAME, "children"),
               (ids.WALL_VERSION, "data")]
    return {"output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outputs],
            "inputs": [{"id": ids.WALL_TICK, "property": "n_intervals", "value": 1},
                       {"id": ids.WALL_SCALE, "property": "data", "value": 1}],
            "state": [{"id": ids.WALL_VERSION, "property": "data", "value": seen},
                      {"id": ids.WALL_URL, "property": "search", "value": search},
                      {"id": ids.WALL_MAP_APPLIED, "property": "data", "value": None}],
            "changedPropIds": [f"{ids.WALL_TICK}.n_intervals"]}


def percentiles(samples: list[float], qs=(50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles (and max) of ``samples``; empty dict when there are none."""
    s = sorted(samples)
    if not s:
        return {}
    out = {f"p{q}": s[min(len(s) - 1, max(0, -(-len(s) * q // 100) - 1))] for q in qs}
    out["max"] = s[-1]
    return out


def warm_workers(url: str, body: dict, n: int = 12) -> None:
    """POST ``body`` ``n`` times at once, each on a new connection, so that every gunicorn
    worker (a kept-alive connection stays with one) loads the network and builds its figure."""
    import json as _json
    import threading
    import urllib.request

    errors: list[BaseException] = []

    def post() -> None:
        req = urllib.request.Request(url, data=_json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                resp.read()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=post) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"warming the workers failed: {errors[0]!r}")


def start_web(procs, env: dict, tmp: Path, token: str):
    """``lukuang run --no-demo --no-feeds`` (production gunicorn) on a free port, answering
    /healthz, every worker warmed with a wall refresh. Returns (process, base URL,
    callback URL, the wall's ``?token=`` query)."""
    port = free_port()
    log = tmp / "web.log"
    web = procs.start("web", lukuang_argv("run", "--no-demo", "--no-feeds", "--port", str(port)),
                      env, log)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/healthz", web, 120, log)
    url = f"{base}/_dash-update-component"
    search = f"?token={token}"
    warm_workers(url, wall_request(None, search))
    return web, base, url, search


def drop_keys(r, prefix: str) -> None:
    """Delete every key under ``prefix`` (a bench's private key prefix)."""
    for key in r.scan_iter(match=f"{prefix}:*", count=1000):
        r.delete(key)


def rps_row(name: str, m: dict) -> str:
    """A markdown row: requests/s (best, then every run), p50, p99, errors."""
    runs = ", ".join(f"{x:,.0f}" for x in m["runs"])
    return f"| {name} | {m['rps']:,.0f} ({runs}) | {m['p50']} | {m['p99']} | {m['bad']} |"
