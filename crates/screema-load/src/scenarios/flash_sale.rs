//! `flash-sale`: `--buyers` users race for the `--seats` seats of one showtime, at most
//! `--connections` at a time, while `--subscribers` watch its seat map. Each buyer wants
//! 1–4 seats, tries seats at random, and after a refusal reads the map and picks among
//! the free ones (as a person would), taking fewer when fewer are left; what it holds,
//! it books. Then the checks: every seat sold once, the API and the database agree, and
//! every subscriber's map equals the database.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::IndexedRandom;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use super::{Budget, phase, progress, strings};
use crate::args::Args;
use crate::client::{Api, Failure};
use crate::fixtures::{Fixtures, User};
use crate::report::Report;
use crate::stats::Recorder;
use crate::ws::Subscriber;
use screema::db::enums::Role;

pub const BOOK: &str = "mutation ($s: ID!, $n: [String!]!, $t: String!, $k: [SnackOrderInput!]!) {
  createBooking(input: {showtimeId: $s, seatNumbers: $n, lockToken: $t, snacks: $k}) {
    booking { id seatNumbers status } } }";
const MAP: &str =
    "query ($s: ID!) { showtime(id: $s) { seatMap { version rows { seats { number state } } } } }";
const ATTEMPTS: usize = 10;

#[derive(Default)]
struct Outcome {
    /// Holds granted.
    hold: Recorder,
    /// Every hold answered, granted or refused: what a buyer waits for either way.
    answered: Recorder,
    book: Recorder,
    map: Recorder,
    bought: Vec<String>,
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    phase(&format!(
        "preparing one showtime of {} seats and {} buyers",
        args.seats, args.buyers
    ));
    let mut fx = Fixtures::new(args, args.connections).await?;
    let movie = fx.movie(&format!("Flash sale {}", fx.run)).await?;
    let (showtimes, seats) = fx.showtimes(&movie, 1, args.seats, "12.00").await?;
    let showtime = <[String]>::first(&showtimes).cloned().unwrap_or_default();
    let buyers = fx.users(args.buyers, Role::Customer).await?;

    // Buyers and subscribers are spread over every node given.
    let mut nodes = vec![fx.api.clone()];
    for url in &args.also {
        nodes.push(Api::new(url, args.connections)?);
    }
    let ws_urls: Vec<String> = args.nodes().map(|u| crate::args::ws_url(u)).collect();
    phase(&format!(
        "opening {} subscribers on {} node(s)",
        args.subscribers,
        ws_urls.len()
    ));
    let mut subscribers = Vec::with_capacity(args.subscribers);
    for i in 0..args.subscribers {
        let ws_url = &ws_urls[i % ws_urls.len()];
        subscribers.push(Subscriber::open(ws_url, &showtime, None).await?);
    }
    // Subscribers read their events while the sale runs, so none falls behind for want
    // of reading; each stops once it has reached the version it is sent.
    let watchers: Vec<_> = subscribers
        .into_iter()
        .map(|sub| {
            let (stop, until) = tokio::sync::oneshot::channel::<i64>();
            (stop, tokio::spawn(watch(sub, until)))
        })
        .collect();

    // Buyers at a sale have the page open already: their connections exist before the
    // clock starts, so the first wave measures holds, not TCP handshakes.
    phase(&format!(
        "opening {} connections per node",
        args.connections
    ));
    for api in &nodes {
        let opened =
            futures_util::future::join_all((0..args.connections).map(|_| api.get("/health/live")))
                .await;
        if let Some(Err(f)) = opened.into_iter().find(Result::is_err) {
            anyhow::bail!("warming up connections: {f}");
        }
    }

    let budget = Budget::new(args);
    let bar = progress("flash-sale", args.duration, budget.clone());
    let gate = Arc::new(Semaphore::new(args.connections));
    let seats = Arc::new(seats);
    let started = Instant::now();
    let tasks: Vec<_> = buyers
        .into_iter()
        .enumerate()
        .map(|(i, buyer)| {
            let (api, gate, seats, budget) = (
                nodes[i % nodes.len()].clone(),
                gate.clone(),
                seats.clone(),
                budget.clone(),
            );
            let showtime = showtime.clone();
            tokio::spawn(async move {
                let Ok(_permit) = gate.acquire_owned().await else {
                    return Outcome::default();
                };
                buy(&api, &buyer, &showtime, &seats, &budget).await
            })
        })
        .collect();
    let mut all = Outcome::default();
    let mut sold_by_api: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        let o = t.await?;
        all.hold.merge(&o.hold);
        all.answered.merge(&o.answered);
        all.book.merge(&o.book);
        all.map.merge(&o.map);
        for seat in o.bought {
            *sold_by_api.entry(seat).or_default() += 1;
        }
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    report.elapsed_seconds = elapsed.as_secs_f64();
    report
        .operations
        .push(all.hold.summary("lockSeats", elapsed));
    report.operations.push(
        all.answered
            .summary("lockSeats answered (held or refused)", elapsed),
    );
    report
        .operations
        .push(all.book.summary("createBooking", elapsed));
    report
        .operations
        .push(all.map.summary("seat map read after a refusal", elapsed));

