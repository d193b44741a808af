//! Redis key names for seating. The showtime id sits in a hash tag (`{…}`) so that all
//! keys of one showtime land in one Redis Cluster slot and its scripts run there.

use uuid::Uuid;

use crate::redis::Redis;

/// The showtime's seat-change counter: every change to its seats increments it.
pub fn version_key(redis: &Redis, showtime: Uuid) -> String {
    redis.key(&format!("seat:{{{showtime}}}:version"))
}

/// Where a showtime's seat changes are published.
pub fn channel(redis: &Redis, showtime: Uuid) -> String {
    redis.key(&format!("seatmap:{{{showtime}}}"))
}
