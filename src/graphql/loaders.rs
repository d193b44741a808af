//! Dataloaders: nested fields ask for rows by key, and each kind of key is fetched
//! with one statement per batch, whatever the size of the page.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::error::SharedError;
use crate::app::AppState;
use crate::booking::model::{BookingSnack, BookingTicket};
use crate::catalog::layout::{LayoutError, SeatLayout};
use crate::catalog::model::{Movie, Screen, Showtime, Snack, Theater};
use crate::catalog::queries::{self, ShowtimeFilter};
use crate::checkout::exchange::PendingExchange;
use crate::error::AppError;
use crate::payments::refunds::RefundRow;
use crate::seating;
use crate::seating::holds::Holds;

/// One per request (or websocket connection): its cache lives as long as the request.
pub struct AppLoader {
    app: AppState,
    /// "Not ended yet" is judged against one instant for the whole request.
    now: DateTime<Utc>,
}

pub type Loaders = DataLoader<AppLoader, HashMapCache>;

pub fn new_loaders(app: AppState) -> Loaders {
    let now = app.now();
    // Cached for the request: many showtimes share a screen, many screens a theater.
    let delay = app.config.graphql.batch_delay;
    DataLoader::with_cache(
        AppLoader { app, now },
        tokio::spawn,
        HashMapCache::default(),
    )
    .delay(delay)
    // Keys go to Postgres as one array parameter, so a big batch is one statement.
    .max_batch_size(10_000)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MovieKey(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShowtimeKey(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScreenKey(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TheaterKey(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScreensOfTheater(pub Uuid);
pub use crate::catalog::queries::ShowtimesOfMovie;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BookedSeatsOf(pub Uuid);
/// A booking's refunds, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefundsOfBooking(pub Uuid);
/// A booking's tickets, in seat order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketsOfBooking(pub Uuid);
/// A booking's snack lines, each with its snack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnacksOfBooking(pub Uuid);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HoldsOf(pub Uuid);
/// How many wait on a showtime's waiting list, and for how many seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WaitlistOf(pub Uuid);
/// A booking's exchange waiting for its difference to be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AwaitingExchangeOf(pub Uuid);

/// A screen with its layout parsed once per request.
#[derive(Debug)]
pub struct LoadedScreen {
    pub row: Screen,
    pub layout: Result<Arc<SeatLayout>, LayoutError>,
}

impl LoadedScreen {
    pub fn layout(&self) -> Result<&Arc<SeatLayout>, AppError> {
        self.layout.as_ref().map_err(|e| {
            AppError::internal(anyhow::anyhow!(
                "stored seat layout of screen {} is invalid at {}: {}",
                self.row.id,
                e.field,
                e.message
            ))
        })
    }
}

async fn conn(app: &AppState) -> Result<crate::db::Conn, SharedError> {
    app.db()
        .await
        .map_err(|e| SharedError::from(AppError::from(e)))
}

fn by_id<K, T>(rows: Vec<T>, id: impl Fn(&T) -> Uuid, key: impl Fn(Uuid) -> K) -> HashMap<K, Arc<T>>
where
    K: std::hash::Hash + Eq,
{
    rows.into_iter()
        .map(|row| (key(id(&row)), Arc::new(row)))
        .collect()
}

impl Loader<MovieKey> for AppLoader {
    type Value = Arc<Movie>;
    type Error = SharedError;

    async fn load(&self, keys: &[MovieKey]) -> Result<HashMap<MovieKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .app
            .read(async |c| queries::movies_by_ids(c, &ids).await)
            .await?;
        Ok(by_id(rows, |m| m.id, MovieKey))
    }
}

impl Loader<ShowtimeKey> for AppLoader {
    type Value = Arc<Showtime>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[ShowtimeKey],
    ) -> Result<HashMap<ShowtimeKey, Self::Value>, Self::Error> {
        // Showtimes never change once created: those this process has at hand (holds
        // and seat maps keep them) need no statement.
        let mut found = HashMap::with_capacity(keys.len());
        let mut ids = Vec::new();
        for key in keys {
            match seating::rooms::cached(&self.app, key.0) {
                Some(room) => {
                    found.insert(*key, room.showtime.clone());
                }
                None => ids.push(key.0),
            }
        }
        if !ids.is_empty() {
            let rows = self
                .app
                .read(async |c| queries::showtimes_by_ids(c, &ids).await)
                .await?;
            found.extend(by_id(rows, |s| s.id, ShowtimeKey));
        }
        Ok(found)
    }
}

impl Loader<ScreenKey> for AppLoader {
    type Value = Arc<LoadedScreen>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[ScreenKey],
    ) -> Result<HashMap<ScreenKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .app
            .read(async |c| queries::screens_by_ids(c, &ids).await)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let layout = SeatLayout::parse(&row.seat_layout, "seatLayout").map(Arc::new);
                (ScreenKey(row.id), Arc::new(LoadedScreen { row, layout }))
            })
            .collect())
    }
}

