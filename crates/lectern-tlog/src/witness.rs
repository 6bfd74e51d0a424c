//! What a witness checks before it cosigns a log's checkpoint, and the
//! request of the C2SP witness protocol (`c2sp.org/tlog-witness`,
//! `POST <prefix>/add-checkpoint`). A kiosk runs the same check on every
//! roster; an outside witness runs it on every submission.

use crate::merkle::{self, Hash};
use crate::note::{Note, NoteError, NoteKey, TreeHead, b64, unb64};

/// Why a witness refuses a checkpoint. Every case but `Malformed` and
/// `Unsigned` is evidence that the log rewrote its history or shows
/// different histories to different witnesses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    #[error(transparent)]
    Malformed(#[from] NoteError),
    #[error("the checkpoint of {size} events is not signed by the log key {key}")]
    Unsigned { size: u64, key: String },
    #[error("the checkpoint is of the log {found:?}, not {expected:?}")]
    Origin { expected: String, found: String },
    #[error(
        "the log showed {new} events after showing {old}: a log only grows (events were deleted)"
    )]
    Shrank { old: u64, new: u64 },
    #[error(
        "the log showed two different checkpoints of {size} events (roots {old} and {new}): its \
         history was rewritten, or it shows different histories to different witnesses"
    )]
    Forked { size: u64, old: String, new: String },
    #[error(
        "the log of {new} events does not begin with the log of {old} events seen before (the \
         consistency proof fails): history was rewritten"
    )]
    Inconsistent { old: u64, new: u64 },
}

/// Checks that `note`, a checkpoint signed by `log`, extends `seen` (the
/// last checkpoint this witness accepted, if any) by `proof`, a consistency
/// proof from `seen`'s size; returns the checkpoint to keep.
pub fn check_extension(
    seen: Option<&TreeHead>,
    note: &Note,
    proof: &[Hash],
    log: &NoteKey,
) -> Result<TreeHead, WitnessError> {
    let head = TreeHead::parse(&note.body)?;
    if note.verified_by(log).is_none() {
        return Err(WitnessError::Unsigned {
            size: head.size,
            key: log.vkey(),
        });
    }
    let Some(seen) = seen else {
        return Ok(head);
    };
    if seen.origin != head.origin {
        return Err(WitnessError::Origin {
            expected: seen.origin.clone(),
            found: head.origin,
        });
    }
    if head.size < seen.size {
        return Err(WitnessError::Shrank {
            old: seen.size,
            new: head.size,
        });
    }
    if head.size == seen.size && head.root != seen.root {
        return Err(WitnessError::Forked {
            size: head.size,
            old: b64(&seen.root),
            new: b64(&head.root),
        });
    }
    if !merkle::verify_consistency(seen.size, head.size, &seen.root, &head.root, proof) {
        return Err(WitnessError::Inconsistent {
            old: seen.size,
            new: head.size,
        });
    }
    Ok(head)
}

/// The body of an `add-checkpoint` request: `old <size>`, the proof's
/// hashes in base64, an empty line, the signed checkpoint.
pub fn add_checkpoint_request(old: u64, proof: &[Hash], note: &str) -> String {
    let mut out = format!("old {old}\n");
    for h in proof {
        out.push_str(&b64(h));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(note);
    out
}

/// Reads an `add-checkpoint` request: the old size, the proof, the note.
pub fn parse_add_checkpoint(text: &str) -> Result<(u64, Vec<Hash>, Note), NoteError> {
    let bad = |reason: &str| NoteError::Malformed {
        what: "an add-checkpoint request",
        value: text.chars().take(200).collect(),
        reason: reason.into(),
    };
    let (head, note) = text
        .split_once("\n\n")
        .ok_or_else(|| bad("no empty line before the checkpoint"))?;
    let mut lines = head.split('\n');
    let old = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| bad("the first line must be \"old <size>\""))?;
    let proof = lines
        .map(|l| unb64("a consistency proof line", l))
        .collect::<Result<Vec<_>, _>>()?;
    if proof.len() > 63 {
        return Err(bad("more than 63 proof lines"));
    }
    Ok((old, proof, Note::parse(note)?))
}
