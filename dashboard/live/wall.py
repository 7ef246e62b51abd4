"""The wall display's domain: map traces, KPI figures, trend figures, ticker, freshness.

Pure functions over the Store and the road network; every figure is a plain dict (no
plotly.graph_objects: its validation costs ~30x more on a large map). The map figure has a
fixed list of traces (``TRACE_*``) so that refreshes can ``Patch`` single traces:
one line trace per congestion level holds every segment of that level, separated by None.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

import numpy as np

from dashboard.timeutil import SHANGHAI
from dashboard.congestion import LEVEL_COLOURS, LEVEL_NAMES, LEVEL_NAMES_EN, congestion_index
from dashboard.dispatch.incidents import (linked_reports, open_count, open_incidents,
                                          recently_cleared, reported_times,
                                          unacknowledged_count)
from dashboard.masking import mask_for_public, plotly_text
from dashboard.roads.works import DEFAULT_NEAR_M, live_works
from dashboard.storage.cache import ProcessCache
from dashboard.storage.store import Store
from dashboard.comms.numbers import axis_ticks

LEVELS = (0, 1, 2, 3, 4)
# Trace order = drawing order (later on top). Levels occupy indexes 1..5 (level n at 1+n).
TRACE_DISTRICT_LABELS = 0
TRACE_LEVEL = {lvl: 1 + lvl for lvl in LEVELS}
TRACE_ROAD_LABELS = 6
TRACE_ROADWORKS_LINES = 7
TRACE_ROADWORKS = 8
TRACE_REPORTS = 9
TRACE_INCIDENTS_CLEARED = 10   # cleared in the last few minutes, marked as such
TRACE_INCIDENT_HALO = 11
TRACE_INCIDENTS = 12
N_TRACES = 13

INCIDENT_COLOUR = "#ff3df5"
CLEARED_COLOUR = "#3ddc84"
ROADWORKS_COLOUR = "#ff9d00"
REPORT_COLOUR = "#35c8ff"
LABEL_COLOUR = "#c9d6e8"
DISTRICT_LABEL_COLOUR = "#6f86a8"
FONT_STACK = "WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei, sans-serif"
MAP_FONT = "WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei"
DEFAULT_FEED_INTERVAL_S = 120.0
STALE_FACTOR = 3.0
# design size of the map panel at 1920x1080 (px); scaled by the display's scale factor
MAP_PANEL_PX = (1219, 760)
COORD_DIGITS = 5  # ~1 m: enough for a wall, and keeps the JSON small


def plain(text: str) -> str:
    """Text safe to hand to plotly, whose text rendering understands a little HTML:
    angle brackets and ampersands are replaced by their full-width forms
    (``masking.plotly_text``, the one helper for every figure)."""
    return plotly_text(text or "")


# -- network geometry, prepared once per network -------------------------------------------
@dataclass(frozen=True)
class NetGeom:
    """What the wall needs from a road network, in plain lists."""

    key: str                                   # stable id of this network's content
    ids: tuple[str, ...]                       # segment ids in a fixed order
    lons: tuple[tuple[float, ...], ...]        # per segment
    lats: tuple[tuple[float, ...], ...]
    xy: tuple[np.ndarray, ...]                 # per segment: float32 (lon, lat) rows + a NaN row
    lengths: dict[str, float]
    districts_of: dict[str, str]
    bounds: tuple[float, float, float, float]  # lon0, lat0, lon1, lat1 of all segments
    district_bounds: tuple[tuple[str, tuple[float, float, float, float]], ...]


_geoms: ProcessCache[NetGeom] = ProcessCache(1)   # one network at a time per process


def _line_parts(geom) -> list[list[tuple[float, float]]]:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "LineString":
        return [list(geom.coords)]
    if geom.geom_type == "MultiLineString":
        return [list(g.coords) for g in geom.geoms]
    return []


def net_geom(network) -> NetGeom:
    """The network's segments as plain coordinate lists (cached per network object)."""
    return _geoms.get_for(network, lambda: _build_net_geom(network))


