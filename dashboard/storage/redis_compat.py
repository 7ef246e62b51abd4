"""The few places where a Redis Cluster client needs other calls than a single server.

Every key of a city shares the hash tag ``{city}``, so every script, pipeline and MULTI
of the app touches one slot, on one node. What differs is only how redis-py sends them:
its cluster pipeline refuses EVALSHA and never loads scripts, and a command without a key
(WAIT, WAITAOF) must be told which node to go to.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import redis
from redis.cluster import ClusterPipeline, RedisCluster


def is_cluster(client: Any) -> bool:
    """True for a RedisCluster client or one of its pipelines."""
    return isinstance(client, RedisCluster)  # ClusterPipeline is a RedisCluster too


def run_script(script: Any, keys: Sequence[str], args: Iterable[Any] = (),
               client: Any = None) -> Any:
    """Run a registered script (``r.register_script(text)``), queued on ``client`` if it is a
    pipeline. Same result as ``script(keys=..., args=..., client=...)``.

    In a cluster pipeline redis-py blocks EVALSHA and has no way to load a missing script,
    so the script goes as EVAL: the server caches it by its SHA1 all the same, and a node
    that never saw it (a fresh replica after a failover) cannot answer NOSCRIPT.
    """
    args = list(args)
    if isinstance(client, ClusterPipeline):
        return client.execute_command("EVAL", script.script, len(keys), *keys, *args)
    return script(keys=list(keys), args=args, client=client)


def node_of(client: Any, key: str) -> dict[str, Any]:
    """Extra ``execute_command`` options that send a keyless command (WAIT, WAITAOF) to the
    master holding ``key``'s slot; empty on a single server, where there is one node anyway.

    In a cluster pipeline such a command shares the connection of the other commands sent to
    that node, so WAIT covers their writes. Without it redis-py sends WAIT to its default
    node, which may hold other slots: it would confirm nothing of this batch.
    """
    if is_cluster(client):
        return {"target_nodes": client.get_node_from_key(key)}
    return {}


def still_on(client: Any, key: str, on_node: dict[str, Any]) -> bool:
    """False when ``key``'s slot has moved away from the node ``node_of`` named before the
    pipeline ran: redis-py followed a MOVED and redid the write alone, on another node and
    connection, so a WAIT queued for the old node does not cover it. An ASK redirect (a slot
    half-way through a migration) leaves the map unchanged and is not detected here."""
    if not on_node:
        return True
    return client.get_node_from_key(key).name == on_node["target_nodes"].name


def delete_matching(client: redis.Redis, pattern: str) -> int:
    """Delete every key matching ``pattern``; SCAN visits every master on a cluster."""
    n = 0
    for key in client.scan_iter(match=pattern, count=1000):
        n += int(client.delete(key))
    return n
