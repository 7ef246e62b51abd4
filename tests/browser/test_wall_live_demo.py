"""The whole demo, started as a user starts it (``lukuang run``), seen on /wall in Chromium.

The real simulator, the real feed runner and gunicorn run as children of one ``lukuang run``
process against the test Redis (its own key prefix, cleaned up by the ``keys`` fixture).
The test waits for the adapters to write data, opens /wall at 1920x1080, checks that the
page is clean (no console error, no request off loopback), filled (KPI numbers, the demo
feeds in the freshness strip) and live (the data version the page holds grows while the
upstream changes), saves a screenshot, and stops the demo with SIGTERM: it must exit in
time and leave none of its processes behind.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dashboard.storage.store import Store

from .conftest import MAP_READY, REPO, _free_port

pytestmark = pytest.mark.browser

DEMO_FEEDS = ("waze", "wzdx", "amap", "weibo", "hotline")
START_TIMEOUT_S = 90
CHANGE_TIMEOUT_S = 40
STOP_TIMEOUT_S = 20

# the wall's page state (dcc.Store wall-version) as the browser holds it
PAGE_STATE = """
    var s = window.store && window.store.getState();
    if (!s || !s.paths || !s.paths.strs) return null;
    var p = s.paths.strs['wall-version'];
    if (!p) return null;
    var node = s.layout;
    for (var i = 0; i < p.length; i++) { node = node[p[i]]; if (!node) return null; }
    return node.props ? node.props.data : null;"""
PAGE_TEXT = """
    function texts(sel) {
        return Array.from(document.querySelectorAll(sel)).map(function (e) {
            return e.textContent.trim(); });
    }
    return {kpis: texts('.lk-kpi-value'), feeds: texts('.lk-feed-name'),
            ages: texts('.lk-feed-age'), ticker: texts('.lk-ticker-item'),
            empty_ticker: texts('.lk-ticker-empty'),
            banners: texts('.lk-banner:not(.lk-hidden)'), clock: texts('.lk-wall-clock')};"""


def wait_until(fn, timeout: float, step: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step)
    return fn()


# -- processes through /proc (psutil is not installed) ------------------------------------------
def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2:].split()   # the name may hold spaces
    return int(fields[1]), fields[0]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def descendants(root: int) -> dict[int, str]:
    """Every live process below ``root``: pid -> command line."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    out: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out[pid] = _cmdline(pid)
        todo.extend(children.get(pid, []))
    return out


def alive(pid: int, cmdline: str) -> bool:
    """Still running (not a zombie) and still the same program (no reused pid)."""
    st = _stat(pid)
    return st is not None and st[1] != "Z" and _cmdline(pid) == cmdline


