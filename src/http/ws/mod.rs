//! GraphQL over websocket, both sub-protocols, on one task per connection.
//!
//! Our own loop rather than async-graphql's, so that a seat map change can be sent as
//! one shared payload to every subscriber (see `live`), and so that a shutting-down
//! server can close its websockets with a close code instead of waiting on them.

pub mod live;
pub mod protocol;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::ClientMessage;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use futures_util::{SinkExt, StreamExt};

use self::live::Out;
use self::protocol::{Protocol, Reply};
use super::ServerState;
use super::client::ClientAddr;

/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(socket: WebSocket, state: ServerState, protocol: Protocol, client: ClientAddr) {
    let (mut sink, mut incoming) = socket.split();
    let app = state.app.clone();
    let mut connection = Connection {
        state,
        protocol,
        client,
        session: None,
        subscriptions: Subscriptions::default(),
    };
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    let closing = app.shutdown.begun();
    tokio::pin!(init_deadline, closing);
    loop {
        let reply = tokio::select! {
            message = incoming.next() => match message {
                Some(Ok(message)) => connection.receive(message),
                _ => Some(Reply::Stop),
            },
            Some((id, out)) = connection.subscriptions.next(), if !connection.subscriptions.is_empty() => {
                Some(Reply::Text(connection.outgoing(&id, out)))
            }
            _ = &mut init_deadline, if connection.session.is_none() => Some(protocol.init_timeout()),
            _ = &mut closing => {
                Some(Reply::Close(1001, "The server is shutting down".to_owned()))
            }
        };
        let Some(reply) = reply else { continue };
        let sent = match reply {
            Reply::Text(text) => sink.send(Message::text(text)).await,
            Reply::Close(code, reason) => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: reason.into(),
                    })))
                    .await;
                break;
            }
            Reply::Refuse(reason) => {
                let _ = sink
                    .send(Message::text(protocol.connection_error(&reason)))
                    .await;
                let _ = sink.send(Message::Close(None)).await;
                break;
            }
            Reply::Stop => break,
        };
        if sent.is_err() {
            break;
        }
    }
}

struct Connection {
    state: ServerState,
    protocol: Protocol,
    client: ClientAddr,
    /// Set by `connection_init`: what every operation of this connection runs with.
    session: Option<Arc<Data>>,
    subscriptions: Subscriptions,
}

impl Connection {
    fn receive(&mut self, message: Message) -> Option<Reply> {
        let parsed = match &message {
            Message::Text(text) => ClientMessage::from_bytes(text.as_bytes()),
            Message::Binary(bytes) => ClientMessage::from_bytes(bytes),
            Message::Close(_) => return Some(Reply::Stop),
            Message::Ping(_) | Message::Pong(_) => return None,
        };
        let message = match parsed {
            Ok(message) => message,
            Err(e) => return Some(self.protocol.invalid(format!("Invalid message: {e}"))),
        };
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.session.is_some() {
                    return Some(self.protocol.too_many_inits());
                }
                let payload = payload.unwrap_or_default();
                match super::graphql::viewer_from_init(&self.state.app, &payload) {
                    Ok(viewer) => {
                        let mut data = Data::default();
                        data.insert(self.client);
                        if let Some(viewer) = viewer {
                            data.insert(viewer);
                        }
                        self.session = Some(Arc::new(data));
                        Some(self.protocol.ack())
                    }
                    Err(e) => Some(self.protocol.forbidden(e.public_message())),
                }
            }
            ClientMessage::Start { id, payload } => {
                let Some(session) = self.session.clone() else {
                    return Some(self.protocol.unauthorized());
                };
                if self.subscriptions.contains(&id) {
                    if !self.protocol.is_legacy() {
                        return Some(Reply::Close(
                            4409,
                            format!("Subscriber for {id} already exists"),
                        ));
                    }
                    // The legacy protocol has no rule for it: the newer one replaces it.
                    self.subscriptions.remove(&id);
                }
                let results = live::results(&self.state.schema, &self.state.app, payload, session);
                self.subscriptions.insert(id, results);
                None
            }
            ClientMessage::Stop { id } => self
                .subscriptions
                .remove(&id)
                .then(|| Reply::Text(self.protocol.complete(&id))),
            ClientMessage::ConnectionTerminate => Some(Reply::Stop),
            ClientMessage::Ping { .. } => Some(self.protocol.pong()),
            ClientMessage::Pong { .. } => None,
        }
    }

    fn outgoing(&mut self, id: &SubscriptionId, out: Option<Out>) -> String {
        match out {
            Some(Out::Response(response)) => self.protocol.result(&id.text, &response),
            Some(Out::Shared(payload)) => self.protocol.shared_result(&id.json, &payload),
            None => {
                self.subscriptions.ended(&id.text);
                self.protocol.complete(&id.text)
            }
        }
    }
}

/// A subscription's id, and the same as a JSON string for shared results.
struct SubscriptionId {
    text: String,
    json: String,
}

/// The connection's subscriptions, polled together; each yields its results and then
/// `None` when it ends by itself (one stopped by the client yields nothing more).
#[derive(Default)]
struct Subscriptions {
    streams: SelectAll<BoxStream<'static, (Arc<SubscriptionId>, Option<Out>)>>,
    running: HashMap<String, AbortHandle>,
}

impl Subscriptions {
    fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    fn contains(&self, id: &str) -> bool {
        self.running.contains_key(id)
    }

    fn insert(&mut self, id: String, results: BoxStream<'static, Out>) {
        let tag = Arc::new(SubscriptionId {
            json: serde_json::to_string(&id).unwrap_or_else(|_| "\"\"".to_owned()),
            text: id.clone(),
        });
        let (handle, registration) = AbortHandle::new_pair();
        let end = tag.clone();
        let tagged = results
            .map(move |out| (tag.clone(), Some(out)))
            .chain(futures_util::stream::once(async move { (end, None) }));
        self.streams
            .push(Abortable::new(tagged, registration).boxed());
        self.running.insert(id, handle);
    }

    fn remove(&mut self, id: &str) -> bool {
        match self.running.remove(id) {
            Some(handle) => {
                handle.abort();
                true
            }
            None => false,
        }
    }

    fn ended(&mut self, id: &str) {
        self.running.remove(id);
    }

    async fn next(&mut self) -> Option<(Arc<SubscriptionId>, Option<Out>)> {
        self.streams.next().await
    }
}