def _build_net_geom(network) -> NetGeom:
    segs = network.segments
    ids, lons, lats = [], [], []
    h = hashlib.sha1()
    for sid, geom in zip(segs.index.astype(str), segs.geometry):
        xs: list[float] = []
        ys: list[float] = []
        for i, part in enumerate(_line_parts(geom)):
            if i:
                xs.append(None)  # type: ignore[arg-type]
                ys.append(None)  # type: ignore[arg-type]
            xs.extend(round(x, COORD_DIGITS) for x, _ in part)
            ys.extend(round(y, COORD_DIGITS) for _, y in part)
        if not xs:
            continue
        ids.append(sid)
        lons.append(tuple(xs))
        lats.append(tuple(ys))
        h.update(f"{sid}:{xs[0]},{ys[0]},{xs[-1]},{ys[-1]},{len(xs)};".encode())
    lengths = {str(k): float(v) for k, v in segs["length_m"].items()} \
        if "length_m" in segs else {}
    dcol = segs["district"].fillna("").astype(str) if "district" in segs else None
    districts_of = {str(k): v for k, v in dcol.items()} if dcol is not None else {}
    x0, y0, x1, y1 = (float(v) for v in segs.total_bounds)
    dbounds = []
    if dcol is not None and len(segs):
        b = segs.geometry.bounds
        b["district"] = dcol
        for name, grp in b[b["district"] != ""].groupby("district"):
            dbounds.append((str(name), (float(grp["minx"].min()), float(grp["miny"].min()),
                                        float(grp["maxx"].max()), float(grp["maxy"].max()))))
    xy = tuple(np.array([*zip(xs, ys), (None, None)], dtype=np.float64).astype(np.float32)
               for xs, ys in zip(lons, lats))
    return NetGeom(key=h.hexdigest()[:16], ids=tuple(ids), lons=tuple(lons), lats=tuple(lats),
                   xy=xy,
                   lengths=lengths, districts_of=districts_of, bounds=(x0, y0, x1, y1),
                   district_bounds=tuple(sorted(dbounds)))


# -- the view -------------------------------------------------------------------------------
def views(geom: NetGeom) -> list[tuple[str, tuple[float, float, float, float]]]:
    """The rotation: the whole city first, then each district."""
    return [("全市", geom.bounds), *geom.district_bounds]


