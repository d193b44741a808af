//! Refunds: asked for by a customer (until a cut-off before the showtime) or an admin,
//! or made automatically when a payment arrives for a booking that cannot be honoured.
//! A refund of the whole booking gives back what is left of the payment (a goodwill
//! refund in Stripe's Dashboard may have given back part of it already); a refund of
//! some seats or snacks gives back what they cost (`partial_refunds`). One refund is in
//! flight per booking at a time (a unique index over its pending refunds), so two
//! requests at once give the money back once.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::gateway::RefundStatus;
use super::ledger::{self, Payment};
use super::partial_refunds::{self, Asked, Part};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::booking::model::Booking;
use crate::booking::records::{authorise, lock_booking};
use crate::db::enums::{BookingStatus, Role};
use crate::db::is_unique_violation;
use crate::db::schema::{refunds, showtimes};
use crate::error::{AppError, AppResult};
use crate::money::Money;
use crate::outbox;
use crate::payments::gateway::payment_error;

pub const MAX_REASON_CHARS: usize = 500;

struct Pending {
    refund_row: Uuid,
    /// None: money taken at the counter, handed back there (the row is answered).
    intent: Option<String>,
    amount: Money,
}

/// Who hands money taken at the counter back over it, and when: such a refund is
/// answered (succeeded) as it is written. Without one, money taken at the counter
/// cannot be refunded.
#[derive(Clone, Copy)]
struct HandedBack {
    by: Uuid,
    at: chrono::DateTime<chrono::Utc>,
}

/// Writes the refund of what is left of the booking's payments (or, with a part, of
/// what that part cost, at most what is left), pending until the gateway answers:
/// one row per payment it comes from, latest payment first, the first row leading
/// (it names the part) and the others pointing at it. Refused while another refund of
/// the booking is under way (the caller holds the booking's lock, so two requests at
/// once give the money back once). Money taken at the counter goes back there
/// (`at_counter`), answered at once; a complimentary sale, which took none, is given
/// back as a refund of nothing, so that its tickets go back too.
async fn insert_refunds(
    conn: &mut AsyncPgConnection,
    booking: &Booking,
    payments: &[Payment],
    part: Option<(&Part, Money)>,
    reason: &str,
    requested_by: Option<Uuid>,
    at_counter: Option<HandedBack>,
) -> AppResult<Vec<Pending>> {
    if ledger::booking_refund_in_flight(conn, booking.id).await? {
        return Err(AppError::conflict(
            "a refund of this booking is already under way",
        ));
    }
    let left = ledger::refundable(payments);
    let amount = match part {
        Some((_, cost)) => cost.amount().min(left),
        None => left,
    };
    let given_for_nothing = at_counter.is_some()
        && payments
            .iter()
            .all(|p| p.charged().amount() == rust_decimal::Decimal::ZERO);
    let shares = match payments.first() {
        Some(first) if given_for_nothing => vec![(first, Money::new(amount, first.currency()))],
        _ if amount <= rust_decimal::Decimal::ZERO => {
            return Err(AppError::conflict(
                "nothing is left to give back: this booking has already been refunded, \
                 or what was asked for cost nothing",
            ));
        }
        _ => ledger::allocate(payments, amount),
    };
    let mut rows = Vec::new();
    let mut lead = None;
    for (payment, share) in shares {
        let intent = payment.intent().map(str::to_owned);
        let handed = match (&intent, at_counter) {
            (Some(_), _) => None,
            (None, Some(handed)) => Some(handed),
            (None, None) => return Err(paid_at_counter()),
        };
        let named = part.filter(|_| lead.is_none()).map(|(p, _)| p);
        let refund_row = insert_one(
            conn,
            NewRefund {
                booking,
                payment,
                amount: share,
                part: named,
                lead,
                reason,
                requested_by,
                handed,
            },
        )
        .await?;
        lead.get_or_insert(refund_row);
        rows.push(Pending {
            refund_row,
            intent,
            amount: share,
        });
    }
    Ok(rows)
}

