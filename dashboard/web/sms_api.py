"""The SMS road query's webhook: ``POST /api/v1/sms/inbound``, called by the SMS gateway
with each text a citizen sends to the police's number; answers with the reply to send back
(``dashboard.live.sms``: at most 70 characters with the signature).

- **Secret.** ``sms_secret`` (``LUKUANG_SMS_SECRET``) shared with the gateway, sent as the
  header ``X-Lukuang-Sms-Secret`` (or ``Authorization: Bearer <secret>``), or as a body field
  ``secret`` / ``token`` for gateways that cannot set headers; never in the query string
  (access logs keep URLs). Compared in constant time. Not configured → 503 "SMS gateway not
  configured"; missing or wrong → 401.
- **Body.** Form-encoded (or multipart) or JSON (an object), the field names of the common
  gateways, case-insensitive: sender ``phone_number`` (Aliyun SmsUp), ``mobile`` (+
  ``nationcode``, Tencent Cloud), ``phone``, ``from``, ``sender``, ``msisdn``, ``src_id``;
  text ``content`` (Aliyun), ``text`` (Tencent), ``sms_content``, ``msg``, ``message``;
  ``send_time``/``time``, ``sign_name``/``sign``, ``dest_code``/``extend`` are accepted and not
  used. Missing sender or text (or a field sent twice) → 400 naming the fields; a sender that is
  not a phone number, a text over 160 characters or with control characters → 400; a body over
  ``MAX_BODY_BYTES`` → 413. An empty text is a question: it gets the help.
- **Answer.** 200 ``{"reply": "...", "to": "138****5678", "kind": "road"|"matches"|"unknown"|
  "help", "road": "...", "units": n, "sign_name": "泰安交警"}``; ``reply`` excludes the
  signature the gateway adds (its length is reserved). ``Accept: text/plain`` (preferred over
  JSON) or ``?format=text``: the reply alone as ``text/plain; charset=utf-8`` (errors too).
  The road's answer is the public query's cached body for the same data version and minute
  (``public_api``'s cache entry, built by ``live.public.road_answer``), so SMS and /public agree.
- **Limits.** Every request counts against its client address (``sms_ip_rate_limit`` per
  ``sms_ip_rate_window_s``: the gateway's own budget, against floods from elsewhere); every
  authenticated text against its sender (``sms_rate_limit`` per ``sms_rate_window_s``). Over
  → 429 with Retry-After and no reply to send. The sender is counted under a keyed digest
  (HMAC with the secret), never its number.
- **Personal data.** The sender's number is masked (``masking.mask_phone``) in the answer and
  in the log; it is not stored. Each outcome is counted in ``keys.sms_counts()`` (a hash of
  counters: no number, no text).
- Redis unreachable → 503.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from typing import Any, Callable

import redis
from flask import Blueprint, Response, request

from dashboard.live.public import road_answer
from dashboard.live.sms import SmsInputError, budget_for, clean_content, reply_for, sms_units
from dashboard.masking import mask_phone
from dashboard.storage.cache import cache_for, dumps
from dashboard.timeutil import city_zone
from dashboard.web.public_api import PUBLIC_CACHE_TTL_S, answer_digest
from dashboard.web.ratelimit import limiter_for

log = logging.getLogger("lukuang.sms")

ROUTE = "/api/v1/sms/inbound"
SECRET_HEADER = "X-Lukuang-Sms-Secret"
SECRET_FIELDS = ("secret", "token")
SENDER_FIELDS = ("phone_number", "mobile", "phone", "from", "sender", "msisdn", "src_id")
CONTENT_FIELDS = ("content", "text", "sms_content", "msg", "message")
NATION_FIELDS = ("nationcode", "nation_code", "country_code")
MAX_BODY_BYTES = 16 * 1024
IP_SCOPE, SENDER_SCOPE = "sms-ip", "sms-sender"
_PHONE_RE = re.compile(r"^\+?\d{3,20}$")


class BadRequest(ValueError):
    """A refusal: ``status`` and the reason (``counter`` names the outcome counted)."""

    def __init__(self, status: int, reason: str, counter: str):
        super().__init__(reason)
        self.status = status
        self.counter = counter


# -- the body -----------------------------------------------------------------------------------
def body_fields() -> dict[str, Any]:
    """The request's fields, names lower-cased: a JSON object, or the form. A field sent twice
    (different values) or a JSON value that is not text or a number → BadRequest."""
    if request.is_json:
        try:
            data = request.get_json(silent=True)
        except RecursionError:   # nested too deep for the parser: not a gateway's body
            data = None
        if not isinstance(data, dict):
            raise BadRequest(400, "body is not a JSON object", "refused_bad_input")
        out: dict[str, Any] = {}
        for k, v in data.items():
            if isinstance(v, bool) or not isinstance(v, (str, int, float, type(None))):
                raise BadRequest(400, f"field {k!r} is not text", "refused_bad_input")
            out[str(k).lower()] = None if v is None else str(v)
        return out
    out = {}
    for k in request.form:
        values = set(request.form.getlist(k))
        if len(values) > 1:
            raise BadRequest(400, f"field {k!r} given more than once", "refused_bad_input")
        name = k.lower()
        if name in out and out[name] not in values:
            raise BadRequest(400, f"field {k!r} given more than once", "refused_bad_input")
        out[name] = values.pop()
    return out


def pick(fields: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` present in ``fields`` (None when none is)."""
    for n in names:
        if fields.get(n) is not None:
            return fields[n]
    return None


