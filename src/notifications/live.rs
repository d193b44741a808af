//! Live notifications. Each is published on its user's channel
//! (`<prefix>:notify:<userId>`) by the outbox after its transaction commits; the node
//! holding that user's websocket receives it (`pubsub`) and hands it to the user's
//! local subscriptions: an inbox per user, opened with the first and closed with the
//! last (`pubsub::Fanout`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Notification;
use crate::app::App;
use crate::db::enums::NotificationType;
use crate::error::AppResult;
use crate::pubsub::{Channels, Fanout, Listener, Subscription};

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
    /// What the notification is about (a booking, a waiting list's entry).
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

pub async fn publish(app: &App, n: &Notification) -> AppResult<()> {
    let pushed = Pushed {
        id: n.id,
        user: n.user_id,
        title: n.title.clone(),
        message: n.message.clone(),
        kind: n.kind.as_db_str().to_owned(),
        created_at: n.created_at,
        metadata: n.metadata.clone(),
    };
    crate::pubsub::publish_json(app, channel(app, n.user_id), &pushed).await
}

/// The open inboxes of this node: a room per user with subscriptions here.
#[derive(Default)]
pub struct Inboxes(Arc<Fanout<Notification>>);

/// A subscription's place in its user's inbox; the last one out unsubscribes.
pub type Inbox = Subscription<Notification>;

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
        self.0.send(
            p.user,
            Notification {
                id: p.id,
                user_id: p.user,
                title: p.title,
                message: p.message,
                kind,
                is_read: false,
                metadata: p.metadata,
                created_at: p.created_at,
            },
        );
    }
}

/// Opens (or joins) the user's inbox here; the first one in SUBSCRIBEs its channel.
pub async fn open(app: &App, user: Uuid) -> AppResult<Inbox> {
    Subscription::open(&app.inboxes.0, &app.pubsub, user, channel(app, user)).await
}
