"""Every Dash callback of the app and every GET API route, called as every role through
Flask's test client (anonymous, wall, aux, officer, comms, admin).

Redis is seeded first with reports whose private data (and, to test the server's own
masking, some public text) hold phone numbers, plates and names. For each call:
- a caller without the callback's permission is refused (401 anonymous, 403 otherwise);
- an allowed caller gets 200 or 204 (PreventUpdate: no data);
- a response to a restricted caller (anonymous, wall, aux) holds no phone number, full
  plate or seeded name: checked with ``contains_pii`` and with this file's own patterns,
  which include full-width digits (０-９) and letters.
The figures (calls, refusals, PII findings) are printed and asserted.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
import time
from datetime import datetime, timezone
from typing import Any

import pytest

import callbacks
from app import create_app
from dashboard.dispatch import incidents as I
from dashboard.dispatch import units as U
from dashboard.auth import User, add_user
from dashboard.masking import contains_pii
from dashboard.model import RoadEvent
from layouts import ids

pytestmark = pytest.mark.topologies("single", "cluster")

ROLES = ("anonymous", "wall", "aux", "officer", "comms", "admin")
RESTRICTED = ("anonymous", "wall", "aux")
PASSWORD = "correct horse battery"
WALL_TOKEN = "kiosk-token-for-tests"
# the secrets seeded below; none may reach a restricted caller in any form
SECRET_NAMES = ("张伟", "王小明", "李四", "赵六六")
SECRET_PHONES = ("13905381234", "13912345678", "13800138000", "05388261234")
SECRET_PLATES = ("鲁J12345", "鲁JA1234", "鲁J·D12345")
# own patterns (full-width digits and letters included)
D = "[0-9０-９]"
PHONE_RE = re.compile(rf"(?<![0-9０-９.])[1１][\s\-－]?[3-9３-９](?:[\s\-－]?{D}){{9}}(?![0-9０-９])")
LANDLINE_RE = re.compile(rf"(?<![0-9０-９.])[0０][1-9１-９]{D}{{1,2}}[\s\-－]?"
                         rf"[1-9１-９]{D}{{6,7}}(?![0-9０-９])")
PLATE_RE = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
                      r"[\s·•・.\-]?[A-ZＡ-Ｚa-z][\s·•・.\-]?[A-Z0-9Ａ-Ｚ０-９]{5,6}")
PERMISSION_OF = {  # callback (by its first input id) → the permission it needs
    ids.DISPATCH_TICK: "view_dispatch", ids.DISPATCH_GRID: "view_dispatch",
    ids.DISPATCH_BTN_ACK: "acknowledge", ids.DISPATCH_BTN_VERIFY: "dispatch",
    ids.DISPATCH_BTN_CREATE: "dispatch", ids.DISPATCH_BTN_UNIT_SET: "manage_units",
    ids.DISPATCH_BTN_AUDIT: "view_audit", "feeds-tick": "view_feeds",
    ids.DISPATCH_MOVECAR_BTN["notified"]: "dispatch",
    "wall-tick": "view_wall", "wall-slow-tick": "view_wall",
    **{i: "comms" for i in ("comms-template", "comms-text", "comms-changed", "comms-select",
                            "comms-tick", "comms-reach-period", "comms-btn-csv",
                            "comms-btn-draft", "comms-btn-save", "comms-btn-reply",
                            "comms-upload")},
}
# callbacks open to every caller, and why: the page router picks the page body by role itself
OPEN_CALLBACKS = {"_pages_location"}
ALLOWED_ROLES = {
    "view_dispatch": {"aux", "officer", "admin"}, "acknowledge": {"aux", "officer", "admin"},
    "dispatch": {"officer", "admin"}, "manage_units": {"officer", "admin"},
    "view_audit": {"admin"}, "view_feeds": {"aux", "officer", "comms", "admin"},
    "view_wall": {"wall", "aux", "officer", "comms", "admin"},
    "comms": {"comms", "admin"},   # view_comms, draft/approve_bulletin, import_reach
}


def register_every_callback() -> list[str]:
    """Register every callback module of the ``callbacks`` package afresh.

    ``dash.callback`` keeps callbacks in a global list that the FIRST app built in the
    process takes (and empties), so another test's app may already have taken them."""
    from dash import _callback

    _callback.GLOBAL_CALLBACK_MAP.clear()
    _callback.GLOBAL_CALLBACK_LIST.clear()
    _callback.GLOBAL_INLINE_SCRIPTS.clear()
    names = []
    for info in pkgutil.iter_modules(callbacks.__path__):
        module = importlib.import_module(f"callbacks.{info.name}")
        importlib.reload(module)
        names.append(info.name)
    return names


