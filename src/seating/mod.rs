//! Seat maps (and, with the holds work, holds and the live feed).

pub mod graphql;
pub mod keys;
pub mod queries;
pub mod seat_map;
