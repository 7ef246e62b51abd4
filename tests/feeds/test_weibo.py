"""Weibo adapter: parsing, locating, masking, the shared samples, merging into clusters
through the real store, and hostile statuses."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from dashboard.roads.geo import haversine_m
from dashboard.masking import contains_pii
from dashboard.model import validate
from feeds.base import ParseResult, PayloadError
from feeds.pipeline import ingest_payload
from feeds.weibo import WeiboAdapter, parse_weibo_date, plain_text
from tests.feeds import NOW, SAMPLES, fixture_bytes, make_ctx, taian_network

CST = timezone(timedelta(hours=8))
PII = {"phone", "plate", "id_number"}


def weibo_date(dt: datetime) -> str:
    d = dt.astimezone(CST)
    return d.strftime("%a %b %d %H:%M:%S +0800 %Y")


def status(idstr: str, text: str, minutes: float, **extra) -> dict:
    """A status posted ``minutes`` after NOW - 2 h (so all tests stay within max_age)."""
    at = NOW - timedelta(hours=2) + timedelta(minutes=minutes)
    out = {"created_at": weibo_date(at), "idstr": idstr, "id": int(idstr), "text": text,
           "reposts_count": 1, "comments_count": 2, "attitudes_count": 3,
           "user": {"screen_name": f"网友{idstr[-3:]}", "followers_count": 10}}
    out.update(extra)
    return out


def payload(*statuses: dict) -> bytes:
    return json.dumps({"statuses": list(statuses)}, ensure_ascii=False).encode()


@pytest.fixture
def ctx():
    return make_ctx("weibo")


@pytest.fixture
def adapter():
    return WeiboAdapter()


# -- parsing ---------------------------------------------------------------------------
def test_parse_mentions_fixture(adapter, ctx):
    result = adapter.parse(fixture_bytes("weibo_mentions_taian.json"), ctx)
    by_id = {e.id: e for e in result.events}
    assert sorted(by_id) == [f"weibo:50123456789012345{n}" for n in
                             (67, 68, 69, 70, 71, 73)]
    for ev in result.events:
        validate(ev, ctx.bbox)
        assert ev.kind == "report" and ev.source == "weibo"
    first = by_id["weibo:5012345678901234567"]   # idstr kept exactly (beyond float precision)
    assert first.category == "jam"
    assert set(first.road_names) == {"长城路", "泰玻大街"}
    assert (first.lon, first.lat) == taian_network().intersection("长城路", "泰玻大街")
    assert first.observed_at == datetime(2026, 10, 1, 16, 5, 12, tzinfo=CST)
    assert first.attrs["reposts"] == 3 and first.attrs["comments"] == 5
    assert first.attrs["likes"] == 12 and first.attrs["mention"] is True
    assert first.attrs["precision"] == "intersection"
    assert first.attrs["screen_name"] == "泰**"   # masked: the name is in the private hash
    assert first.segment_id and first.district == "岱岳区"

    second = by_id["weibo:5012345678901234568"]
    assert "13812345678" not in second.text and "138****5678" in second.text
    assert "张三" not in second.text
    assert result.private[second.id]["raw_text"].endswith("电话13812345678")
    assert result.private[second.id]["screen_name"] == "岱下人家"

    third = by_id["weibo:5012345678901234569"]
    assert "鲁J12345" not in third.text and "鲁J·1***5" in third.text
    assert third.attrs["place_key"] == first.attrs["place_key"] == second.attrs["place_key"]

    stretch = by_id["weibo:5012345678901234570"]
    assert stretch.category == "accident" and stretch.attrs["precision"] == "stretch"
    assert stretch.road_names[0] == "东岳大街" and "<a" not in stretch.text

    landmark = by_id["weibo:5012345678901234571"]
    assert landmark.attrs["landmark"] == "岱庙" and landmark.attrs["direction"] == "东向西"
    assert landmark.category == "illegal_parking"

    geo = by_id["weibo:5012345678901234573"]   # GCJ-02 [lat, lon] → WGS-84 on 灵山大街
    assert geo.attrs["precision"] == "geo" and geo.category == "flooding"
    assert geo.road_names[0] == "灵山大街"
    seg = taian_network().segment("lingshan-dajie-021")
    assert haversine_m(geo.lon, geo.lat, *seg["coords"][1]) < 2

    reasons = sorted(r.reason for r in result.rejected)
    assert len(reasons) == 4
    assert reasons.count("no location found in text") == 2   # vague text; a retweet
    assert any(r.startswith("unparsable created_at") for r in reasons)
    assert any("floating-point" in r for r in reasons)
    for rej in result.rejected:
        assert rej.raw and json.loads(rej.raw)  # the raw status is kept


def test_parse_bare_list_and_single_status(adapter, ctx):
    result = adapter.parse(fixture_bytes("weibo_search_list.json"), ctx)
    cats = {e.id: (e.category, e.attrs["precision"]) for e in result.events}
    assert cats == {"weibo:5012345678901234601": ("flooding", "stretch"),
                    "weibo:5012345678901234602": ("overload", "road")}
    ev = next(e for e in result.events if e.category == "overload")
    assert ev.attrs["reposts"] == 40 and "鲁J·B***8" in ev.text and not contains_pii(ev.text)
    stringy = next(e for e in result.events if e.category == "flooding")
    assert stringy.attrs["reposts"] == 15  # "15" as a string

    single = adapter.parse(fixture_bytes("weibo_status_single.json"), ctx)
    assert [e.id for e in single.events] == ["weibo:5012345678901234701"]  # idstr, not id
    ev = single.events[0]
    assert "<" not in ev.text and ">" not in ev.text and "alert(1)</" not in ev.text
    assert not set(contains_pii(ev.text)) & PII
    assert not set(contains_pii(ev.attrs["screen_name"])) & PII
    assert "<b>" not in ev.attrs["screen_name"]
    assert ev.category == "accident" and set(ev.road_names) == {"青年路", "东岳大街"}


def test_weibo_dates():
    assert parse_weibo_date("Tue May 31 17:46:55 +0800 2011") == datetime(
        2011, 5, 31, 17, 46, 55, tzinfo=CST)
    assert parse_weibo_date("Thu Oct 01 08:00:00 -0500 2026").utcoffset() == timedelta(hours=-5)
    for bad in ("2026-10-01T08:00:00Z", "Thu Oct 41 08:00:00 +0800 2026", "", None, 1234567,
                "Thu Foo 01 08:00:00 +0800 2026", "Thu Oct 01 08:00:00 +0800 1900"):
        with pytest.raises(ValueError):
            parse_weibo_date(bad)


def test_plain_text_never_keeps_html():
    assert plain_text("<a href='javascript:alert(1)'>岱庙</a>&amp;红门") == "岱庙&红门"
    assert plain_text("a<script>evil()</script>b") == "ab"
    assert plain_text("&lt;script&gt;x()&lt;/script&gt;ok") == "ok"


def test_rejections_keep_reasons(adapter, ctx):
    future = status("900001", "长城路泰玻大街路口堵车", 60 * 5)   # 3 h after NOW
    old = status("900002", "长城路泰玻大街路口堵车", -60 * 30)    # 32 h before NOW
    result = adapter.parse(payload(future, old, "not a status", {"idstr": "900004"},
                                   status("900005", 42, 0), status("900006", "   ", 0)), ctx)
    assert result.events == []
    reasons = [r.reason for r in result.rejected]
    assert "in the future" in reasons[0]
    assert "older than" in reasons[1]
    assert "not an object" in reasons[2]
    assert reasons[3] == "created_at missing"
    assert reasons[4] == "text is not a string"
    assert reasons[5] == "text is empty"


def test_payload_errors(adapter, ctx):
    for bad in (b"", b"not json", b"\xff\xfe\x00", b"42", b'"x"', b'{"statuses": 3}',
                b'{"error": "invalid_access_token", "error_code": 21332}', b'{"foo": 1}'):
        with pytest.raises(PayloadError):
            adapter.parse(bad, ctx)


SAMPLE_FILES = sorted((SAMPLES / "weibo").glob("*.json")) if (SAMPLES / "weibo").is_dir() else []


@pytest.mark.skipif(not SAMPLE_FILES, reason="../shared/samples/weibo is not present")
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_shared_samples_conform(path, adapter, ctx):
    """The 2011 API examples parse; their "你好" texts place nothing in Tai'an."""
    result = adapter.parse(path.read_bytes(), ctx)
    assert result.events == []
    assert result.rejected, path.name
    for rej in result.rejected:
        assert rej.reason == "no location found in text", (path.name, rej.reason)
        assert rej.ref.startswith("weibo:") and rej.raw


