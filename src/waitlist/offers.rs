//! Offers: seats freed on a showtime with a waiting list go to the first entry that
//! fits, held for its customer, who is told at once.
//!
//! A worker on every node runs `match_all` every `WAITLIST_INTERVAL_MS`. For each
//! showtime with waiting entries, one node at a time (a Redis lease that lapses by
//! itself if its node dies) reads the seats taken now, walks the queue in order, and
//! for each entry that the free seats suit (a run is skipped when no seat changed since
//! the last run that went through, the seats' epoch and version alike, and no hold
//! waits to be offered):
//! 1. writes the entry's offer token, if it has none (committed on its own);
//! 2. holds the best block for the customer under that token (`HOLD_BEST`, which,
//!    given a token that holds seats already, answers those and holds nothing new);
//! 3. records the offer on the entry, if it is still waiting, with its in-app
//!    notification, email and text, in one transaction.
//!
//! A node that dies after 2 leaves the entry waiting with its token: the next run
//! makes the same hold (the same seats) and records the offer then, so the customer
//! is offered those seats once, and the seats are never lost (a hold nobody is told
//! of would lapse by itself). An entry whose customer left meanwhile gets its hold
//! released. Offered entries whose hold is gone unbooked have lapsed: they end, and
//! the seats are free for the next run.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use fred::prelude::*;
use uuid::Uuid;

use super::entries::{self, CLOSED, Entry, LAPSED, OFFERED, WAITING};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::db::enums::{NotificationType, Role};
use crate::db::schema::waitlist_entries;
use crate::error::{AppError, AppResult, LogDisplay};
use crate::notifications::{self, NewNotification};
use crate::outbox::{self, Effect};
use crate::seating::holds::{self, BestAsk};

/// How long a node may match one showtime before another may take over.
const LEASE_MS: u64 = 10_000;

/// One pass over every showtime with waiting entries; returns how many offers it made.
pub async fn match_all(app: &App) -> AppResult<usize> {
    lapse_gone_offers(app).await?;
    let showtimes: Vec<Uuid> = {
        let mut conn = app.db().await?;
        waitlist_entries::table
            .filter(waitlist_entries::status.eq(WAITING))
            .select(waitlist_entries::showtime_id)
            .distinct()
            .limit(100)
            .load(&mut conn)
            .await?
    };
    let mut made = 0;
    for showtime in showtimes {
        match match_showtime(app, showtime).await {
            Ok(n) => made += n,
            Err(e) => {
                tracing::warn!(%showtime, error = %LogDisplay(&e), "waiting list not matched")
            }
        }
    }
    Ok(made)
}

/// The seats of a showtime that cannot be held now: held, sold or blocked.
pub async fn taken_seats(app: &App, showtime: Uuid) -> AppResult<HashSet<String>> {
    Ok(seats_now(app, showtime).await?.0)
}

/// The taken seats, and the seats' epoch and version they were read at.
async fn seats_now(app: &App, showtime: Uuid) -> AppResult<(HashSet<String>, String)> {
    let holds = holds::read_holds(&app.redis, &[showtime], app.now())
        .await?
        .remove(&showtime)
        .unwrap_or_default();
    let read_at = format!("{}:{}", holds.epoch, holds.version);
    let mut taken: HashSet<String> = holds.held.keys().cloned().collect();
    match &holds.booked {
        Some(booked) => taken.extend(booked.iter().cloned()),
        None => {
            let mut conn = app.db().await?;
            taken.extend(
                crate::seating::queries::booked_seats(&mut conn, &[showtime])
                    .await?
                    .remove(&showtime)
                    .unwrap_or_default(),
            );
        }
    }
    match &holds.blocked {
        Some(blocked) => taken.extend(blocked.iter().cloned()),
        None => {
            let room = crate::seating::rooms::room(app, showtime).await?;
            taken.extend(room.showtime.blocked_seats.iter().flatten().cloned());
        }
    }
    Ok((taken, read_at))
}

