"""Storage: Redis key names, the store, connections (URL, Sentinel, Cluster, embedded Valkey), caches and Lua scripts."""
