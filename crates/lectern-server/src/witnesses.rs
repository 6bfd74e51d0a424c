//! Signing a checkpoint and having it witnessed: the server signs,
//! publishes, then submits the note to each outside witness configured
//! (C2SP `tlog-witness`, `POST <url>/add-checkpoint`) with a consistency
//! proof from the last checkpoint that witness cosigned, and keeps the
//! cosignatures it returns (in the database and in the published note).
//!
//! Kiosks witness the log too: each roster carries the latest checkpoint
//! with a consistency proof from the one the kiosk accepted before
//! (`LogViews`), and each heartbeat brings it back cosigned
//! (`take_cosignature`) or with the kiosk's alarm.
//!
//! Plain HTTP only, as the kiosks speak: a witness's answer is checked by
//! its signature, not by the connection; reach an HTTPS witness through a
//! local TLS tunnel (deploy/README.md).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use lectern_audit::checkpoints::{self, Checkpoint};
use lectern_kiosk_protocol::{LogView, PeerView};
use lectern_projections::ReadDb;
use lectern_store::Store;
use lectern_tlog::merkle::{self, Hash};
use lectern_tlog::note::{Alg, Note, NoteKey, NoteSignature, TreeHead, b64};
use lectern_tlog::witness::add_checkpoint_request;

use crate::config::{Signing, WitnessConfig};

/// How long a witness may take to answer.
const TIMEOUT: Duration = Duration::from_secs(15);

/// An outside witness: where to submit, and the key its cosignatures
/// verify under.
#[derive(Debug, Clone)]
pub struct OutsideWitness {
    /// `host:port` and the path prefix.
    authority: String,
    prefix: String,
    pub key: NoteKey,
}

impl OutsideWitness {
    pub fn from_config(c: &WitnessConfig) -> anyhow::Result<OutsideWitness> {
        let key = NoteKey::parse(&c.key)
            .with_context(|| format!("[[witnesses]] url = {:?}: its key", c.url))?;
        if key.alg() != Alg::Cosignature {
            bail!(
                "[[witnesses]] key {:?} is not a cosignature key (type 0x04)",
                c.key
            );
        }
        let (authority, prefix) = split_url(&c.url)?;
        Ok(OutsideWitness {
            authority,
            prefix,
            key,
        })
    }

    pub fn name(&self) -> &str {
        self.key.name()
    }
}

/// `http://host[:port]/prefix` → (`host:port`, `/prefix`).
pub(crate) fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url.trim().trim_end_matches('/');
    if rest.starts_with("https://") {
        bail!(
            "{url:?}: Lectern speaks plain HTTP to witnesses and published copies (their \
             signatures are checked); reach an HTTPS one through a local TLS tunnel"
        );
    }
    let rest = rest
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("{url:?} is not an http:// URL"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if host.is_empty() {
        bail!("{url:?} names no host");
    }
    let authority = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    Ok((
        authority,
        format!("/{path}").trim_end_matches('/').to_owned(),
    ))
}

/// One HTTP/1.1 exchange: (status, content type, body).
pub(crate) async fn http(
    authority: &str,
    method: &str,
    path: &str,
    body: String,
) -> anyhow::Result<(u16, String, String)> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("cannot reach {authority}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("cannot speak HTTP to {authority}"))?;
        tokio::spawn(conn);
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", authority)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, kind, String::from_utf8_lossy(&bytes).into_owned()))
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| anyhow!("{authority} did not answer within {TIMEOUT:?}"))?
}

/// Reads a published copy: a directory, or the URL where one is served
/// (`<url>/index`, `<url>/log/<size>`).
pub async fn read_published(
    source: &str,
) -> anyhow::Result<Vec<lectern_audit::published::Published>> {
    if !source.starts_with("http://") && !source.starts_with("https://") {
        let dir = std::path::Path::new(source);
        if !dir.join("index").exists() {
            bail!(
                "{source} holds no published checkpoints (no index file): give the directory \
                 checkpoints are published in, or its URL"
            );
        }
        return Ok(lectern_audit::published::read_dir(dir)?);
    }
    let (authority, prefix) = split_url(source)?;
    let get = |path: String| {
        let authority = authority.clone();
        async move {
            let (status, _, body) = http(&authority, "GET", &path, String::new()).await?;
            if status != 200 {
                bail!("GET http://{authority}{path} answered {status}");
            }
            anyhow::Ok(body)
        }
    };
    let index = get(format!("{prefix}/index")).await?;
    let mut out = Vec::new();
    for size in lectern_audit::published::parse_index(&index)? {
        let note = get(format!("{prefix}/log/{size}")).await?;
        out.push(lectern_audit::published::Published { size, note });
    }
    Ok(out)
}

