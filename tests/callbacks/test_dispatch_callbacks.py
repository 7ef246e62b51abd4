"""/dispatch callbacks: the plain functions with real services, and the Weibo-report
scenario over HTTP (/_dash-update-component) by two officers, with a conflict."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from dash import Patch, no_update
from dash.exceptions import PreventUpdate

import callbacks.dispatch as C
from app import create_app
from dashboard import audit
from dashboard.roads import basemap
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.auth import User, add_user
from dashboard.dispatch import actions
from dashboard.masking import contains_pii
from dashboard.model import RoadEvent
from dashboard.services import Services
from layouts import dispatch as L
from layouts import ids

pytestmark = pytest.mark.topologies("single", "cluster")

OFFICER = User("li", "officer")
AUX = User("wang", "aux")
ADMIN = User("root", "admin")
RAW = "长城路泰玻大街路口发生交通拥堵 @泰山交警 我电话13905381234"


@pytest.fixture
def svc(settings):
    s = Services.open(settings, start_embedded=False)
    yield s
    s.close()


def seed(svc) -> tuple[float, float]:
    lon, lat = svc.network.intersection("长城路", "泰玻大街")
    now = time.time()
    svc.store.upsert_events([RoadEvent(
        id="weibo:4990001", kind="report", category="jam", severity=2, source="weibo",
        observed_at=datetime.fromtimestamp(now - 120, timezone.utc), lon=lon, lat=lat,
        district="泰山区", road_names=("长城路", "泰玻大街"),
        text="长城路泰玻大街路口发生交通拥堵 @泰山交警 我电话139****1234",
        attrs={"place": "长城路泰玻大街路口"})])
    svc.store.put_private({"weibo:4990001": {"raw_text": RAW, "screen_name": "泰安市民张伟"}})
    U.apply_feed(svc.r, svc.keys, [
        U.UnitReport("T-101", "patrol_car", "泰安交警101", lon + 0.004, lat, "free", now),
        U.UnitReport("T-102", "patrol_car", "泰安交警102", lon + 0.03, lat, "free", now)])
    return lon, lat


def act(svc, user, action, selected, **choices):
    """(message, does the page show the new state?) of ``C.act`` (the page's bump store at
    0): the answer carries the new state itself, or asks for a reload with the bump."""
    out = C.act(svc, user, action, selected, 0, actions.Choices(**choices))
    assert out["bump"] in (1, no_update)
    return out["message"], out["bump"] == 1 or out["selected"] is not no_update


def test_refresh_builds_the_queue_and_an_offline_map_then_patches(svc):
    seed(svc)
    res = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001")
    out = C.refresh(svc, AUX, {})
    assert set(out) == {"rows", "unacknowledged", "open", "map", "stats", "create_options",
                        "report_options", "merge_options", "unit_options", "seen"}
    rows, unack, n_open, fig = out["rows"], out["unacknowledged"], out["open"], out["map"]
    create_opts, merge_opts, units = out["create_options"], out["merge_options"], \
        out["unit_options"]
    seen = out["seen"]
    assert [r["id"] for r in rows] == [res.incident_id] and unack == "1" and n_open == "1"
    assert isinstance(fig, dict) and basemap.style_urls(fig["layout"]["map"]["style"]) == []
    names = [t["name"] for t in fig["data"]]
    assert "警力 units" in names and "事件 incidents" in names
    units_trace = fig["data"][names.index("警力 units")]
    assert len(units_trace["lon"]) == 2
    assert create_opts == [] and [o["value"] for o in merge_opts] == [res.incident_id]
    assert {o["value"] for o in units} == {"T-101", "T-102"}
    with pytest.raises(PreventUpdate):           # nothing changed: one Redis GET, no work
        C.refresh(svc, AUX, seen)
    I.acknowledge(svc.r, svc.keys, AUX, res.incident_id)
    again = C.refresh(svc, AUX, seen)
    assert isinstance(again["map"], Patch)       # the style is not sent again
    assert again["unacknowledged"] == "0"


def test_select_masks_for_aux_and_shows_contact_to_officer(svc):
    seed(svc)
    inc = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001").incident_id
    out = C.select(svc, AUX, inc)
    detail, selected, unit_opts, disabled = out["detail"], out["selected"], \
        out["unit_options"], out["disabled"]
    assert out["styles"] == [L.button_style(d) for d in disabled]
    assert selected == {"id": inc, "rev": 1}
    assert RAW not in repr(detail) and not contains_pii(repr(detail))
    assert [o["value"] for o in unit_opts][0] == "T-101"
    enabled = {a for a, d in zip(L.BUTTON_ORDER, disabled) if not d}
    assert enabled == {"acknowledge"}                      # aux: acknowledge only, here
    out = C.select(svc, OFFICER, inc)
    detail, disabled = out["detail"], out["disabled"]
    assert RAW in repr(detail) and "泰安市民张伟" in repr(detail)
    enabled = {a for a, d in zip(L.BUTTON_ORDER, disabled) if not d}
    assert {"acknowledge", "verify", "assign_nearest", "assign", "clear", "merge",
            "link", "follow", "note"} == enabled
    assert C.select(svc, OFFICER, None)["selected"] is None
    assert C.select(svc, OFFICER, "INC-999999")["selected"] is None


def test_act_runs_the_lifecycle_and_reports_conflicts(svc):
    seed(svc)
    inc = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001").incident_id
    msg, again = act(svc, OFFICER, "assign_nearest", {"id": inc, "rev": 1})
    assert again and "泰安交警101" in msg.children and "by road" in msg.children
    stale = {"id": inc, "rev": 2}
    msg, again = act(svc, AUX, "on_scene", stale)
    assert "dispatched → on_scene" in msg.children and again
    msg, again = act(svc, OFFICER2 := User("zhao", "officer"), "clear", stale)
    assert "changed by wang at" in msg.children and "status dispatched → on_scene" in msg.children
    assert "refreshed" in msg.children and again
    assert I.load(svc.r, svc.keys, inc).status == "on_scene"
    msg, _ = act(svc, OFFICER2, "clear", {"id": inc, "rev": 3})
    assert I.load(svc.r, svc.keys, inc).status == "cleared"
    msg, _ = act(svc, OFFICER, "on_scene", {"id": inc, "rev": 4})
    assert msg.children == "cannot go from cleared to on_scene; reopen first"
    msg, _ = act(svc, OFFICER, "assign", {"id": inc, "rev": 4})
    assert "Pick a unit" in msg.children
    msg, _ = act(svc, OFFICER, "verify", None)
    assert "Pick an incident" in msg.children
    msg, _ = act(svc, AUX, "verify", {"id": inc, "rev": 4})
    assert "无权限" in msg.children or "cannot" in msg.children


def test_two_quick_actions_by_one_officer_are_no_conflict(svc):
    """Issue 14: acknowledge, then dispatch nearest 1.5 s later, failed with "changed by
    li" — the page still held the rev from before its own first click. The action's answer
    now carries the new rev, and the detail, queue and map, itself."""
    seed(svc)
    inc = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001")
    page = {"id": inc.incident_id, "rev": inc.rev}
    seen = C.refresh(svc, OFFICER, {})["seen"]
    out = C.act(svc, OFFICER, "acknowledge", page, 0, actions.Choices(), seen)
    assert out["selected"] == {"id": inc.incident_id, "rev": inc.rev + 1}
    assert out["detail"] is not no_update and out["disabled"][0] is True  # acknowledged
    assert out["rows"][0]["ack"] == "是" and out["unacknowledged"] == "0"
    assert out["map"] is no_update and out["bump"] is no_update   # nothing to redraw
    assert out["seen"]["tag"].startswith(str(svc.store.version()))
    # the second click sends what the first answer put in the page's store
    out2 = C.act(svc, OFFICER, "assign_nearest", out["selected"], 0, actions.Choices(), seen)
    assert "changed by" not in out2["message"].children, out2["message"].children
    assert "泰安交警101" in out2["message"].children
    assert out2["selected"]["rev"] == inc.rev + 2
    assert out2["rows"][0]["status"] == "dispatched" and isinstance(out2["map"], Patch)
    assert I.load(svc.r, svc.keys, inc.incident_id).rev == inc.rev + 2
    assert "泰安交警101" in repr(out2["detail"])


def test_follow_moves_place_road_and_district_and_picks_a_near_unit(svc):
    """Hand-over: the incident takes the follow-up report's place, roads, segment and
    district, the history says so in words, and the unit sent is the nearest free one,
    not a far one that happens to be ahead (issue 14: 7.6 km while 2-4 km were free)."""
    lon, lat = seed(svc)
    x, y = svc.network.intersection("泰山大街", "迎胜路")
    now = time.time()
    svc.store.upsert_events([RoadEvent(
        id="hotline:77", kind="report", category="jam", severity=2, source="hotline",
        observed_at=datetime.fromtimestamp(now - 30, timezone.utc), lon=x, lat=y,
        district="泰山区", road_names=("泰山大街", "迎胜路"), segment_id="taishan-1",
        text="大客车现在泰山大街迎胜路口", attrs={"place": "泰山大街迎胜路口"})])
    # the target moves north-east: one free unit ~7 km further ahead, one ~2 km behind
    U.apply_feed(svc.r, svc.keys, [
        U.UnitReport("T-201", "patrol_car", "泰安交警201", x + 0.05, y + 0.045, "free", now),
        U.UnitReport("T-202", "patrol_car", "泰安交警202", x - 0.012, y - 0.012, "free", now)])
    inc = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001")
    first = I.assign_nearest(svc.r, svc.keys, OFFICER, inc.incident_id)
    out = C.act(svc, OFFICER, "follow", {"id": inc.incident_id, "rev": first.rev}, 0,
                actions.Choices(report="hotline:77"))
    assert "泰安交警202" in out["message"].children, out["message"].children
    moved = I.load(svc.r, svc.keys, inc.incident_id)
    assert (moved.place, moved.district, moved.segment_id) == ("泰山大街迎胜路口", "泰山区",
                                                               "taishan-1")
    assert moved.road_names == ["泰山大街", "迎胜路"] and (moved.lon, moved.lat) == (x, y)
    hand = [e for e in moved.history if e["action"] == "handover"][-1]
    assert hand["moved"] == "移交：长城路泰玻大街路口 → 泰山大街迎胜路口 (泰山区)"
    assert (hand["from"], hand["to"]) == ("dispatched", "dispatched")
    assert "移交：长城路泰玻大街路口 → 泰山大街迎胜路口" in repr(out["detail"])
    assert "[117." not in repr(out["detail"])
    # handover + link are two changes; the page holds the rev after both
    assert out["selected"] == {"id": inc.incident_id, "rev": moved.rev}
    msg, _ = act(svc, OFFICER, "on_scene", out["selected"])
    assert "changed by" not in msg.children


def test_handover_without_a_report_takes_the_words_from_the_network(svc):
    lon, lat = seed(svc)
    inc = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001")
    x, y = svc.network.intersection("泰山大街", "龙潭路")
    I.handover(svc.r, svc.keys, OFFICER, inc.incident_id, x, y, network=svc.network)
    moved = I.load(svc.r, svc.keys, inc.incident_id)
    match = svc.network.nearest(x, y, max_m=300)
    assert moved.segment_id == match.segment_id and moved.road_names == [match.road_name]
    assert moved.place == match.road_name and moved.district == (match.district or "")
    assert moved.history[-1]["moved"].startswith("移交：长城路泰玻大街路口 → ")


def test_split_button_splits_a_report_off(svc):
    lon, lat = seed(svc)
    svc.store.upsert_events([RoadEvent(
        id="waze:9", kind="incident", category="accident", severity=2, source="waze",
        observed_at=datetime.fromtimestamp(time.time() - 60, timezone.utc), lon=lon, lat=lat,
        district="泰山区", road_names=("长城路",), text="accident")])
    inc = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001")
    linked = I.link_report(svc.r, svc.keys, OFFICER, inc.incident_id, "waze:9")
    shown = C.select(svc, OFFICER, inc.incident_id)
    assert [o["value"] for o in shown["split_options"]] == ["weibo:4990001", "waze:9"]
    enabled = {a for a, d in zip(L.BUTTON_ORDER, shown["disabled"]) if not d}
    assert "split" in enabled
    msg, _ = act(svc, OFFICER, "split", {"id": inc.incident_id, "rev": linked.rev})
    assert "Pick the report" in msg.children
    out = C.act(svc, OFFICER, "split", {"id": inc.incident_id, "rev": linked.rev}, 0,
                actions.Choices(split="waze:9"))
    assert "split from" in out["message"].children, out["message"].children
    assert I.load(svc.r, svc.keys, inc.incident_id).reports == ["weibo:4990001"]
    assert len(out["rows"]) == 2 and out["selected"]["rev"] == linked.rev + 1
    enabled = {a for a, d in zip(L.BUTTON_ORDER, out["disabled"]) if not d}
    assert "split" not in enabled          # one report left


def test_create_unit_and_audit_views(svc):
    seed(svc)
    out = C.create(svc, OFFICER, "weibo:4990001", bump=0)
    assert out["bump"] == 1 and out["selected"] == {"id": "INC-000001", "rev": 1}
    out = C.create(svc, OFFICER, "weibo:4990001", bump=1)
    assert "already linked to INC-000001" in out["message"].children
    assert out["bump"] == 2 and out["selected"] is no_update

    def set_unit_status(*args):
        out = C.set_unit_status(svc, OFFICER, *args, bump=0)
        return out["message"], out["bump"] == 1
    msg, again = set_unit_status("T-102", "off_duty")
    assert "下班" in msg.children and U.get_unit(svc.r, svc.keys, "T-102").status == "off_duty"
    # a unit moved by hand: to a point, or to a named intersection; nonsense is refused
    msg, again = set_unit_status("T-102", "keep", "117.10, 36.20")
    u = U.get_unit(svc.r, svc.keys, "T-102")
    assert (round(u.lon, 2), round(u.lat, 2)) == (117.10, 36.20) and u.status == "off_duty"
    msg, again = set_unit_status("T-102", "keep", "长城路与泰玻大街路口")
    u = U.get_unit(svc.r, svc.keys, "T-102")
    x, y = svc.network.intersection("长城路", "泰玻大街")
    assert abs(u.lon - x) < 1e-4 and abs(u.lat - y) < 1e-4
    msg, _ = set_unit_status("T-102", "keep", "121.47, 31.23")
    assert "outside the city" in msg.children
    msg, _ = set_unit_status("T-102", "keep", "<script>x</script>")
    assert "cannot place" in msg.children
    msg, _ = set_unit_status("T-102", "keep", "")
    assert "Pick a unit" in msg.children
    table = C.audit_view(svc, ADMIN, "li")
    assert "警力 unit" in repr(table) and "创建 created" in repr(table)
    # readable rows: "field: before → after", never the raw JSON of the stream entry
    assert "status: free → off_duty" in repr(table) and '{"' not in repr(table)
    with pytest.raises(PermissionError):
        C.audit_view(svc, OFFICER, None)


# -- over HTTP, as the browser would -----------------------------------------------------------
def _post(client, app, first_input: str, inputs: dict, state: dict, trigger: str):
    key = next(k for k, v in app.callback_map.items()
               if v["inputs"] and v["inputs"][0]["id"] == first_input)
    v = app.callback_map[key]
    outs = v["output"]
    outs = [{"id": o.component_id, "property": o.component_property} for o in
            (outs if isinstance(outs, (list, tuple)) else [outs])]
    body = {"output": key, "outputs": outs if len(outs) > 1 else outs[0],
            "inputs": [{"id": i["id"], "property": i["property"],
                        "value": inputs.get(i["id"])} for i in v["inputs"]],
            "state": [{"id": s["id"], "property": s["property"],
                       "value": state.get(s["id"])} for s in v["state"]],
            "changedPropIds": [trigger]}
    return client.post("/_dash-update-component", json=body)


def ensure_registered() -> None:
    """``dash.callback`` keeps callbacks in a global list that the FIRST app of the process
    takes; register the dispatch callbacks again when another test's app took them."""
    import importlib

    from dash import _callback

    if not any(ids.DISPATCH_GRID in k for k in _callback.GLOBAL_CALLBACK_MAP):
        importlib.reload(C)


