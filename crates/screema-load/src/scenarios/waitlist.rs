//! `waitlist`: a sold-out showtime (`--seats`, 200, sold two at a time) with `--buyers`
//! (500) customers on its waiting list for 1 or 2 seats each, every one of them
//! following `myWaitlistOffers` over a websocket. A tenth of the bookings are then
//! refunded at random, at once; each customer offered seats books them. The checks:
//! every freed seat was offered, no seat was offered twice, and every offer recorded
//! reached its customer. The figure: how long from a seat's release (the refund's
//! answer) to its customer's event.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use rand::seq::IndexedRandom;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::flash_sale::BOOK;
use super::phase;
use crate::args::Args;
use crate::client::Api;
use crate::fixtures::Fixtures;
use crate::report::Report;
use crate::stats::Recorder;
use crate::ws::{Socket, subscribed};
use screema::db::enums::Role;

const JOIN: &str = "mutation ($s: ID!, $n: Int!) {
  joinWaitlist(input: {showtimeId: $s, count: $n}) { id } }";
const OFFERS: &str =
    "subscription { myWaitlistOffers { entryId seatLock { lockToken lockedSeats } } }";
const STATUS: &str = "query ($b: ID!) { booking(id: $b) { status } }";
const REFUND: &str = "mutation ($b: ID!) { refundBooking(input: {bookingId: $b}) { status } }";
const ENTRIES: &str = "{ myWaitlist { status } }";

