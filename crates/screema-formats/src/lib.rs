//! SCREEMA's formats that arrive from outside as bytes: seat layouts (`layout`, the
//! JSON an admin sends) and ticket codes (`ticket_code`, what a scanner reads).
//!
//! They live in this small crate, with none of the server's dependencies, so that the
//! cargo-fuzz targets in `fuzz/` build in under a minute instead of compiling the whole
//! server with coverage instrumentation (about 15 minutes on two cores), which is what
//! lets CI fuzz them on every change (`scripts/fuzz.sh 20` in `.ci/run`). `screema` re-exports them where they used to be:
//! `screema::catalog::layout` and `screema::tickets::code`.

pub mod layout;
pub mod ticket_code;
