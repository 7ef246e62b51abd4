"""The dispatch desk in headless Chromium, as a duty officer uses it: log in, wait for the
page to be usable, select an incident and acknowledge it.

    .venv/bin/python bench/bench_desk.py [--redis redis://127.0.0.1:6379/14]
                                         [--incidents 30] [--logins 5] [--actions 10]

The real app (``lukuang run --no-demo --no-feeds``: gunicorn, production settings, a
private key prefix deleted afterwards) with ``--incidents`` open incidents and 12 free
units on the demo network, and one officer account. In headless Chromium at 1920x1080
(tests/browser/conftest.py ``Browser``), measured in the page (``performance.now()``, the
navigation's start = the login form's submission, its 302 included):
- first paint: the first contentful paint of /dispatch after the login;
- interactive: the queue grid has rows and the map is drawn (a script installed before
  the page's own checks every 10 ms);
- select → buttons: a click on the first unacknowledged row until the acknowledge button
  is enabled (the detail of that incident is shown);
- action round trip: the acknowledge button clicked → the answer shown next to it and the
  detail saying "acknowledged"; the server time of that action's POST to
  /_dash-update-component (Resource Timing: requestStart → responseStart, loopback).
The first login runs with an empty browser cache (cold), the others with the cache of the
previous ones (warm, as a duty officer's browser is). Writes the "## Dispatch desk in the
browser" section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import common  # noqa: E402
from dashboard.auth import User, add_user  # noqa: E402
from dashboard.dispatch import incidents as I  # noqa: E402
from dashboard.dispatch import units as U  # noqa: E402
from dashboard.model import RoadEvent  # noqa: E402
from dashboard.settings import load_settings  # noqa: E402
from dashboard.storage.store import Store  # noqa: E402

SECTION = "## Dispatch desk in the browser"
GOAL_ACTION_S = 0.300
GOAL_INTERACTIVE_S = 1.0
LON, LAT = 117.10278, 36.195835      # 东岳大街, central Tai'an
OFFICER = "bench.desk"
# installed before every document: when the queue first has rows and the map is drawn
WATCH = """
window.__desk = {};
(function () {
  function check() {
    var d = window.__desk;
    if (!d.rows && document.querySelector('#dispatch-grid .ag-center-cols-container .ag-row'))
      d.rows = performance.now();
    if (!d.map && document.querySelector('#dispatch-map .maplibregl-canvas'))
      d.map = performance.now();
    if (!(d.rows && d.map)) setTimeout(check, 10);
  }
  check();
})();
"""
FIRST_PAINT = """
var p = performance.getEntriesByName('first-contentful-paint')[0];
var d = window.__desk || {};
return {fcp: p ? p.startTime : null, rows: d.rows || null, map: d.map || null};"""
# arguments[0]: the row's incident id; resolves with ms from the click to the enabled button
SELECT = """
var done = arguments[arguments.length - 1], id = arguments[0];
var cell = document.querySelector(".ag-row[row-id='" + id + "'] .ag-cell[col-id='place']");
var btn = document.getElementById('dispatch-btn-ack');
var t0 = performance.now();
cell.click();
(function wait() {
  var shown = document.getElementById('dispatch-detail-id');
  if (!btn.disabled && shown && shown.textContent === id) return done(performance.now() - t0);
  if (performance.now() - t0 > 30000) return done(null);
  setTimeout(wait, 5);
})();"""
# click acknowledge; resolves with [ms to the answer shown, server ms, total ms of the POST]
ACK = """
var done = arguments[arguments.length - 1];
var msg = document.getElementById('dispatch-message');
var detail = document.getElementById('dispatch-detail');
performance.clearResourceTimings();
var t0 = performance.now();
document.getElementById('dispatch-btn-ack').click();
(function wait() {
  if (msg.textContent.indexOf('acknowledged') >= 0 &&
      detail.textContent.indexOf('已确认 acknowledged') >= 0) {
    var shown = performance.now() - t0;
    var posts = performance.getEntriesByType('resource').filter(function (e) {
      return e.name.indexOf('_dash-update-component') >= 0 && e.startTime >= t0; });
    var first = posts[0];
    return done([shown, first ? first.responseStart - first.requestStart : null,
                 first ? first.duration : null, posts.length]);
  }
  if (performance.now() - t0 > 30000) return done(null);
  setTimeout(wait, 5);
})();"""
FIRST_UNACKED = """
var rows = document.querySelectorAll('#dispatch-grid .ag-center-cols-container .ag-row');
for (var i = 0; i < rows.length; i++) {
  var ack = rows[i].querySelector(".ag-cell[col-id='ack']");
  if (ack && ack.textContent.trim() === '否') return rows[i].getAttribute('row-id');
}
return null;"""
# where the load's time went: the slowest requests of the page (after login)
RESOURCES = """
return performance.getEntriesByType('resource').map(function (e) {
  return [e.name.replace(location.origin, ''), e.startTime, e.duration,
          e.responseStart - e.requestStart, e.transferSize]; });"""


def seed(store: Store, n: int) -> None:
    """``n`` open incidents (from accident events around the centre) and 12 free units."""
    r, keys = store.r, store.keys
    now = time.time()
    duty = User("bench.seed", "officer")
    events = [RoadEvent(id=f"benchdesk:{i}", kind="incident", category="accident",
                        severity=1 + i % 3, source="benchdesk",
                        observed_at=datetime.fromtimestamp(now - 60 * i, timezone.utc),
                        lon=LON + 0.004 * (i % 8) - 0.014, lat=LAT + 0.003 * (i // 8) - 0.006,
                        road_names=("东岳大街",), text=f"bench accident {i}",
                        attrs={"place": f"东岳大街 {i} 号附近"}) for i in range(n)]
    store.upsert_events(events)
    for ev in events:
        I.create_from_event(r, keys, duty, ev.id)
    U.apply_feed(r, keys, [U.UnitReport(f"B-{i:02d}", "patrol_car", f"泰安交警B{i:02d}",
                                        LON + 0.01 * (i % 4) - 0.015,
                                        LAT + 0.01 * (i // 4) - 0.01, "free", now)
                           for i in range(12)])


def login(b, base: str, password: str) -> dict:
    """Log in from the login page; the page figures (ms from the submission)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    d = b.driver
    d.get("about:blank")        # the previous page's ticks stop before its session goes
    d.delete_all_cookies()
    d.get(f"{base}/login?next=/dispatch")
    wait = WebDriverWait(d, 60)
    wait.until(EC.presence_of_element_located((By.NAME, "username"))).send_keys(OFFICER)
    d.find_element(By.NAME, "password").send_keys(password)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(lambda _d: "/dispatch" in _d.current_url)
    got = wait.until(lambda _d: (lambda v: v if v and v["rows"] and v["map"] else None)(
        _d.execute_script(FIRST_PAINT)))
    got["interactive"] = max(got["rows"], got["map"])
    got["resources"] = d.execute_script(RESOURCES)
    return got


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis", default=os.environ.get("LUKUANG_BENCH_REDIS",
                                                      "redis://127.0.0.1:6379/14"))
    ap.add_argument("--incidents", type=int, default=30)
    ap.add_argument("--logins", type=int, default=5)
    ap.add_argument("--actions", type=int, default=10)
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    ap.add_argument("--timeline", action="store_true",
                    help="print every request of the last login (start, duration, server ms)")
    args = ap.parse_args(argv)
    common.exit_on_sigterm()
    from tests.browser.conftest import Browser

    r = redis.Redis.from_url(args.redis, decode_responses=True)
    load_before = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    prefix = f"lkbenchdesk{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="lkbenchdesk"))
    settings = load_settings(env={}, redis_url=args.redis, key_prefix=prefix)
    store = Store.from_settings(r, settings)
    env = {**os.environ, "REDIS_URL": args.redis, "LUKUANG_KEY_PREFIX": prefix,
           "LUKUANG_STATE_DIR": str(tmp / "state"), "LUKUANG_SECRET_KEY": "bench",
           "LUKUANG_WALL_TOKEN": uuid.uuid4().hex, "LUKUANG_DEMO": "0",
           "PYTHONUNBUFFERED": "1"}
    env.pop("LUKUANG_CONFIG", None)
    procs = common.Procs()
    logins: list[dict] = []
    selects: list[float] = []
    acks: list[list[float]] = []
    b = None
    try:
        seed(store, args.incidents)
        password = uuid.uuid4().hex
        add_user(r, store.keys, OFFICER, "officer", password)
        _web, base, _url, _search = common.start_web(procs, env, tmp, env["LUKUANG_WALL_TOKEN"])
        b = Browser(1920, 1080)
        b.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
        for i in range(args.logins):
            got = login(b, base, password)
            logins.append(got)
            print(json.dumps({k: v for k, v in got.items() if k != "resources"}),
                  file=sys.stderr, flush=True)
        if args.timeline and logins:
            for name, start, dur, server, size in logins[-1]["resources"]:
                print(f"{start:8.0f} {dur:7.0f} {server:7.0f} {size:9d} {name[:90]}",
                      file=sys.stderr)
        b.driver.set_script_timeout(60)
        for _ in range(args.actions):
            inc = b.driver.execute_script(FIRST_UNACKED)
            if not inc:
                break
            ms = b.driver.execute_async_script(SELECT, inc)
            if ms is None:
                raise RuntimeError(f"selecting {inc} did not enable the buttons")
            selects.append(ms)
            got = b.driver.execute_async_script(ACK)
            if got is None:
                raise RuntimeError(f"acknowledging {inc} showed no answer")
            acks.append(got)
            print(json.dumps({"incident": inc, "select_ms": ms, "ack": got}), file=sys.stderr,
                  flush=True)
            time.sleep(0.3)
        b.collect()
        severe = b.severe()
        for m in severe:
            print("console:", m.get("message", "")[:300], file=sys.stderr)
    finally:
        if b is not None:
            b.quit()
        procs.stop_all()
        common.drop_keys(r, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    result = summarise(logins, selects, acks, args.incidents)
    result["console_errors"] = len(severe)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    if not args.no_write:
        common.write_section(SECTION, markdown(result, common.machine_line(r.info("server")),
                                               load_before))
    return 0


def summarise(logins: list[dict], selects: list[float], acks: list[list[float]],
              incidents: int) -> dict:
    """Seconds: cold (first login) and warm (the others) page figures, the action's."""
    def secs(values: list[float]) -> dict:
        return {k: round(v / 1000, 3) for k, v in common.percentiles(values, (50, 95)).items()}
    warm = logins[1:] or logins
    slow: dict[str, list[float]] = {}
    for got in warm:
        for name, start, dur, server, _size in got["resources"]:
            key = name.split("?")[0]
            slow.setdefault(key, []).append(server if "_dash-update" in key else dur)
    top = sorted(((k, max(v), len(v) // max(1, len(warm))) for k, v in slow.items()),
                 key=lambda x: -x[1])[:6]
    return {
        "incidents": incidents, "logins": len(logins), "actions": len(acks),
        "cold": {k: round(logins[0][k] / 1000, 3) for k in ("fcp", "rows", "map",
                                                            "interactive")} if logins else {},
        "warm_fcp": secs([g["fcp"] for g in warm if g["fcp"]]),
        "warm_interactive": secs([g["interactive"] for g in warm]),
        "select": secs(selects),
        "ack_shown": secs([a[0] for a in acks]),
        "ack_server": secs([a[1] for a in acks if a[1] is not None]),
        "ack_posts": max((a[3] for a in acks), default=0),
        "warm_slowest": [(k, round(ms / 1000, 3), n) for k, ms, n in top],
    }


def markdown(res: dict, machine: str, load_before: str) -> str:
    def cell(s: dict) -> str:
        return f"{s['p50']:.2f} / {s['p95']:.2f} / {s['max']:.2f}" if s else "—"

    def verdict(s: dict, goal: float) -> str:
        return "met" if s and s["p95"] <= goal else "**not met**"

    cold = res["cold"]
    return "\n".join([
        SECTION, "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `bench/bench_desk.py`.",
        machine + f" (Load average before: {load_before}.)", "",
        f"The real app under gunicorn with {res['incidents']} open incidents and 12 free units "
        "on the demo network; headless Chromium at 1920x1080 (software rendering), one officer. "
        f"{res['logins']} logins (the first with an empty browser cache), {res['actions']} "
        "acknowledgements of the first unacknowledged incident. Times in seconds from the "
        "login form's submission (its 302 included) or from the click.", "",
        "| step | seconds, p50 / p95 / max | goal |",
        "| --- | ---: | --- |",
        f"| login → first paint, cold cache | {cold.get('fcp', 0):.2f} | |",
        f"| login → interactive (queue rows and map drawn), cold cache | "
        f"{cold.get('interactive', 0):.2f} | |",
        f"| login → first paint, warm cache | {cell(res['warm_fcp'])} | |",
        f"| login → interactive, warm cache | {cell(res['warm_interactive'])} | ≤ 1 s: "
        f"{verdict(res['warm_interactive'], GOAL_INTERACTIVE_S)} |",
        f"| row clicked → detail shown, buttons enabled | {cell(res['select'])} | |",
        f"| acknowledge: server time of the action's POST | {cell(res['ack_server'])} | "
        f"≤ 0.3 s: {verdict(res['ack_server'], GOAL_ACTION_S)} |",
        f"| acknowledge: click → answer and detail shown | {cell(res['ack_shown'])} | |",
        "",
        f"One POST per action carries the answer, the detail and the queue (the map only when the action changed it) "
        f"(at most {res['ack_posts']} callback requests started until the answer showed). "
        "Slowest requests of a warm login (server time for callbacks, whole request for "
        "files; seconds, max): "
        + "; ".join(f"`{k}` {v:.2f}" + (f" ×{n}" if n > 1 else "")
                    for k, v, n in res["warm_slowest"]) + ". "
        f"Console errors: {res['console_errors']}.", "",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
