"""Real Redis-compatible servers started by the tests on loopback ports: single, Cluster, Sentinel."""
