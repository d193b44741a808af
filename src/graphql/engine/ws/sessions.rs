//! This node's open websockets: by signed-in user, so that a sign-in that ends
//! (`auth::sessions` publishes it to every node) closes that user's sockets here; and
//! by client IP, so that one client cannot hold more than
//! `WS_MAX_CONNECTIONS_PER_CLIENT` sockets on this node.
//!
//! The per-client count is per node, not across nodes: a count in Redis would need
//! leases to survive a node that dies with sockets open, and a client spread over `n`
//! nodes by the load balancer holds at most `n` times the cap, still a bound. It is
//! counted by IP because the upgrade, the only moment a 429 can answer, comes before
//! `connection_init` brings the token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::app::App;
use crate::auth::sessions::{self, Ended};
use crate::pubsub::{Channels, Listener};

/// Takes the sessions channel.
pub fn listen(app: &App) {
    app.pubsub.listen(
        Channels::Fixed(sessions::channel(app)),
        app.websockets.clone(),
    );
}

#[async_trait::async_trait]
impl Listener for Websockets {
    async fn message(&self, _app: &App, _channel: &str, payload: String) {
        self.session_ended(&payload);
    }

    /// A revocation missed here still holds on every request (the limit's script
    /// reads it), and the socket closes at its token's expiry.
    async fn missed(&self, _app: &App) {}
}

#[derive(Default)]
pub struct Websockets {
    users: Mutex<HashMap<Uuid, Vec<Socket>>>,
    clients: Mutex<HashMap<IpAddr, usize>>,
    next_id: AtomicU64,
}

struct Socket {
    id: u64,
    family: Option<Uuid>,
    ended: Arc<Notify>,
}

impl Websockets {
    /// A signed-in socket of `user` (its token from refresh family `family`): told
    /// through the registration's `ended` when that sign-in ends.
    pub fn register(self: &Arc<Self>, user: Uuid, family: Option<Uuid>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let ended = Arc::new(Notify::new());
        if let Ok(mut users) = self.users.lock() {
            users.entry(user).or_default().push(Socket {
                id,
                family,
                ended: ended.clone(),
            });
        }
        Registration {
            registry: self.clone(),
            user,
            id,
            ended,
        }
    }

    /// A message of the sessions channel: tells the sockets it names here.
    pub fn session_ended(&self, text: &str) {
        let Ok(ended) = serde_json::from_str::<Ended>(text) else {
            tracing::warn!("unreadable session revocation");
            return;
        };
        let Ok(users) = self.users.lock() else { return };
        for socket in users.get(&ended.user).into_iter().flatten() {
            // A user-wide revocation ends every socket; a family's, only its own.
            if ended.family.is_none() || ended.family == socket.family {
                // A permit is kept if the socket is not waiting at this instant.
                socket.ended.notify_one();
            }
        }
    }

    /// Takes one of the client's places, or `None` when it holds `max` already.
    pub fn open(self: &Arc<Self>, client: IpAddr, max: Option<usize>) -> Option<ClientSlot> {
        let mut clients = self.clients.lock().ok()?;
        let count = clients.entry(client).or_default();
        if max.is_some_and(|max| *count >= max) {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            registry: self.clone(),
            client,
        })
    }
}

/// A signed-in socket's place in the registry, left when the socket ends.
pub struct Registration {
    registry: Arc<Websockets>,
    user: Uuid,
    id: u64,
    pub ended: Arc<Notify>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Ok(mut users) = self.registry.users.lock() else {
            return;
        };
        if let Some(sockets) = users.get_mut(&self.user) {
            sockets.retain(|s| s.id != self.id);
            if sockets.is_empty() {
                users.remove(&self.user);
            }
        }
    }
}

/// One of a client's sockets on this node, given back when it closes.
pub struct ClientSlot {
    registry: Arc<Websockets>,
    client: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Ok(mut clients) = self.registry.clients.lock() else {
            return;
        };
        if let Some(count) = clients.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                clients.remove(&self.client);
            }
        }
    }
}
