//! Movies, theaters, screens, showtimes and snacks: what can be browsed.

pub mod cache;
pub mod graphql;
pub mod layout;
pub mod manage;
pub mod model;
pub mod queries;
