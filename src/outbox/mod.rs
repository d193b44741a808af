//! The outbox. A side effect of a database change (a seat-map publish, cancelling or
//! refunding a payment, an email) is written as a row in the same transaction as the
//! change, and delivered after commit: at once by the request that made it, and
//! otherwise by every node's worker, which claims rows with `FOR UPDATE SKIP LOCKED`
//! and retries failures with back-off. A crash between commit and delivery loses
//! nothing, and a failed delivery never undoes the change. Every effect is idempotent,
//! so delivering one twice does no harm.
//!
//! What a request delivers costs no statement of its own: its rows are written leased
//! to it (the worker takes them only once the lease runs out, should the request die
//! first), it delivers them from what it wrote, with whatever it already had for them
//! (`Queued::with`), and their deliveries are recorded in batches (`delivered`). A
//! checkout's side effects so cost its transactions and a share of a batch (BENCHMARKS,
//! issue 22).
//!
//! The kinds of effect are the variants of [`Effect`], listed there once: their names
//! are derived, and what delivers each is one `match` in `worker::effects`, installed
//! in the `App` (this module is below every domain that writes effects).

pub mod delivered;

use std::any::Any;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use uuid::Uuid;

use crate::app::App;
use crate::db::schema::outbox;
use crate::error::{AppError, AppResult, LogDisplay};

#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Effect {
    /// Bring Redis and the live seat maps in line with Postgres for these seats;
    /// `used_lock` is the hold a new booking was made from.
    Seats {
        showtime: Uuid,
        seats: Vec<String>,
        used_lock: Option<String>,
    },
    /// Cancel a payment intent that nobody will pay any more.
    CancelIntent {
        intent: String,
    },
    /// Give back a payment that arrived for a booking that could not be honoured.
    Refund {
        booking: Uuid,
    },
    /// Give back all the money of a booking whose showtime was cancelled.
    RefundCancelled {
        booking: Uuid,
    },
    /// Send a refund row of ours that is still pending (an exchange's difference).
    SendRefund {
        refund: Uuid,
    },
    /// A message to the customer about a booking (`template` names which).
    Email {
        booking: Uuid,
        template: String,
    },
    Sms {
        booking: Uuid,
        template: String,
    },
    /// Push a written notification to its user's live subscriptions.
    Notify {
        notification: Uuid,
    },
    /// Tell the next batch of opted-in customers (after `after`, by id) of a promotion.
    Promotion {
        promotion: Uuid,
        after: Option<Uuid>,
    },
    /// A promotion's email to one customer.
    PromotionEmail {
        promotion: Uuid,
        user: Uuid,
    },
    /// Store a confirmed booking's ticket image.
    TicketImage {
        booking: Uuid,
    },
    /// Send an account challenge: a verification link, a reset link or a phone code.
    /// Only the challenge's id travels; the code is derived at delivery
    /// (`auth::challenges`), so this row holds nothing usable.
    AccountMessage {
        challenge: Uuid,
    },
    /// A waiting list's offer, told by email.
    WaitlistEmail {
        entry: Uuid,
    },
    /// A waiting list's offer, told by text message.
    WaitlistSms {
        entry: Uuid,
    },
}

impl Effect {
    /// The row's `kind`: the variant's name, as `serde` tags it too.
    pub fn kind(&self) -> &'static str {
        self.into()
    }
}

/// The kinds this build delivers: all of them.
const DELIVERED: &[&str] = <Effect as strum::VariantNames>::VARIANTS;

/// What delivers an effect (`worker::effects`). `in_hand` is what the row's writer
/// attached to it (`Queued::with`); the worker has nothing in hand.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    async fn deliver(&self, app: &App, effect: &Effect, in_hand: InHand<'_>) -> AppResult<()>;
}

/// What a row's writer already had for its delivery, if anything.
pub type InHand<'a> = Option<&'a (dyn Any + Send + Sync)>;

/// A row written, with its effect: what its writer delivers after commit without reading
/// the row back.
#[derive(Clone)]
pub struct Queued {
    pub id: i64,
    effect: Effect,
    request: Option<String>,
    in_hand: Option<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("id", &self.id)
            .field("effect", &self.effect)
            .finish_non_exhaustive()
    }
}

impl Queued {
    /// Hands the row's delivery what its writer has already read or made in the
    /// transaction that wrote it (the notification, the confirmed booking), so that
    /// delivering it at once reads nothing again. A delivery that finds nothing in hand,
    /// or something else, reads what it needs, as the worker's always do.
    pub fn with<T: Any + Send + Sync>(mut self, value: Arc<T>) -> Self {
        self.in_hand = Some(value);
        self
    }
}

/// Who delivers a row first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deliverer {
    /// The request that wrote it, after commit (`deliver_now`), with no statement to
    /// claim it: the row is leased to its writer, and the worker leaves it alone until
    /// the lease ends (a writer that died first).
    Writer,
    /// Any node's worker, from the moment it commits.
    Workers,
}

