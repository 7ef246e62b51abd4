"""`lukuang run` without feeds: no feed runner started (said once), the congestion index
still recorded; a child whose configuration cannot work is not restarted for ever.

Real processes (each stopped by its PID), the test Redis, a private state directory."""
from __future__ import annotations

import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest

from dashboard.roads.network import get_network
from tests.fault.helpers import (LukuangProc, base_env, free_port, lukuang_argv, supervise,
                                 wait_for)

NO_FEED = "no feed to poll is configured"


@pytest.mark.parametrize("flags", [("--no-demo",), ("--no-demo", "--no-feeds")],
                         ids=["no-feeds-configured", "no-feeds-flag"])
def test_run_without_feeds_keeps_the_congestion_index(settings, store, tmp_path, flags):
    now = time.time()
    segs = list(get_network(tmp_path / "state").segments.index[:20])
    store.set_congestion([(s, 3, 10.0, "amap", now) for s in segs], now=now)
    host = LukuangProc(lukuang_argv("run", *flags, "--port", str(free_port())),
                       base_env(settings.redis_url, settings.key_prefix, tmp_path / "state"),
                       tmp_path / "run.log").start()
    run_log = tmp_path / "state" / "logs" / "run.log"

    def logged() -> str:
        return run_log.read_text() if run_log.exists() else ""
    try:
        at = datetime.now(timezone.utc)
        assert wait_for(lambda: store.timeseries("cidx:city", at - timedelta(minutes=5),
                                                 at + timedelta(minutes=1)), 60), host.tail()
        assert wait_for(lambda: "started web" in logged(), 60), host.tail() + logged()
        assert wait_for(lambda: "Pages:" in host.tail(), 60), host.tail()
        log = logged()
        assert "started housekeeping" in log and "started feeds" not in log, log
        assert log.count(NO_FEED) == (0 if "--no-feeds" in flags else 1), log
        # the terminal: the warning too, but not the lines that say all is well
        terminal = host.tail(100_000)
        assert terminal.count(NO_FEED) == log.count(NO_FEED), terminal
        assert "started housekeeping" not in terminal and "started web" not in terminal
        assert (tmp_path / "state" / "logs" / "housekeeping.log").exists()
    finally:
        host.stop()


def test_a_child_that_cannot_work_is_not_restarted(tmp_path):
    starts, stop = tmp_path / "starts", tmp_path / "stop"
    script = textwrap.dedent(f"""
        import logging, os, sys
        logging.basicConfig(level=logging.INFO)
        from dashboard.cli.supervisor import Supervisor
        sup = Supervisor(dict(os.environ))
        sup.add("bad", [sys.executable, "-c",
                        "import sys; open({str(starts)!r}, 'a').write('x'); sys.exit(2)"])
        sup.add("main", [sys.executable, "-c",
                         "import os, time\\nwhile not os.path.exists({str(stop)!r}): "
                         "time.sleep(0.05)"], critical=True)
        sys.exit(sup.run())
    """)
    log = tmp_path / "sup.log"
    # the critical child ended: everything stops
    assert supervise(script, log, lambda: "not restarting it" in log.read_text(), stop) == 1
    assert starts.read_text() == "x"
    assert log.read_text().count("bad exited with 2") == 1
