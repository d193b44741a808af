//! `analytics(from, to)` for admins, `showtimeReport(showtimeId)` for staff.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::Duration;

use super::analytics::{self, MovieStats};
use super::breakdown::{self, Breakdown, Scope};
use crate::catalog::graphql::{MovieNode, missing};
use crate::db::enums::Role;
use crate::graphql::guards::RoleGuard;
use crate::graphql::loaders::MovieKey;
use crate::graphql::scalars::{Date, MoneyObject, int};
use crate::graphql::{app, loaders};
use crate::money::{Currency, Money};

pub struct AnalyticsObject {
    figures: analytics::Analytics,
    split: breakdown::Breakdown,
    currency: Currency,
    waiting: Vec<(uuid::Uuid, crate::waitlist::demand::Demand)>,
}

#[Object(name = "Analytics")]
impl AnalyticsObject {
    /// Confirmed and used bookings made in the range.
    async fn total_bookings(&self) -> i32 {
        int(self.figures.total_bookings)
    }

    /// Paid for bookings made in the range, less refunds.
    async fn total_revenue(&self) -> MoneyObject {
        Money::new(self.figures.total_revenue, self.currency).into()
    }

    /// Sold seats over the capacity of the showtimes starting in the range, 0 to 1.
    async fn occupancy_rate(&self) -> f64 {
        self.figures.occupancy_rate()
    }

    /// The ten films with the most seats sold.
    async fn popular_movies(&self) -> Vec<MovieStatsObject> {
        self.figures
            .popular_movies
            .iter()
            .map(|m| MovieStatsObject {
                stats: m.clone(),
                currency: self.currency,
            })
            .collect()
    }

    /// Demand beyond supply now, whatever the range: per film, the customers waiting
    /// on its upcoming showtimes' waiting lists and the seats they ask for, the most
    /// seats first (where another showing would sell).
    async fn waitlist_demand(&self) -> Vec<FilmDemandObject> {
        self.waiting
            .iter()
            .map(|(movie, demand)| FilmDemandObject {
                movie: *movie,
                demand: *demand,
            })
            .collect()
    }

    /// Sold bookings made in the range, online and at the counter.
    async fn channels(&self) -> Vec<ChannelStatsObject> {
        channels(&self.split, self.currency)
    }

    /// Tickets sold in the range by type, most sold first.
    async fn ticket_types(&self) -> Vec<TicketTypeStatsObject> {
        ticket_types(&self.split, self.currency)
    }

    /// Tickets given free at the counter (in the channels' seats, at no revenue).
    async fn complimentary_tickets(&self) -> i32 {
        int(self.split.complimentary_tickets)
    }

    /// Vouchers used by sold bookings made in the range, most used first.
    async fn vouchers(&self) -> Vec<VoucherStatsObject> {
        vouchers(&self.split, self.currency)
    }

    /// One row per day of the range, days without bookings included.
    async fn revenue_by_date(&self) -> Vec<RevenueDataObject> {
        self.figures
            .revenue_by_date
            .iter()
            .map(|d| RevenueDataObject {
                date: Date(d.date),
                bookings: int(d.bookings),
                revenue: Money::new(d.revenue, self.currency).into(),
            })
            .collect()
    }
}

pub struct FilmDemandObject {
    movie: uuid::Uuid,
    demand: crate::waitlist::demand::Demand,
}

#[Object(name = "FilmDemand")]
impl FilmDemandObject {
    async fn movie(&self, ctx: &Context<'_>) -> Result<MovieNode> {
        let movie = loaders(ctx)?.load_one(MovieKey(self.movie)).await?;
        Ok(MovieNode(
            movie.ok_or_else(|| missing("movie", self.movie))?,
        ))
    }

    /// Customers waiting.
    async fn entries(&self) -> i32 {
        int(self.demand.entries)
    }

    /// The seats they ask for, together.
    async fn seats(&self) -> i32 {
        int(self.demand.seats)
    }
}

pub struct MovieStatsObject {
    stats: MovieStats,
    currency: Currency,
}

#[Object(name = "MovieStats")]
impl MovieStatsObject {
    async fn movie(&self, ctx: &Context<'_>) -> Result<MovieNode> {
        let movie = loaders(ctx)?
            .load_one(MovieKey(self.stats.movie_id))
            .await?;
        Ok(MovieNode(
            movie.ok_or_else(|| missing("movie", self.stats.movie_id))?,
        ))
    }

    async fn bookings(&self) -> i32 {
        int(self.stats.bookings)
    }

    async fn seats_sold(&self) -> i32 {
        int(self.stats.seats_sold)
    }

    async fn revenue(&self) -> MoneyObject {
        Money::new(self.stats.revenue, self.currency).into()
    }
}

