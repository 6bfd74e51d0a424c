//! When a tap happened, whatever the kiosk's wall clock did: the kiosk
//! library against a running server, both on manual clocks that the drill
//! moves (no sleeps), on SQLite and PostgreSQL.
//!
//! Every drill is the same Tuesday: study at hall-a from 14:30 to 16:00
//! campus time, check-in open from 14:00, late after 14:40. A tap at
//! 14:39:30 is present and one at 14:41 late, decided as a person with a
//! correct watch would; the kiosk's screen says the same as the server
//! whenever the kiosk had a sync point, and the server's record says how
//! it placed each tap.

use std::net::SocketAddr;

use chrono::{DateTime, Duration, Utc};
use lectern_domain::{Campus, CardUid, Clock, Slug};
use lectern_kiosk::Kiosk;
use lectern_kiosk::client::Server;
use lectern_kiosk::clock::KioskClock;
use lectern_kiosk::queue::{Identity, Queue};
use lectern_kiosk::sync::Sync;
use lectern_kiosk_protocol::{
    EnrolRequest, EnrolResponse, HEADER_SIGNATURE, HeartbeatResponse, KioskKey, STALE,
};
use lectern_store::testkit::TestDb;
use serde_json::{Value, json};

use crate::{TestApp, ok, role_token, send};

both_backends!(
    a_wrong_clock_online_decides_as_a_correct_one,
    a_clock_corrected_while_offline_does_not_move_its_taps,
    a_kiosk_restarted_offline_keeps_its_clock,
    a_delayed_request_is_refused_as_stale_and_sent_again,
    a_server_clock_set_back_leaves_no_tap_behind,
    a_replayed_heartbeat_changes_nothing,
    kiosk_alarms_are_decided_on_the_servers_clock
);

/// Tuesday 2 September 2008, `h:m:s` campus time.
fn tuesday(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Campus::default()
        .at(
            chrono::NaiveDate::from_ymd_opt(2008, 9, 2).unwrap(),
            chrono::NaiveTime::from_hms_opt(h, m, s).unwrap(),
        )
        .unwrap()
}

/// Person `n`'s card.
fn card(n: u32) -> CardUid {
    CardUid::parse(&format!("04A1B2C3D4E5{n:02}")).unwrap()
}

/// The server at 14:00 on its manual clock, eight teachers with cards,
/// the study, and kiosks hall-a-1 … hall-a-4 registered at hall-a.
struct Drill {
    server: TestApp,
    clock: Clock,
    addr: SocketAddr,
    admin: String,
    codes: Vec<String>,
    dir: tempfile::TempDir,
}

