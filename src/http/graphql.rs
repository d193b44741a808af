//! `/graphql`: POST and GET execute; a browser's GET gets GraphiQL; an upgrade gets
//! the websocket (both `graphql-transport-ws` and the legacy `graphql-ws`).
//!
//! Before anything executes: the bearer token is verified (a presented token that is
//! invalid or expired refuses the request, so a client never silently runs as
//! anonymous) and the general rate limit is counted.

use std::str::FromStr;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols};
use async_graphql_axum::GraphQLRequest;
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};

use super::ServerState;
use super::client::{ClientAddr, bearer, client_addr};
use super::graphiql;
use super::media::Media;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::auth::tokens::{self, AccessToken};
use crate::error::AppError;
use crate::graphql::engine::admission::admit_operation;
use crate::graphql::engine::ws::protocol::Protocol;
use crate::graphql::engine::ws::sessions::ClientSlot;
use crate::graphql::engine::ws::{self, Serving};
use crate::graphql::engine::{Answer, answers, operation_types};
use secrecy::ExposeSecret;

pub async fn post(State(state): State<ServerState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if !Media::readable_body(&parts.headers) {
        return refused_with(
            Media::negotiate(&parts.headers),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::bad_input(
                "Content-Type",
                "send the body as application/json (Content-Type: application/json)",
            ),
        );
    }
    run(&state, parts, body).await
}

/// Lets the caller in (or not), reads the GraphQL request and executes it.
async fn run(state: &ServerState, parts: Parts, body: axum::body::Body) -> Response {
    let media = Media::negotiate(&parts.headers);
    let caller = match admit(&state.app, &parts).await {
        Ok(caller) => caller,
        Err(refused) => return media.respond(refused),
    };
    let request = Request::from_parts(parts, body);
    let is_get = request.method() == axum::http::Method::GET;
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
        request, state,
    )
    .await
    {
        Ok(mut request) => {
            // A hash alone becomes the query it names (`persisted`).
            if let Err(error) = state
                .engine
                .persisted()
                .resolve(&state.app, &mut request.0)
                .await
            {
                return media.respond(async_graphql::Response::from_errors(vec![error]));
            }
            // Not a GraphQL-over-HTTP request at all.
            if request.0.query.trim().is_empty() {
                return refused_with(
                    media,
                    StatusCode::BAD_REQUEST,
                    AppError::bad_input("query", "the request has no query"),
                );
            }
            // A link or an image can make a browser send a GET: it never changes anything.
            if is_get && is_mutation(&mut request.0) {
                return refused_with(
                    media,
                    StatusCode::METHOD_NOT_ALLOWED,
                    AppError::bad_input("query", "mutations must be sent with POST"),
                );
            }
            execute(state, request, caller, media, is_get).await
        }
        Err(rejection) => unreadable(media, rejection.0),
    }
}

/// Whether the request may run a mutation (read with the parsed-document cache).
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    operation_types(request).contains(&OperationType::Mutation)
}

/// A body that is not a GraphQL request, answered like every other error.
fn unreadable(media: Media, error: async_graphql::ParseRequestError) -> Response {
    use async_graphql::ParseRequestError as E;
    let too_large = match &error {
        E::PayloadTooLarge => true,
        E::Io(e) => e.to_string().contains("length limit exceeded"),
        _ => false,
    };
    if too_large {
        return refused_with(
            media,
            StatusCode::PAYLOAD_TOO_LARGE,
            AppError::bad_input("body", "the request body is too large"),
        );
    }
    let message = match error {
        E::UnsupportedBatch => {
            "send one operation per request; batches are not accepted".to_owned()
        }
        E::InvalidRequest(e) => format!("the body is not a GraphQL request: {e}"),
        _ => "the body is not a GraphQL request".to_owned(),
    };
    refused_with(
        media,
        StatusCode::BAD_REQUEST,
        AppError::bad_input("body", message),
    )
}

fn refused_with(media: Media, status: StatusCode, error: AppError) -> Response {
    let mut response = media.respond(refusal(error));
    *response.status_mut() = status;
    response
}

pub async fn get(State(state): State<ServerState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let wants_upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_upgrade {
        let Some(protocol) = negotiated(&parts.headers) else {
            return (
                StatusCode::BAD_REQUEST,
                "Sec-WebSocket-Protocol must offer graphql-transport-ws or graphql-ws",
            )
                .into_response();
        };
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(u) => u,
            Err(rejection) => return rejection.into_response(),
        };
        let client = client_addr(
            &parts.extensions,
            &parts.headers,
            &state.app.config.server.trusted_proxies,
        );
        let cap = state.app.config.websockets.max_connections_per_client;
        let Some(slot) = state.app.websockets.open(client.0, cap) else {
            return too_many_sockets(cap.unwrap_or_default());
        };
        return websocket(state, Protocol(protocol), upgrade, client, slot);
    }
    let wants_html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let has_query = parts.uri.query().is_some_and(|q| q.contains("query="));
    if wants_html && !has_query {
        return graphiql::page();
    }
    let mut response = run(&state, parts, body).await;
    // Only a public catalog answer says otherwise (`execute`): a GET refused or
    // answered with an error is kept by no cache.
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Who is calling, once they are let in.
struct Caller {
    viewer: Option<Viewer>,
    /// The verified token itself: resolvers that act on the caller's sign-in (its
    /// refresh family) read it.
    token: Option<AccessToken>,
    client: ClientAddr,
}

