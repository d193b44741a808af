//! The operators' side of a cinema: what staff do to a showtime once it is on sale.
//! So far, cancelling one (`cancel`).

pub mod cancel;
pub mod graphql;