# -- the test -------------------------------------------------------------------------------------
def test_live_demo_on_the_wall(redis_url, r, keys, tmp_path, browser_factory, screenshot_dir):
    port, sim_port = _free_port(), _free_port()
    while sim_port == port:
        sim_port = _free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "LUKUANG_KEY_PREFIX": keys.prefix,
           "LUKUANG_STATE_DIR": str(tmp_path), "LUKUANG_SIM_PORT": str(sim_port),
           "LUKUANG_WORKERS": "1", "PYTHONUNBUFFERED": "1"}
    for name in ("LUKUANG_CONFIG", "LUKUANG_WALL_TOKEN", "LUKUANG_DEMO", "LUKUANG_PORT"):
        env.pop(name, None)
    # as in an activated venv: the `lukuang` console script is on PATH (cmd_run starts the
    # simulator and the feed runner through it)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    log_path = tmp_path / "lukuang-run.log"
    log = open(log_path, "w")
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys, app; sys.exit(app.main())", "run", "--port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    seen_children: dict[int, str] = {}

    def log_tail() -> str:
        log.flush()
        return log_path.read_text(errors="replace")[-6000:]

    try:
        # -- start: /healthz, then data from the real adapters ------------------------------
        t_health = t_data = None
        health: dict = {}
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and t_data is None:
            assert proc.poll() is None, f"lukuang run exited with {proc.returncode}:\n{log_tail()}"
            seen_children.update(descendants(proc.pid))
            try:
                resp = httpx.get(f"{base}/healthz", timeout=2)
                if resp.status_code == 200:
                    health = resp.json()
                    if t_health is None:
                        t_health = time.monotonic() - t0
                    if (health.get("data_version") or 0) > 0:
                        t_data = time.monotonic() - t0
                        break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        assert t_health is not None, f"/healthz never answered 200:\n{log_tail()}"
        assert t_data is not None, f"data version still {health}:\n{log_tail()}"
        print(f"\nlukuang run: first /healthz 200 after {t_health:.1f} s, "
              f"data version > 0 after {t_data:.1f} s ({health})")
        sim = httpx.get(f"http://127.0.0.1:{sim_port}/healthz", timeout=5).json()
        print(f"simulator: {sim}")

        # -- the wall -----------------------------------------------------------------------
        b = browser_factory(1920, 1080)
        t_open = time.monotonic()
        b.driver.get(f"{base}/wall")
        drawn = wait_until(lambda: b.driver.execute_script(MAP_READY), timeout=45)
        assert drawn, "the map did not draw"
        # every demo feed on the strip: each adapter's first poll has landed (on a busy
        # machine the first polls of the slower feeds take a while after the first data)
        filled = wait_until(lambda: (lambda t: t["kpis"] and t["kpis"][0] != "—"
                                     and t["kpis"][2] != "—"
                                     and set(DEMO_FEEDS) <= set(t["feeds"] or ()) and t)(
            b.driver.execute_script(PAGE_TEXT)), timeout=90)
        print(f"wall: map drawn with {drawn} rendered features, filled after "
              f"{time.monotonic() - t_open:.1f} s")
        text = b.driver.execute_script(PAGE_TEXT)
        print(f"wall text: {text}")
        assert filled, f"KPI tiles or the feed strip stayed incomplete: {text}"
        assert b.driver.execute_script("return [innerWidth, innerHeight]") == [1920, 1080]
        incidents, roadworks = text["kpis"][0], text["kpis"][2]
        assert incidents.isdigit() and roadworks.isdigit(), text["kpis"]
        assert float(text["kpis"][1]) >= 0   # congested km is a number too
        assert set(DEMO_FEEDS) <= set(text["feeds"]), text["feeds"]

        # -- live: the page follows the upstream ----------------------------------------------
        state0 = wait_until(lambda: b.driver.execute_script(PAGE_STATE), timeout=10)
        assert state0 and state0.get("v"), f"no page state: {state0}"
        v0 = int(state0["v"])
        switched = httpx.get(f"http://127.0.0.1:{sim_port}/scenario",
                             params={"name": "holiday"}, timeout=5)
        assert switched.status_code == 200 and switched.json()["scenario"] == "holiday"
        t_switch = time.monotonic()
        state1 = wait_until(lambda: (lambda s: s if s and int(s.get("v") or 0) > v0 else None)(
            b.driver.execute_script(PAGE_STATE)), timeout=CHANGE_TIMEOUT_S)
        assert state1, f"the page's data version stayed {v0} for {CHANGE_TIMEOUT_S} s"
        print(f"wall: page data version {v0} -> {state1['v']} "
              f"{time.monotonic() - t_switch:.1f} s after the holiday switch")

        def picture(state, t):   # what a person in the room sees change
            return (state.get("lv"), state.get("mk"), t["kpis"], t["ticker"])
        p0 = picture(state0, text)
        changed = wait_until(lambda: (lambda s, t: s if s and picture(s, t) != p0 else None)(
            b.driver.execute_script(PAGE_STATE), b.driver.execute_script(PAGE_TEXT)),
            timeout=max(1.0, CHANGE_TIMEOUT_S - (time.monotonic() - t_switch)))
        assert changed, "map colours, markers, KPI tiles and ticker all stayed the same"
        what = [name for name, a, c in zip(("congestion lines", "markers", "KPI tiles", "ticker"),
                                            p0, picture(changed, b.driver.execute_script(PAGE_TEXT)))
                if a != c]
        print(f"wall: visible change {time.monotonic() - t_switch:.1f} s after the switch: {what}")
        time.sleep(1.5)   # let MapLibre finish drawing labels before the screenshot
        text1 = b.driver.execute_script(PAGE_TEXT)
        print(f"wall text after the change: {text1}")
        for name, h in sorted(Store(r, keys).feed_health().items()):
            print(f"feed health {name}: {h}")
        b.driver.save_screenshot(str(screenshot_dir / "wall-live-demo.png"))

        b.collect()
        assert b.urls, "no request was recorded (performance logging broken?)"
        assert b.foreign_requests() == []
        assert b.severe() == []

        # -- stop: SIGTERM to `lukuang run`, nothing left behind --------------------------------
        seen_children.update(descendants(proc.pid))
        running = {pid: cmd for pid, cmd in seen_children.items() if alive(pid, cmd)}
        print(f"children before stop: {running}")
        names = " ".join(running.values())
        assert " sim" in names and " feeds" in names and "gunicorn" in names, running
        t_stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"lukuang run did not exit {STOP_TIMEOUT_S} s after SIGTERM:\n{log_tail()}")
        print(f"lukuang run exited with {code} {time.monotonic() - t_stop:.1f} s after SIGTERM")
        time.sleep(0.5)
        left = {pid: cmd for pid, cmd in seen_children.items() if alive(pid, cmd)}
        assert left == {}, f"processes left after lukuang run exited: {left}"
        assert code == 0, log_tail()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        seen_children.update(descendants(proc.pid) if proc.poll() is None else {})
        for pid, cmd in seen_children.items():
            if alive(pid, cmd):
                os.kill(pid, signal.SIGKILL)
        log.close()
