//! Personal data that can be erased without breaking the chain.
//!
//! An event type declares which of its top-level fields are personal and
//! whose they are ([`PersonalFields`]). When such an event is appended, each
//! of those fields is replaced by a sealed string before the event is
//! hashed: the field's JSON, encrypted with AES-256-GCM under a key of
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
//! The 96-bit nonce is derived from the key, the event's identity and the
//! plaintext (HMAC-SHA-256, as in SIV): sealing the same event twice gives the same bytes,
//! so a retried append stays idempotent, and two different plaintexts never
//! share a nonce.

use std::borrow::Cow;
use std::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::error::{Error, Result};

/// How a sealed field's stored value begins.
pub const SEALED_PREFIX: &str = "lectern-sealed:v1:";
/// What an erased text field reads as.
pub const ERASED_TEXT: &str = "[erased]";
const CONTEXT: &[u8] = b"lectern-personal-v1\n";
/// Bytes of an AES-GCM nonce.
const NONCE: usize = 12;
/// Bytes of an AES-GCM tag.
const TAG: usize = 16;

/// A person's data key: 32 random bytes.
pub type Key = [u8; 32];

/// A person's key, ready to seal and open: the bytes the key table keeps,
/// with the cipher's key schedule and the nonce MAC set up once.
#[derive(Clone)]
pub struct PersonKey {
    raw: Key,
    cipher: Aes256Gcm,
    nonces: Hmac<Sha256>,
}

impl PersonKey {
    pub fn new(raw: Key) -> Self {
        PersonKey {
            raw,
            cipher: Aes256Gcm::new(&raw.into()),
            nonces: <Hmac<Sha256> as Mac>::new_from_slice(&raw).expect("HMAC takes any key"),
        }
    }

