//! The kiosk protocol: canonical bytes pinned, signatures that catch every
//! altered field, request authentication, keys, and messages on the wire.

use chrono::{TimeZone, Utc};
use lectern_domain::{AttendanceStatus, CardUid, RejectReason, Slug, TapOutcome};
use lectern_kiosk_protocol::*;
use serde_json::json;
use uuid::Uuid;

fn tap() -> Tap {
    Tap {
        id: Uuid::parse_str("0195f000-0000-7000-8000-00000000aa01").unwrap(),
        kiosk: Slug::parse("hall-a-1").unwrap(),
        venue: Slug::parse("hall-a").unwrap(),
        card: CardUid::parse("04:a1:b2:c3").unwrap(),
        counter: 42,
        kiosk_time: Utc.with_ymd_and_hms(2007, 3, 6, 6, 5, 0).unwrap()
            + chrono::Duration::microseconds(123_456),
        clock: None,
    }
}

#[test]
fn canonical_bytes_are_pinned() {
    // A kiosk and a server of different versions must agree on these bytes.
    assert_eq!(
        String::from_utf8(tap().canonical_bytes()).unwrap(),
        "lectern-tap-v1\n0195f000-0000-7000-8000-00000000aa01\nhall-a-1\nhall-a\n04A1B2C3\n42\n\
         2007-03-06T06:05:00.123456Z"
    );
    let new = Tap::new(
        tap().kiosk,
        tap().venue,
        tap().card,
        1,
        Utc.timestamp_nanos(1_173_161_100_123_456_789),
    );
    assert_eq!(new.kiosk_time.timestamp_subsec_nanos(), 123_456_000);
    assert_eq!(new.id.get_version_num(), 7);
    // A tap with its monotonic reading is version 2, the reading last.
    assert_eq!(
        String::from_utf8(
            tap()
                .with_clock(MonoReading {
                    boot: 3,
                    mono_us: 65_000_000
                })
                .canonical_bytes()
        )
        .unwrap(),
        "lectern-tap-v2\n0195f000-0000-7000-8000-00000000aa01\nhall-a-1\nhall-a\n04A1B2C3\n42\n\
         2007-03-06T06:05:00.123456Z\n3\n65000000"
    );
}

#[test]
fn a_signed_tap_verifies_and_every_altered_field_is_caught() {
    let key = KioskKey::generate().unwrap();
    let public = PublicKey::from_hex(&key.public_hex()).unwrap();
    let signed = key.sign_tap(tap().with_clock(MonoReading {
        boot: 2,
        mono_us: 1_000,
    }));
    public.verify_tap(&signed).unwrap();
    // Through JSON and back, as it travels and as the log keeps it.
    let wire = serde_json::to_string(&signed).unwrap();
    let back: SignedTap = serde_json::from_str(&wire).unwrap();
    public.verify_tap(&back).unwrap();

    type Alteration = Box<dyn Fn(&mut Tap)>;
    let alterations: Vec<(&str, Alteration)> = vec![
        ("id", Box::new(|t| t.id = Uuid::now_v7())),
        (
            "kiosk",
            Box::new(|t| t.kiosk = Slug::parse("hall-b-1").unwrap()),
        ),
        (
            "venue",
            Box::new(|t| t.venue = Slug::parse("hall-b").unwrap()),
        ),
        (
            "card",
            Box::new(|t| t.card = CardUid::parse("04A1B2C4").unwrap()),
        ),
        ("counter", Box::new(|t| t.counter += 1)),
        (
            "time",
            Box::new(|t| t.kiosk_time += chrono::Duration::microseconds(1)),
        ),
        ("boot", Box::new(|t| t.clock.as_mut().unwrap().boot += 1)),
        (
            "monotonic reading",
            Box::new(|t| t.clock.as_mut().unwrap().mono_us += 1),
        ),
        ("monotonic reading dropped", Box::new(|t| t.clock = None)),
    ];
    for (field, alter) in alterations {
        let mut forged = signed.clone();
        alter(&mut forged.tap);
        let e = public.verify_tap(&forged).unwrap_err();
        assert!(
            matches!(&e, ProtocolError::BadSignature { what } if what.starts_with("tap ")),
            "{field}: {e}"
        );
    }
    let other = PublicKey::from_hex(&KioskKey::generate().unwrap().public_hex()).unwrap();
    assert!(other.verify_tap(&signed).is_err(), "another kiosk's key");
    let mut garbled = signed.clone();
    garbled.signature = "zz".repeat(64);
    assert_eq!(
        public.verify_tap(&garbled).unwrap_err().to_string(),
        format!(
            "signature is not valid: {:?} (not hexadecimal)",
            "zz".repeat(64)
        )
    );
}

