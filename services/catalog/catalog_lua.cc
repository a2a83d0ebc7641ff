#include "services/catalog/catalog_lua.h"

namespace clerkship::catalog::lua {

// Numbers: times are milliseconds (13 digits) and days are day numbers, so Lua's doubles
// hold them exactly; int() formats them without the exponent that tostring() may add.
const char kLibrary[] = R"lua(
local NO_START = 99999999

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

-- Adds a rotation to (or removes it from) its search term sets and the fee index.
local function index_terms(rid, add)
  local f = redis.call('HMGET', rot_key(rid), 'ix', 'fee')
  for key in string.gmatch(f[1] or '', '[^\n]+') do
    if add then redis.call('SADD', key, rid) else redis.call('SREM', key, rid) end
  end
  if add then
    redis.call('ZADD', 'cat:idx:fee', f[2], rid)
  else
    redis.call('ZREM', 'cat:idx:fee', rid)
  end
end

-- Records that a rotation, its sessions or their seats changed: cat:ver counts changes and
-- cat:changed keeps each rotation's latest change number, so that an in-process copy of the
-- catalog (RotationIndex) can fetch just what changed since the version it holds.
local function mark_changed(rid)
  redis.call('ZADD', 'cat:changed', redis.call('INCR', 'cat:ver'), rid)
end

-- Scores of members in a sorted set (false where absent), in batches that fit unpack().
local function scores_of(key, members)
  local out = {}
  for i = 1, #members, 1000 do
    local args = {'ZMSCORE', key}
    for j = i, math.min(i + 999, #members) do args[#args + 1] = members[j] end
    local scores = redis.call(unpack(args))
    for j = 1, #args - 2 do out[#out + 1] = scores[j] end
  end
  return out
end

-- Recomputes the session-dependent indexes of a rotation: which of its sessions are open
-- (and have a free seat), its earliest start and its free seats. Unpublished rotations
-- are taken out of them. Every seat change runs this, so it reads each session once and
-- writes a session's index entries only when they change (writes cost Redis several
-- times what reads do inside a script).
local function refresh_sessions(rid, now)
  mark_changed(rid)
  local published = redis.call('HGET', rot_key(rid), 'state') == 'PUBLISHED'
  local next_start, next_free, seats = nil, nil, 0
  local sids = redis.call('ZRANGE', rot_sessions_key(rid), 0, -1)
  local members = {}
  for i, sid in ipairs(sids) do members[i] = rid .. '/' .. sid end
  local listed, listed_free = {}, {}
  if #members > 0 then
    listed = scores_of('cat:idx:ses:start', members)
    listed_free = scores_of('cat:idx:ses:avail', members)
  end
  local live_after = '(' .. int(now)
  for i, sid in ipairs(sids) do
    -- The fields seat_counts reads, in the same read.
    local f = redis.call('HMGET', ses_key(rid, sid), 'start', 'close', 'capacity', 'confirmed')
    local start, close = tonumber(f[1]), tonumber(f[2])
    local member = members[i]
    if published and start and close and now < close then
      local held = redis.call('ZCOUNT', seat_key(rid, sid, 'expiry'), live_after, '+inf')
      local available = (tonumber(f[3]) or 0) - held - (tonumber(f[4]) or 0)
      if tonumber(listed[i]) ~= start then
        redis.call('ZADD', 'cat:idx:ses:start', start, member)
      end
      if available > 0 then
        if tonumber(listed_free[i]) ~= start then
          redis.call('ZADD', 'cat:idx:ses:avail', start, member)
        end
        if not next_free or start < next_free then next_free = start end
        seats = seats + available
      elseif listed_free[i] then
        redis.call('ZREM', 'cat:idx:ses:avail', member)
      end
      if not next_start or start < next_start then next_start = start end
    else
      if listed[i] then redis.call('ZREM', 'cat:idx:ses:start', member) end
      if listed_free[i] then redis.call('ZREM', 'cat:idx:ses:avail', member) end
    end
  end
  if published then
    redis.call('ZADD', 'cat:idx:start', next_start or NO_START, rid)
    if next_free then
      redis.call('ZADD', 'cat:idx:start_avail', next_free, rid)
    else
      redis.call('ZREM', 'cat:idx:start_avail', rid)
    end
    redis.call('ZADD', 'cat:idx:seats', seats > 0 and -seats or 0, rid)
  else
    redis.call('ZREM', 'cat:idx:start', rid)
    redis.call('ZREM', 'cat:idx:start_avail', rid)
    redis.call('ZREM', 'cat:idx:seats', rid)
  end
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
  local swept = 0
  for _, holder in ipairs(redis.call('ZRANGEBYSCORE', seat_key(rid, sid, 'expiry'), '-inf', int(now))) do
    if expire_hold(rid, sid, holder, now) then swept = swept + 1 end
  end
  if swept > 0 then refresh_sessions(rid, now) end
end

-- Sweeps lapsed holds anywhere and re-indexes rotations whose sessions stopped taking
-- applications, at most `limit` of each.
local function sweep(now, limit)
  local touched, count = {}, 0
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', 'cat:holds', '-inf', int(now), 'LIMIT', 0, limit)) do
    redis.call('ZREM', 'cat:holds', member)
    local rid, sid, holder = string.match(member, '^([^:]+):([^:]+):(.+)$')
    if rid then
      expire_hold(rid, sid, holder, now)
      touched[rid] = true
    end
    count = count + 1
  end
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', 'cat:ses:closing', '-inf', int(now), 'LIMIT', 0, limit)) do
    redis.call('ZREM', 'cat:ses:closing', member)
    local rid = string.match(member, '^([^/]+)/')
    if rid then touched[rid] = true end
    count = count + 1
  end
  for rid in pairs(touched) do refresh_sessions(rid, now) end
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
      -- seat_counts inlined: this runs for every rotation of every search page.
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
index_terms(rid, false)
redis.call('HSET', KEYS[1], 'pb', ARGV[4], 'etag', ARGV[5], 'state', ARGV[6], 'ix', ARGV[7],
           'fee', ARGV[8])
if ARGV[6] == 'PUBLISHED' then index_terms(rid, true) end
refresh_sessions(rid, now)
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
redis.call('ZADD', 'cat:ses:closing', ARGV[6], rid .. '/' .. sid)
if ARGV[8] == '1' then redis.call('SET', KEYS[2], sid, 'EX', 86400) end
refresh_sessions(rid, now)
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
redis.call('ZADD', 'cat:ses:closing', ARGV[7], rid .. '/' .. sid)
refresh_sessions(rid, now)
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

// ARGV: now ms, order (start|fee|seats), has seats ('1'/'0'), window from day ('' = open),
// window to day, max fee ('' = none), cursor score, cursor rotation id ('' = first page),
// page size, sweep limit, floor day (no open session starts before it), plan ('auto', or
// for tests 'evaluate', 'walk' or 'materialize'), then the term set keys that must all hold.
// Returns {total, more (0/1), then per rotation: id, score, pb, next start, seats, tz}.
//
// Three ways to answer, by what the query needs:
//  * straight from the sorted index of the order (start, fee or seats), when the only
//    filters are bounds on that index's own score: a rank lookup and a range;
//  * by evaluating candidates, when a source of few candidates exists (the term sets'
//    intersection, the fee range, the rotations by start) or the window starts in the future
//    (then the open sessions in the window are a source): the candidates are narrowed with
//    batched lookups (SMISMEMBER, ZMSCORE) and the page picked out of them in one pass;
//  * when every source is large: the total is counted in Redis with ZINTERCARD over the
//    order's index, the term sets and scratch sets for bounds (ZRANGESTORE of the inside or,
//    when smaller, the outside of the bound), and the page is found by walking the order's
//    index from the cursor in chunks checked with batched lookups; if the matches are too
//    sparse for that, they are materialized with ZINTERSTORE (and ZDIFFSTORE).
// Scratch keys (cat:tmp:search:*) are deleted before the script ends. Every element Lua
// touches costs about a microsecond, every element a set operation copies a fraction of
// that, so the plan keeps both to what the page needs.
const char kSearch[] = R"lua(
local now, order, has_seats = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
local from, to, max_fee = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local cursor_score, cursor_id, limit = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local floor_day, plan = tonumber(ARGV[11]), ARGV[12]
local EVALUATE_UP_TO = 400
-- Walk the order's index when the page is expected within this many of its entries.
local WALK_UP_TO = 3000
local terms = {}
for i = 13, #ARGV do terms[#terms + 1] = ARGV[i] end
if cursor_id == '' then cursor_id = nil end
sweep(now, tonumber(ARGV[10]))

-- Every open session starts on or after its deadline, which is today or later wherever the
-- site is: a window opening before floor_day is only bounded above (and still needs an
-- open session).
if from and from <= floor_day then
  from = nil
  to = to or NO_START - 1
end
-- Rotations by earliest open start (with a free seat when has_seats), and open sessions.
local start_key = has_seats and 'cat:idx:start_avail' or 'cat:idx:start'
local session_key = has_seats and 'cat:idx:ses:avail' or 'cat:idx:ses:start'

local function view_rows(rows, total, more)
  local out = {total, more and 1 or 0}
  for _, row in ipairs(rows) do
    local view = rotation_view(row[2], now)
    if view then
      out[#out + 1] = row[2]
      out[#out + 1] = int(row[1])
      for _, x in ipairs(view) do out[#out + 1] = x end
    end
  end
  return out
end

-- ---- Straight from the order's index -----------------------------------------------------

local order_key = order == 'fee' and 'cat:idx:fee' or order == 'seats' and 'cat:idx:seats' or
    start_key

-- Where the page starts in the order's index: right after the cursor.
local function rank_after_cursor()
  if not cursor_id then return 0 end
  local score = redis.call('ZSCORE', order_key, cursor_id)
  if score and tonumber(score) == cursor_score then
    return redis.call('ZRANK', order_key, cursor_id) + 1
  end
  -- The last rotation of the previous page moved or left: continue after its old place.
  local rank = redis.call('ZCOUNT', order_key, '-inf', '(' .. int(cursor_score))
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', order_key, cursor_score, cursor_score)) do
    if rid <= cursor_id then rank = rank + 1 end
  end
  return rank
end

local direct = #terms == 0 and not from and plan == 'auto' and
               (not max_fee or order == 'fee') and (not to or order == 'start') and
               (not has_seats or order == 'start')
if direct then
  local max_score = (order == 'fee' and max_fee) or (order == 'start' and to) or '+inf'
  local total = redis.call('ZCOUNT', order_key, '-inf', max_score)
  local start = rank_after_cursor()
  local page = redis.call('ZRANGE', order_key, start, start + limit, 'WITHSCORES')
  local rows, more = {}, false
  for i = 1, #page, 2 do
    local score = tonumber(page[i + 1])
    if max_score ~= '+inf' and score > max_score then break end
    if #rows == limit then
      more = true
      break
    end
    rows[#rows + 1] = {score, page[i]}
  end
  return view_rows(rows, total, more)
end

-- ---- Candidate evaluation ----------------------------------------------------------------

-- ZMSCORE / SMISMEMBER over many members, a thousand at a time.
local function batched(command, key, members)
  local out = {}
  for i = 1, #members, 1000 do
    local args = {command, key}
    for j = i, math.min(i + 999, #members) do args[#args + 1] = members[j] end
    for _, v in ipairs(redis.call(unpack(args))) do out[#out + 1] = v end
  end
  return out
end

-- The earliest start of the rotation's open sessions inside [from, to] (with a free seat
-- when has_seats), or false.
local function earliest_in_window(rid)
  local sessions = redis.call('ZRANGEBYSCORE', rot_sessions_key(rid), from, to or '+inf', 'WITHSCORES')
  for i = 1, #sessions, 2 do
    if redis.call('ZSCORE', session_key, rid .. '/' ..
        sessions[i]) then return tonumber(sessions[i + 1]) end
  end
  return false
end

-- Candidates: ids with what is already known of them (start, fee; false = unknown).
local ids, starts, fees = {}, {}, {}
local function keep(pass)
  local n = 0
  for i = 1, #ids do
    if pass(i) then
      n = n + 1
      ids[n], starts[n], fees[n] = ids[i], starts[i], fees[i]
    end
  end
  for i = #ids, n + 1, -1 do ids[i], starts[i], fees[i] = nil, nil, nil end
end
local function add_scored(list, into)
  for i = 1, #list, 2 do
    ids[#ids + 1] = list[i]
    starts[#ids], fees[#ids] = false, false
    into[#ids] = tonumber(list[i + 1])
  end
end

-- Pick the smallest source. A source that does not settle a future window costs a lookup of
-- each candidate's sessions, hence the weight.
local window_weight = from and 3 or 1
local best, source = math.huge, nil
if from then
  best, source = redis.call('ZCOUNT', session_key, from, to or '+inf'), 'window'
else
  best, source = redis.call('ZCOUNT', start_key, '-inf', to or '+inf'), 'start'
end
if max_fee then
  local n = redis.call('ZCOUNT', 'cat:idx:fee', '-inf', max_fee) * window_weight
  if n < best then best, source = n, 'fee' end
end
if #terms > 0 then
  local args = {'SINTERCARD', #terms}
  for _, key in ipairs(terms) do args[#args + 1] = key end
  args[#args + 1] = 'LIMIT'
  args[#args + 1] = math.floor(best / window_weight) + 1
  local n = redis.call(unpack(args)) * window_weight
  if n < best then best, source = n, 'terms' end
end

-- ---- Every source is large: walk the order's index ----------------------------------------

if not from and plan ~= 'evaluate' and (plan ~= 'auto' or best > EVALUATE_UP_TO) then
  -- The total is counted in Redis (ZINTERCARD) over the order's index, the term sets and
  -- scratch sets for the bounds; the page is found by walking the order's index from the
  -- cursor and checking a chunk at a time with batched lookups, which is quick when the
  -- matches are not too sparse. Otherwise the matches are materialized (ZINTERSTORE).
  local own_max = (order == 'fee' and max_fee) or (order == 'start' and to) or nil
  local count_keys, exclusions, scratch, checks = {order_key}, {}, {}, {}
  for _, key in ipairs(terms) do
    count_keys[#count_keys + 1] = key
    checks[#checks + 1] = {'member', key}
  end
  -- A bound on an index's score as a scratch set cut out of that index in one range copy:
  -- the members inside it, or, when fewer, those outside it (subtracted).
  local function bound(index, max)
    local name = 'cat:tmp:search:' .. (#scratch + 1)
    scratch[#scratch + 1] = name
    local inside = redis.call('ZCOUNT', index, '-inf', max)
    if inside <= redis.call('ZCARD', index) - inside then
      redis.call('ZRANGESTORE', name, index, '-inf', max, 'BYSCORE')
      count_keys[#count_keys + 1] = name
    else
      redis.call('ZRANGESTORE', name, index, '(' .. int(max), '+inf', 'BYSCORE')
      if index ~= order_key then count_keys[#count_keys + 1] = index end
      exclusions[#exclusions + 1] = name
    end
  end
  if own_max then bound(order_key, own_max) end
  if order ~= 'start' and to then
    bound(start_key, to)
    checks[#checks + 1] = {'score', start_key, to}
  elseif order ~= 'start' and has_seats then
    count_keys[#count_keys + 1] = 'cat:idx:start_avail'
    checks[#checks + 1] = {'score', 'cat:idx:start_avail', nil}
  end
  if max_fee and order ~= 'fee' then
    bound('cat:idx:fee', max_fee)
    checks[#checks + 1] = {'score', 'cat:idx:fee', max_fee}
  end

  -- |all count keys| minus what the exclusions take away, by inclusion-exclusion.
  local total = 0
  for subset = 0, 2 ^ #exclusions - 1 do
    local args, taken = {'ZINTERCARD', 0}, 0
    for _, k in ipairs(count_keys) do args[#args + 1] = k end
    for i, k in ipairs(exclusions) do
      if math.floor(subset / 2 ^ (i - 1)) % 2 == 1 then
        args[#args + 1] = k
        taken = taken + 1
      end
    end
    args[2] = #args - 2
    total = total + (taken % 2 == 0 and 1 or -1) * redis.call(unpack(args))
  end

  if total == 0 then
    if #scratch > 0 then redis.call('DEL', unpack(scratch)) end
    return view_rows({}, 0, false)
  end
  local index_size = redis.call('ZCARD', order_key)
  local walk = plan == 'walk' or
               (plan == 'auto' and (limit + 1) * index_size <= WALK_UP_TO * total)
  if walk then
    if #scratch > 0 then redis.call('DEL', unpack(scratch)) end
    local rank, rows, more, done = rank_after_cursor(), {}, false, false
    while not done do
      local chunk = redis.call('ZRANGE', order_key, rank, rank + 255, 'WITHSCORES')
      if #chunk == 0 then break end
      rank = rank + 256
      local chunk_ids, chunk_scores, pass = {}, {}, {}
      for i = 1, #chunk, 2 do
        local score = tonumber(chunk[i + 1])
        if own_max and score > own_max then
          done = true
          break
        end
        chunk_ids[#chunk_ids + 1] = chunk[i]
        chunk_scores[#chunk_scores + 1] = score
        pass[#pass + 1] = true
      end
      if #chunk_ids > 0 then
        for _, check in ipairs(checks) do
          if check[1] == 'member' then
            local member = redis.call('SMISMEMBER', check[2], unpack(chunk_ids))
            for i = 1, #chunk_ids do pass[i] = pass[i] and member[i] == 1 end
          else
            local scores = redis.call('ZMSCORE', check[2], unpack(chunk_ids))
            for i = 1, #chunk_ids do
              local v = tonumber(scores[i])
              pass[i] = pass[i] and v ~= nil and (not check[3] or v <= check[3])
            end
          end
        end
      end
      for i = 1, #chunk_ids do
        if pass[i] then
          if #rows == limit then
            more, done = true, true
            break
          end
          rows[#rows + 1] = {chunk_scores[i], chunk_ids[i]}
        end
      end
    end
    return view_rows(rows, total, more)
  end

  -- Sparse matches: materialize them, ordered, in a scratch set.
  local result = 'cat:tmp:search:result'
  scratch[#scratch + 1] = result
  local args = {'ZINTERSTORE', result, #count_keys}
  for _, k in ipairs(count_keys) do args[#args + 1] = k end
  args[#args + 1] = 'WEIGHTS'
  args[#args + 1] = 1  -- the order's score; the others only filter
  for _ = 2, #count_keys do args[#args + 1] = 0 end
  redis.call(unpack(args))
  if #exclusions > 0 then
    args = {'ZDIFFSTORE', result, #exclusions + 1, result}
    for _, k in ipairs(exclusions) do args[#args + 1] = k end
    redis.call(unpack(args))
  end
  local start = 0
  if cursor_id then
    -- Put the previous page's last rotation back where it was (it may have moved or left)
    -- and continue after it.
    redis.call('ZADD', result, cursor_score, cursor_id)
    start = redis.call('ZRANK', result, cursor_id) + 1
  end
  local range = redis.call('ZRANGE', result, start, start + limit, 'WITHSCORES')
  redis.call('DEL', unpack(scratch))
  local rows = {}
  for i = 1, math.min(#range, 2 * limit), 2 do rows[#rows + 1] = {tonumber(range[i + 1]), range[i]} end
  return view_rows(rows, total, #range > 2 * limit)
end

-- ---- Candidate evaluation (continued) ----------------------------------------------------

local terms_checked = false
if source == 'terms' then
  for _, rid in ipairs(redis.call('SINTER', unpack(terms))) do
    ids[#ids + 1] = rid
    starts[#ids], fees[#ids] = false, false
  end
  terms_checked = true
elseif source == 'fee' then
  add_scored(redis.call('ZRANGEBYSCORE', 'cat:idx:fee', '-inf', max_fee, 'WITHSCORES'), fees)
elseif source == 'start' then
  add_scored(redis.call('ZRANGEBYSCORE', start_key, '-inf', to or '+inf', 'WITHSCORES'), starts)
else
  -- The rotations of the open sessions in the window, each with its earliest start there.
  local sessions = redis.call('ZRANGEBYSCORE', session_key, from, to or '+inf', 'WITHSCORES')
  local index = {}
  for i = 1, #sessions, 2 do
    local member = sessions[i]
    local rid = string.sub(member, 1, string.find(member, '/', 1, true) - 1)
    local day = tonumber(sessions[i + 1])
    local at = index[rid]
    if not at then
      ids[#ids + 1] = rid
      starts[#ids], fees[#ids] = day, false
      index[rid] = #ids
    elseif day < starts[at] then
      starts[at] = day
    end
  end
end

if not terms_checked then
  for _, key in ipairs(terms) do
    local member = batched('SMISMEMBER', key, ids)
    keep(function(i) return member[i] == 1 end)
  end
end
if max_fee or order == 'fee' then
  if source ~= 'fee' then
    local scores = batched('ZMSCORE', 'cat:idx:fee', ids)
    for i = 1, #ids do fees[i] = tonumber(scores[i]) or false end
  end
  keep(function(i) return fees[i] and (not max_fee or fees[i] <= max_fee) end)
end
if from then
  if source ~= 'window' then
    for i = 1, #ids do starts[i] = earliest_in_window(ids[i]) end
  end
  keep(function(i) return starts[i] end)
elseif to or has_seats or order == 'start' then
  if source ~= 'start' then
    local scores = batched('ZMSCORE', start_key, ids)
    for i = 1, #ids do starts[i] = tonumber(scores[i]) or false end
  end
  keep(function(i) return starts[i] and (not to or starts[i] <= to) end)
end
local keys = starts
if order == 'fee' then
  keys = fees
elseif order == 'seats' then
  keys = {}
  local scores = batched('ZMSCORE', 'cat:idx:seats', ids)
  for i = 1, #ids do keys[i] = tonumber(scores[i]) or 0 end
end

-- One pass: the limit + 1 smallest (key, id) after the cursor, in order.
local page = {}
for i = 1, #ids do
  local key, rid = keys[i], ids[i]
  if not cursor_id or key > cursor_score or (key == cursor_score and rid > cursor_id) then
    local n = #page
    if n <= limit or key < page[n][1] or (key == page[n][1] and rid < page[n][2]) then
      local j = n
      while j > 0 and (page[j][1] > key or (page[j][1] == key and page[j][2] > rid)) do
        page[j + 1] = page[j]
        j = j - 1
      end
      page[j + 1] = {key, rid}
      if #page > limit + 1 then page[#page] = nil end
    end
  end
end
local more = #page > limit
if more then page[#page] = nil end
return view_rows(page, #ids, more)
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

// ARGV: now ms, sweep limit. Sweeps lapsed holds and closed sessions (as the search script
// does, so that seat.expired follows a search without waiting for the sweeper) and returns
// cat:ver.
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
refresh_sessions(rid, now)
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
refresh_sessions(rid, now)
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
