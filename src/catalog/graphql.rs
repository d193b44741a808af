//! Catalog types and queries: thin resolvers over `queries` and the dataloaders.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, Result, SimpleObject,
};

use super::age_rating::AgeRating;
use super::manage::{self, MovieChanges, MovieInput, NewShowtime, Patch, SnackInput};
use super::model::{self, Movie, Screen, Showtime, Snack, Theater};
use super::queries::{self, MovieFilter, PageRequest};
use super::ticket_prices::Rule;
use crate::db::enums::Role;
use crate::error::AppError;
use crate::graphql::guards::RoleGuard;
use crate::graphql::loaders::{
    MovieKey, ScreenKey, ScreensOfTheater, ShowtimeKey, ShowtimesOfMovie, TheaterKey, WaitlistOf,
};
use crate::graphql::scalars::{Date, DateTime, Decimal, MoneyObject, int};
use crate::graphql::showtime_list::ShowtimeList;
use crate::graphql::{app, loaders};
use crate::ids::parse_uuid;
use crate::money::Money;
use crate::seating::graphql::{SeatMapObject, available_seats, seat_map};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "MovieStatus", remote = "crate::db::enums::MovieStatus")]
pub enum MovieStatusGql {
    Upcoming,
    NowShowing,
    Ended,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "SeatKind", remote = "crate::catalog::layout::SeatKind")]
pub enum SeatKindGql {
    Standard,
    Premium,
    Accessible,
    Couple,
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Movies now showing (newest first), then upcoming (soonest first), then ended. `search` matches title, director or cast, ignoring case.
    #[graphql(complexity = "(limit.unwrap_or(20).clamp(1, 100) as usize) * child_complexity + 1")]
    async fn movies(
        &self,
        ctx: &Context<'_>,
        status: Option<MovieStatusGql>,
        genre: Option<String>,
        search: Option<String>,
        #[graphql(default = 1)] page: Option<i32>,
        #[graphql(default = 20)] limit: Option<i32>,
    ) -> Result<MoviePage> {
        // An explicit null means the default, as for an omitted argument.
        let page = PageRequest::new(page.unwrap_or(1), limit.unwrap_or(20))?;
        let filter = MovieFilter::new(status.map(Into::into), genre, search)?;
        let app = app(ctx)?;
        let found = match app.catalog.page(&filter, page) {
            Some(found) => found,
            None => {
                let ticket = app.catalog.ticket(app.now());
                let (movies, total) = app
                    .read(async |c| queries::list_movies(c, &filter, page).await)
                    .await?;
                let found = Arc::new((movies.into_iter().map(Arc::new).collect(), total));
                if let Some(ticket) = ticket {
                    app.catalog
                        .keep_page(ticket, filter, page, Arc::clone(&found));
                }
                found
            }
        };
        let (movies, total) = (&found.0, found.1);
        prefetch_showtimes(ctx, movies).await?;
        Ok(MoviePage {
            movies: movies.iter().cloned().map(MovieNode).collect(),
            pagination: Pagination {
                page: page.page(),
                limit: page.limit(),
                total: int(total),
                total_pages: int(page.total_pages(total)),
            },
        })
    }

    async fn movie(&self, ctx: &Context<'_>, id: ID) -> Result<Option<MovieNode>> {
        let id = parse_uuid("id", &id)?;
        Ok(loaders(ctx)?.load_one(MovieKey(id)).await?.map(MovieNode))
    }

    /// A movie's showtimes in start order. With `date`, those starting on that day in
    /// the theater's own time zone; without, those that have not ended yet.
    async fn showtimes(
        &self,
        ctx: &Context<'_>,
        movie_id: ID,
        date: Option<Date>,
        theater_id: Option<ID>,
    ) -> Result<ShowtimeList> {
        let movie = parse_uuid("movieId", &movie_id)?;
        showtimes_of(ctx, movie, date, theater_id, None)
            .await
            .map(ShowtimeList)
    }

