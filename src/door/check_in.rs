//! Check-in at the door: an operator scans the ticket's code; a confirmed booking
//! inside the showtime's window becomes USED, once. Two scans of one ticket at the
//! same moment take turns on the booking's row lock, so exactly one succeeds.
//!
//! The rules are here once, as `Refusal`s: `check_in` (online, now) turns them into
//! errors, and `scans` (uploaded later, at the device's time) into per-scan results.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::live::{self, Change, CheckInEvent};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::records::lock_booking;
use crate::db::enums::BookingStatus;
use crate::db::schema::{bookings, check_ins, door_scans, showtimes};
use crate::error::{AppError, AppResult};
use crate::tickets::code::TicketClaims;

/// Why a ticket may not be checked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Signed by us, but not the code its booking carries now (a partial refund or an
    /// exchange issued a new one).
    Replaced,
    AlreadyUsed,
    Cancelled,
    Expired,
    Unpaid,
    NotOpen {
        opens: DateTime<Utc>,
    },
    Ended {
        ends: DateTime<Utc>,
    },
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Self::Replaced => "this ticket code is not the booking's current ticket".into(),
            Self::AlreadyUsed => "this ticket was already used".into(),
            Self::Cancelled => {
                "this booking was cancelled (or refunded); the ticket is void".into()
            }
            Self::Expired => "this booking expired unpaid; the ticket is void".into(),
            Self::Unpaid => "this booking is not paid yet".into(),
            Self::NotOpen { opens } => format!("check-in opens at {}", opens.to_rfc3339()),
            Self::Ended { ends } => format!("this showtime ended at {}", ends.to_rfc3339()),
        }
    }
}

/// A code of ours and its booking, locked until the caller's transaction ends.
pub struct Ticket {
    pub claims: TicketClaims,
    pub booking: Booking,
    code: String,
}

impl Ticket {
    /// Reads a scanned code and locks its booking; `None` when it is not a ticket of
    /// ours (unreadable, signed with another key, or naming no booking).
    pub async fn read(
        conn: &mut AsyncPgConnection,
        app: &App,
        code: &str,
    ) -> AppResult<Option<Self>> {
        let Ok(claims) = app.tickets.verify(code) else {
            return Ok(None);
        };
        let booking = match lock_booking(conn, claims.booking).await {
            Err(AppError::NotFound { .. }) => return Ok(None),
            other => other?,
        };
        Ok(Some(Self {
            claims,
            booking,
            code: code.trim().to_owned(),
        }))
    }

    /// Whether the booking lets its holder in: the code is its current one and it is
    /// paid and not void. A used booking is `AlreadyUsed`: the caller decides.
    pub fn standing(&self) -> Result<(), Refusal> {
        if self.booking.qr_code.as_deref() != Some(self.code.as_str())
            || self.booking.showtime_id != self.claims.showtime
        {
            return Err(Refusal::Replaced);
        }
        match self.booking.status {
            BookingStatus::Confirmed => Ok(()),
            BookingStatus::Used => Err(Refusal::AlreadyUsed),
            BookingStatus::Cancelled => Err(Refusal::Cancelled),
            BookingStatus::Expired => Err(Refusal::Expired),
            BookingStatus::Pending => Err(Refusal::Unpaid),
        }
    }

    /// Whether `at` falls in the showtime's check-in window: from
    /// `CHECK_IN_OPENS_MINUTES` before its start until its end.
    pub async fn window(
        &self,
        conn: &mut AsyncPgConnection,
        app: &App,
        at: DateTime<Utc>,
    ) -> AppResult<Result<(), Refusal>> {
        let (starts, ends): (DateTime<Utc>, DateTime<Utc>) = showtimes::table
            .find(self.booking.showtime_id)
            .select((showtimes::start_time, showtimes::end_time))
            .first(conn)
            .await?;
        let opens = starts
            - chrono::Duration::from_std(app.config.tickets.check_in_opens)
                .map_err(AppError::internal)?;
        Ok(if at < opens {
            Err(Refusal::NotOpen { opens })
        } else if at > ends {
            Err(Refusal::Ended { ends })
        } else {
            Ok(())
        })
    }
}