def pii_findings(text: str) -> list[str]:
    """Every trace of personal data in a response body (decoded JSON text)."""
    found = [f"contains_pii:{k}" for k in contains_pii(text)]
    found += [f"phone:{m}" for m in PHONE_RE.findall(text)]
    found += [f"landline:{m}" for m in LANDLINE_RE.findall(text)]
    found += [f"plate:{m}" for m in PLATE_RE.findall(text)]
    flat = re.sub(r"[\s·•・.\-－]", "", text)
    found += [f"secret:{s}" for s in SECRET_NAMES + SECRET_PHONES if s in text]
    found += [f"secret:{s}" for s in SECRET_PLATES if re.sub(r"[·]", "", s) in flat]
    return found


def decoded(body: bytes) -> str:
    """The body as text with JSON \\u escapes undone (so Chinese and full-width digits
    are visible to the patterns)."""
    text = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


# -- seeding -------------------------------------------------------------------------------------
def seed(svc) -> dict[str, Any]:
    """Reports with personal data, units, two incidents (one dispatched with a note that
    names the caller). Returns the ids the callback inputs use."""
    r, keys, store = svc.r, svc.keys, svc.store
    for key in r.scan_iter(match=f"{keys.prefix}:*", count=1000):
        if not any(p in key for p in (":user:", ":users", ":session:", ":loginfail:")):
            r.delete(key)
    net = svc.network
    lon, lat = net.intersection("长城路", "泰玻大街")
    now = time.time()

    def ev(rid, text, dlon=0.0, sev=2, cat="jam"):
        return RoadEvent(id=rid, kind="report", category=cat, severity=sev,
                         source=rid.split(":")[0],
                         observed_at=datetime.fromtimestamp(now - 300, timezone.utc),
                         lon=lon + dlon, lat=lat, district="泰山区", road_names=("长城路", "泰玻大街"),
                         text=text, attrs={"place": "长城路泰玻大街路口"})
    store.upsert_events([
        ev("weibo:5001", "长城路泰玻大街路口发生交通拥堵 @泰山交警 我电话139****1234"),
        # public text that a careless feed left unmasked: the server must mask it itself
        ev("hotline:7001", "联系人王小明 电话１３９１２３４５６７８ 鲁JA1234 追尾", 0.002, 3,
           "accident"),
        ev("waze:abc", "车主李四 0538-8261234 鲁J·D12345 故障", 0.004, 1, "breakdown"),
        ev("weibo:5002", "泰玻大街堵车 手机13800138000 车牌鲁J12345", 0.006)])
    store.put_private({
        "weibo:5001": {"raw_text": "长城路泰玻大街路口发生交通拥堵 @泰山交警 我电话13905381234 "
                                   "车牌鲁J12345", "screen_name": "泰安市民张伟"},
        "hotline:7001": {"phone": "13912345678", "name": "王小明",
                         "raw_text": "联系人王小明 电话13912345678 鲁JA1234 追尾"},
        "waze:abc": {"raw_text": "车主李四 0538-8261234", "name": "李四"},
        "weibo:5002": {"raw_text": "手机13800138000 车牌鲁J12345", "screen_name": "赵六六"}})
    U.apply_feed(r, keys, [
        U.UnitReport("T-101", "patrol_car", "泰安交警101", lon + 0.003, lat + 0.001, "free", now),
        U.UnitReport("T-102", "patrol_car", "泰安交警102", lon + 0.02, lat, "free", now),
        U.UnitReport("Q-301", "tow_truck", "清障301", lon - 0.01, lat, "free", now)])
    boss = User("seed-officer", "officer")
    a = I.create_from_event(r, keys, boss, "weibo:5001").incident_id
    b = I.create_from_event(r, keys, boss, "hotline:7001").incident_id
    I.assign_unit(r, keys, boss, b, "T-102", note="联系人王小明 电话13912345678 车牌鲁JA1234")
    return {"a": a, "b": b, "rev_b": I.load(r, keys, b).rev, "free_unit": "T-101",
            "b_unit": "T-102", "report": "weibo:5002"}