/// A batch is verified at once; when that fails each tap is checked on its
/// own, so exactly the bad ones are refused, each with its reason.
#[test]
fn a_batch_of_taps_verifies_at_once_and_only_its_bad_taps_are_refused() {
    let key = KioskKey::generate().unwrap();
    let public = PublicKey::from_hex(&key.public_hex()).unwrap();
    let signed: Vec<SignedTap> = (1..=8)
        .map(|n| {
            key.sign_tap(Tap {
                counter: n,
                ..tap()
            })
        })
        .collect();
    let all: Vec<&SignedTap> = signed.iter().collect();
    assert!(public.verify_taps(&all).iter().all(Result::is_ok));
    assert!(public.verify_taps(&[]).is_empty());

    let mut bad = signed.clone();
    // Altered after signing, signed by another key, and not hexadecimal.
    bad[1].tap.counter = 99;
    bad[4] = KioskKey::generate().unwrap().sign_tap(Tap {
        counter: 5,
        ..tap()
    });
    bad[6].signature = "zz".repeat(64);
    let refs: Vec<&SignedTap> = bad.iter().collect();
    let answers = public.verify_taps(&refs);
    let refused: Vec<usize> = (0..8).filter(|&i| answers[i].is_err()).collect();
    assert_eq!(refused, [1, 4, 6], "{answers:?}");
    for i in [1, 4] {
        assert!(
            matches!(&answers[i], Err(ProtocolError::BadSignature { what })
                if *what == format!("tap {} (counter {})", bad[i].tap.id, bad[i].tap.counter)),
            "{:?}",
            answers[i]
        );
    }
    assert!(
        answers[6]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("(not hexadecimal)"),
        "{:?}",
        answers[6]
    );
    // Each on its own gives the same answers.
    for (i, t) in bad.iter().enumerate() {
        assert_eq!(public.verify_tap(t).is_ok(), answers[i].is_ok(), "tap {i}");
        assert_eq!(public.verify_taps(&[t]).len(), 1);
        assert_eq!(public.verify_taps(&[t])[0].is_ok(), answers[i].is_ok());
    }
}

#[test]
fn requests_are_signed_over_method_path_stamp_and_body() {
    let key = KioskKey::generate().unwrap();
    let public = PublicKey::from_hex(&key.public_hex()).unwrap();
    let (path, body) = ("/kiosk/v1/taps", br#"{"taps":[]}"#);
    let stamp = Stamp {
        kiosk: "hall-a-1".into(),
        time: "2007-03-06T06:05:01Z".into(),
        clock: MonoReading {
            boot: 2,
            mono_us: 9_000_000,
        },
        sync: Some(SyncPoint {
            boot: 2,
            mono_us: 4_000_000,
            server_time: Utc.with_ymd_and_hms(2007, 3, 6, 6, 15, 0).unwrap(),
        }),
    };
    let sig = key.sign_request("post", path, &stamp, body);
    public
        .verify_request("POST", path, &stamp, body, &sig)
        .unwrap();
    // Through the headers and back.
    let headers = stamp.headers();
    let back = Stamp::from_headers(|name| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    })
    .unwrap();
    assert_eq!(back, stamp);
    assert_eq!(
        back.signed_at(),
        Some(Utc.with_ymd_and_hms(2007, 3, 6, 6, 15, 5).unwrap())
    );
    type Alteration = Box<dyn Fn(&mut Stamp)>;
    let stamps: Vec<Alteration> = vec![
        Box::new(|s| s.kiosk = "hall-a-2".into()),
        Box::new(|s| s.time = "2007-03-06T06:05:02Z".into()),
        Box::new(|s| s.clock.boot = 3),
        Box::new(|s| s.clock.mono_us += 1),
        Box::new(|s| s.sync = None),
        Box::new(|s| s.sync.as_mut().unwrap().server_time += chrono::Duration::seconds(1)),
    ];
    let altered = stamps.into_iter().map(|alter| {
        let mut s = stamp.clone();
        alter(&mut s);
        ("POST", path, s, &body[..])
    });
    for (method, p, s, b) in [
        ("GET", path, stamp.clone(), &body[..]),
        ("POST", "/kiosk/v1/heartbeat", stamp.clone(), &body[..]),
        ("POST", path, stamp.clone(), br#"{"taps":[1]}"#),
    ]
    .into_iter()
    .chain(altered)
    {
        let e = public.verify_request(method, p, &s, b, &sig).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the signature of the request {method} {p} does not verify under the kiosk's key"
            )
        );
    }
    // Headers that are missing or malformed are named.
    let e = Stamp::from_headers(|name| (name != HEADER_CLOCK).then_some("x")).unwrap_err();
    assert!(e.to_string().contains(HEADER_CLOCK), "{e}");
    let e = Stamp::from_headers(|name| match name {
        HEADER_CLOCK => Some("soon"),
        _ => Some("x"),
    })
    .unwrap_err();
    assert!(e.to_string().contains("\"soon\""), "{e}");
}

