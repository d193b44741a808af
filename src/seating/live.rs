//! Live seat maps. Per showtime, a room opened with its first local subscriber and
//! closed with its last. A room keeps the showtime's seat states, applies the changes
//! published on the showtime's channel (`pubsub`) in version order, and hands each
//! change to its local subscribers once, as one shared event.
//!
//! A room subscribes to Redis first and reads its snapshot second; changes that were
//! buffered meanwhile are applied only above the snapshot's version, so nothing is
//! missed and nothing doubled. A gap in the versions, a version going backwards (Redis
//! lost its data), a reconnection or a channel subscribed late makes the room reload
//! and tell its subscribers to start again from a snapshot. Once the showtime has ended
//! a room never writes its seats back into Redis: it ends instead of reloading, and
//! reads Postgres when it must read.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fred::prelude::*;
use serde::Deserialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::holds::read_holds;
use super::keys;
use super::queries::booked_seats;
use super::seat_map::{self, SeatMap, SeatState, SeatStates};
use crate::app::App;
use crate::catalog::layout::SeatLayout;
use crate::error::{AppError, AppResult};
use crate::money::Money;
use crate::pubsub::{Channels, Listener, PubSub};

#[derive(Debug)]
pub enum LiveEvent {
    Changes {
        version: i64,
        /// The epoch the version belongs to (`SeatMapEvent.epoch`).
        epoch: Arc<str>,
        changes: Vec<(String, SeatState)>,
        available: usize,
        /// Its payloads as the transport sends them, built once for all the room's
        /// subscribers.
        rendered: Rendered,
    },
    /// Start again from a snapshot: the room could not prove it missed nothing.
    Resync,
    /// The showtime has ended (`ended`): its maps no longer change, and end.
    Ended,
}

/// An event's payloads, one per fingerprint (of what a subscriber selected), rendered
/// by the first subscriber that needs it.
#[derive(Default)]
pub struct Rendered(Mutex<Vec<(u64, Arc<str>)>>);

impl Rendered {
    /// The payload for `fingerprint`, and whether this call rendered it.
    pub fn get_or_render(
        &self,
        fingerprint: u64,
        render: impl FnOnce() -> String,
    ) -> (Arc<str>, bool) {
        // Rendering under the lock makes the others wait for it instead of rendering
        // it again; a render takes microseconds.
        let Ok(mut rendered) = self.0.lock() else {
            return (render().into(), true);
        };
        if let Some((_, payload)) = rendered.iter().find(|(f, _)| *f == fingerprint) {
            return (payload.clone(), false);
        }
        let payload: Arc<str> = render().into();
        rendered.push((fingerprint, payload.clone()));
        (payload, true)
    }
}

impl std::fmt::Debug for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rendered")
    }
}

/// The seats of one showtime as the room knows them.
pub struct RoomState {
    pub version: i64,
    epoch: Arc<str>,
    /// When the showtime ends, as the room was last read: from then on its seats no
    /// longer change, and the room ends rather than reload (`refresh`).
    ends_at: DateTime<Utc>,
    layout: Arc<SeatLayout>,
    base_price: Money,
    blocked: HashSet<String>,
    booked: HashSet<String>,
    held: HashMap<String, Uuid>,
}

