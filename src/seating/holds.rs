//! Seat holds: all-or-nothing, atomic in Redis, capped per user, expiring.
//! Postgres stays the final word on sales; these holds keep people from paying for
//! seats someone else is already paying for.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rand::RngCore;
use uuid::Uuid;

use fred::prelude::*;

use super::keys;
use super::lock_log::Entry;
use super::scripts::{
    CHECK, CLAIM, EXTEND, FORGET_CLAIM, HOLD_BEST, LOCK, READ, RELEASE, RESTORE, SWEEP,
};
use super::sync::ensure_booked;
use crate::app::App;
use crate::auth::model::Viewer;
use crate::catalog::layout::SeatNumber;
use crate::catalog::model::{Screen, Showtime};
use crate::db::schema::{screens, showtimes};
use crate::error::{AppError, AppResult};
use crate::ratelimit::{self, Decision};
use crate::redis::Redis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatLock {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub seats: Vec<String>,
}

/// The live holds of a showtime, read together with the version they belong to.
#[derive(Debug, Clone, Default)]
pub struct Holds {
    pub version: i64,
    /// Changes when Redis has lost the showtime's data and versions start again.
    pub epoch: String,
    /// When the first of `held` lapses (ms since the epoch): what was read holds until
    /// then or the next version, whichever comes first.
    pub lapses_at: Option<i64>,
    /// Seat → the user holding it.
    pub held: HashMap<String, Uuid>,
    /// The sold seats as Redis knows them at `version`, when it knows them all (it
    /// mirrors Postgres from the first hold on, and again after losing its data); `None`
    /// sends the reader to Postgres.
    pub booked: Option<Arc<Vec<String>>>,
    /// The seats the house has blocked, as Redis knows them at `version`, when it knows
    /// them all (loaded with the booked seats); `None` sends the reader to Postgres.
    pub blocked: Option<Arc<Vec<String>>>,
}

/// A script's status word. (A plain `.first()` would be taken for diesel's.)
fn head(reply: &[String]) -> Option<&str> {
    <[String]>::first(reply).map(String::as_str)
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> AppResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("bad expiry {ms} from Redis")))
}

/// How long a showtime's Redis keys outlive it: long enough for late refunds and the
/// last live maps to find them, short enough that past showtimes do not pile up.
const KEYS_OUTLIVE_SHOWTIME: chrono::Duration = chrono::Duration::days(1);

/// How long a claimed hold keeps its seats from the sweeper past its own expiry: the
/// booking's transaction runs in this time (it takes milliseconds; a node that dies
/// meanwhile leaves the seats to the sweeper after it).
const CLAIM_GRACE: chrono::Duration = chrono::Duration::seconds(30);

/// When a showtime's seat keys expire (ms): a day after it ends, or after now for a
/// showtime already over (a key set to expire in the past would vanish at once).
pub(super) fn keys_expire_at(showtime: &Showtime, now: DateTime<Utc>) -> i64 {
    millis(showtime.end_time.max(now) + KEYS_OUTLIVE_SHOWTIME)
}

/// `<showtimeId>.<128 random bits>`: the showtime travels with the token.
fn new_token(showtime: Uuid) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("{}.{}", showtime.simple(), URL_SAFE_NO_PAD.encode(bytes))
}

fn showtime_of(token: &str) -> AppResult<Uuid> {
    token
        .split_once('.')
        .and_then(|(id, rest)| (rest.len() == 22).then_some(id))
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| AppError::bad_input("lockToken", "not a seat lock token"))
}

/// Checks a seat list: present, no repeats, real seat names.
pub fn parse_seats(raw: &[String]) -> AppResult<Vec<SeatNumber>> {
    if raw.is_empty() {
        return Err(AppError::bad_input(
            "seatNumbers",
            "choose at least one seat",
        ));
    }
    let mut seen = HashSet::new();
    let mut seats = Vec::with_capacity(raw.len());
    for s in raw {
        let seat: SeatNumber = s.parse().map_err(|_| {
            AppError::bad_input(
                "seatNumbers",
                format!("`{s}` is not a seat number such as C7"),
            )
        })?;
        if !seen.insert(seat.clone()) {
            return Err(AppError::bad_input(
                "seatNumbers",
                format!("seat {seat} is listed twice"),
            ));
        }
        seats.push(seat);
    }
    Ok(seats)
}

