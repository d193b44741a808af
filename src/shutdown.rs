//! A node's shutdown, as everything that runs on it sees it: the server stops
//! accepting, websockets close, and background workers stop after the item in hand.
//!
//! A `CancellationToken` rather than a watch channel: it says exactly this (once
//! begun, always begun), and waiting on it needs no receiver of one's own and has no
//! "sender dropped" case to ignore.

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

#[derive(Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub fn begin(&self) {
        self.token.cancel();
    }

    pub fn has_begun(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once the shutdown has begun (at once if it already has).
    pub fn begun(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn begun_resolves_for_waiters_before_and_after_the_beginning() {
        let shutdown = Shutdown::default();
        assert!(!shutdown.has_begun());
        let early = shutdown.begun();
        shutdown.begin();
        shutdown.begin(); // twice is harmless
        early.await;
        shutdown.begun().await;
        assert!(shutdown.has_begun());
    }
}
