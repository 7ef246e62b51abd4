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

    from dashboard.roads.importer import ImportOptions, NetworkImportError, import_network

    options = ImportOptions.from_settings(settings, encoding=args.encoding, crs=args.crs,
                                          class_field=args.class_field,
                                          name_field=args.name_field, class_map=args.class_map)
    try:
        summary = import_network(Path(args.path), settings.state_dir,
                                 districts=Path(args.districts) if args.districts else None,
                                 options=options)
    except NetworkImportError as exc:
        return fail(f"roads import: {exc}")
    emit(summary)
    for warning in summary.get("import", {}).get("warnings", []):
        sys.stderr.write(f"lukuang: roads import: warning: {warning}\n")
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
    from dashboard.roads.network import active_network_path, get_network, summary_lines

    summary = {"path": str(active_network_path(settings.state_dir)),
               **get_network(settings.state_dir).summary()}
    if args.text:
        sys.stdout.write("\n".join(summary_lines(summary)) + "\n")
    else:
        emit(summary)
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
            checks.append(_replica_wait_check(store, handle.mode))
            health = store.feed_health()
            if not health:
                checks.append({"check": "feeds", "status": "warn",
                               "detail": "no feed has reported yet: is `lukuang feeds` running?"})
            now = time.time()
            for name, h in sorted(health.items()):
                last_ok = float(h.get("last_ok") or 0)
                age = now - last_ok if last_ok else None
                if h.get("mode") == "drop":   # judged by the last drop, never by age
                    st, det = _drop_status(h, age)
                elif age is None:
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
    from dashboard.cli.city import profile_checks
    from dashboard.roads.network import default_network_dir
    from dashboard.settings import DEMO_CITY

    net = None
    try:
        net = get_network(settings.state_dir)
        s = net.summary()
        path = active_network_path(settings.state_dir)
        demo_elsewhere = path.parent == default_network_dir() and settings.city != DEMO_CITY
        checks.append({"check": "road network", "status": "warn" if demo_elsewhere else "ok",
                       "detail": f"{path}: {s['segments']} segments, {s['named_roads']} "
                                 f"named roads, {s['total_km']:.0f} km"
                                 + (" (the demo city's network)" if demo_elsewhere else "")})
    except Exception as exc:  # any load failure is reported, not raised
        checks.append({"check": "road network", "status": "fail",
                       "detail": f"cannot load the active network: {exc}"})
    return checks + profile_checks(settings, net)   # the city: profile, network, feeds


def _drop_status(h: dict[str, str], age: float | None) -> tuple[str, str]:
    """(status, detail) of a file-drop feed: its last drop's result, whatever its age."""
    last_ok = float(h.get("last_ok") or 0)
    failed = bool(h.get("last_error")) and float(h.get("last_error_at") or 0) >= last_ok
    if failed:
        return "warn", f"file drops: the last one failed: {h.get('last_error')}"
    if age is None:
        return "ok", "file drops: none yet"
    return "ok", (f"file drops: the last one {age:.0f} s ago, {h.get('accepted', 0)} "
                  f"accepted, {h.get('quarantined', 0)} quarantined")


def _replica_wait_check(store, mode: str) -> dict[str, str]:
    """What each batch waits for before it is acknowledged (``Store.describe_wait``): a
    warning behind Sentinel or with replicas when it waits for none."""
    from dashboard.storage.store import replica_count

    try:
        detail = store.describe_wait()
        waits = store.replicas_to_wait() > 0
        replicas = replica_count(store.r)[0] if not waits else 1
    except redis.RedisError as exc:
        return {"check": "replica wait", "status": "warn",
                "detail": f"could not tell what a batch waits for: {exc}"}
    risky = not waits and (mode == "sentinel" or replicas > 0)
    return {"check": "replica wait", "status": "warn" if risky else "ok",
            "detail": detail + ("; set LUKUANG_WAIT_REPLICAS=1 (or leave it unset)"
                                if risky else "")}


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


