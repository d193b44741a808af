//! GraphQL over websocket, both sub-protocols, on one task per connection.
//!
//! Our own loop rather than async-graphql's, so that a seat map change can be sent as
//! one shared payload to every subscriber (see `live`), and so that a shutting-down
//! server can close its websockets with a close code instead of waiting on them.
//!
//! A signed-in socket lasts no longer than its sign-in: it is closed (4403, or the
//! legacy protocol's `connection_error`) when its access token expires, and at once
//! when the sign-in ends (`sessions`). Queries and mutations sent over it count in
//! the general rate limit as HTTP requests do, and a socket runs at most
//! `WS_MAX_SUBSCRIPTIONS` operations at once.

pub mod live;
pub mod protocol;
pub mod sessions;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ClientMessage;
use async_graphql::{Data, Request};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use futures_util::{SinkExt, StreamExt};

use self::live::Out;
use self::protocol::{Protocol, Reply};
use self::sessions::Registration;
use super::ServerState;
use super::client::ClientAddr;
use crate::auth::tokens::AccessToken;
use crate::error::AppError;
use crate::ratelimit::{self, Admission};

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
        token: None,
        registration: None,
        subscriptions: Subscriptions::default(),
    };
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    // Armed at `connection_init` with a token: its expiry.
    let expiry = tokio::time::sleep(Duration::ZERO);
    let closing = app.shutdown.begun();
    tokio::pin!(init_deadline, expiry, closing);
    let mut armed = false;
    loop {
        let ended = connection.registration.as_ref().map(|r| r.ended.clone());
        let reply = tokio::select! {
            message = incoming.next() => match message {
                Some(Ok(message)) => connection.receive(message).await,
                _ => Some(Reply::Stop),
            },
            Some((id, out)) = connection.subscriptions.next(), if !connection.subscriptions.is_empty() => {
                Some(connection.outgoing(&id, out))
            }
            _ = &mut init_deadline, if connection.session.is_none() => Some(protocol.init_timeout()),
            _ = &mut expiry, if armed => match connection.until_expiry() {
                None => Some(protocol.forbidden("access token expired".to_owned())),
                // The app's clock says not yet (a test's clock): look again then.
                Some(left) => {
                    expiry.as_mut().reset(tokio::time::Instant::now() + left);
                    None
                }
            },
            _ = ended_signal(ended.as_deref()) => {
                Some(protocol.forbidden(super::graphql::revoked().public_message()))
            }
            _ = &mut closing => {
                Some(Reply::Close(1001, "The server is shutting down".to_owned()))
            }
        };
        if !armed && let Some(left) = connection.until_expiry() {
            expiry.as_mut().reset(tokio::time::Instant::now() + left);
            armed = true;
        }
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
    /// The access token `connection_init` presented, if any.
    token: Option<AccessToken>,
    /// Where the sign-in's end reaches this socket (signed-in sockets only).
    registration: Option<Registration>,
    subscriptions: Subscriptions,
}

impl Connection {
    async fn receive(&mut self, message: Message) -> Option<Reply> {
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
                match super::graphql::token_from_init(&self.state.app, &payload) {
                    Ok(token) => {
                        if let Some(token) = &token
                            && let Err(refused) = self.sign_in(token).await
                        {
                            return Some(refused);
                        }
                        let mut data = Data::default();
                        data.insert(self.client);
                        if let Some(token) = token {
                            data.insert(token.viewer);
                        }
                        self.token = token;
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
                let cap = self.state.app.config.websockets.max_operations;
                if self.subscriptions.running.len() >= cap {
                    let error = server_error(
                        AppError::RateLimited {
                            retry_after_seconds: 1,
                        },
                        Some(format!(
                            "at most {cap} operations at once on one websocket \
                             (WS_MAX_SUBSCRIPTIONS); complete one first"
                        )),
                    );
                    return Some(Reply::Text(self.protocol.error(&id, &[error])));
                }
                let results = if is_subscription(&payload) {
                    live::results(&self.state.schema, &self.state.app, payload, session)
                } else {
                    self.admitted(payload, session)
                };
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

    fn outgoing(&mut self, id: &SubscriptionId, out: Option<Out>) -> Reply {
        Reply::Text(match out {
            Some(Out::Response(response)) => self.protocol.result(&id.text, &response),
            Some(Out::Shared(payload)) => self.protocol.shared_result(&id.json, &payload),
            Some(Out::Refused(error)) => {
                // Refused before it ran: an `error`, and no `complete` after it.
                self.subscriptions.remove(&id.text);
                if let AppError::Unauthenticated { message } = error {
                    // The sign-in ended and the word has not reached us yet.
                    return self.protocol.forbidden(message);
                }
                self.protocol.error(&id.text, &[server_error(error, None)])
            }
            None => {
                self.subscriptions.ended(&id.text);
                self.protocol.complete(&id.text)
            }
        })
    }

    /// A signed-in socket joins the registry first and checks that its sign-in has
    /// not ended second, so a revocation is either seen here or reaches the socket.
    async fn sign_in(&mut self, token: &AccessToken) -> Result<(), Reply> {
        let app = &self.state.app;
        self.registration = Some(app.websockets.register(token.viewer.user_id, token.family));
        match ratelimit::general(&app.redis, None, Some(token), self.client.0).await {
            Admission::Revoked => Err(self
                .protocol
                .forbidden(super::graphql::revoked().public_message())),
            _ => Ok(()),
        }
    }

    /// How long the socket's access token has left by the app's clock; `None` for
    /// an anonymous socket or one whose token has expired.
    fn until_expiry(&self) -> Option<Duration> {
        let token = self.token.as_ref()?;
        let left = token.expires_at - self.state.app.now();
        (left > chrono::Duration::zero()).then(|| left.to_std().unwrap_or_default())
    }

    /// A query or mutation: counted in the general limit (the same bucket as HTTP)
    /// before it runs, without holding up the socket's other operations.
    fn admitted(&self, request: Request, session: Arc<Data>) -> BoxStream<'static, Out> {
        let (schema, app) = (self.state.schema.clone(), self.state.app.clone());
        let (token, client) = (self.token, self.client);
        futures_util::stream::once(async move {
            match super::graphql::admit_operation(&app, token.as_ref(), client).await {
                Ok(()) => live::results(&schema, &app, request, session),
                Err(e) => futures_util::stream::iter([Out::Refused(e)]).boxed(),
            }
        })
        .flatten()
        .boxed()
    }
}

/// Resolves when the socket's sign-in ends; never for an anonymous socket.
async fn ended_signal(ended: Option<&tokio::sync::Notify>) {
    match ended {
        Some(ended) => ended.notified().await,
        None => std::future::pending().await,
    }
}

/// Whether the request's operation is a subscription. Anything else, unreadable
/// requests included, counts as a query.
fn is_subscription(request: &Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let is = |ty: OperationType| ty == OperationType::Subscription;
    match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => is(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).is_some_and(|op| is(op.node.ty))
        }
        (DocumentOperations::Multiple(_), None) => false,
    }
}

/// An error as the client sees it, through the same boundary as every other error;
/// `message` replaces the default one.
fn server_error(error: AppError, message: Option<String>) -> async_graphql::ServerError {
    let mut error = async_graphql::Error::from(error).into_server_error(Default::default());
    if let Some(message) = message {
        error.message = message;
    }
    // Refused before the query was read: there is no position to point at.
    error.locations.clear();
    error
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
