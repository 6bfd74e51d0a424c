//! The read models, one suite run against SQLite and PostgreSQL
//! (`both_backends!` from the store's testkit).

#![allow(unreachable_pub)] // a test binary exports nothing

#[macro_use]
extern crate lectern_store; // both_backends!

mod flags;
mod projections;
