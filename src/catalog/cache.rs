//! The catalog as a home screen reads it (pages of movies, a movie's showtimes), kept
//! in memory: these reads are most of the traffic and change only when an admin
//! changes the catalog.
//!
//! An admin change clears this node's cache before it answers, and tells the other
//! nodes through Redis pub/sub; a node that lost its Redis subscription clears its
//! own (it may have missed a word). The time to live bounds what a lost message could
//! cost. A read that raced a clear is not kept: each entry remembers the generation
//! it was read in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::model::{Movie, Showtime};
use super::queries::{MovieFilter, PageRequest};
use super::queries::ShowtimesOfMovie;

/// More distinct reads than this (searches are free text) and the cache starts over.
const MAX_ENTRIES: usize = 4096;

pub type MoviePage = Arc<(Vec<Arc<Movie>>, i64)>;

pub struct CatalogCache {
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    pages: HashMap<(MovieFilter, PageRequest), Entry<MoviePage>>,
    showtimes: HashMap<ShowtimesOfMovie, Entry<Arc<Vec<Showtime>>>>,
}

struct Entry<T> {
    value: T,
    stored: Instant,
    /// The application clock when the rows were read: a showtime that ended since is
    /// left out when the entry is served.
    read_at: DateTime<Utc>,
}

impl<T> Entry<T> {
    fn new(value: T, ticket: Ticket) -> Self {
        Self {
            value,
            stored: Instant::now(),
            read_at: ticket.read_at,
        }
    }
}

/// Taken before reading Postgres, handed back with what was read.
#[derive(Clone, Copy)]
pub struct Ticket {
    generation: u64,
    read_at: DateTime<Utc>,
}

impl CatalogCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    pub fn ticket(&self, now: DateTime<Utc>) -> Option<Ticket> {
        if !self.enabled() {
            return None;
        }
        let inner = self.inner.lock().ok()?;
        Some(Ticket {
            generation: inner.generation,
            read_at: now,
        })
    }

    pub fn page(&self, filter: &MovieFilter, page: PageRequest) -> Option<MoviePage> {
        let inner = self.inner.lock().ok()?;
        let entry = inner.pages.get(&(filter.clone(), page))?;
        (entry.stored.elapsed() < self.ttl).then(|| entry.value.clone())
    }

    pub fn keep_page(
        &self,
        ticket: Ticket,
        filter: MovieFilter,
        page: PageRequest,
        value: MoviePage,
    ) {
        if let Some(mut inner) = self.admit(ticket) {
            inner
                .pages
                .insert((filter, page), Entry::new(value, ticket));
        }
    }

    /// A movie's showtimes as of `now`, if they are in memory.
    pub fn showtimes(&self, key: &ShowtimesOfMovie, now: DateTime<Utc>) -> Option<Vec<Showtime>> {
        let inner = self.inner.lock().ok()?;
        let entry = inner.showtimes.get(key)?;
        if entry.stored.elapsed() >= self.ttl || now < entry.read_at {
            return None;
        }
        Some(
            entry
                .value
                .iter()
                .filter(|s| s.end_time > now)
                .cloned()
                .collect(),
        )
    }

    pub fn keep_showtimes(&self, ticket: Ticket, key: ShowtimesOfMovie, value: Arc<Vec<Showtime>>) {
        if let Some(mut inner) = self.admit(ticket) {
            inner.showtimes.insert(key, Entry::new(value, ticket));
        }
    }

    /// The cache, to store what was read with `ticket`, unless the catalog changed
    /// while it was read (what was read may predate the change).
    fn admit(&self, ticket: Ticket) -> Option<std::sync::MutexGuard<'_, Inner>> {
        let mut inner = self.inner.lock().ok()?;
        if inner.generation != ticket.generation {
            return None;
        }
        if inner.pages.len() + inner.showtimes.len() >= MAX_ENTRIES {
            inner.pages.clear();
            inner.showtimes.clear();
        }
        Some(inner)
    }

    /// Forgets everything; reads in flight will not be kept either.
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.pages.clear();
            inner.showtimes.clear();
        }
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
    async fn message(&self, app: &crate::app::App, _channel: &str, _payload: String) {
        app.catalog.clear();
    }

    async fn missed(&self, app: &crate::app::App) {
        app.catalog.clear();
    }
}

/// After an admin change is committed: this node forgets at once, the others when
/// the word reaches them.
pub async fn changed(app: &crate::app::App) {
    app.catalog.clear();
    use fred::prelude::PubsubInterface;
    let published: Result<i64, _> = app.redis.client().await.publish(channel(app), "1").await;
    if let Err(e) = published {
        // The others keep what they have until their time to live runs out.
        tracing::warn!(error = %e, "could not tell the other nodes that the catalog changed");
    }
}
