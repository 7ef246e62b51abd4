"""A real Sentinel topology on loopback ports: one master, replica(s), three sentinels.

Used by tests/engines/test_sentinel.py and bench/bench_failover.py. Every process is started
with ``ServerProc`` and stopped by its PID.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from .procs import ServerProc, free_port

MASTER_NAME = "lkmaster"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
QUORUM = 2
# AOF only (no RDB snapshots). ``repl-diskless-sync-delay 0``: a replica that needs a full
# resync (the restarted old master always does: its replication id died with it) gets it at
# once instead of after the default 5 s, which with WAIT is 5 s more without acknowledgements.
DATA_CONF = ["appendonly yes", "appendfsync everysec", 'save ""', "repl-diskless-sync-delay 0"]


@dataclass
class SentinelTopology:
    """Master + ``replicas`` replicas + three sentinels under ``workdir``; ``servers[0]``
    starts as master."""

    workdir: Path
    replicas: int = 1
    down_after_ms: int = DOWN_AFTER_MS
    failover_timeout_ms: int = FAILOVER_TIMEOUT_MS
    servers: list[ServerProc] = field(default_factory=list)
    sentinels: list[ServerProc] = field(default_factory=list)

    def settings_line(self) -> str:
        """The Sentinel settings in words, for reports."""
        return (f"1 master + {self.replicas} replica(s) + 3 sentinels, quorum {QUORUM}, "
                f"down-after-milliseconds {self.down_after_ms}, "
                f"failover-timeout {self.failover_timeout_ms}, parallel-syncs 1; "
                f"data servers {', '.join(DATA_CONF)}")

    def start(self, timeout: float = 30.0) -> "SentinelTopology":
        """Start every process and wait until every sentinel knows the whole topology."""
        # each process is listed before it starts, so stop() finds it even if start() fails
        master_port = free_port()
        self.servers = [ServerProc(master_port, self.workdir / "master", list(DATA_CONF))]
        self.servers[0].start()
        for i in range(self.replicas):
            self.servers.append(ServerProc(free_port(), self.workdir / f"replica{i}",
                                           DATA_CONF + [f"replicaof 127.0.0.1 {master_port}"]))
            self.servers[-1].start()
        self.wait_roles(master_port, timeout, sentinels=False)
        for i in range(3):
            port = free_port()
            conf = [f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {QUORUM}",
                    f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}",
                    f"sentinel failover-timeout {MASTER_NAME} {self.failover_timeout_ms}",
                    f"sentinel parallel-syncs {MASTER_NAME} 1",
                    "sentinel resolve-hostnames no",
                    "sentinel announce-hostnames no",
                    "sentinel announce-ip 127.0.0.1"]
            self.sentinels.append(ServerProc(port, self.workdir / f"sentinel{i}", conf,
                                             sentinel=True))
            self.sentinels[-1].start()
        self.wait_known(timeout)
        return self

    def wait_known(self, timeout: float = 30.0) -> None:
        """Until every sentinel sees the master, every replica and the two other sentinels."""
        deadline = time.monotonic() + timeout
        for s in self.sentinels:
            with s.client() as c:
                while True:
                    try:
                        replicas = c.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
                        peers = c.execute_command("SENTINEL", "SENTINELS", MASTER_NAME)
                        if len(replicas) >= self.replicas and len(peers) >= 2:
                            break
                    except redis.ResponseError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"sentinel {s.port} does not see the whole topology")
                    time.sleep(0.1)

    @property
    def sentinel_url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}"

    def master_port(self) -> int:
        """The master's port according to the first sentinel that answers."""
        for s in self.sentinels:
            try:
                with s.client() as c:
                    _, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                                MASTER_NAME)
                    return int(port)
            except redis.RedisError:
                continue
        raise redis.ConnectionError("no sentinel answers")

    def server(self, port: int) -> ServerProc:
        return next(s for s in self.servers if s.port == port)

    def current_master(self) -> ServerProc:
        return self.server(self.master_port())

    def replicas_of(self, master: ServerProc) -> list[ServerProc]:
        return [s for s in self.servers if s is not master]

    def wait_roles(self, master_port: int, timeout: float = 30.0, sentinels: bool = True) -> None:
        """Until ``master_port`` is master for every sentinel (unless ``sentinels`` is false)
        and every other server replicates from it with its link up and the sync done."""
        deadline = time.monotonic() + timeout
        others = [s for s in self.servers if s.port != master_port]
        while True:
            try:
                agreed = not sentinels or all(_sentinel_master(s) == master_port
                                              for s in self.sentinels)
                if agreed and all(_replicates_from(s, master_port) for s in others):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"topology did not settle on master {master_port}")
            time.sleep(0.1)

    def wait_caught_up(self, master_port: int, replicas: int | None = None,
                       timeout: float = 60.0) -> None:
        """Until the master itself reports ``replicas`` (default: every other server)
        replicas with the link up (``state=online``) whose acknowledged offset has reached
        the master's offset as it was when the wait began: what ``WAIT`` counts. A replica
        that says "role slave, link up" may not be there yet from the master's side (its
        sync just finished, its first acknowledgement not yet sent), so a WAIT right after
        ``wait_roles`` can find 0 replicas on a busy machine; after this it finds them."""
        want = len(self.servers) - 1 if replicas is None else replicas
        deadline = time.monotonic() + timeout
        target = None
        while True:
            try:
                with self.server(master_port).client(socket_timeout=1) as c:
                    info = c.info("replication")
                if target is None:
                    target = int(info.get("master_repl_offset", 0))
                caught_up = [v for k, v in info.items() if k.startswith("slave")
                             and isinstance(v, dict) and v.get("state") == "online"
                             and int(v.get("offset", -1)) >= target]
                if info.get("role") == "master" and len(caught_up) >= want:
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the replicas of {master_port} did not catch up")
            time.sleep(0.05)

    def rejoin(self, server: ServerProc) -> None:
        """Start a dead data server the way a start script should (as the Bitnami chart's
        does): ask the sentinels who the master is and come back as its replica, instead of
        coming back as a master that Sentinel converts only after its fixed ~8 s."""
        master = self.master_port()
        server.start(extra_args=[] if master == server.port
                     else ["--replicaof", f"127.0.0.1 {master}"])

    def stop(self) -> None:
        """Stop every process by its PID; safe to call twice."""
        for proc in self.sentinels + self.servers:
            proc.stop()


