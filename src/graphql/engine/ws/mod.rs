//! GraphQL over websocket, both sub-protocols, on one task per connection, running
//! operations through any `async_graphql::Executor`.
//!
//! Our own loop rather than async-graphql's: async-graphql's gets close codes wrong
//! (`protocol` says which), a shutting-down server must close its websockets with a
//! close code instead of waiting on them, and a payload written once may be sent to
//! many subscribers as it is: the [`PreRendered`] hook is where such payloads come
//! from (the seat map's change events, `graphql::seat_map`).
//!
//! A signed-in socket lasts no longer than its sign-in: it is closed (4403, or the
//! legacy protocol's `connection_error`) when its access token expires, and at once
//! when the sign-in ends (`sessions`). Queries and mutations sent over it count in
//! the general rate limit as HTTP requests do, and a socket runs at most
//! `WS_MAX_SUBSCRIPTIONS` operations at once.

pub mod protocol;
pub mod sessions;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ClientMessage;
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use futures_util::{SinkExt, StreamExt};

use self::protocol::{Protocol, Reply};
use self::sessions::Registration;
use super::admission::{self, ClientAddr};
use crate::app::AppState;
use crate::auth::tokens::AccessToken;
use crate::error::AppError;

/// One result for the client.
pub enum Out {
    Response(Box<Response>),
    /// A payload that is already JSON, shared with other subscribers.
    Shared(Arc<str>),
    /// Refused before it ran (the general rate limit, a sign-in that ended).
    Refused(AppError),
}

/// Where payloads written once for many subscribers come from.
pub trait PreRendered<E: Executor>: Clone + Send + Sync + 'static {
    /// The results of an operation this hook serves (through `executor`, and with
    /// payloads of its own), or the request back for the executor alone.
    fn results(
        &self,
        executor: &E,
        request: Request,
        session: Arc<Data>,
    ) -> Result<BoxStream<'static, Out>, Box<Request>>;
}

/// What a connection runs with: the application (sign-in, limits, shutdown), the
/// executor and the hook.
#[derive(Clone)]
pub struct Serving<E, H> {
    pub app: AppState,
    pub executor: E,
    pub hook: H,
}

/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve<E: Executor, H: PreRendered<E>>(
    socket: WebSocket,
    serving: Serving<E, H>,
    protocol: Protocol,
    client: ClientAddr,
) {
    let (mut sink, mut incoming) = socket.split();
    let app = serving.app.clone();
    let mut connection = Connection {
        serving,
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
                Some(protocol.forbidden(admission::revoked().public_message()))
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

struct Connection<E, H> {
    serving: Serving<E, H>,
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

impl<E: Executor, H: PreRendered<E>> Connection<E, H> {
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
                match admission::token_from_init(&self.serving.app, &payload) {
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
                            // Its sign-in (refresh family), for what acts on "my
                            // other sessions" (changePassword).
                            data.insert(token);
                        }
                        self.token = token;
                        self.session = Some(Arc::new(data));
                        Some(self.protocol.ack())
                    }
                    Err(e) => Some(self.protocol.forbidden(e.public_message())),
                }
            }
            ClientMessage::Start {
                id,
                payload: mut request,
            } => {
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
                let cap = self.serving.app.config.websockets.max_operations;
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
                // Anything else, unreadable requests included, counts as a query.
                let subscription = matches!(
                    super::operation_types(&mut request)[..],
                    [OperationType::Subscription]
                );
                let results = if subscription {
                    results(&self.serving, request, session)
                } else {
                    self.admitted(request, session)
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
            Some(Out::Response(response)) if is_request_error(&response) => {
                // Both protocols answer an operation that never ran (it did not parse,
                // failed validation or a check before it) with `error`, and nothing
                // after it: a `next` and a `complete` would be a result.
                self.subscriptions.remove(&id.text);
                self.protocol.error(&id.text, &response.errors)
            }
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
        let app = &self.serving.app;
        self.registration = Some(app.websockets.register(token.viewer.user_id, token.family));
        if admission::sign_in_ended(app, token).await {
            return Err(self
                .protocol
                .forbidden(admission::revoked().public_message()));
        }
        Ok(())
    }

    /// How long the socket's access token has left by the app's clock; `None` for
    /// an anonymous socket or one whose token has expired.
    fn until_expiry(&self) -> Option<Duration> {
        let token = self.token.as_ref()?;
        let left = token.expires_at - self.serving.app.now();
        (left > chrono::Duration::zero()).then(|| left.to_std().unwrap_or_default())
    }

    /// A query or mutation: counted in the general limit (the same bucket as HTTP)
    /// before it runs, without holding up the socket's other operations.
    fn admitted(&self, request: Request, session: Arc<Data>) -> BoxStream<'static, Out> {
        let serving = self.serving.clone();
        let (token, client) = (self.token, self.client);
        futures_util::stream::once(async move {
            match admission::admit_operation(&serving.app, token.as_ref(), client).await {
                Ok(()) => results(&serving, request, session),
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

/// An operation's results: the hook's, or else the executor's.
fn results<E: Executor, H: PreRendered<E>>(
    serving: &Serving<E, H>,
    request: Request,
    session: Arc<Data>,
) -> BoxStream<'static, Out> {
    match serving
        .hook
        .results(&serving.executor, request, session.clone())
    {
        Ok(results) => results,
        Err(request) => serving
            .executor
            .execute_stream(*request, Some(session))
            .map(|response| Out::Response(Box::new(response)))
            .boxed(),
    }
}

/// Whether `response` answers a request that never ran: in the GraphQL spec's terms a
/// request error, with no data, and errors that name no field's path (a field's error
/// always has one).
pub fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
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
