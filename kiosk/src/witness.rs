//! The kiosk as a witness of the server's log. Each roster shows the log's
//! latest signed checkpoint with a consistency proof from the one this
//! kiosk accepted before, and the checkpoints other kiosks accepted. The
//! kiosk accepts a checkpoint only if the log's key signed it and it
//! extends what it saw; it cosigns what it accepts (C2SP
//! `tlog-cosignature`, with its enrolled key) and sends that back with its
//! heartbeats. A checkpoint that does not extend what this kiosk, or
//! another kiosk, saw raises an alarm that stays: in the kiosk's log, in
//! every heartbeat, and so in the server's `kiosks` query and metrics.
//!
//! The log's key is the one given at enrolment (`--log-key`), else the one
//! the first checkpoint came with (trust on first use); after a key
//! rotation the first checkpoint is signed by both keys, and the kiosk
//! follows the new one.

use lectern_kiosk_protocol::LogView;
use lectern_tlog::note::{Note, NoteKey, NoteSigner, TreeHead, unb64};
use lectern_tlog::witness::check_extension;

/// What the kiosk has witnessed, as kept in its database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witnessed {
    /// The log's verifier key it trusts.
    pub log_key: Option<String>,
    /// The latest checkpoint it accepted.
    pub note: Option<String>,
    /// That checkpoint with its cosignature, for the next heartbeat.
    pub cosigned: Option<String>,
    /// Why it refused a log it was shown (kept once raised).
    pub alarm: Option<String>,
}

impl Witnessed {
    /// The size of the checkpoint it holds (0: none).
    pub fn size(&self) -> u64 {
        self.head().map_or(0, |h| h.size)
    }

    fn head(&self) -> Option<TreeHead> {
        let note = Note::parse(self.note.as_deref()?).ok()?;
        TreeHead::parse(&note.body).ok()
    }

    fn raise(&mut self, alarm: String) {
        if self.alarm.is_none() {
            tracing::error!("witness alarm: {alarm}");
            self.alarm = Some(alarm);
        }
    }

