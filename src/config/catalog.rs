//! The catalog: its read cache and how showtimes are laid out.

use std::time::Duration;

use super::ConfigError;
use super::vars::{Unit, Vars};

#[derive(Debug, Clone, Copy)]
pub struct CatalogSettings {
    /// How long a catalog read may be served from memory at most; admin changes clear
    /// it at once on every node. Zero turns the cache off.
    pub cache_ttl: Duration,
    /// Added to a film's running time to get the showtime's end: the room is cleaned.
    pub cleaning_gap: Duration,
    /// The oldest a CHILD ticket's holder is: a film whose age rating's minimum age is
    /// above it sells no CHILD tickets.
    pub child_max_age: i32,
}

impl CatalogSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            cache_ttl: vars.duration(
                "CATALOG_CACHE_TTL_MS",
                Duration::from_secs(10),
                Unit::Millis,
                Duration::ZERO,
            )?,
            cleaning_gap: vars.duration(
                "CLEANING_GAP_MINUTES",
                Duration::from_secs(20 * 60),
                Unit::Minutes,
                Duration::ZERO,
            )?,
            child_max_age: vars.number("CHILD_MAX_AGE", 11, 0)?,
        })
    }
}
