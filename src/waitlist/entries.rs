//! Waiting-list entries: joining, leaving, a customer's own, their place in the queue.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::app::App;
use crate::auth::model::Viewer;
use crate::catalog::layout::SeatKind;
use crate::db::is_unique_violation;
use crate::db::schema::waitlist_entries;
use crate::error::{AppError, AppResult};
use crate::seating::best::{self, Want};

pub const WAITING: &str = "waiting";
pub const OFFERED: &str = "offered";
pub const BOOKED: &str = "booked";
pub const LEFT: &str = "left";
pub const LAPSED: &str = "lapsed";
pub const CLOSED: &str = "closed";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = waitlist_entries, check_for_backend(diesel::pg::Pg))]
pub struct Entry {
    pub id: Uuid,
    /// Arrival order.
    pub seq: i64,
    pub showtime_id: Uuid,
    pub user_id: Uuid,
    pub seat_count: i32,
    pub seat_kind: Option<String>,
    pub adjacent: bool,
    pub max_price: Option<Decimal>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub offer_token: Option<String>,
    pub offered_seats: Vec<Option<String>>,
    pub offered_at: Option<DateTime<Utc>>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Entry {
    pub fn kind(&self) -> Option<SeatKind> {
        self.seat_kind.as_deref().and_then(SeatKind::parse)
    }

    /// What a block must be to suit this entry, on a showtime of `base` price.
    pub fn want(&self, base: Decimal) -> Want {
        Want {
            kind: self.kind(),
            accessible: 0,
            max_multiplier: self
                .max_price
                .filter(|_| base > Decimal::ZERO)
                .map(|max| max / base),
        }
    }

    pub fn count(&self) -> usize {
        usize::try_from(self.seat_count).unwrap_or(0)
    }

    pub fn seats(&self) -> Vec<String> {
        self.offered_seats.iter().flatten().cloned().collect()
    }

    pub fn is_open(&self) -> bool {
        self.status == WAITING || self.status == OFFERED
    }
}

/// What `joinWaitlist` asks for.
pub struct JoinAsk {
    pub showtime: Uuid,
    pub count: i32,
    pub kind: Option<SeatKind>,
    pub adjacent: bool,
    pub max_price: Option<Decimal>,
}

/// `joinWaitlist`: refused when a block that fits is on sale now (hold it instead),
/// when the showtime is not on sale, and when the customer already waits for it.
pub async fn join(app: &App, viewer: Viewer, ask: JoinAsk) -> AppResult<Entry> {
    let max = app.config.holds.max_seats_per_user;
    let count = usize::try_from(ask.count)
        .ok()
        .filter(|c| (1..=max).contains(c))
        .ok_or_else(|| AppError::bad_input("count", format!("`count` is 1 to {max}")))?;
    let max_price = match ask.max_price {
        Some(p) if p <= Decimal::ZERO => {
            return Err(AppError::bad_input(
                "maxPrice",
                "a price a seat above zero, or none",
            ));
        }
        Some(p) => Some(crate::catalog::manage::price(
            "maxPrice",
            p,
            app.config.currency,
        )?),
        None => None,
    };
    let room = crate::seating::rooms::room(app, ask.showtime).await?;
    room.showtime.check_on_sale(app.now())?;
    let base = room.showtime.base_price;
    let want = Want {
        kind: ask.kind,
        accessible: 0,
        max_multiplier: max_price
            .filter(|_| base > Decimal::ZERO)
            .map(|max| max / base),
    };
    if best::candidates(&room.layout, count, want).is_empty() {
        return Err(AppError::bad_input(
            "count",
            "no block of this room could ever suit: fewer seats, another kind or a higher price",
        ));
    }
    let taken = super::offers::taken_seats(app, ask.showtime).await?;
    if fits(&room.layout, count, want, ask.adjacent, &taken) {
        return Err(AppError::conflict(
            "seats that suit are on sale now: hold them (holdBestAvailable)",
        ));
    }
    let mut conn = app.db().await?;
    let inserted = diesel::insert_into(waitlist_entries::table)
        .values((
            waitlist_entries::showtime_id.eq(ask.showtime),
            waitlist_entries::user_id.eq(viewer.user_id),
            waitlist_entries::seat_count.eq(ask.count),
            waitlist_entries::seat_kind.eq(ask.kind.map(|k| k.as_str().to_owned())),
            waitlist_entries::adjacent.eq(ask.adjacent),
            waitlist_entries::max_price.eq(max_price),
            waitlist_entries::created_at.eq(app.now()),
        ))
        .returning(Entry::as_returning())
        .get_result(&mut conn)
        .await;
    match inserted {
        Ok(entry) => Ok(entry),
        Err(e) if is_unique_violation(&e, "waitlist_one_open_entry") => Err(AppError::conflict(
            "you are on this showtime's waiting list already",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Whether `count` seats that suit are free now: a block, or (not adjacent) as many
/// single seats.
pub fn fits(
    layout: &crate::catalog::layout::SeatLayout,
    count: usize,
    want: Want,
    adjacent: bool,
    taken: &HashSet<String>,
) -> bool {
    let free = |s: &crate::catalog::layout::SeatNumber| !taken.contains(&s.to_string());
    if best::choose(layout, count, want, free).is_some() {
        return true;
    }
    !adjacent
        && best::candidates(layout, 1, want)
            .iter()
            .filter(|c| c.seats.iter().all(free))
            .count()
            >= count
}

/// `leaveWaitlist`: the customer's open entry ends; an offer's seats go back at once.
/// Someone else's entry, or none, is NOT_FOUND; one that has ended already is CONFLICT.
pub async fn leave(app: &App, viewer: Viewer, id: Uuid) -> AppResult<bool> {
    let mut conn = app.db().await?;
    let entry = find_own(&mut conn, viewer, id).await?;
    if !entry.is_open() {
        return Err(AppError::conflict(format!(
            "this entry has ended already ({})",
            entry.status
        )));
    }
    let ended = diesel::update(
        waitlist_entries::table
            .find(id)
            .filter(waitlist_entries::status.eq_any([WAITING, OFFERED])),
    )
    .set((
        waitlist_entries::status.eq(LEFT),
        waitlist_entries::ended_at.eq(Some(app.now())),
    ))
    .execute(&mut conn)
    .await?;
    drop(conn);
    if ended == 1
        && entry.status == OFFERED
        && let Some(token) = &entry.offer_token
    {
        // The seats are theirs to give back; a hold already lapsed or booked is fine.
        match crate::seating::holds::release(app, viewer, token).await {
            Ok(_) | Err(AppError::LockExpired) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ended == 1)
}

/// The user's entry `id`, if it is theirs.
pub async fn find(app: &App, user: Uuid, id: Uuid) -> AppResult<Option<Entry>> {
    let mut conn = app.db().await?;
    Ok(waitlist_entries::table
        .find(id)
        .filter(waitlist_entries::user_id.eq(user))
        .select(Entry::as_select())
        .first(&mut conn)
        .await
        .optional()?)
}

async fn find_own(conn: &mut AsyncPgConnection, viewer: Viewer, id: Uuid) -> AppResult<Entry> {
    waitlist_entries::table
        .find(id)
        .filter(waitlist_entries::user_id.eq(viewer.user_id))
        .select(Entry::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(AppError::NotFound {
            what: "waiting-list entry",
        })
}

/// `myWaitlist`: the customer's entries, newest first (at most 100).
pub async fn mine(app: &App, viewer: Viewer) -> AppResult<Vec<Entry>> {
    let mut conn = app.db().await?;
    Ok(waitlist_entries::table
        .filter(waitlist_entries::user_id.eq(viewer.user_id))
        .order(waitlist_entries::seq.desc())
        .limit(100)
        .select(Entry::as_select())
        .load(&mut conn)
        .await?)
}

/// A waiting entry's place in its showtime's queue, from 1; None once it is not waiting.
pub async fn position(conn: &mut AsyncPgConnection, entry: &Entry) -> AppResult<Option<i64>> {
    if entry.status != WAITING {
        return Ok(None);
    }
    let ahead: i64 = waitlist_entries::table
        .filter(waitlist_entries::showtime_id.eq(entry.showtime_id))
        .filter(waitlist_entries::status.eq(WAITING))
        .filter(waitlist_entries::seq.lt(entry.seq))
        .count()
        .get_result(conn)
        .await?;
    Ok(Some(ahead + 1))
}