impl Loader<TheaterKey> for AppLoader {
    type Value = Arc<Theater>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[TheaterKey],
    ) -> Result<HashMap<TheaterKey, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .app
            .read(async |c| queries::theaters_by_ids(c, &ids).await)
            .await?;
        Ok(by_id(rows, |t| t.id, TheaterKey))
    }
}

impl Loader<ScreensOfTheater> for AppLoader {
    type Value = Arc<Vec<Screen>>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[ScreensOfTheater],
    ) -> Result<HashMap<ScreensOfTheater, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .app
            .read(async |c| queries::screens_of_theaters(c, &ids).await)
            .await?;
        let mut grouped: HashMap<ScreensOfTheater, Vec<Screen>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for screen in rows {
            grouped
                .entry(ScreensOfTheater(screen.theater_id))
                .or_default()
                .push(screen);
        }
        Ok(grouped.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Loader<ShowtimesOfMovie> for AppLoader {
    type Value = Arc<Vec<Showtime>>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[ShowtimesOfMovie],
    ) -> Result<HashMap<ShowtimesOfMovie, Self::Value>, Self::Error> {
        // Keys that share their filter are fetched together; a page asks with one filter.
        // Date, theater, limit.
        type Asked = (Option<NaiveDate>, Option<Uuid>, Option<u16>);
        let mut groups: HashMap<Asked, Vec<Uuid>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.date, key.theater, key.limit))
                .or_default()
                .push(key.movie);
        }
        let mut out: HashMap<ShowtimesOfMovie, Vec<Showtime>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for ((date, theater, limit), movies) in groups {
            let filter = ShowtimeFilter {
                date,
                theater_id: theater,
                not_ended_at: Some(self.now),
            };
            let rows = self
                .app
                .read(async |c| queries::showtimes_for_movies(c, &movies, filter, limit).await)
                .await?;
            for showtime in rows {
                let key = ShowtimesOfMovie {
                    movie: showtime.movie_id,
                    date,
                    theater,
                    limit,
                };
                out.entry(key).or_default().push(showtime);
            }
        }
        Ok(out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Loader<BookedSeatsOf> for AppLoader {
    type Value = Arc<Vec<String>>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[BookedSeatsOf],
    ) -> Result<HashMap<BookedSeatsOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut booked = seating::queries::booked_seats(&mut *conn(&self.app).await?, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                (
                    BookedSeatsOf(id),
                    Arc::new(booked.remove(&id).unwrap_or_default()),
                )
            })
            .collect())
    }
}