    /// A new random key.
    pub(crate) fn random() -> Result<Self> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw)
            .map_err(|e| Error::InvalidAppend(format!("the system's random source failed: {e}")))?;
        Ok(PersonKey::new(raw))
    }

    /// The key's bytes, as the key table keeps them.
    pub fn raw(&self) -> &Key {
        &self.raw
    }
}

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonKey(..)")
    }
}

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
    /// Few types, found by comparing their names (cheaper than hashing).
    by_type: Vec<(String, Vec<Field>)>,
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
        let at = match self.by_type.iter().position(|(t, _)| t == event_type) {
            Some(at) => at,
            None => {
                self.by_type.push((event_type.to_owned(), Vec::new()));
                self.by_type.len() - 1
            }
        };
        self.by_type[at].1.push(Field {
            name: field,
            subject,
            erased,
        });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// The personal fields of `event_type`, if it has any.
    fn of(&self, event_type: &str) -> Option<&[Field]> {
        self.by_type
            .iter()
            .find(|(t, _)| t == event_type)
            .map(|(_, f)| f.as_slice())
    }

    /// Whether `event_type` has personal fields.
    pub fn covers(&self, event_type: &str) -> bool {
        self.of(event_type).is_some()
    }

    /// `e`'s payload with its personal fields sealed under their persons'
    /// keys, as `key_of` gives them (`None`: not known yet; `Some(None)`:
    /// erased, which refuses the append).
    pub(crate) fn seal(&self, e: &Sealable<'_>, key_of: KeyOf<'_>) -> Result<Outcome> {
        let Some(fields) = self.of(e.event_type) else {
            return Ok(Outcome::Unchanged);
        };
        if sealed_prefix().find(e.payload.as_bytes()).is_some() {
            return Err(invalid(
                e,
                &format!("the text {SEALED_PREFIX:?} is kept for sealed personal data"),
            ));
        }
        // This thread's buffers, put back when done (an error drops them).
        let mut scratch = SCRATCH.take();
        let top = Top::parse(e.payload, std::mem::take(&mut scratch.members))
            .map_err(|m| invalid(e, &m))?;
        // The sealed payload, written as the fields are sealed.
        let mut out: Option<String> = None;
        let mut copied = 0;
        for member in &top.members {
            let Some(f) = fields.iter().find(|f| member.is(e.payload, f.name)) else {
                continue;
            };
            let value = member.value.clone();
            if member.escaped {
                // Reads find a sealed value by the key before it, as written.
                return Err(invalid(
                    e,
                    &format!("write the key {:?} without escapes", f.name),
                ));
            }
            let raw = &e.payload[value.clone()];
            if raw == "null" {
                continue;
            }
            let person = subject(&f.subject, &top, e.stream_id).map_err(|m| invalid(e, &m))?;
            if person.is_empty()
                || !person
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
            {
                return Err(invalid(
                    e,
                    &format!(
                        "the person {person:?} whose {} it is is not a staff number",
                        f.name
                    ),
                ));
            }
            let key = match key_of(&person) {
                Some(Some(k)) => k,
                Some(None) => {
                    return Err(Error::InvalidAppend(format!(
                        "the personal data of {person} was erased: {} cannot record their {}",
                        e.event_type, f.name
                    )));
                }
                None => {
                    let person = person.into_owned();
                    scratch.members = top.members;
                    SCRATCH.set(scratch);
                    return Ok(Outcome::Unknown(person));
                }
            };
            let id = Identity {
                event_id: e.event_id,
                event_type: e.event_type,
                field: f.name,
                subject: &person,
            };
            let out = out.get_or_insert_with(|| String::with_capacity(e.payload.len() + 128));
            out.push_str(&e.payload[copied..value.start]);
            out.push('"');
            out.push_str(SEALED_PREFIX);
            out.push_str(f.name);
            out.push(':');
            out.push_str(&person);
            out.push(':');
            seal_value(key, &id, raw.as_bytes(), &mut scratch, out);
            out.push('"');
            copied = value.end;
        }
        scratch.members = top.members;
        SCRATCH.set(scratch);
        Ok(match out {
            None => Outcome::Unchanged,
            Some(mut out) => {
                out.push_str(&e.payload[copied..]);
                Outcome::Changed(out)
            }
        })
    }

    /// `e`'s payload with its sealed fields opened by their persons' keys as
    /// `key_of` gives them (`None`: not known yet; `Some(None)`: erased, the
    /// field reads as its erased value).
    ///
    /// Found by their prefix, not by parsing the payload: a sealed value
    /// names its field and person (`lectern-sealed:v1:FIELD:PERSON:DATA`),
    /// both bound to the ciphertext, and the prefix is refused in anything
    /// appended unsealed, so it occurs only where a field was sealed.
    pub fn open(&self, e: &Sealable<'_>, key_of: KeyOf<'_>) -> Result<Outcome> {
        if !self.covers(e.event_type) {
            return Ok(Outcome::Unchanged);
        }
        let mut payload = e.payload.to_owned();
        let at = At {
            position: e.position,
            event_id: e.event_id,
            event_type: e.event_type,
        };
        Ok(match self.open_in_place(&at, &mut payload, key_of)? {
            Some(person) => Outcome::Unknown(person),
            None if payload == e.payload => Outcome::Unchanged,
            None => Outcome::Changed(payload),
        })
    }

    /// As [`PersonalFields::open`], in place: the opened text is never
    /// longer than the sealed value, so nothing is allocated. Returns the
    /// person whose key is not known, if any; the fields before theirs are
    /// opened already, and a later call opens the rest (an opened field
    /// cannot hold the prefix).
    pub fn open_in_place(
        &self,
        e: &At<'_>,
        payload: &mut String,
        key_of: KeyOf<'_>,
    ) -> Result<Option<String>> {
        let Some(fields) = self.of(e.event_type) else {
            return Ok(None);
        };
        let corrupt = |reason: String| Error::Corrupt {
            position: e.position,
            reason,
        };
        // This thread's buffers, put back when done (an error drops them).
        let mut scratch = SCRATCH.take();
        let mut from = 0;
        while let Some(found) = sealed_prefix().find(&payload.as_bytes()[from..]) {
            let start = from + found;
            let token_end = memchr::memchr(b'"', &payload.as_bytes()[start..])
                .map(|n| start + n)
                .ok_or_else(|| corrupt("a sealed field does not end".into()))?;
            let token = &payload[start + SEALED_PREFIX.len()..token_end];
            let mut parts = token.splitn(3, ':');
            let (Some(field), Some(person), Some(sealed)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(corrupt(format!("a sealed field is malformed: {token:?}")));
            };
            let Some(f) = fields.iter().find(|f| f.name == field) else {
                return Err(corrupt(format!(
                    "{field:?} is sealed but is not a personal field of {}",
                    e.event_type
                )));
            };
            // The value's quotes, and the key it is the value of.
            let quote = start
                .checked_sub(1)
                .filter(|&q| payload.as_bytes()[q] == b'"')
                .ok_or_else(|| corrupt(format!("the sealed {field:?} is not a text value")))?;
            if !key_before(&payload[..quote], field) {
                return Err(corrupt(format!(
                    "the sealed {field:?} stands under another field"
                )));
            }
            let value = quote..token_end + 1;
            let opened = match key_of(person) {
                None => {
                    let person = person.to_owned();
                    SCRATCH.set(scratch);
                    return Ok(Some(person));
                }
                Some(None) => {
                    payload.replace_range(value, f.erased.json());
                    f.erased.json().len()
                }
                Some(Some(key)) => {
                    let id = Identity {
                        event_id: e.event_id,
                        event_type: e.event_type,
                        field: f.name,
                        subject: person,
                    };
                    let opened = open_value(key, &id, sealed, &mut scratch).ok_or_else(|| {
                        corrupt(format!(
                            "its personal field {field:?} does not open under the key of \
                             {person} (a wrong key, or a ciphertext moved from another event)"
                        ))
                    })?;
                    payload.replace_range(value, opened);
                    opened.len()
                }
            };
            from = quote + opened;
        }
        SCRATCH.set(scratch);
        Ok(None)
    }
}

