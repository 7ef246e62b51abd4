"""The QR-sticker report form: ``GET /r/<sticker id>`` (a page for phones, Chinese, no
JavaScript, like /public) and ``POST /r/<sticker id>`` (the report). Anonymous by design.

- The place comes from the signed sticker id (``dashboard.citizen.stickers``), never from
  the phone: a forged or altered id → 404 "二维码无效", before anything else is read.
- Limits (``dashboard.web.ratelimit``, in Redis, shared by every worker): form pages per
  client (``qr_form_rate_limit``), reports per client (``qr_rate_limit``) and per sticker
  (``qr_sticker_rate_limit``), each per its window; over → 429 with Retry-After.
- CSRF: the login's same-origin check (``session.same_origin``: the POST's Origin, else its
  Referer, must name this host; without either, the form's ``csrf`` field must match the
  token in this browser's SameSite=Strict session cookie) → 403 otherwise. The per-form token
  (``report.form_token``) is not for CSRF: it ties the POST to a form opened from this sticker
  in the last hour, and its nonce is the report's reference number, so a form sent twice
  is one report.
- Every field is checked on the server (``report.check_form``): 400 with the reason, the
  form shown again with what was typed (and a fresh token), so nothing is lost.
- An accepted report goes through the same pipeline as every feed (``submit``, injected by
  app.py: feeds/citizen.py) and the page says 已收到 with the reference number. Redis away
  → 503, the form kept to send again.
- Strict CSP on these pages (no script at all, styles inline only); no phone number or plate
  is ever logged.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Response, current_app, request
from jinja2 import Environment

from dashboard.citizen import report as R
from dashboard.citizen.stickers import MAX_ID_CHARS, Place, StickerError, decode, derive_key
from dashboard.web import session
from dashboard.web.public_api import PHONE_PAGE_CSS
from dashboard.web.ratelimit import limiter_for

log = logging.getLogger("lukuang.citizen")
FORM_SCOPE, CLIENT_SCOPE, STICKER_SCOPE = "qr-form", "qr", "qr-sticker"
PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ '已收到' if receipt else '道路上报' }} · {{ city }}交警</title>
<style>
""" + PHONE_PAGE_CSS + """.place{font-size:22px;font-weight:bold;margin:6px 0 2px}
.sub{color:#5b6878;font-size:14px;margin:0 0 10px}
.note{padding:10px 12px;border-radius:8px;margin:8px 0;background:#fff3cd;color:#5c4400}
.error{background:#fde2e1;color:#7a1410}
.ok{background:#dff3e4;color:#14532d}
fieldset{border:0;margin:0 0 10px;padding:0}
legend{font-weight:bold;margin-bottom:6px}
.cats{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.cat input{position:absolute;opacity:0;width:1px;height:1px}
.cat span{display:block;text-align:center;padding:12px 6px;border-radius:10px;background:#fff;
border:2px solid #c5d3e6;font-size:17px}
.cat input:checked+span{background:#0d6efd;border-color:#0d6efd;color:#fff;font-weight:bold}
.cat input:focus-visible+span{outline:3px solid #f0a500}
label.f{display:block;font-weight:bold;margin:10px 0 4px}
textarea,input[type=tel],input[type=text]{box-sizing:border-box;width:100%;font-size:17px;
padding:9px 10px;border:1px solid #9aa7b6;border-radius:8px;font-family:inherit}
textarea{min-height:84px}
.hint{color:#5b6878;font-size:13px;margin:2px 0 0}
form:has(input[name=category]:checked:not([value=parking])) .plate{display:none}
button{width:100%;font-size:18px;padding:12px 16px;border:0;border-radius:10px;
background:#0d6efd;color:#fff;margin-top:14px}
.ref{font-size:26px;font-weight:bold;letter-spacing:1px}
footer{color:#7b8796;font-size:12px;padding:12px 16px;text-align:center}
</style></head>
<body><header><h1>{{ city }}交警 · 道路上报</h1></header><main>
{% if place %}<p class="place">{{ place }}</p>
<p class="sub">地点来自本处二维码，无需填写。情况紧急请直接拨打 122。</p>{% endif %}
{% if message %}<p class="note {{ kind }}" role="alert">{{ message }}</p>{% endif %}
{% if receipt %}
<p class="note ok">已收到，谢谢您的报告！{% if receipt.outcome == 'duplicate' %}（这份报告已收到过，无需重复提交。）{% endif %}
{% if receipt.outcome == 'quarantined' %}报告将由值班民警人工核对。{% endif %}</p>
<p>报告编号</p><p class="ref" id="ref">{{ receipt.ref }}</p>
{% if receipt.task_id %}<p>挪车请求已转值班民警，我们将尽快通知车主，力争 5 分钟内挪走。</p>{% endif %}
<p class="sub">如需补充，请拨打 122 并告知报告编号。</p>
{% elif form %}
<form method="post" action="/r/{{ sticker }}" autocomplete="off">
<input type="hidden" name="token" value="{{ token }}"><input type="hidden" name="csrf" value="{{ csrf }}">
<fieldset><legend>发生了什么？（必选）</legend><div class="cats">
{% for value, label, _c, _s in categories %}<label class="cat"><input type="radio" name="category"
 value="{{ value }}" id="cat-{{ value }}"{% if form.category == value %} checked{% endif %} required><span>{{ label }}</span></label>
{% endfor %}</div></fieldset>
<div class="plate"><label class="f" for="plate">车牌号（违停/挪车必填）</label>
<input type="text" id="plate" name="plate" value="{{ form.plate }}" maxlength="12"
 placeholder="例如 鲁J12345" autocapitalize="characters"></div>
<label class="f" for="text">补充说明（可选，最多 {{ max_text }} 字）</label>
<textarea id="text" name="text" maxlength="{{ max_text }}">{{ form.text }}</textarea>
<label class="f" for="phone">回电号码（可选）</label>
<input type="tel" id="phone" name="phone" value="{{ form.phone }}" maxlength="20"
 placeholder="需要民警回电时填写" inputmode="tel">
<p class="hint">号码只给值班民警用于回电，不会公开。</p>
<button type="submit">提交</button></form>
{% endif %}</main>
<footer>{{ city }}公安交警 · 紧急情况请拨打 122</footer></body></html>
"""
_template = Environment(autoescape=True).from_string(_PAGE)


