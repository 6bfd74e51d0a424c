//! Checkpoints published outside the database, and what an auditor checks
//! against such a copy.
//!
//! The server writes every checkpoint it signs, as a C2SP signed note, to
//! a directory an operator ships elsewhere (rsync, object storage with
//! retention, another university) and serves it over HTTP:
//!
//! ```text
//! <dir>/checkpoint     the latest note (replaced as the log grows)
//! <dir>/log/<size>     each note, written once and never replaced
//! <dir>/index          the sizes published, one a line, appended
//! ```
//!
//! A copy of that directory (or its URL) is what `audit verify
//! --published` checks the log against: someone with the database's keys
//! can delete or re-sign checkpoint rows and rewrite the log, but cannot
//! reach the copies already shipped.
//!
//! # Invariants
//! - A published checkpoint is never replaced by another of the same size;
//!   only signature lines (witnesses' cosignatures) are added to it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::Utc;
use lectern_projections::{ReadDb, Stmt, Val};
use lectern_tlog::merkle::Hash;
use lectern_tlog::note::{Alg, Note, NoteKey, TreeHead};

use crate::checkpoints::{Checkpoint, PublishedAudit, Signer, Trust, hex};
use crate::error::{Error, Result};

/// One published checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub size: u64,
    pub note: String,
}

impl Published {
    pub fn head(&self) -> Result<TreeHead> {
        let note = Note::parse(&self.note).map_err(|e| {
            Error::invalid(
                "a published checkpoint",
                self.size.to_string(),
                e.to_string(),
            )
        })?;
        TreeHead::parse(&note.body).map_err(|e| {
            Error::invalid(
                "a published checkpoint",
                self.size.to_string(),
                e.to_string(),
            )
        })
    }
}

fn note_path(dir: &Path, size: u64) -> PathBuf {
    dir.join("log").join(size.to_string())
}

/// Writes `text` to `path` whole or not at all (readable by all).
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    crate::checkpoints::write_whole(path, text, |p| {
        std::fs::File::create(p).map_err(|e| Error::io(p, e))
    })
}

/// The notes published in `dir`, by size (none when it does not exist).
pub fn read_dir(dir: &Path) -> Result<Vec<Published>> {
    let index = dir.join("index");
    let text = match std::fs::read_to_string(&index) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&index, e)),
    };
    let mut out = Vec::new();
    for size in parse_index(&text)? {
        let path = note_path(dir, size);
        let note = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        out.push(Published { size, note });
    }
    Ok(out)
}

/// The sizes an `index` lists, in order, each once.
pub fn parse_index(text: &str) -> Result<Vec<u64>> {
    let mut sizes: Vec<u64> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<u64>()
                .map_err(|_| Error::invalid("a line of the published index", l, "not a size"))
        })
        .collect::<Result<_>>()?;
    sizes.sort_unstable();
    sizes.dedup();
    Ok(sizes)
}

/// The latest note published in `dir`.
pub fn latest(dir: &Path) -> Result<Option<Published>> {
    Ok(read_dir(dir)?.pop())
}

