"""/dispatch callbacks: thin glue between the page and dashboard.incidents / units / audit.

Each decorated callback calls ``require(<permission>)`` first, before it reads anything,
then one plain function here (``refresh``, ``select``, ``act``, ``create``,
``set_unit_status``, ``audit_view``) that takes the services and the user; those call
dashboard functions that check the permission again. Data for a role without
``see_pii`` is masked in dashboard.incidents before it gets here.

Concurrency: the page keeps the incident id and the rev it shows (``DISPATCH_SELECTED``)
and every action sends that rev; when someone else was faster the officer is told what
changed and the page refreshes (the bump store), nothing is lost.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import redis
from dash import Input, Output, Patch, State, callback, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import audit

from dashboard.dispatch import clearance
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.auth import User
from dashboard.timeutil import SHANGHAI
from dashboard.web import session
from dashboard.web.session import require
from layouts import dispatch as L
from layouts import ids

log = logging.getLogger("lukuang.dispatch")

STATS_DAYS = 7
# which button does what, and the permission the callback that owns it checks
STATUS_BUTTONS = {ids.DISPATCH_BTN_ACK: "acknowledge", ids.DISPATCH_BTN_ON_SCENE: "on_scene",
                  ids.DISPATCH_BTN_CLEAR: "clear"}
DISPATCH_BUTTONS = {ids.DISPATCH_BTN_VERIFY: "verify",
                    ids.DISPATCH_BTN_ASSIGN_NEAREST: "assign_nearest",
                    ids.DISPATCH_BTN_ASSIGN: "assign", ids.DISPATCH_BTN_REOPEN: "reopen",
                    ids.DISPATCH_BTN_RELEASE: "release", ids.DISPATCH_BTN_MERGE: "merge",
                    ids.DISPATCH_BTN_LINK: "link", ids.DISPATCH_BTN_FOLLOW: "follow"}


def _svc():
    return session.services()


def _network(svc) -> Any:
    try:
        return svc.network
    except Exception:  # noqa: BLE001 - no network: straight-line distances, plain map
        return None


_style_lock = threading.Lock()
_style_cache: dict[str, Any] = {}


def _base_map(svc, network) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(key, offline style, view) for the map, built once per network in this process."""
    with _style_lock:
        if _style_cache.get("network") is network and network is not None:
            return _style_cache["key"], _style_cache["style"], _style_cache["view"]
    if network is None:
        from dashboard.roads import basemap

        style = {"version": 8, "name": "lukuang-offline", "sources": {}, "layers": [
            {"id": "background", "type": "background",
             "paint": {"background-color": basemap.BACKGROUND}}]}
        return "none", style, L.view_for_bounds(svc.settings.city_bbox)
    from dashboard.roads import basemap

    style = basemap.build_style(network)
    view = L.view_for_bounds(tuple(float(v) for v in network.segments.total_bounds))
    key = f"net{id(network)}"
    with _style_lock:
        _style_cache.update(network=network, key=key, style=style, view=view)
    return key, style, view


# -- plain functions (tested directly) ---------------------------------------------------------
REFRESH_OUTPUTS = 10


def refresh(svc, user: User, seen: dict[str, Any] | None, force: bool = False,
            selected: str | None = None, now: float | None = None) -> tuple:
    """Queue rows, counts, map, statistics and the choice lists; no update when neither
    the data version nor the minute changed since the page last asked, nor while Redis
    is unreachable (the page keeps what it shows)."""
    try:
        return _refresh(svc, user, seen, force, selected, now)
    except redis.RedisError:
        log.warning("dispatch refresh: Redis unavailable")
        raise PreventUpdate from None