def value_for(cid: Any, prop: str, s: dict[str, Any], path: str) -> Any:
    """A plausible value for one callback input or state."""
    table = {
        (ids.DISPATCH_SELECTED, "data"): {"id": s["b"], "rev": s["rev_b"]},
        (ids.DISPATCH_SEEN, "data"): {},
        (ids.DISPATCH_GRID, "selectedRows"): [{"id": s["b"]}],
        (ids.DISPATCH_MAP, "clickData"): {"points": [{"customdata": s["b"]}]},
        (ids.DISPATCH_NOTE, "value"): "已处理",
        (ids.DISPATCH_UNIT_CHOICE, "value"): s["free_unit"],
        (ids.DISPATCH_RELEASE_CHOICE, "value"): s["b_unit"],
        (ids.DISPATCH_MERGE_CHOICE, "value"): s["a"],
        (ids.DISPATCH_REPORT_CHOICE, "value"): s["report"],
        (ids.DISPATCH_CREATE_CHOICE, "value"): s["report"],
        (ids.DISPATCH_UNIT_PICK, "value"): s["free_unit"],
        (ids.DISPATCH_UNIT_STATUS, "value"): "off_duty",
        (ids.DISPATCH_AUDIT_WHO, "value"): "",
        ("_pages_location", "pathname"): path,
        ("_pages_location", "search"): "",
    }
    if (cid, prop) in table:
        return table[(cid, prop)]
    if prop in ("n_clicks", "n_intervals"):
        return 1
    if prop == "search":
        return ""
    if prop == "pathname":
        return path
    if prop == "data":
        from callbacks.guard import _STORE_TYPES  # what each page store holds

        kind = _STORE_TYPES.get(cid)
        return 1 if kind == "count" or "scale" in str(cid) or "bump" in str(cid) else {}
    return None


def variants(app) -> list[dict[str, Any]]:
    """One call per server callback; per button for button callbacks; per page for the
    page router."""
    out = []
    for key, v in app.callback_map.items():
        if v.get("callback") is None:   # clientside
            continue
        outputs = v["output"]
        multi = isinstance(outputs, (list, tuple))
        outs = [{"id": o.component_id, "property": o.component_property}
                for o in (outputs if multi else [outputs])]
        inputs = v["inputs"]
        first = inputs[0]["id"] if inputs else ""
        if all(i["property"] == "n_clicks" for i in inputs) and len(inputs) > 1:
            triggers = [(i, "/dispatch") for i in range(len(inputs))]
        elif first == "_pages_location":
            triggers = [(0, p) for p in ("/", "/login", "/wall", "/dispatch", "/comms",
                                         "/feeds")]
        else:
            triggers = [(0, "/dispatch")]
        for index, path in triggers:
            out.append({"key": key, "outputs": outs if multi else outs[0], "inputs": inputs,
                        "state": v["state"], "trigger": index, "path": path, "first": first})
    return out


