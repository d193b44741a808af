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
        let mut client = Self::open(addr, legacy).await;
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

    /// Connects without saying anything yet.
    pub async fn open(addr: std::net::SocketAddr, legacy: bool) -> Self {
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
        Self { socket, legacy }
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// The next message that is not a keep-alive or ping.
    pub async fn receive(&mut self) -> Value {
        serde_json::from_str(&self.receive_text().await).unwrap()
    }

    /// The next message that is not a keep-alive or ping, as the server wrote it.
    pub async fn receive_text(&mut self) -> String {
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
                    _ => return text.to_string(),
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

    /// Reads until the server closes the connection: its close code, if it gave one.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let message =
                tokio::time::timeout(std::time::Duration::from_secs(10), self.socket.next())
                    .await
                    .expect("the server closes within 10 s");
            match message {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// The `changes` of a `seatMap` event as (seat, state) pairs, in order.
pub fn changes(event: &Value) -> Vec<(String, String)> {
    event["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| pair(c["number"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect()
}

pub fn pair(seat: &str, state: &str) -> (String, String) {
    (seat.to_owned(), state.to_owned())
}
