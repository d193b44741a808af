//! A request extension: labels every error with a code, and records each operation's
//! outcome and latency. Operations are named by their first root field, a set the
//! schema bounds, so clients cannot blow up the metrics' label space.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{Response, ServerResult, Variables};

use super::error::{code_of, label_errors};
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
        })
    }
}

struct ObserveRequest {
    metrics: Metrics,
    operation: Mutex<Option<String>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let mut response = next.run(ctx).await;
        label_errors(&mut response.errors);
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
