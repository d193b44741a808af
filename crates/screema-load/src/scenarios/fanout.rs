//! `fanout`: a premiere's sale, issue 22's fan-out target. `--subscribers` (19,000)
//! `seatMap` subscribers on ONE showtime of `--seats` seats, then `--changes` (10) seat
//! changes one at a time, each a `lockSeats` of one seat by a customer; the next
//! change waits until every subscriber has the last one (or 30 s), and a pause more,
//! so each is measured alone. For each change: the time from just before its request
//! is sent to each subscriber having read it (the same `Subscriber` the other scenarios
//! use: parsed, applied to its map), its median and its last subscriber; over all
//! changes, the last subscriber's p50 and p99 and every delivery's. Memory per
//! subscriber: the server's resident memory with the subscribers less before, divided
//! by them. CPU: the server's and the tool's, from each change sent to its last
//! delivery.
//!
//! Then the same, with the same client, against the ceiling: a raw websocket broadcast
//! server (`screema-load broadcast-server`, [`crate::broadcast`]) that this scenario
//! starts as a child process on the same machine and stops at the end. It is given the
//! frames SCREEMA sent in the first leg (one subscriber keeps them as they came): its
//! snapshot of the showtime for every new subscriber, and for each change the events
//! SCREEMA sent for it, broadcast through its control socket. Same bytes on the wire,
//! same number of subscribers and of changes; only the server differs. The first leg's
//! sockets are closed before the second's open: the tool holds one descriptor a
//! subscriber, and the subscribers are capped below its open-file limit.
//!
//! The ratios and issue 22's targets (last subscriber's p99 ≤ 250 ms and within 1.5×
//! the raw server's; memory within the raw server's + 2 KiB a subscriber) are figures:
//! a target missed is reported, not failed. Every subscriber getting every change, in
//! both legs, is a check.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::phase;
use crate::args::Args;
use crate::fixtures::{Fixtures, User};
use crate::report::Report;
use crate::stats::{Recorder, cpu_seconds, rss_kib};
use crate::ws::{Socket, Subscriber};
use screema::db::enums::Role;

const CONNECTING_AT_ONCE: usize = 256;
/// After every subscriber has a change, before the next.
const PAUSE: Duration = Duration::from_millis(500);
/// The longest a change may take to reach every subscriber before the next is made.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Descriptors the tool keeps for itself (HTTP pool, database, the raw server's pipes):
/// `scripts/load.sh` leaves the same 150.
const OWN_DESCRIPTORS: usize = 150;

