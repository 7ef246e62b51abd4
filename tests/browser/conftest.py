"""Browser test fixtures: a real gunicorn serving the app against the test Redis, and headless
Chromium with performance logging so that every request URL the page makes is recorded.

Chromium and chromedriver come from Debian (``chromium``, ``chromium-driver``; .ci/run installs
them). Without them the browser tests skip, naming the missing binary.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis

from bench.common import stop_process, wait_http
from dashboard.storage.keys import Keys
from dashboard.storage.store import Store

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("LUKUANG_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LUKUANG_CHROMEDRIVER", "/usr/bin/chromedriver")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
WALL_TOKEN = "wall-test-token"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
                "--metrics-recording-only", "--no-default-browser-check",
                "--disable-features=Translate,OptimizationHints,MediaRouter",
                # WebGL (MapLibre) without a GPU: Chromium's software renderer
                "--use-angle=swiftshader", "--enable-unsafe-swiftshader")


def _missing_binary() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() and os.access(path, os.X_OK)) and not shutil.which(path):
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# JavaScript run in the page: the wall's MapLibre map (assets/wall_map.js keeps it in
# window.lukuangWall), and how many features it has drawn once it is loaded and went idle
# with the first levels applied (MAP_READY; 0 while it is not).
MAP_READY = """
    var W = window.lukuangWall;
    if (!W || !W.map || !W.loaded || W.firstIdle === null) return 0;
    if (!document.querySelector('#wall-map .maplibregl-canvas')) return 0;
    return W.map.queryRenderedFeatures().length;"""
# how many segments MapLibre holds at level arguments[0] (the feature state it draws with)
LEVEL_COUNT = """
    var W = window.lukuangWall, n = 0;
    for (var i = 1; i <= W.lv.length; i++) {
        var st = W.map.getFeatureState({source: 'net', id: i});
        if (st && st.l === arguments[0]) n++;
    }
    return n;"""


@pytest.fixture(scope="module")
def browser_keys(redis_url):
    """A unique key prefix for the module's server; everything under it is deleted after."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    k = Keys(prefix=f"lkbrowser{uuid.uuid4().hex[:8]}", city="taian")
    yield k
    for key in client.scan_iter(match=f"{k.prefix}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def browser_store(redis_url, browser_keys) -> Store:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield Store(client, browser_keys)
    client.close()


@pytest.fixture(scope="module")
def live_server(redis_url, browser_keys, tmp_path_factory):
    """gunicorn (2 workers) serving ``app:server`` on a free loopback port; the wall token is
    WALL_TOKEN and the refresh interval 1 s. Yields the base URL."""
    missing = _missing_binary()
    if missing:
        pytest.skip(f"browser tests need {missing} (Debian packages chromium, chromium-driver)")
    port = _free_port()
    state = tmp_path_factory.mktemp("browser-state")
    env = {**os.environ, "REDIS_URL": redis_url, "LUKUANG_KEY_PREFIX": browser_keys.prefix,
           "LUKUANG_STATE_DIR": str(state), "LUKUANG_WALL_TOKEN": WALL_TOKEN,
           "LUKUANG_REFRESH_S": "1", "LUKUANG_SECRET_KEY": "browser-test"}
    env.pop("LUKUANG_CONFIG", None)
    log = open(state / "gunicorn.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:server", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--timeout", "60"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc, 60, state / "gunicorn.log")
    except RuntimeError:
        stop_process(proc)
        log.close()
        raise
    yield base
    stop_process(proc, timeout=15)
    log.close()


class Browser:
    """A Chromium session that records console messages and every requested URL."""

    def __init__(self, width: int, height: int):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in CHROME_FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--window-size={width},{height}")
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.urls: list[str] = []
        self.console: list[dict] = []

    def collect(self) -> None:
        """Drain the browser's logs into ``urls`` and ``console``."""
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                self.urls.append(msg["params"]["request"]["url"])
            elif msg.get("method") == "Network.webSocketCreated":
                self.urls.append(msg["params"]["url"])
        self.console.extend(self.driver.get_log("browser"))

    def foreign_requests(self) -> list[str]:
        """Every recorded request to a host other than 127.0.0.1/localhost."""
        out = []
        for url in self.urls:
            p = urlparse(url)
            if p.scheme in ("data", "blob", "about", "chrome", "devtools"):
                continue
            if p.hostname not in LOCAL_HOSTS:
                out.append(url)
        return out

    def severe(self) -> list[dict]:
        return [m for m in self.console if m.get("level") == "SEVERE"]

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture
def browser_factory():
    """``open(width, height) -> Browser``; every browser opened is closed after the test."""
    missing = _missing_binary()
    if missing:
        pytest.skip(f"browser tests need {missing} (Debian packages chromium, chromium-driver)")
    opened: list[Browser] = []

    def open_(width: int = 1920, height: int = 1080) -> Browser:
        b = Browser(width, height)
        opened.append(b)
        return b
    yield open_
    for b in opened:
        b.quit()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def log_out(driver) -> None:
    """Log out as a person does: the logout button (a POST form) of the page shown, if the
    page has one. A GET /logout is refused (405), so no page can log anyone out by a link."""
    forms = driver.find_elements("css selector", "form[action='/logout'] button[type=submit]")
    if forms:
        forms[0].click()
        deadline = time.time() + 20
        while time.time() < deadline and "/login" not in driver.current_url:
            time.sleep(0.1)


def wait_for(driver, predicate, timeout: float = 20, what: str = "", step: float = 0.1):
    """``predicate(driver)``'s first truthy value, polled until ``timeout`` s; a page still
    loading or rendering may raise meanwhile. Fails naming ``what`` and the last answer."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate(driver)
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - the page is still loading
            last = exc
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")
