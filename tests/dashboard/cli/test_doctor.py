"""`lukuang doctor`: the mode, the nodes and their roles, and warnings on settings that put
acknowledged data at risk, against the machine Redis, two real clusters and a real Sentinel.

The expected nodes and slots are read from the servers with plain clients, never from the
code under test.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import redis
from redis.crc import key_slot

from dashboard.cli.commands import doctor_checks
from dashboard.storage.connection import open_redis
from dashboard.storage.keys import Keys
from dashboard.settings import load_settings
from tests.conftest import NO_BINARY, REPO
from tests.engines.procs import ServerProc, free_port, server_binary


def doctor_json(url: str, tmp_path, rc: int = 0, **env: str) -> list[dict[str, str]]:
    """Run ``lukuang doctor --json`` as the operator would; return its checks."""
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("LUKUANG_") and k != "REDIS_URL"}
    full.update(REDIS_URL=url, LUKUANG_KEY_PREFIX="lkdoctor",
                LUKUANG_STATE_DIR=str(tmp_path / "state"), **env)
    res = subprocess.run([sys.executable, "-c", "import sys, app; sys.exit(app.main())",
                          "doctor", "--json"], cwd=REPO, env=full, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == rc, res.stderr
    return json.loads(res.stdout)


def by_name(checks: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {c["check"]: c for c in checks}


def cluster_truth(url: str) -> tuple[dict[str, list[tuple[int, int]]], dict[str, str]]:
    """(master address → slot ranges, replica address → its master's address), from
    CLUSTER NODES of one node, read with a plain client. (CLUSTER SLOTS leaves out replicas
    that have not replicated a byte yet.)"""
    node = redis.Redis.from_url(url, decode_responses=True)
    try:
        nodes = node.cluster("NODES")  # {"host:port": {"node_id", "flags", "master_id", ...}}
    finally:
        node.close()
    addr_of = {v["node_id"]: addr for addr, v in nodes.items()}
    masters = {addr: sorted((int(a), int(b)) for a, b in v["slots"])
               for addr, v in nodes.items() if "master" in v["flags"]}
    replicas = {addr: addr_of[v["master_id"]]
                for addr, v in nodes.items() if "slave" in v["flags"]}
    return masters, replicas


def holder_of(masters: dict[str, list[tuple[int, int]]], slot: int) -> str:
    return next(a for a, ranges in masters.items() if any(f <= slot <= l for f, l in ranges))


def test_single_server_reports_its_role_replicas_and_wait_risk(settings, r):
    truth = r.info("replication")
    checks = by_name(doctor_checks(settings))
    assert checks["mode"]["detail"] == "single"
    assert checks["nodes"]["detail"].startswith(
        f"role {truth['role']}, {truth['connected_slaves']} replica(s)")
    assert "replica count" not in checks  # wait_replicas 0: nothing to satisfy
    want = int(truth["connected_slaves"]) + 1
    risky = by_name(doctor_checks(dataclasses.replace(settings, wait_replicas=want)))
    assert risky["replica count"]["status"] == "warn"
    assert f"wait_replicas={want}" in risky["replica count"]["detail"]


def test_a_feed_quarantining_a_large_share_is_not_ok(settings, r):
    """Issue 14: doctor said "ok" while Weibo quarantined 610 records against 122 accepted."""
    import time

    from dashboard.storage.store import Store

    store = Store.from_settings(r, settings)
    now = f"{time.time():.0f}"
    store.update_feed_health("weibo", {"accepted": 122, "quarantined": 610}, last_ok=now)
    store.update_feed_health("waze", {"accepted": 900, "quarantined": 3}, last_ok=now)
    checks = by_name(doctor_checks(settings))
    assert checks["feed weibo"]["status"] == "warn"
    assert "83% of its records are quarantined" in checks["feed weibo"]["detail"]
    assert checks["feed waze"]["status"] == "ok"


def test_cluster_without_replicas_names_nodes_slots_and_warns(cluster_url, tmp_path):
    masters, replicas = cluster_truth(cluster_url)
    assert len(masters) == 3 and not replicas
    checks = doctor_json(cluster_url, tmp_path, LUKUANG_WAIT_REPLICAS="1")
    c = by_name(checks)
    assert c["redis"]["status"] == "ok" and c["redis"]["detail"].startswith("cluster at ")
    assert c["mode"]["detail"] == "cluster"
    for addr, ranges in masters.items():
        slots = ", ".join(f"{f}-{l}" for f, l in sorted(ranges))
        assert f"master {addr} slots {slots} (replicas: no replica)" in c["nodes"]["detail"]
    slot = key_slot(Keys("lkdoctor", "taian").version().encode())
    assert f"{{taian}} → slot {slot} on {holder_of(masters, slot)}" == c["city slot"]["detail"]
    assert c["cluster replicas"]["status"] == "warn"
    assert all(a in c["cluster replicas"]["detail"] for a in masters)
    assert c["replica count"]["status"] == "warn"
    assert "no replica but wait_replicas=1" in c["replica count"]["detail"]
    # persistence is checked on every master, not on whichever node answered
    assert all(a in c["persistence"]["detail"] for a in masters)


def test_cluster_with_replicas_lists_them_and_warns_only_past_their_count(
        cluster_replicas_url, tmp_path):
    masters, replicas = cluster_truth(cluster_replicas_url)
    assert len(masters) == 3 and len(replicas) == 3
    c = by_name(doctor_json(cluster_replicas_url, tmp_path, LUKUANG_WAIT_REPLICAS="1"))
    for rep, master in replicas.items():
        assert f"master {master} " in c["nodes"]["detail"]
        assert f"(replicas: {rep})" in c["nodes"]["detail"]
    assert "cluster replicas" not in c and "replica count" not in c
    c2 = by_name(doctor_json(cluster_replicas_url, tmp_path, LUKUANG_WAIT_REPLICAS="2"))
    assert c2["replica count"]["status"] == "warn"
    assert "wait_replicas=2 but the master of {taian}" in c2["replica count"]["detail"]


def test_sentinel_reports_the_master_and_replicas_the_sentinels_see(tmp_path):
    if server_binary() is None:
        pytest.skip(NO_BINARY)
    from tests.engines.sentinel import SentinelTopology

    topo = SentinelTopology(tmp_path / "sentinel", replicas=1).start()
    try:
        settings = load_settings(env={}, redis_url=topo.sentinel_url, key_prefix="lkdoctor",
                                 state_dir=str(tmp_path / "state"), wait_replicas=2)
        c = by_name(doctor_checks(settings))
        master = topo.current_master()
        replica = topo.replicas_of(master)[0]
        assert c["mode"]["detail"] == "sentinel"
        assert f"at 127.0.0.1:{master.port}" in c["nodes"]["detail"]
        assert f"replicas 127.0.0.1:{replica.port} " in c["nodes"]["detail"]
        assert "wait_replicas=2 but master" in c["replica count"]["detail"]
        assert c["min-replicas-to-write"]["status"] == "info"
    finally:
        topo.stop()


def test_the_cluster_setting_forces_cluster_mode(tmp_path, cluster_url):
    if server_binary() is None:
        pytest.skip(NO_BINARY)
    plain = ServerProc(free_port(), tmp_path / "plain", ['save ""', "appendonly no"]).start()
    try:
        url = f"redis://127.0.0.1:{plain.port}/0"
        forced = load_settings(env={"LUKUANG_CLUSTER": "1"}, redis_url=url)
        assert forced.cluster is True
        # forced, the app insists on a cluster even where INFO says there is none
        with pytest.raises(ValueError, match="LUKUANG_CLUSTER is set"):
            open_redis(forced)
        handle = open_redis(load_settings(env={}, redis_url=url))
        assert handle.mode == "single"
        handle.close()
        c = by_name(doctor_json(url, tmp_path, rc=1, LUKUANG_CLUSTER="1"))
        assert c["redis"]["status"] == "fail" and "LUKUANG_CLUSTER is set" in c["redis"]["detail"]
    finally:
        plain.stop()
    handle = open_redis(load_settings(env={"LUKUANG_CLUSTER": "1"}, redis_url=cluster_url))
    assert handle.mode == "cluster"
    handle.close()