def rotation_index(now: float, rotate_s: float | None, n_views: int) -> int:
    """Which view a rotating wall shows at ``now`` (0 = the city) — the same on every
    display and every worker, so no state is needed."""
    if not rotate_s or rotate_s <= 0 or n_views <= 1:
        return 0
    return int(now // rotate_s) % n_views


# -- congestion traces -----------------------------------------------------------------------
def typed_array(values: np.ndarray) -> dict[str, str] | list:
    """A plotly typed-array spec (little-endian float32, base64): about half the bytes of
    JSON numbers, and Dash serialises one string instead of thousands of floats. NaN marks a
    gap between lines. An empty array stays a plain list."""
    if len(values) == 0:
        return []
    data = np.ascontiguousarray(values, dtype="<f4").tobytes()
    return {"dtype": "f4", "bdata": base64.b64encode(data).decode("ascii")}


def typed_values(spec: dict[str, str] | list) -> list[float | None]:
    """The numbers of a typed-array spec (NaN as None): the inverse of ``typed_array``."""
    if isinstance(spec, list):
        return spec
    arr = np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<f4")
    return [None if math.isnan(v) else float(v) for v in arr.tolist()]


def level_traces(geom: NetGeom, levels: dict[str, int]) -> dict[str, Any]:
    """Per level: lon and lat arrays (typed float32) of its segments, NaN between segments,
    and a digest of the membership (the arrays follow from it), so that a client is sent
    only the levels that changed."""
    parts: dict[int, list[np.ndarray]] = {lvl: [] for lvl in LEVELS}
    digests = {lvl: hashlib.sha1() for lvl in LEVELS}
    for sid, xy in zip(geom.ids, geom.xy):
        lvl = levels.get(sid)
        if lvl is None:
            continue
        parts[lvl].append(xy)
        digests[lvl].update(sid.encode() + b"\n")
    lon, lat = [], []
    for lvl in LEVELS:
        arr = np.concatenate(parts[lvl]) if parts[lvl] else np.empty((0, 2), np.float32)
        lon.append(typed_array(arr[:, 0]))
        lat.append(typed_array(arr[:, 1]))
    return {"lon": lon, "lat": lat, "digest": [digests[lvl].hexdigest()[:12] for lvl in LEVELS],
            "count": [len(parts[lvl]) for lvl in LEVELS]}


def current_levels(store: Store, stale_s: float, now: float) -> dict[str, int]:
    """segment_id -> congestion level of the latest snapshot (stale ones read as 0)."""
    return {seg: obs["level"] for seg, obs in store.congestion_snapshot(stale_s, now).items()}


# -- markers ----------------------------------------------------------------------------------
def _live_fields(store: Store, kind: str, fields: Sequence[str],
                 now: float) -> list[dict[str, str]]:
    """Selected hash fields of the live events of one kind, in a stable order. Reading a
    few fields is several times cheaper than whole events on a busy city."""
    ids = store.active_ids(kind, now)
    if not ids:
        return []
    names = ["id", "status", *fields]
    pipe = store.r.pipeline(transaction=False)
    for i in ids:
        pipe.hmget(store.keys.event(i), names)
    rows = []
    for values in pipe.execute():
        row = dict(zip(names, values))
        if row["id"] is not None and row["status"] == "active":
            rows.append(row)
    return rows


def _observed(row: dict[str, str]) -> float:
    try:
        return datetime.fromisoformat(row["observed_at"]).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _located(lon: Any, lat: Any) -> bool:
    return _float(lon) is not None and _float(lat) is not None and (lon, lat) != (0.0, 0.0)


def marker_data(store: Store, now: float, report_window_s: float,
                scale: float = 1.0, cleared_s: float = 300.0,
                near_m: float = DEFAULT_NEAR_M) -> dict[str, Any]:
    """lon/lat/size arrays for incidents (dispatch's open incidents, and those cleared in
    the last ``cleared_s`` seconds), roadworks under way (points and lines, one per works:
    ``roads.works``) and fresh report clusters not yet part of an incident, plus a digest
    of it all."""
    def pos(row: dict[str, str]) -> tuple[float, float]:
        return round(float(row["lon"]), COORD_DIGITS), round(float(row["lat"]), COORD_DIGITS)

    def incident_markers(incs) -> dict[str, list]:
        out: dict[str, list] = {"lon": [], "lat": [], "size": []}
        for i in incs:
            if not _located(i.lon, i.lat):
                continue
            out["lon"].append(round(i.lon, COORD_DIGITS))
            out["lat"].append(round(i.lat, COORD_DIGITS))
            sev = max(0, min(4, int(i.severity or 0)))
            out["size"].append(round((16 + 4 * sev) * scale, 1))
        return out
    inc = incident_markers(open_incidents(store.r, store.keys))
    cleared = incident_markers(recently_cleared(store.r, store.keys, cleared_s, now))
    rw = {"lon": [], "lat": [], "size": []}
    rw_lines = {"lon": [], "lat": []}
    for works in live_works(store, now, near_m):
        if not works.is_active:
            continue                  # planned works are listed, not drawn
        ev = works.event
        rw["lon"].append(round(ev.lon, COORD_DIGITS))
        rw["lat"].append(round(ev.lat, COORD_DIGITS))
        rw["size"].append(round(14 * scale, 1))
        if len(ev.line) >= 2:
            rw_lines["lon"].extend(round(p[0], COORD_DIGITS) for p in ev.line)
            rw_lines["lat"].extend(round(p[1], COORD_DIGITS) for p in ev.line)
            rw_lines["lon"].append(None)
            rw_lines["lat"].append(None)
    rep = {"lon": [], "lat": [], "size": []}
    rows = [row for row in _live_fields(store, "report", ("lon", "lat", "observed_at", "attrs"),
                                        now) if _observed(row) >= now - report_window_s]
    # a report that is part of an incident is drawn as that incident
    in_incident = linked_reports(store.r, store.keys, [row["id"] for row in rows])
    for row in rows:
        if row["id"] in in_incident:
            continue
        count = _count(json.loads(row["attrs"] or "{}"))
        lon, lat = pos(row)
        rep["lon"].append(lon)
        rep["lat"].append(lat)
        rep["size"].append(round(min(12 + 7 * math.sqrt(count), 52) * scale, 1))
    out = {"incidents": inc, "cleared": cleared, "roadworks": rw, "roadworks_lines": rw_lines,
           "reports": rep}
    out["digest"] = hashlib.sha1(repr(sorted(
        (k, tuple(map(tuple, v.values()))) for k, v in out.items())).encode()).hexdigest()[:12]
    return out


def _count(attrs: dict[str, Any]) -> int:
    try:
        n = int(float(attrs.get("count", 1)))
    except (TypeError, ValueError):
        n = 1
    return max(1, min(n, 10_000))


# -- the base figure ---------------------------------------------------------------------------
def _line_trace(name: str, colour: str, width: float) -> dict[str, Any]:
    return {"type": "scattermap", "mode": "lines", "name": name, "lon": [], "lat": [],
            "line": {"color": colour, "width": width}, "hoverinfo": "skip",
            "showlegend": False}


def _marker_trace(name: str, colour: str, opacity: float = 1.0) -> dict[str, Any]:
    # symbol "circle" only: any other symbol makes plotly fetch an icon from a CDN
    return {"type": "scattermap", "mode": "markers", "name": name, "lon": [], "lat": [],
            "marker": {"color": colour, "size": [], "opacity": opacity, "symbol": "circle"},
            "hoverinfo": "skip", "showlegend": False}


def _text_trace(name: str, labels: Sequence[dict[str, Any]], size: float, colour: str) -> dict:
    return {"type": "scattermap", "mode": "text", "name": name,
            "lon": [lb["lon"] for lb in labels], "lat": [lb["lat"] for lb in labels],
            "text": [plain(lb["name"]) for lb in labels],
            "textfont": {"size": size, "color": colour, "family": MAP_FONT},
            "textposition": "middle center", "hoverinfo": "skip", "showlegend": False}


def base_figure(style: dict[str, Any], road_labels: Sequence[dict[str, Any]],
                district_labels: Sequence[dict[str, Any]], view: dict[str, Any],
                scale: float = 1.0, uirevision: str = "wall") -> dict[str, Any]:
    """The map figure with empty data traces: built once per (network, scale).

    ``uirevision`` stays constant so a refresh never resets the view; only a rotation step
    changes it (together with centre and zoom)."""
    lw = {0: 2.5, 1: 3.5, 2: 4.5, 3: 5.5, 4: 6.5}
    data: list[dict[str, Any]] = [None] * N_TRACES  # type: ignore[list-item]
    data[TRACE_DISTRICT_LABELS] = _text_trace("districts", district_labels, 22 * scale,
                                              DISTRICT_LABEL_COLOUR)
    for lvl in LEVELS:
        data[TRACE_LEVEL[lvl]] = _line_trace(f"{LEVEL_NAMES[lvl]} {LEVEL_NAMES_EN[lvl]}",
                                             LEVEL_COLOURS[lvl], lw[lvl] * scale)
    data[TRACE_ROAD_LABELS] = _text_trace("roads", road_labels, 18 * scale, LABEL_COLOUR)
    data[TRACE_ROADWORKS_LINES] = _line_trace("施工 roadworks", ROADWORKS_COLOUR, 6 * scale)
    data[TRACE_ROADWORKS] = _marker_trace("施工 roadworks", ROADWORKS_COLOUR)
    data[TRACE_REPORTS] = _marker_trace("群众报告 reports", REPORT_COLOUR, 0.75)
    data[TRACE_INCIDENTS_CLEARED] = _marker_trace("已清除 cleared", CLEARED_COLOUR, 0.8)
    data[TRACE_INCIDENT_HALO] = _marker_trace("事故光晕", INCIDENT_COLOUR, 0.3)
    data[TRACE_INCIDENTS] = _marker_trace("事故 incidents", INCIDENT_COLOUR)
    layout = {
        "map": {"style": style, "center": view["center"], "zoom": view["zoom"]},
        "uirevision": uirevision,
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": style["layers"][0]["paint"]["background-color"],
        "showlegend": False,
        "dragmode": "pan",
        "font": {"family": FONT_STACK},
    }
    return {"data": data, "layout": layout}


def fill_figure(base: dict[str, Any], levels: dict[str, Any],
                markers: dict[str, Any]) -> dict[str, Any]:
    """A full map figure: the cached base with the current data (the base is not changed)."""
    data = [dict(t) for t in base["data"]]
    for lvl in LEVELS:
        i = TRACE_LEVEL[lvl]
        data[i]["lon"], data[i]["lat"] = levels["lon"][lvl], levels["lat"][lvl]
    for i, (lon, lat, size) in marker_trace_values(markers).items():
        data[i]["lon"], data[i]["lat"] = lon, lat
        if size is not None:
            data[i]["marker"] = {**data[i]["marker"], "size": size}
    return {"data": data, "layout": base["layout"]}


def marker_trace_values(markers: dict[str, Any]) -> dict[int, tuple[list, list, list | None]]:
    """trace index -> (lon, lat, sizes or None) for every marker trace."""
    inc, rw, rep = markers["incidents"], markers["roadworks"], markers["reports"]
    cleared = markers.get("cleared") or {"lon": [], "lat": [], "size": []}
    return {
        TRACE_ROADWORKS_LINES: (markers["roadworks_lines"]["lon"],
                                markers["roadworks_lines"]["lat"], None),
        TRACE_ROADWORKS: (rw["lon"], rw["lat"], rw["size"]),
        TRACE_REPORTS: (rep["lon"], rep["lat"], rep["size"]),
        TRACE_INCIDENTS_CLEARED: (cleared["lon"], cleared["lat"], cleared["size"]),
        TRACE_INCIDENT_HALO: (inc["lon"], inc["lat"], [round(s * 1.9, 1) for s in inc["size"]]),
        TRACE_INCIDENTS: (inc["lon"], inc["lat"], inc["size"]),
    }


def legend_items() -> list[dict[str, str]]:
    """What the map legend lists, in order: colour, Chinese and English label, shape."""
    items = [{"colour": LEVEL_COLOURS[lvl], "label": LEVEL_NAMES[lvl],
              "label_en": LEVEL_NAMES_EN[lvl], "shape": "line"} for lvl in (1, 2, 3, 4, 0)]
    items += [{"colour": INCIDENT_COLOUR, "label": "事故", "label_en": "incident",
               "shape": "dot"},
              {"colour": CLEARED_COLOUR, "label": "已清除", "label_en": "cleared",
               "shape": "dot"},
              {"colour": ROADWORKS_COLOUR, "label": "施工", "label_en": "roadworks",
               "shape": "line"},
              {"colour": REPORT_COLOUR, "label": "群众报告", "label_en": "reports",
               "shape": "dot"}]
    return items


# -- KPIs -------------------------------------------------------------------------------------
def kpis(store: Store, geom: NetGeom | None, levels: dict[str, int] | None,
         now: float, near_m: float = DEFAULT_NEAR_M,
         tz: ZoneInfo = SHANGHAI) -> dict[str, Any]:
    """The tile values. Incidents and unacknowledged are dispatch's open incidents (the
    same counts as the dispatch page); roadworks are the works under way, each once
    (``roads.works``; planned ones not counted). Bulletins and reach today are the
    account's own posts published today (local day) and their reads from the reach
    snapshots; None when no post is known yet, never a made-up number."""
    active = open_count(store.r, store.keys)
    unack = unacknowledged_count(store.r, store.keys)
    roadworks = sum(1 for w in live_works(store, now, near_m) if w.is_active)
    end = datetime.fromtimestamp(now, timezone.utc)
    reports_hour = int(sum(v for _, v in store.timeseries(
        "new:report", end - timedelta(hours=1), end + timedelta(minutes=1), 1, "sum")))
    congested_km = None
    if geom is not None and levels is not None:
        idx = congestion_index({s: {"level": lv} for s, lv in levels.items()},
                               geom.lengths, geom.districts_of)
        congested_km = round(idx.get("city", {}).get("congested_km", 0.0), 1)
    else:
        pts = store.timeseries("ckm:city", end - timedelta(minutes=15),
                               end + timedelta(minutes=1), 1, "last")
        if pts:
            congested_km = round(pts[-1][1], 1)
    bulletins_today, reach_today = _reach_today(store, now, tz)
    return {"incidents": active, "unacknowledged": unack, "congested_km": congested_km,
            "roadworks": roadworks, "reports_hour": reports_hour,
            "bulletins_today": bulletins_today, "reach_today": reach_today}


def _reach_today(store: Store, now: float, tz: ZoneInfo) -> tuple[int | None, int | None]:
    """(posts published today, the city's day in ``tz``, and their reads) from the comms
    reach snapshots."""
    from dashboard.comms.reach import ReachStore

    today = datetime.fromtimestamp(now, tz).date()
    figures = ReachStore(store.r, store.keys, tz).figures(today, today)
    if not figures["posts"]:
        return None, None
    return figures["posts"], figures["reads"]


# -- trend figures -----------------------------------------------------------------------------
def _local(dt: datetime, tz: ZoneInfo) -> str:
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _chart_layout(title: str, scale: float, yaxis: dict[str, Any] | None = None) -> dict:
    fs = round(15 * scale, 1)
    return {
        "title": {"text": title, "font": {"size": round(19 * scale, 1), "color": "#e6edf7"},
                  "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top"},
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT_STACK, "size": fs, "color": "#aab8cc"},
        "margin": {"l": round(48 * scale), "r": round(14 * scale), "t": round(64 * scale),
                   "b": round(30 * scale)},
        "xaxis": {"type": "date", "gridcolor": "#1f2b3d", "tickformat": "%H:%M",
                  "linecolor": "#2d3b52", "nticks": 7},
        "yaxis": {"gridcolor": "#1f2b3d", "zerolinecolor": "#2d3b52", "rangemode": "tozero",
                  **(yaxis or {})},
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0,
                   "yanchor": "bottom", "font": {"size": fs}, "bgcolor": "rgba(0,0,0,0)",
                   "traceorder": "reversed"},
        "uirevision": "wall", "hovermode": False,
    }


