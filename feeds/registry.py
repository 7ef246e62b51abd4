"""Adapter names → classes: the one place a feed's ``adapter`` setting is looked up."""
from __future__ import annotations

from .amap import AmapAdapter
from .base import Adapter
from .hotline import HotlineAdapter
from .units import UnitsAdapter
from .waze import WazeAdapter
from .weibo import WeiboAdapter
from .wzdx import WzdxAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "waze": WazeAdapter,
    "wzdx": WzdxAdapter,
    "amap": AmapAdapter,
    "weibo": WeiboAdapter,
    "hotline": HotlineAdapter,
    "units": UnitsAdapter,
}


def adapter_names() -> list[str]:
    """Every adapter name that can be configured."""
    return sorted(ADAPTERS)


def get_adapter(name: str) -> Adapter:
    """A new adapter instance for ``name``; KeyError naming the known ones otherwise."""
    cls = ADAPTERS.get(name)
    if cls is None:
        raise KeyError(f"unknown adapter {name!r} (one of {', '.join(adapter_names())})")
    return cls()
