//! Prometheus metrics, owned by the `App` (not global); `http::metrics` serves them at
//! `/metrics` and counts HTTP requests into them.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::Pool;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationOnly {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    graphql_requests: Family<OperationLabels, Counter>,
    graphql_latency: Family<OperationOnly, Histogram, fn() -> Histogram>,
    http_requests: Family<HttpLabels, Counter>,
    db_statements: Counter,
    db_transactions: Counter,
    db_batch_writes: Counter,
    pool_size: Gauge,
    pool_available: Gauge,
    pool_waiting: Gauge,
    live_payloads_rendered: Counter,
    live_payloads_sent: Counter,
    catalog_answers_served: Counter,
    seat_map_answers_shared: Counter,
    replica: ReplicaMetrics,
}

/// The read replica's counters (`db::reads`).
#[derive(Clone, Default)]
struct ReplicaMetrics {
    statements: crate::db::StatementCounter,
    transactions: Counter,
    served: Counter,
    behind: Counter,
    unavailable: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("screema");
        let graphql_requests = Family::<OperationLabels, Counter>::default();
        let graphql_latency =
            Family::<OperationOnly, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let http_requests = Family::<HttpLabels, Counter>::default();
        let db_statements = Counter::default();
        let db_transactions = Counter::default();
        let db_batch_writes = Counter::default();
        let (pool_size, pool_available, pool_waiting) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "graphql_requests",
            "GraphQL operations by root field and outcome (OK or the first error code)",
            graphql_requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "GraphQL operation latency",
            graphql_latency.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        registry.register(
            "db_statements",
            "SQL statements sent to Postgres",
            db_statements.clone(),
        );
        registry.register(
            "db_transactions",
            "Transactions run on Postgres, counted as pg_stat_database counts them: a statement outside a transaction is one",
            db_transactions.clone(),
        );
        registry.register(
            "db_batch_writes",
            "Transactions of the batch writers (seat lock records, outbox deliveries), counted in db_transactions too",
            db_batch_writes.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Open database connections",
            pool_size.clone(),
        );
        registry.register(
            "db_pool_available",
            "Idle database connections",
            pool_available.clone(),
        );
        registry.register(
            "db_pool_waiting",
            "Tasks waiting for a database connection",
            pool_waiting.clone(),
        );
        let (live_payloads_rendered, live_payloads_sent) = (Counter::default(), Counter::default());
        registry.register(
            "live_payloads_rendered",
            "Seat map change payloads written (once per showtime, version and selection)",
            live_payloads_rendered.clone(),
        );
        registry.register(
            "live_payloads_sent",
            "Seat map change payloads sent to subscribers, shared or not",
            live_payloads_sent.clone(),
        );
        let catalog_answers_served = Counter::default();
        registry.register(
            "catalog_answers_served",
            "Catalog queries answered whole from memory (graphql::engine::answers)",
            catalog_answers_served.clone(),
        );
        let seat_map_answers_shared = Counter::default();
        registry.register(
            "seat_map_answers_shared",
            "Seat map queries answered with the bytes encoded for their version (graphql::engine::seat_maps)",
            seat_map_answers_shared.clone(),
        );
        let replica = ReplicaMetrics::default();
        for (name, help, counter) in [
            (
                "db_replica_statements",
                "SQL statements sent to the read replica (DATABASE_READ_URL)",
                &replica.statements.0,
            ),
            (
                "db_replica_transactions",
                "Transactions run on the read replica",
                &replica.transactions,
            ),
            (
                "db_replica_reads",
                "Catalog reads the read replica served (db::reads)",
                &replica.served,
            ),
            (
                "db_replica_behind",
                "Catalog reads sent to the primary because the replica had not replayed the latest catalog change",
                &replica.behind,
            ),
            (
                "db_replica_unavailable",
                "Catalog reads sent to the primary because the replica failed or was resting after a failure",
                &replica.unavailable,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        Self(Arc::new(Inner {
            registry,
            graphql_requests,
            graphql_latency,
            http_requests,
            db_statements,
            db_transactions,
            db_batch_writes,
            pool_size,
            pool_available,
            pool_waiting,
            live_payloads_rendered,
            live_payloads_sent,
            catalog_answers_served,
            seat_map_answers_shared,
            replica,
        }))
    }

    /// The counters the read replica's pool and router increment.
    pub fn replica_counters(&self) -> crate::reads::ReplicaCounters {
        let r = &self.0.replica;
        crate::reads::ReplicaCounters {
            statements: r.statements.clone(),
            transactions: r.transactions.clone(),
            served: r.served.clone(),
            behind: r.behind.clone(),
            unavailable: r.unavailable.clone(),
        }
    }

    /// A catalog query answered whole from memory.
    pub fn answer_served(&self) {
        self.0.catalog_answers_served.inc();
    }

    /// A seat map query answered with bytes already encoded for its version.
    pub fn seat_map_answer_shared(&self) {
        self.0.seat_map_answers_shared.inc();
    }

    /// The transactions the database pool's instrumentation counts.
    pub fn db_transactions(&self) -> Counter {
        self.0.db_transactions.clone()
    }

    /// The batch writers' transactions.
    pub fn db_batch_writes(&self) -> Counter {
        self.0.db_batch_writes.clone()
    }

    /// The counter the database pool's instrumentation increments.
    pub fn db_statements(&self) -> Counter {
        self.0.db_statements.clone()
    }

    pub fn observe_graphql(&self, operation: &str, outcome: &str, elapsed: Duration) {
        self.0
            .graphql_requests
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.0
            .graphql_latency
            .get_or_create(&OperationOnly {
                operation: operation.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A shared seat map payload sent; `rendered` when this send wrote it.
    pub fn live_payload(&self, rendered: bool) {
        if rendered {
            self.0.live_payloads_rendered.inc();
        }
        self.0.live_payloads_sent.inc();
    }

    pub fn observe_http(&self, method: &str, route: &str, status: u16) {
        self.0
            .http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    pub fn render(&self, pool: &Pool) -> Result<String, std::fmt::Error> {
        let status = pool.status();
        self.0.pool_size.set(status.size as i64);
        self.0.pool_available.set(status.available as i64);
        self.0.pool_waiting.set(status.waiting as i64);
        let mut out = String::with_capacity(8 * 1024);
        encode(&mut out, &self.0.registry)?;
        Ok(out)
    }
}
