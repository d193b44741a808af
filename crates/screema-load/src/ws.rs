//! A `seatMap` subscriber over graphql-transport-ws that keeps its own copy of the map,
//! checks that versions follow each other, and stamps when each change arrived.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const QUERY: &str = "subscription ($id: ID!, $since: SeatMapCursorInput) {
  seatMap(showtimeId: $id, since: $since) {
  version epoch availableSeats changes { number state }
  snapshot { version rows { seats { number state } } } } }";

pub struct Subscriber {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub version: i64,
    pub seats: HashMap<String, String>,
    pub snapshots: u64,
    pub gaps: u64,
    /// The epoch of the last event (`SeatMapEvent.epoch`).
    pub epoch: String,
    /// (seat, state, when it arrived) for every change, in order.
    pub arrivals: Vec<(String, String, Instant)>,
    /// Every event as it came, when asked for (`record`): a replay needs to know
    /// which changes came together.
    pub events: Option<Vec<Event>>,
    /// Every `next` message as it came over the wire, and when, when asked for
    /// (`open_keeping_frames`): the `fanout` scenario replays them to its raw server.
    pub frames: Option<Vec<(Utf8Bytes, Instant)>>,
}

/// One `seatMap` event as it came: its version, whether it was a snapshot, and its
/// changes (seat, state).
#[derive(Debug, Clone)]
pub struct Event {
    pub version: i64,
    pub snapshot: bool,
    pub changes: Vec<(String, String)>,
}

impl Subscriber {
    /// Connects, subscribes and reads the first event (the snapshot).
    pub async fn open(url: &str, showtime: &str, token: Option<&str>) -> anyhow::Result<Self> {
        let mut sub = Self::connect(url, showtime, token, Value::Null, false).await?;
        sub.next_event().await?;
        Ok(sub)
    }

    /// `open`, keeping every `next` message's text as it came, the snapshot's first
    /// (`frames`).
    pub async fn open_keeping_frames(url: &str, showtime: &str) -> anyhow::Result<Self> {
        let mut sub = Self::connect(url, showtime, None, Value::Null, true).await?;
        sub.next_event().await?;
        Ok(sub)
    }

    /// Connects and resumes the map after `version` of `epoch` (`seatMap(since:)`): the
    /// server sends the changes since then from its history, one version at a time,
    /// or a snapshot when it no longer has them. Records every event; reads none yet.
    pub async fn resume(
        url: &str,
        showtime: &str,
        epoch: &str,
        version: i64,
    ) -> anyhow::Result<Self> {
        let since = json!({"epoch": epoch, "version": version});
        let mut sub = Self::connect(url, showtime, None, since, false).await?;
        sub.version = version;
        sub.epoch = epoch.to_owned();
        sub.record();
        Ok(sub)
    }

    async fn connect(
        url: &str,
        showtime: &str,
        token: Option<&str>,
        since: Value,
        keep_frames: bool,
    ) -> anyhow::Result<Self> {
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        let mut sub = Self {
            socket,
            version: -1,
            seats: HashMap::new(),
            snapshots: 0,
            gaps: 0,
            epoch: String::new(),
            arrivals: Vec::new(),
            events: None,
            frames: keep_frames.then(Vec::new),
        };
        let init = match token {
            Some(t) => {
                json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {t}")}})
            }
            None => json!({"type": "connection_init", "payload": {}}),
        };
        sub.send(init).await?;
        loop {
            let msg = sub.receive().await?;
            if msg["type"] == "connection_ack" {
                break;
            }
        }
        sub.send(json!({"id": "1", "type": "subscribe",
                        "payload": {"query": QUERY, "variables": {"id": showtime, "since": since}}}))
            .await?;
        Ok(sub)
    }

    async fn send(&mut self, v: Value) -> anyhow::Result<()> {
        self.socket.send(Message::text(v.to_string())).await?;
        Ok(())
    }

    async fn receive(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = self
                .socket
                .next()
                .await
                .context("the server closed the socket")??;
            match frame {
                Message::Text(text) => {
                    let v: Value = serde_json::from_str(&text)?;
                    if v["type"] == "ping" {
                        self.send(json!({"type": "pong"})).await?;
                        continue;
                    }
                    if let Some(frames) = self.frames.as_mut()
                        && v["type"] == "next"
                    {
                        frames.push((text, Instant::now()));
                    }
                    return Ok(v);
                }
                Message::Close(_) => bail!("the server closed the socket"),
                _ => continue,
            }
        }
    }

    /// Reads one `seatMap` event and applies it.
    pub async fn next_event(&mut self) -> anyhow::Result<()> {
        let msg = loop {
            let msg = self.receive().await?;
            match msg["type"].as_str() {
                Some("next") => break msg,
                Some("error") | Some("complete") => bail!("subscription ended: {msg}"),
                _ => continue,
            }
        };
        let now = Instant::now();
        let event = &msg["payload"]["data"]["seatMap"];
        let version = event["version"]
            .as_i64()
            .context("an event without a version")?;
        if let Some(epoch) = event["epoch"].as_str() {
            self.epoch = epoch.to_owned();
        }
        if let Some(events) = self.events.as_mut() {
            let changes = event["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    Some((
                        c["number"].as_str()?.to_owned(),
                        c["state"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            events.push(Event {
                version,
                snapshot: !event["snapshot"].is_null(),
                changes,
            });
        }
        if let Some(rows) = event["snapshot"]["rows"].as_array() {
            self.snapshots += 1;
            self.seats.clear();
            for seat in rows
                .iter()
                .flat_map(|r| r["seats"].as_array().into_iter().flatten())
            {
                if let (Some(n), Some(s)) = (seat["number"].as_str(), seat["state"].as_str()) {
                    self.seats.insert(n.to_owned(), s.to_owned());
                }
            }
        } else {
            if version != self.version + 1 {
                self.gaps += 1;
            }
            for change in event["changes"].as_array().into_iter().flatten() {
                if let (Some(n), Some(s)) = (change["number"].as_str(), change["state"].as_str()) {
                    self.seats.insert(n.to_owned(), s.to_owned());
                    self.arrivals.push((n.to_owned(), s.to_owned(), now));
                }
            }
        }
        self.version = version;
        Ok(())
    }

    /// Keeps every event from now on (`events`).
    pub fn record(&mut self) {
        self.events = Some(Vec::new());
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// A bare graphql-transport-ws socket, for scenarios that read its messages themselves.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A socket signed in as `token` (after its `connection_ack`) and subscribed, as `id`,
/// to `query` with `variables`.
pub async fn subscribed(
    url: &str,
    token: &str,
    id: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init =
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await?;
    loop {
        let frame = socket.next().await.context("closed before its ack")??;
        if let Message::Text(text) = frame
            && serde_json::from_str::<Value>(&text)?["type"] == "connection_ack"
        {
            break;
        }
    }
    let subscribe = json!({"id": id, "type": "subscribe",
        "payload": {"query": query, "variables": variables}});
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}
