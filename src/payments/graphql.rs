//! `createPaymentIntent` and `refundBooking`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::{intents, refunds};
use crate::graphql::app;
use crate::graphql::guards::{SignedIn, viewer};
use crate::graphql::scalars::MoneyObject;
use crate::ids::parse_uuid;

#[derive(SimpleObject)]
#[graphql(name = "PaymentIntentPayload")]
pub struct PaymentIntentPayload {
    client_secret: String,
    payment_intent_id: String,
}

#[derive(SimpleObject)]
#[graphql(name = "Refund")]
pub struct RefundObject {
    refund_id: String,
    amount: MoneyObject,
    /// `succeeded`, or `pending` until the payment provider confirms it.
    status: String,
}

#[derive(InputObject)]
pub struct RefundInput {
    booking_id: ID,
    /// Why, in the customer's or admin's words (at most 500 characters).
    reason: Option<String>,
}

#[derive(Default)]
pub struct PaymentsMutation;

#[Object]
impl PaymentsMutation {
    /// The payment intent of the caller's pending booking; asking again returns the
    /// same intent.
    #[graphql(guard = "SignedIn")]
    async fn create_payment_intent(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
    ) -> Result<PaymentIntentPayload> {
        let id = parse_uuid("bookingId", &booking_id)?;
        let intent = intents::for_booking(app(ctx)?, viewer(ctx)?, id).await?;
        Ok(PaymentIntentPayload {
            client_secret: intent.client_secret,
            payment_intent_id: intent.id,
        })
    }

    /// Refunds a confirmed booking in full: its owner until the cut-off before the
    /// showtime (2 hours by default), an admin at any time. The booking is cancelled
    /// and its seats released once the refund succeeds; a second refund is CONFLICT.
    #[graphql(guard = "SignedIn")]
    async fn refund_booking(&self, ctx: &Context<'_>, input: RefundInput) -> Result<RefundObject> {
        let id = parse_uuid("bookingId", &input.booking_id)?;
        let refund = refunds::request(app(ctx)?, viewer(ctx)?, id, input.reason).await?;
        Ok(RefundObject {
            refund_id: refund.id,
            amount: refund.amount.into(),
            status: refund.status.as_str().to_owned(),
        })
    }
}