DISTRICT_PALETTE = ("#7aa2ff", "#b08cff", "#4fd1c5", "#f6ad55", "#f687b3", "#9ae6b4",
                    "#90cdf4", "#fbd38d")


def congestion_figure(store: Store, districts: Iterable[str], now: float, tz: ZoneInfo,
                      scale: float = 1.0, step_minutes: int = 10) -> dict[str, Any]:
    """City congestion index over the last 24 h (thick), the same hours of the same weekday
    last week (dashed), and each district's index (thin)."""
    end = datetime.fromtimestamp(now, timezone.utc)
    start = end - timedelta(hours=24)
    week = timedelta(days=7)
    traces = []
    last_week = store.timeseries("cidx:city", start - week, end - week, step_minutes, "mean")
    traces.append({"type": "scatter", "mode": _line_mode(last_week), "name": "上周同日 last week",
                   "x": [_local(t + week, tz) for t, _ in last_week],
                   "y": [round(v * 100, 1) for _, v in last_week],
                   "line": {"color": "#8fa3bf", "width": 2 * scale, "dash": "dash"}})
    for i, d in enumerate(districts):
        pts = store.timeseries(f"cidx:{d}", start, end, step_minutes, "mean")
        if not pts:
            continue
        traces.append({"type": "scatter", "mode": _line_mode(pts), "name": plain(d),
                       "x": [_local(t, tz) for t, _ in pts],
                       "y": [round(v * 100, 1) for _, v in pts],
                       "line": {"color": DISTRICT_PALETTE[i % len(DISTRICT_PALETTE)],
                                "width": 1.5 * scale}, "opacity": 0.8})
    today = store.timeseries("cidx:city", start, end, step_minutes, "mean")
    traces.append({"type": "scatter", "mode": _line_mode(today), "name": "全市 city",
                   "x": [_local(t, tz) for t, _ in today],
                   "y": [round(v * 100, 1) for _, v in today],
                   "line": {"color": "#ffd34d", "width": 3.5 * scale}})
    layout = _chart_layout("拥堵指数 Congestion index (%) · 24 h", scale)
    layout["xaxis"]["range"] = [_local(start, tz), _local(end, tz)]
    top = max((max(t["y"]) for t in traces if t["y"]), default=0)
    layout["yaxis"].update(range=[0, max(40.0, top * 1.15)], ticksuffix="%")
    if not any(t["x"] for t in traces):
        layout["annotations"] = [_no_data(scale)]
    else:
        _mark_simulated(layout, store.simulated_history(), start, end, week, tz, scale)
    return {"data": traces, "layout": layout}