pub async fn showtime_with_screen(app: &App, id: Uuid) -> AppResult<(Showtime, Screen)> {
    let mut conn = app.db().await?;
    let row: Option<(Showtime, Screen)> = showtimes::table
        .inner_join(screens::table)
        .filter(showtimes::id.eq(id))
        .select((Showtime::as_select(), Screen::as_select()))
        .first(&mut conn)
        .await
        .optional()?;
    row.ok_or_else(|| AppError::bad_input("showtimeId", "no such showtime"))
}

/// The keys every seat script declares, in the order `scripts::PRELUDE` names them.
pub(super) fn script_keys(redis: &Redis, showtime: Uuid) -> Vec<String> {
    [
        "holds", "locks", "expiry", "booked", "version", "epoch", "blocked", "history",
    ]
    .iter()
    .map(|part| keys::seat_key(redis, showtime, part))
    .collect()
}

/// The history's length, as the last ARGV of a seat script (`scripts::PRELUDE` takes
/// it off, tagged so that a caller that forgets it loses no argument of its own).
fn history_arg(app: &App) -> String {
    format!("history={}", app.config.holds.history_len)
}

async fn run(
    app: &App,
    script: &fred::types::scripts::Script,
    showtime: Uuid,
    args: Vec<String>,
) -> AppResult<Vec<String>> {
    run_script(app, script, showtime, args).await
}

/// Runs one of the seat scripts for a showtime with `channel, now, args…` as ARGV.
pub(super) async fn run_script<R: fred::types::FromValue>(
    app: &App,
    script: &fred::types::scripts::Script,
    showtime: Uuid,
    args: Vec<String>,
) -> AppResult<R> {
    let mut argv = vec![
        keys::channel(&app.redis, showtime),
        millis(app.now()).to_string(),
    ];
    argv.extend(args);
    argv.push(history_arg(app));
    Ok(script
        .evalsha_with_reload(
            app.redis.client().await,
            script_keys(&app.redis, showtime),
            argv,
        )
        .await?)
}

/// Who a hold is for: a customer (rate limited, at most `MAX_SEATS_PER_USER` seats a
/// showtime, held and unpaid together), or staff selling at the counter, whose holds
/// become paid bookings at once and are limited by nothing but the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Customer,
    Counter,
}

pub async fn lock_seats(
    app: &App,
    viewer: Viewer,
    showtime_id: Uuid,
    raw_seats: &[String],
) -> AppResult<SeatLock> {
    hold(app, viewer, showtime_id, raw_seats, Holder::Customer).await
}

/// Holds `raw_seats` for `viewer`, all or none (one Redis script).
pub async fn hold(
    app: &App,
    viewer: Viewer,
    showtime_id: Uuid,
    raw_seats: &[String],
    holder: Holder,
) -> AppResult<SeatLock> {
    limit(app, viewer, holder).await?;
    let seats = parse_seats(raw_seats)?;
    let max_seats = max_seats(app, holder);
    if seats.len() > max_seats {
        return Err(AppError::bad_input(
            "seatNumbers",
            format!(
                "at most {} seats per showtime",
                app.config.holds.max_seats_per_user
            ),
        ));
    }
    let room = super::rooms::room(app, showtime_id).await?;
    room.showtime.check_on_sale(app.now())?;
    let unknown: Vec<String> = seats
        .iter()
        .filter(|s| !room.layout.contains(s))
        .map(ToString::to_string)
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::bad_input(
            "seatNumbers",
            format!("no such seat in this room: {}", unknown.join(", ")),
        ));
    }
    // Blocked seats are refused by the script, which sees blocks as they are now; the
    // cached showtime's list may be a moment old.
    let names: Vec<String> = seats.iter().map(ToString::to_string).collect();
    let token = new_token(showtime_id);
    take(
        app,
        viewer,
        &room.showtime,
        max_seats,
        Ask::Seats(names),
        token,
    )
    .await
}

/// What `holdBestAvailable` asks for.
#[derive(Debug, Clone, Copy)]
pub struct BestAsk {
    pub showtime: Uuid,
    pub count: usize,
    pub want: super::best::Want,
    /// The seats side by side in one row; when false, and no such block is free, the
    /// best single seats.
    pub adjacent: bool,
}

