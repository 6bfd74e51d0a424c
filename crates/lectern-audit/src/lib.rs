//! `lectern-audit`: what lets an auditor prove to both sides of a dispute
//! that the log was not altered after the fact.
//!
//! - `checkpoints`: the server's Ed25519 checkpoint key, signed tree heads
//!   of the log (size, RFC 6962 Merkle root over the chain hashes, head
//!   hash), key rotation, and `audit`, which checks the chain and every
//!   checkpoint against the log; inclusion and consistency proofs.
//! - `published`: checkpoints published outside the database as C2SP
//!   signed notes (a directory an operator ships elsewhere), checking the
//!   log against such a copy, witnesses' cosignatures and their quorum.
//! - `replay`: a person's appraisal as the log stood at a moment (as it
//!   happened, or as it was recorded), by the domain's folds.
//! - `bundle`: a person's year with its events, their inclusion proofs, the
//!   signed checkpoint and key, checkable offline (the lines are folded
//!   again from the bundled events).
//!
//! # Invariants
//! - A checkpoint is signed only over a log whose hash chain verifies and
//!   which still begins with the log of the latest checkpoint.
//! - Keys are never deleted: a retired key still verifies what it signed.

pub mod bundle;
pub mod checkpoints;
mod error;
pub mod published;
pub mod replay;

pub use error::{Error, Result};
