"""dispatch.board: what the dispatch page lists, read in one call (real Redis)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from dashboard.auth import User
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.dispatch.board import STATS_DAYS, Board, board
from dashboard.masking import contains_pii
from dashboard.model import RoadEvent

pytestmark = pytest.mark.topologies("single", "cluster")

OFFICER = User("li", "officer")
AUX = User("wang", "aux")
WALL = User("screen", "wall")


def report(store, rid: str, observed: float, text: str) -> None:
    store.upsert_events([RoadEvent(
        id=rid, kind="report", category="jam", severity=2, source=rid.split(":")[0],
        observed_at=datetime.fromtimestamp(observed, timezone.utc), lon=117.1, lat=36.2,
        district="泰山区", road_names=("长城路",), text=text, attrs={"place": "长城路"})],
        now=observed)


def test_the_board_lists_queue_units_counts_stats_and_unlinked_reports(r, keys, store):
    now = time.time()
    report(store, "weibo:1", now - 300, "长城路拥堵 电话13905381234")
    report(store, "weibo:2", now - 200, "长城路又堵了")
    U.apply_feed(r, keys, [U.UnitReport("T-101", "patrol_car", "泰安交警101", 117.1, 36.2,
                                        "free", now)])
    inc = I.create_from_event(r, keys, OFFICER, "weibo:1", now=now - 100).incident_id
    b = board(r, keys, AUX, now)
    assert isinstance(b, Board)
    assert [row["id"] for row in b.rows] == [inc] and b.unacknowledged == 1
    assert [u["id"] for u in b.units] == ["T-101"]
    assert [x["id"] for x in b.reports] == ["weibo:2"]          # weibo:1 is linked
    assert not contains_pii(repr(b.rows)) and not contains_pii(repr(b.reports))
    today = {s["day"] for s in b.stats}
    assert len(today) == 1 and b.stats[0]["incidents"] == 1
    I.acknowledge(r, keys, AUX, inc)
    assert board(r, keys, AUX, now).unacknowledged == 0


def test_stats_cover_the_last_days_newest_first(r, keys, store):
    now = time.time()
    for days_ago in (0, 2, STATS_DAYS + 3):
        at = now - days_ago * 86400
        report(store, f"weibo:{days_ago}", at - 60, "长城路拥堵")
        I.create_from_event(r, keys, OFFICER, f"weibo:{days_ago}", now=at)
    days = [s["day"] for s in board(r, keys, OFFICER, now).stats]
    assert days == sorted(days, reverse=True) and len(set(days)) == 2


def test_the_board_needs_view_dispatch(r, keys):
    with pytest.raises(PermissionError):
        board(r, keys, WALL, time.time())
