//! `lectern-projections` folds the event log into SQL read models that the
//! API queries: the unit tree, people, sessions with their rosters and live
//! attendance, programmes and their report, study tasks, awards, monthly
//! reports, disputes and kiosk status; and, from those, a person's
//! appraisal ledger entries (`person_entries`) and a unit's monthly figures
//! (`unit_month_figures`).
//!
//! Each projector uses the domain's folds (`lectern-domain`), so a read
//! model can never disagree with the auditors' replay of the same events.
//! It deliberately holds no business rule of its own and no API: it writes
//! tables, reports where it stands, and lets callers wait for a position.
//!
//! # Invariants
//! - A batch's rows and the projector's checkpoint commit in one
//!   transaction, and the checkpoint moves by compare-and-set: no event is
//!   skipped or applied twice, whatever is killed when.
//! - Readers query views (`rm_<table>`) of the live generation; a rebuild
//!   writes a new generation beside it and swaps the views in one
//!   transaction.
//! - Among servers sharing a database, each projector runs in the one that
//!   holds its lease; the others follow its checkpoint, so read-your-writes
//!   holds in every server, and take over when it dies.
//!
//! # Layout
//! - `sql`: the read-model database and the portable SQL dialect.
//! - `codec`: domain events to and from the store's events; reading,
//!   folding and appending a stream.
//! - `projector`: the `Projector` trait, tables and the statement context.
//! - `runner`: checkpoints, following the log, rebuilds, `Projections`.
//! - `lease`: which of several servers on one database runs a projector
//!   (or another job that must run once): PostgreSQL advisory locks.
//! - `projectors`: the read models.
//! - `ledger`, `figures`: appraisal entries and unit-month figures read
//!   from them.
//! - `error`: the error type.

mod codec;
mod error;
mod figures;
mod lease;
mod ledger;
mod projector;
mod projectors;
mod runner;
mod sql;

pub use codec::{
    append_request, commit, decode, encode, history, load, personal_fields, positioned,
    store_options,
};
pub use error::{Error, Result};
pub use figures::{
    subtree_pattern, subtree_people, subtree_units, unit_month_figures, unit_people,
};
pub use lease::{Lease, Leases};
pub use ledger::{person_entries, unit_entries};
pub use projector::{Cx, Projector, Table};
pub use projectors::{
    AwardsProjector, DisputesProjector, FlagsProjector, KiosksProjector, MonthlyProjector,
    OrgProjector, PeopleProjector, ProgrammesProjector, SessionsProjector, StudyProjector,
};
pub use runner::{Checkpoint, Failure, Options, Projections, Status, projector_names, rebuild};
pub use sql::{ReadDb, Row, Stmt, Val, timestamp};
