"""Every real sample under ../shared/samples/{waze,wzdx} through the real parsers.

The samples are from New York, Louisville and Iowa: the context's bounds cover the
sample's own area, and the Tai'an demo network simply matches nothing there.
Skipped when the samples folder is absent.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dashboard.model import CATEGORIES, validate
from feeds.waze import SUBTYPES, TYPES, WazeAdapter, classify
from feeds.wzdx import WzdxAdapter, validator
from tests.feeds import SAMPLES, make_ctx

WORLD = (-180.0, -90.0, 180.0, 90.0)
# (area of the samples) name prefix -> lon_min, lat_min, lon_max, lat_max
AREAS = {"nyc": (-74.6, 40.3, -73.5, 41.2), "louisville": (-86.2, 37.9, -85.3, 38.5),
         "scenario": (-94.5, 41.0, -93.0, 42.2), "arrow": (-94.5, 41.0, -93.0, 42.2)}
WORKZONE_FEED_ID = ("https://raw.githubusercontent.com/usdot-jpo-ode/wzdx/main/schemas/4.2/"
                    "WorkZoneFeed.json")


def sample_files(folder: str, pattern: str) -> list[Path]:
    path = SAMPLES / folder
    return sorted(path.glob(pattern)) if path.is_dir() else []


def area(path: Path) -> tuple[float, float, float, float]:
    return next((box for prefix, box in AREAS.items() if path.name.startswith(prefix)), WORLD)


def check_events(result, bbox) -> None:
    for ev in result.events:
        validate(ev, bbox)
        assert ev.segment_id == "" and ev.district == ""  # Tai'an's network is far away
    assert not any(r.reason.startswith("internal error") for r in result.rejected)


WAZE_FILES = sample_files("waze", "*.json")
WZDX_FILES = sample_files("wzdx", "*.geojson")


needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(),
                                   reason=f"real samples not present at {SAMPLES}")


@needs_samples
@pytest.mark.parametrize("path", WAZE_FILES, ids=lambda p: p.name)
def test_every_waze_sample_parses_completely(path):
    data = json.loads(path.read_bytes())
    result = WazeAdapter().parse(path.read_bytes(), make_ctx("waze", bbox=area(path)))
    check_events(result, area(path))
    n = sum(len(data.get(k, [])) for k in ("alerts", "jams", "irregularities"))
    assert len(result.events) == n and not result.rejected
    assert len(result.snapshot_ids) == n


@needs_samples
def test_waze_nyc_excerpt_one_alert_per_subtype():
    path = SAMPLES / "waze" / "nyc_waze_excerpt_one_per_subtype.json"
    if not path.exists():
        pytest.skip("sample file absent")
    data = json.loads(path.read_bytes())
    pairs = {(a["type"], a.get("subtype", "")) for a in data["alerts"]}
    assert len(pairs) == 23
    for typ, sub in pairs:  # every (type, subtype) in real data is in the tables
        assert (sub in SUBTYPES) if sub else (typ in TYPES), (typ, sub)
        assert classify(typ, sub)[1] in CATEGORIES and classify(typ, sub)[1] != "other"
    result = WazeAdapter().parse(path.read_bytes(), make_ctx("waze", bbox=area(path)))
    alerts = [e for e in result.events if not e.id.startswith(("waze:jam:", "waze:irr:"))]
    assert len(alerts) == 23
    assert Counter(e.attrs["level"] for e in result.events if e.id.startswith("waze:jam:")) == {
        1: 3, 2: 3, 3: 3, 4: 3, 5: 3}
    assert {c for _, c in ((e.kind, e.category) for e in alerts)} >= {
        "accident", "hazard", "closure", "jam", "flooding", "weather", "breakdown", "roadworks"}


@needs_samples
def test_waze_louisville_blocked_jams():
    path = SAMPLES / "waze" / "louisville_jams_SampeData1.json"
    if not path.exists():
        pytest.skip("sample file absent")
    data = json.loads(path.read_bytes())
    result = WazeAdapter().parse(path.read_bytes(), make_ctx("waze", bbox=area(path)))
    blocked = sum(1 for j in data["jams"] if j["delay"] == -1)
    assert blocked == sum(1 for e in result.events if e.attrs["blocked"]) == 38
    assert not result.congestion  # nothing of Tai'an is near Louisville


@needs_samples
def test_waze_samples_outside_taian_are_rejected_there():
    path = SAMPLES / "waze" / "nyc_alerts_jams_irregularities.json"
    if not path.exists():
        pytest.skip("sample file absent")
    result = WazeAdapter().parse(path.read_bytes(), make_ctx("waze"))
    assert not result.events and len(result.rejected) == 6
    assert all("outside the city bounds" in r.reason for r in result.rejected)


@needs_samples
@pytest.mark.parametrize("path", WZDX_FILES, ids=lambda p: p.name)
def test_every_wzdx_sample(path):
    data = json.loads(path.read_bytes())
    result = WzdxAdapter().parse(path.read_bytes(), make_ctx("wzdx", bbox=area(path)))
    check_events(result, area(path))
    assert len(result.events) + len(result.rejected) == len(data["features"])
    is_device_feed = any("device_type" in f["properties"]["core_details"]
                         for f in data["features"])
    if is_device_feed:
        assert not result.events and all("device feed" in r.reason for r in result.rejected)
        return
    # a real WorkZoneFeed: valid as a whole, and every feature becomes an event
    assert not list(validator(WORKZONE_FEED_ID).iter_errors(data))
    assert not result.rejected
    for feat, ev in zip(data["features"], result.events):
        props = feat["properties"]
        assert ev.id == f"wzdx:{feat['id']}"
        assert ev.road_names[:1] == tuple(props["core_details"]["road_names"][:1])
        assert ev.attrs["direction"] == props["core_details"]["direction"]
        assert ev.category == ("detour" if props["core_details"]["event_type"] == "detour" else
                               "closure" if props.get("vehicle_impact") == "all-lanes-closed"
                               else "roadworks")
        assert ev.status == "ended"  # the examples are from 2010
        assert len(ev.line) == len(feat["geometry"]["coordinates"])


@needs_samples
def test_wzdx_detour_scenario_counts():
    path = SAMPLES / "wzdx" / "scenario4_detour_linestring_example.geojson"
    if not path.exists():
        pytest.skip("sample file absent")
    result = WzdxAdapter().parse(path.read_bytes(), make_ctx("wzdx", bbox=area(path)))
    assert Counter(e.category for e in result.events) == {"roadworks": 1, "detour": 3}


def test_registry_gives_every_adapter_on_the_shared_shape():
    from feeds.base import Adapter
    from feeds.registry import ADAPTERS, adapter_names, get_adapter

    assert {"waze", "wzdx", "amap", "hotline"} <= set(ADAPTERS) <= set(adapter_names())
    for name in ("waze", "wzdx", "amap", "hotline"):
        adapter = get_adapter(name)
        assert isinstance(adapter, Adapter) and adapter.name == name
        assert type(adapter).parse is not Adapter.parse
    with pytest.raises(KeyError, match="unknown adapter 'nope'"):
        get_adapter("nope")
