//! The benchmarks behind `lectern bench`, printing one line per workload
//! (`lectern <target> <case> <count> <seconds> <per second>`) so runs can
//! be compared with other systems on the same machine.
//!
//! - `store`: workloads W1–W4 of the event-store benchmark, through
//!   `lectern_store::Store` as the application appends.
//! - `api`: a synthetic campus (`lectern_synth::bulk`), the read models'
//!   catch-up, a year replayed from the log, then queries over HTTP from
//!   many clients against a server the caller starts, and a Tuesday
//!   afternoon of all of them at once with a kiosk's taps (`tapper`).

pub mod api;
pub mod store;
mod tapper;