def sender_of(fields: dict[str, Any]) -> str:
    """The sender's number, digits (with "+" and the country code for a non-Chinese nation
    code); BadRequest when missing or not a phone number."""
    raw = pick(fields, SENDER_FIELDS)
    if raw is None or not raw.strip():
        raise BadRequest(400, "sender is missing (one of: " + ", ".join(SENDER_FIELDS) + ")",
                         "refused_bad_input")
    number = re.sub(r"[\s\-()]", "", raw)
    if not _PHONE_RE.match(number):
        raise BadRequest(400, "sender is not a phone number", "refused_bad_input")
    nation = (pick(fields, NATION_FIELDS) or "").strip().lstrip("+")
    if nation and nation != "86" and nation.isdigit() and not number.startswith("+"):
        number = f"+{nation}{number}"
    for cn in ("+86", "0086", "86"):   # one key per Chinese mobile, however it is written
        rest = number[len(cn):]
        if number.startswith(cn) and len(rest) == 11 and rest[0] == "1":
            number = rest
    return number


def content_of(fields: dict[str, Any]) -> str:
    raw = pick(fields, CONTENT_FIELDS)
    if raw is None:
        raise BadRequest(400, "content is missing (one of: " + ", ".join(CONTENT_FIELDS) + ")",
                         "refused_bad_input")
    try:
        return clean_content(raw)
    except SmsInputError as exc:
        raise BadRequest(400, str(exc), "refused_bad_input") from None


def secret_ok(expected: str, fields: dict[str, Any] | None) -> bool:
    """Whether the request carries ``expected`` (header, bearer token or body field)."""
    given = request.headers.get(SECRET_HEADER)
    auth = request.headers.get("Authorization", "")
    if given is None and auth[:7].lower() == "bearer ":
        given = auth[7:].strip()
    if given is None and fields is not None:
        given = pick(fields, SECRET_FIELDS)
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"),
                                                     expected.encode("utf-8"))


def sender_key(number: str, secret: str) -> str:
    """The rate limiter's name for a sender: a keyed digest (a number is not stored)."""
    return hmac.new(secret.encode(), number.encode(), hashlib.sha256).hexdigest()[:20]


def wants_text() -> bool:
    if request.args.get("format") == "text":
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/plain"])
    return best == "text/plain" and request.accept_mimetypes["text/plain"] > \
        request.accept_mimetypes["application/json"]


