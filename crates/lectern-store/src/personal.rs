//! Personal data that can be erased without breaking the chain.
//!
//! An event type declares which of its top-level fields are personal and
//! whose they are ([`PersonalFields`]). When such an event is appended, each
//! of those fields is replaced by a sealed string before the event is
//! hashed: the field's JSON, encrypted with XChaCha20-Poly1305 under a key of
//! that person's, with the event's id, type, the field and the person as
//! associated data, so the ciphertext cannot be moved to another event or
//! field. The chain, checkpoints and proofs cover the sealed bytes.
//!
//! Reads open sealed fields with the person's key. A key that is gone
//! (erased) reads as the field's erased value ([`Erased`]), never as an
//! error; a key that does not open the field (a wrong key, a ciphertext
//! moved from another event) is `Error::Corrupt`.
//!
//! Keys live in the table `personal_keys`, never in the log. Erasing a
//! person overwrites their key with NULL ([`crate::Store::erase_personal_key`]).
//!
//! The nonce is derived from the key, the event's identity and the
//! plaintext (as in SIV): sealing the same event twice gives the same bytes,
//! so a retried append stays idempotent, and two different plaintexts never
//! share a nonce.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::Sha256;
use uuid::Uuid;

use crate::error::{Error, Result};

/// How a sealed field's stored value begins.
pub const SEALED_PREFIX: &str = "lectern-sealed:v1:";
/// What an erased text field reads as.
pub const ERASED_TEXT: &str = "[erased]";
const CONTEXT: &[u8] = b"lectern-personal-v1\n";

/// A person's data key: 32 random bytes.
pub type Key = [u8; 32];

/// Whose a personal field is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The person named by this top-level field of the same payload.
    Field(&'static str),
    /// The person whose stream the event is in: the stream id after this
    /// prefix (`person-` for `person-19950001`).
    Stream(&'static str),
}

/// What a field reads as once its person's key is erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erased {
    /// The text [`ERASED_TEXT`].
    Text,
    /// JSON `null`.
    Null,
}

impl Erased {
    fn json(self) -> &'static str {
        match self {
            Erased::Text => "\"[erased]\"",
            Erased::Null => "null",
        }
    }
}

#[derive(Debug, Clone)]
struct Field {
    name: &'static str,
    subject: Subject,
    erased: Erased,
}

/// The personal fields of every event type a store seals.
#[derive(Debug, Clone, Default)]
pub struct PersonalFields {
    by_type: HashMap<String, Vec<Field>>,
}

