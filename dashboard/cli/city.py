"""``lukuang city init NAME --roads FILE`` and ``lukuang city show``: a new city in one
command, and the city profile checked against the road network and the feeds.

    lukuang city init jinan --roads jinan.osm.pbf --name 济南 --code 370100
    lukuang city show                     # the profile as the processes see it, and checks

``init`` imports the roads (``dashboard.roads.importer``; without ``--roads`` the network
imported already), writes the settings file (``--config``, else ``./lukuang.toml``) with
the profile and ``demo = false``, and prints the profile with the bounds and districts
derived from the network and the checks ``lukuang doctor`` makes of it. An existing file is
kept unless ``--force``: then its other settings (Redis, tokens, feeds) are kept, the
profile replaced, and the old file saved as ``….bak``. ``profile_checks`` is what
``lukuang doctor`` adds about the city.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dashboard.city import CityProfile, covers, inside, split_names
from dashboard.cli.commands import EXIT_FAIL, EXIT_OK, emit, fail
from dashboard.settings import (DEFAULT_CONFIG_NAME, DEMO_CITY, DEMO_PROFILE, Settings,
                                SettingsError, load_settings)

# the settings ``init`` writes (and replaces in an existing file)
PROFILE_KEYS = ("city", "city_name", "city_code", "timezone", "city_bbox", "hashtags",
                "sms_signature", "weibo_accounts", "districts", "demo")


# -- checks (also part of `lukuang doctor`) ------------------------------------------------------
def _check(name: str, status: str, detail: str) -> dict[str, str]:
    return {"check": name, "status": status, "detail": detail}


def _is_demo_network(settings: Settings) -> bool:
    from dashboard.roads.network import active_network_path, default_network_dir

    return active_network_path(settings.state_dir).parent == default_network_dir()


def profile_checks(settings: Settings, network: Any = None) -> list[dict[str, str]]:
    """The city profile against the road network and the feeds, in plain words: who the
    city is; whether the network is this city's (not the demo's elsewhere) and inside the
    bounds; whether data can come in (feeds, or the demo simulator only in the demo
    city). ``network`` is loaded when not given; a network that does not load is left to
    the doctor's "road network" check."""
    from dashboard.roads.extent import city_profile, network_bbox

    if network is None:
        try:
            from dashboard.roads.network import get_network

            network = get_network(settings.state_dir)
        except Exception:  # noqa: BLE001 - reported by the "road network" check
            network = None
    prof = city_profile(settings, network)
    checks = [_identity_check(settings, prof)]
    if network is not None:
        demo_net = _is_demo_network(settings)
        if demo_net and settings.city != DEMO_CITY:
            checks.append(_check("city network", "fail",
                                 f"the active road network is the demo city's "
                                 f"({DEMO_PROFILE['city_name']}), not {prof.name}'s: import "
                                 "yours with `lukuang city init` or `lukuang roads import`"))
        checks.append(_bounds_check(prof, network_bbox(network)))
        checks.append(_districts_check(settings, prof, network))
    checks += _feed_checks(settings, prof)
    return checks


def _identity_check(settings: Settings, prof: CityProfile) -> dict[str, str]:
    missing = []
    if settings.city != DEMO_CITY and prof.name == settings.city:
        missing.append("city_name")
    if not prof.code:
        missing.append("city_code")
    detail = (f"{prof.name} ({prof.city}{', ' + prof.code if prof.code else ''}), "
              f"{prof.timezone}, topics {'、'.join(prof.hashtags) or '-'}, SMS "
              f"{prof.sms_signature or '-'}, accounts {'、'.join(prof.weibo_accounts) or '-'}")
    if missing:
        return _check("city profile", "warn", f"{detail}; set {', '.join(missing)} "
                                             "(`lukuang city init … --name --code`)")
    return _check("city profile", "ok", detail)


def _bounds_check(prof: CityProfile, net_box) -> dict[str, str]:
    if prof.bbox is None or net_box is None:
        return _check("city bounds", "fail", "no city_bbox and no road segments to derive it "
                                             "from: every located record is quarantined")
    box = ", ".join(f"{v:.4f}" for v in prof.bbox)
    if prof.bbox_source == "network":
        return _check("city bounds", "ok", f"[{box}]: the road network's extent plus a margin")
    if not (prof.bbox[0] < net_box[2] and net_box[0] < prof.bbox[2]
            and prof.bbox[1] < net_box[3] and net_box[1] < prof.bbox[3]):
        return _check("city bounds", "fail", f"city_bbox [{box}] does not touch the road "
                                             "network: every record on it is quarantined "
                                             "(remove city_bbox to derive it)")
    if not covers(prof.bbox, net_box):
        return _check("city bounds", "warn", f"city_bbox [{box}] leaves part of the road "
                                             "network out: records there are quarantined")
    return _check("city bounds", "ok", f"city_bbox [{box}] covers the road network")


