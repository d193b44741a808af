//! `saleQueuePosition`: each buyer's place, live, on any node.
//!
//! An admission run publishes one number on the showtime's channel
//! (`<prefix>:salequeue:<showtimeId>`): the ordinal of the last buyer let in (`head`).
//! Each subscriber knows its own ordinal, so its position is a subtraction: twenty
//! thousand buyers watching cost Redis nothing per admission. A subscriber reads Redis
//! only when the sale opens (its ordinal is drawn then), when its turn has come (for
//! its window), and every [`REREAD`] in case it missed a message.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::line::{self, Admission, Standing};
use crate::app::{App, AppState};
use crate::catalog::model::Showtime;
use crate::error::{AppError, AppResult, LogDisplay};
use crate::pubsub::{Channels, Fanout, Listener, Subscription};

/// How often a subscriber reads its standing from Redis whatever it heard.
const REREAD: Duration = Duration::from_secs(5);

/// What an admission run publishes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct QueueEvent {
    pub showtime: Uuid,
    pub head: i64,
    /// The run opened the sale: ordinals were drawn.
    pub opened: bool,
    /// No seat is free now: nobody is let in until one is.
    pub sold_out: bool,
}

/// This node's subscribers, by showtime.
#[derive(Default)]
pub struct SaleQueues(Arc<Fanout<QueueEvent>>);

fn channel(app: &App, showtime: Uuid) -> String {
    app.redis.key(&format!("salequeue:{showtime}"))
}

/// Takes the showtimes' channels.
pub fn listen(app: &App) {
    app.pubsub.listen(
        Channels::Prefixed(app.redis.key("salequeue:")),
        app.sale_queues.clone(),
    );
}

#[async_trait]
impl Listener for SaleQueues {
    async fn message(&self, _app: &App, _channel: &str, payload: String) {
        match serde_json::from_str::<QueueEvent>(&payload) {
            Ok(event) => self.0.send(event.showtime, event),
            Err(_) => tracing::warn!("unreadable sale queue event"),
        }
    }

    /// Subscribers read their standing again on their own (`REREAD`).
    async fn missed(&self, _app: &App) {}
}

/// Tells every node's subscribers what a run did (best effort: they read Redis again
/// every `REREAD`).
pub async fn publish(app: &App, showtime: &Showtime, run: Admission) {
    let event = QueueEvent {
        showtime: showtime.id,
        head: run.head,
        opened: run.opened,
        sold_out: run.sold_out,
    };
    let sent = crate::pubsub::publish_json(app, channel(app, showtime.id), &event);
    if let Err(e) = sent.await {
        tracing::warn!(error = %LogDisplay(&e), "sale queue event not published");
    }
}

/// What a buyer is told of their place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub showtime: Uuid,
    pub standing: Standing,
    /// No seat is free now (all held, sold or blocked): the line waits for one.
    pub sold_out: bool,
    /// Buyers let in a minute.
    pub rate: u32,
    pub opens_at: Option<DateTime<Utc>>,
    /// By the server's clock, when the report was made.
    pub now: DateTime<Utc>,
}

impl Report {
    pub fn new(app: &App, showtime: &Showtime, (standing, sold_out): (Standing, bool)) -> Self {
        Self {
            showtime: showtime.id,
            standing,
            sold_out,
            rate: super::rate(app, showtime),
            opens_at: showtime.on_sale_at,
            now: app.now(),
        }
    }

    /// 1 for the next buyer let in; `None` before the order is drawn, or once out of
    /// the line.
    pub fn position(&self) -> Option<i64> {
        match self.standing {
            Standing::Waiting { ordinal, head } => Some((ordinal - head).max(1)),
            _ => None,
        }
    }

    /// At the rate, from the opening for a buyer whose place is not yet drawn.
    pub fn estimated_wait_seconds(&self) -> Option<i64> {
        let rate = i64::from(self.rate.max(1));
        match self.standing {
            Standing::Waiting { .. } => {
                let position = self.position().unwrap_or(1);
                Some((position * 60 + rate - 1) / rate)
            }
            Standing::Early => self.opens_at.map(|at| (at - self.now).num_seconds().max(0)),
            _ => None,
        }
    }

