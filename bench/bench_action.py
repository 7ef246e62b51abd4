"""Officer's action to other screens: from one officer's dispatch action to a wall and to
another officer's dispatch page, each polling as the browser does, showing the new data
version.

* ``lukuang run --no-demo --no-feeds`` (gunicorn as in production) with a kiosk token;
* a simulated wall POSTing the refresh callback at the page's tick (the wall page asks
  every ``min(version_tick_s, refresh_s)``; an unchanged answer is one Redis GET), and a
  second officer's dispatch page (a session logged in through /login) POSTing its refresh
  at its tick, each restarted at a random phase before each trial;
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
from typing import Any, Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402

from bench import common  # noqa: E402
from dashboard.auth import User, add_user  # noqa: E402
from dashboard.dispatch import incidents  # noqa: E402
from dashboard.model import RoadEvent  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402
from layouts import ids  # noqa: E402

SECTION = "## Officer's action to other screens"
LON, LAT = 117.10278, 36.195835      # 东岳大街, central Tai'an
OFFICER = User("bench.officer", "officer")
OTHER_OFFICER = "bench.other"        # the second officer, whose dispatch page is watched
SCREENS = ("wall", "other officer's dispatch")


class Poller(threading.Thread):
    """POSTs one page's refresh callback every ``period_s`` as the browser does and notes
    when an answer first reaches a watched data version. ``body(seen)`` builds the request
    from the page state of the last answer; ``version(answer)`` reads (state, version) from
    an answer's ``response``, or None when it carries no new state."""

    def __init__(self, name: str, url: str, period_s: float, stop: threading.Event,
                 body: Callable[[Any], dict], version: Callable[[dict], tuple[Any, int] | None],
                 client: httpx.Client | None = None):
        super().__init__(name=name, daemon=True)
        self.url, self.period_s, self.stop = url, period_s, stop
        self.body, self.version = body, version
        self.client = client or httpx.Client(timeout=60)
        self.lock = threading.Lock()
        self.kick = threading.Event()
        self.rnd = random.Random(7)
        self.watch: int | None = None
        self.seen_at: float | None = None
        self.requests = self.errors = 0
        resp = self.client.post(url, json=body(None))
        resp.raise_for_status()
        self.seen, self.seen_v = version(resp.json()["response"])

    def set_watch(self, version: int) -> None:
        with self.lock:
            self.watch, self.seen_at = version, None
            if self.seen_v >= version:   # already shown (cannot happen first)
                self.seen_at = time.monotonic()

    def poll(self) -> None:
        try:
            resp = self.client.post(self.url, json=self.body(self.seen))
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
        got = self.version(resp.json().get("response", {}))
        if got is None:
            return
        self.seen, self.seen_v = got
        with self.lock:
            if self.watch is not None and self.seen_at is None and self.seen_v >= self.watch:
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


def wall_poller(url: str, search: str, period_s: float, stop: threading.Event) -> Poller:
    """The wall page: its state carries the data version as ``v``."""
    def version(out: dict) -> tuple[Any, int] | None:
        if ids.WALL_VERSION not in out:
            return None
        seen = out[ids.WALL_VERSION]["data"]
        return seen, int(seen.get("v", -1))
    return Poller("wall", url, period_s, stop, lambda seen: common.wall_request(seen, search),
                  version)


DISPATCH_OUTPUTS = [(ids.DISPATCH_GRID, "rowData"), (ids.DISPATCH_UNACK, "children"),
                    (ids.DISPATCH_OPEN, "children"), (ids.DISPATCH_MAP, "figure"),
                    (ids.DISPATCH_STATS, "children"), (ids.DISPATCH_CREATE_CHOICE, "options"),
                    (ids.DISPATCH_REPORT_CHOICE, "options"),
                    (ids.DISPATCH_MERGE_CHOICE, "options"), (ids.DISPATCH_UNIT_PICK, "options"),
                    (ids.DISPATCH_SEEN, "data")]


def dispatch_request(seen: dict | None) -> dict:
    """The body the dispatch page POSTs for its refresh callback on its tick."""
    outs = DISPATCH_OUTPUTS
    return {"output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
            "outputs": [{"id": i, "property": p} for i, p in outs],
            "inputs": [{"id": ids.DISPATCH_TICK, "property": "n_intervals", "value": 1},
                       {"id": ids.DISPATCH_BUMP, "property": "data", "value": None},
                       {"id": ids.DISPATCH_SELECTED, "property": "data", "value": None}],
            "state": [{"id": ids.DISPATCH_SEEN, "property": "data", "value": seen}],
            "changedPropIds": [f"{ids.DISPATCH_TICK}.n_intervals"]}


