//! C2SP signed notes (`c2sp.org/signed-note`), the checkpoints they carry
//! (`c2sp.org/tlog-checkpoint`) and cosignatures (`c2sp.org/tlog-cosignature`):
//! the formats Go's checksum database, Sigstore and the public witness
//! network read, so that any of their tools can check Lectern's log.
//!
//! A note is a UTF-8 body ending in a newline, an empty line, then one or
//! more signature lines `— <key name> <base64(key id || signature)>`. A key
//! is named by a verifier key ("vkey") `<name>+<hex key id>+<base64(type ||
//! public key)>`; the key id is the first four bytes of
//! `SHA-256(name || "\n" || type || public key)`. Type `0x01` signs the body
//! itself (Ed25519); type `0x04` is a timestamped cosignature over
//! `"cosignature/v1\ntime <t>\n" || body`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{
    Signature as EdSignature, Signer as _, SigningKey, Verifier as _, VerifyingKey,
};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The signature types Lectern makes and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// Ed25519 over the note's body: a log's own signature.
    Ed25519,
    /// A timestamped Ed25519 cosignature (`cosignature/v1`): a witness's.
    Cosignature,
}

impl Alg {
    fn byte(self) -> u8 {
        match self {
            Alg::Ed25519 => 0x01,
            Alg::Cosignature => 0x04,
        }
    }
}

/// What is wrong with a note, a key or a checkpoint; each names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("{what} is not valid: {value:?} ({reason})")]
    Malformed {
        what: &'static str,
        value: String,
        reason: String,
    },
}

fn malformed(what: &'static str, value: &str, reason: impl Into<String>) -> NoteError {
    let mut value = value.to_owned();
    if value.len() > 200 {
        let mut end = 200;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        value.push('…');
    }
    NoteError::Malformed {
        what,
        value,
        reason: reason.into(),
    }
}

/// A key name: non-empty, no spaces, no `+`, no newline.
fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
    {
        return Err(malformed(
            "a note key name",
            name,
            "must be non-empty, without spaces, '+' or control characters",
        ));
    }
    Ok(())
}

/// The key id of `name`'s key of type `alg`.
pub fn key_id(name: &str, alg: Alg, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg.byte()]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A public key that checks note signatures: a log's or a witness's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteKey {
    name: String,
    alg: Alg,
    public: [u8; 32],
}

impl NoteKey {
    pub fn new(name: &str, alg: Alg, public: [u8; 32]) -> Result<NoteKey, NoteError> {
        check_name(name)?;
        VerifyingKey::from_bytes(&public)
            .map_err(|e| malformed("an Ed25519 public key", &crate::hex(&public), e.to_string()))?;
        Ok(NoteKey {
            name: name.to_owned(),
            alg,
            public,
        })
    }

    /// Reads a verifier key, `<name>+<hex key id>+<base64(type || key)>`.
    pub fn parse(vkey: &str) -> Result<NoteKey, NoteError> {
        let vkey = vkey.trim();
        let bad = |reason: &str| malformed("a verifier key", vkey, reason);
        // The base64 may itself hold '+': split from the left, twice.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <name>+<key id>+<key>"));
        };
        let key = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
        let (alg, public) = match key.split_first() {
            Some((0x01, k)) => (Alg::Ed25519, k),
            Some((0x04, k)) => (Alg::Cosignature, k),
            _ => return Err(bad("only Ed25519 keys (types 0x01 and 0x04) are known")),
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("an Ed25519 key has 32 bytes"))?;
        let key = NoteKey::new(name, alg, public)?;
        if id.len() != 8 || crate::hex(&key.key_id()) != id.to_ascii_lowercase() {
            return Err(bad("its key id does not match its name and key"));
        }
        Ok(key)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, self.alg, &self.public)
    }

    /// The verifier key's text.
    pub fn vkey(&self) -> String {
        let mut typed = vec![self.alg.byte()];
        typed.extend_from_slice(&self.public);
        format!(
            "{}+{}+{}",
            self.name,
            crate::hex(&self.key_id()),
            B64.encode(typed)
        )
    }

    /// Checks `sig` (a line of a note whose body is `body`) under this key;
    /// `Some` with the cosignature's time (0 for a log's signature) when
    /// it is this key's and verifies.
    pub fn verify(&self, body: &str, sig: &NoteSignature) -> Option<u64> {
        if sig.name != self.name || sig.key_id != self.key_id() {
            return None;
        }
        let key = VerifyingKey::from_bytes(&self.public).ok()?;
        let (time, signature, message) = match self.alg {
            Alg::Ed25519 => (0, sig.signature.as_slice(), body.as_bytes().to_vec()),
            Alg::Cosignature => {
                let (t, s) = sig.signature.split_at_checked(8)?;
                let time = u64::from_be_bytes(t.try_into().ok()?);
                (time, s, cosigned_message(time, body))
            }
        };
        let signature = EdSignature::from_slice(signature).ok()?;
        key.verify(&message, &signature).ok().map(|()| time)
    }
}

impl std::fmt::Display for NoteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.vkey())
    }
}

fn cosigned_message(time: u64, body: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{body}").into_bytes()
}

/// A key that signs notes, with its name and type.
pub struct NoteSigner {
    key: NoteKey,
    signing: SigningKey,
}

