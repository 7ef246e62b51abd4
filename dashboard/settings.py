"""One settings object: argument > environment (LUKUANG_*, REDIS_URL) > TOML file > default."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CONFIG_NAME = "lukuang.toml"
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEMO_CITY = "taian"
# the demo city's profile: what an unset profile setting is while ``city`` is DEMO_CITY
DEMO_PROFILE: dict[str, Any] = {
    "city_name": "泰安",
    "city_code": "370900",
    "city_bbox": (116.80, 35.90, 117.45, 36.45),
    "hashtags": "泰安路况",
    "sms_signature": "【泰安交警】",
    "weibo_accounts": "泰山交警,泰安交警,泰安公安交警",
}
# profile settings that follow from the city's name when unset (outside the demo city)
NAME_DEFAULTS = {"hashtags": "{name}路况", "sms_signature": "【{name}交警】",
                 "weibo_accounts": "{name}交警"}
FEED_MODES = ("poll", "drop")


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "lukuang"


@dataclass(frozen=True)
class FeedConfig:
    """One upstream feed: where to fetch it and how often."""

    name: str
    adapter: str
    url: str = ""
    interval_s: float = 30.0
    timeout_s: float = 10.0
    max_bytes: int = 20 * 1024 * 1024
    enabled: bool = True
    token_env: str = ""
    # poll: fetched every interval_s, stale after 3 intervals without a success; drop:
    # files delivered now and then (`lukuang ingest`, or a file at ``url`` looked at every
    # interval_s), judged by the last drop's result and never stale between drops
    mode: str = "poll"


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one Lukuang install."""

    redis_url: str = ""
    # the city profile (dashboard.city.CityProfile; README "Set up a new city"). Unset
    # values come from DEMO_PROFILE when ``city`` is the demo city, else from the name
    # (hashtags, SMS signature, accounts) or the active road network (bbox, districts)
    city: str = DEMO_CITY
    city_name: str = ""
    city_code: str = ""              # 行政区划代码, e.g. 370100
    key_prefix: str = "lk"
    redis_db: int = 0
    state_dir: Path = field(default_factory=_default_state_dir)
    timezone: str = DEFAULT_TIMEZONE
    # lon_min, lat_min, lon_max, lat_max of the city; records outside are quarantined.
    # None: the active road network's extent plus a margin (dashboard.roads.extent)
    city_bbox: tuple[float, float, float, float] | None = None
    hashtags: str = ""               # comma-separated: the comms drafts' topics (#…#)
    sms_signature: str = ""          # 【…】 at the start of every SMS
    weibo_accounts: str = ""         # the police's own Weibo accounts (a mention is flagged)
    districts: str = ""              # comma-separated; unset: the network's districts
    host: str = "127.0.0.1"
    port: int = 8050
    workers: int = 2
    refresh_s: float = 5.0
    # how often the wall and dispatch pages ask whether the data version changed: an unchanged
    # answer is one Redis GET and no update, so a change reaches every open screen within
    # about this tick plus one rebuild (issue 14: within 2 s). Clocks and ages keep refreshing
    # on their own, slower ticks.
    version_tick_s: float = 1.0
    wall_token: str = ""
    # the wall's map: "maplibre" (road geometry fetched once, levels sent as deltas) or
    # "plotly" (the earlier scattermap figure with one line trace per level)
    wall_map: str = "maplibre"
    secret_key: str = ""
    session_hours: float = 12.0
    # logins (dashboard.auth.LoginPolicy): failed tries on one account from one client before
    # that client is locked out of it, until login_lock_s after its last try; once an account
    # has login_backoff_after failures from all clients, a client it does not know waits a
    # delay doubling from 1 s up to login_backoff_max_s before each further try
    login_max_failures: int = 5
    login_lock_s: int = 900
    login_backoff_after: int = 10
    login_backoff_max_s: int = 60
    # the Secure flag of the cookies: auto (when the request came over HTTPS; behind a proxy
    # that terminates TLS, from its X-Forwarded-Proto when trusted_proxies is set), on, off
    cookie_secure: str = "auto"
    demo: bool = True
    sim_port: int = 8061
    sim_seed: int = 20261001
    match_max_m: float = 150.0
    event_ttl_s: int = 7 * 24 * 3600
    report_window_s: int = 1800
    reopen_window_s: int = 3600
    changes_maxlen: int = 100_000
    quarantine_maxlen: int = 10_000
    congestion_stale_s: int = 900
    # congestion fusion (dashboard/storage/lua/set_congestion.lua): sources best first (an
    # unlisted source ranks last), how long a reading counts as fresh, and how many readings in
    # a row an equally ranked source needs to replace a fresh level
    congestion_sources: str = "amap,waze"
    congestion_fresh_s: int = 300
    congestion_confirm: int = 2
    # replicas that must hold a batch before it is acknowledged (WAIT N); -1 (the default,
    # LUKUANG_WAIT_REPLICAS unset): 1 when the master has a replica (Sentinel lists one, or
    # the master reports one connected), else 0 (Store.replicas_to_wait)
    wait_replicas: int = -1
    # confirm each batch is fsynced to the AOF before acknowledging it (WAITAOF; skipped with a
    # warning when the server has no AOF or predates Redis 7.2 / Valkey 8)
    wait_aof: bool = True
    wait_timeout_ms: int = 1000
    cluster: bool = False
    # bound on each Redis call (connect, reply): feed runners and commands (a batch may wait
    # for WAIT/WAITAOF), and the web app, whose every request must answer soon whatever
    # Redis does (dashboard.storage.connection: SERVE never retries a timeout)
    redis_timeout_s: float = 5.0
    redis_serve_timeout_s: float = 1.0
    # /api/v1/* for anonymous callers: requests per window per client (0 or less: off)
    api_rate_limit: int = 120
    api_rate_window_s: int = 60
    # the API's shared body cache (query-dependent bodies): at most this many bytes and
    # entries in Redis for all its queries together; the least recently stored go first
    api_cache_bytes: int = 8 * 1024 * 1024
    api_cache_entries: int = 256
    # the public road query (/public, /api/v1/public/*): requests per window per client;
    # 0 or less turns the limit off
    public_rate_limit: int = 60
    public_rate_window_s: int = 60
    # reverse proxies in front that set X-Forwarded-For (werkzeug ProxyFix); 0: none, the
    # client is the socket's peer address
    trusted_proxies: int = 0
    # how long a cleared incident stays on the wall, marked cleared (seconds)
    cleared_visible_s: int = 300
    # construction events on one road within this distance with overlapping times are one
    # roadworks (dashboard.roads.works)
    works_near_m: float = 100.0
    # `roads import` (dashboard.roads.importer): a class-map file (TOML/JSON, see
    # dashboard/roads/classes.py), the attributes holding the road class and name, a
    # Shapefile's text encoding and the input's coordinate system (EPSG code, gcj02, bd09);
    # empty: found out from the file
    roads_class_map: str = ""
    roads_class_field: str = ""
    roads_name_field: str = ""
    roads_encoding: str = ""
    roads_crs: str = ""
    # fusion of feed records into incidents (dashboard.dispatch.fusion): on/off, the time
    # window after an incident's last report, the distance within which two records are
    # "the same place" by the coarser of their two precisions, the least severity of a
    # report (kind "report") that becomes an incident
    fusion_enabled: bool = True
    fusion_window_s: int = 3600
    fusion_point_m: float = 150.0
    fusion_intersection_m: float = 200.0
    fusion_landmark_m: float = 300.0
    fusion_road_m: float = 800.0
    fusion_min_severity: int = 1
    # ... two records on one road (a GPS point mid-block vs the nearest intersection) within
    # this; a road-only record joins the nearest open incident on its road within this; a
    # moving target (comma-separated categories) follows its road within this; reports of
    # these categories only join (never create); two records of these feeds are two incidents
    fusion_same_road_m: float = 600.0
    fusion_expressway_m: float = 3000.0
    fusion_expressway_words: str = "高速"
    fusion_coarse_m: float = 10000.0
    fusion_moving_m: float = 20000.0
    fusion_moving_categories: str = "overload"
    fusion_join_only: str = "jam,other"
    fusion_distinct_feeds: str = "waze"
    feeds: tuple[FeedConfig, ...] = ()
    config_file: Path | None = None
    # the terminal of `lukuang run` (and any command): with log_file set, the log goes there
    # (INFO and up) and the terminal shows warnings and errors only; verbose shows every line
    # in the terminal too, one per feed poll included (`lukuang run` gives each of its
    # processes a file under <state_dir>/logs/)
    verbose: bool = False
    log_file: str = ""
    # the demo's first start fills 8 days of simulated congestion index history (the trend
    # chart and its "last week" line), marked simulated (feeds/backfill.py); off: start empty
    demo_backfill: bool = True
    # the SMS road query (POST /api/v1/sms/inbound, dashboard.web.sms_api): the gateway's
    # shared secret (empty: the route answers 503); queries per sender number per window, and
    # requests per client address (the gateway's) per window; 0 or less turns a limit off
    sms_secret: str = ""
    sms_rate_limit: int = 5
    sms_rate_window_s: int = 300
    sms_ip_rate_limit: int = 600
    sms_ip_rate_window_s: int = 60
    # citizens in (QR stickers, dashboard/citizen/, /r/<sticker id>): the address phones open,
    # printed in the stickers' QR codes (`lukuang stickers make`; unset: http://host:port,
    # which phones cannot reach); reports per client address and per sticker per window, and
    # form pages per client per window; 0 or less turns a limit off
    public_base_url: str = ""
    qr_rate_limit: int = 5
    qr_rate_window_s: int = 600
    qr_sticker_rate_limit: int = 30
    qr_sticker_rate_window_s: int = 600
    qr_form_rate_limit: int = 60
    qr_form_rate_window_s: int = 60

    @property
    def redis_db_effective(self) -> int:
        return self.redis_db


