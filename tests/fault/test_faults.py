"""Fault tests: kill or cut something on purpose and count what was lost or doubled.

Loopback only; every process started here is stopped by its PID in a ``finally``.
Run them alone with ``pytest -m fault tests/fault -s`` to see the figures.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dashboard.storage.embedded import EmbeddedValkey
from dashboard.storage.keys import KINDS, Keys
from dashboard.model import RoadEvent
from dashboard.storage.store import Store

from .tcp_proxy import TcpProxy

pytestmark = [pytest.mark.fault, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]
REQUIRED = ("id", "kind", "category", "severity", "source", "observed_at", "lon", "lat", "hash")


def make_events(batch: int, n: int = 50, when: datetime | None = None) -> list[RoadEvent]:
    """``n`` incidents around Tai'an with ids unique to ``batch``."""
    rnd = random.Random(batch)
    when = when or datetime.now(timezone.utc)
    return [RoadEvent(id=f"fault:b{batch}-{j}", kind="incident", category="accident", severity=2,
                      source="fault", observed_at=when, lon=117.1 + rnd.uniform(-0.03, 0.03),
                      lat=36.2 + rnd.uniform(-0.03, 0.03), text=f"batch {batch} #{j}")
            for j in range(n)]


def kill_pid(pid: int | None) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def missing(r: redis.Redis, keys: Keys, ids: list[str]) -> list[str]:
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.exists(keys.event(i))
    return [i for i, there in zip(ids, pipe.execute()) if not there]


