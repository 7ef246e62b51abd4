"""Drafts in Redis: drafted → approved by a second account → published; audit; rev checks;
citizen reports awaiting a reply."""
import json
from datetime import datetime

import pytest

from dashboard import audit
from dashboard.auth import User
from dashboard.comms.bulletin_store import (BulletinError, BulletinStore, Conflict, NotFound,
                                      awaiting_reply, mark_replied, response_times)
from dashboard.comms.bulletins import traffic_report
from dashboard.roads.stretches import Stretch
from dashboard.model import RoadEvent
from dashboard.timeutil import SHANGHAI

pytestmark = pytest.mark.topologies("single", "cluster")

NOW = datetime(2026, 10, 1, 9, 30, tzinfo=SHANGHAI)
T = NOW.timestamp()
LI = User("li", "comms")
WANG = User("wang", "comms")
BOSS = User("boss", "admin")


@pytest.fixture
def bs(r, keys) -> BulletinStore:
    return BulletinStore(r, keys)


@pytest.fixture
def draft(bs):
    return bs.create(traffic_report([Stretch("东岳大街", 3, "青年路", "迎胜路")], NOW), LI, now=T)


def test_draft_approve_publish(bs, r, keys, draft):
    assert (draft.id, draft.state, draft.rev, draft.author) == ("B000001", "drafted", 1, "li")
    assert draft.text.startswith("#泰安路况#【路况播报】截至10月1日9时30分，东岳大街(青年路—迎胜路)拥堵")
    ok = bs.approve(draft.id, WANG, expected_rev=1, now=T + 60)
    assert (ok.state, ok.approver, ok.rev) == ("approved", "wang", 2)
    pub = bs.publish(draft.id, LI, expected_rev=2, channel="weibo", post_id="4179082571460369",
                     at=T + 120, now=T + 130)
    assert pub.state == "published" and pub.rev == 3
    assert pub.publications == [{"channel": "weibo", "post_id": "4179082571460369",
                                 "at": round(T + 120, 3), "by": "li"}]
    again = bs.publish(draft.id, WANG, expected_rev=3, channel="wechat", post_id="wx-1",
                       now=T + 200)
    assert [p["channel"] for p in again.publications] == ["weibo", "wechat"]
    entries = audit.read(r, keys, target="bulletin:B000001", newest_first=False)
    assert [(e["action"], e["who"], e["role"]) for e in entries] == [
        ("bulletin.draft", "li", "comms"), ("bulletin.approve", "wang", "comms"),
        ("bulletin.publish", "li", "comms"), ("bulletin.publish", "wang", "comms")]
    assert json.loads(entries[1]["before"]) == {"approver": "", "state": "drafted"}
    assert json.loads(entries[1]["after"]) == {"approver": "wang", "state": "approved"}
    assert entries[0]["at"] == f"{T:.3f}" and entries[1]["rev"] == "2"
    assert [rec.id for rec in bs.recent()] == ["B000001"]


def test_the_author_cannot_approve_their_own(bs, draft):
    with pytest.raises(BulletinError, match="cannot approve their own"):
        bs.approve(draft.id, LI, expected_rev=1)
    with pytest.raises(BulletinError, match="cannot approve their own"):
        bs.approve(draft.id, User("li", "admin"), expected_rev=1)   # same person, any role
    assert bs.get(draft.id).state == "drafted"


def test_an_editor_cannot_approve_and_an_edit_resets_approval(bs, draft):
    approved = bs.approve(draft.id, WANG, 1)
    edited = bs.edit(draft.id, draft.text + "（更新）", WANG, expected_rev=approved.rev)
    assert (edited.state, edited.approver, edited.editors) == ("drafted", "", ["wang"])
    with pytest.raises(BulletinError, match="cannot approve their own"):
        bs.approve(draft.id, WANG, edited.rev)        # wang wrote part of it now
    with pytest.raises(BulletinError, match="cannot approve their own"):
        bs.approve(draft.id, LI, edited.rev)
    final = bs.approve(draft.id, BOSS, edited.rev)
    assert final.state == "approved" and final.text.endswith("（更新）")


def test_stale_rev_is_a_conflict_and_changes_nothing(bs, r, keys, draft):
    bs.edit(draft.id, "【路况播报】改过了", LI, expected_rev=1)
    before = audit.length(r, keys)
    with pytest.raises(Conflict, match="rev 1 → 2"):
        bs.approve(draft.id, WANG, expected_rev=1)
    assert bs.get(draft.id).state == "drafted" and audit.length(r, keys) == before


def test_roles_without_the_permission_are_refused(bs, draft):
    for role in ("wall", "aux", "officer"):
        with pytest.raises(BulletinError, match="lacks"):
            bs.create(traffic_report([], NOW), User("x", role))
        with pytest.raises(BulletinError, match="lacks approve_bulletin"):
            bs.approve(draft.id, User("x", role), 1)
    with pytest.raises(BulletinError, match="lacks"):
        bs.publish(draft.id, User("x", "aux"), 1, "weibo", "1")