def test_two_officers_over_http(settings):
    ensure_registered()
    app = create_app(settings)
    svc = app.server.config["LUKUANG"]
    try:
        seed(svc)
        clients = {}
        for name, role in (("li", "officer"), ("zhao", "officer"), ("wang", "aux")):
            add_user(svc.r, svc.keys, name, role, "password-123")
            c = app.server.test_client()
            assert c.post("/login", data={"username": name, "password": "password-123",
                                          "next": "/"},
                          headers={"Origin": "http://localhost"}).status_code == 302
            clients[name] = c
        # the page shows the report in "create from report"
        resp = _post(clients["li"], app, ids.DISPATCH_TICK, {ids.DISPATCH_TICK: 1}, {},
                     f"{ids.DISPATCH_TICK}.n_intervals")
        out = resp.get_json()["response"]
        assert [o["value"] for o in out[ids.DISPATCH_CREATE_CHOICE]["options"]] == [
            "weibo:4990001"]
        resp = _post(clients["li"], app, ids.DISPATCH_BTN_CREATE, {ids.DISPATCH_BTN_CREATE: 1},
                     {ids.DISPATCH_CREATE_CHOICE: "weibo:4990001", ids.DISPATCH_BUMP: 0},
                     f"{ids.DISPATCH_BTN_CREATE}.n_clicks")
        sel = resp.get_json()["response"][ids.DISPATCH_SELECTED]["data"]
        assert sel == {"id": "INC-000001", "rev": 1}
        buttons = {b: 0 for b in C.DISPATCH_BUTTONS}
        resp = _post(clients["li"], app, ids.DISPATCH_BTN_VERIFY,
                     {**buttons, ids.DISPATCH_BTN_ASSIGN_NEAREST: 1},
                     {ids.DISPATCH_SELECTED: sel, ids.DISPATCH_BUMP: 1},
                     f"{ids.DISPATCH_BTN_ASSIGN_NEAREST}.n_clicks")
        assert "泰安交警101" in json.dumps(resp.get_json(), ensure_ascii=False)
        # both officers' pages now show rev 2; li marks on scene, zhao clears a moment later
        page = {"id": "INC-000001", "rev": 2}
        status_buttons = {b: 0 for b in C.STATUS_BUTTONS}
        resp = _post(clients["li"], app, ids.DISPATCH_BTN_ACK,
                     {**status_buttons, ids.DISPATCH_BTN_ON_SCENE: 1},
                     {ids.DISPATCH_SELECTED: page, ids.DISPATCH_BUMP: 2},
                     f"{ids.DISPATCH_BTN_ON_SCENE}.n_clicks")
        assert resp.status_code == 200
        resp = _post(clients["zhao"], app, ids.DISPATCH_BTN_ACK,
                     {**status_buttons, ids.DISPATCH_BTN_CLEAR: 1},
                     {ids.DISPATCH_SELECTED: page, ids.DISPATCH_BUMP: 2},
                     f"{ids.DISPATCH_BTN_CLEAR}.n_clicks")
        body = json.dumps(resp.get_json(), ensure_ascii=False)
        assert "changed by li at" in body and "status dispatched → on_scene" in body
        # the page refreshes in the same answer (issue 14): the selection takes the rev that
        # won and the queue shows the other officer's change
        answer = resp.get_json()["response"]
        assert answer[ids.DISPATCH_SELECTED]["data"] == {"id": "INC-000001", "rev": 3}
        assert answer[ids.DISPATCH_GRID]["rowData"][0]["status"] == "on_scene"
        # the aux officer may not dispatch
        resp = _post(clients["wang"], app, ids.DISPATCH_BTN_VERIFY,
                     {**buttons, ids.DISPATCH_BTN_VERIFY: 1},
                     {ids.DISPATCH_SELECTED: page}, f"{ids.DISPATCH_BTN_VERIFY}.n_clicks")
        assert resp.status_code == 403
        # zhao clears with the refreshed rev
        resp = _post(clients["zhao"], app, ids.DISPATCH_BTN_ACK,
                     {**status_buttons, ids.DISPATCH_BTN_CLEAR: 1},
                     {ids.DISPATCH_SELECTED: {"id": "INC-000001", "rev": 3}},
                     f"{ids.DISPATCH_BTN_CLEAR}.n_clicks")
        assert "on_scene → cleared" in json.dumps(resp.get_json(), ensure_ascii=False)
        trail = [(e["who"], e["action"]) for e in audit.read(svc.r, svc.keys,
                                                             newest_first=False)]
        assert trail == [("li", "create"), ("li", "assign"), ("li", "status:on_scene"),
                         ("zhao", "status:cleared")]
    finally:
        svc.close()


