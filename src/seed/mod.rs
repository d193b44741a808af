//! Demo data: something worth browsing on a fresh install. Idempotent: ids are derived
//! from names (UUID v5) and every insert skips what is already there (a voucher: its
//! code).

use anyhow::Context;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Numeric, Text, Timestamp};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::password;
use crate::catalog::layout::SeatLayout;
use crate::catalog::ticket_prices::TicketPrices;
use crate::config::AppEnv;
use crate::db::enums::{MovieStatus, Role};
use crate::db::schema::{movies, screens, snacks, theaters, users, vouchers};
use crate::vouchers::{Kind, is_code, normalise_code};

const DEMO_DATA: &str = include_str!("demo_data.json");
const NAMESPACE: Uuid = Uuid::from_u128(0x5c4e_e3a0_0d3e_4b8a_9f61_2c7d_1e0f_a001);
pub const DEMO_PASSWORD: &str = "screema-demo-2026";
pub const DEMO_USERS: [(&str, &str, Role); 3] = [
    ("admin@screema.local", "Ada Admin", Role::Admin),
    ("operator@screema.local", "Otto Operator", Role::Operator),
    ("customer@screema.local", "Cora Customer", Role::Customer),
];
pub const SCHEDULE_DAYS: i64 = 14;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DemoData {
    /// Every demo showtime's price list (`catalog::ticket_prices`).
    ticket_prices: serde_json::Value,
    theaters: Vec<DemoTheater>,
    movies: Vec<DemoMovie>,
    snacks: Vec<DemoSnack>,
    /// Codes to try at checkout; like the demo users, not seeded in production.
    vouchers: Vec<DemoVoucher>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DemoTheater {
    key: String,
    name: String,
    location: String,
    timezone: String,
    screens: Vec<DemoScreen>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DemoScreen {
    screen_number: i32,
    layout: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DemoMovie {
    key: String,
    title: String,
    description: String,
    duration: i32,
    rating: String,
    age_rating: DemoAgeRating,
    genres: Vec<String>,
    cast: Vec<String>,
    director: String,
    poster_url: String,
    backdrop_url: String,
    trailer_url: String,
    release_offset_days: i64,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DemoAgeRating {
    system: String,
    code: String,
    min_age: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DemoSnack {
    key: String,
    name: String,
    description: String,
    price: String,
    category: String,
    image_url: String,
    available: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DemoVoucher {
    code: String,
    /// As GraphQL spells it: `PERCENT_OFF`, `AMOUNT_OFF`, `FIXED_PRICE`.
    kind: String,
    value: String,
    total_uses: Option<i32>,
    uses_per_customer: Option<i32>,
    description: String,
}

#[derive(Debug, Default)]
pub struct SeedReport {
    pub theaters: usize,
    pub screens: usize,
    pub movies: usize,
    pub showtimes_added: usize,
    pub snacks: usize,
    pub vouchers_added: usize,
    pub users_added: usize,
    /// Production gets the catalog only: no demo users, no demo vouchers.
    pub users_skipped_in_production: bool,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} theaters, {} screens, {} movies, {} snacks; {} showtimes, {} vouchers and {} users added",
            self.theaters,
            self.screens,
            self.movies,
            self.snacks,
            self.showtimes_added,
            self.vouchers_added,
            self.users_added
        )?;
        if self.users_skipped_in_production {
            write!(f, " (demo users and vouchers refused in production)")?;
        }
        Ok(())
    }
}

fn id(kind: &str, key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{key}").as_bytes())
}

fn decimal(s: &str) -> anyhow::Result<Decimal> {
    s.parse().with_context(|| format!("`{s}` is not a decimal"))
}

/// Seeds the catalog, the next `SCHEDULE_DAYS` days of showtimes from `today`, and
/// (outside production) the demo vouchers and users.
pub async fn run(
    conn: &mut AsyncPgConnection,
    env: AppEnv,
    today: NaiveDate,
    cleaning_gap: std::time::Duration,
    currency: crate::money::Currency,
) -> anyhow::Result<SeedReport> {
    let data: DemoData = serde_json::from_str(DEMO_DATA).context("parsing demo_data.json")?;
    let mut report = SeedReport::default();

    let mut screen_rows = Vec::new();
    for theater in &data.theaters {
        let theater_id = id("theater", &theater.key);
        diesel::insert_into(theaters::table)
            .values((
                theaters::id.eq(theater_id),
                theaters::name.eq(&theater.name),
                theaters::location.eq(&theater.location),
                theaters::timezone.eq(&theater.timezone),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        report.theaters += 1;
        for screen in &theater.screens {
            let layout = SeatLayout::parse(&screen.layout, "seatLayout").map_err(|e| {
                anyhow::anyhow!(
                    "demo layout of {}/{}: {} at {}",
                    theater.key,
                    screen.screen_number,
                    e.message,
                    e.field
                )
            })?;
            let screen_id = id(
                "screen",
                &format!("{}/{}", theater.key, screen.screen_number),
            );
            diesel::insert_into(screens::table)
                .values((
                    screens::id.eq(screen_id),
                    screens::theater_id.eq(theater_id),
                    screens::screen_number.eq(screen.screen_number),
                    screens::total_seats.eq(i32::try_from(layout.total_seats())?),
                    screens::seat_layout.eq(layout.to_json()),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            report.screens += 1;
            screen_rows.push((screen_id, layout));
        }
    }

    let mut now_showing = Vec::new();
    for movie in &data.movies {
        let status = match movie.status.as_str() {
            "NOW_SHOWING" => MovieStatus::NowShowing,
            "UPCOMING" => MovieStatus::Upcoming,
            "ENDED" => MovieStatus::Ended,
            other => anyhow::bail!("demo movie {} has unknown status {other}", movie.key),
        };
        let movie_id = id("movie", &movie.key);
        diesel::insert_into(movies::table)
            .values((
                movies::id.eq(movie_id),
                movies::title.eq(&movie.title),
                movies::description.eq(&movie.description),
                movies::duration.eq(movie.duration),
                movies::rating.eq(&movie.rating),
                movies::genres.eq(movie.genres.iter().cloned().map(Some).collect::<Vec<_>>()),
                movies::cast_members.eq(movie.cast.iter().cloned().map(Some).collect::<Vec<_>>()),
                movies::director.eq(&movie.director),
                movies::poster_url.eq(&movie.poster_url),
                movies::backdrop_url.eq(&movie.backdrop_url),
                movies::trailer_url.eq(&movie.trailer_url),
                movies::release_date.eq(today + Duration::days(movie.release_offset_days)),
                movies::status.eq(status),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        // Ratings came after the first demo catalog: a film seeded before gets its
        // rating, unless an admin has given it one since.
        let rating = &movie.age_rating;
        diesel::update(
            movies::table
                .find(movie_id)
                .filter(movies::age_rating_system.is_null()),
        )
        .set((
            movies::age_rating_system.eq(&rating.system),
            movies::age_rating_code.eq(&rating.code),
            movies::age_rating_min_age.eq(rating.min_age),
        ))
        .execute(conn)
        .await?;
        report.movies += 1;
        if status == MovieStatus::NowShowing {
            now_showing.push((movie_id, movie.duration));
        }
    }

    for snack in &data.snacks {
        diesel::insert_into(snacks::table)
            .values((
                snacks::id.eq(id("snack", &snack.key)),
                snacks::name.eq(&snack.name),
                snacks::description.eq(&snack.description),
                snacks::price.eq(decimal(&snack.price)?),
                snacks::category.eq(&snack.category),
                snacks::image_url.eq(&snack.image_url),
                snacks::available.eq(snack.available),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        report.snacks += 1;
    }

    let prices = TicketPrices::checked(
        "ticketPrices",
        serde_json::from_value::<Vec<DemoPrice>>(data.ticket_prices)
            .context("demo ticketPrices")?
            .into_iter()
            .map(|p| {
                Ok((
                    p.ticket_type,
                    p.fixed_price.as_deref().map(decimal).transpose()?,
                    p.percent_of_seat_price
                        .as_deref()
                        .map(decimal)
                        .transpose()?,
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        currency,
    )
    .map_err(|e| anyhow::anyhow!("demo ticketPrices: {e:?}"))?;
    let gap_minutes = i64::try_from(cleaning_gap.as_secs() / 60)?;
    report.showtimes_added = seed_showtimes(
        conn,
        &screen_rows,
        &now_showing,
        today,
        gap_minutes,
        &prices,
    )
    .await?;

    if env == AppEnv::Production {
        // A code everyone can read in the README would be a real discount there.
        report.users_skipped_in_production = true;
    } else {
        report.vouchers_added = seed_vouchers(conn, &data.vouchers).await?;
        for (email, name, role) in DEMO_USERS {
            let exists: bool = diesel::select(diesel::dsl::exists(
                users::table.filter(users::email.eq(email)),
            ))
            .get_result(conn)
            .await?;
            if exists {
                continue;
            }
            report.users_added += diesel::insert_into(users::table)
                .values((
                    users::id.eq(id("user", email)),
                    users::email.eq(email),
                    users::password_hash.eq(password::hash(DEMO_PASSWORD)?),
                    users::full_name.eq(name),
                    users::role.eq(role),
                    users::email_verified.eq(true),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
        }
    }
    Ok(report)
}

/// The demo vouchers, each once: a code already there (seeded before, or made by an
/// admin) is left as it is.
async fn seed_vouchers(
    conn: &mut AsyncPgConnection,
    demo: &[DemoVoucher],
) -> anyhow::Result<usize> {
    let mut added = 0;
    for voucher in demo {
        let code = normalise_code(&voucher.code);
        anyhow::ensure!(
            is_code(&code),
            "demo voucher {code}: a code is 3 to 32 letters, digits, `_` or `-`"
        );
        let kind: Kind = voucher
            .kind
            .to_ascii_lowercase()
            .parse()
            .with_context(|| format!("demo voucher {code}: kind `{}`", voucher.kind))?;
        added += diesel::insert_into(vouchers::table)
            .values((
                vouchers::id.eq(id("voucher", &code)),
                vouchers::code.eq(&code),
                vouchers::kind.eq(kind.as_db_str()),
                vouchers::value.eq(decimal(&voucher.value)?),
                vouchers::total_uses.eq(voucher.total_uses),
                vouchers::uses_per_customer.eq(voucher.uses_per_customer),
                vouchers::description.eq(&voucher.description),
            ))
            .on_conflict(vouchers::code)
            .do_nothing()
            .execute(conn)
            .await
            .with_context(|| format!("demo voucher {code}"))?;
    }
    Ok(added)
}

struct Slot {
    id: Uuid,
    movie: Uuid,
    screen: Uuid,
    local_start: NaiveDateTime,
    duration: i32,
    price: Decimal,
    blocked: String,
}

/// A day's programme per screen: from late morning to the last show before 22:30,
/// each start after the previous film and a cleaning gap, rounded up to 5 minutes.
///
/// A date's programme depends on the date, not on the day the seed runs, so seeding
/// again tomorrow writes the same showtimes for the days already seeded. A slot whose
/// screen is taken then by another showing (an admin's, or one an older seed placed) is
/// left out rather than refused by the overlap constraint: `scripts/dev.sh` runs again
/// on a database someone has used.
async fn seed_showtimes(
    conn: &mut AsyncPgConnection,
    screens: &[(Uuid, SeatLayout)],
    movies: &[(Uuid, i32)],
    today: NaiveDate,
    gap_minutes: i64,
    prices: &TicketPrices,
) -> anyhow::Result<usize> {
    if movies.is_empty() {
        return Ok(0);
    }
    let (matinee, evening, weekend) = (decimal("9.50")?, decimal("13.50")?, decimal("2.00")?);
    let last_start = NaiveTime::from_hms_opt(22, 30, 0).context("time")?;
    let mut slots = Vec::new();
    for (s, (screen, layout)) in screens.iter().enumerate() {
        // The flagship's first seat is under repair: a BLOCKED seat to show in the demo.
        let blocked = if s == 0 {
            layout
                .seats()
                .next()
                .map(|seat| seat.number.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        for day in 0..SCHEDULE_DAYS {
            let date = today + Duration::days(day);
            let first = NaiveTime::from_hms_opt(10, 0, 0).context("time")?
                + Duration::minutes(15 * (s as i64 % 4));
            let mut start = date.and_time(first);
            let mut n = 0usize;
            while start.time() <= last_start && start.date() == date {
                let rotation = usize::try_from(date.num_days_from_ce()).unwrap_or_default();
                let (movie, duration) = movies[(s * 3 + rotation + n) % movies.len()];
                let weekend_extra = if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                    weekend
                } else {
                    Decimal::ZERO
                };
                let price = if start.hour() < 17 { matinee } else { evening } + weekend_extra;
                slots.push(Slot {
                    id: id("showtime", &format!("{screen}/{date}/{n}")),
                    movie,
                    screen: *screen,
                    local_start: start,
                    // A showtime ends when the room is clean again, as createShowtime has it.
                    duration: duration + i32::try_from(gap_minutes)?,
                    price,
                    blocked: blocked.clone(),
                });
                let next = start + Duration::minutes(i64::from(duration) + gap_minutes);
                start = round_up_to_5_minutes(next);
                n += 1;
            }
        }
    }
    // One statement: local times become instants in each theater's own zone. A demo
    // showtime seeded before ticket types (still at the column's default list) gets the
    // demo's prices; one an admin priced is left alone. Only new rows are counted.
    let written: Vec<Fresh> = diesel::sql_query(
        "INSERT INTO showtimes (id, movie_id, screen_id, start_time, end_time, base_price, \
                                blocked_seats, ticket_prices) \
         SELECT v.id, v.movie_id, v.screen_id, v.local_start AT TIME ZONE t.timezone, \
                (v.local_start AT TIME ZONE t.timezone) + make_interval(mins => v.duration), v.price, \
                string_to_array(v.blocked, ','), $8 \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamp[], $5::int4[], $6::numeric[], $7::text[]) \
              AS v(id, movie_id, screen_id, local_start, duration, price, blocked) \
         JOIN screens s ON s.id = v.screen_id JOIN theaters t ON t.id = s.theater_id \
         WHERE NOT EXISTS (SELECT 1 FROM showtimes o \
             WHERE o.screen_id = v.screen_id AND o.id <> v.id AND o.status = 'scheduled' \
               AND tstzrange(o.start_time, o.end_time) && tstzrange(v.local_start AT TIME ZONE t.timezone, \
                   (v.local_start AT TIME ZONE t.timezone) + make_interval(mins => v.duration))) \
         ON CONFLICT (id) DO UPDATE SET ticket_prices = EXCLUDED.ticket_prices \
             WHERE showtimes.ticket_prices = \
                 '[{\"ticketType\": \"ADULT\", \"percentOfSeatPrice\": \"100\"}]'::jsonb \
         RETURNING (xmax = 0) AS fresh",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(slots.iter().map(|s| s.id).collect::<Vec<_>>())
    .bind::<Array<diesel::sql_types::Uuid>, _>(slots.iter().map(|s| s.movie).collect::<Vec<_>>())
    .bind::<Array<diesel::sql_types::Uuid>, _>(slots.iter().map(|s| s.screen).collect::<Vec<_>>())
    .bind::<Array<Timestamp>, _>(slots.iter().map(|s| s.local_start).collect::<Vec<_>>())
    .bind::<Array<Int4>, _>(slots.iter().map(|s| s.duration).collect::<Vec<_>>())
    .bind::<Array<Numeric>, _>(slots.iter().map(|s| s.price).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(slots.iter().map(|s| s.blocked.clone()).collect::<Vec<_>>())
    .bind::<diesel::sql_types::Jsonb, _>(prices.to_stored())
    .load(conn)
    .await?;
    Ok(written.iter().filter(|w| w.fresh).count())
}

#[derive(diesel::QueryableByName)]
struct Fresh {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    fresh: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DemoPrice {
    ticket_type: String,
    fixed_price: Option<String>,
    percent_of_seat_price: Option<String>,
}

fn round_up_to_5_minutes(t: NaiveDateTime) -> NaiveDateTime {
    let extra = (5 - i64::from(t.minute()) % 5) % 5;
    let t = t + Duration::minutes(extra);
    t.with_second(0).unwrap_or(t)
}
