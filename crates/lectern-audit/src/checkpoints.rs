//! Signed checkpoints: at intervals (and on `lectern audit checkpoint`) the
//! server signs, with its Ed25519 checkpoint key, the size of the log, the
//! root of the Merkle tree over it (`lectern_store::merkle`) and the hash of
//! its last event. Anyone with the public key (`checkpoint_keys`, the
//! `checkpointKeys` query) can then check that an event is in the log of a
//! checkpoint, and that a later log still begins with an earlier one — so a
//! rewrite of history by someone who recomputes the whole hash chain is
//! still found.
//!
//! # Invariants
//! - A checkpoint is signed only over a log whose hash chain verifies and
//!   which still begins with the log of the latest checkpoint (the root of
//!   that many leaves is unchanged).
//! - Keys are never deleted: a rotated key is marked retired and still
//!   verifies the checkpoints it signed.

use std::io::Write;
use std::path::{Path, PathBuf};

use lectern_tlog::note::{Alg, Note, NoteKey, NoteSigner, TreeHead};

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use lectern_projections::{ReadDb, Stmt, Val};
use lectern_store::Store;
use lectern_store::merkle::{self, Hash};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The checkpoint key's file name in the data directory, by default.
pub const KEY_FILE: &str = "checkpoint.key";

/// The log's origin line (and its key's name) in checkpoint notes, unless
/// configured: a deployment should name itself (`checkpoint_origin`).
pub const DEFAULT_ORIGIN: &str = "lectern.local/log";

/// The server's checkpoint signing key, the origin it signs for and where
/// it publishes what it signs.
pub struct Signer {
    key: SigningKey,
    origin: String,
    publish: Option<PathBuf>,
    /// The key this one replaced: it signs the first note after a rotation
    /// too, so that a kiosk trusting it can follow the new key.
    previous: Option<SigningKey>,
}

pub use lectern_tlog::hex;

pub fn unhex<const N: usize>(what: &'static str, text: &str) -> Result<[u8; N]> {
    let text = text.trim();
    if text.len() != 2 * N || !text.is_ascii() {
        return Err(Error::invalid(
            what,
            text,
            format!("expected {} hex digits", 2 * N),
        ));
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
            .map_err(|_| Error::invalid(what, text, "not hexadecimal"))?;
    }
    Ok(out)
}

/// A key's id: the first 16 hex digits of the SHA-256 of its public key.
pub fn key_id(public: &[u8; 32]) -> String {
    hex(&Sha256::digest(public)[..8])
}

impl Signer {
    /// Reads the key at `path`, or makes one there (readable by its owner
    /// only) if there is none.
    pub fn load_or_create(path: &Path) -> Result<Signer> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Signer::from_key(SigningKey::from_bytes(&unhex::<32>(
                "the checkpoint key file",
                &text,
            )?))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Signer::create(path),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Makes a new key at `path`, replacing any there.
    pub fn create(path: &Path) -> Result<Signer> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
        write_private(path, &format!("{}\n", hex(&seed)))?;
        tracing::info!(path = %path.display(), "made a new checkpoint key");
        Ok(Signer::from_key(SigningKey::from_bytes(&seed)))
    }

    fn from_key(key: SigningKey) -> Signer {
        Signer {
            key,
            origin: DEFAULT_ORIGIN.to_owned(),
            publish: None,
            previous: None,
        }
    }

    /// Signs for the log named `origin` (a schema-less URL, e.g.
    /// `lectern.example.edu.cn/log`).
    pub fn with_origin(mut self, origin: &str) -> Result<Signer> {
        NoteKey::new(origin, Alg::Ed25519, self.public())
            .map_err(|e| Error::invalid("the checkpoint origin", origin, e.to_string()))?;
        self.origin = origin.to_owned();
        Ok(self)
    }

    /// Publishes every checkpoint it signs in `dir` (see `published`).
    pub fn publishing_to(mut self, dir: Option<PathBuf>) -> Signer {
        self.publish = dir;
        self
    }

    /// Signs the next note with `old` too (after a rotation).
    pub fn succeeding(mut self, old: Signer) -> Signer {
        self.previous = Some(old.key);
        self
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn publish_dir(&self) -> Option<&Path> {
        self.publish.as_deref()
    }

    /// The key that checks its notes, as a verifier key.
    pub fn note_key(&self) -> NoteKey {
        NoteKey::new(&self.origin, Alg::Ed25519, self.public()).expect("checked by with_origin")
    }

    fn note_signer(&self, key: &SigningKey) -> NoteSigner {
        NoteSigner::new(&self.origin, Alg::Ed25519, &key.to_bytes())
            .expect("checked by with_origin")
    }

    /// The signed note of the tree head of `size` events with `root`.
    pub fn note(&self, size: u64, root: Hash) -> String {
        let body = TreeHead {
            origin: self.origin.clone(),
            size,
            root,
        }
        .body();
        let mut note = Note {
            signatures: vec![self.note_signer(&self.key).sign(&body)],
            body,
        };
        if let Some(old) = &self.previous {
            note.add(self.note_signer(old).sign(&note.body));
        }
        note.text()
    }

    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public())
    }
}

