#include "services/catalog/catalog_lua.h"

namespace clerkship::catalog::lua {

// Numbers: times are milliseconds (13 digits) and days are day numbers, so Lua's doubles
// hold them exactly; int() formats them without the exponent that tostring() may add.
const char kLibrary[] = R"lua(
local function int(n) return string.format('%d', n) end

local char = string.char

-- Protobuf wire encoding, for the seat.* events whose payload only the script knows.
-- Tags, lengths and most values take one or two bytes; those skip the general loop (its
-- table and per-byte strings made a seat event cost ~15 us of Redis CPU).
local function pb_varint(n)
  if n < 128 then return char(n) end
  local low = n % 128
  local high = (n - low) / 128
  if high < 128 then return char(low + 128, high) end
  local out = {}
  repeat
    local b = n % 128
    n = (n - b) / 128
    if n > 0 then b = b + 128 end
    out[#out + 1] = string.char(b)
  until n == 0
  return table.concat(out)
end
local function pb_tag(field, wire) return pb_varint(field * 8 + wire) end
local function pb_uint(field, n)
  if not n or n == 0 then return '' end
  return pb_tag(field, 0) .. pb_varint(n)
end
local function pb_bool(field, b)
  if b then return pb_tag(field, 0) .. '\1' end
  return ''
end
local function pb_str(field, s)
  if not s or s == '' then return '' end
  return pb_tag(field, 2) .. pb_varint(#s) .. s
end
local function pb_msg(field, s) return pb_tag(field, 2) .. pb_varint(#s) .. s end
local function pb_time_ms(field, ms)
  local sec = math.floor(ms / 1000)
  return pb_msg(field, pb_uint(1, sec) .. pb_uint(2, (ms - sec * 1000) * 1000000))
end

-- A name-based (version 5 style) UUID, for events the sweeper emits on its own: the same
-- lapsed hold always gets the same event id, which is what consumers deduplicate on.
local function name_uuid(name)
  local h = redis.sha1hex(name)
  local variant = ({'8', '9', 'a', 'b'})[tonumber(string.sub(h, 17, 17), 16) % 4 + 1]
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-5' .. string.sub(h, 14, 16) ..
         '-' .. variant .. string.sub(h, 18, 20) .. '-' .. string.sub(h, 21, 32)
end

local function rot_key(rid) return 'cat:rot:' .. rid end
local function rot_sessions_key(rid) return 'cat:rot:' .. rid .. ':sessions' end
local function ses_key(rid, sid) return 'cat:ses:' .. rid .. ':' .. sid end
local function seat_key(rid, sid, part) return 'cat:seat:' .. rid .. ':' .. sid .. ':' .. part end
local function session_name(rid, sid) return 'rotations/' .. rid .. '/sessions/' .. sid end

-- Seat counts as of `now`: holds past their expiry no longer count, swept or not.
local function seat_counts(rid, sid, now)
  local f = redis.call('HMGET', ses_key(rid, sid), 'capacity', 'confirmed')
  local capacity, confirmed = tonumber(f[1]) or 0, tonumber(f[2]) or 0
  local held = redis.call('ZCOUNT', seat_key(rid, sid, 'expiry'), '(' .. int(now), '+inf')
  local available = capacity - held - confirmed
  if available < 0 then available = 0 end
  return capacity, held, confirmed, available
end

-- Records that a rotation, its sessions or their seats changed: cat:ver counts changes and
-- cat:changed keeps each rotation's latest change number, so that an in-process copy of the
-- catalog (RotationIndex) can fetch just what changed since the version it holds.
local function mark_changed(rid)
  redis.call('ZADD', 'cat:changed', redis.call('INCR', 'cat:ver'), rid)
end

local function parse_record(record)
  local state, a, b = string.match(record, '^(%a) (%d+) (%d+)$')
  return state, tonumber(a), tonumber(b)
end

-- Event id, time and actor from the caller, then (optional) the seat event's head as the
-- caller serialized it: the Event's fields 1-6 and the SeatChange's session and rotation.
-- Building those strings in Lua cost Redis's one thread more than the script's commands.
local function stamp_from_argv(i)
  return {id = ARGV[i], s = tonumber(ARGV[i + 1]), ns = tonumber(ARGV[i + 2]), actor = ARGV[i + 3],
          envelope = ARGV[i + 4], change_head = ARGV[i + 5]}
end

local SEAT_EVENT_FIELD = {['seat.held'] = 15, ['seat.confirmed'] = 16, ['seat.released'] = 17,
                          ['seat.expired'] = 18}

-- Appends a seat.* event (events.v1.Event with a SeatChange payload) to cat:events.
local function seat_event(event_type, rid, sid, holder, stamp, expire_ms, available, reason,
                          was_confirmed)
  local site = redis.call('HGET', ses_key(rid, sid), 'site') or ''
  local envelope, change_head = stamp.envelope, stamp.change_head
  if not envelope or not change_head then
    local session = session_name(rid, sid)
    change_head = pb_str(1, session) .. pb_str(2, 'rotations/' .. rid)
    envelope = pb_str(1, stamp.id) .. pb_str(2, event_type) .. pb_str(3, 'catalog') ..
               pb_str(4, session) .. pb_msg(5, pb_uint(1, stamp.s) .. pb_uint(2, stamp.ns)) ..
               pb_str(6, stamp.actor)
  end
  local change = change_head .. pb_str(3, 'sites/' .. site) .. pb_str(4, holder) ..
                 (expire_ms and pb_time_ms(5, expire_ms) or '') .. pb_uint(6, available) ..
                 pb_str(7, reason) .. pb_bool(8, was_confirmed)
  local event = envelope .. pb_msg(SEAT_EVENT_FIELD[event_type], change)
  publish_event('cat:events', event_type, event)
end

-- Ends one hold that has lapsed: the seat is free again and seat.expired is emitted.
local function expire_hold(rid, sid, holder, now)
  local holders = seat_key(rid, sid, 'holders')
  local record = redis.call('HGET', holders, holder)
  if not record then
    if redis.call('ZREM', seat_key(rid, sid, 'expiry'), holder) == 1 then mark_changed(rid) end
    return false
  end
  local state, hold_ms, expire_ms = parse_record(record)
  if state ~= 'H' or expire_ms > now then return false end
  mark_changed(rid)
  redis.call('HDEL', holders, holder)
  redis.call('ZREM', seat_key(rid, sid, 'expiry'), holder)
  redis.call('ZREM', 'cat:holds', rid .. ':' .. sid .. ':' .. holder)
  redis.call('HSET', seat_key(rid, sid, 'expired'), holder, int(expire_ms))
  local _, _, _, available = seat_counts(rid, sid, now)
  local sec = math.floor(now / 1000)
  local stamp = {
    id = name_uuid('seat.expired|' .. session_name(rid, sid) .. '|' .. holder .. '|' ..
        int(hold_ms)),
    s = sec, ns = (now - sec * 1000) * 1000000, actor = 'services/catalog'}
  seat_event('seat.expired', rid, sid, holder, stamp, expire_ms, available, '', false)
  return true
end

-- Sweeps one session's lapsed holds; seat scripts do this before looking at the counts.
local function sweep_session(rid, sid, now)
  for _, holder in ipairs(redis.call('ZRANGEBYSCORE', seat_key(rid, sid, 'expiry'), '-inf', int(now))) do
    expire_hold(rid, sid, holder, now)
  end
end

-- Sweeps lapsed holds anywhere, at most `limit` of them.
local function sweep(now, limit)
  local count = 0
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', 'cat:holds', '-inf', int(now), 'LIMIT', 0, limit)) do
    redis.call('ZREM', 'cat:holds', member)
    local rid, sid, holder = string.match(member, '^([^:]+):([^:]+):(.+)$')
    if rid then expire_hold(rid, sid, holder, now) end
    count = count + 1
  end
  return count
end

-- {pb, next start day (-1: none), free seats, site time zone} over the open sessions.
local function rotation_view(rid, now)
  local f = redis.call('HMGET', rot_key(rid), 'pb', 'tz')
  if not f[1] then return nil end
  local next_start, seats = -1, 0
  for _, sid in ipairs(redis.call('ZRANGE', rot_sessions_key(rid), 0, -1)) do
    local g = redis.call('HMGET', ses_key(rid, sid), 'start', 'close', 'capacity', 'confirmed')
    local start, close = tonumber(g[1]), tonumber(g[2])
    if start and close and now < close then
      local held = redis.call('ZCOUNT', seat_key(rid, sid, 'expiry'), '(' .. int(now), '+inf')
      local available = (tonumber(g[3]) or 0) - held - (tonumber(g[4]) or 0)
      if available > 0 then seats = seats + available end
      if next_start < 0 or start < next_start then next_start = start end
    end
  end
  return {f[1], next_start, seats, f[2] or ''}
end

-- {pb, capacity, held, confirmed, close ms, rotation state, site id, site time zone}
local function session_view(rid, sid, now)
  local f = redis.call('HMGET', ses_key(rid, sid), 'pb', 'close', 'site')
  if not f[1] then return nil end
  local capacity, held, confirmed = seat_counts(rid, sid, now)
  local rotation = redis.call('HMGET', rot_key(rid), 'state', 'tz')
  return {f[1], capacity, held, confirmed, f[2] or '0', rotation[1] or '', f[3] or '', rotation[2] or ''}
end

local function not_found_rotation(rid)
  return redis.error_reply('NOT_FOUND ROTATION_NOT_FOUND rotation rotations/' .. rid ..
      ' not found')
end
local function not_found_session(rid, sid)
  return redis.error_reply('NOT_FOUND SESSION_NOT_FOUND session ' .. session_name(rid, sid) ..
      ' not found')
end
)lua";

// KEYS: rotation hash, idempotency key. ARGV: id, pb, etag, site id, time zone, index keys,
// fee total, has request id ('1'/'0'), now ms.
const char kCreateRotation[] = R"lua(
local rid, now = ARGV[1], tonumber(ARGV[9])
if ARGV[8] == '1' then
  local earlier = redis.call('GET', KEYS[2])
  if earlier then
    local view = rotation_view(earlier, now)
    if view then return view end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ALREADY_EXISTS ROTATION_EXISTS rotation rotations/' .. rid ..
      ' already exists')
end
redis.call('HSET', KEYS[1], 'pb', ARGV[2], 'etag', ARGV[3], 'state', 'DRAFT', 'site', ARGV[4],
           'tz', ARGV[5], 'ix', ARGV[6], 'fee', ARGV[7])
redis.call('ZADD', 'cat:rots', 0, rid)
mark_changed(rid)
if ARGV[8] == '1' then redis.call('SET', KEYS[2], rid, 'EX', 86400) end
return rotation_view(rid, now)
)lua";

// ARGV: rotation id, now ms.
const char kGetRotation[] = R"lua(
local view = rotation_view(ARGV[1], tonumber(ARGV[2]))
if not view then return not_found_rotation(ARGV[1]) end
return view
)lua";

