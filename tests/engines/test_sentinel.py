"""Failover behind Redis Sentinel: SIGKILL the master mid-ingest and count what was lost.

Real processes on loopback ports (master, replica, three sentinels; see sentinel.py), the
product's own connection path (``client_for_url("redis+sentinel://…")``) and ``Store`` with
``wait_replicas=1``. Run alone with ``pytest -m fault tests/engines/test_sentinel.py -s`` to
see the figures; the measured times go to bench/RESULTS.md (bench/bench_failover.py).

What Sentinel does with a killed master that a supervisor restarts (Restart=always):
- restarted before the sentinels agree it is down (down-after-milliseconds, then quorum,
  then the election: about 2 s here), it simply is the master again; it lost nothing on a
  SIGKILL since its AOF was written before each reply, and the replica resyncs from it;
- restarted after the failover, its config still says master, so it comes back as a master
  with no replica while the sentinels list it as a replica of the new master. Clients that
  ask a sentinel are sent to the new master. About 8 s later (Sentinel waits for the
  instance's role report to be stable) the sentinels send it REPLICAOF + CONFIG REWRITE
  ("+convert-to-slave"); it then full-resyncs from the new master, discarding anything
  written to it in between. With one replica and WAIT 1 the new master cannot confirm a
  write until that rejoin, so writes stay unacknowledged until then.
"""
from __future__ import annotations

import threading
import time

import pytest
import redis

from dashboard.storage.connection import client_for_url
from dashboard.storage.keys import Keys
from dashboard.storage.store import NotConfirmed, Store

from .procs import server_binary
from .sentinel import SentinelTopology, Writer, make_events, missing_ids

pytestmark = [pytest.mark.fault, pytest.mark.timeout(150),
              pytest.mark.skipif(server_binary() is None,
                                 reason="no redis-server or valkey-server binary on this "
                                        "machine to start a Sentinel topology")]

WAIT_TIMEOUT_MS = 500
RESUME_BOUND_S = 30.0


@pytest.fixture
def topo(tmp_path):
    t = SentinelTopology(tmp_path)
    try:
        yield t.start()
    finally:
        t.stop()


def _store(topo: SentinelTopology, keys: Keys, wait_replicas: int) -> Store:
    client, mode = client_for_url(topo.sentinel_url, timeout=2.0)
    assert mode == "sentinel"
    return Store(client, keys, wait_replicas=wait_replicas, wait_timeout_ms=WAIT_TIMEOUT_MS)