async fn match_showtime(app: &App, showtime: Uuid) -> AppResult<usize> {
    let lease_key = app.redis.key(&format!("waitlist:lease:{showtime}"));
    let lease = Uuid::new_v4().to_string();
    let client = app.redis.client().await;
    let got: Option<String> = client
        .set(
            &lease_key,
            &lease,
            Some(Expiration::PX(LEASE_MS as i64)),
            Some(SetOptions::NX),
            false,
        )
        .await?;
    if got.is_none() {
        return Ok(0);
    }
    let made = match_under_lease(app, showtime).await;
    // Given back only if still ours (a run slower than the lease lost it).
    let held: Option<String> = client.get(&lease_key).await?;
    if held.as_deref() == Some(lease.as_str()) {
        let _: i64 = client.del(&lease_key).await?;
    }
    made
}

async fn match_under_lease(app: &App, showtime: Uuid) -> AppResult<usize> {
    let room = crate::seating::rooms::room(app, showtime).await?;
    if room.showtime.check_on_sale(app.now()).is_err() {
        close(app, showtime).await?;
        return Ok(0);
    }
    let queue: Vec<Entry> = {
        let mut conn = app.db().await?;
        waitlist_entries::table
            .filter(waitlist_entries::showtime_id.eq(showtime))
            .filter(waitlist_entries::status.eq(WAITING))
            .order(waitlist_entries::seq)
            .limit(500)
            .select(Entry::as_select())
            .load(&mut conn)
            .await?
    };
    // A hold made for an entry by a run that died before telling anyone holds its
    // seats still: the script answers them again, whatever else is free.
    let mut held_for = HashSet::new();
    for entry in &queue {
        if let Some(token) = &entry.offer_token
            && holds::lock_exists(app, token).await?
        {
            held_for.insert(entry.id);
        }
    }
    let (mut taken, read_at) = seats_now(app, showtime).await?;
    // No seat has changed since a run that found nothing to offer: nothing new fits.
    let seen_key = app.redis.key(&format!("waitlist:seen:{showtime}"));
    let client = app.redis.client().await;
    let seen: Option<String> = client.get(&seen_key).await?;
    if held_for.is_empty() && seen.as_deref() == Some(read_at.as_str()) {
        return Ok(0);
    }
    let base = room.showtime.base_price;
    let mut title = None;
    let mut made = 0;
    for entry in queue {
        let want = entry.want(base);
        if !held_for.contains(&entry.id)
            && !entries::fits(&room.layout, entry.count(), want, entry.adjacent, &taken)
        {
            continue;
        }
        let token = ensure_token(app, &entry).await?;
        let viewer = Viewer {
            user_id: entry.user_id,
            role: Role::Customer,
        };
        let ask = BestAsk {
            showtime,
            count: entry.count(),
            want,
            adjacent: entry.adjacent,
        };
        let lock = match holds::hold_best_under(app, viewer, ask, token).await {
            Ok(lock) => lock,
            // Taken meanwhile, or the customer holds as many seats as they may.
            Err(AppError::SeatsUnavailable { .. } | AppError::BadInput { .. }) => continue,
            Err(e) => return Err(e),
        };
        taken.extend(lock.seats.iter().cloned());
        let title = match &title {
            Some(title) => title,
            None => title.insert(film_title(app, room.showtime.movie_id).await?),
        };
        if offer(app, &entry, &lock, title).await? {
            made += 1;
        } else if let Err(e) = holds::release(app, viewer, &lock.token).await {
            tracing::warn!(entry = %entry.id, error = %LogDisplay(&e), "unwanted offer hold not released");
        }
    }
    // Marked only after a run that went through: a run that failed part-way is made
    // again on the next tick.
    let _: () = client
        .set(
            &seen_key,
            &read_at,
            Some(Expiration::PX(86_400_000)),
            None,
            false,
        )
        .await?;
    Ok(made)
}

