//! `checkInTicket`.

use std::sync::Arc;

use async_graphql::{Context, Object, Result};

use crate::booking::graphql::BookingNode;
use crate::db::enums::Role;
use crate::graphql::app;
use crate::graphql::guards::{RoleGuard, viewer};

#[derive(Default)]
pub struct DoorMutation;

#[Object]
impl DoorMutation {
    /// Operators and admins: checks in the ticket whose QR code was scanned. A forged
    /// or unreadable code is BAD_USER_INPUT (`code`); a ticket already used, void
    /// (cancelled, refunded, expired, unpaid) or outside its window (from an hour
    /// before the start to the end) is CONFLICT saying why.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn check_in_ticket(&self, ctx: &Context<'_>, code: String) -> Result<BookingNode> {
        let booking = super::check_in::check_in(app(ctx)?, viewer(ctx)?, &code).await?;
        Ok(BookingNode(Arc::new(booking)))
    }
}
