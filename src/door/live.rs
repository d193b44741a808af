//! The door's live feed (`subscription checkIns(showtimeId)`): every check-in and undo
//! of a showtime, whichever node made it. Each is published after its transaction
//! commits on the showtime's channel (`<prefix>:checkins:<showtimeId>`); every node
//! with subscribers for that showtime receives it on its one subscriber connection
//! (`pubsub`) and hands it to them (`pubsub::Fanout`).
//!
//! Published directly after the commit rather than through the outbox: the feed is a
//! view for the staff at the door, not a record (`check_ins` and `check_in_undos` are),
//! and an event the outbox delivered seconds late, after a retry, would show the door
//! an old state as news. So it is best effort: an event Redis could not take is
//! logged, and lost to the feed only.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::App;
use crate::booking::model::Booking;
use crate::db::schema::showtimes;
use crate::error::{AppError, AppResult, LogDisplay};
use crate::pubsub::{Channels, Fanout, Listener, Subscription};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// A ticket was checked in, or its check-in moved to an earlier scan.
    CheckedIn,
    /// A check-in was taken back (`undoCheckIn`).
    Undone,
}

/// What travels on the channel, and what subscribers get.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInEvent {
    pub change: Change,
    pub showtime: Uuid,
    pub booking: Uuid,
    pub reference: String,
    pub seats: Vec<String>,
    /// When the ticket was checked in (for an undo: the check-in undone).
    pub checked_in_at: DateTime<Utc>,
    /// The scanner's device; `None` for `checkInTicket` online.
    pub device_id: Option<String>,
    /// Who checked it in (uploaded the scan), or undid it.
    pub operator: Uuid,
    /// When it happened, by the server's clock.
    pub at: DateTime<Utc>,
}

impl CheckInEvent {
    pub fn new(change: Change, booking: &Booking, operator: Uuid, at: DateTime<Utc>) -> Self {
        Self {
            change,
            showtime: booking.showtime_id,
            booking: booking.id,
            reference: booking.booking_reference.clone(),
            seats: booking.seats(),
            checked_in_at: at,
            device_id: None,
            operator,
            at,
        }
    }
}

/// This node's subscribers, by showtime.
#[derive(Default)]
pub struct CheckIns(Arc<Fanout<CheckInEvent>>);

fn channel(app: &App, showtime: Uuid) -> String {
    app.redis.key(&format!("checkins:{showtime}"))
}

/// Takes the showtimes' channels.
pub fn listen(app: &App) {
    app.pubsub.listen(
        Channels::Prefixed(app.redis.key("checkins:")),
        app.check_ins.clone(),
    );
}

#[async_trait]
impl Listener for CheckIns {
    async fn message(&self, _app: &App, _channel: &str, payload: String) {
        match serde_json::from_str::<CheckInEvent>(&payload) {
            Ok(event) => self.0.send(event.showtime, event),
            Err(_) => tracing::warn!("unreadable check-in event"),
        }
    }

    /// Events only, no state to reload: the door's lists are read from the database.
    async fn missed(&self, _app: &App) {}
}

/// Publishes committed changes, in order (best effort: the module's docs say why).
/// The first that Redis does not take ends it: the rest would each wait out the
/// command timeout too, and an upload's answer would wait for all of them.
pub async fn publish(app: &App, events: &[CheckInEvent]) {
    for (i, event) in events.iter().enumerate() {
        let sent = crate::pubsub::publish_json(app, channel(app, event.showtime), event);
        if let Err(e) = sent.await {
            tracing::warn!(
                error = %LogDisplay(&e),
                lost = events.len() - i,
                "check-in events not published"
            );
            return;
        }
    }
}

/// A subscriber to a showtime's check-ins; `BAD_USER_INPUT` naming `showtimeId` for a
/// showtime that does not exist (as `seatMap`).
pub async fn subscribe(app: &App, showtime: Uuid) -> AppResult<Subscription<CheckInEvent>> {
    let exists: Option<Uuid> = showtimes::table
        .find(showtime)
        .select(showtimes::id)
        .first(&mut app.db().await?)
        .await
        .optional()?;
    if exists.is_none() {
        return Err(AppError::bad_input("showtimeId", "no such showtime"));
    }
    Subscription::open(
        &app.check_ins.0,
        &app.pubsub,
        showtime,
        channel(app, showtime),
    )
    .await
}
