//! `sale-queue`: a premiere's on-sale behind the queue, beside the same crowd without
//! one, in the same run.
//!
//! - **Queued.** `--buyers` (20,000) join the queue of a showtime of `--seats` (1,000)
//!   before it opens (`joinSaleQueue`, `--connections` at a time). `--subscribers`
//!   (2,000) of them follow `saleQueuePosition` over a websocket each, and when let in
//!   hold the best 2 to 4 seats (`holdBestAvailable`, fewer when no block of that size
//!   is left) and book them; the others keep
//!   their place and never come back, as most of a real queue does. The sale opens and
//!   lets in [`RATE_PER_MINUTE`] buyers a minute until every seat is sold.
//! - **Not queued.** The same buyers ask `holdBestAvailable` of a twin showtime all at
//!   once (`--connections` at a time): the flash sale the queue replaces.
//!
//! The checks: positions only go down, nobody is let in twice (one ADMITTED each, then
//! the subscription ends), every seat is sold once and the API's sales are the
//! database's; the figures: the hold p99 of the buyers let in beside the flash sale's.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use super::flash_sale::BOOK;
use super::{phase, strings};
use crate::args::Args;
use crate::client::Api;
use crate::fixtures::Fixtures;
use crate::report::Report;
use crate::stats::Recorder;
use crate::ws::{Socket, subscribed};
use screema::db::enums::Role;

/// Buyers let in a minute: 100 a second, about a twentieth of the holds and map reads
/// one node answers a second on this machine (BENCHMARKS.md, flash sale).
pub const RATE_PER_MINUTE: u32 = 6_000;

const JOIN: &str = "mutation ($s: ID!) { joinSaleQueue(showtimeId: $s) { status position } }";
const FOLLOW: &str = "subscription ($s: ID!) { saleQueuePosition(showtimeId: $s) {
  status position soldOut } }";
const HOLD: &str = "mutation ($s: ID!, $n: Int!) {
  holdBestAvailable(input: {showtimeId: $s, count: $n}) { lockToken lockedSeats } }";
const SETTINGS: &str = "mutation ($id: ID!, $i: UpdateShowtimeInput!) {
  updateShowtime(id: $id, input: $i) { id } }";

/// What one follower saw and did.
#[derive(Default)]
struct Followed {
    positions: Vec<i64>,
    admitted: usize,
    /// From the opening to the ADMITTED event.
    waited: Option<Duration>,
    hold: Recorder,
    book: Recorder,
    bought: Vec<String>,
    refused: bool,
    /// An event after ADMITTED, other than the subscription's end.
    after_admitted: bool,
    error: Option<String>,
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    phase(&format!(
        "preparing two showtimes of {} seats and {} buyers",
        args.seats, args.buyers
    ));
    let mut fx = Fixtures::new(args, args.connections).await?;
    let movie = fx.movie(&format!("Premiere {}", fx.run)).await?;
    let (showtimes, _) = fx.showtimes(&movie, 2, args.seats, "15.00").await?;
    let [queued, flash] = <[String; 2]>::try_from(showtimes)
        .map_err(|_| anyhow::anyhow!("two showtimes were asked for"))?;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    fx.admin_gql(
        SETTINGS,
        json!({"id": queued, "i": {"onSaleAt": later.to_rfc3339(), "queue": true,
                                   "queueRate": RATE_PER_MINUTE}}),
    )
    .await?;
    let buyers = fx.users(args.buyers, Role::Customer).await?;
    let followers = args.subscribers.min(buyers.len());