def _refresh(svc, user: User, seen: dict[str, Any] | None, force: bool,
             selected: str | None, now: float | None) -> tuple:
    now = time.time() if now is None else now
    seen = dict(seen or {})
    r, keys = svc.r, svc.keys
    tag = f"{svc.store.version()}:{int(now // 60)}:{selected or ''}"
    if not force and seen.get("tag") == tag:
        raise PreventUpdate
    rows = I.queue_rows(r, keys, user, now=now)
    units = [u.to_dict() for u in U.all_units(r, keys)]
    network = _network(svc)
    key, style, view = _base_map(svc, network)
    traces = L.map_traces(rows, units, selected)
    if seen.get("map") == key:
        figure: Any = Patch()
        figure["data"] = traces
    else:
        figure = L.map_figure(style, view, traces)
    local = datetime.fromtimestamp(now, SHANGHAI)
    start = (local - timedelta(days=STATS_DAYS - 1)).replace(hour=0, minute=0, second=0,
                                                            microsecond=0)
    stats = clearance.clearance_stats(r, keys, start, local + timedelta(minutes=1))
    stats.sort(key=lambda x: x["day"], reverse=True)
    reports = I.unlinked_reports(r, keys, user)
    report_options = [{"label": f"{x['at']} {x['source']} {x['category']} "
                                f"{x['place'] or ''} {x['text']}"[:140], "value": x["id"]}
                      for x in reports]
    merge_options = [{"label": f"{x['id']} {x['status_label']} {x['category']} "
                               f"{x['place']}"[:100], "value": x["id"]} for x in rows]
    unit_options = [{"label": f"{u['callsign'] or u['id']} · "
                              f"{L.UNIT_STATUS_LABELS.get(u['status'], u['status'])}",
                     "value": u["id"]} for u in units]
    seen.update(tag=tag, map=key)
    return (rows, str(I.unacknowledged_count(r, keys)), str(len(rows)), figure,
            L.stats_table(stats), report_options, report_options, merge_options, unit_options,
            seen)


def _pick(triggered: str | None, grid_rows: Any, click: Any, current: dict | None) -> str | None:
    """Which incident the page shows after this trigger."""
    if triggered == ids.DISPATCH_GRID and grid_rows:
        return str(grid_rows[0].get("id") or "") or None
    if triggered == ids.DISPATCH_MAP and click:
        try:
            cd = click["points"][0]["customdata"]
        except (KeyError, IndexError, TypeError):
            cd = None
        if isinstance(cd, str) and cd.startswith("INC-"):
            return cd
    return (current or {}).get("id")


SELECT_OUTPUTS = 5


def select(svc, user: User, incident_id: str | None, now: float | None = None) -> tuple:
    """The detail panel, the page's (id, rev), the unit and release choices, and which
    buttons are enabled, for one incident (or none)."""
    disabled_all = [True] * len(L.BUTTON_ORDER)
    if not incident_id:
        return L.detail_panel(None), None, [], [], disabled_all
    try:
        d = I.detail(svc.r, svc.keys, user, incident_id, network=_network(svc), now=now)
    except I.NotFound:
        return L.detail_panel(None), None, [], [], disabled_all
    except redis.RedisError:
        raise PreventUpdate from None
    enabled = I.actions_for(user, d["status"], d["ack"], bool(d["units"]))
    release = [{"label": f"{u['callsign'] or u['id']}", "value": u["id"]} for u in d["units"]]
    return (L.detail_panel(d), {"id": d["id"], "rev": d["rev"]}, L.unit_options(d["nearest"]),
            release, [a not in enabled for a in L.BUTTON_ORDER])