_ENV_MAP = {
    "REDIS_URL": "redis_url",
    "LUKUANG_REDIS_URL": "redis_url",
    "LUKUANG_CITY": "city",
    "LUKUANG_CITY_NAME": "city_name",
    "LUKUANG_CITY_CODE": "city_code",
    "LUKUANG_HASHTAGS": "hashtags",
    "LUKUANG_SMS_SIGNATURE": "sms_signature",
    "LUKUANG_WEIBO_ACCOUNTS": "weibo_accounts",
    "LUKUANG_DISTRICTS": "districts",
    "LUKUANG_KEY_PREFIX": "key_prefix",
    "LUKUANG_REDIS_DB": "redis_db",
    "LUKUANG_STATE_DIR": "state_dir",
    "LUKUANG_TIMEZONE": "timezone",
    "LUKUANG_HOST": "host",
    "LUKUANG_PORT": "port",
    "LUKUANG_WORKERS": "workers",
    "LUKUANG_REFRESH_S": "refresh_s",
    "LUKUANG_VERSION_TICK_S": "version_tick_s",
    "LUKUANG_WALL_TOKEN": "wall_token",
    "LUKUANG_WALL_MAP": "wall_map",
    "LUKUANG_SECRET_KEY": "secret_key",
    "LUKUANG_SESSION_HOURS": "session_hours",
    "LUKUANG_LOGIN_MAX_FAILURES": "login_max_failures",
    "LUKUANG_LOGIN_LOCK_S": "login_lock_s",
    "LUKUANG_LOGIN_BACKOFF_AFTER": "login_backoff_after",
    "LUKUANG_LOGIN_BACKOFF_MAX_S": "login_backoff_max_s",
    "LUKUANG_COOKIE_SECURE": "cookie_secure",
    "LUKUANG_DEMO": "demo",
    "LUKUANG_SIM_PORT": "sim_port",
    "LUKUANG_SIM_SEED": "sim_seed",
    "LUKUANG_MATCH_MAX_M": "match_max_m",
    "LUKUANG_WAIT_REPLICAS": "wait_replicas",
    "LUKUANG_WAIT_TIMEOUT_MS": "wait_timeout_ms",
    "LUKUANG_WAIT_AOF": "wait_aof",
    "LUKUANG_CLUSTER": "cluster",
    "LUKUANG_REDIS_TIMEOUT_S": "redis_timeout_s",
    "LUKUANG_REDIS_SERVE_TIMEOUT_S": "redis_serve_timeout_s",
    "LUKUANG_API_RATE_LIMIT": "api_rate_limit",
    "LUKUANG_API_RATE_WINDOW_S": "api_rate_window_s",
    "LUKUANG_API_CACHE_BYTES": "api_cache_bytes",
    "LUKUANG_API_CACHE_ENTRIES": "api_cache_entries",
    "LUKUANG_REOPEN_WINDOW_S": "reopen_window_s",
    "LUKUANG_CONGESTION_SOURCES": "congestion_sources",
    "LUKUANG_CONGESTION_FRESH_S": "congestion_fresh_s",
    "LUKUANG_CONGESTION_CONFIRM": "congestion_confirm",
    "LUKUANG_CITY_BBOX": "city_bbox",
    "LUKUANG_PUBLIC_RATE_LIMIT": "public_rate_limit",
    "LUKUANG_PUBLIC_RATE_WINDOW_S": "public_rate_window_s",
    "LUKUANG_TRUSTED_PROXIES": "trusted_proxies",
    "LUKUANG_CLEARED_VISIBLE_S": "cleared_visible_s",
    "LUKUANG_WORKS_NEAR_M": "works_near_m",
    "LUKUANG_ROADS_CLASS_MAP": "roads_class_map",
    "LUKUANG_ROADS_CLASS_FIELD": "roads_class_field",
    "LUKUANG_ROADS_NAME_FIELD": "roads_name_field",
    "LUKUANG_ROADS_ENCODING": "roads_encoding",
    "LUKUANG_ROADS_CRS": "roads_crs",
    "LUKUANG_FUSION_ENABLED": "fusion_enabled",
    "LUKUANG_FUSION_WINDOW_S": "fusion_window_s",
    "LUKUANG_FUSION_POINT_M": "fusion_point_m",
    "LUKUANG_FUSION_INTERSECTION_M": "fusion_intersection_m",
    "LUKUANG_FUSION_LANDMARK_M": "fusion_landmark_m",
    "LUKUANG_FUSION_ROAD_M": "fusion_road_m",
    "LUKUANG_FUSION_MIN_SEVERITY": "fusion_min_severity",
    "LUKUANG_FUSION_SAME_ROAD_M": "fusion_same_road_m",
    "LUKUANG_FUSION_EXPRESSWAY_M": "fusion_expressway_m",
    "LUKUANG_FUSION_EXPRESSWAY_WORDS": "fusion_expressway_words",
    "LUKUANG_FUSION_COARSE_M": "fusion_coarse_m",
    "LUKUANG_FUSION_MOVING_M": "fusion_moving_m",
    "LUKUANG_FUSION_MOVING_CATEGORIES": "fusion_moving_categories",
    "LUKUANG_FUSION_JOIN_ONLY": "fusion_join_only",
    "LUKUANG_FUSION_DISTINCT_FEEDS": "fusion_distinct_feeds",
    "LUKUANG_VERBOSE": "verbose",
    "LUKUANG_LOG_FILE": "log_file",
    "LUKUANG_DEMO_BACKFILL": "demo_backfill",
    "LUKUANG_SMS_SECRET": "sms_secret",
    "LUKUANG_SMS_RATE_LIMIT": "sms_rate_limit",
    "LUKUANG_SMS_RATE_WINDOW_S": "sms_rate_window_s",
    "LUKUANG_SMS_IP_RATE_LIMIT": "sms_ip_rate_limit",
    "LUKUANG_SMS_IP_RATE_WINDOW_S": "sms_ip_rate_window_s",
    "LUKUANG_PUBLIC_BASE_URL": "public_base_url",
    "LUKUANG_QR_RATE_LIMIT": "qr_rate_limit",
    "LUKUANG_QR_RATE_WINDOW_S": "qr_rate_window_s",
    "LUKUANG_QR_STICKER_RATE_LIMIT": "qr_sticker_rate_limit",
    "LUKUANG_QR_STICKER_RATE_WINDOW_S": "qr_sticker_rate_window_s",
    "LUKUANG_QR_FORM_RATE_LIMIT": "qr_form_rate_limit",
    "LUKUANG_QR_FORM_RATE_WINDOW_S": "qr_form_rate_window_s",
}


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Turn a string (environment) or TOML value into the type of the default."""
    try:
        if name == "state_dir" or name == "config_file":
            return Path(os.path.expanduser(str(value))).resolve()
        if name == "city_bbox":
            if value is None or isinstance(value, str) and value.strip() in ("", "auto"):
                return None   # derived from the road network
            parts = value.split(",") if isinstance(value, str) else list(value)
            box = tuple(float(p) for p in parts)
            if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3]:
                raise ValueError("need lon_min,lat_min,lon_max,lat_max")
            return box
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(value, (list, tuple)):   # a TOML list for a comma-separated setting
            return ",".join(str(v).strip() for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}: {exc}") from None


def _feeds_from(table: Mapping[str, Any]) -> tuple[FeedConfig, ...]:
    out = []
    known = {f.name for f in fields(FeedConfig)}
    for name, spec in table.items():
        if not isinstance(spec, Mapping):
            raise SettingsError(f"feeds.{name} must be a table")
        unknown = set(spec) - known
        if unknown:
            raise SettingsError(f"feeds.{name}: unknown keys {sorted(unknown)}")
        if spec.get("mode", "poll") not in FEED_MODES:
            raise SettingsError(f"feeds.{name}: mode {spec['mode']!r} is not one of "
                                f"{', '.join(FEED_MODES)}")
        out.append(FeedConfig(name=name, adapter=str(spec.get("adapter", name)),
                              **{k: v for k, v in spec.items() if k not in ("name", "adapter")}))
    return tuple(out)


def load_settings(config_file: str | Path | None = None, env: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Build the settings: keyword arguments beat the environment, which beats the file.

    The file is `config_file`, else `$LUKUANG_CONFIG`, else `./lukuang.toml` when present.
    """
    env = os.environ if env is None else env
    defaults = Settings()
    values: dict[str, Any] = {}
    path = config_file or env.get("LUKUANG_CONFIG")
    if not path and Path(DEFAULT_CONFIG_NAME).is_file():
        path = DEFAULT_CONFIG_NAME
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {p}: {exc}") from None
        section = data.get("lukuang", data)
        for key, value in section.items():
            if key == "feeds":
                values["feeds"] = _feeds_from(value)
            elif key in {f.name for f in fields(Settings)}:
                values[key] = _coerce(key, value, getattr(defaults, key))
            else:
                raise SettingsError(f"config file {p}: unknown setting {key!r}")
        values["config_file"] = p.resolve()
    for env_name, attr in _ENV_MAP.items():
        if env_name in env and (env_name != "LUKUANG_REDIS_URL" or "REDIS_URL" not in env):
            values[attr] = _coerce(attr, env[env_name], getattr(defaults, attr))
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in {f.name for f in fields(Settings)}:
            raise SettingsError(f"unknown setting {key!r}")
        values[key] = value if key == "feeds" else _coerce(key, value, getattr(defaults, key))
    settings = replace(defaults, **_profile_defaults(values, defaults))
    if not settings.city.isidentifier() or "{" in settings.city:
        raise SettingsError(f"setting city: {settings.city!r} must be a simple identifier")
    if settings.cookie_secure not in ("auto", "on", "off"):
        raise SettingsError(f"setting cookie_secure: {settings.cookie_secure!r} is not one of "
                            "auto, on, off")
    if settings.wall_map not in ("maplibre", "plotly"):
        raise SettingsError(f"setting wall_map: {settings.wall_map!r} is not one of "
                            "maplibre, plotly")
    try:
        ZoneInfo(settings.timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise SettingsError(f"setting timezone: {settings.timezone!r} is not an IANA time "
                            "zone (e.g. Asia/Shanghai)") from None
    return settings


def _profile_defaults(values: dict[str, Any], defaults: Settings) -> dict[str, Any]:
    """``values`` with the unset profile settings filled in: the demo profile for the demo
    city; elsewhere the name is the city's id unless set, hashtags, SMS signature and
    accounts follow from the name, and there is no demo (its simulator plays Tai'an)."""
    out = dict(values)
    city = out.get("city", defaults.city)
    if city == DEMO_CITY:
        for key, value in DEMO_PROFILE.items():
            out.setdefault(key, value)
        return out
    out.setdefault("demo", False)
    if not out.get("city_name"):
        out["city_name"] = str(city)
    for key, pattern in NAME_DEFAULTS.items():
        out.setdefault(key, pattern.format(name=out["city_name"]))
    return out
