-- Upsert a batch of events in one step. Idempotent: an event whose content hash is
-- unchanged (Waze resends every alert each poll; a client retries after a lost reply)
-- only has its liveness refreshed and counts as a duplicate.
-- KEYS[1] = version key (routes the script to the city's slot; every key below
--           is built from ARGV[1], which carries the same {city} hash tag)
-- ARGV[1] = key base "lk:{taian}:", ARGV[2] = now (epoch s), ARGV[3] = changes MAXLEN,
-- ARGV[4] = event hash TTL (s), ARGV[5] = JSON list of items
-- An event's hash lives until its own expiry (e.g. roadworks ending in 80 days) plus the
-- TTL, counted again each time a feed re-sends it, so a long-lived event never loses its
-- hash while it is still active.
local base = ARGV[1]
local now = ARGV[2]
local maxlen = ARGV[3]
local ttl = tonumber(ARGV[4])
local items = cjson.decode(ARGV[5])
local function hash_ttl(it)
  return math.max(ttl, math.ceil(it.expires - tonumber(now)) + ttl)
end
local new, upd, dup, ended = 0, 0, 0, 0
for _, it in ipairs(items) do
  local ekey = base .. 'event:' .. it.id
  local akey = base .. 'active:' .. it.kind
  local gkey = base .. 'geo:' .. it.kind
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
        local tkey = base .. 'ts:' .. t[1] .. ':' .. t[2]
        redis.call('HINCRBY', tkey, t[3], 1)
        redis.call('EXPIRE', tkey, 40 * 86400)
      end
    end
    redis.call('XADD', base .. 'changes', 'MAXLEN', '~', maxlen, '*',
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