/// Writes `text` to `path` readable by its owner only, whole or not at all
/// (a file beside it, synced, then renamed over it); makes the directory.
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_whole(path, text, open_private)
}

/// Writes `text` to `path` whole or not at all: to a file beside it opened
/// by `open`, synced, then renamed over it.
pub(crate) fn write_whole(
    path: &Path,
    text: &str,
    open: fn(&Path) -> Result<std::fs::File>,
) -> Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    let fresh = PathBuf::from(name);
    let mut file = open(&fresh)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(&fresh, e))?;
    std::fs::rename(&fresh, path).map_err(|e| Error::io(path, e))
}

#[cfg(unix)]
fn open_private(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> Result<std::fs::File> {
    std::fs::File::create(path).map_err(|e| Error::io(path, e))
}

/// A signed tree head of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Events in the log it signs (positions 1..=size).
    pub size: u64,
    /// Merkle root over their chain hashes, hex.
    pub root: String,
    /// Chain hash of the event at `size`, hex.
    pub head_hash: String,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    /// Ed25519 over `message()`, hex.
    pub signature: String,
    /// The same tree head as a C2SP signed note by the same key (what is
    /// published and witnessed); absent for checkpoints signed before notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Checkpoint {
    /// The bytes the signature covers.
    pub fn message(&self) -> Vec<u8> {
        format!(
            "lectern-checkpoint-v1\n{}\n{}\n{}\n{}\n{}",
            self.size,
            self.root,
            self.head_hash,
            self.signed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.key_id
        )
        .into_bytes()
    }

    /// Checks the signature under `public_key` (hex), which must be the
    /// key the checkpoint names.
    pub fn verify(&self, public_key: &str) -> Result<()> {
        let public = unhex::<32>("the public key", public_key)?;
        if key_id(&public) != self.key_id {
            return Err(Error::BadSignature(format!(
                "the checkpoint at size {} names key {}, not {}",
                self.size,
                self.key_id,
                key_id(&public)
            )));
        }
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|e| Error::invalid("the public key", public_key, e.to_string()))?;
        let signature = Signature::from_bytes(&unhex::<64>("the signature", &self.signature)?);
        key.verify(&self.message(), &signature).map_err(|_| {
            Error::BadSignature(format!(
                "the signature of the checkpoint at size {} does not verify under key {}",
                self.size, self.key_id
            ))
        })
    }

    pub fn root_hash(&self) -> Result<Hash> {
        unhex::<32>("the checkpoint root", &self.root)
    }
}

/// The checkpoints, oldest first.
pub async fn list(db: &ReadDb) -> Result<Vec<Checkpoint>> {
    let rows = db
        .fetch(
            "SELECT size, root, head_hash, signed_at, key_id, signature, note FROM checkpoints \
             ORDER BY size",
            &[],
        )
        .await?;
    rows.iter().map(row_checkpoint).collect()
}

