//! The Lua scripts that change seats. Each runs atomically on the Redis node that owns
//! the showtime's hash slot: every key of one call names the same `{showtimeId}`.
//!
//! Keys, for one showtime `S` (prefix `P`):
//! - `P:seat:{S}:holds`   hash seat → lock token (the seats held now)
//! - `P:seat:{S}:locks`   hash lock token → `user|expiresMs|capMs|seat,seat,…`; a lock
//!   that a booking is being made from (`CLAIM`) has `claimed:<bookingId>:<capMs>` in
//!   place of its cap: it can no longer be extended, released or booked again, and
//!   once the booking is written (`SYNC`) it stays as a marker, without seats in
//!   `holds`, until it lapses, so that the seats of an unpaid booking still count
//!   against its owner's per-showtime cap while Postgres may not show them yet
//! - `P:seat:{S}:expiry`  sorted set lock token by expiry (for sweeping)
//! - `P:seat:{S}:booked`  set of booked seats (mirrors Postgres; see `ensure_booked`)
//! - `P:seat:{S}:version` the change counter; every change to a seat increments it
//! - `P:seat:{S}:epoch`   a random id set with the booked set: it changes when Redis
//!   has lost the showtime's data, so readers know that versions started again
//! - `P:seat:{S}:blocked` set of seats the house has blocked (mirrors
//!   `showtimes.blocked_seats`, loaded with the booked set). It lives here, beside the
//!   holds, so that one script decides between a hold and a block: `LOCK` refuses a
//!   blocked seat and `BLOCK` a held or sold one, and neither can slip between the
//!   other's check and its write
//!
//! - `P:seat:{S}:history` stream of the last changes (about `SEAT_HISTORY_LEN`), entry
//!   id `<version>-1`, fields `e` (epoch), `d` (change in available seats), `c` (the
//!   changes): what a live map that resumes (`seatMap(since:)`) missed
//!
//! A change is published on `P:seatmap:{S}` as `{"v": version, "c": [[seat, state], …]}`
//! (a HELD seat also names its holder: `[seat, "HELD", userId]`),
//! from inside the script that made it, so the channel's order is the versions' order.
//!
//! The scripts that create keys (`LOCK`, `SYNC`, `LOAD_BOOKED`, `BLOCK`) also set every key of
//! the showtime to expire at an instant the caller gives (a day after the showtime
//! ends, see `holds::keys_expire_at`), so the keys of past showtimes do not pile up.

use std::sync::LazyLock;

use fred::types::scripts::Script;

