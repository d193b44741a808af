//! Command-line options, with per-scenario defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

#[derive(Clone, Debug)]
pub struct Args {
    pub scenario: String,
    pub url: String,
    /// Other nodes of the same deployment (`--also-url`, repeatable): the flash sale
    /// spreads its buyers and subscribers over all of them.
    pub also: Vec<String>,
    pub duration: Duration,
    pub requests: Option<u64>,
    pub connections: usize,
    pub buyers: usize,
    pub seats: usize,
    pub subscribers: usize,
    pub showtimes: usize,
    /// `fanout`: seat changes made one at a time, each measured alone.
    pub changes: usize,
    pub server_pid: Option<u32>,
    /// `peer`: a node of the same deployment with its catalog cache off.
    pub uncached_url: Option<String>,
    /// `peer`: the peer's base URL (PostGraphile; GraphQL at `/graphql`).
    pub peer_url: Option<String>,
    pub out: PathBuf,
    pub database_url: String,
    pub jwt_secret: String,
    /// The command line as typed, for the report.
    pub command: String,
}

pub const SCENARIOS: [&str; 11] = [
    "health",
    "catalog",
    "holds",
    "flash-sale",
    "best-available",
    "waitlist",
    "sale-queue",
    "subscribers",
    "fanout",
    "checkout",
    "peer",
];

impl Args {
    pub fn parse(argv: &[String]) -> anyhow::Result<Self> {
        let scenario = argv.first().cloned().unwrap_or_default();
        if !SCENARIOS.contains(&scenario.as_str()) {
            bail!("unknown scenario `{scenario}`");
        }
        let (connections, duration, subscribers, showtimes) = match scenario.as_str() {
            "health" | "catalog" => (8, 10, 0, 1),
            "holds" => (64, 10, 0, 40),
            "flash-sale" => (256, 60, 200, 1),
            "best-available" => (256, 60, 1, 1),
            "waitlist" => (64, 60, 0, 1),
            "sale-queue" => (256, 120, 2_000, 1),
            "subscribers" => (16, 20, 20_000, 4),
            // A premiere's sale: everyone on one showtime (issue 22).
            "fanout" => (16, 20, 19_000, 1),
            // Each of the peer's legs runs this long (three rounds of three legs).
            "peer" => (8, 5, 0, 1),
            _ => (128, 15, 0, 40),
        };
        let best = scenario == "best-available";
        let waitlist = scenario == "waitlist";
        let queue = scenario == "sale-queue";
        let mut args = Self {
            scenario,
            url: "http://127.0.0.1:8080".to_owned(),
            also: Vec::new(),
            duration: Duration::from_secs(duration),
            requests: None,
            connections,
            buyers: match (best, waitlist, queue) {
                (true, _, _) => 2_000,
                (_, true, _) => 500,
                (_, _, true) => 20_000,
                _ => 5_000,
            },
            seats: if best || queue { 1_000 } else { 200 },
            subscribers,
            showtimes,
            changes: 10,
            server_pid: None,
            uncached_url: None,
            peer_url: None,
            out: PathBuf::from("target/load"),
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| screema::config::DEFAULT_DATABASE_URL.to_owned()),
            jwt_secret: std::env::var("JWT_SECRET")
                .unwrap_or_else(|_| screema::config::DEFAULT_JWT_SECRET.to_owned()),
            command: format!("screema-load {}", argv.join(" ")),
        };
        let mut rest = argv[1..].iter();
        while let Some(flag) = rest.next() {
            let value = rest
                .next()
                .with_context(|| format!("`{flag}` needs a value"))?;
            let number = || -> anyhow::Result<u64> {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("`{flag}` expects a whole number > 0, got `{value}`"))
            };
            match flag.as_str() {
                "--url" => args.url = value.trim_end_matches('/').to_owned(),
                "--also-url" => args.also.push(value.trim_end_matches('/').to_owned()),
                "--duration" => args.duration = Duration::from_secs(number()?),
                "--requests" => args.requests = Some(number()?),
                "--connections" => args.connections = number()? as usize,
                "--buyers" => args.buyers = number()? as usize,
                "--seats" => args.seats = number()? as usize,
                "--subscribers" => args.subscribers = number()? as usize,
                "--showtimes" => args.showtimes = number()? as usize,
                "--changes" => args.changes = number()? as usize,
                "--server-pid" => args.server_pid = Some(number()? as u32),
                "--out" => args.out = PathBuf::from(value),
                "--uncached-url" => {
                    args.uncached_url = Some(value.trim_end_matches('/').to_owned())
                }
                "--peer-url" => args.peer_url = Some(value.trim_end_matches('/').to_owned()),
                other => bail!("unknown option `{other}`"),
            }
        }
        args.check_loopback()?;
        Ok(args)
    }

    /// A load tool pointed at someone else's server is an attack; only loopback is allowed.
    fn check_loopback(&self) -> anyhow::Result<()> {
        for url in self.nodes().chain(&self.uncached_url).chain(&self.peer_url) {
            check_loopback(url)?;
        }
        Ok(())
    }

    /// Every node's base URL, `--url` first.
    pub fn nodes(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.url).chain(&self.also)
    }

    pub fn ws_url(&self) -> String {
        ws_url(&self.url)
    }
}

pub fn ws_url(url: &str) -> String {
    format!("ws{}/graphql", &url["http".len()..])
}

fn check_loopback(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http://")?;
    let host = rest.split('/').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, _)) => h,
        None => host,
    };
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        bail!("--url must be on loopback (127.0.0.1, localhost or [::1]), got `{host}`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> anyhow::Result<Args> {
        let argv: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        Args::parse(&argv)
    }

    #[test]
    fn defaults_follow_the_scenario_and_flags_override_them() -> anyhow::Result<()> {
        let a = parse("catalog")?;
        assert_eq!(a.connections, 8);
        let a = parse("fanout --changes 3")?;
        assert_eq!((a.subscribers, a.showtimes, a.changes), (19_000, 1, 3));
        let a = parse("flash-sale --buyers 50 --seats 20 --url http://localhost:9000/")?;
        assert_eq!((a.buyers, a.seats), (50, 20));
        assert_eq!(a.ws_url(), "ws://localhost:9000/graphql");
        Ok(())
    }

    #[test]
    fn refuses_other_hosts_unknown_flags_and_bad_numbers() {
        assert!(parse("catalog --url http://example.com").is_err());
        assert!(parse("catalog --url http://10.0.0.1:8080").is_err());
        assert!(parse("flash-sale --also-url http://10.0.0.1:8081").is_err());
        assert!(parse("catalog --bogus 1").is_err());
        assert!(parse("catalog --connections 0").is_err());
        assert!(parse("catalog --connections").is_err());
        assert!(parse("everything").is_err());
    }
}
