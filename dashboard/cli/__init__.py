"""Command-line subcommands of ``lukuang`` that need only the core, and the process supervisor of ``lukuang run``."""
