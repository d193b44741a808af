//! Automatic persisted queries, Apollo's protocol (what `createPersistedQueryLink`
//! speaks): a client sends `extensions.persistedQuery {version: 1, sha256Hash}` and no
//! query; a query we know by its hash runs, one we do not is answered
//! `PERSISTED_QUERY_NOT_FOUND` (message `PersistedQueryNotFound`), and the client sends
//! it again with its text, which is kept once its hash is checked. Queries may then go
//! as short `GET`s that a CDN can cache (`http::graphql` says which may be).
//!
//! Kept in Redis, so a query registered through one node is known to every node, and
//! bounded: at most `PERSISTED_QUERIES_MAX`, the least recently used going first (a
//! hash of the texts and a sorted set of when each was last used, in one script, on
//! one cluster slot). Each node also keeps the ones it used last in memory, so a
//! known query costs no Redis call. A Redis that is away makes every hash unknown:
//! clients fall back to sending their text, as the protocol intends.
//!
//! Written by hand: async-graphql's `ApolloPersistedQueries` extension runs after our
//! engine has read the document (its caches and checks come first), and its storage
//! trait has no bound on size.

use std::sync::{Arc, LazyLock};

use async_graphql::{Request, ServerError};
use fred::types::scripts::Script;
use moka::sync::Cache;
use sha2::{Digest, Sha256};

use crate::app::App;

/// Queries each node keeps in memory.
const IN_MEMORY: u64 = 1024;

/// KEYS: the texts (hash), the last uses (sorted set). ARGV: the sha256, now in ms.
static LOOKUP: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
local q = redis.call('HGET', KEYS[1], ARGV[1])
if q then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
return q
"#,
    )
});

/// KEYS as LOOKUP. ARGV: the sha256, now in ms, the text, the most kept.
static REGISTER: LazyLock<Script> = LazyLock::new(|| {
    Script::from_lua(
        r#"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
  redis.call('HDEL', KEYS[1], unpack(old))
end
return over
"#,
    )
});

pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

pub struct PersistedQueries {
    recent: Cache<String, Arc<str>>,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        Self {
            recent: Cache::new(IN_MEMORY),
        }
    }
}

/// What a request's `extensions.persistedQuery` asks for.
struct Asked {
    hash: String,
}

impl PersistedQueries {
    /// Fills in the text of a request that sent only a hash, or keeps the text of one
    /// that sent both; a request without `persistedQuery` is left as it is. `Err`:
    /// the answer to send instead of running anything.
    pub async fn resolve(&self, app: &App, request: &mut Request) -> Result<(), ServerError> {
        let Some(asked) = asked(request)? else {
            return Ok(());
        };
        let max = app.config.graphql.persisted_queries;
        if request.query.is_empty() {
            let found = match self.recent.get(&asked.hash) {
                Some(query) => Some(query),
                None if max == 0 => None,
                None => self.lookup(app, &asked.hash).await,
            };
            let Some(query) = found else {
                return Err(coded("PersistedQueryNotFound", NOT_FOUND));
            };
            request.query = query.to_string();
            return Ok(());
        }
        if hex::encode(Sha256::digest(request.query.as_bytes())) != asked.hash {
            return Err(bad_input(
                "extensions.persistedQuery.sha256Hash",
                "provided sha does not match query",
            ));
        }
        // A text too long to be worth a document cache is not worth keeping either.
        if max > 0 && request.query.len() <= super::documents::MAX_QUERY_BYTES {
            let query: Arc<str> = Arc::from(request.query.as_str());
            self.recent.insert(asked.hash.clone(), query.clone());
            self.register(app, &asked.hash, &query, max).await;
        }
        Ok(())
    }

    fn keys(app: &App) -> (String, String) {
        // One hash tag: both keys on one cluster slot, for the scripts.
        (
            app.redis.key("apq:{queries}"),
            app.redis.key("apq:{queries}:used"),
        )
    }

    async fn lookup(&self, app: &App, hash: &str) -> Option<Arc<str>> {
        let now = app.now().timestamp_millis();
        let found: Result<Option<String>, _> = LOOKUP
            .evalsha_with_reload(app.redis.client().await, Self::keys(app), (hash, now))
            .await;
        match found {
            Ok(Some(query)) => {
                let query: Arc<str> = Arc::from(query);
                self.recent.insert(hash.to_owned(), query.clone());
                Some(query)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "persisted query not looked up: Redis unavailable");
                None
            }
        }
    }

    async fn register(&self, app: &App, hash: &str, query: &str, max: usize) {
        let now = app.now().timestamp_millis();
        let stored: Result<i64, _> = REGISTER
            .evalsha_with_reload(
                app.redis.client().await,
                Self::keys(app),
                (hash, now, query, max as i64),
            )
            .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "persisted query not kept: Redis unavailable");
        }
    }
}

/// The request's `persistedQuery`, checked: version 1 and a sha256 in hex.
fn asked(request: &Request) -> Result<Option<Asked>, ServerError> {
    use async_graphql::Value;
    let Some(value) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let Value::Object(fields) = value else {
        return Err(bad_input(
            "extensions.persistedQuery",
            "expected an object {version, sha256Hash}",
        ));
    };
    match fields.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => {
            return Err(bad_input(
                "extensions.persistedQuery.version",
                "unsupported persisted query version: only 1 is",
            ));
        }
    }
    match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(Asked {
                hash: hash.to_ascii_lowercase(),
            }))
        }
        _ => Err(bad_input(
            "extensions.persistedQuery.sha256Hash",
            "expected the query's SHA-256 as 64 hexadecimal digits",
        )),
    }
}

fn coded(message: &str, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// Through the same error boundary as every other refusal.
fn bad_input(field: &str, message: &str) -> ServerError {
    let error = crate::error::AppError::bad_input(field, message);
    async_graphql::Error::from(error).into_server_error(Default::default())
}
