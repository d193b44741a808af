//! A process-wide cache of what a hold or a booking needs to know about a showtime
//! (its start, base price, blocked seats and parsed room layout), so that the hot path
//! of `lockSeats` and `createBooking` does not read and parse them from Postgres each
//! time. A showtime changes only by staff's hand (cancelled, seats blocked or
//! unblocked): the node that changes it forgets its room before answering, and every
//! node forgets all its rooms on the catalog's pub/sub word (`catalog::cache::changed`),
//! as the catalog cache does; the time-to-live bounds what a lost word could cost. The
//! cached blocked seats are for drawing maps when Redis does not know them: whether a
//! seat may be held is decided by the hold's script (`scripts::LOCK`).

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use uuid::Uuid;

use crate::app::App;
use crate::catalog::layout::SeatLayout;
use crate::catalog::model::{Screen, Showtime};
use crate::error::AppResult;

const TTL: Duration = Duration::from_secs(30);
/// Beyond this many entries the least used go first, rather than growing.
const MAX_ENTRIES: u64 = 10_000;

pub struct Room {
    /// Shared with the requests' loaders, which serve showtimes from here.
    pub showtime: Arc<Showtime>,
    pub screen: Screen,
    /// Shared with the live rooms' state, which draws maps from it.
    pub layout: Arc<SeatLayout>,
}

/// A `moka` cache: entries expire by themselves after [`TTL`].
pub struct Rooms {
    entries: Cache<Uuid, Arc<Room>>,
}

impl Default for Rooms {
    fn default() -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(TTL)
                .build(),
        }
    }
}

impl Rooms {
    fn cached(&self, id: Uuid) -> Option<Arc<Room>> {
        self.entries.get(&id)
    }

    fn keep(&self, id: Uuid, room: Arc<Room>) {
        self.entries.insert(id, room);
    }
}

/// Forgets a showtime's room on this node: an admin changed it.
pub fn forget(app: &App, id: Uuid) {
    app.rooms.entries.invalidate(&id);
}

/// After a change to a showtime is committed (moved, repriced, cancelled): this node
/// forgets its room and redraws its open seat maps before the caller answers; the
/// others do the same when the catalog's word naming it reaches them.
pub async fn showtime_changed(app: &App, id: Uuid) {
    forget(app, id);
    crate::catalog::cache::showtime_changed(app, id).await;
    app.live.redraw(app, id).await;
}

/// Takes the catalog's channel: a change on any node makes this one forget its rooms.
pub fn listen(app: &App) {
    app.pubsub.listen(
        crate::pubsub::Channels::Fixed(crate::catalog::cache::channel(app)),
        Arc::new(Changes),
    );
}

/// Word of a catalog change, or that words may have been missed: either way, forget.
struct Changes;

#[async_trait::async_trait]
impl crate::pubsub::Listener for Changes {
    async fn message(&self, app: &App, _channel: &str, payload: String) {
        app.rooms.entries.invalidate_all();
        // A showtime that changed: its open seat maps here are drawn again from it.
        let word = crate::catalog::cache::Word::parse(&payload);
        if let Some(showtime) = word
            .change
            .strip_prefix(crate::catalog::cache::SHOWTIME)
            .and_then(|id| Uuid::parse_str(id).ok())
        {
            app.live.redraw(app, showtime).await;
        }
    }

    async fn missed(&self, app: &App) {
        app.rooms.entries.invalidate_all();
    }
}

/// The showtime with its room; `BAD_USER_INPUT` naming `showtimeId` when there is none.
pub async fn room(app: &App, id: Uuid) -> AppResult<Arc<Room>> {
    if let Some(room) = app.rooms.cached(id) {
        return Ok(room);
    }
    let (showtime, screen) = super::holds::showtime_with_screen(app, id).await?;
    let layout = Arc::new(SeatLayout::parse(&screen.seat_layout, "seatLayout")?);
    Ok(remember(app, Arc::new(showtime), screen, layout))
}

/// The room of a showtime if this process has it at hand, with no I/O: readers of many
/// showtimes at once use it before falling back to their batched loads.
pub fn cached(app: &App, id: Uuid) -> Option<Arc<Room>> {
    app.rooms.cached(id)
}

/// Keeps a room that a reader loaded some other way (a batched load of many showtimes).
pub fn remember(
    app: &App,
    showtime: Arc<Showtime>,
    screen: Screen,
    layout: Arc<SeatLayout>,
) -> Arc<Room> {
    let id = showtime.id;
    let room = Arc::new(Room {
        showtime,
        screen,
        layout,
    });
    app.rooms.keep(id, room.clone());
    room
}
