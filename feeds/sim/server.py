"""The demo upstream's HTTP server: one loopback port, one path per provider.

Bound to 127.0.0.1 only (stdlib ``ThreadingHTTPServer``). Every answer is rendered from
the world at the simulated time of the request; the providers' own error shapes are
used where a real one would refuse (Amap ``INVALID_USER_KEY``, Weibo ``error_code``).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from dashboard.roads.geo import gcj02_to_wgs84

from . import formats
from .world import UTC, World, day_start, local_day, metres

log = logging.getLogger("lukuang.sim")
LOOPBACK = "127.0.0.1"
AMAP_KEY_RE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
AMAP_MAX_DIAGONAL_M = 10_000.0
AMAP_MAX_RADIUS_M = 5000.0
MAX_REPORT_COUNT = 200
MAX_TIMELINE_COUNT = 100
MAX_EXPORT_DAYS = 31


class Answer:
    """Status, headers and body of one response."""

    def __init__(self, body: bytes, content_type: str, status: int = 200,
                 headers: dict[str, str] | None = None):
        self.body, self.content_type, self.status = body, content_type, status
        self.headers = headers or {}


def json_answer(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Answer(body, "application/json; charset=utf-8", status, headers)


class Upstream:
    """Routes a request (path, query, headers) to a rendered answer at the clock's time."""

    def __init__(self, world: World, clock: Callable[[], float], speed: float = 1.0):
        self.world = world
        self.clock = clock
        self.speed = speed
        self._areas: dict[tuple, frozenset[int]] = {}
        self.routes: dict[str, Callable[[float, dict[str, str], dict[str, str]], Answer]] = {
            "/healthz": self.healthz,
            "/scenario": self.scenario,
            "/waze/feed.json": self.waze,
            "/wzdx/feed.geojson": self.wzdx,
            "/amap/v3/traffic/status/rectangle": self.amap_rectangle,
            "/amap/v3/traffic/status/road": self.amap_road,
            "/amap/v3/traffic/status/circle": self.amap_circle,
            "/weibo/2/statuses/mentions.json": self.mentions,
            "/weibo/2/statuses/user_timeline.json": self.user_timeline,
            "/weibo/export/reads.csv": self.reads,
            "/hotline/latest.csv": self.hotline,
            "/units/positions.json": self.units,
        }

    def handle(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        route = self.routes.get(path)
        if route is None:
            return json_answer({"error": "not found", "path": path[:200]}, 404)
        return route(self.clock(), query, headers)

    # -- control -------------------------------------------------------------------------
    def healthz(self, t, query, headers) -> Answer:
        return json_answer({"status": "ok", "sim_time": formats.rfc3339(t), "sim_epoch": int(t),
                            "seed": self.world.seed, "scenario": self.world.scenario,
                            "holiday": self.world.holiday(t), "speed": self.speed})

    def scenario(self, t, query, headers) -> Answer:
        name = query.get("name")
        if name is not None:
            try:
                self.world.set_scenario(name)
            except ValueError as exc:
                return json_answer({"error": str(exc)}, 400)
            log.info("scenario switched to %s", name)
        return json_answer({"scenario": self.world.scenario, "holiday": self.world.holiday(t)})

    # -- Waze / WZDx ---------------------------------------------------------------------
    def waze(self, t, query, headers) -> Answer:
        return json_answer(formats.waze_feed(self.world, t))

    def wzdx(self, t, query, headers) -> Answer:
        changed = int(self.world.works_changed_at(t))
        answer = json_answer(formats.wzdx_feed(self.world, t))
        etag = '"' + hashlib.sha1(answer.body).hexdigest()[:20] + '"'
        last_modified = format_datetime(datetime.fromtimestamp(changed, UTC), usegmt=True)
        cache = {"ETag": etag, "Last-Modified": last_modified, "Cache-Control": "max-age=30"}
        if _etag_matches(headers.get("if-none-match", ""), etag):
            return Answer(b"", answer.content_type, 304, cache)
        since = headers.get("if-modified-since")
        if since and "if-none-match" not in headers:
            try:
                if parsedate_to_datetime(since).timestamp() >= changed:
                    return Answer(b"", answer.content_type, 304, cache)
            except (TypeError, ValueError):
                pass
        answer.headers.update(cache)
        return answer

    # -- Amap ----------------------------------------------------------------------------
    def _amap_common(self, query) -> tuple[Answer | None, str, int]:
        key = query.get("key", "")
        if not AMAP_KEY_RE.match(key):
            return json_answer(formats.amap_error("INVALID_USER_KEY", "10001")), "", 0
        level = query.get("level", "5")
        if not level.isdigit() or not 1 <= int(level) <= 6:
            return json_answer(formats.amap_error("INVALID_PARAMS", "20000")), "", 0
        extensions = query.get("extensions", "base")
        if extensions not in ("base", "all"):
            return json_answer(formats.amap_error("INVALID_PARAMS", "20000")), "", 0
        return None, extensions, int(level)

    def amap_rectangle(self, t, query, headers) -> Answer:
        error, ext, level = self._amap_common(query)
        if error:
            return error
        text = query.get("rectangle")
        if not text:
            return json_answer(formats.amap_error("MISSING_REQUIRED_PARAMS", "20001"))
        corners = _points(text)
        if corners is None or len(corners) != 2:
            return json_answer(formats.amap_error("INVALID_PARAMS", "20000"))
        (x0, y0), (x1, y1) = (gcj02_to_wgs84(*p) for p in corners)
        if metres((x0, y0), (x1, y1)) > AMAP_MAX_DIAGONAL_M:
            return json_answer(formats.amap_error("INVALID_PARAMS", "20000"))
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        selected = self._selection(("rect", box), lambda: formats.in_rectangle(self.world, box))
        return json_answer(formats.amap_status(self.world, t, selected, ext, level))

    def amap_road(self, t, query, headers) -> Answer:
        error, ext, level = self._amap_common(query)
        if error:
            return error
        name = query.get("name", "").strip()
        if not name:
            return json_answer(formats.amap_error("MISSING_REQUIRED_PARAMS", "20001"))
        try:
            canon = self.world.city.network.resolve_road(name) or name
        except Exception:  # noqa: BLE001 - an odd name is simply not found
            canon = name
        selected = self._selection(("road", canon), lambda: formats.on_road(self.world, canon))
        return json_answer(formats.amap_status(self.world, t, selected, ext, 6))

    def amap_circle(self, t, query, headers) -> Answer:
        error, ext, level = self._amap_common(query)
        if error:
            return error
        text = query.get("location")
        if not text:
            return json_answer(formats.amap_error("MISSING_REQUIRED_PARAMS", "20001"))
        pts = _points(text)
        radius_text = query.get("radius", "1000")
        try:
            radius = float(radius_text)
        except ValueError:
            radius = math.nan
        if pts is None or len(pts) != 1 or not 0 < radius <= AMAP_MAX_RADIUS_M:
            return json_answer(formats.amap_error("INVALID_PARAMS", "20000"))
        centre = gcj02_to_wgs84(*pts[0])
        selected = self._selection(("circle", centre, radius),
                                   lambda: formats.in_circle(self.world, centre, radius))
        return json_answer(formats.amap_status(self.world, t, selected, ext, level))

    def _selection(self, key: tuple, make: Callable[[], frozenset[int]]) -> frozenset[int]:
        """The segments an area query covers (pollers repeat the same query: cached)."""
        found = self._areas.get(key)
        if found is None:
            found = make()
            if len(self._areas) > 256:
                self._areas.clear()
            self._areas[key] = found
        return found

    # -- Weibo ---------------------------------------------------------------------------
    def mentions(self, t, query, headers) -> Answer:
        return _statuses(self.world.reports(t), query, MAX_REPORT_COUNT,
                         lambda r: formats.report_status(r, t))

    def user_timeline(self, t, query, headers) -> Answer:
        path = "/2/statuses/user_timeline.json"
        name = query.get("screen_name")
        uid = query.get("uid")
        if (name and name != formats.texts.ACCOUNT) or (uid and uid != str(formats.ACCOUNT_ID)):
            return json_answer(formats.weibo_error("User does not exists!", 20003, path), 400)
        return _statuses(self.world.posts(t), query, MAX_TIMELINE_COUNT,
                         lambda p: formats.post_status(p, t))

    def reads(self, t, query, headers) -> Answer:
        today = local_day(t)
        try:
            first = _day_of(query["from"]) if "from" in query else today - 6
            last = _day_of(query["to"]) if "to" in query else today
        except ValueError:
            return json_answer({"error": "from/to must be YYYY-MM-DD"}, 400)
        if last < first or last - first >= MAX_EXPORT_DAYS:
            return json_answer({"error": f"at most {MAX_EXPORT_DAYS} days, from <= to"}, 400)
        end = min(t, day_start(last + 1) - 1)
        body = formats.reads_csv(self.world.posts(end, end - day_start(first)), t)
        return Answer(body, "text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="weibo-{first}-{last}.csv"'})

    # -- hotline, units ------------------------------------------------------------------
    def hotline(self, t, query, headers) -> Answer:
        body, _encoding = formats.hotline_csv(self.world, t)
        # like a file drop: no charset is declared, the reader must work it out
        return Answer(body, "text/csv")

    def units(self, t, query, headers) -> Answer:
        return json_answer(formats.units_json(self.world, t))


def _etag_matches(header: str, etag: str) -> bool:
    tags = [p.strip() for p in header.split(",") if p.strip()]
    return "*" in tags or etag in tags or ("W/" + etag) in tags


def _points(text: str) -> list[tuple[float, float]] | None:
    out = []
    for part in text.split(";"):
        xy = part.split(",")
        if len(xy) != 2:
            return None
        try:
            x, y = float(xy[0]), float(xy[1])
        except ValueError:
            return None
        if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
            return None
        out.append((x, y))
    return out


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or len(text) > 20:
        raise ValueError(name)
    return int(text)


def _statuses(records: list[Any], query: dict[str, str], max_count: int,
              render: Callable[[Any], dict]) -> Answer:
    """One page of a Weibo statuses list (mentions, a timeline) as the API answers it."""
    items = [(formats.status_id(rec.created, rec.key), rec) for rec in records]
    page = _page(items, query, max_count)
    if isinstance(page, Answer):
        return page
    chosen, total, nxt = page
    return json_answer(formats.statuses_page([render(rec) for _, rec in chosen], total, nxt))


def _page(items: list[tuple[int, Any]], query: dict[str, str], max_count: int):
    """Weibo paging: since_id, max_id, count, page; items are newest first."""
    try:
        since = _int_param(query, "since_id", 0)
        max_id = _int_param(query, "max_id", 0)
        count = min(max(_int_param(query, "count", 20), 1), max_count)
        page = max(_int_param(query, "page", 1), 1)
    except ValueError as exc:
        return json_answer(formats.weibo_error(f"parameter ({exc})'s value invalid", 10017,
                                               "/2/statuses"), 400)
    matched = [(i, x) for i, x in items if i > since and (not max_id or i <= max_id)]
    chosen = matched[(page - 1) * count: page * count]
    more = len(matched) > page * count
    return chosen, len(matched), (chosen[-1][0] - 1 if more and chosen else 0)


def _day_of(text: str) -> int:
    d = datetime.strptime(text, "%Y-%m-%d")
    return (d.date() - datetime(1970, 1, 1).date()).days


class _Handler(BaseHTTPRequestHandler):
    server_version = "lukuang-sim/1"
    protocol_version = "HTTP/1.1"
    upstream: Upstream  # set on the subclass that SimServer makes

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            answer = self.upstream.handle(parts.path, query, headers)
        except Exception:  # noqa: BLE001 - a bug here must not kill the server
            log.exception("sim: error answering %s", parts.path)
            answer = json_answer({"error": "internal error"}, 500)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for k, v in answer.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if send_body and answer.status != 304:
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s - %s", self.address_string(), format % args)


class SimServer:
    """The simulator on 127.0.0.1:port (port 0: any free port)."""

    def __init__(self, world: World, clock: Callable[[], float], port: int = 0,
                 speed: float = 1.0):
        self.upstream = Upstream(world, clock, speed)
        handler = type("SimHandler", (_Handler,), {"upstream": self.upstream})
        self.httpd = ThreadingHTTPServer((LOOPBACK, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}"

    def start(self) -> "SimServer":
        """Serve in a background thread (tests)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="lukuang-sim",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()


__all__ = ["SimServer", "Upstream", "LOOPBACK"]