async fn film_title(app: &App, movie: Uuid) -> AppResult<String> {
    let mut conn = app.db().await?;
    Ok(crate::catalog::queries::movies_by_ids(&mut conn, &[movie])
        .await?
        .into_iter()
        .next()
        .map_or_else(|| "your film".to_owned(), |m| m.title))
}

/// The entry's offer token, written first (and kept) so that a hold made under it can
/// be found again by the next run.
async fn ensure_token(app: &App, entry: &Entry) -> AppResult<String> {
    if let Some(token) = &entry.offer_token {
        return Ok(token.clone());
    }
    let mut conn = app.db().await?;
    let fresh = holds::reserve_token(entry.showtime_id);
    let token: Option<Option<String>> = diesel::update(
        waitlist_entries::table
            .find(entry.id)
            .filter(waitlist_entries::offer_token.is_null()),
    )
    .set(waitlist_entries::offer_token.eq(Some(&fresh)))
    .returning(waitlist_entries::offer_token)
    .get_result(&mut conn)
    .await
    .optional()?;
    match token.flatten() {
        Some(token) => Ok(token),
        // Another run wrote one first: use that.
        None => waitlist_entries::table
            .find(entry.id)
            .select(waitlist_entries::offer_token)
            .first::<Option<String>>(&mut conn)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("an offer token vanished"))),
    }
}

