"""Move-car tasks in the real Redis: opening (once per report), the 5-minute clock, the
officer's marks, roles (plate for see_pii only), and the clearance statistics per district."""
from datetime import datetime, timedelta

import pytest

from dashboard import audit
from dashboard.auth import User
from dashboard.citizen import movecar as M
from dashboard.dispatch.clearance import clearance_stats
from dashboard.timeutil import SHANGHAI

pytestmark = pytest.mark.topologies("single", "cluster")
OFFICER, AUX, ADMIN = User("li.wei", "officer"), User("fujing1", "aux"), User("root", "admin")
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=SHANGHAI).timestamp()


def open_one(r, keys, report="qr:1001-AAAA", district="泰山区", at=T0):
    r.hset(keys.private(report), mapping={"plate": "鲁J12345", "phone": "13812345678"})
    return M.open_task(r, keys, report, "qr", "东岳大街与迎胜路路口", 117.06, 36.19, district,
                       now=at)


def test_a_report_opens_one_task_with_a_five_minute_clock(r, keys):
    task_id, new = open_one(r, keys)
    assert new and task_id == "MC-1"
    assert open_one(r, keys) == ("MC-1", False)          # the same report again
    t = M.get(r, keys, task_id)
    assert t.status == "open" and t.deadline_at - t.opened_at == M.CLOCK_S == 300
    assert M.active_count(r, keys) == 1
    rows = M.rows(r, keys, OFFICER, now=T0 + 61)
    assert rows[0]["left"] == "3:59" and rows[0]["plate"] == "鲁J12345"
    assert M.rows(r, keys, OFFICER, now=T0 + 330)[0]["left"] == "超时 overdue 0:30"
    entry = audit.read(r, keys)[-1]
    assert entry["action"] == "movecar_open" and "鲁J" not in str(entry)


def test_restricted_roles_never_get_the_plate(r, keys):
    open_one(r, keys)
    aux_rows = M.rows(r, keys, AUX, now=T0 + 10)
    assert aux_rows[0]["plate"] == "已隐藏 masked" and "12345" not in str(aux_rows)
    for who in (User("wall-display", "wall"), User("c", "comms")):
        with pytest.raises(M.MoveCarError):
            M.rows(r, keys, who, now=T0)


def test_officer_marks_notified_then_moved(r, keys):
    task_id, _ = open_one(r, keys)
    with pytest.raises(M.MoveCarError, match="may not"):
        M.mark(r, keys, AUX, task_id, "moved", now=T0 + 30)
    t = M.mark(r, keys, OFFICER, task_id, "notified", now=T0 + 60)
    assert t.status == "notified" and t.notified_at == T0 + 60
    with pytest.raises(M.MoveCarError, match="already"):
        M.mark(r, keys, OFFICER, task_id, "notified", now=T0 + 70)
    t = M.mark(r, keys, ADMIN, task_id, "moved", now=T0 + 240)
    assert t.status == "moved" and t.closed_by == "root" and M.active_count(r, keys) == 0
    with pytest.raises(M.MoveCarError, match="closed"):
        M.mark(r, keys, OFFICER, task_id, "towed", now=T0 + 250)
    assert M.rows(r, keys, OFFICER, now=T0 + 300)[0]["left"] == "用时 took 4:00"
    assert M.rows(r, keys, OFFICER, now=T0 + 240 + M.SHOW_CLOSED_S + 1) == []
    with pytest.raises(M.MoveCarError, match="no move-car task"):
        M.mark(r, keys, OFFICER, "MC-999", "moved")
    with pytest.raises(M.MoveCarError, match="unknown action"):
        M.mark(r, keys, OFFICER, task_id, "burn")


def test_clearance_statistics_per_district(r, keys):
    a, _ = open_one(r, keys, "qr:a", "泰山区", T0)
    b, _ = open_one(r, keys, "qr:b", "泰山区", T0 + 60)
    c, _ = open_one(r, keys, "qr:c", "岱岳区", T0 + 120)
    open_one(r, keys, "qr:d", "岱岳区", T0 + 180)          # still open
    M.mark(r, keys, OFFICER, a, "moved", now=T0 + 180)       # 3 min
    M.mark(r, keys, OFFICER, b, "towed", now=T0 + 60 + 720)  # 12 min
    M.mark(r, keys, OFFICER, c, "moved", now=T0 + 120 + 240)  # 4 min
    day = datetime.fromtimestamp(T0, SHANGHAI).replace(hour=0)
    rows = {x["district"]: x for x in clearance_stats(r, keys, day, day + timedelta(days=1))}
    assert rows["全市"]["movecar_n"] == 4 and rows["全市"]["movecar_closed"] == 3
    assert rows["全市"]["movecar_median"] == 4.0 and rows["全市"]["movecar_in_clock"] == 2
    assert (rows["泰山区"]["movecar_n"], rows["泰山区"]["movecar_closed"]) == (2, 2)
    assert rows["泰山区"]["movecar_median"] == 7.5 and rows["泰山区"]["movecar_in_clock"] == 1
    assert (rows["岱岳区"]["movecar_n"], rows["岱岳区"]["movecar_closed"]) == (2, 1)
    assert rows["岱岳区"]["incidents"] == 0


def test_the_desk_table_and_marks(r, keys, settings):
    """callbacks.dispatch's move-car functions: the table per role, the marks refused for
    aux, no update while nothing is open and nothing changed."""
    from dash.exceptions import PreventUpdate

    from callbacks import dispatch as cb
    from dashboard.services import Services

    svc = Services.open(settings, start_embedded=False)
    try:
        with pytest.raises(PreventUpdate):
            cb.movecar_view(svc, OFFICER, {"v": svc.store.version(), "n": 0})
        task_id, _ = open_one(svc.r, svc.keys)
        out = cb.movecar_view(svc, OFFICER, {"v": -1, "n": 0})
        assert "鲁J12345" in str(out["table"]) and out["options"][0]["value"] == task_id
        aux = cb.movecar_view(svc, AUX, None)
        assert "12345" not in str(aux["table"]) and "已隐藏" in str(aux["table"])
        refused = cb.movecar_act(svc, AUX, task_id, "moved", 3)
        assert "may not" in str(refused["message"])
        done = cb.movecar_act(svc, OFFICER, task_id, "towed", 3)
        assert "已拖移" in str(done["message"]) and done["bump"] == 4
        assert "Pick" in str(cb.movecar_act(svc, OFFICER, None, "moved")["message"])
    finally:
        svc.close()
