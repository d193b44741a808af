//! Catalog reads. Every function that serves a nested field takes a list of keys and
//! runs one statement, so the dataloaders can batch.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Date, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{Movie, Screen, Showtime, Snack, Theater};
use crate::db::enums::MovieStatus;
use crate::db::schema::{movies, screens, showtimes, snacks, theaters};
use crate::error::{AppError, AppResult};

pub const MAX_PAGE_SIZE: i32 = 100;
const MAX_SEARCH_LEN: usize = 100;

/// A page of a list: `page` from 1, `limit` from 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    page: i32,
    limit: i32,
}

impl PageRequest {
    pub fn new(page: i32, limit: i32) -> AppResult<Self> {
        if page < 1 {
            return Err(AppError::bad_input("page", "`page` starts at 1"));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(AppError::bad_input(
                "limit",
                format!("`limit` must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        Ok(Self { page, limit })
    }

    pub fn page(&self) -> i32 {
        self.page
    }

    pub fn limit(&self) -> i32 {
        self.limit
    }

    fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }

    pub fn total_pages(&self, total: i64) -> i64 {
        (total + i64::from(self.limit) - 1) / i64::from(self.limit)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MovieFilter {
    pub status: Option<MovieStatus>,
    pub genre: Option<String>,
    /// Case-insensitive substring of title, director or a cast member.
    pub search: Option<String>,
}

impl MovieFilter {
    pub fn new(
        status: Option<MovieStatus>,
        genre: Option<String>,
        search: Option<String>,
    ) -> AppResult<Self> {
        let clean = |field: &str, v: Option<String>| -> AppResult<Option<String>> {
            match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
                Some(s) if s.chars().count() > MAX_SEARCH_LEN => Err(AppError::bad_input(
                    field,
                    format!("`{field}` is limited to {MAX_SEARCH_LEN} characters"),
                )),
                // No title, name or genre holds one (and Postgres cannot take NUL).
                Some(s) if s.chars().any(char::is_control) => Err(AppError::bad_input(
                    field,
                    format!("`{field}` may not hold control characters"),
                )),
                other => Ok(other),
            }
        };
        Ok(Self {
            status,
            genre: clean("genre", genre)?,
            search: clean("search", search)?,
        })
    }
}

/// `%`, `_` and `\` in user text match themselves, not any character.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn filtered_movies(filter: &MovieFilter) -> movies::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = movies::table.into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(movies::status.eq(status));
    }
    if let Some(genre) = &filter.genre {
        query = query.filter(
            sql::<Bool>("EXISTS (SELECT 1 FROM unnest(movies.genres) AS g WHERE lower(g) = lower(")
                .bind::<Text, _>(genre.clone())
                .sql("))"),
        );
    }
    if let Some(search) = &filter.search {
        let pattern = like_pattern(search);
        query = query.filter(
            movies::title
                .ilike(pattern.clone())
                .or(movies::director.ilike(pattern.clone()))
                .or(
                    sql::<Bool>("array_to_string(movies.cast_members, ' ') ILIKE ")
                        .bind::<Text, _>(pattern),
                ),
        );
    }
    query
}

pub async fn list_movies(
    conn: &mut AsyncPgConnection,
    filter: &MovieFilter,
    page: PageRequest,
) -> AppResult<(Vec<Movie>, i64)> {
    // The total rides on the page's rows (one statement); only a page past the end,
    // which has no row to carry it, counts apart.
    let rows: Vec<(Movie, i64)> = filtered_movies(filter)
        .select((
            Movie::as_select(),
            sql::<diesel::sql_types::BigInt>("count(*) OVER ()"),
        ))
        // What is on comes first, newest first; then what is coming, soonest first; then the past.
        .order((
            sql::<diesel::sql_types::Integer>(
                "CASE movies.status WHEN 'now_showing' THEN 0 WHEN 'upcoming' THEN 1 ELSE 2 END",
            )
            .asc(),
            sql::<diesel::sql_types::Nullable<Date>>(
                "CASE WHEN movies.status = 'upcoming' THEN movies.release_date END",
            )
            .asc()
            .nulls_last(),
            movies::release_date.desc().nulls_last(),
            movies::title.asc(),
            movies::id.asc(),
        ))
        .limit(i64::from(page.limit()))
        .offset(page.offset())
        .load(conn)
        .await?;
    let total = match <[(Movie, i64)]>::first(&rows) {
        Some((_, total)) => *total,
        None if page.offset() == 0 => 0,
        None => filtered_movies(filter).count().get_result(conn).await?,
    };
    Ok((rows.into_iter().map(|(movie, _)| movie).collect(), total))
}

pub async fn movies_by_ids(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> AppResult<Vec<Movie>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(movies::table
        .filter(movies::id.eq_any(ids))
        .select(Movie::as_select())
        .load(conn)
        .await?)
}

/// Which showtimes of a movie to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShowtimeFilter {
    /// The calendar day as the theater's own clock reads it.
    pub date: Option<NaiveDate>,
    pub theater_id: Option<Uuid>,
    /// Without a date, only showtimes that have not ended by then are listed.
    pub not_ended_at: Option<DateTime<Utc>>,
}

/// The showtimes of each movie in start order; with `limit`, the first `limit` of each.
pub async fn showtimes_for_movies(
    conn: &mut AsyncPgConnection,
    movie_ids: &[Uuid],
    filter: ShowtimeFilter,
    limit: Option<u16>,
) -> AppResult<Vec<Showtime>> {
    if movie_ids.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(limit) = limit {
        return first_showtimes_of_movies(conn, movie_ids, filter, limit).await;
    }
    let mut query = showtimes::table
        .inner_join(screens::table.inner_join(theaters::table))
        .filter(showtimes::movie_id.eq_any(movie_ids))
        // A cancelled showing leaves the listings; `showtime(id)` still finds it.
        .filter(showtimes::status.eq(super::model::SCHEDULED))
        .select(Showtime::as_select())
        .order((showtimes::start_time.asc(), showtimes::id.asc()))
        .into_boxed();
    if let Some(date) = filter.date {
        query = query.filter(
            sql::<Date>("(showtimes.start_time AT TIME ZONE theaters.timezone)::date").eq(date),
        );
    } else if let Some(now) = filter.not_ended_at {
        query = query.filter(showtimes::end_time.gt(now));
    }
    if let Some(theater_id) = filter.theater_id {
        query = query.filter(theaters::id.eq(theater_id));
    }
    Ok(query.load(conn).await?)
}

/// The first `limit` showtimes of each movie, each movie's read on its own through
/// the (movie, start) index, so a home screen costs the same however many showtimes
/// the films have in all (a window over all of them grows with them).
async fn first_showtimes_of_movies(
    conn: &mut AsyncPgConnection,
    movie_ids: &[Uuid],
    filter: ShowtimeFilter,
    limit: u16,
) -> AppResult<Vec<Showtime>> {
    Ok(FirstShowtimes {
        movies: movie_ids,
        filter,
        limit: i64::from(limit),
    }
    .load(conn)
    .await?)
}

/// `first_showtimes_of_movies`' statement. Diesel's DSL has no LATERAL, and a
/// `sql_query` is never kept prepared: planned again on every home screen, it cost as
/// much as it took to run (0.9 ms each, EXPLAIN ANALYZE). Written as a query fragment
/// of its own, its text depends only on which filters are given, so each variant is
/// prepared once per connection; the theaters are joined only when a date (in the
/// theater's time zone) or a theater asks for them.
struct FirstShowtimes<'a> {
    movies: &'a [Uuid],
    filter: ShowtimeFilter,
    limit: i64,
}

