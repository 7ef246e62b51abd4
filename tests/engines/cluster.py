"""A real 3-master Redis Cluster on loopback ports, for the tests (no redis-cli needed).

Slots are assigned with CLUSTER ADDSLOTSRANGE and the nodes introduced with CLUSTER MEET,
both through redis-py; the cluster is ready once every node reports ``cluster_state:ok``.
Every process is stopped by its PID.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.engines.procs import ServerProc, free_port

SLOT_RANGES = ((0, 5460), (5461, 10922), (10923, 16383))


def cluster_conf(port: int, bus_port: int) -> list[str]:
    """The config lines of one cluster node (no persistence: the tests own the data)."""
    return ["cluster-enabled yes", f"cluster-config-file nodes-{port}.conf",
            f"cluster-port {bus_port}", "cluster-node-timeout 2000", 'save ""',
            "appendonly no"]


@dataclass
class LocalCluster:
    """Three masters, each holding one third of the slots; ``nodes[:3]`` are the masters."""

    workdir: Path
    replicas: int = 0  # per master
    nodes: list[ServerProc] = field(default_factory=list)
    bus_ports: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self, timeout: float = 30.0) -> "LocalCluster":
        """Start the servers, join them, assign the slots (and with ``replicas``, give each
        master that many replicas); wait until every node says the state is ok."""
        try:
            for _ in range(len(SLOT_RANGES) * (1 + self.replicas)):
                port, bus = free_port(), free_port()
                self.bus_ports.append(bus)
                self.nodes.append(ServerProc(port, self.workdir / str(port),
                                             cluster_conf(port, bus)).start())
            clients = [n.client() for n in self.nodes]
            masters = clients[:len(SLOT_RANGES)]
            for c, (first, last) in zip(masters, SLOT_RANGES):
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
            for n, bus in zip(self.nodes[1:], self.bus_ports[1:]):
                # the bus port is not port+10000 (that could be taken or past 65535): say it
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", n.port, bus)
            ids = [c.execute_command("CLUSTER", "MYID") for c in masters]
            for i, c in enumerate(clients[len(SLOT_RANGES):]):
                self._replicate(c, ids[i % len(ids)], timeout)
            self.wait_ok(clients, timeout)
            for c in clients:
                c.close()
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _replicate(client: redis.Redis, master_id: str, timeout: float) -> None:
        """CLUSTER REPLICATE once this node has heard of the master through the gossip."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.execute_command("CLUSTER", "REPLICATE", master_id)
                return
            except redis.ResponseError:  # "Unknown node" until the MEET has spread
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def wait_ok(self, clients: list[redis.Redis], timeout: float) -> None:
        """Until every node says ``cluster_state:ok`` and knows every other node, and every
        replica's link to its master is up."""
        deadline = time.monotonic() + timeout
        while True:
            infos = [c.cluster("INFO") for c in clients]
            roles = [c.info("replication") for c in clients[len(SLOT_RANGES):]]
            seen = [_replicas_seen(c) for c in clients]
            if (all(i.get("cluster_state") == "ok"
                    and int(i.get("cluster_known_nodes", 0)) == len(self.nodes) for i in infos)
                    and all(r.get("master_link_status") == "up" for r in roles)
                    and all(n == len(roles) for n in seen)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not ok within {timeout} s: {infos}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop every node by PID (SIGTERM, then SIGKILL)."""
        for n in self.nodes:
            n.stop()


def _replicas_seen(client: redis.Redis) -> int:
    """How many replicas this node's CLUSTER NODES shows (the gossip spreads roles late)."""
    return sum("slave" in v["flags"] for v in client.cluster("NODES").values())


def node_client(r: redis.Redis, key: str, url: str) -> redis.Redis:
    """A plain (non-decoding) client of the server that holds ``key``: the node of its slot
    when ``r`` is a cluster client, else the server at ``url``."""
    from redis.cluster import RedisCluster

    if isinstance(r, RedisCluster):
        node = r.get_node_from_key(key)
        return redis.Redis(host=node.host, port=node.port)
    return redis.Redis.from_url(url)
