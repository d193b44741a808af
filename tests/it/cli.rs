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

#[test]
fn help_tells_a_newcomer_what_exists() {
    let (ok, out, err) = screema(&["--help"], &[]);
    assert!(ok, "{err}");
    let out = out.to_lowercase();
    for (command, says) in [
        ("serve", "serve the api"),
        ("migrate", "migrations"),
        ("seed", "demo catalog"),
        ("print-schema", "graphql schema"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(command) && l.contains(says)),
            "{command}: {out}"
        );
    }
    assert!(out.contains("screema serve --help"), "{out}");
    // No command at all shows the same and succeeds, as before.
    let (ok, bare, _) = screema(&[], &[]);
    assert!(ok);
    assert!(bare.contains("print-schema"), "{bare}");

    let (ok, serve, err) = screema(&["serve", "--help"], &[]);
    assert!(ok, "{err}");
    assert!(serve.contains("Usage: screema serve"), "{serve}");
    for variable in [
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET",
        "HOLD_TTL_SECONDS",
        "SMTP_PASSWORD",
    ] {
        assert!(serve.contains(variable), "{variable}: {serve}");
    }
    assert!(serve.contains("10m"), "durations' units: {serve}");
    let (ok, help, _) = screema(&["help", "migrate"], &[]);
    assert!(ok && help.contains("DATABASE_URL"), "{help}");
}

#[test]
fn a_bad_flag_is_refused_naming_it() {
    let (ok, _, err) = screema(&["serve", "--port", "80"], &[]);
    assert!(!ok);
    assert!(err.contains("--port"), "{err}");
}

#[test]
fn a_bad_duration_names_its_variable_and_the_units_it_takes() {
    let (ok, _, err) = screema(
        &["migrate"],
        &[
            ("HOLD_TTL_SECONDS", "ten minutes"),
            ("DATABASE_URL", "postgres://u:p@127.0.0.1:1/x"),
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("HOLD_TTL_SECONDS") && err.contains("10m"),
        "{err}"
    );
}