impl diesel::query_builder::QueryId for FirstShowtimes<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for FirstShowtimes<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for FirstShowtimes<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Timestamptz};
        let joined = self.filter.date.is_some() || self.filter.theater_id.is_some();
        out.push_sql("SELECT s.* FROM unnest(");
        out.push_bind_param::<Array<diesel::sql_types::Uuid>, _>(self.movies)?;
        out.push_sql(") AS m(id) CROSS JOIN LATERAL (SELECT showtimes.* FROM showtimes");
        if joined {
            out.push_sql(
                " JOIN screens ON screens.id = showtimes.screen_id \
                 JOIN theaters ON theaters.id = screens.theater_id",
            );
        }
        out.push_sql(" WHERE showtimes.movie_id = m.id AND showtimes.status = 'scheduled'");
        if let Some(date) = &self.filter.date {
            out.push_sql(" AND (showtimes.start_time AT TIME ZONE theaters.timezone)::date = ");
            out.push_bind_param::<Date, _>(date)?;
        } else if let Some(now) = &self.filter.not_ended_at {
            out.push_sql(" AND showtimes.end_time > ");
            out.push_bind_param::<Timestamptz, _>(now)?;
        }
        if let Some(theater) = &self.filter.theater_id {
            out.push_sql(" AND theaters.id = ");
            out.push_bind_param::<diesel::sql_types::Uuid, _>(theater)?;
        }
        out.push_sql(" ORDER BY showtimes.start_time, showtimes.id LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(") s ORDER BY s.start_time, s.id");
        Ok(())
    }
}