/// Shared by every script: parse a lock, and release the locks that have lapsed
/// (publishing their seats as AVAILABLE).
const PRELUDE: &str = r#"
local holds, locks, expiry, booked, version, epoch, blocked, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], ARGV[1]
local now = tonumber(ARGV[2])
-- The change history (`history`): the callers append its length as the last ARGV,
-- tagged, and it is taken off here so that every script sees only its own arguments.
local history, history_len = KEYS[8], 1000
if ARGV[#ARGV] and string.match(ARGV[#ARGV], '^history=%d+$') then
  history_len = tonumber(string.sub(table.remove(ARGV), 9))
end

-- A lock's owner, expiry, cap and seats, and the booking it is claimed by (nil when
-- it is a plain hold).
local function parse(meta)
  local user, exp, cap, seats = string.match(meta, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  local list = {}
  for s in string.gmatch(seats, '[^,]+') do list[#list + 1] = s end
  local booking, kept = string.match(cap, '^claimed:([^:]*):(.*)$')
  if booking then return user, tonumber(exp), tonumber(kept), list, booking end
  return user, tonumber(exp), tonumber(cap), list, nil
end

local function meta_of(user, exp, cap, seats)
  return user .. '|' .. exp .. '|' .. cap .. '|' .. table.concat(seats, ',')
end

-- Publishes a change as the next version, and keeps it in the capped history for
-- subscribers that resume. The entry's id is the version, so a resume reads exactly
-- the versions it missed (XRANGE); `d` is the change in available seats, which the
-- room needs to replay `availableSeats`: omitted, every seat flipped between AVAILABLE
-- and not (a hold, a block, a release). Returns the version.
local function announce(changes, delta)
  local v = redis.call('INCR', version)
  local e = redis.call('GET', epoch) or ''
  local c = cjson.encode(changes)
  if not delta then
    delta = 0
    for _, ch in ipairs(changes) do
      if ch[2] == 'AVAILABLE' then delta = delta + 1 else delta = delta - 1 end
    end
  end
  redis.call('PUBLISH', channel, cjson.encode({v = v, e = e, c = changes}))
  local entry = {'MAXLEN', '~', history_len, v .. '-1', 'e', e, 'd', delta, 'c', c}
  -- A version at or below the newest entry means the counter started again without a
  -- new epoch (the version key lost alone): older entries are of no use any more.
  local added = redis.pcall('XADD', history, unpack(entry))
  if type(added) == 'table' and added.err then
    redis.call('DEL', history)
    redis.call('XADD', history, unpack(entry))
  end
  if redis.call('PTTL', history) == -1 then
    local ttl = redis.call('PTTL', version)
    if ttl > 0 then redis.call('PEXPIRE', history, ttl) end
  end
  return v
end

-- Every key of the showtime expires at `at` (ms): a day after it ends.
local function keep(at)
  if at and at > 0 then
    for i = 1, #KEYS do redis.call('PEXPIREAT', KEYS[i], at) end
  end
end

-- The caller's live, unclaimed lock `token` for exactly the seats ARGV[from..]:
-- returns owner, exp, cap, seats, or nil and the refusal to answer.
local function usable(token, user, from)
  local meta = redis.call('HGET', locks, token)
  if not meta then return nil, {'EXPIRED'} end
  local owner, exp, cap, held, claimed = parse(meta)
  if owner ~= user then return nil, {'FORBIDDEN'} end
  -- Claimed: a booking is being (or was) made from it; the lock is used up.
  if claimed or exp <= now then return nil, {'EXPIRED'} end
  local wanted = {}
  for i = from, #ARGV do wanted[ARGV[i]] = true end
  local same = #held == #ARGV - from + 1
  for _, s in ipairs(held) do if not wanted[s] then same = false end end
  if not same then
    local out = {'MISMATCH'}
    for _, s in ipairs(held) do out[#out + 1] = s end
    return nil, out
  end
  local lost = {'UNAVAILABLE'}
  for _, s in ipairs(held) do
    -- Blocked under the hold (Redis following a block Postgres already had): the
    -- sale would be refused, so it is refused here first.
    if redis.call('HGET', holds, s) ~= token or redis.call('SISMEMBER', blocked, s) == 1 then
      lost[#lost + 1] = s
    end
  end
  if #lost > 1 then return nil, lost end
  return owner, exp, cap, held
end

local function release(token, meta)
  local _, _, _, seats = parse(meta)
  local changes = {}
  for _, s in ipairs(seats) do
    if redis.call('HGET', holds, s) == token then
      redis.call('HDEL', holds, s)
      if redis.call('SISMEMBER', booked, s) == 0 and redis.call('SISMEMBER', blocked, s) == 0 then
        changes[#changes + 1] = {s, 'AVAILABLE'}
      end
    end
  end
  redis.call('HDEL', locks, token)
  redis.call('ZREM', expiry, token)
  if #changes > 0 then announce(changes) end
end

local function sweep()
  local lapsed = redis.call('ZRANGEBYSCORE', expiry, '-inf', now)
  for _, token in ipairs(lapsed) do
    local meta = redis.call('HGET', locks, token)
    if meta then release(token, meta) else redis.call('ZREM', expiry, token) end
  end
  return #lapsed
end

-- What a seat shows now: booked wins over blocked, both over held.
local function state_of(s)
  if redis.call('SISMEMBER', booked, s) == 1 then return {s, 'BOOKED'} end
  if redis.call('SISMEMBER', blocked, s) == 1 then return {s, 'BLOCKED'} end
  local holder = redis.call('HGET', holds, s)
  local meta = holder and redis.call('HGET', locks, holder)
  if meta then
    local user = parse(meta)
    return {s, 'HELD', user}
  end
  return {s, 'AVAILABLE'}
end

-- Whether the booked and blocked sets are both there (copied from Postgres).
local function loaded()
  return redis.call('EXISTS', booked) == 1 and redis.call('EXISTS', blocked) == 1
end

-- Holds `seats` (all free: the caller checked) for the user of ARGV[3..10] (token,
-- user, expiresMs, capMs, maxPerUser, keysExpireAtMs, unpaidSeats, knownBookings),
-- within their cap: {'OK', version}, {'NEED_UNPAID'} or {'TOO_MANY', alreadyHad}.
local function take(seats)
  local token, user, exp, cap, max = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
  local expire_at, unpaid = tonumber(ARGV[8]), tonumber(ARGV[9])
  local known = {}
  for b in string.gmatch(ARGV[10], '[^,]+') do known[b] = true end
  local mine = math.max(unpaid, 0)
  for _, meta in ipairs(redis.call('HVALS', locks)) do
    local u, _, _, held, booking = parse(meta)
    if u == user then
      if booking and unpaid < 0 then return {'NEED_UNPAID'} end
      if not (booking and known[booking]) then mine = mine + #held end
    end
  end
  if mine + #seats > max then return {'TOO_MANY', tostring(mine)} end
  local changes = {}
  for _, s in ipairs(seats) do
    redis.call('HSET', holds, s, token)
    changes[#changes + 1] = {s, 'HELD', user}
  end
  redis.call('HSET', locks, token, meta_of(user, exp, cap, seats))
  redis.call('ZADD', expiry, exp, token)
  keep(expire_at)
  local v = announce(changes)
  return {'OK', tostring(v)}
end

-- Whether a seat can be held now (`''`: no seat there).
local function free(s)
  if s == '' then return false end
  return redis.call('SISMEMBER', booked, s) == 0 and redis.call('SISMEMBER', blocked, s) == 0
     and redis.call('HEXISTS', holds, s) == 0
end
"#;

fn script(body: &str) -> Script {
    Script::from_lua(format!("{PRELUDE}\n{body}"))
}

/// ARGV: channel, now, token, user, expiresMs, capMs, maxPerUser, keysExpireAtMs,
/// unpaidSeats, knownBookings, seats…
/// Returns `{'OK', version}`, `{'NEED_BOOKED'}`, `{'NEED_UNPAID'}`,
/// `{'UNAVAILABLE', seat…}` or `{'TOO_MANY', alreadyHad}`. All seats are held, or none.
///
/// The cap counts the user's holds plus the seats of their unpaid bookings:
/// `unpaidSeats` is what Postgres has (read just before), `knownBookings` the
/// comma-separated ids of every booking of theirs Postgres showed for the showtime. A
/// claimed lock counts unless its booking is among those (then Postgres counted it, or
/// it is paid or void): a booking committed after that read is counted here, once.
/// `unpaidSeats` of -1 means "not read": an unpaid booking keeps its claimed lock here
/// until its hold's expiry, which is its own, so a user with no claimed lock has none
/// and Postgres need not be asked; one with a claimed lock gets `NEED_UNPAID`, and the
/// caller reads Postgres and asks again.
pub static LOCK: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if not loaded() then return {'NEED_BOOKED'} end
sweep()
local seats = {}
for i = 11, #ARGV do seats[#seats + 1] = ARGV[i] end
local taken = {}
for _, s in ipairs(seats) do
  if not free(s) then taken[#taken + 1] = s end
end
if #taken > 0 then
  table.insert(taken, 1, 'UNAVAILABLE')
  return taken
end
return take(seats)
"#,
    )
});

/// ARGV: as `LOCK` up to knownBookings, then the number of blocks `n`, the blocks
/// (`seat,seat,…|besideLeft|beyondLeft|besideRight|beyondRight`, `''` for no seat),
/// best place first (`best::candidates`), then how many single seats to take when no
/// block is free (0: the seats must be adjacent) and those seats, best first.
/// Returns `{'OK', version, seat…}`, `{'NONE'}`, or `LOCK`'s `NEED_BOOKED`,
/// `NEED_UNPAID` and `TOO_MANY`.
///
/// `best::pick`, in Lua, over the seats as they are now: the first free block that
/// strands no seat, else the first free block, else (when allowed) the best free
/// single seats; then held as `LOCK` holds them. A token that already holds seats
/// for the same user gets those seats back, and nothing new is held. Searching and holding in one script
/// means a buyer racing others never gets a block someone took meanwhile.
pub static HOLD_BEST: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if not loaded() then return {'NEED_BOOKED'} end
sweep()
-- Asked again under a token that holds seats already (a waiting list's offer made
-- again after a crash): the same seats, no second hold.
local before = redis.call('HGET', locks, ARGV[3])
if before then
  local owner, _, _, seats, claimed = parse(before)
  if owner ~= ARGV[4] or claimed then return {'NONE'} end
  local out = {'OK', redis.call('GET', version) or '0'}
  for _, s in ipairs(seats) do out[#out + 1] = s end
  return out
end
-- Every seat not free, read once: the ranking's walk may pass over most of the room
-- (a busy sale takes the best blocks first), and a table lookup a seat costs far less
-- than three Redis calls a seat.
local taken = {}
for _, s in ipairs(redis.call('HKEYS', holds)) do taken[s] = true end
for _, s in ipairs(redis.call('SMEMBERS', booked)) do taken[s] = true end
for _, s in ipairs(redis.call('SMEMBERS', blocked)) do taken[s] = true end
local function can(s)
  return s ~= '' and not taken[s]
end
local n = tonumber(ARGV[11])
local chosen, fallback
for i = 12, 11 + n do
  local list, l1, l2, r1, r2 = string.match(ARGV[i], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  local seats, all = {}, true
  for s in string.gmatch(list, '[^,]+') do
    if not can(s) then all = false break end
    seats[#seats + 1] = s
  end
  if all then
    if not ((can(l1) and not can(l2)) or (can(r1) and not can(r2))) then
      chosen = seats
      break
    end
    fallback = fallback or seats
  end
end
chosen = chosen or fallback
local singles = tonumber(ARGV[12 + n])
if not chosen and singles > 0 then
  local seats = {}
  for i = 13 + n, #ARGV do
    if #seats == singles then break end
    if can(ARGV[i]) then seats[#seats + 1] = ARGV[i] end
  end
  if #seats == singles then chosen = seats end
end
if not chosen then return {'NONE'} end
local out = take(chosen)
if out[1] == 'OK' then
  for _, s in ipairs(chosen) do out[#out + 1] = s end
end
return out
"#,
    )
});

/// ARGV: channel, now, token, user, ttlMs. Returns `{'OK', expiresMs, seat…}`,
/// `{'EXPIRED'}` or `{'FORBIDDEN'}`. Never past the lock's cap.
pub static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
sweep()
local token, user, ttl = ARGV[3], ARGV[4], tonumber(ARGV[5])
local meta = redis.call('HGET', locks, token)
if not meta then return {'EXPIRED'} end
local owner, exp, cap, seats, claimed = parse(meta)
if owner ~= user then return {'FORBIDDEN'} end
if claimed then return {'EXPIRED'} end
local new_exp = math.min(now + ttl, cap)
if new_exp < exp then new_exp = exp end
redis.call('HSET', locks, token, meta_of(owner, new_exp, cap, seats))
redis.call('ZADD', expiry, new_exp, token)
local out = {'OK', tostring(new_exp)}
for _, s in ipairs(seats) do out[#out + 1] = s end
return out
"#,
    )
});

/// ARGV: channel, now, token, user. Returns `{'OK'}`, `{'EXPIRED'}` or `{'FORBIDDEN'}`.
pub static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
sweep()
local token, user = ARGV[3], ARGV[4]
local meta = redis.call('HGET', locks, token)
if not meta then return {'EXPIRED'} end
local owner, _, _, _, claimed = parse(meta)
if owner ~= user then return {'FORBIDDEN'} end
if claimed then return {'EXPIRED'} end
release(token, meta)
return {'OK'}
"#,
    )
});

/// ARGV: channel, now. Releases lapsed locks; returns how many locks remain.
pub static SWEEP: LazyLock<Script> =
    LazyLock::new(|| script("sweep() return redis.call('HLEN', locks)"));

/// ARGV: channel, now. Returns `{version, epoch, lapse, n, bookedSeat × n, m,
/// blockedSeat × m, seat, holderUser, seat, holderUser, …}`: when the first live hold
/// lapses (ms; `-1` with none), the booked seats when the set is complete (`n` is -1
/// when it is not, after Redis lost it or before anyone held a seat), the blocked seats
/// likewise (`m`), then the live holds, all read in one step with the version they
/// belong to. A hold that lapses leaves the map before the sweeper publishes its
/// release, without a new version: `lapse` says until when what was read holds.
pub static READ: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local out = {tostring(tonumber(redis.call('GET', version) or '0')), redis.call('GET', epoch) or '', '-1', '-1'}
local soonest = nil
if redis.call('SISMEMBER', booked, '~loaded') == 1 then
  local n = 0
  for _, s in ipairs(redis.call('SMEMBERS', booked)) do
    if s ~= '~loaded' then
      out[#out + 1] = s
      n = n + 1
    end
  end
  out[4] = tostring(n)
end
local at = #out + 1
out[at] = '-1'
if redis.call('SISMEMBER', blocked, '~loaded') == 1 then
  local m = 0
  for _, s in ipairs(redis.call('SMEMBERS', blocked)) do
    if s ~= '~loaded' then
      out[#out + 1] = s
      m = m + 1
    end
  end
  out[at] = tostring(m)
end
local pairs_ = redis.call('HGETALL', holds)
for i = 1, #pairs_, 2 do
  local meta = redis.call('HGET', locks, pairs_[i + 1])
  if meta then
    local user, exp = parse(meta)
    if exp > now then
      out[#out + 1] = pairs_[i]
      out[#out + 1] = user
      if soonest == nil or exp < soonest then
        soonest = exp
      end
    end
  end
end
if soonest then
  out[3] = tostring(soonest)
end
return out
"#,
    )
});

/// Fills the booked and blocked sets from Postgres's seats, each once, when it is
/// missing: a marker member records that a set is complete, and a new epoch that the
/// showtime's data starts afresh.
/// KEYS: booked, epoch, blocked, history. ARGV: new epoch, keysExpireAtMs, n, bookedSeat × n,
/// blockedSeat…
pub static LOAD_BOOKED: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
local n, loaded = tonumber(ARGV[3]), 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SADD', KEYS[1], '~loaded')
  for i = 4, 3 + n do redis.call('SADD', KEYS[1], ARGV[i]) end
  loaded = 1
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SADD', KEYS[3], '~loaded')
  for i = 4 + n, #ARGV do redis.call('SADD', KEYS[3], ARGV[i]) end
  loaded = 1
end
if loaded == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
-- A new epoch: the history's versions belong to the old one, and must never be
-- served as this one's.
if KEYS[4] then redis.call('DEL', KEYS[4]) end
for i = 1, 3 do redis.call('PEXPIREAT', KEYS[i], ARGV[2]) end
return 1
"#,
    )
});

