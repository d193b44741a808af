//! `joinWaitlist`, `leaveWaitlist`, `myWaitlist` and `myWaitlistOffers`.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, Subscription};
use futures_util::StreamExt;

use super::entries::{self, Entry, JoinAsk};
use crate::catalog::graphql::{SeatKindGql, ShowtimeNode};
use crate::error::AppError;
use crate::graphql::guards::{SignedIn, viewer};
use crate::graphql::loaders::ShowtimeKey;
use crate::graphql::scalars::{DateTime, Decimal, MoneyObject};
use crate::graphql::{app, loaders};
use crate::ids::parse_uuid;
use crate::money::Money;
use crate::seating::graphql::SeatLockObject;
use crate::seating::holds::SeatLock;

/// Waiting entries, and the seats they ask for together.
#[derive(SimpleObject)]
pub struct WaitlistDemand {
    entries: i32,
    seats: i32,
}

impl From<super::demand::Demand> for WaitlistDemand {
    fn from(d: super::demand::Demand) -> Self {
        Self {
            entries: crate::graphql::scalars::int(d.entries),
            seats: crate::graphql::scalars::int(d.seats),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum WaitlistStatus {
    /// In the queue.
    Waiting,
    /// Seats are held for the customer (`offer`).
    Offered,
    /// Booked from the offer.
    Booked,
    /// The customer left the list.
    Left,
    /// The offer was not booked in time.
    Lapsed,
    /// The showtime was cancelled or started.
    Closed,
}

impl WaitlistStatus {
    fn of(entry: &Entry) -> Self {
        match entry.status.as_str() {
            entries::WAITING => Self::Waiting,
            entries::OFFERED => Self::Offered,
            entries::BOOKED => Self::Booked,
            entries::LEFT => Self::Left,
            entries::LAPSED => Self::Lapsed,
            _ => Self::Closed,
        }
    }
}

/// A customer's place on a showtime's waiting list.
pub struct WaitlistEntryObject(pub Entry);

#[Object(name = "WaitlistEntry")]
impl WaitlistEntryObject {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn showtime(&self, ctx: &Context<'_>) -> Result<ShowtimeNode> {
        let showtime = loaders(ctx)?
            .load_one(ShowtimeKey(self.0.showtime_id))
            .await?
            .ok_or(AppError::NotFound { what: "showtime" })?;
        Ok(ShowtimeNode(showtime))
    }

    /// How many seats.
    async fn count(&self) -> i32 {
        self.0.seat_count
    }

    async fn kind(&self) -> Option<SeatKindGql> {
        self.0.kind().map(Into::into)
    }

    async fn adjacent(&self) -> bool {
        self.0.adjacent
    }

    /// The most a seat may cost.
    async fn max_price(&self, ctx: &Context<'_>) -> Result<Option<MoneyObject>> {
        let currency = app(ctx)?.config.currency;
        Ok(self.0.max_price.map(|p| Money::new(p, currency).into()))
    }

    async fn status(&self) -> WaitlistStatus {
        WaitlistStatus::of(&self.0)
    }

    /// Its place in the showtime's queue, from 1, while it waits.
    async fn position(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        let mut conn = app(ctx)?.db().await?;
        Ok(entries::position(&mut conn, &self.0).await?)
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    /// The seats held for the customer, while the offer stands.
    async fn offer(&self) -> Option<WaitlistOffer> {
        offer_of(&self.0)
    }
}

/// Seats held for a customer from the waiting list: book them with `seatLock` as any
/// hold, before it expires.
#[derive(SimpleObject)]
pub struct WaitlistOffer {
    entry_id: ID,
    showtime_id: ID,
    seat_lock: SeatLockObject,
    offered_at: DateTime,
}

fn offer_of(entry: &Entry) -> Option<WaitlistOffer> {
    if entry.status != entries::OFFERED {
        return None;
    }
    Some(WaitlistOffer {
        entry_id: ID(entry.id.to_string()),
        showtime_id: ID(entry.showtime_id.to_string()),
        seat_lock: SeatLock {
            token: entry.offer_token.clone()?,
            expires_at: entry.offer_expires_at?,
            seats: entry.seats(),
        }
        .into(),
        offered_at: DateTime(entry.offered_at?),
    })
}

#[derive(InputObject)]
pub struct JoinWaitlistInput {
    showtime_id: ID,
    /// How many seats (1 to the per-showtime maximum).
    count: i32,
    /// Only seats of this kind.
    kind: Option<SeatKindGql>,
    /// Side by side in one row (the default); with false, as many seats anywhere.
    #[graphql(default = true)]
    adjacent: bool,
    /// The most a seat may cost (its price before ticket types and discounts).
    max_price: Option<Decimal>,
}

#[derive(Default)]
pub struct WaitlistQuery;

#[Object]
impl WaitlistQuery {
    /// The caller's waiting-list entries, newest first (at most 100).
    #[graphql(guard = "SignedIn")]
    async fn my_waitlist(&self, ctx: &Context<'_>) -> Result<Vec<WaitlistEntryObject>> {
        let entries = entries::mine(app(ctx)?, viewer(ctx)?).await?;
        Ok(entries.into_iter().map(WaitlistEntryObject).collect())
    }
}

#[derive(Default)]
pub struct WaitlistMutation;

#[Object]
impl WaitlistMutation {
    /// Joins a showtime's waiting list when no seats that suit are on sale: first come,
    /// first served. When seats that suit come free they are held for you and you are
    /// told (`myWaitlistOffers`, in the app, by email and text). CONFLICT when seats
    /// that suit are on sale now, or you are on this list already.
    #[graphql(guard = "SignedIn")]
    async fn join_waitlist(
        &self,
        ctx: &Context<'_>,
        input: JoinWaitlistInput,
    ) -> Result<WaitlistEntryObject> {
        let showtime = parse_uuid("showtimeId", &input.showtime_id)?;
        let entry = entries::join(
            app(ctx)?,
            viewer(ctx)?,
            JoinAsk {
                showtime,
                count: input.count,
                kind: input.kind.map(Into::into),
                adjacent: input.adjacent,
                max_price: input.max_price.map(|p| p.0),
            },
        )
        .await?;
        Ok(WaitlistEntryObject(entry))
    }

    /// Leaves the list; seats held for you by an offer go back at once.
    #[graphql(guard = "SignedIn")]
    async fn leave_waitlist(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_uuid("id", &id)?;
        Ok(entries::leave(app(ctx)?, viewer(ctx)?, id).await?)
    }
}

#[derive(Default)]
pub struct WaitlistSubscription;

#[Subscription]
impl WaitlistSubscription {
    /// Offers from the waiting list as they are made, whichever node made them.
    #[graphql(guard = "SignedIn")]
    async fn my_waitlist_offers(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = WaitlistOffer> + use<>> {
        let app = app(ctx)?.clone();
        let user = viewer(ctx)?.user_id;
        // An offer is written with its notification; the live notification names the
        // entry, read here as it is now.
        let inbox = crate::notifications::live::open(&app, user).await?;
        Ok(inbox.into_stream().filter_map(move |notification| {
            let app = app.clone();
            async move {
                let entry = notification.metadata.as_ref()?["waitlistEntryId"]
                    .as_str()
                    .and_then(|id| uuid::Uuid::parse_str(id).ok())?;
                let found = entries::find(&app, user, entry).await.ok()??;
                offer_of(&found)
            }
        }))
    }
}
