//! Administration beyond the catalog: analytics.

pub mod analytics;
pub mod graphql;
