//! `/kiosk/v1` on a running server, on SQLite and PostgreSQL: signed
//! heartbeats, the roster and its deltas, tap batches with their outcomes,
//! retries, refusals, counter gaps and clock correction.

use std::net::SocketAddr;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lectern_domain::{Campus, CardUid, Clock, Slug};
use lectern_kiosk_protocol::{
    BatchResponse, HEADER_CLOCK, HEADER_KIOSK, HEADER_SIGNATURE, HEADER_SYNC, HEADER_TIME,
    KioskKey, MonoReading, Outcome, Roster, SignedTap, Stamp, Tap,
};
use lectern_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::{TestApp, get, gql, ok, post_to, role_token, send, token};

both_backends!(
    kiosk_endpoints_over_http,
    malformed_input_gets_a_4xx_on_every_kiosk_endpoint,
    a_late_tap_explains_itself,
    a_replaced_card_and_an_ended_session_say_what_happened,
    a_tap_read_in_time_counts_when_it_arrives_after_the_close,
    a_replaced_kiosk_counts_from_one
);

/// An HTTP request; returns the status code and the body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, String) {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let a = send(addr, method, path, &headers, body).await;
    (a.status.as_u16(), a.body)
}

/// A kiosk's side of the conversation: signs what it sends.
pub(crate) struct Kiosk {
    pub(crate) addr: SocketAddr,
    id: String,
    key: KioskKey,
    /// How far the kiosk's clock is behind the server's.
    slow: Duration,
    /// Its monotonic clock counts from here, in boot 1.
    booted: std::time::Instant,
}

impl Kiosk {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() - self.slow
    }

    /// Signed with the kiosk's clocks and no sync point (its taps are
    /// placed by the corrected wall clock).
    async fn send(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let stamp = Stamp {
            kiosk: self.id.clone(),
            time: self.now().to_rfc3339_opts(SecondsFormat::Millis, true),
            clock: MonoReading {
                boot: 1,
                mono_us: u64::try_from(self.booted.elapsed().as_micros()).unwrap(),
            },
            sync: None,
        };
        let mut headers = stamp.headers();
        headers.push((
            HEADER_SIGNATURE,
            self.key.sign_request(method, path, &stamp, body),
        ));
        request(self.addr, method, path, &headers, body).await
    }

    pub(crate) fn tap(&self, card: &str, counter: u64) -> SignedTap {
        self.tap_ago(card, counter, Duration::zero())
    }

    /// A tap the kiosk read `ago` before now, and held (offline) since.
    pub(crate) fn tap_ago(&self, card: &str, counter: u64, ago: Duration) -> SignedTap {
        self.key.sign_tap(Tap::new(
            Slug::parse(&self.id).unwrap(),
            Slug::parse("hall-a").unwrap(),
            CardUid::parse(card).unwrap(),
            counter,
            self.now() - ago,
        ))
    }

    async fn heartbeat(&self, backlog: u64) {
        let beat = serde_json::to_vec(&json!({
            "version": "0.1.0", "backlog": backlog, "last_tap": null, "clock_offset_ms": 0
        }))
        .unwrap();
        let (code, answer) = self.send("POST", "/kiosk/v1/heartbeat", &beat).await;
        assert_eq!(code, 200, "{answer}");
    }

    pub(crate) async fn post_taps(&self, taps: &[SignedTap]) -> BatchResponse {
        let body = serde_json::to_vec(&json!({ "taps": taps })).unwrap();
        let (code, answer) = self.send("POST", "/kiosk/v1/taps", &body).await;
        assert_eq!(code, 200, "{answer}");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
    }

    async fn roster(&self, since: Option<u64>) -> Roster {
        let path = since.map_or("/kiosk/v1/roster".to_owned(), |s| {
            format!("/kiosk/v1/roster?since={s}")
        });
        let (code, answer) = self.send("GET", &path, b"").await;
        assert_eq!(code, 200, "{answer}");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
    }
}

/// Registers and enrols kiosk `id` at hall-a.
pub(crate) async fn enrolled(addr: SocketAddr, admin: &str, id: &str) -> Kiosk {
    let r = ok(
        addr,
        admin,
        "mutation($id: String!) { registerKiosk(id: $id, venue: \"hall-a\") { code } }",
        json!({ "id": id }),
    )
    .await;
    let key = KioskKey::generate().unwrap();
    let body = serde_json::to_vec(&json!({
        "kiosk": id, "code": r["registerKiosk"]["code"], "public_key": key.public_hex(),
        "version": "0.1.0"
    }))
    .unwrap();
    let (status, answer) = post_to(addr, "/kiosk/v1/enrol", None, &body).await;
    assert!(status.contains("200"), "{status}: {answer}");
    Kiosk {
        addr,
        id: id.to_owned(),
        key,
        slow: Duration::zero(),
        booted: std::time::Instant::now(),
    }
}

pub(crate) fn outcomes(r: &BatchResponse) -> Vec<Option<Outcome>> {
    r.results.iter().map(|t| t.outcome).collect()
}

