"""/dispatch (指挥调度): the incident queue, the map of incidents and units, the incident
detail with its lifecycle buttons, clearance statistics, units and (admins) the audit.

Pure functions that turn plain data (built in dashboard.incidents / units / clearance)
into components and plotly dicts. Every user-supplied string is a text child or a plain
grid cell (AG Grid's default text renderer): nothing is rendered as HTML.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import dash_ag_grid as dag
from dash import dcc, html

from dashboard.dispatch.labels import UNIT_STATUS_LABELS as UNIT_STATUS_ZH, UNIT_TYPE_LABELS
from dashboard.masking import plotly_text
from dashboard.roads import basemap

from . import ids
from .shell import nav

MAP_HEIGHT_PX = 430
MAP_WIDTH_PX = 560
STATUS_COLOURS = {"reported": "#e0462f", "verified": "#f08c00", "dispatched": "#3d7fe0",
                  "on_scene": "#8e44ad", "cleared": "#2e9e4f", "merged": "#9aa5b1"}
UNIT_COLOURS = {"free": "#2ecc71", "assigned": "#3d7fe0", "on_scene": "#8e44ad",
                "off_duty": "#7f8c8d"}
MAP_PADDING = 0.055   # of the box's size on each side: the map's margin (about zoom − 0.15)
# "空闲 free": the Chinese label, then the English word
UNIT_STATUS_LABELS = {status: f"{label} {status.replace('_', ' ')}"
                      for status, label in UNIT_STATUS_ZH.items()}
BUTTONS = (  # (action, id, label, keyboard shortcut or "")
    ("acknowledge", ids.DISPATCH_BTN_ACK, "确认 Acknowledge", "A"),
    ("verify", ids.DISPATCH_BTN_VERIFY, "核实 Verify", ""),
    ("assign_nearest", ids.DISPATCH_BTN_ASSIGN_NEAREST, "派最近警力 Dispatch nearest", "D"),
    ("on_scene", ids.DISPATCH_BTN_ON_SCENE, "到场 On scene", "S"),
    ("clear", ids.DISPATCH_BTN_CLEAR, "清除 Clear", "C"),
    ("reopen", ids.DISPATCH_BTN_REOPEN, "重开 Reopen", ""),
)
ACTION_BUTTON_IDS = {a: i for a, i, _, _ in BUTTONS} | {
    "assign": ids.DISPATCH_BTN_ASSIGN, "release": ids.DISPATCH_BTN_RELEASE,
    "merge": ids.DISPATCH_BTN_MERGE, "link": ids.DISPATCH_BTN_LINK,
    "follow": ids.DISPATCH_BTN_FOLLOW, "split": ids.DISPATCH_BTN_SPLIT,
    "note": ids.DISPATCH_BTN_NOTE}
BUTTON_ORDER = tuple(ACTION_BUTTON_IDS)   # the order of the buttons' "disabled" outputs
# the choices an action's answer resets (the page's "value" outputs, in this order)
CHOICE_IDS = (ids.DISPATCH_UNIT_CHOICE, ids.DISPATCH_RELEASE_CHOICE, ids.DISPATCH_MERGE_CHOICE,
              ids.DISPATCH_REPORT_CHOICE, ids.DISPATCH_SPLIT_CHOICE, ids.DISPATCH_NOTE)
NOTE_MAX = 300   # the note field's limit (the server checks it: incidents.clean_note)
MAP_SHARE = "46%"   # of the middle pane's height: the map; the desk's tools scroll below it


def _pane(children: Any, *, scroll: bool = False, class_name: str = "") -> html.Div:
    """One pane of the desk's grid; ``scroll``: its content scrolls inside it."""
    cls = "lk-dispatch-pane" + (" lk-dispatch-scroll" if scroll else "")
    return html.Div(children, className=f"{cls} {class_name}".strip())


def _section(title: str, children: Any, open_: bool = False) -> html.Details:
    """A collapsible section of a pane (native <details>: no callback, no script)."""
    return html.Details([html.Summary(title), html.Div(children)], open=open_,
                        className="lk-dispatch-section")


