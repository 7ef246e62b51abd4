"""Issue 9 point 4: several hosts on one Redis.

Two web hosts (``lukuang run --no-demo --no-feeds`` on two ports, each with its own state
dir) and two feed runners (``lukuang feeds``) share the test Redis (db 13, a random prefix)
and one settings file: one Waze feed polling a local upstream on 127.0.0.1 every 2 s with a
2 s fetch deadline; its lease lives half an interval (1 s) and is renewed by a heartbeat
every third of that (feeds/runner.py).

Checked: one lease holder at a time, and only it polls; every event ingested once; the
holder SIGKILLed → the other runner takes the feed over within one poll interval;
both web hosts answer with the same data version and content, before and after the upstream
changes (no stale per-process cache). Every process is stopped by PID.

Run alone with ``pytest -m fault tests/engines/test_several_hosts.py -s`` to see the figures.
"""
from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import redis

from bench.bench_wall import refresh_request
from callbacks import wall as CW
from dashboard.storage.keys import Keys
from dashboard.roads.network import default_network_dir, load_network
from dashboard.storage.store import Store
from tests.fault.helpers import LukuangProc, alive, base_env, free_port, lukuang_argv, \
    wait_for, wait_healthy

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]

INTERVAL_S = 2.0
TIMEOUT_S = 2.0
LEASE_TTL_S = min(15.0, max(0.6, 0.5 * INTERVAL_S))  # FeedWorker.lease_ttl_ms
WALL_TOKEN = "hosts-wall-token"


