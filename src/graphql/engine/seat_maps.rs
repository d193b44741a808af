//! Seat maps read once per version. In a sale every refused buyer reads the same
//! showtime's map, and between two changes they all get the same answer: it is encoded
//! once per version and its bytes are shared by every reader who asks the same
//! question. A shared answer costs one Redis read (the showtime's version and epoch)
//! and no rendering (BENCHMARKS, issue 22: the flash sale).
//!
//! Shared: a query whose one root field is `showtime(id:)`, every field below which
//! (in fragments too) is one of [`SHARED_FIELDS`], from a caller who is not staff
//! (`blockedReason` is staff's alone; everyone else reads null). `heldByMe` is the one
//! field that differs between customers: an answer written for a caller who holds none
//! of its seats says false throughout, so it is shared only with callers who hold none
//! of them either, and an answer that selects it for a caller who does hold some is not
//! kept. The key is the query's text, its operation name and its variables.
//!
//! An answer is served while
//! - the showtime's version and epoch in Redis are those it was read at (every change
//!   to a seat, a block and a sale takes a new version; Redis losing the showtime's
//!   data takes a new epoch);
//! - no hold in it has lapsed (a lapsed hold leaves the map before the sweeper
//!   publishes its release: `Holds::lapses_at`);
//! - it was read whole from Redis (not partly from Postgres while Redis reloads);
//! - the catalog has not changed since (a cancelled or moved showtime), and it is
//!   younger than [`KEPT_FOR`].
//!
//! Hand-written on `moka`: which answers are the same for whom is a question of our
//! schema, which no crate answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::parser::types::{OperationType, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Request, Response, Value};
use bytes::Bytes;
use fred::interfaces::KeysInterface;
use moka::sync::Cache;
use uuid::Uuid;

use super::answers::operation_named;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::catalog::cache::Ticket;
use crate::db::enums::Role;
use crate::seating::holds::Holds;
use crate::seating::keys;

pub const KEPT_FOR: Duration = Duration::from_secs(2);
/// At most this many bytes of answers are kept (a 1,500-seat map is about 60 KiB).
const MAX_BYTES: u64 = 64 * 1024 * 1024;
const MAX_VARIABLES_BYTES: usize = 1024;

/// The fields of `Showtime` (below `showtime`), `SeatMap`, `SeatRow`, `Seat` and
/// `Money` whose values are the same for every customer at one version of the map.
pub const SHARED_FIELDS: &[&str] = &[
    "__typename",
    // Showtime
    "id",
    "seatMap",
    "availableSeats",
    // SeatMap, SeatRow
    "version",
    "rows",
    "label",
    "seats",
    // Seat
    "number",
    "column",
    "kind",
    "state",
    "heldByMe",
    "blockedReason",
    "price",
    // Money
    "amount",
    "currency",
];

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    query: Arc<str>,
    operation: Option<String>,
    variables: String,
}

/// What the seat-map resolvers read of a showtime, recorded for the request that may
/// keep its answer (put in its data by [`SeatMaps::answer`]'s caller; resolvers record
/// into it when present).
#[derive(Clone, Default)]
pub struct Reads(Arc<Mutex<Vec<Read>>>);

#[derive(Clone, PartialEq)]
struct Read {
    showtime: Uuid,
    version: i64,
    epoch: String,
    lapses_at: Option<i64>,
    holders: Vec<Uuid>,
    whole: bool,
}

impl Reads {
    pub fn record(&self, showtime: Uuid, holds: &Holds) {
        let mut holders: Vec<Uuid> = holds.held.values().copied().collect();
        holders.sort_unstable();
        holders.dedup();
        let read = Read {
            showtime,
            version: holds.version,
            epoch: holds.epoch.clone(),
            lapses_at: holds.lapses_at,
            holders,
            whole: holds.booked.is_some() && holds.blocked.is_some(),
        };
        if let Ok(mut reads) = self.0.lock()
            && !reads.contains(&read)
        {
            reads.push(read);
        }
    }

    /// The one read the answer was made of, if it was one.
    fn only(&self) -> Option<Read> {
        let reads = self.0.lock().ok()?;
        match reads.as_slice() {
            [read] => Some(read.clone()),
            _ => None,
        }
    }
}

