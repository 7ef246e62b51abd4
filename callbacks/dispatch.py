"""/dispatch callbacks: thin glue between the page and dashboard.dispatch / audit.

Each decorated callback names its inputs and outputs (Dash's dict signatures), calls
``require(<permission>)`` first, before it reads anything, then one plain function here
(``refresh``, ``select``, ``act``, ``create``, ``set_unit_status``, ``audit_view``) that
takes the services and the user and returns the outputs by name. Those decode the page's
values, call the domain (``dispatch.board`` for the lists, ``dispatch.actions`` for what a
button does, ``dispatch.incidents`` / ``units``), which checks the permission again, and
encode the result with layouts.dispatch. Data for a role without ``see_pii`` is masked in
dashboard.dispatch.incidents before it gets here.

Concurrency: the page keeps the incident id and the rev it shows (``DISPATCH_SELECTED``)
and every action sends that rev; when someone else was faster the officer is told who and
what changed, nothing is lost. An action's answer carries the page's new state itself (the
selection with the rev after the officer's OWN change, the detail, the queue and the map,
see ``act``), so a second quick click never counts the officer's first one as a conflict.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import redis
from dash import Input, Output, Patch, State, callback, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import audit
from dashboard.auth import User
from dashboard.citizen import movecar
from dashboard.dispatch import actions, trail
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.dispatch.board import board
from dashboard.storage.cache import ProcessCache
from dashboard.city import fallback_bbox
from dashboard.timeutil import city_zone
from dashboard.web import session
from dashboard.web.session import require
from layouts import dispatch as L
from layouts import ids

log = logging.getLogger("lukuang.dispatch")

# which button does what, and the permission the callback that owns it checks
STATUS_BUTTONS = {ids.DISPATCH_BTN_ACK: "acknowledge", ids.DISPATCH_BTN_ON_SCENE: "on_scene",
                  ids.DISPATCH_BTN_CLEAR: "clear"}
DISPATCH_BUTTONS = {ids.DISPATCH_BTN_VERIFY: "verify",
                    ids.DISPATCH_BTN_ASSIGN_NEAREST: "assign_nearest",
                    ids.DISPATCH_BTN_ASSIGN: "assign", ids.DISPATCH_BTN_REOPEN: "reopen",
                    ids.DISPATCH_BTN_RELEASE: "release", ids.DISPATCH_BTN_MERGE: "merge",
                    ids.DISPATCH_BTN_LINK: "link", ids.DISPATCH_BTN_FOLLOW: "follow",
                    ids.DISPATCH_BTN_SPLIT: "split", ids.DISPATCH_BTN_NOTE: "note"}


def _svc():
    return session.services()


def _network(svc) -> Any:
    try:
        return svc.network
    except Exception:  # noqa: BLE001 - no network: straight-line distances, plain map
        return None


_styles: ProcessCache[tuple[str, dict[str, Any], dict[str, Any]]] = ProcessCache(1)  # one network


def _base_map(svc, network) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(key, offline style, view) for the map, built once per network in this process."""
    from dashboard.roads import basemap

    if network is None:
        style = {"version": 8, "name": "lukuang-offline", "sources": {}, "layers": [
            {"id": "background", "type": "background",
             "paint": {"background-color": basemap.BACKGROUND}}]}
        return "none", style, L.view_for_bounds(fallback_bbox(svc.settings))
    return _styles.get_for(network, lambda: (
        f"net{id(network)}", basemap.build_style(network),
        L.view_for_bounds(tuple(float(v) for v in network.segments.total_bounds))))


