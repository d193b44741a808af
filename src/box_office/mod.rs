//! The operators' side of a cinema: what staff do to a showtime once it is on sale.
//! Moving one (`reschedule`), cancelling one (`cancel`) and reading who is in it
//! (`manifest`); selling at the
//! counter is checkout's (`checkout::counter`), served from here.

pub mod cancel;
pub mod graphql;
pub mod manifest;
pub mod reschedule;
