"""Command-line subcommands for the feeds: ingest, feeds, sim, locate (filled in by the feeds work)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the feed subcommands to the ``lukuang`` parser."""