/// Signs a checkpoint if the log grew, publishes it, and submits it to
/// the outside witnesses (a witness that cannot be reached or refuses is
/// logged; the checkpoint stands).
pub async fn checkpoint(
    store: &Store,
    db: &ReadDb,
    signing: &Signing,
) -> anyhow::Result<Checkpoint> {
    let signer = signing.signer()?;
    let c = checkpoints::sign(store, db, &signer).await?;
    witness(store, db, signing, &c).await;
    Ok(c)
}

/// Submits `c` to every outside witness that has not cosigned it.
pub async fn witness(store: &Store, db: &ReadDb, signing: &Signing, c: &Checkpoint) {
    if signing.witnesses.is_empty() {
        return;
    }
    let Some(note) = c.note.clone() else {
        return;
    };
    let cosigned = match lectern_audit::published::cosignatures(db).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!("cannot read the witnesses' cosignatures: {e}");
            return;
        }
    };
    for w in &signing.witnesses {
        let old = cosigned
            .iter()
            .find(|(name, _, _)| name == w.name())
            .map_or(0, |(_, size, _)| *size);
        if old == c.size {
            continue;
        }
        match submit(store, w, old, c.size, &note).await {
            Ok(lines) => {
                if let Err(e) = keep(db, signing, w, c, &note, &lines).await {
                    tracing::warn!(witness = w.name(), "{e:#}");
                }
            }
            Err(e) => tracing::warn!(witness = w.name(), size = c.size, "not witnessed: {e:#}"),
        }
    }
}

/// `add-checkpoint` from `old` (retried once from the size the witness
/// says it holds); returns the cosignature lines.
async fn submit(
    store: &Store,
    w: &OutsideWitness,
    mut old: u64,
    size: u64,
    note: &str,
) -> anyhow::Result<String> {
    for _ in 0..2 {
        let proof = if old == 0 || old >= size {
            Vec::new()
        } else {
            checkpoints::consistency_path(store, old, size).await?
        };
        let body = add_checkpoint_request(old, &proof, note);
        let path = format!("{}/add-checkpoint", w.prefix);
        let (status, kind, answer) = http(&w.authority, "POST", &path, body).await?;
        match status {
            200 => return Ok(answer),
            409 if kind.starts_with("text/x.tlog.size") => {
                old = answer.trim().parse().with_context(|| {
                    format!("the witness answered 409 with a size that is not one: {answer:?}")
                })?;
            }
            _ => bail!("the witness answered {status}: {}", answer.trim()),
        }
    }
    bail!("the witness keeps holding another size")
}

async fn keep(
    db: &ReadDb,
    signing: &Signing,
    w: &OutsideWitness,
    c: &Checkpoint,
    note: &str,
    lines: &str,
) -> anyhow::Result<()> {
    let mut cosigned = Note::parse(note)?;
    let mut found = false;
    for line in lines.lines().filter(|l| !l.is_empty()) {
        let sig = NoteSignature::parse_line(line)?;
        if w.key.verify(&cosigned.body, &sig).is_some() {
            cosigned.add(sig);
            found = true;
        }
    }
    if !found {
        bail!("the witness's answer holds no cosignature that verifies under its key");
    }
    let text = cosigned.text();
    lectern_audit::published::record_cosignature(db, w.name(), c.size, &text).await?;
    lectern_audit::published::publish(&signing.publish_dir, c.size, &text)?;
    tracing::info!(witness = w.name(), size = c.size, "checkpoint cosigned");
    Ok(())
}

/// The most other kiosks' views a roster carries.
const MAX_PEERS: usize = 8;

/// The log as shown to kiosks: the latest checkpoint's leaves, kept in
/// memory (32 bytes an event) from one checkpoint to the next, so that a
/// roster's consistency proofs do not read the log; proofs between the same
/// two sizes are made once.
#[derive(Clone, Default)]
pub struct LogViews {
    tree: Arc<tokio::sync::Mutex<Option<Tree>>>,
}

struct Tree {
    size: u64,
    root: String,
    leaves: Vec<Hash>,
    proofs: HashMap<u64, Vec<String>>,
}

impl Tree {
    fn proof_from(&mut self, old: u64) -> Vec<String> {
        if old == 0 || old >= self.size {
            return Vec::new();
        }
        let leaves = &self.leaves;
        self.proofs
            .entry(old)
            .or_insert_with(|| {
                merkle::consistency_proof(old as usize, leaves)
                    .iter()
                    .map(b64)
                    .collect()
            })
            .clone()
    }
}

