"""Wall callbacks: thin glue between the page and dashboard.wall.

``refresh`` and ``freshness`` are plain functions that return the outputs by name (tests
call them directly); the decorated callbacks name their inputs and outputs (Dash's dict
signatures), only fetch the worker's services and the session user and call them.

Cost model: every display polls every ``refresh_s``. When the data version and the minute
are unchanged the answer is "no update" after one Redis GET. When they change, the map gets
only what changed, never a new view, so the view stays where it is. With ``wall_map =
"maplibre"`` (the default) that is the segments whose level changed since the data tag the
page's map holds (``WALL_MAP_APPLIED``, reported by the browser), the marker GeoJSON when it
changed, and the map's setup (style, view, labels) only on the first answer; the road
geometry itself is fetched by the browser once (``dashboard/web/network_geojson.py``). With
``"plotly"`` the map figure gets a ``Patch`` of the traces whose content changed (one line
trace per congestion level, the marker traces).
"""
from __future__ import annotations

import hashlib

import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import dash
import redis
from dash import (ClientsideFunction, Input, Output, Patch, State, callback,
                  clientside_callback, no_update)

from dashboard.city import fallback_bbox
from dashboard.roads import basemap
from dashboard.live import wall as W
from dashboard.live import wall_map as WM
from dashboard.web import session
from dashboard.storage.cache import CacheBudget, ProcessCache, cache_for
from layouts import ids
from layouts import wall as L

# the names of refresh's outputs (the callback's output dict)
REFRESH_OUTPUTS = ("map", "mapdata", "kpis", "cidx", "hourly", "ticker", "banner",
                   "banner_class", "view_name", "state")
# what the data draws; kept as they are while Redis is unreachable
PICTURE = ("map", "mapdata", "kpis", "cidx", "hourly", "ticker")
# the level vectors of recent data tags, shared by the workers: a page's map that holds one
# of them gets only the segments that changed since (``wall_map.level_delta``)
LEVEL_HISTORY = CacheBudget("wall-levels", max_bytes=16 * 1024 * 1024, max_entries=48)
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
            bounds = fallback_bbox(svc.settings)
            return W.base_figure(style, [], [], _fit(bounds, scale), scale)
        return W.base_figure(basemap.build_style(network, scale), basemap.road_labels(network),
                             basemap.district_labels(network), _fit(geom.bounds, scale), scale)
    return cache.memo(f"wall:base:{scale}", key, build)


def _fit(bounds, scale: float) -> dict[str, Any]:
    w, h = W.MAP_PANEL_PX
    return basemap.view_for_bounds(bounds, w * scale, h * scale)