def _districts_check(settings: Settings, prof: CityProfile, network) -> dict[str, str]:
    from dashboard.roads.extent import network_districts

    known = set(network_districts(network))
    if prof.districts_source != "settings":
        return _check("city districts", "ok" if known else "warn",
                      "、".join(sorted(known)) + " (from the road network)" if known else
                      "the network has no districts: the wall shows the whole city only "
                      "(`roads import --districts FILE`)")
    unknown = [d for d in prof.districts if d not in known]
    if unknown:
        return _check("city districts", "warn", f"not districts of the road network: "
                                                f"{'、'.join(unknown)}")
    return _check("city districts", "ok", "、".join(prof.districts))


def _feed_checks(settings: Settings, prof: CityProfile) -> list[dict[str, str]]:
    out = []
    if settings.demo and settings.city != DEMO_CITY:
        out.append(_check("city feeds", "warn", "demo = true: the simulator plays "
                                                f"{DEMO_PROFILE['city_name']}, its records "
                                                "fall outside this city (set demo = false)"))
    feeds = [f for f in settings.feeds if f.enabled]
    if not feeds:
        detail = ("the demo feeds of the simulator" if settings.demo else
                  "no [feeds.NAME] configured: data comes only from `lukuang ingest FEED FILE`")
        out.append(_check("city feeds", "ok" if settings.demo else "warn", detail))
        return out
    polled = [f.name for f in feeds if f.mode == "poll"]
    drops = [f.name for f in feeds if f.mode == "drop"]
    parts = ([f"polled: {', '.join(polled)}"] if polled else []) + \
        ([f"file drops (never stale between drops): {', '.join(drops)}"] if drops else [])
    out.append(_check("city feeds", "ok", "; ".join(parts)))
    for f in feeds:
        centre = _amap_centre(f.url) if f.adapter == "amap" else None
        if centre is not None and prof.bbox is not None and not inside(prof.bbox, *centre):
            out.append(_check(f"city feed {f.name}", "warn",
                              f"its Amap rectangle (centre {centre[0]:.3f}, {centre[1]:.3f}) "
                              f"is outside {prof.name}'s bounds"))
    return out


