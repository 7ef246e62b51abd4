"""A bench-only Dash app: the wall's road map drawn by dash-leaflet instead of MapLibre.

Measured by bench/bench_leaflet.py (issue 16: the second option for a city-size road map).
Not part of the product: nothing imports it but the bench, and its JavaScript lives in
bench/leaflet_assets/ (this app's assets folder), never in the product's assets/.

    gunicorn --workers 1 'bench.leaflet_app:create_server()'   (LKL_REDIS, LKL_PREFIX, LKL_ROADS)

One worker: the history of level vectors that deltas are computed from is kept per process.

What it draws: the same geometry the product's wall fetches (``live/wall_map.network_geojson``,
served gzipped with an ETag here at ``GEOJSON_URL``) as one ``dl.GeoJSON`` layer (Canvas
renderer, no tile layer), coloured by a style function (``lkLeaflet.style`` in
leaflet_assets/leaflet_style.js) that reads the levels from the layer's ``hideout``:
``{"t": data tag, "v": level vector (one character per segment), "d": {index: level}}``
(and the colours and widths, sent once).
Levels come from Redis through the real Store (``live/wall.current_levels``); a
``dcc.Interval`` of 1 s sends, when the data version moved, only the changed levels as a
``dash.Patch`` that merges them into ``hideout.d`` (one Merge operation), or the whole hideout
when the page is out of step or more than ``wall_map.FULL_SHARE`` of the segments differ from
its vector (as the product's ``level_delta``).
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import dash
import dash_leaflet as dl
import redis
from dash import Input, Output, Patch, State, dcc, html, no_update
from flask import Response, request

from dashboard.congestion import LEVEL_COLOURS
from dashboard.live import wall as W
from dashboard.live import wall_map as WM
from dashboard.roads import basemap
from dashboard.roads.network import load_network
from dashboard.settings import Settings
from dashboard.storage.keys import Keys
from dashboard.storage.store import Store

ASSETS = Path(__file__).resolve().parent / "leaflet_assets"
GEOJSON_URL = "/bench/network.geojson"
MAP_ID, NET_ID, TICK_ID, HELD_ID = "lkl-map", "lkl-net", "lkl-tick", "lkl-held"
HISTORY = 64          # level vectors kept (by data tag) to compute a delta from


class Levels:
    """The network, its geometry, and the level vectors of recent data tags."""

    def __init__(self, store: Store, roads: Path) -> None:
        self.store = store
        self.network = load_network(roads)
        self.geom = W.net_geom(self.network)
        self.stale_s = Settings().congestion_stale_s
        self._vectors: dict[str, str] = {}
        self._lock = threading.Lock()

    def current(self) -> tuple[str, str]:
        """(tag, level vector) now; the tag is the store's data version."""
        tag = str(self.store.version())
        with self._lock:
            vec = self._vectors.get(tag)
        if vec is None:
            vec = WM.level_vector(self.geom, W.current_levels(self.store, self.stale_s,
                                                              time.time()))
            with self._lock:
                self._vectors[tag] = vec
                while len(self._vectors) > HISTORY:
                    self._vectors.pop(next(iter(self._vectors)))
        return tag, vec

    def held(self, tag: Any) -> str | None:
        with self._lock:
            return self._vectors.get(tag) if isinstance(tag, str) else None


def full_hideout(tag: str, vector: str) -> dict[str, Any]:
    """The whole hideout: levels, and the colours and widths the style function draws with
    (the product's: level colours and widths, grey roads by rank)."""
    return {"t": tag, "v": vector, "d": {},
            "c": [LEVEL_COLOURS[lv] for lv in W.LEVELS],
            "w": [WM.LEVEL_WIDTHS[lv] for lv in W.LEVELS],
            "rc": [basemap.ROAD_COLOURS[r] for r in range(4)],
            "rw": [basemap.ROAD_WIDTHS[r] for r in range(4)]}


def update(levels: Levels, held: Any) -> tuple[Any, Any]:
    """The tick's answer: (hideout or a Patch of it, the page's new state), or no_update."""
    tag, vec = levels.current()
    held = held if isinstance(held, dict) else {}
    if held.get("t") == tag:
        return no_update, no_update
    old = levels.held(held.get("t"))
    nd = held.get("nd") if isinstance(held.get("nd"), int) else 0
    delta = WM.level_delta(old, vec) if old is not None else None
    if delta is None or nd + len(delta) // 2 > max(16, int(len(vec) * WM.FULL_SHARE)):
        return full_hideout(tag, vec), {"t": tag, "nd": 0}
    p = Patch()
    p["t"] = tag
    p["d"].update({str(delta[i]): delta[i + 1] for i in range(0, len(delta), 2)})
    return p, {"t": tag, "nd": nd + len(delta) // 2}


def create_app(store: Store, roads: Path) -> dash.Dash:
    """The Dash app (same Dash as the product, compressed answers as the product)."""
    levels = Levels(store, roads)
    app = dash.Dash(__name__, assets_folder=str(ASSETS), serve_locally=True, compress=True,
                    update_title=None, title="leaflet bench")
    x0, y0, x1, y1 = levels.geom.bounds
    w, h = W.MAP_PANEL_PX

    def layout() -> html.Div:
        tag, vec = levels.current()
        return html.Div([
            dl.MapContainer(
                id=MAP_ID, bounds=[[y0, x0], [y1, x1]], preferCanvas=True, zoomSnap=0,
                zoomControl=False, attributionControl=False,
                style={"width": f"{w}px", "height": f"{h}px",
                       "background": basemap.BACKGROUND},
                children=[dl.GeoJSON(id=NET_ID, url=GEOJSON_URL, interactive=False,
                                     style={"variable": "lkLeaflet.style"},
                                     hideout=full_hideout(tag, vec))]),
            dcc.Interval(id=TICK_ID, interval=1000),
            dcc.Store(id=HELD_ID, data={"t": tag, "nd": 0}),
        ], style={"background": basemap.BACKGROUND})
    app.layout = layout

    @app.callback(Output(NET_ID, "hideout"), Output(HELD_ID, "data"),
                  Input(TICK_ID, "n_intervals"), State(HELD_ID, "data"))
    def tick(_n, held):
        return update(levels, held)

    @app.server.get(GEOJSON_URL)
    def geojson():
        plain, packed = WM.network_geojson_bytes(levels.network, levels.geom)
        headers = {"ETag": f'"{levels.geom.key}"', "Vary": "Accept-Encoding",
                   "Cache-Control": "private, max-age=31536000, immutable"}
        if "gzip" in (request.headers.get("Accept-Encoding") or "").lower():
            headers["Content-Encoding"] = "gzip"
            return Response(packed, 200, headers=headers, mimetype="application/geo+json")
        return Response(plain, 200, headers=headers, mimetype="application/geo+json")

    @app.server.get("/bench/ready")
    def ready():
        WM.network_geojson_bytes(levels.network, levels.geom)
        levels.current()
        return {"segments": len(levels.geom.ids)}
    return app


def create_server():
    """For gunicorn: the app's Flask server, configured from the environment."""
    r = redis.Redis.from_url(os.environ["LKL_REDIS"], decode_responses=True)
    store = Store(r, Keys(os.environ["LKL_PREFIX"], "taian"))
    return create_app(store, Path(os.environ["LKL_ROADS"])).server