impl RoomState {
    fn states(&self, me: Option<Uuid>) -> SeatStates<'_> {
        SeatStates {
            booked: self.booked.iter().map(String::as_str).collect(),
            blocked: self.blocked.iter().map(String::as_str).collect(),
            held: self
                .held
                .iter()
                .map(|(s, u)| (s.as_str(), Some(*u) == me))
                .collect(),
        }
    }

    pub fn snapshot(&self, me: Option<Uuid>) -> (SeatMap, usize) {
        let states = self.states(me);
        (
            seat_map::build(&self.layout, self.base_price, &states, self.version),
            seat_map::available_count(&self.layout, &states),
        )
    }

    fn available(&self) -> usize {
        seat_map::available_count(&self.layout, &self.states(None))
    }

    /// A change names what the seat shows now, whatever it showed before.
    fn apply(&mut self, change: &[String]) -> Option<(String, SeatState)> {
        let (seat, state) = parse_change(change)?;
        self.held.remove(&seat);
        self.booked.remove(&seat);
        self.blocked.remove(&seat);
        match state {
            SeatState::Held => {
                let holder = change
                    .get(2)
                    .and_then(|u| Uuid::parse_str(u).ok())
                    .unwrap_or_default();
                self.held.insert(seat.clone(), holder);
            }
            SeatState::Booked => {
                self.booked.insert(seat.clone());
            }
            SeatState::Blocked => {
                self.blocked.insert(seat.clone());
            }
            SeatState::Available => {}
        }
        Some((seat, state))
    }
}

/// A published change `[seat, state(, holder)]` as the seat and what it shows now.
pub(super) fn parse_change(change: &[String]) -> Option<(String, SeatState)> {
    let state = match change.get(1)?.as_str() {
        "HELD" => SeatState::Held,
        "BOOKED" => SeatState::Booked,
        "BLOCKED" => SeatState::Blocked,
        _ => SeatState::Available,
    };
    Some((change.first()?.clone(), state))
}

/// Where a room stands: its version, that version's epoch and available seats.
#[derive(Debug, Clone)]
pub struct Position {
    pub version: i64,
    pub epoch: Arc<str>,
    pub available: usize,
}

impl RoomState {}

#[derive(Deserialize)]
struct Published {
    v: i64,
    #[serde(default)]
    e: String,
    c: Vec<Vec<String>>,
    /// The showtime has ended (`ended::ENDED`), whatever the version.
    #[serde(default)]
    ended: bool,
}

struct Room {
    /// `None` until the first snapshot is read; changes wait in `pending` until then.
    state: tokio::sync::Mutex<(Option<RoomState>, Vec<Published>)>,
    events: broadcast::Sender<Arc<LiveEvent>>,
    subscribers: Mutex<usize>,
}

#[derive(Clone)]
pub struct LiveHub(Arc<Hub>);

struct Hub {
    pubsub: PubSub,
    /// How many events a slow subscriber may fall behind before it gets a snapshot.
    backlog: usize,
    rooms: Mutex<HashMap<Uuid, Arc<Room>>>,
}

impl LiveHub {
    pub fn new(pubsub: PubSub, backlog: usize) -> Self {
        Self(Arc::new(Hub {
            pubsub,
            backlog,
            rooms: Mutex::new(HashMap::new()),
        }))
    }

    /// Takes the showtimes' channels, and checks the open rooms' epochs every sweep
    /// interval. Called once the `App` exists.
    pub fn start(&self, app: &Arc<App>) {
        let prefix = app.redis.key("seatmap:");
        self.0.pubsub.listen(
            Channels::Prefixed(prefix.clone()),
            Arc::new(SeatChanges { prefix }),
        );
        tokio::spawn(audit_epochs(
            Arc::downgrade(app),
            self.0.clone(),
            app.config.holds.sweep_interval,
        ));
    }

    /// An open room of the showtime, if this node has one, reads its seats afresh
    /// (from the room as it now is: another screen, another price) and its
    /// subscribers start again from a snapshot.
    pub async fn redraw(&self, app: &App, showtime: Uuid) {
        let Some(room) = self.room(showtime) else {
            return;
        };
        let mut guard = room.state.lock().await;
        if let Some(state) = guard.0.as_mut() {
            reload(app, showtime, &room, state).await;
        }
    }