/// One refund row: from one payment, pending until the gateway answers, or answered
/// when it is handed back at the counter.
struct NewRefund<'a> {
    booking: &'a Booking,
    payment: &'a Payment,
    amount: Money,
    /// What it gives back, on the lead row of a refund of part of the booking.
    part: Option<&'a Part>,
    lead: Option<Uuid>,
    reason: &'a str,
    requested_by: Option<Uuid>,
    handed: Option<HandedBack>,
}

async fn insert_one(conn: &mut AsyncPgConnection, new: NewRefund<'_>) -> AppResult<Uuid> {
    let NewRefund {
        booking,
        payment,
        amount,
        part,
        lead,
        reason,
        requested_by,
        handed,
    } = new;
    let status = match handed {
        Some(_) => RefundStatus::Succeeded,
        None => RefundStatus::Pending,
    };
    let inserted = diesel::insert_into(refunds::table)
        .values((
            refunds::booking_id.eq(booking.id),
            refunds::payment_id.eq(payment.id),
            refunds::amount.eq(amount.amount()),
            refunds::currency.eq(amount.currency().as_str()),
            refunds::status.eq(status.as_str()),
            refunds::reason.eq(Some(reason)),
            refunds::requested_by.eq(requested_by),
            refunds::seat_numbers.eq(part
                .map(|p| p.seats.iter().cloned().map(Some).collect::<Vec<_>>())
                .unwrap_or_default()),
            refunds::snack_lines.eq(part.map_or_else(|| serde_json::json!([]), Part::snack_lines)),
            refunds::lead_refund_id.eq(lead),
            refunds::handed_back_by.eq(handed.map(|h| h.by)),
            refunds::handed_back_at.eq(handed.map(|h| h.at)),
        ))
        .returning(refunds::id)
        .get_result(conn)
        .await;
    match inserted {
        Ok(row) => Ok(row),
        Err(e) if is_unique_violation(&e, "refunds_one_pending_per_payment") => Err(
            AppError::conflict("a refund of this booking is already under way"),
        ),
        Err(e) => Err(e.into()),
    }
}

/// Queues each row that goes through the gateway for the outbox's `send_refund`
/// (inside the caller's transaction).
async fn queue_sends(
    conn: &mut AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
    rows: &[Pending],
) -> AppResult<Vec<crate::outbox::Queued>> {
    let mut effects = Vec::new();
    for row in rows.iter().filter(|r| r.intent.is_some()) {
        effects.extend(
            outbox::enqueue(
                conn,
                now,
                format!("send-refund-{}", row.refund_row),
                &outbox::Effect::SendRefund {
                    refund: row.refund_row,
                },
            )
            .await?,
        );
    }
    Ok(effects)
}

/// What a `refundBooking` asks for.
pub struct RefundRequest {
    pub booking: Uuid,
    pub reason: Option<String>,
    /// None, or every seat: the whole booking.
    pub seats: Vec<String>,
    pub snacks: Vec<(Uuid, i32)>,
}