    // The database's word.
    let rows = fx.sold_seats(&showtime).await?;
    let in_db: BTreeSet<String> = rows.iter().cloned().collect();
    let twice_in_db = rows.len() - in_db.len();
    let twice_by_api = sold_by_api.values().filter(|n| **n > 1).count();
    let by_api: BTreeSet<String> = sold_by_api.keys().cloned().collect();
    report.figure(
        "setting",
        format!(
            "{} buyers ({} at a time) for {} seats, {} subscribers, {} node(s)",
            args.buyers,
            args.connections,
            seats.len(),
            args.subscribers,
            1 + args.also.len()
        ),
    );
    report.figure("seats sold (database)", rows.len());
    report.check(
        "every seat sold",
        rows.len() == seats.len(),
        format!("{} of {}", rows.len(), seats.len()),
    );
    report.check(
        "no seat sold twice",
        twice_in_db == 0 && twice_by_api == 0,
        format!(
            "{twice_in_db} in the database, {twice_by_api} among the bookings the API returned"
        ),
    );
    super::check_api_is_database(report, &by_api, &in_db);

    // Every subscriber reaches the final version, and its map is the database's.
    let version = fx
        .api
        .gql(None, MAP, json!({"s": showtime}))
        .await
        .map_err(|f| anyhow::anyhow!("{f}"))?["showtime"]["seatMap"]["version"]
        .as_i64()
        .unwrap_or_default();
    let (mut converged, mut wrong, mut gaps, mut resyncs) = (0usize, 0usize, 0u64, 0u64);
    for (stop, handle) in watchers {
        let _ = stop.send(version);
        match tokio::time::timeout(Duration::from_secs(30), handle).await {
            Ok(Ok(Ok(sub))) => {
                gaps += sub.gaps;
                resyncs += sub.snapshots.saturating_sub(1);
                let booked: BTreeSet<String> = sub
                    .seats
                    .iter()
                    .filter(|(_, s)| s.as_str() == "BOOKED")
                    .map(|(n, _)| n.clone())
                    .collect();
                let others_available = sub
                    .seats
                    .iter()
                    .all(|(n, s)| in_db.contains(n) || s == "AVAILABLE");
                if booked == in_db && others_available {
                    converged += 1;
                } else {
                    wrong += 1;
                }
                sub.close().await;
            }
            _ => wrong += 1,
        }
    }
    report.figure("final seat-map version", version);
    report.check(
        "every subscriber's final map equals the database",
        wrong == 0 && converged == args.subscribers,
        format!("{converged} converged, {wrong} did not; {gaps} version gaps, {resyncs} resyncs"),
    );
    Ok(())
}

async fn watch(
    mut sub: Subscriber,
    mut until: tokio::sync::oneshot::Receiver<i64>,
) -> anyhow::Result<Subscriber> {
    let mut target = None;
    loop {
        if let Ok(v) = until.try_recv() {
            target = Some(v);
        }
        if target.is_some_and(|t| sub.version >= t) {
            return Ok(sub);
        }
        // Reading a frame is cancel-safe, so the timeout only bounds how late the
        // target is noticed.
        if let Ok(read) = tokio::time::timeout(Duration::from_millis(200), sub.next_event()).await {
            read?;
        }
    }
}

async fn buy(
    api: &Api,
    buyer: &User,
    showtime: &str,
    seats: &[String],
    budget: &Budget,
) -> Outcome {
    let mut out = Outcome::default();
    let want = 1 + (rand::random::<u8>() % 4) as usize;
    let mut free: Vec<String> = seats.to_vec();
    for _ in 0..ATTEMPTS {
        if !budget.take() {
            break;
        }
        let pick: Vec<String> = {
            let mut rng = rand::rng();
            free.choose_multiple(&mut rng, want.min(free.len()))
                .cloned()
                .collect()
        };
        if pick.is_empty() {
            break;
        }
        let t = Instant::now();
        let held = api.lock(&buyer.token, showtime, &pick).await;
        budget.count(held.is_ok());
        match &held {
            Ok(_) => out.answered.ok(t.elapsed()),
            Err(f) if f.code == "SEATS_UNAVAILABLE" => out.answered.ok(t.elapsed()),
            Err(f) => out.answered.error(&f.code),
        }
        match held {
            Ok(token) => {
                out.hold.ok(t.elapsed());
                let t = Instant::now();
                let vars = json!({"s": showtime, "n": pick, "t": token, "k": []});
                match api.gql(Some(&buyer.token), BOOK, vars).await {
                    Ok(data) => {
                        out.book.ok(t.elapsed());
                        out.bought = strings(&data["createBooking"]["booking"]["seatNumbers"]);
                    }
                    Err(f) => out.book.error(&f.code),
                }
                return out;
            }
            Err(Failure { code, .. }) if code == "SEATS_UNAVAILABLE" => {
                out.hold.error(&code);
                let t = Instant::now();
                match api
                    .gql_typed::<MapAnswer>(Some(&buyer.token), MAP, json!({"s": showtime}))
                    .await
                {
                    Ok(map) => {
                        out.map.ok(t.elapsed());
                        free = map.available();
                    }
                    Err(f) => {
                        out.map.error(&f.code);
                        return out;
                    }
                }
            }
            Err(f) => {
                out.hold.error(&f.code);
                return out;
            }
        }
    }
    out
}

/// `MAP`'s answer, as much of it as a buyer reads.
#[derive(Deserialize)]
struct MapAnswer {
    showtime: MapShowtime,
}

#[derive(Deserialize)]
struct MapShowtime {
    #[serde(rename = "seatMap")]
    seat_map: MapRows,
}

#[derive(Deserialize)]
struct MapRows {
    rows: Vec<MapRow>,
}

#[derive(Deserialize)]
struct MapRow {
    seats: Vec<MapSeat>,
}

#[derive(Deserialize)]
struct MapSeat {
    number: String,
    state: String,
}

impl MapAnswer {
    /// The seats still free.
    fn available(self) -> Vec<String> {
        self.showtime
            .seat_map
            .rows
            .into_iter()
            .flat_map(|r| r.seats)
            .filter(|s| s.state == "AVAILABLE")
            .map(|s| s.number)
            .collect()
    }
}
