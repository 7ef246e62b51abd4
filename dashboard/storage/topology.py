"""What the app is connected to: the nodes, their roles, and settings that risk acknowledged data.

Used by ``lukuang doctor``. Every function takes the client and returns checks
(``{"check", "status": ok|warn|info, "detail"}``) in plain words.
"""
from __future__ import annotations

from typing import Any

import redis

from dashboard.storage.keys import Keys

Check = dict[str, str]


def _check(name: str, status: str, detail: str) -> Check:
    return {"check": name, "status": status, "detail": detail}


def _slot_ranges(slots: list[Any]) -> str:
    """``[["0", "5460"], ["7000", "7000"]]`` → ``0-5460, 7000``."""
    parts = []
    for rng in slots:
        first, last = (rng[0], rng[-1]) if isinstance(rng, (list, tuple)) else (rng, rng)
        parts.append(str(first) if str(first) == str(last) else f"{first}-{last}")
    return ", ".join(parts) or "no slots"


def replica_count_warnings(where: str, replicas: int, wait_replicas: int) -> list[Check]:
    """A warning when WAIT cannot be satisfied: every confirmed write would fail."""
    if wait_replicas <= 0 or replicas >= wait_replicas:
        return []
    if replicas == 0:
        why = f"{where} has no replica but wait_replicas={wait_replicas}"
    else:
        why = f"wait_replicas={wait_replicas} but {where} has only {replicas} connected replica(s)"
    return [_check("replica count", "warn",
                   f"{why}: every write is refused as not confirmed until enough replicas "
                   "are connected; add replicas or lower LUKUANG_WAIT_REPLICAS")]


def single_checks(client: redis.Redis, wait_replicas: int) -> list[Check]:
    """Role and replicas from INFO replication of a single server (or embedded Valkey)."""
    repl = client.info("replication")
    role = repl.get("role", "?")
    n = int(repl.get("connected_slaves", 0) or 0)
    replicas = []
    for i in range(n):
        s = repl.get(f"slave{i}")
        if isinstance(s, dict):
            replicas.append(f"{s.get('ip')}:{s.get('port')} ({s.get('state')})")
    detail = f"role {role}, {n} replica(s)" + (f": {', '.join(replicas)}" if replicas else "")
    if role != "master":
        detail += f"; master {repl.get('master_host')}:{repl.get('master_port')}"
    return [_check("nodes", "ok", detail)] + replica_count_warnings("the server", n, wait_replicas)


def sentinel_checks(client: redis.Redis, wait_replicas: int) -> list[Check]:
    """The master and replicas the sentinels report for a ``master_for`` client."""
    pool = client.connection_pool
    name, manager = pool.service_name, pool.sentinel_manager
    host, port = manager.discover_master(name)
    replicas = manager.discover_slaves(name)
    listed = ", ".join(f"{h}:{p}" for h, p in replicas) or "none"
    out = [_check("nodes", "ok", f"sentinel master {name!r} at {host}:{port}; "
                                 f"replicas {listed} ({len(manager.sentinels)} sentinel(s) "
                                 "configured)")]
    out += replica_count_warnings(f"master {name!r}", len(replicas), wait_replicas)
    try:
        mrw = client.config_get("min-replicas-to-write").get("min-replicas-to-write", "0")
    except redis.RedisError:
        mrw = None
    if mrw == "0":
        out.append(_check("min-replicas-to-write", "info",
                          "min-replicas-to-write is 0: a master cut off from its replicas "
                          "keeps accepting writes (the app's WAIT still refuses to confirm them)"))
    return out


def cluster_checks(client: Any, keys: Keys, wait_replicas: int) -> list[Check]:
    """Masters, replicas and slot ranges from CLUSTER NODES, and the node of this city's slot."""
    nodes = client.cluster_nodes()  # {"host:port": {"node_id", "flags", "master_id", "slots"}}
    masters = {v["node_id"]: addr for addr, v in nodes.items() if "master" in v["flags"]}
    replicas_of: dict[str, list[str]] = {nid: [] for nid in masters}
    for addr, v in nodes.items():
        if "master" not in v["flags"] and v.get("master_id") in replicas_of:
            replicas_of[v["master_id"]].append(addr)
    slot = client.keyslot(keys.version())
    holder = ""
    lines = []
    for nid, addr in sorted(masters.items(), key=lambda kv: kv[1]):
        v = nodes[addr]
        for rng in v.get("slots", []):
            first, last = (rng[0], rng[-1]) if isinstance(rng, (list, tuple)) else (rng, rng)
            if int(first) <= slot <= int(last):
                holder = addr
        reps = ", ".join(replicas_of[nid]) or "no replica"
        flags = "" if v["flags"] in ("master", "myself,master") else f" [{v['flags']}]"
        lines.append(f"master {addr}{flags} slots {_slot_ranges(v.get('slots', []))} "
                     f"(replicas: {reps})")
    out = [_check("nodes", "ok", f"cluster of {len(masters)} master(s): " + "; ".join(lines)),
           _check("city slot", "ok" if holder else "warn",
                  f"{keys.hash_tag} → slot {slot} on {holder or 'no node (slot not served)'}")]
    bare = sorted(masters[nid] for nid, reps in replicas_of.items() if not reps)
    if bare:
        out.append(_check("cluster replicas", "warn",
                          f"master(s) without a replica: {', '.join(bare)}; if one fails, "
                          "its slots (and the cities in them) are lost until it is back"))
    holder_id = next((nid for nid, addr in masters.items() if addr == holder), None)
    if holder_id is not None:
        out += replica_count_warnings(f"the master of {keys.hash_tag} ({holder})",
                                      len(replicas_of[holder_id]), wait_replicas)
    return out


def topology_checks(client: Any, mode: str, keys: Keys, wait_replicas: int) -> list[Check]:
    """The mode and the nodes with their roles, plus warnings about acknowledged data at risk."""
    out = [_check("mode", "ok", mode)]
    try:
        if mode == "cluster":
            out += cluster_checks(client, keys, wait_replicas)
        elif mode == "sentinel":
            out += sentinel_checks(client, wait_replicas)
        else:
            out += single_checks(client, wait_replicas)
    except redis.RedisError as exc:
        out.append(_check("nodes", "warn", f"could not list the nodes: {exc}"))
    return out
