"""Wall refresh cost: server time per refresh (data unchanged / changed) for the demo network
and generated grid networks of 5,000 and 20,000 segments, and how many wall displays one
machine serves (refresh POSTs per second under gunicorn with 2 workers, measured with wrk).

    .venv/bin/python bench/bench_wall.py [--redis redis://127.0.0.1:6379/14] [--calls 300]
                                         [--no-http] [--duration 10]

Writes the "## Wall refresh" section of bench/RESULTS.md (other sections are left alone) and
prints the figures as JSON. Keys go under throw-away prefixes that are deleted afterwards.
Timings are time.perf_counter over many calls of the pure refresh function
(callbacks.wall.refresh) against the real Redis; they are measurements, not assertions.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import httpx  # noqa: E402
import plotly.io  # noqa: E402
import redis  # noqa: E402
from shapely import LineString, box  # noqa: E402

from bench import common  # noqa: E402
from callbacks import wall as CW  # noqa: E402
from dashboard.storage.cache import cache_for  # noqa: E402
from dashboard.storage.keys import Keys  # noqa: E402
from dashboard.model import RoadEvent  # noqa: E402
from dashboard.roads.network import (IMPORTED_ROADS, NETWORK_SUBDIR, default_network_dir,  # noqa: E402
                             load_network)
from dashboard.settings import load_settings  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Wall refresh"
BBOX = (116.95, 36.05, 117.30, 36.30)
DISTRICTS = ("泰山区", "岱岳区", "高新区")


# -- the machine ------------------------------------------------------------------------------
def machine(r: redis.Redis) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = r.info("server")
    import dash
    import plotly
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "os": platform.platform(), "redis": info.get("redis_version", "?"),
            "redis_mode": info.get("redis_mode", "?"), "dash": dash.__version__,
            "plotly": plotly.__version__, "wrk": bool(shutil.which("wrk"))}


# -- networks ---------------------------------------------------------------------------------
def grid_network(n_segments: int, out_dir: Path) -> Path:
    """A synthetic grid city of about ``n_segments`` segments (4 vertices each) over Tai'an,
    written as the files ``roads import`` would produce. Returns the roads file."""
    x0, y0, x1, y1 = BBOX
    k = math.ceil(math.sqrt(n_segments / 2))          # k lines each way, k segments per line
    rows = []
    for axis in ("EW", "NS"):
        for line in range(k):
            cls = ("expressway" if line % 20 == 0 else "arterial" if line % 8 == 0
                   else "secondary" if line % 4 == 0 else "local")
            for piece in range(k):
                if len(rows) >= n_segments:
                    break
                a, b = piece / k, (piece + 1) / k
                t = (line + 0.5) / k
                pts = []
                for f in (0.0, 1 / 3, 2 / 3, 1.0):
                    u = a + (b - a) * f
                    wiggle = 0.08 / k * math.sin(9 * u + line)
                    if axis == "EW":
                        pts.append((x0 + (x1 - x0) * u, y0 + (y1 - y0) * t + wiggle))
                    else:
                        pts.append((x0 + (x1 - x0) * t + wiggle, y0 + (y1 - y0) * u))
                mid_x = sum(p[0] for p in pts) / 4
                rows.append({"segment_id": f"g{axis}{line:03d}-{piece:03d}",
                             "road_name": f"网格{'东西' if axis == 'EW' else '南北'}{line}路",
                             "road_class": cls,
                             "district": DISTRICTS[min(2, int((mid_x - x0) / (x1 - x0) * 3))],
                             "geometry": LineString(pts)})
    out_dir.mkdir(parents=True, exist_ok=True)
    roads = out_dir / IMPORTED_ROADS
    gpd.GeoDataFrame(rows, crs="EPSG:4326").to_file(roads, driver="GPKG")
    w = (x1 - x0) / 3
    districts = gpd.GeoDataFrame(
        {"name": list(DISTRICTS), "code": ["370902", "370911", "370971"]},
        geometry=[box(x0 + i * w, y0, x0 + (i + 1) * w, y1) for i in range(3)], crs="EPSG:4326")
    districts.to_file(out_dir / "districts.geojson", driver="GeoJSON")
    return roads


@dataclass
class BenchServices:
    """What the refresh function uses from dashboard.services.Services."""
    settings: object
    r: redis.Redis
    keys: Keys
    store: Store
    net: object

    @property
    def network(self):
        return self.net


# -- seeding ----------------------------------------------------------------------------------
def seed(store: Store, network, now: float, rnd: random.Random) -> list[str]:
    ids = list(network.segments.index.astype(str))
    store.set_congestion([(s, rnd.choices([1, 2, 3, 4, 0], [60, 20, 10, 5, 5])[0], 30.0, "amap",
                           now) for s in ids], now=now)
    utc = timezone.utc
    coords = [network.segment(ids[rnd.randrange(len(ids))])["coords"] for _ in range(400)]
    events = []
    for i, line in enumerate(coords):
        kind = ("incident", "report", "report", "construction")[i % 4]
        lon, lat = line[0]
        events.append(RoadEvent(
            id=f"bench:{i}", kind=kind, category={"incident": "accident", "report": "jam",
                                                 "construction": "roadworks"}[kind],
            severity=1 + i % 4, source="bench", lon=lon, lat=lat,
            observed_at=datetime.fromtimestamp(now - rnd.randint(0, 1500), utc),
            line=tuple(tuple(p) for p in line) if kind == "construction" else (),
            district=DISTRICTS[i % 3], text="东岳大街拥堵 电话13812345678" if kind == "report"
            else "", attrs={"count": 1 + i % 7} if kind == "report" else {}))
    store.upsert_events(events, now=now)
    pipe = store.r.pipeline(transaction=False)
    for m in range(0, 8 * 24 * 60, 10):
        t = datetime.fromtimestamp(now - m * 60, utc)
        for area in ("city", *DISTRICTS):
            pipe.hset(store.keys.ts(f"cidx:{area}", t.date()), t.strftime("%H%M"),
                      f"{0.1 + 0.3 * rnd.random():.4f}")
    pipe.execute()
    for feed, interval in (("waze", 10), ("amap", 30), ("wzdx", 60), ("weibo", 15)):
        store.update_feed_health(feed, {"accepted": 100}, last_ok=f"{now:.0f}",
                                 interval_s=str(interval), breaker="closed")
    return ids


def change_some(store: Store, ids: list[str], rnd: random.Random, share: float = 0.01) -> None:
    """A new data version: ``share`` of the segments get a different level."""
    picks = rnd.sample(ids, max(1, int(len(ids) * share)))
    store.set_congestion([(s, rnd.choice([1, 2, 3, 4]), 20.0, "amap", time.time())
                          for s in picks])


# -- measuring the pure function --------------------------------------------------------------
def stats_ms(samples: list[float]) -> dict:
    s = sorted(samples)
    return {"n": len(s), "mean_ms": round(statistics.fmean(s) * 1000, 3),
            "p50_ms": round(s[len(s) // 2] * 1000, 3),
            "p95_ms": round(s[min(len(s) - 1, int(len(s) * 0.95))] * 1000, 3)}


def dash_json(value) -> str:
    """Serialise a callback's outputs the way Dash does (plotly's JSON encoder)."""
    return plotly.io.json.to_json_plotly(value)


def bench_refresh(svc: BenchServices, ids: list[str], calls: int, changes: int,
                  rnd: random.Random) -> dict:
    cache = cache_for(svc.r, svc.keys)
    cache.drop_local()
    out: dict = {"segments": len(ids)}
    t = time.perf_counter()
    first = CW.refresh(0, 1, None, "", svc)
    out["full_cold_ms"] = round((time.perf_counter() - t) * 1000, 1)
    t = time.perf_counter()
    text = dash_json(first["map"])
    out["full_serialise_ms"] = round((time.perf_counter() - t) * 1000, 1)
    out["full_figure_bytes"] = len(text.encode())
    style_bytes = len(dash_json(first["map"]["layout"]["map"]["style"]).encode())
    out["style_bytes"] = style_bytes
    warm = []
    for i in range(5):
        t = time.perf_counter()
        CW.refresh(i, 1, None, "", svc)
        warm.append(time.perf_counter() - t)
    out["full_warm"] = stats_ms(warm)
    state = first["state"]

    # unchanged: same version, same minute -> one GET and no_update everywhere
    now = time.time()
    state = CW.refresh(0, 1, state, "", svc, now=now)["state"] if state["m"] != int(now // 60) \
        else state
    samples = []
    for i in range(calls):
        t = time.perf_counter()
        res = CW.refresh(i, 1, state, "", svc, now=now)
        samples.append(time.perf_counter() - t)
        assert res["map"] is CW.no_update
    out["unchanged"] = stats_ms(samples)

    # changed: 1 % of the segments change level; three kinds of request for the new version
    first_s, other_s, same_s, patch_bytes, ser = [], [], [], [], []
    for i in range(changes):
        change_some(svc.store, ids, rnd)
        cache.drop_local()
        now = time.time()
        t = time.perf_counter()
        res = CW.refresh(i, 1, state, "", svc, now=now)          # the first display anywhere
        first_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        body = dash_json(list(res.values()))
        ser.append(time.perf_counter() - t)
        patch_bytes.append(len(body.encode()))
        cache.drop_local()
        t = time.perf_counter()
        CW.refresh(i, 1, state, "", svc, now=now)                # another worker: Redis cache
        other_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        CW.refresh(i, 1, state, "", svc, now=now)                # same worker: its own cache
        same_s.append(time.perf_counter() - t)
        state = res["state"]
    out["changed_first_display"] = stats_ms(first_s)
    out["changed_other_worker"] = stats_ms(other_s)
    out["changed_same_worker"] = stats_ms(same_s)
    out["changed_serialise"] = stats_ms(ser)
    out["changed_response_bytes"] = int(statistics.median(patch_bytes))
    return out


# -- HTTP under gunicorn ----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refresh_request(seen: dict | None) -> dict:
    """The wall refresh POST body (see bench.common.wall_request)."""
    return common.wall_request(seen)


def wrk(url: str, duration: int, body: dict | None, connections: int, workdir: Path) -> dict:
    """Requests/s and latency percentiles from wrk (POST with ``body`` when given)."""
    script = workdir / "post.lua"
    args = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if body is not None:
        script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = '
                          '"application/json"\nwrk.body = ' + json.dumps(json.dumps(body)) + "\n")
        args[1:1] = ["-s", str(script)]
    res = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60)
    text = res.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", text, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return {"rps": round(rps, 1), "p50": lat.get("50"), "p99": lat.get("99"),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def threaded_client(url: str, duration: int, body: dict | None, threads: int = 16) -> dict:
    """Fallback when wrk is missing: a small threaded httpx client (it competes for the CPU
    with the server, so it undercounts)."""
    import threading
    stop = time.time() + duration
    lat: list[float] = []
    lock = threading.Lock()

    def run():
        with httpx.Client(timeout=10) as c:
            while time.time() < stop:
                t = time.perf_counter()
                r = c.post(url, json=body) if body is not None else c.get(url)
                r.read()
                with lock:
                    lat.append(time.perf_counter() - t)
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    s = sorted(lat)
    return {"rps": round(len(s) / duration, 1), "p50": f"{s[len(s) // 2] * 1000:.2f}ms",
            "p99": f"{s[int(len(s) * 0.99)] * 1000:.2f}ms", "non_2xx": None}


def bench_http(redis_url: str, prefix: str, state_dir: Path, store: Store, ids: list[str],
               duration: int, rnd: random.Random, repeats: int = 3) -> dict:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "LUKUANG_KEY_PREFIX": prefix,
           "LUKUANG_STATE_DIR": str(state_dir), "LUKUANG_SECRET_KEY": "bench",
           "LUKUANG_WALL_TOKEN": ""}
    env.pop("LUKUANG_CONFIG", None)
    state_dir.mkdir(parents=True, exist_ok=True)
    log = open(state_dir / "gunicorn.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "app:server", "--bind",
                             f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                             "--timeout", "120", "--access-logfile", "/dev/null"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        common.wait_http(f"{base}/healthz", proc, 120, state_dir / "gunicorn.log")
        url = f"{base}/_dash-update-component"
        with httpx.Client(timeout=120) as c:
            for _ in range(6):   # load the network and build the base figure in both workers
                first = c.post(url, json=refresh_request(None))
                first.raise_for_status()
            full_bytes = len(first.content)
            seen = first.json()["response"][CW.ids.WALL_VERSION]["data"]
            same = c.post(url, json=refresh_request(seen))
            # no_update everywhere: Dash answers 204 or an empty response
            assert same.status_code == 204 or same.json()["response"] == {}, same.text[:300]
        client = wrk if shutil.which("wrk") else threaded_client
        workdir = Path(tempfile.mkdtemp(prefix="lkwrk"))
        out = {"client": "wrk -t2 -c32" if client is wrk else "threaded httpx (16)",
               "full_response_bytes": full_bytes}
        kw = {"connections": 32, "workdir": workdir} if client is wrk else {}

        def current_state() -> dict:
            """The page state a display holds now. The state names the minute (tiles and
            trends refresh once a minute), so a run must not cross a minute boundary: wait
            for the next minute if this one is too far gone."""
            if time.time() % 60 > 60 - duration - 4:
                time.sleep(61 - time.time() % 60)
            with httpx.Client(timeout=60) as c:
                return c.post(url, json=refresh_request(None)).json()["response"][
                    CW.ids.WALL_VERSION]["data"]

        def measure(target: str, body) -> dict:
            """Best of ``repeats`` runs (the least disturbed by other processes on a shared
            machine), with every run's figure kept. ``body`` may be a function."""
            runs = [client(target, duration, body() if callable(body) else body, **kw)
                    for _ in range(repeats)]
            best = max(runs, key=lambda x: x["rps"])
            return {**best, "runs": [x["rps"] for x in runs]}
        out["ceiling_healthz"] = measure(f"{base}/healthz", None)
        out["unchanged"] = measure(url, lambda: refresh_request(current_state()))
        # a display one version behind: every answer is a Patch built from the shared cache
        change_some(store, ids, rnd)
        with httpx.Client(timeout=120) as c:
            patch = c.post(url, json=refresh_request(seen))
        out["behind_response_bytes"] = len(patch.content)
        out["one_version_behind"] = measure(url, refresh_request(seen))
        shutil.rmtree(workdir, ignore_errors=True)
        return out
    finally:
        common.stop_process(proc)
        log.close()


