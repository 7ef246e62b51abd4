"""Tests of the feed adapters; shared helpers for them, and the hypothesis profiles.

Profiles: "quick" (60 examples, the default) and "long" (2,000 examples); choose with
HYPOTHESIS_PROFILE=long.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, settings

from feeds.base import ParseContext

settings.register_profile("quick", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("HYPOTHESIS_PROFILE", "quick") in ("quick", "long"):
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = REPO.parent / "shared" / "samples"
ROADS = REPO / "data" / "taian" / "roads.geojson"
TAIAN_BBOX = (116.80, 35.90, 117.45, 36.45)
NOW = datetime(2026, 10, 1, 8, 30, tzinfo=timezone.utc)


@lru_cache(maxsize=1)
def taian_network():
    """The demo road network of Tai'an (loaded once per test session)."""
    from dashboard.roads.network import load_network

    return load_network(ROADS)


def make_ctx(feed: str, bbox=TAIAN_BBOX, now: datetime = NOW, network=None) -> ParseContext:
    """A parse context on the real demo network."""
    return ParseContext(network=network if network is not None else taian_network(),
                        bbox=bbox, now=now, feed=feed, match_max_m=150.0)


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