    async fn showtime(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ShowtimeNode>> {
        let id = parse_uuid("id", &id)?;
        Ok(loaders(ctx)?
            .load_one(ShowtimeKey(id))
            .await?
            .map(ShowtimeNode))
    }

    #[graphql(complexity = "crate::graphql::PER_CALL_QUERY_COST + child_complexity")]
    async fn theaters(&self, ctx: &Context<'_>) -> Result<Vec<TheaterNode>> {
        let theaters = app(ctx)?
            .read(async |c| queries::all_theaters(c).await)
            .await?;
        Ok(theaters
            .into_iter()
            .map(|t| TheaterNode(Arc::new(t)))
            .collect())
    }

    /// Every snack, available or not (`available` says which can be ordered).
    #[graphql(complexity = "crate::graphql::PER_CALL_QUERY_COST + child_complexity")]
    async fn snacks(&self, ctx: &Context<'_>) -> Result<Vec<SnackNode>> {
        Ok(app(ctx)?
            .read(async |c| queries::all_snacks(c).await)
            .await?
            .into_iter()
            .map(SnackNode)
            .collect())
    }
}

/// A page's films' showtimes, read with the page rather than after the dataloader's
/// gathering window: when every `showtimes` below `movies` asks for the same (the home
/// screen: the next few of each film), the one statement that window would gather is
/// sent at once and its rows handed to the request's loader and the catalog cache.
/// Anything else (a date, a theater, different arguments in different places) is left
/// to the loader.
async fn prefetch_showtimes(ctx: &Context<'_>, movies: &[Arc<Movie>]) -> Result<()> {
    let fields = ctx
        .look_ahead()
        .field("movies")
        .field("showtimes")
        .selection_fields();
    let Some((first, rest)) = fields.split_first() else {
        return Ok(());
    };
    let arguments = first.arguments()?;
    if rest
        .iter()
        .any(|f| f.arguments().ok().as_ref() != Some(&arguments))
    {
        return Ok(());
    }
    let mut limit = None;
    for (name, value) in &arguments {
        match (name.as_str(), value) {
            ("limit", async_graphql::Value::Number(n)) => {
                match n
                    .as_i64()
                    .filter(|n| (1..=i64::from(MAX_SHOWTIMES_LIMIT)).contains(n))
                {
                    Some(n) => limit = u16::try_from(n).ok(),
                    // Refused by the field itself, with its error.
                    None => return Ok(()),
                }
            }
            ("limit", async_graphql::Value::Null) => {}
            _ => return Ok(()),
        }
    }
    let app = app(ctx)?;
    let now = app.now();
    let key = |movie| ShowtimesOfMovie {
        movie,
        date: None,
        theater: None,
        limit,
    };
    let missing: Vec<uuid::Uuid> = movies
        .iter()
        .map(|m| m.id)
        .filter(|id| app.catalog.showtimes(&key(*id), now).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let ticket = app.catalog.ticket(now);
    let filter = queries::ShowtimeFilter {
        date: None,
        theater_id: None,
        not_ended_at: Some(now),
    };
    let rows = app
        .read(async |c| queries::showtimes_for_movies(c, &missing, filter, limit).await)
        .await?;
    let mut found: HashMap<ShowtimesOfMovie, Vec<Showtime>> =
        missing.iter().map(|id| (key(*id), Vec::new())).collect();
    for showtime in rows {
        found
            .entry(key(showtime.movie_id))
            .or_default()
            .push(showtime);
    }
    let found: Vec<(ShowtimesOfMovie, Arc<Vec<Showtime>>)> =
        found.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
    if let Some(ticket) = ticket {
        for (k, v) in &found {
            app.catalog.keep_showtimes(ticket, *k, Arc::clone(v));
        }
    }
    loaders(ctx)?.feed_many(found).await;
    Ok(())
}

async fn showtimes_of(
    ctx: &Context<'_>,
    movie: uuid::Uuid,
    date: Option<Date>,
    theater_id: Option<ID>,
    limit: Option<u16>,
) -> Result<Vec<ShowtimeNode>> {
    let theater = theater_id
        .map(|t| parse_uuid("theaterId", &t))
        .transpose()?;
    let key = ShowtimesOfMovie {
        movie,
        date: date.map(|d| d.0),
        theater,
        limit,
    };
    let app = app(ctx)?;
    let now = app.now();
    if let Some(showtimes) = app.catalog.showtimes(&key, now) {
        return Ok(showtimes
            .into_iter()
            .map(|s| ShowtimeNode(Arc::new(s)))
            .collect());
    }
    let ticket = app.catalog.ticket(now);
    let showtimes = loaders(ctx)?.load_one(key).await?.unwrap_or_default();
    let nodes = showtimes
        .iter()
        .map(|s| ShowtimeNode(Arc::new(s.clone())))
        .collect();
    if let Some(ticket) = ticket {
        app.catalog.keep_showtimes(ticket, key, showtimes);
    }
    Ok(nodes)
}

#[derive(SimpleObject)]
pub struct MoviePage {
    movies: Vec<MovieNode>,
    pagination: Pagination,
}

#[derive(SimpleObject)]
pub struct Pagination {
    page: i32,
    limit: i32,
    total: i32,
    total_pages: i32,
}

pub struct MovieNode(pub Arc<Movie>);

/// The most showtimes `Movie.showtimes(limit:)` gives.
const MAX_SHOWTIMES_LIMIT: i32 = 100;

#[Object(name = "Movie")]
impl MovieNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Running time in minutes.
    async fn duration(&self) -> i32 {
        self.0.duration
    }

    /// Age rating, e.g. `PG-13`.
    async fn rating(&self) -> Option<&str> {
        self.0.rating.as_deref()
    }

    async fn genres(&self) -> Vec<String> {
        model::texts(&self.0.genres)
    }

    async fn cast(&self) -> Vec<String> {
        model::texts(&self.0.cast_members)
    }

    async fn director(&self) -> Option<&str> {
        self.0.director.as_deref()
    }

    async fn poster_url(&self) -> Option<&str> {
        self.0.poster_url.as_deref()
    }

    async fn backdrop_url(&self) -> Option<&str> {
        self.0.backdrop_url.as_deref()
    }

    async fn trailer_url(&self) -> Option<&str> {
        self.0.trailer_url.as_deref()
    }

    async fn release_date(&self) -> Option<Date> {
        self.0.release_date.map(Date)
    }

    async fn status(&self) -> MovieStatusGql {
        self.0.status.into()
    }

    /// The film's age rating in its rating system, when it has one.
    async fn age_rating(&self) -> Option<AgeRatingObject> {
        self.0.age_rating().map(|r| AgeRatingObject {
            system: r.system,
            code: r.code,
            min_age: r.min_age,
        })
    }

    /// As `Query.showtimes` for this movie.
    /// The film's showtimes in start order, as `Query.showtimes`; with `limit`, the
    /// first `limit` of them (1 to 100).
    async fn showtimes(
        &self,
        ctx: &Context<'_>,
        date: Option<Date>,
        theater_id: Option<ID>,
        limit: Option<i32>,
    ) -> Result<ShowtimeList> {
        let limit = match limit {
            Some(n) if !(1..=MAX_SHOWTIMES_LIMIT).contains(&n) => {
                return Err(AppError::bad_input(
                    "limit",
                    format!("limit must be between 1 and {MAX_SHOWTIMES_LIMIT}, got {n}"),
                )
                .into());
            }
            Some(n) => u16::try_from(n).ok(),
            None => None,
        };
        showtimes_of(ctx, self.0.id, date, theater_id, limit)
            .await
            .map(ShowtimeList)
    }
}

pub struct ShowtimeNode(pub Arc<Showtime>);

#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
pub enum ShowtimeStatus {
    Scheduled,
    Cancelled,
}

impl ShowtimeStatus {
    pub fn of(showtime: &Showtime) -> Self {
        if showtime.is_cancelled() {
            Self::Cancelled
        } else {
            Self::Scheduled
        }
    }
}

#[Object(name = "Showtime")]
impl ShowtimeNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// SCHEDULED, or CANCELLED (`cancelShowtime`): no longer listed or sold, its
    /// bookings refunded.
    async fn status(&self) -> ShowtimeStatus {
        ShowtimeStatus::of(&self.0)
    }

