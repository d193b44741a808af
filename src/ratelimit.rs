//! Rate limits kept in Redis: one script per check, so concurrent requests on any
//! number of nodes count exactly. Fixed windows: simple, and a burst is bounded by
//! twice the limit at a window's edge.

use fred::prelude::*;
use fred::types::scripts::Script;
use std::net::IpAddr;
use std::sync::LazyLock;

use uuid::Uuid;

use crate::config::RateLimit;
use crate::redis::Redis;

/// Counts a request in KEYS[1], with a window of ARGV[1] ms: leaves the count in `n`
/// and the window's remaining milliseconds in `ttl`. Shared by the scripts below.
const COUNT: &str = r#"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
"#;

/// Counts a request and reports the count and the window's remaining milliseconds.
static HIT: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(format!("{COUNT}return {{n, ttl}}")));

/// Reads the count without adding to it.
static PEEK: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
"#,
    )
});

/// The general limit of a signed-in caller, and whether their token was revoked
/// (`auth::sessions`), in one step: the two keys share the user's hash tag.
/// KEYS: the counter, the user's revocations. ARGV: the window in ms (0: no limit),
/// the token's issue time in ms, its refresh family ('' if none).
static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(format!(
        r#"
local r = redis.call('HMGET', KEYS[2], 'before', 'fam:' .. ARGV[3])
if tonumber(r[1] or '0') > tonumber(ARGV[2]) or (ARGV[3] ~= '' and r[2]) then
  return {{0, 0, 1}}
end
if ARGV[1] == '0' then
  return {{0, 0, 0}}
end
{COUNT}return {{n, ttl, 0}}
"#
    ))
});

/// A signed-in caller as the general check sees it: who, and what tells whether
/// their sign-in has ended (`auth::sessions` fills it in from their token).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: Uuid,
    /// When the caller's access token was issued, in ms since the epoch.
    pub issued_ms: i64,
    /// The refresh family the token came from, if any.
    pub family: Option<Uuid>,
    /// The user's revocations hash; it shares the user's hash tag.
    pub revocations_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Limited { retry_after_seconds: u64 },
}

fn key(redis: &Redis, bucket: &str, subject: &str) -> String {
    redis.key(&format!("rl:{bucket}:{subject}"))
}

fn decide(count: i64, ttl_ms: i64, allowed: i64) -> Decision {
    if count > allowed {
        Decision::Limited {
            retry_after_seconds: (ttl_ms.max(0) as u64).div_ceil(1000).max(1),
        }
    } else {
        Decision::Allowed
    }
}

/// Counts one request of `subject` in `bucket`. A Redis that is away lets the
/// request through (logged): availability over strictness.
pub async fn hit(redis: &Redis, bucket: &str, subject: &str, limit: Option<RateLimit>) -> Decision {
    let Some(limit) = limit else {
        return Decision::Allowed;
    };
    let window_ms = limit.window.as_millis() as i64;
    let result: Result<(i64, i64), _> = HIT
        .evalsha_with_reload(redis.client().await, key(redis, bucket, subject), window_ms)
        .await;
    match result {
        Ok((count, ttl)) => decide(count, ttl, i64::from(limit.count)),
        Err(e) => {
            tracing::warn!(error = %e, bucket, "rate limit not checked: Redis unavailable");
            Decision::Allowed
        }
    }
}

/// Whether `subject` has already used up `bucket`, without counting this request.
pub async fn exhausted(
    redis: &Redis,
    bucket: &str,
    subject: &str,
    limit: Option<RateLimit>,
) -> Decision {
    let Some(limit) = limit else {
        return Decision::Allowed;
    };
    let result: Result<(i64, i64), _> = PEEK
        .evalsha_with_reload(redis.client().await, key(redis, bucket, subject), ())
        .await;
    match result {
        Ok((count, ttl)) => decide(count + 1, ttl, i64::from(limit.count)),
        Err(e) => {
            tracing::warn!(error = %e, bucket, "rate limit not checked: Redis unavailable");
            Decision::Allowed
        }
    }
}

/// The outcome of the general check of one request or websocket operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    Limited {
        retry_after_seconds: u64,
    },
    /// The caller's access token belongs to a sign-in that has ended.
    Revoked,
}

/// Counts one request (or websocket query or mutation) in the general bucket: per
/// user when signed in, checking in the same script that the token was not revoked;
/// else per client IP. With the limit off, a signed-in caller's token is still
/// checked. A Redis that is away lets the request through (logged): availability
/// over strictness, for revocations as for limits.
pub async fn general(
    redis: &Redis,
    limit: Option<RateLimit>,
    caller: Option<&SignedIn>,
    client: IpAddr,
) -> Admission {
    let Some(caller) = caller else {
        return match hit(redis, "general", &format!("ip:{client}"), limit).await {
            Decision::Allowed => Admission::Allowed,
            Decision::Limited {
                retry_after_seconds,
            } => Admission::Limited {
                retry_after_seconds,
            },
        };
    };
    let keys = vec![
        // The hash tag puts both keys in one Cluster slot, so one script reads both.
        key(redis, "general", &format!("{{user:{}}}", caller.user)),
        caller.revocations_key.clone(),
    ];
    let window_ms = limit.map_or(0, |l| l.window.as_millis() as i64);
    let args = vec![
        window_ms.to_string(),
        caller.issued_ms.to_string(),
        caller.family.map(|f| f.to_string()).unwrap_or_default(),
    ];
    let result: Result<(i64, i64, i64), _> = ADMIT
        .evalsha_with_reload(redis.client().await, keys, args)
        .await;
    match (result, limit) {
        (Ok((_, _, 1)), _) => Admission::Revoked,
        (Ok((count, ttl, _)), Some(limit)) => match decide(count, ttl, i64::from(limit.count)) {
            Decision::Allowed => Admission::Allowed,
            Decision::Limited {
                retry_after_seconds,
            } => Admission::Limited {
                retry_after_seconds,
            },
        },
        (Ok(_), None) => Admission::Allowed,
        (Err(e), _) => {
            tracing::warn!(error = %e, "general limit and revocations not checked: Redis unavailable");
            Admission::Allowed
        }
    }
}

pub async fn clear(redis: &Redis, bucket: &str, subject: &str) {
    let _: Result<i64, _> = redis.client().await.del(key(redis, bucket, subject)).await;
}

/// Takes back one request counted by [`hit`] (never below zero; the window is
/// kept): for a count taken as a reservation before the outcome was known, such as
/// a sign-in that turned out right.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then
  redis.call('DECR', KEYS[1])
end
return n
"#,
    )
});

/// Gives back one request of `subject` in `bucket` that [`hit`] counted. A Redis
/// that is away keeps it (logged); the window ends it anyway.
pub async fn release(redis: &Redis, bucket: &str, subject: &str, limit: Option<RateLimit>) {
    if limit.is_none() {
        return;
    }
    let result: Result<i64, _> = RELEASE
        .evalsha_with_reload(redis.client().await, key(redis, bucket, subject), ())
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, bucket, "rate limit reservation not released: Redis unavailable");
    }
}
