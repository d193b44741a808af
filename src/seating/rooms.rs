//! A process-wide cache of what a hold or a booking needs to know about a showtime
//! (its start, base price, blocked seats and parsed room layout), so that the hot path
//! of `lockSeats` and `createBooking` does not read and parse them from Postgres each
//! time. Showtimes and rooms are not edited once created (no mutation changes them);
//! the time-to-live bounds how stale an entry could be should one ever be.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::app::App;
use crate::catalog::layout::SeatLayout;
use crate::catalog::model::{Screen, Showtime};
use crate::error::AppResult;

const TTL: Duration = Duration::from_secs(30);
/// Beyond this many entries the cache starts over rather than growing.
const MAX_ENTRIES: usize = 10_000;

pub struct Room {
    pub showtime: Showtime,
    pub screen: Screen,
    /// Shared with the live rooms' state, which draws maps from it.
    pub layout: Arc<SeatLayout>,
}

#[derive(Default)]
pub struct Rooms {
    entries: Mutex<HashMap<Uuid, (Instant, Arc<Room>)>>,
}

impl Rooms {
    fn cached(&self, id: Uuid) -> Option<Arc<Room>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&id)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, room)| room.clone())
    }

    fn keep(&self, id: Uuid, room: Arc<Room>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(id, (Instant::now(), room));
        }
    }
}

/// The showtime with its room; `BAD_USER_INPUT` naming `showtimeId` when there is none.
pub async fn room(app: &App, id: Uuid) -> AppResult<Arc<Room>> {
    if let Some(room) = app.rooms.cached(id) {
        return Ok(room);
    }
    let (showtime, screen) = super::holds::showtime_with_screen(app, id).await?;
    let layout = Arc::new(SeatLayout::parse(&screen.seat_layout, "seatLayout")?);
    let room = Arc::new(Room {
        showtime,
        screen,
        layout,
    });
    app.rooms.keep(id, room.clone());
    Ok(room)
}
