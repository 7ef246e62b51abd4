"""Which feeds to run: the settings file's ``[feeds.*]`` tables, or the demo upstream.

Credentials never live in the settings file: ``FeedConfig.token_env`` names an
environment variable, and its value is added to the request the way the provider
expects (Amap ``key=``, Weibo ``access_token=``, otherwise a Bearer header).
"""
from __future__ import annotations

import os
import re
from typing import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dashboard.settings import FeedConfig, Settings

FEED_NAMES = ("waze", "wzdx", "amap", "weibo", "hotline", "units")
# the query parameter that carries the credential, per adapter
TOKEN_PARAM = {"amap": "key", "weibo": "access_token"}
_SECRET_RE = re.compile(r"\b(" + "|".join(sorted(set(TOKEN_PARAM.values())))
                        + r")=[^&\s\"']+")
# central Tai'an, GCJ-02 "lon,lat;lon,lat": Amap caps a rectangle's diagonal at 10 km
DEMO_AMAP_RECTANGLE = "117.062,36.172;117.138,36.228"


def demo_feeds(settings: Settings) -> list[FeedConfig]:
    """The demo feeds (five formats and unit positions), polling the simulator on 127.0.0.1:``settings.sim_port``."""
    base = f"http://127.0.0.1:{settings.sim_port}"
    return [
        FeedConfig("waze", "waze", f"{base}/waze/feed.json", interval_s=10),
        FeedConfig("wzdx", "wzdx", f"{base}/wzdx/feed.geojson", interval_s=60),
        FeedConfig("amap", "amap", f"{base}/amap/v3/traffic/status/rectangle?"
                   f"rectangle={DEMO_AMAP_RECTANGLE}&extensions=all&key=demo", interval_s=30,
                   token_env="LUKUANG_AMAP_KEY"),
        FeedConfig("weibo", "weibo", f"{base}/weibo/2/statuses/mentions.json?count=200",
                   interval_s=15,
                   token_env="LUKUANG_WEIBO_TOKEN"),
        FeedConfig("hotline", "hotline", f"{base}/hotline/latest.csv", interval_s=60),
        FeedConfig("units", "units", f"{base}/units/positions.json", interval_s=5),
    ]


def configured_feeds(settings: Settings) -> list[FeedConfig]:
    """The settings' feeds when any are configured, else the demo feeds in demo mode."""
    if settings.feeds:
        return list(settings.feeds)
    return demo_feeds(settings) if settings.demo else []


def with_credentials(feed: FeedConfig,
                     env: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """(URL, extra headers) for a request, with the credential from ``feed.token_env``.

    Without ``token_env`` or with the variable unset, the URL is used as configured.
    """
    env = os.environ if env is None else env
    token = env.get(feed.token_env, "") if feed.token_env else ""
    if not token or "://" not in feed.url or feed.url.startswith("file:"):
        return feed.url, {}
    param = TOKEN_PARAM.get(feed.adapter)
    if param is None:
        return feed.url, {"Authorization": f"Bearer {token}"}
    parts = urlsplit(feed.url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != param]
    query.append((param, token))
    return urlunsplit(parts._replace(query=urlencode(query, safe=",;"))), {}


def mask_secrets(text: str) -> str:
    """``text`` (a URL, an error message) with credential parameter values masked."""
    return _SECRET_RE.sub(r"\1=***", text)


public_url = mask_secrets  # what a URL looks like in health records and logs