/// A request whose answer may be shared.
pub struct Candidate {
    key: Key,
    showtime: Uuid,
    ticket: Ticket,
    held_by_me: bool,
    viewer: Option<Uuid>,
    reads: Reads,
}

impl Candidate {
    /// The request, when its answer can be shared (and the catalog cache is on).
    pub fn of(app: &App, request: &mut Request, viewer: Option<&Viewer>) -> Option<Self> {
        if viewer.is_some_and(|v| matches!(v.role, Role::Operator | Role::Admin)) {
            return None;
        }
        let ticket = app.catalog.ticket(app.now())?;
        if request.query.len() > super::documents::MAX_QUERY_BYTES {
            return None;
        }
        // Taken out (not cloned) while the document borrows the request, and put back:
        // every request passes here, and few are seat maps.
        let variables = std::mem::take(&mut request.variables);
        let found = Self::read(request, &variables, ticket, viewer);
        request.variables = variables;
        found
    }

    fn read(
        request: &mut Request,
        variables: &async_graphql::Variables,
        ticket: Ticket,
        viewer: Option<&Viewer>,
    ) -> Option<Self> {
        let operation_name = request.operation_name.clone();
        let document = super::document(request)?;
        let operation = operation_named(document, operation_name.as_deref())?;
        if operation.node.ty != OperationType::Query {
            return None;
        }
        let mut roots = operation.node.selection_set.node.items.iter().filter(
            |item| !matches!(&item.node, Selection::Field(f) if f.node.name.node == "__typename"),
        );
        let Some(Selection::Field(root)) = roots.next().map(|item| &item.node) else {
            return None;
        };
        if roots.next().is_some()
            || root.node.name.node != "showtime"
            || !root.node.directives.is_empty()
            || root.node.arguments.len() != 1
        {
            return None;
        }
        let (name, id) = &root.node.arguments[0];
        if name.node != "id" {
            return None;
        }
        let id = match &id.node {
            async_graphql_value::Value::String(id) => id.clone(),
            async_graphql_value::Value::Variable(var) => match variables.get(var) {
                Some(Value::String(id)) => id.clone(),
                _ => return None,
            },
            _ => return None,
        };
        let showtime = Uuid::parse_str(&id).ok()?;
        let mut held_by_me = false;
        let shared = fields_shared(&root.node.selection_set, &mut held_by_me)
            && document
                .fragments
                .values()
                .all(|f| fields_shared(&f.node.selection_set, &mut held_by_me));
        if !shared {
            return None;
        }
        let variables = serde_json::to_string(variables).ok()?;
        if variables.len() > MAX_VARIABLES_BYTES {
            return None;
        }
        Some(Self {
            key: Key {
                query: Arc::from(request.query.as_str()),
                operation: operation_name,
                variables,
            },
            showtime,
            ticket,
            held_by_me,
            viewer: viewer.map(|v| v.user_id),
            reads: Reads::default(),
        })
    }

    /// Whether this caller's answer, made of `read`, differs from everyone else's: it
    /// selects `heldByMe` and the caller holds seats in it.
    fn sees_own_holds(&self, read: &Read) -> bool {
        self.held_by_me
            && self
                .viewer
                .is_some_and(|me| read.holders.binary_search(&me).is_ok())
    }

    /// Where the resolvers record what they read: goes into the request's data.
    pub fn reads(&self) -> Reads {
        self.reads.clone()
    }
}

/// Whether every field below `set` is one of `SHARED_FIELDS`; notes a `heldByMe`.
fn fields_shared(set: &Positioned<SelectionSet>, held_by_me: &mut bool) -> bool {
    set.node.items.iter().all(|item| match &item.node {
        Selection::Field(field) => {
            let field = &field.node;
            let name: &Name = &field.name.node;
            *held_by_me |= name == "heldByMe";
            SHARED_FIELDS.contains(&name.as_str())
                && fields_shared(&field.selection_set, held_by_me)
        }
        Selection::InlineFragment(fragment) => {
            fields_shared(&fragment.node.selection_set, held_by_me)
        }
        Selection::FragmentSpread(_) => true,
    })
}

