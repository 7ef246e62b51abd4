"""callbacks. Importing this package registers every callback (``dash.callback`` is global)."""
from . import comms, dispatch, feeds_page, wall  # noqa: F401
