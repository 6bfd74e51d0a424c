//! The event log's behaviour, one suite run against SQLite and PostgreSQL.
//!
//! Every test is an `async fn(TestDb)`; `both_backends!` (the store's
//! `testkit`) turns it into a
//! `sqlite` and a `postgres` test. The PostgreSQL database comes from
//! `LECTERN_TEST_PG_URL` (default: the local service); each test gets a
//! database of its own, dropped afterwards.

#![allow(unreachable_pub)] // a test binary exports nothing

mod support;

#[macro_use]
extern crate lectern_store; // both_backends!

mod append;
mod chain;
mod concurrency;
mod personal;
mod reads;
mod subscribe;
mod unique;
mod upcast;