    phase(&format!(
        "{} buyers join the queue before it opens",
        buyers.len()
    ));
    let gate = Arc::new(Semaphore::new(args.connections));
    let started = Instant::now();
    let joins = futures_util::future::join_all(buyers.iter().map(|buyer| {
        let (api, gate, showtime) = (fx.api.clone(), gate.clone(), queued.clone());
        let token = buyer.token.clone();
        async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let t = Instant::now();
            let answer = api.gql(Some(&token), JOIN, json!({"s": showtime})).await;
            Some((
                t.elapsed(),
                answer.map(|d| d["joinSaleQueue"]["status"].clone()),
            ))
        }
    }))
    .await;
    let join_elapsed = started.elapsed();
    let mut joined = Recorder::new();
    let mut before_opening = 0usize;
    for (took, answer) in joins.into_iter().flatten() {
        match answer {
            Ok(status) => {
                joined.ok(took);
                before_opening += usize::from(status == "BEFORE_OPENING");
            }
            Err(f) => joined.error(&f.code),
        }
    }
    report
        .operations
        .push(joined.summary("joinSaleQueue (before the opening)", join_elapsed));

    phase(&format!("{followers} of them follow their place live"));
    let sold = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::watch::channel(None::<Instant>);
    let mut tasks = Vec::with_capacity(followers);
    for (i, buyer) in buyers.iter().take(followers).enumerate() {
        let variables = json!({"s": queued});
        let socket = subscribed(&args.ws_url(), &buyer.token, "q", FOLLOW, variables).await?;
        let turn = Turn {
            api: fx.api.clone(),
            token: buyer.token.clone(),
            showtime: queued.clone(),
            count: 2 + i % 3,
            sold: sold.clone(),
            clock: stopped.clone(),
        };
        tasks.push(tokio::spawn(async move { turn.take(socket).await }));
    }

    phase("the sale opens");
    let opens = chrono::Utc::now() + chrono::Duration::seconds(2);
    fx.admin_gql(
        SETTINGS,
        json!({"id": queued, "i": {"onSaleAt": opens.to_rfc3339()}}),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let opened = Instant::now();
    let _ = stop.send(Some(opened));
    let deadline = opened + args.duration;
    while sold.load(Ordering::Relaxed) < args.seats && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sale_elapsed = opened.elapsed();
    // Buyers let in and still booking finish; then every follower stops.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(stop);
    let mut hold = Recorder::new();
    let mut book = Recorder::new();
    let mut waits = Recorder::new();
    let (mut admitted, mut twice, mut went_up, mut refused) = (0usize, 0usize, 0usize, 0usize);
    let mut events = 0usize;
    let mut errors: Vec<String> = Vec::new();
    let mut sold_by_api: HashMap<String, usize> = HashMap::new();
    for task in tasks {
        let seen = task.await?;
        hold.merge(&seen.hold);
        book.merge(&seen.book);
        admitted += usize::from(seen.admitted > 0);
        twice += usize::from(seen.admitted > 1 || seen.after_admitted);
        went_up += usize::from(seen.positions.windows(2).any(|w| w[1] > w[0]));
        events += seen.positions.len();
        refused += usize::from(seen.refused);
        if let Some(w) = seen.waited {
            waits.ok(w);
        }
        if let Some(e) = seen.error {
            errors.push(e);
        }
        for seat in seen.bought {
            *sold_by_api.entry(seat).or_default() += 1;
        }
    }
    report.elapsed_seconds = sale_elapsed.as_secs_f64();
    report.operations.push(hold.summary(
        "queued: holdBestAvailable of buyers let in (held or refused)",
        sale_elapsed,
    ));
    report
        .operations
        .push(book.summary("queued: createBooking", sale_elapsed));
    report
        .operations
        .push(waits.summary("queued: from the opening to being let in", sale_elapsed));

    let in_db: Vec<String> = fx.sold_seats(&queued).await?;
    let in_db_set: BTreeSet<String> = in_db.iter().cloned().collect();
    let by_api: BTreeSet<String> = sold_by_api.keys().cloned().collect();
    report.figure(
        "setting",
        format!(
            "{} buyers in the queue of {} seats ({} following live and buying, {} at a time \
             joining), {RATE_PER_MINUTE} let in a minute, one node",
            buyers.len(),
            args.seats,
            followers,
            args.connections
        ),
    );
    report.figure("joined before the opening", before_opening);
    report.figure("followers let in", admitted);
    report.figure("followers let in after the last seat went", refused);
    report.figure("position events", events);
    report.figure(
        "queued: opening to sold out (s)",
        format!("{:.1}", sale_elapsed.as_secs_f64()),
    );
    report.figure("queued: seats sold (database)", in_db.len());
    report.check(
        "every seat sold, and once",
        in_db.len() == args.seats
            && in_db.len() == in_db_set.len()
            && sold_by_api.values().all(|n| *n == 1),
        format!(
            "{} of {} sold, {} twice",
            in_db.len(),
            args.seats,
            in_db.len() - in_db_set.len()
        ),
    );
    super::check_api_is_database(report, &by_api, &in_db_set);
    report.check(
        "positions only go down",
        went_up == 0,
        format!("{went_up} followers saw their position rise, over {events} events"),
    );
    report.check(
        "nobody let in twice",
        twice == 0,
        format!("{twice} followers let in more than once or told more after"),
    );
    report.check(
        "every follower's subscription behaved",
        errors.is_empty(),
        errors
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
    );

    phase(&format!(
        "the same {} buyers, a twin showtime without a queue, {} at a time",
        buyers.len(),
        args.connections
    ));
    let started = Instant::now();
    let answers = futures_util::future::join_all(buyers.iter().enumerate().map(|(i, buyer)| {
        let (api, gate, showtime) = (fx.api.clone(), gate.clone(), flash.clone());
        let token = buyer.token.clone();
        async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let t = Instant::now();
            let answer = api
                .gql(Some(&token), HOLD, json!({"s": showtime, "n": 2 + i % 3}))
                .await;
            Some((t.elapsed(), answer))
        }
    }))
    .await;
    let flash_elapsed = started.elapsed();
    let mut flash_hold = Recorder::new();
    let mut flash_held: Vec<String> = Vec::new();
    for (took, answer) in answers.into_iter().flatten() {
        match answer {
            Ok(data) => {
                flash_hold.ok(took);
                flash_held.extend(strings(&data["holdBestAvailable"]["lockedSeats"]));
            }
            Err(f) if f.code == "SEATS_UNAVAILABLE" => flash_hold.ok(took),
            Err(f) => flash_hold.error(&f.code),
        }
    }
    report.operations.push(flash_hold.summary(
        "not queued: holdBestAvailable, every buyer at once (held or refused)",
        flash_elapsed,
    ));
    let flash_distinct: BTreeSet<&String> = flash_held.iter().collect();
    report.figure("not queued: seats held", flash_held.len());
    report.check(
        "not queued: no seat held twice",
        flash_distinct.len() == flash_held.len(),
        format!(
            "{} held, {} distinct",
            flash_held.len(),
            flash_distinct.len()
        ),
    );
    Ok(())
}

