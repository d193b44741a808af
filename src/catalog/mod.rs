//! Movies, theaters, screens, showtimes and snacks: what can be browsed.

pub mod age_rating;
pub mod cache;
pub mod graphql;
pub mod manage;
pub mod model;
pub mod queries;
pub mod sale;
pub mod ticket_prices;

/// Seat layouts live in the small `screema-formats` crate (crates/screema-formats), so
/// that the fuzz targets build without the whole server; re-exported here, where they
/// were, so `crate::catalog::layout::SeatLayout` still names them.
pub use screema_formats::layout;