/// ARGV: channel, now, token, user, seats…. Checks that a lock is the caller's, alive,
/// unclaimed, and holds exactly these seats. Returns `{'OK', expiresMs}`, `{'EXPIRED'}`,
/// `{'FORBIDDEN'}`, `{'MISMATCH', lockedSeat…}` or `{'UNAVAILABLE', seat…}` (seats a
/// payment took from under the lock). Changes nothing but lapsed holds: an early,
/// cheap refusal before a payment intent is made; `CLAIM` decides.
pub static CHECK: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
sweep()
local owner, exp, _, _ = usable(ARGV[3], ARGV[4], 5)
if not owner then return exp end
return {'OK', tostring(exp)}
"#,
    )
});

/// ARGV: channel, now, token, user, bookingId, keepUntilMs, seats…. The step that turns
/// a hold into a booking: in one atomic step it checks what `CHECK` checks, with the
/// expiry against `now`, and marks the lock claimed by `bookingId`, so it can be
/// neither extended, released nor used again, and the sweeper leaves its seats alone
/// until `keepUntilMs` (time for the booking's transaction). Same answers as `CHECK`.
/// After the booking commits, `SYNC` books the seats; if it does not, `RESTORE`.
pub static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
sweep()
local token, booking, keep_until = ARGV[3], ARGV[5], tonumber(ARGV[6])
local owner, exp, cap, held = usable(token, ARGV[4], 7)
if not owner then return exp end
redis.call('HSET', locks, token, meta_of(owner, exp, 'claimed:' .. booking .. ':' .. cap, held))
redis.call('ZADD', expiry, math.max(exp, keep_until), token)
return {'OK', tostring(exp)}
"#,
    )
});

