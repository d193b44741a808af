//! One subscriber's way through a showtime's live events: the snapshot it starts
//! from, then each change exactly one version on, or word that it must start again
//! from a snapshot.

use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

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
    /// Joins the showtime's room: the follower, and the snapshot (for `me`) it starts at.
    pub async fn join(
        app: &App,
        showtime: Uuid,
        me: Option<Uuid>,
    ) -> AppResult<(Self, (SeatMap, usize))> {
        let membership = app.live.join(app, showtime).await?;
        let (snapshot, events) = membership
            .snapshot_and_events(me)
            .await
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("live room without a snapshot")))?;
        let follower = Self {
            version: snapshot.0.version,
            membership,
            events,
            me,
            showtime,
        };
        Ok((follower, snapshot))
    }

    pub fn showtime(&self) -> Uuid {
        self.showtime
    }

    /// The room's seats now; later changes follow on from it.
    pub async fn resnapshot(&mut self) -> Option<(SeatMap, usize)> {
        let snapshot = self.membership.snapshot(self.me).await?;
        self.version = snapshot.0.version;
        Some(snapshot)
    }

    pub async fn next(&mut self) -> Step {
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
                LiveEvent::Changes { version, .. } if *version == self.version + 1 => {
                    self.version = *version;
                    return Step::Change(event);
                }
                _ => return Step::Resnapshot,
            }
        }
    }
}
