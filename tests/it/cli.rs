//! The binary's command line and its refusal of unsafe configuration.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn screema(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_screema"));
    cmd.args(args);
    for key in [
        "APP_ENV",
        "JWT_SECRET",
        "STRIPE_WEBHOOK_SECRET",
        "BIND_ADDR",
        "DATABASE_URL",
    ] {
        cmd.env_remove(key);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn production_refuses_to_start_with_a_default_secret_and_names_it() {
    let (ok, _, err) = screema(&["serve"], &[("APP_ENV", "production")]);
    assert!(!ok);
    assert!(err.contains("JWT_SECRET"), "{err}");
    let secret = "a-production-secret-that-is-long-enough-0123456789";
    let (ok, _, err) = screema(
        &["serve"],
        &[("APP_ENV", "production"), ("JWT_SECRET", secret)],
    );
    assert!(!ok);
    assert!(err.contains("STRIPE_WEBHOOK_SECRET"), "{err}");
}

#[test]
fn a_bad_value_names_its_variable() {
    let (ok, _, err) = screema(&["migrate"], &[("BIND_ADDR", "not-an-address")]);
    assert!(!ok);
    assert!(err.contains("BIND_ADDR"), "{err}");
    let (ok, _, err) = screema(&["migrate"], &[("DATABASE_URL", "mysql://nope")]);
    assert!(!ok);
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn unknown_commands_show_the_usage() {
    let (ok, _, err) = screema(&["fly"], &[]);
    assert!(!ok);
    assert!(
        err.contains("unknown command `fly`") && err.contains("print-schema"),
        "{err}"
    );
    let (ok, out, _) = screema(&["--help"], &[]);
    assert!(ok);
    for command in ["serve", "migrate", "seed", "print-schema"] {
        assert!(out.contains(command));
    }
}