def dispatch_poller(base: str, url: str, period_s: float, stop: threading.Event,
                    name: str, password: str) -> Poller:
    """Another officer's dispatch page, logged in through /login as a browser is (same
    origin); its state's ``tag`` starts with the data version."""
    client = httpx.Client(timeout=60)
    resp = client.post(f"{base}/login", data={"username": name, "password": password},
                       headers={"Origin": base})
    if resp.status_code >= 400 or not client.cookies:
        raise RuntimeError(f"bench officer login failed: {resp.status_code}")

    def version(out: dict) -> tuple[Any, int] | None:
        if ids.DISPATCH_SEEN not in out:
            return None
        seen = out[ids.DISPATCH_SEEN]["data"]
        return seen, int(str(seen.get("tag", "-1")).split(":")[0])
    return Poller("dispatch", url, period_s, stop, dispatch_request, version, client)


def new_incident(store: Store, i: int) -> str:
    ev = RoadEvent(id=f"benchact:{uuid.uuid4().hex[:10]}", kind="incident", category="accident",
                   severity=2, source="benchact", observed_at=datetime.now(timezone.utc),
                   lon=LON + 0.0005 * (i % 10), lat=LAT, road_names=("东岳大街",),
                   text=f"bench accident {i}")
    store.upsert_events([ev])
    return incidents.create_from_event(store.r, store.keys, OFFICER, ev.id).incident_id


def timed(screens: list[Poller], action) -> list[float | None]:
    """Seconds from just before ``action()`` to each screen showing its data version."""
    for screen in screens:
        screen.kick.set()                 # a random phase against each screen's tick
    time.sleep(0.05)
    t0 = time.monotonic()
    version = action().version
    for screen in screens:
        screen.set_watch(version)
    end = t0 + 10 * max(p.period_s for p in screens) + 10
    out: list[float | None] = [None] * len(screens)
    while time.monotonic() < end and None in out:
        for i, screen in enumerate(screens):
            with screen.lock:
                if screen.seen_at is not None:
                    out[i] = screen.seen_at - t0
        time.sleep(0.01)
    return out


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
    rows: dict[str, list[float | None]] = {f"{a} → {screen}": [] for a in ("acknowledge", "clear")
                                           for screen in SCREENS}
    screens: list[Poller] = []
    try:
        web, base, url, search = common.start_web(procs, env, tmp, token)
        password = uuid.uuid4().hex
        add_user(r, store.keys, OTHER_OFFICER, "officer", password)
        screens = [wall_poller(url, search, tick_s, stop),
                   dispatch_poller(base, url, tick_s, stop, OTHER_OFFICER, password)]
        for screen in screens:
            screen.start()
        rnd = random.Random(11)
        for i in range(args.trials):
            inc_id = new_incident(store, i)
            for action, call in (
                    ("acknowledge", lambda: incidents.acknowledge(r, store.keys, OFFICER, inc_id)),
                    ("clear", lambda: incidents.transition(r, store.keys, OFFICER, inc_id,
                                                           "cleared"))):
                time.sleep(rnd.uniform(0.2, tick_s + 0.2))
                for screen, secs in zip(SCREENS, timed(screens, call)):
                    rows[f"{action} → {screen}"].append(secs)
            print(json.dumps({k: v[-1] for k, v in rows.items()}, ensure_ascii=False),
                  file=sys.stderr, flush=True)
    finally:
        stop.set()
        for screen in screens:
            screen.kick.set()
            screen.join(timeout=30)
        procs.stop_all()
        common.drop_keys(r, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"tick_s": tick_s, "refresh_s": settings.refresh_s, "trials": args.trials,
              "requests": sum(p.requests for p in screens),
              "errors": sum(p.errors for p in screens)}
    for name, values in rows.items():
        got = [v for v in values if v is not None]
        result[name] = {**{k: round(v, 3) for k, v in common.percentiles(got, (50, 95)).items()},
                        "n": len(got), "missed": len(values) - len(got)}
    print(json.dumps(result, indent=1, ensure_ascii=False))
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
        "(`incidents.acknowledge`, then `incidents.transition(…, \"cleared\")`); a wall and "
        "another officer's dispatch page, each on its own connection, POST their refresh "
        "callbacks under gunicorn at the page's tick, "
        f"**{res['tick_s']:g} s** (`min(version_tick_s, refresh_s)`, refresh_s = "
        f"{res['refresh_s']:g} s), from a random phase per trial. Time from just before the "
        "action to the first answer whose page state carries the action's data version. "
        f"{res['trials']} trials per action; {res['requests']:,} requests, "
        f"{res['errors']} errors.", "",
        "| action → screen | seconds, p50 / p95 / max | goal p95 ≤ 2 s |",
        "| --- | ---: | --- |",
        *[f"| {name} | {cell(res[name])} | {verdict(res[name])} |"
          for name in res if " → " in name], "",
        "The other officer's dispatch page is a second session, logged in through /login as a "
        "browser is; it asks for a new version at the same tick with the same one-GET check "
        "(`store.version()` against the tag its last answer carried). Expected mean: tick / 2 "
        "plus one rebuild.", "",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