impl Drill {
    async fn start(db: &TestDb) -> Drill {
        let clock = Clock::manual(tuesday(14, 0, 0));
        let server = TestApp::start_at(&db.url, clock.clone()).await;
        let addr = server.addr;
        let admin = role_token(&db.url, "administrator").await;
        let mut setup = String::from(
            "mutation($starts: DateTime!, $ends: DateTime!) {
               u: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
               r: adoptScoringRules(input: { version: 1, effectiveFrom: \"2000-01-01\",
                 basePoints: 100, perAbsence: 5, perLate: 2, perMissedTask: 3, perLateReport: 10,
                 reportDueDay: 5, awardBonus: [] }) { position }
               s: scheduleSession(input: { id: \"0195f000-0000-7000-8000-00000000d11d\",
                 kind: centralized_study, title: \"集中学习\", organiser: \"uni\", venue: \"hall-a\",
                 audienceUnits: [\"uni\"], startsAt: $starts, endsAt: $ends }) { position }",
        );
        for n in 1..=8 {
            setup.push_str(&format!(
                "p{n}: registerPerson(input: {{ staffNo: \"S000{n}\", name: \"教师{n}\",
                   unit: \"uni\", category: teacher, birthDate: \"1980-03-04\",
                   hireDate: \"2005-09-01\" }}) {{ position }}
                 c{n}: issueCard(staffNo: \"S000{n}\", uid: \"{}\") {{ position }}",
                card(n).as_str()
            ));
        }
        for k in 1..=4 {
            setup.push_str(&format!(
                "k{k}: registerKiosk(id: \"hall-a-{k}\", venue: \"hall-a\") {{ code }}"
            ));
        }
        setup.push('}');
        let r = ok(
            addr,
            &admin,
            &setup,
            json!({ "starts": tuesday(14, 30, 0), "ends": tuesday(16, 0, 0) }),
        )
        .await;
        let codes = (1..=4)
            .map(|k| r[format!("k{k}")]["code"].as_str().unwrap().to_owned())
            .collect();
        Drill {
            server,
            clock,
            addr,
            admin,
            codes,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Kiosk hall-a-`k` enrolled from a fresh data directory, its wall
    /// clock `skew` from the server's.
    async fn kiosk(&self, k: usize, skew: Duration) -> (Kiosk, KioskClock) {
        let id = Slug::parse(&format!("hall-a-{k}")).unwrap();
        let url = format!("http://{}", self.addr);
        let key = KioskKey::generate().unwrap();
        let answer: EnrolResponse = Server::parse(&url)
            .unwrap()
            .post(
                "enrol",
                &EnrolRequest {
                    kiosk: id.clone(),
                    code: self.codes[k - 1].clone(),
                    public_key: key.public_hex(),
                    version: lectern_kiosk::VERSION.into(),
                },
            )
            .await
            .unwrap();
        let queue = Queue::open(&self.dir.path().join(format!("kiosk-{k}.db")))
            .await
            .unwrap();
        queue
            .set_identity(
                &Identity {
                    kiosk: id,
                    venue: answer.venue,
                    server: url,
                },
                &key,
            )
            .await
            .unwrap();
        let clock = KioskClock::manual(self.clock.now() + skew, "boot-a");
        (Kiosk::open_with(queue, clock.clone()).await.unwrap(), clock)
    }

    /// Time passes for the server and for every kiosk clock given.
    fn pass(&self, by: Duration, kiosks: &[&KioskClock]) {
        self.clock.advance(by);
        for k in kiosks {
            k.advance(by);
        }
    }

    /// The server's decisions on kiosk `k`'s taps, in log order.
    async fn decisions(&self, k: usize) -> Vec<Value> {
        let r = ok(
            self.addr,
            &self.admin,
            "query($s: String!) { events(stream: $s) { eventType payload } }",
            json!({ "s": format!("kiosk-hall-a-{k}") }),
        )
        .await;
        r["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["eventType"] == "CardTapped")
            .map(|e| {
                serde_json::from_str::<Value>(e["payload"].as_str().unwrap()).unwrap()["decision"]
                    .clone()
            })
            .collect()
    }
}

/// The headers of a POST to `path` the kiosk signs now, to be delivered
/// when the drill says.
fn signed_now(kiosk: &Kiosk, sync: &Sync, path: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    let stamp = sync.stamp(&kiosk.clock.now());
    let mut headers = stamp.headers();
    headers.push((
        HEADER_SIGNATURE,
        kiosk.key.sign_request("POST", path, &stamp, body),
    ));
    headers
}

/// Delivers a POST signed before.
async fn deliver(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
) -> crate::Answer {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    send(addr, "POST", path, &headers, body).await
}

/// What the server recorded, as the kiosk shows it: present or late.
fn recorded(decision: &Value) -> &str {
    decision["outcome"]["recorded"]
        .as_str()
        .unwrap_or_else(|| panic!("not recorded: {decision}"))
}

/// The kiosk's own answer for a tap.
async fn shown(kiosk: &Kiosk, n: u32) -> String {
    kiosk.tap(card(n)).await.unwrap()["outcome"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A kiosk whose wall clock is 10 minutes fast or slow, or a day either
/// way, online: its screen and the server decide each tap by the server's
/// time, placed from its sync point to the microsecond.
async fn a_wrong_clock_online_decides_as_a_correct_one(db: TestDb) {
    let drill = Drill::start(&db).await;
    let skews = [
        Duration::minutes(10),
        Duration::minutes(-10),
        Duration::days(1),
        Duration::days(-1),
    ];
    let mut kiosks = Vec::new();
    for (i, skew) in skews.iter().enumerate() {
        let (kiosk, clock) = drill.kiosk(i + 1, *skew).await;
        kiosk.sync().unwrap().refresh().await.unwrap();
        kiosks.push((kiosk, clock));
    }
    let clocks: Vec<&KioskClock> = kiosks.iter().map(|(_, c)| c).collect();
    // 14:39:30 and 14:41:00: one teacher each, at each kiosk.
    drill.pass(Duration::seconds(39 * 60 + 30), &clocks);
    for (i, (kiosk, _)) in kiosks.iter().enumerate() {
        assert_eq!(shown(kiosk, 2 * i as u32 + 1).await, "present", "{i}");
    }
    drill.pass(Duration::seconds(90), &clocks);
    for (i, (kiosk, _)) in kiosks.iter().enumerate() {
        assert_eq!(shown(kiosk, 2 * i as u32 + 2).await, "late", "{i}");
        kiosk.sync().unwrap().drain().await.unwrap();
    }
    for (i, skew) in skews.iter().enumerate() {
        let decisions = drill.decisions(i + 1).await;
        let got: Vec<&str> = decisions.iter().map(recorded).collect();
        assert_eq!(got, ["present", "late"], "kiosk {skew}: {decisions:?}");
        // Placed from the sync point taken at 14:00, to the microsecond.
        assert_eq!(decisions[0]["placed"]["by"], "sync_point");
        assert_eq!(
            decisions[0]["placed"]["server_time"],
            json!(tuesday(14, 0, 0))
        );
        assert_eq!(decisions[0]["at"], json!(tuesday(14, 39, 30)));
        assert_eq!(decisions[1]["at"], json!(tuesday(14, 41, 0)));
        // The wall clock's error is kept with the tap.
        assert_eq!(
            decisions[0]["clock_offset_ms"],
            json!(-skew.num_milliseconds())
        );
    }
    drill.server.stop().await;
}

/// A kiosk ten minutes slow goes offline after a sync; three teachers tap
/// at 14:41, 14:43 and 14:45 (its wall clock: 14:31, 14:33, 14:35), then
/// someone sets its clock right, and it syncs at 15:00. All three are late
/// on its screen and in the log: the correction moved no tap.
async fn a_clock_corrected_while_offline_does_not_move_its_taps(db: TestDb) {
    let drill = Drill::start(&db).await;
    let (kiosk, clock) = drill.kiosk(1, Duration::minutes(-10)).await;
    kiosk.sync().unwrap().refresh().await.unwrap();
    drill.pass(Duration::minutes(41), &[&clock]);
    for n in 1..=3 {
        assert_eq!(shown(&kiosk, n).await, "late", "teacher {n}");
        drill.pass(Duration::minutes(2), &[&clock]);
    }
    clock.set_wall(drill.clock.now());
    drill.pass(Duration::minutes(9), &[&clock]);
    kiosk.sync().unwrap().drain().await.unwrap();
    let decisions = drill.decisions(1).await;
    let got: Vec<&str> = decisions.iter().map(recorded).collect();
    assert_eq!(got, ["late", "late", "late"], "{decisions:?}");
    let at: Vec<&Value> = decisions.iter().map(|d| &d["at"]).collect();
    assert_eq!(
        at,
        [
            &json!(tuesday(14, 41, 0)),
            &json!(tuesday(14, 43, 0)),
            &json!(tuesday(14, 45, 0))
        ]
    );
    drill.server.stop().await;
}

/// A kiosk ten minutes slow syncs at 14:00 and loses the network. Its
/// program restarts at 14:41 (the machine does not): it still has the
/// boot's sync point and shows late, as the server later records. Then
/// the machine itself restarts, its wall clock a day wrong: with no sync
/// point of the new boot the screen can only guess, but the server places
/// the tap from the sync point the new boot takes when it is back online.
async fn a_kiosk_restarted_offline_keeps_its_clock(db: TestDb) {
    let drill = Drill::start(&db).await;
    let (kiosk, clock) = drill.kiosk(1, Duration::minutes(-10)).await;
    kiosk.sync().unwrap().refresh().await.unwrap();
    drop(kiosk);
    drill.pass(Duration::minutes(41), &[&clock]);
    let queue = Queue::open(&drill.dir.path().join("kiosk-1.db"))
        .await
        .unwrap();
    let restarted = Kiosk::open_with(queue.clone(), clock.clone())
        .await
        .unwrap();
    assert_eq!(shown(&restarted, 1).await, "late");
    drop(restarted);

    // 14:45: the machine restarts, its wall clock a day behind.
    drill.pass(Duration::minutes(4), &[&clock]);
    clock.reboot("boot-b", drill.clock.now() - Duration::days(1));
    let rebooted = Kiosk::open_with(queue, clock.clone()).await.unwrap();
    assert_eq!(rebooted.boot, 2);
    assert_eq!(rebooted.link.sync_point(), None);
    // The screen guesses from the offset measured before (ten minutes):
    // a day off, it sees no session. The tap is queued all the same.
    assert_eq!(shown(&rebooted, 2).await, "no_session_now");
    drill.pass(Duration::minutes(15), &[&clock]);
    rebooted.sync().unwrap().drain().await.unwrap();
    let decisions = drill.decisions(1).await;
    let got: Vec<&str> = decisions.iter().map(recorded).collect();
    assert_eq!(got, ["late", "late"], "{decisions:?}");
    assert_eq!(decisions[0]["at"], json!(tuesday(14, 41, 0)));
    assert_eq!(decisions[0]["placed"]["boot"], 1);
    assert_eq!(decisions[1]["at"], json!(tuesday(14, 45, 0)));
    assert_eq!(decisions[1]["placed"]["boot"], 2);
    assert_eq!(
        decisions[1]["placed"]["server_time"],
        json!(tuesday(15, 0, 0))
    );
    drill.server.stop().await;
}

/// A batch signed at 14:35 with an on-time tap is held on the way for 20
/// minutes: the server refuses it as stale, and the kiosk's next send
/// (signed anew) records the tap present, at 14:35. When the server's own
/// clock is set forward, the kiosk's requests are refused as stale once
/// and signed again with a new sync point.
async fn a_delayed_request_is_refused_as_stale_and_sent_again(db: TestDb) {
    let drill = Drill::start(&db).await;
    let (kiosk, clock) = drill.kiosk(1, Duration::minutes(3)).await;
    let sync = kiosk.sync().unwrap();
    sync.refresh().await.unwrap();
    drill.pass(Duration::minutes(35), &[&clock]);
    assert_eq!(shown(&kiosk, 1).await, "present");
    let queued = kiosk.queue.oldest(10).await.unwrap();
    let body = serde_json::to_vec(&sync.batch(&queued).await.unwrap()).unwrap();
    let headers = signed_now(&kiosk, &sync, "/kiosk/v1/taps", &body);

    drill.pass(Duration::minutes(20), &[&clock]);
    let held = deliver(drill.addr, "/kiosk/v1/taps", &headers, &body).await;
    assert_eq!(held.status.as_u16(), 409, "{}", held.body);
    let refusal: Value = serde_json::from_str(&held.body).unwrap();
    assert_eq!(refusal["code"], STALE, "{refusal}");
    assert_eq!(refusal["server_time"], json!(tuesday(14, 55, 0)));
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .contains("1200 seconds before the server's clock"),
        "{refusal}"
    );
    assert!(drill.decisions(1).await.is_empty(), "nothing recorded");

    sync.drain().await.unwrap();
    let decisions = drill.decisions(1).await;
    assert_eq!(recorded(&decisions[0]), "present", "{decisions:?}");
    assert_eq!(decisions[0]["at"], json!(tuesday(14, 35, 0)));

    // The server's clock is set 10 minutes forward: the kiosk's sync point
    // is left behind, its heartbeat refused as stale once and sent again.
    drill.clock.advance(Duration::minutes(10));
    sync.heartbeat(None).await.unwrap();
    assert_eq!(
        kiosk.link.sync_point().unwrap().server_time,
        tuesday(15, 5, 0)
    );
    drill.server.stop().await;
}

/// The server's clock is set back an hour after a kiosk synced: the sync
/// point the kiosk holds says a time the server has not reached. The
/// kiosk's request is refused as stale once and signed again; the server
/// leaves the old sync point out and places the tap by the wall clock
/// corrected by the offset it measures now, on its own (new) timeline,
/// and says so. Nothing is refused for ever.
async fn a_server_clock_set_back_leaves_no_tap_behind(db: TestDb) {
    let drill = Drill::start(&db).await;
    let (kiosk, clock) = drill.kiosk(1, Duration::zero()).await;
    kiosk.sync().unwrap().refresh().await.unwrap();
    drill.pass(Duration::minutes(1), &[&clock]);
    assert_eq!(shown(&kiosk, 1).await, "present");
    drill.pass(Duration::minutes(29), &[&clock]);
    drill.clock.advance(Duration::hours(-1));
    kiosk.sync().unwrap().drain().await.unwrap();
    assert_eq!(kiosk.queue.backlog().await.unwrap(), 0);
    assert!(kiosk.queue.refused().await.unwrap().is_empty());
    let decisions = drill.decisions(1).await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["placed"]["by"], "wall_clock", "{decisions:?}");
    assert_eq!(decisions[0]["at"], json!(tuesday(13, 1, 0)));
    drill.server.stop().await;
}

/// A heartbeat sent again (a replay within the staleness bound, or one
/// overtaken on the way) is answered but changes nothing: the stored
/// backlog is the newer heartbeat's.
async fn a_replayed_heartbeat_changes_nothing(db: TestDb) {
    let drill = Drill::start(&db).await;
    let (kiosk, clock) = drill.kiosk(1, Duration::zero()).await;
    let sync = kiosk.sync().unwrap();
    sync.refresh().await.unwrap();
    let beat = |backlog: u64| {
        let body = serde_json::to_vec(&json!({
            "version": "0.1.0", "backlog": backlog, "last_tap": null, "clock_offset_ms": 0
        }))
        .unwrap();
        (
            signed_now(&kiosk, &sync, "/kiosk/v1/heartbeat", &body),
            body,
        )
    };
    let beat_at = |(headers, body): (Vec<(&'static str, String)>, Vec<u8>)| async move {
        let a = deliver(drill.addr, "/kiosk/v1/heartbeat", &headers, &body).await;
        assert_eq!(a.status.as_u16(), 200, "{}", a.body);
        serde_json::from_str::<HeartbeatResponse>(&a.body).unwrap()
    };
    let backlog = || async {
        ok(
            drill.addr,
            &drill.admin,
            "{ kiosks { id heartbeat { backlog } } }",
            json!({}),
        )
        .await["kiosks"][0]["heartbeat"]["backlog"]
            .clone()
    };
    let old = beat(7);
    drill.pass(Duration::seconds(30), &[&clock]);
    let new = beat(3);
    assert!(!beat_at(old.clone()).await.replayed);
    assert_eq!(backlog().await, 7);
    assert!(!beat_at(new.clone()).await.replayed);
    assert_eq!(backlog().await, 3);
    assert!(beat_at(old).await.replayed, "overtaken");
    assert!(beat_at(new).await.replayed, "replayed");
    assert_eq!(backlog().await, 3);
    drill.server.stop().await;
}

/// The `kiosks` query's alarms, worked by hand on the server's manual
/// clock: registered but not enrolled; enrolled and never heard; heard 30
/// seconds ago (well); a clock 3 minutes fast (`clock_off`, server minus
/// kiosk in seconds); a tap waiting in the queue at the heartbeat
/// (`backlog`); a reader fault the kiosk's screen shows; silent 6 minutes
/// after the last heartbeat.
async fn kiosk_alarms_are_decided_on_the_servers_clock(db: TestDb) {
    let drill = Drill::start(&db).await;
    let alarms = || async {
        let r = ok(
            drill.addr,
            &drill.admin,
            "{ kiosks { id alarms { kind value } } }",
            json!({}),
        )
        .await;
        r["kiosks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let shown: Vec<String> = k["alarms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| format!("{} {}", a["kind"].as_str().unwrap(), a["value"]))
                    .collect();
                format!("{}: {}", k["id"].as_str().unwrap(), shown.join(", "))
            })
            .collect::<Vec<_>>()
    };
    let (one, one_clock) = drill.kiosk(1, Duration::zero()).await;
    let (two, two_clock) = drill.kiosk(2, Duration::minutes(3)).await;
    assert_eq!(
        alarms().await,
        [
            "hall-a-1: never_heard 0",
            "hall-a-2: never_heard 0",
            "hall-a-3: not_enrolled 0",
            "hall-a-4: not_enrolled 0"
        ]
    );
    for k in [&one, &two] {
        let sync = k.sync().unwrap();
        sync.refresh().await.unwrap();
        sync.heartbeat(None).await.unwrap();
    }
    drill.pass(Duration::seconds(30), &[&one_clock, &two_clock]);
    assert_eq!(
        alarms().await[..2],
        ["hall-a-1: ", "hall-a-2: clock_off -180"]
    );
    // A tap kept in the queue (not sent) is the backlog of the next beat.
    one.tap(card(1)).await.unwrap();
    one.sync().unwrap().heartbeat(None).await.unwrap();
    assert_eq!(alarms().await[0], "hall-a-1: backlog 1");
    // Its reader unplugged: the next beat (a second later: one signed at
    // the same moment would be a replay) says so, and so does the query.
    drill.pass(Duration::seconds(1), &[&one_clock, &two_clock]);
    one.faults
        .set_reader(Some("no reader at pn532_uart:/dev/ttyUSB0".into()));
    one.sync().unwrap().heartbeat(None).await.unwrap();
    assert_eq!(alarms().await[0], "hall-a-1: backlog 1, reader_fault 0");
    let r = ok(
        drill.addr,
        &drill.admin,
        "{ kiosks { heartbeat { readerFault diskFault } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        r["kiosks"][0]["heartbeat"],
        json!({ "readerFault": "no reader at pn532_uart:/dev/ttyUSB0", "diskFault": null })
    );
    // Six minutes without a word from either.
    drill.pass(Duration::minutes(6), &[&one_clock, &two_clock]);
    assert_eq!(
        alarms().await[..2],
        [
            "hall-a-1: silent 6, backlog 1, reader_fault 0",
            "hall-a-2: silent 6, clock_off -180"
        ]
    );
    drill.server.stop().await;
}