# -- issue 17: notes, reset choices, one build of the detail, the city's zone ----------------------
def test_note_action_answers_with_the_detail_and_resets_the_choices(svc):
    seed(svc)
    inc = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001")
    seen = C.refresh(svc, OFFICER, {}, selected=inc.incident_id)["seen"]
    page = {"id": inc.incident_id, "rev": inc.rev}
    out = C.act(svc, OFFICER, "note", page, 0, actions.Choices(note="已通知清障 <i>x</i>"), seen)
    assert "note added" in out["message"].children
    assert out["selected"] == {"id": inc.incident_id, "rev": inc.rev + 1}
    # the detail of the same answer shows the note in the incident's audit view, as text
    assert "已通知清障 <i>x</i>" in repr(out["detail"]) and "备注 note" in repr(out["detail"])
    assert out["choices"] == [None] * (len(L.CHOICE_IDS) - 1) + [""]   # note field emptied
    assert out["seen"]["detail_at"] == out["seen"]["tag"]
    # the tick after it finds nothing new, and the select callback builds nothing again
    with pytest.raises(PreventUpdate):
        C.refresh(svc, OFFICER, out["seen"], selected=inc.incident_id)
    with pytest.raises(PreventUpdate):
        C.select_for_page(svc, OFFICER, ids.DISPATCH_SEEN, None, None, out["seen"],
                          out["selected"])
    # a refused note is kept in its field to be corrected; nothing else changes
    bad = C.act(svc, OFFICER, "note", out["selected"], 0, actions.Choices(note="a\x07b"))
    assert "control character" in bad["message"].children
    assert bad["choices"] == [no_update] * len(L.CHOICE_IDS)
    assert I.load(svc.r, svc.keys, inc.incident_id).rev == inc.rev + 1


