"""Serving many wall displays: gunicorn as ``lukuang run`` starts it in production, and a load
generator process simulating 50, 200 and 500 displays, each POSTing the wall's refresh
callback every ``refresh_s`` (5 s) with its own page state, for (a) unchanged data and
(b) changed data (a writer process changes 1 % of the segments' congestion every 5 s).

    .venv/bin/python bench/bench_serving.py [--redis redis://127.0.0.1:6379/14]
                                            [--duration 30] [--displays 50,200,500]

Per run: requests/s achieved vs offered (displays / 5 s), latency p50/p95/p99, errors, the
RSS of each gunicorn worker (VmRSS) before and after, and the CPU used by gunicorn, the load
generator and the writer (all share the machine's cores). Also the /healthz ceiling of the
same server in the same run. Writes "## Serving wall displays" in bench/RESULTS.md.

The load generator and the writer are this file run with ``--loadgen`` / ``--writer``. Keys go
under a throw-away prefix deleted afterwards; every process started is stopped by PID.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

SECTION = "## Serving wall displays"
EMPTY = re.compile(r'"response"\s*:\s*\{\s*\}')


# -- the load generator (a separate process) --------------------------------------------------
async def _displays(url: str, search: str, n: int, period_s: float, duration_s: float) -> dict:
    import httpx

    from layouts import ids

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        # the page was opened before: every display starts from the current page state
        first = await client.post(url, json=common.wall_request(None, search))
        first.raise_for_status()
        state = first.json()["response"][ids.WALL_VERSION]["data"]
        lat: list[float] = []
        counts = {"ok_204": 0, "ok_200": 0, "updated": 0, "errors": 0, "late": 0, "bytes": 0}
        error_kinds: dict[str, int] = {}
        slow_at: dict[int, int] = {}   # second of the minute -> requests slower than 1 s
        state_at = re.compile(r'"' + re.escape(ids.WALL_VERSION) + r'"\s*:\s*\{\s*"data"\s*:\s*')
        decoder = json.JSONDecoder()
        found = state_at.search(first.text)   # the quick parse below finds the same state
        if not found or decoder.raw_decode(first.text, found.end())[0] != state:
            raise RuntimeError("cannot find the page state in the answer")
        t_start = time.monotonic() + 0.5
        t_end = t_start + duration_s
        print(json.dumps({"event": "start"}), flush=True)
        cpu0 = time.process_time()

        async def display(i: int) -> None:
            seen = dict(state)
            rnd = random.Random(i)
            next_at = t_start + rnd.uniform(0, period_s)   # jittered start
            while next_at < t_end:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                t = time.monotonic()
                try:
                    resp = await client.post(url, json=common.wall_request(seen, search))
                    body = resp.content
                except httpx.HTTPError as exc:
                    counts["errors"] += 1
                    name = exc.__class__.__name__
                    error_kinds[name] = error_kinds.get(name, 0) + 1
                else:
                    done = time.monotonic()
                    lat.append(done - t)   # every answer, also those after the window
                    if done - t > 1.0:
                        sec = int((time.time() - (done - t)) % 60)
                        slow_at[sec] = slow_at.get(sec, 0) + 1
                    if done > t_end:
                        counts["late"] += 1
                    counts["bytes"] += len(body)
                    if resp.status_code == 204:
                        counts["ok_204"] += 1
                    elif resp.status_code == 200:
                        counts["ok_200"] += 1
                        text = body.decode()
                        # {} is Dash's "no update"
                        counts["updated"] += EMPTY.search(text) is None
                        found = state_at.search(text)
                        if found:   # the page state only: parsing the whole answer would
                            seen = decoder.raw_decode(text, found.end())[0]   # cost CPU
                    else:
                        counts["errors"] += 1
                        name = f"HTTP {resp.status_code}"
                        error_kinds[name] = error_kinds.get(name, 0) + 1
                next_at = max(next_at + period_s, time.monotonic())

        await asyncio.gather(*(display(i) for i in range(n)))
        cpu = time.process_time() - cpu0
        print(json.dumps({"event": "end"}), flush=True)
    pct = common.percentiles(lat, (50, 95, 99))
    return {"displays": n, "duration_s": duration_s, "offered_rps": n / period_s,
            "achieved_rps": (len(lat) - counts["late"]) / duration_s,
            "completed": len(lat) - counts["late"],
            "latency_ms": {k: round(v * 1000, 1) for k, v in pct.items()},
            **counts, "error_kinds": error_kinds, "loadgen_cpu_s": round(cpu, 2),
            "slow_started_at_second": dict(sorted(slow_at.items()))}


def loadgen_main(args) -> int:
    result = asyncio.run(_displays(args.url, args.search, args.n, args.period, args.duration))
    print(json.dumps({"event": "result", **result}), flush=True)
    return 0


def writer_main(args) -> int:
    """Every ``period`` s, ``share`` of the segments get a different congestion level."""
    import redis

    from dashboard.storage.keys import Keys
    from dashboard.roads.network import get_network
    from dashboard.settings import load_settings
    from dashboard.storage.store import Store

    settings = load_settings()
    r = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    store = Store(r, Keys(settings.key_prefix, settings.city))
    ids = list(get_network(settings.state_dir).segments.index.astype(str))
    rnd = random.Random(7)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    next_at = time.monotonic()
    while not stop.is_set():
        picks = rnd.sample(ids, max(1, int(len(ids) * args.share)))
        now = time.time()
        old = dict(zip(picks, r.hmget(store.keys.congestion(), picks)))
        levels = []
        for seg in picks:
            cur = int((old.get(seg) or "0|").split("|", 1)[0] or 0)
            levels.append((seg, rnd.choice([x for x in (1, 2, 3, 4) if x != cur]), 25.0,
                           "amap", now))
        store.set_congestion(levels, now=now)
        next_at += args.period
        stop.wait(max(0.0, next_at - time.monotonic()))
    return 0


# -- the controller ---------------------------------------------------------------------------
def snapshot(master: int, workers: list[int]) -> dict:
    return {"workers_rss_mb": {w: common.rss_mb(w) for w in workers},
            "master_rss_mb": common.rss_mb(master),
            "cpu_s": sum(common.cpu_s(p) or 0.0 for p in [master, *workers])}


def one_run(n: int, changed: bool, args, env: dict[str, str], procs: common.Procs,
            run_pid: int, url: str, search: str, tmp: Path, store) -> dict:
    """``n`` displays for ``args.duration`` s; the writer runs when ``changed``."""
    import subprocess

    writer = None
    if changed:
        version = store.version()
        writer = procs.start("writer", [sys.executable, str(Path(__file__).resolve()),
                                        "--writer", "--period", str(args.period)], env,
                             tmp / "writer.log")
        deadline = time.monotonic() + 120
        while store.version() == version:   # writing: it has loaded the network
            if writer.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("writer did not start: "
                                   + (tmp / "writer.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)
    master, workers = common.gunicorn_pids(run_pid)
    load = procs.start("loadgen", [sys.executable, str(Path(__file__).resolve()), "--loadgen",
                                   "--url", url, "--search", search, "--n", str(n),
                                   "--period", str(args.period), "--duration",
                                   str(args.duration)], env, tmp / "loadgen.log",
                       stdout=subprocess.PIPE, text=True)
    pings: list[float] = []
    watching = threading.Event()

    def watch_redis() -> None:
        """The shared Redis's PING time while the displays poll (a stall there stalls
        every refresh, whatever this server does)."""
        while not watching.wait(0.1):
            t = time.perf_counter()
            try:
                store.r.ping()
            except Exception:  # noqa: BLE001 - a failed ping counts as 10 s
                pings.append(10.0)
                continue
            pings.append(time.perf_counter() - t)
    watcher = threading.Thread(target=watch_redis, daemon=True)
    watcher.start()
    before = after = None
    w_cpu0 = w_cpu1 = None
    t0 = t1 = 0.0
    result = None
    try:
        for line in load.stdout:
            msg = json.loads(line)
            if msg["event"] == "start":
                before, t0 = snapshot(master, workers), time.monotonic()
                w_cpu0 = common.cpu_s(writer.pid) if writer else None
            elif msg["event"] == "end":
                after, t1 = snapshot(master, workers), time.monotonic()
                w_cpu1 = common.cpu_s(writer.pid) if writer else None
            elif msg["event"] == "result":
                result = msg
        load.wait(timeout=60)
    finally:
        watching.set()
        procs.stop(load)
        if writer is not None:
            procs.stop(writer)
    if result is None or before is None or after is None:
        raise RuntimeError("load generator failed: "
                           + (tmp / "loadgen.log").read_text(errors="replace")[-2000:])
    wall = t1 - t0
    result.pop("event")
    result.update(changed=changed, window_s=round(wall, 1),
                  rss_before=before["workers_rss_mb"], rss_after=after["workers_rss_mb"],
                  master_rss_mb=after["master_rss_mb"],
                  server_cpu_s=round(after["cpu_s"] - before["cpu_s"], 2),
                  writer_cpu_s=round(w_cpu1 - w_cpu0, 2) if writer else None,
                  redis_ping_ms={k: round(v * 1000, 1)
                                 for k, v in common.percentiles(pings, (50, 99)).items()})
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


def healthz_ceiling(base: str, duration: float) -> dict:
    """GET /healthz as fast as possible: wrk when installed, else 16 httpx threads."""
    from bench.bench_wall import threaded_client, wrk

    if shutil.which("wrk"):
        workdir = Path(tempfile.mkdtemp(prefix="lkwrk"))
        try:
            out = wrk(f"{base}/healthz", int(duration), None, 32, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return {**out, "client": "wrk -t2 -c32"}
    return {**threaded_client(f"{base}/healthz", int(duration), None),
            "client": "16 Python threads (httpx; wrk not installed)"}


def markdown(machine: str, runs: list[dict], ceiling: dict, workers: int, period: float,
             load_before: str) -> str:
    def rss(d: dict) -> str:
        return " + ".join(f"{v:.0f}" for v in d.values() if v is not None)

    lines = [SECTION, "",
             f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC by "
             "`bench/bench_serving.py`.", machine + f" (Load average before: {load_before}.)",
             "",
             f"`lukuang run --no-demo --no-feeds` (gunicorn, {workers} workers × 4 threads, as in "
             "production; kiosk token) serving the demo network (888 segments, 400 events). "
             "A load generator process (asyncio + httpx, a pool of one connection per display) "
             f"simulates N wall displays, each POSTing the refresh callback every {period:g} s "
             "from a random phase with its own page state (like the browser's dcc.Store). "
             "*Unchanged*: no writes (each display gets one update when the minute turns: "
             "the trend charts). *Changed*: a writer process changes 1 % of the segments' "
             f"congestion every {period:g} s, so nearly every answer is a Patch. The load "
             "generator and the writer share the 2 cores with the server; their CPU is "
             "listed. CPU is seconds used in the window, as % of one core.", "",
             f"Ceiling in the same run: `GET /healthz` (Flask + Redis PING + GET) "
             f"**{ceiling['rps']:,.0f} req/s** (p50 {ceiling['p50']}, p99 {ceiling['p99']}; "
             f"{ceiling['client']}).", "",
             "| data | displays | offered req/s | achieved req/s | p50 / p95 / p99 ms | "
             "errors | answers with an update | worker RSS MB before → after | gunicorn CPU | "
             "load generator CPU | writer CPU | Redis PING p99 / max ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in runs:
        w = r["window_s"] or 1
        lat = r["latency_ms"]
        body = r["updated"] / max(1, r["ok_200"] + r["ok_204"])
        kinds = ", ".join(f"{k} {v}" for k, v in r["error_kinds"].items())
        errors = f"{r['errors']} ({kinds})" if kinds else str(r["errors"])
        lines.append(
            f"| {'changed' if r['changed'] else 'unchanged'} | {r['displays']} | "
            f"{r['offered_rps']:.0f} | {r['achieved_rps']:.1f} | {lat.get('p50', '—')} / "
            f"{lat.get('p95', '—')} / {lat.get('p99', '—')} | {errors} | {body:.0%} | "
            f"{rss(r['rss_before'])} → {rss(r['rss_after'])} | "
            f"{r['server_cpu_s']:.1f} s ({r['server_cpu_s'] / w:.0%}) | "
            f"{r['loadgen_cpu_s']:.1f} s ({r['loadgen_cpu_s'] / w:.0%}) | "
            + (f"{r['writer_cpu_s']:.1f} s ({r['writer_cpu_s'] / w:.0%})"
               if r["writer_cpu_s"] is not None else "—")
            + f" | {r['redis_ping_ms'].get('p99', '—')} / {r['redis_ping_ms'].get('max', '—')} |")
    slow = [f"{'changed' if r['changed'] else 'unchanged'} {r['displays']}: "
            + ", ".join(f"{n} at :{s:0>2}" for s, n in r["slow_started_at_second"].items())
            for r in runs if r["slow_started_at_second"]]
    if slow:
        lines += ["", "Answers slower than 1 s, by the second of the minute their request "
                  "started (second 0 is when the minute turns and every display's next poll "
                  "gets new trend charts): " + "; ".join(slow) + "."]
    load_now = os.getloadavg()[0]
    if max(load_now, float(load_before.split(" / ")[0])) > (os.cpu_count() or 1):
        lines += ["", f"**Shared machine:** the load average ({load_before} before, "
                  f"{load_now:.1f} after) was above the {os.cpu_count()} cores, so the server, "
                  "the load generator and the writer were waiting for CPU behind other work; a "
                  "starved load generator also reads answers late, which keeps server threads "
                  "in `send`. Read the high percentiles as an upper bound and re-run on a quiet "
                  "machine."]
    lines += ["", "Achieved: answers received within the window / its length; below offered "
              "means the answers fall behind (answers after the window are not counted as "
              "achieved, but their latency is in the percentiles). Answers with an update: in "
              "the changed runs a display's first poll sees a change only if the writer wrote "
              "since the page state it starts with, so short runs show fewer than later polls "
              "(each of which sees one write)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", default=os.environ.get("LUKUANG_BENCH_REDIS",
                                                      "redis://127.0.0.1:6379/14"))
    ap.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    ap.add_argument("--displays", default="50,200,500")
    ap.add_argument("--modes", default="unchanged,changed")
    ap.add_argument("--period", type=float, default=None,
                    help="seconds between a display's polls (default: settings.refresh_s)")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    # the child processes
    ap.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--search", default="", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--share", type=float, default=0.01, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.loadgen:
        return loadgen_main(args)
    if args.writer:
        return writer_main(args)

    import redis

    from bench.bench_wall import seed
    from dashboard.storage.keys import Keys
    from dashboard.roads.network import get_network
    from dashboard.settings import load_settings
    from dashboard.storage.store import Store

    common.exit_on_sigterm()   # stop the children on SIGTERM as on Ctrl-C
    r = redis.Redis.from_url(args.redis, decode_responses=True)
    load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    prefix = f"lkbench{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    tmp = Path(tempfile.mkdtemp(prefix="lkbenchsrv"))
    state = tmp / "state"
    settings = load_settings(env={}, redis_url=args.redis, key_prefix=prefix,
                             state_dir=str(state))
    args.period = args.period or settings.refresh_s
    env = {**os.environ, "REDIS_URL": args.redis, "LUKUANG_KEY_PREFIX": prefix,
           "LUKUANG_STATE_DIR": str(state), "LUKUANG_SECRET_KEY": "bench",
           "LUKUANG_WALL_TOKEN": token, "LUKUANG_DEMO": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("LUKUANG_CONFIG", None)
    procs = common.Procs()
    runs: list[dict] = []
    try:
        store = Store(r, Keys(prefix, settings.city))
        seed(store, get_network(state), time.time(), random.Random(20261001))
        web, base, url, search = common.start_web(procs, env, tmp, token)
        master, workers = common.gunicorn_pids(web.pid)
        print(f"gunicorn master {master}, workers {workers}", file=sys.stderr, flush=True)
        ceiling = healthz_ceiling(base, min(10.0, args.duration))
        print(json.dumps({"ceiling": ceiling}), file=sys.stderr, flush=True)
        # unmeasured: 50 displays on 50 connections reach both workers, so that every
        # worker has loaded the network before the first "before" RSS
        one_run(50, False, argparse.Namespace(**{**vars(args), "duration": 5.0}), env, procs,
                web.pid, url, search, tmp, store)
        for changed in (m == "changed" for m in args.modes.split(",") if m):
            for n in (int(x) for x in args.displays.split(",") if x):
                runs.append(one_run(n, changed, args, env, procs, web.pid, url, search, tmp,
                                    store))
        workers_n = len(common.gunicorn_pids(web.pid)[1])
    finally:
        procs.stop_all()
        common.drop_keys(r, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    machine = common.machine_line(r.info("server"))
    text = markdown(machine, runs, ceiling, workers_n, args.period, load_before)
    if not args.no_write:
        common.write_section(SECTION, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
