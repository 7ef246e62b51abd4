"""One bulletin, fitted to each of the "five media" (五微一端: Weibo, WeChat, SMS, app push,
website), with each medium's length rule.

How characters are counted (decided here, tested in tests/dashboard/comms/test_channels.py):

- **Grapheme clusters.** What a reader sees as one character: a base character with its
  combining marks, variation selectors and skin-tone modifiers, an emoji ZWJ sequence
  (👨‍👩‍👧), a flag (two regional indicators), a keycap. Python's ``re`` has no ``\\X``, so
  ``GRAPHEME_RE`` approximates UAX #29 for these cases; Hangul syllable sequences and
  Indic conjuncts are not treated specially (not needed for Chinese bulletins), so no
  extra package (``regex``/``grapheme``) is installed.
- **Weibo** (limit 2000, the feed preview shows 140): Weibo counts in 字 where a Chinese
  character, full-width character or emoji counts 1 and an ASCII character (letters,
  digits, spaces, punctuation) counts ½, rounded up. Weibo replaces every link with a
  ``t.cn`` short link, so a URL counts 10 (as 20 ASCII characters) whatever its length.
- **WeChat** official-account article: body ≤ 20,000 characters (the counter's headline
  number), title ≤ 64, digest ≤ 120 (the digest is made from the body's first sentences
  to fit).
- **SMS**: any character outside the GSM 03.38 alphabet (any Chinese) makes the message
  UCS-2: 70 UTF-16 units in a single message, 67 per part when it is split (the rest is
  the concatenation header). The signature (the city profile's ``sms_signature``, e.g.
  【泰安交警】) is part of the text and counts.
  An emoji outside the BMP takes 2 units (a surrogate pair); a ZWJ family takes 8; parts
  are split between grapheme clusters so no emoji is cut in two. Pure GSM text: 160 /
  153 septets, the extension characters (``^{}\\[~]|€``) take 2. ``over`` means more
  than ``SMS_MAX_PARTS`` parts.
- **App push**: the title shows about 20 characters and the body about 50 on a lock
  screen; ``over`` means the reader sees it cut.
- **Website**: no limit.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from dashboard.comms.bulletins import KIND_TITLES, Bulletin
from dashboard.settings import DEMO_PROFILE

CHANNELS = ("weibo", "wechat", "sms", "push", "web")
CHANNEL_NAMES = {"weibo": "微博", "wechat": "微信公众号", "sms": "短信", "push": "客户端推送",
                 "web": "网站"}
WEIBO_LIMIT = 2000
WEIBO_PREVIEW = 140
WEIBO_URL_COST = 10.0
WECHAT_TITLE = 64
WECHAT_DIGEST = 120
WECHAT_BODY = 20_000
# the demo city's; every caller on a page passes the configured ``sms_signature``
SMS_SIGNATURE = DEMO_PROFILE["sms_signature"]
SMS_UCS2_SINGLE, SMS_UCS2_PART = 70, 67
SMS_GSM_SINGLE, SMS_GSM_PART = 160, 153
SMS_MAX_PARTS = 3
PUSH_TITLE, PUSH_BODY = 20, 50
ELLIPSIS = "…"

# -- grapheme clusters -----------------------------------------------------------------------
_EXTEND = ("[\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f"
           "\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f"
           "\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F\U000E0100-\U000E01EF]")
_PICTO = ("[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2"
          "\u25aa-\u27bf\u2934\u2935\u2b00-\u2bff\u3030\u303d\u3297\u3299"
          "\U0001F000-\U0001FAFF]")
_RI = "[\U0001F1E6-\U0001F1FF]"
GRAPHEME_RE = re.compile(rf"\r\n|{_RI}{_RI}|.(?:{_EXTEND}|\u200d(?:{_PICTO})?)*", re.S)
URL_RE = re.compile(r"https?://[!-~]+", re.I)

# GSM 03.38 basic alphabet and the extension table (2 septets each)
_GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
                 "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXT = set("^{}\\[~]|€\f")


def graphemes(text: str) -> list[str]:
    """The text split into (approximate) grapheme clusters."""
    return GRAPHEME_RE.findall(text or "")


def grapheme_len(text: str) -> int:
    return len(graphemes(text))


def cut(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """At most ``limit`` grapheme clusters, ending in ``ellipsis`` when cut."""
    g = graphemes(text)
    if len(g) <= limit:
        return text
    return "".join(g[:max(0, limit - len(ellipsis))]) + ellipsis


# -- Weibo ---------------------------------------------------------------------------------------
def _weibo_tokens(text: str) -> list[tuple[str, float]]:
    """(piece, cost in 字): URLs as one piece, then grapheme clusters."""
    out: list[tuple[str, float]] = []
    pos = 0
    for m in URL_RE.finditer(text or ""):
        out += [(g, _weibo_cost(g)) for g in graphemes(text[pos:m.start()])]
        out.append((m.group(0), WEIBO_URL_COST))
        pos = m.end()
    out += [(g, _weibo_cost(g)) for g in graphemes((text or "")[pos:])]
    return out


def _weibo_cost(g: str) -> float:
    return 0.5 if all(ord(c) < 128 for c in g) else 1.0


def weibo_length(text: str) -> int:
    """Weibo's count in 字 (see the module docstring)."""
    return math.ceil(sum(c for _, c in _weibo_tokens(text)))


def weibo_preview(text: str, limit: int = WEIBO_PREVIEW) -> str:
    """What the feed shows: the first ``limit`` 字, then "…" (links are never cut)."""
    tokens = _weibo_tokens(text)
    if math.ceil(sum(c for _, c in tokens)) <= limit:
        return text
    kept, total = [], 0.0
    for piece, cost in tokens:
        if math.ceil(total + cost) > limit - 1:
            break
        kept.append(piece)
        total += cost
    return "".join(kept) + ELLIPSIS