/// Authenticates and counts the request against the general limit.
async fn admit(app: &App, parts: &Parts) -> Result<Caller, async_graphql::Response> {
    let client = client_addr(
        &parts.extensions,
        &parts.headers,
        &app.config.server.trusted_proxies,
    );
    let token = match bearer(&parts.headers) {
        None => None,
        Some(token) => {
            match tokens::verify(app.config.auth.jwt_secret.expose_secret(), token, app.now()) {
                Ok(token) => Some(token),
                Err(e) => return Err(refusal(e)),
            }
        }
    };
    admit_operation(app, token.as_ref(), client)
        .await
        .map_err(refusal)?;
    Ok(Caller {
        viewer: token.map(|t| t.viewer),
        token,
        client,
    })
}

/// The answer to a request refused before execution, built by the same error
/// boundary as every other error; `Media` gives it its status.
fn refusal(error: AppError) -> async_graphql::Response {
    let mut server_error = async_graphql::Error::from(error).into_server_error(Default::default());
    // Refused before the query was read: there is no position to point at.
    server_error.locations.clear();
    async_graphql::Response::from_errors(vec![server_error])
}

async fn execute(
    state: &ServerState,
    request: GraphQLRequest,
    caller: Caller,
    media: Media,
    is_get: bool,
) -> Response {
    let mut request = request.into_inner();
    // A GET of the public catalog by nobody in particular may be kept by a CDN; any
    // other GET (someone's, or live) must not be kept by anyone.
    let public = is_get && caller.token.is_none() && answers::Answers::is_public(&mut request);
    let mut request = request.data(caller.client);
    if let Some(viewer) = caller.viewer {
        request = request.data(viewer);
    }
    if let Some(token) = caller.token {
        request = request.data(token);
    }
    let (mut http, clean) = match state.engine.answer(request).await {
        Answer::Response(response) => {
            let clean = response.errors.is_empty();
            (media.respond(response), clean)
        }
        Answer::Encoded(body) => (media.encoded(body), true),
    };
    if is_get {
        let headers = http.headers_mut();
        let max_age = state.app.config.graphql.public_max_age.as_secs();
        let cache = if public && clean && max_age > 0 {
            // The same answer comes in either media type: a cache keys on `Accept`.
            headers.insert(header::VARY, HeaderValue::from_static("Accept"));
            HeaderValue::from_str(&format!("public, max-age={max_age}"))
                .unwrap_or(HeaderValue::from_static("no-store"))
        } else {
            HeaderValue::from_static("no-store")
        };
        headers.insert(header::CACHE_CONTROL, cache);
    }
    http
}

/// `connection_init` may carry `{"authorization": "Bearer <token>"}` (or `Authorization`).
/// No token: an anonymous connection. A bad token: refused, on `graphql-transport-ws`
/// by closing with 4403 as that protocol asks, on the legacy protocol with
/// `connection_error`.
fn websocket(
    state: ServerState,
    protocol: Protocol,
    upgrade: WebSocketUpgrade,
    client: ClientAddr,
    slot: ClientSlot,
) -> Response {
    // A subscriber sends a few small messages and receives events: small buffers keep
    // tens of thousands of connections affordable (tungstenite's defaults are 128 KiB
    // each way), and a message may be no larger than an HTTP body.
    let max_message = state.app.config.graphql.max_body_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            // The client's place is held for as long as the socket is open.
            let serving = Serving {
                app: state.app,
                executor: state.engine,
                hook: state.seat_map_events,
            };
            ws::serve(socket, serving, protocol, client).await;
            drop(slot);
        })
        .into_response()
}

/// How long a client over the socket cap is asked to wait: sockets close at any
/// moment, so a short while.
const SOCKET_CAP_RETRY_SECONDS: u64 = 10;

/// The upgrade refused: HTTP 429 with `Retry-After`, and a `RATE_LIMITED` error that
/// names the limit.
fn too_many_sockets(cap: usize) -> Response {
    let error = AppError::RateLimited {
        retry_after_seconds: SOCKET_CAP_RETRY_SECONDS,
    };
    let mut server_error = async_graphql::Error::from(error).into_server_error(Default::default());
    server_error.message = format!(
        "at most {cap} open websockets per client (WS_MAX_CONNECTIONS_PER_CLIENT); close one first"
    );
    server_error.locations.clear();
    let body = serde_json::json!({ "data": null, "errors": [server_error] });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(SOCKET_CAP_RETRY_SECONDS),
    );
    response
}

/// The sub-protocol the upgrade will speak: the first one offered that we know,
/// as async-graphql chooses it.
fn negotiated(headers: &axum::http::HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|list| {
            list.split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        })
}