/// Issue 22's targets.
const TARGET_P99_MS: f64 = 250.0;
const TARGET_RATIO: f64 = 1.5;
const TARGET_EXTRA_KIB: f64 = 2.0;

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let wanted = within_open_file_limit(args.subscribers, report);
    phase(&format!("preparing one showtime of {} seats", args.seats));
    let mut fx = Fixtures::new(args, 2).await?;
    let movie = fx.movie(&format!("Premiere {}", fx.run)).await?;
    let (showtimes, seats) = fx.showtimes(&movie, 1, args.seats, "12.00").await?;
    let showtime = showtimes
        .first()
        .context("no showtime was created")?
        .clone();
    let changes = args.changes.min(seats.len());
    let seats = seats[..changes].to_vec();
    // At most 10 seats a customer and showtime.
    let holders = fx.users(changes.div_ceil(10), Role::Customer).await?;

    let mut trigger = Trigger::Screema {
        fx: &fx,
        holders: &holders,
        showtime: &showtime,
        seats: &seats,
    };
    let screema = leg(
        "SCREEMA",
        &args.ws_url(),
        &showtime,
        wanted,
        args.server_pid,
        &seats,
        &mut trigger,
    )
    .await?;
    let replay = Replay::of(&screema)?;

    phase("starting the raw broadcast server");
    let raw_server = RawServer::start().await?;
    let mut control = raw_server.control().await?;
    let ok = command(&mut control, &format!("snapshot\n{}", replay.snapshot)).await?;
    if ok != "ok" {
        bail!("the raw server refused the snapshot: {ok}");
    }
    let mut trigger = Trigger::Raw {
        control: &mut control,
        commands: replay.commands(),
        handed: Vec::new(),
    };
    let raw = leg(
        "raw server",
        &format!("ws://{}/graphql", raw_server.addr),
        &showtime,
        wanted,
        Some(raw_server.pid()),
        &seats,
        &mut trigger,
    )
    .await?;
    let handed = match trigger {
        Trigger::Raw { handed, .. } => handed,
        Trigger::Screema { .. } => Vec::new(),
    };
    let _ = control.close(None).await;
    drop(raw_server);

    report.figure(
        "setting",
        format!(
            "{wanted} subscribers on one showtime of {} seats; {changes} changes of one seat, one at a time (the next {} ms after every subscriber has the last); \
             then the same client against a raw broadcast server (`screema-load broadcast-server`: tokio-tungstenite, one frame shared by every socket, \
             a child process of the tool on the same machine)",
            args.seats,
            PAUSE.as_millis()
        ),
    );
    report.figure(
        "frames (SCREEMA's own, kept by one subscriber and replayed to the raw server)",
        format!(
            "snapshot {} bytes; events per change: {}",
            replay.snapshot.len(),
            replay
                .groups
                .iter()
                .map(|g| {
                    let sizes: Vec<String> = g.iter().map(|f| f.len().to_string()).collect();
                    format!("{} bytes", sizes.join(" + "))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    if !handed.is_empty() {
        report.figure(
            "raw server: subscriptions each broadcast was handed to",
            format!(
                "{}..{}",
                handed.iter().min().copied().unwrap_or(0),
                handed.iter().max().copied().unwrap_or(0)
            ),
        );
    }
    for l in [&screema, &raw] {
        l.report(report, wanted);
    }
    compare(report, &screema, &raw);
    report.notes.push(
        "time runs from just before the change is sent (SCREEMA: the lockSeats request, so it includes the hold itself; \
         the raw server: the control message) to the subscriber having parsed the event"
            .to_owned(),
    );
    Ok(())
}

/// The subscribers that fit below the tool's open-file limit (one descriptor each).
fn within_open_file_limit(wanted: usize, report: &mut Report) -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse::<usize>()
                .ok()
        });
    match limit {
        Some(limit) if wanted + OWN_DESCRIPTORS > limit => {
            let capped = limit.saturating_sub(OWN_DESCRIPTORS).max(1);
            report.notes.push(format!(
                "{wanted} subscribers asked for; the open-file limit is {limit}: capped at {capped}"
            ));
            capped
        }
        _ => wanted,
    }
}

/// What makes one change: a hold on SCREEMA, or a broadcast by the raw server.
enum Trigger<'a> {
    Screema {
        fx: &'a Fixtures,
        holders: &'a [User],
        showtime: &'a str,
        seats: &'a [String],
    },
    Raw {
        control: &'a mut Socket,
        /// For each change, the control messages that broadcast its frames.
        commands: Vec<Vec<String>>,
        /// How many subscriptions each broadcast was handed to.
        handed: Vec<usize>,
    },
}

impl Trigger<'_> {
    /// Makes change `k`; an error is a code for the report.
    async fn fire(&mut self, k: usize) -> Result<(), String> {
        match self {
            Trigger::Screema {
                fx,
                holders,
                showtime,
                seats,
            } => {
                let holder = holders.get(k / 10).ok_or("NO_HOLDER")?;
                let seat = seats.get(k).ok_or("NO_SEAT")?;
                fx.api
                    .lock(&holder.token, showtime, std::slice::from_ref(seat))
                    .await
                    .map(|_| ())
                    .map_err(|f| f.code)
            }
            Trigger::Raw {
                control,
                commands,
                handed,
            } => {
                for c in commands.get(k).ok_or("NO_FRAME")? {
                    let answer = command(control, c).await.map_err(|_| "CONTROL")?;
                    handed.push(answer.parse().map_err(|_| "CONTROL")?);
                }
                Ok(())
            }
        }
    }
}

/// One leg's measurements.
struct Leg {
    name: &'static str,
    connected: usize,
    refused: HashMap<String, u64>,
    opened_in: Duration,
    /// The server's resident memory before connecting and after, KiB.
    rss: Option<(u64, u64)>,
    /// CPU seconds from each change sent to its last delivery, summed: the server's
    /// and the tool's.
    server_cpu: Option<f64>,
    tool_cpu: Option<f64>,
    /// The whole machine's busy CPU seconds over the same windows (`/proc/stat`).
    machine_cpu: Option<f64>,
    /// Those windows, summed.
    windows: Duration,
    trigger: Recorder,
    all: Recorder,
    last: Recorder,
    /// For each change: median and last subscriber, and how many had it.
    per_change: Vec<(Duration, Duration, usize)>,
    complete: usize,
    gaps: u64,
    resyncs: u64,
    /// The changes phase, pauses included.
    elapsed: Duration,
    /// When each change was sent.
    sent: Vec<Instant>,
    /// The first subscriber's `next` messages as they came.
    frames: Vec<(Utf8Bytes, Instant)>,
}

