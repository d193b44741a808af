//! What customers are told by email and SMS about their bookings, and sending it (the
//! outbox's `email` and `sms` effects). With no SMTP or SMS configured, or no phone
//! number, or one its owner has not verified, a message is skipped and logged: there
//! is nothing to retry.

use diesel::sql_types::{Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart, SinglePart};
use uuid::Uuid;

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::tickets::image::ticket_png;

/// Everything a message about a booking mentions, read in one statement.
#[derive(diesel::QueryableByName)]
struct Details {
    #[diesel(sql_type = Text)]
    reference: String,
    #[diesel(sql_type = SqlUuid)]
    showtime: Uuid,
    #[diesel(sql_type = Text)]
    seats: String,
    #[diesel(sql_type = Text)]
    amount: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Nullable<Text>)]
    qr_code: Option<String>,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    full_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    phone: Option<String>,
    #[diesel(sql_type = Bool)]
    phone_verified: bool,
    #[diesel(sql_type = Text)]
    movie: String,
    /// The film's age rating as printed, e.g. `BBFC 15 (15 and over)`; empty if none.
    #[diesel(sql_type = Text)]
    rating: String,
    #[diesel(sql_type = Text)]
    theater: String,
    #[diesel(sql_type = Integer)]
    screen: i32,
    /// The start in the theater's own time zone, e.g. `Tue 01 Dec 2026 19:30 (Europe/London)`.
    #[diesel(sql_type = Text)]
    starts: String,
    /// Why the showtime was cancelled; empty unless it was.
    #[diesel(sql_type = Text)]
    cancel_reason: String,
}

async fn details(app: &App, booking: Uuid) -> AppResult<Details> {
    let mut conn = app.db().await?;
    diesel::sql_query(
        "SELECT b.booking_reference AS reference, b.showtime_id AS showtime, \
                coalesce((SELECT string_agg(bs.seat_number || CASE WHEN bs.ticket_type = 'ADULT' \
                    THEN '' ELSE ' (' || bs.ticket_type || ')' END, ', ' ORDER BY bs.seat_number) \
                    FROM booking_seats bs WHERE bs.booking_id = b.id), \
                    array_to_string(b.seat_numbers, ', ')) AS seats, \
                coalesce(m.age_rating_system || ' ' || m.age_rating_code || ' (' \
                    || CASE WHEN m.age_rating_min_age = 0 THEN 'all ages' \
                       ELSE m.age_rating_min_age || ' and over' END || ')', '') AS rating, \
                b.final_amount::text AS amount, b.currency, b.qr_code, \
                u.email, u.full_name, u.phone, u.phone_verified, m.title AS movie, t.name AS theater, \
                sc.screen_number AS screen, \
                to_char(s.start_time AT TIME ZONE t.timezone, 'Dy DD Mon YYYY HH24:MI') \
                    || ' (' || t.timezone || ')' AS starts, \
                coalesce(s.cancel_reason, '') AS cancel_reason \
         FROM bookings b JOIN users u ON u.id = b.user_id \
         JOIN showtimes s ON s.id = b.showtime_id JOIN movies m ON m.id = s.movie_id \
         JOIN screens sc ON sc.id = s.screen_id JOIN theaters t ON t.id = sc.theater_id \
         WHERE b.id = $1",
    )
    .bind::<SqlUuid, _>(booking)
    .get_result(&mut conn)
    .await
    .map_err(AppError::from)
}

/// Subject and plain-text body (ASCII, so it reads the same in any client).
fn compose(template: &str, d: &Details) -> AppResult<(String, String)> {
    let rated = if d.rating.is_empty() {
        String::new()
    } else {
        format!("Rated:   {}\n", d.rating)
    };
    let what = format!(
        "Booking {}\nFilm:    {}\n{rated}Cinema:  {}, screen {}\nTime:    {}\nSeats:   {}\nAmount:  {} {}\n",
        d.reference, d.movie, d.theater, d.screen, d.starts, d.seats, d.amount, d.currency
    );
    Ok(match template {
        "booking_confirmed" => (
            format!("Your tickets for {} - booking {}", d.movie, d.reference),
            format!(
                "Hello {},\n\nyour booking is confirmed.\n\n{what}\nShow the attached QR code \
                 (ticket.png) at the door.\n\nSCREEMA\n",
                d.full_name
            ),
        ),
        "refund_issued" => (
            format!("Refund for booking {}", d.reference),
            format!(
                "Hello {},\n\nbooking {} is cancelled and {} {} is on its way back to you.\n\n\
                 {what}\nSCREEMA\n",
                d.full_name, d.reference, d.amount, d.currency
            ),
        ),
        "booking_exchanged" => (
            format!("Booking {} exchanged", d.reference),
            format!(
                "Hello {},\n\nyour booking is now for the seats below. Your ticket has a new \
                 code: show the attached QR code (ticket.png) at the door; the old one no \
                 longer admits.\n\n{what}\nSCREEMA\n",
                d.full_name
            ),
        ),
        "showtime_cancelled" => (
            format!("{} is cancelled - booking {}", d.movie, d.reference),
            format!(
                "Hello {},\n\nwe are sorry: this showing is cancelled ({}). Your booking is \
                 refunded in full; the money is on its way back to you and the ticket no \
                 longer admits.\n\n{what}\nSCREEMA\n",
                d.full_name, d.cancel_reason
            ),
        ),
        "showtime_changed" => (
            format!("{} has moved - booking {}", d.movie, d.reference),
            format!(
                "Hello {},\n\nthe showing you booked has moved; the details below are the new \
                 ones. Your ticket stays valid. If the new time does not suit you, you may \
                 refund the booking in full.\n\n{what}\nSCREEMA\n",
                d.full_name
            ),
        ),
        "booking_expired" => (
            format!("Booking {} expired", d.reference),
            format!(
                "Hello {},\n\nbooking {} was not paid in time and has expired; its seats are \
                 free again.\n\n{what}\nSCREEMA\n",
                d.full_name, d.reference
            ),
        ),
        other => {
            return Err(AppError::internal(anyhow::anyhow!(
                "unknown message template {other}"
            )));
        }
    })
}

