//! The engine: where every GraphQL operation runs, over HTTP and the websocket alike.
//! [`Engine`] is an `async_graphql::Executor`; around async-graphql's own execution
//! it does, before it, the shape check and the introspection policy
//! (`shape`), the parsed document from the cache (`documents`), and fresh
//! dataloaders; the schema for the caller (without suggestions when introspection
//! is closed to them); after it, validation errors that say nothing of the schema
//! to such callers (`reticence`), a code on every error and the operation's metrics
//! (`observe`).
//!
//! These were schema extensions. Any extension at all makes async-graphql send every
//! field through its extension chain: a registry lookup by type and field name and
//! boxed futures, per field. On the catalog page that was about a quarter of the
//! server's CPU (perf; BENCHMARKS.md). Done here, once per request, the executor takes
//! its fast path.

pub mod admission;
pub mod answers;
pub mod arguments;
pub mod documents;
pub mod nul;
pub mod observe;
pub mod persisted;
pub mod reticence;
pub mod seat_maps;
pub mod shape;
pub mod ws;

use std::any::TypeId;
use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Data, Executor, Request, Response, ServerResult};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tracing::Instrument;

use self::observe::Observed;
use super::AppSchema;
use super::loaders::new_loaders;
use crate::app::AppState;
use crate::auth::model::Viewer;
use crate::telemetry::Traced;

/// The schema and the application it runs against: what HTTP and the websocket
/// transport execute operations with.
#[derive(Clone)]
pub struct Engine {
    schema: AppSchema,
    app: AppState,
    answers: Arc<answers::Answers>,
    seat_maps: Arc<seat_maps::SeatMaps>,
    persisted: Arc<persisted::PersistedQueries>,
}

/// What HTTP sends for an operation: a response to encode, or the bytes of one
/// encoded already and shared (`seat_maps`).
pub enum Answer {
    Response(Response),
    Encoded(bytes::Bytes),
}

impl Engine {
    pub fn new(app: AppState) -> Self {
        Self {
            schema: super::build_schema(app.clone()),
            app,
            answers: Arc::default(),
            seat_maps: Arc::default(),
            persisted: Arc::default(),
        }
    }

    /// The automatic persisted queries this node knows (`persisted`).
    pub fn persisted(&self) -> &persisted::PersistedQueries {
        &self.persisted
    }

    /// A query or mutation over HTTP: as `execute`, except that a seat map read whose
    /// answer is the same for every customer at one version is encoded once per version
    /// and its bytes shared (`seat_maps`).
    pub async fn answer(&self, mut request: Request) -> Answer {
        let viewer = viewer_in(&request.data);
        let Some(candidate) = seat_maps::Candidate::of(&self.app, &mut request, viewer.as_ref())
        else {
            return Answer::Response(self.execute(request).await);
        };
        let started = std::time::Instant::now();
        if let Some(body) = self.seat_maps.get(&self.app, &candidate).await {
            self.app.metrics.seat_map_answer_shared();
            let observed = Observed::of(&mut request);
            self.app
                .metrics
                .observe_graphql(observed.name(), "OK", started.elapsed());
            return Answer::Encoded(body);
        }
        let response = self.execute(request.data(candidate.reads())).await;
        match self.seat_maps.keep(&self.app, candidate, &response) {
            Some(body) => Answer::Encoded(body),
            None => Answer::Response(response),
        }
    }
}

