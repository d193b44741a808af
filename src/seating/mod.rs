//! Seat maps (and, with the holds work, holds and the live feed).

pub mod best;
pub mod blocks;
pub mod ended;
pub mod follow;
pub mod graphql;
pub mod history;
pub mod holds;
pub mod keys;
pub mod live;
pub mod lock_log;
pub mod queries;
pub mod rooms;
pub mod scripts;
pub mod seat_map;
pub mod sync;