def _wait_for(predicate, timeout: float, what: str) -> float:
    """Seconds until ``predicate()`` is true; fails the test after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what} not within {timeout:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - start


def _acked_after(writer: Writer, t: float, batches: int = 3):
    return lambda: sum(1 for a in writer.ack_times if a > t) >= batches


def _check_nothing_lost(topo: SentinelTopology, keys: Keys, writer: Writer) -> None:
    """Every acknowledged id is on the master the sentinels name, and nothing is doubled."""
    assert len(writer.acked) == len(set(writer.acked)), "a batch was acknowledged twice"
    master = topo.current_master()
    with master.client() as c:
        lost = missing_ids(c, keys, writer.acked)
        stored = sum(1 for _ in c.scan_iter(match=keys.event("*"), count=1000))
        changes = c.xlen(keys.changes())
    print(f"\nacked {len(writer.acked)} events, lost {len(lost)}, stored {stored}, "
          f"change entries {changes}, retries {writer.retries}, "
          f"errors seen {sorted({e.split(':')[0] for e in writer.errors})}")
    assert lost == [], f"{len(lost)} acknowledged events missing on the master, e.g. {lost[:3]}"
    assert stored == len(set(writer.acked)), "events stored that were never acknowledged"
    # every event is new exactly once: a retried batch counts duplicates, never new entries
    assert changes == len(set(writer.acked))


def test_master_sigkilled_and_restarted_after_1s_loses_no_acknowledged_event(topo):
    """Restart=always with ~1 s delay: whether or not Sentinel failed over in the meantime,
    writes resume by themselves and every acknowledged event is on the master."""
    keys = Keys("lkfo", "taian")
    writer = Writer(_store(topo, keys, wait_replicas=1))
    stop = threading.Event()
    thread = writer.start(stop, 120)
    try:
        _wait_for(lambda: len(writer.ack_times) >= 20, 30, "ingest started")
        old = topo.current_master()
        old.kill()  # returns once the process is gone: later acks come from a live server
        killed_at = time.monotonic()
        time.sleep(1.0)
        old.start()
        resumed = _wait_for(_acked_after(writer, killed_at), RESUME_BOUND_S, "writes resumed")
        print(f"\nwrites resumed {writer.first_ack_after(killed_at):.2f} s after the kill "
              f"({resumed:.1f} s until 3 batches)")
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    new_port = topo.master_port()
    print(f"failover happened: {new_port != old.port}")
    topo.wait_roles(new_port, timeout=30)
    _check_nothing_lost(topo, keys, writer)


def test_failover_promotes_the_replica_and_the_old_master_rejoins_as_replica(topo):
    """The supervisor restarts the killed master only after Sentinel has promoted the
    replica: the client follows the new master, the old one becomes its replica, and
    nothing acknowledged is lost."""
    keys = Keys("lkfo", "taian")
    writer = Writer(_store(topo, keys, wait_replicas=1))
    stop = threading.Event()
    thread = writer.start(stop, 120)
    try:
        _wait_for(lambda: len(writer.ack_times) >= 20, 30, "ingest started")
        old = topo.current_master()
        replica = topo.replicas_of(old)[0]
        old.kill()  # returns once the process is gone: later acks come from a live server
        killed_at = time.monotonic()
        switched = _wait_for(lambda: topo.master_port() == replica.port, RESUME_BOUND_S,
                             "Sentinel promoting the replica")
        time.sleep(1.0)
        old.start()
        with old.client() as c:  # its config still says master
            print(f"\npromoted after {switched:.2f} s; old master restarted as "
                  f"{c.info('replication')['role']}")
        topo.wait_roles(replica.port, timeout=40)
        print(f"old master is a replica of the new one {time.monotonic() - killed_at:.1f} s "
              f"after the kill")
        _wait_for(_acked_after(writer, killed_at), RESUME_BOUND_S, "writes resumed")
        print(f"writes resumed {writer.first_ack_after(killed_at):.2f} s after the kill")
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert topo.master_port() == replica.port
    _check_nothing_lost(topo, keys, writer)


def test_asynchronous_replication_failover_resumes_and_reports_its_loss(topo):
    """wait_replicas=0: the master acknowledges before the replica has the write, so a
    failover may lose the last acknowledged writes. Whether it does depends on timing, so
    this test does not assert a loss; it checks that writes resume through the failover and
    prints what was lost (bench/bench_failover.py measures it over several trials)."""
    keys = Keys("lkfo", "taian")
    writer = Writer(_store(topo, keys, wait_replicas=0))
    stop = threading.Event()
    thread = writer.start(stop, 120)
    try:
        _wait_for(lambda: len(writer.ack_times) >= 50, 30, "ingest started")
        old = topo.current_master()
        replica = topo.replicas_of(old)[0]
        old.kill()  # returns once the process is gone: later acks come from a live server
        killed_at = time.monotonic()
        # the old master stays down: its rejoin is the other tests' subject
        _wait_for(lambda: topo.master_port() == replica.port, RESUME_BOUND_S,
                  "Sentinel promoting the replica")
        _wait_for(_acked_after(writer, killed_at), RESUME_BOUND_S, "writes resumed")
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    with topo.current_master().client() as c:
        lost = missing_ids(c, keys, writer.acked)
    print(f"\nasynchronous replication: {len(lost)} of {len(writer.acked)} acknowledged events "
          f"lost in the failover; writes resumed {writer.first_ack_after(killed_at):.2f} s "
          f"after the kill")
    assert len(writer.acked) == len(set(writer.acked))


def _until_confirmed(store: Store, events: list, timeout: float = 60.0):
    """Write ``events`` as the feed runner does: again after each NotConfirmed (idempotent),
    until confirmed. Returns (the confirmed write's result, attempts). A replica can be slow
    to acknowledge within WAIT's timeout on a busy machine; no test may depend on it not
    being so."""
    deadline = time.monotonic() + timeout
    attempts = 0
    while True:
        attempts += 1
        try:
            return store.upsert_events(events), attempts
        except NotConfirmed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_replica_down_means_not_confirmed_and_the_retry_counts_duplicates(topo):
    """WAIT 1 with the only replica stopped: upsert_events raises NotConfirmed (clear
    message) after wait_timeout_ms; once the replica is back (link up, and the master sees
    it at its offset) the same batch goes through, counted as duplicates since the master
    already holds it."""
    keys = Keys("lkfo", "taian")
    store = _store(topo, keys, wait_replicas=1)
    master = topo.current_master()
    topo.wait_caught_up(master.port)
    first, _ = _until_confirmed(store, make_events(0, 20))
    assert first.new + first.duplicates == 20
    replica = topo.replicas_of(master)[0]
    replica.stop()
    batch = make_events(1, 20)
    started = time.monotonic()
    with pytest.raises(NotConfirmed, match=r"confirmed by 0 of 1 replicas within 500 ms"):
        store.upsert_events(batch)
    assert time.monotonic() - started >= WAIT_TIMEOUT_MS / 1000 * 0.9   # WAIT did wait
    replica.start()
    topo.wait_roles(master.port, timeout=60)
    topo.wait_caught_up(master.port)
    result, attempts = _until_confirmed(store, batch)
    print(f"\nconfirmed on attempt {attempts} after the replica caught up")
    assert (result.new, result.duplicates) == (0, 20)
    with topo.current_master().client() as c:
        assert missing_ids(c, keys, [ev.id for ev in batch]) == []


def test_unset_wait_replicas_waits_for_one_replica_behind_sentinel(topo, tmp_path):
    """Issue 15: LUKUANG_WAIT_REPLICAS unset and the sentinels list a replica: every batch
    waits for it (a batch the replica cannot confirm is not acknowledged), still while the
    replica is down (Sentinel keeps listing it), and doctor says so."""
    from dashboard.cli.commands import doctor_checks
    from dashboard.settings import load_settings

    settings = load_settings(env={}, redis_url=topo.sentinel_url, key_prefix="lkauto",
                             state_dir=str(tmp_path / "state"), wait_timeout_ms=WAIT_TIMEOUT_MS)
    assert settings.wait_replicas == -1          # unset
    client, _ = client_for_url(topo.sentinel_url, timeout=2.0)
    store = Store.from_settings(client, settings)
    assert store.replicas_to_wait() == 1
    assert "the sentinels list 1 replica(s)" in store.describe_wait()
    doctor = {c["check"]: c for c in doctor_checks(settings)}
    assert doctor["replica wait"]["status"] == "ok"
    assert "once 1 replica(s) hold it (WAIT 1 500; automatic" in doctor["replica wait"]["detail"]
    master = topo.current_master()
    topo.wait_caught_up(master.port)
    first, _ = _until_confirmed(store, make_events(0, 10, prefix="auto"))
    assert first.new + first.duplicates == 10
    topo.replicas_of(master)[0].stop()
    with pytest.raises(NotConfirmed, match="confirmed by 0 of 1 replicas"):
        store.upsert_events(make_events(1, 10, prefix="auto"))
    assert store.replicas_to_wait() == 1
    assert Store(client, store.keys, wait_replicas=0).upsert_events(
        make_events(2, 10, prefix="auto")).new == 10   # set to 0: not waited for
    client.close()


def test_unset_wait_replicas_follows_what_a_plain_master_reports(tmp_path):
    """Without Sentinel: 1 when the master reports a connected replica, 0 without one."""
    from .procs import ServerProc, free_port

    master = ServerProc(free_port(), tmp_path / "m", ['save ""'])
    replica = None
    try:
        master.start()
        keys = Keys("lkauto", "taian")
        with master.client() as c:
            alone = Store(c, keys, wait_replicas=-1)
            assert alone.replicas_to_wait() == 0
            assert "the master reports 0 connected replica(s)" in alone.describe_wait()
        replica = ServerProc(free_port(), tmp_path / "r",
                             ['save ""', f"replicaof 127.0.0.1 {master.port}"]).start()
        deadline = time.monotonic() + 60
        with master.client() as c:
            while int(c.info("replication")["connected_slaves"]) < 1:
                assert time.monotonic() < deadline, "the replica never connected"
                time.sleep(0.05)
            assert Store(c, keys, wait_replicas=-1).replicas_to_wait() == 1
    finally:
        if replica is not None:
            replica.stop()
        master.stop()


def test_stale_connection_to_a_demoted_master_is_followed_to_the_new_one(topo):
    """A planned SENTINEL FAILOVER demotes a live master. Pooled connections to it must not
    keep writing there: the client reconnects (READONLY or NotConfirmed drop the
    connection) and, once the old master has rejoined as replica, writes are confirmed on
    the new master with nothing lost."""
    keys = Keys("lkfo", "taian")
    store = _store(topo, keys, wait_replicas=1)
    writer = Writer(store)
    stop = threading.Event()
    thread = writer.start(stop, 120)
    try:
        _wait_for(lambda: len(writer.ack_times) >= 20, 30, "ingest started")
        old = topo.current_master()
        replica = topo.replicas_of(old)[0]
        started = time.monotonic()
        with topo.sentinels[0].client() as c:
            assert c.execute_command("SENTINEL", "FAILOVER", "lkmaster")
        _wait_for(lambda: topo.master_port() == replica.port, RESUME_BOUND_S, "switch-master")
        topo.wait_roles(replica.port, timeout=40)
        _wait_for(_acked_after(writer, time.monotonic()), RESUME_BOUND_S, "writes resumed")
        print(f"\nmanual failover: writes confirmed again "
              f"{time.monotonic() - started:.1f} s after SENTINEL FAILOVER")
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    _check_nothing_lost(topo, keys, writer)
    pool_hosts = {conn.port for conn in store.r.connection_pool._available_connections}
    assert pool_hosts <= {replica.port}, pool_hosts



def test_feed_runner_survives_a_failover_and_keeps_ingesting(topo, tmp_path):
    """``lukuang feeds`` through Sentinel with LUKUANG_WAIT_REPLICAS=1: the master is killed
    and comes back only after the promotion; the runner stays up, treats the Redis errors
    as failed polls, and ingests what the upstream published meanwhile."""
    from tests.fault.test_faults import (alert_points, event_count, runner_env, start_runner,
                                         stop_runner, wait_for)
    from tests.fault.test_faults import waze_payload

    keys = Keys("lkfofeed", "taian")
    points = alert_points(200)
    feed_file = tmp_path / "waze.json"
    feed_file.write_text(waze_payload(0, 100, points))
    env = runner_env(topo.sentinel_url, keys.prefix, tmp_path, feed_file)
    env.update(LUKUANG_REDIS_DB="0", LUKUANG_WAIT_REPLICAS="1",
               LUKUANG_WAIT_TIMEOUT_MS=str(WAIT_TIMEOUT_MS))
    log = tmp_path / "runner.log"
    proc = None

    def on_master() -> int:
        try:
            with topo.current_master().client() as c:
                return event_count(c, keys)
        except redis.RedisError:
            return -1

    try:
        proc = start_runner(env, log)
        assert wait_for(lambda: on_master() >= 100, 60, proc, log), log.read_text()[-3000:]
        old = topo.current_master()
        replica = topo.replicas_of(old)[0]
        old.kill()  # returns once the process is gone: later acks come from a live server
        killed_at = time.monotonic()
        feed_file.write_text(waze_payload(0, 200, points))  # the upstream moves on meanwhile
        assert wait_for(lambda: topo.master_port() == replica.port, RESUME_BOUND_S, proc, log)
        time.sleep(1.0)
        old.start()
        assert wait_for(lambda: on_master() >= 200, 60, proc, log), \
            f"only {on_master()} of 200 after the failover: {log.read_text()[-3000:]}"
        print(f"\nfeed runner: all 200 events on the new master "
              f"{time.monotonic() - killed_at:.1f} s after the kill")
        assert proc.poll() is None
        # once the old master has rejoined as replica, polls are confirmed again: the error
        # count stops growing while polls go on
        topo.wait_roles(replica.port, timeout=40)
        store = Store(topo.current_master().client(), keys)
        def health() -> dict:
            return store.feed_health("waze")["waze"]

        # wait for polls, not for time: a poll that creates incidents (fusion, each commit
        # confirmed by WAIT) takes longer than a plain one
        assert wait_for(lambda: "last_poll_at" in health(), 60, proc, log)
        first = float(health()["last_poll_at"])
        assert wait_for(lambda: float(health().get("last_poll_at", 0)) > first, 60, proc, log)
        before = health()
        assert wait_for(lambda: float(health().get("last_poll_at", 0))
                        > float(before["last_poll_at"]) + 2, 60, proc, log)
        after = health()
        print(f"feed health: errors={after.get('errors')} "
              f"last_error={after.get('last_error', '')[:120]!r}")
        assert int(before.get("errors", 0)) > 0  # the failover was seen and recorded
        assert after.get("errors") == before.get("errors")
        assert float(after["last_poll_at"]) > float(before["last_poll_at"])
        assert proc.poll() is None
    finally:
        stop_runner(proc)
