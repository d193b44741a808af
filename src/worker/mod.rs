//! Background work that runs beside the server, on every node: lapsed holds and
//! bookings are released, ended showtimes' live state is closed, loyalty points of
//! started showtimes are counted, and the outbox is delivered. Each piece is safe to run on
//! several nodes at once.

pub mod effects;
pub mod sweeper;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::app::App;
use crate::error::{AppResult, LogDisplay};

/// Runs `step` every `period` until the node shuts down (a step under way is
/// finished); a failed step is logged and retried on the next tick.
fn every<F, Fut>(app: Arc<App>, period: Duration, what: &'static str, step: F) -> JoinHandle<()>
where
    F: Fn(Arc<App>) -> Fut + Send + 'static,
    Fut: Future<Output = AppResult<()>> + Send,
{
    tokio::spawn(async move {
        // The first step one period after start, not at once: a node that is starting
        // has other things to do.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = app.shutdown.begun() => break,
            }
            let span = tracing::info_span!("worker", task = what);
            if let Err(e) = step(app.clone()).instrument(span).await {
                tracing::warn!(error = %LogDisplay(&e), "{what} failed; retrying next tick");
            }
        }
    })
}

pub fn spawn_all(app: Arc<App>) -> Vec<JoinHandle<()>> {
    let sweep = app.config.holds.sweep_interval;
    let poll = app.config.payments.outbox_poll;
    vec![
        every(app.clone(), sweep, "hold sweep", async |app| {
            sweeper::sweep_once(&app).await
        }),
        every(app.clone(), sweep, "booking expiry", async |app| {
            crate::checkout::expiry::expire_due(&app, 100)
                .await
                .map(drop)
        }),
        every(app.clone(), sweep, "unpaid exchanges", async |app| {
            crate::checkout::exchange::lapse_unpaid(&app, 100)
                .await
                .map(drop)
        }),
        every(app.clone(), sweep, "waiting lists", async |app| {
            crate::waitlist::offers::match_all(&app).await.map(drop)
        }),
        every(app.clone(), sweep, "sale queues", async |app| {
            crate::sale_queue::admit_all(&app).await
        }),
        every(app.clone(), sweep, "ended showtimes", async |app| {
            crate::seating::ended::close_ended(&app, 100)
                .await
                .map(drop)
        }),
        every(app.clone(), sweep, "loyalty points", async |app| {
            crate::loyalty::count_started(&app).await
        }),
        every(app, poll, "outbox delivery", async |app| {
            crate::outbox::deliver_due(&app, 100).await.map(drop)
        }),
    ]
}
