//! Accounts and who may do what.

pub mod password;
