"""The web layer, the only Flask user: sessions and permission checks, the JSON API, the public query routes, the audit export, rate limits."""
