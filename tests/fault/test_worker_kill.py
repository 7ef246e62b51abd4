"""Issue 7: a gunicorn worker SIGKILLed under load loses only the requests it was handling.

The app runs as in production (``lukuang run --no-demo --no-feeds --workers 2``: the
supervisor starts gunicorn with the command line of app.cmd_run) against the test Redis.
gunicorn also loads tests/fault/gunicorn_probe.py (through GUNICORN_CMD_ARGS, which leaves
the production command line as it is) so that every request is logged with the worker that
handled it. Client threads keep a steady mixed load: wall refreshes as a display sends them
(bench/bench_wall.py's request, state carried from answer to answer, now and then a page
opening), ``/api/v1/events`` and ``/healthz``, while the data changes every 1.5 s.

Run alone with ``pytest -m fault tests/fault/test_worker_kill.py -s`` to see the figures.
"""
from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from bench.bench_wall import change_some, refresh_request, seed
from callbacks import wall as CW
from dashboard.storage.keys import Keys
from dashboard.roads.network import default_network_dir, load_network
from dashboard.storage.store import Store

from .helpers import PROBE, LukuangProc, alive, base_env, free_port, lukuang_argv, wait_for, \
    wait_healthy

pytestmark = [pytest.mark.fault, pytest.mark.timeout(180)]

WALL_TOKEN = "fault-wall-token"
CLIENTS = 6  # concurrent client threads (the two workers have 2 x 4 threads)


@dataclass
class Rec:
    """One request as the client saw it (unix times, so they compare with the probe log)."""

    rid: str
    kind: str
    start: float
    end: float = 0.0
    status: int | None = None
    error: str = ""
    conn: str = ""  # the client's keep-alive connection it went on

    @property
    def ok(self) -> bool:
        return self.status in (200, 204) and not self.error