/// The latest checkpoint, if any.
pub async fn latest(db: &ReadDb) -> Result<Option<Checkpoint>> {
    let rows = db
        .fetch(
            "SELECT size, root, head_hash, signed_at, key_id, signature, note FROM checkpoints \
             ORDER BY size DESC LIMIT 1",
            &[],
        )
        .await?;
    rows.iter().map(row_checkpoint).next().transpose()
}

fn row_checkpoint(r: &lectern_projections::Row) -> Result<Checkpoint> {
    let signed_at = r.text("signed_at");
    Ok(Checkpoint {
        size: r.int("size") as u64,
        root: r.text("root"),
        head_hash: r.text("head_hash"),
        signed_at: DateTime::parse_from_rfc3339(&signed_at)
            .map_err(|e| Error::invalid("a checkpoint's time", &signed_at, e.to_string()))?
            .with_timezone(&Utc),
        key_id: r.text("key_id"),
        signature: r.text("signature"),
        note: r.opt("note"),
    })
}

/// A checkpoint key as published.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublishedKey {
    pub key_id: String,
    pub public_key: String,
    pub created_at: String,
    pub retired_at: Option<String>,
}

pub async fn keys(db: &ReadDb) -> Result<Vec<PublishedKey>> {
    let rows = db
        .fetch(
            "SELECT key_id, public_key, created_at, retired_at FROM checkpoint_keys \
             ORDER BY created_at, key_id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| PublishedKey {
            key_id: r.text("key_id"),
            public_key: r.text("public_key"),
            created_at: r.text("created_at"),
            retired_at: r.opt("retired_at"),
        })
        .collect())
}