# -- the report -------------------------------------------------------------------------------
def markdown(m: dict, results: list[dict], refresh_s: float) -> str:
    lines = [SECTION, "",
             f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC by "
             "`bench/bench_wall.py`.",
             f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; Redis "
             f"{m['redis']} ({m['redis_mode']}); Dash {m['dash']}, Plotly {m['plotly']}; "
             f"{m['os']}. Load average (1/5/15 min) {m['load_before']} before and "
             f"{m['load_after']} after the run: the machine was shared with other work, so "
             "HTTP figures are the best of several runs (all runs listed in brackets).", "",
             "Server time of one wall refresh (the pure `callbacks.wall.refresh`, against the "
             "real Redis; mean / p95 in ms). *Unchanged*: same data version and minute, one "
             "Redis GET, `no_update` everywhere. *Changed*: 1 % of the segments changed level; "
             "the first display anywhere builds the data (snapshot, level traces, markers, "
             "KPIs, charts) and stores it in Redis; a display on another worker reads that; a "
             "display on the same worker reads the worker's dict. *Full*: a page opening "
             "(base figure cached per network).", "",
             "| network | segments | unchanged | changed, first display | changed, other worker"
             " | changed, same worker | Patch response | full figure (page load) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        p = r["refresh"]
        lines.append(
            f"| {r['name']} | {p['segments']:,} | {p['unchanged']['mean_ms']:.2f} / "
            f"{p['unchanged']['p95_ms']:.2f} | {p['changed_first_display']['mean_ms']:.1f} / "
            f"{p['changed_first_display']['p95_ms']:.1f} | "
            f"{p['changed_other_worker']['mean_ms']:.1f} / "
            f"{p['changed_other_worker']['p95_ms']:.1f} | "
            f"{p['changed_same_worker']['mean_ms']:.1f} / {p['changed_same_worker']['p95_ms']:.1f}"
            f" | {p['changed_response_bytes'] / 1024:.0f} KB, serialised in "
            f"{p['changed_serialise']['mean_ms']:.1f} ms | "
            f"{p['full_figure_bytes'] / 1024 / 1024:.2f} MB (style "
            f"{p['style_bytes'] / 1024 / 1024:.2f} MB), {p['full_warm']['mean_ms']:.0f} ms "
            f"+ {p['full_serialise_ms']:.0f} ms to serialise |")
    http = [r for r in results if r.get("http")]
    if http:
        h0 = http[0]["http"]
        lines += ["", f"HTTP: `POST /_dash-update-component` (the wall's refresh) under gunicorn, "
                  f"2 workers × 4 threads, load from {h0['client']} on the same machine (the "
                  f"client takes CPU from the server, so these are lower bounds). Displays = "
                  f"requests/s × {refresh_s:g} s (each display polls every {refresh_s:g} s). "
                  "Ceiling: `GET /healthz` (Flask + one Redis GET) on the same server.", "",
                  "| network | ceiling /healthz req/s | unchanged req/s (p50 / p99) | displays "
                  "served (unchanged) | one version behind req/s (Patch size) | displays "
                  "(all behind) |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in http:
            h = r["http"]
            u, b = h["unchanged"], h["one_version_behind"]
            def runs(x: dict) -> str:
                return "[" + ", ".join(f"{v:,.0f}" for v in x["runs"]) + "]"
            lines.append(
                f"| {r['name']} | {h['ceiling_healthz']['rps']:,.0f} {runs(h['ceiling_healthz'])}"
                f" | {u['rps']:,.0f} {runs(u)} ({u['p50']} / {u['p99']}) | "
                f"**{u['rps'] * refresh_s:,.0f}** | {b['rps']:,.0f} {runs(b)} "
                f"({h['behind_response_bytes'] / 1024:.0f} KB) | {b['rps'] * refresh_s:,.0f} |")
        lines += ["", "Reading: an unchanged refresh costs one Redis GET plus Dash's request "
                  "handling, so one 2-core machine keeps the number of displays above for "
                  "unchanged data; after a change each display gets one Patch of the changed "
                  "level traces (built once per version and shared through Redis), and the "
                  "full figure is sent only when a page opens."]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace the "## Wall refresh" section of RESULTS.md (or add it), keeping the rest."""
    common.write_section(SECTION, text, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", default=os.environ.get("LUKUANG_BENCH_REDIS",
                                                      "redis://127.0.0.1:6379/14"))
    ap.add_argument("--calls", type=int, default=300, help="unchanged refreshes per network")
    ap.add_argument("--changes", type=int, default=15, help="changed refreshes per network")
    ap.add_argument("--duration", type=int, default=10, help="seconds per HTTP measurement")
    ap.add_argument("--repeats", type=int, default=3, help="HTTP runs per measurement (best "
                                                           "is reported)")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--sizes", default="5000,20000")
    args = ap.parse_args(argv)
    r = redis.Redis.from_url(args.redis, decode_responses=True)
    m = machine(r)
    m["load_before"] = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    rnd = random.Random(20261001)
    tmp = Path(tempfile.mkdtemp(prefix="lkbenchwall"))
    results = []
    networks = [("demo (泰安)", None)] + [(f"grid {int(n):,}", int(n))
                                         for n in args.sizes.split(",") if n]
    try:
        for name, size in networks:
            prefix = f"lkbench{uuid.uuid4().hex[:8]}"
            state = tmp / prefix
            if size is None:
                roads = default_network_dir() / "roads.geojson"
            else:
                roads = grid_network(size, state / NETWORK_SUBDIR)
            network = load_network(roads)
            settings = load_settings(env={}, redis_url=args.redis, key_prefix=prefix,
                                     state_dir=str(state))
            keys = Keys(prefix, settings.city)
            store = Store(r, keys)
            svc = BenchServices(settings, r, keys, store, network)
            try:
                ids = seed(store, network, time.time(), rnd)
                print(f"{name}: {len(ids)} segments", file=sys.stderr, flush=True)
                entry = {"name": name, "refresh": bench_refresh(svc, ids, args.calls,
                                                                 args.changes, rnd)}
                if not args.no_http:
                    entry["http"] = bench_http(args.redis, prefix, state, store, ids,
                                               args.duration, rnd, args.repeats)
                results.append(entry)
                print(json.dumps(entry, ensure_ascii=False), file=sys.stderr, flush=True)
            finally:
                common.drop_keys(r, prefix)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    m["load_after"] = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    write_section(markdown(m, results, settings.refresh_s))
    print(json.dumps({"machine": m, "results": results}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