    /// Why it was cancelled, as customers were told; null unless it was.
    async fn cancel_reason(&self) -> Option<&str> {
        self.0.cancel_reason.as_deref()
    }

    /// When customers may start holding its seats; null: since it was scheduled. The
    /// box office sells at any time.
    async fn on_sale_at(&self) -> Option<DateTime> {
        self.0.on_sale_at.map(DateTime)
    }

    /// Whether buyers are let in from a queue when it goes on sale (`joinSaleQueue`,
    /// `saleQueuePosition`).
    async fn queue(&self) -> bool {
        self.0.queue
    }

    /// Buyers a queued sale lets in a minute (its own, else the server's).
    async fn queue_rate(&self, ctx: &Context<'_>) -> Result<i32> {
        let rate = crate::sale_queue::rate(crate::graphql::app(ctx)?, &self.0);
        Ok(int(i64::from(rate)))
    }

    /// How many customers wait on its waiting list (`joinWaitlist`).
    async fn waitlist_length(&self, ctx: &Context<'_>) -> Result<i32> {
        let demand = loaders(ctx)?.load_one(WaitlistOf(self.0.id)).await?;
        Ok(int(demand.unwrap_or_default().entries))
    }

    /// Admins: its waiting list's demand, entries and the seats they ask for together;
    /// null for everyone else.
    async fn waitlist_demand(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::waitlist::graphql::WaitlistDemand>> {
        if !ctx
            .data_opt::<crate::auth::model::Viewer>()
            .is_some_and(|v| v.role == Role::Admin)
        {
            return Ok(None);
        }
        let demand = loaders(ctx)?.load_one(WaitlistOf(self.0.id)).await?;
        Ok(Some(demand.unwrap_or_default().into()))
    }

    async fn movie(&self, ctx: &Context<'_>) -> Result<MovieNode> {
        let movie = loaders(ctx)?.load_one(MovieKey(self.0.movie_id)).await?;
        Ok(MovieNode(
            movie.ok_or_else(|| missing("movie", self.0.movie_id))?,
        ))
    }

    async fn screen(&self, ctx: &Context<'_>) -> Result<ScreenNode> {
        let screen = loaders(ctx)?.load_one(ScreenKey(self.0.screen_id)).await?;
        Ok(ScreenNode::from(
            &screen
                .ok_or_else(|| missing("screen", self.0.screen_id))?
                .row,
        ))
    }

    async fn start_time(&self) -> DateTime {
        DateTime(self.0.start_time)
    }

    /// When the screen is free again: the film's running time plus the cleaning gap.
    async fn end_time(&self) -> DateTime {
        DateTime(self.0.end_time)
    }

    /// The price of a seat with multiplier 1.00.
    async fn base_price(&self, ctx: &Context<'_>) -> Result<MoneyObject> {
        Ok(Money::new(self.0.base_price, app(ctx)?.config.currency).into())
    }

    /// Seats that can still be bought.
    async fn available_seats(&self, ctx: &Context<'_>) -> Result<i32> {
        available_seats(ctx, &self.0).await
    }

    async fn seat_map(&self, ctx: &Context<'_>) -> Result<SeatMapObject> {
        seat_map(ctx, &self.0).await
    }

    /// The ticket types on sale and what each costs; a booking names one per seat.
    async fn ticket_prices(&self, ctx: &Context<'_>) -> Result<Vec<TicketPriceObject>> {
        let currency = app(ctx)?.config.currency;
        Ok(self
            .0
            .ticket_prices()
            .entries()
            .iter()
            .map(|p| {
                let (fixed, percent) = match p.rule {
                    Rule::FixedPrice(price) => (Some(Money::new(price, currency).into()), None),
                    Rule::PercentOfSeatPrice(percent) => (None, Some(Decimal(percent))),
                };
                TicketPriceObject {
                    ticket_type: p.ticket_type.clone(),
                    fixed_price: fixed,
                    percent_of_seat_price: percent,
                }
            })
            .collect())
    }
}

/// One ticket type's price at a showtime: a fixed price, or a percentage of the seat's
/// price (`"100"`: the seat's price).
#[derive(SimpleObject)]
#[graphql(name = "TicketPrice")]
pub struct TicketPriceObject {
    ticket_type: String,
    fixed_price: Option<MoneyObject>,
    percent_of_seat_price: Option<Decimal>,
}

pub fn missing(what: &str, id: uuid::Uuid) -> AppError {
    AppError::internal(anyhow::anyhow!("{what} {id} referenced but not found"))
}

pub struct TheaterNode(pub Arc<Theater>);

#[Object(name = "Theater")]
impl TheaterNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn location(&self) -> &str {
        &self.0.location
    }