    /// Joins a showtime's room: its current snapshot (for `me`) and its events.
    pub async fn join(&self, app: &App, showtime: Uuid) -> AppResult<Membership> {
        let (room, first) = {
            let mut rooms = self.0.rooms.lock().map_err(|_| poisoned())?;
            let first = !rooms.contains_key(&showtime);
            let room = rooms
                .entry(showtime)
                .or_insert_with(|| {
                    Arc::new(Room {
                        state: tokio::sync::Mutex::new((None, Vec::new())),
                        events: broadcast::channel(self.0.backlog).0,
                        subscribers: Mutex::new(0),
                    })
                })
                .clone();
            *room.subscribers.lock().map_err(|_| poisoned())? += 1;
            (room, first)
        };
        let channel = keys::channel(&app.redis, showtime);
        let membership = Membership {
            hub: self.clone(),
            showtime,
            channel: channel.clone(),
            room: room.clone(),
        };
        if first {
            // A failure is retried in the background, and the room reloads once it
            // succeeds: the subscriber gets its snapshot now either way.
            self.0.pubsub.subscribe(&channel).await?;
        }
        let mut guard = room.state.lock().await;
        if guard.0.is_none() {
            let mut state = load(app, showtime).await?;
            // Changes published while the snapshot was read: keep those above it.
            let pending = std::mem::take(&mut guard.1);
            for published in pending {
                let same_epoch = *published.e == *state.epoch;
                if same_epoch && published.v <= state.version {
                    continue;
                }
                if same_epoch && published.v == state.version + 1 {
                    for change in &published.c {
                        state.apply(change);
                    }
                    state.version = published.v;
                } else {
                    state = load(app, showtime).await?;
                }
            }
            guard.0 = Some(state);
        }
        Ok(membership)
    }

    fn room(&self, showtime: Uuid) -> Option<Arc<Room>> {
        self.0
            .rooms
            .lock()
            .ok()
            .and_then(|r| r.get(&showtime).cloned())
    }
}

/// The showtimes' channels (`<prefix>seatmap:{<showtime>}`), for the rooms open here.
struct SeatChanges {
    prefix: String,
}

impl SeatChanges {
    fn showtime_of(&self, channel: &str) -> Option<Uuid> {
        channel
            .strip_prefix(&self.prefix)
            .map(|rest| rest.trim_matches(|c| c == '{' || c == '}'))
            .and_then(|id| Uuid::parse_str(id).ok())
    }
}

#[async_trait]
impl Listener for SeatChanges {
    async fn message(&self, app: &App, channel: &str, payload: String) {
        let Some(showtime) = self.showtime_of(channel) else {
            return;
        };
        let Ok(published) = serde_json::from_str::<Published>(&payload) else {
            tracing::warn!(%channel, "unreadable seat change");
            return;
        };
        if let Some(room) = app.live.room(showtime) {
            if published.ended {
                let _ = room.events.send(Arc::new(LiveEvent::Ended));
                return;
            }
            deliver(app, showtime, &room, published).await;
        }
    }

    async fn missed(&self, app: &App) {
        resync_all(app, &app.live.0).await;
    }

    /// The room whose channel this is, if one is open, reloads.
    async fn resubscribed(&self, app: &App, channel: &str) {
        let Some(showtime) = self.showtime_of(channel) else {
            return;
        };
        let Some(room) = app.live.room(showtime) else {
            return;
        };
        let mut guard = room.state.lock().await;
        if let Some(state) = guard.0.as_mut() {
            refresh(app, showtime, &room, state).await;
        }
    }
}

fn poisoned() -> AppError {
    AppError::internal(anyhow::anyhow!("live seat map lock poisoned"))
}

/// A subscriber's place in a room; leaving the last place closes the room.
pub struct Membership {
    hub: LiveHub,
    showtime: Uuid,
    channel: String,
    room: Arc<Room>,
}

impl Membership {
    /// The room's seats now, and its events from this point on, taken together so
    /// that no change falls between them.
    pub async fn snapshot_and_events(
        &self,
        me: Option<Uuid>,
    ) -> Option<(
        (SeatMap, usize),
        Arc<str>,
        broadcast::Receiver<Arc<LiveEvent>>,
    )> {
        let guard = self.room.state.lock().await;
        let receiver = self.room.events.subscribe();
        guard
            .0
            .as_ref()
            .map(|state| (state.snapshot(me), state.epoch.clone(), receiver))
    }

