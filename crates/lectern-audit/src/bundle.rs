//! Audit bundles: a person's appraisal for a year with the evidence behind
//! it, checkable by anyone, offline, with no database.
//!
//! `export` gathers the events the person's appraisal is folded from (as
//! `replay` does), keeps those about the person (another person's
//! attendance, adjustments and the year-close totals stay out), and writes
//! each with the fields its chain hash covers, its inclusion proof in the
//! log of a signed checkpoint, the checkpoint and its public key, and the
//! explanation lines the server computed. `Bundle::check` recomputes every
//! event's chain hash, checks its proof against the checkpoint, the
//! checkpoint's signature, and folds the lines again from the bundled
//! events by the domain's rules: an edited event, proof, checkpoint or
//! line is named.
//!
//! What a bundle cannot show: that no event was left out of it. Every
//! bundled event is proven to be in the log, unaltered; an event missing
//! from the bundle changes the recomputed lines only if the bundled lines
//! were computed with it.

use chrono::{DateTime, NaiveDate, Utc};
use lectern_domain::{Appraisal, Campus, Period, StaffNo};
use lectern_projections::ReadDb;
use lectern_store::personal::{Outcome, Sealable};
use lectern_store::{RecordedEvent, Store};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::checkpoints::{self, Checkpoint, InclusionProof, Signer, hex, unhex};
use crate::error::{Error, Result};
use crate::replay::{AsOf, Evidence, Pending, concerns, fold_person, gather_person};

/// The format tag every bundle carries.
pub const FORMAT: &str = "lectern-audit-bundle-v1";

/// An event as the log stores it, with the fields its chain hash covers
/// and the proof that it is in the checkpoint's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundledEvent {
    pub position: u64,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    /// The payload exactly as stored (JSON text).
    pub payload: String,
    pub metadata: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The chain hash of the event before it, hex.
    pub prev_hash: String,
    /// The Merkle audit path to the checkpoint's root, hex.
    pub proof: Vec<String>,
}

/// One explanation line, as the server computed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundledLine {
    pub points: i32,
    pub rule: String,
    pub rule_version: Option<u32>,
    pub date: NaiveDate,
    pub subject: String,
    pub positions: Vec<u64>,
}

/// A person's appraisal for a year and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub person: String,
    pub year: i32,
    /// The campus time zone the lines were computed in (IANA name).
    pub campus_time_zone: String,
    pub exported_at: DateTime<Utc>,
    pub checkpoint: Checkpoint,
    /// The checkpoint key, hex.
    pub public_key: String,
    pub total: i32,
    pub lines: Vec<BundledLine>,
    pub events: Vec<BundledEvent>,
}

/// What a successful check established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub events: usize,
    pub total: i32,
    pub lines: Vec<BundledLine>,
}

/// An appraisal's lines in the bundle's form.
pub fn lines_of(a: &Appraisal) -> Vec<BundledLine> {
    a.lines
        .iter()
        .map(|l| BundledLine {
            points: l.points,
            rule: l.rule.to_owned(),
            rule_version: l.rule_version,
            date: l.date,
            subject: l.subject.clone(),
            positions: l.positions.clone(),
        })
        .collect()
}

/// Writes `person`'s bundle for `year`: the events their appraisal is
/// folded from, proven in the latest checkpoint's log. When that
/// checkpoint does not cover the events, `signer` signs a new one (without
/// a signer, the export is refused).
pub async fn export(
    store: &Store,
    db: &ReadDb,
    campus: &Campus,
    person: &StaffNo,
    year: i32,
    signer: Option<&Signer>,
) -> Result<Bundle> {
    let period =
        Period::year(year).map_err(|e| Error::invalid("year", year.to_string(), e.to_string()))?;
    let evidence = gather_person(store, db, campus, person, &period, AsOf::Now).await?;
    let appraisal = fold_person(person, &period, campus, &evidence, &Pending::default())?;
    let gathered: Vec<&RecordedEvent> = evidence
        .streams
        .iter()
        .flatten()
        .filter(|e| concerns(person, e))
        .collect();
    // The bundle carries the events as stored (personal fields sealed), so
    // that their hashes and proofs check without any key.
    let ids: Vec<Uuid> = gathered.iter().map(|e| e.event_id).collect();
    let events = store.read_stored_ids(&ids).await?;
    if let Some(e) = events.iter().find(|e| e.computed_hash() != e.hash) {
        return Err(Error::BadSignature(format!(
            "the event at position {} does not match its chain hash; run `lectern audit verify`",
            e.position
        )));
    }
    let newest = events.last().map_or(0, |e| e.position);
    let latest = checkpoints::list(db).await?.into_iter().last();
    let checkpoint = match (latest, signer) {
        (Some(c), _) if c.size >= newest => c,
        (_, Some(signer)) => checkpoints::sign(store, db, signer).await?,
        (latest, None) => {
            return Err(Error::Refused(format!(
                "the latest checkpoint ({}) does not cover position {newest}; sign one with \
                 `lectern audit checkpoint`",
                latest.map_or("none".to_owned(), |c| format!("size {}", c.size))
            )));
        }
    };
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    let proofs = checkpoints::prove_all(store, &checkpoint, &positions).await?;
    let public_key = checkpoints::public_key(db, &checkpoint.key_id).await?;
    Ok(Bundle {
        format: FORMAT.to_owned(),
        person: person.as_str().to_owned(),
        year,
        campus_time_zone: campus.tz().name().to_owned(),
        exported_at: Utc::now(),
        checkpoint,
        public_key,
        total: appraisal.total,
        lines: lines_of(&appraisal),
        events: events
            .iter()
            .zip(proofs)
            .map(|(e, proof)| BundledEvent {
                position: e.position,
                stream_id: e.stream_id.clone(),
                stream_version: e.stream_version,
                event_id: e.event_id,
                event_type: e.event_type.clone(),
                schema_version: e.schema_version,
                payload: e.payload.clone(),
                metadata: e.metadata.clone(),
                occurred_at: e.occurred_at,
                recorded_at: e.recorded_at,
                prev_hash: hex(&e.prev_hash),
                proof: proof.path,
            })
            .collect(),
    })
}

