"""One adapter shape: fetch → parse (pure) → validate → locate → normalise → write in batches.

An adapter is a small class with a name and a pure ``parse(payload, ctx)``; everything
else (validation, quarantine, de-duplication, ending vanished records, feed health)
is done once, in ``feeds.pipeline``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, ClassVar

from dashboard.model import RoadEvent


class PayloadError(ValueError):
    """The payload as a whole is unusable (not JSON, wrong top-level shape, bad encoding)."""


@dataclass
class Rejected:
    """One record that could not become an event: why, and its raw bytes."""

    reason: str
    raw: bytes | str
    ref: str = ""


@dataclass
class ParseContext:
    """What parsing may consult: the road network, the city bounds, the clock, and the
    city's time zone (times written without an offset are local) and own accounts."""

    network: Any  # dashboard.roads.RoadNetwork
    bbox: tuple[float, float, float, float]
    now: datetime
    feed: str = ""
    match_max_m: float = 150.0
    # the fusion's rules (dashboard.dispatch.fusion.FusionRules) when the pipeline should
    # put incident records on incidents after writing them; None: no fusion
    fusion: Any = None
    # the city's time zone (``timeutil.city_zone``); None: dashboard.timeutil.DEFAULT_TIMEZONE
    tz: tzinfo | None = None
    # the police's own Weibo accounts (the profile's weibo_accounts)
    accounts: tuple[str, ...] = ()


@dataclass
class ParseResult:
    """Everything one payload produced."""

    events: list[RoadEvent] = field(default_factory=list)
    # (segment_id, level 0-4 on Amap's scale, speed km/h or None, source, observed epoch)
    congestion: list[tuple[str, int, float | None, str, float]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    # ids (event ids) present in a full snapshot: live events of this feed that are
    # absent are ended. None when the payload is not a full snapshot.
    snapshot_ids: set[str] | None = None
    snapshot_kinds: tuple[str, ...] = ()
    # personal data per event id, stored apart and shown only to allowed roles
    private: dict[str, dict[str, str]] = field(default_factory=dict)
    # per-minute gauges (metric, epoch, value), e.g. a provider's own congestion figure
    gauges: list[tuple[str, float, float]] = field(default_factory=list)


class Adapter:
    """Base class: subclasses set ``name`` and implement ``parse``."""

    name: ClassVar[str] = ""
    # how long an event stays live without being seen again (None: the kind's default)
    ttl_s: ClassVar[float | None] = None

    def parse(self, payload: bytes, ctx: ParseContext) -> ParseResult:
        """Turn one payload into events. Pure: no I/O. Raises PayloadError only when the
        payload as a whole is unusable; a bad record goes to ``rejected``."""
        raise NotImplementedError

    def merge(self, result: ParseResult, store: Any, ctx: ParseContext) -> ParseResult:
        """Optional step that may consult the store (e.g. merging repeated reports)."""
        return result