def act(svc, user: User, action: str, selected: dict | None, *, unit: str | None = None,
        release: str | None = None, merge_into: str | None = None,
        report: str | None = None, note: str | None = None) -> tuple[Any, bool]:
    """Run one action on the selected incident with the rev the page shows.

    Returns (message component, refresh?)."""
    if not selected or not selected.get("id"):
        return L.message("请先选择一个事件 Pick an incident first.", "warn"), False
    r, keys = svc.r, svc.keys
    inc_id, rev = str(selected["id"]), selected.get("rev")
    rev = int(rev) if isinstance(rev, (int, float, str)) and str(rev).isdigit() else None
    if rev is None:
        return L.message("页面状态无效，请刷新 The page lost track of the incident; reload.",
                         "error"), True
    note = (note or "").strip()[:300]
    net = _network(svc)
    try:
        if action == "acknowledge":
            res = I.acknowledge(r, keys, user, inc_id, expected_rev=rev)
        elif action in ("verify", "on_scene", "clear"):
            to = {"verify": "verified", "on_scene": "on_scene", "clear": "cleared"}[action]
            res = I.transition(r, keys, user, inc_id, to, expected_rev=rev, note=note)
        elif action == "assign_nearest":
            res = I.assign_nearest(r, keys, user, inc_id, expected_rev=rev, network=net)
        elif action == "assign":
            if not unit:
                return L.message("请选择警力 Pick a unit first.", "warn"), False
            res = I.assign_unit(r, keys, user, inc_id, unit, expected_rev=rev, note=note)
        elif action == "release":
            if not release:
                return L.message("请选择要收回的警力 Pick the unit to release.", "warn"), False
            res = I.release_unit(r, keys, user, inc_id, release, expected_rev=rev, note=note)
        elif action == "reopen":
            window = getattr(svc.settings, "reopen_window_s", I.DEFAULT_REOPEN_WINDOW_S)
            res = I.reopen(r, keys, user, inc_id, expected_rev=rev, note=note,
                           window_s=window)
        elif action == "merge":
            if not merge_into:
                return L.message("请选择合并目标 Pick the incident to merge into.", "warn"), False
            res = I.merge(r, keys, user, inc_id, merge_into, expected_rev=rev, note=note)
        elif action == "link":
            if not report:
                return L.message("请选择报告 Pick a report first.", "warn"), False
            res = I.link_report(r, keys, user, inc_id, report, expected_rev=rev)
        elif action == "follow":
            if not report:
                return L.message("请选择最新位置的报告 Pick the follow-up report.", "warn"), False
            ev = svc.store.get_event(report)
            if ev is None:
                raise I.NotFound(f"no event {report!r}")
            res = I.handover(r, keys, user, inc_id, ev.lon, ev.lat, expected_rev=rev,
                             network=net, note=note)
            I.link_report(r, keys, user, inc_id, report, expected_rev=res.rev)
        else:
            return L.message(f"unknown action {action!r}", "error"), False
    except I.ConflictError as exc:
        return L.message(f"{exc} — 页面已刷新 the page has been refreshed; check and try again.",
                         "warn"), True
    except (I.DispatchError, U.UnitError) as exc:
        return L.message(str(exc), "error"), True
    except PermissionError:
        return L.message("无权限 Your role may not do this.", "error"), False
    except redis.RedisError:
        log.exception("dispatch action failed")
        return L.message("数据服务不可用 Data store unavailable; nothing was changed.",
                         "error"), False
    return L.message(res.message, "ok"), True


def create(svc, user: User, report_id: str | None) -> tuple[Any, bool, Any]:
    """New incident from a report: (message, refresh?, the page's new selection)."""
    if not report_id:
        return L.message("请选择报告 Pick a report first.", "warn"), False, no_update
    try:
        res = I.create_from_event(svc.r, svc.keys, user, report_id)
    except I.DispatchError as exc:
        return L.message(str(exc), "error"), True, no_update
    except redis.RedisError:
        return L.message("数据服务不可用 Data store unavailable.", "error"), False, no_update
    return L.message(res.message, "ok"), True, {"id": res.incident_id, "rev": res.rev}


def parse_position(svc, text: str | None) -> tuple[float, float] | None:
    """'lon,lat' (WGS-84) or a place the Weibo locator understands (a road, an intersection,
    a landmark); None when empty. UnitError when it cannot be placed inside the city."""
    text = (text or "").strip()[:80]
    if not text:
        return None
    parts = text.replace("，", ",").split(",")
    if len(parts) == 2:
        try:
            lon, lat = float(parts[0]), float(parts[1])
        except ValueError:
            lon = lat = None
        if lon is not None:
            x0, y0, x1, y1 = svc.settings.city_bbox
            if not (x0 <= lon <= x1 and y0 <= lat <= y1):
                raise U.UnitError(f"position ({lon}, {lat}) is outside the city")
            return lon, lat
    from dashboard.roads.locate import locate_text

    loc = locate_text(text, svc.network)
    if loc is None or loc.point is None:
        raise U.UnitError(f"cannot place {text!r}: give 'lon,lat' or a road / intersection")
    return loc.point


