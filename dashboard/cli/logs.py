"""Where the log goes: a file (``log_file``) and the terminal.

With ``log_file`` set (``lukuang run`` gives each of its processes one under
``<state_dir>/logs/``) the file gets everything from INFO up and the terminal warnings and
errors only; without it (a command run by hand, or under systemd) the terminal gets INFO as
before. ``verbose`` puts everything in the terminal too, and adds the lines that come once per
feed poll (httpx's "HTTP Request", the runner's batch summaries), which are left out otherwise.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

LOG_DIR = "logs"
FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
# loggers that write a line per request or per poll: only with verbose
CHATTY = ("httpx", "httpcore", "urllib3")
# the supervisor's own log and each child's, under <state_dir>/logs/
RUN_LOG = "run.log"
ACCESS_LOG = "access.log"
_OURS = "_lukuang"


def log_dir(state_dir: Path | str) -> Path:
    """``<state_dir>/logs``, created when missing."""
    path = Path(state_dir) / LOG_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup_logging(verbose: bool = False, log_file: str | Path | None = None) -> None:
    """Configure the root logger (again: the handlers of an earlier call are replaced)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter(FORMAT)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.INFO if not log_file
                     else logging.WARNING)
    handlers: list[logging.Handler] = [console]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        setattr(handler, _OURS, True)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.getLogger("lukuang").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def gunicorn_log_config(log_file: str | Path, verbose: bool = False,
                        access_file: str | Path | None = None) -> dict[str, Any]:
    """gunicorn's logging (``--log-config-json``) in the same shape: its messages and the
    app's in ``log_file``, warnings and errors (everything with ``verbose``) in the terminal,
    the access log in ``access_file`` when given, else nowhere."""
    console_level = "INFO" if verbose else "WARNING"
    handlers: dict[str, Any] = {
        "file": {"class": "logging.FileHandler", "filename": str(log_file),
                 "formatter": "generic", "encoding": "utf-8"},
        "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                    "formatter": "generic", "level": console_level},
    }
    access: dict[str, Any] = {"level": "WARNING", "handlers": [], "propagate": False}
    if access_file:
        handlers["access"] = {"class": "logging.FileHandler", "filename": str(access_file),
                              "formatter": "access", "encoding": "utf-8"}
        access = {"level": "INFO", "handlers": ["access"], "propagate": False}
    quiet = {name: {"level": "INFO" if verbose else "WARNING"} for name in CHATTY}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"generic": {"format": FORMAT}, "access": {"format": "%(message)s"}},
        "handlers": handlers,
        "root": {"level": "INFO", "handlers": ["file", "console"]},
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["file", "console"],
                                       "propagate": False},
                    "gunicorn.access": access, **quiet},
    }
