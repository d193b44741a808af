//! The load tool (`screema-load`) itself, every scenario with small bounds against a
//! test's own servers, so that CI proves the benchmark command still runs and its
//! checks (no seat held or sold twice, every subscriber converged, every checkout
//! confirmed) still hold. The figures of a debug build on a shared machine mean
//! nothing and are not looked at; `scripts/load.sh` is where they are measured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestApp;
use secrecy::ExposeSecret;
use serde_json::Value;

/// The `screema-load` binary. It is another package of the workspace
/// (`crates/screema-load`), so Cargo defines no `CARGO_BIN_EXE_screema-load` here; it
/// lands in the same profile folder as this test binary (`target/debug/` beside
/// `target/debug/deps/it-…`), built by the same command when that command covers the
/// workspace (`scripts/test.sh` runs `cargo nextest run --workspace`).
/// `SCREEMA_LOAD_BIN` names another one.
fn load_tool() -> PathBuf {
    if let Some(path) = std::env::var_os("SCREEMA_LOAD_BIN") {
        return path.into();
    }
    let test_binary = std::env::current_exe().unwrap();
    let profile_dir = test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lies in target/<profile>/deps");
    let path = profile_dir.join(format!("screema-load{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p screema-load`, or run the tests \
         with scripts/test.sh, which builds it first",
        path.display()
    );
    path
}

/// What a report's checks check, in order.
fn check_names(report: &Value) -> Vec<&str> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect()
}

/// Runs one scenario to the end: its JSON report.
async fn run(app: &TestApp, scenario: &str, options: &[&str]) -> Value {
    let out = std::env::temp_dir().join(format!("screema-load-{}", uuid::Uuid::new_v4()));
    let url = format!("http://{}", app.addr);
    let mut command = Command::new(load_tool());
    command
        .arg(scenario)
        .args(["--url", &url, "--out", &out.display().to_string()])
        .args(options)
        .env("DATABASE_URL", app.app.config.database.url.expose_secret());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "screema-load {scenario} failed:\n{stdout}\n{stderr}"
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join(format!("{scenario}.json"))).unwrap())
            .unwrap();
    let _ = std::fs::remove_dir_all(&out);
    let checks = report["checks"].as_array().unwrap();
    assert!(
        checks.iter().all(|c| c["passed"] == true),
        "{scenario}: {checks:?}"
    );
    report
}

/// Every operation of the report succeeded at least once, and failed only with
/// `expected` (the refusal a race for the same seat is meant to get).
fn assert_operations(report: &Value, expected: Option<&str>) {
    let operations = report["operations"].as_array().unwrap();
    assert!(!operations.is_empty());
    for o in operations {
        assert!(o["ok"].as_u64().unwrap() > 0, "{o}");
        for (code, _) in o["errors_by_code"].as_object().unwrap() {
            assert_eq!(Some(code.as_str()), expected, "{o}");
        }
    }
}

#[tokio::test]
async fn the_http_scenarios_run_and_their_checks_hold() {
    let app = TestApp::new().await;
    for scenario in ["health", "catalog"] {
        let report = run(&app, scenario, &["--duration", "1", "--connections", "2"]).await;
        assert_operations(&report, None);
    }
    let report = run(
        &app,
        "holds",
        &["--duration", "2", "--connections", "4", "--showtimes", "2"],
    )
    .await;
    assert_operations(&report, Some("SEATS_UNAVAILABLE"));
    assert_eq!(
        report["checks"][0]["what"],
        "no seat held by two users at once"
    );
}

#[tokio::test]
async fn a_small_flash_sale_on_two_nodes_sells_every_seat_once() {
    let app = TestApp::new().await;
    let other = app.another_node().build().await;
    let also = format!("http://{}", other.addr);
    let report = run(
        &app,
        "flash-sale",
        &[
            "--also-url",
            &also,
            "--buyers",
            "60",
            "--seats",
            "20",
            "--subscribers",
            "6",
            "--connections",
            "8",
            "--duration",
            "30",
        ],
    )
    .await;
    assert_operations(&report, Some("SEATS_UNAVAILABLE"));
    let checks = check_names(&report);
    assert_eq!(
        checks,
        [
            "every seat sold",
            "no seat sold twice",
            "the API's bookings are the database's",
            "every subscriber's final map equals the database"
        ]
    );
}

