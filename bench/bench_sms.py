"""The SMS road query's webhook under load: requests/s and latency of
``POST /api/v1/sms/inbound`` (form-encoded, as Aliyun's uplink posts it; a different sender
and a road of the network in each request) with ``GET /healthz`` as the ceiling in the same
run, against gunicorn (2 workers, 4 threads) and the real Redis.

    .venv/bin/python bench/bench_sms.py [--redis redis://127.0.0.1:6379/14]
                                        [--duration 10] [--repeats 3] [--clients 16]

The rate limits are raised out of the way (every request still runs both limiters' scripts:
per address and per sender). The load comes from ``--clients`` threads, each with its own
keep-alive httpx client, on the same machine (they share its cores with the server, so the
figures are a floor). Keys go under a throw-away prefix deleted afterwards. Writes
"## SMS road query" of bench/RESULTS.md and prints the figures as JSON.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402

from bench import common  # noqa: E402
from dashboard.roads.network import get_network  # noqa: E402
from dashboard.storage.keys import Keys  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402

SECTION = "## SMS road query"
SECRET = "bench-sms-secret"
ROUTE = "/api/v1/sms/inbound"


def seed(store: Store, network, rnd: random.Random) -> None:
    """A fresh reading on every segment of the city."""
    now = time.time()
    ids = list(network.segments.index.astype(str))
    store.set_congestion([(s, rnd.choices([1, 2, 3, 4, 0], [60, 20, 10, 5, 5])[0],
                           round(rnd.uniform(5, 60), 1), "amap", now) for s in ids], now=now)


def load(base: str, duration: float, clients: int, request) -> dict:
    """``clients`` threads, each with a keep-alive client, calling ``request(client, i)``
    for ``duration`` seconds; requests/s, p50/p99 and the status counts."""
    stop = time.monotonic() + duration
    lat: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = itertools.count()

    def run() -> None:
        mine, codes = [], {}
        with httpx.Client(base_url=base, timeout=30) as c:
            while time.monotonic() < stop:
                t = time.perf_counter()
                resp = request(c, next(counter))
                mine.append(time.perf_counter() - t)
                codes[resp.status_code] = codes.get(resp.status_code, 0) + 1
        with lock:
            lat.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p = common.percentiles(lat, (50, 99))
    return {"rps": round(len(lat) / duration, 1), "p50": f"{p['p50'] * 1000:.1f}ms",
            "p99": f"{p['p99'] * 1000:.1f}ms", "bad": sum(v for k, v in statuses.items()
                                                       if k != 200),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis", default=os.environ.get("LUKUANG_BENCH_REDIS",
                                                      "redis://127.0.0.1:6379/14"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    common.exit_on_sigterm()

    r = redis.Redis.from_url(args.redis, decode_responses=True)
    prefix = f"lkbenchsms{uuid.uuid4().hex[:8]}"
    keys = Keys(prefix=prefix, city="taian")
    state = Path(tempfile.mkdtemp(prefix="lkbenchsms"))
    network = get_network(state)
    roads = network.road_names()
    seed(Store(r, keys), network, random.Random(20261001))
    port = common.free_port()
    env = {**os.environ, "REDIS_URL": args.redis, "LUKUANG_KEY_PREFIX": prefix,
           "LUKUANG_STATE_DIR": str(state), "LUKUANG_SECRET_KEY": "bench",
           "LUKUANG_SMS_SECRET": SECRET, "LUKUANG_SMS_RATE_LIMIT": str(10 ** 9),
           "LUKUANG_SMS_IP_RATE_LIMIT": str(10 ** 9), "LUKUANG_WAIT_AOF": "0"}
    env.pop("LUKUANG_CONFIG", None)
    procs = common.Procs()
    log = state / "gunicorn.log"
    base = f"http://127.0.0.1:{port}"

    def sms(c: httpx.Client, i: int) -> httpx.Response:
        return c.post(ROUTE, data={"phone_number": f"139{i % 10 ** 8:08d}",
                                   "content": roads[i % len(roads)],
                                   "send_time": "2026-10-01 08:00:00", "sign_name": "泰安交警"},
                      headers={"X-Lukuang-Sms-Secret": SECRET})

    def healthz(c: httpx.Client, _i: int) -> httpx.Response:
        return c.get("/healthz")

    load_before = os.getloadavg()
    try:
        proc = procs.start("web", [sys.executable, "-m", "gunicorn", "app:server", "--bind",
                                   f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
                                   "--timeout", "120", "--access-logfile", "/dev/null"],
                           env, log)
        common.wait_http(f"{base}/healthz", proc, 120, log)
        # load the network in both workers and check the answer once per road
        with httpx.Client(base_url=base, timeout=60) as c:
            sample = {}
            for i in range(4 * len(roads)):
                resp = sms(c, i)
                assert resp.status_code == 200, resp.text[:300]
                sample.setdefault(resp.json()["reply"], None)
        load(base, 2, args.clients, sms)   # warm every worker thread's connection

        def measure(request) -> dict:
            runs = [load(base, args.duration, args.clients, request)
                    for _ in range(args.repeats)]
            best = max(runs, key=lambda x: x["rps"])
            return {**best, "runs": [x["rps"] for x in runs]}
        out = {"clients": args.clients, "roads": len(roads),
               "examples": list(sample)[:3]}
        out["healthz"] = measure(healthz)
        out["sms"] = measure(sms)
        out["healthz_after"] = measure(healthz)
    finally:
        procs.stop_all()
        common.drop_keys(r, prefix)
        shutil.rmtree(state, ignore_errors=True)
    load_after = os.getloadavg()
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if not args.no_write:
        common.write_section(SECTION, markdown(out, r.info("server"), args, load_before,
                                               load_after))
    r.close()
    return 0


def markdown(out: dict, info: dict, args, before, after) -> str:
    row = common.rps_row
    ratio = out["sms"]["rps"] / max(out["healthz"]["rps"], out["healthz_after"]["rps"])
    return "\n".join([
        SECTION, "",
        f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC by "
        f"`bench/bench_sms.py --duration {args.duration} --repeats {args.repeats} "
        f"--clients {args.clients}`.",
        common.machine_line(info),
        f"Load average (1 / 5 / 15 min) {before[0]:.1f} / {before[1]:.1f} / {before[2]:.1f} "
        f"before, {after[0]:.1f} / {after[1]:.1f} / {after[2]:.1f} after the run (the machine "
        "is shared). gunicorn 2 workers × 4 threads; rate limits raised out of the way (each "
        "SMS request still runs the per-address and the per-sender Lua script). Client: "
        f"{out['clients']} threads with a keep-alive httpx client each, on the same 2 cores as "
        "the server. Best of the runs, every run in brackets.",
        "",
        f"`POST {ROUTE}`: form-encoded (Aliyun's field names), secret in the header, a new "
        f"sender number in every request and the {out['roads']} roads of the demo network in "
        "turn; the road's answer is the public query's cached body (built once per data "
        f"version and minute), then the 70-character reply. Example replies: "
        + "; ".join(f"“{x}”" for x in out["examples"]) + ".",
        "",
        "| request | requests/s | p50 | p99 | errors |",
        "| --- | ---: | ---: | ---: | ---: |",
        row("`/healthz` (ceiling: GET version), before", out["healthz"]),
        row("SMS webhook, 200 with the reply", out["sms"]),
        row("`/healthz`, after", out["healthz_after"]),
        "",
        f"The SMS webhook answers at {ratio:.0%} of the `/healthz` ceiling measured in the "
        "same run.",
        ""])


if __name__ == "__main__":
    sys.exit(main())