impl NoteSigner {
    pub fn new(name: &str, alg: Alg, seed: &[u8; 32]) -> Result<NoteSigner, NoteError> {
        let signing = SigningKey::from_bytes(seed);
        Ok(NoteSigner {
            key: NoteKey::new(name, alg, signing.verifying_key().to_bytes())?,
            signing,
        })
    }

    pub fn key(&self) -> &NoteKey {
        &self.key
    }

    /// Signs `body` (a log's signature); cosignatures use `cosign`.
    pub fn sign(&self, body: &str) -> NoteSignature {
        debug_assert_eq!(self.key.alg, Alg::Ed25519);
        NoteSignature {
            name: self.key.name.clone(),
            key_id: self.key.key_id(),
            signature: self.signing.sign(body.as_bytes()).to_bytes().to_vec(),
        }
    }

    /// Cosigns `body` as of `time` (seconds since the epoch).
    pub fn cosign(&self, body: &str, time: u64) -> NoteSignature {
        debug_assert_eq!(self.key.alg, Alg::Cosignature);
        let mut signature = time.to_be_bytes().to_vec();
        signature.extend_from_slice(&self.signing.sign(&cosigned_message(time, body)).to_bytes());
        NoteSignature {
            name: self.key.name.clone(),
            key_id: self.key.key_id(),
            signature,
        }
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    /// What follows the key id (for a cosignature: the time, then the
    /// Ed25519 signature).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line, `— <name> <base64>` and a newline.
    pub fn line(&self) -> String {
        let mut blob = self.key_id.to_vec();
        blob.extend_from_slice(&self.signature);
        format!("\u{2014} {} {}\n", self.name, B64.encode(blob))
    }

    /// Reads a line (with or without its newline).
    pub fn parse_line(line: &str) -> Result<NoteSignature, NoteError> {
        let text = line.strip_suffix('\n').unwrap_or(line);
        let bad = |reason: &str| malformed("a note signature line", text, reason);
        let rest = text
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| bad("it must begin with \"— \""))?;
        let (name, blob) = rest
            .split_once(' ')
            .ok_or_else(|| bad("expected a key name and a signature"))?;
        check_name(name)?;
        let blob = B64
            .decode(blob)
            .map_err(|_| bad("the signature is not base64"))?;
        if blob.len() < 5 {
            return Err(bad("the signature is too short"));
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: [blob[0], blob[1], blob[2], blob[3]],
            signature: blob[4..].to_vec(),
        })
    }
}

/// A signed note: its body and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The text signed, ending in a newline.
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

/// The most signature lines Lectern reads in one note.
pub const MAX_SIGNATURES: usize = 100;

impl Note {
    /// Reads a signed note.
    pub fn parse(text: &str) -> Result<Note, NoteError> {
        let bad = |reason: &str| malformed("a signed note", text, reason);
        if text.len() > 1_000_000 {
            return Err(bad("it is longer than a megabyte"));
        }
        let split = text
            .rfind("\n\n")
            .ok_or_else(|| bad("no empty line before the signatures"))?;
        let (body, sigs) = (&text[..=split], &text[split + 2..]);
        if !sigs.ends_with('\n') {
            return Err(bad("it must end with a newline"));
        }
        let signatures = sigs
            .lines()
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.is_empty() || signatures.len() > MAX_SIGNATURES {
            return Err(bad("a note has 1 to 100 signature lines"));
        }
        Ok(Note {
            body: body.to_owned(),
            signatures,
        })
    }

    /// The note's text.
    pub fn text(&self) -> String {
        let mut out = self.body.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out
    }

    /// Adds a signature line unless the note has it already.
    pub fn add(&mut self, sig: NoteSignature) {
        if !self.signatures.contains(&sig) {
            self.signatures.push(sig);
        }
    }

    /// The time of the first signature by `key` that verifies (0 for a
    /// log's signature).
    pub fn verified_by(&self, key: &NoteKey) -> Option<u64> {
        self.signatures
            .iter()
            .find_map(|s| key.verify(&self.body, s))
    }
}

/// A checkpoint's body: the log's origin, its size and its Merkle root
/// (`c2sp.org/tlog-checkpoint`), without extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl TreeHead {
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a checkpoint's body (extension lines are allowed and ignored).
    pub fn parse(body: &str) -> Result<TreeHead, NoteError> {
        let bad = |reason: &str| malformed("a checkpoint", body, reason);
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(bad("expected an origin, a size and a root line"));
        };
        if origin.is_empty() || size.is_empty() || (size.starts_with('0') && size != "0") {
            return Err(bad(
                "an empty origin, or a size that is not a decimal number",
            ));
        }
        let size = size
            .parse::<u64>()
            .map_err(|_| bad("the size is not a decimal number"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("the root is not 32 bytes of base64"))?;
        Ok(TreeHead {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// Base64 of a hash, as proofs are written in the witness protocol.
pub fn b64(hash: &Hash) -> String {
    B64.encode(hash)
}

/// A hash from base64.
pub fn unb64(what: &'static str, text: &str) -> Result<Hash, NoteError> {
    B64.decode(text.trim())
        .ok()
        .and_then(|r| r.try_into().ok())
        .ok_or_else(|| malformed(what, text, "expected 32 bytes of base64"))
}
