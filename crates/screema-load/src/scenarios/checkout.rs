//! `checkout`: `--connections` customers, each in a loop: hold two seats, book them with
//! a snack, and wait (polling the booking every 50 ms) until the simulated gateway's
//! signed webhook has confirmed it. Seats are dealt out so that customers never collide:
//! this measures the path, not contention.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::flash_sale::BOOK;
use super::{Budget, phase, progress};
use crate::args::Args;
use crate::client::Api;
use crate::fixtures::{Fixtures, User, str_at};
use crate::report::Report;
use crate::stats::Recorder;
use screema::db::enums::Role;

const STATUS: &str = "query ($b: ID!) { booking(id: $b) { status } }";
const POLL: Duration = Duration::from_millis(50);
const CONFIRM_WITHIN: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Steps {
    hold: Recorder,
    book: Recorder,
    confirm: Recorder,
    whole: Recorder,
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let rooms = args.showtimes.max(1);
    phase(&format!(
        "preparing {rooms} showtimes of 1,040 seats, a snack and {} customers",
        args.connections
    ));
    let mut fx = Fixtures::new(args, args.connections).await?;
    let movie = fx.movie(&format!("Checkout {}", fx.run)).await?;
    let (showtimes, seats) = fx.showtimes(&movie, rooms, 1040, "11.00").await?;
    let snack = fx.snack().await?;
    let customers = fx.users(args.connections, Role::Customer).await?;
    // Customers sharing a room take turns through its seats, two at a time.
    let per_room = args.connections.div_ceil(rooms);

    let budget = Budget::new(args);
    let bar = progress("checkout", args.duration, budget.clone());
    let started = Instant::now();
    let seats = Arc::new(seats);
    let workers: Vec<_> = customers
        .into_iter()
        .enumerate()
        .map(|(w, customer)| {
            let (api, budget, seats) = (fx.api.clone(), budget.clone(), seats.clone());
            let showtime = showtimes[w % rooms].clone();
            let snack = snack.clone();
            let slot = w / rooms;
            tokio::spawn(async move {
                let mut steps = Steps::default();
                let mut next = slot * 2;
                while next + 1 < seats.len() && budget.take() {
                    let pair = [seats[next].clone(), seats[next + 1].clone()];
                    next += per_room * 2;
                    let ok = checkout(&api, &customer, &showtime, &pair, &snack, &mut steps).await;
                    budget.count(ok);
                }
                steps
            })
        })
        .collect();
    let mut all = Steps::default();
    for w in workers {
        let s = w.await?;
        all.hold.merge(&s.hold);
        all.book.merge(&s.book);
        all.confirm.merge(&s.confirm);
        all.whole.merge(&s.whole);
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    report.elapsed_seconds = elapsed.as_secs_f64();
    report
        .operations
        .push(all.whole.summary("confirmed booking (end to end)", elapsed));
    report
        .operations
        .push(all.hold.summary("lockSeats", elapsed));
    report
        .operations
        .push(all.book.summary("createBooking (2 seats + snack)", elapsed));
    report.operations.push(
        all.confirm
            .summary("payment confirmed after booking", elapsed),
    );
    report.figure(
        "setting",
        format!(
            "{} customers on {rooms} showtimes; simulated gateway; confirmation seen by polling every {} ms",
            args.connections,
            POLL.as_millis()
        ),
    );
    Ok(())
}

async fn checkout(
    api: &Api,
    customer: &User,
    showtime: &str,
    pair: &[String; 2],
    snack: &str,
    steps: &mut Steps,
) -> bool {
    let token = Some(customer.token.as_str());
    let began = Instant::now();
    let t = Instant::now();
    let lock = match api.lock(&customer.token, showtime, pair).await {
        Ok(lock) => lock,
        Err(f) => {
            steps.hold.error(&f.code);
            return false;
        }
    };
    steps.hold.ok(t.elapsed());
    let t = Instant::now();
    let vars = json!({"s": showtime, "n": pair, "t": lock,
                      "k": [{"snackId": snack, "quantity": 1}]});
    let booking = match api.gql(token, BOOK, vars).await {
        Ok(d) => match str_at(&d, &["createBooking", "booking", "id"]) {
            Ok(id) => id,
            Err(_) => {
                steps.book.error("BAD_ANSWER");
                return false;
            }
        },
        Err(f) => {
            steps.book.error(&f.code);
            return false;
        }
    };
    steps.book.ok(t.elapsed());
    let t = Instant::now();
    while t.elapsed() < CONFIRM_WITHIN {
        tokio::time::sleep(POLL).await;
        match api.gql(token, STATUS, json!({"b": booking})).await {
            Ok(d) if d["booking"]["status"] == "CONFIRMED" => {
                steps.confirm.ok(t.elapsed());
                steps.whole.ok(began.elapsed());
                return true;
            }
            Ok(d) if d["booking"]["status"] != "PENDING" => {
                let status = d["booking"]["status"].as_str().unwrap_or("MISSING");
                steps.confirm.error(&format!("BOOKING_{status}"));
                return false;
            }
            Ok(_) => {}
            Err(f) => {
                steps.confirm.error(&f.code);
                return false;
            }
        }
    }
    steps.confirm.error("NOT_CONFIRMED_IN_30_S");
    false
}
