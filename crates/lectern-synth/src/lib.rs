//! `lectern-synth` makes synthetic campuses, deterministic from a seed,
//! all with one random generator and one name table (`Rng`):
//!
//! - `demo`: `lectern demo`'s university of September 2005 to July 2009,
//!   through the real command path and the kiosks' tap ingestion.
//! - `bulk`: a big campus fast, for the benchmarks and the tests that need
//!   a large log (events decided by the domain in memory, appended in
//!   large transactions).
//! - `history`: small random histories for the read models' tests, with
//!   `fold_all`, the same history folded in memory.
//!
//! Every event is decided by the domain against the state folded so far,
//! so every campus is one the command path could have written.

pub mod bulk;
pub mod demo;
pub mod history;
mod rng;

pub use rng::Rng;
