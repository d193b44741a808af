//! Live seat maps. One Redis subscriber connection per process; per showtime, a room
//! opened with its first local subscriber and closed with its last. A room keeps the
//! showtime's seat states, applies the published changes in version order, and hands
//! each change to its local subscribers once, as one shared event.
//!
//! A room subscribes to Redis first and reads its snapshot second; changes that were
//! buffered meanwhile are applied only above the snapshot's version, so nothing is
//! missed and nothing doubled. A gap in the versions, a version going backwards (Redis
//! lost its data) or a reconnection makes the room reload and tell its subscribers to
//! start again from a snapshot.
//!
//! A SUBSCRIBE that fails does not fail the subscriber, and is tried again until
//! Redis takes it; then the rooms reload, since they may have missed changes
//! meanwhile. Without this, a room or inbox opened while subscribing failed stayed
//! deaf after Redis came back. It fails in two ways:
//!
//! - the subscriber connection is away: the channel is kept as wanted
//!   (`deferred`) and subscribed every sweep interval until that succeeds;
//! - Redis refuses it (an error reply, e.g. NOPERM when the ACL denies channels):
//!   fred's subscriber never sees that reply (it takes a SUBSCRIBE as done once
//!   written, and drops the error as unsolicited) and believes itself subscribed.
//!   So every sweep interval the node asks Redis how many channels its subscriber
//!   connection really has (`CLIENT LIST TYPE pubsub`, by the connection's name);
//!   fewer than fred believes, twice running, and it subscribes them all again.
//!   Not on a Redis Cluster, whose subscriptions are spread over its nodes; there
//!   the reconnection's re-subscribe is all there is.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use fred::clients::SubscriberClient;
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

#[derive(Debug)]
pub enum LiveEvent {
    Changes {
        version: i64,
        changes: Vec<(String, SeatState)>,
        available: usize,
        /// Its GraphQL payloads, built once for all the room's subscribers.
        rendered: super::event_json::Rendered,
    },
    /// Start again from a snapshot: the room could not prove it missed nothing.
    Resync,
}

/// The seats of one showtime as the room knows them.
pub struct RoomState {
    pub version: i64,
    epoch: String,
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

    fn apply(&mut self, change: &[String]) -> Option<(String, SeatState)> {
        let (seat, state) = (change.first()?.clone(), change.get(1)?.as_str());
        self.held.remove(&seat);
        let state = match state {
            "HELD" => {
                let holder = change
                    .get(2)
                    .and_then(|u| Uuid::parse_str(u).ok())
                    .unwrap_or_default();
                self.held.insert(seat.clone(), holder);
                SeatState::Held
            }
            "BOOKED" => {
                self.booked.insert(seat.clone());
                SeatState::Booked
            }
            "BLOCKED" => {
                self.blocked.insert(seat.clone());
                SeatState::Blocked
            }
            _ => {
                self.booked.remove(&seat);
                self.blocked.remove(&seat);
                SeatState::Available
            }
        };
        Some((seat, state))
    }
}

#[derive(Deserialize)]
struct Published {
    v: i64,
    #[serde(default)]
    e: String,
    c: Vec<Vec<String>>,
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
    subscriber: SubscriberClient,
    /// Held around SUBSCRIBE and UNSUBSCRIBE, so that a room closing and one reopening
    /// for the same showtime cannot leave the channel unsubscribed.
    channel_ops: tokio::sync::Mutex<()>,
    /// How many events a slow subscriber may fall behind before it gets a snapshot.
    backlog: usize,
    rooms: Mutex<HashMap<Uuid, Arc<Room>>>,
    /// Users with live notification subscriptions on this node.
    inboxes: crate::notifications::live::Inboxes,
    /// Channels wanted whose SUBSCRIBE could not be sent, to try again
    /// (`recover_subscriptions`).
    deferred: Mutex<HashSet<String>>,
}

impl LiveHub {
    pub fn new(redis_url: &str, backlog: usize) -> anyhow::Result<Self> {
        let config = Config::from_url(redis_url)?;
        let subscriber = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = std::time::Duration::from_secs(2);
                // Named, so that operators (and tests) can find this connection.
                c.auto_client_setname = true;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_subscriber_client()?;
        Ok(Self(Arc::new(Hub {
            subscriber,
            channel_ops: tokio::sync::Mutex::new(()),
            backlog,
            rooms: Mutex::new(HashMap::new()),
            inboxes: Default::default(),
            deferred: Mutex::new(HashSet::new()),
        })))
    }