// KEYS: rotation hash. ARGV: id, transition (update|publish|archive), expected etag, pb, etag,
// state, index keys, fee total, event type ('' = no event), event, now ms.
const char kWriteRotation[] = R"lua(
local rid, transition, now = ARGV[1], ARGV[2], tonumber(ARGV[11])
local current = redis.call('HMGET', KEYS[1], 'etag', 'state')
if not current[1] then return not_found_rotation(rid) end
if current[1] ~= ARGV[3] then
  return redis.error_reply('ABORTED ETAG_CHANGED rotation rotations/' .. rid ..
      ' was changed by someone else')
end
if current[2] == 'ARCHIVED' and transition ~= 'archive' then
  return redis.error_reply('FAILED_PRECONDITION ROTATION_ARCHIVED rotation rotations/' .. rid ..
      ' is archived')
end
if transition == 'publish' and redis.call('ZCARD', rot_sessions_key(rid)) == 0 then
  return redis.error_reply('FAILED_PRECONDITION ROTATION_HAS_NO_SESSIONS rotation rotations/' ..
      rid .. ' has no session yet')
end
redis.call('HSET', KEYS[1], 'pb', ARGV[4], 'etag', ARGV[5], 'state', ARGV[6], 'ix', ARGV[7],
           'fee', ARGV[8])
