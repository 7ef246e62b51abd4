"""comms.drafts: the bulletin each template drafts from the live picture, and tags put
around an edited text (real Redis, the demo network)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from dashboard.auth import User
from dashboard.comms import drafts
from dashboard.comms.bulletin_store import BulletinError, BulletinStore
from dashboard.comms.bulletins import parse_text
from dashboard.model import RoadEvent
from dashboard.roads.network import get_network
from dashboard.timeutil import SHANGHAI

pytestmark = pytest.mark.topologies("single", "cluster")

NOW = datetime(2026, 10, 1, 9, 30, tzinfo=SHANGHAI).timestamp()


def build(r, keys, store, settings, template, source=None, control=None, hashtags="泰安路况",
          mentions=""):
    return drafts.build(r, keys, store, settings, template, source, hashtags, mentions,
                        control or {}, NOW)


def event(rid: str, kind: str = "incident", category: str = "accident") -> RoadEvent:
    return RoadEvent(id=rid, kind=kind, category=category, severity=2, source="t",
                     observed_at=datetime.fromtimestamp(NOW - 600, timezone.utc), lon=117.1,
                     lat=36.19, district="泰山区", road_names=("东岳大街",),
                     attrs={"place": "东岳大街与青年路路口"})


def test_traffic_report_from_live_congestion(r, keys, store, settings):
    net = get_network(settings.state_dir)
    segs = net.segments_of("东岳大街")[:3]
    store.set_congestion([(s, 3, 10.0, "amap", NOW) for s in segs], now=NOW)
    b = build(r, keys, store, settings, "traffic", mentions="泰安发布")
    assert b.kind == "traffic" and b.text.startswith("#泰安路况#【路况播报】截至10月1日9时30分")
    assert "东岳大街" in b.text and b.text.endswith(" @泰安发布")


def test_accident_needs_an_event_and_says_its_status(r, keys, store, settings):
    with pytest.raises(BulletinError, match="choose an incident"):
        build(r, keys, store, settings, "accident")
    with pytest.raises(BulletinError, match="choose an incident"):
        build(r, keys, store, settings, "accident", "t:nope")
    store.upsert_events([event("t:acc1")], now=NOW)
    b = build(r, keys, store, settings, "accident", "t:acc1")
    assert b.kind == "accident" and b.refs == ("t:acc1",) and "东岳大街" in b.text


def test_control_from_the_form_or_a_closure(r, keys, store, settings):
    with pytest.raises(BulletinError, match="fill in the place"):
        build(r, keys, store, settings, "control", drafts.FORM_SOURCE)
    form = {"place": "东岳大街(青年路—迎胜路)", "reason": "举办大型活动",
            "start": "2026-10-01 08:00", "end": "2026-10-01 18:00", "detour": "泰山大街"}
    b = build(r, keys, store, settings, "control", drafts.FORM_SOURCE, form)
    assert b.kind == "control"
    for part in ("东岳大街(青年路—迎胜路)", "举办大型活动", "泰山大街", "8时", "18时"):
        assert part in b.text, part
    with pytest.raises(BulletinError, match="bad time"):
        build(r, keys, store, settings, "control", drafts.FORM_SOURCE,
              {**form, "start": "tomorrow"})
    store.upsert_events([event("t:close1", "incident", "closure")], now=NOW)
    b = build(r, keys, store, settings, "control", "t:close1")
    assert b.refs == ("t:close1",) and "东岳大街" in b.place


def test_holiday_and_cleared_and_unknown_templates(r, keys, store, settings):
    with pytest.raises(BulletinError, match="choose a holiday"):
        build(r, keys, store, settings, "holiday", "nope")
    b = build(r, keys, store, settings, "holiday", "national-day|2026-10-01|2026-10-07")
    assert b.kind == "holiday"
    with pytest.raises(BulletinError, match="choose the earlier bulletin"):
        build(r, keys, store, settings, "cleared", "B000001")
    store.upsert_events([event("t:acc2")], now=NOW)
    earlier = build(r, keys, store, settings, "accident", "t:acc2")
    rec = BulletinStore(r, keys).create(earlier, User("li", "comms"), now=NOW)
    b = build(r, keys, store, settings, "cleared", rec.id)
    assert b.kind == "cleared" and "恢复" in b.text
    with pytest.raises(BulletinError, match="未知模板"):
        build(r, keys, store, settings, "poem")


def test_with_tags_replaces_hashtags_and_mentions():
    text = "#旧话题#【路况播报】东岳大街拥堵。 @旧账号"
    new = drafts.with_tags(text, "traffic", "泰安路况, 国庆出行", "泰安发布")
    assert new == "#泰安路况##国庆出行#【路况播报】东岳大街拥堵。 @泰安发布"
    assert parse_text(new).title == "路况播报"
    assert drafts.with_tags("只有正文", "free", "", "") == "只有正文"


def test_cleared_after_a_traffic_report_names_only_the_stretches_now_flowing(
        r, keys, store, settings):
    net = get_network(settings.state_dir)
    a, b = net.segments_of("东岳大街")[:3], net.segments_of("泰山大街")[:3]
    store.set_congestion([(s, 3, 10.0, "amap", NOW) for s in a + b], now=NOW)
    earlier = build(r, keys, store, settings, "traffic")
    rec = BulletinStore(r, keys).create(earlier, User("li", "comms"), now=NOW)
    with pytest.raises(BulletinError, match="no stretch of that report is flowing"):
        build(r, keys, store, settings, "cleared", rec.id)
    # 东岳大街 flows again, 泰山大街 is still congested: only 东岳大街 is named
    store.set_congestion([(s, 1, 45.0, "amap", NOW + 60) for s in a], now=NOW + 60)
    b_text = build(r, keys, store, settings, "cleared", rec.id).text
    assert "东岳大街" in b_text and "泰山大街" not in b_text and "恢复" in b_text


def test_a_cleared_notice_waits_for_dispatch_to_clear_the_incident(r, keys, store, settings):
    from dashboard.dispatch import incidents as I

    officer = User("li", "officer")
    store.upsert_events([event("t:acc3")], now=NOW)
    inc = I.create_from_event(r, keys, officer, "t:acc3", now=NOW).incident_id
    notice = build(r, keys, store, settings, "accident", "t:acc3")   # the event → its incident
    assert notice.refs[0] == inc and "交警正在赶赴现场处置" in notice.body
    rec = BulletinStore(r, keys).create(notice, User("zhou", "comms"), now=NOW)
    with pytest.raises(BulletinError, match="not cleared"):
        build(r, keys, store, settings, "cleared", rec.id)
    I.transition(r, keys, officer, inc, "cleared", now=NOW + 60)
    assert "现场已恢复通行" in build(r, keys, store, settings, "cleared", rec.id).text
    choices = drafts.accident_choices(r, keys, store, NOW + 120)
    assert choices[0]["value"] == inc and "已清除" in choices[0]["label"]
    assert all(c["value"] != "t:acc3" for c in choices)   # listed once, as its incident


def test_cleared_traffic_notice_says_why_a_stretch_is_left_out(r, keys, store, settings):
    """Only the stretches the fused congestion says flow now (level 1) are named; each one
    left out is in the notes with its reason (still congested, or no live reading)."""
    net = get_network(settings.state_dir)
    a, b = net.segments_of("东岳大街")[:3], net.segments_of("泰山大街")[:3]
    store.set_congestion([(s, 3, 10.0, "amap", NOW) for s in a + b], now=NOW)
    earlier = build(r, keys, store, settings, "traffic")
    rec = BulletinStore(r, keys).create(earlier, User("li", "comms"), now=NOW)
    store.set_congestion([(s, 1, 45.0, "amap", NOW + 60) for s in a], now=NOW + 60)
    store.set_congestion([(s, 4, 5.0, "amap", NOW + 60) for s in b], now=NOW + 60)
    bulletin, notes = drafts.build_with_notes(r, keys, store, settings, "cleared", rec.id,
                                              "泰安路况", "", {}, NOW + 60)
    assert "东岳大街" in bulletin.place and "泰山大街" not in bulletin.text
    assert len(notes) == 1 and "泰山大街" in notes[0] and "仍严重拥堵" in notes[0]
    # nothing flows: refused, naming what is still congested
    store.set_congestion([(s, 2, 20.0, "amap", NOW + 120) for s in a], now=NOW + 120)
    with pytest.raises(BulletinError, match="仍缓行.*仍严重拥堵|仍严重拥堵.*仍缓行"):
        drafts.build_with_notes(r, keys, store, settings, "cleared", rec.id, "", "", {},
                                NOW + 120)


def test_cleared_accident_notice_checks_the_place_is_flowing(r, keys, store, settings):
    """A follow-up to an accident notice: refused while the fused congestion says its
    segment is congested; a note when there is no live reading; fine when it flows."""
    net = get_network(settings.state_dir)
    seg = net.segments_of("东岳大街")[0]
    ev = RoadEvent(id="t:acc9", kind="incident", category="accident", severity=2, source="t",
                   observed_at=datetime.fromtimestamp(NOW - 600, timezone.utc), lon=117.1,
                   lat=36.19, segment_id=seg, road_names=("东岳大街",),
                   attrs={"place": "东岳大街与青年路路口"})
    store.upsert_events([ev], now=NOW)
    notice = build(r, keys, store, settings, "accident", "t:acc9")
    rec = BulletinStore(r, keys).create(notice, User("li", "comms"), now=NOW)
    _b, notes = drafts.build_with_notes(r, keys, store, settings, "cleared", rec.id, "", "",
                                        {}, NOW)
    assert len(notes) == 1 and "暂无实时路况" in notes[0]
    store.set_congestion([(seg, 3, 10.0, "amap", NOW)], now=NOW)
    with pytest.raises(BulletinError, match="仍拥堵"):
        drafts.build_with_notes(r, keys, store, settings, "cleared", rec.id, "", "", {}, NOW)
    store.set_congestion([(seg, 1, 40.0, "amap", NOW + 60)], now=NOW + 60)
    b, notes = drafts.build_with_notes(r, keys, store, settings, "cleared", rec.id, "", "",
                                       {}, NOW + 60)
    assert notes == [] and "现场已恢复通行" in b.text
