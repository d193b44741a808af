//! Tickets: a confirmed booking's code, signed so that a scanner can check it offline,
//! and its image. Checking them in is the door's (`door`).

pub mod image;
pub mod store;

/// Ticket codes live in the small `screema-formats` crate (crates/screema-formats, as
/// `ticket_code`), so that the fuzz targets build without the whole server;
/// re-exported here, where they were, so `crate::tickets::code::TicketSigner` still
/// names them.
pub use screema_formats::ticket_code as code;

/// A booking's ticket code while the ticket is good: paid (confirmed or used). A
/// cancelled, refunded or expired booking keeps its code in the database (check-in
/// still recognises and refuses it) but shows and serves it no more.
pub fn valid_code(booking: &crate::booking::model::Booking) -> Option<&str> {
    use crate::db::enums::BookingStatus;
    matches!(
        booking.status,
        BookingStatus::Confirmed | BookingStatus::Used
    )
    .then_some(booking.qr_code.as_deref())
    .flatten()
}
