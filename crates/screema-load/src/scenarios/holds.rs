//! `holds`: users holding one or two random seats and releasing them, across many
//! showtimes, two or so users to a room so that some holds collide. The tool keeps a
//! ledger of who holds what: a seat entered twice is a seat held twice.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::seq::IndexedRandom;
use serde_json::json;

use super::{Budget, phase, progress};
use crate::args::Args;
use crate::fixtures::Fixtures;
use crate::report::Report;
use crate::stats::Recorder;
use screema::db::enums::Role;

pub const RELEASE: &str = "mutation ($t: String!) { releaseSeats(lockToken: $t) }";

type Ledger = Arc<Mutex<HashSet<(usize, String)>>>;

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    phase(&format!(
        "preparing {} showtimes of 200 seats and {} users",
        args.showtimes, args.connections
    ));
    let mut fx = Fixtures::new(args, args.connections).await?;
    let movie = fx.movie(&format!("Holds {}", fx.run)).await?;
    let (showtimes, seats) = fx.showtimes(&movie, args.showtimes, 200, "10.00").await?;
    let users = fx.users(args.connections, Role::Customer).await?;
    let showtimes = Arc::new(showtimes);
    let seats = Arc::new(seats);
    let ledger: Ledger = Arc::default();
    let doubles = Arc::new(Mutex::new(Vec::<String>::new()));

    let budget = Budget::new(args);
    let bar = progress("holds", args.duration, budget.clone());
    let started = Instant::now();
    let workers: Vec<_> = users
        .into_iter()
        .enumerate()
        .map(|(w, user)| {
            let api = fx.api.clone();
            let (budget, showtimes, seats) = (budget.clone(), showtimes.clone(), seats.clone());
            let (ledger, doubles) = (ledger.clone(), doubles.clone());
            tokio::spawn(async move {
                let (mut hold, mut release) = (Recorder::new(), Recorder::new());
                let room = w % showtimes.len();
                let showtime = &showtimes[room];
                // Each user keeps one hold while making the next, so holds overlap in
                // time and the ledger can catch a seat held twice.
                let mut previous: Option<(String, Vec<String>)> = None;
                while budget.take() {
                    let want: Vec<String> = {
                        let mut rng = rand::rng();
                        let k = if rand::random::<bool>() { 1 } else { 2 };
                        let mine = previous.as_ref().map(|p| p.1.clone()).unwrap_or_default();
                        let free: Vec<&String> =
                            seats.iter().filter(|s| !mine.contains(s)).collect();
                        free.choose_multiple(&mut rng, k)
                            .map(|s| (*s).clone())
                            .collect()
                    };
                    let t = Instant::now();
                    let held = api.lock(&user.token, showtime, &want).await;
                    budget.count(held.is_ok());
                    let token = match held {
                        Ok(token) => {
                            hold.ok(t.elapsed());
                            token
                        }
                        Err(f) => {
                            hold.error(&f.code);
                            continue;
                        }
                    };
                    if let (Ok(mut l), Ok(mut d)) = (ledger.lock(), doubles.lock()) {
                        for seat in &want {
                            if !l.insert((room, seat.clone())) {
                                d.push(format!("{showtime}/{seat}"));
                            }
                        }
                    }
                    if let Some((token, seats)) = previous.replace((token, want)) {
                        // Out of the ledger before the release is sent: once Redis has
                        // let the seats go, someone else may rightly hold them.
                        if let Ok(mut l) = ledger.lock() {
                            for seat in seats {
                                l.remove(&(room, seat));
                            }
                        }
                        let t = Instant::now();
                        match api
                            .gql(Some(&user.token), RELEASE, json!({"t": token}))
                            .await
                        {
                            Ok(_) => release.ok(t.elapsed()),
                            Err(f) => release.error(&f.code),
                        }
                    }
                }
                if let Some((token, _)) = previous {
                    let _ = api
                        .gql(Some(&user.token), RELEASE, json!({"t": token}))
                        .await;
                }
                (hold, release)
            })
        })
        .collect();
    let (mut hold, mut release) = (Recorder::new(), Recorder::new());
    for w in workers {
        let (h, r) = w.await?;
        hold.merge(&h);
        release.merge(&r);
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    report.elapsed_seconds = elapsed.as_secs_f64();
    report.operations.push(hold.summary("lockSeats", elapsed));
    report
        .operations
        .push(release.summary("releaseSeats", elapsed));
    report.figure(
        "setting",
        format!(
            "{} users on {} showtimes of {} seats, 1–2 random seats a hold",
            args.connections,
            showtimes.len(),
            seats.len()
        ),
    );
    let doubles = doubles.lock().map(|d| d.clone()).unwrap_or_default();
    report.check(
        "no seat held by two users at once",
        doubles.is_empty(),
        format!(
            "{} seats held twice {:?}",
            doubles.len(),
            &doubles[..doubles.len().min(5)]
        ),
    );
    report.notes.push(
        "SEATS_UNAVAILABLE is the expected answer when two users pick the same seat; it is \
         counted as an error of lockSeats, not as a failure of the run"
            .into(),
    );
    Ok(())
}