def _amap_centre(url: str) -> tuple[float, float] | None:
    """The centre of an Amap ``rectangle=lon,lat;lon,lat`` query parameter, if any."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key != "rectangle":
            continue
        try:
            (a, b), (c, d) = ([float(v) for v in p.split(",")] for p in value.split(";"))
        except ValueError:
            return None
        if all(math.isfinite(v) for v in (a, b, c, d)):
            return (a + c) / 2, (b + d) / 2
    return None


# -- the settings file ---------------------------------------------------------------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)   # a JSON string is a TOML basic string


def to_toml(values: dict[str, Any], tables: dict[str, dict[str, Any]],
            comments: dict[str, str] | None = None) -> str:
    """TOML text of flat ``values`` then ``tables`` (``{"feeds.waze": {...}}``); a
    ``comments`` line goes after its key's line."""
    lines = []
    for key, value in values.items():
        lines.append(f"{key} = {_toml_value(value)}")
        if comments and key in comments:
            lines.append(f"# {comments[key]}")
    for name, table in tables.items():
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _existing(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(flat settings, tables) of an existing settings file (its ``[lukuang]`` section when
    it has one)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data = data.get("lukuang", data)
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, spec in value.items():
                if isinstance(spec, dict):
                    tables[f"{key}.{sub}"] = spec
    return flat, tables


def _profile_values(args: argparse.Namespace) -> dict[str, Any]:
    name = args.name or args.city
    values: dict[str, Any] = {"city": args.city, "city_name": name}
    if args.code:
        values["city_code"] = args.code
    values["timezone"] = args.timezone
    if args.bbox:
        values["city_bbox"] = [float(v) for v in args.bbox.split(",")]
    values["hashtags"] = list(split_names(",".join(args.hashtag or [])) or (f"{name}路况",))
    values["sms_signature"] = args.sms_signature or f"【{name}交警】"
    values["weibo_accounts"] = list(split_names(",".join(args.account or [])) or
                                    (f"{name}交警",))
    if args.district:
        values["districts"] = list(split_names(",".join(args.district)))
    values["demo"] = False
    return values


def cmd_city_init(args: argparse.Namespace, settings: Settings) -> int:
    """Import the roads, write the settings file, print the profile and its checks."""
    from dashboard.roads.extent import city_profile
    from dashboard.roads.network import get_network

    config = Path(args.config or DEFAULT_CONFIG_NAME)
    if config.exists() and not args.force:
        return fail(f"city init: {config} exists; --force replaces its city profile (its "
                    "other settings are kept, the old file saved as .bak)")
    values = _profile_values(args)
    if args.state_dir:
        values["state_dir"] = str(Path(args.state_dir).expanduser().resolve())
    try:
        flat, tables = _existing(config) if config.exists() else ({}, {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return fail(f"city init: cannot read {config}: {exc}")
    flat = {k: v for k, v in flat.items() if k not in PROFILE_KEYS and k != "state_dir"}
    comments = {"city_code": "行政区划代码", "demo": "no simulator: it plays the demo city"}
    staged = config.with_name(f".{config.name}.new")
    staged.write_text(to_toml({**values, **flat}, tables, comments), encoding="utf-8")
    try:   # the file as every process will read it: a bad value is refused before anything
        new = load_settings(staged)
    except SettingsError as exc:
        staged.unlink(missing_ok=True)
        return fail(f"city init: {exc}")
    summary = None
    if args.roads:
        from dashboard.roads.importer import ImportOptions, NetworkImportError, import_network

        try:   # the roads_* settings (encoding, CRS, class and name fields) apply here too
            summary = import_network(Path(args.roads), new.state_dir,
                                     districts=Path(args.districts) if args.districts else None,
                                     options=ImportOptions.from_settings(new))
        except NetworkImportError as exc:
            staged.unlink(missing_ok=True)
            return fail(f"city init: roads: {exc}")
    elif _is_demo_network(new):
        staged.unlink(missing_ok=True)
        return fail("city init: no road network imported yet: give --roads FILE")
    network = get_network(new.state_dir)
    if "city_bbox" not in values:   # say what the derived bounds are, where they would go
        box = city_profile(new, network).bbox
        comments["timezone"] = ("city_bbox unset: the road network's extent plus 5 km, now "
                                f"{list(box) if box else '-'}; set it to fix the bounds")
        staged.write_text(to_toml({**values, **flat}, tables, comments), encoding="utf-8")
    if config.exists():
        shutil.copy2(config, config.with_name(config.name + ".bak"))
    os.replace(staged, config)
    checks = profile_checks(new, network)
    emit({"config": str(config.resolve()), "state_dir": str(new.state_dir),
          "network": summary or network.summary(),
          "profile": city_profile(new, network).to_dict(), "checks": checks,
          "next": ["lukuang doctor", "echo 'a-long-password' | lukuang users add NAME "
                   "--role admin --password-stdin", "lukuang run",
                   f"add [feeds.NAME] tables to {config} (README: Set up a new city)"]})
    return EXIT_FAIL if any(c["status"] == "fail" for c in checks) else EXIT_OK


def cmd_city_show(args: argparse.Namespace, settings: Settings) -> int:
    """The profile as every process sees it (derived parts included), and its checks."""
    from dashboard.roads.extent import city_profile
    from dashboard.roads.network import get_network

    try:
        network = get_network(settings.state_dir)
    except Exception as exc:  # noqa: BLE001 - said, and the profile from the settings alone
        emit({"profile": CityProfile.from_settings(settings).to_dict(),
              "checks": [_check("road network", "fail", f"cannot load: {exc}")]})
        return EXIT_FAIL
    checks = profile_checks(settings, network)
    emit({"profile": city_profile(settings, network).to_dict(), "checks": checks})
    return EXIT_FAIL if any(c["status"] == "fail" for c in checks) else EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    city = sub.add_parser("city", help="set up a city: profile, roads, settings file"
                          ).add_subparsers(dest="city_cmd", required=True)
    p = city.add_parser("init", help="import the roads and write the settings file of a new "
                                     "city (lukuang.toml, or --config)")
    p.add_argument("city", metavar="NAME", help="the city's id: letters and digits, e.g. "
                                                "jinan (its Redis keys are lk:{NAME}:…)")
    p.add_argument("--roads", metavar="FILE", help="road network: GeoJSON, GeoPackage, "
                                                   "Shapefile or .osm.pbf (default: the one "
                                                   "imported already)")
    p.add_argument("--districts", metavar="FILE", help="district polygons (name column)")
    p.add_argument("--name", help="the name on the screens, e.g. 济南 (default: NAME)")
    p.add_argument("--code", help="行政区划代码, e.g. 370100")
    p.add_argument("--timezone", default="Asia/Shanghai", help="IANA zone of local times")
    p.add_argument("--bbox", metavar="LON0,LAT0,LON1,LAT1",
                   help="the city's bounds (default: the network's extent plus 5 km)")
    p.add_argument("--hashtag", action="append", help="comms topic (repeat; default "
                                                      "<name>路况)")
    p.add_argument("--sms-signature", help="SMS signature (default 【<name>交警】)")
    p.add_argument("--account", action="append", help="the police's own Weibo account "
                                                      "(repeat; default <name>交警)")
    p.add_argument("--district", action="append", help="district name (repeat; default: "
                                                       "the network's)")
    p.add_argument("--state-dir", help="write this state directory into the settings file")
    p.add_argument("--force", action="store_true", help="replace the profile of an existing "
                                                        "settings file")
    p.set_defaults(handler=cmd_city_init)
    p = city.add_parser("show", help="the city profile (bounds and districts derived from "
                                     "the network) and its checks, as JSON")
    p.set_defaults(handler=cmd_city_show)

