"""Congestion levels, their colours and the congestion index the trend panels plot."""
from __future__ import annotations

import time
from typing import Any

# Amap's scale, which every provider is mapped onto before storage.
LEVEL_NAMES = {0: "未知", 1: "畅通", 2: "缓行", 3: "拥堵", 4: "严重拥堵"}
LEVEL_NAMES_EN = {0: "unknown", 1: "free", 2: "slow", 3: "congested", 4: "severe"}
# The map providers' convention: green, yellow, red, dark red, grey.
LEVEL_COLOURS = {0: "#8c8c8c", 1: "#2fb344", 2: "#f5c400", 3: "#e8301c", 4: "#8b0a0a"}
# Weight of a level in the index: 缓行 counts half, 拥堵 and 严重拥堵 fully.
LEVEL_WEIGHT = {0: 0.0, 1: 0.0, 2: 0.5, 3: 1.0, 4: 1.0}


def congestion_index(snapshot: dict[str, dict[str, Any]], lengths: dict[str, float],
                     districts: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per area ("city" and each district): the index (weighted share of observed length
    that is slow or congested, 0–1), congested km (level ≥ 3) and observed km."""
    acc: dict[str, list[float]] = {}
    for seg, obs in snapshot.items():
        level = int(obs.get("level", 0))
        length = lengths.get(seg)
        if length is None or level == 0:
            continue
        for area in ("city", districts.get(seg) or ""):
            if not area:
                continue
            a = acc.setdefault(area, [0.0, 0.0, 0.0])
            a[0] += length * LEVEL_WEIGHT[level]
            a[1] += length if level >= 3 else 0.0
            a[2] += length
    return {area: {"index": (w / obs if obs else 0.0), "congested_km": c / 1000,
                   "observed_km": obs / 1000} for area, (w, c, obs) in acc.items()}


def record_congestion_index(store, network, stale_s: float = 900,
                            now: float | None = None) -> dict[str, dict[str, float]]:
    """Compute the index from the current snapshot and store it as per-minute gauges
    ``cidx:<area>`` and ``ckm:<area>``."""
    now = time.time() if now is None else now
    segs = network.segments
    lengths = segs["length_m"].to_dict()
    districts = segs["district"].fillna("").to_dict() if "district" in segs else {}
    result = congestion_index(store.congestion_snapshot(stale_s, now), lengths, districts)
    for area, v in result.items():
        store.record_gauge(f"cidx:{area}", now, v["index"])
        store.record_gauge(f"ckm:{area}", now, v["congested_km"])
    return result
