//! What is observed of every operation, around the executor: each error gets a code,
//! and each operation's outcome and latency are recorded. Operations are named by
//! their first root field when the schema has it, and `other` when it does not, so
//! the metrics' label space is bounded by the schema, whatever names clients send.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationType, Selection, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Pos, Request, Response};

use crate::graphql::error::{between, code_of, label_errors};
use crate::metrics::Metrics;

/// An operation on its way through: what it is called, and where each argument's
/// value stands in the query, to name the argument of an error that only carries a
/// position (a scalar that failed to parse).
pub struct Observed {
    label: String,
    arguments: Vec<(Pos, String)>,
    started: Instant,
}

impl Observed {
    /// Reads the request's document (parsing it, once: the executor reuses it).
    pub fn of(request: &mut Request) -> Self {
        let started = Instant::now();
        let (label, arguments) = match request.parsed_query() {
            Ok(document) => (
                operation_label(document).unwrap_or_else(|| "invalid".to_owned()),
                argument_positions(document),
            ),
            Err(_) => ("invalid".to_owned(), Vec::new()),
        };
        Self {
            label,
            arguments,
            started,
        }
    }

    /// The operation's bounded name (`query.movies`, `other`, `invalid`).
    pub fn name(&self) -> &str {
        &self.label
    }

    /// Gives every error of a response a code.
    pub fn label(&self, response: &mut Response) {
        for error in &mut response.errors {
            if error
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some())
            {
                continue;
            }
            if let Some(field) = failed_input_field(&error.message) {
                let extensions = error.extensions.get_or_insert_with(Default::default);
                extensions.set("code", "BAD_USER_INPUT");
                extensions.set("field", field);
            }
        }
        label_errors(&mut response.errors, &self.arguments);
    }

    /// Labels the response and records the operation's outcome and latency.
    pub fn finish(&self, metrics: &Metrics, response: &mut Response) {
        self.label(response);
        let outcome = response.errors.first().map(code_of).unwrap_or("OK");
        metrics.observe_graphql(&self.label, outcome, self.started.elapsed());
    }
}

/// The label of operations whose first root field the schema does not have.
pub const OTHER: &str = "other";

/// `query.movies`, from the first root field of the first operation; [`OTHER`] for
/// a root field the schema does not have (the label would be the client's to choose).
pub fn operation_label(document: &ExecutableDocument) -> Option<String> {
    let (_, operation) = document.operations.iter().next()?;
    let kind = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let field = operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.as_str()),
            _ => None,
        })?;
    let known = matches!(field, "__typename" | "__schema" | "__type")
        || root_fields().contains(&(kind, field.to_owned()));
    if !known {
        return Some(OTHER.to_owned());
    }
    Some(format!("{kind}.{field}"))
}

/// The schema's root fields as (`query`, `movies`), read once from its SDL.
fn root_fields() -> &'static HashSet<(&'static str, String)> {
    static FIELDS: OnceLock<HashSet<(&'static str, String)>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let Ok(document) = async_graphql::parser::parse_schema(crate::graphql::sdl()) else {
            return HashSet::new();
        };
        let mut fields = HashSet::new();
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let kind = match ty.node.name.node.as_str() {
                "Query" => "query",
                "Mutation" => "mutation",
                "Subscription" => "subscription",
                _ => continue,
            };
            if let TypeKind::Object(object) = &ty.node.kind {
                for field in &object.fields {
                    fields.insert((kind, field.node.name.node.to_string()));
                }
            }
        }
        fields
    })
}

fn argument_positions(document: &ExecutableDocument) -> Vec<(Pos, String)> {
    super::arguments::arguments(document)
        .into_iter()
        .map(|a| (a.pos, a.name.to_owned()))
        .collect()
}

/// `Failed to parse "Date": … (occurred while parsing "CreateMovieInput")` names the
/// scalar and the input type but not the field; when exactly one field of that input
/// type has that scalar type, that is the field.
fn failed_input_field(message: &str) -> Option<String> {
    let scalar = between(message, "Failed to parse \"", "\"")?;
    let input = between(message, "occurred while parsing \"", "\"")?;
    let mut candidates = input_fields()
        .get(input)?
        .iter()
        .filter(|(_, ty)| ty == scalar);
    match (candidates.next(), candidates.next()) {
        (Some((only, _)), None) => Some(only.clone()),
        _ => None,
    }
}

/// Each input type's fields with their named type (lists and non-null stripped),
/// read once from the schema's SDL.
fn input_fields() -> &'static HashMap<String, Vec<(String, String)>> {
    static FIELDS: OnceLock<HashMap<String, Vec<(String, String)>>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        fn named(ty: &Type) -> String {
            match &ty.base {
                BaseType::Named(name) => name.to_string(),
                BaseType::List(inner) => named(inner),
            }
        }
        let Ok(document) = async_graphql::parser::parse_schema(crate::graphql::sdl()) else {
            return HashMap::new();
        };
        document
            .definitions
            .iter()
            .filter_map(|definition| match definition {
                TypeSystemDefinition::Type(ty) => match &ty.node.kind {
                    TypeKind::InputObject(input) => Some((
                        ty.node.name.node.to_string(),
                        input
                            .fields
                            .iter()
                            .map(|f| (f.node.name.node.to_string(), named(&f.node.ty.node)))
                            .collect(),
                    )),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    })
}