    /// The room's seats now (for `me`), and the epoch of their version.
    pub async fn snapshot(&self, me: Option<Uuid>) -> Option<((SeatMap, usize), Arc<str>)> {
        let guard = self.room.state.lock().await;
        guard
            .0
            .as_ref()
            .map(|state| (state.snapshot(me), state.epoch.clone()))
    }

    /// Where the room stands, and its events from this point on, taken together (as
    /// `snapshot_and_events`) but without building a map: a subscriber that resumes
    /// reads what it missed up to this version from the history instead.
    pub async fn position_and_events(
        &self,
    ) -> Option<(Position, broadcast::Receiver<Arc<LiveEvent>>)> {
        let guard = self.room.state.lock().await;
        let receiver = self.room.events.subscribe();
        guard.0.as_ref().map(|state| {
            let position = Position {
                version: state.version,
                epoch: state.epoch.clone(),
                available: state.available(),
            };
            (position, receiver)
        })
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let Ok(mut rooms) = self.hub.0.rooms.lock() else {
            return;
        };
        let Ok(mut count) = self.room.subscribers.lock() else {
            return;
        };
        *count = count.saturating_sub(1);
        if *count > 0 {
            return;
        }
        rooms.remove(&self.showtime);
        let hub = self.hub.0.clone();
        let showtime = self.showtime;
        // A subscriber may have reopened the room meanwhile: keep its channel.
        self.hub
            .0
            .pubsub
            .unsubscribe_unless(self.channel.clone(), move || {
                hub.rooms
                    .lock()
                    .map(|r| r.contains_key(&showtime))
                    .unwrap_or(true)
            });
    }
}

async fn deliver(app: &App, showtime: Uuid, room: &Room, published: Published) {
    let mut guard = room.state.lock().await;
    let Some(state) = guard.0.as_mut() else {
        guard.1.push(published);
        return;
    };
    let same_epoch = *published.e == *state.epoch;
    if same_epoch && published.v == state.version + 1 {
        let changes: Vec<(String, SeatState)> =
            published.c.iter().filter_map(|c| state.apply(c)).collect();
        state.version = published.v;
        let event = LiveEvent::Changes {
            version: published.v,
            epoch: state.epoch.clone(),
            changes,
            available: state.available(),
            rendered: Default::default(),
        };
        let _ = room.events.send(Arc::new(event));
        return;
    }
    if same_epoch && published.v <= state.version {
        // Published before the snapshot was read, which already has it.
        return;
    }
    // A gap, or another epoch (Redis lost the showtime's data and versions started
    // again): reload, and every subscriber starts again from a snapshot.
    reload(app, showtime, room, state).await;
}

/// Reads the room's seats afresh and tells its subscribers to start again from a
/// snapshot. On failure the room keeps what it had; the next change tries again.
async fn reload(app: &App, showtime: Uuid, room: &Room, state: &mut RoomState) {
    match load(app, showtime).await {
        Ok(fresh) => {
            *state = fresh;
            let _ = room.events.send(Arc::new(LiveEvent::Resync));
        }
        Err(e) => {
            tracing::error!(error = %crate::error::LogDisplay(&e), %showtime, "seat map reload failed")
        }
    }
}

/// When a room cannot prove it missed nothing (its epoch gone, the channel's
/// connection lost): it reloads, and its subscribers start again; but a room whose
/// showtime has ended ends instead. Its seats no longer change, its keys are gone or
/// about to go (`ended`), and reloading would copy them back into Redis: the word
/// `ended` may be what it missed.
async fn refresh(app: &App, showtime: Uuid, room: &Room, state: &mut RoomState) {
    if state.ends_at <= app.now() {
        let _ = room.events.send(Arc::new(LiveEvent::Ended));
        return;
    }
    reload(app, showtime, room, state).await;
}

