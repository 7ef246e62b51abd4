"""``lukuang sim``: the demo upstream for 泰安, on loopback, in the providers' real formats.

The real adapters poll it exactly as they would poll Waze, WZDx, Amap, Weibo, the 122
hotline drop and the unit AVL feed; nothing in the demo bypasses them. What it serves
is a pure function of (seed, scenario, simulated time): see ``feeds.sim.world``.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("lukuang.sim")
REPO = Path(__file__).resolve().parents[2]
DEMO_NETWORK = Path("data/taian/roads.geojson")


def demo_network_path() -> Path:
    """The demo city's network: ./data/taian/roads.geojson, else the one in the checkout."""
    return DEMO_NETWORK if DEMO_NETWORK.is_file() else REPO / DEMO_NETWORK


def build_world(seed: int, scenario: str = "auto", network: Any = None):
    """A World on the demo network (loaded from data/taian when not given)."""
    from .world import World

    if network is None:
        from dashboard.roads.network import load_network
        network = load_network(demo_network_path())
    return World(network, seed, scenario)


def parse_start(text: str | None) -> float | None:
    """Simulated start time: ISO 8601 with an offset (2026-10-01T07:30+08:00) or epoch."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError("--start needs a UTC offset, e.g. 2026-10-01T07:30+08:00")
    return dt.timestamp()


def cmd_sim(args: argparse.Namespace, settings: Any) -> int:
    """Run the demo upstream until SIGTERM / Ctrl-C."""
    from .server import SimServer
    from .world import SimClock

    port = settings.sim_port if args.port is None else args.port
    seed = settings.sim_seed if args.seed is None else args.seed
    if args.truth:
        return write_truth_file(args, seed)
    try:
        start = parse_start(args.start)
        clock = SimClock(speed=args.speed, start=start)
        world = build_world(seed, args.scenario)
        server = SimServer(world, clock.now, port=port, speed=args.speed)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"lukuang sim: {exc}\n")
        return 2

    def stop(signum, frame):  # noqa: ARG001
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"lukuang sim: demo upstream at {server.url} (seed {seed}, speed ×{args.speed:g}, "
          f"scenario {args.scenario}, {len(world.city.segs)} segments)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def write_truth_file(args: argparse.Namespace, seed: int) -> int:
    """``lukuang sim --truth FILE``: write the true incidents of ``--truth-hours`` simulated
    hours from ``--start`` (see ``feeds.sim.truth``) and exit without serving."""
    import time

    from .truth import write_truth

    try:
        start = parse_start(args.start)
        if args.truth_hours <= 0:
            raise ValueError("--truth-hours must be positive")
        world = build_world(seed, args.scenario)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"lukuang sim: {exc}\n")
        return 2
    t0 = time.time() if start is None else start
    doc = write_truth(world, t0, t0 + args.truth_hours * 3600, Path(args.truth))
    print(f"lukuang sim: {len(doc['incidents'])} true incidents, {len(doc['roadworks'])} "
          f"roadworks, {len(doc['other'])} other records (seed {seed}) written to {args.truth}",
          flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``lukuang sim`` to the command line."""
    p = sub.add_parser("sim", help="demo upstream on 127.0.0.1: Waze, WZDx, Amap, Weibo, "
                                   "hotline and unit feeds for the demo city")
    p.add_argument("--port", type=int, help="port on 127.0.0.1 (default: settings sim_port)")
    p.add_argument("--seed", type=int, help="world seed (default: settings sim_seed)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per real second (default 1)")
    p.add_argument("--start", help="simulated start, e.g. 2026-10-01T07:30+08:00 "
                                   "(default: now)")
    p.add_argument("--scenario", choices=("auto", "normal", "holiday"), default="auto",
                   help="auto: holiday on statutory holidays (chinese-calendar)")
    p.add_argument("--truth", metavar="FILE",
                   help="write the true incidents and the ids of the feed records about them "
                        "(JSON) for --truth-hours from --start, then exit without serving")
    p.add_argument("--truth-hours", type=float, default=24.0,
                   help="simulated hours covered by --truth (default 24)")
    p.set_defaults(handler=cmd_sim)