/// Where a stored event's sealed fields are bound: its position (for
/// errors), id and type.
pub struct At<'a> {
    pub position: u64,
    pub event_id: Uuid,
    pub event_type: &'a str,
}

thread_local! {
    /// Buffers for sealing or opening one value (its associated data, then
    /// its bytes), and a payload's members when sealing.
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch { aad: Vec::new(), data: Vec::new(), members: Vec::new() })
    };
}

#[derive(Default)]
struct Scratch {
    aad: Vec<u8>,
    data: Vec<u8>,
    members: Vec<Member>,
}

/// Finds [`SEALED_PREFIX`].
fn sealed_prefix() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(SEALED_PREFIX));
    &FINDER
}

/// Whether `before` ends with the object key `field` and its colon.
fn key_before(before: &str, field: &str) -> bool {
    let rest = before.trim_end();
    let Some(rest) = rest.strip_suffix(':') else {
        return false;
    };
    let rest = rest.trim_end();
    rest.strip_suffix('"')
        .and_then(|r| r.strip_suffix(field))
        .is_some_and(|r| r.ends_with('"'))
}

/// A person's key as the caller knows it: `None`, not known; `Some(None)`,
/// erased.
pub type KeyOf<'a> = &'a dyn Fn(&str) -> Option<Option<&'a PersonKey>>;

/// What sealing or opening made of a payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to seal or open.
    Unchanged,
    Changed(String),
    /// The key of this person is needed, and was not known.
    Unknown(String),
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

