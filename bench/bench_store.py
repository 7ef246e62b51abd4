"""Store ingest: events/s through ``Store.upsert_events`` (one pipeline of Lua batches) against
the ceiling that ``redis-benchmark`` measures for the same commands, pipelined, in the same run.

Writes the "## Store ingest" section of bench/RESULTS.md. Uses database 14 of
$LUKUANG_BENCH_REDIS_URL (default redis://127.0.0.1:6379/14) under a throw-away prefix.
"""
from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from os import environ
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import common  # noqa: E402
from dashboard.storage.keys import Keys  # noqa: E402
from dashboard.model import RoadEvent  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402

SECTION = "## Store ingest"
N_EVENTS = 20_000
PER_CALL = 2_000
# what the upsert script does for one new event
COMMANDS_PER_EVENT = ("HGET", "ZSCORE", "HSET", "EXPIRE", "ZADD", "GEOADD", "HINCRBY", "EXPIRE",
                      "XADD")


def events(n: int, seed: int = 7) -> list[RoadEvent]:
    rnd = random.Random(seed)
    t0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
    return [RoadEvent(id=f"bench:{i}", kind=rnd.choice(("incident", "report")), category="jam",
                      severity=rnd.randint(0, 4), source="bench",
                      observed_at=t0 + timedelta(seconds=i), lon=117.0 + rnd.random() * 0.2,
                      lat=36.1 + rnd.random() * 0.1, district="泰山区", road_names=("东岳大街",),
                      text="东岳大街拥堵" * 3) for i in range(n)]


def timed_ingest(store: Store, batch: list[RoadEvent]) -> float:
    start = time.perf_counter()
    for i in range(0, len(batch), PER_CALL):
        store.upsert_events(batch[i:i + PER_CALL])
    return len(batch) / (time.perf_counter() - start)


def redis_benchmark_ceiling(url: str) -> dict[str, float]:
    """Requests/s of each command, pipelined 64 deep, from redis-benchmark (or valkey's)."""
    exe = shutil.which("redis-benchmark") or shutil.which("valkey-benchmark")
    if not exe:
        return {}
    u = urlparse(url)
    tag = f"lkbench{uuid.uuid4().hex[:6]}"
    cmds = {
        "HGET": ["HGET", f"{tag}:h", "f"], "ZSCORE": ["ZSCORE", f"{tag}:z", "m"],
        "HSET": ["HSET", f"{tag}:h:__rand_int__", "f", "v"],
        "EXPIRE": ["EXPIRE", f"{tag}:h", "100"], "ZADD": ["ZADD", f"{tag}:z", "1", "__rand_int__"],
        "GEOADD": ["GEOADD", f"{tag}:g", "117.1", "36.2", "__rand_int__"],
        "HINCRBY": ["HINCRBY", f"{tag}:ts", "0830", "1"],
        "XADD": ["XADD", f"{tag}:x", "MAXLEN", "~", "100000", "*", "op", "new"],
    }
    out = {}
    for name, argv in cmds.items():
        res = subprocess.run([exe, "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 6379),
                              "-n", "200000", "-P", "64", "-r", "100000", "-q", "--csv", *argv],
                             capture_output=True, text=True, timeout=120)
        m = re.findall(r'"([\d.]+)"', res.stdout)
        if m:
            out[name] = float(m[0])
    r = redis.Redis.from_url(url)
    for k in r.scan_iter(match=f"{tag}:*"):
        r.delete(k)
    return out


def main() -> int:
    url = environ.get("LUKUANG_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    r = redis.Redis.from_url(url, decode_responses=True)
    keys = Keys(prefix=f"lkbench{uuid.uuid4().hex[:6]}")
    store = Store(r, keys)
    batch = events(N_EVENTS)
    try:
        new_rate = timed_ingest(store, batch)
        dup_rate = timed_ingest(store, batch)
    finally:
        for k in r.scan_iter(match=f"{keys.prefix}:*", count=1000):
            r.delete(k)
    ceiling = redis_benchmark_ceiling(url)
    if ceiling and all(c in ceiling for c in set(COMMANDS_PER_EVENT)):
        per_event_s = sum(1 / ceiling[c] for c in COMMANDS_PER_EVENT)
        ceiling_eps = 1 / per_event_s
        ceiling_txt = (f"{ceiling_eps:,.0f} events/s (the {len(COMMANDS_PER_EVENT)} commands one "
                       f"new event costs, each at its redis-benchmark rate with -P 64)")
        ratio = f"{new_rate / ceiling_eps:.0%}"
    else:
        ceiling_txt, ratio = "not measured (no redis-benchmark / valkey-benchmark)", "—"
    text = "\n".join([
        SECTION, "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `bench/bench_store.py`.",
        common.machine_line(r.info("server")), "",
        f"{N_EVENTS:,} events through `Store.upsert_events` ({PER_CALL:,} per call, one pipeline of "
        "Lua batches of 500 each; WAITAOF off, as this server has no AOF).", "",
        "| what | events/s |", "| --- | ---: |",
        f"| new events | {new_rate:,.0f} |",
        f"| the same events again (all duplicates) | {dup_rate:,.0f} |",
        f"| ceiling: {ceiling_txt} | |",
        f"| new events as a share of the ceiling | {ratio} |", "",
        "redis-benchmark requests/s per command (-P 64): "
        + ", ".join(f"{k} {v:,.0f}" for k, v in ceiling.items()) + ".", "",
    ])
    common.write_section(SECTION, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
