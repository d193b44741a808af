//! What a live seat map that resumes (`seatMap(since: {epoch, version})`) missed.
//!
//! Every seat script that publishes a change also appends it to the showtime's capped
//! stream `…:history` (`scripts::PRELUDE`, `announce`), its entry id the version. A
//! subscriber coming back with the last `{epoch, version}` it saw is sent the changes
//! after that version, one event per version, instead of a snapshot, when all of these
//! hold: the epoch is the room's (versions did not start again), the version is not
//! ahead of the room's, it is at most `SEAT_HISTORY_LEN` versions back (a bound on what
//! one resume replays, whatever Redis's approximate trimming kept), and the stream
//! still has every version in between, all of that epoch. Anything else is answered
//! with a snapshot, as a new subscriber gets: never a guess.
//!
//! The history is read only for subscribers that pass `since`, once, up to the room's
//! version taken together with their broadcast receiver (`live::Membership::
//! position_and_events`): later changes come from the receiver, and the follower drops
//! those at or below that version, so the two meet without a gap or a double.

use std::collections::VecDeque;
use std::sync::Arc;

use fred::prelude::*;
use fred::types::Value;
use uuid::Uuid;

use super::keys;
use super::live::{LiveEvent, Position, parse_change};
use crate::app::App;
use crate::error::{AppError, AppResult};

/// The last state a client saw: the `SeatMapEvent.epoch` and `version` of its last event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub epoch: String,
    pub version: i64,
}

impl Cursor {
    /// `field` names the argument in a refusal (`since`).
    pub fn parse(field: &str, epoch: String, version: i64) -> AppResult<Self> {
        if version < 0 {
            return Err(AppError::bad_input(
                field,
                "`since.version` is a version a seat map event carried: 0 or more",
            ));
        }
        if epoch.trim().is_empty() {
            return Err(AppError::bad_input(
                field,
                "`since.epoch` is the epoch a seat map event carried: not empty",
            ));
        }
        Ok(Self { epoch, version })
    }
}

/// The changes after `since` up to the room's `at`, one event per version in order, or
/// `None` when they cannot all be proven (then the subscriber gets a snapshot).
pub async fn missed(
    app: &App,
    showtime: Uuid,
    since: &Cursor,
    at: &Position,
) -> Option<VecDeque<Arc<LiveEvent>>> {
    let behind = at.version.checked_sub(since.version)?;
    let limit = i64::try_from(app.config.holds.history_len).unwrap_or(i64::MAX);
    if *at.epoch != *since.epoch || behind < 0 || behind > limit {
        return None;
    }
    if behind == 0 {
        return Some(VecDeque::new());
    }
    let key = keys::seat_key(&app.redis, showtime, "history");
    let reply: Value = match app
        .redis
        .client()
        .await
        .custom(
            fred::cmd!("XRANGE"),
            vec![
                key,
                format!("{}-0", since.version + 1),
                format!("{}-1", at.version),
            ],
        )
        .await
    {
        Ok(reply) => reply,
        Err(e) => {
            // A snapshot serves the subscriber as well, only heavier.
            tracing::warn!(error = %e, %showtime, "seat history unreadable; sending a snapshot");
            return None;
        }
    };
    let entries = reply.into_array();
    if entries.len() != usize::try_from(behind).ok()? {
        return None;
    }
    // Read forwards, then the available counts backwards from the room's.
    let mut read = Vec::with_capacity(entries.len());
    for (entry, expected) in entries.into_iter().zip(since.version + 1..) {
        let entry = Entry::parse(entry)?;
        if entry.version != expected || *entry.epoch != *at.epoch {
            return None;
        }
        read.push(entry);
    }
    let mut available = i64::try_from(at.available).ok()?;
    let mut events = VecDeque::with_capacity(read.len());
    for entry in read.into_iter().rev() {
        let after = usize::try_from(available).ok()?;
        available -= entry.delta;
        events.push_front(Arc::new(LiveEvent::Changes {
            version: entry.version,
            epoch: at.epoch.clone(),
            changes: entry.changes,
            available: after,
            rendered: Default::default(),
        }));
    }
    Some(events)
}

/// One history entry: `<version>-1` with fields `e`, `d` and `c`.
struct Entry {
    version: i64,
    epoch: String,
    delta: i64,
    changes: Vec<(String, crate::seating::seat_map::SeatState)>,
}

impl Entry {
    fn parse(entry: Value) -> Option<Self> {
        let mut parts = entry.into_array().into_iter();
        let id = parts.next()?.into_string()?;
        let version = id.split_once('-')?.0.parse().ok()?;
        let fields: Vec<String> = parts
            .next()?
            .into_array()
            .into_iter()
            .map(Value::into_string)
            .collect::<Option<_>>()?;
        let field = |name: &str| {
            fields
                .chunks_exact(2)
                .find(|pair| pair[0] == name)
                .map(|pair| pair[1].as_str())
        };
        let raw: Vec<Vec<String>> = serde_json::from_str(field("c")?).ok()?;
        Some(Self {
            version,
            epoch: field("e")?.to_owned(),
            delta: field("d")?.parse().ok()?,
            changes: raw.iter().filter_map(|c| parse_change(c)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_checked() {
        assert!(Cursor::parse("since", "abc".into(), 0).is_ok());
        for (epoch, version) in [("abc", -1), ("", 3), ("  ", 3)] {
            assert!(
                matches!(Cursor::parse("since", epoch.into(), version), Err(AppError::BadInput { field, .. }) if field == "since")
            );
        }
    }
}
