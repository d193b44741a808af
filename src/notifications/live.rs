//! Live notifications. Each is published on its user's channel
//! (`<prefix>:notify:<userId>`) by the outbox after its transaction commits; the node
//! holding that user's websocket receives it (`pubsub`) and hands it to the user's
//! local subscriptions: an inbox per user, opened with the first and closed with the
//! last.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fred::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::Notification;
use crate::app::App;
use crate::db::enums::NotificationType;
use crate::error::{AppError, AppResult};
use crate::pubsub::{Channels, Listener, PubSub};

pub fn channel(app: &App, user: Uuid) -> String {
    app.redis.key(&format!("notify:{user}"))
}

/// What travels on the channel.
#[derive(Serialize, Deserialize)]
struct Pushed {
    id: Uuid,
    user: Uuid,
    title: String,
    message: String,
    kind: String,
    created_at: DateTime<Utc>,
}

pub async fn publish(app: &App, n: &Notification) -> AppResult<()> {
    let body = serde_json::to_string(&Pushed {
        id: n.id,
        user: n.user_id,
        title: n.title.clone(),
        message: n.message.clone(),
        kind: n.kind.as_db_str().to_owned(),
        created_at: n.created_at,
    })
    .map_err(AppError::internal)?;
    let _: i64 = app
        .redis
        .pool()
        .next()
        .publish(channel(app, n.user_id), body)
        .await?;
    Ok(())
}

/// A user's inbox on this node.
struct UserInbox {
    sender: broadcast::Sender<Arc<Notification>>,
    subscriptions: usize,
}

/// The open inboxes of this node, by user.
#[derive(Default)]
pub struct Inboxes(Mutex<HashMap<Uuid, UserInbox>>);

/// Takes the users' channels.
pub fn listen(app: &App) {
    app.pubsub.listen(
        Channels::Prefixed(app.redis.key("notify:")),
        app.inboxes.clone(),
    );
}

#[async_trait]
impl Listener for Inboxes {
    async fn message(&self, _app: &App, _channel: &str, payload: String) {
        self.deliver(&payload);
    }

    /// A notification is in the user's list either way: a live one lost is not
    /// fetched again.
    async fn missed(&self, _app: &App) {}
}

impl Inboxes {
    /// Hands a published notification to its user's inbox, if it is open here.
    pub fn deliver(&self, text: &str) {
        let Ok(p) = serde_json::from_str::<Pushed>(text) else {
            tracing::warn!("unreadable live notification");
            return;
        };
        let Some(kind) = NotificationType::ALL
            .iter()
            .copied()
            .find(|k| k.as_db_str() == p.kind)
        else {
            return;
        };
        let sender = self
            .0
            .lock()
            .ok()
            .and_then(|inboxes| inboxes.get(&p.user).map(|i| i.sender.clone()));
        if let Some(sender) = sender {
            let _ = sender.send(Arc::new(Notification {
                id: p.id,
                user_id: p.user,
                title: p.title,
                message: p.message,
                kind,
                is_read: false,
                metadata: None,
                created_at: p.created_at,
            }));
        }
    }

    /// Opens (or joins) a user's inbox; true when it was the first here.
    fn open(&self, user: Uuid) -> AppResult<(broadcast::Receiver<Arc<Notification>>, bool)> {
        let mut inboxes = self.0.lock().map_err(|_| poisoned())?;
        let entry = inboxes.entry(user).or_insert_with(|| UserInbox {
            sender: broadcast::channel(64).0,
            subscriptions: 0,
        });
        entry.subscriptions += 1;
        Ok((entry.sender.subscribe(), entry.subscriptions == 1))
    }

    /// Leaves a user's inbox; true when it was the last here.
    fn close(&self, user: Uuid) -> bool {
        let Ok(mut inboxes) = self.0.lock() else {
            return false;
        };
        let Some(entry) = inboxes.get_mut(&user) else {
            return false;
        };
        entry.subscriptions = entry.subscriptions.saturating_sub(1);
        if entry.subscriptions == 0 {
            inboxes.remove(&user);
            return true;
        }
        false
    }

    pub fn is_open(&self, user: Uuid) -> bool {
        self.0.lock().map(|i| i.contains_key(&user)).unwrap_or(true)
    }
}

fn poisoned() -> AppError {
    AppError::internal(anyhow::anyhow!("notification inboxes lock poisoned"))
}

/// A subscription's place in its user's inbox; the last one out unsubscribes.
pub struct Inbox {
    inboxes: Arc<Inboxes>,
    pubsub: PubSub,
    user: Uuid,
    channel: String,
    pub receiver: broadcast::Receiver<Arc<Notification>>,
}

pub async fn open(app: &App, user: Uuid) -> AppResult<Inbox> {
    let (receiver, first) = app.inboxes.open(user)?;
    let channel = channel(app, user);
    // The inbox exists before the SUBSCRIBE, so that if anything fails its drop
    // closes it: an inbox left open with no subscription would make every later
    // subscription of the user skip the SUBSCRIBE, and hear nothing.
    let inbox = Inbox {
        inboxes: app.inboxes.clone(),
        pubsub: app.pubsub.clone(),
        user,
        channel: channel.clone(),
        receiver,
    };
    if first {
        // A SUBSCRIBE that fails is retried until Redis takes it (`pubsub`).
        app.pubsub.subscribe(&channel).await?;
    }
    Ok(inbox)
}

impl Drop for Inbox {
    fn drop(&mut self) {
        if self.inboxes.close(self.user) {
            let (inboxes, user) = (self.inboxes.clone(), self.user);
            self.pubsub
                .unsubscribe_unless(self.channel.clone(), move || inboxes.is_open(user));
        }
    }
}
