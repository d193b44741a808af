//! `checkInTicket`, `checkInTickets`, `undoCheckIn` and `subscription checkIns`.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, Subscription};
use futures_util::StreamExt;

use super::live::{self, CheckInEvent};

use super::scans::{self, Scan, ScanResult, Seen};
use crate::booking::graphql::BookingNode;
use crate::db::enums::Role;
use crate::graphql::app;
use crate::graphql::guards::{RoleGuard, viewer};
use crate::graphql::scalars::DateTime;
use crate::ids::parse_uuid;

#[derive(Default)]
pub struct DoorMutation;

#[Object]
impl DoorMutation {
    /// Operators and admins: checks in the ticket whose QR code was scanned. A forged
    /// or unreadable code is BAD_USER_INPUT (`code`); a ticket already used, void
    /// (cancelled, refunded, expired, unpaid) or outside its window (from an hour
    /// before the start to the end) is CONFLICT saying why.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn check_in_ticket(&self, ctx: &Context<'_>, code: String) -> Result<BookingNode> {
        let booking = super::check_in::check_in(app(ctx)?, viewer(ctx)?, &code).await?;
        Ok(BookingNode(Arc::new(booking)))
    }

    /// Operators and admins: uploads scans a scanner made offline, in any order, from
    /// any number of devices; one result per scan, in the order sent. Each ticket is
    /// checked in once, by its earliest scan (`scannedAt`, the device's clock, at most
    /// 5 minutes ahead of the server's and a day behind); a retry of the same scan
    /// (code, device and time) changes nothing. At most `CHECK_IN_BATCH_MAX` (100)
    /// scans an upload, else BAD_USER_INPUT naming `scans`.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn check_in_tickets(
        &self,
        ctx: &Context<'_>,
        scans: Vec<TicketScanInput>,
    ) -> Result<Vec<TicketScanResult>> {
        let scans = scans
            .into_iter()
            .map(|s| Scan {
                code: s.code,
                scanned_at: s.scanned_at.0,
                device_id: s.device_id,
            })
            .collect();
        let results = scans::upload(app(ctx)?, viewer(ctx)?, scans).await?;
        Ok(results.into_iter().map(TicketScanResult).collect())
    }

    /// Operators and admins: takes back a check-in made by mistake. The booking is
    /// CONFIRMED again and its ticket good again (a later scan checks it in again);
    /// who undid it and when is recorded. A booking that is not USED is CONFLICT.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn undo_check_in(&self, ctx: &Context<'_>, booking_id: ID) -> Result<BookingNode> {
        let id = parse_uuid("bookingId", &booking_id)?;
        let booking = super::undo::undo(app(ctx)?, viewer(ctx)?, id).await?;
        Ok(BookingNode(Arc::new(booking)))
    }
}

/// One scan as a scanner recorded it offline.
#[derive(InputObject)]
pub struct TicketScanInput {
    /// The code read from the ticket's QR code.
    code: String,
    /// When it was scanned, by the device's clock.
    scanned_at: DateTime,
    /// The scanner's own name for itself (1 to 64 characters), the same on every upload.
    device_id: String,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "TicketScanStatus", remote = "crate::door::scans::ScanStatus")]
pub enum TicketScanStatusGql {
    /// This scan checked the ticket in, and no other device scanned it.
    CheckedIn,
    /// Checked in by an earlier scan on this same device.
    AlreadyCheckedIn,
    /// Scanned on more than one device (or checked in online too): see `firstScan`
    /// (the check-in) and `otherScans`.
    Duplicate,
    /// Cancelled, refunded, expired, or a code replaced by a newer one.
    Void,
    /// Not a ticket of ours: unreadable or forged.
    Invalid,
    /// A good ticket this scan could not let in: outside the showtime's window, not
    /// paid, the device's clock out of bounds, or made before an undo of its check-in.
    Refused,
}

/// A scan of a ticket: on which device and when.
#[derive(SimpleObject)]
pub struct TicketScan {
    /// Null for a check-in made online (`checkInTicket`).
    device_id: Option<String>,
    scanned_at: DateTime,
}

impl From<Seen> for TicketScan {
    fn from(seen: Seen) -> Self {
        Self {
            device_id: seen.device_id,
            scanned_at: DateTime(seen.at),
        }
    }
}

