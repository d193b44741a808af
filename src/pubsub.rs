//! Redis pub/sub: one subscriber connection per process, and the dispatch of what
//! arrives on it to the listeners that registered its channels. Seat maps (a channel
//! per showtime), live notifications (a channel per user), the catalog cache and the
//! websockets' sign-ins each register here; none of them knows of the others.
//!
//! Messages reach a listener one at a time, in the order they arrived. When messages
//! may have been lost (the connection came back, the stream lagged, subscriptions
//! were restored) every listener hears `missed`, and reloads what it keeps.
//!
//! A SUBSCRIBE that fails does not fail the caller, and is tried again until Redis
//! takes it; then its listener hears `resubscribed`, since it may have missed
//! messages meanwhile. Without this, a room or inbox opened while subscribing failed
//! stayed deaf after Redis came back. It fails in two ways:
//!
//! - the subscriber connection is away: the channel is kept as wanted (`deferred`)
//!   and subscribed every sweep interval until that succeeds;
//! - Redis refuses it (an error reply, e.g. NOPERM when the ACL denies channels):
//!   fred's subscriber never sees that reply (it takes a SUBSCRIBE as done once
//!   written, and drops the error as unsolicited) and believes itself subscribed.
//!   So every sweep interval the node asks Redis how many channels its subscriber
//!   connection really has (`CLIENT LIST TYPE pubsub`, by the connection's name);
//!   fewer than fred believes, twice running, and it subscribes them all again.
//!   Not on a Redis Cluster, whose subscriptions are spread over its nodes; there
//!   the reconnection's re-subscribe is all there is.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use fred::clients::SubscriberClient;
use fred::prelude::*;
use tokio::sync::broadcast;

use crate::app::App;
use crate::error::{AppError, AppResult, LogDisplay, Service};

/// Publishes `message` as JSON on `channel` (a channel name with its prefix).
pub async fn publish_json<T: serde::Serialize>(
    app: &App,
    channel: String,
    message: &T,
) -> AppResult<()> {
    let body = serde_json::to_string(message).map_err(AppError::internal)?;
    let _: i64 = app.redis.pool().next().publish(channel, body).await?;
    Ok(())
}

/// What a domain does with the messages of its channels.
#[async_trait]
pub trait Listener: Send + Sync + 'static {
    /// One message on one of its channels.
    async fn message(&self, app: &App, channel: &str, payload: String);

    /// Messages may have been lost on any channel: start again from the source.
    async fn missed(&self, app: &App);

    /// One of its channels was subscribed late, after a failure: messages on it may
    /// have been lost meanwhile.
    async fn resubscribed(&self, app: &App, _channel: &str) {
        self.missed(app).await;
    }
}

/// Which channels a listener takes.
pub enum Channels {
    /// One channel, subscribed for as long as the process runs.
    Fixed(String),
    /// Channels starting with this, subscribed and unsubscribed as the listener
    /// needs them (`subscribe`, `unsubscribe_unless`).
    Prefixed(String),
}

impl Channels {
    fn covers(&self, channel: &str) -> bool {
        match self {
            Self::Fixed(name) => name == channel,
            Self::Prefixed(prefix) => channel.starts_with(prefix.as_str()),
        }
    }
}

#[derive(Clone)]
pub struct PubSub(Arc<Inner>);

struct Inner {
    subscriber: SubscriberClient,
    /// Held around SUBSCRIBE and UNSUBSCRIBE, so that a listener closing a channel and
    /// another reopening it cannot leave the channel unsubscribed.
    channel_ops: tokio::sync::Mutex<()>,
    listeners: RwLock<Vec<(Channels, Arc<dyn Listener>)>>,
    /// Channels wanted whose SUBSCRIBE could not be sent, to try again.
    deferred: Mutex<HashSet<String>>,
}

impl PubSub {
    pub fn new(redis_url: &str) -> anyhow::Result<Self> {
        let config = Config::from_url(redis_url)?;
        let subscriber = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                // Named, so that operators (and tests) can find this connection.
                c.auto_client_setname = true;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_subscriber_client()?;
        Ok(Self(Arc::new(Inner {
            subscriber,
            channel_ops: tokio::sync::Mutex::new(()),
            listeners: RwLock::new(Vec::new()),
            deferred: Mutex::new(HashSet::new()),
        })))
    }