/// `refundBooking`: the owner's confirmed booking until the cut-off, or any confirmed
/// booking by an admin, whole or in part. Once the gateway confirms the refund, a
/// whole booking is cancelled and its seats released; a part is taken off the booking,
/// which stands with a new ticket code.
pub async fn request(app: &App, viewer: Viewer, asked: RefundRequest) -> AppResult<RefundRow> {
    let RefundRequest {
        booking: booking_id,
        reason,
        seats,
        snacks,
    } = asked;
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(AppError::bad_input(
            "reason",
            format!("at most {MAX_REASON_CHARS} characters"),
        ));
    }
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().any(crate::text::is_control_but_line_break))
    {
        return Err(AppError::bad_input(
            "reason",
            "a reason holds no control characters but line breaks",
        ));
    }
    let reason = reason.unwrap_or_else(|| "requested by the customer".to_owned());
    let mut conn = app.db().await?;
    let now = app.now();
    let outcome = conn
        .transaction::<_, AppError, _>(async |conn| {
            let booking = lock_booking(conn, booking_id).await?;
            let payments = ledger::paid_for_booking(conn, booking.id).await?;
            let admin = viewer.role == Role::Admin;
            // Money taken at the counter goes back there, by the staff at the counter.
            let sold_at_counter = payments.iter().any(|p| p.intent().is_none());
            let counter_staff =
                sold_at_counter && matches!(viewer.role, Role::Operator | Role::Admin);
            authorise(
                &booking,
                viewer,
                booking.user_id == viewer.user_id || admin || counter_staff,
            )?;
            let handed = counter_staff.then_some(HandedBack {
                by: viewer.user_id,
                at: now,
            });
            if let Some(handed) = handed
                && let Some(done) = hand_over_owed(conn, app, &booking, handed).await?
            {
                return Ok(Outcome::Answered(done));
            }
            if booking.status != BookingStatus::Confirmed {
                return Err(AppError::conflict(format!(
                    "only a confirmed booking can be refunded; this one is {}",
                    booking.status.as_db_str()
                )));
            }
            if sold_at_counter && handed.is_none() {
                return Err(paid_at_counter());
            }
            let (starts, moved): (
                chrono::DateTime<chrono::Utc>,
                Option<chrono::DateTime<chrono::Utc>>,
            ) = showtimes::table
                .find(booking.showtime_id)
                .select((showtimes::start_time, showtimes::rescheduled_at))
                .first(conn)
                .await?;
            // A showing moved after it was booked may be refunded whatever the cut-off;
            // the cut-off guards refunds online, and at the counter the staff decide.
            let moved_since = moved.is_some_and(|at| at > booking.created_at);
            if !admin && !moved_since && handed.is_none() {
                let cutoff = chrono::Duration::from_std(app.config.payments.refund_cutoff)
                    .map_err(AppError::internal)?;
                if now > starts - cutoff {
                    return Err(AppError::conflict(format!(
                        "refunds close {} minutes before the showtime starts",
                        cutoff.num_minutes()
                    )));
                }
            }
            let asked = partial_refunds::asked(conn, &booking, seats, snacks).await?;
            if payments.is_empty() {
                return Err(AppError::conflict("this booking has no payment to refund"));
            }
            let part = match &asked {
                Asked::Whole => None,
                Asked::Part(part, cost) => Some((part, *cost)),
            };
            let mut rows = insert_refunds(
                conn,
                &booking,
                &payments,
                part,
                &reason,
                Some(viewer.user_id),
                handed,
            )
            .await?;
            let lead = <[Pending]>::first(&rows)
                .map(|r| r.refund_row)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("a refund wrote no row")))?;
            let through_gateway = rows.iter().filter(|r| r.intent.is_some()).count();
            if through_gateway == 0 {
                // All of it handed back at the counter: answered now.
                let effects = ledger::settle(conn, app, &booking).await?;
                return Ok(Outcome::Answered((lead, effects)));
            }
            if rows.len() == 1
                && let Some(only) = rows.pop()
            {
                return Ok(Outcome::Send(only));
            }
            // From more than one payment: the outbox sends each until it is answered, so
            // a failure halfway never leaves a refund that gave back only part of it.
            Ok(Outcome::Answered((
                lead,
                queue_sends(conn, now, &rows).await?,
            )))
        })
        .await?;
    let (lead, effects) = match outcome {
        Outcome::Send(only) => return send(app, booking_id, only, OnFailure::MarkFailed).await,
        Outcome::Answered(done) => done,
    };
    outbox::deliver_now(app, conn, &effects).await;
    let mut conn = app.db().await?;
    Ok(refunds::table
        .find(lead)
        .select(RefundRow::as_select())
        .first(&mut conn)
        .await?)
}

/// What a refund request's transaction leaves to do.
enum Outcome {
    /// One refund through the gateway, sent by the request itself.
    Send(Pending),
    /// Written (and answered, or queued for the outbox): the lead row, and the outbox
    /// rows to deliver.
    Answered((Uuid, Vec<crate::outbox::Queued>)),
}

fn paid_at_counter() -> AppError {
    AppError::conflict(
        "this booking was paid at the counter: its money goes back at the box office, \
         with the booking's reference",
    )
}

