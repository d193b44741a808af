//! The scenarios, and what they share: a budget of time and requests, and a progress bar.

mod best_available;
mod checkout;
mod fanout;
mod flash_sale;
mod holds;
mod http;
mod peer;
mod sale_queue;
mod subscribers;
mod waitlist;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::args::Args;
use crate::report::Report;
use crate::stats::rss_kib;

pub async fn run(args: &Args) -> anyhow::Result<Report> {
    let mut report = Report::new(&args.scenario, &args.command);
    let started = Instant::now();
    match args.scenario.as_str() {
        "health" | "catalog" => http::run(args, &mut report).await?,
        "holds" => holds::run(args, &mut report).await?,
        "flash-sale" => flash_sale::run(args, &mut report).await?,
        "best-available" => best_available::run(args, &mut report).await?,
        "waitlist" => waitlist::run(args, &mut report).await?,
        "sale-queue" => sale_queue::run(args, &mut report).await?,
        "subscribers" => subscribers::run(args, &mut report).await?,
        "fanout" => fanout::run(args, &mut report).await?,
        "peer" => peer::run(args, &mut report).await?,
        _ => checkout::run(args, &mut report).await?,
    }
    if report.elapsed_seconds == 0.0 {
        report.elapsed_seconds = started.elapsed().as_secs_f64();
    }
    if let Some(pid) = args.server_pid {
        report.server_rss_kib = rss_kib(pid);
    }
    Ok(report)
}

/// `connections` clients asking `ask` in turn as fast as it answers, until the budget
/// is spent: what they measured, merged.
pub async fn hammer<F, Fut>(
    connections: usize,
    budget: Arc<Budget>,
    ask: F,
) -> anyhow::Result<crate::stats::Recorder>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), crate::client::Failure>> + Send,
{
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (ask, budget) = (ask.clone(), budget.clone());
            tokio::spawn(async move {
                let mut rec = crate::stats::Recorder::new();
                while budget.take() {
                    let t = Instant::now();
                    let outcome = ask().await;
                    budget.count(outcome.is_ok());
                    match outcome {
                        Ok(()) => rec.ok(t.elapsed()),
                        Err(f) => rec.error(&f.code),
                    }
                }
                rec
            })
        })
        .collect();
    let mut all = crate::stats::Recorder::new();
    for w in workers {
        all.merge(&w.await?);
    }
    Ok(all)
}

/// Shared by a scenario's workers: stops them at the deadline or after `requests`.
pub struct Budget {
    deadline: Instant,
    requests: Option<u64>,
    taken: AtomicU64,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
}

impl Budget {
    pub fn new(args: &Args) -> Arc<Self> {
        Arc::new(Self {
            deadline: Instant::now() + args.duration,
            requests: args.requests,
            taken: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// Whether another request may start.
    pub fn take(&self) -> bool {
        if Instant::now() >= self.deadline {
            return false;
        }
        match self.requests {
            Some(max) => self.taken.fetch_add(1, Ordering::Relaxed) < max,
            None => true,
        }
    }

    pub fn count(&self, ok: bool) {
        let counter = if ok { &self.ok } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A progress bar over the run's duration showing what has been done so far; hidden
/// when the output is not a terminal.
pub fn progress(label: &str, duration: Duration, budget: Arc<Budget>) -> ProgressBar {
    let bar = ProgressBar::new(duration.as_millis() as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {elapsed_precise} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_owned());
    let ticker = bar.clone();
    let started = Instant::now();
    tokio::spawn(async move {
        while !ticker.is_finished() {
            ticker.set_position(started.elapsed().as_millis() as u64);
            ticker.set_message(format!(
                "{} ok, {} failed",
                budget.ok.load(Ordering::Relaxed),
                budget.failed.load(Ordering::Relaxed)
            ));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    bar
}

/// A short progress line for phases without a natural length (preparing, connecting).
/// The strings of a JSON list (seat numbers in an answer); none when it is not one.
pub fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

pub fn phase(what: &str) {
    eprintln!("[load] {what}");
}

/// The check every selling scenario ends with: the seats the API said it sold are the
/// ones the database has.
pub fn check_api_is_database(
    report: &mut Report,
    by_api: &std::collections::BTreeSet<String>,
    in_db: &std::collections::BTreeSet<String>,
) {
    report.check(
        "the API's bookings are the database's",
        by_api == in_db,
        format!(
            "{} seats by the API, {} in the database",
            by_api.len(),
            in_db.len()
        ),
    );
}

/// The subscribers that opened, and how many were refused for each reason.
pub async fn opened<T>(
    opening: Vec<tokio::task::JoinHandle<anyhow::Result<T>>>,
) -> anyhow::Result<(Vec<T>, std::collections::HashMap<String, u64>)> {
    let mut subs = Vec::with_capacity(opening.len());
    let mut refused: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for o in opening {
        match o.await? {
            Ok(s) => subs.push(s),
            Err(e) => *refused.entry(e.to_string()).or_default() += 1,
        }
    }
    Ok((subs, refused))
}