def queue_columns() -> list[dict[str, Any]]:
    """The queue's columns; every cell is plain text."""
    return [
        {"field": "rank", "headerName": "#", "width": 42},
        {"field": "id", "headerName": "编号 ID", "width": 104},
        {"field": "status_label", "headerName": "状态", "width": 66},
        {"field": "ack", "headerName": "确认", "width": 50},
        {"field": "severity", "headerName": "级别", "width": 50},
        {"field": "category", "headerName": "类别", "width": 58},
        {"field": "place", "headerName": "地点 place", "flex": 1, "minWidth": 120},
        {"field": "district", "headerName": "辖区", "width": 70},
        {"field": "age_min", "headerName": "分钟", "width": 54},
        {"field": "units", "headerName": "警力 units", "width": 90},
        {"field": "reports", "headerName": "报告", "width": 50},
    ]


def layout(can: Iterable[str] = (), tick_ms: int = 5000) -> html.Div:
    """The page: one screen without page scroll (assets/dispatch.css): the queue, the map
    with the desk's less frequent tools below it, and the selected incident's actions and
    detail, side by side; each pane scrolls inside itself. ``can`` is the caller's
    permissions: buttons for what the role may not do are shown disabled (the server
    refuses them anyway). Every ``tick_ms`` the page asks whether the data version (or the
    minute) changed; an unchanged answer is one Redis GET. The keys of the shortcut hints
    are pressed by assets/dispatch_keys.js, which clicks the button."""
    can = set(can)
    dispatch = "dispatch" in can

    def button(bid: str, label: str, allowed: bool, key: str = "", **kw: Any) -> html.Button:
        hint = [" ", html.Kbd(key, className="lk-kbd")] if key else []
        title = (f"快捷键 shortcut: {key}" if key else None) if allowed else \
            "无权限 not allowed for your role"
        extra = {"aria-keyshortcuts": key.lower()} if key else {}
        return html.Button([label, *hint], id=bid, n_clicks=0, disabled=True,
                           style=button_style(True), title=title, **extra, **kw)

    status_ok = "acknowledge" in can  # acknowledge, on scene, clear once dispatched
    lifecycle = [button(bid, label, dispatch or (status_ok and action in (
        "acknowledge", "on_scene", "clear")), key) for action, bid, label, key in BUTTONS]
    grid = dag.AgGrid(id=ids.DISPATCH_GRID, columnDefs=queue_columns(), rowData=[],
                      getRowId="params.data.id",
                      defaultColDef={"sortable": True, "resizable": True},
                      dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                        "enableClickSelection": True},
                                       "animateRows": False, "rowHeight": 34},
                      getRowStyle={"styleConditions": [
                          {"condition": "params.data.ack === '否'",
                           "style": {"fontWeight": "700"}}]},
                      style={"height": "100%", "width": "100%"})
    actions = html.Div(className="lk-dispatch-actions", children=[
        html.Div(lifecycle, className="lk-dispatch-buttons"),
        # the answer to the buttons above, right below them (not at the top of the page)
        html.Div(id=ids.DISPATCH_MESSAGE, role="status", **{"aria-live": "polite"},
                 className="lk-dispatch-feedback"),
        html.Div(className="lk-dispatch-note", children=[
            dcc.Input(id=ids.DISPATCH_NOTE, type="text", maxLength=NOTE_MAX, debounce=False,
                      placeholder="备注 note: 单独添加，或随操作记录 (N)"),
            button(ids.DISPATCH_BTN_NOTE, "添加备注 Add note", dispatch)]),
        _section("更多操作 More actions: unit, release, merge, link, split", [
            html.H4("最近空闲警力 Nearest free units"),
            dcc.RadioItems(id=ids.DISPATCH_UNIT_CHOICE, options=[], value=None,
                           labelStyle={"display": "block"}),
            html.Div([button(ids.DISPATCH_BTN_ASSIGN, "派所选警力 Dispatch selected unit",
                             dispatch)], className="lk-dispatch-row"),
            html.H4("收回警力 Release a unit"),
            html.Div([dcc.Dropdown(id=ids.DISPATCH_RELEASE_CHOICE, options=[],
                                   placeholder="unit", className="lk-dispatch-pick"),
                      button(ids.DISPATCH_BTN_RELEASE, "收回 Release", dispatch)],
                     className="lk-dispatch-row"),
            html.H4("合并重复事件 Merge into"),
            html.Div([dcc.Dropdown(id=ids.DISPATCH_MERGE_CHOICE, options=[],
                                   placeholder="incident", className="lk-dispatch-pick"),
                      button(ids.DISPATCH_BTN_MERGE, "合并 Merge", dispatch)],
                     className="lk-dispatch-row"),
            html.H4("关联报告 Link a report"),
            dcc.Dropdown(id=ids.DISPATCH_REPORT_CHOICE, options=[], placeholder="report"),
            html.Div([button(ids.DISPATCH_BTN_LINK, "关联 Link", dispatch),
                      button(ids.DISPATCH_BTN_FOLLOW,
                             "跟踪并转交 Follow (moving target: hand over)", dispatch)],
                     className="lk-dispatch-row"),
            html.H4("拆分错误合并 Split a report off"),
            html.Div([dcc.Dropdown(id=ids.DISPATCH_SPLIT_CHOICE, options=[],
                                   placeholder="report of this incident",
                                   className="lk-dispatch-pick"),
                      button(ids.DISPATCH_BTN_SPLIT, "拆分 Split", dispatch)],
                     className="lk-dispatch-row"),
        ]),
    ])
    tools = [
        _section("从报告创建事件 New incident from a report", [
            dcc.Dropdown(id=ids.DISPATCH_CREATE_CHOICE, options=[],
                         placeholder="report (微博 / 122 / Waze)"),
            html.Div([html.Button("创建 Create", id=ids.DISPATCH_BTN_CREATE, n_clicks=0,
                                  disabled=not dispatch)], className="lk-dispatch-row"),
            html.Div(id=ids.DISPATCH_CREATE_MSG, role="status", **{"aria-live": "polite"},
                     className="lk-dispatch-feedback")], open_=True),
        _section("挪车 Move-car requests (5 min)", movecar_section(dispatch), open_=True),
        _section("警力状态 Unit status (by hand)", [
            html.Div([dcc.Dropdown(id=ids.DISPATCH_UNIT_PICK, options=[], placeholder="unit",
                                   className="lk-dispatch-pick"),
                      dcc.Dropdown(id=ids.DISPATCH_UNIT_STATUS, value="off_duty",
                                   clearable=False, className="lk-dispatch-pick",
                                   options=[{"label": "状态不变 status unchanged",
                                             "value": "keep"},
                                            {"label": UNIT_STATUS_LABELS["off_duty"],
                                             "value": "off_duty"},
                                            {"label": UNIT_STATUS_LABELS["free"],
                                             "value": "free"},
                                            {"label": "交还数据源 back to feed",
                                             "value": "feed"}])],
                     className="lk-dispatch-row"),
            html.Div([dcc.Input(id=ids.DISPATCH_UNIT_POS, type="text", maxLength=80,
                                placeholder="位置 lon,lat 或 路口 (长城路与泰玻大街)",
                                className="lk-dispatch-grow"),
                      html.Button("设置 Set", id=ids.DISPATCH_BTN_UNIT_SET, n_clicks=0,
                                  disabled="manage_units" not in can)],
                     className="lk-dispatch-row"),
            html.Div(id=ids.DISPATCH_UNIT_MSG, role="status", **{"aria-live": "polite"},
                     className="lk-dispatch-feedback")]),
        _section("处置时长 Clearance times (minutes: median / p90)",
                 html.Div(id=ids.DISPATCH_STATS, children=stats_table([]))),
        _section("审计记录 Audit trail (all desks)", audit_section("view_audit" in can)),
    ]
    return html.Div(className="lk-page lk-dispatch", children=[
        nav("/dispatch"),
        dcc.Interval(id=ids.DISPATCH_TICK, interval=tick_ms, n_intervals=0),
        dcc.Store(id=ids.DISPATCH_SEEN, data={}),
        dcc.Store(id=ids.DISPATCH_SELECTED, data=None),
        dcc.Store(id=ids.DISPATCH_BUMP, data=0),
        dcc.Store(id=ids.DISPATCH_MOVECAR_SEEN, data={}),
        html.Div(className="lk-dispatch-head", children=[
            html.H1("指挥调度 Dispatch"),
            html.Span(["未确认 unacknowledged ", html.Strong("—", id=ids.DISPATCH_UNACK)],
                      className="lk-pill", style={"background": "#fde2de"}),
            html.Span(["处理中 open ", html.Strong("—", id=ids.DISPATCH_OPEN)],
                      className="lk-pill"),
            html.Span("快捷键 keys: A 确认 · D 派最近 · S 到场 · C 清除 · N 备注 "
                      "(not while typing)", className="lk-muted lk-dispatch-keys"),
        ]),
        html.Div(className="lk-dispatch-grid", children=[
            _pane([html.H3("事件队列 Incident queue (by urgency)"),
                   html.Div(grid, className="lk-dispatch-fill")], class_name="lk-dispatch-queue"),
            _pane([html.Div(dcc.Graph(id=ids.DISPATCH_MAP, figure=empty_figure(),
                                      config={"displayModeBar": False, "scrollZoom": True,
                                              "displaylogo": False, "responsive": True},
                                      style={"height": "100%", "width": "100%"}),
                            className="lk-dispatch-map", style={"flexBasis": MAP_SHARE}),
                   html.Div(tools, className="lk-dispatch-scroll lk-dispatch-tools")],
                  class_name="lk-dispatch-middle"),
            _pane([actions,
                   html.Div(id=ids.DISPATCH_DETAIL, children=detail_panel(None),
                            className="lk-dispatch-scroll lk-dispatch-detail")],
                  class_name="lk-dispatch-incident"),
        ]),
    ])