def _data(svc, geom, tag: str, now: float, scale: float) -> dict[str, Any]:
    """Everything that depends on the data, cached by tag (version:minute) for all workers.
    The map's levels are per-level traces (plotly) or the level vector (maplibre)."""
    cache = cache_for(svc.r, svc.keys)
    s = svc.settings
    tz = ZoneInfo(s.timezone)
    netkey = geom.key if geom is not None else "none"
    levels_now: dict[str, int] | None = None
    gl = s.wall_map != "plotly"

    def vector():
        nonlocal levels_now
        levels_now = W.current_levels(svc.store, s.congestion_stale_s, now)
        return WM.level_vector(geom, levels_now)

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
        return W.kpis(svc.store, geom, levels_now, now, near_m=s.works_near_m, tz=tz)
    districts = [d for d, _ in geom.district_bounds] if geom is not None else []
    if gl:
        levels = None
        vec = (json.loads(cache.get_text(_vector_name(netkey, tag), tag, vector,
                                         budget=LEVEL_HISTORY)) if geom is not None else "")
    else:
        levels, vec = cache.get(f"wall:levels:{netkey}", tag, lv), None
    return {
        "levels": levels, "vector": vec,
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


def _vector_name(netkey: str, tag: str) -> str:
    return f"wall:lvec:{netkey}@{tag}"


class _Gone(Exception):
    """A level vector no longer (or never) in the shared history."""


def _old_vector(svc, netkey: str, tag: str | None) -> str | None:
    """The level vector of data tag ``tag`` if the history still holds it."""
    if not tag:
        return None

    def gone():
        raise _Gone
    try:
        return json.loads(cache_for(svc.r, svc.keys).get_text(
            _vector_name(netkey, tag), tag, gone, budget=LEVEL_HISTORY))
    except (_Gone, ValueError):
        return None


def _gl_setup(svc, network, geom, scale: float) -> dict[str, Any]:
    """The MapLibre map's setup, once per (network, scale) in this process: the style (the
    geometry by its versioned URL), the whole city's view, labels, where MapLibre is."""
    cache = cache_for(svc.r, svc.keys)
    key = geom.key if geom is not None else "none"

    def build():
        url = f"{WM.GEOJSON_PATH}?v={geom.key}" if geom is not None else None
        bounds = geom.bounds if geom is not None else fallback_bbox(svc.settings)
        labels = (WM.labels(basemap.road_labels(network), basemap.district_labels(network),
                            scale) if network is not None else [])
        return {"style": WM.map_style(network, geom, url, scale),
                "view": _fit(bounds, scale), "labels": labels, "n": len(geom.ids)
                if geom is not None else 0,
                "lib": _asset("vendor/maplibre-gl/maplibre-gl.js"),
                "css": _asset("vendor/maplibre-gl/maplibre-gl.css")}
    return cache.memo(f"wall:gl:{scale}", key, build)


def _asset(path: str) -> str:
    """The URL of a file in assets/ (the app's prefix; "/assets/…" outside an app)."""
    try:
        return dash.get_asset_url(path)
    except AttributeError:   # no Dash app in this process (callbacks called as functions)
        return f"/assets/{path}"


def _clean_applied(applied: Any, netkey: str) -> str | None:
    """The data tag whose levels the page's map holds (from the browser: anything), or None."""
    if not isinstance(applied, dict) or applied.get("k") != netkey:
        return None
    tag = applied.get("t")
    return tag if isinstance(tag, str) and 0 < len(tag) <= 64 else None


def _gl_message(svc, network, geom, scale: float, full: bool, seen: dict[str, Any],
                held: str | None, tag: str, vector: str, markers: dict[str, Any],
                view_idx: int, view: dict[str, Any] | None) -> Any:
    """The MapLibre map's message: ``cfg`` (setup) when ``full``; ``lv`` (levels, a delta
    from the tag the page holds when the history has it, else the whole vector) unless the
    page holds ``tag``; ``mk`` (markers) when they changed; ``view`` on a rotation step.
    no_update when there is nothing to send."""
    netkey = geom.key if geom is not None else "none"
    msg: dict[str, Any] = {"k": netkey, "sc": scale}
    if full:
        msg["cfg"] = _gl_setup(svc, network, geom, scale)
    if geom is not None and (full or held != tag):
        old = None if full else _old_vector(svc, netkey, held)
        msg["lv"] = WM.levels_message(netkey, tag, vector, old, held)
    if full or seen.get("mk") != markers["digest"]:
        msg["mk"] = WM.markers_geojson(markers)
    if view is not None and (full or seen.get("view") != view_idx):
        msg["view"] = {**view, "i": view_idx}
    return msg if len(msg) > 2 else no_update


# -- the refresh -------------------------------------------------------------------------------
def _clean_state(seen: Any) -> dict[str, Any]:
    """The page state as sent back by the browser; anything malformed is dropped (the worst
    a bad state can do is cause a full figure)."""
    if not isinstance(seen, dict):
        return {}
    out = dict(seen)
    lv = out.get("lv")
    if not ((isinstance(lv, list) and len(lv) == len(W.LEVELS)) or isinstance(lv, str)):
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
            svc, now: float | None = None, user=None, applied: Any = None) -> dict[str, Any]:
    """One tick of the wall. Returns the outputs by name (``REFRESH_OUTPUTS``): the map
    figure (plotly) or the map message (maplibre), KPI tiles, congestion figure, hourly
    figure, ticker items, connection banner text and its class, view name, new page state.
    ``applied`` is what the page's MapLibre map reports it holds (``{"k": network, "t":
    data tag}``).

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
    all_views = W.views(geom) if geom is not None else [("全市", fallback_bbox(svc.settings))]
    rotate = parse_query(search)["rotate"]
    view_idx = W.rotation_index(now, rotate, len(all_views))
    gl = svc.settings.wall_map != "plotly"
    tag = f"{version}:{minute}"
    held = _clean_applied(applied, netkey) if gl else None
    full = (seen.get("net") != netkey or seen.get("sc") != scale or "lv" not in seen
            or seen.get("map") != svc.settings.wall_map)
    unchanged = (seen.get("v") == version and seen.get("m") == minute
                 and not seen.get("down") and seen.get("view") == view_idx
                 and (not gl or held == tag))
    if not full and unchanged:
        return {name: no_update for name in REFRESH_OUTPUTS}
    try:
        d = _data(svc, geom, tag, now, scale)
    except redis.RedisError:
        return _down(seen, tz)
    levels, markers = d["levels"], d["markers"]
    view_name = all_views[view_idx][0] if rotate else ""
    if gl:
        figure: Any = no_update
        mapdata = _gl_message(svc, network, geom, scale, full, seen, held, tag, d["vector"],
                              markers, view_idx,
                              _fit(all_views[view_idx][1], scale) if rotate else None)
        digest = WM.vector_digest(d["vector"])
    elif full:
        base = _base(svc, network, geom, scale)
        if view_idx or rotate:
            base = _with_view(base, _fit(all_views[view_idx][1], scale), f"wall-{view_idx}")
        figure = W.fill_figure(base, levels, markers)
    else:
        figure = _patch(seen, levels, markers, view_idx,
                        _fit(all_views[view_idx][1], scale) if rotate else None)
    if not gl:
        mapdata, digest = no_update, levels["digest"]
    state = {"v": version, "m": minute, "net": netkey, "sc": scale, "lv": digest,
             "mk": markers["digest"], "view": view_idx, "at": now, "down": False,
             "map": svc.settings.wall_map}
    # the panels are sent only when their content changed: a new data version usually
    # changes a few segments, not the charts, and the answer stays proportional to the change
    panels = {}
    memo = cache_for(svc.r, svc.keys).memo
    for name, value in (("kpis", d["kpis"]), ("cidx", d["cidx"]), ("hourly", d["hourly"]),
                        ("ticker", d["ticker"])):
        # once per process and data tag, not once per display asking
        state[f"d_{name}"] = memo(f"wall:digest:{name}:{scale}", tag, lambda v=value: _digest(v))
        same = not full and not seen.get("down") and seen.get(f"d_{name}") == state[f"d_{name}"]
        panels[name] = no_update if same else value
    return {"map": figure, "mapdata": mapdata,
            "kpis": panels["kpis"] if panels["kpis"] is no_update else L.kpi_tiles(d["kpis"]),
            "cidx": panels["cidx"], "hourly": panels["hourly"],
            "ticker": panels["ticker"] if panels["ticker"] is no_update
            else L.ticker(d["ticker"]),
            "banner": "", "banner_class": HIDDEN, "view_name": view_name, "state": state}


def _digest(value: Any) -> str:
    """A short fingerprint of a panel's content (JSON of plain data)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


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
        # is Redis answering? (one GET, as every refresh tick costs; the health itself may
        # come from this worker's copy of the last 10 s and say nothing about that)
        svc.store.version()
        # one read per 10 s for every display this worker serves
        health = cache_for(svc.r, svc.keys).get("wall:feeds", int(now // 10),
                                                svc.store.feed_health)
        _last_health.put(svc.keys.base, health)
        fresh = W.feed_freshness(health, now)
    except redis.RedisError:
        return _freshness_down(_last_health.peek(svc.keys.base) or {}, now, tz, clock)
    message = W.stale_message(fresh, tz)
    return {"feeds": L.freshness_strip(fresh, W.age_text), "banner": message,
            "banner_class": SHOWN if message else HIDDEN, "clock": clock}


# the feed health this worker read last, per city: what the strip shows while Redis is away
_last_health: ProcessCache[dict] = ProcessCache(16)


def _freshness_down(health: dict, now: float, tz: ZoneInfo, clock: str) -> dict[str, Any]:
    """Redis unreachable: nobody can say whether the feeds still deliver, so none is shown
    as fresh (green): the last health this worker read, aged to ``now`` (the ages keep
    growing), every feed marked stale."""
    fresh = W.feed_freshness(health, now)
    message = W.stale_message(fresh, tz)
    shown = [{**f, "stale": True} for f in fresh]
    return {"feeds": L.freshness_strip(shown, W.age_text), "banner": message,
            "banner_class": SHOWN if message else HIDDEN, "clock": clock}


# -- registration ------------------------------------------------------------------------------
def _svc():
    return session.services()


def _session_user():
    """A logged-in user (not the kiosk token user: the token is checked from the URL)."""
    user = session.current_user()
    return user if user is not None and user.name != session.KIOSK_USER else None


@callback(
    output=dict(map=Output(ids.WALL_MAP, "figure"), mapdata=Output(ids.WALL_MAP_DATA, "data"),
                kpis=Output(ids.WALL_KPIS, "children"),
                cidx=Output(ids.WALL_CIDX, "figure"), hourly=Output(ids.WALL_HOURLY, "figure"),
                ticker=Output(ids.WALL_TICKER, "children"),
                banner=Output(ids.WALL_CONN_BANNER, "children"),
                banner_class=Output(ids.WALL_CONN_BANNER, "className"),
                view_name=Output(ids.WALL_VIEW_NAME, "children"),
                state=Output(ids.WALL_VERSION, "data")),
    inputs=dict(tick=Input(ids.WALL_TICK, "n_intervals"), scale=Input(ids.WALL_SCALE, "data")),
    state=dict(seen=State(ids.WALL_VERSION, "data"), search=State(ids.WALL_URL, "search"),
               applied=State(ids.WALL_MAP_APPLIED, "data")))
def _refresh_cb(tick, scale, seen, search, applied):
    try:
        user = _session_user()
    except redis.RedisError:
        # the caller's (signed) session cookie cannot be checked while Redis is away: tell
        # it only that, as every display is told
        return _down(_clean_state(seen), ZoneInfo(_svc().settings.timezone))
    return refresh(tick, scale, seen, search, _svc(), user=user, applied=applied)


@callback(
    output=dict(feeds=Output(ids.WALL_FEEDS, "children"),
                banner=Output(ids.WALL_STALE_BANNER, "children"),
                banner_class=Output(ids.WALL_STALE_BANNER, "className"),
                clock=Output(ids.WALL_CLOCK, "children")),
    inputs=dict(tick=Input(ids.WALL_SLOW_TICK, "n_intervals")),
    state=dict(search=State(ids.WALL_URL, "search")))
def _freshness_cb(tick, search):
    try:
        user = _session_user()
    except redis.RedisError:   # as in _refresh_cb: no feed data for an unchecked caller
        now = time.time()
        tz = ZoneInfo(_svc().settings.timezone)
        return _freshness_down({}, now, tz,
                               datetime.fromtimestamp(now, tz).strftime("%Y-%m-%d %H:%M"))
    return freshness(tick, search, _svc(), user=user)


# the display's size relative to the 1920x1080 design, measured once in the browser
clientside_callback(
    """function (path) {
        var s = Math.min(window.innerWidth / 1920, window.innerHeight / 1080);
        return Math.max(0.5, Math.min(4, Math.round(s * 4) / 4));
    }""",
    Output(ids.WALL_SCALE, "data"), Input(ids.WALL_URL, "pathname"))


# the MapLibre map (assets/wall_map.js): created once, then fed each message; it reports the
# data tag whose levels it holds, which the next refresh diffs against
clientside_callback(ClientsideFunction(namespace="lukuang", function_name="wallMap"),
                    Output(ids.WALL_MAP_APPLIED, "data"), Input(ids.WALL_MAP_DATA, "data"))
