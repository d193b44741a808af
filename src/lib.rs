//! SCREEMA: a cinema seat-booking backend.
//!
//! Domains own their SQL, rules and GraphQL types (`catalog`, `seating`, `auth`, ...);
//! `graphql` assembles the schema; `http` serves it with health and metrics.

pub mod admin;
pub mod app;
pub mod auth;
pub mod booking;
pub mod box_office;
pub mod catalog;
pub mod checkout;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod door;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod loyalty;
pub mod metrics;
pub mod money;
pub mod notifications;
pub mod outbox;
pub mod paging;
pub mod payments;
pub mod pubsub;
pub mod ratelimit;
pub mod reads;
pub mod redis;
pub mod sale_queue;
pub mod seating;
pub mod seed;
pub mod shutdown;
pub mod telemetry;
pub mod text;
pub mod tickets;
pub mod vouchers;
pub mod waitlist;
pub mod worker;