def button_style(disabled: bool) -> dict[str, Any]:
    """Disabled buttons look disabled (the shared stylesheet has no :disabled rule)."""
    return {"opacity": 0.4, "cursor": "not-allowed"} if disabled else {}


def audit_section(allowed: bool) -> list:
    if not allowed:
        return [html.P("仅管理员可查看 Admins only.", className="lk-muted")]
    return [html.Div([dcc.Input(id=ids.DISPATCH_AUDIT_WHO, type="text", maxLength=32,
                                placeholder="user (optional)", className="lk-dispatch-grow"),
                      html.Button("查看 Show", id=ids.DISPATCH_BTN_AUDIT, n_clicks=0),
                      html.A("导出 CSV export", href="/api/v1/audit.csv", target="_blank",
                             rel="noopener")], className="lk-dispatch-row"),
            html.Div(id=ids.DISPATCH_AUDIT_TABLE)]


# -- map ----------------------------------------------------------------------------------------
def view_for_bounds(bounds: Sequence[float], width_px: float = MAP_WIDTH_PX,
                    height_px: float = MAP_HEIGHT_PX) -> dict[str, Any]:
    """Centre and zoom that fit a lon/lat box into the panel (``basemap.view_for_bounds``)."""
    return basemap.view_for_bounds(bounds, width_px, height_px, padding=MAP_PADDING)


