//! The door: operators check tickets in as people arrive, and scanners that check
//! codes offline learn which tickets were voided since (`revoked`).

pub mod check_in;
pub mod graphql;
pub mod revoked;
