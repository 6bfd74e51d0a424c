//! `lectern-server` is the `lectern` binary and the HTTP application behind
//! `lectern serve`.
//!
//! It owns process concerns: configuration, start-up (migrations first),
//! the HTTP listener and graceful shutdown, and the command-line tools that
//! operate on a database (`migrate`, `audit verify`, `bench store`). It
//! holds no business rules: those live in the library crates below it.
//!
//! # Layout
//! - `cli`: argument parsing and the subcommands.
//! - `config`: typed configuration from flags and environment.
//! - `app`: `Application::build`, the router and `run_until_stopped`.
//! - `graphql`: the API.
//! - `web`: the browser pages (the GraphiQL console, the campaign's pages).
//! - `kiosk`: `/kiosk/v1`, the endpoints kiosks call.
//! - `metrics`: `/metrics`.
//! - `import`: units, people and cards from CSV, all or nothing.
//! - `reports`: the everyday reports as tables (GraphQL queries run
//!   in-process), printed or written as CSV.
//!
//! `lectern bench` runs `lectern_bench` (the API benchmark against this
//! crate's application).
//!
//! `lectern demo` runs `lectern_synth::demo`, the campus of 2005–2009
//! through the command path.

pub mod app;
pub mod cli;
pub mod config;
pub mod graphql;
pub mod import;
pub mod kiosk;
pub mod metrics;
pub mod reports;
pub mod web;
pub mod witnesses;
