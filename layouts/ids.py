"""Every Dash component id, in one place."""

# shell
URL = "url"
NAV = "nav"

# wall
WALL_MAP = "wall-map"
WALL_TICK = "wall-tick"
WALL_VERSION = "wall-version"
WALL_KPIS = "wall-kpis"
WALL_STATUS = "wall-status"
