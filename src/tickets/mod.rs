//! Tickets: a confirmed booking's code, signed so that a scanner can check it offline,
//! and the operators' check-in.

pub mod check_in;
pub mod code;
pub mod graphql;
pub mod http;
pub mod image;
pub mod store;
