"""The public road query on the web: ``GET /api/v1/public/roads?name=…`` (JSON) and
``GET /public`` (a small HTML page for phones, no JavaScript). Anonymous by design.

- Every request first counts against the client's limit (``dashboard.ratelimit``;
  ``public_rate_limit`` requests per ``public_rate_window_s``). 304 answers count too: a
  revalidation is cheap but still takes a worker thread and two Redis round trips, and a
  phone revalidating every ``refresh_s`` stays far below the default 60 per minute.
  Over the limit → 429 with ``Retry-After``.
- Answers carry a strong ETag ``"<version>.<minute>.<road+format digest>"`` and
  ``Cache-Control: public, max-age=<refresh_s>``; ``If-None-Match`` → 304 without a body
  (``dashboard.web.conditional``).
  The minute is part of the tag (as in ``api.respond``) because observations turn stale
  and events expire with time alone, without a new data version. The body is built with
  the minute's start as "now", so one tag always means the same bytes.
- Bodies are cached per (tag, road, format) through ``dashboard.cache``: a holiday crowd
  asking for the same road costs one build per version and minute, in all workers together.
  Unknown names (404) and bad names (400) are not cached, so odd queries cannot fill Redis.
- A bad name (``live.public.QueryError``) or a repeated ``name=`` (``params.BadParameter``)
  → 400; JSON errors are ``{"error": "<reason>"}`` as everywhere in the API.
- Redis unreachable → 503 (JSON, or the page saying so).
"""
from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Response, request
from jinja2 import Environment

from dashboard.storage.cache import ProcessCache, cache_for, dumps
from dashboard.congestion import LEVEL_COLOURS
from dashboard.live.public import (MAX_NAME_CHARS, QueryError, UnknownRoad, clean_name, find_road,
                     road_answer)
from dashboard.web.conditional import conditional_response
from dashboard.web.params import BadParameter
from dashboard.web.ratelimit import RateLimiter

RATE_SCOPE = "public"
PUBLIC_CACHE_TTL_S = 300
_limiters: ProcessCache[RateLimiter] = ProcessCache(16)   # by connection and city, tagged by limit


