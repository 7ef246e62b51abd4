"""Command-line subcommands for the feeds: ``feeds``, ``housekeeping``, ``ingest``,
``locate`` (and ``sim``).

Each handler takes (args, settings) and returns the exit status.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import redis

from dashboard.cli.commands import EXIT_FAIL, EXIT_OK, emit, fail
from dashboard.settings import FeedConfig, Settings

from .config import FEED_NAMES, configured_feeds

log = logging.getLogger("lukuang.feeds")


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    """Run the configured feeds until SIGTERM or SIGINT; exit 0 after a clean stop."""
    from .runner import pollable, run_feeds

    feeds = configured_feeds(settings)
    if args.only:
        unknown = set(args.only) - {f.name for f in feeds}
        if unknown:
            return fail(f"feeds: not configured: {', '.join(sorted(unknown))}")
        feeds = [f for f in feeds if f.name in args.only]
    if not any(pollable(f) for f in feeds):
        return fail("feeds: no feed is configured to poll (add [feeds.NAME] tables with a url "
                    "to the settings file, or run in demo mode; drop feeds without a url "
                    "arrive by `lukuang ingest`)")
    stop = _stop_on_signals()
    try:
        run_feeds(settings, feeds, stop)
    except (redis.RedisError, OSError, ValueError) as exc:
        return fail(f"feeds: cannot reach Redis: {exc}", EXIT_FAIL)
    return EXIT_OK


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: finishing the current round and stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def cmd_housekeeping(args: argparse.Namespace, settings: Settings) -> int:
    """Expire old events and record the congestion index every minute until SIGTERM: what a
    feed runner does besides polling (``lukuang run`` starts it when it runs no feeds)."""
    from .runner import run_housekeeping

    try:
        run_housekeeping(settings, _stop_on_signals())
    except (redis.RedisError, OSError, ValueError) as exc:
        return fail(f"housekeeping: cannot reach Redis: {exc}", EXIT_FAIL)
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest one payload file and print a JSON summary; 2 when the file is unusable."""
    from dashboard.storage.connection import open_redis
    from dashboard.storage.store import Store

    from .base import PayloadError
    from .fetch import FetchError, fetch
    from .pipeline import ingest_payload, make_context
    from .runner import resolve_adapter

    path = Path(args.file)
    max_bytes = int(args.max_mb * 1024 * 1024)
    try:
        payload = fetch(path.resolve().as_uri(), deadline_s=60.0, max_bytes=max_bytes).body
    except FetchError as exc:
        return fail(f"ingest: {exc}")
    name = args.name or args.feed
    try:
        adapter = resolve_adapter(FeedConfig(name, args.feed))
        handle = open_redis(settings)
    except (redis.RedisError, OSError, ValueError) as exc:
        return fail(f"ingest: cannot reach Redis: {exc}", EXIT_FAIL)
    try:
        from dashboard.congestion import record_congestion_index
        from dashboard.roads.network import get_network

        store = Store.from_settings(handle.client, settings)
        network = get_network(settings.state_dir)
        ctx = make_context(network, settings, name)
        polled = any(f.name == name and f.mode == "poll" and f.enabled
                     for f in configured_feeds(settings))
        if not polled:   # a one-off file: judged by its result, never stale afterwards
            store.update_feed_health(name, None, mode="drop", source=f"file {path.name}")
        try:
            summary = ingest_payload(adapter, payload, ctx, store, feed=name)
        except PayloadError as exc:
            return fail(f"ingest: {path}: unusable {args.feed} payload: {exc}")
        if summary.congestion_segments:   # the trend chart at once, not at the next minute
            record_congestion_index(store, network, stale_s=settings.congestion_stale_s)
    finally:
        handle.close()
    emit({"feed": name, "file": str(path), "accepted": summary.accepted, "new": summary.new,
          "updated": summary.updated, "duplicates": summary.duplicates, "ended": summary.ended,
          "congestion_segments": summary.congestion_segments,
          "quarantined": summary.quarantined, "reasons": summary.reasons,
          "version": summary.version})
    return EXIT_OK


def cmd_locate(args: argparse.Namespace, settings: Settings) -> int:
    """Print what the report locator finds in one sentence; 1 when it finds no place."""
    from dashboard.roads.locate import classify_text, locate_text
    from dashboard.roads.network import get_network

    location = locate_text(args.text, get_network(settings.state_dir))
    category, kind, severity = classify_text(args.text)
    place = location.to_dict() if location is not None else {
        "roads": [], "intersection": None, "point": None, "segment_id": "", "district": "",
        "precision": "", "matched": "", "direction": "", "landmark": ""}
    emit({"text": args.text, "found": location is not None, **place, "category": category,
          "kind": kind, "severity": severity})
    return EXIT_OK if location is not None else EXIT_FAIL


def register(sub: argparse._SubParsersAction) -> None:
    """Add the feed subcommands to the ``lukuang`` parser."""
    p = sub.add_parser("feeds", help="run the configured feeds until SIGTERM")
    p.add_argument("--only", nargs="+", metavar="FEED", help="run only these feeds")
    p.set_defaults(handler=cmd_feeds)
    p = sub.add_parser("housekeeping", help="expire old events and record the congestion "
                                            "index every minute (what `lukuang run` starts "
                                            "when it polls no feed)")
    p.set_defaults(handler=cmd_housekeeping)
    p = sub.add_parser("ingest", help="ingest one payload file; prints a JSON summary "
                                      "(exit 2 when the file is unusable)")
    p.add_argument("feed", choices=FEED_NAMES, metavar="FEED",
                   help="the format: " + ", ".join(FEED_NAMES))
    p.add_argument("file")
    p.add_argument("--name", help="feed name for health and quarantine (default: FEED)")
    p.add_argument("--max-mb", type=float, default=100.0, help="refuse larger files")
    p.set_defaults(handler=cmd_ingest)
    p = sub.add_parser("locate", help="what the report locator finds in a sentence, as JSON")
    p.add_argument("text")
    p.set_defaults(handler=cmd_locate)
    try:
        sim = importlib.import_module("feeds.sim")
    except ImportError as exc:  # the simulator is optional; say why when it is broken
        if getattr(exc, "name", None) != "feeds.sim":
            log.warning("lukuang sim unavailable: %s", exc)
        return
    sim.register(sub)
