-- Write a congestion snapshot: segment -> "level|speed_kmh|source|observed_epoch".
-- Only a change of level counts as a change (bumps the version, one stream entry);
-- a fresh observation of the same level just refreshes the timestamp.
-- Two sources on one segment (Waze jams and Amap roads) must not overwrite each other every
-- poll: a reading from another source that is still fresh (observed within ARGV[4] seconds
-- of the new one) and worse is kept, as a command centre would rather see the jam; a source
-- always replaces its own reading, and any known level (1-4) replaces "unknown" (0).
-- KEYS[1] = version key, KEYS[2] = congestion hash, KEYS[3] = changes stream
-- ARGV[1] = changes MAXLEN, ARGV[2] = now, ARGV[3] = JSON list of [segment, level, value],
-- ARGV[4] = window (s) in which another source's worse reading wins
local items = cjson.decode(ARGV[3])
local window = tonumber(ARGV[4] or '0')
local changed = 0
for _, it in ipairs(items) do
  local old = redis.call('HGET', KEYS[2], it[1])
  local keep = false
  local old_level = nil
  if old then
    local level, _, source, observed = string.match(old, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)')
    old_level = level
    local _, _, new_source, new_observed = string.match(it[3], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)')
    if source ~= new_source and tonumber(level) and tonumber(level) > it[2]
       and tonumber(observed) and tonumber(new_observed)
       and tonumber(observed) >= tonumber(new_observed) - window then
      keep = true
    end
  end
  if not keep then
    redis.call('HSET', KEYS[2], it[1], it[3])
    if old_level ~= tostring(it[2]) then
      changed = changed + 1
    end
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
