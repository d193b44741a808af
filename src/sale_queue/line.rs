//! The queue in Redis, changed only by two Lua scripts so that every node sees one
//! order and nobody is let in twice.
//!
//! Keys, for showtime `S` (prefix `P`; the id in a hash tag, one Cluster slot):
//! - `P:salequeue:{S}:line`     sorted set of buyers not yet let in. Before the sale
//!   opens a buyer's score is a random number in (0, 1): the order is drawn as they
//!   join, and arriving early gives no edge. At opening (`ADMIT`'s first run) each is
//!   given their ordinal (1, 2, …) in that order; later arrivals get the next ordinal,
//!   at the back.
//! - `P:salequeue:{S}:admitted` hash buyer → `<letInMs>|<untilMs>`: who was let in,
//!   and until when they may start holding seats. Kept after the window: a buyer let
//!   in may book the hold they made in it.
//! - `P:salequeue:{S}:state`    hash: `opened` (ms), `next` (the last ordinal given),
//!   `head` (the ordinal of the last buyer let in), `last` (ms) and `credit` (the
//!   admission rate's bucket), `sold_out` (1 while no seat is free).
//!
//! Admission reads the showtime's seat keys (`seating::keys`, the same hash tag): while
//! no seat is free (all held, sold or blocked) nobody is let in, and the rate earns
//! nothing; seats a lapsing hold frees let the line move again.
//!
//! A waiting buyer's position is their ordinal minus `head`: nobody leaves the line but
//! from its front, so positions only go down, and each buyer's is worked out from the
//! one number an admission publishes, without asking Redis per buyer.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use fred::prelude::*;
use fred::types::scripts::Script;
use uuid::Uuid;

use crate::app::App;
use crate::error::{AppError, AppResult};

/// Joins a buyer (idempotent). KEYS line, admitted, state; ARGV user, now, random
/// score, expireAt (ms). Answers whether the sale is sold out now (`"0"`/`"1"`) then
/// `"early"`, `"waiting", ordinal, head`, or `"admitted", letInMs, untilMs`.
static JOIN: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
local line, admitted, state = KEYS[1], KEYS[2], KEYS[3]
local user, now, rnd, expire_at = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local opened = redis.call('HGET', state, 'opened')
local sold_out = redis.call('HGET', state, 'sold_out') or '0'
local score = redis.call('ZSCORE', line, user)
if score then
  if opened then return {sold_out, 'waiting', score, redis.call('HGET', state, 'head')} end
  return {sold_out, 'early'}
end
local a = redis.call('HGET', admitted, user)
if a then
  local at, untl = string.match(a, '^(%d+)|(%d+)$')
  if tonumber(untl) > now then return {sold_out, 'admitted', at, untl} end
end
local answer
if opened then
  local ordinal = redis.call('HINCRBY', state, 'next', 1)
  redis.call('ZADD', line, ordinal, user)
  answer = {sold_out, 'waiting', tostring(ordinal), redis.call('HGET', state, 'head')}
else
  redis.call('ZADD', line, rnd, user)
  answer = {sold_out, 'early'}
end
for _, k in ipairs(KEYS) do redis.call('PEXPIREAT', k, expire_at) end
return answer
"#,
    )
});

