//! Rate limits kept in Redis: one script per check, so concurrent requests on any
//! number of nodes count exactly. Fixed windows: simple, and a burst is bounded by
//! twice the limit at a window's edge.

use fred::prelude::*;
use fred::types::scripts::Script;
use std::sync::LazyLock;

use crate::config::RateLimit;
use crate::redis::Redis;

/// Counts a request and reports the count and the window's remaining milliseconds.
static HIT: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"#,
    )
});

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