def empty_figure() -> dict[str, Any]:
    return {"data": [], "layout": {"margin": {"l": 0, "r": 0, "t": 0, "b": 0},
                                   "xaxis": {"visible": False}, "yaxis": {"visible": False},
                                   "paper_bgcolor": "#0a1220", "plot_bgcolor": "#0a1220"}}


def map_traces(rows: Sequence[dict[str, Any]], units: Sequence[dict[str, Any]],
               selected: str | None) -> list[dict[str, Any]]:
    """Five traces: links unit → incident, units, incidents, the selected incident ring.
    Hover text is built from masked fields only, as plain text (``plotly_text``: plotly
    would draw a unit callsign ``<a href=…>`` from a feed as a link)."""
    inc_by_id = {r["id"]: r for r in rows}
    link_lon: list[Any] = []
    link_lat: list[Any] = []
    for u in units:
        inc = inc_by_id.get(u.get("incident") or "")
        if inc and u.get("lon") is not None:
            link_lon += [u["lon"], inc["lon"], None]
            link_lat += [u["lat"], inc["lat"], None]
    shown_units = [u for u in units if u.get("lon") is not None]
    sel = inc_by_id.get(selected or "")
    return [
        {"type": "scattermap", "mode": "lines", "name": "派警 dispatched",
         "lon": link_lon, "lat": link_lat, "hoverinfo": "skip",
         "line": {"color": "#8fb8ff", "width": 2}},
        {"type": "scattermap", "mode": "markers", "name": "警力 units",
         "lon": [u["lon"] for u in shown_units], "lat": [u["lat"] for u in shown_units],
         "customdata": [f"unit:{u['id']}" for u in shown_units],
         "hovertext": [plotly_text(
             f"{u.get('callsign') or u['id']} · "
             f"{UNIT_TYPE_LABELS.get(u.get('type', ''), u.get('type', ''))} · "
             f"{UNIT_STATUS_LABELS.get(u.get('status', ''), u.get('status', ''))}")
             for u in shown_units],
         "hoverinfo": "text",
         "marker": {"size": 9, "color": [UNIT_COLOURS.get(u.get("status", ""), "#ccc")
                                         for u in shown_units], "opacity": 0.95}},
        {"type": "scattermap", "mode": "markers", "name": "事件 incidents",
         "lon": [r["lon"] for r in rows], "lat": [r["lat"] for r in rows],
         "customdata": [r["id"] for r in rows],
         "hovertext": [plotly_text(f"{r['id']} · {r['status_label']} · {r['category']} · "
                                   f"{r['place']}") for r in rows],
         "hoverinfo": "text",
         "marker": {"size": [10 + 3 * int(r.get("severity") or 0) for r in rows],
                    "color": [STATUS_COLOURS.get(r["status"], "#ccc") for r in rows]}},
        {"type": "scattermap", "mode": "markers", "name": "所选 selected",
         "lon": [sel["lon"]] if sel else [], "lat": [sel["lat"]] if sel else [],
         "hoverinfo": "skip", "showlegend": False,
         "marker": {"size": 26, "color": "rgba(255, 211, 77, 0.35)"}},
    ]