/// Publishes `signer`'s key (once) and retires every other key.
pub async fn publish(db: &ReadDb, signer: &Signer) -> Result<()> {
    let now = Val::from(Utc::now());
    let id = signer.key_id();
    db.transact(
        None,
        &[
            Stmt {
                sql: std::sync::Arc::from(
                    "INSERT INTO checkpoint_keys (key_id, public_key, created_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                ),
                args: vec![
                    Val::from(id.as_str()),
                    Val::from(hex(&signer.public()).as_str()),
                    now.clone(),
                ],
            },
            Stmt {
                sql: std::sync::Arc::from(
                    "UPDATE checkpoint_keys SET retired_at = $2 \
                     WHERE key_id <> $1 AND retired_at IS NULL",
                ),
                args: vec![Val::from(id.as_str()), now],
            },
        ],
    )
    .await?;
    Ok(())
}

/// Signs a checkpoint of the log as it is now, if it grew since the last
/// one (else returns the last), and publishes it. Refuses a log whose chain
/// is broken or which no longer begins with the log of the last checkpoint,
/// whether in the database or in the signer's published copy.
pub async fn sign(store: &Store, db: &ReadDb, signer: &Signer) -> Result<Checkpoint> {
    let (verification, leaves) = store.verify_tree().await?;
    if let Some(bad) = verification.first_bad {
        return Err(Error::Refused(format!("the hash chain is broken: {bad}")));
    }
    let Some((size, head)) = verification.head else {
        return Err(Error::Refused("the log is empty".into()));
    };
    let all = list(db).await?;
    let last = all.last();
    if let Some(last) = last {
        if last.size > size {
            return Err(Error::Refused(format!(
                "the log holds {size} events, fewer than the {} of the checkpoint signed at {}",
                last.size, last.signed_at
            )));
        }
        if hex(&merkle::root(&leaves[..last.size as usize])) != last.root {
            return Err(Error::Refused(format!(
                "the log's first {} events are not those of the checkpoint signed at {} \
                 (history was rewritten)",
                last.size, last.signed_at
            )));
        }
    }
    if let Some(dir) = signer.publish_dir()
        && let Some(published) = crate::published::latest(dir)?
    {
        let head = published.head()?;
        if head.size > size {
            return Err(Error::Refused(format!(
                "the log holds {size} events, fewer than the {} of the checkpoint published in \
                 {} (events were deleted)",
                head.size,
                dir.display()
            )));
        }
        if merkle::root(&leaves[..head.size as usize]) != head.root {
            return Err(Error::Refused(format!(
                "the log's first {} events are not those of the checkpoint published in {} \
                 (history was rewritten)",
                head.size,
                dir.display()
            )));
        }
    }
    if let Some(last) = last
        && last.size == size
    {
        crate::published::catch_up(signer, &all)?;
        return Ok(last.clone());
    }
    publish(db, signer).await?;
    let root = merkle::root(&leaves);
    let mut checkpoint = Checkpoint {
        size,
        root: hex(&root),
        head_hash: hex(&head),
        signed_at: Utc::now(),
        key_id: signer.key_id(),
        signature: String::new(),
        note: Some(signer.note(size, root)),
    };
    checkpoint.signature = hex(&signer.key.sign(&checkpoint.message()).to_bytes());
    db.transact(
        None,
        &[Stmt {
            sql: std::sync::Arc::from(
                "INSERT INTO checkpoints (size, root, head_hash, signed_at, key_id, signature, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            ),
            args: vec![
                Val::from(size),
                Val::from(checkpoint.root.as_str()),
                Val::from(checkpoint.head_hash.as_str()),
                Val::from(checkpoint.signed_at),
                Val::from(checkpoint.key_id.as_str()),
                Val::from(checkpoint.signature.as_str()),
                Val::from(checkpoint.note.as_deref()),
            ],
        }],
    )
    .await?;
    tracing::info!(size, key = %checkpoint.key_id, "signed a checkpoint");
    let mut all = all;
    all.push(checkpoint.clone());
    crate::published::catch_up(signer, &all)?;
    Ok(checkpoint)
}

/// What an auditor trusts beyond the database: the checkpoint keys it was
/// given, a copy of the published checkpoints, and witnesses.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Public keys the checkpoints must be signed with. Empty: the keys the
    /// database lists are taken on trust (and `Audit::trusting_the_database`
    /// says so).
    pub keys: Vec<[u8; 32]>,
    /// The published checkpoint notes, if a copy was given.
    pub published: Option<Vec<crate::published::Published>>,
    /// Witnesses whose cosignatures count, and how many the latest
    /// checkpoint needs.
    pub witnesses: Vec<NoteKey>,
    pub quorum: usize,
}

/// A trusted key as given on the command line: a verifier key
/// (`name+id+base64`) or the hex public key `checkpointKeys` lists.
pub fn parse_trusted_key(text: &str) -> Result<[u8; 32]> {
    let text = text.trim();
    if text.contains('+') {
        let key = NoteKey::parse(text)
            .map_err(|e| Error::invalid("a trusted checkpoint key", text, e.to_string()))?;
        if key.alg() != Alg::Ed25519 {
            return Err(Error::invalid(
                "a trusted checkpoint key",
                text,
                "a cosignature key (type 0x04) is a witness's: give it with --witness",
            ));
        }
        return Ok(*key.public());
    }
    unhex::<32>("a trusted checkpoint key", text)
}

/// What `audit` found: the chain, then each checkpoint against the log,
/// then the published copy and the witnesses when given.
#[derive(Debug)]
pub struct Audit {
    pub verification: lectern_store::Verification,
    pub checkpoints: usize,
    /// The first checkpoint that fails, and why.
    pub bad_checkpoint: Option<(u64, String)>,
    /// No trusted key was given: the database's keys were believed.
    pub trusting_the_database: bool,
    /// Against the published copy, when one was given.
    pub published: Option<PublishedAudit>,
    /// The witnesses' quorum, when witnesses were named: what was found.
    pub witnesses: Option<std::result::Result<String, String>>,
}

#[derive(Debug, Default)]
pub struct PublishedAudit {
    /// Published checkpoints read.
    pub count: usize,
    /// Everything wrong, in size order.
    pub problems: Vec<String>,
    /// Checkpoints in the database newer than the copy's latest (a copy
    /// shipped before they were signed).
    pub newer_in_database: usize,
}

/// Recomputes the hash chain, and checks every checkpoint's signature and
/// that the log still begins with the log it signed, trusting the keys the
/// database lists.
pub async fn audit(store: &Store, db: &ReadDb) -> Result<Audit> {
    audit_with(store, db, &Trust::default()).await
}

/// `audit`, with what the auditor trusts outside the database.
pub async fn audit_with(store: &Store, db: &ReadDb, trust: &Trust) -> Result<Audit> {
    let (verification, leaves) = store.verify_tree().await?;
    let keys = keys(db).await?;
    let checkpoints = list(db).await?;
    let trusted = |public: &str| {
        trust.keys.is_empty()
            || unhex::<32>("a public key", public).is_ok_and(|k| trust.keys.contains(&k))
    };
    let prefix_root =
        |size: u64| (size <= leaves.len() as u64).then(|| merkle::root(&leaves[..size as usize]));
    let mut bad = None;
    for c in &checkpoints {
        let problem = match keys.iter().find(|k| k.key_id == c.key_id) {
            None => Some(format!("its key {} is not published", c.key_id)),
            Some(k) if !trusted(&k.public_key) => Some(format!(
                "it is signed with key {} ({}), which is not a trusted key (a key inserted into \
                 the database?)",
                c.key_id, k.public_key
            )),
            Some(k) => match c.verify(&k.public_key) {
                Err(e) => Some(e.to_string()),
                Ok(()) if c.size > leaves.len() as u64 => Some(format!(
                    "the log's first {} events do not verify (it signed {})",
                    leaves.len(),
                    c.size
                )),
                Ok(()) if prefix_root(c.size).map(|r| hex(&r)).as_deref() != Some(&c.root) => {
                    Some(format!(
                        "the log's first {} events are not those it signed (history was rewritten)",
                        c.size
                    ))
                }
                Ok(()) => None,
            },
        };
        if let Some(p) = problem {
            bad = Some((c.size, p));
            break;
        }
    }
    let log_keys: Vec<[u8; 32]> = if trust.keys.is_empty() {
        keys.iter()
            .filter_map(|k| unhex::<32>("a public key", &k.public_key).ok())
            .collect()
    } else {
        trust.keys.clone()
    };
    let published = trust.published.as_ref().map(|copy| {
        crate::published::check(
            copy,
            &checkpoints,
            &log_keys,
            leaves.len() as u64,
            prefix_root,
        )
    });
    let witnesses = if trust.witnesses.is_empty() {
        None
    } else {
        Some(crate::published::quorum(db, trust, &checkpoints).await?)
    };
    Ok(Audit {
        verification,
        checkpoints: checkpoints.len(),
        bad_checkpoint: bad,
        trusting_the_database: trust.keys.is_empty(),
        published,
        witnesses,
    })
}

/// The checkpoint key's path: the setting, else `KEY_FILE` in the data
/// directory.
pub fn key_path(setting: Option<PathBuf>, data_dir: PathBuf) -> PathBuf {
    setting.unwrap_or_else(|| data_dir.join(KEY_FILE))
}

/// A proof that the event at `position` is in the log a checkpoint signed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InclusionProof {
    pub position: u64,
    /// The checkpoint's size.
    pub size: u64,
    /// The event's chain hash (the Merkle leaf is `SHA-256(0x00 || it)`), hex.
    pub chain_hash: String,
    /// The audit path, nearest sibling first, hex.
    pub path: Vec<String>,
}

