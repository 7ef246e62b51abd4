"""Sticker ids: a place of the road network, signed, in the URL a sticker's QR code carries.

A sticker id is ``base64url(payload + mac)``: the payload is a version byte, the place's kind
(``i`` intersection, ``s`` segment), its point (micro-degrees, two int32) and its road names
(UTF-8, joined by U+001F); the mac is the first 10 bytes (80 bits) of HMAC-SHA256 over the
city and the payload, keyed by a key derived from the app's secret key. Why signed and not a
random id kept in Redis: a printed sticker lives for years and must keep working whatever
happens to Redis (a new server, a flush, another cluster); a forged or altered id is refused
without a Redis round trip (cheap under a flood); and nothing about a person is in it, only
the place. The price: the secret key must be kept (``secret_key``, the same on every host, as
for the login sessions), and changing it voids every printed sticker.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass

VERSION = 1
KINDS = {"i": "intersection", "s": "segment"}
MAC_BYTES = 10
MAX_ID_CHARS = 400
MAX_ROADS = 3
SEP = "\x1f"
_PURPOSE = b"lukuang sticker v1"


class StickerError(ValueError):
    """A sticker id that is not ours: malformed, altered or signed with another key."""


@dataclass(frozen=True)
class Place:
    """Where a sticker is: an intersection of two named roads, or a segment of one road
    between two cross streets (``roads``: the road, then the cross streets, when known)."""

    kind: str                     # "intersection" | "segment"
    lon: float
    lat: float
    roads: tuple[str, ...]

    @property
    def name(self) -> str:
        """The place as printed and shown: ``东岳大街与青年路路口``, ``东岳大街（青年路—迎胜路）``."""
        if self.kind == "intersection":
            return f"{self.roads[0]}与{self.roads[1]}路口"
        if len(self.roads) >= 3:
            return f"{self.roads[0]}（{self.roads[1]}—{self.roads[2]}）"
        if len(self.roads) == 2:
            return f"{self.roads[0]}（近{self.roads[1]}）"
        return self.roads[0]


def derive_key(secret_key: str, city: str) -> bytes:
    """The MAC key of one city's stickers, derived from the app's secret key (so the session
    cookies' key is never used as is for something else)."""
    return hmac.new(secret_key.encode(), _PURPOSE + b"|" + city.encode(), hashlib.sha256).digest()


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:MAC_BYTES]


def encode(place: Place, key: bytes) -> str:
    """The sticker id of ``place`` (URL-safe, no padding)."""
    kind = next(k for k, v in KINDS.items() if v == place.kind)
    names = SEP.join(place.roads).encode()
    payload = struct.pack(">Bcii", VERSION, kind.encode(), round(place.lon * 1e6),
                          round(place.lat * 1e6)) + names
    return base64.urlsafe_b64encode(payload + _mac(key, payload)).decode().rstrip("=")


def decode(sticker_id: str, key: bytes) -> Place:
    """The place of a sticker id signed with ``key``; StickerError when it is not one."""
    if not isinstance(sticker_id, str) or not 20 <= len(sticker_id) <= MAX_ID_CHARS:
        raise StickerError("sticker id has the wrong length")
    try:
        raw = base64.urlsafe_b64decode(sticker_id + "=" * (-len(sticker_id) % 4))
    except (ValueError, TypeError):
        raise StickerError("sticker id is not base64url") from None
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != sticker_id:
        # base64 ignores stray characters and spare bits: only the one spelling is ours, so
        # one sticker has one id (its rate limit and its forms cannot be dodged)
        raise StickerError("sticker id is not in its canonical form")
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if len(payload) < 11 or not hmac.compare_digest(mac, _mac(key, payload)):
        raise StickerError("sticker id signature does not match")
    version, kind, lon, lat = struct.unpack(">Bcii", payload[:10])
    if version != VERSION or kind.decode("latin-1") not in KINDS:
        raise StickerError("sticker id of an unknown version")
    try:
        roads = tuple(payload[10:].decode().split(SEP))
    except UnicodeDecodeError:
        raise StickerError("sticker id names are not UTF-8") from None
    place = Place(KINDS[kind.decode()], lon / 1e6, lat / 1e6, roads)
    if not roads or not all(roads) or len(roads) > MAX_ROADS or \
            (place.kind == "intersection" and len(roads) != 2):
        raise StickerError("sticker id names no place")
    return place


def sticker_url(base_url: str, sticker_id: str) -> str:
    """What the QR code holds: ``<public base url>/r/<sticker id>``."""
    return f"{base_url.rstrip('/')}/r/{sticker_id}"