def map_figure(style: dict[str, Any], view: dict[str, Any], traces: list[dict[str, Any]]
               ) -> dict[str, Any]:
    """The whole map: an offline style (no tile server) and the data traces."""
    bg = style.get("layers", [{}])[0].get("paint", {}).get("background-color", "#0a1220")
    return {"data": traces, "layout": {
        "map": {"style": style, "center": view["center"], "zoom": view["zoom"]},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "uirevision": "dispatch",
        "paper_bgcolor": bg, "showlegend": True,
        "legend": {"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.85)",
                   "font": {"size": 12}}, "clickmode": "event"}}


# -- detail -------------------------------------------------------------------------------------
def _kv(label: str, value: Any) -> html.Tr:
    return html.Tr([html.Th(label), html.Td("—" if value in (None, "") else str(value))])


def detail_panel(d: dict[str, Any] | None) -> list:
    """The incident detail: header, location, times, reports, units, history."""
    if not d:
        return [html.H3("事件详情 Incident", style={"marginTop": 0}),
                html.P("在队列或地图上选择一个事件。 Pick an incident in the queue or on the map.",
                       className="lk-muted")]
    colour = STATUS_COLOURS.get(d["status"], "#ccc")
    head = html.H3(style={"marginTop": 0}, children=[
        html.Span(d["id"], id="dispatch-detail-id"), " ",
        html.Span(d["status_label"], className="lk-pill", id="dispatch-detail-status",
                  style={"background": colour, "color": "#fff"}),
        f" {d['category']} · 级别 {d['severity']}",
        html.Span(" 已确认 acknowledged" if d["ack"] else " 未确认 unacknowledged",
                  className="lk-muted")])
    times = d["times"]
    info = html.Table(className="lk-table lk-fit lk-kv", children=html.Tbody([
        _kv("地点 place", d["place"]),
        _kv("道路 roads", "、".join(d.get("road_names") or [])),
        _kv("辖区 district", d["district"]),
        _kv("坐标 lon, lat", f"{d['lon']:.5f}, {d['lat']:.5f}"),
        _kv("内容 text", d["text"]),
        _kv("报告 → 核实 → 派警 → 到场 → 清除",
            " → ".join(times.get(k) or "—" for k in ("reported_at", "verified_at",
                                                       "dispatched_at", "on_scene_at",
                                                       "cleared_at"))),
        _kv("确认 acknowledged by", f"{d['ack_by']} {d['ack_at']}".strip()),
        _kv("合并 merged", ("→ " + d["merged_into"]) if d.get("merged_into")
            else "、".join(d.get("merged") or [])),
    ]))
    reports = [html.H4(f"关联报告 Reports ({len(d['reports'])})")]
    rows = []
    for rep in d["reports"]:
        private = rep.get("private") or {}
        contact = "; ".join(f"{k}: {v}" for k, v in private.items() if k != "raw_text")
        rows.append(html.Tr([html.Td(rep.get("source", "")), html.Td(rep.get("at", "")),
                             html.Td(rep.get("id", "")),
                             html.Td(private.get("raw_text") or rep.get("text", "")),
                             html.Td(contact or ("—" if d.get("pii") else "已隐藏 masked"))]))
    reports.append(html.Table(className="lk-table lk-fit", children=[
        html.Thead(html.Tr([html.Th(h) for h in ("来源 source", "时间 at", "编号 id",
                                                 "内容 text", "联系人 contact")])),
        html.Tbody(rows)]))
    units = [html.H4(f"已派警力 Assigned units ({len(d['units'])})")]
    if d["units"]:
        units.append(html.Table(className="lk-table lk-fit", children=html.Tbody([
            html.Tr([html.Td(u.get("callsign") or u["id"]), html.Td(u["id"]),
                     html.Td(UNIT_TYPE_LABELS.get(u["type"], u["type"])),
                     html.Td(UNIT_STATUS_LABELS.get(u["status"], u["status"]))])
            for u in d["units"]])))
    history = [html.H4(f"审计记录 Audit trail of {d['id']} ({len(d.get('trail') or [])})"),
               trail_table(d.get("trail") or [])]
    return [head, info, *reports, *units, *history]