#[test]
fn keys_round_trip_and_bad_keys_are_named() {
    let key = KioskKey::generate().unwrap();
    let again = KioskKey::from_secret_hex(&key.secret_hex()).unwrap();
    assert_eq!(key.public_hex(), again.public_hex());
    assert_eq!(key.public_hex().len(), 64);
    assert!(
        !format!("{key:?}").contains(&key.secret_hex()),
        "Debug hides the secret"
    );
    let public = PublicKey::from_hex(&key.public_hex().to_uppercase()).unwrap();
    assert_eq!(public.to_hex(), key.public_hex());
    assert_eq!(
        PublicKey::from_hex("abc").unwrap_err().to_string(),
        "kiosk public key is not valid: \"abc\" (expected 64 hex digits, found 3)"
    );
    // The identity point: every signature would verify under it.
    let weak = format!("01{}", "00".repeat(31));
    assert!(
        PublicKey::from_hex(&weak)
            .unwrap_err()
            .to_string()
            .contains("weak key")
    );
}

#[test]
fn messages_on_the_wire() {
    let key = KioskKey::generate().unwrap();
    let batch = TapBatch {
        taps: vec![key.sign_tap(tap())],
        sync: vec![],
    };
    let wire = serde_json::to_value(&batch).unwrap();
    assert_eq!(wire["taps"][0]["card"], "04A1B2C3");
    assert_eq!(wire["taps"][0]["counter"], 42);
    assert_eq!(wire["taps"][0]["signature"].as_str().unwrap().len(), 128);
    // A venue that is not an identifier (it could smuggle a newline into the
    // canonical bytes) is refused when the batch is read.
    let mut bad = wire.clone();
    bad["taps"][0]["venue"] = json!("hall-a\n99");
    assert!(serde_json::from_value::<TapBatch>(bad).is_err());

    let cases = [
        (
            TapOutcome::Recorded(AttendanceStatus::Present),
            Outcome::Present,
            "present",
        ),
        (
            TapOutcome::Recorded(AttendanceStatus::Late),
            Outcome::Late,
            "late",
        ),
        (
            TapOutcome::AlreadyCheckedIn(AttendanceStatus::Late),
            Outcome::AlreadyCheckedIn,
            "already_checked_in",
        ),
        (
            TapOutcome::Rejected(RejectReason::UnknownCard),
            Outcome::UnknownCard,
            "unknown_card",
        ),
        (
            TapOutcome::Rejected(RejectReason::RevokedCard),
            Outcome::RevokedCard,
            "revoked_card",
        ),
        (
            TapOutcome::Rejected(RejectReason::NoSessionNow),
            Outcome::NoSessionNow,
            "no_session_now",
        ),
        (
            TapOutcome::Rejected(RejectReason::SessionOver),
            Outcome::SessionOver,
            "session_over",
        ),
        (
            TapOutcome::Rejected(RejectReason::NotInAudience),
            Outcome::NotOnList,
            "not_on_list",
        ),
    ];
    for (domain, outcome, name) in cases {
        assert_eq!(Outcome::from(&domain), outcome);
        assert_eq!(serde_json::to_value(outcome).unwrap(), json!(name));
        assert_eq!(
            outcome.is_success(),
            matches!(
                domain,
                TapOutcome::Recorded(_) | TapOutcome::AlreadyCheckedIn(_)
            )
        );
    }
}

#[test]
fn enrolment_codes_are_random_readable_and_hashed_loosely() {
    let a = new_enrolment_code().unwrap();
    let b = new_enrolment_code().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 19);
    assert!(
        a.chars()
            .all(|c| c == '-' || "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(c)),
        "{a}"
    );
    let typed = a.to_lowercase().replace('-', " ");
    assert_eq!(enrolment_code_hash(&typed), enrolment_code_hash(&a));
    assert_ne!(enrolment_code_hash(&a), enrolment_code_hash(&b));
    assert_eq!(enrolment_code_hash(&a).len(), 64);
}