/// An offer as its customer saw it arrive.
struct Seen {
    seats: Vec<String>,
    at: Instant,
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let pairs = (args.seats / 2).max(1);
    phase(&format!(
        "selling out one showtime of {} seats, two at a time",
        pairs * 2
    ));
    let mut fx = Fixtures::new(args, args.connections).await?;
    let movie = fx.movie(&format!("Waiting list {}", fx.run)).await?;
    let (showtimes, seats) = fx.showtimes(&movie, 1, pairs * 2, "10.00").await?;
    let showtime = <[String]>::first(&showtimes).cloned().unwrap_or_default();
    // One call: the fixtures number the users they make from zero each time.
    let mut bookers = fx.users(pairs + args.buyers, Role::Customer).await?;
    let waiters = bookers.split_off(pairs);
    let gate = Arc::new(tokio::sync::Semaphore::new(args.connections));
    let sold: Vec<(usize, String)> =
        futures_util::future::try_join_all(bookers.iter().enumerate().map(|(i, user)| {
            let (api, gate, showtime) = (fx.api.clone(), gate.clone(), showtime.clone());
            let pair: Vec<String> = seats[i * 2..i * 2 + 2].to_vec();
            async move {
                let _permit = gate.acquire_owned().await?;
                let token = api
                    .lock(&user.token, &showtime, &pair)
                    .await
                    .map_err(|f| anyhow::anyhow!("{f}"))?;
                let vars = json!({"s": showtime, "n": pair, "t": token, "k": []});
                let data = api
                    .gql(Some(&user.token), BOOK, vars)
                    .await
                    .map_err(|f| anyhow::anyhow!("{f}"))?;
                let id = data["createBooking"]["booking"]["id"]
                    .as_str()
                    .context("a booking without an id")?
                    .to_owned();
                // The simulated gateway pays it: wait until it is confirmed.
                for _ in 0..200 {
                    let status = api
                        .gql(Some(&user.token), STATUS, json!({"b": id}))
                        .await
                        .map_err(|f| anyhow::anyhow!("{f}"))?;
                    if status["booking"]["status"] == "CONFIRMED" {
                        return Ok::<_, anyhow::Error>((i, id));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                anyhow::bail!("booking {id} was not confirmed")
            }
        }))
        .await?;

    phase(&format!(
        "{} customers join the waiting list and follow their offers",
        args.buyers
    ));
    let seen: Arc<Mutex<HashMap<usize, Vec<Seen>>>> = Arc::default();
    let mut followers = Vec::with_capacity(waiters.len());
    for (i, waiter) in waiters.iter().enumerate() {
        let socket = subscribed(&args.ws_url(), &waiter.token, "1", OFFERS, Value::Null).await?;
        followers.push(tokio::spawn(take_offers(
            i,
            socket,
            fx.api.clone(),
            waiter.token.clone(),
            showtime.clone(),
            seen.clone(),
        )));
        fx.api
            .gql(
                Some(&waiter.token),
                JOIN,
                json!({"s": showtime, "n": 1 + i % 2}),
            )
            .await
            .map_err(|f| anyhow::anyhow!("joining: {f}"))?;
    }

    phase("refunding a tenth of the bookings at random");
    let chosen: Vec<&(usize, String)> = {
        let mut rng = rand::rng();
        sold.choose_multiple(&mut rng, (sold.len() / 10).max(1))
            .collect()
    };
    let started = Instant::now();
    let released: Vec<(Vec<String>, Instant)> =
        futures_util::future::try_join_all(chosen.iter().map(|(i, id)| {
            let (api, user) = (fx.api.clone(), &bookers[*i]);
            let pair: Vec<String> = seats[i * 2..i * 2 + 2].to_vec();
            async move {
                api.gql(Some(&user.token), REFUND, json!({"b": id}))
                    .await
                    .map_err(|f| anyhow::anyhow!("refunding: {f}"))?;
                Ok::<_, anyhow::Error>((pair, Instant::now()))
            }
        }))
        .await?;
    let release_of: HashMap<String, Instant> = released
        .iter()
        .flat_map(|(pair, at)| pair.iter().map(move |s| (s.clone(), *at)))
        .collect();
    let freed: BTreeSet<String> = release_of.keys().cloned().collect();

    // Until every freed seat has been offered, or 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let offered: usize = seen
            .lock()
            .map(|s| s.values().flatten().map(|o| o.seats.len()).sum())
            .unwrap_or(0);
        if offered >= freed.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Offers made after the last one seen would show up in the entries: give them a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let elapsed = started.elapsed();
    for f in &followers {
        f.abort();
    }

    let seen = std::mem::take(&mut *seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let mut latency = Recorder::default();
    let mut offered_seats: Vec<String> = Vec::new();
    for offer in seen.values().flatten() {
        offered_seats.extend(offer.seats.iter().cloned());
        if let Some(last) = offer.seats.iter().filter_map(|s| release_of.get(s)).max() {
            latency.ok(offer.at.saturating_duration_since(*last));
        }
    }
    let distinct: BTreeSet<String> = offered_seats.iter().cloned().collect();
    // What the database says each customer was offered (offered or booked since).
    let mut recorded = 0usize;
    for waiter in &waiters {
        let mine = fx
            .api
            .gql(Some(&waiter.token), ENTRIES, json!({}))
            .await
            .map_err(|f| anyhow::anyhow!("{f}"))?;
        recorded += mine["myWaitlist"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["status"] == "OFFERED" || e["status"] == "BOOKED")
            .count();
    }
    let received: usize = seen.values().map(Vec::len).sum();

    report.elapsed_seconds = elapsed.as_secs_f64();
    report.operations.push(latency.summary(
        "offer: from the seat's release to the customer's event",
        elapsed,
    ));
    report.figure(
        "setting",
        format!(
            "{} seats sold out in {} bookings; {} customers waiting for 1 or 2 seats; {} bookings refunded at once",
            pairs * 2,
            sold.len(),
            waiters.len(),
            chosen.len()
        ),
    );
    report.figure("seats freed", freed.len());
    report.figure("offers received", received);
    report.check(
        "every freed seat was offered",
        distinct == freed,
        format!("{} of {} freed seats offered", distinct.len(), freed.len()),
    );
    report.check(
        "no seat was offered twice",
        distinct.len() == offered_seats.len(),
        format!(
            "{} seats in offers, {} distinct",
            offered_seats.len(),
            distinct.len()
        ),
    );
    report.check(
        "every offer reached its customer",
        recorded == received,
        format!("{recorded} offers recorded, {received} received live"),
    );
    Ok(())
}

/// Records each offer as it arrives and books it, as a customer would.
async fn take_offers(
    who: usize,
    mut socket: Socket,
    api: Api,
    token: String,
    showtime: String,
    seen: Arc<Mutex<HashMap<usize, Vec<Seen>>>>,
) {
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        let Ok(msg) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if msg["type"] == "ping" {
            let _ = socket
                .send(Message::text(json!({"type": "pong"}).to_string()))
                .await;
            continue;
        }
        if msg["type"] != "next" {
            continue;
        }
        let at = Instant::now();
        let lock = &msg["payload"]["data"]["myWaitlistOffers"]["seatLock"];
        let seats: Vec<String> = lock["lockedSeats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        if let Ok(mut all) = seen.lock() {
            all.entry(who).or_default().push(Seen {
                seats: seats.clone(),
                at,
            });
        }
        let vars = json!({"s": showtime, "n": seats, "t": lock["lockToken"], "k": []});
        let _ = api.gql(Some(&token), BOOK, vars).await;
    }
}