    /// IANA time zone of the theater's clock, e.g. `America/Chicago`.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }

    async fn screens(&self, ctx: &Context<'_>) -> Result<Vec<ScreenNode>> {
        let screens = loaders(ctx)?.load_one(ScreensOfTheater(self.0.id)).await?;
        Ok(screens
            .iter()
            .flat_map(|v| v.iter())
            .map(ScreenNode::from)
            .collect())
    }
}

pub struct ScreenNode {
    id: uuid::Uuid,
    theater_id: uuid::Uuid,
    screen_number: i32,
    total_seats: i32,
}

impl From<&Screen> for ScreenNode {
    fn from(s: &Screen) -> Self {
        Self {
            id: s.id,
            theater_id: s.theater_id,
            screen_number: s.screen_number,
            total_seats: s.total_seats,
        }
    }
}

#[Object(name = "Screen")]
impl ScreenNode {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    async fn screen_number(&self) -> i32 {
        self.screen_number
    }

    async fn total_seats(&self) -> i32 {
        self.total_seats
    }

    async fn theater(&self, ctx: &Context<'_>) -> Result<TheaterNode> {
        let theater = loaders(ctx)?.load_one(TheaterKey(self.theater_id)).await?;
        Ok(TheaterNode(
            theater.ok_or_else(|| missing("theater", self.theater_id))?,
        ))
    }
}

