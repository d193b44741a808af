//! The two GraphQL-over-websocket sub-protocols: what the server says in each.
//!
//! - `graphql-transport-ws` (the `graphql-ws` library):
//!   <https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>
//! - `graphql-ws` (Apollo's legacy `subscriptions-transport-ws`):
//!   <https://github.com/apollographql/subscriptions-transport-ws/blob/master/PROTOCOL.md>

use async_graphql::http::WebSocketProtocols;
use serde::Serialize;

/// What the connection does next.
pub enum Reply {
    Text(String),
    /// Close with this code and reason.
    Close(u16, String),
    /// A `connection_error` (legacy protocol), then close.
    Refuse(String),
    /// Close without a word: the client left.
    Stop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocol(pub WebSocketProtocols);

#[derive(Serialize)]
struct Envelope<'a, P: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<P>,
}

fn message<P: Serialize>(kind: &'static str, id: Option<&str>, payload: Option<P>) -> String {
    let envelope = Envelope { kind, id, payload };
    serde_json::to_string(&envelope).unwrap_or_else(|e| {
        // Only a payload that cannot be JSON gets here; the client still gets an answer.
        tracing::error!(error = %e, "a websocket message could not be serialised");
        format!(r#"{{"type":"{kind}"}}"#)
    })
}

impl Protocol {
    pub fn is_legacy(self) -> bool {
        self.0 == WebSocketProtocols::SubscriptionsTransportWS
    }

    fn result_kind(self) -> &'static str {
        if self.is_legacy() { "data" } else { "next" }
    }

    pub fn ack(self) -> Reply {
        Reply::Text(message::<()>("connection_ack", None, None))
    }

    pub fn pong(self) -> Reply {
        Reply::Text(message::<()>("pong", None, None))
    }

    pub fn complete(self, id: &str) -> String {
        message::<()>("complete", Some(id), None)
    }

    /// A result of subscription `id`.
    pub fn result(self, id: &str, payload: &async_graphql::Response) -> String {
        message(self.result_kind(), Some(id), Some(payload))
    }

    /// A result whose payload is already JSON; `id_json` is the id as a JSON string.
    pub fn shared_result(self, id_json: &str, payload: &str) -> String {
        let kind = self.result_kind();
        let mut out = String::with_capacity(kind.len() + id_json.len() + payload.len() + 32);
        out.push_str(r#"{"type":""#);
        out.push_str(kind);
        out.push_str(r#"","id":"#);
        out.push_str(id_json);
        out.push_str(r#","payload":"#);
        out.push_str(payload);
        out.push('}');
        out
    }

    /// Operation `id` refused before it ran: `error` in both protocols, with a list of
    /// GraphQL errors, and no `complete` after it.
    pub fn error(self, id: &str, errors: &[async_graphql::ServerError]) -> String {
        message("error", Some(id), Some(errors))
    }

    /// `connection_init` carried a token that does not verify, or the sign-in ended
    /// (revoked, expired) while the socket was open.
    pub fn forbidden(self, reason: String) -> Reply {
        if self.is_legacy() {
            Reply::Refuse(reason)
        } else {
            Reply::Close(4403, "Forbidden".to_owned())
        }
    }

    pub fn too_many_inits(self) -> Reply {
        let reason = "Too many initialisation requests".to_owned();
        if self.is_legacy() {
            Reply::Refuse(reason)
        } else {
            Reply::Close(4429, reason)
        }
    }

    /// A subscription before `connection_ack`.
    pub fn unauthorized(self) -> Reply {
        Reply::Close(4401, "Unauthorized".to_owned())
    }

    pub fn init_timeout(self) -> Reply {
        Reply::Close(4408, "Connection initialisation timeout".to_owned())
    }

    pub fn invalid(self, reason: String) -> Reply {
        Reply::Close(4400, reason)
    }

    pub fn connection_error(self, reason: &str) -> String {
        message(
            "connection_error",
            None,
            Some(serde_json::json!({ "message": reason })),
        )
    }
}