impl InclusionProof {
    /// Checks the proof against `checkpoint` (whose signature the caller
    /// checks with `Checkpoint::verify`).
    pub fn check(&self, checkpoint: &Checkpoint) -> Result<()> {
        if self.size != checkpoint.size {
            return Err(Error::BadSignature(format!(
                "the proof is for a log of {} events, the checkpoint signs {}",
                self.size, checkpoint.size
            )));
        }
        let leaf = merkle::leaf_hash(&unhex::<32>("a chain hash", &self.chain_hash)?);
        let path = self
            .path
            .iter()
            .map(|h| unhex::<32>("a proof hash", h))
            .collect::<Result<Vec<_>>>()?;
        if self.position == 0
            || !merkle::verify_inclusion(
                self.position - 1,
                self.size,
                &leaf,
                &path,
                &checkpoint.root_hash()?,
            )
        {
            return Err(Error::BadSignature(format!(
                "the event at position {} with chain hash {} is not in the log of the \
                 checkpoint at size {}",
                self.position, self.chain_hash, self.size
            )));
        }
        Ok(())
    }
}

/// A proof that the log a checkpoint signed begins with the log an earlier
/// one signed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub path: Vec<String>,
}

impl ConsistencyProof {
    pub fn check(&self, older: &Checkpoint, newer: &Checkpoint) -> Result<()> {
        if (older.size, newer.size) != (self.from, self.to) {
            return Err(Error::BadSignature(format!(
                "the proof is from size {} to {}, the checkpoints are at {} and {}",
                self.from, self.to, older.size, newer.size
            )));
        }
        let path = self
            .path
            .iter()
            .map(|h| unhex::<32>("a proof hash", h))
            .collect::<Result<Vec<_>>>()?;
        if !merkle::verify_consistency(
            self.from,
            self.to,
            &older.root_hash()?,
            &newer.root_hash()?,
            &path,
        ) {
            return Err(Error::BadSignature(format!(
                "the log of the checkpoint at size {} does not begin with the log of the one at \
                 size {}",
                self.to, self.from
            )));
        }
        Ok(())
    }
}

