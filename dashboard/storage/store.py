"""The Redis store: idempotent batched writes and the reads the pages use.

Every write goes through a Lua script (check and write in one step) and every batch
through one pipeline. The connection and the key builder are passed in.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any, Iterable, Sequence

import logging

import redis
from redis.sentinel import SentinelConnectionPool

from dashboard.storage.keys import KINDS, Keys
from dashboard.model import RoadEvent
from dashboard.storage.redis_compat import node_of, run_script, still_on
from dashboard.settings import Settings

log = logging.getLogger(__name__)
BATCH_SIZE = 500
DEFAULT_TTL_S = {"incident": 2 * 3600, "report": 3600, "congestion": 900,
                 "construction": 7 * 86400}
# congestion fusion defaults (see lua/set_congestion.lua and Settings.congestion_*)
CONGESTION_SOURCES = ("amap", "waze")  # best first; an unlisted source ranks last
CONGESTION_FRESH_S = 300
CONGESTION_CONFIRM = 2
CONGESTION_LEVELS = (0, 1, 2, 3, 4)  # 未知, 畅通, 缓行, 拥堵, 严重拥堵 (Amap's scale)
HEALTH_COUNTERS = ("accepted", "duplicates", "quarantined", "updated", "ended", "polls",
                   "errors")
# a rejected record re-sent within this time is a duplicate, not quarantined again
QUARANTINE_REPEAT_TTL_S = 24 * 3600
# a feed whose records are quarantined at this share or more (and at least this many) is not
# "ok" on the feeds page or in doctor
QUARANTINE_WARN_SHARE = 0.2
QUARANTINE_WARN_MIN = 10


def quarantine_share(health: dict[str, str]) -> float | None:
    """The share of a feed's records that were quarantined (its health hash), or None when
    it has had too few rejects to say (fewer than QUARANTINE_WARN_MIN)."""
    def num(name: str) -> int:
        try:
            return int(health.get(name) or 0)
        except (TypeError, ValueError):
            return 0
    bad = num("quarantined")
    if bad < QUARANTINE_WARN_MIN:
        return None
    return bad / max(1, bad + num("accepted") + num("duplicates"))


# automatic WAIT (Store.replicas_to_wait): how often a store without replicas looks again
AUTO_WAIT_RECHECK_S = 30.0


def replica_count(r: Any) -> tuple[int, str]:
    """The replicas of the master behind ``r`` and where that came from: the replicas the
    sentinels list for it (any state) behind Sentinel, the master's connected replicas
    otherwise; (0, why) on a Cluster, which this does not look into."""
    from redis.cluster import RedisCluster

    if isinstance(r, RedisCluster):
        return 0, "a Redis Cluster (automatic waiting covers single servers and Sentinel)"
    pool = getattr(r, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:
            try:
                listed = sentinel.sentinel_slaves(pool.service_name)
            except redis.RedisError:
                continue
            return len(listed), (f"the sentinels list {len(listed)} replica(s) of "
                                 f"{pool.service_name!r}")
    n = int(r.info("replication").get("connected_slaves", 0) or 0)
    return n, f"the master reports {n} connected replica(s)"


def _script(name: str) -> str:
    return resources.files("dashboard.storage").joinpath(f"lua/{name}.lua").read_text()


class NotConfirmed(redis.RedisError):
    """The batch was written to the master but not confirmed by enough replicas in time."""


@dataclass
class BatchResult:
    """What one write did: counts per outcome, and the data version afterwards."""

    new: int = 0
    updated: int = 0
    duplicates: int = 0
    ended: int = 0
    version: int = 0

    def add(self, other: "BatchResult") -> None:
        self.new += other.new
        self.updated += other.updated
        self.duplicates += other.duplicates
        self.ended += other.ended
        self.version = max(self.version, other.version)

    @property
    def accepted(self) -> int:
        return self.new + self.updated + self.ended


@dataclass
class Store:
    """Reads and writes for one city. ``r`` is a decode_responses client."""

    r: redis.Redis
    keys: Keys
    changes_maxlen: int = 100_000
    quarantine_maxlen: int = 10_000
    event_ttl_s: int = 7 * 86400
    wait_replicas: int = 0      # -1: automatic (replicas_to_wait)
    wait_timeout_ms: int = 1000
    wait_aof: bool = False
    congestion_sources: tuple[str, ...] = CONGESTION_SOURCES
    congestion_fresh_s: int = CONGESTION_FRESH_S
    congestion_confirm: int = CONGESTION_CONFIRM
    _scripts: dict[str, Any] = field(default_factory=dict, repr=False)
    _auto_wait: tuple[int, str, float] | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, r: redis.Redis, settings: Settings) -> "Store":
        return cls(r, Keys(settings.key_prefix, settings.city),
                   changes_maxlen=settings.changes_maxlen,
                   quarantine_maxlen=settings.quarantine_maxlen,
                   event_ttl_s=settings.event_ttl_s, wait_replicas=settings.wait_replicas,
                   wait_timeout_ms=settings.wait_timeout_ms, wait_aof=settings.wait_aof,
                   congestion_sources=tuple(s.strip() for s in
                                            settings.congestion_sources.split(",") if s.strip()),
                   congestion_fresh_s=settings.congestion_fresh_s,
                   congestion_confirm=settings.congestion_confirm)

    def script(self, name: str):
        """The registered Lua script ``dashboard/storage/lua/<name>.lua`` (loaded once per store)."""
        if name not in self._scripts:
            self._scripts[name] = self.r.register_script(_script(name))
        return self._scripts[name]

    # -- writes -------------------------------------------------------------------------
    def _execute_confirmed(self, pipe) -> list[Any]:
        """Run ``pipe`` and acknowledge its writes only once they are durable.

        WAITAOF (fsynced to the local AOF) and, with ``wait_replicas``, WAIT (held by that many
        replicas, for Sentinel deployments) are queued at the end of the same pipeline: both
        wait for the offset of *this connection's* last write, so they must run on the
        connection that wrote. Returns the write commands' results.
        """
        extra = []
        # Cluster: WAIT/WAITAOF have no key, so name the master of this city's slot; the
        # cluster pipeline sends them on the same connection as that node's writes. If a
        # write was redirected (MOVED during a resharding or failover), redis-py redid it
        # on another node and connection that the WAIT did not cover: not confirmed.
        on_node = node_of(pipe, self.keys.version())
        if self.wait_aof:
            pipe.execute_command("WAITAOF", 1, 0, self.wait_timeout_ms, **on_node)
            extra.append("aof")
        replicas = self.replicas_to_wait()
        if replicas > 0:
            pipe.execute_command("WAIT", replicas, self.wait_timeout_ms, **on_node)
            extra.append("replicas")
        results = pipe.execute(raise_on_error=False)
        writes, confirms = results[:len(results) - len(extra)], results[len(results) - len(extra):]
        for res in writes:
            if isinstance(res, Exception):
                raise res
        if extra and not still_on(pipe, self.keys.version(), on_node):
            raise NotConfirmed("the city's slot moved to another node during the batch; "
                               "not confirmed (a retry counts the events as duplicates)")
        for what, res in zip(extra, confirms):
            if what == "aof":
                if isinstance(res, redis.ResponseError):
                    # no AOF on this server, or a server without WAITAOF: nothing to wait for
                    log.warning("not waiting for AOF fsync: %s", res)
                    self.wait_aof = False
                elif isinstance(res, Exception):
                    raise res
                elif int(res[0]) < 1:
                    raise NotConfirmed(f"batch not fsynced to the AOF within "
                                       f"{self.wait_timeout_ms} ms")
            else:
                if isinstance(res, Exception):
                    raise res
                if int(res) < replicas:
                    self._rediscover_master()
                    raise NotConfirmed(f"batch confirmed by {res} of {replicas} "
                                       f"replicas within {self.wait_timeout_ms} ms (written on "
                                       f"the master, not acknowledged; retrying it is safe)")
        return writes

    def replicas_to_wait(self) -> int:
        """How many replicas must hold each batch before it is acknowledged (WAIT N).

        ``wait_replicas`` when set (0 or more). Automatic (-1, LUKUANG_WAIT_REPLICAS unset):
        1 when the master has a replica — behind Sentinel, any replica the sentinels list
        for it (up or down: Sentinel never forgets one), else one the master reports
        connected — so an acknowledged batch is never held by a master alone that may die;
        0 otherwise (a Cluster too: set it there). Once 1 it stays 1 for this store (a
        replica that is away is an outage to wait out, not a reason to stop confirming);
        a 0 is checked again every AUTO_WAIT_RECHECK_S."""
        if self.wait_replicas >= 0:
            return self.wait_replicas
        now = time.monotonic()
        if self._auto_wait is None or (self._auto_wait[0] == 0
                                       and now - self._auto_wait[2] > AUTO_WAIT_RECHECK_S):
            n, why = replica_count(self.r)
            self._auto_wait = (1 if n > 0 else 0, why, now)
        return self._auto_wait[0]

    def describe_wait(self) -> str:
        """In plain words: how many replicas each batch waits for, and why (for doctor)."""
        n = self.replicas_to_wait()
        if self.wait_replicas >= 0:
            how = f"LUKUANG_WAIT_REPLICAS={self.wait_replicas}"
        else:
            how = f"automatic, LUKUANG_WAIT_REPLICAS unset: {self._auto_wait[1]}"
        if n == 0:
            return (f"acknowledged without waiting for a replica ({how}); a master that "
                    "dies may take its last acknowledged batches with it")
        return (f"each batch is acknowledged once {n} replica(s) hold it (WAIT {n} "
                f"{self.wait_timeout_ms}; {how})")

    def _rediscover_master(self) -> None:
        """Sentinel: drop the idle connections so the next write asks a sentinel for the
        master again. A master that Sentinel has just replaced keeps its connections open and
        answers writes (which WAIT then leaves unconfirmed) until Sentinel demotes it, which
        takes 8 s or more after a failover; without this the retries would keep going there."""
        pool = getattr(self.r, "connection_pool", None)
        if isinstance(pool, SentinelConnectionPool):
            pool.disconnect(inuse_connections=False)

    def _item(self, ev: RoadEvent, now: float, ttl_s: float | None) -> dict[str, Any]:
        if ev.ends_at is not None:
            expires = ev.ends_at.timestamp()
        else:
            expires = now + (ttl_s if ttl_s is not None else DEFAULT_TTL_S[ev.kind])
        obs = ev.observed_at.astimezone(timezone.utc)
        day, minute = obs.strftime("%Y%m%d"), obs.strftime("%H%M")
        ts = [[self.keys.ts(f"new:{ev.kind}", day), minute]]
        if ev.district:
            ts.append([self.keys.ts(f"new:{ev.kind}:{ev.district}", day), minute])
        fields = ev.to_hash()
        return {"id": ev.id, "kind": ev.kind, "hash": ev.content_hash(fields), "fields": fields,
                "expires": expires, "lon": ev.lon, "lat": ev.lat,
                "ended": ev.status == "ended", "ts": ts}

    def _upsert_call(self, chunk: list[dict[str, Any]], now: float) -> tuple[list, list]:
        """KEYS and ARGV of one upsert_events.lua call for a chunk of ``_item``s."""
        k = self.keys
        return ([k.version(), k.changes()],
                [k.event_prefix, k.active_prefix, k.geo_prefix, repr(now), self.changes_maxlen,
                 self.event_ttl_s, json.dumps(chunk, ensure_ascii=False)])

    def upsert_events(self, events: Sequence[RoadEvent], ttl_s: float | None = None,
                      now: float | None = None) -> BatchResult:
        """Write validated events; unchanged ones count as duplicates. One pipeline."""
        result = BatchResult()
        if not events:
            result.version = self.version()
            return result
        now = time.time() if now is None else now
        script = self.script("upsert_events")
        pipe = self.r.pipeline(transaction=False)
        for start in range(0, len(events), BATCH_SIZE):
            chunk = [self._item(ev, now, ttl_s) for ev in events[start:start + BATCH_SIZE]]
            run_script(script, *self._upsert_call(chunk, now), client=pipe)
        for new, upd, dup, ended, version in self._execute_confirmed(pipe):
            result.add(BatchResult(int(new), int(upd), int(dup), int(ended), int(version)))
        return result

    def set_congestion(self, levels: Iterable[tuple[str, int, float | None, str, float]],
                       now: float | None = None) -> tuple[int, int]:
        """Fuse (segment_id, level 0-4, speed km/h, source, observed epoch) readings into
        one level per segment (rules in lua/set_congestion.lua: freshness, source rank,
        confirmation; "unknown" never replaces a fresh known level).

        Returns (segments whose fused level changed, data version).
        """
        now = time.time() if now is None else now
        items = []
        for seg, level, speed, source, observed in levels:
            if int(level) not in CONGESTION_LEVELS:
                raise ValueError(f"congestion level {level!r} outside 0-4")
            speed_s = "" if speed is None else f"{float(speed):.1f}"
            items.append([seg, int(level), f"{int(level)}|{speed_s}|{source}|{observed:.0f}"])
        if not items:
            return 0, self.version()
        script = self.script("set_congestion")
        n = len(self.congestion_sources)
        ranks = {src: n - i for i, src in enumerate(self.congestion_sources)}
        pipe = self.r.pipeline(transaction=False)
        for start in range(0, len(items), BATCH_SIZE):
            run_script(script, [self.keys.version(), self.keys.congestion(), self.keys.changes(),
                                self.keys.congestion_pending()],
                       [self.changes_maxlen, repr(now),
                        json.dumps(items[start:start + BATCH_SIZE], ensure_ascii=False),
                        self.congestion_fresh_s, json.dumps(ranks),
                        max(1, int(self.congestion_confirm))],
                       client=pipe)
        changed, version = 0, 0
        for c, v in self._execute_confirmed(pipe):
            changed += int(c)
            version = max(version, int(v))
        return changed, version

    def record_gauge(self, metric: str, when: float, value: float) -> None:
        """Set a per-minute value (e.g. a congestion index); writing it twice is harmless."""
        dt = datetime.fromtimestamp(when, timezone.utc)
        key = self.keys.ts(metric, dt.date())
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, dt.strftime("%H%M"), f"{value:.4f}")
        pipe.expire(key, 40 * 86400)
        pipe.execute()

    def expire_active(self, now: float | None = None, max_ids: int = 5000) -> int:
        """Drop expired events from the active sets and geo indexes; returns how many."""
        now = time.time() if now is None else now
        script = self.script("expire_active")
        pipe = self.r.pipeline(transaction=False)
        for kind in KINDS:
            run_script(script, [self.keys.version(), self.keys.active(kind), self.keys.geo(kind),
                                self.keys.changes()],
                       [repr(now), self.changes_maxlen, kind, max_ids], client=pipe)
        return sum(int(n) for n in pipe.execute())

    def quarantine(self, feed: str, reason: str, raw: bytes | str, ref: str = "") -> str:
        """Keep a rejected record with its reason and raw bytes (capped stream)."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        raw = raw[:64 * 1024]
        pipe = self.r.pipeline(transaction=False)
        pipe.xadd(self.keys.quarantine(feed),
                  {"reason": reason[:1000], "raw": raw.decode("utf-8", "replace"),
                   "raw_hex": raw.hex() if _is_binary(raw) else "", "ref": ref[:200],
                   "at": f"{time.time():.3f}"},
                  maxlen=self.quarantine_maxlen, approximate=True)
        pipe.hincrby(self.keys.feed(feed), "quarantined", 1)
        pipe.sadd(self.keys.feeds_index(), feed)
        return pipe.execute()[0]

    def quarantine_once(self, feed: str, reason: str, raw: bytes | str, ref: str = "",
                        ttl_s: int = QUARANTINE_REPEAT_TTL_S) -> bool:
        """Quarantine a rejected record unless the same content (raw bytes + reason) was
        quarantined within ``ttl_s``: then it counts as one of the feed's duplicates and the
        first entry stays. True when it was quarantined now."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        raw = raw[:64 * 1024]
        reason = reason[:1000]
        digest = hashlib.sha1(raw + b"\0" + reason.encode("utf-8", "surrogateescape")
                              ).hexdigest()
        res = run_script(self.script("quarantine_once"),
                         [self.keys.quarantine_seen(feed, digest), self.keys.quarantine(feed),
                          self.keys.feed(feed), self.keys.feeds_index()],
                         [int(ttl_s), self.quarantine_maxlen, feed, reason,
                          raw.decode("utf-8", "replace"), raw.hex() if _is_binary(raw) else "",
                          ref[:200], f"{time.time():.3f}"], client=self.r)
        return bool(res)

    def update_feed_health(self, feed: str, counters: dict[str, int] | None = None,
                           **fields: Any) -> None:
        """Add to a feed's counters and set fields such as last_ok, last_error, lag_s, etag."""
        key = self.keys.feed(feed)
        pipe = self.r.pipeline(transaction=False)
        pipe.sadd(self.keys.feeds_index(), feed)
        for name, n in (counters or {}).items():
            if n:
                pipe.hincrby(key, name, int(n))
        clean = {k: ("" if v is None else str(v)) for k, v in fields.items()}
        if clean:
            pipe.hset(key, mapping=clean)
        pipe.execute()

    def put_private(self, items: dict[str, dict[str, str]], ttl_s: int | None = None) -> None:
        """Keep personal data (raw text, contact) per event id, apart from the event itself."""
        if not items:
            return
        pipe = self.r.pipeline(transaction=False)
        for event_id, fields in items.items():
            key = self.keys.private(event_id)
            pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
            pipe.expire(key, ttl_s or self.event_ttl_s)
        pipe.execute()

    def get_private(self, event_id: str) -> dict[str, str]:
        """Personal data of one event. Callers must check the role first."""
        return self.r.hgetall(self.keys.private(event_id))

    # -- reads --------------------------------------------------------------------------
    def version(self) -> int:
        return int(self.r.get(self.keys.version()) or 0)

    def active_ids(self, kind: str, now: float | None = None) -> list[str]:
        """Ids of events of ``kind`` that have not expired."""
        now = time.time() if now is None else now
        return self.r.zrangebyscore(self.keys.active(kind), f"({now!r}", "+inf")

    def get_events(self, ids: Sequence[str]) -> list[RoadEvent]:
        """The stored events for ``ids`` (missing ones are left out)."""
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self.keys.event(i))
        return [RoadEvent.from_hash(h) for h in pipe.execute() if h]

    def get_event(self, event_id: str) -> RoadEvent | None:
        h = self.r.hgetall(self.keys.event(event_id))
        return RoadEvent.from_hash(h) if h else None

    def active_events(self, kind: str | None = None, district: str | None = None,
                      bbox: tuple[float, float, float, float] | None = None,
                      since: datetime | None = None, now: float | None = None) -> list[RoadEvent]:
        """Live events, optionally of one kind, in one district, inside a lon/lat box,
        observed at or after ``since``; newest first."""
        kinds = [kind] if kind else list(KINDS)
        ids: list[str] = []
        for k in kinds:
            live = self.active_ids(k, now)
            if bbox is not None:
                in_box = set(self._ids_in_box(k, bbox))
                live = [i for i in live if i in in_box]
            ids.extend(live)
        events = [e for e in self.get_events(ids) if e.status == "active"]
        if district:
            events = [e for e in events if e.district == district]
        if since is not None:
            events = [e for e in events if e.observed_at >= since]
        events.sort(key=lambda e: e.observed_at, reverse=True)
        return events

    def _ids_in_box(self, kind: str, bbox: tuple[float, float, float, float]) -> list[str]:
        x0, y0, x1, y1 = bbox
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        from math import cos, radians
        width_km = max((x1 - x0) * 111.32 * cos(radians(cy)), 0.001)
        height_km = max((y1 - y0) * 110.57, 0.001)
        found = self.r.geosearch(self.keys.geo(kind), longitude=cx, latitude=cy,
                                 width=width_km * 1.001, height=height_km * 1.001, unit="km",
                                 withcoord=True)
        return [name for name, (lon, lat) in found if x0 <= lon <= x1 and y0 <= lat <= y1]

    def nearest(self, kind: str, lon: float, lat: float, radius_m: float,
                count: int = 10) -> list[tuple[str, float]]:
        """(id, distance m) of the live events of ``kind`` nearest a point."""
        found = self.r.geosearch(self.keys.geo(kind), longitude=lon, latitude=lat,
                                 radius=radius_m, unit="m", sort="ASC", count=count,
                                 withdist=True)
        return [(name, float(dist)) for name, dist in found]

    def congestion_snapshot(self, stale_s: float = 900,
                            now: float | None = None) -> dict[str, dict[str, Any]]:
        """segment_id -> {level, speed, source, at}; observations older than ``stale_s``
        are reported as level 0 (unknown)."""
        now = time.time() if now is None else now
        out: dict[str, dict[str, Any]] = {}
        for seg, value in self.r.hgetall(self.keys.congestion()).items():
            level, speed, source, at = (value.split("|") + ["", "", "", "0"])[:4]
            at_f = float(at or 0)
            lvl = int(level or 0) if now - at_f <= stale_s else 0
            out[seg] = {"level": lvl, "speed": float(speed) if speed else None,
                        "source": source, "at": at_f}
        return out

    def simulated_history(self) -> tuple[float, float] | None:
        """The span (epoch seconds) of history written by the demo's backfill, not by feeds
        (``keys.history_simulated``), or None."""
        h = self.r.hgetall(self.keys.history_simulated())
        try:
            return float(h["from"]), float(h["to"])
        except (KeyError, TypeError, ValueError):
            return None

    def timeseries(self, metric: str, start: datetime, end: datetime,
                   step_minutes: int = 1, how: str = "sum") -> list[tuple[datetime, float]]:
        """Values of ``metric`` per step between two aware datetimes (UTC buckets).

        ``how`` is "sum" for counters (events per hour) or "mean"/"last" for gauges.
        Steps without data are left out, not filled with zero, so gaps stay visible.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("timeseries needs aware datetimes")
        start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
        days = []
        d = start.date()
        while d <= end.date():
            days.append(d)
            d += timedelta(days=1)
        pipe = self.r.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.keys.ts(metric, day))
        buckets: dict[datetime, list[float]] = {}
        step = max(1, int(step_minutes))
        for day, h in zip(days, pipe.execute()):
            for hhmm, value in h.items():
                t = datetime(day.year, day.month, day.day, int(hhmm[:2]), int(hhmm[2:]),
                             tzinfo=timezone.utc)
                if not start <= t < end:
                    continue
                mins = (t.hour * 60 + t.minute) // step * step
                b = datetime(day.year, day.month, day.day, mins // 60, mins % 60,
                             tzinfo=timezone.utc)
                buckets.setdefault(b, []).append(float(value))
        out = []
        for b in sorted(buckets):
            vals = buckets[b]
            if how == "sum":
                v = sum(vals)
            elif how == "mean":
                v = sum(vals) / len(vals)
            else:
                v = vals[-1]
            out.append((b, v))
        return out

    def feed_names(self) -> list[str]:
        return sorted(self.r.smembers(self.keys.feeds_index()))

    def feed_health(self, feed: str | None = None) -> dict[str, dict[str, str]]:
        """feed -> its health hash (last_ok, last_error, lag_s, counters…)."""
        names = [feed] if feed else self.feed_names()
        pipe = self.r.pipeline(transaction=False)
        for n in names:
            pipe.hgetall(self.keys.feed(n))
        return {n: h for n, h in zip(names, pipe.execute())}

    def quarantined(self, feed: str, count: int = 50) -> list[dict[str, str]]:
        """The newest quarantined records of a feed, with their reasons."""
        rows = self.r.xrevrange(self.keys.quarantine(feed), count=count)
        return [{"stream_id": sid, **fields} for sid, fields in rows]

    def changes_since(self, last_id: str = "0-0", count: int = 1000) -> list[tuple[str, dict]]:
        return self.r.xrange(self.keys.changes(), min=f"({last_id}" if last_id != "0-0"
                             else "-", count=count)


def _is_binary(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True
