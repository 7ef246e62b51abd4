"""Fault tests: kill or cut something on purpose and count what was lost."""
