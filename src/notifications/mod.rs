//! In-app notifications: rows written in the same transaction as the change they tell
//! of, so a customer is never told of something that did not happen, and pushed live
//! (through the outbox and Redis) to whichever node holds the customer's websocket.

pub mod account_messages;
pub mod email;
pub mod graphql;
pub mod live;
pub mod messages;
pub mod promotions;
pub mod sms;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::app::App;
use crate::db::enums::NotificationType;
use crate::db::schema::notifications;
use crate::error::{AppError, AppResult};
use crate::outbox::{self, Effect};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct Notification {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub message: String,
    #[diesel(column_name = type_)]
    pub kind: NotificationType,
    pub is_read: bool,
    pub metadata: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

pub struct NewNotification<'a> {
    pub user: Uuid,
    pub kind: NotificationType,
    pub title: &'a str,
    pub message: String,
    pub metadata: serde_json::Value,
}

impl<'a> NewNotification<'a> {
    /// A notification to a booking's owner about that booking.
    pub fn about(
        booking: &crate::booking::model::Booking,
        kind: NotificationType,
        title: &'a str,
        message: String,
    ) -> Self {
        Self {
            user: booking.user_id,
            kind,
            title,
            message,
            metadata: serde_json::json!({"bookingId": booking.id}),
        }
    }
}

/// Writes a notification inside the caller's transaction and queues its live push;
/// returns the outbox row to deliver after commit.
pub async fn record(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    n: NewNotification<'_>,
) -> AppResult<Option<crate::outbox::Queued>> {
    let (key, effect, written) = write(conn, now, n).await?;
    outbox::enqueue(conn, now, key, &effect)
        .await
        .map(|row| row.map(|row| row.with(written)))
}

/// Writes a notification inside the caller's transaction; returns the outbox row that
/// pushes it live (its key and effect), for the caller to queue with others, and the
/// notification for that row's delivery to have in hand.
pub async fn write(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    n: NewNotification<'_>,
) -> AppResult<(String, Effect, std::sync::Arc<Notification>)> {
    let written: Notification = diesel::insert_into(notifications::table)
        .values((
            notifications::user_id.eq(n.user),
            notifications::type_.eq(n.kind),
            notifications::title.eq(n.title),
            notifications::message.eq(n.message),
            notifications::metadata.eq(Some(n.metadata)),
            notifications::created_at.eq(now),
        ))
        .returning(Notification::as_returning())
        .get_result(conn)
        .await?;
    let id = written.id;
    Ok((
        format!("notify-{id}"),
        Effect::Notify { notification: id },
        std::sync::Arc::new(written),
    ))
}

/// The caller's notifications, newest first.
pub async fn list(
    app: &App,
    user: Uuid,
    unread_only: bool,
    page: crate::paging::Page,
) -> AppResult<(Vec<Notification>, bool)> {
    let mut conn = app.db().await?;
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user))
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .select(Notification::as_select())
        .limit(page.first + 1)
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::is_read.eq(false));
    }
    if let Some(after) = page.after {
        let at: chrono::DateTime<chrono::Utc> = notifications::table
            .find(after)
            .filter(notifications::user_id.eq(user))
            .select(notifications::created_at)
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(crate::paging::unknown_cursor)?;
        query = query.filter(
            notifications::created_at
                .lt(at)
                .or(notifications::created_at
                    .eq(at)
                    .and(notifications::id.lt(after))),
        );
    }
    Ok(page.split(query.load(&mut conn).await?))
}

/// How many notifications the caller has (unread ones only, if asked).
pub async fn count(app: &App, user: Uuid, unread_only: bool) -> AppResult<i64> {
    let mut conn = app.db().await?;
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user))
        .count()
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::is_read.eq(false));
    }
    Ok(query.get_result(&mut conn).await?)
}

/// Marks one of the caller's notifications read. Another's is NOT_FOUND, exactly as
/// one that does not exist.
pub async fn mark_read(app: &App, user: Uuid, id: Uuid) -> AppResult<Notification> {
    let mut conn = app.db().await?;
    diesel::update(
        notifications::table
            .find(id)
            .filter(notifications::user_id.eq(user)),
    )
    .set(notifications::is_read.eq(true))
    .returning(Notification::as_returning())
    .get_result(&mut conn)
    .await
    .optional()?
    .ok_or(AppError::NotFound {
        what: "notification",
    })
}

/// The outbox's `notify`: publishes a written notification to its user's channel, the
/// one its writer has in hand or else as read.
pub async fn push(app: &App, id: Uuid, in_hand: crate::outbox::InHand<'_>) -> AppResult<()> {
    if let Some(notification) = in_hand.and_then(|h| h.downcast_ref::<Notification>()) {
        return live::publish(app, notification).await;
    }
    let mut conn = app.db().await?;
    let found: Option<Notification> = notifications::table
        .find(id)
        .select(Notification::as_select())
        .first(&mut conn)
        .await
        .optional()?;
    let Some(notification) = found else {
        return Ok(());
    };
    live::publish(app, &notification).await
}