pub struct SnackNode(pub Snack);

#[Object(name = "Snack")]
impl SnackNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    async fn price(&self, ctx: &Context<'_>) -> Result<MoneyObject> {
        Ok(Money::new(self.0.price, app(ctx)?.config.currency).into())
    }

    async fn category(&self) -> &str {
        &self.0.category
    }

    async fn image_url(&self) -> Option<&str> {
        self.0.image_url.as_deref()
    }

    async fn available(&self) -> bool {
        self.0.available
    }
}

#[derive(InputObject)]
pub struct CreateMovieInput {
    title: String,
    description: Option<String>,
    /// Running time in minutes, 1 to 600.
    duration: i32,
    rating: Option<String>,
    #[graphql(default)]
    genres: Vec<String>,
    #[graphql(default)]
    cast: Vec<String>,
    director: Option<String>,
    release_date: Option<Date>,
    poster_url: Option<String>,
    backdrop_url: Option<String>,
    trailer_url: Option<String>,
    /// UPCOMING when not given.
    status: Option<MovieStatusGql>,
    age_rating: Option<AgeRatingInput>,
}

/// A film's rating in a rating system, e.g. `{system: "BBFC", code: "15", minAge: 15}`
/// or `{system: "MPAA", code: "R", minAge: 17}`: `minAge` is the youngest the cinema
/// admits (0 to 21); CHILD tickets are not sold above the child age.
#[derive(InputObject)]
pub struct AgeRatingInput {
    system: String,
    code: String,
    min_age: i32,
}

