from datetime import datetime, timedelta, timezone

import pytest

from dashboard.model import EventError, RoadEvent, point_problem, validate

BBOX = (116.8, 35.9, 117.45, 36.45)
T0 = datetime(2026, 10, 1, 8, 30, tzinfo=timezone(timedelta(hours=8)))


def ev(**kw) -> RoadEvent:
    base = dict(id="waze:1", kind="incident", category="accident", severity=3, source="waze",
                observed_at=T0, lon=117.09, lat=36.19)
    base.update(kw)
    return RoadEvent(**base)


def reasons(**kw) -> str:
    with pytest.raises(EventError) as exc:
        validate(ev(**kw), BBOX)
    return str(exc.value)


def test_valid_event_is_normalised_to_utc():
    out = validate(ev(), BBOX)
    assert out.observed_at.utcoffset() == timedelta(0)
    assert out.observed_at == T0


def test_swapped_lat_lon_is_named():
    assert "lat/lon swapped" in reasons(lon=36.19, lat=117.09)


def test_swapped_without_bbox_is_named():
    with pytest.raises(EventError, match="swapped"):
        validate(ev(lon=36.19, lat=117.09))


def test_out_of_range_and_nan():
    assert "out of range" in reasons(lon=500.0, lat=36.1)
    assert "not finite" in reasons(lon=float("nan"))
    assert "outside the city bounds" in reasons(lon=121.47, lat=31.23)


def test_point_problem_is_the_one_point_check_for_events_and_feeds():
    """Feed adapters check upstream points with the same function ``validate`` uses."""
    assert point_problem(117.09, 36.19, BBOX, "x") is None
    assert point_problem(36.19, 117.09, BBOX, "location") == \
        "location: lat/lon swapped (lon=36.19, lat=117.09)"
    assert point_problem(500.0, 36.1, BBOX, "p") == "p: coordinates out of range (lon=500.0, lat=36.1)"
    assert point_problem(121.47, 31.23, BBOX, "p") == \
        "p: outside the city bounds (lon=121.47, lat=31.23)"
    assert point_problem(121.47, 31.23, None, "p") is None
    assert point_problem(36.19, 117.09, None, "p") == "p: lat/lon swapped (lon=36.19, lat=117.09)"
    assert point_problem(200.0, 100.0, None, "p") == \
        "p: coordinates out of range (lon=200.0, lat=100.0)"
    assert reasons(lon=36.19, lat=117.09).count("lat/lon swapped") == 1


def test_naive_datetime_unknown_kind_long_text():
    assert "naive" in reasons(observed_at=datetime(2026, 10, 1, 8, 30))
    assert "unknown kind" in reasons(kind="party")
    assert "text too long" in reasons(text="堵" * 2001)


def test_several_problems_are_all_reported():
    with pytest.raises(EventError) as exc:
        validate(ev(kind="x", severity=9, lon=float("inf")), BBOX)
    assert len(exc.value.reasons) == 3


def test_hash_round_trip():
    e = validate(ev(line=((117.0, 36.1), (117.01, 36.11)), road_names=("东岳大街",),
                    attrs={"speed": 12.5}, text="<b>hi</b>"), BBOX)
    assert RoadEvent.from_hash(e.to_hash()) == e
