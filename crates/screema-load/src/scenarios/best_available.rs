//! `best-available`: `--buyers` users (2,000) ask `holdBestAvailable` for 2 to 4 seats
//! each of one showtime (`--seats`, 1,000), at most `--connections` at a time, and book
//! what they get. Afterwards a subscriber resumes the seat map from before the sale
//! (`seatMap(since:)`: every change, in version order, from the server's history), and
//! each hold is replayed against the ranking (`seating::best`) over the seats as they
//! were just before it. The checks: no seat held or sold twice, the
//! API's bookings are the database's, and every hold was exactly the best block left at
//! its instant, so no buyer got a block that strands a seat while another block
//! existed.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Semaphore;

use super::flash_sale::BOOK;
use super::{Budget, phase, progress, strings};
use crate::args::Args;
use crate::client::Api;
use crate::fixtures::{Fixtures, User, layout, shape};
use crate::report::Report;
use crate::stats::Recorder;
use crate::ws::{Event, Subscriber};
use screema::catalog::layout::SeatLayout;
use screema::db::enums::Role;
use screema::seating::best;

const HOLD: &str = "mutation ($s: ID!, $n: Int!) {
  holdBestAvailable(input: {showtimeId: $s, count: $n}) { lockToken lockedSeats } }";
const VERSION: &str = "query ($s: ID!) { showtime(id: $s) { seatMap { version } } }";

#[derive(Default)]
struct Outcome {
    /// Every hold answered, granted or refused (no block of that size left).
    answered: Recorder,
    book: Recorder,
    held: Vec<String>,
    refused: bool,
    bought: Vec<String>,
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    phase(&format!(
        "preparing one showtime of {} seats and {} buyers",
        args.seats, args.buyers
    ));
    let mut fx = Fixtures::new(args, args.connections).await?;
    let movie = fx.movie(&format!("Best available {}", fx.run)).await?;
    let (showtimes, seats) = fx.showtimes(&movie, 1, args.seats, "12.00").await?;
    let showtime = <[String]>::first(&showtimes).cloned().unwrap_or_default();
    let (rows, per_row) = shape(args.seats);
    let room = SeatLayout::parse(&layout(rows, per_row)?.0, "seatLayout")
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let buyers = fx.users(args.buyers, Role::Customer).await?;

    // Where the map stands before the sale: the replay resumes from here afterwards
    // (`seatMap(since:)`), so the server's history, not a subscriber keeping up with
    // the sale, gives every change in order.
    let before = Subscriber::open(&args.ws_url(), &showtime, None).await?;
    let (epoch, first_version) = (before.epoch.clone(), before.version);
    before.close().await;

    phase(&format!("opening {} connections", args.connections));
    let opened =
        futures_util::future::join_all((0..args.connections).map(|_| fx.api.get("/health/live")))
            .await;
    if let Some(Err(f)) = opened.into_iter().find(Result::is_err) {
        anyhow::bail!("warming up connections: {f}");
    }

    let budget = Budget::new(args);
    let bar = progress("best-available", args.duration, budget.clone());
    let gate = Arc::new(Semaphore::new(args.connections));
    let started = Instant::now();
    let tasks: Vec<_> = buyers
        .into_iter()
        .enumerate()
        .map(|(i, buyer)| {
            let (api, gate, budget, showtime) = (
                fx.api.clone(),
                gate.clone(),
                budget.clone(),
                showtime.clone(),
            );
            tokio::spawn(async move {
                let Ok(_permit) = gate.acquire_owned().await else {
                    return Outcome::default();
                };
                if !budget.take() {
                    return Outcome::default();
                }
                buy(&api, &buyer, &showtime, 2 + i % 3).await
            })
        })
        .collect();
    let mut all = Outcome::default();
    let (mut granted, mut refused) = (0usize, 0usize);
    let mut held_twice = 0usize;
    let mut held_seen: HashSet<String> = HashSet::new();
    let mut sold_by_api: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        let o = t.await?;
        all.answered.merge(&o.answered);
        all.book.merge(&o.book);
        if o.refused {
            refused += 1;
        }
        if !o.held.is_empty() {
            granted += 1;
        }
        for seat in o.held {
            if !held_seen.insert(seat) {
                held_twice += 1;
            }
        }
        for seat in o.bought {
            *sold_by_api.entry(seat).or_default() += 1;
        }
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    report.elapsed_seconds = elapsed.as_secs_f64();
    report.operations.push(
        all.answered
            .summary("holdBestAvailable (held or refused)", elapsed),
    );
    report
        .operations
        .push(all.book.summary("createBooking", elapsed));