# -- the page --------------------------------------------------------------------------------
PHONE_PAGE_CSS = """body{margin:0;font:16px/1.5 "Noto Sans CJK SC","WenQuanYi Micro Hei","PingFang SC",
"Microsoft YaHei",sans-serif;background:#f3f5f8;color:#1d2733}
header{background:#0d3b66;color:#fff;padding:12px 16px}
header h1{margin:0;font-size:20px}
main{padding:12px 16px;max-width:640px;margin:0 auto}
"""  # the phone pages' frame: /public and the sticker form

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% if answer %}{{ answer.road }} · {% endif %}{{ city }}路况查询</title>
<style>
""" + PHONE_PAGE_CSS + """form{display:flex;gap:8px;margin:4px 0 12px}
input[type=search]{flex:1;min-width:0;font-size:17px;padding:9px 10px;border:1px solid #9aa7b6;
border-radius:8px}
button{font-size:17px;padding:9px 16px;border:0;border-radius:8px;background:#0d6efd;color:#fff}
.note{padding:10px 12px;border-radius:8px;margin:8px 0;background:#fff3cd;color:#5c4400}
.error{background:#fde2e1;color:#7a1410}
h2{font-size:19px;margin:14px 0 4px}
h3{font-size:16px;margin:16px 0 6px;color:#3b4a5c}
.meta{color:#5b6878;font-size:14px;margin:0 0 8px}
ul{list-style:none;margin:0;padding:0}
li{background:#fff;border-radius:8px;margin:0 0 8px;padding:10px 12px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
.row{display:flex;justify-content:space-between;gap:8px;align-items:baseline}
.badge{display:inline-block;min-width:4.5em;text-align:center;border-radius:999px;
padding:1px 10px;font-size:14px;font-weight:bold;color:#fff;white-space:nowrap}
.l2{color:#3a2f00}
.sub{color:#5b6878;font-size:14px}
.matches a{display:inline-block;margin:4px 8px 4px 0;padding:6px 12px;background:#fff;
border-radius:8px;color:#0d47a1;text-decoration:none;border:1px solid #c5d3e6}
footer{color:#7b8796;font-size:12px;padding:12px 16px;text-align:center}
</style></head>
<body><header><h1>{{ city }}路况查询</h1></header><main>
<form method="get" action="/public" role="search">
<input type="search" name="name" value="{{ query }}" maxlength="{{ max_chars }}"
 placeholder="输入道路名称，如 东岳大街" aria-label="道路名称" required>
<button type="submit">查询</button></form>
{% if message %}<p class="note {{ 'error' if status >= 400 else '' }}">{{ message }}</p>{% endif %}
{% if matches %}<p>您要找的是不是：</p><p class="matches">{% for m in matches %}
<a href="/public?name={{ m | urlencode }}">{{ m }}</a>{% endfor %}</p>{% endif %}
{% if answer %}
<h2>{{ answer.road }} <span class="badge{{ ' l2' if answer.worst_level == 2 else '' }}"
 style="background:{{ colours[answer.worst_level] }}">{{ answer.worst_level_name }}</span></h2>
<p class="meta">数据时间 {{ data_time }} · 全长 {{ km(answer.length_m) }} · 事故与异常
 {{ answer.incidents | length }} · 施工 {{ answer.roadworks | length }}</p>
<h3>分段路况</h3><ul>{% for s in answer.stretches %}
<li><div class="row"><span>{{ s.label }}</span>
<span class="badge{{ ' l2' if s.level == 2 else '' }}" style="background:{{ colours[s.level] }}">{{ s.level_name }}</span></div>
<div class="sub">{{ km(s.length_m) }}{% if s.speed_kmh is not none %} · 平均车速
 {{ '%.0f' % s.speed_kmh }} km/h{% endif %}</div></li>{% endfor %}</ul>
<h3>事故与异常（{{ answer.incidents | length }}）</h3>
{% if answer.incidents %}<ul>{% for e in answer.incidents %}
<li><div class="row"><strong>{{ e.category_name }}</strong><span class="sub">{{ when(e.starts_at or
 e.observed_at) }}</span></div><div>{{ e.place }}</div>{% if e.text %}<div class="sub">{{ e.text
 }}</div>{% endif %}</li>{% endfor %}</ul>{% else %}<p class="sub">暂无</p>{% endif %}
<h3>施工（{{ answer.roadworks | length }}）</h3>
{% if answer.roadworks %}<ul>{% for w in answer.roadworks %}
<li><div class="row"><strong>{{ w.category_name }}{% if w.status == 'planned' %}（计划）{% endif %}</strong><span class="sub">{{ w.impact_name
 }}</span></div><div>{{ w.place }}</div><div class="sub">{% if w.starts_at %}{{ when(w.starts_at)
 }}{% endif %}{% if w.ends_at %} 至 {{ when(w.ends_at) }}{% endif %}</div>{% if w.text %}
<div class="sub">{{ w.text }}</div>{% endif %}</li>{% endfor %}</ul>
{% else %}<p class="sub">暂无</p>{% endif %}
{% endif %}</main>
<footer>{{ city }}公安交警 · 路况仅供参考，请以现场情况为准</footer></body></html>
"""
_env = Environment(autoescape=True)
_template = _env.from_string(_PAGE)


def _km(m: float) -> str:
    return f"{m / 1000:.1f} 公里" if m >= 1000 else f"{m:.0f} 米"


def render_page(city: str, tz: str, query: str = "", answer: dict | None = None,
                message: str = "", matches: list[str] | None = None, status: int = 200) -> str:
    """The /public page (every value autoescaped; no script)."""
    zone = ZoneInfo(tz)

    def when(iso: str | None) -> str:
        if not iso:
            return ""
        t = datetime.fromisoformat(iso).astimezone(zone)
        return f"{t.month}月{t.day}日 {t:%H:%M}"
    data_time = "暂无"
    if answer:
        data_time = when(answer.get("data_time")) or \
            f"{when(answer.get('as_of'))}（暂无实时车速数据）"
    return _template.render(city=city, query=query, answer=answer, message=message,
                            matches=matches or [], status=status, colours=LEVEL_COLOURS,
                            km=_km, when=when, data_time=data_time,
                            max_chars=MAX_NAME_CHARS)


# -- the blueprint ---------------------------------------------------------------------------
def answer_digest(road: str, fmt: str) -> str:
    """A road's answer in a format, as named in the shared cache and the ETag (the SMS road
    query reads the same cache entry: the same truth)."""
    return hashlib.sha1(f"{road}|{fmt}".encode()).hexdigest()[:16]


def _limiter(svc) -> RateLimiter:
    s = svc.settings
    return _limiters.get_for(svc.r, lambda: RateLimiter(svc.r, svc.keys, RATE_SCOPE,
                                                        s.public_rate_limit,
                                                        s.public_rate_window_s),
                             key=svc.keys.base, tag=s.public_rate_limit)


def make_public(get_services: Callable[[], Any]) -> Blueprint:
    """``/public`` and ``/api/v1/public/roads``. ``get_services()`` returns the Services."""
    bp = Blueprint("public", __name__)

    def json_error(status: int, body: dict, headers: dict | None = None) -> Response:
        resp = Response(dumps(body), status=status, mimetype="application/json")
        resp.headers["Cache-Control"] = "no-store"
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def page(status: int, headers: dict | None = None, **kw: Any) -> Response:
        s = get_services().settings
        resp = Response(render_page(s.city_name, s.timezone, status=status, **kw),
                        status=status, mimetype="text/html")
        resp.headers["Cache-Control"] = "no-store"
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def limited() -> tuple[int, str] | None:
        """None when the request may go on; else (status, reason) and Retry-After."""
        verdict = _limiter(get_services()).hit(request.remote_addr or "")
        if verdict.allowed:
            return None
        return verdict.retry_after_s, (f"too many requests: at most {verdict.limit} per "
                                       f"{get_services().settings.public_rate_window_s} s; "
                                       f"retry after {verdict.retry_after_s} s")

    def serve(road: str, fmt: str, mimetype: str) -> Response:
        """The cached answer for ``road`` in ``fmt``, or 304 when the client has it."""
        svc = get_services()
        now = time.time()
        minute = int(now // 60)
        version = svc.store.version()
        tag = f"{version}:{minute}"

        def data() -> dict:
            return road_answer(svc.store, svc.network, road, minute * 60.0, version,
                               svc.settings.congestion_stale_s)

        def text() -> str:
            cache = cache_for(svc.r, svc.keys)
            if fmt == "json":
                return cache.get_text(f"public:json:{answer_digest(road, 'json')}", tag, data,
                                      ttl_s=PUBLIC_CACHE_TTL_S)

            def html() -> str:
                answer = cache.get(f"public:json:{answer_digest(road, 'json')}", tag, data)
                return render_page(svc.settings.city_name, svc.settings.timezone,
                                   query=road, answer=answer)
            return cache.get(f"public:html:{answer_digest(road, 'html')}", tag, html)
        return conditional_response(f"{version}.{minute}.{answer_digest(road, fmt)}", text, mimetype,
                                    f"public, max-age={max(1, int(svc.settings.refresh_s))}")

    @bp.get("/api/v1/public/roads")
    def roads_json():
        try:
            over = limited()
            if over:
                retry, reason = over
                return json_error(429, {"error": reason, "retry_after_s": retry},
                                  {"Retry-After": str(retry)})
            try:
                if len(request.args.getlist("name")) > 1:
                    raise BadParameter("name given more than once")
                name = clean_name(request.args.get("name"))
                road = find_road(get_services().network, name)
            except (BadParameter, QueryError) as exc:
                return json_error(400, {"error": str(exc)})
            except UnknownRoad as exc:
                return json_error(404, {"error": f"no road named {exc.name}",
                                        "close_matches": exc.close_matches})
            return serve(road, "json", "application/json")
        except redis.RedisError as exc:
            return json_error(503, {"error": "data store unreachable "
                                             f"({exc.__class__.__name__})"})

    @bp.get("/public")
    def roads_page():
        raw = request.args.get("name")
        shown = (raw or "")[:100]
        try:
            over = limited()
            if over:
                retry, _reason = over
                return page(429, {"Retry-After": str(retry)}, query=shown,
                            message=f"查询过于频繁，请 {retry} 秒后再试。")
            if raw is None:
                return page(200, message="")
            try:
                name = clean_name(raw)
                road = find_road(get_services().network, name)
            except QueryError as exc:
                return page(400, query=shown, message=f"请输入正确的道路名称（{exc}）。")
            except UnknownRoad as exc:
                msg = f"没有找到“{exc.name}”。"
                return page(404, query=shown, message=msg, matches=exc.close_matches)
            return serve(road, "html", "text/html")
        except redis.RedisError:
            return page(503, query=shown, message="路况数据暂时无法获取，请稍后再试。")

    return bp

