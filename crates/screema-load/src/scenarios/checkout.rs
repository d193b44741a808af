//! `checkout`: `--connections` customers, each in a loop: hold two seats, book them with
//! a snack, and wait until the simulated gateway's signed webhook has confirmed it, told
//! by the `myNotifications` subscription as a client app is told. Seats are dealt out so
//! that customers never collide: this measures the path, not contention.
//!
//! What a confirmed booking costs Postgres is counted twice over the measured phase:
//! transactions from `pg_stat_database` (every connection's, the server's worker and
//! sweeps included) and from the server's `/metrics`, with its statements.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::flash_sale::BOOK;
use super::{Budget, phase, progress};
use crate::args::Args;
use crate::client::Api;
use crate::fixtures::{Fixtures, User, str_at};
use crate::report::Report;
use crate::stats::{Recorder, cpu_seconds, cpu_seconds_named};
use crate::ws::{Socket, subscribed};
use screema::db::enums::Role;

const TOLD: &str = "subscription { myNotifications { title } }";
const CONFIRM_WITHIN: Duration = Duration::from_secs(30);
/// Longer than PostgreSQL 15 takes to report an idle backend's counts.
const STATS_SETTLE: Duration = Duration::from_secs(11);

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

    phase("letting Postgres report the preparation's counts");
    tokio::time::sleep(STATS_SETTLE).await;
    // Subscribed after the wait: a socket nobody reads misses the server's keep-alive
    // pings and is closed.
    let mut sockets = Vec::with_capacity(customers.len());
    for customer in &customers {
        sockets.push(subscribed(&args.ws_url(), &customer.token, "told", TOLD, Value::Null).await?);
    }
    let counted = Counts::read(&fx, args.server_pid).await?;

    let budget = Budget::new(args);
    let bar = progress("checkout", args.duration, budget.clone());
    let started = Instant::now();
    let seats = Arc::new(seats);
    let workers: Vec<_> = customers
        .into_iter()
        .zip(sockets)
        .enumerate()
        .map(|(w, (customer, mut socket))| {
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
                    let ok = checkout(
                        &api,
                        &customer,
                        &mut socket,
                        &showtime,
                        &pair,
                        &snack,
                        &mut steps,
                    )
                    .await;
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
    // The CPU of the measured phase alone, before the wait below.
    let cpu = Counts::read(&fx, args.server_pid).await?.since(&counted);
    phase("letting the last deliveries be recorded and Postgres report its counts");
    tokio::time::sleep(STATS_SETTLE).await;
    let cost = Counts::read(&fx, args.server_pid).await?.since(&counted);
    let confirmed = all.whole.count().max(1) as f64;
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
            "{} customers on {rooms} showtimes; simulated gateway; confirmation told by the myNotifications subscription",
            args.connections,
        ),
    );
    // A target, not an invariant: the batch writers' share shrinks as the load grows,
    // so a small run costs more a booking (BENCHMARKS, issue 22).
    report.figure(
        "Postgres transactions a confirmed booking (pg_stat_database, every connection; target ≤ 4)",
        format!(
            "{:.2} ({} for {confirmed} confirmed bookings)",
            cost.database as f64 / confirmed,
            cost.database
        ),
    );
    report.figure(
        "the server's transactions a confirmed booking (/metrics db_transactions), of them the batch writers'",
        format!(
            "{:.2}, {:.2}",
            cost.server_transactions / confirmed,
            cost.batch_writes / confirmed
        ),
    );
    report.figure(
        "the server's statements a confirmed booking (/metrics db_statements)",
        format!("{:.2}", cost.server_statements / confirmed),
    );
    let ms = |seconds: f64| 1000.0 * seconds / confirmed;
    let cores = |seconds: f64| seconds / elapsed.as_secs_f64().max(1e-9);
    if let Some(server) = cpu.server_cpu {
        report.figure(
            "CPU a confirmed booking during the phase: server, Postgres (all backends)",
            format!(
                "{:.2} ms, {:.2} ms ({:.2} and {:.2} cores of 2)",
                ms(server),
                ms(cpu.postgres_cpu),
                cores(server),
                cores(cpu.postgres_cpu)
            ),
        );
    }
    Ok(())
}

/// What Postgres and the server count, at one moment, and the CPU each has used.
struct Counts {
    server_cpu: Option<f64>,
    postgres_cpu: f64,
    database: i64,
    server_transactions: f64,
    server_statements: f64,
    batch_writes: f64,
}

impl Counts {
    async fn read(fx: &Fixtures, server: Option<u32>) -> anyhow::Result<Self> {
        Ok(Self {
            server_cpu: server.and_then(cpu_seconds),
            postgres_cpu: cpu_seconds_named("postgres"),
            database: fx.database_transactions().await?,
            // A server older than these counters reports them as 0 (an A/B run).
            server_transactions: fx.api.counter("db_transactions").await.unwrap_or(0.0),
            server_statements: fx.api.counter("db_statements").await.unwrap_or(0.0),
            batch_writes: fx.api.counter("db_batch_writes").await.unwrap_or(0.0),
        })
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            server_cpu: self.server_cpu.zip(before.server_cpu).map(|(a, b)| a - b),
            postgres_cpu: self.postgres_cpu - before.postgres_cpu,
            database: self.database - before.database,
            server_transactions: self.server_transactions - before.server_transactions,
            server_statements: self.server_statements - before.server_statements,
            batch_writes: self.batch_writes - before.batch_writes,
        }
    }
}

async fn checkout(
    api: &Api,
    customer: &User,
    socket: &mut Socket,
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
    match api.gql(token, BOOK, vars).await {
        Ok(d) if str_at(&d, &["createBooking", "booking", "id"]).is_ok() => {}
        Ok(_) => {
            steps.book.error("BAD_ANSWER");
            return false;
        }
        Err(f) => {
            steps.book.error(&f.code);
            return false;
        }
    }
    steps.book.ok(t.elapsed());
    let t = Instant::now();
    match tokio::time::timeout(CONFIRM_WITHIN, told_of(socket)).await {
        Ok(Ok(())) => {
            steps.confirm.ok(t.elapsed());
            steps.whole.ok(began.elapsed());
            true
        }
        Ok(Err(e)) => {
            steps.confirm.error(&format!("SUBSCRIPTION_{e}"));
            false
        }
        Err(_) => {
            steps.confirm.error("NOT_CONFIRMED_IN_30_S");
            false
        }
    }
}

/// Waits for the notification that the customer's booking is confirmed, answering the
/// server's pings.
async fn told_of(socket: &mut Socket) -> Result<(), &'static str> {
    while let Some(frame) = socket.next().await {
        let Ok(Message::Text(text)) = frame else {
            continue;
        };
        let Ok(message) = serde_json::from_str::<Value>(&text) else {
            return Err("UNREADABLE");
        };
        match message["type"].as_str() {
            // A customer has one booking waiting at a time: the confirmation is its.
            Some("next")
                if message["payload"]["data"]["myNotifications"]["title"]
                    == "Booking confirmed" =>
            {
                return Ok(());
            }
            Some("ping") => {
                let pong = json!({"type": "pong"}).to_string();
                if socket.send(Message::text(pong)).await.is_err() {
                    return Err("CLOSED");
                }
            }
            Some("error" | "complete") => return Err("ENDED"),
            _ => {}
        }
    }
    Err("CLOSED")
}