impl PersonalFields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `field` of `event_type` personal, of `subject`.
    pub fn declare(
        mut self,
        event_type: &str,
        field: &'static str,
        subject: Subject,
        erased: Erased,
    ) -> Self {
        self.by_type
            .entry(event_type.to_owned())
            .or_default()
            .push(Field {
                name: field,
                subject,
                erased,
            });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// Whether `event_type` has personal fields.
    pub fn covers(&self, event_type: &str) -> bool {
        self.by_type.contains_key(event_type)
    }

    /// The persons whose keys sealing this event needs.
    pub(crate) fn subjects_of(&self, e: &Sealable<'_>) -> Result<Vec<String>> {
        let Some(fields) = self.by_type.get(e.event_type) else {
            return Ok(Vec::new());
        };
        let top = Top::parse(e.payload).map_err(|m| invalid(e, &m))?;
        let mut out = Vec::new();
        for f in fields {
            if top.get(f.name).is_some_and(|v| v.get() != "null") {
                let s = subject(&f.subject, &top, e.stream_id).map_err(|m| invalid(e, &m))?;
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    /// `e`'s payload with its personal fields sealed under the keys `keys`
    /// holds (every subject's key must be there; an erased subject refuses
    /// the append). `None` when there is nothing to seal.
    pub(crate) fn seal(
        &self,
        e: &Sealable<'_>,
        keys: &HashMap<String, Option<Key>>,
    ) -> Result<Option<String>> {
        let Some(fields) = self.by_type.get(e.event_type) else {
            return Ok(None);
        };
        let top = Top::parse(e.payload).map_err(|m| invalid(e, &m))?;
        let mut edits = Vec::new();
        for f in fields {
            let Some(raw) = top.get(f.name) else { continue };
            if raw.get() == "null" || sealed_text(raw).is_some() {
                continue;
            }
            let person = subject(&f.subject, &top, e.stream_id).map_err(|m| invalid(e, &m))?;
            let key = match keys.get(&person) {
                Some(Some(k)) => k,
                Some(None) => {
                    return Err(Error::InvalidAppend(format!(
                        "the personal data of {person} was erased: {} cannot record their {}",
                        e.event_type, f.name
                    )));
                }
                None => {
                    return Err(Error::InvalidAppend(format!(
                        "no personal-data key for {person} to seal {}.{}",
                        e.event_type, f.name
                    )));
                }
            };
            let id = Identity {
                event_id: e.event_id,
                event_type: e.event_type,
                field: f.name,
                subject: &person,
            };
            let sealed = seal_value(key, &id, raw.get().as_bytes());
            edits.push((span(e.payload, raw), format!("\"{SEALED_PREFIX}{sealed}\"")));
        }
        Ok(splice(e.payload, edits))
    }

    /// `payload` with its sealed fields opened: by the key `key_of` gives
    /// for their person, or as erased where it gives none. `None` when the
    /// payload holds nothing sealed.
    pub fn open(
        &self,
        e: &Sealable<'_>,
        key_of: &dyn Fn(&str) -> Option<Key>,
    ) -> Result<Option<String>> {
        let Some(fields) = self.by_type.get(e.event_type) else {
            return Ok(None);
        };
        if !e.payload.contains(SEALED_PREFIX) {
            return Ok(None);
        }
        let corrupt = |reason: String| Error::Corrupt {
            position: e.position,
            reason,
        };
        let top = Top::parse(e.payload).map_err(corrupt)?;
        let mut edits = Vec::new();
        for f in fields {
            let Some(raw) = top.get(f.name) else { continue };
            let Some(sealed) = sealed_text(raw) else {
                continue;
            };
            let person = subject(&f.subject, &top, e.stream_id).map_err(corrupt)?;
            let opened = match key_of(&person) {
                None => f.erased.json().to_owned(),
                Some(key) => {
                    let id = Identity {
                        event_id: e.event_id,
                        event_type: e.event_type,
                        field: f.name,
                        subject: &person,
                    };
                    open_value(&key, &id, sealed).ok_or_else(|| {
                        corrupt(format!(
                            "its personal field {:?} does not open under the key of {person} \
                             (a wrong key, or a ciphertext moved from another event)",
                            f.name
                        ))
                    })?
                }
            };
            edits.push((span(e.payload, raw), opened));
        }
        Ok(splice(e.payload, edits))
    }

    /// The persons whose sealed fields `e` holds.
    pub(crate) fn sealed_subjects(&self, e: &Sealable<'_>) -> Vec<String> {
        let Some(fields) = self.by_type.get(e.event_type) else {
            return Vec::new();
        };
        if !e.payload.contains(SEALED_PREFIX) {
            return Vec::new();
        }
        let Ok(top) = Top::parse(e.payload) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for f in fields {
            if top.get(f.name).and_then(sealed_text).is_some()
                && let Ok(s) = subject(&f.subject, &top, e.stream_id)
                && !out.contains(&s)
            {
                out.push(s);
            }
        }
        out
    }

    /// Whether `e` holds one of its type's personal fields in the clear (an
    /// event written before personal data was sealed).
    pub fn holds_clear(&self, e: &Sealable<'_>) -> bool {
        let Some(fields) = self.by_type.get(e.event_type) else {
            return false;
        };
        let Ok(top) = Top::parse(e.payload) else {
            return false;
        };
        fields.iter().any(|f| {
            top.get(f.name)
                .is_some_and(|v| v.get() != "null" && sealed_text(v).is_none())
        })
    }
}

/// What sealing and opening need of an event.
pub struct Sealable<'a> {
    pub position: u64,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub stream_id: &'a str,
    pub payload: &'a str,
}

fn invalid(e: &Sealable<'_>, reason: &str) -> Error {
    Error::InvalidAppend(format!(
        "cannot seal the personal fields of {}: {reason}",
        e.event_type
    ))
}

fn subject(s: &Subject, top: &Top<'_>, stream_id: &str) -> std::result::Result<String, String> {
    match s {
        Subject::Stream(prefix) => stream_id
            .strip_prefix(prefix)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("the stream {stream_id:?} is not a {prefix}… stream")),
        Subject::Field(name) => {
            let raw = top
                .get(name)
                .ok_or_else(|| format!("the field {name:?} naming whose it is is missing"))?;
            serde_json::from_str::<String>(raw.get())
                .map_err(|_| format!("the field {name:?} naming whose it is is not text"))
        }
    }
}

/// The base64 text after the prefix, if `raw` is a sealed string.
fn sealed_text(raw: &RawValue) -> Option<&str> {
    raw.get()
        .strip_prefix('"')?
        .strip_prefix(SEALED_PREFIX)?
        .strip_suffix('"')
}

/// Byte range of `raw` inside `payload` (it was parsed from it).
fn span(payload: &str, raw: &RawValue) -> std::ops::Range<usize> {
    let start = raw.get().as_ptr() as usize - payload.as_ptr() as usize;
    start..start + raw.get().len()
}

fn splice(payload: &str, mut edits: Vec<(std::ops::Range<usize>, String)>) -> Option<String> {
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(payload.len() + 64);
    let mut at = 0;
    for (range, text) in edits {
        out.push_str(&payload[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&payload[at..]);
    Some(out)
}

struct Identity<'a> {
    event_id: Uuid,
    event_type: &'a str,
    field: &'a str,
    subject: &'a str,
}

impl Identity<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64);
        aad.extend_from_slice(CONTEXT);
        aad.extend_from_slice(self.event_id.as_bytes());
        for part in [self.event_type, self.field, self.subject] {
            aad.extend_from_slice(part.as_bytes());
            aad.push(b'\n');
        }
        aad
    }
}