/// Opens the sale on its first run (draws the order) and lets in as many buyers as
/// the rate has earned since the last run, at most `burst` and at most a buyer a free
/// seat. KEYS line, admitted, state, and the seats' holds, booked, blocked; ARGV now,
/// rate a minute, window ms, burst, expireAt, seats in the room. Answers `{head, let
/// in, opened now (0/1), sold out (0/1), sold out changed (0/1)}`.
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
local line, admitted, state = KEYS[1], KEYS[2], KEYS[3]
local holds, booked, blocked = KEYS[4], KEYS[5], KEYS[6]
local now, rate, window, burst, expire_at = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
-- The seat sets carry a `~loaded` marker (`seating::scripts`), not a seat.
local function seats(set) return redis.call('SCARD', set) - redis.call('SISMEMBER', set, '~loaded') end
local free = tonumber(ARGV[6]) - redis.call('HLEN', holds) - seats(booked) - seats(blocked)
local opened_now = 0
if not redis.call('HGET', state, 'opened') then
  local early = redis.call('ZRANGE', line, 0, -1)
  for i, user in ipairs(early) do redis.call('ZADD', line, i, user) end
  redis.call('HSET', state, 'opened', now, 'next', #early, 'head', 0, 'last', now, 'credit', 0)
  opened_now = 1
end
local last = tonumber(redis.call('HGET', state, 'last'))
local credit = tonumber(redis.call('HGET', state, 'credit'))
if now > last then credit = math.min(credit + (now - last) * rate / 60000, burst) end
local head = tonumber(redis.call('HGET', state, 'head'))
local was_sold_out = redis.call('HGET', state, 'sold_out') == '1'
local sold_out = free <= 0
if sold_out then credit = 0 end
local n = math.min(math.floor(credit), math.max(free, 0))
local let_in = 0
if n > 0 then
  local popped = redis.call('ZPOPMIN', line, n)
  for i = 1, #popped, 2 do
    redis.call('HSET', admitted, popped[i], now .. '|' .. (now + window))
    head = tonumber(popped[i + 1])
    let_in = let_in + 1
  end
  -- An empty line earns nothing: the next crowd is let in at the rate, not at once.
  credit = credit - n
  redis.call('HSET', state, 'head', head)
end
redis.call('HSET', state, 'last', math.max(now, last), 'credit', tostring(credit), 'sold_out', sold_out and '1' or '0')
for i = 1, 3 do redis.call('PEXPIREAT', KEYS[i], expire_at) end
return {head, let_in, opened_now, sold_out and 1 or 0, (sold_out ~= was_sold_out) and 1 or 0}
"#,
    )
});

fn key(app: &App, showtime: Uuid, part: &str) -> String {
    app.redis.key(&format!("salequeue:{{{showtime}}}:{part}"))
}

fn keys(app: &App, showtime: Uuid) -> Vec<String> {
    ["line", "admitted", "state"]
        .iter()
        .map(|part| key(app, showtime, part))
        .collect()
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn instant(ms: i64) -> AppResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("a time out of range in a sale queue")))
}

/// Where a buyer stands in a showtime's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not in the queue (never joined, or let in and their window has passed).
    Absent,
    /// In the queue before it opens: the order is drawn at opening.
    Early,
    /// In the line: `ordinal - head` is their position (1: next).
    Waiting { ordinal: i64, head: i64 },
    /// Let in: they may start holding seats until `until`.
    Admitted {
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    },
}

fn parse(answer: &[String]) -> AppResult<Standing> {
    let number = |i: usize| -> AppResult<i64> {
        let raw = answer.get(i).map(String::as_str).unwrap_or("0");
        // Ordinals are whole numbers, written by Redis as such.
        raw.parse::<i64>()
            .map_err(|_| AppError::internal(anyhow::anyhow!("a sale queue number `{raw}`")))
    };
    match answer.first().map(String::as_str) {
        Some("early") => Ok(Standing::Early),
        Some("waiting") => Ok(Standing::Waiting {
            ordinal: number(1)?,
            head: number(2)?,
        }),
        Some("admitted") => Ok(Standing::Admitted {
            at: instant(number(1)?)?,
            until: instant(number(2)?)?,
        }),
        _ => Ok(Standing::Absent),
    }
}

/// Joins `user` to the queue (nothing changes for one already in it or let in): where
/// they stand, and whether no seat is free now.
pub async fn join(
    app: &App,
    showtime: Uuid,
    user: Uuid,
    expire_at: DateTime<Utc>,
) -> AppResult<(Standing, bool)> {
    // Uniform in (0, 1), never 0: ordinals from 1 sort after every early score.
    let draw = (rand::random::<u64>() >> 11).max(1) as f64 / (1u64 << 53) as f64;
    let answer: Vec<String> = JOIN
        .evalsha_with_reload(
            app.redis.client().await,
            keys(app, showtime),
            vec![
                user.to_string(),
                millis(app.now()).to_string(),
                format!("{draw:.17}"),
                millis(expire_at).to_string(),
            ],
        )
        .await?;
    let sold_out = answer.first().map(String::as_str) == Some("1");
    Ok((parse(answer.get(1..).unwrap_or_default())?, sold_out))
}