/// ARGV: channel, now, bookingId. The booking was paid: its claimed lock no longer
/// stands for unpaid seats, so it goes, and the user's next hold needs no look at
/// Postgres (see `LOCK`). Its seats may still be in `holds` under it when the payment
/// beat the booking's own seat sync: that sync books them all the same (a seat booked
/// in Postgres leaves `holds` whoever holds it), and until then they show as held, not
/// free. Returns 1 if it went, else 0.
pub static FORGET_CLAIM: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local all = redis.call('HGETALL', locks)
for i = 1, #all, 2 do
  local _, _, _, _, claimed = parse(all[i + 1])
  if claimed == ARGV[3] then
    redis.call('HDEL', locks, all[i])
    redis.call('ZREM', expiry, all[i])
    return 1
  end
end
return 0
"#,
    )
});

/// ARGV: channel, now, token, bookingId. Puts back a lock that `CLAIM` claimed for a
/// booking whose transaction then failed: the hold is as it was (and is released at
/// once if it lapsed meanwhile). Returns 1 if it restored the lock, else 0.
pub static RESTORE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
local token = ARGV[3]
local meta = redis.call('HGET', locks, token)
if not meta then return 0 end
local owner, exp, cap, held, claimed = parse(meta)
if claimed ~= ARGV[4] then return 0 end
redis.call('HSET', locks, token, meta_of(owner, exp, cap, held))
redis.call('ZADD', expiry, exp, token)
sweep()
return 1
"#,
    )
});