/// Hands over the money a cancelled showtime left owed at the counter (its refunds
/// pending with no intent): they succeed, by whom and when, and the ledger settles.
/// None when nothing is owed.
async fn hand_over_owed(
    conn: &mut AsyncPgConnection,
    app: &App,
    booking: &Booking,
    handed: HandedBack,
) -> AppResult<Option<(Uuid, Vec<crate::outbox::Queued>)>> {
    use crate::db::schema::payments;
    let owed: Vec<Uuid> = refunds::table
        .inner_join(payments::table)
        .filter(refunds::booking_id.eq(booking.id))
        .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
        .filter(payments::stripe_payment_intent_id.is_null())
        .order((refunds::lead_refund_id.is_not_null(), refunds::created_at))
        .select(refunds::id)
        .load(conn)
        .await?;
    let Some(lead) = <[Uuid]>::first(&owed).copied() else {
        return Ok(None);
    };
    diesel::update(refunds::table.filter(refunds::id.eq_any(&owed)))
        .set((
            refunds::status.eq(RefundStatus::Succeeded.as_str()),
            refunds::handed_back_by.eq(Some(handed.by)),
            refunds::handed_back_at.eq(Some(handed.at)),
        ))
        .execute(conn)
        .await?;
    let effects = ledger::settle(conn, app, booking).await?;
    Ok(Some((lead, effects)))
}

/// What a gateway failure does to the refund row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnFailure {
    /// Failed: the caller may ask again (a new row).
    MarkFailed,
    /// Still pending: the outbox sends it again, under the same key.
    KeepPending,
}

/// Asks the gateway for the refund and records the answer; once no refund of the
/// booking is under way any more, the ledger settles it.
async fn send(
    app: &App,
    booking_id: Uuid,
    pending: Pending,
    on_failure: OnFailure,
) -> AppResult<RefundRow> {
    // One key per refund row: a retry of this refund is the same refund at Stripe, and
    // a later refund of what is left is a new one.
    let key = format!("refund-{}", pending.refund_row);
    let intent = pending.intent.as_deref().ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "refund {} has no intent to send through",
            pending.refund_row
        ))
    })?;
    let result = app.payments.refund(intent, pending.amount, &key).await;
    let mut conn = app.db().await?;
    let (refund_id, status, failure) = match result {
        Ok(refund) => (Some(refund.id), refund.status, None),
        Err(e) if on_failure == OnFailure::MarkFailed => (None, RefundStatus::Failed, Some(e)),
        Err(e) => return Err(payment_error(e)),
    };
    let (row, effects) = conn
        .transaction::<_, AppError, _>(async |conn| {
            // The booking first, as every refund transaction does: one lock order, no
            // deadlock with a concurrent request inserting its own refund row.
            let booking = lock_booking(conn, booking_id).await?;
            let row: RefundRow = diesel::update(refunds::table.find(pending.refund_row))
                .set((
                    refunds::stripe_refund_id.eq(refund_id.as_deref()),
                    refunds::status.eq(status.as_str()),
                ))
                .returning(RefundRow::as_returning())
                .get_result(conn)
                .await?;
            // A failed one settles too: a refund from the Dashboard that came meanwhile
            // waited for it.
            let effects = if status == RefundStatus::Pending {
                Vec::new()
            } else {
                ledger::settle(conn, app, &booking).await?
            };
            Ok((row, effects))
        })
        .await?;
    outbox::deliver_now(app, conn, &effects).await;
    match failure {
        Some(e) => Err(payment_error(e)),
        None => Ok(row),
    }
}

/// The outbox's `refund`: gives back what is left of the payments of a booking that
/// had expired and lost its seats, or had been cancelled, when money arrived for it.
pub async fn automatic(app: &App, booking_id: Uuid) -> AppResult<()> {
    give_all_back(
        app,
        booking_id,
        "automatic: the booking could not be honoured",
    )
    .await
}

/// The outbox's `refund_cancelled`: a booking of a cancelled showtime is given back all
/// its money, whatever the cut-off; once the refunds are answered the ledger cancels it.
/// One that cost nothing is cancelled at once.
pub async fn showtime_cancelled(app: &App, booking_id: Uuid) -> AppResult<()> {
    give_all_back(app, booking_id, "the showtime was cancelled").await
}