def unit_options(nearest: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in nearest:
        metres = c["road_m"] if c.get("road_m") is not None else c["straight_m"]
        how = "道路 by road" if c.get("by") == "road" else "直线 straight line"
        out.append({"label": f"{c['callsign'] or c['id']} "
                             f"({UNIT_TYPE_LABELS.get(c['type'], c['type'])}) "
                             f"{metres / 1000:.1f} km {how}", "value": c["id"]})
    return out


def stats_table(rows: Sequence[dict[str, Any]]) -> html.Table | html.P:
    if not rows:
        return html.P("近7天暂无事件 No incidents in the last 7 days.", className="lk-muted")

    def fig(row: dict[str, Any], stage: str) -> str:
        n = row.get(f"{stage}_n", 0)
        if not n:
            return "—"
        return f"{row[f'{stage}_median']} / {row[f'{stage}_p90']} (n={n})"
    stages = (("report_to_dispatch", "报告→派警"), ("dispatch_to_scene", "派警→到场"),
              ("scene_to_clear", "到场→清除"), ("report_to_clear", "报告→清除"))
    return html.Table(className="lk-table", children=[
        html.Thead(html.Tr([html.Th("日期 day"), html.Th("辖区 district"),
                            html.Th("事件 incidents"), html.Th("已清除 cleared"),
                            *[html.Th(label) for _, label in stages],
                            html.Th("挪车 move-car")])),
        html.Tbody([html.Tr([html.Td(r["day"]), html.Td(r["district"]),
                             html.Td(str(r["incidents"]), className="lk-num"),
                             html.Td(str(r["cleared"]), className="lk-num"),
                             *[html.Td(fig(r, s), className="lk-num") for s, _ in stages],
                             html.Td(movecar_figure(r), className="lk-num")])
                    for r in rows])])


def trail_table(rows: Sequence[dict[str, str]]) -> html.Table | html.P:
    """One incident's audit view (``dispatch.trail.rows``): when, who, what, before →
    after with the note below it; a fixed layout that wraps long words, so it fits its
    pane and never scrolls sideways. Every value is a text child."""
    if not rows:
        return html.P("没有记录 No entries.", className="lk-muted", id=ids.DISPATCH_TRAIL)
    return html.Table(id=ids.DISPATCH_TRAIL, className="lk-table lk-fit lk-trail", children=[
        html.Colgroup([html.Col(className="lk-col-at"), html.Col(className="lk-col-who"),
                       html.Col(className="lk-col-what"), html.Col()]),
        html.Thead(html.Tr([html.Th(h) for h in ("时间 when", "人员 who", "操作 what",
                                                 "之前 → 之后 before → after")])),
        html.Tbody([html.Tr(className="lk-trail-row-note" if r.get("note") else "",
                            children=[
            html.Td(r.get("at", "")), html.Td(r.get("who", "")), html.Td(r.get("what", "")),
            html.Td([html.Div(r.get("change") or "—"),
                     *([html.Div(r["note"], className="lk-trail-note")] if r.get("note")
                       else [])])]) for r in rows])])


def audit_table(entries: Sequence[dict[str, Any]]) -> html.Table | html.P:
    """The audit stream (admins): when, who, what, target, before → after as one line per
    changed field (``at_local`` and ``changes`` filled in by the caller), no raw JSON."""
    if not entries:
        return html.P("没有记录 No entries.", className="lk-muted")
    return html.Table(className="lk-table lk-fit lk-trail", children=[
        html.Colgroup([html.Col(className="lk-col-at"), html.Col(className="lk-col-who"),
                       html.Col(className="lk-col-what"), html.Col()]),
        html.Thead(html.Tr([html.Th(h) for h in ("时间 when", "人员 who", "操作 what",
                                                 "之前 → 之后 before → after")])),
        html.Tbody([html.Tr([
            html.Td(e.get("at_local", "")),
            html.Td(f"{e.get('who', '')} ({e.get('role', '')})"),
            html.Td([html.Div(e.get("what") or e.get("action", "")),
                     html.Div(f"{e.get('target', '')} rev {e.get('rev', '')}",
                              className="lk-muted")]),
            html.Td([html.Div(line) for line in e.get("changes") or ["—"]]
                    + ([html.Div(e["note"], className="lk-trail-note")]
                       if e.get("note") else []))]) for e in entries])])


def message(text: str, kind: str = "ok") -> html.Div:
    colours = {"ok": "#1f8a3a", "warn": "#b07d00", "error": "#c0271a"}
    return html.Div(text, className=f"lk-dispatch-msg lk-dispatch-msg-{kind}",
                    style={"color": colours.get(kind, "#1b2533"), "fontWeight": 600})


# -- move-car (挪车) ------------------------------------------------------------------------------
MOVECAR_BUTTONS = (("notified", "已通知车主 Owner notified"), ("moved", "已挪走 Moved"),
                   ("towed", "已拖移 Towed"))


def movecar_section(allowed: bool) -> list:
    """The move-car list (``movecar_table``, filled by the desk's tick) and the officer's
    three marks for the task picked; disabled for a role without ``dispatch``."""
    return [html.Div(id=ids.DISPATCH_MOVECAR_TABLE, children=movecar_table([])),
            html.Div([dcc.Dropdown(id=ids.DISPATCH_MOVECAR_PICK, options=[],
                                   placeholder="挪车任务 task", className="lk-dispatch-pick"),
                      *[html.Button(label, id=ids.DISPATCH_MOVECAR_BTN[action], n_clicks=0,
                                    disabled=not allowed, style=button_style(not allowed),
                                    title=None if allowed else "无权限 not allowed for your role")
                        for action, label in MOVECAR_BUTTONS]],
                     className="lk-dispatch-row"),
            html.Div(id=ids.DISPATCH_MOVECAR_MSG, role="status", **{"aria-live": "polite"},
                     className="lk-dispatch-feedback")]


def movecar_table(rows: Sequence[dict[str, Any]]) -> html.Table | html.P:
    """Open move-car tasks (and those closed in the last minutes): id, place, district,
    status, opened, time left on the 5-minute clock, plate (masked unless the role may see
    it: the rows come masked from dashboard.citizen.movecar). Plain text cells."""
    if not rows:
        return html.P("暂无挪车请求 No move-car requests.", className="lk-muted")
    return html.Table(className="lk-table lk-fit", children=[
        html.Thead(html.Tr([html.Th(h) for h in ("编号 id", "地点 place", "辖区 district",
                                                 "状态 status", "受理 opened", "剩余 left",
                                                 "车牌 plate")])),
        html.Tbody([html.Tr([
            html.Td(r["id"]), html.Td(r["place"]), html.Td(r["district"]),
            html.Td(r["status_label"]), html.Td(r["opened"]),
            html.Td(r["left"], className="lk-num",
                    style={"color": "#c0271a", "fontWeight": 700} if r.get("overdue") else {}),
            html.Td(r["plate"])]) for r in rows])])


def movecar_figure(row: dict[str, Any]) -> str:
    """A stats row's move-car cell: median / p90 minutes (closed/opened, closed within 5
    minutes), or — when no task was opened."""
    n = row.get("movecar_n", 0)
    if not n:
        return "—"
    closed = row.get("movecar_closed", 0)
    if not closed:
        return f"— (0/{n})"
    return (f"{row['movecar_median']} / {row['movecar_p90']} ({closed}/{n}, "
            f"≤5分 {row.get('movecar_in_clock', 0)})")