    // The database's word.
    let sold = fx.sold_seats(&showtime).await?;
    let in_db: BTreeSet<String> = sold.iter().cloned().collect();
    let by_api: BTreeSet<String> = sold_by_api.keys().cloned().collect();
    report.figure(
        "setting",
        format!(
            "{} buyers ({} at a time) asking for 2 to 4 seats each of {} seats, one node",
            args.buyers,
            args.connections,
            seats.len(),
        ),
    );
    report.figure("holds granted", granted);
    report.figure("holds refused (no block of that size left)", refused);
    report.figure("seats sold (database)", sold.len());
    report.check(
        "no seat held or sold twice",
        held_twice == 0 && sold.len() == in_db.len(),
        format!(
            "{held_twice} held twice, {} sold twice",
            sold.len() - in_db.len()
        ),
    );
    super::check_api_is_database(report, &by_api, &in_db);

    // Replay every hold, in version order, against the ranking.
    let version = fx
        .api
        .gql(None, VERSION, json!({"s": showtime}))
        .await
        .map_err(|f| anyhow::anyhow!("{f}"))?["showtime"]["seatMap"]["version"]
        .as_i64()
        .unwrap_or_default();
    let mut history = Subscriber::resume(&args.ws_url(), &showtime, &epoch, first_version).await?;
    while history.version < version {
        tokio::time::timeout(Duration::from_secs(30), history.next_event()).await??;
    }
    let replay = replay(&room, history.events.as_deref().unwrap_or_default());
    history.close().await;
    report.figure("final seat-map version", version);
    report.check(
        "every hold was the best block left at its instant",
        replay.checked == granted && replay.wrong.is_empty() && replay.unreadable == 0,
        format!(
            "{} of {granted} holds replayed, {} not the best ({}), {} after a gap or resync",
            replay.checked,
            replay.wrong.len(),
            replay
                .wrong
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
            replay.unreadable
        ),
    );
    Ok(())
}

async fn buy(api: &Api, buyer: &User, showtime: &str, count: usize) -> Outcome {
    let mut out = Outcome::default();
    let t = Instant::now();
    let held = api
        .gql(Some(&buyer.token), HOLD, json!({"s": showtime, "n": count}))
        .await;
    match held {
        Ok(data) => {
            out.answered.ok(t.elapsed());
            let lock = &data["holdBestAvailable"];
            out.held = strings(&lock["lockedSeats"]);
            let token = lock["lockToken"].as_str().unwrap_or_default();
            let t = Instant::now();
            let vars = json!({"s": showtime, "n": out.held, "t": token, "k": []});
            match api.gql(Some(&buyer.token), BOOK, vars).await {
                Ok(data) => {
                    out.book.ok(t.elapsed());
                    out.bought = strings(&data["createBooking"]["booking"]["seatNumbers"]);
                }
                Err(f) => out.book.error(&f.code),
            }
        }
        Err(f) if f.code == "SEATS_UNAVAILABLE" => {
            out.answered.ok(t.elapsed());
            out.refused = true;
        }
        Err(f) => out.answered.error(&f.code),
    }
    out
}

#[derive(Default)]
struct Replay {
    checked: usize,
    wrong: Vec<String>,
    /// Holds after a version gap or a fresh snapshot: the seats before them are not
    /// known change by change, so they are not judged.
    unreadable: usize,
}

/// Each event made only of HELD changes is one hold: it must be the block the ranking
/// picks from the seats free just before it. Every other change (a sale, a release)
/// only moves the seats' states.
fn replay(room: &SeatLayout, events: &[Event]) -> Replay {
    let mut out = Replay::default();
    let mut taken: HashSet<String> = HashSet::new();
    let mut version = None;
    let mut trusted = true;
    for Event {
        version: v,
        snapshot,
        changes,
    } in events
    {
        if *snapshot {
            // The history no longer had every change: what follows cannot be judged.
            trusted = false;
            version = Some(*v);
            continue;
        }
        if version.is_some_and(|last| *v != last + 1) {
            trusted = false;
        }
        version = Some(*v);
        let hold = !changes.is_empty() && changes.iter().all(|(_, s)| s == "HELD");
        if hold {
            if !trusted {
                out.unreadable += 1;
            } else {
                let seats: Vec<String> = changes.iter().map(|(n, _)| n.clone()).collect();
                let best = best::choose(room, seats.len(), best::Want::default(), |s| {
                    !taken.contains(&s.to_string())
                })
                .map(|b| b.iter().map(ToString::to_string).collect::<Vec<_>>());
                out.checked += 1;
                if best.as_ref() != Some(&seats) {
                    out.wrong.push(format!("v{v}: {seats:?} for {best:?}"));
                }
            }
        }
        for (seat, state) in changes {
            if state == "AVAILABLE" {
                taken.remove(seat);
            } else {
                taken.insert(seat.clone());
            }
        }
    }
    out
}
