//! One subscriber's way through a showtime's live events: the snapshot it starts
//! from, then each change exactly one version on, or word that it must start again
//! from a snapshot. One that resumes (`history`) starts with no snapshot: the changes
//! it missed come first, then the room's, each one version on all the same.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use super::history::{self, Cursor};
use super::live::{LiveEvent, Membership};
use super::seat_map::SeatMap;
use crate::app::App;
use crate::error::{AppError, AppResult};

pub struct Follower {
    membership: Membership,
    events: broadcast::Receiver<Arc<LiveEvent>>,
    me: Option<Uuid>,
    showtime: Uuid,
    version: i64,
    /// The epoch of `version`: what the last snapshot or change sent carried.
    epoch: Arc<str>,
    /// Changes read from the history, sent before any from the room.
    missed: VecDeque<Arc<LiveEvent>>,
}

/// How a follower starts.
pub enum Start {
    /// From the whole map (for the joining subscriber).
    Snapshot((SeatMap, usize)),
    /// From where the subscriber left off: `next` yields what it missed first.
    Resumed,
}

pub enum Step {
    /// The next change, one version on from the last.
    Change(Arc<LiveEvent>),
    /// Fell behind or the room could not prove it missed nothing: start again from a
    /// snapshot, never from an unbounded queue.
    Resnapshot,
    Closed,
}

impl Follower {
    /// Joins the showtime's room: the follower, and the snapshot (for `me`) it starts at,
    /// or, when `since` can be resumed from, no snapshot (`history::missed`).
    pub async fn join(
        app: &App,
        showtime: Uuid,
        me: Option<Uuid>,
        since: Option<&Cursor>,
    ) -> AppResult<(Self, Start)> {
        let membership = app.live.join(app, showtime).await?;
        if let Some(since) = since {
            // The receiver is taken with the version the history is read up to: what
            // comes after that version reaches this follower from the room.
            let (at, events) = membership
                .position_and_events()
                .await
                .ok_or_else(no_snapshot)?;
            if let Some(missed) = history::missed(app, showtime, since, &at).await {
                let follower = Self {
                    version: at.version,
                    epoch: at.epoch,
                    missed,
                    membership,
                    events,
                    me,
                    showtime,
                };
                return Ok((follower, Start::Resumed));
            }
        }
        let (snapshot, epoch, events) = membership
            .snapshot_and_events(me)
            .await
            .ok_or_else(no_snapshot)?;
        let follower = Self {
            version: snapshot.0.version,
            epoch,
            missed: VecDeque::new(),
            membership,
            events,
            me,
            showtime,
        };
        Ok((follower, Start::Snapshot(snapshot)))
    }

    /// The epoch of the last snapshot or change this follower gave.
    pub fn epoch(&self) -> &Arc<str> {
        &self.epoch
    }

    pub fn showtime(&self) -> Uuid {
        self.showtime
    }

    /// The room's seats now; later changes follow on from it.
    pub async fn resnapshot(&mut self) -> Option<(SeatMap, usize)> {
        let (snapshot, epoch) = self.membership.snapshot(self.me).await?;
        self.version = snapshot.0.version;
        self.epoch = epoch;
        self.missed.clear();
        Some(snapshot)
    }

    pub async fn next(&mut self) -> Step {
        if let Some(event) = self.missed.pop_front() {
            return Step::Change(event);
        }
        loop {
            let event = match self.events.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(_)) => return Step::Resnapshot,
                Err(RecvError::Closed) => return Step::Closed,
            };
            match &*event {
                LiveEvent::Ended => return Step::Closed,
                // Already in the snapshot this follower started from.
                LiveEvent::Changes { version, .. } if *version <= self.version => continue,
                LiveEvent::Changes { version, epoch, .. } if *version == self.version + 1 => {
                    self.version = *version;
                    self.epoch = epoch.clone();
                    return Step::Change(event);
                }
                _ => return Step::Resnapshot,
            }
        }
    }
}

fn no_snapshot() -> AppError {
    AppError::internal(anyhow::anyhow!("live room without a snapshot"))
}
