//! Lectern end to end: the `lectern` and `lectern-kiosk` programs and the
//! HTTP application, on SQLite and PostgreSQL (tests with `postgres` in
//! their name need the PostgreSQL service).
#![allow(unreachable_pub)] // a test binary exports nothing

#[macro_use]
extern crate lectern_store; // both_backends!

mod support;
pub use support::*;

mod audit;
mod cli;
mod demo;
mod erasure;
mod graphql;
mod import;
mod kiosk;
mod kiosk_api;
mod operations;
mod scenario;
mod tamper;
mod witness;
