//! `peer`: the home screen (20 films, the next 10 showtimes of each) asked of SCREEMA
//! with its catalog cache on (`--url`), of a SCREEMA node over the same database with
//! the cache off (`--uncached-url`, `CATALOG_CACHE_TTL_MS=0`), and of PostGraphile v5
//! over the same database (`--peer-url`, `scripts/peer`), by the same client: legs of
//! `--duration` seconds each, alternating, three rounds, `--connections` clients.
//!
//! The films are the scenario's own: released most recently, so that both orders
//! (SCREEMA's now-showing-newest-first, the peer's `RELEASE_DATE_DESC`) put them first,
//! with twelve future showtimes each, so that both answers carry 20 × 10. The check
//! compares the films and counts of the three answers. In the legs, answers are
//! checked (status 200, no `errors`) but not parsed: parsing 24 KiB of JSON a request
//! made the client, on the same two cores, the limit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;

use super::{Budget, hammer, phase, progress};
use crate::args::Args;
use crate::client::Api;
use crate::fixtures::{Fixtures, layout};
use crate::report::Report;
use crate::stats::Recorder;

pub const SCREEMA_HOME: &str = "{ movies(limit: 20) { movies { id title \
    showtimes(limit: 10) { id startTime basePrice { amount } } } } }";
pub const PEER_HOME: &str = "{ allMovies(first: 20, orderBy: RELEASE_DATE_DESC) { nodes { \
    rowId title showtimesByMovieId(first: 10, orderBy: START_TIME_ASC) { nodes { rowId \
    startTime basePrice } } } } }";

const ROUNDS: usize = 3;
const FILMS: usize = 20;
const SHOWTIMES_EACH: usize = 12;

/// One of the three servers asked.
struct Target {
    name: &'static str,
    api: Api,
    base: String,
    query: &'static str,
}

