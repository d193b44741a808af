//! The one place where the tracing subscriber is set up, and the request id that
//! follows work from a request to what it causes later.
//!
//! Every HTTP request and websocket operation gets a span with a request id (the
//! client's `X-Request-Id` when it sends a sane one, else a new one; the response
//! carries it back). The id also rides in a task-local, so that an outbox row written
//! on the request's behalf records it, and the worker that delivers the row (an email,
//! a refund) logs under a span with the same id: a log line can be followed from the
//! request to its email.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};

use futures_util::Stream;
use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default filter.
/// Calling it twice is harmless (tests do).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,screema=info,tower_http=warn,fred=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
}

/// For tests: quiet unless `TEST_LOG` is set.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug,fred=info"));
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(fmt::layer().with_test_writer())
            .try_init();
    }
}

/// This process's part of the request ids it makes.
static PROCESS_ID: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// The request id of the work under way on this task, if it has one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.to_string()).ok()
}

/// A request id: the client's when it is a sane token (1 to 64 of `[A-Za-z0-9._-]`,
/// so that a log line cannot be forged through it), else a new one: this process's
/// random prefix and a counter, 32 hex digits, unique without a random draw per
/// request (a v4 UUID asked the OS for randomness on every request).
pub fn request_id(offered: Option<&str>) -> Arc<str> {
    match offered {
        Some(id)
            if (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
        {
            Arc::from(id)
        }
        _ => {
            let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            Arc::from(format!("{:016x}{n:016x}", *PROCESS_ID))
        }
    }
}

/// Runs `work` with `id` as the task's request id.
pub async fn with_request_id<F: Future>(id: Arc<str>, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// A stream polled inside `span`, with `id` as the request id while it is polled:
/// for a websocket operation, whose results are polled on the connection's task.
pub struct Traced<S> {
    inner: S,
    span: tracing::Span,
    id: Arc<str>,
}

impl<S> Traced<S> {
    pub fn new(inner: S, span: tracing::Span, id: Arc<str>) -> Self {
        Self { inner, span, id }
    }
}

impl<S: Stream + Unpin> Stream for Traced<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let id = this.id.clone();
        REQUEST_ID.sync_scope(id, || Pin::new(&mut this.inner).poll_next(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_offered_id_is_kept_and_anything_else_replaced() {
        assert_eq!(&*request_id(Some("abc-123_x.y")), "abc-123_x.y");
        for bad in ["", "has space", "new\nline", &"x".repeat(65)] {
            let id = request_id(Some(bad));
            assert_ne!(&*id, bad);
            assert_eq!(id.len(), 32);
        }
        assert_eq!(request_id(None).len(), 32);
        assert_ne!(request_id(None), request_id(None));
    }

    #[tokio::test]
    async fn the_id_is_seen_inside_its_scope_only() {
        assert_eq!(current_request_id(), None);
        let seen = with_request_id(Arc::from("r1"), async { current_request_id() }).await;
        assert_eq!(seen.as_deref(), Some("r1"));
    }
}