fn seal_value(key: &Key, id: &Identity<'_>, plaintext: &[u8]) -> String {
    let aad = id.aad();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(&aad);
    mac.update(plaintext);
    let tag = mac.finalize().into_bytes();
    let nonce: [u8; 24] = tag[..24].try_into().expect("HMAC-SHA256 gives 32 bytes");
    let nonce = XNonce::from(nonce);
    let cipher = XChaCha20Poly1305::new(key.into());
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 seals any length we store");
    let mut out = Vec::with_capacity(24 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    URL_SAFE_NO_PAD.encode(out)
}

fn open_value(key: &Key, id: &Identity<'_>, sealed: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    if bytes.len() < 24 + 16 {
        return None;
    }
    let (nonce, ct) = bytes.split_at(24);
    let plain = XChaCha20Poly1305::new(key.into())
        .decrypt(
            &XNonce::from(<[u8; 24]>::try_from(nonce).ok()?),
            Payload {
                msg: ct,
                aad: &id.aad(),
            },
        )
        .ok()?;
    let text = String::from_utf8(plain).ok()?;
    // The plaintext is the field's JSON as it was given.
    serde_json::from_str::<&RawValue>(&text).ok()?;
    Some(text)
}

/// A new random key.
pub(crate) fn new_key() -> Result<Key> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| Error::InvalidAppend(format!("the system's random source failed: {e}")))?;
    Ok(key)
}