/// The checkpoint of exactly `size` events, or the latest.
pub async fn checkpoint_at(db: &ReadDb, size: Option<u64>) -> Result<Checkpoint> {
    let all = list(db).await?;
    match size {
        None => all.into_iter().last().ok_or_else(|| {
            Error::Refused(
                "no checkpoint is signed yet: `lectern audit checkpoint` signs one".into(),
            )
        }),
        Some(s) => all.into_iter().find(|c| c.size == s).ok_or_else(|| {
            Error::invalid(
                "checkpoint size",
                s.to_string(),
                "no checkpoint has that size",
            )
        }),
    }
}

/// The leaves of the log's first `size` events, checked against the chain.
async fn leaves_upto(store: &Store, size: u64) -> Result<Vec<Hash>> {
    let (verification, mut leaves) = store.verify_tree().await?;
    if (leaves.len() as u64) < size {
        return Err(Error::BadSignature(match verification.first_bad {
            Some(bad) => format!("the log no longer verifies up to position {size}: {bad}"),
            None => format!("the log holds {} events, fewer than {size}", leaves.len()),
        }));
    }
    leaves.truncate(size as usize);
    Ok(leaves)
}

/// Proves that the event at `position` is in the log of the checkpoint of
/// `size` events (default: the latest); returns the proof and the
/// checkpoint. Refuses when the log no longer matches the checkpoint.
pub async fn prove_inclusion(
    store: &Store,
    db: &ReadDb,
    position: u64,
    size: Option<u64>,
) -> Result<(InclusionProof, Checkpoint)> {
    let checkpoint = checkpoint_at(db, size).await?;
    let mut proofs = prove_all(store, &checkpoint, &[position]).await?;
    Ok((proofs.remove(0), checkpoint))
}

/// Proves that each event at `positions` is in the log `checkpoint`
/// signed, reading the log once. Refuses when the log no longer matches
/// the checkpoint or a position is not in it.
pub async fn prove_all(
    store: &Store,
    checkpoint: &Checkpoint,
    positions: &[u64],
) -> Result<Vec<InclusionProof>> {
    if let Some(&position) = positions.iter().find(|&&p| p == 0 || p > checkpoint.size) {
        return Err(Error::invalid(
            "position",
            position.to_string(),
            format!(
                "the checkpoint signs positions 1 to {}; sign a newer one for later events",
                checkpoint.size
            ),
        ));
    }
    let leaves = leaves_upto(store, checkpoint.size).await?;
    if hex(&merkle::root(&leaves)) != checkpoint.root {
        return Err(Error::BadSignature(format!(
            "the log's first {} events are not those the checkpoint signed (history was \
             rewritten)",
            checkpoint.size
        )));
    }
    let mut proofs = Vec::with_capacity(positions.len());
    for &position in positions {
        let event = store.read_all(position - 1, 1, None).await?;
        let chain_hash = event
            .first()
            .map(|e| hex(&e.hash))
            .ok_or_else(|| Error::invalid("position", position.to_string(), "no such event"))?;
        proofs.push(InclusionProof {
            position,
            size: checkpoint.size,
            chain_hash,
            path: merkle::inclusion_proof(position as usize - 1, &leaves)
                .iter()
                .map(|h| hex(h))
                .collect(),
        });
    }
    Ok(proofs)
}