impl LogViews {
    /// What `kiosk`, which last accepted a checkpoint of `witnessed`
    /// events, is shown: the latest checkpoint, a proof from `witnessed`,
    /// and the other kiosks' differing views. `None` before any checkpoint
    /// with a note.
    pub async fn view(
        &self,
        store: &Store,
        db: &ReadDb,
        kiosk: &str,
        witnessed: u64,
    ) -> anyhow::Result<Option<LogView>> {
        let Some(latest) = checkpoints::latest(db).await? else {
            return Ok(None);
        };
        let Some(note) = latest.note.clone() else {
            return Ok(None);
        };
        let origin = TreeHead::parse(&Note::parse(&note)?.body)?.origin;
        let public = checkpoints::public_key(db, &latest.key_id).await?;
        let public = checkpoints::unhex::<32>("a checkpoint key", &public)?;
        let log_key = NoteKey::new(&origin, Alg::Ed25519, public)?.vkey();
        let mut tree = self.tree.lock().await;
        if tree
            .as_ref()
            .is_none_or(|t| (t.size, &t.root) != (latest.size, &latest.root))
        {
            // The leaves held extend to the new checkpoint's by reading only
            // the events since; if they no longer make its root (the log
            // was rewritten before them), the whole log is read again.
            let held = tree
                .take()
                .filter(|t| t.size < latest.size)
                .map(|t| t.leaves);
            let mut leaves = held.clone().unwrap_or_default();
            extend(store, &mut leaves, latest.size).await?;
            if held.is_some() && lectern_tlog::hex(&merkle::root(&leaves)) != latest.root {
                leaves.clear();
                extend(store, &mut leaves, latest.size).await?;
            }
            *tree = (leaves.len() as u64 == latest.size
                && lectern_tlog::hex(&merkle::root(&leaves)) == latest.root)
                .then(|| Tree {
                    size: latest.size,
                    root: latest.root.clone(),
                    leaves,
                    proofs: HashMap::new(),
                });
            if tree.is_none() {
                tracing::error!(
                    size = latest.size,
                    "the log no longer holds the latest checkpoint's events: kiosks are shown \
                     it without a proof"
                );
            }
        }
        let proof = tree
            .as_mut()
            .map_or_else(Vec::new, |t| t.proof_from(witnessed));
        let own = lectern_kiosk_protocol::witness_name(kiosk);
        let body = Note::parse(&note)?.body;
        let mut peers: Vec<PeerView> = Vec::new();
        for (witness, size, cosigned) in lectern_audit::published::cosignatures(db).await? {
            if !witness.starts_with(lectern_kiosk_protocol::WITNESS_PREFIX) || witness == own {
                continue;
            }
            let Ok(seen) = Note::parse(&cosigned) else {
                continue;
            };
            if seen.body == body || peers.iter().any(|p| p.note == cosigned) {
                continue;
            }
            peers.push(PeerView {
                witness,
                proof: tree.as_mut().map_or_else(Vec::new, |t| t.proof_from(size)),
                note: cosigned,
            });
            if peers.len() == MAX_PEERS {
                break;
            }
        }
        Ok(Some(LogView {
            note,
            log_key,
            proof,
            peers,
        }))
    }
}

/// Adds the leaves of the events after `leaves.len()` up to `size` (fewer
/// when the log has a gap or ends before).
async fn extend(store: &Store, leaves: &mut Vec<Hash>, size: u64) -> anyhow::Result<()> {
    const PAGE: usize = 10_000;
    while (leaves.len() as u64) < size {
        let after = leaves.len() as u64;
        let want = usize::try_from(size - after).unwrap_or(PAGE).min(PAGE);
        let page = store.read_all(after, want, None).await?;
        let before = leaves.len();
        for e in &page {
            if e.position != leaves.len() as u64 + 1 {
                return Ok(());
            }
            leaves.push(merkle::leaf_hash(&e.hash));
        }
        if leaves.len() == before {
            return Ok(());
        }
    }
    Ok(())
}

/// Takes a kiosk's cosigned checkpoint from its heartbeat: kept when the
/// log's key signed it and the kiosk's enrolled key (`public`) cosigned it.
pub async fn take_cosignature(
    db: &ReadDb,
    kiosk: &str,
    public: [u8; 32],
    cosigned: &str,
) -> anyhow::Result<()> {
    let note = Note::parse(cosigned)?;
    let head = TreeHead::parse(&note.body)?;
    let name = lectern_kiosk_protocol::witness_name(kiosk);
    let key = NoteKey::new(&name, Alg::Cosignature, public)?;
    if note.verified_by(&key).is_none() {
        bail!(
            "the checkpoint of {} events is not cosigned by kiosk {kiosk}'s key",
            head.size
        );
    }
    let logged = checkpoints::keys(db).await?.iter().any(|k| {
        checkpoints::unhex::<32>("a checkpoint key", &k.public_key)
            .ok()
            .and_then(|p| NoteKey::new(&head.origin, Alg::Ed25519, p).ok())
            .is_some_and(|k| note.verified_by(&k).is_some())
    });
    if !logged {
        bail!(
            "the checkpoint of {} events kiosk {kiosk} cosigned is not signed by a checkpoint key",
            head.size
        );
    }
    lectern_audit::published::record_cosignature(db, &name, head.size, cosigned).await?;
    Ok(())
}
