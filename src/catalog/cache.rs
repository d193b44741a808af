//! The catalog as a home screen reads it (pages of movies, a movie's showtimes), kept
//! in memory: these reads are most of the traffic and change only when an admin
//! changes the catalog.
//!
//! An admin change clears this node's cache before it answers, and tells the other
//! nodes through Redis pub/sub; a node that lost its Redis subscription clears its
//! own (it may have missed a word). The time to live bounds what a lost message could
//! cost. A read that raced a clear is not kept: each entry remembers the generation
//! it was read in.
//!
//! The entries live in `moka` caches: they expire by themselves after the time to
//! live, and past [`MAX_ENTRIES`] (searches are free text) the least used go first
//! rather than the whole cache at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::sync::Cache;

use super::model::{Movie, Showtime};
use super::queries::ShowtimesOfMovie;
use super::queries::{MovieFilter, PageRequest};

/// Entries of each kind kept at most.
const MAX_ENTRIES: u64 = 4096;

pub type MoviePage = Arc<(Vec<Arc<Movie>>, i64)>;

pub struct CatalogCache {
    enabled: bool,
    /// Tells this node's words of a change from other nodes' (several nodes may share
    /// a process, as in the tests).
    origin: u64,
    /// Bumped by every clear; a read whose ticket is older is not kept.
    generation: AtomicU64,
    pages: Cache<(MovieFilter, PageRequest), MoviePage>,
    showtimes: Cache<ShowtimesOfMovie, Entry>,
}

#[derive(Clone)]
struct Entry {
    value: Arc<Vec<Showtime>>,
    /// The application clock when the rows were read: a showtime that ended since is
    /// left out when the entry is served.
    read_at: DateTime<Utc>,
}

/// Taken before reading Postgres, handed back with what was read.
#[derive(Clone, Copy)]
pub struct Ticket {
    generation: u64,
    read_at: DateTime<Utc>,
}

impl Ticket {
    /// The application clock when it was taken.
    pub fn read_at(&self) -> DateTime<Utc> {
        self.read_at
    }
}

impl CatalogCache {
    pub fn new(ttl: Duration) -> Self {
        // A zero time to live turns the cache off; moka is then given a nominal one,
        // and nothing is ever kept in it.
        let enabled = !ttl.is_zero();
        let ttl = ttl.max(Duration::from_millis(1));
        Self {
            enabled,
            origin: rand::random(),
            generation: AtomicU64::new(0),
            pages: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
            showtimes: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub fn ticket(&self, now: DateTime<Utc>) -> Option<Ticket> {
        self.enabled.then(|| Ticket {
            generation: self.generation.load(Ordering::Acquire),
            read_at: now,
        })
    }

    pub fn page(&self, filter: &MovieFilter, page: PageRequest) -> Option<MoviePage> {
        if !self.enabled {
            return None;
        }
        self.pages.get(&(filter.clone(), page))
    }

    pub fn keep_page(
        &self,
        ticket: Ticket,
        filter: MovieFilter,
        page: PageRequest,
        value: MoviePage,
    ) {
        let key = (filter, page);
        self.pages.insert(key.clone(), value);
        if !self.current(ticket) {
            self.pages.invalidate(&key);
        }
    }

    /// A movie's showtimes as of `now`, if they are in memory.
    pub fn showtimes(&self, key: &ShowtimesOfMovie, now: DateTime<Utc>) -> Option<Vec<Showtime>> {
        if !self.enabled {
            return None;
        }
        let entry = self.showtimes.get(key)?;
        if now < entry.read_at {
            return None;
        }
        let live: Vec<Showtime> = entry
            .value
            .iter()
            .filter(|s| s.end_time > now)
            .cloned()
            .collect();
        // The first `limit` less one that ended may not be the first `limit`: the one
        // after them is in Postgres.
        if key.limit.is_some() && live.len() < entry.value.len() {
            return None;
        }
        Some(live)
    }

    pub fn keep_showtimes(&self, ticket: Ticket, key: ShowtimesOfMovie, value: Arc<Vec<Showtime>>) {
        let entry = Entry {
            value,
            read_at: ticket.read_at,
        };
        self.showtimes.insert(key, entry);
        if !self.current(ticket) {
            self.showtimes.invalidate(&key);
        }
    }

    /// Whether nothing was cleared since `ticket` was taken. Asked after the insert:
    /// a clear that comes later removes the entry itself (moka's `invalidate_all`
    /// covers every entry inserted before it), and one that came earlier has bumped
    /// the generation, so the entry is taken out again here. Either way a read that
    /// raced a clear does not stay.
    pub fn current(&self, ticket: Ticket) -> bool {
        self.generation.load(Ordering::Acquire) == ticket.generation
    }

    /// Forgets everything; reads in flight will not be kept either.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.pages.invalidate_all();
        self.showtimes.invalidate_all();
    }
}

/// The Redis channel that carries "the catalog changed" to every node.
pub fn channel(app: &crate::app::App) -> String {
    app.redis.key("catalog:changed")
}

/// Takes the catalog's channel. Until it is in place, the time to live bounds what a
/// missed change costs.
pub fn listen(app: &crate::app::App) {
    app.pubsub.listen(
        crate::pubsub::Channels::Fixed(channel(app)),
        std::sync::Arc::new(Changes),
    );
}

/// Word of a change, or that words may have been missed: either way, forget.
struct Changes;

#[async_trait::async_trait]
impl crate::pubsub::Listener for Changes {
    async fn message(&self, app: &crate::app::App, _channel: &str, payload: String) {
        let word = Word::parse(&payload);
        // This node's own word: it cleared before sending it, and clearing again on its
        // echo would throw away what was read since, correctly, after the change.
        if word.origin == Some(app.catalog.origin) {
            return;
        }
        if let Some(lsn) = word.lsn {
            app.reads.raise_floor(lsn);
        }
        app.catalog.clear();
    }