/// Records the offer on a still-waiting entry and tells its customer (in-app, live,
/// email, text), in one transaction. False when the entry is no longer waiting.
async fn offer(app: &App, entry: &Entry, lock: &holds::SeatLock, title: &str) -> AppResult<bool> {
    let now = app.now();
    let mut conn = app.db().await?;
    let written = conn
        .transaction::<_, AppError, _>(async |conn| {
            let updated = diesel::update(
                waitlist_entries::table
                    .find(entry.id)
                    .filter(waitlist_entries::status.eq(WAITING)),
            )
            .set((
                waitlist_entries::status.eq(OFFERED),
                waitlist_entries::offered_seats.eq(lock
                    .seats
                    .iter()
                    .cloned()
                    .map(Some)
                    .collect::<Vec<_>>()),
                waitlist_entries::offered_at.eq(Some(now)),
                waitlist_entries::offer_expires_at.eq(Some(lock.expires_at)),
            ))
            .execute(conn)
            .await?;
            if updated == 0 {
                return Ok(None);
            }
            let mut effects = Vec::new();
            effects.extend(
                notifications::record(
                    conn,
                    now,
                    NewNotification {
                        user: entry.user_id,
                        kind: NotificationType::Booking,
                        title: "Seats for you",
                        message: format!(
                            "From the waiting list: seats {} of {} are held for you until {} \
                             (UTC). Book them before then.",
                            lock.seats.join(", "),
                            title,
                            lock.expires_at.format("%H:%M")
                        ),
                        metadata: serde_json::json!({
                            "waitlistEntryId": entry.id,
                            "showtimeId": entry.showtime_id,
                        }),
                    },
                )
                .await?,
            );
            for effect in [
                Effect::WaitlistEmail { entry: entry.id },
                Effect::WaitlistSms { entry: entry.id },
            ] {
                let key = format!("{}-{}-{}", effect.kind(), entry.id, lock.token);
                effects.extend(outbox::enqueue(conn, now, key, &effect).await?);
            }
            Ok(Some(effects))
        })
        .await?;
    match written {
        Some(effects) => {
            outbox::deliver_now(app, conn, &effects).await;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Offered entries whose hold is gone and that were not booked: their time ran out.
async fn lapse_gone_offers(app: &App) -> AppResult<()> {
    let offered: Vec<(Uuid, Option<String>)> = {
        let mut conn = app.db().await?;
        waitlist_entries::table
            .filter(waitlist_entries::status.eq(OFFERED))
            .filter(waitlist_entries::offer_expires_at.le(app.now()))
            .select((waitlist_entries::id, waitlist_entries::offer_token))
            .limit(500)
            .load(&mut conn)
            .await?
    };
    for (id, token) in offered {
        let alive = match &token {
            Some(token) => holds::lock_exists(app, token).await?,
            None => false,
        };
        if alive {
            continue;
        }
        let mut conn = app.db().await?;
        diesel::update(
            waitlist_entries::table
                .find(id)
                .filter(waitlist_entries::status.eq(OFFERED)),
        )
        .set((
            waitlist_entries::status.eq(LAPSED),
            waitlist_entries::ended_at.eq(Some(app.now())),
        ))
        .execute(&mut conn)
        .await?;
    }
    Ok(())
}

/// A showtime no longer on sale closes its list.
async fn close(app: &App, showtime: Uuid) -> AppResult<()> {
    let mut conn = app.db().await?;
    diesel::update(
        waitlist_entries::table
            .filter(waitlist_entries::showtime_id.eq(showtime))
            .filter(waitlist_entries::status.eq(WAITING)),
    )
    .set((
        waitlist_entries::status.eq(CLOSED),
        waitlist_entries::ended_at.eq(Some(app.now())),
    ))
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// A booking was made from the hold `token` (inside the booking's transaction): an
/// offer made under it is taken.
pub async fn taken(
    conn: &mut diesel_async::AsyncPgConnection,
    now: chrono::DateTime<chrono::Utc>,
    token: &str,
) -> AppResult<()> {
    diesel::update(
        waitlist_entries::table
            .filter(waitlist_entries::offer_token.eq(token))
            .filter(waitlist_entries::status.eq(OFFERED)),
    )
    .set((
        waitlist_entries::status.eq(entries::BOOKED),
        waitlist_entries::ended_at.eq(Some(now)),
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// The outbox's `waitlist_email` and `waitlist_sms`: the offer, told by email or text
/// (skipped, as booking messages are, with no SMTP or SMS, no phone or an unverified
/// one, or once the offer is no longer open).
pub async fn send_message(app: &App, entry: Uuid, by_text: bool) -> AppResult<()> {
    use crate::db::schema::{movies, showtimes, users};
    let found: Option<(Entry, String, String, Option<String>, bool, String)> = {
        let mut conn = app.db().await?;
        waitlist_entries::table
            .inner_join(users::table)
            .inner_join(showtimes::table.inner_join(movies::table))
            .filter(waitlist_entries::id.eq(entry))
            .select((
                Entry::as_select(),
                users::email,
                users::full_name,
                users::phone,
                users::phone_verified,
                movies::title,
            ))
            .first(&mut conn)
            .await
            .optional()?
    };
    let Some((entry, email, name, phone, phone_verified, title)) = found else {
        return Ok(());
    };
    if entry.status != OFFERED {
        tracing::info!(entry = %entry.id, "offer no longer open; message skipped");
        return Ok(());
    }
    let until = entry
        .offer_expires_at
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    let seats = entry.seats().join(", ");
    if by_text {
        let Some(sms) = &app.sms else {
            tracing::info!(entry = %entry.id, "no SMS configured; text message skipped");
            return Ok(());
        };
        let Some(phone) = phone.filter(|p| !p.trim().is_empty() && phone_verified) else {
            tracing::info!(entry = %entry.id, "no verified phone number; text message skipped");
            return Ok(());
        };
        return sms
            .send(
                &phone,
                &format!(
                    "SCREEMA: seats {seats} of {title} are held for you until {until}. Book them in the app."
                ),
            )
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")));
    }
    let Some(mailer) = &app.mailer else {
        tracing::info!(entry = %entry.id, "no SMTP configured; email skipped");
        return Ok(());
    };
    let body = format!(
        "Hello {name},\n\nseats came free for {title}, and you were next on the waiting list: \
         seats {seats} are held for you until {until}. Book them in the app before then; \
         after that they go to the next person waiting.\n\nSCREEMA\n"
    );
    let message =
        crate::notifications::email::addressed(app, &name, &email, "Seats for you")?.body(body);
    mailer.deliver(message).await
}
