//! The integration tests, one binary with a module per area (as zero2prod's
//! `tests/api/main.rs` and crates.io's `src/tests/` do): one link instead of one per
//! file. Every test goes through the public HTTP API or the `screema` binary, with its
//! own database, Redis key prefix and server (`common`). Run one area with
//! `scripts/test.sh <module>::`, e.g. `scripts/test.sh booking::`.

mod common;

mod account_care;
mod admin_catalog;
mod analytics;
mod architecture;
mod auth;
mod batching;
mod best_holds;
mod best_seats;
mod blocked_seats;
mod booking;
mod catalog;
mod cli;
mod clients;
mod cluster;
mod counter_refunds;
mod counter_sales;
mod data_model;
mod door;
mod ended_showtimes;
mod exchange_payments;
mod exchanges;
mod faults;
mod holds;
mod http;
mod leaks;
mod limits;
mod live;
mod load_tool;
mod login_floods;
mod loyalty;
mod messages;
mod notifications;
mod paging;
mod partial_refunds;
mod payments;
mod profile;
mod promotions;
mod properties;
mod read_replica;
mod reports;
mod request_ids;
mod resume;
mod sale_queue;
mod schema;
mod schema_fuzz;
mod schema_rs;
mod seat_map_answers;
mod seat_map_fast_paths;
mod security;
mod seed;
mod sessions;
mod showtime_cancel;
mod showtime_changes;
mod shutdown;
mod ticket_types;
mod tickets;
mod trust;
mod vouchers;
mod waitlist;