/// Where `user` stands, and whether no seat is free now, without changing anything.
pub async fn standing(app: &App, showtime: Uuid, user: Uuid) -> AppResult<(Standing, bool)> {
    let client = app.redis.client().await;
    let member = user.to_string();
    let (score, admitted, state): (Option<String>, Option<String>, Vec<Option<String>>) = tokio::try_join!(
        client.zscore::<Option<String>, _, _>(key(app, showtime, "line"), member.as_str()),
        client.hget::<Option<String>, _, _>(key(app, showtime, "admitted"), member.as_str()),
        client.hmget::<Vec<Option<String>>, _, _>(
            key(app, showtime, "state"),
            vec!["opened", "head", "sold_out"]
        ),
    )?;
    let field = |i: usize| state.get(i).cloned().flatten();
    let sold_out = field(2).as_deref() == Some("1");
    let standing = if let Some(score) = score {
        match field(0) {
            Some(_) => parse(&[
                "waiting".to_owned(),
                score,
                field(1).unwrap_or_else(|| "0".to_owned()),
            ])?,
            None => Standing::Early,
        }
    } else if let Some((at, until)) = admitted.as_deref().and_then(|a| a.split_once('|')) {
        parse(&["admitted".to_owned(), at.to_owned(), until.to_owned()])?
    } else {
        Standing::Absent
    };
    Ok((standing, sold_out))
}

/// Whether `user` was ever let in from this showtime's queue.
pub async fn was_admitted(app: &App, showtime: Uuid, user: Uuid) -> AppResult<bool> {
    let client = app.redis.client().await;
    Ok(client
        .hexists(key(app, showtime, "admitted"), user.to_string())
        .await?)
}

/// What an admission run did.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// The ordinal of the last buyer let in so far.
    pub head: i64,
    pub let_in: i64,
    /// This run opened the sale (drew the order).
    pub opened: bool,
    /// No seat is free now: nobody is let in.
    pub sold_out: bool,
    /// `sold_out` is news.
    pub sold_out_changed: bool,
}

/// Opens the sale if it is not yet open, and lets in what the rate has earned.
pub async fn admit(
    app: &App,
    showtime: Uuid,
    seats: usize,
    rate_a_minute: u32,
    expire_at: DateTime<Utc>,
) -> AppResult<Admission> {
    let window = app.config.holds.queue_window.as_millis();
    // Up to two sweeps' worth at once: a late run catches up, a long pause does not
    // let in a crowd.
    let sweep_ms = app.config.holds.sweep_interval.as_millis().max(1);
    let burst = (u128::from(rate_a_minute) * sweep_ms * 2 / 60_000).max(1);
    let mut keys = keys(app, showtime);
    keys.extend(
        ["holds", "booked", "blocked"]
            .iter()
            .map(|part| crate::seating::keys::seat_key(&app.redis, showtime, part)),
    );
    let answer: Vec<i64> = ADMIT
        .evalsha_with_reload(
            app.redis.client().await,
            keys,
            vec![
                millis(app.now()).to_string(),
                rate_a_minute.to_string(),
                window.to_string(),
                burst.to_string(),
                millis(expire_at).to_string(),
                seats.to_string(),
            ],
        )
        .await?;
    match answer[..] {
        [head, let_in, opened, sold_out, changed] => Ok(Admission {
            head,
            let_in,
            opened: opened == 1,
            sold_out: sold_out == 1,
            sold_out_changed: changed == 1,
        }),
        _ => Err(AppError::internal(anyhow::anyhow!(
            "the sale queue's admission answered {answer:?}"
        ))),
    }
}