/// What became of one uploaded scan: its ticket's state after the whole upload.
pub struct TicketScanResult(ScanResult);

#[Object]
impl TicketScanResult {
    /// The code as sent (trimmed).
    async fn code(&self) -> &str {
        &self.0.scan.code
    }

    async fn device_id(&self) -> &str {
        &self.0.scan.device_id
    }

    async fn scanned_at(&self) -> DateTime {
        DateTime(self.0.scan.scanned_at)
    }

    async fn status(&self) -> TicketScanStatusGql {
        self.0.status.into()
    }

    /// What happened, in words for the door.
    async fn message(&self) -> &str {
        &self.0.message
    }

    async fn booking_id(&self) -> Option<ID> {
        self.0.booking_id.map(|id| ID(id.to_string()))
    }

    async fn booking_reference(&self) -> Option<&str> {
        self.0.booking_reference.as_deref()
    }

    /// The seats the code names.
    async fn seat_numbers(&self) -> &[String] {
        &self.0.seats
    }

    /// When the ticket was checked in (its first scan's time), if it is.
    async fn checked_in_at(&self) -> Option<DateTime> {
        self.0.check_in.as_ref().map(|c| DateTime(c.at))
    }

    /// The scan that checked the ticket in (the earliest), if it is checked in.
    async fn first_scan(&self) -> Option<TicketScan> {
        self.0.check_in.clone().map(Into::into)
    }

    /// For a scan that counted: the earliest scan of the ticket on each other device
    /// (and its online check-in), oldest first. Not empty exactly when DUPLICATE.
    async fn other_scans(&self) -> Vec<TicketScan> {
        self.0.other_scans.iter().cloned().map(Into::into).collect()
    }
}

#[derive(Default)]
pub struct DoorSubscription;

#[Subscription]
impl DoorSubscription {
    /// Operators and admins: the showtime's check-ins and undos as they happen,
    /// whichever node made them (online, uploaded from a scanner, or undone). Events
    /// only, from the moment of subscribing. An unknown showtime is BAD_USER_INPUT
    /// naming `showtimeId`.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn check_ins(
        &self,
        ctx: &Context<'_>,
        showtime_id: ID,
    ) -> Result<impl futures_util::Stream<Item = CheckInEventObject> + use<>> {
        let showtime = parse_uuid("showtimeId", &showtime_id)?;
        let subscription = live::subscribe(app(ctx)?, showtime).await?;
        // Missed ones (a subscriber far behind) are in `check_ins`, `check_in_undos`.
        Ok(subscription.into_stream().map(CheckInEventObject))
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "CheckInChange", remote = "crate::door::live::Change")]
pub enum CheckInChangeGql {
    /// A ticket was checked in, or its check-in moved to an earlier scan uploaded
    /// later.
    CheckedIn,
    /// A check-in was taken back (`undoCheckIn`).
    Undone,
}

/// A check-in, or an undo, at a showtime's door.
pub struct CheckInEventObject(Arc<CheckInEvent>);

#[Object(name = "CheckInEvent")]
impl CheckInEventObject {
    async fn change(&self) -> CheckInChangeGql {
        self.0.change.into()
    }

    async fn showtime_id(&self) -> ID {
        ID(self.0.showtime.to_string())
    }

    async fn booking_id(&self) -> ID {
        ID(self.0.booking.to_string())
    }

    async fn booking_reference(&self) -> &str {
        &self.0.reference
    }

    async fn seat_numbers(&self) -> &[String] {
        &self.0.seats
    }

    /// When the ticket was checked in (for an undo: the check-in undone).
    async fn checked_in_at(&self) -> DateTime {
        DateTime(self.0.checked_in_at)
    }

    /// The scanner's device; null for `checkInTicket`.
    async fn device_id(&self) -> Option<&str> {
        self.0.device_id.as_deref()
    }

    /// The operator (or admin) who checked it in, uploaded its scan, or undid it.
    async fn operator_id(&self) -> ID {
        ID(self.0.operator.to_string())
    }

    /// When it happened, by the server's clock.
    async fn at(&self) -> DateTime {
        DateTime(self.0.at)
    }
}