def test_select_for_page_resets_choices_only_for_another_incident(svc):
    seed(svc)
    a = I.create_from_event(svc.r, svc.keys, OFFICER, "weibo:4990001")
    current = {"id": a.incident_id, "rev": a.rev}
    same = C.select_for_page(svc, OFFICER, ids.DISPATCH_SEEN, None, None,
                             {"tag": "9:1:x", "detail_at": "8:1:x"}, current)
    assert same["selected"] == current and same["choices"] == [no_update] * len(L.CHOICE_IDS)
    other = C.select_for_page(svc, OFFICER, ids.DISPATCH_GRID, [{"id": "INC-999999"}], None,
                              {}, current)
    assert other["selected"] is None and other["choices"][0] is None


def test_conflict_message_of_an_action_is_in_the_city_zone(settings):
    """Asia/Tokyo: one hour from Asia/Shanghai, so a hard-wired Shanghai shows."""
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    tokyo = Services.open(replace(settings, timezone="Asia/Tokyo"), start_embedded=False)
    try:
        seed(tokyo)
        inc = I.create_from_event(tokyo.r, tokyo.keys, OFFICER, "weibo:4990001")
        at = time.time()
        I.acknowledge(tokyo.r, tokyo.keys, User("zhao", "officer"), inc.incident_id, now=at)
        hh = {z: datetime.fromtimestamp(at, ZoneInfo(z)).strftime("%H:%M")
              for z in ("Asia/Tokyo", "Asia/Shanghai")}
        stale = {"id": inc.incident_id, "rev": inc.rev}
        out = C.act(tokyo, OFFICER, "verify", stale, 0, actions.Choices())
        assert f"changed by zhao at {hh['Asia/Tokyo']}" in out["message"].children
        out = C.act(tokyo, OFFICER, "acknowledge", out["selected"], 0, actions.Choices())
        assert f"already acknowledged by zhao at {hh['Asia/Tokyo']}" in \
            out["message"].children, out["message"].children
        assert f"at {hh['Asia/Shanghai']}" not in out["message"].children
    finally:
        tokyo.close()
