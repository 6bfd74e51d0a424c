//! `lectern-app` is Lectern's write path: everything that turns a request
//! into events in the log, whoever asks (the GraphQL API, the kiosk
//! endpoints, the CLI, the demo and the importer).
//!
//! It takes the store, the read models and the domain's types, never
//! GraphQL or HTTP types, and answers with one error type whose code is
//! stable ([`Error`], [`Code`]): the API puts the code in
//! `extensions.code`, the HTTP endpoints map it to a status.
//!
//! # Invariants
//! - Every write decides against the state folded from the log and appends
//!   with the stream version it decided on; a write that finds its stream
//!   moved decides again ([`Retry`], at most [`ATTEMPTS`] times).
//! - A write answers only once the read models show it ([`settle`]), so the
//!   writer reads its own writes.
//! - "Now" is the server's [`Clock`](lectern_domain::Clock), never a time
//!   a caller sends.
//!
//! # Layout
//! - `error`: [`Error`] and [`Code`].
//! - `commands`: [`execute`], [`Retry`], [`settle`].
//! - `appraisal`: [`year_appraisals`] and [`unit_year_totals`], what closing a
//!   year records.
//! - `audience`: [`members_of`], who a session or task expects.
//! - `kiosks`: registration, enrolment and the roster.
//! - `taps`: [`Ingest`], kiosks' signed tap batches into `CardTapped`
//!   events and the attendance they lead to.
//! - `disputes`: [`resolve_dispute`], an auditor's resolution with its
//!   corrections and the totals before and after.

mod appraisal;
mod audience;
mod commands;
mod disputes;
mod error;
pub mod kiosks;
mod taps;

pub use appraisal::{unit_year_totals, year_appraisals};
pub use audience::members_of;
pub use commands::{ATTEMPTS, Retry, WRITE_WAIT, Written, execute, settle};
pub use disputes::{
    AttendanceFix, DISPUTE_WORKING_DAYS, PERSONAL_DATA_RETENTION_YEARS, PointsFix, Resolution,
    resolution as dispute_resolution, resolve as resolve_dispute,
};
pub use error::{Code, Error, Result};
pub use taps::Ingest;

use lectern_domain::{Campus, Clock};
use lectern_projections::Projections;
use lectern_store::Store;

/// What the write path works with. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub projections: Projections,
    /// The campus calendar business dates are read in.
    pub campus: Campus,
    /// The server's clock.
    pub clock: Clock,
}

impl App {
    /// The write path over `store` and its read models, on the system clock.
    pub fn new(store: Store, projections: Projections, campus: Campus) -> App {
        App {
            store,
            projections,
            campus,
            clock: Clock::system(),
        }
    }
}
