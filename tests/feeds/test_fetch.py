"""The fetcher against a hostile loopback upstream, and the circuit breaker.

Each hostile case measures how long ``fetch`` took and checks it against the total
deadline plus 1 s: the deadline is the feature under test, so this is a bound check,
not a performance assertion. The figures are printed (run with ``-s`` to see them).
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from feeds.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from feeds.fetch import (FatalFetchError, FetchError, RetriableFetchError, backoff_delay, fetch,
                         fetch_with_retries)
from tests.feeds.hostile_upstream import ETAG, HUGE_BYTES, LAST_MODIFIED, OK_BODY, HostileUpstream

DEADLINE_S = 2.0
SLACK_S = 1.0
MAX_BYTES = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def up():
    with HostileUpstream() as server:
        yield server


def timed(fn, *args, **kwargs):
    """(result or exception, elapsed seconds)."""
    start = time.monotonic()
    try:
        out = fn(*args, **kwargs)
    except FetchError as exc:
        out = exc
    return out, time.monotonic() - start


def report(case: str, elapsed: float, outcome) -> None:
    print(f"\n[deadline] {case}: {elapsed:.3f} s (deadline {DEADLINE_S} s) -> "
          f"{type(outcome).__name__}: {outcome if isinstance(outcome, Exception) else 'ok'}")


def test_ok_returns_body_and_metadata(up):
    res = fetch(up.url("/ok"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES, expect="json")
    assert res.status == 200 and res.body == OK_BODY and not res.not_modified
    assert res.url.endswith("/ok")


def test_hang_before_headers_is_cut_at_the_deadline(up):
    out, elapsed = timed(fetch, up.url("/hang"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    report("hang before headers", elapsed, out)
    assert isinstance(out, RetriableFetchError) and "deadline" in str(out)
    assert elapsed < DEADLINE_S + SLACK_S


def test_drip_one_byte_a_second_is_cut_at_the_deadline(up):
    out, elapsed = timed(fetch, up.url("/drip"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    report("drip 1 byte/s", elapsed, out)
    assert isinstance(out, RetriableFetchError) and "deadline" in str(out)
    assert elapsed < DEADLINE_S + SLACK_S


def test_drip_with_gaps_just_under_the_deadline_needs_the_watchdog(up):
    # a byte every 1.6 s: no single read times out, and the clock check between
    # chunks alone would only notice at 3.2 s; the watchdog shuts the socket at 2 s
    out, elapsed = timed(fetch, up.url("/drip?every=1.6"), deadline_s=DEADLINE_S,
                         max_bytes=MAX_BYTES)
    report("drip 1 byte/1.6 s", elapsed, out)
    assert isinstance(out, RetriableFetchError) and "deadline" in str(out)
    assert elapsed < DEADLINE_S + SLACK_S


def test_50_mb_with_content_length_is_refused(up):
    out, elapsed = timed(fetch, up.url("/huge"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    report("50 MB (Content-Length)", elapsed, out)
    assert isinstance(out, FatalFetchError)
    assert str(out) == f"body larger than {MAX_BYTES} bytes"
    assert elapsed < DEADLINE_S + SLACK_S


def test_50_mb_chunked_is_cut_at_the_size_cap(up):
    out, elapsed = timed(fetch, up.url("/huge-chunked"), deadline_s=DEADLINE_S,
                         max_bytes=MAX_BYTES)
    report("50 MB (chunked)", elapsed, out)
    assert isinstance(out, FatalFetchError)
    assert str(out) == f"body larger than {MAX_BYTES} bytes"
    assert elapsed < DEADLINE_S + SLACK_S


def test_html_with_status_200_is_refused_when_json_is_expected(up):
    out, elapsed = timed(fetch, up.url("/html"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES,
                         expect="json")
    report("HTML with 200", elapsed, out)
    assert isinstance(out, FatalFetchError)
    assert str(out) == "expected JSON, got text/html"
    assert elapsed < DEADLINE_S + SLACK_S


def test_html_is_refused_for_csv_too(up):
    with pytest.raises(FatalFetchError, match="expected CSV, got text/html"):
        fetch(up.url("/html"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES, expect="csv")


def test_500_is_retriable_then_retries_succeed(up):
    with pytest.raises(RetriableFetchError) as info:
        fetch(up.url("/flaky?key=once&fail=1"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    assert info.value.status == 500
    before = up.hits["/flaky"]
    res, elapsed = timed(fetch_with_retries, up.url("/flaky?key=twice&fail=2"),
                         deadline_s=DEADLINE_S, max_bytes=MAX_BYTES, base_delay_s=0.05,
                         expect="json")
    report("500, 500, then 200 (with retries)", elapsed, res)
    assert res.status == 200 and res.body == OK_BODY
    assert up.hits["/flaky"] - before == 3
    assert elapsed < DEADLINE_S + SLACK_S


def test_retries_never_outlast_the_total_deadline(up):
    out, elapsed = timed(fetch_with_retries, up.url("/hang"), deadline_s=DEADLINE_S,
                         max_bytes=MAX_BYTES, base_delay_s=0.05)
    report("hang, with retries", elapsed, out)
    assert isinstance(out, RetriableFetchError)
    assert elapsed < DEADLINE_S + SLACK_S


def test_304_when_the_etag_matches(up):
    first = fetch(up.url("/etag"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    assert first.status == 200 and first.etag == ETAG and first.last_modified == LAST_MODIFIED
    again = fetch(up.url("/etag"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES,
                  etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified and again.status == 304 and again.body == b""
    assert again.etag == ETAG
    sent = up.server.last_headers["/etag"]
    assert sent["If-None-Match"] == ETAG and sent["If-Modified-Since"] == LAST_MODIFIED


def test_redirect_to_another_host_is_never_followed(up):
    out, elapsed = timed(fetch, up.url("/redirect-away"), deadline_s=DEADLINE_S,
                         max_bytes=MAX_BYTES)
    report("redirect to another host", elapsed, out)
    assert isinstance(out, FatalFetchError) and "redirect to another host refused" in str(out)


def test_redirect_on_the_same_host_is_followed(up):
    res = fetch(up.url("/redirect-same"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    assert res.status == 200 and res.body == OK_BODY and res.url.endswith("/ok")


@pytest.mark.parametrize("code,kind", [(404, FatalFetchError), (403, FatalFetchError),
                                       (408, RetriableFetchError), (429, RetriableFetchError),
                                       (502, RetriableFetchError), (503, RetriableFetchError)])
def test_status_codes_split_into_retriable_and_fatal(up, code, kind):
    with pytest.raises(FetchError) as info:
        fetch(up.url(f"/status/{code}"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    assert type(info.value) is kind and info.value.status == code


def test_retry_after_is_honoured_within_the_deadline(up):
    before = up.hits["/status/429"]
    with pytest.raises(RetriableFetchError):
        fetch_with_retries(up.url("/status/429?retry_after=1"), deadline_s=2.5,
                           max_bytes=MAX_BYTES, attempts=5)
    # tries at 0, 1 and 2 s (Retry-After: 1); a fourth would start past 2.5 s
    assert up.hits["/status/429"] - before == 3


def test_retry_after_past_the_deadline_gives_up_at_once(up):
    before = up.hits["/status/503"]
    out, elapsed = timed(fetch_with_retries, up.url("/status/503?retry_after=30"),
                         deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    assert isinstance(out, RetriableFetchError) and "Retry-After" in str(out)
    assert up.hits["/status/503"] - before == 1
    assert elapsed < DEADLINE_S + SLACK_S


def test_fatal_errors_are_not_retried(up):
    before = up.hits["/status/404"]
    with pytest.raises(FatalFetchError):
        fetch_with_retries(up.url("/status/404"), deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)
    assert up.hits["/status/404"] - before == 1


def test_connection_refused_is_retriable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RetriableFetchError, match="connection failed"):
        fetch(f"http://127.0.0.1:{port}/", deadline_s=DEADLINE_S, max_bytes=MAX_BYTES)


def test_hosts_outside_the_allowed_set_are_refused_without_a_request():
    with pytest.raises(FatalFetchError, match="not a configured upstream"):
        fetch("http://127.0.0.1:9/x", deadline_s=1, max_bytes=10,
              allowed_hosts={"10.1.2.3"})


def test_setting_stop_aborts_a_hanging_fetch(up):
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    out, elapsed = timed(fetch, up.url("/hang"), deadline_s=30, max_bytes=MAX_BYTES, stop=stop)
    assert isinstance(out, RetriableFetchError) and "stopping" in str(out)
    assert elapsed < 30


def test_file_sources(tmp_path):
    path = tmp_path / "drop.csv"
    path.write_bytes("时间,地点\n".encode("utf-8"))
    res = fetch(str(path), deadline_s=1, max_bytes=1000)
    assert res.body == path.read_bytes() and res.etag
    assert fetch(path.as_uri(), deadline_s=1, max_bytes=1000).body == res.body
    same = fetch(str(path), deadline_s=1, max_bytes=1000, etag=res.etag)
    assert same.not_modified and same.body == b""
    with pytest.raises(FatalFetchError, match="body larger than 5 bytes"):
        fetch(str(path), deadline_s=1, max_bytes=5)
    with pytest.raises(RetriableFetchError, match="file not found"):
        fetch(str(tmp_path / "missing.csv"), deadline_s=1, max_bytes=1000)


def test_backoff_is_exponential_with_full_jitter():
    top = [backoff_delay(n, 0.5, 8.0, rng=lambda a, b: b) for n in range(7)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff_delay(3, 0.5, 8.0, rng=lambda a, b: a) == 0.0


# -- circuit breaker -------------------------------------------------------------------
class FakeClock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_breaker_opens_after_n_failures_and_half_opens_after_the_cool_down():
    clock = FakeClock()
    b = Breaker(failure_threshold=3, base_cooldown_s=10, max_cooldown_s=60, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state == CLOSED
    b.record_failure()
    assert b.state == OPEN and not b.allow()
    assert b.health() == {"breaker": "open", "failures": "3",
                          "next_try_at": f"{clock.t + 10:.0f}"}
    clock.t += 9.9
    assert not b.allow()
    clock.t += 0.2
    assert b.allow() and b.state == HALF_OPEN


def test_breaker_cool_down_grows_and_is_capped_and_success_closes_it():
    clock = FakeClock()
    b = Breaker(failure_threshold=1, base_cooldown_s=10, max_cooldown_s=60, clock=clock)
    waits = []
    for _ in range(5):
        b.record_failure()  # closed/half-open -> open
        waits.append(b.next_try_at - clock.t)
        clock.t = b.next_try_at
        assert b.allow() and b.state == HALF_OPEN
    assert waits == [10, 20, 40, 60, 60]
    b.record_success()
    assert b.state == CLOSED and b.health()["next_try_at"] == ""
    b.record_failure()
    assert b.next_try_at - clock.t == 10  # back to the base cool-down