def set_unit_status(svc, user: User, unit_id: str | None, status: str | None,
                    position: str | None = None) -> tuple[Any, bool]:
    """Set a unit's status and/or position by hand (manage_units)."""
    status = None if status in (None, "", "keep") else status
    if not unit_id or (status is None and not (position or "").strip()):
        return L.message("请选择警力，并给出状态或位置 Pick a unit and a status or a position.",
                         "warn"), False
    try:
        point = parse_position(svc, position)
        u = U.set_unit(svc.r, svc.keys, user, unit_id, status=status,
                       lon=point[0] if point else None, lat=point[1] if point else None)
    except U.UnitError as exc:
        return L.message(str(exc), "error"), True
    except redis.RedisError:
        return L.message("数据服务不可用 Data store unavailable.", "error"), False
    return L.message(f"{u.callsign or u.id}: {L.UNIT_STATUS_LABELS.get(u.status, u.status)}"
                     + (" (数据源 feed)" if not u.hold else ""), "ok"), True


def audit_view(svc, user: User, who: str | None, count: int = 200) -> Any:
    if not user.can("view_audit"):
        raise PermissionError("view_audit")
    who = (who or "").strip()[:32] or None
    entries = audit.read(svc.r, svc.keys, who=who, count=count)
    for e in entries:
        try:
            e["at_local"] = datetime.fromtimestamp(float(e["at"]), SHANGHAI).strftime(
                "%m-%d %H:%M:%S")
        except (TypeError, ValueError):
            e["at_local"] = ""
    return L.audit_table(entries)


# -- registration --------------------------------------------------------------------------------
@callback(
    Output(ids.DISPATCH_GRID, "rowData"), Output(ids.DISPATCH_UNACK, "children"),
    Output(ids.DISPATCH_OPEN, "children"), Output(ids.DISPATCH_MAP, "figure"),
    Output(ids.DISPATCH_STATS, "children"), Output(ids.DISPATCH_CREATE_CHOICE, "options"),
    Output(ids.DISPATCH_REPORT_CHOICE, "options"), Output(ids.DISPATCH_MERGE_CHOICE, "options"),
    Output(ids.DISPATCH_UNIT_PICK, "options"), Output(ids.DISPATCH_SEEN, "data"),
    Input(ids.DISPATCH_TICK, "n_intervals"), Input(ids.DISPATCH_BUMP, "data"),
    Input(ids.DISPATCH_SELECTED, "data"), State(ids.DISPATCH_SEEN, "data"))
def _refresh_cb(_n, _bump, selected, seen):
    user = require("view_dispatch")
    sel = selected.get("id") if isinstance(selected, dict) else None
    return refresh(_svc(), user, seen, force=ctx.triggered_id == ids.DISPATCH_BUMP,
                   selected=str(sel) if sel else None)


@callback(
    Output(ids.DISPATCH_DETAIL, "children"), Output(ids.DISPATCH_SELECTED, "data"),
    Output(ids.DISPATCH_UNIT_CHOICE, "options"), Output(ids.DISPATCH_RELEASE_CHOICE, "options"),
    [Output(bid, "disabled") for bid in L.ACTION_BUTTON_IDS.values()],
    [Output(bid, "style") for bid in L.ACTION_BUTTON_IDS.values()],
    Input(ids.DISPATCH_GRID, "selectedRows"), Input(ids.DISPATCH_MAP, "clickData"),
    Input(ids.DISPATCH_SEEN, "data"), Input(ids.DISPATCH_BUMP, "data"),
    State(ids.DISPATCH_SELECTED, "data"))
def _select_cb(grid_rows, click, _seen, _bump, current):
    user = require("view_dispatch")
    incident_id = _pick(ctx.triggered_id, grid_rows, click, current)
    detail, selected, units, release, disabled = select(_svc(), user, incident_id)
    return (detail, selected, units, release, *disabled,
            *[L.button_style(d) for d in disabled])


