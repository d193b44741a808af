//! Redis key names for seating. The showtime id sits in a hash tag (`{…}`) so that all
//! keys of one showtime land in one Redis Cluster slot and its scripts run there.

use uuid::Uuid;

use crate::redis::Redis;

/// `<prefix>:seat:{<showtime>}:<part>`: one of the showtime's seating keys.
pub fn seat_key(redis: &Redis, showtime: Uuid, part: &str) -> String {
    redis.key(&format!("seat:{{{showtime}}}:{part}"))
}

/// Where a showtime's seat changes are published.
pub fn channel(redis: &Redis, showtime: Uuid) -> String {
    redis.key(&format!("seatmap:{{{showtime}}}"))
}

/// Showtimes that have holds: the sweeper's to-do list.
pub fn active_showtimes(redis: &Redis) -> String {
    redis.key("seating:active")
}
