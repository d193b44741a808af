//! A minimal GraphQL-over-websocket client for both sub-protocols.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    legacy: bool,
}

impl WsClient {
    /// Connects with `graphql-transport-ws` (or the legacy `graphql-ws`) and waits for
    /// the server's ack.
    pub async fn connect(addr: std::net::SocketAddr, legacy: bool, token: Option<&str>) -> Self {
        let protocol = if legacy {
            "graphql-ws"
        } else {
            "graphql-transport-ws"
        };
        let mut request = format!("ws://{addr}/graphql")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
        let mut client = Self { socket, legacy };
        let payload = match token {
            Some(t) => json!({"authorization": format!("Bearer {t}")}),
            None => json!({}),
        };
        client
            .send(json!({"type": "connection_init", "payload": payload}))
            .await;
        let ack = client.receive().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    /// The next message that is not a keep-alive or ping.
    pub async fn receive(&mut self) -> Value {
        loop {
            let message =
                tokio::time::timeout(std::time::Duration::from_secs(10), self.socket.next())
                    .await
                    .expect("a websocket message within 10 s")
                    .expect("the socket is open")
                    .expect("a readable message");
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).unwrap();
                match value["type"].as_str() {
                    Some("ka") | Some("pong") => continue,
                    Some("ping") => {
                        self.send(json!({"type": "pong"})).await;
                        continue;
                    }
                    _ => return value,
                }
            }
        }
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        self.send(
            json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}}),
        )
        .await;
    }

    /// The next result of any subscription: its `data`, after checking it has no errors.
    pub async fn next_data(&mut self) -> Value {
        let message = self.receive().await;
        let expected = if self.legacy { "data" } else { "next" };
        assert_eq!(message["type"], expected, "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        message["payload"]["data"].clone()
    }

    /// Waits up to `ms` for another message; `None` if nothing came.
    pub async fn maybe_next(&mut self, ms: u64) -> Option<Value> {
        tokio::time::timeout(std::time::Duration::from_millis(ms), self.receive())
            .await
            .ok()
    }
}
