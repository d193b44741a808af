//! `joinSaleQueue` and `subscription saleQueuePosition`.

use std::marker::PhantomData;

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Subscription};
use futures_util::StreamExt;

use super::Standing;
use super::live::{self, Report};
use crate::graphql::app;
use crate::graphql::guards::{SignedIn, viewer};
use crate::graphql::scalars::DateTime;
use crate::ids::parse_uuid;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SaleQueueStatus {
    /// In the queue before the sale opens: the order is drawn at opening.
    BeforeOpening,
    /// In the line: `position` and `estimatedWaitSeconds` say how far.
    Waiting,
    /// Let in: hold seats before `admittedUntil`.
    Admitted,
    /// Not in the queue now (let in and the window passed, or the queue was lost):
    /// join again.
    Expired,
}

/// A ticket's kind, for the one type behind `SaleQueueTicket`.
pub struct Ticket;
/// A live report's kind, for the one type behind `SaleQueuePosition`.
pub struct Live;

/// Where a buyer stands in a queued sale. The same fields answer `joinSaleQueue`
/// (`SaleQueueTicket`) and each event of `saleQueuePosition` (`SaleQueuePosition`).
#[derive(SimpleObject)]
#[graphql(
    concrete(name = "SaleQueueTicket", params(Ticket)),
    concrete(name = "SaleQueuePosition", params(Live))
)]
pub struct QueueStanding<K: Send + Sync + 'static> {
    showtime_id: ID,
    status: SaleQueueStatus,
    /// 1 for the next buyer let in; only goes down. Null before the sale opens and
    /// once out of the line.
    position: Option<i32>,
    /// At the sale's rate, from the position (before the opening: until it).
    estimated_wait_seconds: Option<i32>,
    /// No seat is free now (all held, sold or blocked): nobody is let in until a hold
    /// lapses or is released. Seats often come back; the place is kept.
    sold_out: bool,
    /// Buyers let in a minute.
    rate_per_minute: i32,
    /// When the sale opens.
    opens_at: Option<DateTime>,
    /// When a buyer let in stops being able to start a hold.
    admitted_until: Option<DateTime>,
    #[graphql(skip)]
    kind: PhantomData<K>,
}

impl<K: Send + Sync + 'static> From<Report> for QueueStanding<K> {
    fn from(r: Report) -> Self {
        let (status, admitted_until) = match r.standing {
            Standing::Early => (SaleQueueStatus::BeforeOpening, None),
            Standing::Waiting { .. } => (SaleQueueStatus::Waiting, None),
            Standing::Admitted { until, .. } if r.admitted() => {
                (SaleQueueStatus::Admitted, Some(DateTime(until)))
            }
            Standing::Admitted { .. } | Standing::Absent => (SaleQueueStatus::Expired, None),
        };
        let int = crate::graphql::scalars::int;
        Self {
            showtime_id: ID(r.showtime.to_string()),
            status,
            position: r.position().map(int),
            estimated_wait_seconds: r.estimated_wait_seconds().map(int),
            sold_out: r.sold_out,
            rate_per_minute: int(i64::from(r.rate)),
            opens_at: r.opens_at.map(DateTime),
            admitted_until,
            kind: PhantomData,
        }
    }
}

#[derive(Default)]
pub struct SaleQueueMutation;

#[Object]
impl SaleQueueMutation {
    /// Signed in: joins the queue of a showtime whose sale is queued (`queue`), or
    /// says where the buyer stands when already in it. Before the sale opens the order
    /// is drawn at random at opening; after, the buyer joins at the back. A showtime
    /// without a queue, cancelled or started is BAD_USER_INPUT naming `showtimeId`.
    #[graphql(guard = "SignedIn")]
    async fn join_sale_queue(
        &self,
        ctx: &Context<'_>,
        showtime_id: ID,
    ) -> Result<QueueStanding<Ticket>> {
        let app = app(ctx)?;
        let showtime = parse_uuid("showtimeId", &showtime_id)?;
        let room = crate::seating::rooms::room(app, showtime).await?;
        let standing = super::join(app, viewer(ctx)?, &room.showtime).await?;
        Ok(Report::new(app, &room.showtime, standing).into())
    }
}

#[derive(Default)]
pub struct SaleQueueSubscription;

#[Subscription]
impl SaleQueueSubscription {
    /// Signed in, in the showtime's queue: where the buyer stands now, then each time
    /// it changes (position, the opening, being let in), whichever node let them in.
    /// Ends once they are let in (or out of the queue). A buyer not in the queue is
    /// BAD_USER_INPUT naming `showtimeId`.
    #[graphql(guard = "SignedIn")]
    async fn sale_queue_position(
        &self,
        ctx: &Context<'_>,
        showtime_id: ID,
    ) -> Result<impl futures_util::Stream<Item = QueueStanding<Live>> + use<>> {
        let app = app(ctx)?;
        let showtime = parse_uuid("showtimeId", &showtime_id)?;
        let room = crate::seating::rooms::room(app, showtime).await?;
        let reports = live::follow(app, room.showtime.clone(), viewer(ctx)?.user_id).await?;
        Ok(reports.map(QueueStanding::from))
    }
}
