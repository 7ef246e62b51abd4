-- Upsert a batch of events in one step. Idempotent: an event whose content hash is
-- unchanged (Waze resends every alert each poll; a client retries after a lost reply)
-- only has its liveness refreshed and counts as a duplicate.
-- KEYS[1] = version key, KEYS[2] = changes stream
-- ARGV[1..3] = key prefixes of an event hash, an active set and a geo set (Keys.event_prefix,
--              active_prefix, geo_prefix: they carry the city's hash tag, so the keys built
--              from them share the slot of KEYS), ARGV[4] = now (epoch s),
-- ARGV[5] = changes MAXLEN, ARGV[6] = event hash TTL (s), ARGV[7] = JSON list of items;
-- an item's ts is a list of [time-series key, minute field]
-- An event's hash lives until its own expiry (e.g. roadworks ending in 80 days) plus the
-- TTL, counted again each time a feed re-sends it, so a long-lived event never loses its
-- hash while it is still active.
local event_prefix, active_prefix, geo_prefix = ARGV[1], ARGV[2], ARGV[3]
local now = ARGV[4]
local maxlen = ARGV[5]
local ttl = tonumber(ARGV[6])
local items = cjson.decode(ARGV[7])
local function hash_ttl(it)
  return math.max(ttl, math.ceil(it.expires - tonumber(now)) + ttl)
end
local new, upd, dup, ended = 0, 0, 0, 0
for _, it in ipairs(items) do
  local ekey = event_prefix .. it.id
  local akey = active_prefix .. it.kind
  local gkey = geo_prefix .. it.kind
  local old = redis.call('HGET', ekey, 'hash')
  local live = redis.call('ZSCORE', akey, it.id)
  if old == it.hash and (live or it.ended) then
    dup = dup + 1
    if live and not it.ended then
      redis.call('ZADD', akey, 'GT', it.expires, it.id)
      redis.call('EXPIRE', ekey, hash_ttl(it))
    end
  else
    local f = {'hash', it.hash, 'updated_at', now}
    if not old then
      f[#f + 1] = 'first_seen'; f[#f + 1] = now
    end
    for k, v in pairs(it.fields) do
      f[#f + 1] = k; f[#f + 1] = v
    end
    redis.call('HSET', ekey, unpack(f))
    redis.call('EXPIRE', ekey, hash_ttl(it))
    local op
    if it.ended then
      redis.call('ZREM', akey, it.id)
      redis.call('ZREM', gkey, it.id)
      ended = ended + 1
      op = 'end'
    else
      redis.call('ZADD', akey, it.expires, it.id)
      redis.call('GEOADD', gkey, it.lon, it.lat, it.id)
      if old then op = 'update' else op = 'new' end
    end
    if old then
      upd = upd + 1
    else
      new = new + 1
      for _, t in ipairs(it.ts) do
        redis.call('HINCRBY', t[1], t[2], 1)
        redis.call('EXPIRE', t[1], 40 * 86400)
      end
    end
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
               'op', op, 'id', it.id, 'kind', it.kind, 'at', now)
  end
end
local version
if new + upd + ended > 0 then
  version = redis.call('INCR', KEYS[1])
else
  version = tonumber(redis.call('GET', KEYS[1]) or '0')
end
return {new, upd, dup, ended, version}