/// Brings seats in line with Postgres after a booking or a block changed there, and
/// publishes what changed as one versioned event. ARGV: channel, now, token,
/// keysExpireAtMs, then triples of `seat, '1'|'0', '1'|'0'` (booked in Postgres or
/// not, blocked there or not). `token`, when not empty, names a hold that the booking
/// used up: its seats leave `holds` without being released first; a claimed lock stays
/// as its booking's marker for the per-user cap (see `LOCK`) until it lapses, any other
/// is removed. A seat's change is published when what it shows differs from before.
/// Idempotent: a second run with the same arguments changes and publishes nothing.
pub static SYNC: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
sweep()
local token = ARGV[3]
local function same(a, b) return a[2] == b[2] and a[3] == b[3] end
local order, want, before = {}, {}, {}
for i = 5, #ARGV - 2, 3 do
  local s = ARGV[i]
  order[#order + 1] = s
  want[s] = {ARGV[i + 1] == '1', ARGV[i + 2] == '1'}
  before[s] = state_of(s)
end
local freed = {}
if token ~= '' then
  local meta = redis.call('HGET', locks, token)
  if meta then
    local _, _, _, seats, claimed = parse(meta)
    for _, s in ipairs(seats) do
      if redis.call('HGET', holds, s) == token then
        before[s] = before[s] or state_of(s)
        redis.call('HDEL', holds, s)
        freed[#freed + 1] = s
      end
    end
    if not claimed then
      redis.call('HDEL', locks, token)
      redis.call('ZREM', expiry, token)
    end
  end
end
-- A set that Redis lost is not written to: it is copied whole from Postgres
-- (`LOAD_BOOKED`) before anyone relies on it.
local has_booked, has_blocked = redis.call('EXISTS', booked) == 1, redis.call('EXISTS', blocked) == 1
local changes = {}
for _, s in ipairs(order) do
  local is_booked, is_blocked = want[s][1], want[s][2]
  if is_booked then
    if has_booked then redis.call('SADD', booked, s) end
    -- A payment wins over a hold made after its booking lapsed.
    redis.call('HDEL', holds, s)
  else
    redis.call('SREM', booked, s)
  end
  if is_blocked then
    if has_blocked then redis.call('SADD', blocked, s) end
  else
    redis.call('SREM', blocked, s)
  end
  local after
  if is_booked then after = {s, 'BOOKED'}
  elseif is_blocked then after = {s, 'BLOCKED'}
  else after = state_of(s) end
  if not same(before[s], after) then changes[#changes + 1] = after end
end
for _, s in ipairs(freed) do
  if not want[s] then
    local after = state_of(s)
    if not same(before[s], after) then changes[#changes + 1] = after end
  end
end
-- What the changes did to the count of available seats (for the history).
local delta = 0
for _, after in ipairs(changes) do
  if after[2] == 'AVAILABLE' then delta = delta + 1 end
  if before[after[1]][2] == 'AVAILABLE' then delta = delta - 1 end
end
if #changes > 0 then announce(changes, delta) end
keep(tonumber(ARGV[4]))
return #changes
"#,
    )
});

/// ARGV: channel, now, keysExpireAtMs, seats…. Blocks every seat, or none: returns
/// `{'OK', version}`, `{'NEED_BOOKED'}` (copy the booked and blocked sets from Postgres
/// first) or `{'TAKEN', seat…}`, the seats someone holds (a claimed hold too: a booking
/// is being made from it) or has bought. Seats blocked already stay blocked, unpublished.
pub static BLOCK: LazyLock<Script> = LazyLock::new(|| {
    script(
        r#"
if not loaded() then return {'NEED_BOOKED'} end
sweep()
local taken = {'TAKEN'}
for i = 4, #ARGV do
  local s = ARGV[i]
  if redis.call('SISMEMBER', booked, s) == 1 or redis.call('HEXISTS', holds, s) == 1 then
    taken[#taken + 1] = s
  end
end
if #taken > 1 then return taken end
local changes = {}
for i = 4, #ARGV do
  if redis.call('SADD', blocked, ARGV[i]) == 1 then changes[#changes + 1] = {ARGV[i], 'BLOCKED'} end
end
keep(tonumber(ARGV[3]))
local v = tonumber(redis.call('GET', version) or '0')
if #changes > 0 then v = announce(changes) end
return {'OK', tostring(v)}
"#,
    )
});