# -- merging through the real store ---------------------------------------------------
CROSS = "长城路泰玻大街路口发生交通拥堵 @泰山交警"


def clusters(store):
    return [e for e in store.active_events("report") if e.id.startswith("weibo:cluster:")]


def test_three_reports_make_one_cluster(adapter, ctx, store):
    s1 = status("800001", CROSS, 0)
    s2 = status("800002", "@泰山交警 长城路与泰玻大街交叉口堵死了 电话13812345678", 10,
                reposts_count=5)
    s3 = status("800003", "泰玻大街长城路口堵车 鲁J12345加塞", 25)
    summary = ingest_payload(adapter, payload(s1, s2, s3), ctx, store)
    assert summary.quarantined == 0
    [cl] = clusters(store)
    assert cl.id == "weibo:cluster:" + cl.attrs["place_key"] + ":jam:800001"
    assert cl.attrs["count"] == 3
    assert cl.attrs["report_ids"] == ["weibo:800001", "weibo:800002", "weibo:800003"]
    assert cl.attrs["reposts"] == 1 + 5 + 1 and cl.attrs["comments"] == 6
    assert cl.attrs["likes"] == 9
    assert cl.starts_at == parse_weibo_date(s1["created_at"])
    assert cl.observed_at == parse_weibo_date(s3["created_at"])
    assert cl.attrs["first_seen"] < cl.attrs["last_seen"]
    assert cl.severity >= 3  # three reports of one jam (one of them "堵死了")
    assert store.get_event("weibo:800001") is None  # only the cluster is written
    assert not set(contains_pii(cl.text)) & PII
    private = store.get_private(cl.id)
    raws = json.loads(private["reports"])
    assert [r["id"] for r in raws] == cl.attrs["report_ids"]
    assert "13812345678" in raws[1]["raw_text"] and "鲁J12345" in raws[2]["raw_text"]
    assert private["raw_text"] == s3["text"]

    # the same statuses again (next poll): nothing changes
    version = store.version()
    again = ingest_payload(adapter, payload(s3, s1, s2), ctx, store)
    assert again.duplicates == 1 and again.new == 0 and again.updated == 0
    assert store.version() == version
    [same] = clusters(store)
    assert same.attrs["count"] == 3 and same.to_dict() == cl.to_dict()

    # a 4th report 40 min after the first but 15 min after the last joins the cluster
    s4 = status("800004", "长城路泰玻大街路口还是堵", 40)
    ingest_payload(adapter, payload(s4), ctx, store)
    [cl4] = clusters(store)
    assert cl4.id == cl.id and cl4.attrs["count"] == 4
    assert json.loads(store.get_private(cl.id)["reports"])[-1]["id"] == "weibo:800004"

    # the 4th again plus a repost-count change: count stays, engagement follows
    s4b = dict(s4, reposts_count=50)
    ingest_payload(adapter, payload(s4b, s1), ctx, store)
    [cl4b] = clusters(store)
    assert cl4b.attrs["count"] == 4 and cl4b.attrs["reposts"] == 1 + 5 + 1 + 50

    # 31 min after the last report: a new cluster at the same place
    s5 = status("800005", "长城路泰玻大街路口又堵了", 40 + 31)
    ingest_payload(adapter, payload(s5), ctx, store)
    ids = {c.id: c.attrs["count"] for c in clusters(store)}
    assert len(ids) == 2 and ids[cl.id] == 4
    [new_id] = set(ids) - {cl.id}
    assert new_id.endswith(":jam:800005") and ids[new_id] == 1