impl Executor for Engine {
    /// A query or mutation; the caller's data (viewer, address) is already in the
    /// request.
    async fn execute(&self, mut request: Request) -> Response {
        let viewer = viewer_in(&request.data);
        let operation = Operation::read(&self.app, &mut request, viewer);
        let span = tracing::info_span!(
            "graphql",
            operation = operation.observed.name(),
            caller = %caller(viewer.as_ref()),
        );
        // The catalog's public queries are answered once a second (`answers`).
        let keep = answers::Answers::key(&self.app, &mut request);
        if let Some(mut kept) = keep
            .as_ref()
            .and_then(|(key, _)| self.answers.get(&self.app, key))
        {
            self.app.metrics.answer_served();
            operation.observed.finish(&self.app.metrics, &mut kept);
            return kept;
        }
        let mut response = match prepare(&self.app, request, viewer.as_ref()) {
            Ok(request) => {
                self.schema
                    .for_caller(operation.closed)
                    .execute(request)
                    .instrument(span)
                    .await
            }
            Err(refusal) => Response::from_errors(vec![refusal]),
        };
        if let Some((key, ticket)) = keep {
            self.answers.keep(&self.app, key, ticket, &response);
        }
        operation.conceal(&mut response);
        operation.observed.finish(&self.app.metrics, &mut response);
        response
    }

    /// Every response of an operation, whose caller is in the session's data (the
    /// websocket's, set at `connection_init`) or else in the request's.
    fn execute_stream(
        &self,
        mut request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let session = session.unwrap_or_default();
        let viewer = viewer_in(&session).or_else(|| viewer_in(&request.data));
        let operation = Operation::read(&self.app, &mut request, viewer);
        // No HTTP request around a websocket operation: it gets a request id of its own.
        let id = crate::telemetry::request_id(None);
        let span = tracing::info_span!(
            "graphql",
            request_id = %id,
            operation = operation.observed.name(),
            caller = %caller(viewer.as_ref()),
        );
        let responses = match prepare(&self.app, request, viewer.as_ref()) {
            Ok(request) => self
                .schema
                .for_caller(operation.closed)
                .execute_stream_with_session_data(request, session),
            Err(refusal) => {
                futures_util::stream::once(async move { Response::from_errors(vec![refusal]) })
                    .boxed()
            }
        };
        let responses = responses
            .map(move |mut response| {
                operation.conceal(&mut response);
                operation.observed.label(&mut response);
                response
            })
            .boxed();
        Traced::new(responses, span, id).boxed()
    }
}

/// What the engine reads of an operation before it runs, over either transport.
struct Operation {
    /// Introspection, and so everything a validation error would say of the schema,
    /// is closed to this caller.
    closed: bool,
    /// Validation errors are to be made to say nothing of the schema.
    concealed: bool,
    observed: Observed,
}

impl Operation {
    /// Gives the request its parsed document (from the cache) and reads it.
    fn read(app: &AppState, request: &mut Request, viewer: Option<Viewer>) -> Self {
        let closed = shape::introspection_closed(app.config.graphql.introspection, viewer.as_ref());
        documents::parse(request);
        let observed = Observed::of(request);
        // A syntax error names nothing of the schema: it is left as it is.
        let concealed = closed && request.parsed_query().is_ok();
        Self {
            closed,
            concealed,
            observed,
        }
    }

    fn conceal(&self, response: &mut Response) {
        if self.concealed {
            reticence::conceal(response);
        }
    }
}

/// Who runs an operation, for its span.
fn caller(viewer: Option<&Viewer>) -> String {
    viewer.map_or_else(|| "anonymous".to_owned(), |v| v.user_id.to_string())
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

/// The request's parsed document, from the cache when its text is known; `None` when
/// it does not parse (the executor reports that).
pub fn document(request: &mut Request) -> Option<&ExecutableDocument> {
    documents::parse(request);
    request.parsed_query().ok()
}

/// The types of the operations a request may run: the one it names, or the only one;
/// every one when it has several and names none (execution refuses that anyway).
pub fn operation_types(request: &mut Request) -> Vec<OperationType> {
    let name = request.operation_name.clone();
    let Some(document) = document(request) else {
        return Vec::new();
    };
    match (&document.operations, name.as_deref()) {
        (DocumentOperations::Single(op), _) => vec![op.node.ty],
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| op.node.ty).into_iter().collect()
        }
        (DocumentOperations::Multiple(ops), None) => ops.values().map(|op| op.node.ty).collect(),
    }
}