fn subject<'a>(
    s: &Subject,
    top: &Top<'a>,
    stream_id: &'a str,
) -> std::result::Result<Cow<'a, str>, String> {
    match s {
        Subject::Stream(prefix) => stream_id
            .strip_prefix(prefix)
            .filter(|p| !p.is_empty())
            .map(Cow::Borrowed)
            .ok_or_else(|| format!("the stream {stream_id:?} is not a {prefix}… stream")),
        Subject::Field(name) => {
            let mut found = top.members.iter().filter(|m| m.is(top.text, name));
            let value = found
                .next()
                .ok_or_else(|| format!("the field {name:?} naming whose it is is missing"))?;
            if found.next().is_some() {
                return Err(format!(
                    "the field {name:?} naming whose it is appears twice"
                ));
            }
            let raw = &top.text[value.value.clone()];
            let not_text = || format!("the field {name:?} naming whose it is is not text");
            match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                Some(plain) if !plain.contains('\\') => Ok(Cow::Borrowed(plain)),
                Some(_) => serde_json::from_str::<String>(raw)
                    .map(Cow::Owned)
                    .map_err(|_| not_text()),
                None => Err(not_text()),
            }
        }
    }
}

struct Identity<'a> {
    event_id: Uuid,
    event_type: &'a str,
    field: &'a str,
    subject: &'a str,
}

impl Identity<'_> {
    fn aad_into(&self, aad: &mut Vec<u8>) {
        aad.clear();
        aad.extend_from_slice(CONTEXT);
        aad.extend_from_slice(self.event_id.as_bytes());
        for part in [self.event_type, self.field, self.subject] {
            aad.extend_from_slice(part.as_bytes());
            aad.push(b'\n');
        }
    }
}

/// Seals `plaintext` and appends it to `out` in base64: nonce, ciphertext,
/// tag.
fn seal_value(
    key: &PersonKey,
    id: &Identity<'_>,
    plaintext: &[u8],
    scratch: &mut Scratch,
    out: &mut String,
) {
    id.aad_into(&mut scratch.aad);
    let aad = &scratch.aad;
    let mut mac = key.nonces.clone();
    mac.update(aad);
    mac.update(plaintext);
    let derived = mac.finalize().into_bytes();
    let nonce: [u8; NONCE] = derived[..NONCE]
        .try_into()
        .expect("HMAC-SHA256 gives 32 bytes");
    // nonce ‖ ciphertext ‖ tag, encrypted in place.
    let data = &mut scratch.data;
    data.clear();
    data.extend_from_slice(&nonce);
    data.extend_from_slice(plaintext);
    let tag = key
        .cipher
        .encrypt_in_place_detached(&Nonce::from(nonce), aad, &mut data[NONCE..])
        .expect("AES-256-GCM seals any length we store");
    data.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode_string(&data[..], out);
}

/// Opens a sealed value in `scratch`; the field's JSON as it was sealed.
fn open_value<'s>(
    key: &PersonKey,
    id: &Identity<'_>,
    sealed: &str,
    scratch: &'s mut Scratch,
) -> Option<&'s str> {
    let data = &mut scratch.data;
    data.clear();
    URL_SAFE_NO_PAD.decode_vec(sealed, data).ok()?;
    if data.len() < NONCE + TAG {
        return None;
    }
    id.aad_into(&mut scratch.aad);
    let end = data.len() - TAG;
    let (nonce, rest) = data.split_at_mut(NONCE);
    let (text, tag) = rest.split_at_mut(end - NONCE);
    let nonce = Nonce::from(<[u8; NONCE]>::try_from(&*nonce).ok()?);
    let tag = Tag::from(<[u8; TAG]>::try_from(&*tag).ok()?);
    key.cipher
        .decrypt_in_place_detached(&nonce, &scratch.aad, text, &tag)
        .ok()?;
    // The tag vouches for the text; it was valid JSON text when sealed.
    std::str::from_utf8(&data[NONCE..end]).ok()
}

/// A payload's top-level members, where each key and value stands. Found
/// by a scan that relies on the payload being JSON (every appended payload
/// was checked to be).
struct Top<'a> {
    text: &'a str,
    members: Vec<Member>,
}

/// A member of a JSON object: where its key's text (inside the quotes) and
/// its value stand.
struct Member {
    key: std::ops::Range<usize>,
    /// Whether the key is written with escapes.
    escaped: bool,
    value: std::ops::Range<usize>,
}