/// Finds the best block left and holds it for `viewer`, in one Redis script (see
/// `scripts::HOLD_BEST`): `SEATS_UNAVAILABLE` naming no seat when none fits.
pub async fn hold_best(app: &App, viewer: Viewer, ask: BestAsk) -> AppResult<SeatLock> {
    limit(app, viewer, Holder::Customer).await?;
    hold_best_under(app, viewer, ask, new_token(ask.showtime)).await
}

/// A token for a hold that is made later, perhaps more than once (`hold_best_under`).
pub fn reserve_token(showtime: Uuid) -> String {
    new_token(showtime)
}

/// As `hold_best`, for the house on the customer's behalf (a waiting list's offer:
/// no rate limit), under a token chosen beforehand: asked again with the same token,
/// it answers the seats that token holds and holds nothing more.
pub async fn hold_best_under(
    app: &App,
    viewer: Viewer,
    ask: BestAsk,
    token: String,
) -> AppResult<SeatLock> {
    if showtime_of(&token).ok() != Some(ask.showtime) {
        return Err(AppError::internal(anyhow::anyhow!(
            "a hold's token names another showtime"
        )));
    }
    let max = app.config.holds.max_seats_per_user;
    if !(1..=max).contains(&ask.count) {
        return Err(AppError::bad_input(
            "count",
            format!("`count` is 1 to {max}"),
        ));
    }
    if ask.want.accessible > ask.count {
        return Err(AppError::bad_input(
            "accessibleSeats",
            "at most `count`: the others are the companions' seats beside them",
        ));
    }
    if ask.want.accessible > 0 && (ask.want.kind.is_some() || !ask.adjacent) {
        return Err(AppError::bad_input(
            "accessibleSeats",
            "companions sit beside the accessible seats: not with `kind`, nor `adjacent: false`",
        ));
    }
    let room = super::rooms::room(app, ask.showtime).await?;
    room.showtime.check_on_sale(app.now())?;
    let blocks = super::best::candidates(&room.layout, ask.count, ask.want);
    let mut tail = vec![blocks.len().to_string()];
    let name = |s: &Option<SeatNumber>| s.as_ref().map(ToString::to_string).unwrap_or_default();
    tail.extend(blocks.iter().map(|b| {
        let seats: Vec<String> = b.seats.iter().map(ToString::to_string).collect();
        format!(
            "{}|{}|{}|{}|{}",
            seats.join(","),
            name(&b.left[0]),
            name(&b.left[1]),
            name(&b.right[0]),
            name(&b.right[1])
        )
    }));
    if ask.adjacent {
        tail.push("0".to_owned());
    } else {
        tail.push(ask.count.to_string());
        let single = super::best::Want {
            accessible: 0,
            ..ask.want
        };
        tail.extend(
            super::best::candidates(&room.layout, 1, single)
                .iter()
                .flat_map(|c| c.seats.iter().map(ToString::to_string)),
        );
    }
    take(app, viewer, &room.showtime, max, Ask::Best(tail), token).await
}

/// The per-user rate limit on holds, for customers.
async fn limit(app: &App, viewer: Viewer, holder: Holder) -> AppResult<()> {
    match holder {
        Holder::Customer => within_rate_limit(app, viewer).await,
        Holder::Counter => Ok(()),
    }
}

/// The one rate limit per customer that holds, bookings and exchanges share.
pub async fn within_rate_limit(app: &App, viewer: Viewer) -> AppResult<()> {
    if let Decision::Limited {
        retry_after_seconds,
    } = ratelimit::hit(
        &app.redis,
        "booking",
        &viewer.user_id.to_string(),
        app.config.rate_limits.booking,
    )
    .await
    {
        return Err(AppError::RateLimited {
            retry_after_seconds,
        });
    }
    Ok(())
}

fn max_seats(app: &App, holder: Holder) -> usize {
    match holder {
        Holder::Customer => app.config.holds.max_seats_per_user,
        Holder::Counter => usize::MAX >> 1,
    }
}

/// What a hold's script is asked to take.
enum Ask {
    /// Exactly these seats (`LOCK`).
    Seats(Vec<String>),
    /// The best block (`HOLD_BEST`): its arguments after the common ones.
    Best(Vec<String>),
}

