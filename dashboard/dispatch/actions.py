"""What each button of the dispatch page does to an incident, and where a unit moved by
hand is.

``run`` takes one action name (``incidents.ACTIONS``), the incident and the rev the page
shows, and the page's choices (unit, report, merge target, note); it calls the matching
function of ``dashboard.dispatch.incidents`` with ``expected_rev`` and turns every outcome,
failures included, into an ``Outcome``: the text to show, how to show it, and whether the
page should reload its data. Permissions are checked in ``incidents`` (PermissionError is
an outcome too). ``parse_position`` reads the position an officer typed for a unit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import redis

from dashboard.auth import User
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.settings import Settings
from dashboard.storage.keys import Keys
from dashboard.storage.store import Store

log = logging.getLogger("lukuang.dispatch")

MAX_NOTE = 300
MAX_POSITION = 80
# the lifecycle steps ``transition`` takes for a button
TRANSITIONS = {"verify": "verified", "on_scene": "on_scene", "clear": "cleared"}


@dataclass(frozen=True)
class Outcome:
    """What to tell the officer: ``text``, its ``level`` ("ok", "warn" or "error"),
    whether the page should reload what it shows (``refresh``), and the incident's rev after
    the action (the page's own change; None when nothing was read)."""

    text: str
    level: str = "ok"
    refresh: bool = False
    rev: int | None = None


@dataclass(frozen=True)
class Choices:
    """What the page had chosen when the button was pressed (None: nothing chosen)."""

    unit: str | None = None         # a free unit to assign
    release: str | None = None      # an assigned unit to release
    merge_into: str | None = None   # the incident to merge into
    report: str | None = None       # a report to link or follow
    split: str | None = None        # one of the incident's reports to split off
    note: str | None = None


def run(r: redis.Redis, keys: Keys, store: Store, user: User, action: str,
        incident_id: str | None, rev: int | None, choices: Choices = Choices(), *,
        network: Any = None,
        reopen_window_s: float = I.DEFAULT_REOPEN_WINDOW_S,
        tz: tzinfo | None = None) -> Outcome:
    """Run ``action`` on ``incident_id`` as of ``rev`` (the rev the page shows).

    ``network`` (None: straight-line distances) ranks the nearest units and places a
    followed report; ``store`` reads the followed report; ``tz`` (the city's zone,
    ``timeutil.city_zone``) is the zone of the times a conflict message names. A note
    (``choices.note``: the text of "note", optional with the other actions) is checked by
    ``incidents.clean_note``: a bad one is refused before anything is changed."""
    if not incident_id:
        return Outcome("请先选择一个事件 Pick an incident first.", "warn")
    if rev is None:
        return Outcome("页面状态无效，请刷新 The page lost track of the incident; reload.",
                       "error", refresh=True)
    try:
        note = I.clean_note(choices.note or "", MAX_NOTE) if (
            action == "note" or (choices.note or "").strip()) else ""
        return _run(r, keys, store, user, action, incident_id, rev, choices, note, network,
                    reopen_window_s, tz)
    except I.NoteError as exc:
        return Outcome(str(exc), "warn")
    except I.ConflictError as exc:
        return Outcome(f"{exc} — 页面已刷新 the page has been refreshed; check and try again.",
                       "warn", refresh=True, rev=exc.current_rev)
    except (I.DispatchError, U.UnitError) as exc:
        return Outcome(str(exc), "error", refresh=True)
    except PermissionError:
        return Outcome("无权限 Your role may not do this.", "error")
    except redis.RedisError:
        log.exception("dispatch action failed")
        return Outcome("数据服务不可用 Data store unavailable; nothing was changed.", "error")


def _run(r: redis.Redis, keys: Keys, store: Store, user: User, action: str, inc_id: str,
         rev: int, choices: Choices, note: str, network: Any,
         reopen_window_s: float, tz: tzinfo | None) -> Outcome:
    """One action; the errors it raises are turned into outcomes by ``run``."""
    if action == "acknowledge":
        res = I.acknowledge(r, keys, user, inc_id, expected_rev=rev, tz=tz)
    elif action == "note":
        res = I.add_note(r, keys, user, inc_id, note, expected_rev=rev, tz=tz)
    elif action in TRANSITIONS:
        res = I.transition(r, keys, user, inc_id, TRANSITIONS[action], expected_rev=rev,
                           note=note, tz=tz)
    elif action == "assign_nearest":
        res = I.assign_nearest(r, keys, user, inc_id, expected_rev=rev, network=network,
                               tz=tz)
    elif action == "assign":
        if not choices.unit:
            return Outcome("请选择警力 Pick a unit first.", "warn")
        res = I.assign_unit(r, keys, user, inc_id, choices.unit, expected_rev=rev, note=note,
                            tz=tz)
    elif action == "release":
        if not choices.release:
            return Outcome("请选择要收回的警力 Pick the unit to release.", "warn")
        res = I.release_unit(r, keys, user, inc_id, choices.release, expected_rev=rev,
                             note=note, tz=tz)
    elif action == "reopen":
        res = I.reopen(r, keys, user, inc_id, expected_rev=rev, note=note,
                       window_s=reopen_window_s, tz=tz)
    elif action == "merge":
        if not choices.merge_into:
            return Outcome("请选择合并目标 Pick the incident to merge into.", "warn")
        res = I.merge(r, keys, user, inc_id, choices.merge_into, expected_rev=rev, note=note,
                      tz=tz)
    elif action == "link":
        if not choices.report:
            return Outcome("请选择报告 Pick a report first.", "warn")
        res = I.link_report(r, keys, user, inc_id, choices.report, expected_rev=rev, tz=tz)
    elif action == "follow":
        if not choices.report:
            return Outcome("请选择最新位置的报告 Pick the follow-up report.", "warn")
        ev = store.get_event(choices.report)
        if ev is None:
            raise I.NotFound(f"no event {choices.report!r}")
        hand = I.handover(r, keys, user, inc_id, ev.lon, ev.lat, expected_rev=rev,
                          network=network, note=note, event=ev, tz=tz)
        # the link is a second change of the incident: the page must keep ITS rev
        res = I.link_report(r, keys, user, inc_id, choices.report, expected_rev=hand.rev,
                            tz=tz)
        return Outcome(f"{hand.message}; {res.message}", "ok", refresh=True, rev=res.rev)
    elif action == "split":
        if not choices.split:
            return Outcome("请选择要拆分的报告 Pick the report to split off.", "warn")
        res = I.split_report(r, keys, user, inc_id, choices.split, expected_rev=rev, tz=tz)
    else:
        return Outcome(f"unknown action {action!r}", "error")
    return Outcome(res.message, "ok", refresh=True, rev=res.rev)


def create(r: redis.Redis, keys: Keys, user: User, report_id: str | None
           ) -> tuple[Outcome, I.ActionResult | None]:
    """A new incident from a report: the outcome and, when one was made, its result."""
    if not report_id:
        return Outcome("请选择报告 Pick a report first.", "warn"), None
    try:
        res = I.create_from_event(r, keys, user, report_id)
    except I.DispatchError as exc:
        return Outcome(str(exc), "error", refresh=True), None
    except redis.RedisError:
        return Outcome("数据服务不可用 Data store unavailable.", "error"), None
    return Outcome(res.message, "ok", refresh=True), res


def parse_position(text: str | None, settings: Settings) -> tuple[float, float] | None:
    """'lon,lat' (WGS-84) or a place the Weibo locator understands (a road, an
    intersection, a landmark) on the active road network; None when empty. UnitError when
    it cannot be placed inside the city (``settings.city_bbox``, else the network's extent
    plus a margin: ``roads.extent.city_bbox``)."""
    text = (text or "").strip()[:MAX_POSITION]
    if not text:
        return None
    parts = text.replace("，", ",").split(",")
    if len(parts) == 2:
        try:
            lon, lat = float(parts[0]), float(parts[1])
        except ValueError:
            lon = lat = None
        if lon is not None:
            from dashboard.roads.extent import city_bbox
            from dashboard.roads.network import get_network

            x0, y0, x1, y1 = settings.city_bbox or city_bbox(settings,
                                                            get_network(settings.state_dir))
            if not (x0 <= lon <= x1 and y0 <= lat <= y1):
                raise U.UnitError(f"position ({lon}, {lat}) is outside the city")
            return lon, lat
    from dashboard.roads.locate import locate_text
    from dashboard.roads.network import get_network

    # loaded only for a place name (a typed lon,lat works without a network)
    loc = locate_text(text, get_network(settings.state_dir))
    if loc is None or loc.point is None:
        raise U.UnitError(f"cannot place {text!r}: give 'lon,lat' or a road / intersection")
    return loc.point