impl Target {
    /// The films' titles and how many showtimes each carries, from an answer's data.
    fn shape(&self, data: &Value) -> Vec<(String, usize)> {
        let (films, showtimes) = if self.query == PEER_HOME {
            (&data["allMovies"]["nodes"], "showtimesByMovieId")
        } else {
            (&data["movies"]["movies"], "showtimes")
        };
        films
            .as_array()
            .map(|films| {
                films
                    .iter()
                    .map(|f| {
                        let list = &f[showtimes];
                        let list = list.get("nodes").unwrap_or(list);
                        (
                            f["title"].as_str().unwrap_or_default().to_owned(),
                            list.as_array().map_or(0, Vec::len),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The bytes of one answer, as sent.
    async fn answer_bytes(&self) -> anyhow::Result<usize> {
        let body = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .json(&serde_json::json!({ "query": self.query }))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        Ok(body.len())
    }
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let (Some(uncached), Some(peer)) = (&args.uncached_url, &args.peer_url) else {
        anyhow::bail!(
            "peer needs --uncached-url and --peer-url (scripts/load.sh peer starts both)"
        );
    };
    let targets = [
        ("SCREEMA, catalog cache on", &args.url, SCREEMA_HOME),
        ("SCREEMA, catalog cache off", uncached, SCREEMA_HOME),
        ("PostGraphile v5", peer, PEER_HOME),
    ]
    .map(|(name, base, query)| -> anyhow::Result<Target> {
        Ok(Target {
            name,
            api: Api::new(base, args.connections)?,
            base: base.clone(),
            query,
        })
    });
    let [a, b, c] = targets;
    let targets = [a?, b?, c?];

    prepare(args).await?;
    let mut shapes = Vec::new();
    for t in &targets {
        let data = t
            .api
            .gql(None, t.query, Value::Null)
            .await
            .map_err(|f| anyhow::anyhow!("{}: {f}", t.name))?;
        shapes.push(t.shape(&data));
        report.figure(
            &format!("answer of {}", t.name),
            format!(
                "{} films, {} showtimes, {} bytes",
                shapes.last().map_or(0, Vec::len),
                shapes
                    .last()
                    .map_or(0, |s| s.iter().map(|(_, n)| n).sum::<usize>()),
                t.answer_bytes().await?
            ),
        );
    }
    let same = shapes.windows(2).all(|w| {
        let sorted = |s: &Vec<(String, usize)>| s.iter().cloned().collect::<BTreeMap<_, _>>();
        sorted(&w[0]) == sorted(&w[1])
    });
    let full = shapes
        .iter()
        .all(|s| s.len() == FILMS && s.iter().all(|(_, n)| *n == 10));
    report.check(
        "the three answers carry the same 20 films with 10 showtimes each",
        same && full,
        shapes
            .iter()
            .map(|s| format!("{} films", s.len()))
            .collect::<Vec<_>>()
            .join(", "),
    );

    let mut totals: Vec<Recorder> = targets.iter().map(|_| Recorder::new()).collect();
    let mut leg_time = vec![Duration::ZERO; targets.len()];
    for round in 1..=ROUNDS {
        for (i, t) in targets.iter().enumerate() {
            phase(&format!("round {round} of {ROUNDS}: {}", t.name));
            let (rec, took) = leg(args, t).await?;
            let summary = rec.summary(t.name, took);
            report.figure(
                &format!("round {round}, {}", t.name),
                format!(
                    "{:.0} answers/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                    summary.per_second, summary.p50_ms, summary.p99_ms, summary.errors
                ),
            );
            totals[i].merge(&rec);
            leg_time[i] += took;
        }
    }
    let summaries: Vec<_> = targets
        .iter()
        .zip(&totals)
        .zip(&leg_time)
        .map(|((t, rec), took)| rec.summary(t.name, *took))
        .collect();
    let peer = &summaries[2];
    for s in &summaries[..2] {
        report.figure(
            &format!("{} against the peer", s.name),
            format!(
                "{:.2}× the answers a second; p99 {:.2} against {:.2} ms",
                s.per_second / peer.per_second.max(1e-9),
                s.p99_ms,
                peer.p99_ms
            ),
        );
    }
    report.elapsed_seconds = leg_time.iter().map(Duration::as_secs_f64).sum();
    report.operations.extend(summaries);
    report.figure(
        "setting",
        format!(
            "{} clients a leg, {ROUNDS} rounds of {} s legs in turn; the same client, database and machine",
            args.connections,
            args.duration.as_secs()
        ),
    );
    Ok(())
}

/// One leg: `--connections` clients asking `target` as fast as it answers.
async fn leg(args: &Args, target: &Target) -> anyhow::Result<(Recorder, Duration)> {
    let budget = Budget::new(args);
    let bar = progress(target.name, args.duration, budget.clone());
    let started = Instant::now();
    let (api, query) = (target.api.clone(), target.query);
    let all = hammer(args.connections, budget.clone(), move || {
        let api = api.clone();
        async move { api.gql_unparsed(query).await.map(|_| ()) }
    })
    .await?;
    bar.finish_and_clear();
    Ok((all, started.elapsed()))
}

/// The scenario's 20 films, released on the 20 days before today (newer than any other
/// film the load tool makes), each with twelve showtimes from tomorrow on.
async fn prepare(args: &Args) -> anyhow::Result<()> {
    phase(&format!(
        "preparing {FILMS} films with {SHOWTIMES_EACH} showtimes each"
    ));
    let mut fx = Fixtures::new(args, 1).await?;
    let (room, _) = layout(10, 16)?;
    let mut screens = Vec::new();
    for _ in 0..4 {
        screens.push(fx.screen(&room).await?);
    }
    let today = Utc::now().date_naive();
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    for m in 0..FILMS {
        let released = today - chrono::Duration::days(m as i64 + 1);
        let movie = fx
            .movie_released(
                &format!("Peer film {m} ({})", fx.run),
                &released.format("%Y-%m-%d").to_string(),
            )
            .await?;
        for k in 0..SHOWTIMES_EACH {
            let slot = m * SHOWTIMES_EACH + k;
            let start = tomorrow + chrono::Duration::minutes(135 * (slot / 4) as i64);
            fx.showtime(&movie, &screens[slot % 4], start, "11.50")
                .await?;
        }
    }
    Ok(())
}
