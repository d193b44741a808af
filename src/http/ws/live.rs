//! A subscription's results: through the executor, except a `seatMap` subscription's
//! change events, which are written once per showtime and selection and shared.

use std::sync::Arc;

use async_graphql::{Data, Request, Response, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::app::AppState;
use crate::graphql::{AppSchema, pipeline};
use crate::seating::event_json::{self, EventPlan};
use crate::seating::follow::{Follower, Handoff, Step};
use crate::seating::live::LiveEvent;

/// One result for the client.
pub enum Out {
    Response(Box<Response>),
    /// A payload that is already JSON, shared with other subscribers.
    Shared(Arc<str>),
    /// Refused before it ran (the general rate limit, a sign-in that ended).
    Refused(crate::error::AppError),
}

pub fn results(
    schema: &AppSchema,
    app: &AppState,
    request: Request,
    session: Arc<Data>,
) -> BoxStream<'static, Out> {
    let Some(plan) = event_json::plan(&request.query, request.operation_name.as_deref()) else {
        return pipeline::execute_stream(schema, app, request, session)
            .map(|response| Out::Response(Box::new(response)))
            .boxed();
    };
    let shared = Shared {
        schema: schema.clone(),
        app: app.clone(),
        session,
        fingerprint: plan.fingerprint(),
        plan: Arc::new(plan),
        query: request.query,
        operation_name: request.operation_name,
        variables: request.variables,
    };
    let state = shared.execute(None);
    futures_util::stream::unfold((shared, state), |(shared, state)| async move {
        let (out, state) = shared.step(state).await?;
        Some((out, (shared, state)))
    })
    .boxed()
}

struct Shared {
    schema: AppSchema,
    app: AppState,
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
        let handoff = Handoff::default();
        let mut request = Request::new(self.query.clone()).variables(self.variables.clone());
        if let Some(name) = &self.operation_name {
            request = request.operation_name(name.clone());
        }
        let request = request.data(handoff.clone());
        State::Executing {
            results: pipeline::execute_stream(
                &self.schema,
                &self.app,
                request,
                self.session.clone(),
            ),
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
            changes,
            available,
            rendered,
        } = event
        else {
            return None;
        };
        let (payload, fresh) = rendered.get_or_render(self.fingerprint, || {
            self.plan.render(showtime, *version, changes, *available)
        });
        self.app.metrics.live_payload(fresh);
        Some(payload)
    }
}
