"""The audit trail: atomic commit with checks, append-only entries, filters, CSV export."""
from __future__ import annotations

import csv
import io
import json
import time

import pytest

from dashboard import audit
from dashboard.audit import Change, commit
from dashboard.auth import add_user

pytestmark = pytest.mark.topologies("single", "cluster")


def change(keys, key: str, expected: str, **fields) -> Change:
    ch = Change(action="test", target=f"thing:{key}", who="li", role="officer",
                before={"v": expected}, after=fields)
    ch.check(keys.incident(key), "rev", expected)
    ch.sets.append((keys.incident(key), {k: str(v) for k, v in fields.items()}))
    ch.bump.append(keys.incident(key))
    ch.zadd.append((keys.incidents_open(), 5.0, key))
    return ch


def test_commit_applies_everything_or_nothing(r, keys):
    v0 = int(r.get(keys.version()) or 0)
    ok = commit(r, keys, change(keys, "A", "", status="reported"))
    assert ok.ok and ok.version == v0 + 1 and ok.revs == [1]
    assert r.hgetall(keys.incident("A")) == {"status": "reported", "rev": "1"}
    assert audit.length(r, keys) == 1
    # a stale check: nothing is written, no audit entry, no version bump
    bad = change(keys, "A", "0", status="cleared")
    bad.zadd.append((keys.incidents_open(), 1.0, "B"))
    res = commit(r, keys, bad)
    assert not res.ok
    assert (res.conflict_key, res.conflict_field, res.expected, res.actual) == (
        keys.incident("A"), "rev", "0", "1")
    assert r.hget(keys.incident("A"), "status") == "reported"
    assert r.zscore(keys.incidents_open(), "B") is None
    assert audit.length(r, keys) == 1 and int(r.get(keys.version())) == v0 + 1
    # several checks: the second one fails, the first key is not touched either
    two = change(keys, "A", "1", status="verified")
    two.check(keys.incident("C"), "rev", "7")
    assert not commit(r, keys, two).ok
    assert r.hget(keys.incident("A"), "status") == "reported"


def test_entries_carry_who_what_before_after(r, keys):
    ch = change(keys, "A", "", status="reported")
    ch.note = "首次 <b>录入</b>"
    ch.rev = 1
    commit(r, keys, ch)
    (e,) = audit.read(r, keys)
    assert (e["who"], e["role"], e["action"], e["target"], e["rev"]) == (
        "li", "officer", "test", "thing:A", "1")
    assert json.loads(e["after"]) == {"status": "reported"}
    assert json.loads(e["before"]) == {"v": ""}
    assert abs(float(e["at"]) - time.time()) < 60
    assert e["note"] == "首次 <b>录入</b>"


def test_read_filters_and_paging(r, keys):
    for i in range(30):
        audit.append(r, keys, "li" if i % 2 else "zhao", "officer",
                     "assign" if i % 3 else "status:cleared", f"incident:INC-{i:06d}")
    assert audit.length(r, keys) == 30
    assert len(audit.read(r, keys, who="li")) == 15
    assert len(audit.read(r, keys, action="status:cleared")) == 10
    assert [e["target"] for e in audit.read(r, keys, target="incident:INC-00000")] == [
        f"incident:INC-00000{i}" for i in range(9, -1, -1)]
    oldest = audit.read(r, keys, count=3, newest_first=False)
    assert [e["target"][-2:] for e in oldest] == ["00", "01", "02"]
    assert len(audit.read(r, keys, who="li", count=4)) == 4
    assert audit.read(r, keys, since=time.time() + 3600) == []
    assert len(audit.read(r, keys, until=time.time() + 1)) == 30


def test_csv_is_spreadsheet_safe_and_keeps_chinese(r, keys):
    audit.append(r, keys, "li", "officer", "assign", "incident:INC-000001",
                 after={"status": "dispatched"}, note="=HYPERLINK(\"http://x\",\"点我\")")
    audit.append(r, keys, "wang", "aux", "acknowledge", "incident:INC-000001",
                 note="+86 138 0013 8000 已确认")
    text = audit.to_csv(audit.read(r, keys, newest_first=False))
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert [x["who"] for x in rows] == ["li", "wang"]
    assert rows[0]["note"].startswith("'=")
    assert rows[1]["note"].startswith("'+")
    assert json.loads(rows[0]["after"]) == {"status": "dispatched"}
    assert rows[0]["time_local"][:2] == "20"


@pytest.fixture
def app_client(settings, r, keys):
    from app import create_app
    from dashboard.web.audit_export import blueprint

    app = create_app(settings)
    if "lukuang_dispatch" not in app.server.blueprints:
        app.server.register_blueprint(blueprint(lambda: app.server.config["LUKUANG"]))
    for name, role in (("admin1", "admin"), ("officer1", "officer")):
        add_user(r, keys, name, role, "correct horse battery")
    yield app.server
    app.server.config["LUKUANG"].close()


def login(client, name):
    resp = client.post("/login", data={"username": name, "password": "correct horse battery",
                                       "next": "/"}, headers={"Origin": "http://localhost"})
    assert resp.status_code == 302 and "error" not in resp.headers["Location"]


def test_csv_export_is_for_admins_only(app_client, r, keys):
    audit.append(r, keys, "li", "officer", "assign", "incident:INC-000001")
    anon = app_client.test_client()
    assert anon.get("/api/v1/audit.csv").status_code in (401, 403)
    officer = app_client.test_client()
    login(officer, "officer1")
    assert officer.get("/api/v1/audit.csv").status_code == 403
    admin = app_client.test_client()
    login(admin, "admin1")
    resp = admin.get("/api/v1/audit.csv?since=2020-01-01&who=li")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True)[1:])))
    assert [x["action"] for x in rows] == ["assign"]
    # the export itself is audited
    assert audit.read(r, keys, count=1)[0]["action"] == "audit_export"
    assert admin.get("/api/v1/audit.csv?since=yesterday").status_code == 400
    assert admin.get("/api/v1/audit.csv?limit=0").status_code == 400
    assert admin.get("/api/v1/audit.csv?who=<script>").status_code == 400