def _mark_simulated(layout: dict[str, Any], span: tuple[float, float] | None, start: datetime,
                    end: datetime, week: timedelta, tz: ZoneInfo, scale: float) -> None:
    """Shade the part of the chart drawn from simulated history (the demo's backfill), for
    today's line and for last week's (drawn a week later), and say so."""
    if span is None:
        return
    shown = []
    for shift in (timedelta(0), week):   # today's line; last week's, drawn a week later
        lo = max(datetime.fromtimestamp(span[0], timezone.utc) + shift, start)
        hi = min(datetime.fromtimestamp(span[1], timezone.utc) + shift, end)
        if lo < hi:
            shown.append((lo, hi))
    if not shown:
        return
    lo, hi = min(a for a, _ in shown), max(b for _, b in shown)
    layout["shapes"] = [{"type": "rect", "xref": "x", "yref": "paper", "x0": _local(lo, tz),
                         "x1": _local(hi, tz), "y0": 0, "y1": 1, "line": {"width": 0},
                         "fillcolor": "rgba(143,163,191,0.10)", "layer": "below"}]
    layout["annotations"] = [{"text": "模拟历史 simulated", "showarrow": False, "xref": "x",
                              "yref": "paper", "x": _local(lo, tz), "y": 1, "xanchor": "left",
                              "yanchor": "top",
                              "font": {"size": 12 * scale, "color": "#8fa3bf"}}]


