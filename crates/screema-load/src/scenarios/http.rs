//! `health` (the HTTP ceiling: the cheapest route the server has) and `catalog` (the
//! query a home screen sends), each from `--connections` clients as fast as they can.

use std::time::Instant;

use chrono::Utc;
use serde_json::{Value, json};

use super::{Budget, hammer, phase, progress};
use crate::args::Args;
use crate::client::Api;
use crate::fixtures::{Fixtures, layout};
use crate::report::Report;

/// The home screen: 20 films and the next 10 showtimes of each.
pub const CATALOG_QUERY: &str = "{ movies(limit: 20) { movies { id title showtimes(limit: 10) { id startTime basePrice { amount } } } } }";

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let catalog = args.scenario == "catalog";
    let api = Api::new(&args.url, args.connections)?;
    if catalog {
        prepare_catalog(args, &api, report).await?;
    }
    let budget = Budget::new(args);
    let bar = progress(&args.scenario, args.duration, budget.clone());
    let started = Instant::now();
    let all = hammer(args.connections, budget, move || {
        let api = api.clone();
        async move {
            if catalog {
                api.gql(None, CATALOG_QUERY, Value::Null).await.map(|_| ())
            } else {
                api.get("/health/live").await.map(|_| ())
            }
        }
    })
    .await?;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    report.elapsed_seconds = elapsed.as_secs_f64();
    let name = if catalog {
        "movies(limit: 20) query"
    } else {
        "GET /health/live"
    };
    report.operations.push(all.summary(name, elapsed));
    report.figure("connections", args.connections);
    Ok(())
}

/// A home screen of 20 films with three showtimes each, unless the catalog has that
/// many films already; reports the size of the answer the benchmark measures.
async fn prepare_catalog(args: &Args, api: &Api, report: &mut Report) -> anyhow::Result<()> {
    let page = api
        .gql(None, CATALOG_QUERY, Value::Null)
        .await
        .map_err(|f| anyhow::anyhow!("{f}"))?;
    let have = page["movies"]["movies"].as_array().map_or(0, Vec::len);
    if have < 20 {
        phase("preparing 20 films with 3 showtimes each");
        let mut fx = Fixtures::new(args, 4).await?;
        let (room, _) = layout(10, 16)?;
        let mut screens = Vec::new();
        for _ in 0..4 {
            screens.push(fx.screen(&room).await?);
        }
        let tomorrow = Utc::now() + chrono::Duration::days(1);
        for m in 0..20 {
            let movie = fx.movie(&format!("Load film {m} ({})", fx.run)).await?;
            for k in 0..3 {
                let slot = m * 3 + k;
                let start = tomorrow + chrono::Duration::minutes(135 * (slot / 4) as i64);
                fx.showtime(&movie, &screens[slot % 4], start, "11.50")
                    .await?;
            }
        }
    }
    let page = api
        .gql(None, CATALOG_QUERY, json!({}))
        .await
        .map_err(|f| anyhow::anyhow!("{f}"))?;
    let movies = page["movies"]["movies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let showtimes: usize = movies
        .iter()
        .map(|m| m["showtimes"].as_array().map_or(0, Vec::len))
        .sum();
    report.figure(
        "answer",
        format!(
            "{} films, {showtimes} showtimes, {} bytes of JSON",
            movies.len(),
            page.to_string().len()
        ),
    );
    Ok(())
}
