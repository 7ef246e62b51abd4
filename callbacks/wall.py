"""Wall callbacks: thin glue between the page and dashboard.wall.

``refresh`` and ``freshness`` are plain functions that return the outputs by name (tests
call them directly); the decorated callbacks name their inputs and outputs (Dash's dict
signatures), only fetch the worker's services and the session user and call them.

Cost model: every display polls every ``refresh_s``. When the data version and the minute
are unchanged the answer is "no update" after one Redis GET. When they change, the map gets
a ``Patch`` of only the traces whose content changed (one line trace per congestion level,
the marker traces), never a new layout, so the view stays where it is.
"""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import redis
from dash import Input, Output, Patch, State, callback, clientside_callback, no_update

from dashboard.roads import basemap
from dashboard.live import wall as W
from dashboard.web import session
from dashboard.storage.cache import cache_for
from layouts import ids
from layouts import wall as L

# the names of refresh's outputs (the callback's output dict)
REFRESH_OUTPUTS = ("map", "kpis", "cidx", "hourly", "ticker", "banner", "banner_class",
                   "view_name", "state")
# what the data draws; kept as they are while Redis is unreachable
PICTURE = ("map", "kpis", "cidx", "hourly", "ticker")
MIN_ROTATE_S, MAX_ROTATE_S = 10, 3600
HIDDEN, SHOWN = "lk-banner lk-hidden", "lk-banner lk-banner-alert"


# -- request parameters and access -------------------------------------------------------------
def parse_query(search: str | None) -> dict[str, Any]:
    """token and rotate (seconds, 10-3600, else None) from the page's ?query."""
    search = search if isinstance(search, str) else ""   # from the page: anything
    q = parse_qs(search.lstrip("?"), keep_blank_values=True)
    rotate = None
    raw = (q.get("rotate") or [""])[0]
    if raw.isdigit():
        rotate = min(max(int(raw), MIN_ROTATE_S), MAX_ROTATE_S)
    return {"token": (q.get("token") or [""])[0], "rotate": rotate}


def authorise(search: str | None, settings, user=None) -> None:
    """The wall is open when no token is configured; otherwise the page's ?token= must match,
    or the caller is logged in with a role that may view the wall. Raises Forbidden (403)."""
    session.check_wall_access(settings.wall_token, parse_query(search)["token"], user)


def norm_scale(scale: Any) -> float:
    """The display's size relative to 1920x1080, in quarter steps (few cached variants)."""
    try:
        s = float(scale)
    except (TypeError, ValueError):
        return 1.0
    if not 0 < s < 100:
        return 1.0
    return min(4.0, max(0.5, round(s * 4) / 4))


# -- the cached pieces -------------------------------------------------------------------------
def _network(svc):
    """(network, geometry) or (None, None) when no road network can be loaded: the wall then
    still shows markers, KPIs and trends on a plain background."""
    try:
        network = svc.network
        return network, W.net_geom(network)
    except Exception:  # noqa: BLE001 - a broken network file must not blank the wall
        return None, None


def _base(svc, network, geom, scale: float) -> dict[str, Any]:
    """The map figure without data, built once per (network, scale) in this process."""
    cache = cache_for(svc.r, svc.keys)
    key = geom.key if geom is not None else "none"

    def build():
        if network is None:
            style = {"version": 8, "name": "lukuang-offline", "sources": {}, "layers": [
                {"id": "background", "type": "background",
                 "paint": {"background-color": basemap.BACKGROUND}}]}
            bounds = svc.settings.city_bbox
            return W.base_figure(style, [], [], _fit(bounds, scale), scale)
        return W.base_figure(basemap.build_style(network, scale), basemap.road_labels(network),
                             basemap.district_labels(network), _fit(geom.bounds, scale), scale)
    return cache.memo(f"wall:base:{scale}", key, build)


def _fit(bounds, scale: float) -> dict[str, Any]:
    w, h = W.MAP_PANEL_PX
    return basemap.view_for_bounds(bounds, w * scale, h * scale)


