-- Quarantine a rejected record once: the same content (hash of raw bytes + reason) seen again
-- within the TTL is counted as a duplicate of the feed and not stored again (the first entry
-- stays). Returns the new stream entry id, or false for a repeat.
-- KEYS[1] = seen marker of this content, KEYS[2] = quarantine stream, KEYS[3] = feed health hash,
-- KEYS[4] = feeds index
-- ARGV[1] = TTL (s), ARGV[2] = stream MAXLEN, ARGV[3] = feed name, ARGV[4] = reason,
-- ARGV[5] = raw text, ARGV[6] = raw hex ("" for text), ARGV[7] = ref, ARGV[8] = at
redis.call('SADD', KEYS[4], ARGV[3])
if not redis.call('SET', KEYS[1], ARGV[8], 'NX', 'EX', ARGV[1]) then
  redis.call('HINCRBY', KEYS[3], 'duplicates', 1)
  return false
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'reason', ARGV[4],
                      'raw', ARGV[5], 'raw_hex', ARGV[6], 'ref', ARGV[7], 'at', ARGV[8])
redis.call('HINCRBY', KEYS[3], 'quarantined', 1)
return id
