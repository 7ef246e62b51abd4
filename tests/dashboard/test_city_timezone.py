"""The city's time zone and comms identity end to end: a hotline CSV's local times, the
dispatch queue and detail, the comms drafts and the comms page all follow the ``timezone``
setting and the city profile (Asia/Tokyo here: one hour from Asia/Shanghai, so every
hard-wired Shanghai shows), against the real Redis and the demo network."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import app
import callbacks.comms as CB
import callbacks.dispatch as CD
from dashboard.auth import User
from dashboard.comms import drafts
from dashboard.comms import channels as C
from dashboard.dispatch import incidents as I
from dashboard.roads.network import get_network
from dashboard.services import Services
from dashboard.settings import load_settings
from dashboard.storage.keys import Keys
from dashboard.storage.store import Store
from feeds.hotline import HotlineAdapter
from feeds.pipeline import ingest_payload, make_context
from layouts import ids

TOKYO, SHANGHAI = ZoneInfo("Asia/Tokyo"), ZoneInfo("Asia/Shanghai")
OFFICER = User("li", "officer")
COMMS = User("wu", "comms")


def cn(dt: datetime) -> str:
    """How a bulletin writes a local time: 10月1日3时24分, on the hour 10月1日3时."""
    return f"{dt.month}月{dt.day}日{dt.hour}时" + (f"{dt.minute}分" if dt.minute else "")


def find(component, cid):
    if getattr(component, "id", None) == cid:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, str):
            hit = find(child, cid)
            if hit is not None:
                return hit
    return None


@pytest.fixture
def tokyo(settings):
    s = replace(settings, timezone="Asia/Tokyo")
    svc = Services.open(s, start_embedded=False)
    yield svc
    svc.close()


def test_hotline_dispatch_and_drafts_use_the_city_zone(tokyo, store):
    s = tokyo.settings
    now = time.time()
    t = int(now) // 60 * 60 - 1800             # a whole minute, half an hour ago
    called = datetime.fromtimestamp(t, TOKYO)
    assert f"{called:%H:%M}" != f"{datetime.fromtimestamp(t, SHANGHAI):%H:%M}"
    csv = ("工单号,来电时间,来电号码,事件类型,事发地点,诉求内容\n"
           f"TZ1,{called:%Y-%m-%d %H:%M},13812345678,交通事故,东岳大街与青年路路口,两车追尾\n")
    net = get_network(s.state_dir)
    summary = ingest_payload(HotlineAdapter(), csv.encode(), make_context(net, s, "hotline"),
                             store, feed="hotline")
    assert summary.accepted == 1 and summary.incidents_created == 1, summary
    ev = store.active_events("incident")[0]
    assert ev.observed_at.timestamp() == t     # read as Tokyo time, not Shanghai's

    # the dispatch queue and detail show the call at its Tokyo time
    rows = CD.refresh(tokyo, OFFICER, {}, now=now)["rows"]
    assert [r["reported"] for r in rows] == [f"{called:%H:%M}"]
    inc = I.open_incidents(tokyo.r, tokyo.keys)[0]
    detail = I.detail(tokyo.r, tokyo.keys, OFFICER, inc.id, tz=tokyo.zone)
    assert detail["times"]["reported_at"] == f"{called:%H:%M}"
    assert detail["reports"][0]["at"] == f"{called:%m-%d %H:%M}"

    # comms: "截至…" and the accident's time in Tokyo time
    b = drafts.build(tokyo.r, tokyo.keys, store, s, "traffic", None, s.hashtags, "", {}, now)
    assert f"截至{cn(datetime.fromtimestamp(now, TOKYO))}" in b.text
    assert f"截至{cn(datetime.fromtimestamp(now, SHANGHAI))}" not in b.text
    acc = drafts.build(tokyo.r, tokyo.keys, store, s, "accident", inc.id, s.hashtags, "", {},
                       now)
    assert acc.body.startswith(f"{cn(called)}，")
    labels = CB.source_options("accident", tokyo, COMMS, now=now)["options"]
    assert labels and f" {called:%H:%M} " in labels[0]["label"]


def test_a_control_form_time_is_read_in_the_city_zone(tokyo, store):
    form = {"place": "东岳大街(青年路—迎胜路)", "start": "2026-10-01 08:00",
            "end": "2026-10-01 18:00"}
    b = drafts.build(tokyo.r, tokyo.keys, store, tokyo.settings, "control",
                     drafts.FORM_SOURCE, "", "", form, time.time())
    assert "10月1日8时至18时" in b.body
    assert datetime.fromisoformat(b.event_at) == datetime(2026, 10, 1, 8, tzinfo=TOKYO)


def test_comms_identity_is_the_city_profile(r, keys, settings):
    """Another city's topics, signature and issuer; no 泰安 anywhere in what it drafts."""
    s = load_settings(env={}, city="jinan", city_name="济南", redis_url=settings.redis_url,
                      key_prefix=settings.key_prefix, state_dir=str(settings.state_dir))
    jk = Keys(s.key_prefix, s.city)
    inputs = app.page_inputs("comms", COMMS, Services(s, None))
    assert inputs["hashtags"] == "济南路况"
    page = app.pages.comms(**inputs)
    assert find(page, ids.COMMS_HASHTAGS).value == "济南路况"
    assert "泰安" not in find(page, ids.COMMS_MENTIONS).placeholder
    b = drafts.build(r, jk, Store(r, jk), s, "holiday", "national-day|2026-10-01|2026-10-07",
                     s.hashtags, "", {}, time.time())
    assert b.text.startswith("#济南路况#") and "济南交警提示" in b.body and "泰安" not in b.text
    sms = CB.previews_view(b.text, b.to_dict(), COMMS, s.sms_signature)["previews"]["sms"]
    assert sms.startswith("【济南交警】") and "泰安" not in sms
    assert C.render(b, "sms", sms_signature=s.sms_signature).text.startswith("【济南交警】")