/// Redis can lose a showtime's data with nothing published after it (no one holds a
/// seat there again): each open room checks its epoch every `period`, and one that
/// is gone or changed makes the room reload and its subscribers start again (or end,
/// once the showtime has: `refresh`).
async fn audit_epochs(app: std::sync::Weak<App>, hub: Arc<Hub>, period: std::time::Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(app) = app.upgrade() else { break };
        if app.shutdown.has_begun() {
            break;
        }
        let rooms: Vec<(Uuid, Arc<Room>)> = match hub.rooms.lock() {
            Ok(rooms) => rooms.iter().map(|(k, v)| (*k, v.clone())).collect(),
            Err(_) => continue,
        };
        for (showtime, room) in rooms {
            let key = keys::seat_key(&app.redis, showtime, "epoch");
            let epoch: Option<String> = match app.redis.client().await.get(key).await {
                Ok(epoch) => epoch,
                // Redis away: the reconnection resynchronises every room.
                Err(_) => continue,
            };
            let mut guard = room.state.lock().await;
            if let Some(state) = guard.0.as_mut()
                && epoch.as_deref() != Some(&*state.epoch)
            {
                tracing::info!(%showtime, "a showtime's seats were lost from Redis; resynchronising");
                refresh(&app, showtime, &room, state).await;
            }
        }
    }
}

async fn resync_all(app: &App, hub: &Hub) {
    let rooms: Vec<(Uuid, Arc<Room>)> = match hub.rooms.lock() {
        Ok(rooms) => rooms.iter().map(|(k, v)| (*k, v.clone())).collect(),
        Err(_) => return,
    };
    for (showtime, room) in rooms {
        let mut guard = room.state.lock().await;
        if let Some(state) = guard.0.as_mut() {
            refresh(app, showtime, &room, state).await;
        }
    }
}

/// Reads a showtime's seats: holds, version and (when Redis knows them all) sold seats
/// from Redis in one step; otherwise what Postgres has sold, read after the version (a
/// sale is published after its commit, so anything up to the version read is already
/// in Postgres).
async fn load(app: &App, showtime: Uuid) -> AppResult<RoomState> {
    let room = super::rooms::room(app, showtime).await?;
    let mut holds = read_holds(&app.redis, &[showtime], app.now())
        .await?
        .remove(&showtime)
        .unwrap_or_default();
    // An ended showtime's keys were taken out of Redis (`ended`) and must stay out: its
    // seats come from Postgres, as below when Redis does not know them.
    if holds.epoch.is_empty() && room.showtime.end_time > app.now() {
        // Never used since Redis started: begin its epoch now, so that the first hold
        // does not look like lost data to this room.
        super::sync::ensure_booked(app, showtime).await?;
        holds = read_holds(&app.redis, &[showtime], app.now())
            .await?
            .remove(&showtime)
            .unwrap_or_default();
    }
    let booked: HashSet<String> = match holds.booked.take() {
        Some(booked) => booked.iter().cloned().collect(),
        None => {
            let mut conn = app.db().await?;
            booked_seats(&mut conn, &[showtime])
                .await?
                .remove(&showtime)
                .unwrap_or_default()
                .into_iter()
                .collect()
        }
    };
    Ok(RoomState {
        version: holds.version,
        epoch: holds.epoch.into(),
        ends_at: room.showtime.end_time,
        layout: room.layout.clone(),
        base_price: Money::new(room.showtime.base_price, app.config.currency),
        // Redis's, read at the version; the showtime's own list only when Redis does
        // not know them all.
        blocked: match holds.blocked.take() {
            Some(blocked) => blocked.iter().cloned().collect(),
            None => room
                .showtime
                .blocked_seats
                .iter()
                .flatten()
                .cloned()
                .collect(),
        },
        booked,
        held: holds.held,
    })
}
