"""The demo's first minutes: 8 days of simulated congestion index history.

A fresh demo's trend chart (拥堵指数 · 24 h, with its "last week" line) would stay empty for a
day, and its week comparison for a week. At the demo's first start the runner fills the last
``BACKFILL_DAYS`` days instead, from the simulator's own world (``feeds.sim.world``: the
traffic it serves live is a pure function of time, so its past is known): every ``STEP_S``
the levels of the segments the demo's Amap feed covers, the index computed as housekeeping
computes it (``dashboard.congestion.congestion_index``) and written through the store's
own ``Store.record_gauge``, its commands queued on one pipeline (seconds, not minutes).

Only for the demo: the demo city, its network, its simulated feeds (no ``[feeds.*]``
configured), ``demo_backfill`` on; and only into a store with no index history yet. The range
written is recorded in ``keys.history_simulated()`` (a chart may mark it as simulated); that
marker also makes a second start do nothing.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from dashboard.congestion import congestion_index
from dashboard.settings import DEMO_CITY, Settings
from dashboard.storage.store import Store

log = logging.getLogger("lukuang.feeds.backfill")

BACKFILL_DAYS = 8
STEP_S = 600                 # one value per 10 minutes: the chart plots 10-minute means
MARKER_TTL_S = 40 * 86400    # as long as the series themselves (Store.record_gauge)
SEND_EVERY = 20_000          # commands per round trip


def refusal(settings: Settings, network_path: Path | None = None) -> str | None:
    """Why the backfill must not run for these settings (None: it may). ``network_path``:
    the active network's file (default: looked up from the state dir)."""
    from dashboard.roads.network import active_network_path, default_network_dir

    if not settings.demo:
        return "not the demo"
    if not settings.demo_backfill:
        return "demo_backfill is off"
    if settings.city != DEMO_CITY:
        return f"city {settings.city!r} is not the demo city"
    if settings.feeds:
        return "feeds are configured: not the simulated upstream"
    path = network_path or active_network_path(settings.state_dir)
    if Path(path).resolve().parent != default_network_dir().resolve():
        return f"the active network {path} is not the demo network"
    return None


def has_history(store: Store, now: float, days: int = BACKFILL_DAYS) -> bool:
    """Whether the city's index has any value in the last ``days`` days."""
    from datetime import datetime, timedelta, timezone

    end = datetime.fromtimestamp(now, timezone.utc) + timedelta(minutes=1)
    return bool(store.timeseries("cidx:city", end - timedelta(days=days), end, 24 * 60,
                                 "last"))


class _Queued:
    """Stands in for the store's client during the backfill: each ``pipeline()`` the store
    opens is this object, whose commands queue on one real pipeline, sent every
    ``every`` commands and by ``flush`` instead of once per call."""

    def __init__(self, r: Any, every: int = SEND_EVERY):
        self._pipe = r.pipeline(transaction=False)
        self._every = every

    def pipeline(self, transaction: bool = False) -> "_Queued":  # noqa: ARG002
        return self

    def __getattr__(self, name: str) -> Any:   # hset, expire, …: queued on the pipeline
        return getattr(self._pipe, name)

    def execute(self) -> list[Any]:
        if len(self._pipe) >= self._every:
            self._pipe.execute()
        return []

    def flush(self) -> None:
        if len(self._pipe):
            self._pipe.execute()


def amap_segments(world: Any) -> list[Any]:
    """The simulator's segments that the demo's Amap feed asks about (its rectangle)."""
    from dashboard.roads.geo import gcj02_to_wgs84

    from .config import DEMO_AMAP_RECTANGLE
    from .sim.formats import in_rectangle

    (x0, y0), (x1, y1) = (gcj02_to_wgs84(*map(float, p.split(",")))
                          for p in DEMO_AMAP_RECTANGLE.split(";"))
    box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    chosen = in_rectangle(world, box)
    return [s for s in world.city.segs if s.idx in chosen] or list(world.city.segs)


def simulated_index(world: Any, network: Any, start: float, end: float,
                    step_s: int = STEP_S):
    """(t, {area: {"index", "congested_km", "observed_km"}}) every ``step_s`` in [start, end)."""
    segs = network.segments
    lengths = segs["length_m"].to_dict()
    districts = segs["district"].fillna("").to_dict() if "district" in segs else {}
    covered = amap_segments(world)
    t = start
    while t < end:
        levels = world.levels(t)
        snapshot = {s.id: {"level": levels[s.idx]} for s in covered}
        yield t, congestion_index(snapshot, lengths, districts)
        t += step_s


def plan_backfill(settings: Settings, store: Store, now: float | None = None,
                  network_path: Path | None = None) -> tuple[float, float] | None:
    """Decide, and claim in the store, the span to fill: (start, end) or None when it must
    not run (logged why). Call it before the live index records its first minute."""
    reason = refusal(settings, network_path)
    if reason:
        log.debug("no simulated history: %s", reason)
        return None
    now = time.time() if now is None else now
    marker = store.keys.history_simulated()
    if store.r.exists(marker):
        log.debug("simulated history already written: %s", store.r.hgetall(marker))
        return None
    if has_history(store, now):
        log.info("no simulated history: the congestion index already has history")
        return None
    if not store.r.hsetnx(marker, "claimed_at", f"{now:.0f}"):   # another runner is at it
        return None
    store.r.expire(marker, MARKER_TTL_S)
    end = now - now % STEP_S          # the live index takes over from here
    return end - BACKFILL_DAYS * 86400, end


def write_backfill(settings: Settings, store: Store, network: Any,
                   span: tuple[float, float], world: Any = None,
                   stop: Any = None) -> dict[str, str]:
    """Write the simulated index over ``span`` (from ``plan_backfill``) through
    ``Store.record_gauge``, pipelined, and record the range in the marker. ``stop`` (an
    event) ends it early: the marker then holds the range actually written. Returns the
    marker's fields."""
    started = time.monotonic()
    if world is None:
        from .sim import build_world

        world = build_world(settings.sim_seed, network=network)
    queued = _Queued(store.r)
    batch = replace(store, r=queued)
    metrics: set[str] = set()
    points, start, end = 0, span[0], span[0]
    for t, result in simulated_index(world, network, span[0], span[1]):
        if stop is not None and stop.is_set():
            break
        for area, v in result.items():
            batch.record_gauge(f"cidx:{area}", t, v["index"])
            batch.record_gauge(f"ckm:{area}", t, v["congested_km"])
            metrics.update((f"cidx:{area}", f"ckm:{area}"))
        points, end = points + 1, t + STEP_S
    queued.flush()
    marker = store.keys.history_simulated()
    fields = {"from": f"{start:.0f}", "to": f"{end:.0f}", "step_s": str(STEP_S),
              "metrics": ",".join(sorted(metrics)), "points": str(points),
              "source": f"simulator seed {settings.sim_seed}",
              "written_at": f"{time.time():.0f}"}
    store.r.hset(marker, mapping=fields)
    store.r.expire(marker, MARKER_TTL_S)
    log.info("demo: %.1f days of simulated congestion index history written (%d points, %d "
             "series) in %.1f s; marked simulated in %s", (end - start) / 86400, points,
             len(metrics), time.monotonic() - started, marker)
    return store.r.hgetall(marker)


def backfill_demo_history(settings: Settings, store: Store, network: Any,
                          now: float | None = None, world: Any = None,
                          network_path: Path | None = None) -> dict[str, str] | None:
    """Plan and write at once: the marker's fields, or None when it did not run."""
    span = plan_backfill(settings, store, now, network_path)
    return write_backfill(settings, store, network, span, world) if span else None
