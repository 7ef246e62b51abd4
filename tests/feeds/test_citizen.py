"""A QR-form report through the real pipeline into the real Redis: the event (source qr,
masked text), the private phone and plate, a resend is one report, fusion into incidents, a
place outside the city quarantined with its phone and plate masked, the move-car task."""
from datetime import datetime, timezone

import pytest

from dashboard.citizen import movecar
from dashboard.citizen.report import Report
from dashboard.citizen.stickers import Place
from dashboard.dispatch import incidents as I
from dashboard.services import Services
from feeds.citizen import CitizenAdapter, submit

PHONE, PLATE = "13812345678", "鲁J12345"
HERE = Place("intersection", 117.063812, 36.194477, ("东岳大街", "迎胜路"))


@pytest.fixture
def svc(settings):
    s = Services.open(settings, start_embedded=False)
    yield s
    s.close()


OPENED = datetime.now(timezone.utc).timestamp() - 90


def rep(ref="1001-AAAAAAAA", category="jam", text="", phone="", plate=""):
    return Report(ref=ref, sticker_id="x" * 30, category=category, text=text, phone=phone,
                  plate=plate, opened_at=OPENED)


def test_a_report_is_a_masked_qr_event_with_its_private_data_apart(svc):
    r = submit(svc, rep(category="flooding", text=f"积水很深，我电话{PHONE}", phone=PHONE), HERE)
    assert r.outcome == "accepted" and r.event_id == "qr:1001-AAAAAAAA" and not r.task_id
    ev = svc.store.get_event(r.event_id)
    assert (ev.source, ev.kind, ev.category, ev.severity) == ("qr", "report", "flooding", 2)
    assert ev.road_names[:2] == ("东岳大街", "迎胜路") and ev.segment_id and ev.district
    assert ev.observed_at.timestamp() == pytest.approx(OPENED)
    assert ev.attrs["place"] == "东岳大街与迎胜路路口" and ev.attrs["located_by"] == "intersection"
    assert PHONE not in ev.text and ev.text.startswith("积水：")
    private = svc.store.get_private(r.event_id)
    assert private["phone"] == PHONE and PHONE in private["raw_text"]
    health = svc.store.r.hgetall(svc.keys.feed("qr"))
    assert health["accepted"] == "1"
    # reports come now and then: never "stale" on the wall's feed strip, even a day later
    from dashboard.live.wall import feed_freshness
    (qr,) = [f for f in feed_freshness({"qr": health}, OPENED + 86400) if f["name"] == "qr"]
    assert health["mode"] == "drop" and qr["stale"] is False
    # the same form sent again: one report
    again = submit(svc, rep(category="flooding", text=f"积水很深，我电话{PHONE}", phone=PHONE),
                   HERE)
    assert again.outcome == "duplicate" and len(svc.store.active_ids("report")) == 1


def test_an_accident_report_makes_an_incident(svc):
    r = submit(svc, rep(ref="1001-BBBBBBBB", category="accident", text="两车追尾"), HERE)
    assert r.summary["incidents_created"] == 1
    inc = I.open_incidents(svc.r, svc.keys)
    assert len(inc) == 1 and "qr:1001-BBBBBBBB" in inc[0].reports


def test_a_move_car_report_opens_a_task_once(svc):
    r = submit(svc, rep(ref="1001-CCCCCCCC", category="parking", plate=PLATE, phone=PHONE),
               HERE)
    assert r.task_id == "MC-1"
    ev = svc.store.get_event(r.event_id)
    assert ev.category == "illegal_parking" and PLATE not in ev.text
    assert svc.store.get_private(r.event_id)["plate"] == PLATE
    assert submit(svc, rep(ref="1001-CCCCCCCC", category="parking", plate=PLATE,
                           phone=PHONE), HERE).task_id == "MC-1"
    assert movecar.active_count(svc.r, svc.keys) == 1
    assert not I.open_incidents(svc.r, svc.keys)        # illegal parking makes no incident


def test_a_place_outside_the_city_is_quarantined_masked(svc):
    far = Place("intersection", 121.47, 31.23, ("南京路", "西藏路"))
    r = submit(svc, rep(ref="1001-DDDDDDDD", category="parking", text=f"call {PHONE}",
                        phone=PHONE, plate=PLATE), far)
    assert r.outcome == "quarantined" and not r.task_id
    assert svc.store.get_event(r.event_id) is None
    entries = svc.r.xrange(svc.keys.quarantine("qr"))
    assert len(entries) == 1
    body = str(entries[0][1])
    assert "outside the city bounds" in body
    assert PHONE not in body and PLATE not in body and "138****5678" in body


def test_the_adapter_refuses_a_broken_record():
    from feeds.base import ParseContext, PayloadError

    ctx = ParseContext(network=None, bbox=(116, 35, 118, 37), now=datetime.now(timezone.utc))
    res = CitizenAdapter().parse(b'{"ref": "x1", "category": "nope", "phone": "13812345678"}',
                                 ctx)
    assert not res.events and len(res.rejected) == 1
    assert "13812345678" not in str(res.rejected[0].raw)
    with pytest.raises(PayloadError):
        CitizenAdapter().parse(b"not json", ctx)