    /// Whether the buyer may hold seats now.
    pub fn admitted(&self) -> bool {
        matches!(self.standing, Standing::Admitted { until, .. } if until > self.now)
    }

    /// What is compared to decide whether to tell the buyer again.
    fn told(&self) -> (Standing, bool) {
        (self.standing, self.sold_out)
    }
}

/// A buyer's place, as it changes. `BAD_USER_INPUT` naming `showtimeId` for a buyer
/// who is not in the queue (nor let in).
pub async fn follow(
    app: &AppState,
    showtime: Arc<Showtime>,
    user: Uuid,
) -> AppResult<impl Stream<Item = Report> + use<>> {
    let subscription = Subscription::open(
        &app.sale_queues.0,
        &app.pubsub,
        showtime.id,
        channel(app, showtime.id),
    )
    .await?;
    let (standing, sold_out) = line::standing(app, showtime.id, user).await?;
    if standing == Standing::Absent {
        return Err(AppError::bad_input(
            "showtimeId",
            "you are not in this sale's queue: join it with joinSaleQueue",
        ));
    }
    let state = Follower {
        app: app.clone(),
        showtime,
        user,
        subscription,
        standing,
        sold_out,
        told: None,
        done: false,
    };
    Ok(futures_util::stream::unfold(state, Follower::next))
}

struct Follower {
    app: AppState,
    showtime: Arc<Showtime>,
    user: Uuid,
    subscription: Subscription<QueueEvent>,
    standing: Standing,
    sold_out: bool,
    told: Option<(Standing, bool)>,
    /// Let in (or out of the queue) and told so: the stream ends.
    done: bool,
}

impl Follower {
    async fn next(mut self) -> Option<(Report, Self)> {
        loop {
            if self.done {
                return None;
            }
            let report = Report::new(&self.app, &self.showtime, (self.standing, self.sold_out));
            if self.told != Some(report.told()) {
                self.told = Some(report.told());
                self.done = matches!(self.standing, Standing::Admitted { .. } | Standing::Absent);
                return Some((report, self));
            }
            self.wait().await;
        }
    }

    /// Until something may have changed: an admission run, or the next re-read.
    async fn wait(&mut self) {
        let heard = tokio::time::timeout(REREAD, self.subscription.receiver.recv()).await;
        if let Ok(Ok(event)) = &heard {
            self.sold_out = event.sold_out;
        }
        let reread = match (heard, self.standing) {
            (Ok(Ok(event)), Standing::Waiting { ordinal, head }) => {
                let head = head.max(event.head);
                self.standing = Standing::Waiting { ordinal, head };
                ordinal <= head
            }
            (Ok(Ok(event)), Standing::Early) => event.opened,
            (Ok(Ok(_)), _) => false,
            (Ok(Err(broadcast::error::RecvError::Closed)), _) => {
                // The room closed under us (the node is going away): read, then end.
                self.done = true;
                true
            }
            // Lagged, or nothing heard for a while: read what Redis says.
            (Ok(Err(broadcast::error::RecvError::Lagged(_))), _) | (Err(_), _) => true,
        };
        if reread {
            match line::standing(&self.app, self.showtime.id, self.user).await {
                // Never back up the line: a read older than what was heard keeps the
                // position heard.
                Ok((Standing::Waiting { ordinal, head }, sold_out)) => {
                    self.sold_out = sold_out;
                    let known = match self.standing {
                        Standing::Waiting { head: h, .. } => h,
                        _ => 0,
                    };
                    self.standing = Standing::Waiting {
                        ordinal,
                        head: head.max(known),
                    };
                }
                Ok((other, sold_out)) => {
                    self.standing = other;
                    self.sold_out = sold_out;
                }
                Err(e) => {
                    tracing::debug!(error = %LogDisplay(&e), "sale queue standing not read");
                }
            }
        }
    }
}
