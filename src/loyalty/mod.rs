//! Loyalty: one point per whole currency unit of the money a confirmed booking keeps
//! (its final amount less what was refunded); tiers by points, each with a discount on
//! seat prices. A customer crossing into a higher tier is told so.
//!
//! A booking's points are *pending* (`bookings.points_pending`, `User.pendingPoints`)
//! until its showtime starts or its ticket is used, and only then *counted* into
//! `users.points`, which alone decides the tier and so the discount: otherwise points,
//! and a tier's discount, could be bought with spending that is refunded afterwards.
//! A refund before then only lowers the pending points; one after takes counted points
//! back.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::booking::model::Booking;
use crate::db::enums::{BookingStatus, NotificationType};
use crate::db::schema::{bookings, users};
use crate::error::AppResult;
use crate::notifications::{self, NewNotification};

pub use crate::config::loyalty::{DEFAULT_TIERS, Tier, Tiers};

/// Points a final amount earns: its whole currency units.
pub fn points_for(final_amount: Decimal) -> i32 {
    use rust_decimal::prelude::ToPrimitive;
    final_amount.trunc().to_i32().unwrap_or(i32::MAX).max(0)
}

/// Adds (or, negative, takes back) points inside the caller's transaction and moves
/// the user to the tier their points reach; a move up writes a notification.
/// Returns the outbox row of that notification's live push.
pub async fn add_points(
    conn: &mut AsyncPgConnection,
    tiers: &Tiers,
    now: chrono::DateTime<chrono::Utc>,
    user: Uuid,
    delta: i32,
) -> AppResult<Option<crate::outbox::Queued>> {
    let (before, after): (String, i32) = diesel::update(users::table.find(user))
        .set(
            users::points.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(&format!(
                "GREATEST(points + ({delta}), 0)"
            ))),
        )
        .returning((users::tier, users::points))
        .get_result(conn)
        .await?;
    let tier = tiers.for_points(after);
    if tier.name == before {
        return Ok(None);
    }
    diesel::update(users::table.find(user))
        .set(users::tier.eq(&tier.name))
        .execute(conn)
        .await?;
    if tier.min_points <= tiers.named(&before).min_points {
        return Ok(None);
    }
    notifications::record(
        conn,
        now,
        NewNotification {
            user,
            kind: NotificationType::TierUpgrade,
            title: "New loyalty tier",
            message: format!(
                "You have reached {} with {after} points: {}% off seats from now on.",
                tier.name,
                tier.discount_percent.normalize()
            ),
            metadata: serde_json::json!({"tier": tier.name, "points": after}),
        },
    )
    .await
}

/// Sets what `booking` earns to `target` points (inside the caller's transaction, with
/// the booking locked): its pending points while it has any and until they are
/// counted, else its counted points, moving the user's total (and tier) by the
/// difference. Returns the outbox row of a tier notification, if any.
pub async fn set_booking_points(
    conn: &mut AsyncPgConnection,
    tiers: &Tiers,
    now: chrono::DateTime<chrono::Utc>,
    booking: &Booking,
    target: i32,
) -> AppResult<Option<crate::outbox::Queued>> {
    let target = target.max(0);
    let (pending, counted): (i32, i32) = bookings::table
        .find(booking.id)
        .select((bookings::points_pending, bookings::points_counted))
        .first(conn)
        .await?;
    if counted == 0 {
        diesel::update(bookings::table.find(booking.id))
            .set(bookings::points_pending.eq(target))
            .execute(conn)
            .await?;
        if pending == 0 && target > 0 && booking.status == BookingStatus::Used {
            return count_booking(conn, tiers, now, booking.id).await;
        }
        return Ok(None);
    }
    diesel::update(bookings::table.find(booking.id))
        .set(bookings::points_counted.eq(target))
        .execute(conn)
        .await?;
    add_points(conn, tiers, now, booking.user_id, target - counted).await
}

