"""Every Lua script and every MULTI of the app touches one Redis Cluster slot: the city's.

The real operations run against the machine Redis while a MONITOR connection records the
commands. Each EVAL/EVALSHA (its declared keys and every key its ``redis.call``s touch, which
MONITOR shows as ``[db lua]`` lines right after it) and each MULTI…EXEC group must hash to
one slot and carry the city's hash tag. The SHA1s seen must cover every script text in the
code base, so a new script that no operation here exercises fails this test.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import re
import threading
import time
from datetime import datetime, timezone
from importlib import resources

import redis
from redis.crc import key_slot

import dashboard
import feeds
from dashboard import auth
from dashboard.dispatch import incidents
from dashboard.dispatch import units
from dashboard.auth import User
from dashboard.storage.keys import Keys
from dashboard.comms.reach import PostMetrics, ReachStore
from dashboard.settings import FeedConfig
from dashboard.storage.store import Store
from feeds.registry import get_adapter
from feeds.runner import FeedWorker
from tests.conftest import REPO
from tests.engines.monitor import Monitor, command_keys
from tests.dashboard.storage.test_store import NOW, ev

OFFICER = User("li", "officer")
def calls(r: redis.Redis, lines: list[tuple[str, list[bytes]]], prefix: str):
    """Yield (what, sha1 or None, keys) per script call and per MULTI…EXEC group of ours."""
    scripts: list[list] = []   # [sha1, keys]
    open_multi: dict[str, list[str]] = {}
    groups: list[list[str]] = []
    for client, args in lines:
        name = args[0].upper() if client != "lua" else b"<lua>"
        if client == "lua":
            if scripts:  # a script runs atomically: its calls follow its own EVAL line
                scripts[-1][1] += command_keys(r, args)
        elif name in (b"EVAL", b"EVALSHA"):
            n = int(args[2])
            sha = (hashlib.sha1(args[1]).hexdigest() if name == b"EVAL"
                   else args[1].decode())
            scripts.append([sha, [k.decode() for k in args[3:3 + n]]])
        elif name == b"MULTI":
            open_multi[client] = []
        elif name == b"EXEC":
            groups.append(open_multi.pop(client, []))
        elif client in open_multi:
            open_multi[client] += command_keys(r, args)
    for sha, ks in scripts:
        if any(k.startswith(prefix) for k in ks):
            yield "script", sha, ks
    for ks in groups:
        if any(k.startswith(prefix) for k in ks):
            yield "multi", None, ks


def script_texts() -> dict[str, str]:
    """Every Lua script of the code base, by where it lives: the dashboard/storage/lua files and
    every module-level ``*_LUA`` string of dashboard/ and feeds/."""
    texts = {f"lua/{p.name}": p.read_text()
             for p in resources.files("dashboard.storage").joinpath("lua").iterdir()
             if p.name.endswith(".lua")}
    for pkg in (dashboard, feeds):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            mod = importlib.import_module(info.name)
            for name, value in vars(mod).items():
                if name.endswith("_LUA") and isinstance(value, str):
                    texts[f"{info.name}.{name}"] = value
    return texts


def test_every_script_is_found_by_name():
    """No script hides elsewhere: every ``redis.call`` in Python source sits in a ``*_LUA``
    constant, and every register_script takes such a constant or a dashboard/storage/lua file."""
    texts = script_texts()
    for path in sorted((REPO / "dashboard").rglob("*.py")) + sorted((REPO / "feeds").rglob("*.py")):
        src = path.read_text(encoding="utf-8")
        mod = ".".join(path.relative_to(REPO).with_suffix("").parts)
        in_constants = sum(t.count("redis.call") for k, t in texts.items()
                           if k.startswith(mod + "."))
        assert src.count("redis.call") == in_constants, f"{path}: a script outside *_LUA"
        for arg in re.findall(r"register_script\(([^)]*\)?)\)", src):
            assert re.fullmatch(r"_[A-Z_]+_LUA|_script\(name\)|text", arg), (path, arg)
    assert len(texts) >= 3


def exercise_everything(r: redis.Redis, keys: Keys, settings) -> None:
    """Run, for real, every operation of the app that uses a script or a MULTI."""
    store = Store(r, keys)
    store.upsert_events([ev(1), ev(2, kind="report", category="jam")], now=NOW)   # upsert_events
    store.set_congestion([("seg-1", 3, 12.5, "amap", NOW)], now=NOW)             # set_congestion
    store.expire_active(now=NOW + 30 * 86400)                                    # expire_active
    store.quarantine_once("waze", "bad", b"raw")                                 # quarantine_once
    store.upsert_events([ev(3, kind="report", category="jam")], now=time.time())
    units.apply_feed(r, keys, [units.UnitReport("T-1", "patrol_car", "泰安1", 117.1, 36.2,
                                                "free", time.time())])           # _FEED_LUA
    units.set_unit(r, keys, OFFICER, "T-9", unit_type="tow_truck", lon=117.1,
                   lat=36.2)                                                     # _COMMIT_LUA
    inc = incidents.create_from_event(r, keys, OFFICER, "waze:3").incident_id
    incidents.assign_unit(r, keys, OFFICER, inc, "T-1")
    ReachStore(r, keys).record([PostMetrics("p1", datetime(2026, 10, 1, tzinfo=timezone.utc),
                                            "长城路拥堵", reads=10, likes=2)], "csv")  # _RECORD_LUA
    feed = FeedConfig("leased", "waze", "http://127.0.0.1:9/", interval_s=5, timeout_s=2)
    worker = FeedWorker(feed, settings, store, get_adapter("waze"), lambda: None,
                        threading.Event(), "runner-a")
    assert worker.hold_lease() and worker.hold_lease()                           # _RENEW_LUA
    worker.release_lease()                                                       # _RELEASE_LUA
    auth.add_user(r, keys, "zhang", "officer", "a long password")                # MULTI
    auth.create_session(r, keys, User("zhang", "officer"), 1)                    # MULTI
    if importlib.util.find_spec("dashboard.web.ratelimit"):
        from dashboard.web.ratelimit import RateLimiter

        RateLimiter(r, keys, "login", 5, 60).hit("127.0.0.1")                    # _HIT_LUA
    from dashboard.storage.cache import CacheBudget, VersionedCache

    VersionedCache(r, keys).get_text("api:q", 1, lambda: {"a": 1}, ttl_s=60,
                                     budget=CacheBudget("api", 10**6, 10))       # _ADMIT_LUA


def test_every_script_and_multi_stays_in_the_city_slot(r, keys, settings, redis_url):
    mon = Monitor(redis_url)
    try:
        exercise_everything(r, keys, settings)
    finally:
        mon.stop()
    seen = list(calls(r, mon.lines, keys.prefix + ":"))
    city_slot = key_slot(keys.version().encode())
    kinds = {what for what, _, _ in seen}
    assert kinds == {"script", "multi"}, kinds
    for what, sha, ks in seen:
        assert ks, (what, sha)
        for k in ks:
            assert keys.hash_tag in k, (what, sha, k)
            assert key_slot(k.encode()) == city_slot, (what, sha, k)
    shas = {sha for what, sha, _ in seen if what == "script"}
    want = {where: hashlib.sha1(text.encode()).hexdigest()
            for where, text in script_texts().items()}
    missing = sorted(where for where, sha in want.items() if sha not in shas)
    assert not missing, f"scripts never exercised here: {missing}"


def test_two_cities_land_in_different_slots():
    taian, jinan = Keys("lk", "taian"), Keys("lk", "jinan")
    assert key_slot(taian.version().encode()) != key_slot(jinan.version().encode())
    # and every key of a city shares its slot, whatever the rest of the name
    assert key_slot(taian.event("waze:1").encode()) == key_slot(taian.version().encode())
