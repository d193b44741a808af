//! Seat holds and the live seat maps.

use std::time::Duration;

use super::ConfigError;
use super::vars::{Unit, Vars};

#[derive(Debug, Clone, Copy)]
pub struct HoldSettings {
    /// How long a hold lasts, and what each extension adds.
    pub ttl: Duration,
    /// No hold lasts longer than this from when it was made.
    pub max_hold: Duration,
    pub max_seats_per_user: usize,
    /// How often lapsed holds are looked for.
    pub sweep_interval: Duration,
    /// How many seat-map events a live subscriber may fall behind before it is sent a
    /// snapshot instead.
    pub live_backlog: usize,
    /// About how many seat changes each showtime keeps in Redis for live maps that
    /// resume (`seatMap(since:)`); a resume from further back gets a snapshot.
    pub history_len: usize,
    /// Buyers a queued sale lets in a minute, unless its showtime sets its own.
    pub queue_rate: u32,
    /// How long a buyer let in from a queue may start holding seats.
    pub queue_window: Duration,
}

impl HoldSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let second = Duration::from_secs(1);
        Ok(Self {
            ttl: vars.duration("HOLD_TTL_SECONDS", 600 * second, Unit::Seconds, second)?,
            max_hold: vars.duration("HOLD_MAX_SECONDS", 1800 * second, Unit::Seconds, second)?,
            max_seats_per_user: vars.number("MAX_SEATS_PER_USER", 10, 1)?,
            sweep_interval: vars.duration(
                "SWEEP_INTERVAL_MS",
                Duration::from_millis(500),
                Unit::Millis,
                Duration::from_millis(10),
            )?,
            live_backlog: vars.number("LIVE_BACKLOG", 64, 1)?,
            history_len: vars.number("SEAT_HISTORY_LEN", 1000, 1)?,
            queue_rate: vars.number("SALE_QUEUE_RATE", 600, 1)?,
            queue_window: vars.duration(
                "SALE_QUEUE_WINDOW_SECONDS",
                300 * second,
                Unit::Seconds,
                second,
            )?,
        })
    }
}
