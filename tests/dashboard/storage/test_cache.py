"""``ProcessCache``: the one helper behind the per-process caches."""
from __future__ import annotations

import gc
import threading
import weakref

import pytest

from dashboard.storage.cache import ProcessCache


class Net:
    """Stands for a road network: compared by identity, like the real one."""


def test_builds_once_per_key_and_tag():
    cache: ProcessCache[str] = ProcessCache(4)
    calls = []

    def build(v: str):
        return lambda: calls.append(v) or v

    assert cache.get("a", build("a1"), tag=1) == "a1"
    assert cache.get("a", build("a2"), tag=1) == "a1"
    assert cache.get("a", build("a3"), tag=2) == "a3"       # another tag: rebuilt, replaced
    assert cache.get("a", build("a4"), tag=2) == "a3"
    assert cache.get("b", build("b1")) == "b1"
    assert calls == ["a1", "a3", "b1"] and len(cache) == 2
    cache.clear()
    assert len(cache) == 0 and cache.get("a", build("a5"), tag=2) == "a5"


def test_bounded_least_recently_used_goes_first():
    cache: ProcessCache[int] = ProcessCache(2)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    assert cache.get("a", lambda: 10) == 1                   # a is now the most recent
    cache.get("c", lambda: 3)                                # b goes
    assert (cache.peek("a"), cache.peek("b"), cache.peek("c")) == (1, None, 3)


def test_keyed_by_identity_and_keeps_the_object_alive():
    cache: ProcessCache[str] = ProcessCache(1)
    n1, n2 = Net(), Net()
    assert cache.get_for(n1, lambda: "one") == "one"
    assert cache.get_for(n1, lambda: "again") == "one"
    assert cache.get_for(n1, lambda: "other key", key="x") == "other key"
    ref = weakref.ref(n1)
    del n1
    gc.collect()
    assert ref() is not None                                  # still cached: its id stays taken
    assert cache.get_for(n2, lambda: "two") == "two"          # one entry: n1 goes
    gc.collect()
    assert ref() is None
    assert cache.get_for(n2, lambda: "x") == "two"


def test_a_new_object_never_gets_an_old_objects_value():
    """Keyed by id() without holding the object, a new object at a reused address would
    get the old one's value; here every new object is built for."""
    cache: ProcessCache[int] = ProcessCache(1)
    for i in range(200):
        assert cache.get_for(Net(), lambda: i) == i


def test_value_keys_and_identity_keys_do_not_mix():
    cache: ProcessCache[str] = ProcessCache(4)
    n = Net()
    assert cache.get_for(n, lambda: "by object") == "by object"
    assert cache.get((id(n), None), lambda: "by value") == "by value"
    assert cache.peek((id(n), None)) == "by value"


def test_put_replaces_and_peek_checks_the_tag():
    cache: ProcessCache[list] = ProcessCache(2)
    first = cache.put("w", [1], tag="v1")
    assert cache.peek("w", tag="v1") is first and cache.peek("w", tag="v2") is None
    assert cache.put("w", [2], tag="v1") == [2] and cache.peek("w", tag="v1") == [2]


def test_threads_that_miss_together_get_one_value():
    cache: ProcessCache[object] = ProcessCache(1)
    n = Net()
    start = threading.Barrier(8)
    got = []

    def work():
        start.wait()
        got.append(cache.get_for(n, object))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(v is got[0] for v in got)


# -- the shared cache within a budget (issue 15) ---------------------------------------------
def _shared_names(r, keys) -> set[str]:
    """The names of the shared entries of the API group now in Redis."""
    prefix = keys.cache("")
    return {k[len(prefix):] for k in r.scan_iter(match=keys.cache("api:*"), count=1000)}


@pytest.mark.topologies("single", "cluster")
def test_a_budget_keeps_the_newest_entries_within_its_count(r, keys):
    from dashboard.storage.cache import CacheBudget, VersionedCache

    cache = VersionedCache(r, keys)
    budget = CacheBudget("api", max_bytes=10**6, max_entries=3)
    for i in range(10):
        cache.get_text(f"api:q{i}", 1, lambda i=i: {"i": i}, ttl_s=60, budget=budget)
    assert _shared_names(r, keys) == {"api:q7", "api:q8", "api:q9"}
    assert cache.evicted == 7
    assert r.zcard(keys.cache("api@index")) == 3 and r.hlen(keys.cache("api@sizes")) == 3
    # another worker finds the kept ones in Redis without building
    other = VersionedCache(r, keys)
    assert other.get_text("api:q9", 1, lambda: pytest_fail()) == '{"i":9}'


@pytest.mark.topologies("single", "cluster")
def test_a_budget_keeps_the_entries_within_its_bytes(r, keys):
    from dashboard.storage.cache import CacheBudget, VersionedCache

    cache = VersionedCache(r, keys)
    body = "x" * 1000
    budget = CacheBudget("api", max_bytes=3500, max_entries=100)
    for i in range(20):
        cache.get_text(f"api:b{i}", "t", lambda: {"b": body}, ttl_s=60, budget=budget)
    kept = _shared_names(r, keys)
    stored = sum(len(r.get(keys.cache(n))) for n in kept)
    assert kept == {"api:b17", "api:b18", "api:b19"} and stored <= 3500
    assert sum(int(v) for v in r.hvals(keys.cache("api@sizes"))) == stored


@pytest.mark.topologies("single", "cluster")
def test_a_body_larger_than_the_budget_is_not_shared_but_still_served(r, keys):
    from dashboard.storage.cache import CacheBudget, VersionedCache

    cache = VersionedCache(r, keys)
    budget = CacheBudget("api", max_bytes=100, max_entries=10)
    text = cache.get_text("api:big", 1, lambda: {"b": "y" * 500}, ttl_s=60, budget=budget)
    assert len(text) > 500 and _shared_names(r, keys) == set()
    assert cache.get_text("api:big", 1, lambda: pytest_fail(), budget=budget) == text  # local


@pytest.mark.topologies("single", "cluster")
def test_a_rebuilt_entry_is_counted_once(r, keys):
    """A new version of the same query replaces its entry (and its size) in the budget."""
    from dashboard.storage.cache import CacheBudget, VersionedCache

    cache = VersionedCache(r, keys)
    budget = CacheBudget("api", max_bytes=10**6, max_entries=2)
    for version in range(5):
        cache.get_text("api:same", version, lambda: {"v": 1}, ttl_s=60, budget=budget)
        cache.get_text("api:other", version, lambda: {"v": 2}, ttl_s=60, budget=budget)
    assert _shared_names(r, keys) == {"api:same", "api:other"} and cache.evicted == 0
    assert r.zcard(keys.cache("api@index")) == 2


def pytest_fail():
    raise AssertionError("built again although the entry is cached")