struct Kept {
    read: Read,
    ticket: Ticket,
    body: Bytes,
}

pub struct SeatMaps {
    kept: Cache<Key, Arc<Kept>>,
}

impl Default for SeatMaps {
    fn default() -> Self {
        Self {
            kept: Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|_, kept: &Arc<Kept>| u32::try_from(kept.body.len()).unwrap_or(u32::MAX))
                .time_to_live(KEPT_FOR)
                .build(),
        }
    }
}

impl SeatMaps {
    /// The bytes of the answer kept for this request, if they are still the map's.
    pub async fn get(&self, app: &App, candidate: &Candidate) -> Option<Bytes> {
        let kept = self.kept.get(&candidate.key)?;
        let read = &kept.read;
        if read.showtime != candidate.showtime || !app.catalog.current(kept.ticket) {
            return None;
        }
        if candidate.sees_own_holds(read) {
            return None;
        }
        if read
            .lapses_at
            .is_some_and(|ms| app.now().timestamp_millis() >= ms)
        {
            return None;
        }
        let (version, epoch) = version_and_epoch(app, read.showtime).await?;
        (version == read.version && epoch == read.epoch).then(|| kept.body.clone())
    }

    /// Encodes an answer, and keeps it when it can be shared: the bytes to send, or
    /// `None` when it was not kept (the caller encodes it as any other).
    pub fn keep(&self, app: &App, candidate: Candidate, response: &Response) -> Option<Bytes> {
        if !response.errors.is_empty() {
            return None;
        }
        let read = candidate.reads.only()?;
        if read.showtime != candidate.showtime || !read.whole {
            return None;
        }
        if candidate.sees_own_holds(&read) {
            return None;
        }
        let body = Bytes::from(serde_json::to_vec(response).ok()?);
        self.kept.insert(
            candidate.key.clone(),
            Arc::new(Kept {
                read,
                ticket: candidate.ticket,
                body: body.clone(),
            }),
        );
        if !app.catalog.current(candidate.ticket) {
            self.kept.invalidate(&candidate.key);
        }
        Some(body)
    }
}

/// The showtime's version and epoch now, in one Redis read (both keys carry the
/// showtime's hash tag, so one slot of a cluster has them).
async fn version_and_epoch(app: &App, showtime: Uuid) -> Option<(i64, String)> {
    let redis = &app.redis;
    let keys = vec![
        keys::seat_key(redis, showtime, "version"),
        keys::seat_key(redis, showtime, "epoch"),
    ];
    let values: Vec<Option<String>> = redis.client().await.mget(keys).await.ok()?;
    let mut values = values.into_iter();
    let version = values
        .next()
        .flatten()
        .map_or(Some(0), |v| v.parse::<i64>().ok())?;
    let epoch = values.next().flatten().unwrap_or_default();
    Some((version, epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(query: &str) -> Option<bool> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let op = operation_named(&document, None)?;
        let Some(Selection::Field(root)) =
            op.node.selection_set.node.items.first().map(|i| &i.node)
        else {
            return None;
        };
        let mut held = false;
        let ok = fields_shared(&root.node.selection_set, &mut held)
            && document
                .fragments
                .values()
                .all(|f| fields_shared(&f.node.selection_set, &mut held));
        ok.then_some(held)
    }

    #[test]
    fn only_what_every_customer_sees_alike_is_shared() {
        assert_eq!(
            shared(
                "{ showtime(id: \"x\") { seatMap { version rows { label seats { number state price { amount } } } } } }"
            ),
            Some(false)
        );
        assert_eq!(
            shared(
                "{ showtime(id: \"x\") { ...F } } fragment F on Showtime { availableSeats seatMap { rows { seats { heldByMe } } } }"
            ),
            Some(true)
        );
        // The catalog's fields, the waiting list's, anything personal: not here.
        assert_eq!(
            shared("{ showtime(id: \"x\") { startTime seatMap { version } } }"),
            None
        );
        assert_eq!(
            shared("{ showtime(id: \"x\") { myWaitlistEntry { id } } }"),
            None
        );
        assert_eq!(
            shared("{ showtime(id: \"x\") { ...F } } fragment F on Showtime { movie { title } }"),
            None
        );
    }
}