/// A showtime, locked for the rest of the caller's transaction (its changes, and the
/// sales and blocks that must not race them, take turns on this row).
pub async fn lock_showtime(conn: &mut AsyncPgConnection, id: Uuid) -> AppResult<Option<Showtime>> {
    Ok(showtimes::table
        .find(id)
        .select(Showtime::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

pub async fn showtimes_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> AppResult<Vec<Showtime>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(showtimes::table
        .filter(showtimes::id.eq_any(ids))
        .select(Showtime::as_select())
        .load(conn)
        .await?)
}

pub async fn screens_by_ids(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> AppResult<Vec<Screen>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(screens::table
        .filter(screens::id.eq_any(ids))
        .select(Screen::as_select())
        .load(conn)
        .await?)
}

pub async fn screens_of_theaters(
    conn: &mut AsyncPgConnection,
    theater_ids: &[Uuid],
) -> AppResult<Vec<Screen>> {
    if theater_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(screens::table
        .filter(screens::theater_id.eq_any(theater_ids))
        .select(Screen::as_select())
        .order((screens::theater_id, screens::screen_number))
        .load(conn)
        .await?)
}

pub async fn theaters_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> AppResult<Vec<Theater>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(theaters::table
        .filter(theaters::id.eq_any(ids))
        .select(Theater::as_select())
        .load(conn)
        .await?)
}

pub async fn all_theaters(conn: &mut AsyncPgConnection) -> AppResult<Vec<Theater>> {
    Ok(theaters::table
        .select(Theater::as_select())
        .order((theaters::name.asc(), theaters::id.asc()))
        .load(conn)
        .await?)
}

pub async fn all_snacks(conn: &mut AsyncPgConnection) -> AppResult<Vec<Snack>> {
    Ok(snacks::table
        .select(Snack::as_select())
        .order((snacks::category.asc(), snacks::name.asc(), snacks::id.asc()))
        .load(conn)
        .await?)
}

/// A movie's showtimes, on one date and at one theater when given: a dataloader's key
/// and the catalog cache's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShowtimesOfMovie {
    pub movie: uuid::Uuid,
    pub date: Option<chrono::NaiveDate>,
    pub theater: Option<uuid::Uuid>,
    /// Only the first this many (`Movie.showtimes(limit:)`).
    pub limit: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_checked_and_counted() {
        assert!(
            matches!(PageRequest::new(0, 10), Err(AppError::BadInput { field, .. }) if field == "page")
        );
        assert!(
            matches!(PageRequest::new(1, 0), Err(AppError::BadInput { field, .. }) if field == "limit")
        );
        assert!(
            matches!(PageRequest::new(1, 101), Err(AppError::BadInput { field, .. }) if field == "limit")
        );
        let p = PageRequest::new(3, 20).unwrap();
        assert_eq!(p.offset(), 40);
        assert_eq!(p.total_pages(0), 0);
        assert_eq!(p.total_pages(41), 3);
        assert_eq!(p.total_pages(40), 2);
    }

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