/// A payload's top-level fields, borrowed from its text.
struct Top<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Top<'a> {
    fn parse(payload: &'a str) -> std::result::Result<Top<'a>, String> {
        let mut de = serde_json::Deserializer::from_str(payload);
        let top = (&mut de)
            .deserialize_map(TopVisitor)
            .map_err(|e| format!("the payload is not a JSON object: {e}"))?;
        Ok(top)
    }

    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Top<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<KeyText<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            out.push((key.0, value));
        }
        Ok(Top(out))
    }
}

/// An object key: borrowed when it has no escapes.
struct KeyText<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> PersonalFields {
        PersonalFields::new()
            .declare(
                "Registered",
                "name",
                Subject::Field("staff_no"),
                Erased::Text,
            )
            .declare(
                "Registered",
                "born",
                Subject::Field("staff_no"),
                Erased::Null,
            )
            .declare("Left", "reason", Subject::Stream("person-"), Erased::Text)
    }

    fn event<'a>(id: Uuid, event_type: &'a str, payload: &'a str) -> Sealable<'a> {
        Sealable {
            position: 7,
            event_id: id,
            event_type,
            stream_id: "person-T0001",
            payload,
        }
    }

    #[test]
    fn sealed_fields_open_with_the_key_and_read_as_erased_without() {
        let f = fields();
        let id = Uuid::now_v7();
        let payload = r#"{"staff_no":"T0001","name":"王小明","born":"1980-02-03","unit":"u1"}"#;
        let e = event(id, "Registered", payload);
        assert_eq!(f.subjects_of(&e).unwrap(), vec!["T0001".to_owned()]);
        let key = [7u8; 32];
        let keys = HashMap::from([("T0001".to_owned(), Some(key))]);
        let sealed = f.seal(&e, &keys).unwrap().unwrap();
        assert!(
            !sealed.contains("王小明") && !sealed.contains("1980"),
            "{sealed}"
        );
        assert!(sealed.contains(r#""unit":"u1""#));
        // Deterministic: a retried append seals to the same bytes.
        assert_eq!(f.seal(&e, &keys).unwrap().unwrap(), sealed);
        // Sealing what is sealed changes nothing.
        assert_eq!(
            f.seal(&event(id, "Registered", &sealed), &keys).unwrap(),
            None
        );

        let stored = event(id, "Registered", &sealed);
        let opened = f.open(&stored, &|_| Some(key)).unwrap().unwrap();
        assert_eq!(opened, payload);
        let erased = f.open(&stored, &|_| None).unwrap().unwrap();
        assert_eq!(
            erased,
            r#"{"staff_no":"T0001","name":"[erased]","born":null,"unit":"u1"}"#
        );
        assert!(!f.holds_clear(&stored));
        assert!(f.holds_clear(&e));
    }

    #[test]
    fn a_wrong_key_or_a_moved_ciphertext_is_detected() {
        let f = fields();
        let key = [7u8; 32];
        let keys = HashMap::from([("T0001".to_owned(), Some(key))]);
        let payload = r#"{"reason":"moved to Beijing"}"#;
        let a = Uuid::now_v7();
        let sealed = f.seal(&event(a, "Left", payload), &keys).unwrap().unwrap();
        let wrong = f.open(&event(a, "Left", &sealed), &|_| Some([8u8; 32]));
        assert!(
            wrong
                .unwrap_err()
                .to_string()
                .contains("does not open under the key of T0001"),
        );
        let moved = f.open(&event(Uuid::now_v7(), "Left", &sealed), &|_| Some(key));
        assert!(
            moved
                .unwrap_err()
                .to_string()
                .contains("moved from another event")
        );
    }

    #[test]
    fn an_erased_subject_refuses_new_personal_data() {
        let f = fields();
        let keys = HashMap::from([("T0001".to_owned(), None)]);
        let e = event(Uuid::now_v7(), "Left", r#"{"reason":"x"}"#);
        let err = f.seal(&e, &keys).unwrap_err().to_string();
        assert!(err.contains("personal data of T0001 was erased"), "{err}");
    }
}