/// Publishes `note` (of `size` events) in `dir`. A note of that size
/// already there must be of the same tree head: its signature lines are
/// merged.
pub fn publish(dir: &Path, size: u64, note: &str) -> Result<()> {
    let log = dir.join("log");
    std::fs::create_dir_all(&log).map_err(|e| Error::io(&log, e))?;
    let path = note_path(dir, size);
    let parsed = Note::parse(note)
        .map_err(|e| Error::invalid("a checkpoint note", size.to_string(), e.to_string()))?;
    let merged = match std::fs::read_to_string(&path) {
        Ok(existing) => {
            let mut existing = Note::parse(&existing).map_err(|e| {
                Error::invalid("a published checkpoint", size.to_string(), e.to_string())
            })?;
            if existing.body != parsed.body {
                return Err(Error::Refused(format!(
                    "{} holds another checkpoint of {size} events; a published checkpoint is \
                     never replaced",
                    path.display()
                )));
            }
            let before = existing.signatures.len();
            for sig in parsed.signatures {
                existing.add(sig);
            }
            if existing.signatures.len() == before {
                return Ok(());
            }
            existing.text()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let index = dir.join("index");
            write_atomic(&path, note)?;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&index)
                .map_err(|e| Error::io(&index, e))?;
            file.write_all(format!("{size}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io(&index, e))?;
            note.to_owned()
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    write_atomic(&path, &merged)?;
    let latest = latest(dir)?.map_or(0, |p| p.size);
    if size >= latest {
        write_atomic(&dir.join("checkpoint"), &merged)?;
    }
    Ok(())
}

/// Publishes the notes of `checkpoints` newer than the latest in the
/// signer's directory (a crash between signing and publishing leaves one
/// behind; the next signing publishes it).
pub fn catch_up(signer: &Signer, checkpoints: &[Checkpoint]) -> Result<()> {
    let Some(dir) = signer.publish_dir() else {
        return Ok(());
    };
    let latest = latest(dir)?.map_or(0, |p| p.size);
    for c in checkpoints.iter().filter(|c| c.size > latest) {
        if let Some(note) = &c.note {
            publish(dir, c.size, note)?;
        }
    }
    Ok(())
}

/// Checks the log and the database's checkpoints against a published copy.
pub(crate) fn check(
    copy: &[Published],
    checkpoints: &[Checkpoint],
    log_keys: &[[u8; 32]],
    log_size: u64,
    prefix_root: impl Fn(u64) -> Option<Hash>,
) -> PublishedAudit {
    let mut out = PublishedAudit {
        count: copy.len(),
        ..PublishedAudit::default()
    };
    if copy.is_empty() {
        out.problems
            .push("the published copy holds no checkpoint".to_owned());
    }
    for p in copy {
        let (note, head) =
            match Note::parse(&p.note).and_then(|n| TreeHead::parse(&n.body).map(|h| (n, h))) {
                Ok(v) => v,
                Err(e) => {
                    out.problems
                        .push(format!("the published checkpoint at size {}: {e}", p.size));
                    continue;
                }
            };
        let n = head.size;
        let signed = log_keys.iter().any(|k| {
            NoteKey::new(&head.origin, Alg::Ed25519, *k)
                .is_ok_and(|key| note.verified_by(&key).is_some())
        });
        if !signed || n != p.size {
            out.problems.push(format!(
                "the published checkpoint at size {n} is not signed by a trusted key"
            ));
            continue;
        }
        match checkpoints.iter().find(|c| c.size == n) {
            None => out.problems.push(format!(
                "the published checkpoint at size {n} is missing from the database (checkpoint \
                 rows were deleted)"
            )),
            Some(c) if c.root != hex(&head.root) => out.problems.push(format!(
                "the database's checkpoint at size {n} has root {}, the published one {} (the \
                 database's was re-signed)",
                c.root,
                hex(&head.root)
            )),
            Some(_) => {}
        }
        match prefix_root(n) {
            None => out.problems.push(format!(
                "the log holds {log_size} events, fewer than the {n} of the published checkpoint \
                 (events were deleted)"
            )),
            Some(root) if root != head.root => out.problems.push(format!(
                "the log's first {n} events are not those the published checkpoint at size {n} \
                 signed (history was rewritten)"
            )),
            Some(_) => {}
        }
    }
    let latest = copy.iter().map(|p| p.size).max().unwrap_or(0);
    for c in checkpoints {
        if c.size > latest {
            out.newer_in_database += 1;
        } else if !copy.iter().any(|p| p.size == c.size) {
            out.problems.push(format!(
                "the database's checkpoint at size {} was never published (signed outside the \
                 server, or with a key inserted into the database?)",
                c.size
            ));
        }
    }
    out
}

/// Records `witness`'s latest cosigned note (`note`: the checkpoint with
/// the log's signature and the witness's cosignature).
pub async fn record_cosignature(db: &ReadDb, witness: &str, size: u64, note: &str) -> Result<()> {
    db.transact(
        None,
        &[Stmt {
            sql: std::sync::Arc::from(
                "INSERT INTO checkpoint_cosignatures (witness, size, note, recorded_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (witness) DO UPDATE SET \
                 size = excluded.size, note = excluded.note, recorded_at = excluded.recorded_at \
                 WHERE checkpoint_cosignatures.note <> excluded.note",
            ),
            args: vec![
                Val::from(witness),
                Val::from(size),
                Val::from(note),
                Val::from(Utc::now()),
            ],
        }],
    )
    .await?;
    Ok(())
}

/// Each witness's latest cosigned note: (witness, size, note).
pub async fn cosignatures(db: &ReadDb) -> Result<Vec<(String, u64, String)>> {
    let rows = db
        .fetch(
            "SELECT witness, size, note FROM checkpoint_cosignatures ORDER BY witness",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.text("witness"), r.int("size") as u64, r.text("note")))
        .collect())
}

/// Whether the latest checkpoint (the published copy's, else the
/// database's) carries cosignatures of `trust.quorum` of the witnesses
/// named.
pub(crate) async fn quorum(
    db: &ReadDb,
    trust: &Trust,
    checkpoints: &[Checkpoint],
) -> Result<std::result::Result<String, String>> {
    let latest = match trust.published.as_ref().and_then(|c| c.last()) {
        Some(p) => Some(p.note.clone()),
        None => checkpoints.last().and_then(|c| c.note.clone()),
    };
    let Some(Ok(mut note)) = latest.map(|n| Note::parse(&n)) else {
        return Ok(Err(
            "there is no checkpoint note for the witnesses to have cosigned".into(),
        ));
    };
    for (_, _, other) in cosignatures(db).await? {
        if let Ok(other) = Note::parse(&other)
            && other.body == note.body
        {
            for sig in other.signatures {
                note.add(sig);
            }
        }
    }
    let size = TreeHead::parse(&note.body).map_or(0, |h| h.size);
    let (signed, missing): (Vec<&NoteKey>, Vec<&NoteKey>) = trust
        .witnesses
        .iter()
        .partition(|w| note.verified_by(w).is_some());
    let names = |keys: &[&NoteKey]| {
        keys.iter()
            .map(|k| k.name().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let said = format!(
        "the checkpoint at size {size} carries cosignatures of {} of the {} witnesses named \
         ({}), {} required",
        signed.len(),
        trust.witnesses.len(),
        if signed.is_empty() {
            "none".to_owned()
        } else {
            names(&signed)
        },
        trust.quorum
    );
    Ok(if signed.len() >= trust.quorum {
        Ok(said)
    } else {
        Err(format!("{said}; missing: {}", names(&missing)))
    })
}