mark_changed(rid)
if ARGV[9] ~= '' then publish_event('cat:events', ARGV[9], ARGV[10]) end
return rotation_view(rid, now)
)lua";

// KEYS: session hash, idempotency key. ARGV: rotation id, session id, pb, etag, start day,
// close ms, capacity, has request id, event, now ms.
const char kCreateSession[] = R"lua(
local rid, sid, now = ARGV[1], ARGV[2], tonumber(ARGV[10])
if ARGV[8] == '1' then
  local earlier = redis.call('GET', KEYS[2])
  if earlier then
    local view = session_view(rid, earlier, now)
    if view then return view end
  end
end
local rotation = redis.call('HMGET', rot_key(rid), 'state', 'site')
if not rotation[1] then return not_found_rotation(rid) end
if rotation[1] == 'ARCHIVED' then
  return redis.error_reply('FAILED_PRECONDITION ROTATION_ARCHIVED rotation rotations/' .. rid ..
      ' is archived and takes no new sessions')
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ALREADY_EXISTS SESSION_EXISTS session ' .. session_name(rid, sid) ..
      ' already exists')
end
redis.call('HSET', KEYS[1], 'pb', ARGV[3], 'etag', ARGV[4], 'start', ARGV[5], 'close', ARGV[6],
           'capacity', ARGV[7], 'confirmed', 0, 'site', rotation[2])
