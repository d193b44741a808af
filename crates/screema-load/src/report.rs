//! A scenario's results: figures, checks that must hold, notes, as Markdown and JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::stats::Latency;

#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub command: String,
    pub started_at: String,
    pub elapsed_seconds: f64,
    pub operations: Vec<Latency>,
    /// Named figures that are not latencies (seats sold, KiB per connection, ...).
    pub figures: Vec<(String, String)>,
    pub checks: Vec<Check>,
    pub server_rss_kib: Option<u64>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub what: String,
    pub passed: bool,
    pub detail: String,
}

impl Report {
    pub fn new(scenario: &str, command: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            command: command.to_owned(),
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            elapsed_seconds: 0.0,
            operations: Vec::new(),
            figures: Vec::new(),
            checks: Vec::new(),
            server_rss_kib: None,
            notes: Vec::new(),
        }
    }

    pub fn figure(&mut self, name: &str, value: impl ToString) {
        self.figures.push((name.to_owned(), value.to_string()));
    }

    pub fn check(&mut self, what: &str, passed: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            what: what.to_owned(),
            passed,
            detail: detail.into(),
        });
    }

    pub fn failed_checks(&self) -> usize {
        self.checks.iter().filter(|c| !c.passed).count()
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### {}\n", self.scenario);
        let _ = writeln!(
            s,
            "`{}` at {}, {:.1} s\n",
            self.command, self.started_at, self.elapsed_seconds
        );
        if !self.operations.is_empty() {
            s.push_str(
                "| operation | ok | errors | per second | p50 ms | p90 ms | p99 ms | max ms |\n",
            );
            s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
            for o in &self.operations {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    o.name, o.ok, o.errors, o.per_second, o.p50_ms, o.p90_ms, o.p99_ms, o.max_ms
                );
            }
            s.push('\n');
            for o in self
                .operations
                .iter()
                .filter(|o| !o.errors_by_code.is_empty())
            {
                let codes: Vec<String> = o
                    .errors_by_code
                    .iter()
                    .map(|(c, n)| format!("{c} × {n}"))
                    .collect();
                let _ = writeln!(s, "- {} errors: {}", o.name, codes.join(", "));
            }
        }
        for (name, value) in &self.figures {
            let _ = writeln!(s, "- {name}: {value}");
        }
        if let Some(kib) = self.server_rss_kib {
            let _ = writeln!(
                s,
                "- server resident memory at the end: {:.1} MiB",
                kib as f64 / 1024.0
            );
        }
        for c in &self.checks {
            let mark = if c.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(s, "- check {mark}: {} ({})", c.what, c.detail);
        }
        for n in &self.notes {
            let _ = writeln!(s, "- note: {n}");
        }
        s
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let md = dir.join(format!("{}.md", self.scenario));
        let json = dir.join(format!("{}.json", self.scenario));
        std::fs::write(&md, self.markdown())?;
        std::fs::write(&json, serde_json::to_vec_pretty(self)?)?;
        Ok((md, json))
    }
}
