"""What a web worker or command needs at hand: settings, Redis, the store.

Built once per process by whoever starts it (app.py, the CLI) and passed in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from dashboard.storage.connection import RedisHandle, open_redis
from dashboard.storage.keys import Keys
from dashboard.settings import Settings
from dashboard.storage.store import Store


@dataclass
class Services:
    settings: Settings
    handle: RedisHandle
    _network: object | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, start_embedded: bool = True) -> "Services":
        return cls(settings, open_redis(settings, start_embedded=start_embedded))

    @property
    def r(self):
        return self.handle.client

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.key_prefix, self.settings.city)

    @cached_property
    def store(self) -> Store:
        return Store.from_settings(self.r, self.settings)

    @property
    def network(self):
        """The active road network (loaded once per process; reloaded when the file changes)."""
        from dashboard.roads.network import get_network

        return get_network(self.settings.state_dir)

    @property
    def zone(self):
        """The city's time zone (the ``timezone`` setting)."""
        from dashboard.timeutil import city_zone

        return city_zone(self.settings)

    def close(self) -> None:
        self.handle.close()
