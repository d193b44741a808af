//! `subscribers`: `--subscribers` websocket subscribers spread over `--showtimes`
//! showtimes, then one hold every 100 ms, each of one seat, taking turns across the
//! showtimes. Fan-out latency runs from the moment the hold's HTTP answer arrives to the
//! moment each subscriber reads the change (negative gaps, when the event beats the
//! answer, count as zero). Memory per connection is the server's resident memory after
//! connecting less before, divided by the subscribers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::{Budget, phase, progress};
use crate::args::Args;
use crate::fixtures::Fixtures;
use crate::report::Report;
use crate::stats::{Recorder, rss_kib};
use crate::ws::Subscriber;
use screema::db::enums::Role;

const HOLD_EVERY: Duration = Duration::from_millis(100);
const CONNECTING_AT_ONCE: usize = 256;

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let rooms = args.showtimes.max(1);
    phase(&format!("preparing {rooms} showtimes of 120 seats"));
    let mut fx = Fixtures::new(args, 4).await?;
    let movie = fx.movie(&format!("Subscribers {}", fx.run)).await?;
    let (showtimes, seats) = fx.showtimes(&movie, rooms, 120, "9.50").await?;
    // At most 10 seats per user and showtime: enough holders for every hold.
    let holds = (args.duration.as_millis() / HOLD_EVERY.as_millis()) as usize;
    let holds = holds.min(seats.len() * rooms);
    let holders = fx.users(holds.div_ceil(10) + 1, Role::Customer).await?;

    let before = args.server_pid.and_then(rss_kib);
    phase(&format!("opening {} subscribers", args.subscribers));
    let ws_url = Arc::new(args.ws_url());
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let expected: Vec<usize> = (0..rooms)
        .map(|r| (0..holds).filter(|h| h % rooms == r).count())
        .collect();
    let open_started = Instant::now();
    let mut opening = Vec::with_capacity(args.subscribers);
    for i in 0..args.subscribers {
        let (url, gate) = (ws_url.clone(), gate.clone());
        let room = i % rooms;
        let showtime = showtimes[room].clone();
        opening.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let sub = Subscriber::open(&url, &showtime, None).await;
            drop(permit);
            sub.map(|s| (room, s))
        }));
    }
    let (subs, refused) = super::opened(opening).await?;
    let opened_in = open_started.elapsed();
    // Let the server settle (closed handshakes, freed buffers) before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = args.server_pid.and_then(rss_kib);
    report.figure(
        "subscribers connected",
        format!(
            "{} of {} in {:.1} s ({} refused: {:?})",
            subs.len(),
            args.subscribers,
            opened_in.as_secs_f64(),
            refused.values().sum::<u64>(),
            refused
        ),
    );
    if let (Some(b), Some(a)) = (before, after) {
        let per = (a.saturating_sub(b) as f64) / subs.len().max(1) as f64;
        report.figure(
            "server memory per subscriber",
            format!("{per:.1} KiB ({b} KiB before connecting, {a} KiB after)"),
        );
    }

    // Every subscriber reads until it has seen each hold of its room, or gives up.
    let deadline = Instant::now() + args.duration + Duration::from_secs(30);
    let readers: Vec<_> = subs
        .into_iter()
        .map(|(room, mut sub)| {
            let want = expected[room];
            tokio::spawn(async move {
                while sub.arrivals.len() < want {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, sub.next_event()).await {
                        Ok(Ok(())) => {}
                        _ => break,
                    }
                }
                (room, sub)
            })
        })
        .collect();

    let budget = Budget::new(args);
    let bar = progress("subscribers", args.duration, budget.clone());
    let mut answered: HashMap<(usize, String), Instant> = HashMap::new();
    let mut hold = Recorder::new();
    let mut ticks = tokio::time::interval(HOLD_EVERY);
    let started = Instant::now();
    for h in 0..holds {
        ticks.tick().await;
        let room = h % rooms;
        let seat = seats[h / rooms].clone();
        let holder = &holders[h / 10];
        let t = Instant::now();
        match fx
            .api
            .lock(&holder.token, &showtimes[room], std::slice::from_ref(&seat))
            .await
        {
            Ok(_) => {
                hold.ok(t.elapsed());
                answered.insert((room, seat), Instant::now());
                budget.count(true);
            }
            Err(f) => {
                hold.error(&f.code);
                budget.count(false);
            }
        }
    }
    let holding = started.elapsed();
    bar.finish_and_clear();

    let mut fanout = Recorder::new();
    let (mut complete, mut gaps, mut resyncs, mut total) = (0usize, 0u64, 0u64, 0usize);
    for r in readers {
        let (room, sub) = r.await?;
        total += 1;
        gaps += sub.gaps;
        resyncs += sub.snapshots.saturating_sub(1);
        let mut seen = 0;
        for (seat, state, at) in &sub.arrivals {
            if state != "HELD" {
                continue;
            }
            if let Some(answer) = answered.get(&(room, seat.clone())) {
                fanout.ok(at.saturating_duration_since(*answer));
                seen += 1;
            }
        }
        let missing = expected[room].saturating_sub(seen);
        if missing == 0 {
            complete += 1;
        } else {
            fanout.error("CHANGE_NOT_SEEN");
        }
        sub.close().await;
    }
    report.elapsed_seconds = holding.as_secs_f64();
    report
        .operations
        .push(hold.summary("lockSeats (one seat)", holding));
    report
        .operations
        .push(fanout.summary("fan-out: hold answered → subscriber has it", holding));
    report.figure(
        "setting",
        format!(
            "{} subscribers on {rooms} showtimes; {holds} holds, one every {} ms",
            args.subscribers,
            HOLD_EVERY.as_millis()
        ),
    );
    report.check(
        "every subscriber saw every hold of its showtime",
        complete == total && total == args.subscribers,
        format!("{complete} of {total} complete; {gaps} version gaps, {resyncs} resyncs"),
    );
    Ok(())
}