    /// Connects and starts delivering. Called once the `App` exists.
    pub fn start(&self, app: &Arc<App>) {
        let hub = self.0.clone();
        hub.subscriber.connect();
        let weak = Arc::downgrade(app);
        let mut messages = hub.subscriber.message_rx();
        let mut reconnects = hub.subscriber.reconnect_rx();
        let prefix = app.redis.key("seatmap:");
        let notify_prefix = app.redis.key("notify:");
        let catalog_channel = crate::catalog::cache::channel(app);
        let sessions_channel = crate::auth::sessions::channel(app);
        let catalog = (hub.clone(), catalog_channel.clone());
        tokio::spawn(async move { subscribe_catalog(&catalog.0, catalog.1).await });
        tokio::spawn(audit_epochs(
            Arc::downgrade(app),
            hub.clone(),
            app.config.holds.sweep_interval,
        ));
        tokio::spawn(recover_subscriptions(
            Arc::downgrade(app),
            hub.clone(),
            app.config.holds.sweep_interval,
        ));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = messages.recv() => match message {
                        Ok(message) => {
                            let Some(app) = weak.upgrade() else { break };
                            let channel = message.channel.to_string();
                            if channel == catalog_channel {
                                app.catalog.clear();
                                continue;
                            }
                            if channel == sessions_channel {
                                if let Ok(text) = message.value.convert::<String>() {
                                    app.websockets.session_ended(&text);
                                }
                                continue;
                            }
                            if channel.starts_with(&notify_prefix) {
                                if let Ok(text) = message.value.convert::<String>() {
                                    hub.inboxes.deliver(&text);
                                }
                                continue;
                            }
                            let Some(showtime) = channel
                                .strip_prefix(&prefix)
                                .map(|rest| rest.trim_matches(|c| c == '{' || c == '}'))
                                .and_then(|id| Uuid::parse_str(id).ok())
                            else {
                                continue;
                            };
                            let Ok(text) = message.value.convert::<String>() else { continue };
                            let Ok(published) = serde_json::from_str::<Published>(&text) else {
                                tracing::warn!(%channel, "unreadable seat change");
                                continue;
                            };
                            let room = hub.rooms.lock().ok().and_then(|r| r.get(&showtime).cloned());
                            if let Some(room) = room {
                                deliver(&app, showtime, &room, published).await;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            // We cannot know what was lost: every room starts again.
                            tracing::warn!(lost = n, "seat change stream lagged; resynchronising");
                            let Some(app) = weak.upgrade() else { break };
                            resync_all(&app, &hub).await;
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    reconnect = reconnects.recv() => match reconnect {
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                            tracing::info!("Redis subscriber reconnected; resynchronising live seat maps");
                            // Subscribe again first, then read: a change published in
                            // between is then either in the snapshot or delivered.
                            if let Err(e) = hub.subscriber.resubscribe_all().await {
                                tracing::error!(error = %e, "re-subscribing after a reconnect failed");
                            }
                            subscribe_catalog(&hub, catalog_channel.clone()).await;
                            let Some(app) = weak.upgrade() else { break };
                            // Catalog changes may have been missed too.
                            app.catalog.clear();
                            resync_all(&app, &hub).await;
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        });
    }

    pub fn inboxes(&self) -> &crate::notifications::live::Inboxes {
        &self.0.inboxes
    }

    /// Subscribes this node's subscriber connection to a channel.
    /// A SUBSCRIBE that fails is retried until it succeeds (see the module's docs), so
    /// this does not fail for Redis's sake.
    pub async fn subscribe_channel(&self, channel: &str) -> AppResult<()> {
        let _ops = self.0.channel_ops.lock().await;
        self.0.subscribe_or_defer(channel.to_owned()).await;
        Ok(())
    }

    /// Unsubscribes from a channel in the background, unless `still_wanted` says a
    /// subscriber came back meanwhile.
    pub fn unsubscribe_channel_unless(
        &self,
        channel: String,
        still_wanted: impl FnOnce() -> bool + Send + 'static,
    ) {
        let hub = self.0.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ops = hub.channel_ops.lock().await;
                if !still_wanted() {
                    hub.forget_deferred(&channel);
                    let _ = hub.subscriber.unsubscribe(channel).await;
                }
            });
        }
    }

    /// The name of the subscriber connection (`CLIENT LIST` shows it).
    pub fn connection_name(&self) -> String {
        self.0.subscriber.id().to_owned()
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
            let _ops = self.0.channel_ops.lock().await;
            self.0.subscribe_or_defer(channel).await;
        }
        let mut guard = room.state.lock().await;
        if guard.0.is_none() {
            let mut state = load(app, showtime).await?;
            // Changes published while the snapshot was read: keep those above it.
            let pending = std::mem::take(&mut guard.1);
            for published in pending {
                let same_epoch = published.e == state.epoch;
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
}

/// Until this is in place, the catalog cache's time to live bounds what a missed
/// change costs.
async fn subscribe_catalog(hub: &Hub, channel: String) {
    hub.subscribe_or_defer(channel).await;
}

/// SUBSCRIBEs again to every channel the subscriber believes it has.
async fn resubscribe(hub: &Hub) {
    let channels: Vec<String> = hub
        .subscriber
        .tracked_channels()
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    if channels.is_empty() {
        return;
    }
    let _ops = hub.channel_ops.lock().await;
    if let Err(e) = hub.subscriber.subscribe(channels).await {
        tracing::warn!(error = %e, "re-subscribing failed; retrying");
    }
}

/// Every sweep interval: what could not be subscribed is tried again, and what Redis
/// refused is subscribed again (see the module's docs); rooms that may have missed
/// changes meanwhile reload once their channels are in place.
async fn recover_subscriptions(
    app: std::sync::Weak<App>,
    hub: Arc<Hub>,
    period: std::time::Duration,
) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Redis held fewer channels than wanted at the last tick (once may be a
    // SUBSCRIBE still on its way).
    let mut suspect = false;
    // Channels were missing: every room reloads once they are all in place.
    let mut missed = false;
    loop {
        tick.tick().await;
        let Some(app) = app.upgrade() else { break };
        if app.shutdown.has_begun() {
            break;
        }
        if !hub.subscriber.is_connected() {
            continue;
        }
        retry_deferred(&app, &hub).await;
        match missing_subscriptions(&app, &hub).await {
            Some(true) if suspect => {
                tracing::warn!("Redis holds fewer channels than subscribed; subscribing again");
                resubscribe(&hub).await;
                (suspect, missed) = (false, true);
            }
            Some(true) => suspect = true,
            Some(false) => {
                suspect = false;
                if missed {
                    missed = false;
                    tracing::info!("subscriptions restored; resynchronising live seat maps");
                    app.catalog.clear();
                    resync_all(&app, &hub).await;
                }
            }
            None => {}
        }
    }
}

/// SUBSCRIBEs what could not be sent before; a room whose channel it is reloads.
async fn retry_deferred(app: &App, hub: &Hub) {
    let deferred: Vec<String> = match hub.deferred.lock() {
        Ok(deferred) => deferred.iter().cloned().collect(),
        Err(_) => return,
    };
    for channel in deferred {
        let subscribed = {
            let _ops = hub.channel_ops.lock().await;
            // Still wanted: closing the room or inbox takes it out of the set.
            let wanted = hub.deferred.lock().is_ok_and(|d| d.contains(&channel));
            wanted && hub.subscriber.subscribe(channel.clone()).await.is_ok()
        };
        if subscribed {
            hub.forget_deferred(&channel);
            tracing::info!(%channel, "subscribed after a failed attempt");
            reload_room_of(app, hub, &channel).await;
        }
    }
}

/// Whether Redis holds fewer channels for the subscriber connection than it believes
/// it has; `None` when that cannot be told (Redis away, or a cluster).
async fn missing_subscriptions(app: &App, hub: &Hub) -> Option<bool> {
    if hub.subscriber.is_clustered() {
        return None;
    }
    let wanted = hub.subscriber.tracked_channels().len();
    let clients: String = app
        .redis
        .client()
        .await
        .custom(fred::cmd!("CLIENT"), vec!["LIST", "TYPE", "pubsub"])
        .await
        .ok()?;
    let name = format!("name={}", hub.subscriber.id());
    // A connection with no channel left is not listed: it holds none.
    let held = clients
        .lines()
        .find(|line| line.split(' ').any(|field| field == name))
        .and_then(|line| line.split(' ').find_map(|f| f.strip_prefix("sub=")))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    Some(held < wanted)
}

/// Reloads the room whose channel this is, if one is open: it may have missed
/// changes while the channel was not subscribed.
async fn reload_room_of(app: &App, hub: &Hub, channel: &str) {
    let room = hub.rooms.lock().ok().and_then(|rooms| {
        rooms
            .iter()
            .find(|(showtime, _)| keys::channel(&app.redis, **showtime) == channel)
            .map(|(showtime, room)| (*showtime, room.clone()))
    });
    let Some((showtime, room)) = room else {
        return;
    };
    let mut guard = room.state.lock().await;
    if let Some(state) = guard.0.as_mut() {
        reload(app, showtime, &room, state).await;
    }
}

impl Hub {
    /// SUBSCRIBEs to a channel, or keeps it to be tried again when that fails. The
    /// caller holds `channel_ops` (or is the start-up or reconnection path).
    async fn subscribe_or_defer(&self, channel: String) {
        let subscribed = match self.connected().await {
            Ok(()) => self
                .subscriber
                .subscribe(channel.clone())
                .await
                .map_err(AppError::from),
            Err(e) => Err(e),
        };
        match subscribed {
            Ok(()) => self.forget_deferred(&channel),
            Err(e) => {
                tracing::warn!(error = %crate::error::LogDisplay(&e), %channel, "could not subscribe; retrying");
                if let Ok(mut deferred) = self.deferred.lock() {
                    deferred.insert(channel);
                }
            }
        }
    }

    fn forget_deferred(&self, channel: &str) {
        if let Ok(mut deferred) = self.deferred.lock() {
            deferred.remove(channel);
        }
    }

    /// Waits for the subscriber connection (a cluster needs its routing table before
    /// it can route a SUBSCRIBE), for as long as a Redis command may take.
    async fn connected(&self) -> AppResult<()> {
        tokio::time::timeout(
            std::time::Duration::from_secs(2),
            self.subscriber.wait_for_connect(),
        )
        .await
        .map_err(|_| AppError::internal(anyhow::anyhow!("Redis subscriber not connected")))??;
        Ok(())
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
    ) -> Option<((SeatMap, usize), broadcast::Receiver<Arc<LiveEvent>>)> {
        let guard = self.room.state.lock().await;
        let receiver = self.room.events.subscribe();
        guard.0.as_ref().map(|state| (state.snapshot(me), receiver))
    }

    pub async fn snapshot(&self, me: Option<Uuid>) -> Option<(SeatMap, usize)> {
        let guard = self.room.state.lock().await;
        guard.0.as_ref().map(|state| state.snapshot(me))
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
        let (showtime, channel) = (self.showtime, self.channel.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ops = hub.channel_ops.lock().await;
                // A subscriber may have reopened the room meanwhile: keep its channel.
                let reopened = hub
                    .rooms
                    .lock()
                    .map(|r| r.contains_key(&showtime))
                    .unwrap_or(true);
                if !reopened {
                    hub.forget_deferred(&channel);
                    let _ = hub.subscriber.unsubscribe(channel).await;
                }
            });
        }
    }
}

