//! Ed25519 keys: the kiosk's signing key (made at enrolment, kept on the
//! kiosk) and the public key the server stores in the kiosk's enrolment.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::messages::{SignedTap, Stamp, Tap};
use crate::{ProtocolError, hex, unhex};

/// A kiosk's signing key. Its secret never leaves the kiosk.
pub struct KioskKey(SigningKey);

impl std::fmt::Debug for KioskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KioskKey(public {})", self.public_hex())
    }
}

impl KioskKey {
    /// A new key from the operating system's random number generator.
    pub fn generate() -> Result<KioskKey, ProtocolError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| ProtocolError::Random(e.to_string()))?;
        Ok(KioskKey(SigningKey::from_bytes(&seed)))
    }

    /// The key from its secret, as `secret_hex` wrote it (the kiosk's key
    /// file).
    pub fn from_secret_hex(text: &str) -> Result<KioskKey, ProtocolError> {
        Ok(KioskKey(SigningKey::from_bytes(&unhex::<32>(
            "kiosk secret key",
            text,
        )?)))
    }

    pub fn secret_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// The secret seed, for the kiosk's cosignatures of checkpoints (the
    /// same key, under another message prefix: `cosignature/v1`).
    pub fn seed(&self) -> [u8; 32] {
        *self.0.as_bytes()
    }

    /// The public key to enrol, 32 bytes, hex.
    pub fn public_hex(&self) -> String {
        hex(self.0.verifying_key().as_bytes())
    }

    pub fn sign_tap(&self, tap: Tap) -> SignedTap {
        let signature = hex(&self.0.sign(&tap.canonical_bytes()).to_bytes());
        SignedTap { tap, signature }
    }

    /// The `x-lectern-signature` of a request (see `request_bytes`).
    pub fn sign_request(&self, method: &str, path: &str, stamp: &Stamp, body: &[u8]) -> String {
        hex(&self
            .0
            .sign(&request_bytes(method, path, stamp, body))
            .to_bytes())
    }
}

/// An enrolled kiosk's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// 32 bytes, hex; refuses a weak key (a small-order point).
    pub fn from_hex(text: &str) -> Result<PublicKey, ProtocolError> {
        let bytes = unhex::<32>("kiosk public key", text)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| {
            ProtocolError::invalid("kiosk public key", text, "not an Ed25519 public key")
        })?;
        if key.is_weak() {
            return Err(ProtocolError::invalid(
                "kiosk public key",
                text,
                "a weak key that any signature would match",
            ));
        }
        Ok(PublicKey(key))
    }

    pub fn to_hex(&self) -> String {
        hex(self.0.as_bytes())
    }

    /// Checks a tap's signature over its canonical bytes.
    pub fn verify_tap(&self, tap: &SignedTap) -> Result<(), ProtocolError> {
        self.verify_taps(&[tap]).pop().expect("an answer per tap")
    }

    /// Checks the signatures of a kiosk's batch of taps, an answer per tap.
    ///
    /// The batch is verified as a whole first (Ed25519 batch verification:
    /// one multi-scalar multiplication, about a third of the cost per tap of
    /// checking each on its own). Only if that fails is each tap checked on
    /// its own, so that a bad tap is refused with its reason and the good
    /// ones in its batch are kept. A batch that verifies as a whole satisfies
    /// the signature equation for every tap; unlike the tap-by-tap check it
    /// does not refuse a signature built on a small-order point, which only
    /// the holder of the kiosk's key could make.
    pub fn verify_taps(&self, taps: &[&SignedTap]) -> Vec<Result<(), ProtocolError>> {
        let bytes: Vec<Vec<u8>> = taps.iter().map(|t| t.tap.canonical_bytes()).collect();
        let signatures: Vec<Option<Signature>> = taps
            .iter()
            .map(|t| {
                unhex::<64>("signature", &t.signature)
                    .ok()
                    .map(|b| Signature::from_bytes(&b))
            })
            .collect();
        if taps.len() > 1 && signatures.iter().all(Option::is_some) {
            let messages: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
            let signatures: Vec<Signature> = signatures.iter().flatten().copied().collect();
            let keys = vec![self.0; taps.len()];
            if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
                return taps.iter().map(|_| Ok(())).collect();
            }
        }
        taps.iter()
            .zip(&bytes)
            .map(|(t, b)| {
                self.verify(b, &t.signature, || {
                    format!("tap {} (counter {})", t.tap.id, t.tap.counter)
                })
            })
            .collect()
    }

    /// Checks a request's `x-lectern-signature`.
    pub fn verify_request(
        &self,
        method: &str,
        path: &str,
        stamp: &Stamp,
        body: &[u8],
        signature: &str,
    ) -> Result<(), ProtocolError> {
        self.verify(&request_bytes(method, path, stamp, body), signature, || {
            format!("the request {method} {path}")
        })
    }

    fn verify(
        &self,
        message: &[u8],
        signature: &str,
        what: impl Fn() -> String,
    ) -> Result<(), ProtocolError> {
        let bytes = unhex::<64>("signature", signature)?;
        self.0
            .verify_strict(message, &Signature::from_bytes(&bytes))
            .map_err(|_| ProtocolError::BadSignature { what: what() })
    }
}

/// The bytes a request's signature covers: a version line, the method,
/// the path (with its query), the kiosk, the time header as sent, the
/// clock header's boot and microseconds, the sync header as sent (empty
/// without one), and the SHA-256 of the body, hex, each on its own line.
pub fn request_bytes(method: &str, path: &str, stamp: &Stamp, body: &[u8]) -> Vec<u8> {
    format!(
        "lectern-kiosk-request-v2\n{}\n{path}\n{}\n{}\n{} {}\n{}\n{}",
        method.to_ascii_uppercase(),
        stamp.kiosk,
        stamp.time,
        stamp.clock.boot,
        stamp.clock.mono_us,
        stamp.sync_header().unwrap_or_default(),
        hex(&Sha256::digest(body))
    )
    .into_bytes()
}

/// Symbols of an enrolment code: no 0/O or 1/I to misread.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A one-time enrolment code, `XXXX-XXXX-XXXX-XXXX` (80 random bits), for
/// an administrator to type into a new kiosk.
pub fn new_enrolment_code() -> Result<String, ProtocolError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ProtocolError::Random(e.to_string()))?;
    let mut code = String::with_capacity(19);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(CODE_ALPHABET[usize::from(b % 32)] as char);
    }
    Ok(code)
}

/// What the log keeps of an enrolment code: the SHA-256 (hex) of the code
/// in upper case without dashes or spaces, so `abcd-efgh…` typed on a kiosk
/// matches.
pub fn enrolment_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    hex(&Sha256::digest(normal.as_bytes()))
}
