//! The GraphQL endpoint and the websocket: what a query may cost, who may read the
//! schema, how many sockets and operations a client may hold.

use std::time::Duration;

use super::vars::{Unit, Vars};
use super::{AppEnv, ConfigError};

/// Who may read the schema through `__schema` and `__type` (`GRAPHQL_INTROSPECTION`).
/// `__typename` is always open: Apollo Client selects it everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    /// Anyone: the development default, and for a public API.
    Open,
    /// Signed-in admins (GraphiQL with an admin's token): the production default.
    Admins,
    /// Nobody; the schema is only in the repository's `schema.graphql`.
    Off,
}

#[derive(Debug, Clone, Copy)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_body_bytes: usize,
    pub introspection: Introspection,
    /// How long a dataloader waits to gather keys into one batch.
    pub batch_delay: Duration,
    /// How long a health probe waits for Postgres or Redis before calling it down.
    pub probe_timeout: Duration,
    /// Automatic persisted queries kept (shared by every node, least recently used go
    /// first); 0 turns them off.
    pub persisted_queries: usize,
    /// `Cache-Control: public, max-age=` on a public catalog read sent as GET, for a CDN.
    pub public_max_age: Duration,
}

impl GraphqlLimits {
    pub(super) fn read(vars: &Vars, env: AppEnv) -> Result<Self, ConfigError> {
        let default_introspection = match env {
            AppEnv::Production => Introspection::Admins,
            AppEnv::Development => Introspection::Open,
        };
        Ok(Self {
            max_depth: vars.number("GRAPHQL_MAX_DEPTH", 15, 2)?,
            max_complexity: vars.number("GRAPHQL_MAX_COMPLEXITY", 1000, 10)?,
            max_body_bytes: vars.number("MAX_BODY_BYTES", 64 * 1024, 1024)?,
            introspection: vars.choice(
                "GRAPHQL_INTROSPECTION",
                default_introspection,
                &[
                    ("open", Introspection::Open),
                    ("admins", Introspection::Admins),
                    ("off", Introspection::Off),
                ],
            )?,
            batch_delay: vars.duration(
                "GRAPHQL_BATCH_DELAY_MS",
                Duration::from_millis(2),
                Unit::Millis,
                Duration::ZERO,
            )?,
            probe_timeout: vars.duration(
                "HEALTH_PROBE_TIMEOUT_MS",
                Duration::from_secs(2),
                Unit::Millis,
                Duration::from_millis(10),
            )?,
            persisted_queries: vars.number("PERSISTED_QUERIES_MAX", 10_000, 0)?,
            public_max_age: vars.duration(
                "PUBLIC_CACHE_MAX_AGE_SECONDS",
                Duration::from_secs(5),
                Unit::Seconds,
                Duration::ZERO,
            )?,
        })
    }
}

/// Caps on websockets (`graphql::engine::ws`).
#[derive(Debug, Clone, Copy)]
pub struct WebsocketLimits {
    /// Operations one socket may have running at once (subscriptions, and queries
    /// and mutations not yet answered).
    pub max_operations: usize,
    /// Sockets one client IP may hold open on one node; `None`: no cap.
    pub max_connections_per_client: Option<usize>,
}

impl WebsocketLimits {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let off = vars
            .get("WS_MAX_CONNECTIONS_PER_CLIENT")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("off"));
        Ok(Self {
            max_operations: vars.number("WS_MAX_SUBSCRIPTIONS", 50, 1)?,
            max_connections_per_client: if off {
                None
            } else {
                Some(vars.number("WS_MAX_CONNECTIONS_PER_CLIENT", 20, 1)?)
            },
        })
    }
}
