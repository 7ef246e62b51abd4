-- Remove events whose expiry has passed from the active set and the geo index.
-- KEYS[1] = version, KEYS[2] = active:<kind>, KEYS[3] = geo:<kind>, KEYS[4] = changes
-- ARGV[1] = now, ARGV[2] = changes MAXLEN, ARGV[3] = kind, ARGV[4] = max ids per call
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
if #ids == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], unpack(ids))
redis.call('ZREM', KEYS[3], unpack(ids))
for _, id in ipairs(ids) do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'op', 'expire', 'id', id,
             'kind', ARGV[3], 'at', ARGV[1])
end
redis.call('INCR', KEYS[1])
return #ids