impl Member {
    /// Whether the key is `name`.
    fn is(&self, text: &str, name: &str) -> bool {
        if self.escaped {
            serde_json::from_str::<String>(&text[self.key.start - 1..self.key.end + 1])
                .is_ok_and(|k| k == name)
        } else {
            &text[self.key.clone()] == name
        }
    }
}

impl<'a> Top<'a> {
    /// Reads the members into `members` (emptied first; a buffer reused).
    fn parse(text: &'a str, mut members: Vec<Member>) -> std::result::Result<Top<'a>, String> {
        let b = text.as_bytes();
        let malformed = || "the payload is not a JSON object".to_owned();
        members.clear();
        let mut i = skip_space(b, 0);
        if b.get(i) != Some(&b'{') {
            return Err(malformed());
        }
        i = skip_space(b, i + 1);
        if b.get(i) == Some(&b'}') {
            return Ok(Top { text, members });
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return Err(malformed());
            }
            let (key_end, escaped) = string_end(b, i).ok_or_else(malformed)?;
            let key = i + 1..key_end - 1;
            i = skip_space(b, key_end);
            if b.get(i) != Some(&b':') {
                return Err(malformed());
            }
            let start = skip_space(b, i + 1);
            let end = value_end(b, start).ok_or_else(malformed)?;
            members.push(Member {
                key,
                escaped,
                value: start..end,
            });
            i = skip_space(b, end);
            match b.get(i) {
                Some(b',') => i = skip_space(b, i + 1),
                Some(b'}') => return Ok(Top { text, members }),
                _ => return Err(malformed()),
            }
        }
    }
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// The index after the string that starts with the quote at `start`, and
/// whether it holds escapes.
fn string_end(b: &[u8], start: usize) -> Option<(usize, bool)> {
    let mut i = start + 1;
    let mut escaped = false;
    loop {
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i] == b'"' {
            return Some((i + 1, escaped));
        }
        escaped = true;
        i += 2;
    }
}