pub async fn send_email(app: &App, booking: Uuid, template: &str) -> AppResult<()> {
    let Some(mailer) = &app.mailer else {
        tracing::info!(%booking, template, "no SMTP configured; email skipped");
        return Ok(());
    };
    let d = details(app, booking).await?;
    let (subject, body) = compose(template, &d)?;
    let builder = super::email::addressed(app, &d.full_name, &d.email, &subject)?;
    let message = match (template, &d.qr_code) {
        ("booking_confirmed" | "booking_exchanged", Some(code)) => builder.multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(Attachment::new("ticket.png".to_owned()).body(
                    ticket_png(
                        code,
                        &crate::tickets::store::caption(app, booking, d.showtime).await?,
                    )?,
                    ContentType::parse("image/png").map_err(super::email::failed)?,
                )),
        ),
        _ => builder.body(body),
    };
    mailer.deliver(message).await
}

pub async fn send_sms(app: &App, booking: Uuid, template: &str) -> AppResult<()> {
    let Some(sms) = &app.sms else {
        tracing::info!(%booking, template, "no SMS configured; text message skipped");
        return Ok(());
    };
    let d = details(app, booking).await?;
    let Some(phone) = d.phone.as_deref().filter(|p| !p.trim().is_empty()) else {
        tracing::info!(%booking, "customer has no phone number; text message skipped");
        return Ok(());
    };
    // Texts go only to numbers their owner proved (`auth::verification`): an
    // unproven one may be a typo, or someone else's.
    if !d.phone_verified {
        tracing::info!(%booking, "customer's phone number is not verified; text message skipped");
        return Ok(());
    }
    let text = match template {
        "booking_confirmed" => format!(
            "SCREEMA: booking {} confirmed. {} at {}, screen {}, {}. Seats {}.",
            d.reference, d.movie, d.theater, d.screen, d.starts, d.seats
        ),
        "refund_issued" => format!(
            "SCREEMA: booking {} refunded ({} {}).",
            d.reference, d.amount, d.currency
        ),
        "booking_exchanged" => format!(
            "SCREEMA: booking {} exchanged: {} at {}, screen {}, {}. Seats {}. Your ticket has a new code.",
            d.reference, d.movie, d.theater, d.screen, d.starts, d.seats
        ),
        "showtime_cancelled" => format!(
            "SCREEMA: {} on {} is cancelled ({}). Booking {} is refunded in full.",
            d.movie, d.starts, d.cancel_reason, d.reference
        ),
        "showtime_changed" => format!(
            "SCREEMA: {} (booking {}) has moved: now {} at {}, screen {}. You may refund it in full.",
            d.movie, d.reference, d.starts, d.theater, d.screen
        ),
        _ => format!("SCREEMA: booking {} expired unpaid.", d.reference),
    };
    sms.send(phone, &text)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))
}

/// Queues the email and the text message about a booking, inside the caller's
/// transaction; returns the outbox rows to deliver after commit.
pub async fn queue(
    conn: &mut diesel_async::AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
    booking: Uuid,
    template: &str,
) -> AppResult<Vec<crate::outbox::Queued>> {
    queue_one(conn, now, booking, template, &booking.to_string()).await
}

/// As `queue`, for a message a booking may get more than once (each exchange):
/// `occasion` tells one from another.
pub async fn queue_one(
    conn: &mut diesel_async::AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
    booking: Uuid,
    template: &str,
    occasion: &str,
) -> AppResult<Vec<crate::outbox::Queued>> {
    crate::outbox::enqueue_all(conn, now, effects(booking, template, occasion)).await
}

/// The email and the text message about a booking, as outbox rows, for a caller that
/// queues them with others (`outbox::enqueue_all`).
pub fn effects(booking: Uuid, template: &str, occasion: &str) -> Vec<crate::outbox::NewRow> {
    use crate::outbox::Effect;
    vec![
        (
            format!("email-{template}-{occasion}"),
            Effect::Email {
                booking,
                template: template.to_owned(),
            },
            None,
        ),
        (
            format!("sms-{template}-{occasion}"),
            Effect::Sms {
                booking,
                template: template.to_owned(),
            },
            None,
        ),
    ]
}
