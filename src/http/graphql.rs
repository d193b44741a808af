//! `/graphql`: POST and GET execute; a browser's GET gets GraphiQL; an upgrade gets
//! the websocket (both `graphql-transport-ws` and the legacy `graphql-ws`).

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{FromRequest, FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::ServerState;
use super::graphiql;
use crate::graphql::loaders::new_loaders;

pub async fn post(State(state): State<ServerState>, request: GraphQLRequest) -> GraphQLResponse {
    execute(&state, request).await
}

pub async fn get(State(state): State<ServerState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let wants_upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_upgrade {
        let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
            Ok(p) => p,
            Err(rejection) => return rejection.into_response(),
        };
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(u) => u,
            Err(rejection) => return rejection.into_response(),
        };
        return websocket(state, protocol, upgrade);
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
    let request = Request::from_parts(parts, body);
    match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
        request, &state,
    )
    .await
    {
        Ok(request) => execute(&state, request).await.into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

async fn execute(state: &ServerState, request: GraphQLRequest) -> GraphQLResponse {
    let request = request.into_inner().data(new_loaders(state.app.clone()));
    state.schema.execute(request).await.into()
}

fn websocket(state: ServerState, protocol: GraphQLProtocol, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let app = state.app.clone();
            GraphQLWebSocket::new(stream, state.schema.clone(), protocol)
                .on_connection_init(move |_payload| async move {
                    let mut data = Data::default();
                    data.insert(new_loaders(app));
                    Ok(data)
                })
                .serve()
        })
        .into_response()
}