def _data(svc, geom, tag: str, now: float, scale: float) -> dict[str, Any]:
    """Everything that depends on the data, cached by tag (version:minute) for all workers."""
    cache = cache_for(svc.r, svc.keys)
    s = svc.settings
    tz = ZoneInfo(s.timezone)
    netkey = geom.key if geom is not None else "none"
    levels_now: dict[str, int] | None = None

    def lv():
        nonlocal levels_now
        if geom is None:
            return {"lon": [[]] * 5, "lat": [[]] * 5, "digest": [""] * 5, "count": [0] * 5}
        levels_now = W.current_levels(svc.store, s.congestion_stale_s, now)
        return W.level_traces(geom, levels_now)

    def km():
        nonlocal levels_now
        if geom is not None and levels_now is None:
            levels_now = W.current_levels(svc.store, s.congestion_stale_s, now)
        return W.kpis(svc.store, geom, levels_now, now, near_m=s.works_near_m)
    districts = [d for d, _ in geom.district_bounds] if geom is not None else []
    return {
        "levels": cache.get(f"wall:levels:{netkey}", tag, lv),
        "markers": cache.get(f"wall:markers:{scale}", tag,
                             lambda: W.marker_data(svc.store, now, s.report_window_s, scale,
                                                   cleared_s=s.cleared_visible_s,
                                                   near_m=s.works_near_m)),
        "kpis": cache.get(f"wall:kpis:{netkey}", tag, km),
        "cidx": cache.get(f"wall:cidx:{scale}", tag,
                          lambda: W.congestion_figure(svc.store, districts, now, tz, scale)),
        "hourly": cache.get(f"wall:hourly:{scale}", tag,
                            lambda: W.hourly_figure(svc.store, now, tz, scale)),
        "ticker": cache.get("wall:ticker", tag, lambda: W.ticker_items(svc.store, now, tz)),
    }


# -- the refresh -------------------------------------------------------------------------------
def _clean_state(seen: Any) -> dict[str, Any]:
    """The page state as sent back by the browser; anything malformed is dropped (the worst
    a bad state can do is cause a full figure)."""
    if not isinstance(seen, dict):
        return {}
    out = dict(seen)
    lv = out.get("lv")
    if not (isinstance(lv, list) and len(lv) == len(W.LEVELS)):
        out.pop("lv", None)
    if not isinstance(out.get("at"), (int, float)) or isinstance(out.get("at"), bool):
        out.pop("at", None)
    return out


