//! `cancelShowtime`.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use crate::catalog::graphql::ShowtimeNode;
use crate::db::enums::Role;
use crate::graphql::app;
use crate::graphql::guards::RoleGuard;
use crate::ids::parse_uuid;

#[derive(Default)]
pub struct BoxOfficeMutation;

#[Object]
impl BoxOfficeMutation {
    /// Admins: cancels a showtime. No more holds or sales; every live booking is
    /// refunded in full whatever the cut-off (through the gateway, retried until it
    /// answers, on any node), unpaid ones end, and buyers and holders are told (in-app;
    /// buyers by email and text too). It leaves the listings; `Showtime.status` is
    /// CANCELLED. `reason` (one line, at most 500 characters) is shown to customers.
    /// Cancelling again changes nothing.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn cancel_showtime(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<ShowtimeNode> {
        let id = parse_uuid("id", &id)?;
        let showtime = super::cancel::cancel_showtime(app(ctx)?, id, &reason).await?;
        Ok(ShowtimeNode(Arc::new(showtime)))
    }
}
