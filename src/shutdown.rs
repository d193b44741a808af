//! A node's shutdown, as everything that runs on it sees it: the server stops
//! accepting, websockets close, and background workers stop after the item in hand.

use tokio::sync::watch;

pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            sender: watch::channel(false).0,
        }
    }
}

impl Shutdown {
    pub fn begin(&self) {
        self.sender.send_replace(true);
    }

    pub fn has_begun(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the shutdown has begun (at once if it already has).
    pub async fn begun(&self) {
        let mut receiver = self.sender.subscribe();
        // An error means the sender is gone, which only happens with the app itself.
        let _ = receiver.wait_for(|begun| *begun).await;
    }
}
