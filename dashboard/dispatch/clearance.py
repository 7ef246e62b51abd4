"""Clearance-time statistics: report → dispatched → on scene → cleared, per day and district.

Each stage is measured on incidents that reached both ends of it; merged duplicates are
left out (their reports count in the incident they were merged into). Days are local
(the city's zone, ``tz``) days of the first report. Figures are in minutes: the median and the
90th percentile (linear interpolation between order statistics).

Move-car (挪车) tasks (``dashboard.citizen.movecar``) are counted per day and district in the
same rows: tasks opened, closed (moved or towed), minutes from opened to closed (median, p90)
and how many were closed within the 5-minute promise.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import redis

from dashboard.citizen import movecar
from dashboard.dispatch.incidents import Incident, load_many, unacknowledged_count
from dashboard.storage.keys import Keys
from dashboard.timeutil import SHANGHAI

STAGES = (
    ("report_to_dispatch", "reported_at", "dispatched_at", "报告→派警"),
    ("dispatch_to_scene", "dispatched_at", "on_scene_at", "派警→到场"),
    ("scene_to_clear", "on_scene_at", "cleared_at", "到场→清除"),
    ("report_to_clear", "reported_at", "cleared_at", "报告→清除"),
)
ALL_DISTRICTS = "全市"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0-1) of ``values`` by linear interpolation; None when empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def incidents_between(r: redis.Redis, keys: Keys, start: float, end: float) -> list[Incident]:
    """Incidents first reported in [start, end) (epoch seconds)."""
    ids = r.zrangebyscore(keys.incidents_index(), start, f"({end}")
    return load_many(r, keys, ids)


@dataclass
class _Group:
    day: str
    district: str
    incidents: int = 0
    cleared: int = 0

    def __post_init__(self) -> None:
        self.stages: dict[str, list[float]] = {s[0]: [] for s in STAGES}
        self.movecar_opened = 0
        self.movecar: list[float] = []     # minutes from opened to moved/towed


def stage_minutes(inc: Incident) -> dict[str, float]:
    """Minutes spent in each stage this incident completed."""
    out = {}
    for name, a, b, _label in STAGES:
        t0, t1 = getattr(inc, a), getattr(inc, b)
        if t0 and t1 and t1 >= t0:
            out[name] = (t1 - t0) / 60.0
    return out


def clearance_stats(r: redis.Redis, keys: Keys, start: datetime, end: datetime,
                    tz: ZoneInfo = SHANGHAI, by_district: bool = True) -> list[dict[str, Any]]:
    """One row per local day (and district, plus a 全市 row per day) with incident and
    clearance counts and, for each stage, n / median / p90 in minutes."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("clearance_stats needs aware datetimes")
    groups: dict[tuple[str, str], _Group] = {}
    for inc in incidents_between(r, keys, start.timestamp(), end.timestamp()):
        if inc.status == "merged":
            continue
        day = datetime.fromtimestamp(inc.reported_at or inc.created_at, tz).strftime("%Y-%m-%d")
        names = [ALL_DISTRICTS] + ([inc.district or "未知"] if by_district else [])
        minutes = stage_minutes(inc)
        for name in names:
            g = groups.setdefault((day, name), _Group(day, name))
            g.incidents += 1
            g.cleared += 1 if inc.status == "cleared" else 0
            for stage, m in minutes.items():
                g.stages[stage].append(m)
    for opened, district, took in movecar.durations(r, keys, start.timestamp(),
                                                    end.timestamp()):
        day = datetime.fromtimestamp(opened, tz).strftime("%Y-%m-%d")
        for name in [ALL_DISTRICTS] + ([district or "未知"] if by_district else []):
            g = groups.setdefault((day, name), _Group(day, name))
            g.movecar_opened += 1
            if took is not None:
                g.movecar.append(took)
    rows = []
    for (day, name), g in sorted(groups.items(), key=lambda kv: (kv[0][0],
                                                                 kv[0][1] != ALL_DISTRICTS,
                                                                 kv[0][1])):
        row: dict[str, Any] = {"day": day, "district": name, "incidents": g.incidents,
                               "cleared": g.cleared}
        for stage, *_ in STAGES:
            vals = g.stages[stage]
            row[f"{stage}_n"] = len(vals)
            row[f"{stage}_median"] = _round(percentile(vals, 0.5))
            row[f"{stage}_p90"] = _round(percentile(vals, 0.9))
        row.update(movecar_n=g.movecar_opened, movecar_closed=len(g.movecar),
                   movecar_median=_round(percentile(g.movecar, 0.5)),
                   movecar_p90=_round(percentile(g.movecar, 0.9)),
                   movecar_in_clock=sum(1 for m in g.movecar
                                        if m * 60 <= movecar.CLOCK_S))
        rows.append(row)
    return rows


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def kpis(r: redis.Redis, keys: Keys, now: float | None = None,
         tz: ZoneInfo = SHANGHAI) -> dict[str, Any]:
    """Figures for the wall and the dispatch header: open and unacknowledged incidents,
    today's (local) incidents and clearances, median/p90 report → dispatched and
    report → cleared today, in minutes."""
    now = time.time() if now is None else now
    local_now = datetime.fromtimestamp(now, tz)
    day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = clearance_stats(r, keys, day_start, day_start + timedelta(days=1), tz,
                           by_district=False)
    today = rows[0] if rows else {}
    return {
        "open": int(r.zcard(keys.incidents_open())),
        "unacknowledged": unacknowledged_count(r, keys),
        "today_incidents": today.get("incidents", 0),
        "today_cleared": today.get("cleared", 0),
        "report_to_dispatch_median_min": today.get("report_to_dispatch_median"),
        "report_to_dispatch_p90_min": today.get("report_to_dispatch_p90"),
        "report_to_clear_median_min": today.get("report_to_clear_median"),
        "report_to_clear_p90_min": today.get("report_to_clear_p90"),
    }