impl Loader<SnacksOfBooking> for AppLoader {
    type Value = Arc<Vec<(BookingSnack, Snack)>>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[SnacksOfBooking],
    ) -> Result<HashMap<SnacksOfBooking, Self::Value>, Self::Error> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;

        use crate::db::schema::{booking_snacks, snacks};
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows: Vec<(BookingSnack, Snack)> = booking_snacks::table
            .inner_join(snacks::table)
            .filter(booking_snacks::booking_id.eq_any(&ids))
            .order((booking_snacks::booking_id, snacks::name))
            .select((BookingSnack::as_select(), Snack::as_select()))
            .load(&mut *conn(&self.app).await?)
            .await
            .map_err(AppError::from)?;
        let mut out: HashMap<SnacksOfBooking, Vec<(BookingSnack, Snack)>> = ids
            .iter()
            .map(|id| (SnacksOfBooking(*id), Vec::new()))
            .collect();
        for row in rows {
            out.entry(SnacksOfBooking(row.0.booking_id))
                .or_default()
                .push(row);
        }
        Ok(out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Loader<TicketsOfBooking> for AppLoader {
    type Value = Arc<Vec<BookingTicket>>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[TicketsOfBooking],
    ) -> Result<HashMap<TicketsOfBooking, Self::Value>, Self::Error> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;

        use crate::db::schema::booking_seats;
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows: Vec<BookingTicket> = booking_seats::table
            .filter(booking_seats::booking_id.eq_any(&ids))
            .select(BookingTicket::as_select())
            .load(&mut *conn(&self.app).await?)
            .await
            .map_err(AppError::from)?;
        let mut out: HashMap<TicketsOfBooking, Vec<BookingTicket>> = ids
            .iter()
            .map(|id| (TicketsOfBooking(*id), Vec::new()))
            .collect();
        for row in rows {
            out.entry(TicketsOfBooking(row.booking_id))
                .or_default()
                .push(row);
        }
        for tickets in out.values_mut() {
            // In the order a seat map reads: by row, then by number (A2 before A10).
            tickets.sort_by_cached_key(|t| {
                t.seat_number
                    .parse::<crate::catalog::layout::SeatNumber>()
                    .ok()
            });
        }
        Ok(out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Loader<RefundsOfBooking> for AppLoader {
    type Value = Arc<Vec<RefundRow>>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[RefundsOfBooking],
    ) -> Result<HashMap<RefundsOfBooking, Self::Value>, Self::Error> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;

        use crate::db::schema::refunds;
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows: Vec<RefundRow> = refunds::table
            .filter(refunds::booking_id.eq_any(&ids))
            .order((refunds::booking_id, refunds::created_at, refunds::id))
            .select(RefundRow::as_select())
            .load(&mut *conn(&self.app).await?)
            .await
            .map_err(AppError::from)?;
        let mut out: HashMap<RefundsOfBooking, Vec<RefundRow>> = ids
            .iter()
            .map(|id| (RefundsOfBooking(*id), Vec::new()))
            .collect();
        for row in rows {
            out.entry(RefundsOfBooking(row.booking_id))
                .or_default()
                .push(row);
        }
        Ok(out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Loader<AwaitingExchangeOf> for AppLoader {
    type Value = Arc<PendingExchange>;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[AwaitingExchangeOf],
    ) -> Result<HashMap<AwaitingExchangeOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows =
            crate::checkout::exchange::awaiting_of(&mut *conn(&self.app).await?, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| (AwaitingExchangeOf(row.booking_id), Arc::new(row)))
            .collect())
    }
}

impl Loader<WaitlistOf> for AppLoader {
    type Value = crate::waitlist::demand::Demand;
    type Error = SharedError;

    async fn load(
        &self,
        keys: &[WaitlistOf],
    ) -> Result<HashMap<WaitlistOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let demand =
            crate::waitlist::demand::of_showtimes(&mut *conn(&self.app).await?, &ids).await?;
        Ok(demand
            .into_iter()
            .map(|(id, d)| (WaitlistOf(id), d))
            .collect())
    }
}

impl Loader<HoldsOf> for AppLoader {
    type Value = Arc<Holds>;
    type Error = SharedError;

    async fn load(&self, keys: &[HoldsOf]) -> Result<HashMap<HoldsOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let holds = seating::holds::read_holds(&self.app.redis, &ids, self.app.now()).await?;
        Ok(holds
            .into_iter()
            .map(|(id, h)| (HoldsOf(id), Arc::new(h)))
            .collect())
    }
}
