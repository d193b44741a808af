//! Per-worker recorders (no shared lock on the hot path), merged when the run ends.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies of one operation, in microseconds, from 1 µs to 5 minutes at 3 significant
/// figures, with its errors counted by code.
///
/// A histogram of that range is about 240 KiB of counters, zeroed when made. Scenarios
/// keep a recorder per buyer and merge them at the end, so a recorder starts as a plain
/// list of samples and makes its histogram only when the list grows long or when it is
/// merged into: a flash sale's 5,000 buyers zeroed 4.8 GB of counters while the server
/// was measured (perf: `memset` was the tool's first cost).
pub struct Recorder {
    hist: Option<Histogram<u64>>,
    samples: Vec<u64>,
    pub errors: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// Samples kept as a list before they go into a histogram.
const LISTED: usize = 1024;

fn histogram() -> Histogram<u64> {
    // 1 µs .. 300 s at 3 significant figures is a valid range by construction.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, 300_000_000, 3).expect("valid histogram bounds")
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            hist: None,
            samples: Vec::new(),
            errors: BTreeMap::new(),
        }
    }

    pub fn ok(&mut self, took: Duration) {
        let micros = (took.as_micros() as u64).clamp(1, 300_000_000);
        self.samples.push(micros);
        if self.samples.len() >= LISTED {
            self.settle();
        }
    }

    /// Moves the listed samples into the histogram.
    fn settle(&mut self) {
        let hist = self.hist.get_or_insert_with(histogram);
        for micros in self.samples.drain(..) {
            hist.saturating_record(micros);
        }
    }

    /// How many succeeded.
    pub fn count(&self) -> u64 {
        self.hist.as_ref().map_or(0, Histogram::len) + self.samples.len() as u64
    }

    pub fn error(&mut self, code: &str) {
        *self.errors.entry(code.to_owned()).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Recorder) {
        let hist = self.hist.get_or_insert_with(histogram);
        if let Some(theirs) = &other.hist {
            // Same bounds on both sides, so adding cannot fail.
            let _ = hist.add(theirs);
        }
        for micros in &other.samples {
            hist.saturating_record(*micros);
        }
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += n;
        }
    }

    pub fn summary(&self, name: &str, elapsed: Duration) -> Latency {
        let mut all = histogram();
        if let Some(hist) = &self.hist {
            let _ = all.add(hist);
        }
        for micros in &self.samples {
            all.saturating_record(*micros);
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        let secs = elapsed.as_secs_f64().max(1e-9);
        Latency {
            name: name.to_owned(),
            ok: all.len(),
            errors: self.errors.values().sum(),
            per_second: all.len() as f64 / secs,
            p50_ms: ms(all.value_at_quantile(0.50)),
            p90_ms: ms(all.value_at_quantile(0.90)),
            p99_ms: ms(all.value_at_quantile(0.99)),
            max_ms: ms(all.max()),
            errors_by_code: self.errors.clone(),
        }
    }
}

/// One operation's figures as the report prints them.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub name: String,
    pub ok: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors_by_code: BTreeMap<String, u64>,
}

/// The resident memory of a process, from /proc (Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// CPU time (user and system) a process has used, from `/proc/<pid>/stat`, in
/// seconds (the kernel counts it in USER_HZ, 100 a second on Linux).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    // utime and stime are fields 14 and 15 of the line; 12 and 13 after the command.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// CPU seconds used so far by every process with this command name (all of
/// Postgres's backends, say); those that ended meanwhile are not counted.
pub fn cpu_seconds_named(name: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(cpu_seconds)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_recorders_give_percentiles_and_errors_by_code() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for ms in 1..=100 {
            a.ok(Duration::from_millis(ms));
        }
        b.ok(Duration::from_secs(2));
        b.error("SEATS_UNAVAILABLE");
        b.error("SEATS_UNAVAILABLE");
        a.merge(&b);
        let s = a.summary("x", Duration::from_secs(101));
        assert_eq!(s.ok, 101);
        assert_eq!(s.errors_by_code["SEATS_UNAVAILABLE"], 2);
        assert!((s.p50_ms - 51.0).abs() < 0.1, "{}", s.p50_ms);
        assert!((s.max_ms - 2000.0).abs() < 2.0, "{}", s.max_ms);
        assert!((s.per_second - 1.0).abs() < 1e-9);
    }

    #[test]
    fn reads_its_own_resident_memory() {
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