/// Writes an effect inside the caller's transaction, for the caller to deliver after
/// commit (`Deliverer::Writer`). `key` makes it idempotent: a second effect with the
/// same key is not written.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    key: String,
    effect: &Effect,
) -> AppResult<Option<Queued>> {
    enqueue_for(conn, now, key, effect, Deliverer::Writer).await
}

pub async fn enqueue_for(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    key: String,
    effect: &Effect,
    deliverer: Deliverer,
) -> AppResult<Option<Queued>> {
    let due = match deliverer {
        Deliverer::Writer => now + LEASE,
        Deliverer::Workers => now,
    };
    let mut written = insert(conn, due, vec![(key, effect.clone(), None)]).await?;
    Ok(written.pop())
}

/// A row to write: its idempotency key, its effect, and what its writer has in hand
/// for the delivery (`Queued::with`).
pub type NewRow = (String, Effect, Option<Arc<dyn Any + Send + Sync>>);

/// Writes several effects for the caller to deliver, in one statement; as `enqueue`
/// each, in order (a key written before is left out).
pub async fn enqueue_all(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    rows: Vec<NewRow>,
) -> AppResult<Vec<Queued>> {
    insert(conn, now + LEASE, rows).await
}

/// The rows, due at `due`, in one statement; those whose key was written before are
/// left out. In the order written.
async fn insert(
    conn: &mut AsyncPgConnection,
    due: DateTime<Utc>,
    rows: Vec<NewRow>,
) -> AppResult<Vec<Queued>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let request = crate::telemetry::current_request_id();
    let mut values = Vec::with_capacity(rows.len());
    for (key, effect, _) in &rows {
        values.push((
            outbox::kind.eq(effect.kind()),
            outbox::payload.eq(serde_json::to_value(effect).map_err(AppError::internal)?),
            outbox::idempotency_key.eq(key.as_str()),
            outbox::available_at.eq(due),
            outbox::request_id.eq(request.as_deref()),
        ));
    }
    let written: Vec<(i64, String)> = diesel::insert_into(outbox::table)
        .values(values)
        .on_conflict(outbox::idempotency_key)
        .do_nothing()
        .returning((outbox::id, outbox::idempotency_key))
        .get_results(conn)
        .await?;
    let mut queued: Vec<Queued> = rows
        .into_iter()
        .filter_map(|(key, effect, in_hand)| {
            let (id, _) = written.iter().find(|(_, k)| *k == key)?;
            Some(Queued {
                id: *id,
                effect,
                request: request.clone(),
                in_hand,
            })
        })
        .collect();
    queued.sort_by_key(|q| q.id);
    Ok(queued)
}

