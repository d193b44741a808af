//! In-app notifications: rows written in the same transaction as the change they tell
//! of, so a customer is never told of something that did not happen.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::enums::NotificationType;
use crate::db::schema::notifications;
use crate::error::AppResult;

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

pub async fn record(conn: &mut AsyncPgConnection, n: NewNotification<'_>) -> AppResult<Uuid> {
    Ok(diesel::insert_into(notifications::table)
        .values((
            notifications::user_id.eq(n.user),
            notifications::type_.eq(n.kind),
            notifications::title.eq(n.title),
            notifications::message.eq(n.message),
            notifications::metadata.eq(Some(n.metadata)),
        ))
        .returning(notifications::id)
        .get_result(conn)
        .await?)
}