class Load:
    """``CLIENTS`` threads, each a display/API client with its own keep-alive connection."""

    def __init__(self, base: str, seed_: int = 7):
        self.base = base
        self.stop = threading.Event()
        self.recs: list[Rec] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i, seed_ + i), daemon=True)
                        for i in range(CLIENTS)]

    def start(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(40)
        assert not any(t.is_alive() for t in self.threads), "a client thread hung"

    def snapshot(self) -> list[Rec]:
        with self.lock:
            return list(self.recs)

    def _run(self, idx: int, seed_: int) -> None:
        rnd = random.Random(seed_)
        seen: dict | None = None
        refresh_url = f"{self.base}/_dash-update-component"
        wall_headers = {"Referer": f"{self.base}/wall?token={WALL_TOKEN}"}
        n = k = 0
        c = httpx.Client(timeout=20)
        try:
            while not self.stop.is_set():
                kind = rnd.choices(("refresh", "open", "events", "healthz"), (55, 5, 25, 15))[0]
                if kind == "open":  # a page opening comes on a new connection
                    c.close()
                    c = httpx.Client(timeout=20)
                    k += 1
                rid = f"c{idx}-{n}"
                n += 1
                rec = Rec(rid, kind, time.time(), conn=f"c{idx}-k{k}")
                headers = {"X-Probe-Id": rid}
                try:
                    if kind in ("refresh", "open"):
                        body = refresh_request(seen if kind == "refresh" else None)
                        body["state"][1]["value"] = f"?token={WALL_TOKEN}"  # the page URL
                        resp = c.post(refresh_url, json=body,
                                      headers={**headers, **wall_headers})
                        if resp.status_code == 200:
                            out = resp.json()["response"]
                            seen = out.get(CW.ids.WALL_VERSION, {}).get("data", seen)
                    elif kind == "events":
                        resp = c.get(f"{self.base}/api/v1/events", params={"limit": 50},
                                     headers=headers)
                    else:
                        resp = c.get(f"{self.base}/healthz", headers=headers)
                    rec.status = resp.status_code
                except httpx.HTTPError as exc:
                    rec.error = type(exc).__name__
                rec.end = time.time()
                with self.lock:
                    self.recs.append(rec)
        finally:
            c.close()


@dataclass
class ProbeLine:
    t: float
    event: str
    pid: int
    rid: str


def read_probe(path: Path) -> list[ProbeLine]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append(ProbeLine(float(parts[0]), parts[1], int(parts[2]), parts[3]))
    return out


def open_requests(lines: list[ProbeLine]) -> dict[str, int]:
    """rid -> pid of every request a worker started (pre) and has not finished (post)."""
    started: dict[str, int] = {}
    for ln in lines:
        if ln.event == "pre":
            started[ln.rid] = ln.pid
        elif ln.event == "post":
            started.pop(ln.rid, None)
    return started


def gunicorn_threads(cmd: str) -> int:
    """The --threads value of the gunicorn command line the supervisor started."""
    argv = cmd.split()
    return int(argv[argv.index("--threads") + 1])


@pytest.fixture
def wall_data(redis_url):
    """A random prefix in the test db, seeded like bench_wall (congestion on every segment,
    400 events, a week of index series); deleted afterwards."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = Keys(f"lkwk{uuid.uuid4().hex[:8]}", "taian")
    store = Store(client, keys)
    network = load_network(default_network_dir() / "roads.geojson")
    rnd = random.Random(20261001)
    ids = seed(store, network, time.time(), rnd)
    yield store, ids
    for key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        client.delete(key)
    client.close()


def test_worker_sigkill_fails_only_its_in_flight_requests(redis_url, wall_data, tmp_path):
    store, seg_ids = wall_data
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    probe_log = tmp_path / "probe.log"
    env = base_env(redis_url, store.keys.prefix, tmp_path / "state",
                   LUKUANG_WALL_TOKEN=WALL_TOKEN, LUKUANG_REFRESH_S="2",
                   GUNICORN_CMD_ARGS=f"--config {PROBE}", FAULT_PROBE_LOG=str(probe_log),
                   # one client address sends every API call here: not what is measured
                   LUKUANG_API_RATE_LIMIT="0")
    host = LukuangProc(lukuang_argv("run", "--no-demo", "--no-feeds", "--port", str(port),
                                    "--workers", "2"), env, tmp_path / "run.log")
    load = None
    changer_stop = threading.Event()
    changer = None
    try:
        host.start()
        wait_healthy(base, host)
        assert wait_for(lambda: len(host.workers()) == 2, 30), host.tail()
        first_workers = set(host.workers())
        threads = gunicorn_threads(host.seen[host.gunicorn_master()])
        assert wait_for(lambda: {ln.pid for ln in read_probe(probe_log) if ln.event == "ready"}
                        >= first_workers, 60), "the probe hooks did not load"

        def change() -> None:
            rnd = random.Random(3)
            while not changer_stop.wait(1.5):
                change_some(store, seg_ids, rnd)
        changer = threading.Thread(target=change, daemon=True)
        changer.start()
        load = Load(base).start()

        def both_serving() -> bool:
            served = {ln.pid for ln in read_probe(probe_log) if ln.event == "post"}
            return served >= first_workers
        assert wait_for(both_serving, 60, 0.2), "both workers never served under the load"
        time.sleep(3)  # steady state: every display holds a page state

        # kill a worker while it is handling requests (the one handling the most right now)
        victim = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            busy: dict[int, int] = {}
            for pid in open_requests(read_probe(probe_log)).values():
                busy[pid] = busy.get(pid, 0) + 1
            if busy and max(busy.values()) >= 2:
                victim = max(busy, key=busy.get)
                break
            time.sleep(0.01)
        if victim is None:  # the load never put two requests at once on a worker
            victim = max(busy, key=busy.get) if busy else sorted(first_workers)[0]
        assert victim in first_workers
        kill_t = time.time()
        os.kill(victim, signal.SIGKILL)
        # the kernel closes the victim's sockets while the process exits: until it is a
        # zombie (or reaped), requests sent on its connections still land on it
        wait_for(lambda: not alive(victim), 10, 0.0005)
        dead_t = time.time()

        def new_ready() -> list[ProbeLine]:
            return [ln for ln in read_probe(probe_log)
                    if ln.event == "ready" and ln.pid not in first_workers]
        assert wait_for(lambda: bool(new_ready()), 60, 0.1), \
            f"the master did not respawn a worker within 60 s:\n{host.tail()}"
        ready = new_ready()[0]
        respawn_s = ready.t - kill_t
        # the load must succeed again, the new worker included
        assert wait_for(lambda: sum(1 for ln in read_probe(probe_log)
                                    if ln.event == "post" and ln.pid == ready.pid) >= 5,
                        60, 0.2), "the respawned worker served nothing"
        time.sleep(3)
        load.join()
        changer_stop.set()
        workers_after = set(host.workers())
    finally:
        changer_stop.set()
        if load is not None:
            load.stop.set()
        host.stop()
        if changer is not None:
            changer.join(10)

    recs = load.recs
    lines = read_probe(probe_log)
    handled_by: dict[str, int] = {ln.rid: ln.pid for ln in lines if ln.event == "pre"}
    finished = {ln.rid for ln in lines if ln.event == "post"}
    # in flight on the victim when it died: requests it had started and never finished …
    on_victim = {rid for rid, pid in handled_by.items() if pid == victim and rid not in finished}
    # … and requests sent before it was dead that no worker had begun (accepted by the victim
    # and queued for one of its threads, or sent on a keep-alive connection to it)
    sent_unhandled = {r.rid for r in recs if r.start <= dead_t and r.rid not in handled_by}
    # … and the first request each of its keep-alive connections sent after it died, unhandled:
    # the client cannot know the worker behind its open connection is gone until that fails
    victim_conns = {r.conn for r in recs if handled_by.get(r.rid) == victim}
    first_after: dict[str, Rec] = {}
    for r in sorted(recs, key=lambda r: r.start):
        if r.start > dead_t and r.conn in victim_conns:
            first_after.setdefault(r.conn, r)
    dead_conn = {r.rid for r in first_after.values() if r.rid not in handled_by}
    in_flight = on_victim | sent_unhandled | dead_conn
    failed = [r for r in recs if not r.ok]
    collateral = [r for r in failed if r.rid not in in_flight]
    after = [r for r in recs if r.start > kill_t + 1.0]
    new_served = [r for r in recs if handled_by.get(r.rid) == ready.pid and r.ok]
    kinds = sorted({f"{r.kind}:{r.error or r.status}" for r in failed})
    print(f"\n[fault:worker-kill] threads_per_worker={threads} clients={CLIENTS} "
          f"requests={len(recs)} failed={len(failed)} ({kinds}) "
          f"in_flight_on_victim={len(in_flight)} (in a handler thread {len(on_victim)}, "
          f"sent but not yet started {len(sent_unhandled)}, first on its dead keep-alive "
          f"connections {len(dead_conn)}) collateral={len(collateral)} "
          f"victim_exit_ms={(dead_t - kill_t) * 1000:.1f} respawn_s={respawn_s:.2f} "
          f"(new worker booted) first_ok_on_new_worker_s="
          f"{min((r.end for r in new_served), default=kill_t - 1) - kill_t:.2f} "
          f"requests_after_kill+1s={len(after)} failed_after={sum(1 for r in after if not r.ok)}"
          f" served_by_new_worker={len(new_served)}")
    for r in failed:
        print(f"  failed {r.rid} {r.kind} {r.error or r.status} sent "
              f"{1000 * (r.start - kill_t):+.1f} ms from the kill, handled by "
              f"{handled_by.get(r.rid, 'no worker')}"
              f"{'' if r.rid in finished else ' (unfinished)'}")
    assert len(recs) > 100, "too little load to prove anything"
    assert len(on_victim) <= threads
    assert not collateral, f"requests failed that the killed worker was not handling: " \
                           f"{collateral[:5]}"
    assert len(failed) <= len(in_flight)
    assert all(r.ok for r in after), [r for r in after if not r.ok][:5]
    assert ready.pid in workers_after and victim not in workers_after
    assert len(workers_after) == 2
    assert respawn_s < 60
    assert new_served, "no request succeeded on the respawned worker"