async fn deliver(app: &App, showtime: Uuid, room: &Room, published: Published) {
    let mut guard = room.state.lock().await;
    let Some(state) = guard.0.as_mut() else {
        guard.1.push(published);
        return;
    };
    let same_epoch = published.e == state.epoch;
    if same_epoch && published.v == state.version + 1 {
        let changes: Vec<(String, SeatState)> =
            published.c.iter().filter_map(|c| state.apply(c)).collect();
        state.version = published.v;
        let event = LiveEvent::Changes {
            version: published.v,
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

/// Redis can lose a showtime's data with nothing published after it (no one holds a
/// seat there again): each open room checks its epoch every `period`, and one that
/// is gone or changed makes the room reload and its subscribers start again.
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
                && epoch.as_deref() != Some(state.epoch.as_str())
            {
                tracing::info!(%showtime, "a showtime's seats were lost from Redis; resynchronising");
                reload(&app, showtime, &room, state).await;
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
            reload(app, showtime, &room, state).await;
        }
    }
}

/// Reads a showtime's seats: holds, version and (when Redis knows them all) sold seats
/// from Redis in one step; otherwise what Postgres has sold, read after the version (a
/// sale is published after its commit, so anything up to the version read is already
/// in Postgres).
async fn load(app: &App, showtime: Uuid) -> AppResult<RoomState> {
    let mut holds = read_holds(&app.redis, &[showtime], app.now())
        .await?
        .remove(&showtime)
        .unwrap_or_default();
    if holds.epoch.is_empty() {
        // Never used since Redis started: begin its epoch now, so that the first hold
        // does not look like lost data to this room.
        super::sync::ensure_booked(app, showtime).await?;
        holds = read_holds(&app.redis, &[showtime], app.now())
            .await?
            .remove(&showtime)
            .unwrap_or_default();
    }
    let room = super::rooms::room(app, showtime).await?;
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
        epoch: holds.epoch,
        layout: room.layout.clone(),
        base_price: Money::new(room.showtime.base_price, app.config.currency),
        blocked: room
            .showtime
            .blocked_seats
            .iter()
            .flatten()
            .cloned()
            .collect(),
        booked,
        held: holds.held,
    })
}
