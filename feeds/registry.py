"""Adapter names → classes: the one place a feed's ``adapter`` setting is looked up."""
from __future__ import annotations

from .amap import AmapAdapter
from .base import Adapter
from .hotline import HotlineAdapter
from .waze import WazeAdapter
from .wzdx import WzdxAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "waze": WazeAdapter,
    "wzdx": WzdxAdapter,
    "amap": AmapAdapter,
    "hotline": HotlineAdapter,
    # "weibo": WeiboAdapter,  -- registered lazily by get_adapter() (feeds/weibo.py)
}


def adapter_names() -> list[str]:
    """Every adapter name that can be configured, weibo included when it is installed."""
    names = set(ADAPTERS)
    try:
        from .weibo import WeiboAdapter  # noqa: F401
        names.add("weibo")
    except ImportError:
        pass
    return sorted(names)


def get_adapter(name: str) -> Adapter:
    """A new adapter instance for ``name``; KeyError naming the known ones otherwise."""
    if name == "weibo" and name not in ADAPTERS:
        try:
            from .weibo import WeiboAdapter
        except ImportError:
            pass
        else:
            ADAPTERS["weibo"] = WeiboAdapter
    cls = ADAPTERS.get(name)
    if cls is None:
        raise KeyError(f"unknown adapter {name!r} (one of {', '.join(adapter_names())})")
    return cls()
