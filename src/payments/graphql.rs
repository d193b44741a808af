//! `createPaymentIntent` and `refundBooking`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::refunds::{RefundRequest, RefundRow};
use super::{intents, refunds};
use crate::graphql::app;
use crate::graphql::guards::{SignedIn, viewer};
use crate::graphql::scalars::{DateTime, MoneyObject};
use crate::ids::parse_uuid;

#[derive(SimpleObject)]
#[graphql(name = "PaymentIntentPayload")]
pub struct PaymentIntentPayload {
    client_secret: String,
    payment_intent_id: String,
}

/// Money given back for a booking, whole or in part.
pub struct RefundObject(pub RefundRow);

#[Object(name = "Refund")]
impl RefundObject {
    /// The payment provider's id of the refund; ours until the provider has answered.
    async fn refund_id(&self) -> String {
        self.0
            .stripe_refund_id
            .clone()
            .unwrap_or_else(|| self.0.id.to_string())
    }

    async fn amount(&self) -> MoneyObject {
        self.0.money().into()
    }

    /// `succeeded`; `pending` until the payment provider confirms it (or, for money
    /// taken at the counter that a cancelled showtime left owed, until it is handed back
    /// there); `failed`.
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// When the box office handed this money back over the counter (a sale paid there);
    /// null for a refund through the payment provider and for money still owed.
    async fn handed_back_at(&self) -> Option<DateTime> {
        self.0.handed_back_at.map(DateTime)
    }

    /// The seats given back; empty for a refund of the whole booking (or of snacks
    /// only).
    async fn seat_numbers(&self) -> Vec<String> {
        self.0.seat_numbers.iter().flatten().cloned().collect()
    }

    /// The snacks given back by a refund of part of the booking.
    async fn snacks(&self) -> Vec<RefundedSnack> {
        self.0
            .snacks()
            .into_iter()
            .map(|s| RefundedSnack {
                snack_id: ID(s.snack_id.to_string()),
                quantity: s.quantity,
            })
            .collect()
    }

    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

#[derive(SimpleObject)]
pub struct RefundedSnack {
    snack_id: ID,
    quantity: i32,
}

#[derive(InputObject)]
pub struct RefundInput {
    booking_id: ID,
    /// Why, in the customer's or admin's words (at most 500 characters).
    reason: Option<String>,
    /// Give back only these seats (the rest of the booking stands, with a new ticket
    /// code); absent, or every seat: the whole booking.
    seat_numbers: Option<Vec<String>>,
    /// Give back these snacks (as many of each as given).
    snacks: Option<Vec<RefundSnackInput>>,
}

#[derive(InputObject)]
pub struct RefundSnackInput {
    snack_id: ID,
    quantity: i32,
}

#[derive(Default)]
pub struct PaymentsMutation;

#[Object]
impl PaymentsMutation {
    /// The payment intent of the caller's pending booking, or of the difference of
    /// their confirmed booking's exchange that waits for payment (`pendingExchange`);
    /// asking again returns the same intent.
    #[graphql(guard = "SignedIn")]
    async fn create_payment_intent(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
    ) -> Result<PaymentIntentPayload> {
        let id = parse_uuid("bookingId", &booking_id)?;
        let (app, viewer) = (app(ctx)?, viewer(ctx)?);
        // A confirmed booking's exchange waiting for its difference, else the booking.
        let intent = match crate::checkout::exchange::pay_difference(app, viewer, id).await? {
            Some(intent) => intent,
            None => intents::for_booking(app, viewer, id).await?,
        };
        Ok(PaymentIntentPayload {
            client_secret: intent.client_secret,
            payment_intent_id: intent.id,
        })
    }

    /// Refunds a confirmed booking, in full or some of its seats and snacks: its owner
    /// until the cut-off before the showtime (2 hours by default), an admin at any
    /// time. Once the refund succeeds, a whole booking is cancelled and its seats
    /// released; a part is taken off (its seats free at once) and the rest stands with
    /// a new ticket code. Nothing left to give back is CONFLICT.
    ///
    /// A sale paid at the counter is given back there: by an operator or admin, whatever
    /// the cut-off, answered at once (`handedBackAt`); a complimentary one gives its
    /// tickets back. Its customer asking online is CONFLICT. For such a booking of a
    /// cancelled showtime, the money owed at the counter is handed back.
    #[graphql(guard = "SignedIn")]
    async fn refund_booking(&self, ctx: &Context<'_>, input: RefundInput) -> Result<RefundObject> {
        let id = parse_uuid("bookingId", &input.booking_id)?;
        let snacks = input
            .snacks
            .unwrap_or_default()
            .iter()
            .map(|s| Ok((parse_uuid("snacks", &s.snack_id)?, s.quantity)))
            .collect::<Result<Vec<_>, crate::error::AppError>>()?;
        let refund = refunds::request(
            app(ctx)?,
            viewer(ctx)?,
            RefundRequest {
                booking: id,
                reason: input.reason,
                seats: input.seat_numbers.unwrap_or_default(),
                snacks,
            },
        )
        .await?;
        Ok(RefundObject(refund))
    }
}
