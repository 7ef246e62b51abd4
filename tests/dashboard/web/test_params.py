"""One "bad parameter" error for every route (dashboard.web.params.BadParameter): the same
``400 {"error": "<reason>"}`` from the JSON API and the audit export, the public road query's
own JSON error; and the audit export's since/until read by dashboard.timeutil.parse_time."""
import csv
import io
import time
from datetime import datetime, timedelta

import pytest
from flask import Flask

from app import create_app
from dashboard import audit
from dashboard.auth import add_user
from dashboard.timeutil import SHANGHAI
from dashboard.web.params import BadParameter, error_response

pytestmark = pytest.mark.topologies("single")


def test_error_response_is_400_with_the_reason_as_json():
    server = Flask(__name__)
    with server.test_request_context("/"):
        resp, status = error_response(BadParameter("limit must be between 1 and 5"))
        assert status == 400 and resp.mimetype == "application/json"
        assert resp.get_json() == {"error": "limit must be between 1 and 5"}


@pytest.fixture
def server(settings, r, keys):
    app = create_app(settings)
    add_user(r, keys, "admin1", "admin", "correct horse battery")
    yield app.server
    app.server.config["LUKUANG"].close()


@pytest.fixture
def admin(server):
    c = server.test_client()
    resp = c.post("/login", data={"username": "admin1", "password": "correct horse battery",
                                  "next": "/"}, headers={"Origin": "http://localhost"})
    assert resp.status_code == 302 and "error" not in resp.headers["Location"]
    return c


def test_api_and_audit_export_answer_a_bad_parameter_the_same_way(server, admin):
    api = server.test_client().get("/api/v1/events?limit=0")
    export = admin.get("/api/v1/audit.csv?limit=0")
    for resp in (api, export):
        assert resp.status_code == 400 and resp.mimetype == "application/json"
        assert set(resp.get_json()) == {"error"}
        assert resp.headers["Cache-Control"] == "no-store"
    assert export.get_json() == {"error": "limit: 1-100000"}


@pytest.mark.parametrize("query, error", [
    ("since=yesterday", "since/until: a date (YYYY-MM-DD) or epoch seconds, got 'yesterday'"),
    ("until=2026-02-30", "not a date: '2026-02-30'"),
    ("since=-5", "since/until out of range"),
    ("until=9999-12-31", "not a date: '9999-12-31'"),     # no next day: 400, not a 500
    ("limit=abc", "invalid literal for int() with base 10: 'abc'"),
    ("who=<script>", "who: letters, digits, '.', ':', '-', '_' only"),
])
def test_audit_export_bad_parameters_keep_their_reasons(admin, query, error):
    resp = admin.get(f"/api/v1/audit.csv?{query}")
    assert resp.status_code == 400 and resp.get_json() == {"error": error}


def test_a_bad_parameter_is_refused_only_after_the_permission_check(server):
    assert server.test_client().get("/api/v1/audit.csv?limit=0").status_code in (401, 403)


def test_audit_export_since_until_forms(admin, r, keys):
    audit.append(r, keys, "li", "officer", "assign", "incident:INC-000001")
    at = time.time()
    today = datetime.fromtimestamp(at, SHANGHAI)
    day = today.strftime("%Y-%m-%d")
    yesterday = (today - timedelta(days=1)).strftime("%Y-%m-%d")

    def actions(query):
        resp = admin.get(f"/api/v1/audit.csv?{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [x["action"] for x in csv.DictReader(io.StringIO(resp.get_data(as_text=True)[1:]))]
    assert "assign" in actions(f"since={day}&until={day}")            # until: end of the day
    assert "assign" not in actions(f"until={yesterday}")
    assert "assign" in actions(f"since={int(at) - 60}&until={int(at) + 60}")   # epoch seconds
    minute = datetime.fromtimestamp(at - 60, SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert "assign" in actions(f"since={minute.replace(' ', '%20')}")  # a local time
    later = datetime.fromtimestamp(at + 120, SHANGHAI).isoformat()
    assert "assign" not in actions(f"since={later.replace('+', '%2B')}")   # ISO 8601