impl From<AgeRatingInput> for AgeRating {
    /// Unchecked: `catalog::manage` checks it.
    fn from(r: AgeRatingInput) -> Self {
        AgeRating {
            system: r.system,
            code: r.code,
            min_age: r.min_age,
        }
    }
}

/// A film's age rating.
#[derive(SimpleObject)]
#[graphql(name = "AgeRating")]
pub struct AgeRatingObject {
    system: String,
    code: String,
    /// The youngest age admitted.
    min_age: i32,
}

/// What one ticket type costs at a showtime: exactly one of `fixedPrice` (the same on
/// every seat) and `percentOfSeatPrice` (of the seat's price: `"100"` is the seat's
/// price, `"50"` half of it).
#[derive(InputObject)]
pub struct TicketPriceInput {
    /// `ADULT`, `CHILD`, `SENIOR`, `STUDENT` or a cinema's own (letters, digits, `_`).
    ticket_type: String,
    fixed_price: Option<Decimal>,
    percent_of_seat_price: Option<Decimal>,
}

/// Only the fields given change; `null` clears a nullable field.
#[derive(InputObject)]
pub struct UpdateMovieInput {
    title: Option<String>,
    description: MaybeUndefined<String>,
    duration: Option<i32>,
    rating: MaybeUndefined<String>,
    genres: Option<Vec<String>>,
    cast: Option<Vec<String>>,
    director: MaybeUndefined<String>,
    release_date: MaybeUndefined<Date>,
    poster_url: MaybeUndefined<String>,
    backdrop_url: MaybeUndefined<String>,
    trailer_url: MaybeUndefined<String>,
    status: Option<MovieStatusGql>,
    /// `null` clears it.
    age_rating: MaybeUndefined<AgeRatingInput>,
}

#[derive(InputObject)]
pub struct CreateTheaterInput {
    name: String,
    location: String,
    /// IANA time zone, e.g. `America/New_York`; UTC when not given.
    timezone: Option<String>,
}

#[derive(InputObject)]
pub struct CreateScreenInput {
    theater_id: ID,
    screen_number: i32,
    /// `{"rows": [{"label": "A", "seats": [{"number": 1, "kind": "STANDARD"}, null, …]}]}`;
    /// `null` is an aisle gap, `priceMultiplier` (e.g. `"1.50"`) is optional.
    seat_layout: Json<serde_json::Value>,
}

#[derive(InputObject)]
pub struct CreateShowtimeInput {
    movie_id: ID,
    screen_id: ID,
    start_time: DateTime,
    base_price: Decimal,
    /// The ticket types sold and their prices; ADULT at the seat's price when absent.
    ticket_prices: Option<Vec<TicketPriceInput>>,
    /// When customers may start holding seats (before it starts); absent: at once.
    /// The box office sells at any time.
    on_sale_at: Option<DateTime>,
    /// Buyers are let in from a queue when the sale opens (needs `onSaleAt`).
    #[graphql(default = false)]
    queue: bool,
    /// Buyers a queue lets in a minute; absent: the server's `SALE_QUEUE_RATE`.
    queue_rate: Option<i32>,
}

#[derive(InputObject)]
pub struct CreateSnackInput {
    name: String,
    description: Option<String>,
    price: Decimal,
    category: String,
    image_url: Option<String>,
    #[graphql(default = true)]
    available: bool,
}

