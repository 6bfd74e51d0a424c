//! The GraphQL API run in process (no HTTP): every role against every
//! area, error codes, limits, read-your-writes and the committed SDL, on
//! SQLite and PostgreSQL.

#![allow(unreachable_pub)] // a test binary exports nothing

#[macro_use]
extern crate lectern_store; // both_backends!

mod access;
mod flows;
mod sdl;
mod support;