def _users_call(settings: Settings, what: str, call) -> int:
    """Run ``call(r, keys)`` on the configured Redis and print its JSON answer; an
    ``AuthError`` (no such user, a bad name) is exit status 1 with its message."""
    from dashboard.auth import AuthError
    from dashboard.storage.connection import open_redis
    from dashboard.storage.keys import Keys

    handle = open_redis(settings)
    try:
        emit(call(handle.client, Keys(settings.key_prefix, settings.city)))
    except AuthError as exc:
        return fail(f"users {what}: {exc}", EXIT_FAIL)
    finally:
        handle.close()
    return EXIT_OK


def cmd_users_remove(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.auth import remove_user

    return _users_call(settings, "remove", lambda r, keys: {
        "user": args.name, "removed": True, "sessions_ended": remove_user(r, keys, args.name)})


def cmd_users_sessions(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.auth import end_sessions, list_sessions

    def call(r, keys):
        live = list_sessions(r, keys, args.name)
        if not args.end:
            return {"user": args.name, "sessions": live}
        return {"user": args.name, "sessions_ended": end_sessions(r, keys, args.name)}
    return _users_call(settings, "sessions", call)


def cmd_users_unlock(args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.auth import unlock

    return _users_call(settings, "unlock", lambda r, keys: {
        "user": args.name, "cleared": unlock(r, keys, args.name)})


def register(sub: argparse._SubParsersAction) -> None:
    from dashboard.auth import ROLES

    users = sub.add_parser("users", help="accounts and roles").add_subparsers(
        dest="users_cmd", required=True)
    p = users.add_parser("add", help="create an account (password prompted or from stdin)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-stdin", action="store_true")
    p.add_argument("--replace", action="store_true",
                   help="reset an existing account (ends its sessions)")
    p.set_defaults(handler=cmd_users_add)
    p = users.add_parser("list", help="accounts and their roles")
    p.set_defaults(handler=cmd_users_list)
    p = users.add_parser("remove", help="delete an account and end its sessions")
    p.add_argument("name")
    p.set_defaults(handler=cmd_users_remove)
    p = users.add_parser("sessions", help="an account's live sessions (--end: end them all)")
    p.add_argument("name")
    p.add_argument("--end", action="store_true", help="end every session of the account")
    p.set_defaults(handler=cmd_users_sessions)
    p = users.add_parser("unlock", help="forget an account's failed logins and waits")
    p.add_argument("name")
    p.set_defaults(handler=cmd_users_unlock)
    roads = sub.add_parser("roads", help="the road network").add_subparsers(dest="roads_cmd",
                                                                          required=True)
    p = roads.add_parser("import", help="make a network file active (GeoJSON, GPKG, SHP, OSM PBF)")
    p.add_argument("path")
    p.add_argument("--districts", help="optional district polygons file")
    p.add_argument("--encoding", help="a Shapefile's text encoding (GBK, UTF-8 …); default: "
                   "SHAPE_ENCODING, the .cpg, else detected")
    p.add_argument("--crs", help="the input's coordinate system when the file lacks or "
                   "misstates it: EPSG:4548, wgs84, cgcs2000, gcj02, bd09 …")
    p.add_argument("--class-field", help="the attribute holding the road class (道路等级 …)")
    p.add_argument("--name-field", help="the attribute holding the road name (路名 …)")
    p.add_argument("--class-map", help="TOML/JSON file: class values and field names to add")
    p.set_defaults(handler=cmd_roads_import)
    p = roads.add_parser("match", help="nearest segment to a WGS-84 point")
    p.add_argument("lon", type=float)
    p.add_argument("lat", type=float)
    p.add_argument("--max-m", type=float, default=150.0)
    p.set_defaults(handler=cmd_roads_match)
    p = roads.add_parser("summary", help="the active network in numbers (segments and km "
                         "per road class, unnamed segments)")
    p.add_argument("--text", action="store_true", help="a plain table instead of JSON")
    p.set_defaults(handler=cmd_roads_summary)
    p = sub.add_parser("doctor", help="check Redis, persistence, the network and the feeds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_doctor)

    from dashboard.cli import stickers as stickers_cli   # `lukuang stickers make` (QR stickers)
    stickers_cli.register(sub)
