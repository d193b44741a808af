//! `notifications`, `markNotificationRead` and the `myNotifications` subscription.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, Subscription};
use futures_util::StreamExt;

use super::promotions::{self, Promotion};
use super::{Notification, list, live, mark_read};
use crate::db::enums::Role;
use crate::graphql::app;
use crate::graphql::guards::{RoleGuard, SignedIn, viewer};
use crate::graphql::paging::PageInfo;
use crate::graphql::scalars::DateTime;
use crate::ids::parse_uuid;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(
    name = "NotificationType",
    remote = "crate::db::enums::NotificationType"
)]
pub enum NotificationTypeGql {
    Booking,
    Payment,
    Promotion,
    System,
    TierUpgrade,
}

pub struct NotificationObject(pub Arc<Notification>);

#[Object(name = "Notification")]
impl NotificationObject {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn message(&self) -> &str {
        &self.0.message
    }

    #[graphql(name = "type")]
    async fn kind(&self) -> NotificationTypeGql {
        self.0.kind.into()
    }

    async fn is_read(&self) -> bool {
        self.0.is_read
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// A page of the caller's notifications.
pub struct NotificationConnection {
    nodes: Vec<NotificationObject>,
    page_info: PageInfo,
    unread_only: bool,
}

/// A notification and its cursor.
pub struct NotificationEdge<'a>(&'a NotificationObject);

#[Object]
impl NotificationEdge<'_> {
    async fn cursor(&self) -> String {
        self.0.0.id.to_string()
    }

    async fn node(&self) -> &NotificationObject {
        self.0
    }
}

#[Object]
impl NotificationConnection {
    async fn nodes(&self) -> &[NotificationObject] {
        &self.nodes
    }

    /// The same notifications with their cursors, as Relay's connections have them.
    async fn edges(&self) -> Vec<NotificationEdge<'_>> {
        self.nodes.iter().map(NotificationEdge).collect()
    }

    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// All of them (unread ones only, if asked), counted only when asked.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(super::count(app(ctx)?, viewer(ctx)?.user_id, self.unread_only).await?)
    }
}

/// The caller's page of notifications, as both `notifications` and its connection
/// answer it.
async fn my_page(
    ctx: &Context<'_>,
    unread_only: Option<bool>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<NotificationConnection> {
    let page = crate::paging::Page::new(first, after.as_deref())?;
    let unread_only = unread_only.unwrap_or(false);
    let (rows, more) = list(app(ctx)?, viewer(ctx)?.user_id, unread_only, page).await?;
    Ok(NotificationConnection {
        page_info: PageInfo::new(more, rows.last().map(|n| n.id)),
        nodes: rows
            .into_iter()
            .map(|n| NotificationObject(Arc::new(n)))
            .collect(),
        unread_only,
    })
}

#[derive(Default)]
pub struct NotificationsQuery;

#[Object]
impl NotificationsQuery {
    /// The caller's notifications, newest first: `first` (1 to 100, default 50) after
    /// the one whose id is `after`. `notificationsConnection` says whether more follow
    /// and how many there are.
    #[graphql(
        guard = "SignedIn",
        complexity = "crate::graphql::PER_CALL_QUERY_COST + child_complexity"
    )]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<NotificationObject>> {
        Ok(my_page(ctx, unread_only, first, after).await?.nodes)
    }

    /// The caller's notifications a page at a time, newest first, with the cursor of
    /// the next page and how many there are in all.
    #[graphql(
        guard = "SignedIn",
        complexity = "crate::graphql::PER_CALL_QUERY_COST + child_complexity"
    )]
    async fn notifications_connection(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<NotificationConnection> {
        my_page(ctx, unread_only, first, after).await
    }

    /// Promotions sent, newest first, with how many customers each has reached.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn promotions(&self, ctx: &Context<'_>) -> Result<Vec<PromotionObject>> {
        Ok(promotions::list(app(ctx)?)
            .await?
            .into_iter()
            .map(PromotionObject)
            .collect())
    }
}

#[derive(InputObject)]
pub struct SendPromotionInput {
    /// The notification's title and the email's subject (at most 255 characters).
    title: String,
    /// At most 2,000 characters; line breaks allowed.
    message: String,
    /// A voucher to hand out with it: it must exist.
    voucher_code: Option<String>,
}

/// A promotion on its way to every customer who opted in.
pub struct PromotionObject(pub Promotion);

#[Object(name = "Promotion")]
impl PromotionObject {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn message(&self) -> &str {
        &self.0.message
    }

    async fn voucher_code(&self) -> Option<&str> {
        self.0.voucher_code.as_deref()
    }

    /// Customers told so far.
    async fn recipients(&self) -> i32 {
        self.0.recipients
    }

    /// When the last customer was told; null while it is being sent.
    async fn finished_at(&self) -> Option<DateTime> {
        self.0.finished_at.map(DateTime)
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

#[derive(Default)]
pub struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// Marks one of the caller's notifications read; anyone else's is NOT_FOUND.
    #[graphql(guard = "SignedIn")]
    async fn mark_notification_read(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<NotificationObject> {
        let id = parse_uuid("id", &id)?;
        let n = mark_read(app(ctx)?, viewer(ctx)?.user_id, id).await?;
        Ok(NotificationObject(Arc::new(n)))
    }

    /// Sends a promotion to every customer who opted in to marketing
    /// (`User.marketingOptIn`), in the app and by email, at a bounded rate
    /// (`PROMOTION_RATE_PER_SECOND`).
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn send_promotion(
        &self,
        ctx: &Context<'_>,
        input: SendPromotionInput,
    ) -> Result<PromotionObject> {
        let promotion = promotions::send(
            app(ctx)?,
            viewer(ctx)?,
            &input.title,
            &input.message,
            input.voucher_code.as_deref(),
        )
        .await?;
        Ok(PromotionObject(promotion))
    }
}

#[derive(Default)]
pub struct NotificationsSubscription;

#[Subscription]
impl NotificationsSubscription {
    /// The caller's notifications as they are written, whichever node wrote them.
    #[graphql(guard = "SignedIn")]
    async fn my_notifications(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl futures_util::Stream<Item = NotificationObject> + use<>> {
        let app = app(ctx)?.clone();
        let inbox = live::open(&app, viewer(ctx)?.user_id).await?;
        // Missed ones (a subscriber far behind) are in `notifications`.
        Ok(inbox.into_stream().map(NotificationObject))
    }
}
