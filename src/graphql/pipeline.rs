//! What every GraphQL operation goes through besides the executor, over HTTP and the
//! websocket alike: before it, the shape check and the introspection policy
//! (`shape`), the parsed document from the cache (`documents`), and fresh
//! dataloaders; after it, a code on every error and the
//! operation's metrics (`observe`).
//!
//! These were schema extensions. Any extension at all makes async-graphql send every
//! field through its extension chain: a registry lookup by type and field name and
//! boxed futures, per field. On the catalog page that was about a quarter of the
//! server's CPU (perf; BENCHMARKS.md). Done here, once per request, the executor takes
//! its fast path.

use std::any::TypeId;
use std::sync::Arc;

use async_graphql::{Data, Request, Response, ServerResult};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::loaders::new_loaders;
use super::observe::Observed;
use super::shape;
use super::{AppSchema, documents};
use crate::app::AppState;
use crate::auth::model::Viewer;

/// Runs a query or mutation sent over HTTP; the caller's data (viewer, address) is
/// already in the request.
pub async fn execute(schema: &AppSchema, app: &AppState, mut request: Request) -> Response {
    let viewer = viewer_in(&request.data);
    documents::parse(&mut request);
    let observed = Observed::of(&mut request);
    let mut response = match prepare(app, request, viewer.as_ref()) {
        Ok(request) => schema.execute(request).await,
        Err(refusal) => Response::from_errors(vec![refusal]),
    };
    observed.finish(&app.metrics, &mut response);
    response
}

/// Runs an operation sent over the websocket, whose caller is in the connection's
/// data: every response it gives, labelled.
pub fn execute_stream(
    schema: &AppSchema,
    app: &AppState,
    mut request: Request,
    session: Arc<Data>,
) -> BoxStream<'static, Response> {
    let viewer = viewer_in(&session);
    documents::parse(&mut request);
    let observed = Observed::of(&mut request);
    let responses = match prepare(app, request, viewer.as_ref()) {
        Ok(request) => schema.execute_stream_with_session_data(request, session),
        Err(refusal) => {
            futures_util::stream::once(async move { Response::from_errors(vec![refusal]) }).boxed()
        }
    };
    responses
        .map(move |mut response| {
            observed.label(&mut response);
            response
        })
        .boxed()
}

/// The caller, as the HTTP handler put it in the request's data or `connection_init`
/// in the websocket's.
fn viewer_in(data: &Data) -> Option<Viewer> {
    data.get(&TypeId::of::<Viewer>())
        .and_then(|d| d.downcast_ref::<Viewer>())
        .copied()
}

/// The checks before execution, and the request's own dataloaders (a loader caches
/// what it loaded, so no request may see another's).
fn prepare(app: &AppState, request: Request, viewer: Option<&Viewer>) -> ServerResult<Request> {
    let request = shape::admit(request, viewer, app.config.graphql.introspection)?;
    Ok(request.data(new_loaders(app.clone())))
}