class Upstream:
    """A Waze feed on 127.0.0.1 whose alerts the test replaces; counts the requests."""

    def __init__(self) -> None:
        net = load_network(default_network_dir() / "roads.geojson")
        coords = [c for g in net.segments.geometry for c in g.coords]
        rnd = random.Random(11)
        self.points = [coords[rnd.randrange(len(coords))] for _ in range(200)]
        self.published = int(time.time() * 1000) - 60_000
        self.body = b""
        self.hits: list[float] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                upstream.hits.append(time.time())
                body = upstream.body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/waze/feed.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def serve(self, uuids: list[str]) -> None:
        """Serve these alerts from now on (each alert's content fixed by its number)."""
        alerts = []
        for u in uuids:
            i = int(u.rsplit("-", 1)[1])
            x, y = self.points[i % len(self.points)]
            alerts.append({"uuid": u, "type": "ACCIDENT", "subtype": "ACCIDENT_MINOR",
                           "location": {"x": round(x, 6), "y": round(y, 6)},
                           "pubMillis": self.published + i * 1000, "reliability": 8,
                           "confidence": 3})
        self.body = json.dumps({"alerts": alerts, "startTimeMillis": self.published,
                                "endTimeMillis": self.published}).encode()

    def hits_between(self, t0: float, t1: float) -> int:
        return sum(1 for t in list(self.hits) if t0 <= t < t1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LeaseWatch:
    """Samples the feed's lease key every 10 ms in a thread: (unix time, holder or None)."""

    def __init__(self, r: redis.Redis, key: str):
        self.r, self.key = r, key
        self.samples: list[tuple[float, str | None]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.01):
            self.samples.append((time.time(), self.r.get(self.key)))

    def between(self, t0: float, t1: float) -> list[str | None]:
        return [h for t, h in list(self.samples) if t0 <= t < t1]


def runner_pid(holder: str | None) -> int | None:
    """The PID inside a runner id ``host:pid:random`` (feeds.runner.new_runner_id)."""
    return int(holder.split(":")[-2]) if holder else None


def uuids(lo: int, hi: int) -> list[str]:
    return [f"hosts-{i}" for i in range(lo, hi)]


def active_uuids(store: Store) -> set[str]:
    return {i.rsplit(":", 1)[1] for i in store.active_ids("incident")}


def events_answer(base: str) -> dict:
    resp = httpx.get(f"{base}/api/v1/events", params={"kind": "incident", "limit": 5000},
                     timeout=30)
    resp.raise_for_status()
    body = resp.json()
    body.pop("generated_at", None)
    return body


def wall_answer(base: str, seen: dict | None) -> dict:
    """A display's refresh POST to ``base`` holding page state ``seen``; the response's
    outputs."""
    body = refresh_request(seen)
    body["state"][1]["value"] = f"?token={WALL_TOKEN}"
    resp = httpx.post(f"{base}/_dash-update-component", json=body, timeout=60,
                      headers={"Referer": f"{base}/wall?token={WALL_TOKEN}"})
    assert resp.status_code == 200, (resp.status_code, resp.text[:300])
    return resp.json()["response"]


def ticker_text(out: dict) -> str:
    """The KPI tiles and ticker of a refresh answer as text (what a display shows)."""
    return json.dumps([out.get(CW.ids.WALL_KPIS), out.get(CW.ids.WALL_TICKER)],
                      sort_keys=True, ensure_ascii=False)


def not_at_minute_end() -> None:
    """Wait for the next minute if this one ends within 8 s: the wall's tiles are built per
    (data version, minute), and two hosts asked across a minute boundary may differ."""
    if time.time() % 60 > 52:
        time.sleep(61 - time.time() % 60)


@pytest.fixture
def shared(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = Keys(f"lkhosts{uuid.uuid4().hex[:8]}", "taian")
    yield client, keys
    for key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        client.delete(key)
    client.close()


def test_two_hosts_two_runners_share_one_redis(redis_url, shared, tmp_path):
    r, keys = shared
    store = Store(r, keys)
    upstream = Upstream()
    upstream.serve(uuids(0, 60))
    upstream.thread.start()
    config = tmp_path / "lukuang.toml"
    config.write_text(f'[feeds.waze]\nadapter = "waze"\nurl = "{upstream.url}"\n'
                      f"interval_s = {INTERVAL_S}\ntimeout_s = {TIMEOUT_S}\n")

    def env(name: str) -> dict[str, str]:  # each "host" has its own state dir
        return base_env(redis_url, keys.prefix, tmp_path / name, LUKUANG_CONFIG=str(config),
                        LUKUANG_WALL_TOKEN=WALL_TOKEN, LUKUANG_REFRESH_S="2")

    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    webs = [LukuangProc(lukuang_argv("run", "--no-demo", "--no-feeds", "--port", str(p),
                                     "--workers", "2"), env(f"web{i}"), tmp_path / f"web{i}.log")
            for i, p in enumerate(ports)]
    runners = [LukuangProc(lukuang_argv("feeds"), env(f"feeds{i}"), tmp_path / f"feeds{i}.log")
               for i in range(2)]
    watch = LeaseWatch(r, keys.lease("waze"))
    try:
        for p in webs + runners:
            p.start()
        watch.thread.start()
        for base, web in zip(bases, webs):
            wait_healthy(base, web)
        assert wait_for(lambda: active_uuids(store) == set(uuids(0, 60)), 90, 0.2), \
            f"first payload not ingested: {len(active_uuids(store))} of 60\n" \
            + "\n".join(p.tail(1500) for p in runners)

        # -- one holder, and only it polls -------------------------------------------------
        t0 = time.time()
        time.sleep(4 * INTERVAL_S)
        t1 = time.time()
        holders = watch.between(t0, t1)
        holder = holders[-1]
        runner_pids = {p.pid for p in runners}
        polls = upstream.hits_between(t0, t1)
        health = store.feed_health("waze")["waze"]
        assert set(holders) == {holder} and runner_pid(holder) in runner_pids, set(holders)
        assert health["runner"] == holder
        # one poller at one poll a second: about 4 requests (two pollers would make ~8)
        assert polls <= (t1 - t0) / INTERVAL_S + 1, polls

        # -- both web hosts answer the same --------------------------------------------------
        not_at_minute_end()
        version = store.version()
        answers = [events_answer(b) for b in bases]
        walls = [wall_answer(b, None) for b in bases]
        assert answers[0] == answers[1]
        assert answers[0]["version"] == version and answers[0]["count"] == 60
        seen = [w[CW.ids.WALL_VERSION]["data"] for w in walls]
        assert [s["v"] for s in seen] == [version, version]
        assert ticker_text(walls[0]) == ticker_text(walls[1])

        # -- SIGKILL the holder: the other runner takes over ---------------------------------
        assert all(p.proc.poll() is None for p in runners), "a runner died: nobody to compete"
        victim = next(p for p in runners if p.pid == runner_pid(holder))
        other = next(p for p in runners if p is not victim)
        kill_t = time.time()
        os.kill(victim.pid, signal.SIGKILL)
        victim.proc.wait(10)
        assert wait_for(lambda: runner_pid(r.get(keys.lease("waze"))) == other.pid,
                        3 * (INTERVAL_S + LEASE_TTL_S), 0.01), \
            f"no takeover: lease is {r.get(keys.lease('waze'))!r}\n{other.tail()}"
        takeover_s = time.time() - kill_t
        new_holder = r.get(keys.lease("waze"))
        after_kill = watch.between(kill_t, time.time())
        gap_s = sum(1 for h in after_kill if h is None) * 0.01

        # -- the upstream changes: 20 alerts end, 40 new ones -------------------------------
        change_t = time.time()
        upstream.serve(uuids(20, 100))
        assert wait_for(lambda: active_uuids(store) == set(uuids(20, 100)), 30, 0.1), \
            f"the change was not ingested: {len(active_uuids(store))} active\n{other.tail()}"
        ingest_s = time.time() - change_t
        time.sleep(3 * INTERVAL_S)  # more polls of the same payload must add nothing
        not_at_minute_end()
        version2 = store.version()
        assert version2 > version
        answers2 = [events_answer(b) for b in bases]
        walls2 = [wall_answer(b, s) for b, s in zip(bases, seen)]  # displays holding old state
        seen2 = [w[CW.ids.WALL_VERSION]["data"] for w in walls2]
        t2 = time.time()
        polls2 = upstream.hits_between(t2 - 3 * INTERVAL_S, t2)
        health2 = store.feed_health("waze")["waze"]
        alive_runners = [p.pid for p in runners if alive(p.pid)]
    finally:
        watch.stop.set()
        for p in runners + webs:
            p.stop()
        upstream.close()
        watch.thread.join(5)

    # no duplicates: one "new" per upstream id, the per-minute series count each once
    new_per_id: dict[str, int] = {}
    for _, f in r.xrange(keys.changes()):
        if f.get("op") == "new" and f.get("kind") in (None, "incident"):
            u = f["id"].rsplit(":", 1)[1]
            new_per_id[u] = new_per_id.get(u, 0) + 1
    day = "[0-9]" * 8  # the day's key only, not the per-category ones (new:incident:<cat>)
    ts_new = sum(int(v) for key in r.scan_iter(match=keys.ts("new:incident", day))
                 for v in r.hgetall(key).values())
    print(f"\n[hosts] runners={sorted(runner_pids)} holder_before={runner_pid(holder)} "
          f"polls_in_{t1 - t0:.1f}s={polls} takeover_s={takeover_s:.2f} "
          f"(bound: one interval, {INTERVAL_S:.0f} s) lease_empty_s={gap_s:.2f} "
          f"change_ingested_s={ingest_s:.2f} versions {version}->{version2} "
          f"events_count={answers2[0]['count']} new_changes={sum(new_per_id.values())} "
          f"distinct_ids={len(new_per_id)} ts_new_incident={ts_new} polls_in_3s={polls2}")
    assert alive_runners == [other.pid]
    # never a third holder, and never back to the dead one once the other holds it
    after_takeover = [h for t, h in watch.samples if kill_t + takeover_s < t < t2]
    assert {h for t, h in watch.samples if t < kill_t and h} == {holder}
    assert {h for h in watch.between(kill_t, change_t) if h} <= {holder, new_holder}
    assert set(after_takeover) <= {new_holder}, set(after_takeover)
    assert health2["runner"] == new_holder and runner_pid(new_holder) == other.pid
    assert takeover_s <= INTERVAL_S + 0.5  # within one poll interval (+ slack on a busy box)
    assert polls2 <= 3 + 1
    assert new_per_id == {u: 1 for u in uuids(0, 100)}
    assert ts_new == 100
    # both hosts: the new version and the same content, the API and the wall alike
    assert answers2[0] == answers2[1]
    assert answers2[0]["version"] == version2 and answers2[0]["count"] == 80
    assert {e["id"].rsplit(":", 1)[1] for e in answers2[0]["events"]} == set(uuids(20, 100))
    assert [s["v"] for s in seen2] == [version2, version2]
    assert ticker_text(walls2[0]) == ticker_text(walls2[1])
    assert ticker_text(walls2[0]) != ticker_text(walls[0])