redis.call('ZADD', rot_sessions_key(rid), ARGV[5], sid)
if ARGV[8] == '1' then redis.call('SET', KEYS[2], sid, 'EX', 86400) end
mark_changed(rid)
publish_event('cat:events', 'session.created', ARGV[9])
return session_view(rid, sid, now)
)lua";

// ARGV: rotation id, session id, now ms.
const char kGetSession[] = R"lua(
local view = session_view(ARGV[1], ARGV[2], tonumber(ARGV[3]))
if not view then return not_found_session(ARGV[1], ARGV[2]) end
return view
)lua";

// KEYS: session hash. ARGV: rotation id, session id, expected etag, pb, etag, start day,
// close ms, capacity, event (seats_available is appended here), now ms.
const char kUpdateSession[] = R"lua(
local rid, sid, now = ARGV[1], ARGV[2], tonumber(ARGV[10])
local etag = redis.call('HGET', KEYS[1], 'etag')
if not etag then return not_found_session(rid, sid) end
if etag ~= ARGV[3] then
  return redis.error_reply('ABORTED ETAG_CHANGED session ' .. session_name(rid, sid) ..
      ' was changed by someone else')
end
if redis.call('HGET', rot_key(rid), 'state') == 'ARCHIVED' then
  return redis.error_reply('FAILED_PRECONDITION ROTATION_ARCHIVED rotation rotations/' .. rid ..
      ' is archived')
end
sweep_session(rid, sid, now)
local _, held, confirmed = seat_counts(rid, sid, now)
local capacity = tonumber(ARGV[8])
if capacity < held + confirmed then
  return redis.error_reply('FAILED_PRECONDITION CAPACITY_BELOW_SEATS_TAKEN capacity ' ..
      int(capacity) ..
                           ' is below the ' .. int(held + confirmed) .. ' seats held or confirmed')
end
redis.call('HSET', KEYS[1], 'pb', ARGV[4], 'etag', ARGV[5], 'start', ARGV[6], 'close', ARGV[7],
           'capacity', ARGV[8])
redis.call('ZADD', rot_sessions_key(rid), ARGV[6], sid)
mark_changed(rid)
local _, _, _, available = seat_counts(rid, sid, now)
-- A second occurrence of the payload field merges into the first (protobuf wire rules), so
-- appending {seats_available} completes the SessionChange built by the service.
publish_event('cat:events', 'session.updated', ARGV[9] .. pb_msg(14, pb_uint(8, available)))
return session_view(rid, sid, now)
)lua";