    /// Gives a listener its channels. A fixed channel is subscribed at once (or as
    /// soon as Redis takes it).
    pub fn listen(&self, channels: Channels, listener: Arc<dyn Listener>) {
        let fixed = match &channels {
            Channels::Fixed(name) => Some(name.clone()),
            Channels::Prefixed(_) => None,
        };
        if let Ok(mut listeners) = self.0.listeners.write() {
            listeners.push((channels, listener));
        }
        if let Some(channel) = fixed
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let inner = self.0.clone();
            runtime.spawn(async move {
                let _ops = inner.channel_ops.lock().await;
                inner.subscribe_or_defer(channel).await;
            });
        }
    }

    /// Connects and starts dispatching. Called once the `App` exists.
    pub fn start(&self, app: &Arc<App>) {
        let inner = self.0.clone();
        inner.subscriber.connect();
        let period = app.config.holds.sweep_interval;
        tokio::spawn(recover(Arc::downgrade(app), inner.clone(), period));
        tokio::spawn(dispatch(Arc::downgrade(app), inner));
    }

    /// Subscribes to a channel of a `Prefixed` listener. A SUBSCRIBE that fails is
    /// retried until it succeeds (see the module's docs), so this does not fail for
    /// Redis's sake.
    pub async fn subscribe(&self, channel: &str) -> AppResult<()> {
        let _ops = self.0.channel_ops.lock().await;
        self.0.subscribe_or_defer(channel.to_owned()).await;
        Ok(())
    }

    /// Unsubscribes from a channel in the background, unless `still_wanted` says
    /// (under the lock that subscribing takes) that it is wanted again meanwhile.
    pub fn unsubscribe_unless(
        &self,
        channel: String,
        still_wanted: impl FnOnce() -> bool + Send + 'static,
    ) {
        let inner = self.0.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ops = inner.channel_ops.lock().await;
                if !still_wanted() {
                    inner.forget_deferred(&channel);
                    let _ = inner.subscriber.unsubscribe(channel).await;
                }
            });
        }
    }

    /// The name of the subscriber connection (`CLIENT LIST` shows it).
    pub fn connection_name(&self) -> String {
        self.0.subscriber.id().to_owned()
    }
}

