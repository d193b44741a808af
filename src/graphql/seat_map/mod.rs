//! The seat map's fast paths, in one place. Seat maps are what a flash sale reads and
//! watches most, and async-graphql's general machinery was most of their cost (perf;
//! BENCHMARKS.md), so for plain selections they are written directly:
//!
//! - `seat_list`: a row's seats as `[Seat!]!`, in one pass;
//! - `events`: a change event's `next` payload, written once per showtime and
//!   selection instead of once per subscriber;
//! - `live`: the websocket hook ([`SeatMapEvents`]) that sends those payloads to every
//!   subscriber of a showtime.
//!
//! Anything else goes through the executor, and each gives the same JSON as the
//! executor would: the unit tests here check the plans, and
//! `tests/it/seat_map_fast_paths.rs` reads seat lists and events both ways (events on
//! both websocket protocols).

pub mod events;
pub mod live;
pub mod seat_list;

use std::sync::{Arc, Mutex};

use crate::seating::follow::Follower;

pub use live::SeatMapEvents;

/// Where the `seatMap` resolver leaves its follower after the snapshot, when the
/// request came through [`SeatMapEvents`]: that hook writes the later events itself.
/// Only the hook puts one in a request, and only the resolver takes it.
#[derive(Clone, Default)]
pub struct Handoff {
    slot: Arc<Mutex<Option<Follower>>>,
    restart: bool,
}

impl Handoff {
    /// For the hook's run of the request again after its follower fell behind: that
    /// run starts from a snapshot whatever the request's `since` says, since the
    /// subscriber has had the changes after it.
    pub fn restart() -> Self {
        Self {
            restart: true,
            ..Self::default()
        }
    }

    /// Whether this run must start from a snapshot (`restart`).
    pub fn is_restart(&self) -> bool {
        self.restart
    }

    pub fn put(&self, follower: Follower) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(follower);
        }
    }

    pub fn take(&self) -> Option<Follower> {
        self.slot.lock().ok().and_then(|mut slot| slot.take())
    }
}