@callback(
    Output(ids.DISPATCH_MESSAGE, "children", allow_duplicate=True),
    Output(ids.DISPATCH_BUMP, "data", allow_duplicate=True),
    [Input(bid, "n_clicks") for bid in STATUS_BUTTONS],
    State(ids.DISPATCH_SELECTED, "data"), State(ids.DISPATCH_NOTE, "value"),
    State(ids.DISPATCH_BUMP, "data"), prevent_initial_call=True)
def _status_cb(*args):
    user = require("acknowledge")
    *clicks, selected, note, bump = args
    action = STATUS_BUTTONS.get(ctx.triggered_id or "")
    if action is None or not any(clicks):
        raise PreventUpdate
    msg, again = act(_svc(), user, action, selected, note=note)
    return msg, (bump or 0) + 1 if again else no_update


@callback(
    Output(ids.DISPATCH_MESSAGE, "children", allow_duplicate=True),
    Output(ids.DISPATCH_BUMP, "data", allow_duplicate=True),
    [Input(bid, "n_clicks") for bid in DISPATCH_BUTTONS],
    State(ids.DISPATCH_SELECTED, "data"), State(ids.DISPATCH_UNIT_CHOICE, "value"),
    State(ids.DISPATCH_RELEASE_CHOICE, "value"), State(ids.DISPATCH_MERGE_CHOICE, "value"),
    State(ids.DISPATCH_REPORT_CHOICE, "value"), State(ids.DISPATCH_NOTE, "value"),
    State(ids.DISPATCH_BUMP, "data"), prevent_initial_call=True)
def _dispatch_cb(*args):
    user = require("dispatch")
    *clicks, selected, unit, release, merge_into, report, note, bump = args
    action = DISPATCH_BUTTONS.get(ctx.triggered_id or "")
    if action is None or not any(clicks):
        raise PreventUpdate
    msg, again = act(_svc(), user, action, selected, unit=unit, release=release,
                     merge_into=merge_into, report=report, note=note)
    return msg, (bump or 0) + 1 if again else no_update


@callback(
    Output(ids.DISPATCH_MESSAGE, "children", allow_duplicate=True),
    Output(ids.DISPATCH_BUMP, "data", allow_duplicate=True),
    Output(ids.DISPATCH_SELECTED, "data", allow_duplicate=True),
    Input(ids.DISPATCH_BTN_CREATE, "n_clicks"), State(ids.DISPATCH_CREATE_CHOICE, "value"),
    State(ids.DISPATCH_BUMP, "data"), prevent_initial_call=True)
def _create_cb(n, report_id, bump):
    user = require("dispatch")
    if not n:
        raise PreventUpdate
    msg, again, selected = create(_svc(), user, report_id)
    return msg, (bump or 0) + 1 if again else no_update, selected


@callback(
    Output(ids.DISPATCH_MESSAGE, "children", allow_duplicate=True),
    Output(ids.DISPATCH_BUMP, "data", allow_duplicate=True),
    Input(ids.DISPATCH_BTN_UNIT_SET, "n_clicks"), State(ids.DISPATCH_UNIT_PICK, "value"),
    State(ids.DISPATCH_UNIT_STATUS, "value"), State(ids.DISPATCH_BUMP, "data"),
    State(ids.DISPATCH_UNIT_POS, "value"),
    prevent_initial_call=True)
def _unit_cb(n, unit_id, status, bump, position):
    user = require("manage_units")
    if not n:
        raise PreventUpdate
    msg, again = set_unit_status(_svc(), user, unit_id, status, position)
    return msg, (bump or 0) + 1 if again else no_update


@callback(
    Output(ids.DISPATCH_AUDIT_TABLE, "children"),
    Input(ids.DISPATCH_BTN_AUDIT, "n_clicks"), State(ids.DISPATCH_AUDIT_WHO, "value"),
    prevent_initial_call=True)
def _audit_cb(n, who):
    user = require("view_audit")
    if not n:
        raise PreventUpdate
    return audit_view(_svc(), user, who)
