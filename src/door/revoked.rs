//! The tickets voided since an instant, per showtime: what a scanner that checks codes
//! offline needs to refuse a ticket that was refunded or cancelled (served, signed, by
//! `GET /api/tickets/revoked`; `http::revoked_tickets` says how).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Timestamptz;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::app::App;
use crate::db::schema::{showtimes, ticket_voids};
use crate::error::AppResult;

#[derive(QueryableByName)]
struct Until {
    #[diesel(sql_type = Timestamptz)]
    until: DateTime<Utc>,
}

/// The voids of a showtime since `since`, and `until`: the server's clock held back to
/// the start of the oldest transaction still open (a void is stamped with its
/// transaction's start and seen only once it commits), read in one statement so that
/// they share a snapshot. `None` when there is no such showtime.
pub async fn read(
    app: &App,
    showtime: Uuid,
    since: DateTime<Utc>,
) -> AppResult<Option<(Vec<(Uuid, DateTime<Utc>)>, DateTime<Utc>)>> {
    let mut conn = app.db().await?;
    let exists: Option<Uuid> = showtimes::table
        .find(showtime)
        .select(showtimes::id)
        .first(&mut conn)
        .await
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let until: Until = diesel::sql_query(
        "SELECT least(now(), (SELECT min(xact_start) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND xact_start IS NOT NULL)) AS until",
    )
    .get_result(&mut conn)
    .await?;
    let voids: Vec<(Uuid, DateTime<Utc>)> = ticket_voids::table
        .filter(ticket_voids::showtime_id.eq(showtime))
        .filter(ticket_voids::voided_at.ge(since))
        .order((ticket_voids::voided_at, ticket_voids::booking_id))
        .select((ticket_voids::booking_id, ticket_voids::voided_at))
        .load(&mut conn)
        .await?;
    Ok(Some((voids, until.until)))
}
