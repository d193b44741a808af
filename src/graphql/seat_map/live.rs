//! The websocket hook for `seatMap` subscriptions whose selection can be planned
//! (`events`): the executor runs the subscription up to its snapshot, then the change
//! events are written once per showtime and selection and shared by every such
//! subscriber here.

use std::sync::Arc;

use async_graphql::{Data, Executor, Request, Response, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::Handoff;
use super::events::{self, EventPlan};
use crate::graphql::engine::ws::{Out, PreRendered};
use crate::graphql::engine::{self, Engine};
use crate::metrics::Metrics;
use crate::seating::follow::{Follower, Step};
use crate::seating::live::LiveEvent;

/// The hook: give it to the websocket transport.
#[derive(Clone)]
pub struct SeatMapEvents {
    metrics: Metrics,
}

impl SeatMapEvents {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl PreRendered<Engine> for SeatMapEvents {
    fn results(
        &self,
        engine: &Engine,
        mut request: Request,
        session: Arc<Data>,
    ) -> Result<BoxStream<'static, Out>, Box<Request>> {
        let name = request.operation_name.clone();
        let Some(plan) =
            engine::document(&mut request).and_then(|d| events::plan(d, name.as_deref()))
        else {
            return Err(Box::new(request));
        };
        let shared = Shared {
            engine: engine.clone(),
            metrics: self.metrics.clone(),
            session,
            fingerprint: plan.fingerprint(),
            plan: Arc::new(plan),
            query: request.query,
            operation_name: request.operation_name,
            variables: request.variables,
        };
        let state = shared.execute(None);
        Ok(
            futures_util::stream::unfold((shared, state), |(shared, state)| async move {
                let (out, state) = shared.step(state).await?;
                Some((out, (shared, state)))
            })
            .boxed(),
        )
    }
}

struct Shared {
    engine: Engine,
    metrics: Metrics,
    session: Arc<Data>,
    plan: Arc<EventPlan>,
    fingerprint: u64,
    query: String,
    operation_name: Option<String>,
    variables: Variables,
}

enum State {
    /// The executor runs the subscription until its resolver hands the follower over
    /// (after the snapshot) or it ends (an error). `previous` keeps the room open
    /// meanwhile, so a resnapshot does not close and reopen it.
    Executing {
        results: BoxStream<'static, Response>,
        handoff: Handoff,
        previous: Option<Follower>,
    },
    Following(Follower),
}

impl Shared {
    fn execute(&self, previous: Option<Follower>) -> State {
        let handoff = match previous {
            Some(_) => Handoff::restart(),
            None => Handoff::default(),
        };
        let mut request = Request::new(self.query.clone()).variables(self.variables.clone());
        if let Some(name) = &self.operation_name {
            request = request.operation_name(name.clone());
        }
        let request = request.data(handoff.clone());
        State::Executing {
            results: self
                .engine
                .execute_stream(request, Some(self.session.clone())),
            handoff,
            previous,
        }
    }

    async fn step(&self, mut state: State) -> Option<(Out, State)> {
        loop {
            state = match state {
                State::Executing {
                    mut results,
                    handoff,
                    previous,
                } => match results.next().await {
                    Some(response) => {
                        drop(previous);
                        let state = State::Executing {
                            results,
                            handoff,
                            previous: None,
                        };
                        return Some((Out::Response(Box::new(response)), state));
                    }
                    None => State::Following(handoff.take()?),
                },
                State::Following(mut follower) => match follower.next().await {
                    Step::Change(event) => {
                        let payload = self.payload(follower.showtime(), &event)?;
                        return Some((Out::Shared(payload), State::Following(follower)));
                    }
                    Step::Resnapshot => self.execute(Some(follower)),
                    Step::Closed => return None,
                },
            }
        }
    }

    fn payload(&self, showtime: uuid::Uuid, event: &LiveEvent) -> Option<Arc<str>> {
        let LiveEvent::Changes {
            version,
            epoch,
            changes,
            available,
            rendered,
        } = event
        else {
            return None;
        };
        let (payload, fresh) = rendered.get_or_render(self.fingerprint, || {
            self.plan
                .render(showtime, *version, epoch, changes, *available)
        });
        self.metrics.live_payload(fresh);
        Some(payload)
    }
}
