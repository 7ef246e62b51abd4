"""Dispatch: incidents and their lifecycle, police units, clearance statistics."""
