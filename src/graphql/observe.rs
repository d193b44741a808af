//! A request extension: labels every error with a code, and records each operation's
//! outcome and latency. Operations are named by their first root field, a set the
//! schema bounds, so clients cannot blow up the metrics' label space.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{Pos, Positioned, Response, ServerResult, Variables};

use super::error::{between, code_of, label_errors};
use crate::http::metrics::Metrics;

pub struct Observe {
    metrics: Metrics,
}

impl Observe {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveRequest {
            metrics: self.metrics.clone(),
            operation: Mutex::new(None),
            arguments: Mutex::new(Vec::new()),
        })
    }
}

struct ObserveRequest {
    metrics: Metrics,
    operation: Mutex<Option<String>>,
    /// Where each argument's value stands in the query, to name the argument of an
    /// error that only carries a position (a scalar that failed to parse).
    arguments: Mutex<Vec<(Pos, String)>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            if error
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some())
            {
                continue;
            }
            if let Some(field) = failed_input_field(&ctx.schema_env.registry, &error.message) {
                let extensions = error.extensions.get_or_insert_with(Default::default);
                extensions.set("code", "BAD_USER_INPUT");
                extensions.set("field", field);
            }
        }
        let arguments = self.arguments.lock().map(|a| a.clone()).unwrap_or_default();
        label_errors(&mut response.errors, &arguments);
        let operation = self
            .operation
            .lock()
            .ok()
            .and_then(|mut op| op.take())
            .unwrap_or_else(|| "invalid".to_owned());
        let outcome = response.errors.first().map(code_of).unwrap_or("OK");
        self.metrics
            .observe_graphql(&operation, outcome, started.elapsed());
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Ok(mut slot) = self.operation.lock() {
            *slot = operation_label(&document);
        }
        if let Ok(mut slot) = self.arguments.lock() {
            *slot = argument_positions(&document);
        }
        Ok(document)
    }
}

fn operation_label(document: &ExecutableDocument) -> Option<String> {
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
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })?;
    Some(format!("{kind}.{field}"))
}

fn argument_positions(document: &ExecutableDocument) -> Vec<(Pos, String)> {
    fn walk(set: &Positioned<SelectionSet>, out: &mut Vec<(Pos, String)>) {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    for (name, value) in &field.node.arguments {
                        out.push((value.pos, name.node.to_string()));
                    }
                    walk(&field.node.selection_set, out);
                }
                Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set, out),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    for (_, operation) in document.operations.iter() {
        walk(&operation.node.selection_set, &mut out);
    }
    for fragment in document.fragments.values() {
        walk(&fragment.node.selection_set, &mut out);
    }
    out
}

/// `Failed to parse "Date": … (occurred while parsing "CreateMovieInput")` names the
/// scalar and the input type but not the field; when exactly one field of that input
/// type has that scalar type, that is the field.
fn failed_input_field(registry: &Registry, message: &str) -> Option<String> {
    let scalar = between(message, "Failed to parse \"", "\"")?;
    let input = between(message, "occurred while parsing \"", "\"")?;
    let MetaType::InputObject { input_fields, .. } = registry.types.get(input)? else {
        return None;
    };
    let mut candidates = input_fields
        .values()
        .filter(|f| f.ty.trim_matches(|c| matches!(c, '[' | ']' | '!')) == scalar);
    match (candidates.next(), candidates.next()) {
        (Some(only), None) => Some(only.name.clone()),
        _ => None,
    }
}
