//! `checkInTickets`: scans made offline, uploaded later, in any order, from several
//! devices. A scanner at the door checks codes against the published key and the
//! revoked list (`revoked`) while the network is away, lets people in, and uploads
//! what it scanned when it can. Here each scan is recorded and judged by the same
//! rules as an online check-in (`check_in::Ticket`), at the device's time:
//!
//! - **Each ticket is checked in once, by its earliest scan.** A scan made before the
//!   check-in that stands (uploaded later, from a device that was offline longer)
//!   takes its place: its time, device and uploader.
//! - **A ticket scanned on two devices is a duplicate**, whichever arrives first: every
//!   scan is kept (`door_scans`), so the second device's scan is reported with the
//!   first's device and time, and the first one's retry with the second's.
//! - **A retry is harmless.** A scan is known by what the device saw (device, its clock,
//!   the code): uploaded again, it finds its row, changes nothing, and is answered
//!   from the state as it now stands.
//! - **The device's clock is believed within bounds.** `scannedAt` decides the window
//!   and which scan came first, but a device's clock can be wrong, so a scan may be at
//!   most `CHECK_IN_CLOCK_SKEW_SECONDS` (5 min) later than the server's clock when it
//!   was first uploaded (a scan cannot come from the future: a clock that runs ahead
//!   would otherwise let a ticket for a later showing in now, inside that showing's
//!   window, and would lose every "earliest scan" race it should not), and at most
//!   `CHECK_IN_SCAN_MAX_AGE_MINUTES` (a day) earlier: longer than any showing and its
//!   door, so a genuine upload is never refused, while a clock reset to some past date
//!   is. Within those bounds the showtime's window applies to `scannedAt`: a scan
//!   before check-in opens or after the showing ended did not let anyone in and is
//!   REFUSED, as it would have been online. The bounds are measured from the first
//!   upload, so a retry gets the same verdict however late it comes.
//! - **One transaction per scan.** Scans of different tickets do not depend on each
//!   other; a batch-wide transaction would hold up to `CHECK_IN_BATCH_MAX` booking
//!   locks while the door's online check-ins wait. A failure half-way leaves the
//!   scans before it recorded and whole, and the scanner's retry of the batch finds
//!   them (idempotent), so nothing is half-written.
//! - **Results come from the state after the whole batch**, in input order, so two
//!   scans of one ticket in one upload agree with each other (which one won).
//! - **An undo** (`undo`) takes back the check-in; scans made before it no longer
//!   count, and a later one checks the ticket in again.

use chrono::{DateTime, DurationRound, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz, Uuid as SqlUuid, Varchar};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::check_in::{Refusal, ScanRef, Ticket, mark_used};
use super::live::{self, Change, CheckInEvent};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::db::enums::BookingStatus;
use crate::db::schema::{check_in_undos, check_ins, door_scans, ticket_voids};
use crate::error::{AppError, AppResult};

/// The longest device id taken (the column's width).
const MAX_DEVICE_CHARS: usize = 64;
/// Of a code longer than this (none of ours is), only this much is kept.
const MAX_CODE_CHARS: usize = 512;

/// One scan as the scanner recorded it.
#[derive(Debug, Clone)]
pub struct Scan {
    pub code: String,
    pub scanned_at: DateTime<Utc>,
    pub device_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    /// This scan is the ticket's check-in, and no other device scanned it.
    CheckedIn,
    /// The ticket was checked in by an earlier scan on this same device.
    AlreadyCheckedIn,
    /// The ticket was scanned on more than one device (or checked in online too).
    Duplicate,
    /// The ticket is void: cancelled, refunded, expired, or its code was replaced.
    Void,
    /// Not a ticket of ours: unreadable, or forged.
    Invalid,
    /// A good ticket this scan could not let in: outside the showtime's window, not
    /// paid, the device's clock out of bounds, or before an undo of its check-in.
    Refused,
}