# -- plain functions (tested directly) ---------------------------------------------------------
def refresh(svc, user: User, seen: dict[str, Any] | None, force: bool = False,
            selected: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Queue rows, counts, map, statistics and the choice lists, by output name; no update
    when neither the data version nor the minute changed since the page last asked, nor
    while Redis is unreachable (the page keeps what it shows)."""
    try:
        return _refresh(svc, user, seen, force, selected, now)
    except redis.RedisError:
        log.warning("dispatch refresh: Redis unavailable")
        raise PreventUpdate from None


def _refresh(svc, user: User, seen: dict[str, Any] | None, force: bool,
             selected: str | None, now: float | None) -> dict[str, Any]:
    now = time.time() if now is None else now
    seen = dict(seen or {})
    tag = f"{svc.store.version()}:{int(now // 60)}:{selected or ''}"
    if not force and seen.get("tag") == tag:
        raise PreventUpdate
    b = board(svc.r, svc.keys, user, now, city_zone(svc.settings))
    key, style, view = _base_map(svc, _network(svc))
    traces = L.map_traces(b.rows, b.units, selected)
    if seen.get("map") == key:
        figure: Any = Patch()
        figure["data"] = traces
    else:
        figure = L.map_figure(style, view, traces)
    report_options = [{"label": f"{x['at']} {x['source']} {x['category']} "
                                f"{x['place'] or ''} {x['text']}"[:140], "value": x["id"]}
                      for x in b.reports]
    seen.update(tag=tag, map=key)
    return {
        "rows": b.rows, "unacknowledged": str(b.unacknowledged), "open": str(len(b.rows)),
        "map": figure, "stats": L.stats_table(b.stats), "create_options": report_options,
        "report_options": report_options,
        "merge_options": [{"label": f"{x['id']} {x['status_label']} {x['category']} "
                                    f"{x['place']}"[:100], "value": x["id"]} for x in b.rows],
        "unit_options": [{"label": f"{u['callsign'] or u['id']} · "
                                   f"{L.UNIT_STATUS_LABELS.get(u['status'], u['status'])}",
                          "value": u["id"]} for u in b.units],
        "seen": seen,
    }


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


def _buttons(disabled: list[bool]) -> dict[str, list]:
    """The action buttons' "disabled" and style outputs, in ``L.BUTTON_ORDER``."""
    return {"disabled": disabled, "styles": [L.button_style(d) for d in disabled]}


def _choices(reset: bool) -> list[Any]:
    """The page's choices (``L.CHOICE_IDS``: unit, release, merge, report, split, note),
    emptied when ``reset``, else left as they are."""
    if not reset:
        return [no_update] * len(L.CHOICE_IDS)
    return [None] * (len(L.CHOICE_IDS) - 1) + [""]


def select(svc, user: User, incident_id: str | None, now: float | None = None,
           reset: bool = False) -> dict[str, Any]:
    """The detail panel, the page's (id, rev), the unit and release choices, and which
    buttons are enabled, for one incident (or none), by output name; with ``reset`` the
    choices made for the incident shown before are emptied (``choices``)."""
    nothing = {"detail": L.detail_panel(None), "selected": None, "unit_options": [],
               "release_options": [], "split_options": [],
               **_buttons([True] * len(L.BUTTON_ORDER)), "choices": _choices(reset)}
    if not incident_id:
        return nothing
    try:
        d = I.detail(svc.r, svc.keys, user, incident_id, network=_network(svc), now=now,
                     tz=city_zone(svc.settings))
    except I.NotFound:
        return nothing
    except redis.RedisError:
        raise PreventUpdate from None
    enabled = I.actions_for(user, d["status"], d["ack"], bool(d["units"]), len(d["reports"]))
    return {"detail": L.detail_panel(d), "selected": {"id": d["id"], "rev": d["rev"]},
            "unit_options": L.unit_options(d["nearest"]),
            "release_options": [{"label": f"{u['callsign'] or u['id']}", "value": u["id"]}
                                for u in d["units"]],
            "split_options": [{"label": f"{x.get('at', '')} {x.get('source', '')} "
                                        f"{x.get('id', '')}"[:100], "value": x["id"]}
                              for x in d["reports"] if x.get("id")],
            **_buttons([a not in enabled for a in L.BUTTON_ORDER]), "choices": _choices(reset)}


def select_for_page(svc, user: User, triggered: str | None, grid_rows: Any, click: Any,
                    seen: Any, current: Any) -> dict[str, Any]:
    """The select callback: the incident the trigger picks (``_pick``), its choices
    emptied when it is another incident than the one shown. A new page state whose detail
    an action's answer already carried (``detail_at`` equal to its ``tag``) changes
    nothing: no second build of the same detail."""
    current = current if isinstance(current, dict) else None
    if (triggered == ids.DISPATCH_SEEN and isinstance(seen, dict) and seen.get("tag")
            and seen.get("detail_at") == seen.get("tag")):
        raise PreventUpdate
    picked = _pick(triggered, grid_rows, click, current)
    if (triggered == ids.DISPATCH_GRID and current and picked == current.get("id")
            and isinstance(seen, dict) and seen.get("tag")
            and seen.get("detail_at") == seen.get("tag")):
        raise PreventUpdate   # the grid re-announcing the row an action's answer showed
    return select(svc, user, picked, reset=picked != (current or {}).get("id"))


def _selection(selected: Any) -> tuple[str | None, int | None]:
    """(incident id, rev) of the page's selection store; None for what it does not hold."""
    if not selected or not selected.get("id"):
        return None, None
    rev = selected.get("rev")
    rev = int(rev) if isinstance(rev, (int, float, str)) and str(rev).isdigit() else None
    return str(selected["id"]), rev


def _told(outcome: actions.Outcome, bump: int | None) -> dict[str, Any]:
    """The message and, when the page should reload, the next bump."""
    return {"message": L.message(outcome.text, outcome.level),
            "bump": (bump or 0) + 1 if outcome.refresh else no_update}


# what an action's answer sets besides the message: the page's state after the action
SELECT_OUTPUTS = ("detail", "selected", "unit_options", "release_options", "split_options",
                  "disabled", "styles", "choices")
REFRESH_OUTPUTS = ("rows", "unacknowledged", "open", "map", "stats", "create_options",
                   "report_options", "merge_options", "pick_options", "seen")


# actions that change nothing the map draws (its markers show status, place and units)
MAP_UNCHANGED = frozenset({"acknowledge", "note"})


def _unchanged() -> dict[str, Any]:
    """Every state output of an action's answer left as the page has it."""
    out: dict[str, Any] = {k: no_update for k in SELECT_OUTPUTS + REFRESH_OUTPUTS}
    out["disabled"] = out["styles"] = [no_update] * len(L.BUTTON_ORDER)
    out["choices"] = _choices(False)
    return out


def act(svc, user: User, action: str, selected: dict | None, bump: int | None = 0,
        choices: actions.Choices = actions.Choices(), seen: dict | None = None
        ) -> dict[str, Any]:
    """Run one action on the selected incident with the rev the page shows.

    The answer is the message and, when the page should show the new state, that state
    itself: the selection with the incident's rev after the action (the officer's own
    change; on a conflict, the rev that won), the detail, the buttons, the queue and the
    map. Waiting for the bump → refresh → select chain instead let a second quick click
    send the old rev (issue 14). ``bump`` is only moved when that state cannot be read.

    The answer also empties the choices the action used (unit, release, merge, report,
    split; the note only after a success, so a refused note can be corrected), and carries
    the page state of the new data version with ``detail_at`` set: the tick that follows
    finds nothing new, and the select callback, which listens to that state, does not
    build the detail a second time."""
    incident_id, rev = _selection(selected)
    window = getattr(svc.settings, "reopen_window_s", I.DEFAULT_REOPEN_WINDOW_S)
    outcome = actions.run(svc.r, svc.keys, svc.store, user, action, incident_id, rev,
                          choices, network=_network(svc), reopen_window_s=window,
                          tz=city_zone(svc.settings))
    out = {"message": L.message(outcome.text, outcome.level), "bump": no_update,
           **_unchanged()}
    if outcome.level == "ok":
        out["choices"] = _choices(True)
    if not outcome.refresh or not incident_id:
        return out
    try:
        shown = select(svc, user, incident_id, reset=True)
        page = refresh(svc, user, seen, force=True, selected=incident_id)
    except PreventUpdate:   # Redis unreachable: the page reloads when it can
        return {**out, "bump": (bump or 0) + 1}
    page["pick_options"] = page.pop("unit_options")
    page["seen"]["detail_at"] = page["seen"]["tag"]
    if outcome.level != "ok":   # keep the officer's note text to correct or send again
        shown["choices"] = shown["choices"][:-1] + [no_update]
    if outcome.level == "ok" and action in MAP_UNCHANGED and isinstance(page["map"], Patch):
        page["map"] = no_update   # the browser redraws no map the action did not change
    out.update(page)
    out.update(shown)
    if shown["selected"] and outcome.rev is not None:
        # the rev of the officer's own answer; a later one only if the detail shows it
        out["selected"] = {"id": incident_id, "rev": max(outcome.rev, shown["selected"]["rev"])}
    return out


def create(svc, user: User, report_id: str | None, bump: int | None = 0) -> dict[str, Any]:
    """New incident from a report: the message, the bump and the page's new selection."""
    outcome, res = actions.create(svc.r, svc.keys, user, report_id)
    return {**_told(outcome, bump),
            "selected": {"id": res.incident_id, "rev": res.rev} if res else no_update}


def set_unit_status(svc, user: User, unit_id: str | None, status: str | None,
                    position: str | None = None, bump: int | None = 0) -> dict[str, Any]:
    """Set a unit's status and/or position by hand (manage_units): message and bump."""
    status = None if status in (None, "", "keep") else status
    if not unit_id or (status is None and not (position or "").strip()):
        return _told(actions.Outcome("请选择警力，并给出状态或位置 Pick a unit and a status "
                                     "or a position.", "warn"), bump)
    try:
        point = actions.parse_position(position, svc.settings)
        u = U.set_unit(svc.r, svc.keys, user, unit_id, status=status,
                       lon=point[0] if point else None, lat=point[1] if point else None)
    except U.UnitError as exc:
        return _told(actions.Outcome(str(exc), "error", refresh=True), bump)
    except redis.RedisError:
        return _told(actions.Outcome("数据服务不可用 Data store unavailable.", "error"), bump)
    return _told(actions.Outcome(
        f"{u.callsign or u.id}: {L.UNIT_STATUS_LABELS.get(u.status, u.status)}"
        + (" (数据源 feed)" if not u.hold else ""), "ok", refresh=True), bump)


def audit_view(svc, user: User, who: str | None, count: int = 200) -> Any:
    if not user.can("view_audit"):
        raise PermissionError("view_audit")
    who = (who or "").strip()[:32] or None
    entries = audit.read(svc.r, svc.keys, who=who, count=count)
    tz = city_zone(svc.settings)
    for e in entries:
        try:
            e["at_local"] = datetime.fromtimestamp(float(e["at"]), tz).strftime(
                "%m-%d %H:%M:%S")
        except (TypeError, ValueError):
            e["at_local"] = ""
        e["what"] = trail.label_of(e.get("action", ""))
        e["changes"] = trail.audit_changes(e.get("before"), e.get("after"), tz)
    return L.audit_table(entries)


# -- registration --------------------------------------------------------------------------------
def _message_and_bump(message_id: str = ids.DISPATCH_MESSAGE) -> dict[str, Output]:
    """The outputs every action callback sets (several callbacks share them): the message
    (next to the control that caused it: ``message_id``) and the bump."""
    return {"message": Output(message_id, "children", allow_duplicate=True),
            "bump": Output(ids.DISPATCH_BUMP, "data", allow_duplicate=True)}


def _action_outputs() -> dict[str, Any]:
    """Message, bump, and the page's state: what ``act`` answers (see SELECT_OUTPUTS and
    REFRESH_OUTPUTS), shared with the select and refresh callbacks."""
    def out(cid: str, prop: str) -> Output:
        return Output(cid, prop, allow_duplicate=True)
    return {**_message_and_bump(),
            "detail": out(ids.DISPATCH_DETAIL, "children"),
            "selected": out(ids.DISPATCH_SELECTED, "data"),
            "unit_options": out(ids.DISPATCH_UNIT_CHOICE, "options"),
            "release_options": out(ids.DISPATCH_RELEASE_CHOICE, "options"),
            "split_options": out(ids.DISPATCH_SPLIT_CHOICE, "options"),
            "disabled": [out(bid, "disabled") for bid in L.ACTION_BUTTON_IDS.values()],
            "styles": [out(bid, "style") for bid in L.ACTION_BUTTON_IDS.values()],
            "choices": [out(cid, "value") for cid in L.CHOICE_IDS],
            "rows": out(ids.DISPATCH_GRID, "rowData"),
            "unacknowledged": out(ids.DISPATCH_UNACK, "children"),
            "open": out(ids.DISPATCH_OPEN, "children"),
            "map": out(ids.DISPATCH_MAP, "figure"),
            "stats": out(ids.DISPATCH_STATS, "children"),
            "create_options": out(ids.DISPATCH_CREATE_CHOICE, "options"),
            "report_options": out(ids.DISPATCH_REPORT_CHOICE, "options"),
            "merge_options": out(ids.DISPATCH_MERGE_CHOICE, "options"),
            "pick_options": out(ids.DISPATCH_UNIT_PICK, "options"),
            "seen": out(ids.DISPATCH_SEEN, "data")}


@callback(
    output=dict(rows=Output(ids.DISPATCH_GRID, "rowData"),
                unacknowledged=Output(ids.DISPATCH_UNACK, "children"),
                open=Output(ids.DISPATCH_OPEN, "children"),
                map=Output(ids.DISPATCH_MAP, "figure"),
                stats=Output(ids.DISPATCH_STATS, "children"),
                create_options=Output(ids.DISPATCH_CREATE_CHOICE, "options"),
                report_options=Output(ids.DISPATCH_REPORT_CHOICE, "options"),
                merge_options=Output(ids.DISPATCH_MERGE_CHOICE, "options"),
                unit_options=Output(ids.DISPATCH_UNIT_PICK, "options"),
                seen=Output(ids.DISPATCH_SEEN, "data")),
    inputs=dict(tick=Input(ids.DISPATCH_TICK, "n_intervals"),
                bump=Input(ids.DISPATCH_BUMP, "data"),
                selected=Input(ids.DISPATCH_SELECTED, "data")),
    state=dict(seen=State(ids.DISPATCH_SEEN, "data")))
def _refresh_cb(tick, bump, selected, seen):
    user = require("view_dispatch")
    sel = selected.get("id") if isinstance(selected, dict) else None
    return refresh(_svc(), user, seen, force=ctx.triggered_id == ids.DISPATCH_BUMP,
                   selected=str(sel) if sel else None)


@callback(
    output=dict(detail=Output(ids.DISPATCH_DETAIL, "children"),
                selected=Output(ids.DISPATCH_SELECTED, "data"),
                unit_options=Output(ids.DISPATCH_UNIT_CHOICE, "options"),
                release_options=Output(ids.DISPATCH_RELEASE_CHOICE, "options"),
                split_options=Output(ids.DISPATCH_SPLIT_CHOICE, "options"),
                disabled=[Output(bid, "disabled") for bid in L.ACTION_BUTTON_IDS.values()],
                styles=[Output(bid, "style") for bid in L.ACTION_BUTTON_IDS.values()],
                choices=[Output(cid, "value", allow_duplicate=True) for cid in L.CHOICE_IDS]),
    inputs=dict(grid_rows=Input(ids.DISPATCH_GRID, "selectedRows"),
                click=Input(ids.DISPATCH_MAP, "clickData"),
                seen=Input(ids.DISPATCH_SEEN, "data"), bump=Input(ids.DISPATCH_BUMP, "data")),
    state=dict(current=State(ids.DISPATCH_SELECTED, "data")),
    prevent_initial_call="initial_duplicate")
def _select_cb(grid_rows, click, seen, bump, current):
    user = require("view_dispatch")
    return select_for_page(_svc(), user, ctx.triggered_id, grid_rows, click, seen, current)


@callback(
    output=_action_outputs(),
    inputs=dict(clicks=[Input(bid, "n_clicks") for bid in STATUS_BUTTONS]),
    state=dict(selected=State(ids.DISPATCH_SELECTED, "data"),
               note=State(ids.DISPATCH_NOTE, "value"), bump=State(ids.DISPATCH_BUMP, "data"),
               seen=State(ids.DISPATCH_SEEN, "data")),
    prevent_initial_call=True)
def _status_cb(clicks, selected, note, bump, seen):
    user = require("acknowledge")
    action = STATUS_BUTTONS.get(ctx.triggered_id or "")
    if action is None or not any(clicks):
        raise PreventUpdate
    return act(_svc(), user, action, selected, bump, actions.Choices(note=note), seen)


@callback(
    output=_action_outputs(),
    inputs=dict(clicks=[Input(bid, "n_clicks") for bid in DISPATCH_BUTTONS]),
    state=dict(selected=State(ids.DISPATCH_SELECTED, "data"),
               unit=State(ids.DISPATCH_UNIT_CHOICE, "value"),
               release=State(ids.DISPATCH_RELEASE_CHOICE, "value"),
               merge_into=State(ids.DISPATCH_MERGE_CHOICE, "value"),
               report=State(ids.DISPATCH_REPORT_CHOICE, "value"),
               split=State(ids.DISPATCH_SPLIT_CHOICE, "value"),
               note=State(ids.DISPATCH_NOTE, "value"), bump=State(ids.DISPATCH_BUMP, "data"),
               seen=State(ids.DISPATCH_SEEN, "data")),
    prevent_initial_call=True)
def _dispatch_cb(clicks, selected, unit, release, merge_into, report, split, note, bump, seen):
    user = require("dispatch")
    action = DISPATCH_BUTTONS.get(ctx.triggered_id or "")
    if action is None or not any(clicks):
        raise PreventUpdate
    return act(_svc(), user, action, selected, bump,
               actions.Choices(unit=unit, release=release, merge_into=merge_into,
                               report=report, split=split, note=note), seen)


@callback(
    output=dict(**_message_and_bump(ids.DISPATCH_CREATE_MSG),
                selected=Output(ids.DISPATCH_SELECTED, "data", allow_duplicate=True)),
    inputs=dict(clicks=Input(ids.DISPATCH_BTN_CREATE, "n_clicks")),
    state=dict(report=State(ids.DISPATCH_CREATE_CHOICE, "value"),
               bump=State(ids.DISPATCH_BUMP, "data")),
    prevent_initial_call=True)
def _create_cb(clicks, report, bump):
    user = require("dispatch")
    if not clicks:
        raise PreventUpdate
    return create(_svc(), user, report, bump)


@callback(
    output=_message_and_bump(ids.DISPATCH_UNIT_MSG),
    inputs=dict(clicks=Input(ids.DISPATCH_BTN_UNIT_SET, "n_clicks")),
    state=dict(unit=State(ids.DISPATCH_UNIT_PICK, "value"),
               status=State(ids.DISPATCH_UNIT_STATUS, "value"),
               bump=State(ids.DISPATCH_BUMP, "data"),
               position=State(ids.DISPATCH_UNIT_POS, "value")),
    prevent_initial_call=True)
def _unit_cb(clicks, unit, status, bump, position):
    user = require("manage_units")
    if not clicks:
        raise PreventUpdate
    return set_unit_status(_svc(), user, unit, status, position, bump)


@callback(
    output=Output(ids.DISPATCH_AUDIT_TABLE, "children"),
    inputs=dict(clicks=Input(ids.DISPATCH_BTN_AUDIT, "n_clicks")),
    state=dict(who=State(ids.DISPATCH_AUDIT_WHO, "value")),
    prevent_initial_call=True)
def _audit_cb(clicks, who):
    user = require("view_audit")
    if not clicks:
        raise PreventUpdate
    return audit_view(_svc(), user, who)


# -- move-car (挪车) tasks (issue 18) --------------------------------------------------------------
MOVECAR_BUTTONS = {bid: action for action, bid in ids.DISPATCH_MOVECAR_BTN.items()}
MOVECAR_ID_MAX = 40


def movecar_view(svc, user: User, seen: dict | None, now: float | None = None
                 ) -> dict[str, Any]:
    """The move-car table (time left on each clock), the task choices and the page's state,
    by output name. Nothing is sent while there is no open task and the data version is the
    one the page shows (one GET and one ZCARD a tick); Redis away: no update."""
    try:
        version = svc.store.version()
        count = movecar.active_count(svc.r, svc.keys)
        seen = seen if isinstance(seen, dict) else {}
        if count == 0 and seen.get("v") == version and seen.get("n") == 0:
            raise PreventUpdate
        rows = movecar.rows(svc.r, svc.keys, user, now=now, tz=city_zone(svc.settings))
    except redis.RedisError:
        raise PreventUpdate from None
    sig = "|".join(f"{r['id']}:{r['status']}" for r in rows)
    options = [{"label": f"{r['id']} · {r['place']} · {r['status_label']}"[:100],
                "value": r["id"]} for r in rows if r["status"] not in movecar.CLOSED]
    return {"table": L.movecar_table(rows),
            "options": options if sig != seen.get("sig") else no_update,
            "seen": {"v": version, "n": count, "sig": sig}}


def movecar_act(svc, user: User, task_id: Any, action: str | None,
                bump: int | None = 0) -> dict[str, Any]:
    """Mark the picked task (``movecar.mark`` checks the role again): message and bump."""
    if not isinstance(task_id, str) or not task_id or len(task_id) > MOVECAR_ID_MAX:
        return {"message": L.message("请先选择挪车任务 Pick a move-car task first.", "warn"),
                "bump": no_update}
    try:
        task = movecar.mark(svc.r, svc.keys, user, task_id, action or "")
    except movecar.MoveCarError as exc:
        return {"message": L.message(str(exc), "error"), "bump": (bump or 0) + 1}
    except redis.RedisError:
        return {"message": L.message("数据服务不可用 Data store unavailable.", "error"),
                "bump": no_update}
    return {"message": L.message(f"{task.id}: {movecar.STATUS_LABELS[task.status]}", "ok"),
            "bump": (bump or 0) + 1}


@callback(
    output=dict(table=Output(ids.DISPATCH_MOVECAR_TABLE, "children"),
                options=Output(ids.DISPATCH_MOVECAR_PICK, "options"),
                seen=Output(ids.DISPATCH_MOVECAR_SEEN, "data")),
    inputs=dict(tick=Input(ids.DISPATCH_TICK, "n_intervals"),
                bump=Input(ids.DISPATCH_BUMP, "data")),
    state=dict(seen=State(ids.DISPATCH_MOVECAR_SEEN, "data")))
def _movecar_cb(tick, bump, seen):
    user = require("view_dispatch")
    return movecar_view(_svc(), user, None if ctx.triggered_id == ids.DISPATCH_BUMP else seen)


@callback(
    output=dict(message=Output(ids.DISPATCH_MOVECAR_MSG, "children"),
                bump=Output(ids.DISPATCH_BUMP, "data", allow_duplicate=True)),
    inputs=dict(clicks=[Input(bid, "n_clicks") for bid in MOVECAR_BUTTONS]),
    state=dict(task=State(ids.DISPATCH_MOVECAR_PICK, "value"),
               bump=State(ids.DISPATCH_BUMP, "data")),
    prevent_initial_call=True)
def _movecar_act_cb(clicks, task, bump):
    user = require("dispatch")
    action = MOVECAR_BUTTONS.get(ctx.triggered_id or "")
    if action is None or not any(clicks):
        raise PreventUpdate
    return movecar_act(_svc(), user, task, action, bump)