/// Refunds all that is left of the booking's payments. Safe to retry and to run on
/// any node: refunds of ours left pending (a run that stopped half-way, a gateway that
/// did not answer) are sent again under their own keys, so Stripe answers with the
/// same refunds and nobody is refunded twice; only what is still left after those is
/// refunded anew. A failure leaves its refund pending for the outbox's next try
/// rather than failed: a timeout may hide a refund the gateway made.
async fn give_all_back(app: &App, booking_id: Uuid, reason: &str) -> AppResult<()> {
    let mut conn = app.db().await?;
    let (rows, effects) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let booking = lock_booking(conn, booking_id).await?;
            let in_flight = in_flight_rows(conn, booking_id).await?;
            if !in_flight.is_empty() {
                return Ok((in_flight, Vec::new()));
            }
            // Money taken at the counter has no intent to go back through: it is owed at
            // the counter (a refund pending until staff hand it over, `refundBooking`).
            let (payments, at_counter): (Vec<Payment>, Vec<Payment>) =
                ledger::paid_for_booking(conn, booking_id)
                    .await?
                    .into_iter()
                    .partition(|p| p.intent().is_some());
            if ledger::refundable(&payments) <= rust_decimal::Decimal::ZERO {
                let live = matches!(
                    booking.status,
                    BookingStatus::Confirmed | BookingStatus::Used
                );
                if !live {
                    return Ok((Vec::new(), Vec::new()));
                }
                let cash = booking.money(ledger::refundable(&at_counter));
                let told = if cash.amount() > rust_decimal::Decimal::ZERO {
                    owe_at_counter(conn, &booking, &at_counter, reason).await?;
                    format!(
                        "Booking {} is cancelled ({reason}). It was paid at the counter: bring \
                         its reference to the box office for your {cash}.",
                        booking.booking_reference
                    )
                } else {
                    format!(
                        "Booking {} is cancelled ({reason}); it cost nothing to give back.",
                        booking.booking_reference
                    )
                };
                let effects = ledger::cancel_live(conn, app, &booking, told).await?;
                return Ok((Vec::new(), effects));
            }
            let rows = insert_refunds(conn, &booking, &payments, None, reason, None, None).await?;
            Ok((rows, Vec::new()))
        })
        .await?;
    outbox::deliver_now(app, conn, &effects).await;
    for row in rows {
        send(app, booking_id, row, OnFailure::KeepPending).await?;
    }
    Ok(())
}

/// Writes what the counter owes: a refund of what is left of each payment taken there,
/// pending until staff hand it over (`hand_over_owed`).
async fn owe_at_counter(
    conn: &mut AsyncPgConnection,
    booking: &Booking,
    at_counter: &[Payment],
    reason: &str,
) -> AppResult<()> {
    let mut lead = None;
    for (payment, amount) in ledger::allocate(at_counter, ledger::refundable(at_counter)) {
        let row = insert_one(
            conn,
            NewRefund {
                booking,
                payment,
                amount,
                part: None,
                lead,
                reason,
                requested_by: None,
                handed: None,
            },
        )
        .await?;
        lead.get_or_insert(row);
    }
    Ok(())
}

/// Our refunds of the booking that are written and not answered, with their intents.
async fn in_flight_rows(conn: &mut AsyncPgConnection, booking: Uuid) -> AppResult<Vec<Pending>> {
    use crate::db::schema::payments;
    let rows: Vec<(Uuid, rust_decimal::Decimal, String, Option<String>)> = refunds::table
        .inner_join(payments::table)
        .filter(refunds::booking_id.eq(booking))
        .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
        .select((
            refunds::id,
            refunds::amount,
            refunds::currency,
            payments::stripe_payment_intent_id,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(refund_row, amount, currency, intent)| {
            let currency =
                crate::money::Currency::parse(&currency).unwrap_or(crate::money::Currency::USD);
            Some(Pending {
                refund_row,
                intent: Some(intent?),
                amount: Money::new(amount, currency),
            })
        })
        .collect())
}

