"""gunicorn hooks for the worker-kill test, loaded with GUNICORN_CMD_ARGS="--config <this file>"
on top of the production command line (which it does not change).

Each worker appends one line per event to $FAULT_PROBE_LOG: ``<unix time> ready <pid> -`` when
it has booted, and ``<unix time> pre|post <pid> <X-Probe-Id>`` around every request, so the
test knows which worker was handling which request when it killed one.
"""
import os
import time


def _write(event: str, rid: str) -> None:
    path = os.environ.get("FAULT_PROBE_LOG")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:  # one write() of one short line with O_APPEND: lines from several workers never mix
        os.write(fd, f"{time.time():.6f} {event} {os.getpid()} {rid}\n".encode())
    finally:
        os.close(fd)


def _rid(req) -> str:
    for name, value in req.headers:
        if name == "X-PROBE-ID":
            return value[:40]
    return "-"


def post_worker_init(worker) -> None:
    _write("ready", "-")


def pre_request(worker, req) -> None:
    _write("pre", _rid(req))


def post_request(worker, req, environ, resp) -> None:
    _write("post", _rid(req))