def body_of(var: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    inputs = [{"id": i["id"], "property": i["property"],
               "value": value_for(i["id"], i["property"], s, var["path"])}
              for i in var["inputs"]]
    # buttons that are not the trigger have not been clicked
    if all(i["property"] == "n_clicks" for i in var["inputs"]):
        for n, i in enumerate(inputs):
            i["value"] = 1 if n == var["trigger"] else 0
    trig = var["inputs"][var["trigger"]]
    return {"output": var["key"], "outputs": var["outputs"], "inputs": inputs,
            "state": [{"id": x["id"], "property": x["property"],
                       "value": value_for(x["id"], x["property"], s, var["path"])}
                      for x in var["state"]],
            "changedPropIds": [f"{trig['id']}.{trig['property']}"]}


def permission_of(var: dict[str, Any]) -> str | None:
    """The permission a callback needs, from the role matrix above; None only for the
    callbacks listed as open. A callback missing from the matrix is an error, never open."""
    first = var["first"]
    if first in OPEN_CALLBACKS:
        return None
    if first not in PERMISSION_OF:
        raise AssertionError(f"callback {var['key'][:60]} (first input {first!r}) is not "
                             "in the role matrix (PERMISSION_OF / OPEN_CALLBACKS)")
    return PERMISSION_OF[first]


# -- the test ------------------------------------------------------------------------------------
@pytest.fixture
def app(settings):
    from dataclasses import replace

    from dashboard.web.audit_export import blueprint

    s = replace(settings, wall_token=WALL_TOKEN)
    assert "dispatch" in register_every_callback()
    dash_app = create_app(s)
    if "lukuang_dispatch" not in dash_app.server.blueprints:
        dash_app.server.register_blueprint(
            blueprint(lambda: dash_app.server.config["LUKUANG"]))
    yield dash_app
    dash_app.server.config["LUKUANG"].close()


def clients(app) -> dict[str, Any]:
    svc = app.server.config["LUKUANG"]
    out = {"anonymous": app.server.test_client()}
    for role in ROLES[1:]:
        add_user(svc.r, svc.keys, f"{role}1", role, PASSWORD)
        c = app.server.test_client()
        resp = c.post("/login", data={"username": f"{role}1", "password": PASSWORD,
                                      "next": "/"}, headers={"Origin": "http://localhost"})
        assert resp.status_code == 302 and "error" not in resp.headers["Location"], role
        out[role] = c
    return out


def test_every_callback_and_api_route_as_every_role(app, capsys):
    svc = app.server.config["LUKUANG"]
    cl = clients(app)
    calls = refusals = 0
    findings: list[str] = []
    officer_saw_pii = False
    unexpected: list[str] = []
    other_errors: list[str] = []
    covered: set[str] = set()
    for var in variants(app):
        need = permission_of(var)
        for role in ROLES:
            s = seed(svc)   # every call starts from the same state
            resp = cl[role].post("/_dash-update-component", json=body_of(var, s))
            calls += 1
            covered.add(var["key"])
            label = f"{var['key'][:60]} [{var['inputs'][var['trigger']]['id']} " \
                    f"{var['path']}] as {role}"
            allowed = need is None or role in ALLOWED_ROLES[need]
            if resp.status_code in (401, 403):
                refusals += 1
                if allowed:
                    unexpected.append(f"{label}: refused ({resp.status_code})")
                elif role == "anonymous" and need != "view_wall" and resp.status_code != 401:
                    unexpected.append(f"{label}: anonymous got {resp.status_code}, not 401")
            elif allowed:
                if resp.status_code not in (200, 204):
                    problem = f"{label}: status {resp.status_code} {resp.data[:200]!r}"
                    # our own callbacks must answer; others' with these generic inputs
                    # are reported, not failed
                    (unexpected if "dispatch" in var["key"] else other_errors).append(problem)
            else:
                unexpected.append(f"{label}: NOT refused ({resp.status_code})")
            text = decoded(resp.data)
            if role in RESTRICTED:
                findings += [f"{label}: {f}" for f in pii_findings(text)]
            elif role == "officer" and any(p in text for p in SECRET_PHONES):
                officer_saw_pii = True
    # API routes (GET), every role
    api_calls = api_refusals = 0
    rules = [r for r in app.server.url_map.iter_rules()
             if "GET" in r.methods and r.rule.startswith("/api/")]
    for rule in rules:
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: {"metric": "new:report"}.get(
            m.group(1), "x"), rule.rule)
        for role in ROLES:
            seed(svc)
            resp = cl[role].get(url)
            api_calls += 1
            if resp.status_code in (401, 403):
                api_refusals += 1
            if rule.rule == "/api/v1/audit.csv":
                if role == "admin":
                    assert resp.status_code == 200
                else:
                    assert resp.status_code in (401, 403), f"audit.csv as {role}"
            if role in RESTRICTED:
                findings += [f"GET {url} as {role}: {f}" for f in pii_findings(decoded(resp.data))]
    with capsys.disabled():
        print(f"\n[roles] Dash callbacks: {len(covered)} (variants {len(variants(app))}), "
              f"calls {calls}, refused {refusals}; API routes {len(rules)}, calls {api_calls}, "
              f"refused {api_refusals}; PII findings for restricted roles: {len(findings)}; "
              f"other callbacks' errors on generic inputs: {len(other_errors)}")
        for line in other_errors[:20]:
            print("   ", line)
    assert not unexpected, "\n".join(unexpected[:40])
    assert findings == [], "\n".join(findings[:40])
    assert officer_saw_pii, "the officer never saw the reporter's phone: the seeding is wrong"
    assert refusals > 0 and calls >= len(ROLES) * 10
    dispatch_keys = {k for k in covered if "dispatch" in k}
    assert len(dispatch_keys) == 9, sorted(dispatch_keys)


def test_own_patterns_catch_what_they_should():
    """The checks above must be able to fail."""
    for leak in ("电话１３９０５３８１２３４", "139-0538-1234", "鲁J12345", "鲁Ｊ１２３４５",
                 "0538-8261234", "联系人王小明"):
        assert pii_findings(leak), leak
    for clean in ("电话139****1234", "鲁J·1***5", "0538-***1234", "INC-000012 长城路 12 分钟",
                  "117.038968, 36.128666", "36.096799999999995", "1795425241.660"):
        assert pii_findings(clean) == [], clean


def test_the_role_matrix_covers_every_callback_and_nothing_else(app):
    """Every server callback of the app is in the role matrix (a new callback without an
    entry fails here instead of being treated as open), and no entry is left over."""
    firsts = {v["first"] for v in variants(app)}
    missing = sorted(f for f in firsts if f not in PERMISSION_OF and f not in OPEN_CALLBACKS)
    stale = sorted(set(PERMISSION_OF) - firsts)
    assert not missing, f"callbacks missing from the role matrix: {missing}"
    assert not stale, f"role-matrix entries for callbacks that no longer exist: {stale}"
    assert set(ALLOWED_ROLES) >= set(PERMISSION_OF.values())
