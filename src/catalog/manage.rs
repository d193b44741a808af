//! Catalog changes (admins): each input is checked field by field before anything is
//! written, the database's own constraints settle races (duplicate screen numbers,
//! overlapping showtimes), and a change that readers see clears the catalog cache on
//! every node. The entry points (`add_movie`, `change_movie`, `add_theater`,
//! `add_screen`, `add_showtime`, `add_snack`) take what the admin sent, unchecked.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::age_rating::AgeRating;
use super::layout::SeatLayout;
use super::model::{Movie, Screen, Showtime, Snack, Theater};
use super::ticket_prices::TicketPrices;
use crate::app::App;
use crate::db::enums::MovieStatus;
use crate::db::schema::{movies, screens, showtimes, snacks, theaters};
use crate::error::{AppError, AppResult};
use crate::money::Currency;
use crate::text::{is_control_but_line_break, names, optional_text, text, url};

/// A change to a nullable field: leave it, clear it, or set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

/// Descriptions may hold line breaks (but no other control characters).
fn description(value: Option<String>) -> AppResult<Option<String>> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > 5000 => Err(AppError::bad_input(
            "description",
            "at most 5000 characters",
        )),
        Some(v) if v.chars().any(is_control_but_line_break) => Err(AppError::bad_input(
            "description",
            "a description holds no control characters but line breaks",
        )),
        other => Ok(other),
    }
}

fn duration(minutes: i32) -> AppResult<i32> {
    if !(1..=600).contains(&minutes) {
        return Err(AppError::bad_input(
            "duration",
            "a running time is 1 to 600 minutes",
        ));
    }
    Ok(minutes)
}

/// A price in the configured currency: from 0 to 99,999 units, and with no more
/// decimals than the currency's minor unit has (two for USD, none for JPY, three for
/// KWD). Held at exactly that many places.
pub fn price(field: &str, amount: Decimal, currency: Currency) -> AppResult<Decimal> {
    if amount.is_sign_negative() || !currency.fits(amount) || amount > Decimal::from(99_999) {
        let decimals = match currency.exponent() {
            0 => "no decimals".to_owned(),
            1 => "at most one decimal".to_owned(),
            n => format!("at most {n} decimals"),
        };
        return Err(AppError::bad_input(
            field,
            format!("`{field}` is an amount from 0 to 99999 with {decimals} ({currency})"),
        ));
    }
    Ok(currency.round(amount))
}

fn some_texts(values: &[String]) -> Vec<Option<String>> {
    values.iter().cloned().map(Some).collect()
}

/// Writes a checked movie.
async fn create_movie(conn: &mut AsyncPgConnection, m: MovieInput) -> AppResult<Movie> {
    Ok(diesel::insert_into(movies::table)
        .values((
            movies::title.eq(m.title),
            movies::description.eq(m.description),
            movies::duration.eq(m.duration),
            movies::rating.eq(m.rating),
            movies::genres.eq(some_texts(&m.genres)),
            movies::cast_members.eq(some_texts(&m.cast)),
            movies::director.eq(m.director),
            movies::poster_url.eq(m.poster_url),
            movies::backdrop_url.eq(m.backdrop_url),
            movies::trailer_url.eq(m.trailer_url),
            movies::release_date.eq(m.release_date),
            movies::status.eq(m.status.unwrap_or(MovieStatus::Upcoming)),
            movies::age_rating_system.eq(m.age_rating.as_ref().map(|r| r.system.clone())),
            movies::age_rating_code.eq(m.age_rating.as_ref().map(|r| r.code.clone())),
            movies::age_rating_min_age.eq(m.age_rating.as_ref().map(|r| r.min_age)),
        ))
        .returning(Movie::as_returning())
        .get_result(conn)
        .await?)
}

fn patched<T: Clone>(patch: &Patch<T>, current: &Option<T>) -> Option<T> {
    match patch {
        Patch::Keep => current.clone(),
        Patch::Clear => None,
        Patch::Set(v) => Some(v.clone()),
    }
}

