//! `analytics(from, to)` for admins.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::Duration;

use super::analytics::{self, MovieStats};
use crate::catalog::graphql::{MovieNode, missing};
use crate::db::enums::Role;
use crate::graphql::guards::RoleGuard;
use crate::graphql::loaders::MovieKey;
use crate::graphql::scalars::{Date, MoneyObject, int};
use crate::graphql::{app, loaders};
use crate::money::{Currency, Money};

pub struct AnalyticsObject {
    figures: analytics::Analytics,
    currency: Currency,
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
        Ok(AnalyticsObject {
            figures: analytics::compute(app, from, to).await?,
            currency: app.config.currency,
        })
    }
}