/// The index after the JSON value that starts at `start`.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    match *b.get(start)? {
        b'"' => string_end(b, start).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let len = b[start..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - start);
            (len > 0).then_some(start + len)
        }
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

    fn changed(outcome: Result<Outcome>) -> String {
        match outcome.unwrap() {
            Outcome::Changed(text) => text,
            other => panic!("{other:?}"),
        }
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
        let key = PersonKey::new([7u8; 32]);
        assert_eq!(
            f.seal(&e, &|_| None).unwrap(),
            Outcome::Unknown("T0001".into()),
            "the key is asked for"
        );
        let keys = |s: &str| (s == "T0001").then_some(Some(&key));
        let sealed = changed(f.seal(&e, &keys));
        assert!(
            !sealed.contains("王小明") && !sealed.contains("1980"),
            "{sealed}"
        );
        assert!(sealed.contains(r#""unit":"u1""#));
        assert!(
            sealed.contains(r#""name":"lectern-sealed:v1:name:T0001:"#),
            "{sealed}"
        );
        // Deterministic: a retried append seals to the same bytes.
        assert_eq!(changed(f.seal(&e, &keys)), sealed);
        // The prefix is refused in what is appended unsealed.
        let err = f
            .seal(&event(id, "Registered", &sealed), &keys)
            .unwrap_err();
        assert!(
            err.to_string().contains("is kept for sealed personal data"),
            "{err}"
        );

        let stored = event(id, "Registered", &sealed);
        assert_eq!(changed(f.open(&stored, &keys)), payload);
        assert_eq!(
            f.open(&stored, &|_| None).unwrap(),
            Outcome::Unknown("T0001".into())
        );
        assert_eq!(
            changed(f.open(&stored, &|_| Some(None))),
            r#"{"staff_no":"T0001","name":"[erased]","born":null,"unit":"u1"}"#
        );
    }

    #[test]
    fn only_top_level_personal_fields_are_sealed_wherever_they_stand() {
        let f = fields();
        let key = PersonKey::new([7u8; 32]);
        let keys = |s: &str| (s == "T0001").then_some(Some(&key));
        let id = Uuid::now_v7();
        // Spaces, a nested object with a "name" of its own, text holding
        // quotes, braces and escapes, numbers and literals; and the field
        // twice: each occurrence is sealed.
        let payload = " { \"unit\" : {\"name\":\"u1 {\\\"x\\\"}\", \"n\":[1,{\"a\":\"]\"}]} ,\n\
                       \"staff_no\":\"T0001\", \"name\" :\t\"王 \\\"小\\\" 明\", \"n\": -1.5e3,\
                       \"ok\":true,\"born\":null, \"name\":\"again\" } ";
        let sealed = changed(f.seal(&event(id, "Registered", payload), &keys));
        assert!(
            !sealed.contains("小") && !sealed.contains("again"),
            "{sealed}"
        );
        assert_eq!(sealed.matches("lectern-sealed:v1:name:T0001:").count(), 2);
        assert!(sealed.contains(r#"{"name":"u1 {\"x\"}""#), "{sealed}");
        assert!(sealed.contains(r#""born":null"#), "{sealed}");
        let opened = changed(f.open(&event(id, "Registered", &sealed), &keys));
        assert_eq!(opened, payload);

        for (payload, refused) in [
            (r#"{"staff_no":"T0001","na\u006de":"x"}"#, "without escapes"),
            (
                r#"{"staff_no":"T0001","staff_no":"T0002","name":"x"}"#,
                "appears twice",
            ),
            (r#"{"staff_no":7,"name":"x"}"#, "is not text"),
            (r#"["staff_no","T0001"]"#, "not a JSON object"),
        ] {
            let err = f
                .seal(&event(id, "Registered", payload), &keys)
                .unwrap_err()
                .to_string();
            assert!(err.contains(refused), "{payload}: {err}");
        }
    }

    #[test]
    fn a_wrong_key_or_a_moved_ciphertext_is_detected() {
        let f = fields();
        let key = PersonKey::new([7u8; 32]);
        let wrong_key = PersonKey::new([8u8; 32]);
        let payload = r#"{"reason":"moved to Beijing"}"#;
        let a = Uuid::now_v7();
        let sealed = changed(f.seal(&event(a, "Left", payload), &|_| Some(Some(&key))));
        let wrong = f.open(&event(a, "Left", &sealed), &|_| Some(Some(&wrong_key)));
        assert!(
            wrong
                .unwrap_err()
                .to_string()
                .contains("does not open under the key of T0001"),
        );
        let moved = f.open(&event(Uuid::now_v7(), "Left", &sealed), &|_| {
            Some(Some(&key))
        });
        assert!(
            moved
                .unwrap_err()
                .to_string()
                .contains("moved from another event")
        );
        // Moved to another field of the same event: named.
        let swapped = sealed.replace(r#"{"reason":"#, r#"{"other":"#);
        let err = f
            .open(&event(a, "Left", &swapped), &|_| Some(Some(&key)))
            .unwrap_err();
        assert!(
            err.to_string().contains("stands under another field"),
            "{err}"
        );
        // Another person named in the token: their key does not open it.
        let other = sealed.replace(":T0001:", ":T0002:");
        let err = f
            .open(&event(a, "Left", &other), &|_| Some(Some(&key)))
            .unwrap_err();
        assert!(err.to_string().contains("the key of T0002"), "{err}");
    }

    #[test]
    fn an_erased_text_reads_as_the_erased_text() {
        assert_eq!(Erased::Text.json(), format!("\"{ERASED_TEXT}\""));
    }

    #[test]
    fn an_erased_subject_refuses_new_personal_data() {
        let f = fields();
        let e = event(Uuid::now_v7(), "Left", r#"{"reason":"x"}"#);
        let err = f.seal(&e, &|_| Some(None)).unwrap_err().to_string();
        assert!(err.contains("personal data of T0001 was erased"), "{err}");
    }
}