# -- SMS ----------------------------------------------------------------------------------------
def _utf16_units(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def sms_encoding(text: str) -> str:
    """"gsm7" when every character is in the GSM alphabet, else "ucs2"."""
    return "gsm7" if all(c in _GSM_BASIC or c in _GSM_EXT for c in text) else "ucs2"


def sms_units(text: str) -> int:
    """Septets (GSM-7) or UTF-16 units (UCS-2) the text takes."""
    if sms_encoding(text) == "gsm7":
        return sum(2 if c in _GSM_EXT else 1 for c in text)
    return _utf16_units(text)


def sms_parts(text: str) -> list[str]:
    """The text as the phone network carries it: one message, or parts of 67 (153)."""
    gsm = sms_encoding(text) == "gsm7"
    single, part = (SMS_GSM_SINGLE, SMS_GSM_PART) if gsm else (SMS_UCS2_SINGLE, SMS_UCS2_PART)
    if sms_units(text) <= single:
        return [text] if text else []
    parts: list[str] = []
    cur, n = "", 0
    for g in graphemes(text):
        size = sum(2 if c in _GSM_EXT else 1 for c in g) if gsm else _utf16_units(g)
        if n + size > part and cur:
            parts.append(cur)
            cur, n = "", 0
        cur += g
        n += size
    if cur:
        parts.append(cur)
    return parts


# -- rendering -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelText:
    """A bulletin as one channel carries it, with its length rule.

    ``length``/``limit`` are in the channel's unit (``unit``); ``limit`` 0 means none.
    ``parts`` lists (name, text, length, limit) for channels with several fields.
    """

    channel: str
    text: str
    length: int
    limit: int
    segments: int = 1
    over: bool = False
    unit: str = "字"
    preview: str = ""
    parts: tuple[tuple[str, str, int, int], ...] = ()
    note: str = ""


def _title(b: Bulletin) -> str:
    return b.title or KIND_TITLES.get(b.kind, KIND_TITLES["free"])


def _plain_body(b: Bulletin) -> str:
    """The body without Weibo syntax: ``#话题#`` becomes ``话题``."""
    return re.sub(r"#([^#\n]{1,30})#", r"\1", b.body)


def _digest(body: str, limit: int = WECHAT_DIGEST) -> str:
    """The first whole sentences that fit, else the body cut with "…"."""
    flat = re.sub(r"\s+", "", body)
    if grapheme_len(flat) <= limit:
        return flat
    sentences = re.findall(r"[^。！？；]*[。！？；]", flat)
    out = ""
    for s in sentences:
        if grapheme_len(out + s) > limit:
            break
        out += s
    return out or cut(flat, limit)


def render(b: Bulletin, channel: str, *, sms_signature: str = SMS_SIGNATURE,
           sms_max_parts: int = SMS_MAX_PARTS) -> ChannelText:
    """``b`` fitted to ``channel`` (one of CHANNELS)."""
    if channel == "weibo":
        text = b.text
        n = weibo_length(text)
        preview = weibo_preview(text)
        note = "" if preview == text else f"信息流显示前{WEIBO_PREVIEW}字"
        return ChannelText("weibo", text, n, WEIBO_LIMIT, 1, n > WEIBO_LIMIT, "字", preview,
                           note=note)
    if channel == "wechat":
        title, body = _title(b), _plain_body(b)
        digest = _digest(body)
        parts = (("title", title, grapheme_len(title), WECHAT_TITLE),
                 ("digest", digest, grapheme_len(digest), WECHAT_DIGEST),
                 ("body", body, grapheme_len(body), WECHAT_BODY))
        # the headline number is the article's body against its limit; the title and the
        # digest have their own counts in ``parts``
        return ChannelText("wechat", f"{title}\n\n{body}", parts[2][2], WECHAT_BODY, 1,
                           any(n > lim for _, _, n, lim in parts), "字", digest, parts)
    if channel == "sms":
        text = f"{sms_signature}{_title(b)}：{_plain_body(b)}"
        segs = sms_parts(text)
        gsm = sms_encoding(text) == "gsm7"
        single = SMS_GSM_SINGLE if gsm else SMS_UCS2_SINGLE
        per = single if len(segs) <= 1 else (SMS_GSM_PART if gsm else SMS_UCS2_PART)
        return ChannelText("sms", text, sms_units(text), per, max(1, len(segs)),
                           len(segs) > sms_max_parts, "GSM字符" if gsm else "字",
                           segs[0] if segs else "",
                           tuple((f"part{i + 1}", s, sms_units(s), per)
                                 for i, s in enumerate(segs)),
                           note=f"{len(segs)}条短信" if len(segs) > 1 else "")
    if channel == "push":
        title, body = _title(b), _plain_body(b)
        parts = (("title", title, grapheme_len(title), PUSH_TITLE),
                 ("body", body, grapheme_len(body), PUSH_BODY))
        return ChannelText("push", f"{title}\n{body}", parts[1][2], PUSH_BODY, 1,
                           any(n > lim for _, _, n, lim in parts), "字",
                           f"{cut(title, PUSH_TITLE)}\n{cut(body, PUSH_BODY)}", parts)
    if channel == "web":
        title, body = _title(b), _plain_body(b)
        text = f"{title}\n{body}"
        return ChannelText("web", text, grapheme_len(text), 0, 1, False, "字", text)
    raise ValueError(f"unknown channel {channel!r} (one of {', '.join(CHANNELS)})")


def render_all(b: Bulletin, sms_signature: str = SMS_SIGNATURE) -> dict[str, ChannelText]:
    return {c: render(b, c, sms_signature=sms_signature) for c in CHANNELS}