def test_different_category_or_place_is_another_cluster(adapter, ctx, store):
    ingest_payload(adapter, payload(
        status("810001", CROSS, 0),
        status("810002", "长城路泰玻大街路口追尾了", 5),          # same place, accident
        status("810003", "龙潭路与灵山大街交叉口拥堵", 6),          # another place, jam
        status("810004", "东岳大街(迎胜路—青年路)拥堵", 7),
        status("810005", "东岳大街从青年路到迎胜路都堵", 8),        # the same stretch
    ), ctx, store)
    found = {(c.attrs["place_key"], c.category): c.attrs["count"] for c in clusters(store)}
    assert sorted(found.values()) == [1, 1, 1, 2]
    assert len({k for k, _c in found}) == 3


def test_merge_within_one_payload_out_of_order(adapter, ctx, store):
    # the API returns newest first; the cluster is named after the earliest report
    ingest_payload(adapter, payload(status("820003", CROSS, 20), status("820001", CROSS, 0),
                                    status("820002", CROSS, 10)), ctx, store)
    [cl] = clusters(store)
    assert cl.id.endswith(":jam:820001") and cl.attrs["count"] == 3


def test_unlocatable_reports_are_quarantined_with_raw(adapter, ctx, store):
    s = status("830001", "今天路上好堵啊 电话13812345678", 0)
    summary = ingest_payload(adapter, payload(s), ctx, store)
    assert summary.quarantined == 1 and summary.accepted == 0
    [q] = store.quarantined("weibo")
    assert q["reason"] == "no location found in text"
    assert json.loads(q["raw"])["idstr"] == "830001"


