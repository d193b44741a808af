//! Payments: the gateway (Stripe or simulated), intents for bookings, the signed
//! webhook that confirms them, and refunds.

pub mod events;
pub mod gateway;
pub mod graphql;
pub mod intents;
pub mod ledger;
pub mod partial_refunds;
pub mod refunds;
pub mod signature;
pub mod simulated;
pub mod stripe;
