//! What a scenario needs before its clock starts: users with tokens, and rooms with
//! showtimes created through the admin API, named after the run so runs never collide.

use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use uuid::Uuid;

use screema::auth::model::Viewer;
use screema::auth::tokens::issue_access_token;
use screema::db::enums::Role;
use screema::db::schema::users;

use crate::args::Args;
use crate::client::Api;

pub struct User {
    pub token: String,
}

/// The highest screen number a theater has (`createScreen`).
const MAX_SCREENS_A_THEATER: usize = 999;

pub struct Fixtures {
    pub api: Api,
    pub admin: User,
    pub run: String,
    args: Args,
    theater: Option<String>,
    screens: usize,
}

/// A room of `rows` rows of `per_row` standard seats, numbered A1.., and its seat names.
pub fn layout(rows: usize, per_row: usize) -> anyhow::Result<(Value, Vec<String>)> {
    if rows == 0 || rows > 26 || per_row == 0 || per_row > 120 {
        bail!("a room is 1..=26 rows of 1..=120 seats, not {rows} × {per_row}");
    }
    let mut names = Vec::with_capacity(rows * per_row);
    let rows: Vec<Value> = (0..rows)
        .map(|r| {
            let label = ((b'A' + r as u8) as char).to_string();
            let seats: Vec<Value> = (1..=per_row)
                .map(|n| {
                    names.push(format!("{label}{n}"));
                    json!({"number": n, "kind": "STANDARD"})
                })
                .collect();
            json!({"label": label, "seats": seats})
        })
        .collect();
    Ok((json!({ "rows": rows }), names))
}

/// Rows × seats for a room of about `seats` seats (at most 26 rows of 40).
pub fn shape(seats: usize) -> (usize, usize) {
    let per_row = seats.clamp(1, 40);
    (seats.div_ceil(per_row).clamp(1, 26), per_row)
}

impl Fixtures {
    pub async fn new(args: &Args, api_connections: usize) -> anyhow::Result<Self> {
        let api = Api::new(&args.url, api_connections)?;
        let run = Uuid::new_v4().simple().to_string()[..8].to_owned();
        let mut fx = Self {
            api,
            admin: User {
                token: String::new(),
            },
            run,
            args: args.clone(),
            theater: None,
            screens: 0,
        };
        let mut admins = fx.users(1, Role::Admin).await?;
        fx.admin = admins.pop().context("no admin was created")?;
        Ok(fx)
    }

    async fn db(&self) -> anyhow::Result<AsyncPgConnection> {
        AsyncPgConnection::establish(&self.args.database_url)
            .await
            .with_context(|| "connecting to DATABASE_URL (the server's database)")
    }

    /// Transactions Postgres has counted for this database (`pg_stat_database`: commits
    /// and rollbacks, every connection's). A backend reports its counts when it goes
    /// idle, up to ten seconds late (PostgreSQL 15's `PGSTAT_IDLE_INTERVAL`): readers
    /// wait that long after the work they count.
    pub async fn database_transactions(&self) -> anyhow::Result<i64> {
        use diesel::sql_types::BigInt;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.db().await?;
        let count: Count = diesel::sql_query(
            "SELECT (xact_commit + xact_rollback)::bigint AS n FROM pg_stat_database \
             WHERE datname = current_database()",
        )
        .get_result(&mut conn)
        .await?;
        Ok(count.n)
    }

    /// `n` users written straight into the database, each with a two-hour access token
    /// signed as the server signs them.
    pub async fn users(&self, n: usize, role: Role) -> anyhow::Result<Vec<User>> {
        let mut conn = self.db().await?;
        let mut ids: Vec<Uuid> = Vec::with_capacity(n);
        let kind = role.as_db_str();
        for chunk_start in (0..n).step_by(2_000) {
            let rows: Vec<_> = (chunk_start..n.min(chunk_start + 2_000))
                .map(|i| {
                    (
                        users::email.eq(format!("load-{}-{kind}-{i}@load.screema.test", self.run)),
                        users::password_hash.eq("!load-tool-user-cannot-sign-in"),
                        users::full_name.eq(format!("Load {kind} {i}")),
                        users::role.eq(role),
                    )
                })
                .collect();
            let mut chunk: Vec<Uuid> = diesel::insert_into(users::table)
                .values(rows)
                .returning(users::id)
                .get_results(&mut conn)
                .await?;
            ids.append(&mut chunk);
        }
        let now = Utc::now();
        ids.into_iter()
            .map(|id| {
                let token = issue_access_token(
                    &self.args.jwt_secret,
                    Viewer { user_id: id, role },
                    now,
                    Duration::from_secs(2 * 3600),
                )
                .map_err(|e| anyhow::anyhow!("signing a token: {e:?}"))?;
                Ok(User { token })
            })
            .collect()
    }

