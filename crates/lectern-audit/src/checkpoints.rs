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

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use lectern_projections::{ReadDb, Stmt, Val};
use lectern_store::Store;
use lectern_store::merkle::{self, Hash};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The checkpoint key's file name in the data directory, by default.
pub const KEY_FILE: &str = "checkpoint.key";

/// The server's checkpoint signing key.
pub struct Signer {
    key: SigningKey,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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
            Ok(text) => Ok(Signer {
                key: SigningKey::from_bytes(&unhex::<32>("the checkpoint key file", &text)?),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Signer::create(path),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Makes a new key at `path`, replacing any there.
    pub fn create(path: &Path) -> Result<Signer> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let fresh = path.with_extension("key.new");
        let mut file = open_private(&fresh)?;
        writeln!(file, "{}", hex(&seed))
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(&fresh, e))?;
        std::fs::rename(&fresh, path).map_err(|e| Error::io(path, e))?;
        tracing::info!(path = %path.display(), "made a new checkpoint key");
        Ok(Signer {
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public())
    }
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
            "SELECT size, root, head_hash, signed_at, key_id, signature FROM checkpoints \
             ORDER BY size",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let text = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
            Ok(Checkpoint {
                size: r[0].as_i64().unwrap_or_default() as u64,
                root: text(1),
                head_hash: text(2),
                signed_at: DateTime::parse_from_rfc3339(&text(3))
                    .map_err(|e| Error::invalid("a checkpoint's time", text(3), e.to_string()))?
                    .with_timezone(&Utc),
                key_id: text(4),
                signature: text(5),
            })
        })
        .collect()
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
            key_id: r[0].as_str().unwrap_or_default().to_owned(),
            public_key: r[1].as_str().unwrap_or_default().to_owned(),
            created_at: r[2].as_str().unwrap_or_default().to_owned(),
            retired_at: r[3].as_str().map(str::to_owned),
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
/// one (else returns the last). Refuses a log whose chain is broken or
/// which no longer begins with the last checkpoint's log.
pub async fn sign(store: &Store, db: &ReadDb, signer: &Signer) -> Result<Checkpoint> {
    let (verification, leaves) = store.verify_tree().await?;
    if let Some(bad) = verification.first_bad {
        return Err(Error::Refused(format!("the hash chain is broken: {bad}")));
    }
    let Some((size, head)) = verification.head else {
        return Err(Error::Refused("the log is empty".into()));
    };
    let last = list(db).await?.pop();
    if let Some(last) = &last {
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
        if last.size == size {
            return Ok(last.clone());
        }
    }
    publish(db, signer).await?;
    let mut checkpoint = Checkpoint {
        size,
        root: hex(&merkle::root(&leaves)),
        head_hash: hex(&head),
        signed_at: Utc::now(),
        key_id: signer.key_id(),
        signature: String::new(),
    };
    checkpoint.signature = hex(&signer.key.sign(&checkpoint.message()).to_bytes());
    db.transact(
        None,
        &[Stmt {
            sql: std::sync::Arc::from(
                "INSERT INTO checkpoints (size, root, head_hash, signed_at, key_id, signature) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            ),
            args: vec![
                Val::from(size),
                Val::from(checkpoint.root.as_str()),
                Val::from(checkpoint.head_hash.as_str()),
                Val::from(checkpoint.signed_at),
                Val::from(checkpoint.key_id.as_str()),
                Val::from(checkpoint.signature.as_str()),
            ],
        }],
    )
    .await?;
    tracing::info!(size, key = %checkpoint.key_id, "signed a checkpoint");
    Ok(checkpoint)
}

/// What `audit` found: the chain, then each checkpoint against the log.
#[derive(Debug)]
pub struct Audit {
    pub verification: lectern_store::Verification,
    pub checkpoints: usize,
    /// The first checkpoint that fails, and why.
    pub bad_checkpoint: Option<(u64, String)>,
}

/// Recomputes the hash chain, and checks every checkpoint's signature and
/// that the log still begins with the log it signed.
pub async fn audit(store: &Store, db: &ReadDb) -> Result<Audit> {
    let (verification, leaves) = store.verify_tree().await?;
    let keys = keys(db).await?;
    let checkpoints = list(db).await?;
    let mut bad = None;
    for c in &checkpoints {
        let problem = match keys.iter().find(|k| k.key_id == c.key_id) {
            None => Some(format!("its key {} is not published", c.key_id)),
            Some(k) => match c.verify(&k.public_key) {
                Err(e) => Some(e.to_string()),
                Ok(()) if c.size > leaves.len() as u64 => Some(format!(
                    "the log's first {} events do not verify (it signed {})",
                    leaves.len(),
                    c.size
                )),
                Ok(()) if hex(&merkle::root(&leaves[..c.size as usize])) != c.root => {
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
    Ok(Audit {
        verification,
        checkpoints: checkpoints.len(),
        bad_checkpoint: bad,
    })
}

/// The checkpoint key's path: the setting, else `KEY_FILE` in the data
/// directory.
pub fn key_path(setting: Option<PathBuf>, data_dir: PathBuf) -> PathBuf {
    setting.unwrap_or_else(|| data_dir.join(KEY_FILE))
}
