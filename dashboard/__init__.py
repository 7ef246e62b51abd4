"""Lukuang core: settings, event model, Redis keys and store, road network, domain rules.

This package never imports feeds/, layouts/, callbacks/ or app.py.
"""
