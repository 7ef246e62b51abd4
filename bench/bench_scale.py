"""Scale and memory: Redis memory for one day of a city's data at the demo's rates, and how
costs grow from the demo network (888 segments) to generated 5,000- and 20,000-segment grids.

    .venv/bin/python bench/bench_scale.py [--redis redis://127.0.0.1:6379/14]
                                          [--sizes 5000,20000] [--sample-minutes 60]

Part 1 replays one simulated weekday of the demo simulator (feeds/sim, scenario "normal")
through the real Store API with ``now=`` (no sleeping): Waze and Amap payloads built by the
simulator's own formats and parsed by the real adapters every simulated minute; Weibo
reports, 122 hotline calls and roadworks written as events at the times the simulator's
world creates them; the congestion index every minute; the dispatch lifecycle of every
Waze incident (create, acknowledge, verify, clear: four audit entries). Memory is MEMORY
USAGE (SAMPLES 0) of every key under a throw-away prefix, summed per key group.

Part 2 measures, per network size: the congestion hash, the changes stream and the
per-minute time series, the time of one full and one 1 % congestion update, and the
per-minute congestion index. The wall's first-display build time is cited from the
"## Wall refresh" section (bench/bench_wall.py), not measured again.

Writes the "## Scale and memory" section of bench/RESULTS.md. Keys are deleted afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import common  # noqa: E402
from bench.bench_wall import grid_network  # noqa: E402
from dashboard.dispatch import incidents  # noqa: E402
from dashboard.auth import User  # noqa: E402
from dashboard.congestion import record_congestion_index  # noqa: E402
from dashboard.storage.keys import Keys  # noqa: E402
from dashboard.masking import mask_text  # noqa: E402
from dashboard.model import RoadEvent  # noqa: E402
from dashboard.roads.network import NETWORK_SUBDIR, default_network_dir, load_network  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from dashboard.storage.store import BATCH_SIZE, Store  # noqa: E402
from feeds.amap import AmapAdapter  # noqa: E402
from feeds.base import ParseContext  # noqa: E402
from feeds.sim import formats  # noqa: E402
from feeds.sim.world import DAY, World, day_start, local_day  # noqa: E402
from feeds.waze import WazeAdapter  # noqa: E402

SECTION = "## Scale and memory"
UTC = timezone.utc
# a normal weekday (Wednesday 2026-11-18, Asia/Shanghai), no holiday layer
SIM_DAY = local_day(datetime(2026, 11, 18, 12, tzinfo=UTC).timestamp())
FEEDS = ("waze", "amap", "weibo", "hotline", "wzdx", "units")
QUARANTINE_PER_DAY = 24        # assumed: the simulator sends no malformed records
QUARANTINE_RAW_BYTES = 2048
GROUPS = ("events", "private (personal data)", "active sets", "geo", "congestion",
          "time series", "changes stream", "quarantine", "feed health", "audit",
          "dispatch incidents", "other")


# -- measuring memory -------------------------------------------------------------------------
def group_of(rest: str) -> str:
    """The key group of a key, given the part after the city's base ``lk:{city}:``."""
    head = rest.split(":", 1)[0]
    return {"event": "events", "private": "private (personal data)", "active": "active sets",
            "geo": "geo", "congestion": "congestion", "ts": "time series",
            "changes": "changes stream", "quarantine": "quarantine", "feed": "feed health",
            "feeds": "feed health", "audit": "audit", "incident": "dispatch incidents",
            "incidents": "dispatch incidents", "report-incident": "dispatch incidents",
            }.get(head, "other")


def memory_by_group(r: redis.Redis, keys: Keys) -> dict[str, dict[str, int]]:
    """group -> {"keys": n, "bytes": sum of MEMORY USAGE key SAMPLES 0}."""
    out = {g: {"keys": 0, "bytes": 0} for g in GROUPS}
    names = list(r.scan_iter(match=keys.pattern(), count=1000))
    pipe = r.pipeline(transaction=False)
    for k in names:
        pipe.memory_usage(k, samples=0)
    for k, size in zip(names, pipe.execute()):
        g = out[group_of(k[len(keys.base):])]
        g["keys"] += 1
        g["bytes"] += int(size or 0)
    return out


def key_bytes(r: redis.Redis, key: str) -> int:
    return int(r.memory_usage(key, samples=0) or 0)