    pub async fn admin_gql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        self.api
            .gql(Some(&self.admin.token), query, variables)
            .await
            .map_err(|f| anyhow::anyhow!("{f} (for {query})"))
    }

    /// A film now showing, released on 1 January 2000: every film has a release date,
    /// so that orders by it (the peer's `RELEASE_DATE_DESC` puts NULLs first) agree
    /// with SCREEMA's on which films come first.
    pub async fn movie(&self, title: &str) -> anyhow::Result<String> {
        self.movie_released(title, "2000-01-01").await
    }

    pub async fn movie_released(&self, title: &str, released: &str) -> anyhow::Result<String> {
        let data = self
            .admin_gql(
                "mutation ($i: CreateMovieInput!) { createMovie(input: $i) { id } }",
                json!({"i": {"title": title, "duration": 100, "status": "NOW_SHOWING",
                             "genres": ["Drama"], "rating": "PG-13", "releaseDate": released}}),
            )
            .await?;
        str_at(&data, &["createMovie", "id"])
    }

    async fn theater(&mut self) -> anyhow::Result<String> {
        if let Some(t) = &self.theater {
            return Ok(t.clone());
        }
        let data = self
            .admin_gql(
                "mutation ($i: CreateTheaterInput!) { createTheater(input: $i) { id } }",
                json!({"i": {"name": format!("Load {} {}", self.run, uuid::Uuid::new_v4().simple()), "location": "Loopback 1"}}),
            )
            .await?;
        let id = str_at(&data, &["createTheater", "id"])?;
        self.theater = Some(id.clone());
        Ok(id)
    }

    pub async fn screen(&mut self, layout: &Value) -> anyhow::Result<String> {
        // A theater numbers its screens 1 to 999: past that, the next theater.
        if self.screens == MAX_SCREENS_A_THEATER {
            self.theater = None;
            self.screens = 0;
        }
        let theater = self.theater().await?;
        self.screens += 1;
        let data = self
            .admin_gql(
                "mutation ($i: CreateScreenInput!) { createScreen(input: $i) { id } }",
                json!({"i": {"theaterId": theater, "screenNumber": self.screens,
                             "seatLayout": layout}}),
            )
            .await?;
        str_at(&data, &["createScreen", "id"])
    }

    /// `count` showtimes of `movie`, one per new room of `seats` seats, starting
    /// tomorrow; returns their ids and the room's seat names.
    pub async fn showtimes(
        &mut self,
        movie: &str,
        count: usize,
        seats: usize,
        price: &str,
    ) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let (rows, per_row) = shape(seats);
        let (layout, names) = layout(rows, per_row)?;
        let start = Utc::now() + chrono::Duration::days(1);
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            let screen = self.screen(&layout).await?;
            ids.push(self.showtime(movie, &screen, start, price).await?);
        }
        Ok((ids, names))
    }

    pub async fn showtime(
        &self,
        movie: &str,
        screen: &str,
        start: chrono::DateTime<Utc>,
        price: &str,
    ) -> anyhow::Result<String> {
        let data = self
            .admin_gql(
                "mutation ($i: CreateShowtimeInput!) { createShowtime(input: $i) { id } }",
                json!({"i": {"movieId": movie, "screenId": screen, "basePrice": price,
                             "startTime": start.to_rfc3339()}}),
            )
            .await?;
        str_at(&data, &["createShowtime", "id"])
    }

    pub async fn snack(&self) -> anyhow::Result<String> {
        let data = self
            .admin_gql(
                "mutation ($i: CreateSnackInput!) { createSnack(input: $i) { id } }",
                json!({"i": {"name": format!("Popcorn {}", self.run), "category": "Popcorn",
                             "price": "6.50"}}),
            )
            .await?;
        str_at(&data, &["createSnack", "id"])
    }

    /// The seats of `showtime` that live bookings have, as the database says, one row
    /// each (a seat sold twice appears twice).
    pub async fn sold_seats(&self, showtime: &str) -> anyhow::Result<Vec<String>> {
        use screema::db::enums::BookingStatus;
        use screema::db::schema::booking_seats;
        let showtime: Uuid = showtime.parse()?;
        Ok(booking_seats::table
            .filter(booking_seats::showtime_id.eq(showtime))
            .filter(booking_seats::status.eq_any(BookingStatus::LIVE))
            .select(booking_seats::seat_number)
            .load(&mut self.db().await?)
            .await?)
    }
}

pub fn str_at(v: &Value, path: &[&str]) -> anyhow::Result<String> {
    let mut at = v;
    for key in path {
        at = &at[*key];
    }
    at.as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {} in {v}", path.join(".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_shaped_and_named_row_by_row() -> anyhow::Result<()> {
        assert_eq!(shape(200), (5, 40));
        assert_eq!(shape(100), (3, 40));
        assert_eq!(shape(12), (1, 12));
        let (layout, names) = layout(2, 3)?;
        assert_eq!(names, ["A1", "A2", "A3", "B1", "B2", "B3"]);
        assert_eq!(layout["rows"][1]["label"], "B");
        assert!(super::layout(27, 1).is_err());
        Ok(())
    }
}