/// What the admin sent for a nullable field: absent keeps it, `null` clears it.
pub fn patch<T, U>(value: MaybeUndefined<T>, map: impl FnOnce(T) -> U) -> Patch<U> {
    match value {
        MaybeUndefined::Undefined => Patch::Keep,
        MaybeUndefined::Null => Patch::Clear,
        MaybeUndefined::Value(v) => Patch::Set(map(v)),
    }
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn create_movie(&self, ctx: &Context<'_>, input: CreateMovieInput) -> Result<MovieNode> {
        let movie = MovieInput {
            title: input.title,
            description: input.description,
            duration: input.duration,
            rating: input.rating,
            genres: input.genres,
            cast: input.cast,
            director: input.director,
            release_date: input.release_date.map(|d| d.0),
            poster_url: input.poster_url,
            backdrop_url: input.backdrop_url,
            trailer_url: input.trailer_url,
            status: input.status.map(Into::into),
            age_rating: input.age_rating.map(Into::into),
        };
        let created = manage::add_movie(app(ctx)?, movie).await?;
        Ok(MovieNode(Arc::new(created)))
    }

    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn update_movie(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateMovieInput,
    ) -> Result<MovieNode> {
        let id = parse_uuid("id", &id)?;
        let changes = MovieChanges {
            title: input.title,
            description: patch(input.description, |v| v),
            duration: input.duration,
            rating: patch(input.rating, |v| v),
            genres: input.genres,
            cast: input.cast,
            director: patch(input.director, |v| v),
            release_date: patch(input.release_date, |d| d.0),
            poster_url: patch(input.poster_url, |v| v),
            backdrop_url: patch(input.backdrop_url, |v| v),
            trailer_url: patch(input.trailer_url, |v| v),
            status: input.status.map(Into::into),
            age_rating: patch(input.age_rating, Into::into),
        };
        let updated = manage::change_movie(app(ctx)?, id, changes).await?;
        Ok(MovieNode(Arc::new(updated)))
    }

    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn create_theater(
        &self,
        ctx: &Context<'_>,
        input: CreateTheaterInput,
    ) -> Result<TheaterNode> {
        let theater = manage::add_theater(
            app(ctx)?,
            &input.name,
            &input.location,
            input.timezone.as_deref(),
        )
        .await?;
        Ok(TheaterNode(Arc::new(theater)))
    }

    /// `totalSeats` is counted from the layout.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn create_screen(
        &self,
        ctx: &Context<'_>,
        input: CreateScreenInput,
    ) -> Result<ScreenNode> {
        let theater = parse_uuid("theaterId", &input.theater_id)?;
        let screen = manage::add_screen(
            app(ctx)?,
            theater,
            input.screen_number,
            &input.seat_layout.0,
        )
        .await?;
        Ok(ScreenNode::from(&screen))
    }

    /// Ends after the film's running time plus the cleaning gap.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn create_showtime(
        &self,
        ctx: &Context<'_>,
        input: CreateShowtimeInput,
    ) -> Result<ShowtimeNode> {
        let showtime = NewShowtime {
            movie_id: parse_uuid("movieId", &input.movie_id)?,
            screen_id: parse_uuid("screenId", &input.screen_id)?,
            start_time: input.start_time.0,
            base_price: input.base_price.0,
            ticket_prices: input.ticket_prices.map(|list| {
                list.into_iter()
                    .map(|p| {
                        (
                            p.ticket_type,
                            p.fixed_price.map(|d| d.0),
                            p.percent_of_seat_price.map(|d| d.0),
                        )
                    })
                    .collect()
            }),
            sale: crate::catalog::sale::Sale {
                on_sale_at: input.on_sale_at.map(|t| t.0),
                queue: input.queue,
                queue_rate: input.queue_rate,
            },
        };
        let created = manage::add_showtime(app(ctx)?, showtime).await?;
        Ok(ShowtimeNode(Arc::new(created)))
    }

    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn create_snack(&self, ctx: &Context<'_>, input: CreateSnackInput) -> Result<SnackNode> {
        let snack = SnackInput {
            name: input.name,
            description: input.description,
            price: input.price.0,
            category: input.category,
            image_url: input.image_url,
            available: input.available,
        };
        Ok(SnackNode(manage::add_snack(app(ctx)?, snack).await?))
    }
}