    /// Takes what a roster shows of the log, as of `now` (seconds since the
    /// epoch), cosigning with `me`.
    pub fn see(&mut self, view: &LogView, me: &NoteSigner, now: u64) {
        let shown = match NoteKey::parse(&view.log_key) {
            Ok(k) => k,
            Err(e) => {
                return self.raise(format!("the server names a log key that is not one: {e}"));
            }
        };
        let mut trusted = match self.log_key.as_deref().map(NoteKey::parse) {
            Some(Ok(k)) => k,
            _ => {
                self.log_key = Some(shown.vkey());
                shown.clone()
            }
        };
        let note = match Note::parse(&view.note) {
            Ok(n) => n,
            Err(e) => {
                return self.raise(format!("the server's checkpoint is not a signed note: {e}"));
            }
        };
        // A rotated key: the first checkpoint after it carries both.
        if trusted != shown
            && note.verified_by(&trusted).is_some()
            && note.verified_by(&shown).is_some()
        {
            tracing::info!(new = %shown, "the log's key was rotated; following the new key");
            self.log_key = Some(shown.vkey());
            trusted = shown;
        }
        let proof: Result<Vec<_>, _> = view
            .proof
            .iter()
            .map(|h| unb64("a consistency proof hash", h))
            .collect();
        let seen = self.head();
        match proof
            .map_err(Into::into)
            .and_then(|proof| check_extension(seen.as_ref(), &note, &proof, &trusted))
        {
            Ok(head) => {
                if seen.as_ref() != Some(&head) || self.cosigned.is_none() {
                    let mut cosigned = note.clone();
                    cosigned.add(me.cosign(&note.body, now));
                    self.note = Some(view.note.clone());
                    self.cosigned = Some(cosigned.text());
                }
            }
            Err(e @ lectern_tlog::witness::WitnessError::Unsigned { .. }) => {
                return self.raise(format!(
                    "the server showed this kiosk a checkpoint it cannot trust: {e}"
                ));
            }
            Err(e) => {
                return self.raise(format!(
                    "the server showed this kiosk a log that does not extend the one it saw: {e}"
                ));
            }
        }
        for peer in &view.peers {
            let Ok(theirs) = Note::parse(&peer.note) else {
                continue;
            };
            // Only the log's own signature makes another kiosk's view
            // evidence against it.
            if theirs.verified_by(&trusted).is_none() {
                continue;
            }
            let Ok(head) = TreeHead::parse(&theirs.body) else {
                continue;
            };
            let proof: Result<Vec<_>, _> = peer
                .proof
                .iter()
                .map(|h| unb64("a consistency proof hash", h))
                .collect();
            let extends = proof
                .map_err(Into::into)
                .and_then(|proof| check_extension(Some(&head), &note, &proof, &trusted));
            if let Err(e) = extends {
                return self.raise(format!(
                    "split view: {} was shown a log of {} events that the log shown to this \
                     kiosk does not extend: {e}",
                    peer.witness, head.size
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lectern_kiosk_protocol::LogView;
    use lectern_tlog::merkle;
    use lectern_tlog::note::{Alg, Note, NoteSigner, TreeHead, b64};

    use super::Witnessed;

    fn leaves(n: u8) -> Vec<merkle::Hash> {
        (0..n).map(|i| merkle::leaf_hash(&[i])).collect()
    }

    /// The log of `n` events signed by `keys`, shown with a proof from
    /// `from` events; the roster names the first key.
    fn view(keys: &[&NoteSigner], n: u8, from: u64) -> LogView {
        let all = leaves(n);
        let body = TreeHead {
            origin: "lectern.test/log".into(),
            size: u64::from(n),
            root: merkle::root(&all),
        }
        .body();
        let note = Note {
            signatures: keys.iter().map(|k| k.sign(&body)).collect(),
            body,
        };
        LogView {
            note: note.text(),
            log_key: keys[0].key().vkey(),
            proof: merkle::consistency_proof(from as usize, &all)
                .iter()
                .map(b64)
                .collect(),
            peers: vec![],
        }
    }

    #[test]
    fn a_kiosk_follows_a_rotated_key_and_refuses_an_unknown_one() {
        let me = NoteSigner::new("lectern-kiosk/k1", Alg::Cosignature, &[3; 32]).unwrap();
        let old = NoteSigner::new("lectern.test/log", Alg::Ed25519, &[1; 32]).unwrap();
        let new = NoteSigner::new("lectern.test/log", Alg::Ed25519, &[2; 32]).unwrap();
        let mut w = Witnessed::default();
        w.see(&view(&[&old], 10, 0), &me, 100);
        assert_eq!((w.size(), w.alarm.as_deref()), (10, None));
        assert_eq!(w.log_key.as_deref(), Some(old.key().vkey().as_str()));
        let cosigned = Note::parse(w.cosigned.as_deref().unwrap()).unwrap();
        assert_eq!(cosigned.verified_by(me.key()), Some(100));
        // The rotation's checkpoint carries both keys: followed.
        w.see(&view(&[&new, &old], 12, 10), &me, 200);
        assert_eq!((w.size(), w.alarm.as_deref()), (12, None));
        assert_eq!(w.log_key.as_deref(), Some(new.key().vkey().as_str()));
        // A key the kiosk never saw vouched for: refused, and kept refused.
        let intruder = NoteSigner::new("lectern.test/log", Alg::Ed25519, &[9; 32]).unwrap();
        w.see(&view(&[&intruder], 14, 12), &me, 300);
        assert_eq!(w.size(), 12, "it keeps what it accepted");
        let alarm = w.alarm.clone().unwrap();
        assert!(alarm.contains("is not signed by the log key"), "{alarm}");
        w.see(&view(&[&new], 14, 12), &me, 400);
        assert_eq!(
            w.alarm.as_deref(),
            Some(alarm.as_str()),
            "an alarm stays raised"
        );
    }
}
