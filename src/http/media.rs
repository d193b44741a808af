//! The media type and status a GraphQL answer is sent with, as the GraphQL over HTTP
//! specification has them (its audit suite, npm `graphql-http`, runs in the tests):
//!
//! - `application/json` to a client that accepts it (`*/*` and `application/*`
//!   included) or sends no `Accept`: a well-formed request is answered 200 whatever
//!   its GraphQL errors, which is what older clients and most tools expect.
//! - `application/graphql-response+json` to a client that prefers it: an answer
//!   without data because the operation never ran (it did not parse, failed
//!   validation or a check before execution: a *request error*) is a 4xx (or 5xx when
//!   a service was away) with no `data` entry; anything that ran is 200.
//!
//! In both, an answer that is nothing but `UNAVAILABLE` is 503 with `Retry-After`, and a
//! rate-limited one 429, so that proxies and retry logic see them for what they are.
//!
//! `Accept` is split on commas and each media range read by the `mime` crate, q-values
//! included; the most preferred type we serve wins, the first listed on a tie.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::graphql::engine::ws::is_request_error;
use crate::graphql::error::code_of;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Json,
    GraphqlResponse,
}

impl Media {
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Self::Json;
        };
        let mut best: Option<(f32, Self)> = None;
        for range in accept.split(',') {
            let Ok(range) = range.trim().parse::<mime::Mime>() else {
                continue;
            };
            let media = match range.essence_str() {
                GRAPHQL_RESPONSE => Self::GraphqlResponse,
                "application/json" | "application/*" | "*/*" => Self::Json,
                _ => continue,
            };
            let q = range
                .get_param("q")
                .and_then(|q| q.as_str().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, media));
            }
        }
        // Nothing we serve was asked for: the default rather than 406, as the
        // specification allows, so that a client with an odd `Accept` still gets an answer.
        best.map_or(Self::Json, |(_, media)| media)
    }

    fn content_type(self) -> HeaderValue {
        match self {
            Self::Json => HeaderValue::from_static("application/json"),
            Self::GraphqlResponse => HeaderValue::from_static(GRAPHQL_RESPONSE),
        }
    }

    /// Whether a POST's body is one we read: the specification's `application/json`
    /// (a body sent without saying what it is, which `fetch` labels `text/plain`, is
    /// refused, as the specification asks).
    pub fn readable_body(headers: &HeaderMap) -> bool {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.essence_str() == "application/json")
    }

    /// An executed (or refused) GraphQL answer.
    pub fn respond(self, response: async_graphql::Response) -> Response {
        let request_error = is_request_error(&response);
        let status = self.status(&response, request_error);
        let body = if request_error && self == Self::GraphqlResponse {
            // No `data` entry: the operation never ran.
            let mut body = serde_json::json!({ "errors": response.errors });
            if !response.extensions.is_empty() {
                body["extensions"] = serde_json::json!(response.extensions);
            }
            serde_json::to_vec(&body)
        } else {
            serde_json::to_vec(&response)
        };
        let body = match body {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "could not encode a GraphQL answer");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let mut http = (status, body).into_response();
        let headers = http.headers_mut();
        headers.insert(header::CONTENT_TYPE, self.content_type());
        if let Some(value) = response
            .cache_control
            .value()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            headers.insert(header::CACHE_CONTROL, value);
        }
        for (name, value) in response.http_headers.iter() {
            headers.append(name, value.clone());
        }
        if let Some(seconds) = retry_after(&response, status) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        http
    }

    /// An answer encoded already (`engine::seat_maps`): a success without errors.
    pub fn encoded(self, body: bytes::Bytes) -> Response {
        let mut response = Response::new(axum::body::Body::from(body));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, self.content_type());
        response
    }

    fn status(self, response: &async_graphql::Response, request_error: bool) -> StatusCode {
        if response.errors.is_empty() {
            return StatusCode::OK;
        }
        if only_unavailable(response) {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        let first = code_of(&response.errors[0]);
        if request_error && first == "RATE_LIMITED" {
            return StatusCode::TOO_MANY_REQUESTS;
        }
        if !request_error || self == Self::Json {
            return StatusCode::OK;
        }
        match first {
            "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
            "FORBIDDEN" => StatusCode::FORBIDDEN,
            "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An answer that is nothing but `UNAVAILABLE` (a service it needed is away, and no
/// field has a value to show). An answer with data beside the error is a partial
/// success: it stays 200.
fn only_unavailable(response: &async_graphql::Response) -> bool {
    use async_graphql::Value;
    if response.errors.is_empty() || response.errors.iter().any(|e| code_of(e) != "UNAVAILABLE") {
        return false;
    }
    match &response.data {
        Value::Null => true,
        Value::Object(fields) => fields.values().all(|v| *v == Value::Null),
        _ => false,
    }
}

/// `Retry-After` for a 503 (a restart or failover takes seconds) or a 429 (what the
/// limit said, `extensions.retryAfterSeconds`).
fn retry_after(response: &async_graphql::Response, status: StatusCode) -> Option<u64> {
    match status {
        StatusCode::SERVICE_UNAVAILABLE => Some(crate::error::UNAVAILABLE_RETRY_SECONDS),
        StatusCode::TOO_MANY_REQUESTS => response.errors.iter().find_map(|e| {
            match e.extensions.as_ref()?.get("retryAfterSeconds")? {
                async_graphql::Value::Number(n) => n.as_u64(),
                _ => None,
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError, Value};

    fn accepting(accept: Option<&str>) -> Media {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        }
        Media::negotiate(&headers)
    }

    #[test]
    fn accept_picks_the_most_preferred_type_served() {
        use Media::*;
        assert_eq!(accepting(None), Json);
        assert_eq!(accepting(Some("application/json")), Json);
        assert_eq!(accepting(Some("*/*")), Json);
        assert_eq!(accepting(Some("text/html")), Json);
        assert_eq!(
            accepting(Some("application/graphql-response+json")),
            GraphqlResponse
        );
        assert_eq!(
            accepting(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            GraphqlResponse
        );
        assert_eq!(
            accepting(Some("application/json, application/graphql-response+json")),
            Json
        );
        assert_eq!(
            accepting(Some(
                "application/json;q=0.5, application/graphql-response+json"
            )),
            GraphqlResponse
        );
        assert_eq!(
            accepting(Some(
                "application/graphql-response+json;q=0, application/json"
            )),
            Json
        );
    }

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
        assert!(only_unavailable(&answer(Value::Null, &["UNAVAILABLE"])));
        assert!(only_unavailable(&answer(
            object(Value::Null),
            &["UNAVAILABLE", "UNAVAILABLE"]
        )));
        // A partial success keeps its 200, and so does any other error beside it.
        assert!(!only_unavailable(&answer(
            object(Value::from(1)),
            &["UNAVAILABLE"]
        )));
        assert!(!only_unavailable(&answer(
            Value::Null,
            &["UNAVAILABLE", "NOT_FOUND"]
        )));
        assert!(!only_unavailable(&answer(Value::Null, &["INTERNAL"])));
        assert!(!only_unavailable(&answer(object(Value::Null), &[])));
    }

    #[test]
    fn request_errors_are_4xx_only_for_graphql_response_json() {
        let bad = answer(Value::Null, &["BAD_USER_INPUT"]);
        assert_eq!(Media::Json.status(&bad, true), StatusCode::OK);
        assert_eq!(
            Media::GraphqlResponse.status(&bad, true),
            StatusCode::BAD_REQUEST
        );
        let ran = answer(object(Value::Null), &["NOT_FOUND"]);
        assert_eq!(Media::GraphqlResponse.status(&ran, false), StatusCode::OK);
        let limited = answer(Value::Null, &["RATE_LIMITED"]);
        assert_eq!(
            Media::Json.status(&limited, true),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