#[derive(SimpleObject)]
#[graphql(name = "RevenueData")]
pub struct RevenueDataObject {
    date: Date,
    bookings: i32,
    revenue: MoneyObject,
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Admins: bookings, revenue, occupancy and the popular films for a range of UTC
    /// days (by default the last 30, today included); at most 366 days.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn analytics(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Result<AnalyticsObject> {
        let app = app(ctx)?;
        let to = to.map_or_else(|| app.now().date_naive(), |d| d.0);
        let from = from.map_or_else(|| to - Duration::days(29), |d| d.0);
        let figures = analytics::compute(app, from, to).await?;
        let split = breakdown::compute(&mut *app.db().await?, Scope::Days(from, to)).await?;
        let waiting = crate::waitlist::demand::by_film(&mut *app.db().await?, app.now()).await?;
        Ok(AnalyticsObject {
            figures,
            split,
            currency: app.config.currency,
            waiting,
        })
    }

    /// Operators and admins: one showtime's figures: seats sold and checked in, and how
    /// its sales split (channels, ticket types, complimentary tickets, vouchers).
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn showtime_report(
        &self,
        ctx: &Context<'_>,
        showtime_id: async_graphql::ID,
    ) -> Result<ShowtimeReportObject> {
        let app = app(ctx)?;
        let id = crate::ids::parse_uuid("showtimeId", &showtime_id)?;
        let manifest = crate::box_office::manifest::manifest(app, id).await?;
        let split = breakdown::compute(&mut *app.db().await?, Scope::Showtime(id)).await?;
        Ok(ShowtimeReportObject {
            manifest,
            split,
            currency: app.config.currency,
        })
    }
}

fn channels(split: &Breakdown, currency: Currency) -> Vec<ChannelStatsObject> {
    split
        .channels
        .iter()
        .map(|c| ChannelStatsObject {
            channel: if c.channel == crate::checkout::COUNTER {
                crate::booking::graphql::SaleChannel::Counter
            } else {
                crate::booking::graphql::SaleChannel::Online
            },
            bookings: int(c.bookings),
            seats: int(c.seats),
            revenue: Money::new(c.revenue, currency).into(),
        })
        .collect()
}

fn ticket_types(split: &Breakdown, currency: Currency) -> Vec<TicketTypeStatsObject> {
    split
        .ticket_types
        .iter()
        .map(|t| TicketTypeStatsObject {
            ticket_type: t.ticket_type.clone(),
            tickets: int(t.tickets),
            revenue: Money::new(t.revenue, currency).into(),
        })
        .collect()
}

fn vouchers(split: &Breakdown, currency: Currency) -> Vec<VoucherStatsObject> {
    split
        .vouchers
        .iter()
        .map(|v| VoucherStatsObject {
            code: v.code.clone(),
            bookings: int(v.bookings),
            discount: Money::new(v.discount, currency).into(),
        })
        .collect()
}

#[derive(SimpleObject)]
#[graphql(name = "ChannelStats")]
pub struct ChannelStatsObject {
    channel: crate::booking::graphql::SaleChannel,
    bookings: i32,
    seats: i32,
    /// What the bookings cost, less what went back.
    revenue: MoneyObject,
}

#[derive(SimpleObject)]
#[graphql(name = "TicketTypeStats")]
pub struct TicketTypeStatsObject {
    ticket_type: String,
    tickets: i32,
    /// The tickets' prices less their discounts.
    revenue: MoneyObject,
}

#[derive(SimpleObject)]
#[graphql(name = "VoucherStats")]
pub struct VoucherStatsObject {
    code: String,
    bookings: i32,
    /// What the voucher took off those bookings.
    discount: MoneyObject,
}

pub struct ShowtimeReportObject {
    manifest: crate::box_office::manifest::Manifest,
    split: Breakdown,
    currency: Currency,
}

#[Object(name = "ShowtimeReport")]
impl ShowtimeReportObject {
    async fn showtime_id(&self) -> async_graphql::ID {
        async_graphql::ID(self.manifest.showtime.to_string())
    }

    async fn capacity(&self) -> i32 {
        int(self.manifest.capacity)
    }

    /// Seats sold (paid or given).
    async fn seats_sold(&self) -> i32 {
        int(self.manifest.seats.len())
    }

    async fn checked_in(&self) -> i32 {
        int(self.manifest.checked_in())
    }

    /// What its sold bookings cost, less what went back.
    async fn revenue(&self) -> MoneyObject {
        Money::new(
            self.split.channels.iter().map(|c| c.revenue).sum(),
            self.currency,
        )
        .into()
    }

    async fn channels(&self) -> Vec<ChannelStatsObject> {
        channels(&self.split, self.currency)
    }

    async fn ticket_types(&self) -> Vec<TicketTypeStatsObject> {
        ticket_types(&self.split, self.currency)
    }

    async fn complimentary_tickets(&self) -> i32 {
        int(self.split.complimentary_tickets)
    }

    async fn vouchers(&self) -> Vec<VoucherStatsObject> {
        vouchers(&self.split, self.currency)
    }
}