def _replicates_from(server: ServerProc, master_port: int) -> bool:
    with server.client(socket_timeout=1) as c:
        info = c.info("replication")
    return (info.get("role") == "slave" and int(info.get("master_port", 0)) == master_port
            and info.get("master_link_status") == "up"
            and str(info.get("master_sync_in_progress", 0)) == "0")


def _sentinel_master(s: ServerProc) -> int:
    with s.client(socket_timeout=1) as c:
        return int(c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)[1])


# -- continuous ingest, as a feed runner would do it ------------------------------------------
# what the feed runner treats as "Redis away, poll again" (it retries on any RedisError);
# NoScriptError: a pipeline's EVALSHA reached a master that took over after the script
# check, so its script cache was empty; the next attempt loads the script again
RETRYABLE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError,
             redis.exceptions.NoScriptError)


def make_events(batch: int, n: int, prefix: str = "fo") -> list:
    """``n`` incidents around Tai'an whose ids are unique to ``batch``."""
    from datetime import datetime, timezone

    from dashboard.model import RoadEvent

    when = datetime.now(timezone.utc)
    return [RoadEvent(id=f"{prefix}:b{batch}-{j}", kind="incident", category="accident",
                      severity=2, source="failover", observed_at=when,
                      lon=117.1 + (j % 97) * 0.0005, lat=36.2 + (batch % 89) * 0.0005,
                      text=f"batch {batch} #{j}")
            for j in range(n)]


@dataclass
class Writer:
    """Writes batches through ``store.upsert_events`` until stopped; a batch is acknowledged
    only once upsert_events returned. On a retryable error (connection lost, read-only
    replica, NotConfirmed) the same batch is written again: the retry is idempotent. A batch
    under way when ``stop`` is set is finished (until ``deadline``), so every event written
    is either acknowledged or still being retried."""

    store: object
    batch_size: int = 50
    prefix: str = "fo"
    pause_s: float = 0.0
    acked: list[str] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)  # monotonic time of each acked batch
    errors: list[str] = field(default_factory=list)
    duplicates: int = 0
    retries: int = 0

    def run(self, stop, deadline: float) -> None:
        from dashboard.storage.store import NotConfirmed

        batch = 0
        while not stop.is_set() and time.monotonic() < deadline:
            events = make_events(batch, self.batch_size, self.prefix)
            while time.monotonic() < deadline:
                try:
                    result = self.store.upsert_events(events)
                except (NotConfirmed, *RETRYABLE) as exc:
                    self.retries += 1
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    time.sleep(0.05)
                    continue
                self.duplicates += result.duplicates
                self.acked.extend(ev.id for ev in events)
                self.ack_times.append(time.monotonic())
                break
            batch += 1
            if self.pause_s:
                time.sleep(self.pause_s)

    def start(self, stop, seconds: float):
        """Run in a daemon thread for at most ``seconds``; returns the thread."""
        import threading

        thread = threading.Thread(target=self.run, args=(stop, time.monotonic() + seconds),
                                  daemon=True)
        thread.start()
        return thread

    def first_ack_after(self, t: float) -> float | None:
        """Seconds from ``t`` until the first batch acknowledged after it."""
        later = [a for a in self.ack_times if a > t]
        return later[0] - t if later else None


def missing_ids(r: redis.Redis, keys, ids: list[str]) -> list[str]:
    """The ids among ``ids`` whose event hash is not on ``r``."""
    out: list[str] = []
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        pipe = r.pipeline(transaction=False)
        for i in chunk:
            pipe.exists(keys.event(i))
        out.extend(i for i, there in zip(chunk, pipe.execute()) if not there)
    return out
