"""The dispatch board: everything the dispatch page lists at one moment, read in one call.

The incident queue (masked per role in ``incidents``), every unit, the count of
unacknowledged incidents, the clearance statistics of the last ``STATS_DAYS`` local days
(newest day first) and the live reports not yet linked to an incident.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

import redis

from dashboard.auth import User
from dashboard.dispatch import clearance
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.storage.keys import Keys
from dashboard.timeutil import SHANGHAI

STATS_DAYS = 7


@dataclass(frozen=True)
class Board:
    """What the dispatch page lists (plain dicts, as the page shows them)."""

    rows: list[dict[str, Any]]        # the open incidents, most urgent first
    units: list[dict[str, Any]]
    unacknowledged: int
    stats: list[dict[str, Any]]       # clearance statistics, newest day first
    reports: list[dict[str, Any]]     # live reports not linked to an incident


def board(r: redis.Redis, keys: Keys, user: User, now: float,
          tz: tzinfo | None = None) -> Board:
    """The board as of ``now`` (epoch seconds) for ``user`` (view_dispatch); times and
    days are local to ``tz``, the city's zone (``timeutil.city_zone``)."""
    tz = tz or SHANGHAI
    rows = I.queue_rows(r, keys, user, now=now, tz=tz)
    units = [u.to_dict() for u in U.all_units(r, keys)]
    local = datetime.fromtimestamp(now, tz)
    start = (local - timedelta(days=STATS_DAYS - 1)).replace(hour=0, minute=0, second=0,
                                                            microsecond=0)
    stats = clearance.clearance_stats(r, keys, start, local + timedelta(minutes=1), tz)
    stats.sort(key=lambda x: x["day"], reverse=True)
    reports = I.unlinked_reports(r, keys, user, tz=tz)
    return Board(rows=rows, units=units, unacknowledged=I.unacknowledged_count(r, keys),
                 stats=stats, reports=reports)
