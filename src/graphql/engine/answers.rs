//! Whole answers to the catalog's public queries, kept for a second: a home screen
//! asked a thousand times a second is resolved once a second, not a thousand times
//! (BENCHMARKS, issue 22: the catalog against PostGraphile).
//!
//! An operation is kept only when nothing in it can depend on who asks or change
//! without the catalog changing: a query whose root fields are `movies`, `movie` or
//! `showtimes`, every field of which (in fragments too) is one of [`KEPT_FIELDS`], the
//! catalog's own fields (no seat map, no seats left, nothing of an admin's). An answer
//! with errors is not kept. The key is the query's text, its operation name and its
//! variables.
//!
//! It lives while the catalog does: an admin change, on any node, clears the catalog
//! (`catalog::cache`), and an answer read before that clear is not served after it
//! (the catalog's ticket). And for [`KEPT_FOR`] at most, on the wall clock and on the
//! application's, so that a showtime that has ended leaves the listings within it.
//! With the catalog cache off (`CATALOG_CACHE_TTL_MS=0`), nothing is kept.
//!
//! Hand-written on `moka`, as the other caches: what is worth keeping is a question
//! of our schema, which no crate answers.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Positioned, Request, Response, Value};
use moka::sync::Cache;

use crate::app::App;
use crate::catalog::cache::Ticket;

pub const KEPT_FOR: Duration = Duration::from_secs(1);
const MAX_ANSWERS: u64 = 1024;
/// Variables longer than this (as JSON) make an operation not worth keeping.
const MAX_VARIABLES_BYTES: usize = 1024;

const ROOTS: &[&str] = &["movies", "movie", "showtimes"];

/// The fields of the catalog's types whose values change only with the catalog and
/// are the same for every caller: Movie, Showtime (not `availableSeats`, `seatMap` or
/// the waiting list), Screen, Theater, Money, AgeRating, TicketPrice, MoviePage,
/// Pagination. The roots are among them.
pub const KEPT_FIELDS: &[&str] = &[
    "__typename",
    // Movie
    "ageRating",
    "backdropUrl",
    "cast",
    "description",
    "director",
    "duration",
    "genres",
    "id",
    "posterUrl",
    "rating",
    "releaseDate",
    "showtimes",
    "status",
    "title",
    "trailerUrl",
    // Showtime
    "basePrice",
    "cancelReason",
    "endTime",
    "movie",
    "onSaleAt",
    "queue",
    "queueRate",
    "screen",
    "startTime",
    "ticketPrices",
    // Screen, Theater
    "screenNumber",
    "theater",
    "totalSeats",
    "location",
    "name",
    "screens",
    "timezone",
    // Money, AgeRating, TicketPrice
    "amount",
    "currency",
    "code",
    "minAge",
    "system",
    "fixedPrice",
    "percentOfSeatPrice",
    "ticketType",
    // MoviePage, Pagination
    "movies",
    "pagination",
    "limit",
    "page",
    "total",
    "totalPages",
];

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key {
    query: Arc<str>,
    operation: Option<String>,
    variables: String,
}

struct Kept {
    data: Arc<Value>,
    ticket: Ticket,
}

pub struct Answers {
    kept: Cache<Key, Arc<Kept>>,
}

impl Default for Answers {
    fn default() -> Self {
        Self {
            kept: Cache::builder()
                .max_capacity(MAX_ANSWERS)
                .time_to_live(KEPT_FOR)
                .build(),
        }
    }
}

impl Answers {
    /// The key of a request worth keeping, with the catalog's ticket; `None` for one
    /// that is not (or when the catalog cache is off).
    pub fn key(app: &App, request: &mut Request) -> Option<(Key, Ticket)> {
        let ticket = app.catalog.ticket(app.now())?;
        if request.query.len() > super::documents::MAX_QUERY_BYTES {
            return None;
        }
        let operation = request.operation_name.clone();
        let document = super::document(request)?;
        // Every operation comes here: the cheap look at its fields first, and the
        // variables written out only for one worth keeping.
        if !keepable(document, operation.as_deref()) {
            return None;
        }
        let variables = serde_json::to_string(&request.variables).ok()?;
        if variables.len() > MAX_VARIABLES_BYTES {
            return None;
        }
        Some((
            Key {
                query: Arc::from(request.query.as_str()),
                operation,
                variables,
            },
            ticket,
        ))
    }

