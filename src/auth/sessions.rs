//! Sessions that end when they should: a revoked sign-in stops working at once, on
//! HTTP and on every node's websockets, not when its access token runs out.
//!
//! Postgres is the truth (`refresh_tokens.revoked_at`); access tokens are checked
//! against a copy in Redis that lives as long as an access token can
//! (`ACCESS_TOKEN_TTL_SECONDS`), one hash per user, `<prefix>:sess:{user:<id>}`:
//! - `before` = an instant in ms: every token issued before it is void (a role change
//!   signs the user out everywhere, including tokens no sign-in issued);
//! - `fam:<family>` = a revoked refresh family (logout, refresh-token reuse): the
//!   access tokens issued from it are void.
//!
//! The hash shares its hash tag with the user's general rate-limit counter, so the
//! check rides on the one script every signed-in request already runs
//! (`ratelimit::general`): no extra round trip.
//!
//! Every revocation is then published on `<prefix>:sessions`; each node's one
//! subscriber connection (`pubsub`) hands it to `graphql::engine::ws::sessions`, which closes that user's
//! sockets there. If Redis is away at that moment, the revocation still holds in
//! Postgres (no refresh), but its access tokens live out their lifetime and open
//! sockets close at their token's expiry: availability over strictness, as for the
//! rate limits (logged).

use std::sync::LazyLock;
use std::time::Duration;

use fred::prelude::*;
use fred::types::scripts::Script;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::App;
use crate::auth::tokens::AccessToken;
use crate::ratelimit::SignedIn;
use crate::redis::Redis;

/// The channel that carries "these sessions ended" to every node.
pub fn channel(app: &App) -> String {
    app.redis.key("sessions")
}

/// A user's revocations (see the module docs).
pub fn revocations_key(redis: &Redis, user: Uuid) -> String {
    redis.key(&format!("sess:{{user:{user}}}"))
}

/// What the general check (`ratelimit::general`) needs of a token to tell whether its
/// sign-in has ended.
pub fn signed_in(redis: &Redis, token: &AccessToken) -> SignedIn {
    SignedIn {
        user: token.viewer.user_id,
        issued_ms: token.issued_ms,
        family: token.family,
        revocations_key: revocations_key(redis, token.viewer.user_id),
    }
}

/// What travels on the channel: one user's sign-ins that ended, all of them when
/// `family` is `None`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ended {
    pub user: Uuid,
    #[serde(default)]
    pub family: Option<Uuid>,
}

/// Sets one field of the user's revocations and keeps the hash at least as long as
/// an access token lives.
static MARK: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"#,
    )
});

/// How long a revocation is remembered: an access token's lifetime, and a minute for
/// clocks that disagree between nodes.
fn remembered(app: &App) -> Duration {
    app.config.auth.access_token_ttl + Duration::from_secs(60)
}

/// The refresh family `family` of `user` was revoked (after its commit).
pub async fn family_revoked(app: &App, user: Uuid, family: Uuid) {
    let field = format!("fam:{family}");
    end(app, user, &field, "1", Some(family)).await;
}

/// Every sign-in of `user` was revoked (after its commit).
pub async fn user_revoked(app: &App, user: Uuid) {
    let before = app.now().timestamp_millis().to_string();
    end(app, user, "before", &before, None).await;
}

async fn end(app: &App, user: Uuid, field: &str, value: &str, family: Option<Uuid>) {
    let ttl_ms = remembered(app).as_millis() as i64;
    let key = revocations_key(&app.redis, user);
    let marked: Result<i64, _> = MARK
        .evalsha_with_reload(
            app.redis.client().await,
            key,
            vec![field.to_owned(), value.to_owned(), ttl_ms.to_string()],
        )
        .await;
    if let Err(e) = marked {
        tracing::warn!(error = %e, %user, "revocation not copied to Redis: its access tokens live out their lifetime");
    }
    let Ok(body) = serde_json::to_string(&Ended { user, family }) else {
        return;
    };
    let published: Result<i64, _> = app.redis.client().await.publish(channel(app), body).await;
    if let Err(e) = published {
        tracing::warn!(error = %e, %user, "revocation not published: open websockets close at their token's expiry");
    }
}
