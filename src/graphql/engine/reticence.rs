//! What a caller to whom introspection is closed learns from a query that fails
//! validation: that it failed, and nothing of the schema.
//!
//! Closing `__schema` is not enough. async-graphql's validation errors name the
//! schema: "Did you mean \"movies\"?" (turned off in the schema such callers get,
//! see `AppSchema`), and also the types of what a guess hit ("Field \"movies\" of
//! type \"MoviePage!\" must have a selection of subfields", "argument \"id\" of type
//! \"ID!\" is required"), and, by an error's absence, which guessed names exist.
//! `clairvoyance` rebuilds a schema from those messages, a word list at a time. So
//! for such callers a document that fails validation gets one error, the same
//! whatever was wrong with it, with no position. Errors that name nothing (a syntax
//! error, a depth or complexity limit) are left as they are; async-graphql puts
//! every name it mentions in double quotes, which is how they are told apart.
//!
//! Clients written against `schema.graphql` do not send invalid documents; their
//! developers work against a development server (or with an admin's token), where
//! errors say everything.

use async_graphql::{ErrorExtensionValues, Response, ServerError, Value};

pub const MESSAGE: &str = "the query does not match the schema; schema.graphql is the contract \
     (validation errors are detailed only where introspection is allowed)";

/// Replaces the validation errors of a response by one that says nothing of the
/// schema. Errors from execution (they have a path) and from the pipeline's own
/// checks (they have a code) are not validation errors and are kept.
pub fn conceal(response: &mut Response) {
    let before_execution = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    if !before_execution {
        return;
    }
    let from_validation = |e: &ServerError| {
        e.extensions
            .as_ref()
            .is_none_or(|x| x.get("code").is_none())
    };
    let names_something = response
        .errors
        .iter()
        .any(|e| from_validation(e) && e.message.contains('"'));
    if !names_something {
        return;
    }
    let mut error = ServerError::new(MESSAGE, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", "BAD_USER_INPUT");
    error.extensions = Some(extensions);
    response.errors = vec![error];
}