def _down(seen: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """Redis unreachable: keep every picture as it is and say so."""
    at = seen.get("at")
    if at:
        text = (f"数据连接中断 — showing the picture of "
                f"{datetime.fromtimestamp(at, tz).strftime('%H:%M')}")
    else:
        text = "数据连接中断 — data connection lost, waiting for data"
    return {**{name: no_update for name in PICTURE}, "banner": text, "banner_class": SHOWN,
            "view_name": no_update, "state": {**seen, "down": True}}


def refresh(n: int | None, scale: Any, seen: dict[str, Any] | None, search: str | None,
            svc, now: float | None = None, user=None) -> dict[str, Any]:
    """One tick of the wall. Returns the outputs by name (``REFRESH_OUTPUTS``): the map
    figure, KPI tiles, congestion figure, hourly figure, ticker items, connection banner
    text and its class, view name, new page state.

    Outputs are ``no_update`` when nothing changed since the state the page holds (``seen``).
    """
    authorise(search, svc.settings, user)
    session.refuse_flagged_input()
    now = time.time() if now is None else now
    seen = _clean_state(seen)
    tz = ZoneInfo(svc.settings.timezone)
    scale = norm_scale(scale)
    try:
        version = svc.store.version()
    except redis.RedisError:
        return _down(seen, tz)
    minute = int(now // 60)
    network, geom = _network(svc)
    netkey = geom.key if geom is not None else "none"
    all_views = W.views(geom) if geom is not None else [("全市", svc.settings.city_bbox)]
    rotate = parse_query(search)["rotate"]
    view_idx = W.rotation_index(now, rotate, len(all_views))
    full = seen.get("net") != netkey or seen.get("sc") != scale or "lv" not in seen
    unchanged = (seen.get("v") == version and seen.get("m") == minute
                 and not seen.get("down") and seen.get("view") == view_idx)
    if not full and unchanged:
        return {name: no_update for name in REFRESH_OUTPUTS}
    try:
        d = _data(svc, geom, f"{version}:{minute}", now, scale)
    except redis.RedisError:
        return _down(seen, tz)
    levels, markers = d["levels"], d["markers"]
    view_name = all_views[view_idx][0] if rotate else ""
    if full:
        base = _base(svc, network, geom, scale)
        if view_idx or rotate:
            base = _with_view(base, _fit(all_views[view_idx][1], scale), f"wall-{view_idx}")
        figure: Any = W.fill_figure(base, levels, markers)
    else:
        figure = _patch(seen, levels, markers, view_idx,
                        _fit(all_views[view_idx][1], scale) if rotate else None)
    state = {"v": version, "m": minute, "net": netkey, "sc": scale, "lv": levels["digest"],
             "mk": markers["digest"], "view": view_idx, "at": now, "down": False}
    return {"map": figure, "kpis": L.kpi_tiles(d["kpis"]), "cidx": d["cidx"],
            "hourly": d["hourly"], "ticker": L.ticker(d["ticker"]), "banner": "",
            "banner_class": HIDDEN, "view_name": view_name, "state": state}


def _with_view(base: dict[str, Any], view: dict[str, Any], uirevision: str) -> dict[str, Any]:
    layout = {**base["layout"], "uirevision": uirevision,
              "map": {**base["layout"]["map"], **view}}
    return {"data": base["data"], "layout": layout}


def _patch(seen: dict[str, Any], levels: dict[str, Any], markers: dict[str, Any],
           view_idx: int, view: dict[str, Any] | None):
    """A Patch of only what differs from what the page holds; no_update if nothing does."""
    p = Patch()
    changed = False
    old = seen.get("lv") or [None] * len(W.LEVELS)
    for lvl in W.LEVELS:
        if old[lvl] != levels["digest"][lvl]:
            i = W.TRACE_LEVEL[lvl]
            p["data"][i]["lon"] = levels["lon"][lvl]
            p["data"][i]["lat"] = levels["lat"][lvl]
            changed = True
    if seen.get("mk") != markers["digest"]:
        for i, (lon, lat, size) in W.marker_trace_values(markers).items():
            p["data"][i]["lon"] = lon
            p["data"][i]["lat"] = lat
            if size is not None:
                p["data"][i]["marker"]["size"] = size
        changed = True
    if view is not None and seen.get("view") != view_idx:
        # the one allowed view change: a rotation step (a new uirevision makes it apply)
        p["layout"]["map"]["center"] = view["center"]
        p["layout"]["map"]["zoom"] = view["zoom"]
        p["layout"]["uirevision"] = f"wall-{view_idx}"
        changed = True
    return p if changed else no_update


def freshness(n: int | None, search: str | None, svc, now: float | None = None,
              user=None) -> dict[str, Any]:
    """The feed strip, the "stale since HH:MM" banner and its class, and the clock, by
    name (every ~10 s: staleness grows while nothing is written, so it cannot wait for a
    new data version)."""
    authorise(search, svc.settings, user)
    session.refuse_flagged_input()
    now = time.time() if now is None else now
    tz = ZoneInfo(svc.settings.timezone)
    clock = datetime.fromtimestamp(now, tz).strftime("%Y-%m-%d %H:%M")
    try:
        # one read per 10 s for every display this worker serves
        health = cache_for(svc.r, svc.keys).get("wall:feeds", int(now // 10),
                                                svc.store.feed_health)
        fresh = W.feed_freshness(health, now)
    except redis.RedisError:
        return {"feeds": no_update, "banner": no_update, "banner_class": no_update,
                "clock": clock}
    message = W.stale_message(fresh, tz)
    return {"feeds": L.freshness_strip(fresh, W.age_text), "banner": message,
            "banner_class": SHOWN if message else HIDDEN, "clock": clock}


# -- registration ------------------------------------------------------------------------------
def _svc():
    return session.services()


def _session_user():
    """A logged-in user (not the kiosk token user: the token is checked from the URL)."""
    user = session.current_user()
    return user if user is not None and user.name != session.KIOSK_USER else None


@callback(
    output=dict(map=Output(ids.WALL_MAP, "figure"), kpis=Output(ids.WALL_KPIS, "children"),
                cidx=Output(ids.WALL_CIDX, "figure"), hourly=Output(ids.WALL_HOURLY, "figure"),
                ticker=Output(ids.WALL_TICKER, "children"),
                banner=Output(ids.WALL_CONN_BANNER, "children"),
                banner_class=Output(ids.WALL_CONN_BANNER, "className"),
                view_name=Output(ids.WALL_VIEW_NAME, "children"),
                state=Output(ids.WALL_VERSION, "data")),
    inputs=dict(tick=Input(ids.WALL_TICK, "n_intervals"), scale=Input(ids.WALL_SCALE, "data")),
    state=dict(seen=State(ids.WALL_VERSION, "data"), search=State(ids.WALL_URL, "search")))
def _refresh_cb(tick, scale, seen, search):
    return refresh(tick, scale, seen, search, _svc(), user=_session_user())


@callback(
    output=dict(feeds=Output(ids.WALL_FEEDS, "children"),
                banner=Output(ids.WALL_STALE_BANNER, "children"),
                banner_class=Output(ids.WALL_STALE_BANNER, "className"),
                clock=Output(ids.WALL_CLOCK, "children")),
    inputs=dict(tick=Input(ids.WALL_SLOW_TICK, "n_intervals")),
    state=dict(search=State(ids.WALL_URL, "search")))
def _freshness_cb(tick, search):
    return freshness(tick, search, _svc(), user=_session_user())


# the display's size relative to the 1920x1080 design, measured once in the browser
clientside_callback(
    """function (path) {
        var s = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
        return Math.max(0.5, Math.min(4, Math.round(s * 4) / 4));
    }""",
    Output(ids.WALL_SCALE, "data"), Input(ids.WALL_URL, "pathname"))