/// Counts a booking's pending points now (its ticket was used).
pub async fn count_booking(
    conn: &mut AsyncPgConnection,
    tiers: &Tiers,
    now: chrono::DateTime<chrono::Utc>,
    booking: uuid::Uuid,
) -> AppResult<Option<crate::outbox::Queued>> {
    let moved: Option<(Uuid, i32)> = diesel::sql_query(
        "UPDATE bookings SET points_counted = points_counted + points_pending, points_pending = 0 \
         FROM (SELECT id, points_pending AS moving FROM bookings WHERE id = $1 AND points_pending > 0 FOR UPDATE) due \
         WHERE bookings.id = due.id RETURNING bookings.user_id, due.moving",
    )
    .bind::<diesel::sql_types::Uuid, _>(booking)
    .get_result::<Moved>(conn)
    .await
    .optional()?
    .map(|m| (m.user_id, m.moving));
    match moved {
        Some((user, points)) => add_points(conn, tiers, now, user, points).await,
        None => Ok(None),
    }
}

#[derive(diesel::QueryableByName)]
struct Moved {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    user_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    moving: i32,
}

/// Counts the pending points of live bookings whose showtime has started, at most
/// `limit` bookings a call; safe on several nodes at once (rows are claimed with
/// `SKIP LOCKED`). Returns the outbox rows of tier notifications.
pub async fn count_due(
    conn: &mut AsyncPgConnection,
    tiers: &Tiers,
    now: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let moved: Vec<Moved> = diesel::sql_query(
        "UPDATE bookings SET points_counted = points_counted + points_pending, points_pending = 0 \
         FROM (SELECT b.id, b.points_pending AS moving FROM bookings b \
               JOIN showtimes s ON s.id = b.showtime_id \
               WHERE b.points_pending > 0 AND b.status IN ('confirmed', 'used') AND s.start_time <= $1 \
               ORDER BY s.start_time LIMIT $2 FOR UPDATE OF b SKIP LOCKED) due \
         WHERE bookings.id = due.id RETURNING bookings.user_id, due.moving",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?;
    let mut by_user: std::collections::BTreeMap<Uuid, i32> = std::collections::BTreeMap::new();
    for m in moved {
        *by_user.entry(m.user_id).or_default() += m.moving;
    }
    let mut effects = Vec::new();
    for (user, points) in by_user {
        effects.extend(add_points(conn, tiers, now, user, points).await?);
    }
    Ok(effects)
}

/// The worker's step: counts the points of showtimes that have started, and delivers
/// the tier notifications that follow.
pub async fn count_started(app: &crate::app::App) -> AppResult<()> {
    use diesel_async::AsyncConnection;
    let mut conn = app.db().await?;
    let now = app.now();
    let effects = conn
        .transaction::<_, crate::error::AppError, _>(async |conn| {
            count_due(conn, &app.config.tiers, now, 500).await
        })
        .await?;
    crate::outbox::deliver_now(app, conn, &effects).await;
    Ok(())
}

/// Points a user's confirmed bookings have earned but that do not count yet.
pub async fn pending_points(conn: &mut AsyncPgConnection, user: Uuid) -> AppResult<i32> {
    let total: Option<i64> = bookings::table
        .filter(bookings::user_id.eq(user))
        .filter(bookings::points_pending.gt(0))
        .select(diesel::dsl::sum(bookings::points_pending))
        .first(conn)
        .await?;
    Ok(i32::try_from(total.unwrap_or(0)).unwrap_or(i32::MAX))
}

/// The user's discount on seat prices, in percent.
pub async fn discount_percent(
    conn: &mut AsyncPgConnection,
    tiers: &Tiers,
    user: Uuid,
) -> AppResult<Decimal> {
    let tier: String = users::table
        .find(user)
        .select(users::tier)
        .first(conn)
        .await?;
    Ok(tiers.named(&tier).discount_percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_and_pick_by_points() {
        let tiers = Tiers::parse(DEFAULT_TIERS).unwrap();
        assert_eq!(tiers.for_points(0).name, "bronze");
        assert_eq!(tiers.for_points(499).name, "bronze");
        assert_eq!(tiers.for_points(500).name, "silver");
        assert_eq!(tiers.for_points(4999).name, "gold");
        assert_eq!(tiers.for_points(5000).name, "platinum");
        assert_eq!(tiers.named("gold").discount_percent, Decimal::from(10));
        for bad in [
            "",
            "a:1:0",
            "a:0:0,b:0:5",
            "a:0:101",
            "a:0",
            "a:x:1",
            "a:0:0:0",
        ] {
            assert!(Tiers::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn points_are_whole_currency_units() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(points_for(d("25.75")), 25);
        assert_eq!(points_for(d("0.99")), 0);
        assert_eq!(points_for(d("120.00")), 120);
    }
}