/// The consistency proof from the log's first `from` events to its first
/// `to` (checked against the chain), for a witness.
pub async fn consistency_path(store: &Store, from: u64, to: u64) -> Result<Vec<Hash>> {
    let leaves = leaves_upto(store, to).await?;
    Ok(merkle::consistency_proof(from as usize, &leaves))
}

/// Proves that the checkpoint of `to` events extends the one of `from`.
pub async fn prove_consistency(
    store: &Store,
    db: &ReadDb,
    from: u64,
    to: u64,
) -> Result<(ConsistencyProof, Checkpoint, Checkpoint)> {
    let older = checkpoint_at(db, Some(from)).await?;
    let newer = checkpoint_at(db, Some(to)).await?;
    if from > to {
        return Err(Error::invalid(
            "from",
            from.to_string(),
            format!("must not be after to ({to})"),
        ));
    }
    let leaves = leaves_upto(store, to).await?;
    let path = merkle::consistency_proof(from as usize, &leaves)
        .iter()
        .map(|h| hex(h))
        .collect();
    let proof = ConsistencyProof { from, to, path };
    // A proof from a log that no longer matches would not verify: say so.
    proof.check(&older, &newer)?;
    Ok((proof, older, newer))
}

/// A proof with what it is checked against, as `lectern audit prove`
/// writes it: checkable with no database (`ProofFile::check`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProofFile {
    Inclusion {
        proof: InclusionProof,
        checkpoint: Checkpoint,
        /// The checkpoint key, hex.
        public_key: String,
    },
    Consistency {
        proof: ConsistencyProof,
        older: Checkpoint,
        newer: Checkpoint,
        older_key: String,
        newer_key: String,
    },
}

impl ProofFile {
    /// Checks the signatures and the proof; `trusted`, if given, is the
    /// only key accepted (hex, as published). Returns what was proved.
    pub fn check(&self, trusted: Option<&str>) -> Result<String> {
        let trust = |key: &str| match trusted {
            Some(t) if !t.trim().eq_ignore_ascii_case(key.trim()) => Err(Error::BadSignature(
                format!("the proof is signed with key {key}, not the trusted key {t}"),
            )),
            _ => Ok(()),
        };
        match self {
            ProofFile::Inclusion {
                proof,
                checkpoint,
                public_key,
            } => {
                trust(public_key)?;
                checkpoint.verify(public_key)?;
                proof.check(checkpoint)?;
                Ok(format!(
                    "the event at position {} (chain hash {}) is in the log of {} events signed \
                     at {} with key {}",
                    proof.position,
                    proof.chain_hash,
                    checkpoint.size,
                    checkpoint.signed_at.to_rfc3339(),
                    checkpoint.key_id
                ))
            }
            ProofFile::Consistency {
                proof,
                older,
                newer,
                older_key,
                newer_key,
            } => {
                trust(newer_key)?;
                older.verify(older_key)?;
                newer.verify(newer_key)?;
                proof.check(older, newer)?;
                Ok(format!(
                    "the log of {} events signed at {} begins with the log of {} events signed \
                     at {}",
                    newer.size,
                    newer.signed_at.to_rfc3339(),
                    older.size,
                    older.signed_at.to_rfc3339()
                ))
            }
        }
    }
}

/// The published key with this id.
pub async fn public_key(db: &ReadDb, key_id: &str) -> Result<String> {
    keys(db)
        .await?
        .into_iter()
        .find(|k| k.key_id == key_id)
        .map(|k| k.public_key)
        .ok_or_else(|| Error::invalid("checkpoint key", key_id, "is not published"))
}
