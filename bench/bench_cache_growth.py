"""Redis memory under the requests of issue 15: 1,000 anonymous
``GET /api/v1/events?limit=5000&_=<n>`` (every one a new query string), against the app as
in production (``lukuang run --no-demo --no-feeds``: gunicorn, 2 workers × 4 threads) and a
private Redis-compatible server on a loopback port (so ``used_memory`` is ours alone).

    .venv/bin/python bench/bench_cache_growth.py [--requests 1000] [--events 150]

Three runs, each on an emptied server with the same seeded data (``--events`` incidents and
reports, so a full ``/events`` body is about the issue's 80 KB):
- *as shipped*: the default settings (the anonymous API rate limit on);
- *rate limit off*: only the cache key (the parameters the route reads) and the budget;
- *1,000 distinct valid queries* (``limit=1..1000``), rate limit off: what the cache budget
  (``api_cache_bytes``) alone holds against.
Per run: the answers by status, Redis ``used_memory`` before and after, the cache entries
left in Redis. Writes "## API cache growth" in bench/RESULTS.md and prints JSON.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import common  # noqa: E402
from dashboard.model import RoadEvent  # noqa: E402
from dashboard.roads.network import get_network  # noqa: E402
from dashboard.storage.keys import Keys  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402
from tests.engines.procs import ServerProc, free_port  # noqa: E402

SECTION = "## API cache growth"


def seed(store: Store, network, n: int, rnd: random.Random) -> None:
    """``n`` live incidents and reports on the demo network, with text."""
    ids = list(network.segments.index.astype(str))
    now = time.time()
    utc = timezone.utc
    events = []
    for i in range(n):
        lon, lat = network.segment(ids[rnd.randrange(len(ids))])["coords"][0]
        kind = ("incident", "report")[i % 2]
        events.append(RoadEvent(
            id=f"growth:{i}", kind=kind, category="accident" if kind == "incident" else "jam",
            severity=1 + i % 4, source="bench", lon=lon, lat=lat,
            observed_at=datetime.fromtimestamp(now - rnd.randint(0, 900), utc),
            ends_at=datetime.fromtimestamp(now, utc) + timedelta(hours=6),
            district="泰山区", road_names=("东岳大街",),
            text=f"东岳大街与龙潭路路口 车辆追尾 占用一条车道 请绕行 #{i}"))
    store.upsert_events(events, now=now)


def used_memory(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def run(label: str, paths: list[str], r: redis.Redis, keys: Keys, network, args,
        state: Path, extra_env: dict[str, str]) -> dict:
    """Empty the server, seed, start the web, send ``paths`` (one keep-alive connection,
    one after another), measure."""
    r.flushall()
    seed(Store(r, keys), network, args.events, random.Random(20261001))
    env = {**os.environ, "REDIS_URL": args.url, "LUKUANG_KEY_PREFIX": keys.prefix,
           "LUKUANG_STATE_DIR": str(state), "LUKUANG_SECRET_KEY": "bench",
           "LUKUANG_DEMO": "0", "LUKUANG_WAIT_AOF": "0", **extra_env}
    env.pop("LUKUANG_CONFIG", None)
    procs = common.Procs()
    try:
        web, base, _url, _search = common.start_web(procs, env, state, "")
        port = int(base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/api/v1/events?limit=5000")
        first = conn.getresponse()
        body_bytes = len(first.read())
        time.sleep(0.2)
        before = used_memory(r)
        statuses: dict[int, int] = {}
        t0 = time.perf_counter()
        for path in paths:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            statuses[resp.status] = statuses.get(resp.status, 0) + 1
            if resp.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        took = time.perf_counter() - t0
        conn.close()
        after = used_memory(r)
        entries = sum(1 for _ in r.scan_iter(match=keys.cache("api:*"), count=1000))
        return {"run": label, "requests": len(paths), "seconds": round(took, 1),
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
                "body_bytes": body_bytes, "used_memory_before": before,
                "used_memory_after": after, "growth_bytes": after - before,
                "cache_entries": entries}
    finally:
        procs.stop_all()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--events", type=int, default=180)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    common.exit_on_sigterm()
    tmp = Path(tempfile.mkdtemp(prefix="lkgrowth"))
    server = ServerProc(free_port(), tmp / "redis", ['save ""', "appendonly no"])
    keys = Keys(prefix=f"lkgrowth{uuid.uuid4().hex[:6]}", city="taian")
    out: dict = {}
    try:
        server.start()
        args.url = f"redis://127.0.0.1:{server.port}/0"
        r = redis.Redis.from_url(args.url, decode_responses=True)
        state = tmp / "state"
        state.mkdir()
        network = get_network(state)
        n = args.requests
        same = [f"/api/v1/events?limit=5000&_={i}" for i in range(n)]
        distinct = [f"/api/v1/events?limit={i + 1}" for i in range(n)]
        out["runs"] = [
            run("as shipped (rate limit on)", same, r, keys, network, args, state, {}),
            run("rate limit off", same, r, keys, network, args, state,
                {"LUKUANG_API_RATE_LIMIT": "0"}),
            run(f"{n:,} distinct valid queries, rate limit off", distinct, r, keys, network,
                args, state, {"LUKUANG_API_RATE_LIMIT": "0"}),
        ]
        out["server"] = r.info("server")
        r.close()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    info = out.pop("server")
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if not args.no_write:
        common.write_section(SECTION, markdown(out, info, args))
    return 0


def markdown(out: dict, info: dict, args) -> str:
    def mb(b: int) -> str:
        return f"{b / 1e6:.1f} MB"
    rows = []
    for x in out["runs"]:
        st = ", ".join(f"{v:,} × {k}" for k, v in x["statuses"].items())
        rows.append(f"| {x['run']} | {st} | {mb(x['used_memory_before'])} → "
                    f"{mb(x['used_memory_after'])} | **{x['growth_bytes'] / 1e6:+.2f} MB** | "
                    f"{x['cache_entries']} |")
    return "\n".join([
        SECTION, "",
        f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC by "
        f"`bench/bench_cache_growth.py --requests {args.requests} --events {args.events}`.",
        common.machine_line(info),
        "gunicorn as `lukuang run --no-demo --no-feeds` starts it (2 workers × 4 threads); a "
        "private server on a loopback port, emptied and seeded the same way before each run "
        f"({args.events} live events; the full `/api/v1/events?limit=5000` body is "
        f"{out['runs'][0]['body_bytes'] / 1000:.0f} KB). Requests one after another from one "
        "client (127.0.0.1) on a keep-alive connection; `used_memory` just before the first "
        "and just after the last (cached bodies live 120 s).",
        "",
        "| requests | answers | Redis `used_memory` | growth | API cache entries left |",
        "| --- | --- | ---: | ---: | ---: |",
        *rows, "",
        "The first two send `GET /api/v1/events?limit=5000&_=<n>` (issue 15's requests: a new "
        "query string each time); the third `limit=1…1000`, a thousand different valid "
        "queries. The cache key is the parameters the route reads, so the `_=` buster makes "
        "no new entry; distinct queries are stored within `api_cache_bytes` (8 MB) and "
        "`api_cache_entries` (256), oldest evicted first.",
        ""])


if __name__ == "__main__":
    sys.exit(main())
