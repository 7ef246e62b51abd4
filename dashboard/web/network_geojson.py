"""``GET /api/v1/network.geojson?v=<network key>``: the road geometry of the wall's map.

Sent once per network and browser: gzip-compressed (when the client accepts it), with the
network key as its ETag, and, for the versioned URL the wall uses (``v`` = the current key),
``Cache-Control: private, max-age=31536000, immutable``; any other ``v`` gets the current
geometry with ``no-cache`` (revalidated by ETag). Who may see the wall may fetch it: the kiosk
token (``?token=`` or the page's) or a session with ``view_wall``.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Response, request

from dashboard.live import wall as W
from dashboard.live import wall_map as WM
from dashboard.web import session

IMMUTABLE = "private, max-age=31536000, immutable"


def blueprint(get_services: Callable[[], Any]) -> Blueprint:
    """The route, as a Blueprint; ``get_services()`` returns the worker's Services."""
    bp = Blueprint("lukuang_network_geojson", __name__)

    @bp.get(WM.GEOJSON_PATH)
    def network_geojson():
        session.require("view_wall")
        svc = get_services()
        try:
            network = svc.network
        except Exception:  # noqa: BLE001 - no network file: nothing to draw
            return Response("404 Not Found: no road network\n", 404, mimetype="text/plain")
        geom = W.net_geom(network)
        headers = {"ETag": f'"{geom.key}"', "Vary": "Accept-Encoding",
                   "Cache-Control": IMMUTABLE if request.args.get("v") == geom.key
                   else "no-cache"}
        if request.if_none_match.contains_weak(geom.key):
            return Response(status=304, headers=headers)
        plain, packed = WM.network_geojson_bytes(network, geom)
        if "gzip" in (request.headers.get("Accept-Encoding") or "").lower():
            headers["Content-Encoding"] = "gzip"
            body = packed
        else:
            body = plain
        return Response(body, 200, headers=headers, mimetype="application/geo+json")
    return bp
