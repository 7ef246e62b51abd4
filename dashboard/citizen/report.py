"""The phone report form's rules: categories, the limits of each field, the per-form token,
and the checked report that goes into the pipeline (feeds/citizen.py).

Every field is checked here, on the server: a category of the list, a text of at most
``MAX_TEXT`` characters without control characters, a mainland mobile or a landline with its
area code for a call-back, and for 违停/挪车 a plate number of the national format. The place
is never a field: it comes from the signed sticker id.

The per-form token (``form_token``) is signed like the sticker id and carries the sticker,
the time the form was opened and a random nonce: a POST needs a token for the same sticker
no older than ``TOKEN_MAX_AGE_S`` (1 h). The nonce makes the report's reference number, so a form
sent twice (a double tap, a resend after a dropped connection) is one report, not two.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
import unicodedata
from dataclasses import dataclass
from typing import Mapping

from dashboard.masking import normalise

# (form value, Chinese label, event category, severity); the order of the buttons
CATEGORIES: tuple[tuple[str, str, str, int], ...] = (
    ("accident", "事故", "accident", 2),
    ("jam", "拥堵", "jam", 1),
    ("flooding", "积水", "flooding", 2),
    ("signal", "信号灯故障", "hazard", 1),
    ("parking", "违停/挪车", "illegal_parking", 1),
    ("other", "其他", "other", 1),
)
CATEGORY_BY_VALUE = {c[0]: c for c in CATEGORIES}
MOVE_CAR = "parking"
MAX_TEXT = 300
MAX_FIELD_BYTES = 4096          # any one form field (bytes as sent) beyond this: refused
TOKEN_MAX_AGE_S = 3600
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?[1-9]\d{6,7}$")
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# 鲁J12345, 鲁JD12345 / 鲁J12345D (new energy), 鲁J1234学/警/挂/港/澳/领
_PLATE = re.compile(rf"^[{_PROVINCES}][A-HJ-NP-Z](?:[A-HJ-NP-Z0-9]{{5,6}}|"
                    r"[A-HJ-NP-Z0-9]{4}[挂学警港澳领])$")
_NONCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class ReportError(ValueError):
    """A report refused: ``status`` (400, 404, 403 …) and a message for the citizen (Chinese)
    and the log (``detail``, English)."""

    def __init__(self, status: int, message: str, detail: str = ""):
        super().__init__(detail or message)
        self.status = status
        self.message = message
        self.detail = detail or message


@dataclass(frozen=True)
class Report:
    """A checked citizen report (the place from the sticker, everything else from the form)."""

    ref: str                  # the reference number told to the citizen, e.g. 1001-7K3M9XAB
    sticker_id: str
    category: str             # form value (CATEGORIES[i][0])
    text: str = ""
    phone: str = ""
    plate: str = ""
    opened_at: float = 0.0    # when the form was opened (epoch s): the report's time, so a
                              # form sent twice is the same record, not an update

    @property
    def event_category(self) -> str:
        return CATEGORY_BY_VALUE[self.category][2]

    @property
    def severity(self) -> int:
        return CATEGORY_BY_VALUE[self.category][3]

    @property
    def label(self) -> str:
        return CATEGORY_BY_VALUE[self.category][1]


def _token_mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"form|" + body, hashlib.sha256).digest()[:12]


def form_token(key: bytes, sticker_id: str, now: float) -> str:
    """A token for one opened form: the time, a random nonce, signed with the sticker."""
    nonce = "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(8)).encode()
    body = struct.pack(">I", int(now)) + nonce
    mac = _token_mac(key, body + sticker_id.encode())
    return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def check_token(key: bytes, token: str, sticker_id: str, now: float) -> tuple[float, str]:
    """(opened at, nonce) of a valid token for this sticker; ReportError(400) otherwise."""
    expired = ReportError(400, "表单已过期，请重新扫码填写。", "form token missing, forged or expired")
    if not isinstance(token, str) or not 20 <= len(token) <= 64:
        raise expired
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise expired from None
    body, mac = raw[:-12], raw[-12:]
    if len(body) != 12 or not hmac.compare_digest(mac, _token_mac(key, body +
                                                                  sticker_id.encode())):
        raise expired
    opened = struct.unpack(">I", body[:4])[0]
    if opened > now + 60 or now - opened > TOKEN_MAX_AGE_S:
        raise expired
    nonce = body[4:].decode("ascii", "replace")
    if not all(c in _NONCE_ALPHABET for c in nonce):
        raise expired
    return float(opened), nonce


def reference(opened_at_local_mmdd: str, nonce: str) -> str:
    """The report's reference number: the local month and day the form was opened, and the
    form's nonce (``1001-7K3M9XAB``)."""
    return f"{opened_at_local_mmdd}-{nonce}"


def clean_text(value: str) -> str:
    """The free text: NFC, control characters refused, at most ``MAX_TEXT`` characters."""
    text = unicodedata.normalize("NFC", value or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise ReportError(400, f"补充说明太长：最多 {MAX_TEXT} 字，现有 {len(text)} 字。",
                          f"text longer than {MAX_TEXT} characters ({len(text)})")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") and c != "\n" for c in text):
        raise ReportError(400, "补充说明含有不可见的控制字符，请删除后再提交。",
                          "text contains control characters")
    return text


def clean_phone(value: str) -> str:
    """A call-back number (optional): a mainland mobile (11 digits) or a landline with its
    area code; spaces and dashes between digits are allowed, full-width digits too."""
    raw = normalise(value or "").strip()
    if not raw:
        return ""
    digits = re.sub(r"[\s\-]", "", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    if _MOBILE.match(digits):
        return digits
    if _LANDLINE.match(re.sub(r"\s", "", raw)) and 10 <= len(digits) <= 12:
        return digits
    raise ReportError(400, "回电号码格式不对：请填写 11 位手机号，或带区号的固定电话。",
                      "phone is not a mobile or landline number")


def clean_plate(value: str) -> str:
    """A plate number: ``鲁J12345`` (letters upper case, separators removed); ReportError(400)
    when it is not of the national format."""
    raw = normalise(value or "").upper()
    plate = re.sub(r"[\s·.\-]", "", raw)
    if not _PLATE.match(plate):
        raise ReportError(400, "车牌号格式不对：例如 鲁J12345 或 鲁JD12345。",
                          "plate is not of the national format")
    return plate


def check_form(form: Mapping[str, str], sticker_id: str, ref: str,
               opened_at: float = 0.0) -> Report:
    """The report from the posted form fields (the token checked already); ReportError(400)
    naming the first problem."""
    for name in ("category", "text", "phone", "plate"):
        if len((form.get(name) or "").encode("utf-8", "replace")) > MAX_FIELD_BYTES:
            raise ReportError(400, "提交的内容太长，请缩短后再提交。",
                              f"field {name} longer than {MAX_FIELD_BYTES} bytes")
    category = (form.get("category") or "").strip()
    if category not in CATEGORY_BY_VALUE:
        raise ReportError(400, "请选择一个类别（事故、拥堵、积水……）。", "no or unknown category")
    text = clean_text(form.get("text") or "")
    phone = clean_phone(form.get("phone") or "")
    plate = ""
    if category == MOVE_CAR:
        if not (form.get("plate") or "").strip():
            raise ReportError(400, "挪车请填写挡路车辆的车牌号。", "move-car report without a plate")
        plate = clean_plate(form.get("plate") or "")
    return Report(ref=ref, sticker_id=sticker_id, category=category, text=text, phone=phone,
                  plate=plate, opened_at=opened_at)
