//! The door: operators check tickets in as people arrive (`check_in`, which holds the
//! rules), scanners that worked offline upload their scans later (`scans`), a mistaken
//! check-in is taken back (`undo`), and scanners that check codes offline learn which
//! tickets were voided since (`revoked`).

pub mod check_in;
pub mod graphql;
pub mod live;
pub mod revoked;
pub mod scans;
pub mod undo;
