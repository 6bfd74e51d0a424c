//! `lectern-tlog`: the transparency-log formats the server, the kiosks,
//! `lectern audit` and outside witnesses share. No I/O.
//!
//! - `merkle`: the RFC 6962 Merkle tree over the log, inclusion and
//!   consistency proofs.
//! - `note`: C2SP signed notes, verifier keys, checkpoints
//!   (`tlog-checkpoint`) and cosignatures (`tlog-cosignature`).
//! - `witness`: what a witness checks before it cosigns (a kiosk on every
//!   roster, an outside witness on every `add-checkpoint`), and that
//!   request's body (`tlog-witness`).
//!
//! # Invariants
//! - A witness accepts a checkpoint only if the log's key signed it and it
//!   extends the last one the witness accepted (same size: same root;
//!   larger: a consistency proof that verifies); it never goes back.

pub mod merkle;
pub mod note;
pub mod witness;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