async fn leg(
    name: &'static str,
    ws_url: &str,
    showtime: &str,
    wanted: usize,
    pid: Option<u32>,
    seats: &[String],
    trigger: &mut Trigger<'_>,
) -> anyhow::Result<Leg> {
    let before = pid.and_then(rss_kib);
    phase(&format!(
        "{name}: opening {wanted} subscribers on one showtime"
    ));
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let open_started = Instant::now();
    let mut opening = Vec::with_capacity(wanted);
    for i in 0..wanted {
        let (url, showtime, gate) = (ws_url.to_owned(), showtime.to_owned(), gate.clone());
        opening.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let sub = if i == 0 {
                Subscriber::open_keeping_frames(&url, &showtime).await
            } else {
                Subscriber::open(&url, &showtime, None).await
            };
            drop(permit);
            sub
        }));
    }
    let (subs, refused) = super::opened(opening).await?;
    let opened_in = open_started.elapsed();
    // Let the server settle (handshakes done, buffers freed) before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = pid.and_then(rss_kib);
    let connected = subs.len();

    // Every subscriber reads until told to stop, counting the changes it has.
    let index: Arc<HashMap<String, usize>> = Arc::new(
        seats
            .iter()
            .enumerate()
            .map(|(k, s)| (s.clone(), k))
            .collect(),
    );
    let counters: Arc<Vec<AtomicUsize>> =
        Arc::new(seats.iter().map(|_| AtomicUsize::new(0)).collect());
    let (stop, stopped) = watch::channel(false);
    let readers: Vec<_> = subs
        .into_iter()
        .map(|mut sub| {
            let (index, counters, mut stopped) = (index.clone(), counters.clone(), stopped.clone());
            tokio::spawn(async move {
                let mut looked = 0;
                loop {
                    tokio::select! {
                        read = sub.next_event() => if read.is_err() { break },
                        _ = stopped.changed() => break,
                    }
                    for (seat, state, _) in &sub.arrivals[looked..] {
                        if let (Some(k), "HELD") = (index.get(seat), state.as_str())
                            && let Some(c) = counters.get(*k)
                        {
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    looked = sub.arrivals.len();
                }
                sub
            })
        })
        .collect();
    drop(stopped);

    phase(&format!("{name}: {} changes, one at a time", seats.len()));
    let mut trigger_rec = Recorder::new();
    let mut sent = Vec::with_capacity(seats.len());
    let (mut server_cpu, mut tool_cpu, mut machine_cpu) = (Some(0.0), Some(0.0), Some(0.0));
    let me = std::process::id();
    let mut windows = Duration::ZERO;
    let started = Instant::now();
    for (k, counter) in counters.iter().enumerate() {
        let cpu_before = (
            pid.and_then(cpu_seconds),
            cpu_seconds(me),
            machine_busy_seconds(),
        );
        let t = Instant::now();
        sent.push(t);
        match trigger.fire(k).await {
            Ok(()) => trigger_rec.ok(t.elapsed()),
            Err(code) => trigger_rec.error(&code),
        }
        let until = t + CHANGE_TIMEOUT;
        while counter.load(Ordering::Relaxed) < connected && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        windows += t.elapsed();
        let cpu_after = (
            pid.and_then(cpu_seconds),
            cpu_seconds(me),
            machine_busy_seconds(),
        );
        let used = |b: Option<f64>, a: Option<f64>| Some((a? - b?).max(0.0));
        server_cpu = server_cpu
            .zip(used(cpu_before.0, cpu_after.0))
            .map(|(s, u)| s + u);
        tool_cpu = tool_cpu
            .zip(used(cpu_before.1, cpu_after.1))
            .map(|(s, u)| s + u);
        machine_cpu = machine_cpu
            .zip(used(cpu_before.2, cpu_after.2))
            .map(|(s, u)| s + u);
        tokio::time::sleep(PAUSE).await;
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);

    let mut latencies: Vec<Vec<Duration>> = vec![Vec::with_capacity(connected); seats.len()];
    let mut all = Recorder::new();
    let (mut complete, mut gaps, mut resyncs) = (0, 0, 0);
    let mut frames = Vec::new();
    let mut closing = Vec::with_capacity(connected);
    for r in readers {
        let mut sub = r.await?;
        gaps += sub.gaps;
        resyncs += sub.snapshots.saturating_sub(1);
        let mut had = vec![false; seats.len()];
        for (seat, state, at) in &sub.arrivals {
            let Some(&k) = index.get(seat) else { continue };
            if state != "HELD" || had[k] {
                continue;
            }
            had[k] = true;
            let took = at.saturating_duration_since(sent[k]);
            all.ok(took);
            latencies[k].push(took);
        }
        if had.iter().all(|h| *h) {
            complete += 1;
        } else {
            all.error("CHANGE_NOT_SEEN");
        }
        if let Some(kept) = sub.frames.take() {
            frames = kept;
        }
        closing.push(tokio::spawn(sub.close()));
    }
    // Every socket closed before the next leg opens its own.
    for c in closing {
        let _ = c.await;
    }
    let mut last = Recorder::new();
    let per_change = latencies
        .iter_mut()
        .map(|l| {
            l.sort_unstable();
            let median = l.get(l.len() / 2).copied().unwrap_or_default();
            let slowest = l.last().copied().unwrap_or_default();
            if !l.is_empty() {
                last.ok(slowest);
            }
            (median, slowest, l.len())
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(Leg {
        name,
        connected,
        refused,
        opened_in,
        rss: before.zip(after),
        server_cpu: pid.and(server_cpu),
        tool_cpu,
        machine_cpu,
        windows,
        trigger: trigger_rec,
        all,
        last,
        per_change,
        complete,
        gaps,
        resyncs,
        elapsed,
        sent,
        frames,
    })
}

impl Leg {
    fn kib_per_subscriber(&self) -> Option<f64> {
        let (b, a) = self.rss?;
        Some(a.saturating_sub(b) as f64 / self.connected.max(1) as f64)
    }

    fn last_p99_ms(&self) -> f64 {
        self.last.summary("", self.elapsed).p99_ms
    }

    fn report(&self, report: &mut Report, wanted: usize) {
        let name = self.name;
        let trigger = if name == "SCREEMA" {
            "lockSeats of one seat (the change)"
        } else {
            "broadcast asked (the control socket's answer)"
        };
        report.operations.push(
            self.trigger
                .summary(&format!("{name}: {trigger}"), self.elapsed),
        );
        report.operations.push(self.last.summary(
            &format!("{name}: change sent → the last subscriber has it"),
            self.elapsed,
        ));
        report.operations.push(self.all.summary(
            &format!("{name}: change sent → each subscriber has it"),
            self.elapsed,
        ));
        report.figure(
            &format!("{name}: subscribers connected"),
            format!(
                "{} of {wanted} in {:.1} s ({} refused: {:?})",
                self.connected,
                self.opened_in.as_secs_f64(),
                self.refused.values().sum::<u64>(),
                self.refused
            ),
        );
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        report.figure(
            &format!("{name}: each change, median / last subscriber (ms)"),
            self.per_change
                .iter()
                .map(|(m, l, _)| format!("{:.1} / {:.1}", ms(m), ms(l)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        if let (Some(per), Some((b, a))) = (self.kib_per_subscriber(), self.rss) {
            report.figure(
                &format!("{name}: memory per subscriber"),
                format!("{per:.2} KiB ({b} KiB before connecting, {a} KiB after)"),
            );
        }
        let changes = self.per_change.len().max(1) as f64;
        let per_change = |s: Option<f64>| {
            s.map(|s| format!("{:.1} ms", 1000.0 * s / changes))
                .unwrap_or_else(|| "not measured".to_owned())
        };
        // The machine is shared: what else ran (Postgres and Redis for SCREEMA's hold,
        // and anything else: a compiler) shows how far the figures can be trusted.
        let rest = self
            .machine_cpu
            .zip(self.tool_cpu)
            .map(|(m, t)| (m - t - self.server_cpu.unwrap_or(0.0)).max(0.0));
        report.figure(
            &format!(
                "{name}: CPU a change, sent to last delivery (server; load tool; the rest of the machine; the whole machine, of {:.0} ms on {} cores)",
                1000.0 * self.windows.as_secs_f64() / changes,
                std::thread::available_parallelism().map_or(0, |n| n.get())
            ),
            format!(
                "{}; {}; {}; {}",
                per_change(self.server_cpu),
                per_change(self.tool_cpu),
                per_change(rest),
                per_change(self.machine_cpu)
            ),
        );
        report.check(
            &format!("{name}: every subscriber got every change"),
            self.complete == self.connected && self.connected == wanted,
            format!(
                "{} of {} subscribers complete, {wanted} wanted; {} version gaps, {} resyncs",
                self.complete, self.connected, self.gaps, self.resyncs
            ),
        );
    }
}

/// CPU seconds the whole machine has spent busy (every core, `/proc/stat`'s first
/// line: all but idle and iowait, in USER_HZ, 100 a second on Linux).
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is within user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| !matches!(i, 3 | 4))
        .map(|(_, t)| t)
        .sum();
    Some(busy as f64 / 100.0)
}

/// SCREEMA against the raw server, and issue 22's targets, as figures.
fn compare(report: &mut Report, screema: &Leg, raw: &Leg) {
    let (s99, r99) = (screema.last_p99_ms(), raw.last_p99_ms());
    let ratio = s99 / r99.max(1e-3);
    let yes = |met: bool| if met { "yes" } else { "no" };
    report.figure(
        "SCREEMA ÷ raw server, the last subscriber's p99",
        format!("{ratio:.2}× ({s99:.1} against {r99:.1} ms)"),
    );
    report.figure(
        &format!("target: the last subscriber's p99 ≤ {TARGET_P99_MS} ms"),
        format!("met: {} ({s99:.1} ms)", yes(s99 <= TARGET_P99_MS)),
    );
    report.figure(
        &format!("target: the last subscriber's p99 within {TARGET_RATIO}× the raw server's"),
        format!("met: {} ({ratio:.2}×)", yes(ratio <= TARGET_RATIO)),
    );
    match (screema.kib_per_subscriber(), raw.kib_per_subscriber()) {
        (Some(s), Some(r)) => {
            report.figure(
                "SCREEMA − raw server, memory per subscriber",
                format!("{:+.2} KiB ({s:.2} against {r:.2} KiB)", s - r),
            );
            report.figure(
                &format!(
                    "target: memory per subscriber ≤ the raw server's + {TARGET_EXTRA_KIB} KiB"
                ),
                format!(
                    "met: {} ({:+.2} KiB)",
                    yes(s - r <= TARGET_EXTRA_KIB),
                    s - r
                ),
            );
        }
        _ => report.figure(
            &format!("target: memory per subscriber ≤ the raw server's + {TARGET_EXTRA_KIB} KiB"),
            "not measured (give --server-pid)",
        ),
    }
}

/// SCREEMA's frames, for the raw server: its snapshot, and each change's events.
struct Replay {
    snapshot: Utf8Bytes,
    groups: Vec<Vec<Utf8Bytes>>,
}

impl Replay {
    /// Splits the first subscriber's frames by the change they followed.
    fn of(leg: &Leg) -> anyhow::Result<Self> {
        let mut frames = leg.frames.iter();
        let (snapshot, _) = frames
            .next()
            .context("the subscriber that keeps SCREEMA's frames has none")?;
        let mut groups = vec![Vec::new(); leg.sent.len()];
        for (frame, at) in frames {
            // The last change sent at or before the frame came.
            if let Some(k) = leg.sent.iter().rposition(|s| s <= at) {
                groups[k].push(frame.clone());
            }
        }
        if let Some(k) = groups.iter().position(Vec::is_empty) {
            bail!("SCREEMA sent the subscriber that keeps its frames nothing after change {k}");
        }
        Ok(Self {
            snapshot: snapshot.clone(),
            groups,
        })
    }

    /// The control messages that broadcast each change's frames.
    fn commands(&self) -> Vec<Vec<String>> {
        self.groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|f| format!("broadcast\n{}", f.as_str()))
                    .collect()
            })
            .collect()
    }
}

/// The raw broadcast server: this same binary, `broadcast-server`, as a child process.
/// Dropping it kills it.
struct RawServer {
    child: Child,
    addr: String,
}

impl RawServer {
    async fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding the load tool's own binary")?;
        let mut child = Command::new(exe)
            .args(["broadcast-server", "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the raw broadcast server")?;
        let stdout = child.stdout.take();
        // Killed on the way out from here on, whatever happens.
        let mut server = Self {
            child,
            addr: String::new(),
        };
        let stdout = stdout.context("the raw server's standard output")?;
        let first_line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = tokio::time::timeout(Duration::from_secs(10), first_line)
            .await
            .context("the raw server did not say where it listens within 10 s")???;
        server.addr = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("the raw server said `{}`", line.trim()))?
            .to_owned();
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn control(&self) -> anyhow::Result<Socket> {
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/control", self.addr)).await?;
        Ok(socket)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One control command and its answer.
async fn command(control: &mut Socket, text: &str) -> anyhow::Result<String> {
    control.send(Message::text(text)).await?;
    loop {
        match control
            .next()
            .await
            .context("the raw server closed its control socket")??
        {
            Message::Text(answer) => return Ok(answer.as_str().to_owned()),
            Message::Close(_) => bail!("the raw server closed its control socket"),
            _ => continue,
        }
    }
}
