//! Limits on a query's shape that async-graphql's depth and complexity limits leave
//! open, checked on the parsed document before async-graphql looks at it further:
//!
//! - **Fragment bombs.** Validation walks every fragment spread inline, so a few
//!   hundred bytes of fragments that each spread the one before twice cost 2^n
//!   steps (2^20 take a second). A document whose operations, fragments expanded,
//!   select more than [`MAX_EXPANDED_FIELDS`] fields is refused; the count is
//!   computed once per fragment, so checking costs no more than the document's size.
//! - **Aliased `__typename`.** The complexity limit does not count `__typename`, so
//!   thousands of aliases of it inside a page of 100 items would answer with
//!   hundreds of thousands of values. Clients select it unaliased (repeats merge into
//!   one key); at most [`MAX_TYPENAME_ALIASES`] aliased ones are allowed.
//! - **Aliased mutations.** Rate limits count requests (and bookings and failed
//!   logins, each), but not registrations or other writes: at most
//!   [`MAX_MUTATIONS`] root fields per mutation.
//! - **Introspection in production.** `__schema` and `__type` answer admins only
//!   (for GraphiQL, with the admin's token in its headers); everyone else is refused
//!   before anything runs. `schema.graphql` in the repository is the public contract;
//!   a live server does not hand its schema to strangers. `__typename` stays open:
//!   Apollo Client selects it everywhere. In development introspection is open.
//!   `GRAPHQL_INTROSPECTION` (`open`, `admins`, `off`) overrides either default.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, Positioned, Request, ServerError, ServerResult};

use crate::auth::model::Viewer;
use crate::config::Introspection;
use crate::db::enums::Role;
use crate::error::AppError;

/// Fields an operation may select with its fragments expanded; far above any client
/// query (the full GraphiQL introspection query is a few hundred).
pub const MAX_EXPANDED_FIELDS: u64 = 10_000;
/// Aliased `__typename` selections per operation, fragments expanded.
pub const MAX_TYPENAME_ALIASES: u64 = 10;
/// Root fields of a mutation operation.
pub const MAX_MUTATIONS: u64 = 5;

/// Whether introspection is closed to this caller under `policy`.
pub fn introspection_closed(policy: Introspection, viewer: Option<&Viewer>) -> bool {
    introspection_refusal(policy, viewer).is_some()
}

/// Whether this caller is refused introspection under `policy`, and how.
fn introspection_refusal(policy: Introspection, viewer: Option<&Viewer>) -> Option<AppError> {
    match policy {
        Introspection::Open => return None,
        Introspection::Off => {
            return Some(AppError::Forbidden {
                message: "introspection is turned off; the schema is in schema.graphql".to_owned(),
            });
        }
        Introspection::Admins => {}
    }
    match viewer {
        Some(v) if v.role == Role::Admin => None,
        Some(_) => Some(AppError::Forbidden {
            message: "introspection is for admins only".to_owned(),
        }),
        None => Some(AppError::Unauthenticated {
            message: "sign in as an admin to introspect the schema".to_owned(),
        }),
    }
}

/// Checks a request's document before async-graphql's own checks: those (the
/// recursion depth, the directive count, validation) follow every fragment spread, and
/// so are exponential in a fragment bomb. The document parsed here stays in the
/// request and is not parsed again. A query that does not parse is left for the
/// executor to report.
pub fn admit(
    mut request: Request,
    viewer: Option<&Viewer>,
    policy: Introspection,
) -> ServerResult<Request> {
    let refusal = introspection_refusal(policy, viewer);
    let closed = refusal.is_some();
    let mut nul_variable = super::nul::in_variables(&request.variables);
    let nul_written = super::nul::may_write_nul(&request.query);
    if let Ok(document) = request.parsed_query() {
        if let Some(refusal) = refusal
            && introspects(document)
        {
            let mut error =
                async_graphql::Error::from(refusal).into_server_error(Default::default());
            // Refused as a whole: there is no one position to point at.
            error.locations.clear();
            return Err(error);
        }
        check(document)?;
        super::nul::check(Some(document), nul_variable.take(), nul_written)?;
    }
    super::nul::check(None, nul_variable, false)?;
    if closed {
        // Belt and braces: should `introspects` ever miss a way to reach `__schema`,
        // the executor still answers it with nothing.
        request = request.disable_introspection();
    }
    Ok(request)
}

