//! Bookings: made from a seat hold with snacks, paid through `payments`, cancelled by
//! their owner or expired by the sweeper when unpaid. Postgres's partial unique index
//! on live booked seats is the last word on who has a seat.

pub mod graphql;
pub mod idempotency;
pub mod model;
pub mod pricing;
pub mod records;
pub mod reference;