/// One follower's part: its socket, and what it does when let in.
struct Turn {
    api: Api,
    token: String,
    showtime: String,
    count: usize,
    sold: Arc<AtomicUsize>,
    /// When the sale opened; closed when the run stops.
    clock: tokio::sync::watch::Receiver<Option<Instant>>,
}

impl Turn {
    async fn take(mut self, mut socket: Socket) -> Followed {
        let mut seen = Followed::default();
        if let Err(e) = self.follow(&mut socket, &mut seen).await {
            seen.error = Some(format!("{e:#}"));
        }
        let _ = socket.close(None).await;
        seen
    }

    async fn follow(&mut self, socket: &mut Socket, seen: &mut Followed) -> anyhow::Result<()> {
        loop {
            let message = tokio::select! {
                m = socket.next() => m,
                changed = self.clock.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    continue;
                }
            };
            let Some(message) = message else {
                anyhow::bail!("the server closed the socket");
            };
            let Message::Text(text) = message? else {
                continue;
            };
            let value: Value = serde_json::from_str(&text)?;
            match value["type"].as_str() {
                Some("next") => {}
                Some("complete") => return Ok(()),
                Some("ping") => {
                    socket
                        .send(Message::text(json!({"type": "pong"}).to_string()))
                        .await?;
                    continue;
                }
                _ => anyhow::bail!("unexpected message {value}"),
            }
            let standing = &value["payload"]["data"]["saleQueuePosition"];
            if seen.admitted > 0 {
                seen.after_admitted = true;
            }
            if let Some(p) = standing["position"].as_i64() {
                seen.positions.push(p);
            }
            if standing["status"] == "ADMITTED" {
                seen.admitted += 1;
                seen.waited = (*self.clock.borrow()).map(|at| at.elapsed());
                self.buy(seen).await;
            }
        }
    }

    /// Holds the best block of its count, or of fewer when none is left (as a buyer
    /// does), and books it.
    async fn buy(&self, seen: &mut Followed) {
        for count in (1..=self.count).rev() {
            let t = Instant::now();
            let vars = json!({"s": self.showtime, "n": count});
            match self.api.gql(Some(&self.token), HOLD, vars).await {
                Ok(data) => {
                    seen.hold.ok(t.elapsed());
                    let lock = &data["holdBestAvailable"];
                    let seats = strings(&lock["lockedSeats"]);
                    let token = lock["lockToken"].as_str().unwrap_or_default();
                    let t = Instant::now();
                    let vars = json!({"s": self.showtime, "n": seats, "t": token, "k": []});
                    match self.api.gql(Some(&self.token), BOOK, vars).await {
                        Ok(data) => {
                            seen.book.ok(t.elapsed());
                            seen.bought = strings(&data["createBooking"]["booking"]["seatNumbers"]);
                            self.sold.fetch_add(seen.bought.len(), Ordering::Relaxed);
                        }
                        Err(f) => seen.book.error(&f.code),
                    }
                    return;
                }
                Err(f) if f.code == "SEATS_UNAVAILABLE" => seen.hold.ok(t.elapsed()),
                Err(f) => {
                    seen.hold.error(&f.code);
                    return;
                }
            }
        }
        seen.refused = true;
    }
}
