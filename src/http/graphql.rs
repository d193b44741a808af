//! `/graphql`: POST and GET execute; a browser's GET gets GraphiQL; an upgrade gets
//! the websocket (both `graphql-transport-ws` and the legacy `graphql-ws`).
//!
//! Before anything executes: the bearer token is verified (a presented token that is
//! invalid or expired refuses the request, so a client never silently runs as
//! anonymous) and the general rate limit is counted.

use std::str::FromStr;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};

use super::ServerState;
use super::client::{ClientAddr, bearer, client_addr};
use super::graphiql;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::auth::tokens::{self, AccessToken};
use crate::error::AppError;
use crate::graphql::engine::admission::admit_operation;
use crate::graphql::engine::ws::protocol::Protocol;
use crate::graphql::engine::ws::sessions::ClientSlot;
use crate::graphql::engine::ws::{self, Serving};
use crate::graphql::engine::{Answer, operation_types};
use secrecy::ExposeSecret;

pub async fn post(State(state): State<ServerState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    run(&state, parts, body).await
}

/// Lets the caller in (or not), reads the GraphQL request and executes it.
async fn run(state: &ServerState, parts: Parts, body: axum::body::Body) -> Response {
    let caller = match admit(&state.app, &parts).await {
        Ok(caller) => caller,
        Err(refusal) => return refusal,
    };
    let request = Request::from_parts(parts, body);
    let is_get = request.method() == axum::http::Method::GET;
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
        request, state,
    )
    .await
    {
        // A link or an image can make a browser send a GET: it never changes anything.
        Ok(mut request) => {
            if is_get && is_mutation(&mut request.0) {
                return refused_with(
                    StatusCode::METHOD_NOT_ALLOWED,
                    AppError::bad_input("query", "mutations must be sent with POST"),
                );
            }
            execute(state, request, caller).await
        }
        Err(rejection) => unreadable(rejection.0),
    }
}

/// Whether the request may run a mutation (read with the parsed-document cache).
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    operation_types(request).contains(&OperationType::Mutation)
}

/// A body that is not a GraphQL request, answered like every other error.
fn unreadable(error: async_graphql::ParseRequestError) -> Response {
    use async_graphql::ParseRequestError as E;
    let too_large = match &error {
        E::PayloadTooLarge => true,
        E::Io(e) => e.to_string().contains("length limit exceeded"),
        _ => false,
    };
    if too_large {
        return refused_with(
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
        StatusCode::BAD_REQUEST,
        AppError::bad_input("body", message),
    )
}

fn refused_with(status: StatusCode, error: AppError) -> Response {
    let mut response = refusal(error);
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
    run(&state, parts, body).await
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
async fn admit(app: &App, parts: &Parts) -> Result<Caller, Response> {
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

/// A GraphQL-shaped error response for a request refused before execution, built by
/// the same error boundary as every other error.
fn refusal(error: AppError) -> Response {
    let (status, retry_after) = match &error {
        AppError::RateLimited {
            retry_after_seconds,
        } => (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after_seconds)),
        AppError::Unavailable { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            Some(crate::error::UNAVAILABLE_RETRY_SECONDS),
        ),
        _ => (StatusCode::OK, None),
    };
    let mut server_error = async_graphql::Error::from(error).into_server_error(Default::default());
    // Refused before the query was read: there is no position to point at.
    server_error.locations.clear();
    let body = serde_json::json!({ "data": null, "errors": [server_error] });
    let mut response = (status, Json(body)).into_response();
    if let Some(seconds) = retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

async fn execute(state: &ServerState, request: GraphQLRequest, caller: Caller) -> Response {
    let mut request = request.into_inner().data(caller.client);
    if let Some(viewer) = caller.viewer {
        request = request.data(viewer);
    }
    if let Some(token) = caller.token {
        request = request.data(token);
    }
    let response = match state.engine.answer(request).await {
        Answer::Response(response) => response,
        Answer::Encoded(body) => return encoded(body),
    };
    let unavailable = only_unavailable(&response);
    let mut http = GraphQLResponse::from(response).into_response();
    if let Some(retry_after) = unavailable {
        *http.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        http.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    }
    http
}

/// An answer encoded already (`engine::seat_maps`), sent as `GraphQLResponse` sends
/// one: a success without errors, cache headers or headers of its own.
fn encoded(body: bytes::Bytes) -> Response {
    let mut response = Response::new(axum::body::Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql-response+json"),
    );
    response
}

/// An answer that is nothing but `UNAVAILABLE` (a service it needed is away, and no
/// field has a value to show) is HTTP 503 with `Retry-After`, so that a load
/// balancer, a proxy or a client's retry logic sees it as the retryable failure it is,
/// as 429 is for rate limits. The GraphQL over HTTP specification allows a non-200
/// status for `application/graphql-response+json`, which is what these answers are
/// sent as. An answer with data beside the error is a partial success: it stays 200.
fn only_unavailable(response: &async_graphql::Response) -> Option<u64> {
    use crate::graphql::error::code_of;
    use async_graphql::Value;
    if response.errors.is_empty() || response.errors.iter().any(|e| code_of(e) != "UNAVAILABLE") {
        return None;
    }
    let no_data = match &response.data {
        Value::Null => true,
        Value::Object(fields) => fields.values().all(|v| *v == Value::Null),
        _ => false,
    };
    no_data.then_some(crate::error::UNAVAILABLE_RETRY_SECONDS)
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

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError, Value};

    fn answer(data: Value, codes: &[&str]) -> async_graphql::Response {
        let mut response = async_graphql::Response::new(data);
        for code in codes {
            let mut error = ServerError::new("x", None);
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", *code);
            error.extensions = Some(extensions);
            response.errors.push(error);
        }
        response
    }

    fn object(value: Value) -> Value {
        Value::Object([(Name::new("field"), value)].into_iter().collect())
    }

    #[test]
    fn only_an_answer_with_nothing_but_unavailable_is_503() {
        let retry = Some(crate::error::UNAVAILABLE_RETRY_SECONDS);
        assert_eq!(
            only_unavailable(&answer(Value::Null, &["UNAVAILABLE"])),
            retry
        );
        assert_eq!(
            only_unavailable(&answer(
                object(Value::Null),
                &["UNAVAILABLE", "UNAVAILABLE"]
            )),
            retry
        );
        // A partial success keeps its 200, and so does any other error beside it.
        assert_eq!(
            only_unavailable(&answer(object(Value::from(1)), &["UNAVAILABLE"])),
            None
        );
        assert_eq!(
            only_unavailable(&answer(Value::Null, &["UNAVAILABLE", "NOT_FOUND"])),
            None
        );
        assert_eq!(only_unavailable(&answer(Value::Null, &["INTERNAL"])), None);
        assert_eq!(only_unavailable(&answer(object(Value::Null), &[])), None);
    }
}