    /// Whether the request's operation reads nothing but the public catalog: its answer
    /// is the same for everyone, so a shared cache (a CDN) may keep it.
    pub fn is_public(request: &mut Request) -> bool {
        let operation = request.operation_name.clone();
        super::document(request).is_some_and(|d| keepable(d, operation.as_deref()))
    }

    /// The answer kept under `key`, if the catalog has not changed since it was read
    /// and it is younger than `KEPT_FOR` on the application's clock.
    pub fn get(&self, app: &App, key: &Key) -> Option<Response> {
        let kept = self.kept.get(key)?;
        let now = app.now();
        let age = now.signed_duration_since(kept.ticket.read_at());
        let young = age >= chrono::Duration::zero()
            && age < chrono::Duration::from_std(KEPT_FOR).unwrap_or_default();
        (young && app.catalog.current(kept.ticket)).then(|| Response::new((*kept.data).clone()))
    }

    /// Keeps an answer without errors, unless the catalog changed while it was read.
    pub fn keep(&self, app: &App, key: Key, ticket: Ticket, response: &Response) {
        if !response.errors.is_empty() {
            return;
        }
        let kept = Arc::new(Kept {
            data: Arc::new(response.data.clone()),
            ticket,
        });
        self.kept.insert(key.clone(), kept);
        if !app.catalog.current(ticket) {
            self.kept.invalidate(&key);
        }
    }
}

/// The operation of a document that runs when `name` is asked for: the one named, or
/// the only one (a single named operation runs without being named).
pub(super) fn operation_named<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether the operation that runs is a query of the catalog's alone.
fn keepable(document: &ExecutableDocument, name: Option<&str>) -> bool {
    let Some(operation) = operation_named(document, name) else {
        return false;
    };
    if operation.node.ty != OperationType::Query {
        return false;
    }
    let roots_kept = operation.node.selection_set.node.items.iter().all(|item| {
        matches!(&item.node, Selection::Field(f)
            if ROOTS.contains(&f.node.name.node.as_str()) || f.node.name.node == "__typename")
    });
    roots_kept
        && fields_kept(&operation.node.selection_set)
        && document
            .fragments
            .values()
            .all(|f| fields_kept(&f.node.selection_set))
}

/// Whether every field below `set` is one of `KEPT_FIELDS` (fragments are looked at
/// on their own).
fn fields_kept(set: &Positioned<SelectionSet>) -> bool {
    set.node.items.iter().all(|item| match &item.node {
        Selection::Field(field) => {
            let field = &field.node;
            KEPT_FIELDS.contains(&field.name.node.as_str()) && fields_kept(&field.selection_set)
        }
        Selection::InlineFragment(fragment) => fields_kept(&fragment.node.selection_set),
        Selection::FragmentSpread(_) => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(query: &str, name: Option<&str>) -> bool {
        let document = async_graphql::parser::parse_query(query).unwrap();
        keepable(&document, name)
    }

    #[test]
    fn only_queries_of_the_catalogs_own_fields_are_kept() {
        assert!(kept(
            "{ movies(limit: 20) { movies { id title showtimes(limit: 10) { id startTime basePrice { amount } } } } }",
            None
        ));
        assert!(kept(
            "query Q($id: ID!) { movie(id: $id) { ...F } } fragment F on Movie { title ageRating { code } }",
            None
        ));
        // Live or personal fields, other roots, mutations: not kept.
        assert!(!kept(
            "{ movies { movies { showtimes { availableSeats } } } }",
            None
        ));
        assert!(!kept(
            "{ movies { movies { showtimes { seatMap { version } } } } }",
            None
        ));
        assert!(!kept(
            "{ movie(id: \"x\") { ...F } } fragment F on Movie { showtimes { waitlistLength } }",
            None
        ));
        assert!(!kept("{ movies { movies { id } } me { id } }", None));
        assert!(!kept("{ showtime(id: \"x\") { id } }", None));
        assert!(!kept("mutation { movies { movies { id } } }", None));
        assert!(!kept("{ __schema { types { name } } }", None));
        // Of several operations, the one named.
        let two = "query A { movies { movies { id } } } query B { me { id } }";
        assert!(kept(two, Some("A")));
        assert!(!kept(two, Some("B")));
        assert!(!kept(two, None));
    }
}