/// Which scan a check-in is: a device's, uploaded later (`scans`).
pub struct ScanRef<'a> {
    pub id: Uuid,
    pub device: &'a str,
}

/// Marks a confirmed booking USED, checked in at `at` by `by`, inside the caller's
/// transaction: by `scan` when a device's upload, else online, which is kept among
/// the door's scans too (with no device), so that a device's scan of the same ticket
/// uploaded later, even an earlier one that takes the check-in's place, is reported
/// as a duplicate of it.
pub async fn mark_used(
    conn: &mut AsyncPgConnection,
    app: &App,
    ticket: &Ticket,
    by: Uuid,
    at: DateTime<Utc>,
    scan: Option<ScanRef<'_>>,
) -> AppResult<Booking> {
    let booking = ticket.booking.id;
    let scan_id = match &scan {
        Some(scan) => scan.id,
        None => {
            diesel::insert_into(door_scans::table)
                .values((
                    door_scans::scanned_at.eq(at),
                    door_scans::code.eq(&ticket.code),
                    door_scans::booking_id.eq(Some(booking)),
                    door_scans::admits.eq(true),
                    door_scans::uploaded_by.eq(Some(by)),
                    door_scans::uploaded_at.eq(at),
                ))
                .returning(door_scans::id)
                .get_result(conn)
                .await?
        }
    };
    let used: Booking = diesel::update(bookings::table.find(booking))
        .set(bookings::status.eq(BookingStatus::Used))
        .returning(Booking::as_returning())
        .get_result(conn)
        .await?;
    diesel::insert_into(check_ins::table)
        .values((
            check_ins::booking_id.eq(booking),
            check_ins::operator_id.eq(Some(by)),
            check_ins::checked_in_at.eq(at),
            check_ins::device_id.eq(scan.as_ref().map(|s| s.device)),
            check_ins::scan_id.eq(Some(scan_id)),
        ))
        .execute(conn)
        .await?;
    // A used ticket cannot be refunded any more: its points count from now. The
    // tier notification's live push, if any, leaves with the outbox's next poll.
    let told = crate::loyalty::count_booking(conn, &app.config.tiers, app.now(), booking).await?;
    crate::outbox::hand_to_workers(conn, app.now(), told.as_slice()).await?;
    Ok(used)
}

fn unreadable() -> AppError {
    AppError::bad_input("code", "not a valid ticket code")
}

pub async fn check_in(app: &App, operator: Viewer, code: &str) -> AppResult<Booking> {
    let mut conn = app.db().await?;
    let now = app.now();
    let used = conn
        .transaction::<_, AppError, _>(async |conn| {
            let ticket = Ticket::read(conn, app, code)
                .await?
                .ok_or_else(unreadable)?;
            let refused = match ticket.standing() {
                Ok(()) => ticket.window(conn, app, now).await?,
                Err(refusal) => Err(refusal),
            };
            match refused {
                Ok(()) => mark_used(conn, app, &ticket, operator.user_id, now, None).await,
                // Signed by us, but not the code this booking carries now.
                Err(r @ Refusal::Replaced) => Err(AppError::bad_input("code", r.message())),
                Err(Refusal::AlreadyUsed) => {
                    let at: Option<DateTime<Utc>> = check_ins::table
                        .filter(check_ins::booking_id.eq(ticket.booking.id))
                        .select(check_ins::checked_in_at)
                        .first(conn)
                        .await
                        .optional()?;
                    let at = at.map_or_else(String::new, |t| format!(" at {}", t.to_rfc3339()));
                    Err(AppError::conflict(format!(
                        "{}{at}",
                        Refusal::AlreadyUsed.message()
                    )))
                }
                Err(other) => Err(AppError::conflict(other.message())),
            }
        })
        .await?;
    let event = CheckInEvent::new(Change::CheckedIn, &used, operator.user_id, now);
    live::publish(app, &[event]).await;
    Ok(used)
}
