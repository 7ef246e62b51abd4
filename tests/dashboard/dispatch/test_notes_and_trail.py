"""Issue 17 on the dispatch desk's domain: standalone notes (checked, role-checked, in the
history and the audit trail, masked for restricted roles), the incident's audit view in
words (dispatch.trail), and conflict messages in the city's zone (Asia/Tokyo here: one hour
from Asia/Shanghai, so a hard-wired Shanghai shows). Real Redis."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard import audit
from dashboard.auth import User
from dashboard.dispatch import actions as A
from dashboard.dispatch import incidents as I
from dashboard.dispatch import trail
from dashboard.dispatch import units as U
from dashboard.masking import contains_pii
from dashboard.model import RoadEvent
from dashboard.storage.store import Store

pytestmark = pytest.mark.topologies("single", "cluster")

OFFICER = User("li", "officer")
OFFICER2 = User("zhao", "officer")
AUX = User("wang", "aux")
WALL = User("screen", "wall")
TOKYO, SHANGHAI = ZoneInfo("Asia/Tokyo"), ZoneInfo("Asia/Shanghai")
T0 = 1_790_000_000.0


@pytest.fixture
def one(r, keys, store: Store) -> str:
    """One reported incident and one free unit."""
    store.upsert_events([RoadEvent(
        id="weibo:1", kind="report", category="jam", severity=2, source="weibo",
        observed_at=datetime.fromtimestamp(T0 - 100, timezone.utc), lon=117.10, lat=36.20,
        district="泰山区", road_names=("长城路",), text="青年路拥堵",
        attrs={"place": "长城路泰玻大街路口"})], ttl_s=10 * 86400, now=T0 - 100)
    U.apply_feed(r, keys, [U.UnitReport("T-1", "patrol_car", "泰安交警T-1", 117.101, 36.201,
                                        "free", time.time())])
    return I.create_from_event(r, keys, OFFICER, "weibo:1", now=T0).incident_id


# -- notes ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, problem", [
    ("", "empty"), ("   ", "empty"), (None, "not text"), ("x" * 301, "at most 300"),
    ("警情\x07", "control character"), ("一行\n二行", "control character"),
    ("tab\there", "control character"), ("\u202eLTR", "control character"),
    ("nul\x00", "control character"), ("del\x7f", "control character")])
def test_clean_note_refuses_what_cannot_be_kept(text, problem):
    with pytest.raises(I.NoteError, match=problem):
        I.clean_note(text)


def test_clean_note_keeps_ordinary_text():
    assert I.clean_note("  现场两车追尾 <b>已通知</b> 清障 🚓 ") == "现场两车追尾 <b>已通知</b> 清障 🚓"
    assert I.clean_note("x" * 300) == "x" * 300


def test_a_note_is_kept_in_history_and_audit_and_leaves_the_status(r, keys, one):
    before = I.load(r, keys, one)
    res = I.add_note(r, keys, OFFICER, one, " 已电话联系报警人 ", expected_rev=before.rev,
                     now=T0 + 60)
    inc = I.load(r, keys, one)
    assert res.rev == before.rev + 1 == inc.rev and inc.status == before.status == "reported"
    entry = inc.history[-1]
    assert (entry["action"], entry["by"], entry["role"], entry["note"]) == (
        "note", "li", "officer", "已电话联系报警人")
    assert entry["from"] == entry["to"] == "reported"
    last = audit.read(r, keys, count=1)[0]
    assert (last["who"], last["action"], last["target"], last["note"]) == (
        "li", "note", f"incident:{one}", "已电话联系报警人")
    # a page holding the old rev is told what changed, nothing is written twice
    with pytest.raises(I.ConflictError, match="note"):
        I.add_note(r, keys, OFFICER2, one, "second", expected_rev=before.rev)
    assert len(I.load(r, keys, one).history) == len(inc.history)


def test_aux_and_wall_may_not_add_notes(r, keys, one):
    for user in (AUX, WALL):
        with pytest.raises(PermissionError):
            I.add_note(r, keys, user, one, "我也来写")
    assert [e["action"] for e in I.load(r, keys, one).history] == ["create"]
    outcome = A.run(r, keys, Store(r, keys), AUX, "note", one, 1, A.Choices(note="x"))
    assert outcome.level == "error" and "无权限" in outcome.text
    assert "note" not in I.actions_for(AUX, "reported")
    assert "note" in I.actions_for(OFFICER, "reported")
    assert "note" in I.actions_for(OFFICER, "cleared") and "note" not in I.actions_for(
        OFFICER, "merged")


def test_a_bad_note_changes_nothing(r, keys, one):
    store = Store(r, keys)
    for text in ("", "a\x1bb", "x" * 301):
        outcome = A.run(r, keys, store, OFFICER, "note", one, 1, A.Choices(note=text))
        assert outcome.level == "warn" and not outcome.refresh, outcome
    # a control character in the note of another action refuses that action too
    outcome = A.run(r, keys, store, OFFICER, "verify", one, 1, A.Choices(note="ok\x00"))
    assert outcome.level == "warn"
    inc = I.load(r, keys, one)
    assert inc.rev == 1 and inc.status == "reported" and audit.length(r, keys) == 1
    ok = A.run(r, keys, store, OFFICER, "note", one, 1, A.Choices(note="已核实现场"))
    assert ok.level == "ok" and ok.refresh and ok.rev == 2


def test_notes_are_masked_for_restricted_roles(r, keys, one):
    I.add_note(r, keys, OFFICER, one, "报警人王小明 电话13912345678 车牌鲁J12345")
    with pytest.raises(PermissionError):
        I.detail(r, keys, WALL, one)
    shown = I.detail(r, keys, AUX, one)
    assert "13912345678" not in repr(shown) and not contains_pii(repr(shown))
    assert "13912345678" not in repr(shown["trail"])
    full = I.detail(r, keys, OFFICER, one)
    assert full["trail"][0]["note"] == "报警人王小明 电话13912345678 车牌鲁J12345"


# -- the audit view ---------------------------------------------------------------------
def test_trail_rows_say_who_when_what_and_before_after(r, keys, one):
    I.acknowledge(r, keys, OFFICER, one, now=T0 + 10)
    I.assign_unit(r, keys, OFFICER, one, "T-1", now=T0 + 20)
    I.add_note(r, keys, OFFICER2, one, "<script>alert(1)</script> 现场", now=T0 + 30)
    I.transition(r, keys, OFFICER2, one, "cleared", now=T0 + 40)
    d = I.detail(r, keys, OFFICER, one, tz=TOKYO)
    rows = d["trail"]
    assert [x["what"] for x in rows] == ["状态 status", "备注 note", "派警 dispatched",
                                         "确认 acknowledged", "创建 created"]   # newest first
    tokyo = datetime.fromtimestamp(T0 + 40, TOKYO).strftime("%m-%d %H:%M:%S")
    assert rows[0]["at"] == tokyo and rows[0]["who"] == "zhao (officer)"
    assert rows[0]["change"] == "已派警 → 已清除；收回 released T-1"
    assert rows[1]["change"] == "" and rows[1]["note"] == "<script>alert(1)</script> 现场"
    assert rows[2]["change"] == "已报告 → 已派警；+ 警力 unit T-1"
    assert rows[3]["change"] == "未确认 → 已确认"
    assert rows[4]["change"] == "· → 已报告；+ 报告 report weibo:1"
    assert all(isinstance(v, str) for x in rows for v in x.values())


def test_audit_changes_are_words_not_json():
    before = json.dumps({"incident:INC-1": {"status": "reported", "rev": 1, "history": "[]",
                                            "units": "[]", "dispatched_at": ""}})
    after = json.dumps({"incident:INC-1": {"status": "dispatched", "rev": 2, "history": "[…]",
                                           "units": '["T-1"]', "dispatched_at": str(T0)}})
    lines = trail.audit_changes(before, after, TOKYO)
    stamp = datetime.fromtimestamp(T0, TOKYO).strftime("%m-%d %H:%M:%S")
    assert lines == ["status: reported → dispatched", 'units: · → ["T-1"]',
                     f"dispatched_at: · → {stamp}"]
    two = trail.audit_changes(json.dumps({"incident:A": {"status": "reported"},
                                          "incident:B": {"status": "verified"}}),
                              json.dumps({"incident:A": {"status": "merged"},
                                          "incident:B": {"status": "verified", "x": "1"}}))
    assert two == ["incident:A status: reported → merged", "incident:B x: · → 1"]
    flat = trail.audit_changes('{"status": "free"}', '{"status": "off_duty"}')
    assert flat == ["status: free → off_duty"]
    many = trail.audit_changes("{}", json.dumps({f"f{i}": "v" * 200 for i in range(12)}))
    assert len(many) == trail.MAX_FIELDS + 1 and many[-1] == "+4"
    assert all(len(x) < 120 for x in many)
    assert trail.audit_changes("not json", None) == []
    assert trail.label_of("status:cleared") == "状态 status: 已清除"


# -- the city's zone in conflict messages ----------------------------------------------------
def test_conflict_messages_use_the_city_zone(r, keys, one):
    I.acknowledge(r, keys, OFFICER, one, now=T0 + 3600)
    tokyo = datetime.fromtimestamp(T0 + 3600, TOKYO).strftime("%H:%M")
    shanghai = datetime.fromtimestamp(T0 + 3600, SHANGHAI).strftime("%H:%M")
    assert tokyo != shanghai
    # "already acknowledged … at HH:MM"
    with pytest.raises(I.TransitionError) as exc:
        I.acknowledge(r, keys, OFFICER2, one, tz=TOKYO)
    assert f"already acknowledged by li at {tokyo}" in str(exc.value)
    # describe_changes: a page holding the rev from before the acknowledgement
    with pytest.raises(I.ConflictError) as exc:
        I.transition(r, keys, OFFICER2, one, "verified", expected_rev=1, tz=TOKYO)
    assert f"changed by li at {tokyo}" in str(exc.value) and shanghai not in str(exc.value)
    msg, _ = I.describe_changes(I.load(r, keys, one), 1, TOKYO)
    assert f"at {tokyo}" in msg
    # through the button's path (actions.run passes the zone on)
    outcome = A.run(r, keys, Store(r, keys), OFFICER2, "acknowledge", one, 2, tz=TOKYO)
    assert f"at {tokyo}" in outcome.text
    outcome = A.run(r, keys, Store(r, keys), OFFICER2, "assign_nearest", one, 1, tz=TOKYO)
    assert f"changed by li at {tokyo}" in outcome.text
