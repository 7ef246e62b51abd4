"""Comms: bulletin templates and drafts, channel lengths, reach of published posts, statutory holidays."""