/// Changes only the fields given; the row is locked so concurrent edits of other
/// fields are not lost.
async fn update_movie(conn: &mut AsyncPgConnection, id: Uuid, p: MovieChanges) -> AppResult<Movie> {
    use diesel_async::AsyncConnection;
    conn.transaction::<_, AppError, _>(async |conn| {
        let current: Movie = movies::table
            .find(id)
            .select(Movie::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(AppError::NotFound { what: "movie" })?;
        let rating = patched(&p.age_rating, &current.age_rating());
        Ok(diesel::update(movies::table.find(id))
            .set((
                movies::title.eq(p.title.clone().unwrap_or(current.title.clone())),
                movies::description.eq(patched(&p.description, &current.description)),
                movies::duration.eq(p.duration.unwrap_or(current.duration)),
                movies::rating.eq(patched(&p.rating, &current.rating)),
                movies::genres.eq(p
                    .genres
                    .as_deref()
                    .map(some_texts)
                    .unwrap_or(current.genres.clone())),
                movies::cast_members.eq(p
                    .cast
                    .as_deref()
                    .map(some_texts)
                    .unwrap_or(current.cast_members.clone())),
                movies::director.eq(patched(&p.director, &current.director)),
                movies::poster_url.eq(patched(&p.poster_url, &current.poster_url)),
                movies::backdrop_url.eq(patched(&p.backdrop_url, &current.backdrop_url)),
                movies::trailer_url.eq(patched(&p.trailer_url, &current.trailer_url)),
                movies::release_date.eq(patched(&p.release_date, &current.release_date)),
                movies::status.eq(p.status.unwrap_or(current.status)),
                movies::age_rating_system.eq(rating.as_ref().map(|r| r.system.clone())),
                movies::age_rating_code.eq(rating.as_ref().map(|r| r.code.clone())),
                movies::age_rating_min_age.eq(rating.as_ref().map(|r| r.min_age)),
            ))
            .returning(Movie::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}

async fn create_theater(
    conn: &mut AsyncPgConnection,
    name: &str,
    location: &str,
    timezone: &str,
) -> AppResult<Theater> {
    let name = text("name", name, 255)?;
    let location = text("location", location, 255)?;
    let timezone = timezone.trim();
    let unknown = || AppError::bad_input("timezone", "an IANA time zone such as Europe/Paris");
    // Postgres cannot even compare text holding NUL: no such name is asked about.
    if timezone.is_empty() || timezone.len() > 255 || timezone.chars().any(char::is_control) {
        return Err(unknown());
    }
    #[derive(QueryableByName)]
    struct Known {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        known: bool,
    }
    let known: Known = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1) AS known",
    )
    .bind::<diesel::sql_types::Text, _>(timezone)
    .get_result(conn)
    .await?;
    if !known.known {
        return Err(unknown());
    }
    Ok(diesel::insert_into(theaters::table)
        .values((
            theaters::name.eq(name),
            theaters::location.eq(location),
            theaters::timezone.eq(timezone),
        ))
        .returning(Theater::as_returning())
        .get_result(conn)
        .await?)
}

async fn create_screen(
    conn: &mut AsyncPgConnection,
    theater_id: Uuid,
    screen_number: i32,
    layout: &serde_json::Value,
) -> AppResult<Screen> {
    if !(1..=999).contains(&screen_number) {
        return Err(AppError::bad_input(
            "screenNumber",
            "a screen number is 1 to 999",
        ));
    }
    let layout = SeatLayout::parse(layout, "seatLayout")?;
    let total = i32::try_from(layout.total_seats()).map_err(AppError::internal)?;
    let inserted = diesel::insert_into(screens::table)
        .values((
            screens::theater_id.eq(theater_id),
            screens::screen_number.eq(screen_number),
            screens::total_seats.eq(total),
            screens::seat_layout.eq(layout.to_json()),
        ))
        .returning(Screen::as_returning())
        .get_result(conn)
        .await;
    match inserted {
        Ok(screen) => Ok(screen),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            Err(AppError::Conflict {
                message: format!("this theater already has a screen {screen_number}"),
                field: Some("screenNumber".to_owned()),
            })
        }
        Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
            Err(AppError::bad_input("theaterId", "no such theater"))
        }
        Err(e) => Err(e.into()),
    }
}

/// A ticket type's price as an admin sends it: `(type, fixed price, percent of the
/// seat's price)`, exactly one of the two (`TicketPrices::checked`).
pub type PriceEntry = (String, Option<Decimal>, Option<Decimal>);

pub struct NewShowtime {
    pub movie_id: Uuid,
    pub screen_id: Uuid,
    pub start_time: DateTime<Utc>,
    pub base_price: Decimal,
    /// `(ticket type, fixed price, percent of the seat's price)`, exactly one of the
    /// two; none: ADULT at the seat's price.
    pub ticket_prices: Option<Vec<PriceEntry>>,
    pub sale: super::sale::Sale,
}

/// Schedules a showtime: it ends after the film and the cleaning gap, in the future,
/// never overlapping another on its screen.
async fn create_showtime(
    conn: &mut AsyncPgConnection,
    s: NewShowtime,
    now: DateTime<Utc>,
    cleaning_gap: std::time::Duration,
    currency: Currency,
) -> AppResult<Showtime> {
    let base_price = price("basePrice", s.base_price, currency)?;
    let ticket_prices = match s.ticket_prices {
        Some(entries) => TicketPrices::checked("ticketPrices", entries, currency)?,
        None => TicketPrices::default(),
    };
    if s.start_time <= now {
        return Err(AppError::bad_input(
            "startTime",
            "a showtime starts in the future",
        ));
    }
    let sale = s.sale.checked(s.start_time)?;
    let movie: Option<(i32, MovieStatus)> = movies::table
        .find(s.movie_id)
        .select((movies::duration, movies::status))
        .first(conn)
        .await
        .optional()?;
    let (minutes, status) = movie.ok_or_else(|| AppError::bad_input("movieId", "no such movie"))?;
    if status == MovieStatus::Ended {
        return Err(AppError::bad_input(
            "movieId",
            "this movie has ended its run",
        ));
    }
    let gap = chrono::Duration::from_std(cleaning_gap).map_err(AppError::internal)?;
    let end_time = s.start_time + chrono::Duration::minutes(i64::from(minutes)) + gap;
    let inserted = diesel::insert_into(showtimes::table)
        .values((
            showtimes::movie_id.eq(s.movie_id),
            showtimes::screen_id.eq(s.screen_id),
            showtimes::start_time.eq(s.start_time),
            showtimes::end_time.eq(end_time),
            showtimes::base_price.eq(base_price),
            showtimes::ticket_prices.eq(ticket_prices.to_stored()),
            showtimes::on_sale_at.eq(sale.on_sale_at),
            showtimes::queue.eq(sale.queue),
            showtimes::queue_rate.eq(sale.queue_rate),
        ))
        .returning(Showtime::as_returning())
        .get_result(conn)
        .await;
    inserted.map_err(showtime_not_written)
}

/// Why a showtime's row was refused: another showing on its screen then (`CONFLICT`
/// naming `startTime`), or a screen that does not exist.
fn showtime_not_written(e: DieselError) -> AppError {
    match e {
        DieselError::DatabaseError(_, ref info)
            if info.constraint_name() == Some("showtimes_no_overlap") =>
        {
            AppError::Conflict {
                message: "this screen has another showtime (with its cleaning) at that time"
                    .to_owned(),
                field: Some("startTime".to_owned()),
            }
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            AppError::bad_input("screenId", "no such screen")
        }
        e => e.into(),
    }
}

/// What `updateShowtime` changes; `None` keeps it.
#[derive(Debug, Clone, Default)]
pub struct ShowtimeChanges {
    pub start_time: Option<DateTime<Utc>>,
    pub base_price: Option<Decimal>,
    pub screen_id: Option<Uuid>,
    pub sale: super::sale::SalePatch,
}

impl ShowtimeChanges {
    /// Whether customers' showing moves (time or room), not only its price.
    pub fn moves(&self, from: &Showtime) -> bool {
        self.start_time.is_some_and(|t| t != from.start_time)
            || self.screen_id.is_some_and(|s| s != from.screen_id)
    }
}

/// Moves or reprices `current` (locked by the caller) by the rules of creation: it
/// starts in the future, ends after the film and the cleaning gap, never overlaps
/// another showing on its screen (`CONFLICT` naming `startTime`).
pub async fn reschedule(
    conn: &mut AsyncPgConnection,
    current: &Showtime,
    changes: &ShowtimeChanges,
    now: DateTime<Utc>,
    cleaning_gap: std::time::Duration,
    currency: Currency,
) -> AppResult<Showtime> {
    let base_price = match changes.base_price {
        Some(p) => price("basePrice", p, currency)?,
        None => current.base_price,
    };
    let start_time = changes.start_time.unwrap_or(current.start_time);
    if changes.start_time.is_some() && start_time <= now {
        return Err(AppError::bad_input(
            "startTime",
            "a showtime starts in the future",
        ));
    }
    let minutes: i32 = movies::table
        .find(current.movie_id)
        .select(movies::duration)
        .first(conn)
        .await?;
    let gap = chrono::Duration::from_std(cleaning_gap).map_err(AppError::internal)?;
    let end_time = start_time + chrono::Duration::minutes(i64::from(minutes)) + gap;
    let sale = changes.sale.apply(current).checked(start_time)?;
    let moved = changes.moves(current);
    let updated = diesel::update(showtimes::table.find(current.id))
        .set((
            showtimes::screen_id.eq(changes.screen_id.unwrap_or(current.screen_id)),
            showtimes::start_time.eq(start_time),
            showtimes::end_time.eq(end_time),
            showtimes::base_price.eq(base_price),
            showtimes::on_sale_at.eq(sale.on_sale_at),
            showtimes::queue.eq(sale.queue),
            showtimes::queue_rate.eq(sale.queue_rate),
            showtimes::rescheduled_at.eq(if moved {
                Some(now)
            } else {
                current.rescheduled_at
            }),
        ))
        .returning(Showtime::as_returning())
        .get_result(conn)
        .await;
    updated.map_err(showtime_not_written)
}

/// Writes a checked snack.
async fn create_snack(conn: &mut AsyncPgConnection, s: SnackInput) -> AppResult<Snack> {
    Ok(diesel::insert_into(snacks::table)
        .values((
            snacks::name.eq(s.name),
            snacks::description.eq(s.description),
            snacks::price.eq(s.price),
            snacks::category.eq(s.category),
            snacks::image_url.eq(s.image_url),
            snacks::available.eq(s.available),
        ))
        .returning(Snack::as_returning())
        .get_result(conn)
        .await?)
}

/// A movie as an admin sends it (`add_movie` checks it).
pub struct MovieInput {
    pub title: String,
    pub description: Option<String>,
    pub duration: i32,
    pub rating: Option<String>,
    pub genres: Vec<String>,
    pub cast: Vec<String>,
    pub director: Option<String>,
    pub release_date: Option<NaiveDate>,
    pub poster_url: Option<String>,
    pub backdrop_url: Option<String>,
    pub trailer_url: Option<String>,
    /// UPCOMING when not given.
    pub status: Option<MovieStatus>,
    /// `(system, code, minimum age)`.
    pub age_rating: Option<AgeRating>,
}

pub async fn add_movie(app: &App, input: MovieInput) -> AppResult<Movie> {
    let movie = MovieInput {
        title: text("title", &input.title, 255)?,
        description: description(input.description)?,
        duration: duration(input.duration)?,
        rating: optional_text("rating", input.rating, 10)?,
        genres: names("genres", input.genres)?,
        cast: names("cast", input.cast)?,
        director: optional_text("director", input.director, 255)?,
        poster_url: url("posterUrl", input.poster_url)?,
        backdrop_url: url("backdropUrl", input.backdrop_url)?,
        trailer_url: url("trailerUrl", input.trailer_url)?,
        release_date: input.release_date,
        status: input.status,
        age_rating: input
            .age_rating
            .map(|r| AgeRating::checked("ageRating", &r.system, &r.code, r.min_age))
            .transpose()?,
    };
    let mut conn = app.db().await?;
    let created = create_movie(&mut conn, movie).await?;
    super::cache::changed(app).await;
    Ok(created)
}

/// Changes to a movie as an admin sends them (`change_movie` checks them): only the
/// fields given change.
#[derive(Default)]
pub struct MovieChanges {
    pub title: Option<String>,
    pub description: Patch<String>,
    pub duration: Option<i32>,
    pub rating: Patch<String>,
    pub genres: Option<Vec<String>>,
    pub cast: Option<Vec<String>>,
    pub director: Patch<String>,
    pub release_date: Patch<NaiveDate>,
    pub poster_url: Patch<String>,
    pub backdrop_url: Patch<String>,
    pub trailer_url: Patch<String>,
    pub status: Option<MovieStatus>,
    pub age_rating: Patch<AgeRating>,
}

/// A patch checked: a value that checks out as absent (empty text) clears the field.
fn checked<T, U>(
    field: &str,
    patch: Patch<T>,
    check: impl FnOnce(&str, T) -> AppResult<Option<U>>,
) -> AppResult<Patch<U>> {
    match patch {
        Patch::Keep => Ok(Patch::Keep),
        Patch::Clear => Ok(Patch::Clear),
        Patch::Set(v) => Ok(check(field, v)?.map_or(Patch::Clear, Patch::Set)),
    }
}

pub async fn change_movie(app: &App, id: Uuid, changes: MovieChanges) -> AppResult<Movie> {
    let c = changes;
    let patch = MovieChanges {
        title: c.title.map(|t| text("title", &t, 255)).transpose()?,
        description: checked("description", c.description, |_, v| description(Some(v)))?,
        duration: c.duration.map(duration).transpose()?,
        rating: checked("rating", c.rating, |f, v| optional_text(f, Some(v), 10))?,
        genres: c.genres.map(|g| names("genres", g)).transpose()?,
        cast: c.cast.map(|g| names("cast", g)).transpose()?,
        director: checked("director", c.director, |f, v| {
            optional_text(f, Some(v), 255)
        })?,
        release_date: checked("releaseDate", c.release_date, |_, d| Ok(Some(d)))?,
        poster_url: checked("posterUrl", c.poster_url, |f, v| url(f, Some(v)))?,
        backdrop_url: checked("backdropUrl", c.backdrop_url, |f, v| url(f, Some(v)))?,
        trailer_url: checked("trailerUrl", c.trailer_url, |f, v| url(f, Some(v)))?,
        status: c.status,
        age_rating: checked("ageRating", c.age_rating, |f, r| {
            AgeRating::checked(f, &r.system, &r.code, r.min_age).map(Some)
        })?,
    };
    let mut conn = app.db().await?;
    let updated = update_movie(&mut conn, id, patch).await?;
    super::cache::changed(app).await;
    Ok(updated)
}

/// A theater; in UTC when no time zone is given.
pub async fn add_theater(
    app: &App,
    name: &str,
    location: &str,
    timezone: Option<&str>,
) -> AppResult<Theater> {
    let mut conn = app.db().await?;
    create_theater(&mut conn, name, location, timezone.unwrap_or("UTC")).await
}

/// A screen of a theater; its seat count comes from the layout.
pub async fn add_screen(
    app: &App,
    theater: Uuid,
    screen_number: i32,
    layout: &serde_json::Value,
) -> AppResult<Screen> {
    let mut conn = app.db().await?;
    create_screen(&mut conn, theater, screen_number, layout).await
}

/// A showtime, ending after the film's running time and the cleaning gap, priced in
/// the configured currency.
pub async fn add_showtime(app: &App, showtime: NewShowtime) -> AppResult<Showtime> {
    let mut conn = app.db().await?;
    let created = create_showtime(
        &mut conn,
        showtime,
        app.now(),
        app.config.catalog.cleaning_gap,
        app.config.currency,
    )
    .await?;
    super::cache::changed(app).await;
    Ok(created)
}

/// A snack as an admin sends it (`add_snack` checks it).
pub struct SnackInput {
    pub name: String,
    pub description: Option<String>,
    pub price: Decimal,
    pub category: String,
    pub image_url: Option<String>,
    pub available: bool,
}

pub async fn add_snack(app: &App, input: SnackInput) -> AppResult<Snack> {
    let snack = SnackInput {
        name: text("name", &input.name, 255)?,
        description: description(input.description)?,
        price: price("price", input.price, app.config.currency)?,
        category: text("category", &input.category, 100)?,
        image_url: url("imageUrl", input.image_url)?,
        available: input.available,
    };
    let mut conn = app.db().await?;
    create_snack(&mut conn, snack).await
}
