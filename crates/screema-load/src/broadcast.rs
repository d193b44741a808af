//! `screema-load broadcast-server`: a raw websocket broadcast server, the ceiling the
//! `fanout` scenario measures SCREEMA's fan-out against (issue 22). It is what a
//! broadcast costs with nothing else in the way: no GraphQL, no seat map, no Redis;
//! one encoded frame (`Utf8Bytes`, shared, never copied per socket) handed through a
//! tokio broadcast channel to one task per connection, which writes it.
//!
//! It speaks just enough of `graphql-transport-ws` for the load tool's own
//! [`Subscriber`](crate::ws::Subscriber): `connection_init` is answered with
//! `connection_ack`; `subscribe` with the snapshot frame, then every broadcast frame;
//! a `ping` with a `pong`; anything else is ignored. Frames go out exactly as they were
//! given, so they carry the subscription id the load tool's subscribers use (`"1"`):
//! the scenario gives it the very frames SCREEMA sent in the same run (its snapshot
//! of the showtime and its events for each change), so the bytes on the wire are the
//! same.
//!
//! Sockets use SCREEMA's websocket buffers (4 KiB read buffer, no write buffer, as
//! `src/http/graphql.rs` configures them), so that memory per connection compares
//! like with like, and TCP_NODELAY.
//!
//! The scenario drives it over a control websocket at `/control` (any other path is a
//! subscriber), one text message per command, each answered with one text message:
//!
//! - `snapshot\n<frame>`: the frame every new subscription gets first; answers `ok`.
//! - `broadcast\n<frame>`: the frame written to every subscription; answers the number
//!   of subscriptions it was handed to.
//! - `subscribed`: answers the number of subscriptions open.
//!
//! It prints `listening on <address>` on its first line of standard output (`--port 0`,
//! the default, takes any free port), binds loopback only, and exits when its standard
//! input closes (the load tool that started it ended) or when it is killed.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub const USAGE: &str = "usage: screema-load broadcast-server [--port P]

A raw websocket broadcast server on 127.0.0.1:P (0, the default: any free port), the
ceiling of the `fanout` scenario, which starts it itself. Subscribers speak
graphql-transport-ws on any path; /control takes `snapshot\\n<frame>`,
`broadcast\\n<frame>` and `subscribed`. Prints `listening on <address>` first; exits
when its standard input closes.";

/// Frames a slow subscription may fall behind by before it misses some (it never
/// should: the scenario sends one change at a time).
const BACKLOG: usize = 64;

struct State {
    snapshot: Mutex<Utf8Bytes>,
    frames: broadcast::Sender<Utf8Bytes>,
}

pub async fn serve(argv: &[String]) -> anyhow::Result<()> {
    let mut port: u16 = 0;
    let mut rest = argv.iter();
    while let Some(flag) = rest.next() {
        match flag.as_str() {
            "--port" => {
                let value = rest.next().context("`--port` needs a value")?;
                port = value
                    .parse()
                    .with_context(|| format!("`--port` expects a port, got `{value}`"))?;
            }
            other => bail!("unknown option `{other}`\n\n{USAGE}"),
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", listener.local_addr()?)?;
        stdout.flush()?;
    }
    // The load tool holds our standard input: when it ends, so do we.
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
    let state = Arc::new(State {
        snapshot: Mutex::new(Utf8Bytes::from_static("")),
        frames: broadcast::channel(BACKLOG).0,
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors, say: the client sees the refusal; keep serving.
            Err(e) => {
                eprintln!("broadcast-server: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        tokio::spawn(connection(stream, state.clone()));
    }
}

// The handshake callback's error type is tungstenite's (`Callback`), not ours to box.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let mut control = false;
    let callback = |request: &Request, mut response: Response| {
        control = request.uri().path() == "/control";
        let asks_for_protocol = request
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == "graphql-transport-ws");
        if asks_for_protocol {
            response.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_static("graphql-transport-ws"),
            );
        }
        Ok::<Response, ErrorResponse>(response)
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let Ok(socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
    else {
        return;
    };
    if control {
        drive(socket, &state).await;
    } else {
        subscription(socket, &state).await;
    }
}

type Socket = WebSocketStream<TcpStream>;

/// The next text message's `type`, and the message; `None` once the socket is done.
async fn next_message(socket: &mut Socket) -> Option<(String, Utf8Bytes)> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => {
                let kind = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                return Some((kind, text));
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// One subscriber: the handshake of graphql-transport-ws, the snapshot, then every
/// broadcast frame as it comes.
async fn subscription(mut socket: Socket, state: &State) {
    loop {
        match next_message(&mut socket).await {
            Some((kind, _)) if kind == "connection_init" => break,
            Some(_) => continue,
            None => return,
        }
    }
    let ack = Message::text(r#"{"type":"connection_ack"}"#);
    if socket.send(ack).await.is_err() {
        return;
    }
    loop {
        match next_message(&mut socket).await {
            Some((kind, _)) if kind == "subscribe" => break,
            Some((kind, _)) if kind == "ping" => {
                if socket.send(pong()).await.is_err() {
                    return;
                }
            }
            Some(_) => continue,
            None => return,
        }
    }
    // Listening before the snapshot goes out: no broadcast falls between the two.
    let mut frames = state.frames.subscribe();
    let snapshot = state
        .snapshot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if socket.send(Message::Text(snapshot)).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Ok(frame) => {
                    if socket.send(Message::Text(frame)).await.is_err() {
                        return;
                    }
                }
                // The subscriber sees the gap in the versions.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = next_message(&mut socket) => match incoming {
                Some((kind, _)) if kind == "ping" => {
                    if socket.send(pong()).await.is_err() {
                        return;
                    }
                }
                Some(_) => {}
                None => return,
            },
        }
    }
}

fn pong() -> Message {
    Message::text(r#"{"type":"pong"}"#)
}

/// The control socket: snapshots, broadcasts and counts, one answer each.
async fn drive(mut socket: Socket, state: &State) {
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            if matches!(message, Message::Close(_)) {
                return;
            }
            continue;
        };
        let (command, frame) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        let answer = match command {
            "snapshot" => {
                *state
                    .snapshot
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Utf8Bytes::from(frame);
                "ok".to_owned()
            }
            // Encoded once: every subscription gets this same buffer.
            "broadcast" => state
                .frames
                .send(Utf8Bytes::from(frame))
                .unwrap_or(0)
                .to_string(),
            "subscribed" => state.frames.receiver_count().to_string(),
            other => format!("unknown command `{other}`"),
        };
        if socket.send(Message::text(answer)).await.is_err() {
            return;
        }
    }
}
