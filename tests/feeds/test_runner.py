"""The feed runner: isolation of failing feeds, health, conditional polls, leases, SIGTERM.

Real Redis, a real loopback upstream (tests/feeds/hostile_upstream.py) and the real
Waze adapter; the subprocess tests run the real ``lukuang feeds`` command.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashboard.settings import FeedConfig
from feeds.base import Adapter, ParseContext, ParseResult
from feeds.breaker import Breaker
from feeds.registry import get_adapter
from feeds.runner import FeedWorker, housekeeping, run_feeds
from tests.feeds.hostile_upstream import ETAG, HostileUpstream

pytestmark = pytest.mark.topologies("single", "cluster")

REPO = Path(__file__).resolve().parents[2]


def waze_payload(now_ms: int) -> bytes:
    """Two alerts and a jam on Tai'an demo roads (东岳大街, 泰山大街; WGS-84); the newest
    is 60 s old."""
    return json.dumps({
        "startTimeMillis": now_ms - 60_000, "endTimeMillis": now_ms,
        "alerts": [
            {"uuid": "runner-test-accident", "type": "ACCIDENT", "subtype": "ACCIDENT_MINOR",
             "location": {"x": 117.1237, "y": 36.1961}, "pubMillis": now_ms - 120_000,
             "street": "东岳大街", "reliability": 8, "confidence": 3, "city": "泰安市"},
            {"uuid": "runner-test-hazard", "type": "WEATHERHAZARD",
             "subtype": "HAZARD_ON_ROAD_OBJECT", "location": {"x": 117.1170, "y": 36.1668},
             "pubMillis": now_ms - 60_000, "street": "泰山大街", "reliability": 6,
             "confidence": 1, "city": "泰安市"},
        ],
        "jams": [
            {"uuid": "runner-test-jam", "level": 3, "speedKMH": 12.5, "speed": 3.47,
             "length": 640, "delay": 95, "street": "东岳大街", "pubMillis": now_ms - 90_000,
             "line": [{"x": 117.1225, "y": 36.19611}, {"x": 117.1237, "y": 36.19611},
                      {"x": 117.1252, "y": 36.19612}]},
        ],
    }, ensure_ascii=False).encode()


def wait_for(condition, timeout_s: float, what: str, every_s: float = 0.1):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BuggyAdapter(Adapter):
    """An adapter with a bug: it raises something that is not a PayloadError."""

    name = "buggy"

    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        raise RuntimeError("adapter bug")


@pytest.fixture(scope="module")
def up():
    with HostileUpstream() as server:
        server.payloads["waze"] = waze_payload(int(time.time() * 1000))
        server.written_at = time.time()
        yield server


def test_a_healthy_feed_keeps_polling_while_others_fail(settings, store, up):
    feeds = [
        FeedConfig("waze", "waze", up.url("/payload/waze"), interval_s=0.3, timeout_s=2),
        FeedConfig("hanging", "waze", up.url("/hang"), interval_s=0.3, timeout_s=0.6),
        FeedConfig("refused", "waze", f"http://127.0.0.1:{closed_port()}/feed.json",
                   interval_s=0.3, timeout_s=0.5),
        FeedConfig("html", "waze", up.url("/html"), interval_s=0.3, timeout_s=1),
        FeedConfig("buggy", "buggy", up.url("/payload/waze"), interval_s=0.3, timeout_s=1),
        FeedConfig("off", "waze", up.url("/payload/waze"), enabled=False),
    ]
    stop = threading.Event()
    runner = threading.Thread(target=run_feeds, args=(settings, feeds, stop), kwargs=dict(
        store=store, adapters={"buggy": BuggyAdapter}, runner_id="runner-a"))
    runner.start()
    try:
        def health():
            return store.feed_health()

        wait_for(lambda: health().get("hanging", {}).get("breaker") == "open", 30,
                 "the hanging feed's breaker to open")
        polls_then = int(health().get("waze", {}).get("polls", 0))
        wait_for(lambda: int(health().get("waze", {}).get("polls", 0)) >= polls_then + 3, 30,
                 "three more polls of the healthy feed")
        wait_for(lambda: health().get("buggy", {}).get("breaker") == "open", 30,
                 "the buggy feed's breaker to open")
        # housekeeping records the congestion index after the jam's congestion batch
        now = datetime.now(timezone.utc)
        wait_for(lambda: store.timeseries("cidx:city", now - timedelta(minutes=5),
                                          now + timedelta(minutes=1)), 30,
                 "the congestion index")
    finally:
        stop.set()
        runner.join(15)
    assert not runner.is_alive()
    h = store.feed_health()
    good = h["waze"]
    assert good["breaker"] == "closed" and good["runner"] == "runner-a"
    assert float(good["last_ok"]) > 0 and int(good["polls"]) >= 3
    # lag: now minus the newest pubMillis in the payload (60 s old when written)
    assert 59 <= float(good["lag_s"]) <= 60 + (time.time() - up.written_at) + 2
    accident = store.get_event("waze:runner-test-accident")
    assert accident is not None and accident.segment_id.startswith("dongyue-dajie")
    assert accident.district
    assert int(good.get("duplicates", 0)) > 0  # resent every poll, stored once
    assert any(c["level"] == 3 for c in store.congestion_snapshot().values())
    hang = h["hanging"]
    assert "deadline" in hang["last_error"] and int(hang["errors"]) >= 3
    assert hang["breaker"] == "open" and float(hang["next_try_at"]) > time.time() - 60
    assert "last_ok" not in hang
    assert "connection failed" in h["refused"]["last_error"]
    assert "expected JSON, got text/html" in h["html"]["last_error"]
    assert "RuntimeError: adapter bug" in h["buggy"]["last_error"]
    assert store.quarantined("buggy", 1)[0]["reason"].startswith("parser error")
    assert "off" not in h
    # every lease was handed back on the way out
    assert not [k for k in store.r.scan_iter(match=store.keys.lease("*"))]


def _worker(settings, store, feed, runner_id="w1", stop=None, clock=time.time, **kw):
    return FeedWorker(feed, settings, store, get_adapter(feed.adapter), lambda: None,
                      stop or threading.Event(), runner_id, clock=clock, **kw)


def test_conditional_polls_send_the_stored_etag(settings, store, up):
    feed = FeedConfig("etagged", "waze", up.url("/etag"), interval_s=1, timeout_s=2)
    worker = _worker(settings, store, feed)
    worker.poll_once()
    assert store.feed_health("etagged")["etagged"]["etag"] == ETAG
    worker.poll_once()
    h = store.feed_health("etagged")["etagged"]
    assert up.server.last_headers["/etag"]["If-None-Match"] == ETAG
    assert h["not_modified"] == "1" and h["polls"] == "2" and h["breaker"] == "closed"


def test_the_breaker_backs_off_a_failing_upstream(settings, store, up):
    class Clock:
        t = 2_000_000_000.0

        def __call__(self):
            return self.t

    clock = Clock()
    feed = FeedConfig("broken", "waze", up.url("/status/404"), interval_s=1, timeout_s=1)
    worker = _worker(settings, store, feed, clock=clock,
                     breaker=Breaker(failure_threshold=2, base_cooldown_s=30, clock=clock))
    worker.poll_once()
    assert store.feed_health("broken")["broken"]["breaker"] == "closed"
    worker.poll_once()
    h = store.feed_health("broken")["broken"]
    assert h["breaker"] == "open" and h["next_try_at"] == f"{clock.t + 30:.0f}"
    assert h["last_error"] == "FatalFetchError: HTTP 404" and h["errors"] == "2"
    assert not worker.breaker.allow()
    clock.t += 31
    assert worker.breaker.allow() and worker.breaker.state == "half-open"


def test_only_one_runner_holds_a_feed_lease(settings, store, up):
    feed = FeedConfig("leased", "waze", up.url("/ok"), interval_s=5, timeout_s=2)
    a = _worker(settings, store, feed, runner_id="runner-a")
    b = _worker(settings, store, feed, runner_id="runner-b")
    assert a.hold_lease() and not b.hold_lease()
    assert store.r.get(a.lease_key) == "runner-a"
    assert 0 < store.r.pttl(a.lease_key) <= a.lease_ttl_ms() == 2_500  # half the interval
    assert a.hold_lease()  # renewing our own lease
    assert not b.hold_lease()
    b.release_lease()  # not b's to release
    assert store.r.get(a.lease_key) == "runner-a"
    a.release_lease()
    assert b.hold_lease() and not a.hold_lease()


def test_housekeeping_expires_events_past_their_ttl(settings, store):
    from dashboard.model import RoadEvent
    from dashboard.roads.network import get_network

    ev = RoadEvent(id="waze:expiring", kind="incident", category="accident", severity=2,
                   source="waze", observed_at=datetime.now(timezone.utc), lon=117.1237,
                   lat=36.1961)
    store.upsert_events([ev], ttl_s=0.5)
    assert store.active_ids("incident") == ["waze:expiring"]
    time.sleep(0.6)  # let the TTL pass (the next line is a wait, not a timing check)
    stop, written = threading.Event(), threading.Event()
    keeper = threading.Thread(target=housekeeping, args=(
        store, lambda: get_network(settings.state_dir), stop, written))
    keeper.start()
    try:
        wait_for(lambda: not store.r.zcard(store.keys.active("incident")), 30,
                 "housekeeping to drop the expired event")
    finally:
        stop.set()
        keeper.join(10)
    assert not keeper.is_alive()


# -- the real command, in subprocesses ---------------------------------------------------
def _feeds_env(settings, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUKUANG_")}
    env.update(REDIS_URL=settings.redis_url, LUKUANG_KEY_PREFIX=settings.key_prefix,
               LUKUANG_STATE_DIR=str(settings.state_dir), LUKUANG_CONFIG=str(config),
               PYTHONPATH=str(REPO))
    return env


def _write_config(tmp_path: Path, url: str, interval_s: float, timeout_s: float) -> Path:
    config = tmp_path / "lukuang.toml"
    config.write_text(f'demo = false\n\n[feeds.waze]\nadapter = "waze"\nurl = "{url}"\n'
                      f"interval_s = {interval_s}\ntimeout_s = {timeout_s}\n", encoding="utf-8")
    return config


def _start_feeds(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import app, sys; sys.exit(app.main())",
                             "feeds"], cwd=log.parent, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.mark.slow
def test_sigterm_stops_lukuang_feeds_cleanly(settings, store, up, tmp_path):
    config = _write_config(tmp_path, up.url("/payload/waze"), interval_s=0.5, timeout_s=2)
    log = tmp_path / "feeds.log"
    proc = _start_feeds(_feeds_env(settings, config), log)
    try:
        wait_for(lambda: int(store.feed_health("waze")["waze"].get("polls", 0)) >= 3, 60,
                 "three polls by `lukuang feeds`")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(10)
        print(f"\n[runner] exit {code} {time.monotonic() - started:.2f} s after SIGTERM")
    finally:
        _stop(proc)
    assert code == 0, log.read_text(errors="replace")[-3000:]
    h = store.feed_health("waze")["waze"]
    assert h["breaker"] == "closed" and float(h["last_ok"]) > 0
    assert h["runner"].split(":")[1] == str(proc.pid)
    assert store.get_event("waze:runner-test-accident") is not None
    assert store.r.get(store.keys.lease("waze")) is None  # handed back


@pytest.mark.slow
@pytest.mark.fault
def test_a_second_runner_takes_over_when_the_holder_dies(settings, store, up, tmp_path):
    config = _write_config(tmp_path, up.url("/payload/waze"), interval_s=0.5, timeout_s=1)
    env = _feeds_env(settings, config)
    procs = [_start_feeds(env, tmp_path / "a.log"), _start_feeds(env, tmp_path / "b.log")]
    try:
        def settled():  # the lease holder is the runner that has been polling
            holder = store.r.get(store.keys.lease("waze"))
            h = store.feed_health("waze")["waze"]
            return holder if holder and h.get("runner") == holder \
                and int(h.get("polls", 0)) >= 2 else None

        pid = int(wait_for(settled, 60, "one runner to hold the lease and poll").split(":")[1])
        victim = next(p for p in procs if p.pid == pid)
        survivor = next(p for p in procs if p.pid != pid)
        victim.kill()
        victim.wait(10)
        killed = time.monotonic()
        wait_for(lambda: (store.feed_health("waze")["waze"].get("runner") or "").split(":")[1]
                 == str(survivor.pid), 30, "the survivor to poll the feed")
        took = time.monotonic() - killed
        polls = int(store.feed_health("waze")["waze"]["polls"])
        wait_for(lambda: int(store.feed_health("waze")["waze"]["polls"]) > polls + 1, 30,
                 "the survivor to keep polling")
        print(f"\n[runner] takeover {took:.2f} s after SIGKILL (lease ttl 0.6 s, interval 0.5 s)")
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(10) == 0
    finally:
        for p in procs:
            _stop(p)


# -- configuration -------------------------------------------------------------------------
def test_demo_feeds_point_at_the_simulator(settings):
    from dataclasses import replace

    from feeds.config import configured_feeds, demo_feeds

    s = replace(settings, sim_port=18061, demo=True, feeds=())
    feeds = {f.name: f for f in demo_feeds(s)}
    assert set(feeds) == {"waze", "wzdx", "amap", "weibo", "hotline", "units"}
    assert feeds["waze"].url == "http://127.0.0.1:18061/waze/feed.json"
    assert feeds["wzdx"].url == "http://127.0.0.1:18061/wzdx/feed.geojson"
    assert feeds["amap"].url.startswith(
        "http://127.0.0.1:18061/amap/v3/traffic/status/rectangle?rectangle=")
    assert "extensions=all" in feeds["amap"].url and "key=demo" in feeds["amap"].url
    assert feeds["weibo"].url == \
        "http://127.0.0.1:18061/weibo/2/statuses/mentions.json?count=200"
    assert feeds["units"].url == "http://127.0.0.1:18061/units/positions.json"
    assert feeds["hotline"].url == "http://127.0.0.1:18061/hotline/latest.csv"
    assert {n: f.interval_s for n, f in feeds.items()} == {
        "waze": 10, "wzdx": 60, "amap": 30, "weibo": 15, "hotline": 60, "units": 5}
    assert [f.name for f in configured_feeds(s)] == [f.name for f in demo_feeds(s)]
    assert configured_feeds(replace(s, demo=False)) == []
    mine = (FeedConfig("mine", "waze", "http://127.0.0.1:1/x"),)
    assert configured_feeds(replace(s, feeds=mine)) == list(mine)


def test_credentials_come_from_the_environment_and_are_masked():
    from feeds.config import public_url, with_credentials

    amap = FeedConfig("amap", "amap", "http://127.0.0.1:1/amap/v3/traffic/status/rectangle?"
                      "rectangle=117.0,36.1;117.1,36.2&key=demo", token_env="AMAP_KEY")
    url, headers = with_credentials(amap, {"AMAP_KEY": "s3cret"})
    assert "key=s3cret" in url and "key=demo" not in url and headers == {}
    assert "rectangle=117.0,36.1;117.1,36.2" in url
    assert "s3cret" not in public_url(url) and "key=***" in public_url(url)
    assert with_credentials(amap, {})[0] == amap.url  # unset: as configured
    waze = FeedConfig("waze", "waze", "http://127.0.0.1:1/feed", token_env="WAZE_TOKEN")
    assert with_credentials(waze, {"WAZE_TOKEN": "t"}) == (waze.url,
                                                           {"Authorization": "Bearer t"})


@pytest.mark.slow
def test_the_demo_feeds_ingest_all_five_formats_from_the_simulator(settings, store, tmp_path):
    port = closed_port()
    env = _feeds_env(settings, tmp_path / "none.toml")
    del env["LUKUANG_CONFIG"]  # no settings file: demo mode, demo feeds
    env["LUKUANG_SIM_PORT"] = str(port)
    sim = subprocess.Popen([sys.executable, "-c", "import app, sys; sys.exit(app.main())",
                            "sim"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    runner = _start_feeds(env, tmp_path / "feeds.log")
    names = ("waze", "wzdx", "amap", "weibo", "hotline")
    try:
        wait_for(lambda: all(h.get("last_ok") for h in store.feed_health().values())
                 and set(names) <= set(store.feed_health()), 90,
                 "a successful poll of every demo feed")
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(10) == 0
    finally:
        _stop(runner)
        sim.terminate()
        sim.wait(10)
    h = store.feed_health()
    for name in names:  # what each payload holds varies with the simulated time of day
        assert h[name]["breaker"] == "closed" and not h[name].get("errors"), (name, h[name])
        assert h[name]["source"].startswith(f"http://127.0.0.1:{port}/{name}/")
    assert sum(int(h[n].get("accepted", 0)) for n in names) > 0
    assert "key=***" in h["amap"]["source"]


def test_a_drop_feed_waits_for_its_file_and_is_judged_by_the_last_drop(settings, store,
                                                                       tmp_path):
    """A "drop" feed: a missing file is no error, a file is ingested once, a bad one is the
    feed's error; never stale between drops. A drop feed without a url is only announced."""
    from callbacks.feeds_page import feed_rows
    from dashboard.live.wall import feed_freshness
    from dashboard.timeutil import city_zone

    def row(name: str, at: float) -> dict:
        return next(r for r in feed_rows(store.feed_health(), at, city_zone(settings))
                    if r["name"] == name)

    drop = tmp_path / "drops" / "waze.json"
    feeds = [FeedConfig("dropped", "waze", str(drop), interval_s=0.3, mode="drop"),
             FeedConfig("byhand", "hotline", mode="drop")]
    stop = threading.Event()
    runner = threading.Thread(target=run_feeds, args=(settings, feeds, stop),
                              kwargs=dict(store=store, runner_id="runner-drop",
                                          with_housekeeping=False))
    runner.start()
    try:
        wait_for(lambda: int(store.feed_health().get("dropped", {}).get("polls", 0)) >= 2, 30,
                 "two looks at the missing drop")
        h = store.feed_health()
        assert h["dropped"]["mode"] == "drop" and not h["dropped"].get("last_error")
        assert h["byhand"] == {"mode": "drop"}
        later = time.time() + 86400
        assert [f["stale"] for f in feed_freshness(h, later)] == [False, False]
        assert (row("dropped", later)["state"], row("byhand", later)["state_text"]) == (
            "ok", "等待投递 waiting for a drop")
        drop.parent.mkdir()
        drop.write_bytes(waze_payload(int(time.time() * 1000)))
        wait_for(lambda: store.feed_health()["dropped"].get("last_ok"), 30, "the drop ingested")
        assert int(store.feed_health()["dropped"]["accepted"]) > 0
        fresh = feed_freshness(store.feed_health(), later)
        assert fresh[1]["name"] == "dropped" and not fresh[1]["stale"] and not fresh[1]["error"]
        drop.write_bytes(b"<html>not a feed</html>")
        wait_for(lambda: store.feed_health()["dropped"].get("last_error"), 30,
                 "the bad drop recorded")
        fresh = feed_freshness(store.feed_health(), later)
        assert not fresh[1]["stale"] and fresh[1]["error"]
        assert row("dropped", later)["state"] == "warn"     # /feeds: the last drop failed
    finally:
        stop.set()
        runner.join(15)
    assert not runner.is_alive()


def test_housekeeping_alone_records_the_congestion_index(settings, store):
    """What `lukuang run --no-feeds` (or with no feed) runs: the index chart is not empty."""
    from dashboard.roads.network import get_network
    from feeds.runner import run_housekeeping

    now = time.time()
    segs = list(get_network(settings.state_dir).segments.index[:20])
    store.set_congestion([(s, 3, 10.0, "amap", now) for s in segs], now=now)
    stop = threading.Event()
    keeper = threading.Thread(target=run_housekeeping, args=(settings, stop),
                              kwargs=dict(store=store))
    keeper.start()
    try:
        at = datetime.now(timezone.utc)
        points = wait_for(lambda: store.timeseries("cidx:city", at - timedelta(minutes=5),
                                                   at + timedelta(minutes=1)), 30,
                          "the congestion index")
    finally:
        stop.set()
        keeper.join(15)
    assert not keeper.is_alive()
    assert points and max(v for _t, v in points) > 0
