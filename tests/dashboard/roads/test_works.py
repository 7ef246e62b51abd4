"""roads.works: construction events of several feeds describing one works become one item;
works that start later are planned, not active."""
from datetime import datetime, timedelta, timezone

from dashboard.model import RoadEvent, validate
from dashboard.roads import works as Wk

T0 = datetime(2026, 10, 1, 2, 30, tzinfo=timezone.utc)
NOW = T0.timestamp()
ROAD = "东岳大街"


def works(rid, source, line=(), lon=117.100, lat=36.190, road=ROAD, starts=None, ends=None,
          **attrs):
    return validate(RoadEvent(
        id=rid, kind="construction", category="roadworks", severity=2, source=source,
        observed_at=T0 - timedelta(minutes=10), lon=lon, lat=lat, line=line,
        road_names=(road,) if road else (), starts_at=starts, ends_at=ends, attrs=attrs))


def test_waze_and_wzdx_describing_one_works_are_one_item_with_both_sources():
    wzdx = works("wzdx:1", "wzdx", line=((117.098, 36.190), (117.104, 36.190)),
                 starts=T0 - timedelta(days=1), ends=T0 + timedelta(days=5),
                 beginning_cross_street="青年路")
    waze = works("waze:a", "waze", lon=117.1012, lat=36.1905,       # ~55 m off the line
                 starts=T0 - timedelta(minutes=30))
    items = Wk.group_works([waze, wzdx], NOW)
    assert len(items) == 1
    item = items[0]
    assert item.id == "wzdx:1" and item.event_ids == ["wzdx:1", "waze:a"]   # the fuller first
    assert item.sources == [{"feed": "waze", "count": 1}, {"feed": "wzdx", "count": 1}]
    assert item.is_active and item.ends_at == T0 + timedelta(days=5)


def test_far_apart_other_road_or_other_time_stay_separate():
    a = works("wzdx:1", "wzdx", line=((117.098, 36.190), (117.104, 36.190)),
              starts=T0 - timedelta(days=1), ends=T0 + timedelta(days=5))
    far = works("waze:far", "waze", lon=117.1, lat=36.1925)            # ~280 m away
    other_road = works("waze:x", "waze", lon=117.1, lat=36.1903, road="青年路")
    earlier = works("waze:old", "waze", lon=117.1, lat=36.1903,
                    starts=T0 - timedelta(days=10), ends=T0 - timedelta(days=3))
    assert len(Wk.group_works([a, far, other_road, earlier], NOW)) == 4
    assert Wk.geometry_gap_m(a, far) > Wk.DEFAULT_NEAR_M
    assert not Wk.same_works(a, other_road) and not Wk.same_works(a, earlier)


def test_works_starting_in_two_days_are_planned_not_active():
    later = works("wzdx:2", "wzdx", line=((117.2, 36.2), (117.21, 36.2)),
                  starts=T0 + timedelta(days=2), ends=T0 + timedelta(days=9))
    now_on = works("wzdx:3", "wzdx", line=((117.0, 36.1), (117.01, 36.1)),
                   starts=T0 - timedelta(hours=1), ends=T0 + timedelta(days=1))
    items = Wk.group_works([later, now_on], NOW)
    assert [(w.id, w.status) for w in items] == [("wzdx:3", "active"), ("wzdx:2", "planned")]
    active, planned = Wk.split(items)
    assert [w.id for w in active] == ["wzdx:3"] and [w.id for w in planned] == ["wzdx:2"]
    # once a feed sees the planned works under way, the item is active
    seen = works("waze:b", "waze", lon=117.205, lat=36.2, starts=T0 - timedelta(minutes=5))
    grouped = {w.id: w for w in Wk.group_works([later, now_on, seen], NOW)}
    assert grouped["wzdx:2"].is_active and len(grouped["wzdx:2"].events) == 2


def test_a_chain_of_reports_along_one_works_is_one_item():
    evs = [works(f"waze:{i}", "waze", lon=117.100 + i * 0.0008, lat=36.19) for i in range(4)]
    assert len(Wk.group_works(evs, NOW)) == 1      # each ~70 m from the next