def test_a_bad_post_sent_on_every_poll_is_quarantined_once(adapter, ctx, store):
    """Issue 14: the same unlocatable posts came back on every poll and were quarantined
    again each time (610 quarantined vs 122 accepted)."""
    bad = payload(status("830101", "今天路上好堵啊", 0), status("830102", "堵死了", 1))
    first = ingest_payload(adapter, ctx=ctx, store=store, payload=bad)
    assert first.quarantined == 2 and first.quarantine_repeats == 0
    for _ in range(3):
        again = ingest_payload(adapter, bad, ctx, store)
        assert again.quarantined == 0 and again.quarantine_repeats == 2
    assert len(store.quarantined("weibo", 50)) == 2          # the first entries stay
    health = store.feed_health("weibo")["weibo"]
    assert health["quarantined"] == "2" and int(health["duplicates"]) >= 6
    # another reason for the same bytes is another record to look at
    assert store.quarantine_once("weibo", "other reason", json.dumps(status("830101", "x", 0)))


def test_window_is_a_class_attribute(ctx, store):
    class Short(WeiboAdapter):
        window_s = 300

    a = Short()
    ingest_payload(a, payload(status("840001", CROSS, 0), status("840002", CROSS, 6)), ctx,
                   store)
    assert sorted(c.attrs["count"] for c in clusters(store)) == [1, 1]


# -- hostile input ---------------------------------------------------------------------
HOSTILE = st.sampled_from([
    "<script>alert(1)</script>长城路泰玻大街路口", "javascript:alert(1)", "<img src=x onerror=alert(1)>",
    "长城路泰玻大街路口" + "堵" * 10_000, "x" * 10_000, "电话１３８１２３４５６７８ 龙潭路", "\x00\x01\u202e",
    "岱庙 鲁J12345", "", "NaN", "@泰山交警" * 300,
])
ANY = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), HOSTILE),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10)
GOOD_DATE = weibo_date(NOW - timedelta(minutes=30))


@st.composite
def hostile_status(draw):
    s = {"created_at": draw(st.one_of(st.just(GOOD_DATE), ANY)),
         "idstr": draw(st.one_of(st.just("860001"), st.text(max_size=25), ANY)),
         "id": draw(st.one_of(st.integers(min_value=-5, max_value=2**64), st.floats(), ANY)),
         "text": draw(st.one_of(HOSTILE, ANY)),
         "user": draw(st.one_of(st.fixed_dictionaries(
             {"screen_name": st.one_of(HOSTILE, ANY), "followers_count": ANY}), ANY)),
         "reposts_count": draw(ANY), "comments_count": draw(ANY), "attitudes_count": draw(ANY),
         "geo": draw(st.one_of(st.none(), ANY, st.fixed_dictionaries(
             {"type": st.just("Point"), "coordinates": st.lists(st.one_of(
                 st.floats(), st.sampled_from([36.19, 117.12, 0.0, 1e308])), max_size=3)})))}
    keys = draw(st.sets(st.sampled_from(sorted(s)), max_size=3))
    for k in keys:
        s.pop(k)
    return s


@given(st.one_of(st.lists(hostile_status(), max_size=4).map(lambda x: {"statuses": x}),
                 st.lists(hostile_status(), max_size=3), hostile_status(), ANY))
def test_hostile_statuses(doc):
    ctx = make_ctx("weibo")
    adapter = WeiboAdapter()
    try:
        raw = json.dumps(doc, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return
    try:
        result = adapter.parse(raw, ctx)
    except PayloadError as exc:
        assert str(exc)
        return
    assert isinstance(result, ParseResult)
    for ev in result.events:
        validate(ev, ctx.bbox)
        assert not re.search(r"<[^<>]*>", ev.text)  # no tag survives
        assert not set(contains_pii(ev.text)) & PII
        assert not set(contains_pii(ev.attrs["screen_name"])) & PII
        json.dumps(ev.attrs, allow_nan=False)
    for rej in result.rejected:
        assert rej.reason and isinstance(rej.raw, (bytes, str))


def test_hostile_text_is_bounded(adapter, ctx):
    s = status("870001", "<b>长城路泰玻大街路口</b>" + "堵" * 20_000 + "13812345678", 0)
    [ev] = adapter.parse(payload(s), ctx).events
    assert len(ev.text) <= 1000 and "<b>" not in ev.text
    validate(ev, ctx.bbox)