async fn kiosk_endpoints_over_http(db: TestDb) {
    let url = db.url.clone();
    let server = TestApp::start(&url).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;

    // A school with three teachers (one without a card), a law school with
    // one, and a study session at hall-a for the school that starts in ten
    // minutes (check-in is open).
    let starts = Utc::now() + Duration::minutes(10);
    ok(
        addr,
        &admin,
        "mutation($id: UUID!, $starts: DateTime!, $ends: DateTime!) {
           a: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           b: establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position }
           c: establishUnit(id: \"law\", name: \"法学院\", kind: school, parent: \"uni\") { position }
           d: registerPerson(input: { staffNo: \"S0001\", name: \"王小明\", unit: \"cs\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
           e: registerPerson(input: { staffNo: \"S0002\", name: \"张伟\", unit: \"law\",
             category: teacher, birthDate: \"1981-03-04\", hireDate: \"2005-09-01\" }) { position }
           f: registerPerson(input: { staffNo: \"S0003\", name: \"刘芳\", unit: \"cs\",
             category: teacher, birthDate: \"1982-03-04\", hireDate: \"2005-09-01\" }) { position }
           g: registerPerson(input: { staffNo: \"S0004\", name: \"陈静\", unit: \"cs\",
             category: teacher, birthDate: \"1983-03-04\", hireDate: \"2005-09-01\" }) { position }
           h: issueCard(staffNo: \"S0001\", uid: \"04A1B2C3D4E501\") { position }
           i: issueCard(staffNo: \"S0002\", uid: \"04A1B2C3D4E502\") { position }
           j: issueCard(staffNo: \"S0004\", uid: \"04A1B2C3D4E504\") { position }
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
             organiser: \"cs\", venue: \"hall-a\", audienceUnits: [\"cs\"],
             startsAt: $starts, endsAt: $ends }) { position }
         }",
        json!({
            "id": "0195f000-0000-7000-8000-00000000a11a",
            "starts": starts,
            "ends": starts + Duration::minutes(90),
        }),
    )
    .await;
    let kiosk = enrolled(addr, &admin, "hall-a-1").await;

    // Heartbeats: signed ones are stored and shown; anything else is a 4xx
    // that names the problem.
    let beat = serde_json::to_vec(
        &json!({ "version": "0.1.0", "backlog": 3, "last_tap": null, "clock_offset_ms": null }),
    )
    .unwrap();
    let (code, answer) = kiosk.send("POST", "/kiosk/v1/heartbeat", &beat).await;
    assert_eq!(code, 200, "{answer}");
    let shown = ok(
        addr,
        &admin,
        "{ kiosks { id heartbeat { version backlog clockOffsetMs } } }",
        json!({}),
    )
    .await;
    assert_eq!(shown["kiosks"][0]["heartbeat"]["backlog"], 3, "{shown}");
    assert!(
        shown["kiosks"][0]["heartbeat"]["clockOffsetMs"]
            .as_i64()
            .unwrap()
            .abs()
            < 5_000,
        "{shown}"
    );
    let forger = Kiosk {
        addr,
        id: "hall-a-1".into(),
        key: KioskKey::generate().unwrap(),
        slow: Duration::zero(),
        booted: std::time::Instant::now(),
    };
    let stranger = Kiosk {
        addr,
        id: "hall-z-9".into(),
        key: KioskKey::generate().unwrap(),
        slow: Duration::zero(),
        booted: std::time::Instant::now(),
    };
    for (answer, want, needle) in [
        (
            request(addr, "POST", "/kiosk/v1/heartbeat", &[], &beat).await,
            401,
            "sign the request",
        ),
        (
            forger.send("POST", "/kiosk/v1/heartbeat", &beat).await,
            401,
            "does not verify",
        ),
        (
            stranger.send("POST", "/kiosk/v1/heartbeat", &beat).await,
            401,
            "kiosk \"hall-z-9\" is not registered",
        ),
        (
            kiosk.send("POST", "/kiosk/v1/heartbeat", b"{}").await,
            400,
            "the body is not a heartbeat",
        ),
        // What a backend cannot store is refused at the door.
        (
            kiosk
                .send(
                    "POST",
                    "/kiosk/v1/heartbeat",
                    br#"{"version": "0.1.0", "backlog": 0, "last_tap": null,
                        "clock_offset_ms": null, "reader_fault": "unplugged\u0000"}"#,
                )
                .await,
            400,
            "the heartbeat's reader_fault \"unplugged\\0\" holds a NUL character",
        ),
        (
            kiosk
                .send(
                    "POST",
                    "/kiosk/v1/heartbeat",
                    format!(
                        r#"{{"version": "{}", "backlog": 0, "last_tap": null, "clock_offset_ms": null}}"#,
                        "9".repeat(501)
                    )
                    .as_bytes(),
                )
                .await,
            400,
            "the heartbeat's version is 501 characters long; at most 500",
        ),
        (
            kiosk.send("POST", "/kiosk/v1/taps", b"[1, 2]").await,
            400,
            "the body is not a tap batch",
        ),
        (
            kiosk.send("GET", "/kiosk/v1/roster?since=soon", b"").await,
            400,
            "since=N",
        ),
        (
            forger
                .send("POST", "/kiosk/v1/taps", b"{\"taps\": []}")
                .await,
            401,
            "does not verify",
        ),
    ] {
        let (code, body) = answer;
        assert_eq!(code, want, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }

    // The roster: everyone, and the session with who is expected.
    let roster = kiosk.roster(None).await;
    assert!(roster.full);
    assert_eq!(roster.venue.as_str(), "hall-a");
    let cards: Vec<(&str, Option<&str>)> = roster
        .people
        .iter()
        .map(|p| (p.staff_no.as_str(), p.card.as_ref().map(|c| c.as_str())))
        .collect();
    assert_eq!(
        cards,
        [
            ("S0001", Some("04A1B2C3D4E501")),
            ("S0002", Some("04A1B2C3D4E502")),
            ("S0003", None),
            ("S0004", Some("04A1B2C3D4E504"))
        ]
    );
    assert_eq!(roster.sessions.len(), 1);
    let session = &roster.sessions[0];
    assert_eq!(session.title, "集中学习");
    let expected: Vec<&str> = session.expected.iter().map(|s| s.as_str()).collect();
    assert_eq!(expected, ["S0001", "S0003", "S0004"]);
    assert!(session.checked_in.is_empty() && !session.open && !session.shut);
    // A delta holds only what changed since.
    assert!(kiosk.roster(Some(roster.as_of)).await.people.is_empty());
    ok(
        addr,
        &admin,
        "mutation { issueCard(staffNo: \"S0003\", uid: \"04A1B2C3D4E503\") { position } }",
        json!({}),
    )
    .await;
    let delta = kiosk.roster(Some(roster.as_of)).await;
    assert!(!delta.full);
    assert_eq!(delta.people.len(), 1, "{delta:?}");
    assert_eq!(
        delta.people[0].card.as_ref().map(|c| c.as_str()),
        Some("04A1B2C3D4E503")
    );

    // A batch: present, unknown card, not on the list, already checked in,
    // a tampered tap, a tap naming another kiosk; counter 5 never arrives.
    let mut tampered = kiosk.tap("04A1B2C3D4E504", 5);
    tampered.tap.card = CardUid::parse("04A1B2C3D4E599").unwrap();
    let mut foreign = kiosk.tap("04A1B2C3D4E504", 6);
    foreign.tap.kiosk = Slug::parse("hall-a-2").unwrap();
    let batch = vec![
        kiosk.tap("04A1B2C3D4E501", 1),
        kiosk.tap("04FFFFFFFFFF01", 2),
        kiosk.tap("04A1B2C3D4E502", 3),
        kiosk.tap("04A1B2C3D4E501", 4),
        tampered,
        foreign,
        kiosk.tap("04A1B2C3D4E503", 7),
    ];
    let first = kiosk.post_taps(&batch).await;
    assert_eq!(
        outcomes(&first),
        [
            Some(Outcome::Present),
            Some(Outcome::UnknownCard),
            Some(Outcome::NotOnList),
            Some(Outcome::AlreadyCheckedIn),
            None,
            None,
            Some(Outcome::Present),
        ]
    );
    assert!(
        first.results[4]
            .refused
            .as_deref()
            .unwrap()
            .contains("does not verify"),
        "{first:?}"
    );
    assert!(
        first.results[5]
            .refused
            .as_deref()
            .unwrap()
            .contains("names kiosk \"hall-a-2\""),
        "{first:?}"
    );
    assert_eq!(first.results[0].person.as_deref(), Some("S0001"));
    assert_eq!(first.results[0].name.as_deref(), Some("王小明"));
    assert_eq!(first.gaps, [(5, 6)]);
    assert!(first.results.iter().all(|r| !r.duplicate));
    let positions: Vec<u64> = first.results.iter().map(|r| r.position).collect();
    assert!(
        positions.iter().filter(|p| **p > 0).count() == 5,
        "{positions:?}"
    );

    // The same batch again (a retry after a lost answer) adds nothing and
    // gets the same answers.
    let head = || async {
        let r = ok(addr, &admin, "{ projections { position lag } }", json!({})).await;
        r["projections"][0]["position"].as_u64().unwrap()
            + r["projections"][0]["lag"].as_u64().unwrap()
    };
    let before = head().await;
    let again = kiosk.post_taps(&batch).await;
    assert_eq!(outcomes(&again), outcomes(&first));
    for (a, f) in again.results.iter().zip(&first.results) {
        assert_eq!(a.position, f.position);
        assert_eq!(a.duplicate, f.outcome.is_some(), "{a:?}");
    }
    assert_eq!(head().await, before, "a retried batch adds nothing");

    // A kiosk whose clock is an hour slow: its tap is judged by the
    // corrected time (check-in is open now), and both times are kept.
    let slow = Kiosk {
        slow: Duration::hours(1),
        ..enrolled(addr, &admin, "hall-a-2").await
    };
    let late_clock = slow.post_taps(&[slow.tap("04A1B2C3D4E504", 1)]).await;
    assert_eq!(outcomes(&late_clock), [Some(Outcome::Present)]);
    let events = ok(
        addr,
        &admin,
        "{ events(stream: \"kiosk-hall-a-2\") { eventType payload } }",
        json!({}),
    )
    .await;
    let tapped: Value = serde_json::from_str(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["eventType"] == "CardTapped")
            .unwrap()["payload"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let offset = tapped["decision"]["clock_offset_ms"].as_i64().unwrap();
    assert!((offset - 3_600_000).abs() < 5_000, "{tapped}");
    // With no sync point, the record says the wall clock placed it.
    assert_eq!(tapped["decision"]["placed"], json!({ "by": "wall_clock" }));

    // The session shows the check-ins; the roster's next download too.
    let shown = ok(
        addr,
        &admin,
        "{ session(id: \"0195f000-0000-7000-8000-00000000a11a\") { present roster { edges { node { staffNo status } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(shown["session"]["present"], 3, "{shown}");
    let roster = kiosk.roster(None).await;
    let checked: Vec<&str> = roster.sessions[0]
        .checked_in
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(checked, ["S0001", "S0003", "S0004"]);

    // Batch limits.
    let too_many: Vec<SignedTap> = (0..501)
        .map(|i| kiosk.tap("04A1B2C3D4E501", 100 + i))
        .collect();
    let body = serde_json::to_vec(&json!({ "taps": too_many })).unwrap();
    let (code, answer) = kiosk.send("POST", "/kiosk/v1/taps", &body).await;
    assert_eq!(code, 400, "{answer}");
    assert!(answer.contains("at most 500 taps, not 501"), "{answer}");
    let twice = kiosk.tap("04A1B2C3D4E501", 8);
    let body = serde_json::to_vec(&json!({ "taps": [twice, twice] })).unwrap();
    let (code, answer) = kiosk.send("POST", "/kiosk/v1/taps", &body).await;
    assert_eq!(code, 400, "{answer}");
    assert!(answer.contains("appears twice"), "{answer}");
    let r = gql(addr, &admin, "{ kiosks { id missing } }", json!({})).await;
    assert_eq!(r["data"]["kiosks"][0]["missing"], 2, "{r}");
    let (_, metrics) = get(addr, "/metrics").await;
    assert!(
        metrics.contains("lectern_kiosk_taps_refused_total 4"),
        "two refused taps, twice: {metrics}"
    );
    assert!(
        metrics.contains("lectern_kiosk_missing_taps{kiosk=\"hall-a-1\"} 2"),
        "{metrics}"
    );
    server.stop().await;
}

/// Every kiosk endpoint, fed bodies and headers that are wrong in every
/// way we could think of, answers 4xx with a message; never a 500, and the
/// server keeps answering.
async fn malformed_input_gets_a_4xx_on_every_kiosk_endpoint(db: TestDb) {
    let url = db.url.clone();
    let server = TestApp::start(&url).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;
    let kiosk = enrolled(addr, &admin, "hall-a-1").await;
    let huge = vec![b'x'; 2 * 1024 * 1024];
    let bodies: Vec<&[u8]> = vec![
        b"",
        b"null",
        b"{",
        b"[]",
        b"\xff\xfe\x00",
        b"{\"taps\": 5}",
        b"{\"taps\": [{\"id\": 1}]}",
        b"{\"taps\": [{\"id\": \"0195f000-0000-7000-8000-000000000001\", \"kiosk\": \"hall-a-1\", \"venue\": \"hall-a\", \"card\": \"zz\", \"counter\": -1, \"kiosk_time\": \"soon\", \"signature\": \"\"}]}",
        b"{\"version\": 1, \"backlog\": -3}",
        b"{\"kiosk\": \"hall-a-1\", \"code\": 5, \"public_key\": null}",
        &huge,
    ];
    for (method, path) in [
        ("POST", "/kiosk/v1/enrol"),
        ("POST", "/kiosk/v1/heartbeat"),
        ("POST", "/kiosk/v1/taps"),
        ("GET", "/kiosk/v1/roster"),
    ] {
        for body in &bodies {
            for (code, answer) in [
                kiosk.send(method, path, body).await,
                request(addr, method, path, &[], body).await,
                request(
                    addr,
                    method,
                    path,
                    &[
                        (HEADER_KIOSK, "Hall A".into()),
                        (HEADER_TIME, "yesterday".into()),
                        (HEADER_CLOCK, "soon".into()),
                        (HEADER_SYNC, "then".into()),
                        (HEADER_SIGNATURE, "zz".into()),
                    ],
                    body,
                )
                .await,
            ] {
                // A signed GET of the roster with a body is still a roster
                // request; everything else here is wrong.
                if code == 200 && method == "GET" {
                    continue;
                }
                assert!(
                    (400..500).contains(&code),
                    "{method} {path} with {:?}: {code} {answer}",
                    String::from_utf8_lossy(&body[..body.len().min(60)])
                );
                // Every refusal is JSON with a message and a code, an
                // oversized body's 413 included.
                let v: Value = serde_json::from_str(&answer)
                    .unwrap_or_else(|e| panic!("{method} {path}: {e}: {answer}"));
                assert!(!v["error"].as_str().unwrap_or_default().is_empty(), "{v}");
                assert!(v["code"].is_string(), "{v}");
            }
        }
    }
    let (status, _) = get(addr, "/healthz").await;
    assert!(status.contains("200"), "{status}");
    server.stop().await;
}

/// A tap after the grace period costs points, and the appraisal line says
/// why down to the raw tap: kiosk, counter, time and signature.
/// `h:m` campus time on Tuesday 2 September 2008.
fn tuesday(h: u32, m: u32) -> DateTime<Utc> {
    let day = chrono::NaiveDate::from_ymd_opt(2008, 9, 2).unwrap();
    Campus::default()
        .at(day, chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap())
        .unwrap()
}

async fn a_late_tap_explains_itself(db: TestDb) {
    // Tuesday 2 September 2008 on the campus clock: the session began at
    // 14:30 and the server's clock says 15:10 when the tap arrives, so the
    // tap is late (grace ends 14:40) whatever the kiosk's own clock shows.
    let at = tuesday;
    let started = at(14, 30);
    let clock = Clock::manual(at(15, 10));
    let url = db.url.clone();
    let server = TestApp::start_at(&url, clock).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;
    ok(
        addr,
        &admin,
        "mutation($id: UUID!, $starts: DateTime!, $ends: DateTime!) {
           a: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           b: registerPerson(input: { staffNo: \"S0001\", name: \"王小明\", unit: \"uni\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
           c: issueCard(staffNo: \"S0001\", uid: \"04A1B2C3D4E501\") { position }
           d: adoptScoringRules(input: { version: 1, effectiveFrom: \"2000-01-01\", basePoints: 100,
             perAbsence: 5, perLate: 2, perMissedTask: 3, perLateReport: 10, reportDueDay: 5,
             awardBonus: [] }) { position }
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
             organiser: \"uni\", venue: \"hall-a\", audienceUnits: [\"uni\"],
             startsAt: $starts, endsAt: $ends }) { position }
         }",
        json!({
            "id": "0195f000-0000-7000-8000-00000000c33c",
            "starts": started,
            "ends": started + Duration::minutes(90),
        }),
    )
    .await;
    let kiosk = enrolled(addr, &admin, "hall-a-1").await;
    let tap = kiosk.tap("04A1B2C3D4E501", 1);
    let answer = kiosk.post_taps(std::slice::from_ref(&tap)).await;
    assert_eq!(outcomes(&answer), [Some(Outcome::Late)]);

    let query = "query($year: Int!) { appraisal(staffNo: \"S0001\", year: $year) {
        lines { rule points taps { position kiosk venue card kioskTime counter signature } } } }";
    let year = 2008;
    let r = ok(addr, &admin, query, json!({ "year": year })).await;
    let late: Vec<&Value> = r["appraisal"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rule"] == "late")
        .collect();
    assert_eq!(late.len(), 1, "{r}");
    assert_eq!(late[0]["points"], -2);
    let taps = late[0]["taps"].as_array().unwrap();
    assert_eq!(taps.len(), 1, "{r}");
    assert_eq!(
        (
            &taps[0]["position"],
            &taps[0]["kiosk"],
            &taps[0]["venue"],
            &taps[0]["card"],
            &taps[0]["counter"]
        ),
        (
            &json!(answer.results[0].position),
            &json!("hall-a-1"),
            &json!("hall-a"),
            &json!("04A1B2C3D4E501"),
            &json!(1)
        ),
        "{r}"
    );
    assert_eq!(taps[0]["signature"], tap.signature);
    // Staff see their own evidence with the card masked.
    let staff = token(&url, "staff", "S0001").await;
    let mine = ok(addr, &staff, query, json!({ "year": year })).await;
    let card = mine["appraisal"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rule"] == "late")
        .unwrap()["taps"][0]["card"]
        .clone();
    assert_ne!(card, json!("04A1B2C3D4E501"), "{mine}");
    // The base line has no taps.
    assert!(
        r["appraisal"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["rule"] == "base")
            .all(|l| l["taps"] == json!([])),
        "{r}"
    );
    server.stop().await;
}

/// A replaced card is answered as revoked, naming whose it was, and a tap
/// after the session ended is told the session is over; the kiosk's roster
/// carries the revoked card so it answers the same offline.
async fn a_replaced_card_and_an_ended_session_say_what_happened(db: TestDb) {
    // Tuesday 2 September 2008, campus time; the study runs 14:30-16:00.
    let at = tuesday;
    let clock = Clock::manual(at(14, 35));
    let url = db.url.clone();
    let server = TestApp::start_at(&url, clock.clone()).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;
    ok(
        addr,
        &admin,
        "mutation($id: UUID!, $starts: DateTime!, $ends: DateTime!) {
           a: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           b: registerPerson(input: { staffNo: \"S0001\", name: \"王小明\", unit: \"uni\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
           c: issueCard(staffNo: \"S0001\", uid: \"04A1B2C3D4E501\") { position }
           d: issueCard(staffNo: \"S0001\", uid: \"04A1B2C3D4E502\") { position }
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
             organiser: \"uni\", venue: \"hall-a\", audienceUnits: [\"uni\"],
             startsAt: $starts, endsAt: $ends }) { position }
         }",
        json!({
            "id": "0195f000-0000-7000-8000-00000000c44c",
            "starts": at(14, 30),
            "ends": at(16, 0),
        }),
    )
    .await;
    let kiosk = enrolled(addr, &admin, "hall-a-1").await;
    let roster = kiosk.roster(None).await;
    assert_eq!(
        roster.people[0].revoked_cards,
        [CardUid::parse("04A1B2C3D4E501").unwrap()],
        "the replaced card travels with its holder"
    );

    // 14:35: the old card is refused as revoked, naming 王小明; the new
    // one checks him in (present: grace runs to 14:40).
    let answer = kiosk
        .post_taps(&[
            kiosk.tap("04A1B2C3D4E501", 1),
            kiosk.tap("04A1B2C3D4E502", 2),
        ])
        .await;
    assert_eq!(
        outcomes(&answer),
        [Some(Outcome::RevokedCard), Some(Outcome::Present)]
    );
    assert_eq!(answer.results[0].person.as_deref(), Some("S0001"));
    assert_eq!(answer.results[0].name.as_deref(), Some("王小明"));
    // The revoked card read is flagged (for a person to look at, not a
    // point lost): once the analyzer has seen the tap, its flag event is
    // in the log, and once that is projected, the flag is listed.
    let read_at = |position: u64, query: &'static str| {
        let admin = admin.clone();
        async move {
            let body = json!({ "query": query, "extensions": { "waitForPosition": position } });
            let (status, answer) =
                post_to(addr, "/graphql", Some(&admin), body.to_string().as_bytes()).await;
            assert!(status.contains("200"), "{status}: {answer}");
            serde_json::from_str::<Value>(&answer).unwrap()
        }
    };
    let seen = read_at(answer.results[0].position, "{ signedIn { role } }").await;
    assert!(seen.get("errors").is_none(), "{seen}");
    let (_, metrics) = get(addr, "/metrics").await;
    let head: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("lectern_log_head_position "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no head in {metrics}"));
    let flags = read_at(
        head,
        "{ proxyFlags { rule people status taps { card staffNo } } }",
    )
    .await;
    assert_eq!(
        flags["data"]["proxyFlags"],
        json!([{ "rule": "revoked_card", "people": ["S0001"], "status": "open",
                 "taps": [{ "card": "04A1B2C3D4E501", "staffNo": "S0001" }] }]),
        "{flags}"
    );
    let (_, metrics) = get(addr, "/metrics").await;
    assert!(
        metrics.contains("lectern_flags{rule=\"revoked_card\",status=\"open\"} 1"),
        "{metrics}"
    );

    // 16:20, twenty minutes after the end: the session is over; at 20:01,
    // four hours and a minute after, there is simply no session.
    clock.set(at(16, 20));
    let answer = kiosk.post_taps(&[kiosk.tap("04A1B2C3D4E502", 3)]).await;
    assert_eq!(outcomes(&answer), [Some(Outcome::SessionOver)]);
    clock.set(at(20, 1));
    let answer = kiosk.post_taps(&[kiosk.tap("04A1B2C3D4E502", 4)]).await;
    assert_eq!(outcomes(&answer), [Some(Outcome::NoSessionNow)]);
    server.stop().await;
}

/// Worked by hand: the study runs 14:30-16:00 on Tuesday 2 September 2008
/// for the three staff of the university (rules v1: 5 points per absence, 2
/// per late arrival). 王一 taps at 14:35 on hall-a-1 (present, grace to
/// 14:40). Hall-a-1 then loses its link and reads 王二 at 14:50 (late);
/// hall-a-2 is never heard from. The chair closes at 16:30: 王二 and 王三
/// are absent (1 present, 0 late, 2 absent), and the close names both
/// kiosks as behind. 王二's tap arrives at 16:40: read in the window, it
/// counts as late and replaces the absence (1 present, 1 late, 1 absent;
/// 王二 100 - 2 = 98, not 95). The 2008 year closes on 2 January 2009; a
/// tap of 王三 read at 14:45 arriving after that is held for the auditors:
/// 王三 stays absent at 95, the recorded total.
async fn a_tap_read_in_time_counts_when_it_arrives_after_the_close(db: TestDb) {
    let at = tuesday;
    let clock = Clock::manual(at(14, 35));
    let url = db.url.clone();
    let server = TestApp::start_at(&url, clock.clone()).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;
    let session = "0195f000-0000-7000-8000-00000000c10e";
    ok(
        addr,
        &admin,
        "mutation($id: UUID!, $starts: DateTime!, $ends: DateTime!) {
           a: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           b1: registerPerson(input: { staffNo: \"S0001\", name: \"王一\", unit: \"uni\",
             category: teacher, birthDate: \"1980-03-04\", hireDate: \"2005-09-01\" }) { position }
           b2: registerPerson(input: { staffNo: \"S0002\", name: \"王二\", unit: \"uni\",
             category: teacher, birthDate: \"1981-03-04\", hireDate: \"2005-09-01\" }) { position }
           b3: registerPerson(input: { staffNo: \"S0003\", name: \"王三\", unit: \"uni\",
             category: teacher, birthDate: \"1982-03-04\", hireDate: \"2005-09-01\" }) { position }
           c1: issueCard(staffNo: \"S0001\", uid: \"04A1B2C3D4E501\") { position }
           c2: issueCard(staffNo: \"S0002\", uid: \"04A1B2C3D4E502\") { position }
           c3: issueCard(staffNo: \"S0003\", uid: \"04A1B2C3D4E503\") { position }
           d: adoptScoringRules(input: { version: 1, effectiveFrom: \"2000-01-01\", basePoints: 100,
             perAbsence: 5, perLate: 2, perMissedTask: 3, perLateReport: 10, reportDueDay: 5,
             awardBonus: [] }) { position }
           scheduleSession(input: { id: $id, kind: centralized_study, title: \"集中学习\",
             organiser: \"uni\", venue: \"hall-a\", audienceUnits: [\"uni\"],
             startsAt: $starts, endsAt: $ends }) { position }
         }",
        json!({ "id": session, "starts": at(14, 30), "ends": at(16, 0) }),
    )
    .await;
    let hall1 = enrolled(addr, &admin, "hall-a-1").await;
    let _hall2 = enrolled(addr, &admin, "hall-a-2").await;
    let answer = hall1.post_taps(&[hall1.tap("04A1B2C3D4E501", 1)]).await;
    assert_eq!(outcomes(&answer), [Some(Outcome::Present)]);

    // 16:30: hall-a-1 reports one tap waiting; the chair closes.
    clock.set(at(16, 30));
    hall1.heartbeat(1).await;
    let closed = ok(
        addr,
        &admin,
        "mutation($id: UUID!) { closeSession(id: $id) { session {
           present late absent kiosksBehind { kiosk backlog lastHeard } } } }",
        json!({ "id": session }),
    )
    .await;
    let s = &closed["closeSession"]["session"];
    assert_eq!(
        (&s["present"], &s["late"], &s["absent"]),
        (&json!(1), &json!(0), &json!(2)),
        "{s}"
    );
    assert_eq!(
        s["kiosksBehind"],
        json!([
            { "kiosk": "hall-a-1", "backlog": 1, "lastHeard": "2008-09-02T08:30:00+00:00" },
            { "kiosk": "hall-a-2", "backlog": 0, "lastHeard": null },
        ]),
        "{s}"
    );

    // 16:40: the tap read at 14:50 arrives.
    clock.set(at(16, 40));
    let answer = hall1
        .post_taps(&[hall1.tap_ago("04A1B2C3D4E502", 2, Duration::minutes(110))])
        .await;
    assert_eq!(outcomes(&answer), [Some(Outcome::Late)], "{answer:?}");
    let figures = "query($id: UUID!) { session(id: $id) { present late absent } }";
    let r = ok(addr, &admin, figures, json!({ "id": session })).await;
    assert_eq!(
        r["session"],
        json!({ "present": 1, "late": 1, "absent": 1 }),
        "{r}"
    );
    let total = "query($no: String!) { appraisal(staffNo: $no, year: 2008) {
                   total lines { rule points } } }";
    let r = ok(addr, &admin, total, json!({ "no": "S0002" })).await;
    assert_eq!(
        r["appraisal"],
        json!({ "total": 98, "lines": [
            { "rule": "base", "points": 100 }, { "rule": "late", "points": -2 }
        ] }),
        "{r}"
    );
    let events = ok(
        addr,
        &admin,
        "query($stream: String!) { events(stream: $stream) { eventType payload } }",
        json!({ "stream": format!("session-{session}") }),
    )
    .await;
    let replaced = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["eventType"] == "AttendanceRecorded")
        .map(|e| serde_json::from_str::<Value>(e["payload"].as_str().unwrap()).unwrap())
        .find(|p| p["person"] == "S0002")
        .expect("the late tap's attendance");
    assert_eq!(replaced["replaces"], "absent", "{replaced}");
    assert_eq!(
        replaced["method"]["tap"],
        json!(answer.results[0].tap),
        "the attendance names the tap"
    );

    // 2 January 2009: the year closes; then 王三's tap, read at 14:45.
    let jan2 = Campus::default()
        .at(
            chrono::NaiveDate::from_ymd_opt(2009, 1, 2).unwrap(),
            chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        )
        .unwrap();
    clock.set(jan2);
    ok(
        addr,
        &admin,
        "mutation { closeAppraisalYear(year: 2008) { position } }",
        json!({}),
    )
    .await;
    let answer = hall1
        .post_taps(&[hall1.tap_ago("04A1B2C3D4E503", 3, jan2 - at(14, 45))])
        .await;
    assert_eq!(
        outcomes(&answer),
        [Some(Outcome::SessionOver)],
        "{answer:?}"
    );
    let r = ok(addr, &admin, total, json!({ "no": "S0003" })).await;
    assert_eq!(r["appraisal"]["total"], 95, "{r}");
    let held = ok(
        addr,
        &admin,
        "{ heldTaps(year: 2008) { tap session staffNo readAt position } }",
        json!({}),
    )
    .await;
    let taps = held["heldTaps"].as_array().unwrap();
    assert_eq!(taps.len(), 1, "{held}");
    assert_eq!(
        (&taps[0]["tap"], &taps[0]["session"], &taps[0]["staffNo"]),
        (
            &json!(answer.results[0].tap),
            &json!(session),
            &json!("S0003")
        ),
        "{held}"
    );
    let auditor = role_token(&url, "auditor").await;
    ok(
        addr,
        &auditor,
        "{ heldTaps(year: 2008) { tap } }",
        json!({}),
    )
    .await;
    let staff = token(&url, "staff", "S0003").await;
    let refused = gql(addr, &staff, "{ heldTaps(year: 2008) { tap } }", json!({})).await;
    assert!(refused["errors"].is_array(), "{refused}");

    // The year-end record, as a report: recorded and live agree (the held
    // tap changed nothing).
    let args = [
        "report",
        "year-end",
        "--year",
        "2008",
        "--database-url",
        &url,
    ];
    let (code, out, err) = crate::cli(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(out.lines().next(), Some("2008 year-end record"), "{out}");
    assert_eq!(
        rows,
        [
            ["S0001", "王一", "100", "100", "0"],
            ["S0002", "王二", "98", "98", "0"],
            ["S0003", "王三", "95", "95", "0"],
            ["uni", "大学", "100", "100", "0"],
        ],
        "{out}"
    );
    server.stop().await;
}

/// A kiosk whose device is replaced (registered again, a new box enrolled)
/// loses no tap: the new box counts from 1 and its taps are recorded, not
/// refused as "backwards"; one absurd counter is refused and the taps
/// after it are taken.
async fn a_replaced_kiosk_counts_from_one(db: TestDb) {
    let url = db.url.clone();
    let server = TestApp::start(&url).await;
    let addr = server.addr;
    let admin = role_token(&url, "administrator").await;
    let old = enrolled(addr, &admin, "hall-a-1").await;
    let answer = old
        .post_taps(&[
            old.tap("04A1B2C3", 1),
            old.tap("04A1B2C3", 2),
            old.tap("04A1B2C3", 5),
        ])
        .await;
    assert!(
        answer.results.iter().all(|r| r.refused.is_none()),
        "{answer:?}"
    );
    assert_eq!(answer.gaps, [(3, 4)]);

    let new = enrolled(addr, &admin, "hall-a-1").await;
    let answer = new
        .post_taps(&[new.tap("04A1B2C3", 1), new.tap("04A1B2C3", 2)])
        .await;
    assert_eq!(
        outcomes(&answer),
        [Some(Outcome::UnknownCard), Some(Outcome::UnknownCard)],
        "{answer:?}"
    );
    assert!(answer.gaps.is_empty(), "the new device's gaps are its own");
    let answer = new
        .post_taps(&[new.tap("04A1B2C3", 1_000_000_000), new.tap("04A1B2C3", 3)])
        .await;
    assert_eq!(outcomes(&answer), [None, Some(Outcome::UnknownCard)]);
    let refusal = answer.results[0].refused.as_deref().unwrap_or_default();
    assert!(
        refusal.contains("tap counter 1000000000 jumps more than 100000 past 2"),
        "{refusal}"
    );
    // The old device's queue, signed by its key and sent once a device is
    // enrolled again, continues the old sequence: tap 6 is recorded, tap 5
    // would go backwards there.
    let answer = new
        .post_taps(&[old.tap("04A1B2C3", 6), old.tap("04A1B2C3", 5)])
        .await;
    assert_eq!(outcomes(&answer), [Some(Outcome::UnknownCard), None]);
    assert!(
        answer.results[1]
            .refused
            .as_deref()
            .is_some_and(|r| r.contains("tap counter 5 does not follow 6")),
        "{answer:?}"
    );
    // A tap no enrolment's key signed is refused.
    let stranger = KioskKey::generate().unwrap();
    let forged = stranger.sign_tap(new.tap("04A1B2C3", 4).tap);
    let answer = new.post_taps(&[forged]).await;
    assert!(
        answer.results[0]
            .refused
            .as_deref()
            .is_some_and(|r| r.contains("does not verify")),
        "{answer:?}"
    );
    let r = ok(
        addr,
        &admin,
        "{ kiosks { id taps lastCounter gaps missing } }",
        json!({}),
    )
    .await;
    assert_eq!(
        r["kiosks"][0],
        json!({ "id": "hall-a-1", "taps": 7, "lastCounter": 3, "gaps": "[]", "missing": 2 }),
        "{r}"
    );
    server.stop().await;
}
