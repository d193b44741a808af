//! Administration beyond the catalog: analytics, how sales split (`breakdown`), and
//! the sales export (`sales_csv`).

pub mod analytics;
pub mod breakdown;
pub mod graphql;
pub mod sales_csv;
