"""The Lua scripts that move reminders within a shard atomically.

Every script takes the shard's keys in the order of ``ShardKeys.all()`` (KEYS[1] fence,
[2] applied, [3] due, [4] lease, [5] occurrence, [6] record, [7] last, [8] prepared) and the
caller's epoch as ARGV[1]. It answers {'FENCED'} when a later epoch claimed the shard, {'LOST'}
when the shard's state is gone (flushed or replaced) and must be rebuilt, else {'OK', ...}.
"""

from __future__ import annotations

_GUARD = """
local fence = tonumber(redis.call('GET', KEYS[1]))
local epoch = tonumber(ARGV[1])
if fence and fence > epoch then return {'FENCED'} end
if fence ~= epoch or redis.call('EXISTS', KEYS[2]) == 0 then return {'LOST'} end
"""

# For rebuilds, while the applied marker is still missing.
_FENCE_ONLY = """
local fence = tonumber(redis.call('GET', KEYS[1]))
local epoch = tonumber(ARGV[1])
if fence and fence > epoch then return {'FENCED'} end
if fence ~= epoch then return {'LOST'} end
"""

_SEEN = """
if tonumber(ARGV[2]) <= tonumber(redis.call('GET', KEYS[2])) then return {'SEEN'} end
"""

# ARGV[1] = now (ms). Claims the shard with an epoch later than any before; returns it.
ACQUIRE = """
local current = tonumber(redis.call('GET', KEYS[1])) or 0
local epoch = math.max(tonumber(ARGV[1]), current + 1)
redis.call('SET', KEYS[1], string.format('%.0f', epoch))
return string.format('%.0f', epoch)
"""

# Takes the shard back after its state was lost, unless a later epoch holds it.
RECLAIM = """
local fence = tonumber(redis.call('GET', KEYS[1]))
if fence and fence > tonumber(ARGV[1]) then return {'FENCED'} end
redis.call('SET', KEYS[1], ARGV[1])
return {'OK'}
"""

# -> {'OK', applied offset}
STATUS = _GUARD + "return {'OK', redis.call('GET', KEYS[2])}"

# ARGV: epoch, offset, id, record, occurrence ('' = nothing left: forget the reminder),
# expected last released occurrence ('*' = any, '' = none), prepared NotificationDue ('' = none).
# -> OK | SEEN | SAME | RETRY(last)
UPSERT = (
    _GUARD
    + _SEEN
    + """
local id = ARGV[3]
if ARGV[5] ~= '' and redis.call('HGET', KEYS[6], id) == ARGV[4] then
  redis.call('SET', KEYS[2], ARGV[2])
  return {'SAME'}
end
if ARGV[6] ~= '*' then
  local last = redis.call('HGET', KEYS[7], id) or ''
  if last ~= ARGV[6] then return {'RETRY', last} end
else
  redis.call('HDEL', KEYS[7], id)
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[4], id)
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[5], id)
  redis.call('HDEL', KEYS[6], id)
  redis.call('HDEL', KEYS[7], id)
  redis.call('HDEL', KEYS[8], id)
else
  redis.call('HSET', KEYS[6], id, ARGV[4])
  redis.call('HSET', KEYS[5], id, ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[5], id)
  if ARGV[7] ~= '' then
    redis.call('HSET', KEYS[8], id, ARGV[7])
  else
    redis.call('HDEL', KEYS[8], id)
  end
end
return {'OK'}
"""
)

# ARGV: epoch, offset, id. -> OK | SEEN
CANCEL = (
    _GUARD
    + _SEEN
    + """
local id = ARGV[3]
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], id)
redis.call('HDEL', KEYS[5], id)
redis.call('HDEL', KEYS[6], id)
redis.call('HDEL', KEYS[7], id)
redis.call('HDEL', KEYS[8], id)
return {'OK'}
"""
)