/// Rows the caller's transaction wrote that it will not deliver itself (a showtime's
/// hundred refunds, a tier notification written deep in a check-in): due now for any
/// node's worker instead of at the end of their writer's lease. Inside that
/// transaction, one statement.
pub async fn hand_to_workers(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    rows: &[Queued],
) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set(outbox::available_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Delivers these rows now, after their transaction committed, in the order written.
/// Failures are left to the worker's retries; the caller's request has already
/// succeeded. Deliveries are recorded in batches (`delivered`). Takes the caller's
/// connection to hand it back to the pool first: a request that holds one connection
/// while delivery needs another is how a pool deadlocks under load.
pub async fn deliver_now(app: &App, conn: crate::db::Conn, rows: &[Queued]) {
    drop(conn);
    let mut rows: Vec<&Queued> = rows.iter().collect();
    rows.sort_by_key(|r| r.id);
    for row in rows {
        let in_hand = row.in_hand.as_deref();
        match attempt(app, row.id, &row.effect, row.request.as_deref(), in_hand).await {
            Ok(()) => app.delivered.record(row.id, app.now()),
            Err(e) => {
                if let Err(failed) = record_failure(app, row.id, 1, &e).await {
                    tracing::warn!(outbox = row.id, error = %LogDisplay(&failed), "outbox failure not recorded; the lease will run out");
                }
            }
        }
    }
}

/// Delivers one row's effect in a span with the id of the request that wrote it
/// (`telemetry`), which effects it writes in turn inherit.
async fn attempt(
    app: &App,
    id: i64,
    effect: &Effect,
    request: Option<&str>,
    in_hand: InHand<'_>,
) -> AppResult<()> {
    let request = crate::telemetry::request_id(request);
    let span =
        tracing::info_span!("outbox", outbox = id, kind = effect.kind(), request_id = %request);
    crate::telemetry::with_request_id(request, app.effects.deliver(app, effect, in_hand))
        .instrument(span)
        .await
}

/// Leaves a failed row to a later attempt, after a back-off.
async fn record_failure(app: &App, id: i64, attempts: i32, error: &AppError) -> AppResult<()> {
    let message = LogDisplay(error).to_string();
    tracing::warn!(outbox = id, attempts, error = %message, "outbox delivery failed; will retry");
    let mut conn = app.db().await?;
    diesel::update(outbox::table.find(id))
        .set((
            outbox::attempts.eq(attempts),
            outbox::last_error.eq(Some(message)),
            outbox::available_at.eq(app.now() + backoff(attempts)),
        ))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Delivers due rows, oldest first, until none is left or `max` were tried.
pub async fn deliver_due(app: &App, max: usize) -> AppResult<usize> {
    let mut tried = 0;
    // A node shutting down finishes the row in hand and leaves the rest to others.
    while tried < max && !app.shutdown.has_begun() && deliver_one(app).await? {
        tried += 1;
    }
    Ok(tried)
}

/// 2, 4, 8 … seconds, at most an hour.
fn backoff(attempts: i32) -> chrono::Duration {
    chrono::Duration::seconds(1i64 << attempts.clamp(1, 11)).min(chrono::Duration::hours(1))
}

/// How long a claimed row is left to its deliverer before another may take it over (a
/// node that died mid-delivery). Effects are idempotent, so a takeover is harmless.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// Claims the oldest due row by leasing it, delivers it with no connection held, and
/// records the outcome. Returns whether a row was claimed.
async fn deliver_one(app: &App) -> AppResult<bool> {
    let claimed = {
        let mut conn = app.db().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let now = app.now();
            let row: Option<(i64, serde_json::Value, i32, Option<String>)> = outbox::table
                .filter(outbox::delivered_at.is_null())
                .filter(outbox::available_at.le(now))
                .filter(outbox::kind.eq_any(DELIVERED))
                .select((
                    outbox::id,
                    outbox::payload,
                    outbox::attempts,
                    outbox::request_id,
                ))
                .order(outbox::id)
                .for_update()
                .skip_locked()
                .first(conn)
                .await
                .optional()?;
            if let Some((id, ..)) = &row {
                diesel::update(outbox::table.find(*id))
                    .set(outbox::available_at.eq(now + LEASE))
                    .execute(conn)
                    .await?;
            }
            Ok(row)
        })
        .await?
    };
    let Some((id, payload, attempts, request)) = claimed else {
        return Ok(false);
    };
    let attempts = attempts + 1;
    let effect = serde_json::from_value::<Effect>(payload)
        .map_err(|e| AppError::internal(anyhow::anyhow!("unreadable effect: {e}")));
    let delivered = match effect {
        Ok(effect) => attempt(app, id, &effect, request.as_deref(), None).await,
        Err(e) => Err(e),
    };
    match delivered {
        Ok(()) => {
            let mut conn = app.db().await?;
            diesel::update(outbox::table.find(id))
                .set((
                    outbox::delivered_at.eq(Some(app.now())),
                    outbox::attempts.eq(attempts),
                    outbox::last_error.eq(None::<String>),
                ))
                .execute(&mut conn)
                .await?;
        }
        Err(e) => record_failure(app, id, attempts, &e).await?,
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_round_trip_with_their_kind() {
        let effect = Effect::Seats {
            showtime: Uuid::nil(),
            seats: vec!["A1".into()],
            used_lock: None,
        };
        let json = serde_json::to_value(&effect).unwrap();
        assert_eq!(json["kind"], "seats");
        assert_eq!(serde_json::from_value::<Effect>(json).unwrap(), effect);
    }

    #[test]
    fn every_kind_is_named_alike_by_serde_and_strum_and_delivered() {
        let one = Uuid::nil();
        for effect in [
            Effect::Seats {
                showtime: one,
                seats: vec![],
                used_lock: None,
            },
            Effect::CancelIntent {
                intent: "pi".into(),
            },
            Effect::Refund { booking: one },
            Effect::RefundCancelled { booking: one },
            Effect::SendRefund { refund: one },
            Effect::Email {
                booking: one,
                template: "t".into(),
            },
            Effect::Sms {
                booking: one,
                template: "t".into(),
            },
            Effect::Notify { notification: one },
            Effect::TicketImage { booking: one },
            Effect::AccountMessage { challenge: one },
            Effect::Promotion {
                promotion: one,
                after: None,
            },
            Effect::PromotionEmail {
                promotion: one,
                user: one,
            },
            Effect::WaitlistEmail { entry: one },
            Effect::WaitlistSms { entry: one },
        ] {
            let json = serde_json::to_value(&effect).unwrap();
            assert_eq!(json["kind"], effect.kind());
            assert!(DELIVERED.contains(&effect.kind()));
        }
        assert_eq!(DELIVERED.len(), 14);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1).num_seconds(), 2);
        assert_eq!(backoff(2).num_seconds(), 4);
        assert_eq!(backoff(30).num_seconds(), 2048);
        assert!(backoff(30) <= chrono::Duration::hours(1));
    }
}
