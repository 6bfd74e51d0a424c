use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use lectern_tlog::note::{Alg, Note, NoteKey, NoteSigner, TreeHead};

// golang.org/x/mod/sumdb/note's example: a key, a text, and the note its
// signer writes (Ed25519 is deterministic, so ours must match byte for byte).
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                          then you don't know what your problem is.\n";
const PETER_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
    then you don't know what your problem is.\n\
    \n\
    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

fn peter() -> NoteSigner {
    let typed = B64
        .decode(PETER_SKEY.splitn(5, '+').nth(4).unwrap())
        .unwrap();
    assert_eq!(typed[0], 0x01);
    NoteSigner::new(
        "PeterNeumann",
        Alg::Ed25519,
        &typed[1..].try_into().unwrap(),
    )
    .unwrap()
}

#[test]
fn a_note_is_signed_as_gos_checksum_database_signs_it() {
    let signer = peter();
    assert_eq!(signer.key().vkey(), PETER_VKEY);
    let note = Note {
        body: PETER_TEXT.into(),
        signatures: vec![signer.sign(PETER_TEXT)],
    };
    assert_eq!(note.text(), PETER_NOTE);
    let parsed = Note::parse(PETER_NOTE).unwrap();
    assert_eq!(parsed, note);
    let key = NoteKey::parse(PETER_VKEY).unwrap();
    assert_eq!(parsed.verified_by(&key), Some(0));
    let altered = Note::parse(&PETER_NOTE.replace("cryptography", "cryptographY")).unwrap();
    assert_eq!(altered.verified_by(&key), None, "an altered body fails");
}

#[test]
fn verifier_keys_are_read_and_mangled_ones_refused() {
    // A cosignature key (type 0x04) of transparency-dev/formats' tests: its
    // key id is computed with the type byte 0x04.
    let cosigner =
        NoteKey::parse("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
            .unwrap();
    assert_eq!(cosigner.alg(), Alg::Cosignature);
    assert_eq!(cosigner.name(), "remora.n621.de");
    // A base64 key holding '+'.
    let plus =
        NoteKey::parse("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6").unwrap();
    assert_eq!(
        plus.vkey(),
        "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    );
    for bad in [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
        "",
    ] {
        let err = NoteKey::parse(bad).expect_err(bad).to_string();
        assert!(
            err.starts_with("a verifier key is not valid") || err.contains("key name"),
            "{err}"
        );
    }
}

#[test]
fn a_cosignature_carries_its_time_and_covers_the_checkpoint() {
    let log = peter();
    let head = TreeHead {
        origin: "lectern.example/log".into(),
        size: 35,
        root: [7; 32],
    };
    let body = head.body();
    assert_eq!(
        body,
        "lectern.example/log\n35\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
    );
    assert_eq!(TreeHead::parse(&body).unwrap(), head);
    let witness = NoteSigner::new("kiosk.example/k1", Alg::Cosignature, &[9; 32]).unwrap();
    let mut note = Note {
        body: body.clone(),
        signatures: vec![log.sign(&body)],
    };
    note.add(witness.cosign(&body, 1_796_000_000));
    let text = note.text();
    let parsed = Note::parse(&text).unwrap();
    assert_eq!(parsed.verified_by(witness.key()), Some(1_796_000_000));
    assert_eq!(parsed.verified_by(log.key()), Some(0));
    let other = Note {
        body: TreeHead { size: 36, ..head }.body(),
        signatures: parsed.signatures.clone(),
    };
    assert_eq!(
        other.verified_by(witness.key()),
        None,
        "moved to another checkpoint"
    );
    for bad in [
        "lectern\n035\nBwc=\n",
        "lectern\n35\n",
        "\n35\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
    ] {
        assert!(TreeHead::parse(bad).is_err(), "{bad:?}");
    }
    assert!(Note::parse("no signatures\n").is_err());
    assert!(Note::parse(&format!("{body}\n- x AAAA\n")).is_err());
}