# -- 1. SIGKILL the server mid-ingest, restart from its AOF -------------------------------
def test_sigkill_redis_mid_ingest_loses_no_acknowledged_event(tmp_path):
    emb = EmbeddedValkey(tmp_path)
    emb2 = EmbeddedValkey(tmp_path)
    stop = threading.Event()
    acked: list[str] = []
    errors: list[str] = []
    keys = Keys("lkfault", "taian")
    writer = None
    try:
        url = emb.start()
        port = urlparse(url).port
        client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=3,
                                      socket_connect_timeout=1)
        store = Store(client, keys, wait_aof=True)
        store.upsert_events(make_events(-1, 1))
        assert store.wait_aof, "the server has no WAITAOF: the test would prove nothing"

        def write() -> None:
            batch = 0
            while not stop.is_set():
                events = make_events(batch)
                batch += 1
                try:
                    store.upsert_events(events)
                except redis.RedisError as exc:
                    errors.append(type(exc).__name__)
                    time.sleep(0.05)
                    continue
                acked.extend(e.id for e in events)  # only once upsert_events RETURNED

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(1.5)
        before = len(acked)
        os.kill(emb.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        emb.process.wait(10)
        time.sleep(0.5)  # the writer keeps trying and gets connection errors
        emb2.start(port=port)
        restart_s = time.monotonic() - killed_at
        time.sleep(0.5)  # the writer reconnects and carries on
        stop.set()
        writer.join(30)
        assert not writer.is_alive()
        check = redis.Redis.from_url(url, decode_responses=True)
        lost = missing(check, keys, list(acked))
        print(f"\n[fault:sigkill] acknowledged={len(acked)} (before kill {before}) "
              f"lost={len(lost)} writer_errors={len(errors)} ({Counter(errors)}) "
              f"restart_s={restart_s:.2f}")
        assert before > 0 and errors, "the kill did not happen mid-ingest"
        assert len(acked) > before, "the writer did not resume after the restart"
        assert lost == []
        assert store.wait_aof, "WAITAOF was switched off during the run"
    finally:
        stop.set()
        if writer is not None:
            writer.join(10)
        for e in (emb, emb2):
            if e.process is not None:
                kill_pid(e.process.pid)
                e.process.wait(10)


# -- 2. replies dropped by a proxy: the retried batch must not double anything ------------
def test_dropped_replies_make_no_duplicates(redis_url, r, keys):
    u = urlparse(redis_url)
    proxy = TcpProxy((u.hostname or "127.0.0.1", u.port or 6379)).start()
    try:
        client = redis.Redis(host="127.0.0.1", port=proxy.port, db=int(u.path.strip("/") or 0),
                             decode_responses=True, socket_timeout=5,
                             retry=Retry(NoBackoff(), 0))  # every lost reply reaches the test
        store = Store(client, keys)
        when = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        batches = [make_events(b, 50, when) for b in range(40)]
        retries = resent_dups = 0
        for n, events in enumerate(batches):
            if n % 2 == 0 and n < 30:  # lose the first reply of 15 batches (not handshakes)
                proxy.drop_replies(1, min_request_bytes=4000)
            for attempt in range(30):
                try:
                    resent_dups += store.upsert_events(events).duplicates
                    break
                except (redis.ConnectionError, redis.TimeoutError):
                    retries += 1  # the same batch again
            else:
                pytest.fail("a batch never got through the proxy")
        ids = [e.id for b in batches for e in b]
        gone = missing(r, keys, ids)
        new_per_id = Counter(f["id"] for _, f in r.xrange(keys.changes()) if f["op"] == "new")
        doubled = {i: n for i, n in new_per_id.items() if n != 1}
        ts_total = sum(int(v) for v in r.hgetall(keys.ts("new:incident", when.date())).values())
        active = r.zcard(keys.active("incident"))
        print(f"\n[fault:proxy] events={len(ids)} replies_dropped={proxy.dropped} "
              f"client_retries={retries} resent_already_stored={resent_dups} missing={len(gone)} duplicate_changes={len(doubled)} "
              f"ts_new={ts_total} active={active}")
        assert proxy.dropped == 15, "the proxy dropped too few replies to prove anything"
        assert retries >= 10, "the lost replies did not make the batches go again"
        # each lost reply came after the server ran the whole batch: its re-send is all duplicates
        assert resent_dups == 50 * proxy.dropped
        assert gone == []
        assert doubled == {} and set(new_per_id) == set(ids)
        assert ts_total == len(ids)
        assert active == len(ids)
    finally:
        proxy.close()


# -- feed runner helpers -------------------------------------------------------------------
def alert_points(n: int) -> list[tuple[float, float]]:
    """``n`` points along the demo roads."""
    from dashboard.roads.network import load_network

    net = load_network(REPO / "data" / "taian" / "roads.geojson")
    coords = [c for g in net.segments.geometry for c in g.coords]
    rnd = random.Random(7)
    return [coords[rnd.randrange(len(coords))] for _ in range(n)]


def waze_payload(start: int, n: int, points: list[tuple[float, float]]) -> str:
    ms = int(time.time() * 1000)
    alerts = [{"uuid": f"fault-{i}", "type": "ACCIDENT", "subtype": "ACCIDENT_MINOR",
               "location": {"x": round(points[i % len(points)][0], 6),
                            "y": round(points[i % len(points)][1], 6)},
               "pubMillis": ms, "reliability": 8, "confidence": 3}
              for i in range(start, start + n)]
    return json.dumps({"alerts": alerts, "startTimeMillis": ms, "endTimeMillis": ms})


def runner_env(redis_url: str, prefix: str, tmp_path: Path, feed_file: Path) -> dict[str, str]:
    config = tmp_path / "lukuang.toml"
    config.write_text(f'[feeds.waze]\nadapter = "waze"\nurl = "{feed_file.as_uri()}"\n'
                      f"interval_s = 1\n")
    u = urlparse(redis_url)
    env = dict(os.environ)
    env.update(REDIS_URL=redis_url, LUKUANG_REDIS_DB=u.path.strip("/") or "0",
               LUKUANG_KEY_PREFIX=prefix, LUKUANG_STATE_DIR=str(tmp_path / "state"),
               LUKUANG_CONFIG=str(config), PYTHONUNBUFFERED="1")
    return env


def start_runner(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-c", "import sys, app; sys.exit(app.main(['feeds']))"], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_runner(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def event_count(r: redis.Redis, keys: Keys) -> int:
    return sum(r.zcard(keys.active(k)) for k in KINDS)


def wait_for(pred, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"runner exited with {proc.returncode}: "
                        f"{log.read_text()[-3000:] if log else ''}")
        time.sleep(0.05)
    return False


# -- 3. a feed runner killed mid-batch -----------------------------------------------------
def test_runner_killed_mid_batch_half_writes_nothing_and_loses_nothing(redis_url, r, keys,
                                                                       tmp_path):
    total = 3000
    feed_file = tmp_path / "big_waze.json"
    feed_file.write_text(waze_payload(0, total, alert_points(total)))
    env = runner_env(redis_url, keys.prefix, tmp_path, feed_file)
    log = tmp_path / "runner.log"
    proc = None
    try:
        proc = start_runner(env, log)
        seen = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # tight poll: kill while the batch is landing
            seen = r.zcard(keys.active("incident"))
            if seen > 0:
                break
            if proc.poll() is not None:
                pytest.fail(f"runner exited: {log.read_text()[-3000:]}")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        at_kill = event_count(r, keys)
        partial = 0 < at_kill < total
        # no half-written event: every stored hash is whole, every live id has its hash
        half = []
        stored = 0
        for key in r.scan_iter(match=keys.event("*"), count=1000):
            stored += 1
            h = r.hgetall(key)
            if any(not h.get(f) for f in REQUIRED):
                half.append(key)
        ids = [i for k in KINDS for i in r.zrange(keys.active(k), 0, -1)]
        orphans = missing(r, keys, ids)
        print(f"\n[fault:runner-kill] seen_when_killed={seen} after_kill={at_kill} of {total} "
              f"(partial={partial}) stored_hashes={stored} half_written={len(half)} "
              f"orphan_ids={len(orphans)}")
        assert half == [] and orphans == []
        assert seen > 0
        proc = start_runner(env, log)
        t0 = time.monotonic()
        assert wait_for(lambda: event_count(r, keys) >= total, 60, proc, log), \
            f"only {event_count(r, keys)} of {total} after the restart"
        time.sleep(1.5)  # one more poll: the resend must not add anything
        count = event_count(r, keys)
        new_per_id = Counter(f["id"] for _, f in r.xrange(keys.changes()) if f["op"] == "new")
        doubled = {i: n for i, n in new_per_id.items() if n != 1}
        print(f"[fault:runner-kill] after restart: {count} events in "
              f"{time.monotonic() - t0:.2f} s, doubled={len(doubled)}")
        assert count == total
        assert len(new_per_id) == total and doubled == {}
    finally:
        stop_runner(proc)


# -- 4. Redis unreachable for a while: the runner survives and resumes -------------------
def _run_outage(redis_url, r, keys, tmp_path, block_s: float):
    """Start a runner through a proxy, cut Redis off for ``block_s``, change the feed meanwhile.
    Returns (process alive during the outage, recovery seconds, health before, health after)."""
    u = urlparse(redis_url)
    proxy = TcpProxy((u.hostname or "127.0.0.1", u.port or 6379)).start()
    points = alert_points(200)
    feed_file = tmp_path / "waze.json"
    feed_file.write_text(waze_payload(0, 100, points))
    proxied = f"redis://127.0.0.1:{proxy.port}{u.path}"
    env = runner_env(proxied, keys.prefix, tmp_path, feed_file)
    log = tmp_path / "runner.log"
    proc = None
    store = Store(r, keys)
    try:
        proc = start_runner(env, log)
        assert wait_for(lambda: event_count(r, keys) >= 100, 60, proc, log)
        before = store.feed_health("waze")["waze"]
        proxy.block()
        time.sleep(1)
        feed_file.write_text(waze_payload(0, 200, points))  # upstream changes during the outage
        time.sleep(block_s - 1)
        alive = proc.poll() is None
        proxy.unblock()
        t0 = time.monotonic()
        recovered = wait_for(lambda: event_count(r, keys) >= 200, 60, proc, log)
        recovery_s = time.monotonic() - t0
        # the runner writes the outage it could not record at the end of its next poll
        # (after that poll's fusion): wait for that poll's health, not for a fixed time
        polls = int(store.feed_health("waze")["waze"].get("polls", 0))
        wait_for(lambda: int(store.feed_health("waze")["waze"].get("errors", 0))
                 > int(before.get("errors", 0)) or
                 int(store.feed_health("waze")["waze"].get("polls", 0)) > polls + 1, 30, proc, log)
        after = store.feed_health("waze")["waze"]
        print(f"\n[fault:outage] blocked_s={block_s:.0f} runner_alive={alive} "
              f"recovered={recovered} recovery_s={recovery_s:.2f} "
              f"errors {before.get('errors', '0')}->{after.get('errors', '0')} "
              f"last_error={after.get('last_error', '')!r}")
        assert recovered, f"ingestion did not resume: {event_count(r, keys)} of 200"
        return alive, recovery_s, before, after
    finally:
        stop_runner(proc)
        proxy.close()


def test_redis_unreachable_runner_survives_and_resumes(redis_url, r, keys, tmp_path):
    """Redis cut off for 30 s (issue 7): the runner stays up and ingests again soon after."""
    alive, recovery_s, _, _ = _run_outage(redis_url, r, keys, tmp_path, block_s=30.0)
    assert alive
    assert recovery_s < 30


def test_redis_unreachable_outage_is_recorded_in_feed_health(redis_url, r, keys, tmp_path):
    """After Redis returns, the feed's health says it could not reach Redis."""
    _, _, before, after = _run_outage(redis_url, r, keys, tmp_path, block_s=5.0)
    assert int(after.get("errors", 0)) > int(before.get("errors", 0))
    assert "redis" in after.get("last_error", "").lower() or \
        "connection" in after.get("last_error", "").lower()