#[tokio::test]
async fn a_small_best_available_sale_replays_every_hold_against_the_ranking() {
    let app = TestApp::new().await;
    let report = run(
        &app,
        "best-available",
        &[
            "--buyers",
            "60",
            "--seats",
            "80",
            "--connections",
            "8",
            "--duration",
            "30",
        ],
    )
    .await;
    assert_operations(&report, None);
    let checks = check_names(&report);
    assert_eq!(
        checks,
        [
            "no seat held or sold twice",
            "the API's bookings are the database's",
            "every hold was the best block left at its instant"
        ]
    );
    let replayed = report["checks"][2]["detail"].as_str().unwrap();
    assert!(!replayed.starts_with("0 of"), "{replayed}");
}

#[tokio::test]
async fn a_small_waiting_list_offers_every_freed_seat_once() {
    let app = TestApp::builder()
        .env("SWEEP_INTERVAL_MS", "50")
        .build()
        .await;
    let report = run(
        &app,
        "waitlist",
        &["--buyers", "30", "--seats", "40", "--connections", "8"],
    )
    .await;
    assert_operations(&report, None);
    let checks = check_names(&report);
    assert_eq!(
        checks,
        [
            "every freed seat was offered",
            "no seat was offered twice",
            "every offer reached its customer"
        ]
    );
}

#[tokio::test]
async fn a_small_queued_sale_sells_every_seat_once_to_buyers_let_in_once() {
    let app = TestApp::builder()
        .env("SWEEP_INTERVAL_MS", "50")
        .build()
        .await;
    let report = run(
        &app,
        "sale-queue",
        &[
            "--buyers",
            "120",
            "--subscribers",
            "40",
            "--seats",
            "20",
            "--connections",
            "8",
            "--duration",
            "60",
        ],
    )
    .await;
    assert_operations(&report, None);
    let checks: Vec<(&str, bool)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["what"].as_str().unwrap(), c["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        checks,
        [
            ("every seat sold, and once", true),
            ("the API's bookings are the database's", true),
            ("positions only go down", true),
            ("nobody let in twice", true),
            ("every follower's subscription behaved", true),
            ("not queued: no seat held twice", true),
        ],
        "{report:#}"
    );
}

#[tokio::test]
async fn subscribers_and_checkout_run_and_their_checks_hold() {
    let app = TestApp::new().await;
    let report = run(
        &app,
        "subscribers",
        &[
            "--subscribers",
            "40",
            "--showtimes",
            "2",
            "--connections",
            "2",
            "--duration",
            "2",
        ],
    )
    .await;
    assert_operations(&report, None);
    assert_eq!(
        report["checks"][0]["what"],
        "every subscriber saw every hold of its showtime"
    );
    let report = run(
        &app,
        "checkout",
        &["--connections", "4", "--duration", "2", "--showtimes", "2"],
    )
    .await;
    assert_operations(&report, None);
}

#[tokio::test]
async fn a_small_fanout_measures_screema_and_the_raw_broadcast_server() {
    let app = TestApp::new().await;
    let report = run(
        &app,
        "fanout",
        &["--subscribers", "20", "--changes", "3", "--seats", "40"],
    )
    .await;
    let checks = check_names(&report);
    assert_eq!(
        checks,
        [
            "SCREEMA: every subscriber got every change",
            "raw server: every subscriber got every change"
        ]
    );
    // Both legs measured every delivery: 20 subscribers × 3 changes each.
    for leg in ["SCREEMA", "raw server"] {
        let all = report["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == format!("{leg}: change sent → each subscriber has it"))
            .unwrap_or_else(|| panic!("no {leg} leg in {report:#}"));
        assert_eq!(
            (all["ok"].as_u64(), all["errors"].as_u64()),
            (Some(60), Some(0))
        );
    }
    // The targets are figures, reported whether met or not.
    let figures = report["figures"].as_array().unwrap();
    assert!(
        figures
            .iter()
            .any(|f| f[0] == "SCREEMA ÷ raw server, the last subscriber's p99"),
        "{figures:?}"
    );
}
