"""Officer's action to another screen: from one officer's dispatch action to a wall that is
polling as the browser does showing the new data version.

* ``lukuang run --no-demo --no-feeds`` (gunicorn as in production) with a kiosk token;
* a simulated wall POSTing the refresh callback at the page's tick (the wall page asks
  every ``min(version_tick_s, refresh_s)``; an unchanged answer is one Redis GET), its tick
  restarted at a random phase before each trial;
* the officer's action through the domain function the dispatch callback calls
  (``dashboard.dispatch.incidents.acknowledge`` / ``transition(…, "cleared")``), which
  commits the change and bumps the data version in one atomic step.

Each trial creates an incident from a fresh accident event (not timed), then times its
acknowledgement and its clearing: t0 just before the call, the end when a wall answer first
carries a state whose version is at least the action's.

    .venv/bin/python bench/bench_action.py [--redis redis://127.0.0.1:6379/14] [--trials 20]

Writes the "## Officer's action to other screens" section of bench/RESULTS.md and prints
JSON. Keys go under a throw-away prefix deleted afterwards; the server is stopped by PID.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402

from bench import common  # noqa: E402
from dashboard.auth import User  # noqa: E402
from dashboard.dispatch import incidents  # noqa: E402
from dashboard.model import RoadEvent  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402
from layouts import ids  # noqa: E402

SECTION = "## Officer's action to other screens"
LON, LAT = 117.10278, 36.195835      # 东岳大街, central Tai'an
OFFICER = User("bench.officer", "officer")


class WallPoller(threading.Thread):
    """POSTs the wall's refresh every ``period_s`` and notes when an answer's state first
    reaches a watched data version."""

    def __init__(self, url: str, search: str, period_s: float, stop: threading.Event):
        super().__init__(name="wall", daemon=True)
        self.url, self.search, self.period_s, self.stop = url, search, period_s, stop
        self.client = httpx.Client(timeout=60)
        self.lock = threading.Lock()
        self.kick = threading.Event()
        self.rnd = random.Random(7)
        self.watch: int | None = None
        self.seen_at: float | None = None
        self.requests = self.errors = 0
        resp = self.client.post(url, json=common.wall_request(None, search))
        resp.raise_for_status()
        self.seen = resp.json()["response"][ids.WALL_VERSION]["data"]

    def set_watch(self, version: int) -> None:
        with self.lock:
            self.watch, self.seen_at = version, None
            if int(self.seen.get("v", -1)) >= version:   # already shown (cannot happen first)
                self.seen_at = time.monotonic()

    def poll(self) -> None:
        try:
            resp = self.client.post(self.url, json=common.wall_request(self.seen, self.search))
        except httpx.HTTPError:
            self.errors += 1
            return
        at = time.monotonic()
        self.requests += 1
        if resp.status_code == 204:
            return
        if resp.status_code != 200:
            self.errors += 1
            return
        out = resp.json().get("response", {})
        if ids.WALL_VERSION not in out:
            return
        self.seen = out[ids.WALL_VERSION]["data"]
        with self.lock:
            if self.watch is not None and self.seen_at is None and \
                    int(self.seen.get("v", -1)) >= self.watch:
                self.seen_at = at

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            if self.kick.wait(max(0.0, next_at - time.monotonic())):
                self.kick.clear()
                next_at = time.monotonic() + self.rnd.uniform(0, self.period_s)
                continue
            if self.stop.is_set():
                break
            self.poll()
            next_at = max(next_at + self.period_s, time.monotonic())
        self.client.close()


def new_incident(store: Store, i: int) -> str:
    ev = RoadEvent(id=f"benchact:{uuid.uuid4().hex[:10]}", kind="incident", category="accident",
                   severity=2, source="benchact", observed_at=datetime.now(timezone.utc),
                   lon=LON + 0.0005 * (i % 10), lat=LAT, road_names=("东岳大街",),
                   text=f"bench accident {i}")
    store.upsert_events([ev])
    return incidents.create_from_event(store.r, store.keys, OFFICER, ev.id).incident_id


def timed(wall: WallPoller, action) -> float | None:
    wall.kick.set()                       # a random phase against the wall's tick
    time.sleep(0.05)
    t0 = time.monotonic()
    version = action().version
    wall.set_watch(version)
    end = t0 + 10 * wall.period_s + 10
    while time.monotonic() < end:
        with wall.lock:
            if wall.seen_at is not None:
                return wall.seen_at - t0
        time.sleep(0.01)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", default=os.environ.get("LUKUANG_BENCH_REDIS",
                                                      "redis://127.0.0.1:6379/14"))
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = ap.parse_args(argv)
    common.exit_on_sigterm()
    r = redis.Redis.from_url(args.redis, decode_responses=True)
    load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    prefix = f"lkbenchact{uuid.uuid4().hex[:6]}"
    token = uuid.uuid4().hex
    tmp = Path(tempfile.mkdtemp(prefix="lkbenchact"))
    settings = load_settings(env={}, redis_url=args.redis, key_prefix=prefix)
    tick_s = min(getattr(settings, "version_tick_s", settings.refresh_s) or settings.refresh_s,
                 settings.refresh_s)
    store = Store.from_settings(r, settings)
    env = {**os.environ, "REDIS_URL": args.redis, "LUKUANG_KEY_PREFIX": prefix,
           "LUKUANG_STATE_DIR": str(tmp / "state"), "LUKUANG_SECRET_KEY": "bench",
           "LUKUANG_WALL_TOKEN": token, "LUKUANG_DEMO": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("LUKUANG_CONFIG", None)
    procs = common.Procs()
    stop = threading.Event()
    rows: dict[str, list[float | None]] = {"acknowledge": [], "clear": []}
    wall = None
    try:
        web, base, url, search = common.start_web(procs, env, tmp, token)
        wall = WallPoller(url, search, tick_s, stop)
        wall.start()
        rnd = random.Random(11)
        for i in range(args.trials):
            inc_id = new_incident(store, i)
            time.sleep(rnd.uniform(0.2, tick_s + 0.2))
            rows["acknowledge"].append(timed(wall, lambda: incidents.acknowledge(
                r, store.keys, OFFICER, inc_id)))
            time.sleep(rnd.uniform(0.2, tick_s + 0.2))
            rows["clear"].append(timed(wall, lambda: incidents.transition(
                r, store.keys, OFFICER, inc_id, "cleared")))
            print(json.dumps({k: v[-1] for k, v in rows.items()}), file=sys.stderr, flush=True)
    finally:
        stop.set()
        if wall is not None:
            wall.kick.set()
            wall.join(timeout=30)
        procs.stop_all()
        for key in r.scan_iter(match=f"{prefix}:*", count=1000):
            r.delete(key)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"tick_s": tick_s, "refresh_s": settings.refresh_s, "trials": args.trials,
              "requests": wall.requests if wall else 0, "errors": wall.errors if wall else 0}
    for name, values in rows.items():
        got = [v for v in values if v is not None]
        result[name] = {**{k: round(v, 3) for k, v in common.percentiles(got, (50, 95)).items()},
                        "n": len(got), "missed": len(values) - len(got)}
    print(json.dumps(result, indent=1))
    if not args.no_write:
        common.write_section(SECTION, markdown(result, common.machine_line(r.info("server")),
                                               load_before))
    return 0


def markdown(res: dict, machine: str, load_before: str) -> str:
    def cell(s: dict) -> str:
        if not s.get("n"):
            return "—"
        miss = f", {s['missed']} missed" if s["missed"] else ""
        return f"{s['p50']:.2f} / {s['p95']:.2f} / {s['max']:.2f}{miss}"

    def verdict(s: dict) -> str:
        return "met" if s.get("n") and s["p95"] <= 2.0 and not s["missed"] else "**not met**"

    return "\n".join([
        SECTION, "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `bench/bench_action.py`.",
        machine + f" (Load average before: {load_before}.)", "",
        "One officer acts through the domain function the dispatch callback calls "
        "(`incidents.acknowledge`, then `incidents.transition(…, \"cleared\")`); a wall on "
        "another connection POSTs its refresh callback under gunicorn at the page's tick, "
        f"**{res['tick_s']:g} s** (`min(version_tick_s, refresh_s)`, refresh_s = "
        f"{res['refresh_s']:g} s), from a random phase per trial. Time from just before the "
        "action to the first wall answer whose page state carries the action's data version. "
        f"{res['trials']} trials per action; {res['requests']:,} wall requests, "
        f"{res['errors']} errors.", "",
        "| action | seconds, p50 / p95 / max | goal p95 ≤ 2 s |", "| --- | ---: | --- |",
        f"| acknowledge → wall | {cell(res['acknowledge'])} | {verdict(res['acknowledge'])} |",
        f"| clear → wall | {cell(res['clear'])} | {verdict(res['clear'])} |", "",
        "The dispatch page of another officer asks for a new version at the same tick with "
        "the same one-GET check, so the same figures bound it (not measured separately "
        "here: it needs a logged-in session). Expected mean: tick / 2 plus one rebuild.", "",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