# ARGV: epoch, now, lease deadline, limit. Returns lapsed leases to due, then moves due
# reminders into the lease set (one command per step, whatever the batch size).
# -> {'OK', lapsed, next due ('' none), next lease deadline ('' none), pending,
#     id, occurrence, record, prepared ('' none), ...}
TAKE = (
    _GUARD
    + """
local now, limit = ARGV[2], tonumber(ARGV[4])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)
for _, id in ipairs(lapsed) do
  redis.call('ZREM', KEYS[4], id)
  local occurrence = redis.call('HGET', KEYS[5], id)
  if occurrence then redis.call('ZADD', KEYS[3], occurrence, id) end
end
local out = {'OK', #lapsed, '', '', 0}
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
if #ids > 0 then
  redis.call('ZREM', KEYS[3], unpack(ids))
  local occurrences = redis.call('HMGET', KEYS[5], unpack(ids))
  local records = redis.call('HMGET', KEYS[6], unpack(ids))
  local prepared = redis.call('HMGET', KEYS[8], unpack(ids))
  local leased = {}
  for i, id in ipairs(ids) do
    if occurrences[i] and records[i] then
      leased[#leased + 1] = ARGV[3]
      leased[#leased + 1] = id
      out[#out + 1] = id
      out[#out + 1] = occurrences[i]
      out[#out + 1] = records[i]
      out[#out + 1] = prepared[i] or ''
    end
  end
  if #leased > 0 then redis.call('ZADD', KEYS[4], unpack(leased)) end
end
local due = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
local lease = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
out[3] = due[2] or ''
out[4] = lease[2] or ''
out[5] = redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4])
return out
"""
)

# ARGV: epoch, a JSON array of [id, taken occurrence, next occurrence or ''] (strings; one
# argument instead of three per reminder keeps the call cheap to encode). Acts only where the
# armed occurrence is still the one taken; -> {'OK', ids rescheduled or cancelled meanwhile...}
COMPLETE = (
    _GUARD
    + """
local changed = {'OK'}
local done = cjson.decode(ARGV[2])
if #done == 0 then return changed end
local ids = {}
for i, d in ipairs(done) do ids[i] = d[1] end
local armed = redis.call('HMGET', KEYS[5], unpack(ids))
local finished, gone = {}, {}
for i, d in ipairs(done) do
  local id, taken, following = d[1], d[2], d[3]
  if armed[i] == taken then
    finished[#finished + 1] = id
    if following == '' then
      gone[#gone + 1] = id
    else
      redis.call('HSET', KEYS[5], id, following)
      redis.call('ZADD', KEYS[3], following, id)
      redis.call('HSET', KEYS[7], id, taken)
    end
  else
    changed[#changed + 1] = id
  end
end
if #finished > 0 then redis.call('ZREM', KEYS[4], unpack(finished)) end
if #gone > 0 then
  redis.call('HDEL', KEYS[5], unpack(gone))
  redis.call('HDEL', KEYS[6], unpack(gone))
  redis.call('HDEL', KEYS[7], unpack(gone))
  redis.call('HDEL', KEYS[8], unpack(gone))
end
return changed
"""
)

# ARGV: epoch, offset. Records that the topic was applied up to offset.
BUMP = (
    _GUARD
    + """
if tonumber(redis.call('GET', KEYS[2])) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
return {'OK'}
"""
)

# Rebuild: drop the shard's index (the fence stays).
WIPE = (
    _FENCE_ONLY
    + """
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
return {'OK'}
"""
)

# Rebuild: ARGV: epoch, then (id, record, occurrence, last released or '', prepared or '')
# quintuples.
LOAD = (
    _FENCE_ONLY
    + """
for i = 2, #ARGV, 5 do
  local id = ARGV[i]
  redis.call('HSET', KEYS[6], id, ARGV[i + 1])
  redis.call('HSET', KEYS[5], id, ARGV[i + 2])
  redis.call('ZADD', KEYS[3], ARGV[i + 2], id)
  if ARGV[i + 3] ~= '' then redis.call('HSET', KEYS[7], id, ARGV[i + 3]) end
  if ARGV[i + 4] ~= '' then redis.call('HSET', KEYS[8], id, ARGV[i + 4]) end
end
return {'OK'}
"""
)

# Rebuild: ARGV: epoch, offset. The marker that the shard's index is complete.
SEAL = (
    _FENCE_ONLY
    + """
redis.call('SET', KEYS[2], ARGV[2])
return {'OK'}
"""
)
