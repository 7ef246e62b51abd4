-- Write a congestion snapshot: segment -> "level|speed_kmh|source|observed_epoch".
-- Only a change of level counts as a change (bumps the version, one stream entry);
-- a fresh observation of the same level just refreshes the timestamp.
-- KEYS[1] = version key, KEYS[2] = congestion hash, KEYS[3] = changes stream
-- ARGV[1] = changes MAXLEN, ARGV[2] = now, ARGV[3] = JSON list of [segment, level, value]
local items = cjson.decode(ARGV[3])
local changed = 0
for _, it in ipairs(items) do
  local old = redis.call('HGET', KEYS[2], it[1])
  local old_level = old and string.match(old, '^([^|]*)') or nil
  redis.call('HSET', KEYS[2], it[1], it[3])
  if old_level ~= tostring(it[2]) then
    changed = changed + 1
  end
end
local version
if changed > 0 then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[1], '*', 'op', 'congestion',
             'count', changed, 'at', ARGV[2])
  version = redis.call('INCR', KEYS[1])
else
  version = tonumber(redis.call('GET', KEYS[1]) or '0')
end
return {changed, version}