/// Runs the hold's script for `viewer` with a new token, answering the script's
/// requests for the booked seats (copied from Postgres) and the user's unpaid seats
/// (read from Postgres), at most once each.
async fn take(
    app: &App,
    viewer: Viewer,
    showtime: &Showtime,
    max_seats: usize,
    ask: Ask,
    token: String,
) -> AppResult<SeatLock> {
    let showtime_id = showtime.id;
    let user = viewer.user_id.to_string();
    let settings = app.config.holds;
    let now = app.now();
    let expires_at = now + chrono::Duration::from_std(settings.ttl).map_err(AppError::internal)?;
    let cap = now + chrono::Duration::from_std(settings.max_hold).map_err(AppError::internal)?;
    let (script, tail) = match &ask {
        Ask::Seats(names) => (&*LOCK, names),
        Ask::Best(tail) => (&*HOLD_BEST, tail),
    };
    // The cap counts unpaid bookings' seats too. Postgres is read only for a user whose
    // claimed locks show they may have some (see `LOCK`); the script then counts a
    // booking committed after that read from its claimed lock.
    let args = |unpaid: Option<&super::queries::Unpaid>| {
        let mut args = vec![
            token.clone(),
            user.clone(),
            millis(expires_at).to_string(),
            millis(cap).to_string(),
            max_seats.to_string(),
            keys_expire_at(showtime, now).to_string(),
            unpaid.map_or_else(|| "-1".to_owned(), |u| u.seats.to_string()),
            unpaid.map_or_else(String::new, |u| {
                u.known
                    .iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
        ];
        args.extend(tail.iter().cloned());
        args
    };
    let mut unpaid = None;
    let mut reply = run(app, script, showtime_id, args(None)).await?;
    // At most once each: the booked seats copied from Postgres, the unpaid seats read.
    for _ in 0..2 {
        match head(&reply) {
            Some("NEED_BOOKED") => ensure_booked(app, showtime_id).await?,
            Some("NEED_UNPAID") if unpaid.is_none() => {
                let mut conn = app.db().await?;
                unpaid = Some(
                    super::queries::unpaid_seats(&mut conn, viewer.user_id, showtime_id, now)
                        .await?,
                );
            }
            _ => break,
        }
        reply = run(app, script, showtime_id, args(unpaid.as_ref())).await?;
    }
    match head(&reply) {
        Some("OK") => {
            let names = match ask {
                Ask::Seats(names) => names,
                Ask::Best(_) => reply.get(2..).map(<[String]>::to_vec).unwrap_or_default(),
            };
            track(app, showtime_id).await?;
            app.lock_log.push(Entry::Held {
                showtime: showtime_id,
                seats: names.clone(),
                user: viewer.user_id,
                token: token.clone(),
                expires_at,
            });
            Ok(SeatLock {
                token,
                expires_at,
                seats: names,
            })
        }
        Some("UNAVAILABLE") => Err(AppError::SeatsUnavailable {
            seats: reply[1..].to_vec(),
        }),
        Some("NONE") => Err(AppError::SeatsUnavailable { seats: Vec::new() }),
        Some("TOO_MANY") => Err(AppError::bad_input(
            match ask {
                Ask::Seats(_) => "seatNumbers",
                Ask::Best(_) => "count",
            },
            format!(
                "at most {} seats per showtime; you already have {} (held, or booked and unpaid)",
                settings.max_seats_per_user,
                reply.get(1).map(String::as_str).unwrap_or("some")
            ),
        )),
        other => Err(AppError::internal(anyhow::anyhow!(
            "lock script answered {other:?}"
        ))),
    }
}

fn outcome(reply: &[String]) -> AppResult<()> {
    match head(reply) {
        Some("OK") => Ok(()),
        Some("EXPIRED") => Err(AppError::LockExpired),
        Some("FORBIDDEN") => Err(AppError::Forbidden {
            message: "this seat lock belongs to someone else".to_owned(),
        }),
        other => Err(AppError::internal(anyhow::anyhow!(
            "seat script answered {other:?}"
        ))),
    }
}

/// A hold that a booking may be made from: the caller's, alive, for exactly `seats`.
pub async fn check_for_booking(
    app: &App,
    viewer: Viewer,
    showtime: Uuid,
    token: &str,
    seats: &[String],
) -> AppResult<DateTime<Utc>> {
    if showtime_of(token)? != showtime {
        return Err(AppError::bad_input(
            "lockToken",
            "this seat lock is for another showtime",
        ));
    }
    let mut args = vec![token.to_owned(), viewer.user_id.to_string()];
    args.extend(seats.iter().cloned());
    let reply: Vec<String> = run(app, &CHECK, showtime, args).await?;
    lock_answer(&reply)
}

/// `CHECK`'s and `CLAIM`'s answer: the hold's expiry, or why it cannot be booked.
fn lock_answer(reply: &[String]) -> AppResult<DateTime<Utc>> {
    match head(reply) {
        Some("OK") => from_millis(reply.get(1).and_then(|e| e.parse().ok()).unwrap_or(0)),
        Some("MISMATCH") => Err(AppError::bad_input(
            "seatNumbers",
            format!(
                "the seat lock holds {}, not these seats",
                reply[1..].join(", ")
            ),
        )),
        Some("UNAVAILABLE") => Err(AppError::SeatsUnavailable {
            seats: reply[1..].to_vec(),
        }),
        // EXPIRED and FORBIDDEN are errors; anything else is a script we do not know.
        other => {
            outcome(reply)?;
            Err(AppError::internal(anyhow::anyhow!(
                "check script answered {other:?}"
            )))
        }
    }
}

/// Turns the caller's hold into booking `booking`, in one atomic step that checks the
/// lock (theirs, alive now, exactly `seats`) and claims it: from then on it cannot be
/// extended, released, used again or swept until the booking's transaction has had
/// its time. Returns the hold's expiry. `restore` undoes it if that transaction fails.
pub async fn claim(
    app: &App,
    viewer: Viewer,
    showtime: Uuid,
    token: &str,
    seats: &[String],
    booking: Uuid,
) -> AppResult<DateTime<Utc>> {
    let keep_until = app.now() + CLAIM_GRACE;
    let mut args = vec![
        token.to_owned(),
        viewer.user_id.to_string(),
        booking.to_string(),
        millis(keep_until).to_string(),
    ];
    args.extend(seats.iter().cloned());
    let reply: Vec<String> = run(app, &CLAIM, showtime, args).await?;
    lock_answer(&reply)
}

/// Gives back a hold that `claim` took for a booking that was not written.
pub async fn restore(app: &App, showtime: Uuid, token: &str, booking: Uuid) -> AppResult<()> {
    let _: i64 = run_script(
        app,
        &RESTORE,
        showtime,
        vec![token.to_owned(), booking.to_string()],
    )
    .await?;
    Ok(())
}

/// A booking was paid: its claimed lock stops counting as unpaid seats for the
/// per-user cap. Best effort: left in place, it only costs the user's next hold a look
/// at Postgres.
pub async fn forget_claim(app: &App, showtime: Uuid, booking: Uuid) {
    let result: AppResult<i64> =
        run_script(app, &FORGET_CLAIM, showtime, vec![booking.to_string()]).await;
    if let Err(e) = result {
        tracing::debug!(%booking, error = %crate::error::LogDisplay(&e), "claimed lock not forgotten");
    }
}

/// Adds another hold period, never past the cap counted from the first hold.
pub async fn extend(app: &App, viewer: Viewer, token: &str) -> AppResult<SeatLock> {
    let showtime = showtime_of(token)?;
    let ttl = app.config.holds.ttl.as_millis().to_string();
    let reply = run(
        app,
        &EXTEND,
        showtime,
        vec![token.to_owned(), viewer.user_id.to_string(), ttl],
    )
    .await?;
    outcome(&reply)?;
    let expires = reply.get(1).and_then(|e| e.parse().ok()).unwrap_or(0);
    Ok(SeatLock {
        token: token.to_owned(),
        expires_at: from_millis(expires)?,
        seats: reply[2..].to_vec(),
    })
}

pub async fn release(app: &App, viewer: Viewer, token: &str) -> AppResult<bool> {
    let showtime = showtime_of(token)?;
    let reply = run(
        app,
        &RELEASE,
        showtime,
        vec![token.to_owned(), viewer.user_id.to_string()],
    )
    .await?;
    outcome(&reply)?;
    app.lock_log.push(Entry::Released {
        token: token.to_owned(),
        at: app.now(),
    });
    Ok(true)
}

/// Puts the showtime on the sweeper's list.
async fn track(app: &App, showtime: Uuid) -> AppResult<()> {
    let _: i64 = app
        .redis
        .pool()
        .next()
        .sadd(
            super::keys::active_showtimes(&app.redis),
            showtime.to_string(),
        )
        .await?;
    Ok(())
}

/// How many holds a showtime has, lapsed or not.
/// Whether the hold `token` still exists (live, or claimed by a booking being made).
pub async fn lock_exists(app: &App, token: &str) -> AppResult<bool> {
    let showtime = showtime_of(token)?;
    let key = keys::seat_key(&app.redis, showtime, "locks");
    Ok(app.redis.client().await.hexists(key, token).await?)
}

pub async fn lock_count(app: &App, showtime: Uuid) -> AppResult<i64> {
    let key = keys::seat_key(&app.redis, showtime, "locks");
    Ok(app.redis.client().await.hlen(key).await?)
}

/// Releases the lapsed holds of a showtime, publishing their seats. Returns how many
/// holds remain.
pub async fn sweep(app: &App, showtime: Uuid) -> AppResult<i64> {
    let reply: i64 = SWEEP
        .evalsha_with_reload(
            app.redis.client().await,
            script_keys(&app.redis, showtime),
            vec![
                keys::channel(&app.redis, showtime),
                millis(app.now()).to_string(),
                history_arg(app),
            ],
        )
        .await?;
    Ok(reply)
}

/// The live holds of several showtimes, each read atomically with its version.
pub async fn read_holds(
    redis: &Redis,
    showtimes: &[Uuid],
    now: DateTime<Utc>,
) -> AppResult<HashMap<Uuid, Holds>> {
    // Scripts do not pipeline in fred; concurrent calls share the connections anyway.
    let client = redis.client().await;
    let replies = futures_util::future::join_all(showtimes.iter().map(|id| {
        let argv = vec![keys::channel(redis, *id), millis(now).to_string()];
        READ.evalsha_with_reload::<Vec<String>, _, _>(client, script_keys(redis, *id), argv)
    }))
    .await;
    let mut out = HashMap::with_capacity(showtimes.len());
    for (id, reply) in showtimes.iter().zip(replies) {
        let reply = reply?;
        let version = head(&reply).and_then(|v| v.parse().ok()).unwrap_or(0);
        let epoch = reply.get(1).cloned().unwrap_or_default();
        let lapses_at = reply
            .get(2)
            .and_then(|ms| ms.parse::<i64>().ok())
            .filter(|ms| *ms >= 0);
        let sold: Option<usize> = reply.get(3).and_then(|n| n.parse().ok());
        let blocked_at = 4 + sold.unwrap_or(0);
        let booked = sold
            .and(reply.get(4..blocked_at))
            .map(|seats| Arc::new(seats.to_vec()));
        let kept: Option<usize> = reply.get(blocked_at).and_then(|n| n.parse().ok());
        let holds_from = blocked_at + 1 + kept.unwrap_or(0);
        let blocked = kept
            .and(reply.get(blocked_at + 1..holds_from))
            .map(|seats| Arc::new(seats.to_vec()));
        let held = reply[holds_from.min(reply.len())..]
            .chunks_exact(2)
            .filter_map(|pair| {
                Uuid::parse_str(&pair[1])
                    .ok()
                    .map(|user| (pair[0].clone(), user))
            })
            .collect();
        out.insert(
            *id,
            Holds {
                version,
                epoch,
                lapses_at,
                held,
                booked,
                blocked,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_lists_are_checked() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_seats(&s(&["A1", "B12"])).unwrap().len(), 2);
        for bad in [s(&[]), s(&["A1", "A1"]), s(&["A0"]), s(&["1A"]), s(&[""])] {
            assert!(
                matches!(parse_seats(&bad), Err(AppError::BadInput { field, .. }) if field == "seatNumbers")
            );
        }
    }

    #[test]
    fn tokens_carry_their_showtime() {
        let id = Uuid::new_v4();
        let token = new_token(id);
        assert_eq!(showtime_of(&token).unwrap(), id);
        assert_ne!(new_token(id), token);
        for bad in ["", "abc", "nope.nope", &format!("{}.short", id.simple())] {
            assert!(showtime_of(bad).is_err(), "{bad}");
        }
    }
}