def hourly_figure(store: Store, now: float, tz: ZoneInfo, scale: float = 1.0) -> dict:
    """New incidents (dispatch's, by report time) and new citizen reports per hour over the
    last 24 h."""
    end = datetime.fromtimestamp(now, timezone.utc)
    start = (end - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    traces = []
    hour_ms = 3_600_000
    # explicit widths: plotly cannot infer a bar width on a date axis from a single bar
    # incidents are dispatch's (fused) incidents by report hour, as the tiles count them
    per_hour: dict[datetime, int] = {}
    for at in reported_times(store.r, store.keys, start.timestamp(), now + 60):
        hour = datetime.fromtimestamp(at, timezone.utc).replace(minute=0, second=0,
                                                                microsecond=0)
        per_hour[hour] = per_hour.get(hour, 0) + 1
    series = {"incidents": sorted(per_hour.items()),
              "reports": store.timeseries("new:report", start, end + timedelta(minutes=1), 60,
                                          "sum")}
    for metric, name, colour, offset in (("incidents", "事故 incidents", INCIDENT_COLOUR, 0.1),
                                         ("reports", "报告 reports", REPORT_COLOUR, 0.5)):
        pts = series[metric]
        traces.append({"type": "bar", "name": name, "x": [_local(t, tz) for t, _ in pts],
                       "y": [int(v) for _, v in pts], "marker": {"color": colour},
                       "width": 0.4 * hour_ms, "offset": offset * hour_ms, "opacity": 0.9})
    layout = _chart_layout("每小时 per hour · 事故 / 报告", scale)
    top = max((max(t["y"]) for t in traces if t["y"]), default=0)
    # counts as Chinese readers write them (万/亿, never plotly's k/M): comms.numbers
    layout["yaxis"].update(range=[0, max(4, top * 1.15)],
                           **axis_ticks(max(4, top * 1.15),
                                        step=max(1, math.ceil(max(4, top) / 4))))
    layout["barmode"] = "overlay"
    layout["xaxis"]["range"] = [_local(start, tz), _local(end + timedelta(minutes=60), tz)]
    if not any(t["x"] for t in traces):
        layout["annotations"] = [_no_data(scale)]
    return {"data": traces, "layout": layout}


def _no_data(scale: float) -> dict[str, Any]:
    return {"text": "暂无数据 no data yet", "showarrow": False, "xref": "paper",
            "yref": "paper", "x": 0.5, "y": 0.5, "font": {"size": 16 * scale,
                                                           "color": "#6b7b93"}}


# -- ticker and freshness ----------------------------------------------------------------------
def ticker_items(store: Store, now: float, tz: ZoneInfo, limit: int = 8,
                 max_chars: int = 60) -> list[dict[str, str]]:
    """The newest citizen reports, masked, newest first: time, place, text (plain strings)."""
    out = []
    rows = _live_fields(store, "report", ("observed_at",), now)
    newest = sorted(rows, key=_observed, reverse=True)[:limit]
    events = {e.id: e for e in store.get_events([row["id"] for row in newest])}
    for e in (events[row["id"]] for row in newest if row["id"] in events):
        text = mask_for_public(e.text)
        if len(text) > max_chars:
            text = text[:max_chars - 1] + "…"
        place = " · ".join(n for n in (e.road_names[:2] if e.road_names else ()) if n) \
            or e.district
        out.append({"id": e.id, "time": e.observed_at.astimezone(tz).strftime("%H:%M"),
                    "place": place, "text": text, "count": str(_count(e.attrs)),
                    "category": e.category})
    return out


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _line_mode(points: list) -> str:
    """A line alone is invisible with one or two points (a fresh start): show markers too."""
    return "lines+markers" if len(points) < 30 else "lines"


def feed_freshness(health: dict[str, dict[str, str]], now: float) -> list[dict[str, Any]]:
    """Per feed: age of the last success, its interval, and whether it is stale (older than
    3 x the interval; the interval from the health hash's ``interval_s``, else 120 s). A
    feed of mode "drop" (files now and then: ``lukuang ingest``) is never stale: its last
    drop's error, if any, is what it shows."""
    out = []
    for name in sorted(health):
        h = health[name] or {}
        last_ok = _float(h.get("last_ok")) or None
        interval = _float(h.get("interval_s")) or DEFAULT_FEED_INTERVAL_S
        age = max(0.0, now - last_ok) if last_ok else None
        stale = h.get("mode") != "drop" and (age is None or age > STALE_FACTOR * interval)
        out.append({"name": name, "last_ok": last_ok, "age_s": round(age, 1) if age is not
                    None else None, "interval_s": interval, "stale": stale,
                    "stale_since": last_ok if stale else None,
                    "breaker": h.get("breaker") or "",
                    # an error counts until a later success clears it
                    "error": bool(h.get("last_error"))
                    and (_float(h.get("last_error_at")) or 0) >= (last_ok or 0)})
    return out


def age_text(age_s: float | None) -> str:
    """'12 s', '4 min', '3 h', '2 d' or '—'."""
    if age_s is None:
        return "—"
    if age_s < 90:
        return f"{age_s:.0f} s"
    if age_s < 90 * 60:
        return f"{age_s / 60:.0f} min"
    if age_s < 48 * 3600:
        return f"{age_s / 3600:.0f} h"
    return f"{age_s / 86400:.0f} d"


def stale_message(fresh: list[dict[str, Any]], tz: ZoneInfo) -> str:
    """One line naming each stale feed and since when ("" when every feed is fresh)."""
    parts = []
    for f in fresh:
        if not f["stale"]:
            continue
        if f["last_ok"]:
            fmt = "%H:%M" if f["age_s"] is not None and f["age_s"] < 20 * 3600 else "%m-%d %H:%M"
            when = datetime.fromtimestamp(f["last_ok"], tz).strftime(fmt)
            parts.append(f"{f['name']} stale since {when}")
        else:
            parts.append(f"{f['name']} no data yet")
    return ("数据源延迟 · " + " · ".join(parts)) if parts else ""
