-- Congestion fusion: one level per segment from every source, written atomically.
-- The congestion hash holds the fused reading per segment: "level|speed_kmh|source|observed_epoch".
-- A new reading (level L, source S, observed t) against the current one (Lc, Sc, tc):
--   1. older than the current reading (t < tc): ignored; an old reading never replaces a newer one.
--   2. no current reading, or the current one is no longer fresh (now - tc > fresh_s): it replaces it.
--   3. from here the current reading is fresh. An incoming reading that is itself not fresh, or is
--      "unknown" (level 0) while the current level is known, is ignored.
--   4. same level: the current reading is refreshed when S ranks at least as high as Sc; any
--      pending disagreement is dropped (the current level was confirmed).
--   5. same source (S == Sc): replaces its own reading (a source may change its mind).
--   6. S ranks higher than Sc (source quality, ARGV[5]): replaces at once.
--   7. S ranks lower than Sc: ignored while the current reading is fresh.
--   8. same rank, another level: hysteresis. The reading is held as "pending" and replaces the
--      current one only when it has been seen confirm_n times in a row while fresh (a reading of
--      the current level in between resets it), so two sources alternating never flip it.
-- Only a change of the fused level counts as a change (bumps the version, one stream entry).
-- KEYS[1] = version key, KEYS[2] = congestion hash, KEYS[3] = changes stream,
-- KEYS[4] = pending hash (segment -> "level|speed|source|observed|count")
-- ARGV[1] = changes MAXLEN, ARGV[2] = now, ARGV[3] = JSON list of [segment, level, value],
-- ARGV[4] = fresh_s, ARGV[5] = JSON {source: rank} (higher is better, unlisted 0),
-- ARGV[6] = confirm_n
local items = cjson.decode(ARGV[3])
local now = tonumber(ARGV[2])
local fresh_s = tonumber(ARGV[4])
local ranks = cjson.decode(ARGV[5])
local confirm_n = tonumber(ARGV[6])
local changed = 0

local function parse(value)
  local level, speed, source, observed = string.match(value, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)')
  return tonumber(level) or 0, speed, source or '', tonumber(observed) or 0
end

local function rank(source)
  return tonumber(ranks[source]) or 0
end

local function replace(seg, level, value, old_level)
  redis.call('HSET', KEYS[2], seg, value)
  redis.call('HDEL', KEYS[4], seg)
  if old_level ~= level then
    changed = changed + 1
  end
end

for _, it in ipairs(items) do
  local seg, level, value = it[1], tonumber(it[2]), it[3]
  local _, _, source, observed = parse(value)
  local old = redis.call('HGET', KEYS[2], seg)
  if not old then
    replace(seg, level, value, nil)
  else
    local old_level, _, old_source, old_observed = parse(old)
    if observed < old_observed then
      -- rule 1: older than what we have
    elseif now - old_observed > fresh_s then
      replace(seg, level, value, old_level)                      -- rule 2
    elseif now - observed > fresh_s or (level == 0 and old_level ~= 0) then
      -- rule 3: stale or unknown against a fresh known reading
    elseif level == old_level then
      if rank(source) >= rank(old_source) then                   -- rule 4
        redis.call('HSET', KEYS[2], seg, value)
      end
      redis.call('HDEL', KEYS[4], seg)
    elseif source == old_source or rank(source) > rank(old_source) then
      replace(seg, level, value, old_level)                      -- rules 5 and 6
    elseif rank(source) == rank(old_source) then                 -- rule 8
      local count = 1
      local pending = redis.call('HGET', KEYS[4], seg)
      if pending then
        local p_level, p_observed, p_count =
          string.match(pending, '^([^|]*)|[^|]*|[^|]*|([^|]*)|([^|]*)$')
        if tonumber(p_level) == level and now - (tonumber(p_observed) or 0) <= fresh_s then
          count = (tonumber(p_count) or 0) + 1
        end
      end
      if count >= confirm_n then
        replace(seg, level, value, old_level)
      else
        redis.call('HSET', KEYS[4], seg, value .. '|' .. count)
      end
    end
    -- rule 7: a lower-ranked source against a fresh reading changes nothing
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
