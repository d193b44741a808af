//! The fair queue for a showtime's on-sale, built into the seat holds.
//!
//! The rules, as buyers are told them:
//! - **On sale.** A showtime may go on sale at a set time (`onSaleAt`): before it, no
//!   customer holds its seats (`BAD_USER_INPUT` naming `showtimeId`). The box office
//!   (operators, admins) sells whenever it likes.
//! - **Joining.** When the sale is queued (`queue`), signed-in buyers join its queue
//!   (`joinSaleQueue`, or by asking for seats: a hold asked by a buyer not let in puts
//!   them in the queue and answers `QUEUED` with their position).
//! - **Order.** Buyers who join before the sale opens are put in a random order:
//!   arriving an hour early gives no edge over arriving a minute early. Later arrivals
//!   join at the back, in the order they came.
//! - **Letting in.** From the opening, buyers are let in from the front at the
//!   showtime's rate (`queueRate` a minute, else `SALE_QUEUE_RATE`). A buyer let in
//!   may start holding seats for `SALE_QUEUE_WINDOW_SECONDS`; a hold made then runs
//!   its usual time and may be booked after the window. A buyer whose window passed
//!   without a hold joins again at the back. Nobody is let in twice from one place.
//! - **Telling.** `saleQueuePosition` tells each buyer their position and an estimated
//!   wait, live, on any node, and when they are let in.
//!
//! `lockSeats`, `holdBestAvailable` and `createBooking` ask `gate` first. The queue
//! lives in Redis (`line`), so any node serves any buyer; admission is a Lua script
//! each node runs every sweep (`admit_all`), which lets in only what the rate has
//! earned since the last run, whichever node ran it. Should Redis lose the queue, it
//! forms again: buyers are told `QUEUED` and join anew.

pub mod graphql;
pub mod line;
pub mod live;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::app::App;
use crate::auth::model::Viewer;
use crate::catalog::model::{SCHEDULED, Showtime};
use crate::db::enums::Role;
use crate::db::schema::{screens, showtimes};
use crate::error::{AppError, AppResult, LogDisplay};

pub use line::Standing;

/// What a buyer asks the gate for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// To hold seats: only while let in.
    Hold,
    /// To book a hold: anyone let in once (the hold was made while let in).
    Book,
}

/// How long a queue's keys live: a day after the showtime ends, as its seats'.
fn expire_at(showtime: &Showtime, now: DateTime<Utc>) -> DateTime<Utc> {
    showtime.end_time.max(now) + chrono::Duration::days(1)
}

/// Buyers let in a minute.
pub fn rate(app: &App, showtime: &Showtime) -> u32 {
    showtime
        .queue_rate
        .and_then(|r| u32::try_from(r).ok())
        .filter(|r| *r > 0)
        .unwrap_or(app.config.holds.queue_rate)
}

fn is_staff(viewer: Viewer) -> bool {
    matches!(viewer.role, Role::Operator | Role::Admin)
}

/// Whether `viewer` may hold (or book) seats of `showtime` now: before its on-sale
/// time nobody but staff; on a queued sale only buyers let in (`QUEUED` otherwise,
/// after putting them in the queue when they were not in it).
pub async fn gate(
    app: &App,
    viewer: Viewer,
    showtime: &Showtime,
    purpose: Purpose,
) -> AppResult<()> {
    if is_staff(viewer) {
        return Ok(());
    }
    let now = app.now();
    if !showtime.queue {
        return match showtime.on_sale_at {
            Some(at) if now < at => Err(AppError::bad_input(
                "showtimeId",
                format!("this showtime goes on sale at {}", at.to_rfc3339()),
            )),
            _ => Ok(()),
        };
    }
    if purpose == Purpose::Book && line::was_admitted(app, showtime.id, viewer.user_id).await? {
        return Ok(());
    }
    let (standing, _) =
        line::join(app, showtime.id, viewer.user_id, expire_at(showtime, now)).await?;
    match standing {
        Standing::Admitted { until, .. } if until > now => Ok(()),
        other => Err(queued(showtime, other)),
    }
}

/// `gate` for a hold of `showtime_id`'s seats, which must be on sale.
pub async fn gate_hold(app: &App, viewer: Viewer, showtime_id: Uuid) -> AppResult<()> {
    if is_staff(viewer) {
        return Ok(());
    }
    let room = crate::seating::rooms::room(app, showtime_id).await?;
    room.showtime.check_on_sale(app.now())?;
    gate(app, viewer, &room.showtime, Purpose::Hold).await
}

/// `QUEUED`, with the buyer's position when the order is drawn.
fn queued(showtime: &Showtime, standing: Standing) -> AppError {
    let position = match standing {
        Standing::Waiting { ordinal, head } => Some((ordinal - head).max(1)),
        _ => None,
    };
    AppError::Queued {
        position,
        opens_at: showtime.on_sale_at,
    }
}

/// `joinSaleQueue`: puts a signed-in buyer in a queued sale's queue (again, at the
/// back, if their window passed), and says where they stand.
pub async fn join(app: &App, viewer: Viewer, showtime: &Showtime) -> AppResult<(Standing, bool)> {
    showtime.check_on_sale(app.now())?;
    if !showtime.queue {
        return Err(AppError::bad_input(
            "showtimeId",
            "this showtime's sale has no queue: hold its seats directly",
        ));
    }
    line::join(
        app,
        showtime.id,
        viewer.user_id,
        expire_at(showtime, app.now()),
    )
    .await
}

/// The showtimes whose queues are open now (queued, on sale, not started nor
/// cancelled), with the seats of their rooms.
async fn open_queues(app: &App) -> AppResult<Vec<(Showtime, i32)>> {
    let now = app.now();
    Ok(showtimes::table
        .inner_join(screens::table)
        .filter(showtimes::queue)
        .filter(showtimes::start_time.gt(now))
        .filter(showtimes::on_sale_at.le(now))
        .filter(showtimes::status.eq(SCHEDULED))
        .select((Showtime::as_select(), screens::total_seats))
        .load(&mut app.db().await?)
        .await?)
}

/// One admission run over every open queue (each node, every sweep): lets in what
/// each rate earned and tells every node's subscribers.
pub async fn admit_all(app: &App) -> AppResult<()> {
    for (showtime, seats) in open_queues(app).await? {
        let now = app.now();
        let admitted = line::admit(
            app,
            showtime.id,
            usize::try_from(seats).unwrap_or_default(),
            rate(app, &showtime),
            expire_at(&showtime, now),
        )
        .await;
        match admitted {
            Ok(a) if a.let_in > 0 || a.opened || a.sold_out_changed => {
                live::publish(app, &showtime, a).await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(showtime = %showtime.id, error = %LogDisplay(&e), "sale queue admission failed");
            }
        }
    }
    Ok(())
}