def used_memory(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def drop(r: redis.Redis, keys: Keys) -> None:
    names = list(r.scan_iter(match=keys.pattern(), count=1000))
    for i in range(0, len(names), 1000):
        r.delete(*names[i:i + 1000])


# -- part 1: one day of the demo city -----------------------------------------------------------
def dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def ended_copies(store: Store, prefix: str, kinds, snapshot_ids: set[str],
                 now: float) -> list[RoadEvent]:
    """feeds.pipeline.ended_copies with the simulated clock: live events of a feed that a
    full snapshot no longer contains, marked ended."""
    gone = [i for kind in kinds for i in store.active_ids(kind, now=now)
            if i.startswith(prefix) and i not in snapshot_ids]
    return [RoadEvent(**{**ev.__dict__, "status": "ended", "ends_at": dt(now)})
            for ev in store.get_events(gone)]


def seg_point(world: World, rnd: random.Random) -> tuple[float, float, str, str]:
    seg = world.city.segs[rnd.randrange(len(world.city.segs))]
    lon, lat = seg.coords[len(seg.coords) // 2]
    return lon, lat, seg.district, seg.road


def report_events(world: World, t0: float, rnd: random.Random) -> list[tuple[float, RoadEvent,
                                                                               dict]]:
    """(time, event, private fields) of the day's Weibo report clusters (one event per
    incident/jam/coach the posts are about, updated with each new post; a post about
    nothing in particular is its own cluster) and 122 hotline tickets."""
    incs = {i.key: i for i in world.incidents(t0 + DAY, DAY + 3 * 3600)}
    reps = sorted({r.key: r for h in range(6, 25, 6)
                   for r in world.reports(t0 + h * 3600, 6 * 3600)}.values(),
                  key=lambda r: (r.created, r.key))
    out = []
    clusters: dict[str, list] = {}
    for rep in reps:
        cid = rep.about or rep.key
        members = clusters.setdefault(cid, [])
        members.append(rep)
        inc = incs.get(rep.about)
        if rep.geo:
            lon, lat = rep.geo
            district, road = "", ""
        elif inc is not None:
            lon, lat, district, road = inc.lon, inc.lat, "", inc.road
        else:
            lon, lat, district, road = seg_point(world, rnd)
        first = members[0].created
        ev = RoadEvent(
            id=f"weibo:cluster:{cid}", kind="report", category=category(rep.kind),
            severity=2, source="weibo", observed_at=dt(rep.created), lon=lon, lat=lat,
            district=district, road_names=(road,) if road else (),
            text=mask_text(members[0].text)[:280],
            attrs={"count": len(members), "place_key": cid, "first_seen": first,
                   "last_seen": rep.created, "upstream_id": members[0].key,
                   "report_ids": [m.key for m in members][:50]})
        private = {"texts": json.dumps([m.text for m in members], ensure_ascii=False),
                   "users": json.dumps([m.user.screen_name for m in members],
                                       ensure_ascii=False)}
        out.append((float(rep.created), ev, private))
    for k in range(48):
        for call in world.calls(t0 + (k + 1) * 1800, 1800):
            lon, lat, district, road = (call.lon, call.lat, "", "") if call.lon else \
                seg_point(world, rnd)
            ev = RoadEvent(
                id=f"hotline:{call.key}", kind="report", category=category(call.kind),
                severity=2, source="hotline", observed_at=dt(call.created), lon=lon, lat=lat,
                district=district, road_names=(road,) if road else (),
                text=mask_text(call.content)[:280], attrs={"place": call.place})
            out.append((float(call.created), ev, {"phone": call.phone, "caller": call.caller,
                                                  "content": call.content}))
    return sorted(out, key=lambda x: (x[0], x[1].id))


def category(kind: str) -> str:
    from dashboard.model import CATEGORIES
    return kind if kind in CATEGORIES else "other"


def works_events(world: World, t: float) -> list[RoadEvent]:
    """The roadworks visible at t, as WZDx construction events ending at their end."""
    out = []
    for w in world.works(t):
        ch = world.city.chains[w.chain]
        line = tuple(tuple(p) for p in ch.slice(w.m0, w.m1))
        lon, lat = ch.point_at((w.m0 + w.m1) / 2)
        out.append(RoadEvent(
            id=f"wzdx:{w.key}", kind="construction", category=category("roadworks"),
            severity=2 if w.closed < w.lanes else 4, source="wzdx", observed_at=dt(w.announced),
            lon=lon, lat=lat, line=line, road_names=(ch.road, w.from_cross, w.to_cross),
            starts_at=dt(w.start), ends_at=dt(w.end), text=f"{w.work_zh}施工",
            status="active", attrs={"impact": w.impact, "lanes_closed": w.closed}))
    return out


class MemoNetwork:
    """The road network with ``match_line`` memoised: Amap sends the same polylines every
    poll, and matching them again is what makes replaying a day slow (the result is the
    same; only the bench's CPU time changes)."""

    def __init__(self, network):
        self._net = network
        self._lines: dict = {}

    def __getattr__(self, name):
        return getattr(self._net, name)

    def match_line(self, coords, max_m: float = 60.0) -> list[str]:
        key = (tuple(map(tuple, coords)), max_m)
        if key not in self._lines:
            self._lines[key] = self._net.match_line(coords, max_m)
        return self._lines[key]


def simulate_day(r: redis.Redis, url: str, network, log, minutes: int = 24 * 60) -> dict:
    """One simulated day of the demo city written through the Store; returns rates,
    memory by group (after the day) and INFO used_memory before/after."""
    prefix = f"lkbench{uuid.uuid4().hex[:8]}"
    settings = load_settings(env={}, redis_url=url, key_prefix=prefix)
    store = Store.from_settings(r, settings)
    keys = store.keys
    world = World(network, settings.sim_seed, "normal")
    t0 = day_start(SIM_DAY)
    rnd = random.Random(7)
    waze, amap = WazeAdapter(), AmapAdapter()
    every_seg = frozenset(range(len(world.city.segs)))
    memo = MemoNetwork(network)
    officer = User("bench-officer", "officer")
    reports = report_events(world, t0, rnd)
    rates = {"waze_events": set(), "amap_events": set(), "report_events": set(),
             "hotline_events": set(), "works_events": set(), "congestion_changed": 0,
             "congestion_writes": 0, "dispatch_incidents": 0, "audit_entries": 0,
             "quarantined": 0}
    open_incidents: dict[str, str] = {}   # waze event id -> incident id
    before = used_memory(r)
    started = time.perf_counter()
    ri = 0
    try:
        for minute in range(minutes):
            t = t0 + minute * 60
            now_dt = dt(t)
            # Waze (every 10 s upstream; its file changes once a minute): the real adapter
            payloads = [(waze, formats.waze_feed(world, t), "waze", True)]
            # Amap: the evaluation (area gauges) every minute; the road list (congestion
            # events for jammed stretches) every 5 minutes, as its map matching costs
            # ~0.7 s of CPU a poll; the segment levels Amap reports are written every
            # minute below, straight from the world
            payloads.append((amap, formats.amap_status(
                world, t, every_seg, "all" if minute % 5 == 0 else "base", 5), "amap",
                minute % 5 == 0))
            for adapter, payload, feed, snapshot in payloads:
                ctx = ParseContext(network=memo, bbox=settings.city_bbox, now=now_dt,
                                   feed=feed, match_max_m=settings.match_max_m)
                res = adapter.parse(json.dumps(payload, ensure_ascii=False).encode(), ctx)
                res = adapter.merge(res, store, ctx)
                for rej in res.rejected:
                    store.quarantine(feed, rej.reason, rej.raw, rej.ref)
                    rates["quarantined"] += 1
                ended = ended_copies(store, f"{feed}:", res.snapshot_kinds,
                                     res.snapshot_ids or set(), t) \
                    if snapshot and res.snapshot_ids is not None else []
                store.upsert_events(res.events + ended, ttl_s=adapter.ttl_s, now=t)
                rates[f"{feed}_events"].update(e.id for e in res.events)
                if res.congestion and feed == "waze":
                    changed, _ = store.set_congestion(res.congestion, now=t)
                    rates["congestion_changed"] += changed
                    rates["congestion_writes"] += len(res.congestion)
                for metric, when, value in res.gauges:
                    store.record_gauge(metric, when, value)
                if feed == "waze":
                    dispatch(r, keys, officer, res.events, ended, open_incidents, t, rates)
            levels = world.levels(t)
            changed, _ = store.set_congestion(
                [(s.id, lvl, round(world.speed(s, lvl, t), 1) if lvl else None, "amap", t)
                 for s, lvl in zip(world.city.segs, levels)], now=t)
            rates["congestion_changed"] += changed
            rates["congestion_writes"] += len(levels)
            while ri < len(reports) and reports[ri][0] <= t:
                _, ev, private = reports[ri]
                store.upsert_events([ev], now=t)
                store.put_private({ev.id: private})
                rates["hotline_events" if ev.source == "hotline" else "report_events"].add(ev.id)
                ri += 1
            if minute % 60 == 0:     # WZDx every 60 s upstream; unchanged records are duplicates
                works = works_events(world, t)
                store.upsert_events(works, now=t)
                rates["works_events"].update(e.id for e in works)
            if minute % 60 == 30 and rates["quarantined"] < QUARANTINE_PER_DAY:
                raw = ("{" + "x" * (QUARANTINE_RAW_BYTES - 2) + "}").encode()
                for _ in range(2):
                    store.quarantine("weibo", "invalid event: bench placeholder", raw,
                                     f"bench:{minute}")
                    rates["quarantined"] += 1
            record_congestion_index(store, network, stale_s=900, now=t)
            store.expire_active(now=t)
            for feed in FEEDS:
                store.update_feed_health(feed, {"polls": 1, "accepted": 10},
                                         last_ok=f"{t:.0f}", last_batch_ms="12",
                                         last_count="10")
            if minute % 240 == 239:
                log(f"  simulated {minute + 1} min in {time.perf_counter() - started:.0f} s")
        elapsed = time.perf_counter() - started
        mem = memory_by_group(r, keys)
        after = used_memory(r)
        day_keys = {"ts": len([k for k in r.scan_iter(match=keys.base + "ts:*", count=1000)]),
                    "changes_len": int(r.xlen(keys.changes())),
                    "audit_len": int(r.xlen(keys.audit())),
                    "events_hashes": mem["events"]["keys"],
                    "ts_bytes_by_kind": ts_bytes(r, keys)}
    finally:
        drop(r, keys)
    cleaned = used_memory(r)
    counts = {k: (len(v) if isinstance(v, set) else v) for k, v in rates.items()}
    return {"segments": len(world.city.segs), "rates": counts, "memory": mem,
            "used_before": before, "used_after": after, "used_cleaned": cleaned, "elapsed_s": elapsed, **day_keys}


def ts_bytes(r: redis.Redis, keys: Keys) -> dict[str, int]:
    """Bytes of the day's time series keys: event counters (new:*) vs gauges."""
    out = {"counters": 0, "gauges": 0}
    for k in r.scan_iter(match=keys.base + "ts:*", count=1000):
        name = k[len(keys.base) + 3:]
        out["counters" if name.startswith("new:") else "gauges"] += key_bytes(r, k)
    return out


def dispatch(r, keys: Keys, officer: User, events, ended, open_incidents: dict[str, str],
             t: float, rates: dict) -> None:
    """Every new Waze incident alert becomes a dispatch incident (create, acknowledge,
    verify); it is cleared when the alert ends."""
    for ev in events:
        if ev.kind != "incident" or ev.id in open_incidents:
            continue
        res = incidents.create_from_event(r, keys, officer, ev.id, now=t)
        incidents.acknowledge(r, keys, officer, res.incident_id, now=t + 30)
        incidents.transition(r, keys, officer, res.incident_id, "verified", now=t + 45)
        open_incidents[ev.id] = res.incident_id
        rates["dispatch_incidents"] += 1
        rates["audit_entries"] += 3
    for ev in ended:
        inc_id = open_incidents.pop(ev.id, None)
        if inc_id:
            incidents.transition(r, keys, officer, inc_id, "cleared", now=t)
            rates["audit_entries"] += 1


# -- part 2: growth with the network size --------------------------------------------------------
def ms(samples: list[float]) -> float:
    return round(statistics.fmean(samples) * 1000, 2)


def levels_for(ids: list[str], rnd: random.Random, t: float, old: dict[str, int] | None = None,
               share: float = 1.0) -> list[tuple[str, int, float | None, str, float]]:
    """Congestion tuples like Amap's: every segment (share 1) or a share of them."""
    picks = ids if share >= 1 else rnd.sample(ids, max(1, int(len(ids) * share)))
    out = []
    for s in picks:
        lvl = rnd.choices((1, 2, 3, 4), (80, 12, 6, 2))[0]
        if old is not None:
            old[s] = lvl
        out.append((s, lvl, round(rnd.uniform(5, 80), 1), "amap", t))
    return out


def growth(r: redis.Redis, url: str, name: str, network, change_per_min: float,
           sample_minutes: int, log) -> dict:
    prefix = f"lkbench{uuid.uuid4().hex[:8]}"
    settings = load_settings(env={}, redis_url=url, key_prefix=prefix)
    store = Store.from_settings(r, settings)
    keys = store.keys
    ids = [str(s) for s in network.segments.index]
    n = len(ids)
    rnd = random.Random(11)
    t0 = day_start(SIM_DAY)
    out: dict = {"name": name, "segments": n}
    try:
        current: dict[str, int] = {}
        t = time.perf_counter()
        store.set_congestion(levels_for(ids, rnd, t0, current), now=t0)
        out["first_full_ms"] = round((time.perf_counter() - t) * 1000, 1)
        full, one = [], []
        for i in range(5):
            batch = levels_for(ids, rnd, t0 + i, current)
            t = time.perf_counter()
            store.set_congestion(batch, now=t0 + i)
            full.append(time.perf_counter() - t)
        for i in range(20):
            batch = levels_for(ids, rnd, t0 + i, current, share=0.01)
            t = time.perf_counter()
            store.set_congestion(batch, now=t0 + i)
            one.append(time.perf_counter() - t)
        out["full_ms"], out["one_pct_ms"] = ms(full), ms(one)
        out["congestion_bytes"] = key_bytes(r, keys.congestion())
        t = time.perf_counter()
        for _ in range(3):
            store.congestion_snapshot(now=t0)
        out["snapshot_read_ms"] = round((time.perf_counter() - t) / 3 * 1000, 1)
        t = time.perf_counter()
        for i in range(3):
            record_congestion_index(store, network, now=t0 + i)
        out["index_ms"] = round((time.perf_counter() - t) / 3 * 1000, 1)
        # the changes stream: sample minutes of full updates at the demo's change rate
        r.delete(keys.changes())
        p = min(1.0, change_per_min)
        for m in range(sample_minutes):
            now = t0 + 3600 + m * 60
            batch = []
            for s in ids:
                lvl = current[s]
                if rnd.random() < p:
                    lvl = 1 + (lvl % 4)
                    current[s] = lvl
                batch.append((s, lvl, 30.0, "amap", now))
            store.set_congestion(batch, now=now)
        entries = int(r.xlen(keys.changes()))
        per_min = entries / sample_minutes
        day_entries = min(per_min * 1440, settings.changes_maxlen)
        # bytes per entry, from a stream long enough that its fixed overhead does not count:
        # 2,000 one-segment level changes through set_congestion (one entry each)
        r.delete(keys.changes())
        for i in range(2000):
            s = ids[i % n]
            current[s] = 1 + (current[s] % 4)
            store.set_congestion([(s, current[s], 30.0, "amap", t0 + 7200 + i)],
                                 now=t0 + 7200 + i)
        long_len = int(r.xlen(keys.changes()))
        per_entry = key_bytes(r, keys.changes()) / long_len
        out.update(changes_sample_entries=entries, changes_per_min=round(per_min, 2),
                   changes_day_entries=int(day_entries),
                   changes_bytes_per_entry=round(per_entry, 1),
                   changes_day_bytes=int(day_entries * per_entry),
                   batches=-(-n // BATCH_SIZE))
        # a day of the per-minute congestion-index gauges (cidx and ckm per area)
        areas = ["city", *sorted({str(d) for d in network.segments["district"].dropna()})]
        for m in range(24 * 60):
            when = t0 + m * 60
            pipe = r.pipeline(transaction=False)
            for area in areas:
                for metric in ("cidx", "ckm"):
                    pipe.hset(keys.ts(f"{metric}:{area}", dt(when).date()),
                              dt(when).strftime("%H%M"), f"{rnd.random():.4f}")
            pipe.execute()
        out["ts_day_bytes"] = sum(key_bytes(r, k) for k in
                                  r.scan_iter(match=keys.base + "ts:*", count=1000))
        out["areas"] = len(areas)
    finally:
        drop(r, keys)
    log(f"  {name}: {json.dumps(out, ensure_ascii=False)}")
    return out


def wall_first_display() -> dict[int, str]:
    """segments -> "mean / p95 ms" of the changed-version first display, read from the
    "## Wall refresh" section of RESULTS.md (bench/bench_wall.py)."""
    text = common.RESULTS.read_text(encoding="utf-8") if common.RESULTS.exists() else ""
    m = re.search(r"^## Wall refresh\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    out: dict[int, str] = {}
    if not m:
        return out
    measured = re.search(r"Measured (\S+ \S+) UTC", m.group(1))
    for row in m.group(1).splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[1].replace(",", "").isdigit() and "/" in cells[3]:
            out[int(cells[1].replace(",", ""))] = cells[3]
    if measured:
        out[0] = measured.group(1)
    return out


# -- the report -------------------------------------------------------------------------------
def kb(b: float) -> str:
    return f"{b / 1024:,.1f} KB" if b < 1024 * 1024 else f"{b / 1024 / 1024:,.2f} MB"


def markdown(machine: str, day: dict, sizes: list[dict], wall: dict[int, str],
             maxlen: int, qmax: int, ttl_days: float, elapsed: float) -> str:
    rt, mem = day["rates"], day["memory"]
    total = sum(g["bytes"] for g in mem.values())
    # week steady state: event hashes, private hashes and event counters live 7 days
    # (event_ttl_s); gauges and counters 40 days; the changes stream is capped; the audit
    # stream and dispatch incidents are never trimmed (grow without bound)
    week = {}
    for g, v in mem.items():
        b = v["bytes"]
        if g in ("events", "private (personal data)"):
            b *= ttl_days
        elif g == "time series":
            b *= 7
        elif g == "changes stream":
            b = b * min(7.0, maxlen / max(1, day["changes_len"]))
        elif g in ("audit", "dispatch incidents"):
            b *= 7
        week[g] = b
    week_total = sum(week.values())
    lines = [
        SECTION, "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/bench_scale.py` "
        f"({elapsed:.0f} s in all).",
        machine, "",
        "### One day of the demo city (泰安, "
        f"{day['segments']:,} segments)", "",
        "Rates are those of the demo simulator's world (`feeds/sim/world.py`, seed 20261001, "
        "scenario normal, the weekday 2026-11-18), replayed minute by minute through the real "
        "`Store` with `now=` (no sleeping). Waze payloads are built by the simulator's own "
        "formats and parsed by the real adapter every simulated minute (its file changes once "
        "a minute); Amap's evaluation (area gauges) likewise every minute and its road list "
        "(congestion events) every 5 minutes, with map matching memoised; **every** "
        "segment's level, as the world gives it to Amap, is written with `set_congestion` "
        "every minute (Waze's jam segments too); Weibo posts are folded "
        "into one report event per incident/jam they are about (the adapter's clusters, "
        "approximated), 122 calls are one report each with their personal data in "
        "`private:*`; roadworks are WZDx construction events re-sent hourly; the congestion "
        "index (`cidx`/`ckm` per area) is recorded every minute; every Waze incident becomes "
        "a dispatch incident (create, acknowledge, verify, clear = 4 audit entries). "
        f"Quarantine: the simulator sends no malformed records, so {QUARANTINE_PER_DAY} "
        f"placeholder records of {QUARANTINE_RAW_BYTES // 1024} KB a day are written.", "",
        "| what, per day | count |", "| --- | ---: |",
        f"| Waze events (incident alerts, jams, irregularities; distinct ids) | "
        f"{rt['waze_events']:,} |",
        f"| of which dispatch incidents (one per Waze incident alert) | "
        f"{rt['dispatch_incidents']:,} |",
        f"| Amap congestion events (jammed road stretches; distinct ids) | "
        f"{rt['amap_events']:,} |",
        f"| Weibo report events (clusters) | {rt['report_events']:,} |",
        f"| 122 hotline report events | {rt['hotline_events']:,} |",
        f"| roadworks (construction events visible) | {rt['works_events']:,} |",
        f"| congestion segment writes (Amap all segments + Waze jam segments, per minute) | "
        f"{rt['congestion_writes']:,} ({rt['congestion_writes'] / 1440:,.0f} a minute) |",
        f"| of which level changes | {rt['congestion_changed']:,} "
        f"({rt['congestion_changed'] / 1440:.1f} a minute) |",
        f"| changes stream entries (events + one per 500-segment batch with a change) | "
        f"{day['changes_len']:,} (cap {maxlen:,}) |",
        f"| audit entries | {rt['audit_entries']:,} |",
        f"| quarantined records | {rt['quarantined']:,} |", "",
        "Memory by key group (MEMORY USAGE … SAMPLES 0, summed over the prefix). *Day*: "
        "measured after the simulated day. *Week*: computed from the day: event and private "
        f"hashes live {ttl_days:g} days after their last write (`event_ttl_s`), so a week "
        "holds 7 days of them; time-series keys live 40 days (7 days in a week, 40 in the "
        "steady state); the changes stream is capped at `changes_maxlen`; the audit stream "
        "and dispatch incidents are never trimmed (7 × a day per week, growing for ever).", "",
        "| key group | keys (day) | day | week (computed) |", "| --- | ---: | ---: | ---: |"]
    for g in GROUPS:
        v = mem[g]
        if v["keys"] or week[g]:
            lines.append(f"| {g} | {v['keys']:,} | {kb(v['bytes'])} | {kb(week[g])} |")
    lines += [f"| **total** | {sum(v['keys'] for v in mem.values()):,} | **{kb(total)}** | "
              f"**{kb(week_total)}** |", "",
              f"Time series split (day): event counters `new:*` {kb(day['ts_bytes_by_kind']['counters'])}"
              f", gauges (congestion index, Amap evaluation) "
              f"{kb(day['ts_bytes_by_kind']['gauges'])}; {day['ts']} keys. The 40-day steady "
              f"state of time series is about {kb(mem['time series']['bytes'] * 40)}.",
              f"Cross-check, INFO used_memory: {kb(day['used_before'])} before, "
              f"{kb(day['used_after'])} after the day (+{kb(day['used_after'] - day['used_before'])}), "
              f"{kb(day['used_cleaned'])} after deleting the keys"
              "; the server is shared with other work, so this is indicative only).", "",
              "### Growth with the network size", "",
              "Per network: the congestion hash after a full update; one full congestion update "
              "(`set_congestion` of every segment, 500 per Lua call, one pipeline) and a 1 % "
              "update (mean of 5 and 20 calls, client-side wall time); reading the snapshot "
              "(HGETALL + parsing); the per-minute congestion index "
              "(`record_congestion_index`). The changes stream of a day is extrapolated from "
              f"{sizes[0]['sample_minutes']} sampled minutes of full updates at the demo's per-segment change rate "
              "(entries a minute × 1,440, capped at `changes_maxlen`, × measured bytes per "
              "entry); the time series are a day of `cidx`/`ckm` gauges per area. "
              "Wall: the first display of a changed version (mean / p95), cited from "
              f"\"## Wall refresh\" (bench/bench_wall.py, measured {wall.get(0, '—')} UTC), "
              "not measured again.", "",
              "| network | segments | congestion hash | changes stream from congestion, a day (entries) | "
              "time series, a day | full update | 1 % update | snapshot read | index "
              "a minute | wall first display |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in sizes:
        lines.append(
            f"| {s['name']} | {s['segments']:,} | {kb(s['congestion_bytes'])} | "
            f"{kb(s['changes_day_bytes'])} ({s['changes_day_entries']:,}) | "
            f"{kb(s['ts_day_bytes'])} ({s['areas']} areas) | {s['full_ms']:.1f} ms | "
            f"{s['one_pct_ms']:.2f} ms | {s['snapshot_read_ms']:.1f} ms | "
            f"{s['index_ms']:.1f} ms | {wall.get(s['segments'], 'not in RESULTS.md')} ms |")
    lines += ["", "Per 1,000 segments (each size's figure ÷ its thousands of segments; the last "
              "column is the slope between the two largest sizes):", "",
              "| what | " + " | ".join(s["name"] for s in sizes) + " | slope |",
              "| --- |" + " ---: |" * (len(sizes) + 1)]

    def per_k(label: str, f, unit: str, fmt: str) -> None:
        vals = [f(s) / (s["segments"] / 1000) for s in sizes]
        a, b = sizes[-2], sizes[-1]
        slope = (f(b) - f(a)) / ((b["segments"] - a["segments"]) / 1000)
        lines.append(f"| {label} | " + " | ".join(f"{v:{fmt}} {unit}" for v in vals)
                     + f" | {slope:{fmt}} {unit} |")
    per_k("congestion hash", lambda s: s["congestion_bytes"] / 1024, "KB", ",.1f")
    per_k("changes stream from congestion, a day", lambda s: s["changes_day_bytes"] / 1024, "KB", ",.1f")
    per_k("full update", lambda s: s["full_ms"], "ms", ".2f")
    per_k("snapshot read", lambda s: s["snapshot_read_ms"], "ms", ".2f")
    per_k("congestion index", lambda s: s["index_ms"], "ms", ".2f")
    big = sizes[-1]
    city_day = total - mem["congestion"]["bytes"] - mem["changes stream"]["bytes"] \
        + big["congestion_bytes"] + big["changes_day_bytes"]
    city_week = week_total - mem["congestion"]["bytes"] - week["changes stream"] \
        + big["congestion_bytes"] + min(big["changes_bytes_per_entry"] * maxlen,
                                        big["changes_day_bytes"] * 7)
    n_cities = 16
    busy = n_cities * big["full_ms"] / 60_000
    lines += ["", "Reading:", "",
              f"- Memory of a day at the demo's rates is {kb(total)}; a week {kb(week_total)}. "
              "Largest in the week: " + ", ".join(f"{g} {kb(week[g])}" for g in
                                                   sorted(week, key=week.get, reverse=True)[:4])
              + ". The event hashes (7-day TTL) and the "
              "time series (40-day TTL) are what grows with time, the congestion hash and the "
              "capped changes stream are what grows with the network.",
              f"- Linear in segments: the congestion hash "
              f"(~{big['congestion_bytes'] / big['segments'] * 1000 / 1024:,.0f} KB per 1,000 "
              "segments), a full update, the snapshot read and the index (per 1,000 segments "
              "table). The changes stream grows with the number of 500-segment batches that "
              "see a change each minute, until it reaches `changes_maxlen` "
              f"({maxlen:,} entries ≈ {kb(big['changes_bytes_per_entry'] * maxlen)} of "
              "congestion-only entries, ≈ "
              f"{kb(mem['changes stream']['bytes'] / max(1, day['changes_len']) * maxlen)} in the "
              "demo day's mix of entries). Events, audit and time series follow the incident "
              "rate, not the network size.",
              f"- Province, {n_cities} cities × {big['segments']:,} segments on one shard: about "
              f"{kb(city_day * n_cities)} after a day and {kb(city_week * n_cities)} in the week "
              f"steady state (this city's events and time series, the {big['segments']:,}-"
              f"segment congestion hash and changes stream, × {n_cities}) — memory is not the first limit. The first limit "
              "is the single Redis thread: every congestion write is a Lua call that blocks the "
              f"server; {n_cities} full updates a minute take ≈ {busy:.0%} of a minute by this "
              "client-side measure (an upper bound on server time), Amap polled every 30 s "
              "doubles it, and each city's index computation (HGETALL of the whole hash, "
              f"{big['index_ms']:.0f} ms at {big['segments']:,} segments) adds reads. Over "
              "months the audit stream and dispatch incidents, never trimmed, set the memory: "
              f"{kb((mem['audit']['bytes'] + mem['dispatch incidents']['bytes']) * 365)} a city "
              f"a year, {kb((mem['audit']['bytes'] + mem['dispatch incidents']['bytes']) * 365 * n_cities)}"
              f" for {n_cities} cities; the 40-day time series add "
              f"{kb(mem['time series']['bytes'] * 40 * n_cities)}. A "
              "Redis Cluster spreads cities over shards (every key carries the `{city}` hash "
              "tag, so each city's scripts stay in one slot); per city the load stays the same, "
              "so a cluster removes the shared-thread limit but not a single city's.",
              f"- Wall: the first display of a changed version grows from "
              f"{wall.get(sizes[0]['segments'], '?')} ms to {wall.get(big['segments'], '?')} ms "
              "(mean / p95); it is built once per version and shared, so it bounds the "
              "refresh rate per city, not per display.", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", default=os.environ.get("LUKUANG_BENCH_REDIS_URL",
                                                      "redis://127.0.0.1:6379/14"))
    ap.add_argument("--sizes", default="5000,20000")
    ap.add_argument("--sample-minutes", type=int, default=60,
                    help="minutes of full updates sampled for the changes stream")
    ap.add_argument("--day-minutes", type=int, default=24 * 60,
                    help="simulated minutes of the demo day (shorter only while developing)")
    args = ap.parse_args(argv)
    r = redis.Redis.from_url(args.redis, decode_responses=True)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {msg}", file=sys.stderr, flush=True)

    settings = load_settings(env={}, redis_url=args.redis)
    demo = load_network(default_network_dir() / "roads.geojson")
    log("one simulated day of the demo city")
    day = simulate_day(r, args.redis, demo, log, args.day_minutes)
    log(f"  day: {json.dumps({k: v for k, v in day.items() if k != 'memory'})}")
    change_rate = day["rates"]["congestion_changed"] / args.day_minutes / day["segments"]
    sizes = [growth(r, args.redis, "demo (泰安)", demo, change_rate, args.sample_minutes, log)]
    tmp = Path(tempfile.mkdtemp(prefix="lkbenchscale"))
    try:
        for n in [int(x) for x in args.sizes.split(",") if x]:
            log(f"grid {n:,}")
            roads = grid_network(n, tmp / str(n) / NETWORK_SUBDIR)
            sizes.append(growth(r, args.redis, f"grid {n:,}", load_network(roads), change_rate,
                                args.sample_minutes, log))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for s in sizes:
        s["sample_minutes"] = args.sample_minutes
    text = markdown(common.machine_line(r.info("server")), day, sizes, wall_first_display(),
                    settings.changes_maxlen, settings.quarantine_maxlen,
                    settings.event_ttl_s / 86400, time.perf_counter() - started)
    common.write_section(SECTION, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
