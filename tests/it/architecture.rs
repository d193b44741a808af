//! The module graph keeps its layers (README.md, "Architecture"): domains import no
//! transport, infrastructure no domain, and no two modules import each other through
//! any path. `scripts/module-graph.py` is the check; this runs it with the suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_module_graph_has_no_cycles_and_keeps_its_layers() {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = std::env::var("SCREEMA_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(python)
        .arg(format!("{root}/scripts/module-graph.py"))
        .output()
        .expect("python runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("layers hold, no cycles"), "{report}");
}