impl Inner {
    /// Every listener of the channel: several may share one (the catalog's word is
    /// heard by the catalog cache and by the rooms cache).
    fn listeners_of(&self, channel: &str) -> Vec<Arc<dyn Listener>> {
        self.listeners
            .read()
            .map(|listeners| {
                listeners
                    .iter()
                    .filter(|(channels, _)| channels.covers(channel))
                    .map(|(_, listener)| listener.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn all_listeners(&self) -> Vec<Arc<dyn Listener>> {
        self.listeners
            .read()
            .map(|l| l.iter().map(|(_, listener)| listener.clone()).collect())
            .unwrap_or_default()
    }

    async fn missed(&self, app: &App) {
        for listener in self.all_listeners() {
            listener.missed(app).await;
        }
    }

    /// SUBSCRIBEs to a channel, or keeps it to be tried again when that fails. The
    /// caller holds `channel_ops`.
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
                tracing::warn!(error = %LogDisplay(&e), %channel, "could not subscribe; retrying");
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
        tokio::time::timeout(Duration::from_secs(2), self.subscriber.wait_for_connect())
            .await
            .map_err(|_| AppError::Unavailable {
                service: Service::Redis,
                cause: anyhow::anyhow!("Redis subscriber not connected"),
            })??;
        Ok(())
    }

    /// SUBSCRIBEs again to every channel the subscriber believes it has.
    async fn resubscribe(&self) {
        let channels: Vec<String> = self
            .subscriber
            .tracked_channels()
            .into_iter()
            .map(|c| c.to_string())
            .collect();
        if channels.is_empty() {
            return;
        }
        let _ops = self.channel_ops.lock().await;
        if let Err(e) = self.subscriber.subscribe(channels).await {
            tracing::warn!(error = %e, "re-subscribing failed; retrying");
        }
    }

    /// SUBSCRIBEs what could not be sent before; its listener hears of it.
    async fn retry_deferred(&self, app: &App) {
        let deferred: Vec<String> = match self.deferred.lock() {
            Ok(deferred) => deferred.iter().cloned().collect(),
            Err(_) => return,
        };
        for channel in deferred {
            let subscribed = {
                let _ops = self.channel_ops.lock().await;
                // Still wanted: unsubscribing takes it out of the set.
                let wanted = self.deferred.lock().is_ok_and(|d| d.contains(&channel));
                wanted && self.subscriber.subscribe(channel.clone()).await.is_ok()
            };
            if subscribed {
                self.forget_deferred(&channel);
                tracing::info!(%channel, "subscribed after a failed attempt");
                for listener in self.listeners_of(&channel) {
                    listener.resubscribed(app, &channel).await;
                }
            }
        }
    }

    /// Whether Redis holds fewer channels for the subscriber connection than it
    /// believes it has; `None` when that cannot be told (Redis away, or a cluster).
    async fn missing_subscriptions(&self, app: &App) -> Option<bool> {
        if self.subscriber.is_clustered() {
            return None;
        }
        let wanted = self.subscriber.tracked_channels().len();
        let clients: String = app
            .redis
            .client()
            .await
            .custom(fred::cmd!("CLIENT"), vec!["LIST", "TYPE", "pubsub"])
            .await
            .ok()?;
        let name = format!("name={}", self.subscriber.id());
        // A connection with no channel left is not listed: it holds none.
        let held = clients
            .lines()
            .find(|line| line.split(' ').any(|field| field == name))
            .and_then(|line| line.split(' ').find_map(|f| f.strip_prefix("sub=")))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        Some(held < wanted)
    }
}

/// Hands each message to its channel's listener, and tells every listener when
/// messages may have been lost.
async fn dispatch(app: Weak<App>, inner: Arc<Inner>) {
    let mut messages = inner.subscriber.message_rx();
    let mut reconnects = inner.subscriber.reconnect_rx();
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Ok(message) => {
                    let Some(app) = app.upgrade() else { break };
                    let channel = message.channel.to_string();
                    let listeners = inner.listeners_of(&channel);
                    let Ok(payload) = message.value.convert::<String>() else { continue };
                    for listener in listeners {
                        listener.message(&app, &channel, payload.clone()).await;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // We cannot know what was lost: everyone starts again.
                    tracing::warn!(lost = n, "pub/sub stream lagged; resynchronising");
                    let Some(app) = app.upgrade() else { break };
                    inner.missed(&app).await;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            reconnect = reconnects.recv() => match reconnect {
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    tracing::info!("Redis subscriber reconnected; resynchronising");
                    // Subscribe again first, then read: a message published in
                    // between is then either in what is read or delivered.
                    if let Err(e) = inner.subscriber.resubscribe_all().await {
                        tracing::error!(error = %e, "re-subscribing after a reconnect failed");
                    }
                    let Some(app) = app.upgrade() else { break };
                    inner.retry_deferred(&app).await;
                    inner.missed(&app).await;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
}

/// Every sweep interval: what could not be subscribed is tried again, and what Redis
/// refused is subscribed again (see the module's docs); listeners that may have
/// missed messages meanwhile hear of it once their channels are in place.
async fn recover(app: Weak<App>, inner: Arc<Inner>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Redis held fewer channels than wanted at the last tick (once may be a
    // SUBSCRIBE still on its way).
    let mut suspect = false;
    // Channels were missing: every listener starts again once they are all in place.
    let mut missed = false;
    loop {
        tick.tick().await;
        let Some(app) = app.upgrade() else { break };
        if app.shutdown.has_begun() {
            break;
        }
        if !inner.subscriber.is_connected() {
            continue;
        }
        inner.retry_deferred(&app).await;
        match inner.missing_subscriptions(&app).await {
            Some(true) if suspect => {
                tracing::warn!("Redis holds fewer channels than subscribed; subscribing again");
                inner.resubscribe().await;
                (suspect, missed) = (false, true);
            }
            Some(true) => suspect = true,
            Some(false) => {
                suspect = false;
                if missed {
                    missed = false;
                    tracing::info!("subscriptions restored; resynchronising");
                    inner.missed(&app).await;
                }
            }
            None => {}
        }
    }
}

/// The local side of a `Prefixed` listener whose channels are one per key (a
/// showtime's check-ins): a broadcast per key with subscribers on this node, opened
/// with the first (which SUBSCRIBEs its channel) and closed with the last (which
/// UNSUBSCRIBEs it, unless another opened it meanwhile).
pub struct Fanout<T> {
    rooms: Mutex<std::collections::HashMap<uuid::Uuid, Room<T>>>,
}

struct Room<T> {
    sender: broadcast::Sender<Arc<T>>,
    subscriptions: usize,
}

impl<T> Default for Fanout<T> {
    fn default() -> Self {
        Self {
            rooms: Mutex::new(std::collections::HashMap::new()),
        }
    }
}

/// How far a local subscriber may fall behind before it misses items.
const FANOUT_BACKLOG: usize = 64;

impl<T: Send + Sync + 'static> Fanout<T> {
    /// Hands an item to the key's subscribers on this node, if there are any.
    pub fn send(&self, key: uuid::Uuid, item: T) {
        let sender = self
            .rooms
            .lock()
            .ok()
            .and_then(|rooms| rooms.get(&key).map(|r| r.sender.clone()));
        if let Some(sender) = sender {
            let _ = sender.send(Arc::new(item));
        }
    }

    /// Joins the key's room; true when it was the first here.
    fn open(&self, key: uuid::Uuid) -> AppResult<(broadcast::Receiver<Arc<T>>, bool)> {
        let mut rooms = self
            .rooms
            .lock()
            .map_err(|_| AppError::internal(anyhow::anyhow!("fan-out lock poisoned")))?;
        let room = rooms.entry(key).or_insert_with(|| Room {
            sender: broadcast::channel(FANOUT_BACKLOG).0,
            subscriptions: 0,
        });
        room.subscriptions += 1;
        Ok((room.sender.subscribe(), room.subscriptions == 1))
    }

    /// Leaves the key's room; true when it was the last here.
    fn close(&self, key: uuid::Uuid) -> bool {
        let Ok(mut rooms) = self.rooms.lock() else {
            return false;
        };
        let Some(room) = rooms.get_mut(&key) else {
            return false;
        };
        room.subscriptions = room.subscriptions.saturating_sub(1);
        if room.subscriptions == 0 {
            rooms.remove(&key);
            return true;
        }
        false
    }

    fn is_open(&self, key: uuid::Uuid) -> bool {
        self.rooms
            .lock()
            .map(|r| r.contains_key(&key))
            .unwrap_or(true)
    }
}

/// A subscriber's place in its key's room; the last one out unsubscribes.
pub struct Subscription<T: Send + Sync + 'static> {
    fanout: Arc<Fanout<T>>,
    pubsub: PubSub,
    key: uuid::Uuid,
    channel: String,
    pub receiver: broadcast::Receiver<Arc<T>>,
}

impl<T: Send + Sync + 'static> Subscription<T> {
    /// Joins the key's room, and SUBSCRIBEs `channel` when this is the first here.
    pub async fn open(
        fanout: &Arc<Fanout<T>>,
        pubsub: &PubSub,
        key: uuid::Uuid,
        channel: String,
    ) -> AppResult<Self> {
        let (receiver, first) = fanout.open(key)?;
        // The place exists before the SUBSCRIBE, so that if anything fails its drop
        // closes the room: a room left open with no subscription would make every
        // later subscriber skip the SUBSCRIBE, and hear nothing.
        let subscription = Self {
            fanout: fanout.clone(),
            pubsub: pubsub.clone(),
            key,
            channel: channel.clone(),
            receiver,
        };
        if first {
            // A SUBSCRIBE that fails is retried until Redis takes it.
            pubsub.subscribe(&channel).await?;
        }
        Ok(subscription)
    }
}

impl<T: Send + Sync + 'static> Subscription<T> {
    /// The items as a stream, until the room closes. A subscriber that fell more than
    /// the backlog behind has lost some and carries on with the next: a fan-out carries
    /// news, and each user of one says where the record is.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Arc<T>> {
        futures_util::stream::unfold(self, |mut subscription| async move {
            loop {
                match subscription.receiver.recv().await {
                    Ok(item) => return Some((item, subscription)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }
}

impl<T: Send + Sync + 'static> Drop for Subscription<T> {
    fn drop(&mut self) {
        if self.fanout.close(self.key) {
            let (fanout, key) = (self.fanout.clone(), self.key);
            self.pubsub
                .unsubscribe_unless(self.channel.clone(), move || fanout.is_open(key));
        }
    }
}