    async fn missed(&self, app: &crate::app::App) {
        app.catalog.clear();
    }
}

/// After an admin change is committed: this node forgets at once, the others when
/// the word reaches them.
pub async fn changed(app: &crate::app::App) {
    publish(app, "1".to_owned()).await;
}

/// The same word, naming a showtime that changed (moved, repriced, cancelled), so that
/// every node also redraws its open seat maps of it (`seating::rooms`).
pub async fn showtime_changed(app: &crate::app::App, showtime: uuid::Uuid) {
    publish(app, format!("{SHOWTIME}{showtime}")).await;
}

/// How the word names a showtime.
pub const SHOWTIME: &str = "showtime:";

/// A word as it is sent: the change, where the primary's WAL stood once it was
/// committed (with a read replica), and the node that sent it:
/// `showtime:<id> @<lsn> #<node>`.
pub struct Word<'a> {
    pub change: &'a str,
    pub lsn: Option<u64>,
    pub origin: Option<u64>,
}

impl<'a> Word<'a> {
    pub fn parse(payload: &'a str) -> Self {
        let mut parts = payload.split(' ');
        let change = parts.next().unwrap_or_default();
        let (mut lsn, mut origin) = (None, None);
        for part in parts {
            if let Some(n) = part.strip_prefix('@') {
                lsn = n.parse().ok();
            } else if let Some(n) = part.strip_prefix('#') {
                origin = n.parse().ok();
            }
        }
        Self {
            change,
            lsn,
            origin,
        }
    }
}

async fn publish(app: &crate::app::App, change: String) {
    // Before the cache is cleared: a read that refills it must not come from a
    // replica that has not replayed this change (`reads`).
    let mut word = change;
    if let Some(lsn) = committed_position(app).await {
        app.reads.raise_floor(lsn);
        word.push_str(&format!(" @{lsn}"));
    }
    word.push_str(&format!(" #{}", app.catalog.origin));
    app.catalog.clear();
    use fred::prelude::PubsubInterface;
    let published: Result<i64, _> = app.redis.client().await.publish(channel(app), word).await;
    if let Err(e) = published {
        // The others keep what they have until their time to live runs out.
        tracing::warn!(error = %e, "could not tell the other nodes that the catalog changed");
    }
}

/// The primary's WAL position now, when a read replica is configured. Without it
/// (Postgres away), reads go on to the replica as before, bounded by the time to live.
async fn committed_position(app: &crate::app::App) -> Option<u64> {
    if !app.reads.has_replica() {
        return None;
    }
    let position = match app.db().await {
        Ok(mut conn) => crate::reads::primary_position(&mut conn).await,
        Err(e) => Err(crate::error::AppError::from(e)),
    };
    match position {
        Ok(lsn) => Some(lsn),
        Err(e) => {
            tracing::warn!(error = ?e, "could not read the primary's WAL position after a catalog change");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(search: &str) -> (MovieFilter, PageRequest) {
        (
            MovieFilter::new(None, None, Some(search.to_owned())).unwrap(),
            PageRequest::new(1, 20).unwrap(),
        )
    }

    fn page(total: i64) -> MoviePage {
        Arc::new((Vec::new(), total))
    }

    fn keep(cache: &CatalogCache, ticket: Ticket, search: &str, total: i64) {
        let (filter, request) = key(search);
        cache.keep_page(ticket, filter, request, page(total));
    }

    fn kept(cache: &CatalogCache, search: &str) -> Option<i64> {
        let (filter, request) = key(search);
        cache.page(&filter, request).map(|p| p.1)
    }

    #[test]
    fn pages_are_kept_until_their_time_to_live_or_a_clear() {
        let cache = CatalogCache::new(Duration::from_millis(150));
        let ticket = cache.ticket(Utc::now()).unwrap();
        keep(&cache, ticket, "a", 1);
        assert_eq!(kept(&cache, "a"), Some(1));
        assert_eq!(kept(&cache, "b"), None);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(kept(&cache, "a"), None, "outlived its time to live");

        let ticket = cache.ticket(Utc::now()).unwrap();
        keep(&cache, ticket, "a", 2);
        cache.clear();
        assert_eq!(kept(&cache, "a"), None, "cleared");
    }

    #[test]
    fn a_read_that_raced_a_clear_is_not_kept() {
        let cache = CatalogCache::new(Duration::from_secs(10));
        let before = cache.ticket(Utc::now()).unwrap();
        cache.clear();
        keep(&cache, before, "a", 1);
        assert_eq!(kept(&cache, "a"), None);
        let after = cache.ticket(Utc::now()).unwrap();
        keep(&cache, after, "a", 2);
        assert_eq!(kept(&cache, "a"), Some(2));
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let cache = CatalogCache::new(Duration::ZERO);
        assert!(cache.ticket(Utc::now()).is_none());
        assert_eq!(kept(&cache, "a"), None);
    }

    #[test]
    fn showtimes_are_not_served_to_a_clock_before_their_read() {
        let cache = CatalogCache::new(Duration::from_secs(10));
        let now = Utc::now();
        let key = ShowtimesOfMovie {
            movie: uuid::Uuid::new_v4(),
            date: None,
            theater: None,
            limit: None,
        };
        let ticket = cache.ticket(now).unwrap();
        cache.keep_showtimes(ticket, key, Arc::new(Vec::new()));
        assert_eq!(cache.showtimes(&key, now).map(|s| s.len()), Some(0));
        assert!(
            cache
                .showtimes(&key, now - chrono::Duration::seconds(1))
                .is_none()
        );
    }
}
