//! Tickets: a confirmed booking's code, signed so that a scanner can check it offline,
//! and the operators' check-in.

pub mod check_in;
pub mod graphql;
pub mod http;
pub mod image;
pub mod store;

/// Ticket codes live in the small `screema-formats` crate (crates/screema-formats, as
/// `ticket_code`), so that the fuzz targets build without the whole server;
/// re-exported here, where they were, so `crate::tickets::code::TicketSigner` still
/// names them.
pub use screema_formats::ticket_code as code;