/// Writes a refund of `amount` (at most what is left of the payments, latest first)
/// that takes nothing off the booking: the difference when a booking is exchanged for
/// cheaper seats. Inside the caller's transaction, with the booking locked; the
/// outbox's `send_refund` sends it after commit, and again until the gateway answers.
/// Returns the outbox rows to deliver.
pub async fn difference(
    conn: &mut AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
    booking: &Booking,
    amount: Money,
    reason: &str,
    requested_by: Uuid,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let payments = ledger::paid_for_booking(conn, booking.id).await?;
    if payments.is_empty() {
        return Err(AppError::conflict("this booking has no payment to refund"));
    }
    let rows = insert_refunds(
        conn,
        booking,
        &payments,
        Some((&Part::default(), amount)),
        reason,
        Some(requested_by),
        None,
    )
    .await?;
    queue_sends(conn, now, &rows).await
}

/// Writes the refund of all that is left of one payment, whatever else of the booking
/// is under way: money that arrived for an exchange that could not be carried out.
/// Inside the caller's transaction, with the booking locked; the outbox sends it.
pub async fn whole_payment(
    conn: &mut AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
    booking: &Booking,
    payment: &Payment,
    reason: &str,
) -> AppResult<Vec<crate::outbox::Queued>> {
    let amount = payment.refundable();
    if amount.amount() <= rust_decimal::Decimal::ZERO
        || ledger::refund_in_flight(conn, payment.id).await?.is_some()
    {
        return Ok(Vec::new());
    }
    let intent = payment
        .intent()
        .ok_or_else(|| AppError::conflict("this payment has no intent to refund"))?
        .to_owned();
    let refund_row = insert_one(
        conn,
        NewRefund {
            booking,
            payment,
            amount,
            part: None,
            lead: None,
            reason,
            requested_by: None,
            handed: None,
        },
    )
    .await?;
    queue_sends(
        conn,
        now,
        &[Pending {
            refund_row,
            intent: Some(intent),
            amount,
        }],
    )
    .await
}

/// The outbox's `send_refund`: sends a refund of ours that is still pending (under its
/// own key, so a second send is the same refund at the gateway); one the gateway has
/// answered is left alone.
pub async fn send_pending(app: &App, refund: Uuid) -> AppResult<()> {
    let pending: Option<(Uuid, rust_decimal::Decimal, String, Option<String>)> = {
        let mut conn = app.db().await?;
        refunds::table
            .inner_join(crate::db::schema::payments::table)
            .filter(refunds::id.eq(refund))
            .filter(refunds::status.eq(RefundStatus::Pending.as_str()))
            .select((
                refunds::booking_id,
                refunds::amount,
                refunds::currency,
                crate::db::schema::payments::stripe_payment_intent_id,
            ))
            .first(&mut conn)
            .await
            .optional()?
    };
    let Some((booking, amount, currency, Some(intent))) = pending else {
        return Ok(());
    };
    let currency = crate::money::Currency::parse(&currency).unwrap_or(crate::money::Currency::USD);
    send(
        app,
        booking,
        Pending {
            refund_row: refund,
            intent: Some(intent),
            amount: Money::new(amount, currency),
        },
        OnFailure::KeepPending,
    )
    .await
    .map(|_| ())
}

/// A refund as `Booking.refunds` lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refunds, check_for_backend(diesel::pg::Pg))]
pub struct RefundRow {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub stripe_refund_id: Option<String>,
    pub amount: rust_decimal::Decimal,
    pub currency: String,
    pub status: String,
    pub reason: Option<String>,
    pub seat_numbers: Vec<Option<String>>,
    pub snack_lines: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub handed_back_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl RefundRow {
    pub fn money(&self) -> Money {
        Money::new(
            self.amount,
            crate::money::Currency::parse(&self.currency).unwrap_or(crate::money::Currency::USD),
        )
    }

    pub fn snacks(&self) -> Vec<partial_refunds::SnackReturn> {
        serde_json::from_value(self.snack_lines.clone()).unwrap_or_default()
    }
}