# -- the blueprint ---------------------------------------------------------------------------
def make_sms(get_services: Callable[[], Any]) -> Blueprint:
    """``POST /api/v1/sms/inbound``. ``get_services()`` returns the worker's Services."""
    bp = Blueprint("sms", __name__)

    def count(outcome: str) -> None:
        svc = get_services()
        try:
            svc.r.hincrby(svc.keys.sms_counts(), outcome, 1)
        except redis.RedisError:   # a counter is not worth failing the answer for
            pass

    def answer(status: int, body: dict[str, Any], text: str,
               headers: dict[str, str] | None = None) -> Response:
        if wants_text():
            resp = Response(text + "\n" if status != 200 else text, status=status,
                            mimetype="text/plain")
        else:
            resp = Response(dumps(body), status=status, mimetype="application/json")
        resp.headers["Cache-Control"] = "no-store"
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def refuse(status: int, reason: str, counter: str, **extra: Any) -> Response:
        count(counter)
        headers = {}
        if "retry_after_s" in extra:
            headers["Retry-After"] = str(extra["retry_after_s"])
        return answer(status, {"error": reason, **extra}, reason, headers)

    def over(scope: str, client: str, limit: int, window_s: int) -> int | None:
        """Seconds to wait when ``client`` is over its limit, else None."""
        verdict = limiter_for(get_services(), scope, limit, window_s).hit(client)
        return None if verdict.allowed else verdict.retry_after_s

    def public_answer(road: str) -> dict[str, Any]:
        """The public query's answer for ``road``: its very cache entry (same tag, same
        builder) as /api/v1/public/roads uses."""
        svc = get_services()
        now = time.time()
        minute = int(now // 60)
        version = svc.store.version()

        def data() -> dict:
            return road_answer(svc.store, svc.network, road, minute * 60.0, version,
                               svc.settings.congestion_stale_s)
        cache = cache_for(svc.r, svc.keys)
        name = f"public:json:{answer_digest(road, 'json')}"
        # get_text first: the entry is stored with the public query's TTL when it builds it
        cache.get_text(name, f"{version}:{minute}", data, ttl_s=PUBLIC_CACHE_TTL_S)
        return cache.get(name, f"{version}:{minute}", data)

    @bp.post(ROUTE)
    def inbound():
        svc = get_services()
        s = svc.settings
        if not s.sms_secret:
            return refuse(503, "SMS gateway not configured (set sms_secret)",
                          "refused_not_configured")
        try:
            wait = over(IP_SCOPE, request.remote_addr or "", s.sms_ip_rate_limit,
                        s.sms_ip_rate_window_s)
            if wait is not None:
                return refuse(429, f"too many requests from this address: at most "
                                   f"{s.sms_ip_rate_limit} per {s.sms_ip_rate_window_s} s; "
                                   f"retry after {wait} s", "refused_rate_ip",
                              retry_after_s=wait)
            if (request.content_length or 0) > MAX_BODY_BYTES:
                return refuse(413, f"body is larger than {MAX_BODY_BYTES} bytes",
                              "refused_bad_input")
            try:
                fields: dict[str, Any] | None = body_fields()
                problem = None
            except BadRequest as exc:
                fields, problem = None, exc
            if not secret_ok(s.sms_secret, fields):
                return refuse(401, "SMS secret missing or wrong", "refused_auth")
            try:
                if problem is not None:
                    raise problem
                sender = sender_of(fields or {})
            except BadRequest as exc:
                return refuse(exc.status, str(exc), exc.counter)
            to = mask_phone(sender)
            # the sender counts before its text is looked at: a flood of junk trips it too
            wait = over(SENDER_SCOPE, sender_key(sender, s.sms_secret), s.sms_rate_limit,
                        s.sms_rate_window_s)
            if wait is not None:
                log.info("sms from %s refused: over %s per %s s", to, s.sms_rate_limit,
                         s.sms_rate_window_s)
                return refuse(429, f"too many queries from this number: at most "
                                   f"{s.sms_rate_limit} per {s.sms_rate_window_s} s; retry "
                                   f"after {wait} s", "refused_rate_sender",
                              retry_after_s=wait, to=to)
            try:
                content = content_of(fields or {})
            except BadRequest as exc:
                return refuse(exc.status, str(exc), exc.counter, to=to)
            reply = reply_for(svc.network, content, public_answer, city_zone(s),
                              budget_for(s.sms_signature))
            count(f"answered_{reply.kind}")
            log.info("sms from %s answered: %s %s", to, reply.kind, reply.road)
            return answer(200, {"reply": reply.text, "to": to, "kind": reply.kind,
                                "road": reply.road, "units": sms_units(reply.text),
                                "sign_name": s.sms_signature.strip("【】[] ")}, reply.text)
        except redis.RedisError as exc:
            return answer(503, {"error": f"data store unreachable ({exc.__class__.__name__})"},
                          "data store unreachable")

    return bp