/// A scan of a ticket as the door knows it: on which device (`None`: checked in online
/// with `checkInTicket`) and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub device_id: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ScanResult {
    pub scan: Scan,
    pub status: ScanStatus,
    pub message: String,
    pub booking_id: Option<Uuid>,
    pub booking_reference: Option<String>,
    /// The seats the code names.
    pub seats: Vec<String>,
    /// The ticket's check-in as it now stands (its earliest scan), if it is checked in.
    pub check_in: Option<Seen>,
    /// The earliest scan of the ticket on each device other than this scan's (since
    /// its last undo), when this scan counted.
    pub other_scans: Vec<Seen>,
}

/// Records and judges a batch of scans uploaded by `operator`; one result per scan,
/// in input order.
pub async fn upload(app: &App, operator: Viewer, scans: Vec<Scan>) -> AppResult<Vec<ScanResult>> {
    let most = app.config.tickets.scans.batch_max;
    if scans.len() > most {
        return Err(AppError::bad_input(
            "scans",
            format!(
                "at most {most} scans in one upload, got {}: send the rest in another",
                scans.len()
            ),
        ));
    }
    let scans = scans
        .into_iter()
        .enumerate()
        .map(|(i, scan)| normalise(i, scan))
        .collect::<AppResult<Vec<_>>>()?;
    let mut conn = app.db().await?;
    // Earliest first, so that a ticket scanned twice in the batch is checked in once
    // rather than moved; the rules give the same result in any order.
    let mut order: Vec<usize> = (0..scans.len()).collect();
    order.sort_by_key(|&i| scans[i].scanned_at);
    let mut applied = Vec::with_capacity(scans.len());
    let mut events = Vec::new();
    for i in order {
        let scan = &scans[i];
        let (done, event) = conn
            .transaction::<_, AppError, _>(async |conn| {
                apply(conn, app, operator.user_id, scan).await
            })
            .await?;
        events.extend(event);
        applied.push((i, done));
    }
    live::publish(app, &events).await;
    applied.sort_by_key(|(i, _)| *i);
    let mut results = Vec::with_capacity(scans.len());
    for (scan, (_, applied)) in scans.into_iter().zip(applied) {
        results.push(report(&mut conn, scan, applied).await?);
    }
    Ok(results)
}

