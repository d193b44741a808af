//! Catalog changes (admins): each input is checked field by field before anything is
//! written, and the database's own constraints settle races (duplicate screen
//! numbers, overlapping showtimes).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::layout::SeatLayout;
use super::model::{Movie, Screen, Showtime, Snack, Theater};
use crate::db::enums::MovieStatus;
use crate::db::schema::{movies, screens, showtimes, snacks, theaters};
use crate::error::{AppError, AppResult};
use crate::money::Currency;

/// A change to a nullable field: leave it, clear it, or set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

pub fn text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` needs 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Empty text counts as absent.
pub fn optional_text(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    match value {
        Some(v) if !v.trim().is_empty() => text(field, &v, max).map(Some),
        _ => Ok(None),
    }
}

/// Whether `c` is a control character other than a line break or a tab (NUL among
/// them, which Postgres cannot store in text).
pub fn is_control_but_line_break(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// Descriptions may hold line breaks (but no other control characters).
pub fn description(value: Option<String>) -> AppResult<Option<String>> {
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

pub fn url(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    match optional_text(field, value, 500)? {
        Some(u)
            if !(u.starts_with("https://") || u.starts_with("http://"))
                || u.contains(char::is_whitespace) =>
        {
            Err(AppError::bad_input(
                field,
                format!("`{field}` must be an http(s) URL"),
            ))
        }
        other => Ok(other),
    }
}

pub fn names(field: &str, values: Vec<String>) -> AppResult<Vec<String>> {
    if values.len() > 50 {
        return Err(AppError::bad_input(
            field,
            format!("at most 50 entries in `{field}`"),
        ));
    }
    values.iter().map(|v| text(field, v, 100)).collect()
}

pub fn duration(minutes: i32) -> AppResult<i32> {
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

#[derive(Debug, Clone)]
pub struct NewMovie {
    pub title: String,
    pub description: Option<String>,
    pub duration: i32,
    pub rating: Option<String>,
    pub genres: Vec<String>,
    pub cast: Vec<String>,
    pub director: Option<String>,
    pub poster_url: Option<String>,
    pub backdrop_url: Option<String>,
    pub trailer_url: Option<String>,
    pub release_date: Option<NaiveDate>,
    pub status: MovieStatus,
}

fn some_texts(values: &[String]) -> Vec<Option<String>> {
    values.iter().cloned().map(Some).collect()
}

pub async fn create_movie(conn: &mut AsyncPgConnection, m: NewMovie) -> AppResult<Movie> {
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
            movies::status.eq(m.status),
        ))
        .returning(Movie::as_returning())
        .get_result(conn)
        .await?)
}

#[derive(Debug, Clone, Default)]
pub struct MoviePatch {
    pub title: Option<String>,
    pub description: Patch<String>,
    pub duration: Option<i32>,
    pub rating: Patch<String>,
    pub genres: Option<Vec<String>>,
    pub cast: Option<Vec<String>>,
    pub director: Patch<String>,
    pub poster_url: Patch<String>,
    pub backdrop_url: Patch<String>,
    pub trailer_url: Patch<String>,
    pub release_date: Patch<NaiveDate>,
    pub status: Option<MovieStatus>,
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
pub async fn update_movie(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    p: MoviePatch,
) -> AppResult<Movie> {
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
            ))
            .returning(Movie::as_returning())
            .get_result(conn)
            .await?)
    })
    .await
}

pub async fn create_theater(
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

pub async fn create_screen(
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

pub struct NewShowtime {
    pub movie_id: Uuid,
    pub screen_id: Uuid,
    pub start_time: DateTime<Utc>,
    pub base_price: Decimal,
}

/// Schedules a showtime: it ends after the film and the cleaning gap, in the future,
/// never overlapping another on its screen.
pub async fn create_showtime(
    conn: &mut AsyncPgConnection,
    s: NewShowtime,
    now: DateTime<Utc>,
    cleaning_gap: std::time::Duration,
    currency: Currency,
) -> AppResult<Showtime> {
    let base_price = price("basePrice", s.base_price, currency)?;
    if s.start_time <= now {
        return Err(AppError::bad_input(
            "startTime",
            "a showtime starts in the future",
        ));
    }
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
        ))
        .returning(Showtime::as_returning())
        .get_result(conn)
        .await;
    match inserted {
        Ok(showtime) => Ok(showtime),
        Err(DieselError::DatabaseError(_, info))
            if info.constraint_name() == Some("showtimes_no_overlap") =>
        {
            Err(AppError::Conflict {
                message: "this screen has another showtime (with its cleaning) at that time"
                    .to_owned(),
                field: Some("startTime".to_owned()),
            })
        }
        Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)) => {
            Err(AppError::bad_input("screenId", "no such screen"))
        }
        Err(e) => Err(e.into()),
    }
}

pub struct NewSnack {
    pub name: String,
    pub description: Option<String>,
    pub price: Decimal,
    pub category: String,
    pub image_url: Option<String>,
    pub available: bool,
}

pub async fn create_snack(conn: &mut AsyncPgConnection, s: NewSnack) -> AppResult<Snack> {
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