impl Bundle {
    /// Checks the bundle with no database: the checkpoint's signature
    /// (with `trusted`, if given, as the only key accepted), every event's
    /// chain hash and inclusion proof, and the lines folded again from the
    /// events. The error names the first thing that does not hold.
    pub fn check(&self, trusted: Option<&str>) -> Result<Checked> {
        if self.format != FORMAT {
            return Err(Error::invalid(
                "bundle format",
                self.format.as_str(),
                format!("this lectern reads {FORMAT}"),
            ));
        }
        if let Some(t) = trusted
            && !t.trim().eq_ignore_ascii_case(self.public_key.trim())
        {
            return Err(Error::BadSignature(format!(
                "the bundle is signed with key {}, not the trusted key {t}",
                self.public_key
            )));
        }
        self.checkpoint.verify(&self.public_key)?;
        let mut recorded = Vec::with_capacity(self.events.len());
        let personal = lectern_projections::personal_fields();
        for e in &self.events {
            let event = RecordedEvent {
                position: e.position,
                stream_id: e.stream_id.clone(),
                stream_version: e.stream_version,
                event_id: e.event_id,
                event_type: e.event_type.clone(),
                schema_version: e.schema_version,
                payload: e.payload.clone(),
                metadata: e.metadata.clone(),
                occurred_at: e.occurred_at,
                recorded_at: e.recorded_at,
                prev_hash: unhex::<32>("a previous hash", &e.prev_hash)?,
                hash: [0; 32],
            };
            let chain_hash = event.computed_hash();
            InclusionProof {
                position: e.position,
                size: self.checkpoint.size,
                chain_hash: hex(&chain_hash),
                path: e.proof.clone(),
            }
            .check(&self.checkpoint)
            .map_err(|_| {
                Error::BadSignature(format!(
                    "the event at position {} ({} in {}) is not as the log of the checkpoint \
                     holds it: it was altered, or its proof was",
                    e.position, e.event_type, e.stream_id
                ))
            })?;
            // Folded with no keys: personal fields read as erased, and no
            // appraisal line depends on them.
            let opened = match personal.open(
                &Sealable {
                    position: event.position,
                    event_id: event.event_id,
                    event_type: &event.event_type,
                    stream_id: &event.stream_id,
                    payload: &event.payload,
                },
                &|_| Some(None),
            )? {
                Outcome::Changed(opened) => opened,
                _ => event.payload.clone(),
            };
            recorded.push(RecordedEvent {
                hash: chain_hash,
                payload: opened,
                ..event
            });
        }
        // Folded again, by stream, in stream order.
        recorded.sort_by(|a, b| {
            (a.stream_id.as_str(), a.stream_version).cmp(&(b.stream_id.as_str(), b.stream_version))
        });
        let mut evidence = Evidence::default();
        for e in recorded {
            match evidence.streams.last_mut() {
                Some(s) if s[0].stream_id == e.stream_id => s.push(e),
                _ => evidence.streams.push(vec![e]),
            }
        }
        let person = StaffNo::parse(&self.person)
            .map_err(|e| Error::invalid("person", self.person.as_str(), e.to_string()))?;
        let period = Period::year(self.year)
            .map_err(|e| Error::invalid("year", self.year.to_string(), e.to_string()))?;
        let campus = Campus::new(&self.campus_time_zone).map_err(|e| {
            Error::invalid(
                "campus time zone",
                self.campus_time_zone.as_str(),
                e.to_string(),
            )
        })?;
        let folded = fold_person(&person, &period, &campus, &evidence, &Pending::default())?;
        let lines = lines_of(&folded);
        if let Some((i, (stated, found))) = self
            .lines
            .iter()
            .zip(&lines)
            .enumerate()
            .find(|(_, (a, b))| a != b)
        {
            return Err(Error::BadSignature(format!(
                "line {} says {:+} ({} {} {}), the bundled events give {:+} ({} {} {})",
                i + 1,
                stated.points,
                stated.rule,
                stated.date,
                stated.subject,
                found.points,
                found.rule,
                found.date,
                found.subject
            )));
        }
        if self.lines.len() != lines.len() {
            return Err(Error::BadSignature(format!(
                "the bundle states {} lines, the bundled events give {}",
                self.lines.len(),
                lines.len()
            )));
        }
        let sum: i32 = self.lines.iter().map(|l| l.points).sum();
        if self.total != folded.total || sum != folded.total {
            return Err(Error::BadSignature(format!(
                "the bundle states a total of {} (its lines sum to {sum}), the bundled events \
                 give {}",
                self.total, folded.total
            )));
        }
        Ok(Checked {
            events: self.events.len(),
            total: folded.total,
            lines,
        })
    }
}