def render(city: str, *, place: str = "", sticker: str = "", token: str = "", csrf: str = "",
           form: dict[str, str] | None = None, message: str = "", kind: str = "error",
           receipt: Any = None) -> str:
    """The form page, a refusal (``message``) or the receipt (every value autoescaped)."""
    return _template.render(city=city, place=place, sticker=sticker, token=token, csrf=csrf,
                            form=form, message=message, kind=kind, receipt=receipt,
                            categories=R.CATEGORIES, max_text=R.MAX_TEXT)


def make_citizen(get_services: Callable[[], Any],
                 submit: Callable[[Any, R.Report, Place], Any]) -> Blueprint:
    """``/r/<sticker id>``. ``submit(services, report, place)`` runs a checked report through
    the feed pipeline (feeds.citizen.submit) and returns its receipt (ref, outcome, task_id)."""
    bp = Blueprint("citizen", __name__)

    def page(status: int, headers: dict[str, str] | None = None, **kw: Any) -> Response:
        s = get_services().settings
        resp = Response(render(s.city_name, **kw), status=status, mimetype="text/html")
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Content-Security-Policy"] = PAGE_CSP
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def key() -> bytes:
        return derive_key(str(current_app.secret_key), get_services().settings.city)

    def place_of(sticker_id: str) -> Place | None:
        if len(sticker_id) > MAX_ID_CHARS:
            return None
        try:
            return decode(sticker_id, key())
        except StickerError:
            return None

    def over(scope: str, limit: int, window: int, who: str) -> int:
        """0 when allowed, else the seconds to wait."""
        verdict = limiter_for(get_services(), scope, limit, window).hit(who)
        return 0 if verdict.allowed else verdict.retry_after_s

    def invalid() -> Response:
        return page(404, message="这个二维码无效：可能被篡改，或不是本市交警的贴纸。"
                                 "需要报警请拨打 122。")

    def form_page(status: int, sticker_id: str, place: Place, form: dict[str, str],
                  message: str = "", headers: dict[str, str] | None = None) -> Response:
        return page(status, headers, place=place.name, sticker=sticker_id, form=form,
                    token=R.form_token(key(), sticker_id, time.time()),
                    csrf=session.csrf_token(), message=message)

    @bp.get("/r/<sticker_id>")
    def form_get(sticker_id: str):
        s = get_services().settings
        try:
            wait = over(FORM_SCOPE, s.qr_form_rate_limit, s.qr_form_rate_window_s,
                        request.remote_addr or "")
            if wait:
                return page(429, {"Retry-After": str(wait)},
                            message=f"访问过于频繁，请 {wait} 秒后再试。")
        except redis.RedisError:
            return page(503, message="系统暂时无法接收报告，请稍后再试，或拨打 122。")
        place = place_of(sticker_id)
        if place is None:
            return invalid()
        return form_page(200, sticker_id, place, {"category": "", "text": "", "phone": "",
                                                  "plate": ""})

    @bp.post("/r/<sticker_id>")
    def form_post(sticker_id: str):
        svc = get_services()
        s = svc.settings
        typed = {k: (request.form.get(k) or "")[:R.MAX_FIELD_BYTES]
                 for k in ("category", "text", "phone", "plate")}
        try:
            wait = over(CLIENT_SCOPE, s.qr_rate_limit, s.qr_rate_window_s,
                        request.remote_addr or "")
            place = place_of(sticker_id)
            if place is None:
                return invalid()
            if wait:
                return form_page(429, sticker_id, place, typed,
                                 f"提交过于频繁：请 {wait} 秒后再提交，或拨打 122。您填写的内容仍在下方。",
                                 {"Retry-After": str(wait)})
            if not session.same_origin():
                return form_page(403, sticker_id, place, typed,
                                 "请在扫码打开的页面上提交（来源核验未通过）。您填写的内容仍在下方。")
            wait = over(STICKER_SCOPE, s.qr_sticker_rate_limit, s.qr_sticker_rate_window_s,
                        sticker_id)
            if wait:
                return form_page(429, sticker_id, place, typed,
                                 f"此处报告过多，请 {wait} 秒后再提交，或拨打 122。",
                                 {"Retry-After": str(wait)})
            now = time.time()
            try:
                opened, nonce = R.check_token(key(), request.form.get("token") or "",
                                              sticker_id, now)
                day = datetime.fromtimestamp(opened, ZoneInfo(s.timezone)).strftime("%m%d")
                rep = R.check_form(request.form, sticker_id, R.reference(day, nonce),
                                   opened)
            except R.ReportError as exc:
                log.info("qr report refused (%s): %s", exc.status, exc.detail)
                return form_page(exc.status, sticker_id, place, typed,
                                 exc.message + " 您填写的内容仍在下方，改正后再提交即可。")
            receipt = submit(svc, rep, place)
        except redis.RedisError as exc:
            log.warning("qr report: data store unreachable (%s)", exc.__class__.__name__)
            place = place_of(sticker_id)
            if place is None:
                return invalid()
            return form_page(503, sticker_id, place, typed,
                             "系统暂时无法接收报告，请稍后再提交，或拨打 122。您填写的内容仍在下方。")
        log.info("qr report %s: %s (%s)%s", receipt.ref, receipt.outcome, rep.category,
                 f", move-car task {receipt.task_id}" if receipt.task_id else "")
        return page(200, place=place.name, receipt=receipt)

    return bp