// ARGV: rotation id, after start day ('' = from the start), after session id, limit,
// open only ('1'/'0'), now ms. Returns {rotation state, site id, session views...}.
const char kListSessions[] = R"lua(
local rid, limit, open_only, now = ARGV[1], tonumber(ARGV[4]), ARGV[5] == '1', tonumber(ARGV[6])
local rotation = redis.call('HMGET', rot_key(rid), 'state', 'site')
if not rotation[1] then return not_found_rotation(rid) end
local out = {rotation[1], rotation[2]}
local after_day = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', rot_sessions_key(rid), after_day or '-inf', '+inf', 'WITHSCORES')
local n = 0
for i = 1, #ids, 2 do
  local sid, day = ids[i], tonumber(ids[i + 1])
  if not after_day or day > after_day or sid > ARGV[3] then
    local view = session_view(rid, sid, now)
    if view and (not open_only or now < tonumber(view[5])) then
      out[#out + 1] = view
      n = n + 1
      if n >= limit then break end
    end
  end
end
return out
)lua";

// ARGV: mode ('all': every rotation, by id; 'changes': rotations changed since a version),
// position (all: the last rotation id of the previous page, '' = first page; changes: the
// version already held), page size.
// Returns {cat:ver now, more (0/1), next position, then per rotation either {id} (gone) or
// {id, pb, state, tz, index keys, fee, {{session id, start day, close ms, capacity,
// confirmed, {holder, expire ms, ...}}, ...}}}. In 'changes' mode the next position is the
// version the returned records bring the reader up to.
const char kIndexSync[] = R"lua(
local mode, limit = ARGV[1], tonumber(ARGV[3])
local version = tonumber(redis.call('GET', 'cat:ver') or '0')
local rids, more, next_pos = {}, 0, ''
if mode == 'all' then
  local start = ARGV[2] == '' and '-' or '(' .. ARGV[2]
  rids = redis.call('ZRANGEBYLEX', 'cat:rots', start, '+', 'LIMIT', 0, limit)
  if #rids == limit then
    more, next_pos = 1, rids[#rids]
  end
else
  local changed = redis.call('ZRANGEBYSCORE', 'cat:changed', '(' .. ARGV[2], '+inf',
                             'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #changed, 2 do rids[#rids + 1] = changed[i] end
  if #rids == limit then
    more, next_pos = 1, changed[#changed]
  else
    next_pos = int(version)
  end
end
local out = {version, more, next_pos}
for _, rid in ipairs(rids) do
  local f = redis.call('HMGET', rot_key(rid), 'pb', 'state', 'tz', 'ix', 'fee')
  if f[1] then
    local sessions = {}
    for _, sid in ipairs(redis.call('ZRANGE', rot_sessions_key(rid), 0, -1)) do
      local g = redis.call('HMGET', ses_key(rid, sid), 'start', 'close', 'capacity', 'confirmed')
      sessions[#sessions + 1] = {sid, g[1] or '0', g[2] or '0', g[3] or '0', g[4] or '0',
          redis.call('ZRANGE', seat_key(rid, sid, 'expiry'), 0, -1, 'WITHSCORES')}
    end
    out[#out + 1] = {rid, f[1], f[2] or '', f[3] or '', f[4] or '', f[5] or '0', sessions}
  else
    out[#out + 1] = {rid}
  end
end
return out
)lua";

// ARGV: now ms, sweep limit. Sweeps lapsed holds (so that seat.expired follows a search
// without waiting for the sweeper) and returns cat:ver.
const char kSweepAndVersion[] = R"lua(
sweep(tonumber(ARGV[1]), tonumber(ARGV[2]))
return redis.call('GET', 'cat:ver') or '0'
)lua";

// ARGV: rotation id, session id, holder, expire ms, now ms, event id, time s, time ns, actor,
// event envelope, SeatChange head (see stamp_from_argv).
const char kHoldSeat[] = R"lua(
local rid, sid, holder, expire, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('EXISTS', ses_key(rid, sid)) == 0 then return not_found_session(rid, sid) end
sweep_session(rid, sid, now)
local holders = seat_key(rid, sid, 'holders')
local record = redis.call('HGET', holders, holder)
if record then return record end
if redis.call('HGET', rot_key(rid), 'state') ~= 'PUBLISHED' then
  return redis.error_reply('FAILED_PRECONDITION ROTATION_NOT_PUBLISHED rotation rotations/' ..
      rid .. ' is not published')
end
local _, _, _, available = seat_counts(rid, sid, now)
if available <= 0 then
  return redis.error_reply('RESOURCE_EXHAUSTED NO_SEATS_AVAILABLE session ' ..
      session_name(rid, sid) .. ' has no free seat')
end
record = 'H ' .. int(now) .. ' ' .. int(expire)
redis.call('HSET', holders, holder, record)
redis.call('ZADD', seat_key(rid, sid, 'expiry'), expire, holder)
redis.call('ZADD', 'cat:holds', expire, rid .. ':' .. sid .. ':' .. holder)
redis.call('HDEL', seat_key(rid, sid, 'expired'), holder)
mark_changed(rid)
seat_event('seat.held', rid, sid, holder, stamp_from_argv(6), expire, available - 1, '', false)
return record
)lua";

// ARGV: rotation id, session id, holder, now ms, event id, time s, time ns, actor,
// event envelope, SeatChange head (see stamp_from_argv).
const char kConfirmSeat[] = R"lua(
local rid, sid, holder, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', ses_key(rid, sid)) == 0 then return not_found_session(rid, sid) end
sweep_session(rid, sid, now)
local holders = seat_key(rid, sid, 'holders')
local record = redis.call('HGET', holders, holder)
if not record then
  if redis.call('HEXISTS', seat_key(rid, sid, 'expired'), holder) == 1 then
    return redis.error_reply('FAILED_PRECONDITION HOLD_EXPIRED the hold of ' .. holder ..
        ' has expired')
  end
  return redis.error_reply('FAILED_PRECONDITION HOLD_NOT_FOUND ' .. holder ..
      ' holds no seat in this session')
end
local state, hold_ms = parse_record(record)
if state == 'C' then return record end
record = 'C ' .. int(hold_ms) .. ' ' .. int(now)
redis.call('HSET', holders, holder, record)
redis.call('ZREM', seat_key(rid, sid, 'expiry'), holder)
redis.call('ZREM', 'cat:holds', rid .. ':' .. sid .. ':' .. holder)
redis.call('HINCRBY', ses_key(rid, sid), 'confirmed', 1)
mark_changed(rid)
local _, _, _, available = seat_counts(rid, sid, now)
seat_event('seat.confirmed', rid, sid, holder, stamp_from_argv(5), nil, available, '', false)
return record
)lua";

// ARGV: rotation id, session id, holder, reason, now ms, event id, time s, time ns, actor,
// event envelope, SeatChange head (see stamp_from_argv).
// Returns {released (0/1), free seats}.
const char kReleaseSeat[] = R"lua(
local rid, sid, holder, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if redis.call('EXISTS', ses_key(rid, sid)) == 0 then return not_found_session(rid, sid) end
sweep_session(rid, sid, now)
local holders = seat_key(rid, sid, 'holders')
local record = redis.call('HGET', holders, holder)
if not record then
  local _, _, _, available = seat_counts(rid, sid, now)
  return {0, available}
end
local state = parse_record(record)
redis.call('HDEL', holders, holder)
if state == 'C' then
  redis.call('HINCRBY', ses_key(rid, sid), 'confirmed', -1)
else
  redis.call('ZREM', seat_key(rid, sid, 'expiry'), holder)
  redis.call('ZREM', 'cat:holds', rid .. ':' .. sid .. ':' .. holder)
end
mark_changed(rid)
local _, _, _, available = seat_counts(rid, sid, now)
seat_event('seat.released', rid, sid, holder, stamp_from_argv(6), nil, available, reason, state == 'C')
return {1, available}
)lua";

// ARGV: rotation id, session id. Returns {capacity, confirmed, holder, record, ...}.
const char kSeatInventory[] = R"lua(
local rid, sid = ARGV[1], ARGV[2]
local f = redis.call('HMGET', ses_key(rid, sid), 'capacity', 'confirmed')
if not f[1] then return not_found_session(rid, sid) end
local out = {tonumber(f[1]), tonumber(f[2]) or 0}
local all = redis.call('HGETALL', seat_key(rid, sid, 'holders'))
for i = 1, #all do out[#out + 1] = all[i] end
return out
)lua";

// ARGV: now ms, limit. Returns the number of entries processed.
const char kSweep[] = R"lua(
return sweep(tonumber(ARGV[1]), tonumber(ARGV[2]))
)lua";

}  // namespace clerkship::catalog::lua
