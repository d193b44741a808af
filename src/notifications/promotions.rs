//! Promotions: an admin's message (with a voucher code, perhaps) to every customer who
//! opted in to marketing (`User.marketingOptIn`), in the app and by email.
//!
//! Sent through the outbox in batches, in user-id order. Each batch is one transaction
//! that writes its customers' notifications, queues their emails, moves the promotion's
//! count on and queues the next batch for when the rate allows
//! (`PROMOTION_BATCH` customers per batch, at most `PROMOTION_RATE_PER_SECOND`): a crash
//! part-way resumes from the last batch written, and nobody is told twice. A customer
//! who opts out before their email leaves gets none.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{NewNotification, record};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::db::enums::NotificationType;
use crate::db::schema::{promotions, users};
use crate::error::{AppError, AppResult};
use crate::outbox::{self, Effect};
use crate::text::{is_control_but_line_break, text};

pub const MAX_MESSAGE_CHARS: usize = 2000;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = promotions, check_for_backend(diesel::pg::Pg))]
pub struct Promotion {
    pub id: Uuid,
    pub title: String,
    pub message: String,
    pub voucher_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub recipients: i32,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `sendPromotion`: checks the promotion, writes it and queues its first batch.
pub async fn send(
    app: &App,
    admin: Viewer,
    title: &str,
    message: &str,
    voucher_code: Option<&str>,
) -> AppResult<Promotion> {
    let title = text("title", title, 255)?;
    let message = message.trim();
    if message.is_empty()
        || message.chars().count() > MAX_MESSAGE_CHARS
        || message.chars().any(is_control_but_line_break)
    {
        return Err(AppError::bad_input(
            "message",
            format!("a message is 1 to {MAX_MESSAGE_CHARS} characters, line breaks allowed"),
        ));
    }
    let mut conn = app.db().await?;
    let voucher = match voucher_code.map(crate::vouchers::normalise_code) {
        Some(code) if !code.is_empty() => Some(
            crate::vouchers::uses::find(&mut conn, &code)
                .await?
                .ok_or_else(|| {
                    AppError::bad_input("voucherCode", format!("there is no voucher {code}"))
                })?
                .code,
        ),
        _ => None,
    };
    let now = app.now();
    let (promotion, first) = conn
        .transaction::<_, AppError, _>(async |conn| {
            let promotion: Promotion = diesel::insert_into(promotions::table)
                .values((
                    promotions::title.eq(&title),
                    promotions::message.eq(message),
                    promotions::voucher_code.eq(&voucher),
                    promotions::created_by.eq(Some(admin.user_id)),
                    promotions::created_at.eq(now),
                ))
                .returning(Promotion::as_returning())
                .get_result(conn)
                .await?;
            let first =
                queue_batch(conn, now, promotion.id, None, outbox::Deliverer::Writer).await?;
            Ok((promotion, first))
        })
        .await?;
    outbox::deliver_now(app, conn, &first.into_iter().collect::<Vec<_>>()).await;
    Ok(promotion)
}

async fn queue_batch(
    conn: &mut AsyncPgConnection,
    at: DateTime<Utc>,
    promotion: Uuid,
    after: Option<Uuid>,
    deliverer: outbox::Deliverer,
) -> AppResult<Option<crate::outbox::Queued>> {
    outbox::enqueue_for(
        conn,
        at,
        format!(
            "promotion-{promotion}-after-{}",
            after.map_or_else(|| "start".to_owned(), |u| u.to_string())
        ),
        &Effect::Promotion { promotion, after },
        deliverer,
    )
    .await
}

/// The outbox's `promotion`: tells the next batch of opted-in customers after `after`.
pub async fn send_batch(app: &App, promotion: Uuid, after: Option<Uuid>) -> AppResult<()> {
    let batch = i64::from(app.config.messaging.promotion_batch);
    let pause = chrono::Duration::milliseconds(
        i64::from(app.config.messaging.promotion_batch) * 1000
            / i64::from(app.config.messaging.promotion_rate.max(1)),
    );
    let now = app.now();
    let mut conn = app.db().await?;
    let effects = conn
        .transaction::<_, AppError, _>(async |conn| {
            let Some(p) = promotions::table
                .find(promotion)
                .select(Promotion::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?
            else {
                return Ok(Vec::new());
            };
            let mut query = users::table
                .filter(users::marketing_opt_in.eq(true))
                .order(users::id)
                .limit(batch)
                .select(users::id)
                .into_boxed();
            if let Some(after) = after {
                query = query.filter(users::id.gt(after));
            }
            let customers: Vec<Uuid> = query.load(conn).await?;
            let mut effects = Vec::new();
            let message = match &p.voucher_code {
                Some(code) => format!("{}\n\nYour code: {code}", p.message),
                None => p.message.clone(),
            };
            for customer in &customers {
                effects.extend(
                    record(
                        conn,
                        now,
                        NewNotification {
                            user: *customer,
                            kind: NotificationType::Promotion,
                            title: &p.title,
                            message: message.clone(),
                            metadata: serde_json::json!({"promotionId": p.id, "voucherCode": p.voucher_code}),
                        },
                    )
                    .await?,
                );
                // Emails leave at the same bounded pace as the batches.
                effects.extend(
                    outbox::enqueue(
                        conn,
                        now,
                        format!("promotion-email-{}-{customer}", p.id),
                        &Effect::PromotionEmail {
                            promotion: p.id,
                            user: *customer,
                        },
                    )
                    .await?,
                );
            }
            let told = i32::try_from(customers.len()).unwrap_or(i32::MAX);
            let full = i64::try_from(customers.len()).unwrap_or(i64::MAX) == batch;
            diesel::update(promotions::table.find(p.id))
                .set((
                    promotions::recipients.eq(promotions::recipients + told),
                    promotions::finished_at.eq((!full).then_some(now)),
                ))
                .execute(conn)
                .await?;
            if let (true, Some(last)) = (full, customers.last()) {
                // Not delivered now: it waits in the outbox until the rate allows.
                let next = Some(*last);
                queue_batch(conn, now + pause, p.id, next, outbox::Deliverer::Workers).await?;
            }
            Ok(effects)
        })
        .await?;
    outbox::deliver_now(app, conn, &effects).await;
    Ok(())
}

/// The outbox's `promotion_email`: the promotion to one customer, if they still want it.
pub async fn send_email(app: &App, promotion: Uuid, user: Uuid) -> AppResult<()> {
    let Some(mailer) = &app.mailer else {
        tracing::info!(%promotion, "no SMTP configured; promotion email skipped");
        return Ok(());
    };
    // The connection goes back before the mail server is waited for.
    let found: Option<(Promotion, (String, String, bool))> = {
        let mut conn = app.db().await?;
        promotions::table
            .find(promotion)
            .select(Promotion::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .zip(
                users::table
                    .find(user)
                    .select((users::email, users::full_name, users::marketing_opt_in))
                    .first(&mut conn)
                    .await
                    .optional()?,
            )
    };
    let Some((p, (email, name, opted_in))) = found else {
        return Ok(());
    };
    if !opted_in {
        tracing::info!(%promotion, %user, "customer opted out; promotion email skipped");
        return Ok(());
    }
    let code = p
        .voucher_code
        .as_deref()
        .map_or_else(String::new, |c| format!("Your code: {c}\n\n"));
    let body = format!(
        "Hello {name},\n\n{}\n\n{code}You receive this because you asked for news from \
         SCREEMA; turn it off in your profile at any time.\n\nSCREEMA\n",
        p.message
    );
    mailer.send_text(app, (&name, &email), &p.title, body).await
}

/// Every promotion, newest first.
pub async fn list(app: &App) -> AppResult<Vec<Promotion>> {
    let mut conn = app.db().await?;
    Ok(promotions::table
        .order(promotions::created_at.desc())
        .select(Promotion::as_select())
        .limit(200)
        .load(&mut conn)
        .await?)
}
