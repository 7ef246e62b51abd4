"""Command-line subcommands that need only the core: roads, doctor.

``app.main`` assembles the ``lukuang`` command from this module and ``feeds.commands``;
each ``register`` adds its subparsers, each handler returns an exit status.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import redis

from dashboard.settings import Settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def emit(obj: Any) -> None:
    """Print one JSON document (UTF-8, Chinese kept readable)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str, status: int = EXIT_USAGE) -> int:
    sys.stderr.write(f"lukuang: {message}\n")
    return status


def cmd_roads_import(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from dashboard.roads.importer import NetworkImportError, import_network

    try:
        summary = import_network(Path(args.path), settings.state_dir,
                                 districts=Path(args.districts) if args.districts else None)
    except NetworkImportError as exc:
        return fail(f"roads import: {exc}")
    emit(summary)
    return EXIT_OK


def cmd_roads_match(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.roads.network import get_network

    net = get_network(settings.state_dir)
    m = net.nearest(args.lon, args.lat, max_m=args.max_m)
    if m is None:
        emit({"match": None, "message": f"no road segment within {args.max_m:.0f} m of "
                                        f"({args.lon}, {args.lat})"})
        return EXIT_FAIL
    emit({"segment_id": m.segment_id, "road_name": m.road_name,
          "distance_m": round(m.distance_m, 1), "district": m.district})
    return EXIT_OK


def cmd_roads_summary(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.roads.network import active_network_path, get_network

    emit({"path": str(active_network_path(settings.state_dir)),
          **get_network(settings.state_dir).summary()})
    return EXIT_OK


def doctor_checks(settings: Settings) -> list[dict[str, str]]:
    """Each check: name, ok|warn|fail, and what to do, in plain words."""
    from dashboard.storage.connection import open_redis
    from dashboard.roads.network import active_network_path, get_network
    from dashboard.storage.store import QUARANTINE_WARN_SHARE, Store, quarantine_share
    from dashboard.storage.topology import topology_checks

    checks: list[dict[str, str]] = []
    try:
        handle = open_redis(settings, start_embedded=False)
        handle.client.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        where = settings.redis_url or f"the embedded server for {settings.state_dir}"
        checks.append({"check": "redis", "status": "fail",
                       "detail": f"cannot reach {where}: {exc}. Start it with `lukuang run`"
                                 " or set REDIS_URL."})
        handle = None
    if handle is not None:
        try:
            info = handle.client.info("server")
            checks.append({"check": "redis", "status": "ok",
                           "detail": f"{handle.mode} at {handle.url}, "
                                     f"{info.get('server_name', 'redis')} "
                                     f"{info.get('valkey_version') or info.get('redis_version')}"})
            notes = handle.notes
            checks.append({"check": "persistence", "status": "warn" if notes else "ok",
                           "detail": "; ".join(notes) or "AOF on"})
            store = Store.from_settings(handle.client, settings)
            checks += topology_checks(handle.client, handle.mode, store.keys,
                                      settings.wait_replicas)
            health = store.feed_health()
            if not health:
                checks.append({"check": "feeds", "status": "warn",
                               "detail": "no feed has reported yet: is `lukuang feeds` running?"})
            now = time.time()
            for name, h in sorted(health.items()):
                last_ok = float(h.get("last_ok") or 0)
                age = now - last_ok if last_ok else None
                if age is None:
                    st, det = "fail", f"never succeeded; last error: {h.get('last_error') or '-'}"
                elif age > 300:
                    st, det = "warn", f"last success {age:.0f} s ago; last error: " \
                                      f"{h.get('last_error') or '-'}"
                else:
                    st, det = "ok", f"last success {age:.0f} s ago, " \
                                    f"{h.get('accepted', 0)} accepted, " \
                                    f"{h.get('quarantined', 0)} quarantined"
                    share = quarantine_share(h)
                    if share is not None and share >= QUARANTINE_WARN_SHARE:
                        st, det = "warn", f"{det}: {share:.0%} of its records are " \
                                          "quarantined (see /feeds)"
                checks.append({"check": f"feed {name}", "status": st, "detail": det})
        finally:
            handle.client.close()
    try:
        net = get_network(settings.state_dir)
        s = net.summary()
        checks.append({"check": "road network", "status": "ok",
                       "detail": f"{active_network_path(settings.state_dir)}: {s['segments']} "
                                 f"segments, {s['named_roads']} named roads, "
                                 f"{s['total_km']:.0f} km"})
    except Exception as exc:  # any load failure is reported, not raised
        checks.append({"check": "road network", "status": "fail",
                       "detail": f"cannot load the active network: {exc}"})
    return checks


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    checks = doctor_checks(settings)
    if args.json:
        emit(checks)
    else:
        for c in checks:
            sys.stdout.write(f"[{c['status']:>4}] {c['check']}: {c['detail']}\n")
    return EXIT_FAIL if any(c["status"] == "fail" for c in checks) else EXIT_OK


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from dashboard.auth import AuthError, add_user
    from dashboard.storage.connection import open_redis
    from dashboard.storage.keys import Keys

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            return fail("users add: the two passwords differ")
    handle = open_redis(settings)
    try:
        user = add_user(handle.client, Keys(settings.key_prefix, settings.city), args.name,
                        args.role, password, replace=args.replace)
    except AuthError as exc:
        return fail(f"users add: {exc}")
    finally:
        handle.close()
    emit({"user": user.name, "role": user.role})
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.auth import list_users
    from dashboard.storage.connection import open_redis
    from dashboard.storage.keys import Keys

    handle = open_redis(settings)
    try:
        emit([{"user": u.name, "role": u.role}
              for u in list_users(handle.client, Keys(settings.key_prefix, settings.city))])
    finally:
        handle.close()
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    from dashboard.auth import ROLES

    users = sub.add_parser("users", help="accounts and roles").add_subparsers(
        dest="users_cmd", required=True)
    p = users.add_parser("add", help="create an account (password prompted or from stdin)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("--replace", action="store_true", help="reset an existing account")
    p.set_defaults(handler=cmd_users_add)
    p = users.add_parser("list", help="accounts and their roles")
    p.set_defaults(handler=cmd_users_list)
    roads = sub.add_parser("roads", help="the road network").add_subparsers(dest="roads_cmd",
                                                                          required=True)
    p = roads.add_parser("import", help="make a network file active (GeoJSON, GPKG, SHP, OSM PBF)")
    p.add_argument("path")
    p.add_argument("--districts", help="optional district polygons file")
    p.set_defaults(handler=cmd_roads_import)
    p = roads.add_parser("match", help="nearest segment to a WGS-84 point")
    p.add_argument("lon", type=float)
    p.add_argument("lat", type=float)
    p.add_argument("--max-m", type=float, default=150.0)
    p.set_defaults(handler=cmd_roads_match)
    p = roads.add_parser("summary", help="the active network in numbers")
    p.set_defaults(handler=cmd_roads_summary)
    p = sub.add_parser("doctor", help="check Redis, persistence, the network and the feeds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_doctor)
