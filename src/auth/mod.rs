//! Accounts, sign-in, tokens, and who may do what.

pub mod challenges;
pub mod graphql;
pub mod input;
pub mod model;
pub mod password;
pub mod password_change;
pub mod password_reset;
pub mod service;
pub mod sessions;
pub mod tokens;
pub mod verification;