/// A scan as it is keyed and kept: the device id trimmed and checked, the code
/// trimmed and cut to what is kept, the time to Postgres's microseconds (so that a
/// retry finds the row it wrote).
fn normalise(i: usize, scan: Scan) -> AppResult<Scan> {
    let device = scan.device_id.trim();
    if device.is_empty()
        || device.chars().count() > MAX_DEVICE_CHARS
        || device.chars().any(char::is_control)
    {
        return Err(AppError::bad_input(
            format!("scans[{i}].deviceId"),
            format!("a device id is 1 to {MAX_DEVICE_CHARS} printable characters"),
        ));
    }
    // Postgres's text holds no NUL; none is in a code of ours, so the scan stays INVALID.
    let code: String = scan
        .code
        .trim()
        .chars()
        .take(MAX_CODE_CHARS)
        .map(|c| {
            if c == '\0' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect();
    let scanned_at = scan
        .scanned_at
        .duration_trunc(chrono::Duration::microseconds(1))
        .unwrap_or(scan.scanned_at);
    Ok(Scan {
        code,
        scanned_at,
        device_id: device.to_owned(),
    })
}

/// What a scan came to, before the batch's results are read.
struct Applied {
    scan_id: Uuid,
    /// `None`: not a ticket of ours.
    ticket: Option<Judged>,
}

struct Judged {
    booking: Uuid,
    reference: String,
    seats: Vec<String>,
    verdict: Verdict,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Void(String),
    Refused(String),
    /// The rules let it in: it counts as the ticket's use on its device.
    Admitted,
}

/// Records one scan and, when the rules admit it, checks its ticket in (or moves the
/// check-in to it, when it came first). Inside the caller's transaction; the event
/// to publish once it commits, when the check-in changed.
async fn apply(
    conn: &mut AsyncPgConnection,
    app: &App,
    uploader: Uuid,
    scan: &Scan,
) -> AppResult<(Applied, Option<CheckInEvent>)> {
    let ticket = Ticket::read(conn, app, &scan.code).await?;
    let (scan_id, uploaded_at) = record(
        conn,
        app,
        uploader,
        scan,
        ticket.as_ref().map(|t| t.booking.id),
    )
    .await?;
    let Some(ticket) = ticket else {
        let invalid = Applied {
            scan_id,
            ticket: None,
        };
        return Ok((invalid, None));
    };
    let verdict = judge(conn, app, &ticket, scan, uploaded_at).await?;
    let event = if verdict == Verdict::Admitted {
        admit(conn, app, &ticket, uploader, scan, scan_id).await?
    } else {
        None
    };
    let applied = Applied {
        scan_id,
        ticket: Some(Judged {
            booking: ticket.booking.id,
            reference: ticket.booking.booking_reference.clone(),
            seats: ticket.claims.seats.clone(),
            verdict,
        }),
    };
    Ok((applied, event))
}

/// Keeps the scan, once: its row's id and when it was first uploaded.
async fn record(
    conn: &mut AsyncPgConnection,
    app: &App,
    uploader: Uuid,
    scan: &Scan,
    booking: Option<Uuid>,
) -> AppResult<(Uuid, DateTime<Utc>)> {
    let inserted: Option<(Uuid, DateTime<Utc>)> = diesel::insert_into(door_scans::table)
        .values((
            door_scans::device_id.eq(&scan.device_id),
            door_scans::scanned_at.eq(scan.scanned_at),
            door_scans::code.eq(&scan.code),
            door_scans::booking_id.eq(booking),
            door_scans::uploaded_by.eq(Some(uploader)),
            door_scans::uploaded_at.eq(app.now()),
        ))
        .on_conflict((
            door_scans::device_id,
            door_scans::scanned_at,
            door_scans::code,
        ))
        .do_nothing()
        .returning((door_scans::id, door_scans::uploaded_at))
        .get_result(conn)
        .await
        .optional()?;
    match inserted {
        Some(row) => Ok(row),
        None => Ok(door_scans::table
            .filter(door_scans::device_id.eq(&scan.device_id))
            .filter(door_scans::scanned_at.eq(scan.scanned_at))
            .filter(door_scans::code.eq(&scan.code))
            .select((door_scans::id, door_scans::uploaded_at))
            .first(conn)
            .await?),
    }
}

/// The rules, at the device's time (the module's docs say which bounds and why).
async fn judge(
    conn: &mut AsyncPgConnection,
    app: &App,
    ticket: &Ticket,
    scan: &Scan,
    uploaded_at: DateTime<Utc>,
) -> AppResult<Verdict> {
    match ticket.standing() {
        Ok(()) | Err(Refusal::AlreadyUsed) => {}
        Err(Refusal::Replaced) => {
            let voided: Option<DateTime<Utc>> = ticket_voids::table
                .filter(ticket_voids::booking_id.eq(ticket.booking.id))
                .filter(ticket_voids::showtime_id.eq(ticket.claims.showtime))
                .select(ticket_voids::voided_at)
                .first(conn)
                .await
                .optional()?;
            let when = voided.map_or_else(String::new, |t| format!(" (void since {})", stamp(t)));
            return Ok(Verdict::Void(format!(
                "{}{when}",
                Refusal::Replaced.message()
            )));
        }
        Err(r @ (Refusal::Cancelled | Refusal::Expired)) => return Ok(Verdict::Void(r.message())),
        Err(r) => return Ok(Verdict::Refused(r.message())),
    }
    let settings = &app.config.tickets.scans;
    let skew = chrono::Duration::from_std(settings.clock_skew).map_err(AppError::internal)?;
    let max_age = chrono::Duration::from_std(settings.max_age).map_err(AppError::internal)?;
    if scan.scanned_at > uploaded_at + skew {
        return Ok(Verdict::Refused(format!(
            "scanned at {} by the device's clock, ahead of the server's ({} when uploaded): \
             check the device's clock",
            stamp(scan.scanned_at),
            stamp(uploaded_at)
        )));
    }
    if scan.scanned_at < uploaded_at - max_age {
        return Ok(Verdict::Refused(format!(
            "scanned at {} by the device's clock, more than {} before it was uploaded ({})",
            stamp(scan.scanned_at),
            humantime::format_duration(settings.max_age),
            stamp(uploaded_at)
        )));
    }
    if let Some(undone) = last_undo(conn, ticket.booking.id).await?
        && scan.scanned_at <= undone
    {
        return Ok(Verdict::Refused(format!(
            "this ticket's check-in was undone at {}, after this scan",
            stamp(undone)
        )));
    }
    if let Err(r) = ticket.window(conn, app, scan.scanned_at).await? {
        return Ok(Verdict::Refused(format!(
            "scanned at {}: {}",
            stamp(scan.scanned_at),
            r.message()
        )));
    }
    Ok(Verdict::Admitted)
}

/// Counts an admitted scan: a confirmed ticket is checked in by it; a used one's
/// check-in moves to it when it came first (the earliest scan wins). The event of
/// the change, if the check-in changed.
async fn admit(
    conn: &mut AsyncPgConnection,
    app: &App,
    ticket: &Ticket,
    uploader: Uuid,
    scan: &Scan,
    scan_id: Uuid,
) -> AppResult<Option<CheckInEvent>> {
    diesel::update(door_scans::table.find(scan_id))
        .set(door_scans::admits.eq(true))
        .execute(conn)
        .await?;
    let this = ScanRef {
        id: scan_id,
        device: &scan.device_id,
    };
    let changed = if ticket.booking.status == BookingStatus::Confirmed {
        mark_used(conn, app, ticket, uploader, scan.scanned_at, Some(this)).await?;
        true
    } else {
        // Used: by a later scan, one made at the same moment, or this very scan.
        diesel::sql_query(
            "INSERT INTO check_ins (booking_id, operator_id, checked_in_at, device_id, scan_id) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (booking_id) DO UPDATE SET \
             operator_id = EXCLUDED.operator_id, checked_in_at = EXCLUDED.checked_in_at, \
             device_id = EXCLUDED.device_id, scan_id = EXCLUDED.scan_id \
             WHERE check_ins.checked_in_at > EXCLUDED.checked_in_at",
        )
        .bind::<SqlUuid, _>(ticket.booking.id)
        .bind::<Nullable<SqlUuid>, _>(Some(uploader))
        .bind::<Timestamptz, _>(scan.scanned_at)
        .bind::<Nullable<Varchar>, _>(Some(this.device))
        .bind::<Nullable<SqlUuid>, _>(Some(this.id))
        .execute(conn)
        .await?
            > 0
    };
    Ok(changed.then(|| {
        let mut event = CheckInEvent::new(Change::CheckedIn, &ticket.booking, uploader, app.now());
        event.checked_in_at = scan.scanned_at;
        event.device_id = Some(scan.device_id.clone());
        event
    }))
}

/// When the booking's check-in was last undone, if ever.
pub(super) async fn last_undo(
    conn: &mut AsyncPgConnection,
    booking: Uuid,
) -> AppResult<Option<DateTime<Utc>>> {
    Ok(check_in_undos::table
        .filter(check_in_undos::booking_id.eq(booking))
        .select(diesel::dsl::max(check_in_undos::undone_at))
        .first(conn)
        .await?)
}

/// The result of one scan, from the state as it stands after the batch.
async fn report(
    conn: &mut AsyncPgConnection,
    scan: Scan,
    applied: Applied,
) -> AppResult<ScanResult> {
    let Some(ticket) = applied.ticket else {
        return Ok(ScanResult {
            scan,
            status: ScanStatus::Invalid,
            message: "not a ticket of ours: unreadable, or not signed with our key".into(),
            booking_id: None,
            booking_reference: None,
            seats: Vec::new(),
            check_in: None,
            other_scans: Vec::new(),
        });
    };
    let winner: Option<(DateTime<Utc>, Option<String>, Option<Uuid>)> = check_ins::table
        .filter(check_ins::booking_id.eq(ticket.booking))
        .select((
            check_ins::checked_in_at,
            check_ins::device_id,
            check_ins::scan_id,
        ))
        .first(conn)
        .await
        .optional()?;
    let check_in = winner.as_ref().map(|(at, device, _)| Seen {
        device_id: device.clone(),
        at: *at,
    });
    let mut other_scans = Vec::new();
    let (status, message) = match (ticket.verdict, winner) {
        (Verdict::Void(message), _) => (ScanStatus::Void, message),
        (Verdict::Refused(message), _) => (ScanStatus::Refused, message),
        // Undone between this scan's transaction and now.
        (Verdict::Admitted, None) => (
            ScanStatus::Refused,
            "this ticket's check-in was undone since this scan".into(),
        ),
        (Verdict::Admitted, Some((at, device, winning_scan))) => {
            other_scans = other_devices(conn, ticket.booking, &scan.device_id).await?;
            // A check-in made online before the door kept its scans has none.
            if winning_scan.is_none() {
                other_scans.push(Seen {
                    device_id: None,
                    at,
                });
            }
            other_scans.sort_by_key(|s| s.at);
            let won = winning_scan == Some(applied.scan_id);
            if !other_scans.is_empty() {
                let elsewhere = other_scans
                    .iter()
                    .map(describe)
                    .collect::<Vec<_>>()
                    .join(", ");
                let message = if won {
                    format!("checked in by this scan; also scanned {elsewhere}")
                } else {
                    let first = Seen {
                        device_id: device,
                        at,
                    };
                    format!(
                        "already checked in {}; scanned on more than one device: {elsewhere}",
                        describe(&first)
                    )
                };
                (ScanStatus::Duplicate, message)
            } else if won {
                (
                    ScanStatus::CheckedIn,
                    format!("checked in at {}", stamp(at)),
                )
            } else {
                (
                    ScanStatus::AlreadyCheckedIn,
                    format!("already checked in on this device at {}", stamp(at)),
                )
            }
        }
    };
    Ok(ScanResult {
        scan,
        status,
        message,
        booking_id: Some(ticket.booking),
        booking_reference: Some(ticket.reference),
        seats: ticket.seats,
        check_in,
        other_scans,
    })
}

/// The earliest admitted scan of the booking on each device but `device` (online
/// check-ins, with no device, count as one more), since the booking's last undo.
async fn other_devices(
    conn: &mut AsyncPgConnection,
    booking: Uuid,
    device: &str,
) -> AppResult<Vec<Seen>> {
    let since = last_undo(conn, booking).await?;
    let mut query = door_scans::table
        .filter(door_scans::booking_id.eq(booking))
        .filter(door_scans::admits)
        .filter(door_scans::device_id.is_distinct_from(device))
        .distinct_on(door_scans::device_id)
        .order((door_scans::device_id, door_scans::scanned_at))
        .select((door_scans::device_id, door_scans::scanned_at))
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(door_scans::scanned_at.gt(since));
    }
    let rows: Vec<(Option<String>, DateTime<Utc>)> = query.load(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(device_id, at)| Seen { device_id, at })
        .collect())
}

fn describe(seen: &Seen) -> String {
    match &seen.device_id {
        Some(device) => format!("on device `{device}` at {}", stamp(seen.at)),
        None => format!("online (checkInTicket) at {}", stamp(seen.at)),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