/// What a selection set amounts to once its fragments are expanded.
#[derive(Clone, Copy, Default)]
struct Size {
    /// Fields selected directly (through fragments, not inside sub-selections).
    top: u64,
    /// Fields selected at any level.
    all: u64,
    /// Aliased `__typename` selections at any level.
    typename_aliases: u64,
}

impl Size {
    fn add(&mut self, other: Size) {
        self.top = self.top.saturating_add(other.top);
        self.all = self.all.saturating_add(other.all);
        self.typename_aliases = self.typename_aliases.saturating_add(other.typename_aliases);
    }
}

/// Sizes of fragments, each computed once. A fragment being computed counts as
/// empty when met again: a cycle, which validation refuses anyway.
struct Sizes<'a> {
    document: &'a ExecutableDocument,
    known: HashMap<&'a str, Option<Size>>,
}

impl<'a> Sizes<'a> {
    fn of_set(&mut self, set: &'a Positioned<SelectionSet>) -> Size {
        let mut size = Size::default();
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner = self.of_set(&field.selection_set);
                    let typename_alias = field.name.node == "__typename" && field.alias.is_some();
                    size.add(Size {
                        top: 1,
                        all: inner.all.saturating_add(1),
                        typename_aliases: inner
                            .typename_aliases
                            .saturating_add(u64::from(typename_alias)),
                    });
                }
                Selection::InlineFragment(fragment) => {
                    size.add(self.of_set(&fragment.node.selection_set));
                }
                Selection::FragmentSpread(spread) => {
                    size.add(self.of_fragment(spread.node.fragment_name.node.as_str()));
                }
            }
        }
        size
    }

    fn of_fragment(&mut self, name: &'a str) -> Size {
        if let Some(known) = self.known.get(name) {
            return known.unwrap_or_default();
        }
        let Some((key, fragment)) = self.document.fragments.get_key_value(name) else {
            return Size::default();
        };
        self.known.insert(key.as_str(), None);
        let size = self.of_set(&fragment.node.selection_set);
        self.known.insert(key.as_str(), Some(size));
        size
    }
}

fn refused(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "BAD_USER_INPUT");
    error.extensions = Some(extensions);
    error
}

fn check(document: &ExecutableDocument) -> ServerResult<()> {
    let mut sizes = Sizes {
        document,
        known: HashMap::new(),
    };
    for (_, operation) in document.operations.iter() {
        let size = sizes.of_set(&operation.node.selection_set);
        if size.all > MAX_EXPANDED_FIELDS {
            return Err(refused(format!(
                "the query selects too many fields with its fragments expanded \
                 (at most {MAX_EXPANDED_FIELDS})"
            )));
        }
        if size.typename_aliases > MAX_TYPENAME_ALIASES {
            return Err(refused(format!(
                "too many aliases of __typename (at most {MAX_TYPENAME_ALIASES})"
            )));
        }
        if operation.node.ty == OperationType::Mutation && size.top > MAX_MUTATIONS {
            return Err(refused(format!(
                "too many mutations in one request (at most {MAX_MUTATIONS})"
            )));
        }
    }
    Ok(())
}

/// Whether any field of the document is `__schema` or `__type`. Every field is
/// looked at, in operations and fragments alike: they can only be asked on Query.
fn introspects(document: &ExecutableDocument) -> bool {
    fn walk(set: &Positioned<SelectionSet>) -> bool {
        set.node.items.iter().any(|item| match &item.node {
            Selection::Field(field) => {
                matches!(field.node.name.node.as_str(), "__schema" | "__type")
                    || walk(&field.node.selection_set)
            }
            Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set),
            Selection::FragmentSpread(_) => false,
        })
    }
    document
        .operations
        .iter()
        .any(|(_, op)| walk(&op.node.selection_set))
        || document
            .fragments
            .values()
            .any(|f| walk(&f.node.selection_set))
}
