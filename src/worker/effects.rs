//! What delivers each kind of outbox effect: the one place an effect meets the domain
//! that carries it out. Installed in the `App`; the outbox calls it.

use async_trait::async_trait;

use crate::app::App;
use crate::error::AppResult;
use crate::outbox::{Deliver, Effect, InHand};

pub struct Delivery;

#[async_trait]
impl Deliver for Delivery {
    async fn deliver(&self, app: &App, effect: &Effect, in_hand: InHand<'_>) -> AppResult<()> {
        match effect {
            Effect::Seats {
                showtime,
                seats,
                used_lock,
            } => {
                crate::seating::sync::sync_seats(app, *showtime, seats, used_lock.as_deref()).await
            }
            Effect::CancelIntent { intent } => crate::payments::intents::cancel(app, intent).await,
            // Delivering a refund may itself deliver the effects it causes (through
            // this table again): `async_trait` boxes the future, so that may recurse.
            Effect::Refund { booking } => crate::payments::refunds::automatic(app, *booking).await,
            Effect::RefundCancelled { booking } => {
                crate::payments::refunds::showtime_cancelled(app, *booking).await
            }
            Effect::SendRefund { refund } => {
                crate::payments::refunds::send_pending(app, *refund).await
            }
            Effect::Notify { notification } => {
                crate::notifications::push(app, *notification, in_hand).await
            }
            Effect::TicketImage { booking } => {
                crate::tickets::store::store_for(app, *booking, in_hand).await
            }
            Effect::Email { booking, template } => {
                crate::notifications::messages::send_email(app, *booking, template).await
            }
            Effect::Sms { booking, template } => {
                crate::notifications::messages::send_sms(app, *booking, template).await
            }
            Effect::Promotion { promotion, after } => {
                crate::notifications::promotions::send_batch(app, *promotion, *after).await
            }
            Effect::PromotionEmail { promotion, user } => {
                crate::notifications::promotions::send_email(app, *promotion, *user).await
            }
            Effect::AccountMessage { challenge } => {
                crate::notifications::account_messages::send(app, *challenge).await
            }
            Effect::WaitlistEmail { entry } => {
                crate::waitlist::offers::send_message(app, *entry, false).await
            }
            Effect::WaitlistSms { entry } => {
                crate::waitlist::offers::send_message(app, *entry, true).await
            }
        }
    }
}