@pytest.mark.parametrize("state_steps, channel, post_id, message", [
    (0, "weibo", "1", "approve the bulletin before publishing"),
    (1, "fax", "1", "unknown"),
    (1, "weibo", "<script>", "post id"),
    (1, "weibo", "", "post id"),
])
def test_publish_checks(bs, draft, state_steps, channel, post_id, message):
    rev = 1
    if state_steps:
        rev = bs.approve(draft.id, WANG, 1).rev
    with pytest.raises(BulletinError, match=message):
        bs.publish(draft.id, LI, rev, channel, post_id)


def test_published_bulletins_are_not_edited_and_duplicates_refused(bs, draft):
    rev = bs.approve(draft.id, WANG, 1).rev
    rev = bs.publish(draft.id, LI, rev, "weibo", "123").rev
    with pytest.raises(BulletinError, match="not edited"):
        bs.edit(draft.id, "新内容", LI, rev)
    with pytest.raises(BulletinError, match="already recorded"):
        bs.publish(draft.id, LI, rev, "weibo", "123")
    with pytest.raises(BulletinError, match="only drafts"):
        bs.approve(draft.id, BOSS, rev)


def test_empty_and_unknown(bs):
    with pytest.raises(BulletinError, match="empty"):
        bs.create(traffic_report([], NOW), LI, text="   ")
    with pytest.raises(NotFound):
        bs.approve("B999999", WANG, 1)
    assert bs.get("B999999") is None


def test_edited_text_keeps_the_facts_for_a_follow_up(bs):
    rec = bs.create(traffic_report([Stretch("东岳大街", 3, "青年路", "迎胜路")], NOW), LI,
                    text="#泰安路况#【路况播报】东岳大街车多，请绕行。", now=T)
    assert rec.bulletin.body == "东岳大街车多，请绕行。"
    assert rec.bulletin.place == "东岳大街(青年路—迎胜路)" and rec.bulletin.kind == "traffic"


# -- citizen reports ----------------------------------------------------------------------------
def _report(eid: str, first: float, last: float, mentions: int = 1, **attrs) -> RoadEvent:
    return RoadEvent(id=eid, kind="report", category="jam", severity=2, source="weibo",
                     observed_at=datetime.fromtimestamp(last, SHANGHAI), lon=117.1, lat=36.2,
                     road_names=("长城路", "泰玻大街"), text="长城路泰玻大街路口堵了 13812345678",
                     attrs={"first_seen": first, "last_seen": last, "mentions": mentions,
                            "count": 2, "place": "长城路与泰玻大街路口", **attrs})


def test_reports_awaiting_a_reply_oldest_first(r, keys, store):
    store.upsert_events([_report("weibo:cluster:a", T - 1800, T - 600),
                         _report("weibo:cluster:b", T - 3000, T - 2900, incident_id="INC-7"),
                         _report("weibo:cluster:c", T - 100, T - 100, mentions=0)], now=T)
    if hasattr(keys, "incident"):
        r.hset(keys.incident("INC-7"), mapping={"status": "dispatched"})
    rows = awaiting_reply(r, keys, store, now=T)
    assert [x["id"] for x in rows] == ["weibo:cluster:b", "weibo:cluster:a"]
    assert rows[0]["waited_s"] == pytest.approx(3000)
    assert rows[0]["text"] == "长城路泰玻大街路口堵了 138****5678"
    assert rows[1]["incident_status"] == "未立案"
    if hasattr(keys, "incident"):
        assert (rows[0]["incident_id"], rows[0]["incident_status"]) == ("INC-7", "已派警")

    entry = mark_replied(r, keys, LI, "weibo:cluster:b", "民警已赶往现场 13812345678",
                         now=T + 60, store=store)
    assert entry["since"] == pytest.approx(T - 3000) and "138****5678" in entry["text"]
    assert [x["id"] for x in awaiting_reply(r, keys, store, now=T + 60)] == ["weibo:cluster:a"]
    assert response_times(r, keys, since=T - 86400) == {"replies": 1, "median_min": 51.0,
                                                        "max_min": 51.0}
    # a new report after the reply puts it back on the list, waiting since the reply
    store.upsert_events([_report("weibo:cluster:b", T - 3000, T + 300)], now=T + 300)
    back = awaiting_reply(r, keys, store, now=T + 400)
    assert [x["id"] for x in back] == ["weibo:cluster:a", "weibo:cluster:b"]
    assert back[1]["since"] == pytest.approx(T + 60)
    assert audit.read(r, keys, action="report.reply")[0]["who"] == "li"


def test_reply_needs_the_permission(r, keys, store):
    with pytest.raises(BulletinError):
        mark_replied(r, keys, User("fu", "aux"), "weibo:cluster:a")


def test_sms_is_published_without_a_post_id(bs, draft, r, keys):
    """An SMS has no post id: the record gets one of its own, whatever was typed."""
    rev = bs.approve(draft.id, WANG, 1).rev
    rec = bs.publish(draft.id, LI, rev, "sms", "")
    assert rec.state == "published"
    assert rec.publications[0]["channel"] == "sms"
    assert rec.publications[0]["post_id"] == f"sms-{draft.id}-1"
    again = bs.publish(draft.id, LI, rec.rev, "sms", "<script>")   # typed text is ignored
    assert [p["post_id"] for p in again.publications] == [f"sms-{draft.id}-1",
                                                          f"sms-{draft.id}-2"]
    with pytest.raises(BulletinError, match="post id"):
        bs.publish(draft.id, LI, again.rev, "weibo", "")              # Weibo still needs one
