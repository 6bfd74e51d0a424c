//! Generated campus histories for the read models' tests: random commands,
//! decided by the domain (a refused command is skipped, as a user's would
//! be) and committed to the log, so every history is one the real command
//! path could write; and `fold_all`, the same history folded in memory,
//! which the read models must equal.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use lectern_domain::*;
use lectern_projections::{commit, load};
use lectern_store::{Metadata, Store};
use uuid::Uuid;

use crate::rng::Rng;

pub fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2007, 3, day, hour, minute, 0).unwrap()
}

const UNITS: &[(&str, UnitKind, Option<&str>)] = &[
    ("uni", UnitKind::University, None),
    ("school-cs", UnitKind::School, Some("uni")),
    ("school-math", UnitKind::School, Some("uni")),
    ("cs-dept", UnitKind::Department, Some("school-cs")),
    ("se-dept", UnitKind::Department, Some("school-cs")),
    ("math-dept", UnitKind::Department, Some("school-math")),
    ("union-office", UnitKind::Office, Some("uni")),
];

/// Decides with the current state of `stream` and commits; a refused
/// command writes nothing. Returns whether something was written.
async fn run<A: Aggregate>(
    store: &Store,
    stream: &str,
    decide: impl FnOnce(&A) -> Result<Vec<A::Event>>,
    keys: impl FnOnce(&[A::Event]) -> Vec<KeyChange>,
) -> bool {
    let (state, version) = load::<A>(store, stream, u64::MAX).await.unwrap();
    match decide(&state) {
        Ok(events) if !events.is_empty() => {
            let keys = keys(&events);
            commit(store, stream, version, &events, &keys, &Metadata::default())
                .await
                .unwrap_or_else(|e| panic!("commit to {stream}: {e}"));
            true
        }
        _ => false,
    }
}

fn no_keys<E>(_: &[E]) -> Vec<KeyChange> {
    Vec::new()
}

/// Writes a campus of `people` staff and `sessions` sessions, with `steps`
/// random commands over them.
pub async fn generate(store: &Store, seed: u64, people: usize, sessions: usize, steps: usize) {
    let mut rng = Rng::new(seed);
    for (id, kind, parent) in UNITS {
        let cmd = OrgCommand::EstablishUnit {
            unit: slug(id),
            name: Name::parse(&format!("Unit {id}")).unwrap(),
            kind: *kind,
            parent: parent.map(slug),
        };
        run::<OrgTree>(store, ORG_STREAM, |s| s.decide(&cmd), no_keys).await;
    }
    let org = load::<OrgTree>(store, ORG_STREAM, u64::MAX)
        .await
        .unwrap()
        .0;
    let ytnp = slug("ytnp");
    let launch = Launch {
        id: ytnp.clone(),
        kind: ProgrammeKind::YoungTeacherNavigation,
        title: Name::parse("青年教师导航计划").unwrap(),
        launched_on: NaiveDate::from_ymd_opt(2005, 9, 1).unwrap(),
        eligibility: None,
    };
    programme(store, &ytnp, ProgrammeCommand::Launch(launch)).await;
    let targets = [
        (SessionKind::TrainingLecture, 6),
        (SessionKind::DemonstrationClass, 3),
    ];
    let cmd = ProgrammeCommand::IssuePlan {
        year: 2007,
        targets: targets.into_iter().collect(),
    };
    programme(store, &ytnp, cmd).await;
    let cmd = ProgrammeCommand::IssueNotice {
        title: Name::parse("关于开展导航计划的通知").unwrap(),
        text: "各学院：……".into(),
        issued_on: NaiveDate::from_ymd_opt(2007, 2, 20).unwrap(),
    };
    programme(store, &ytnp, cmd).await;
    let mut staff = Vec::new();
    for i in 0..people {
        let no = StaffNo::parse(&format!("S{:04}", 1000 + i)).unwrap();
        let unit = slug(UNITS[1 + rng.index(UNITS.len() - 1)].0);
        let r = Registration {
            staff_no: no.clone(),
            name: rng.chinese_name(),
            unit,
            category: [StaffCategory::Teacher, StaffCategory::Administrator][rng.index(2)],
            birth_date: NaiveDate::from_ymd_opt(1955 + rng.index(26) as i32, 5, 4),
            hire_date: NaiveDate::from_ymd_opt(2000, 9, 1).unwrap(),
        };
        person(store, &org, &no, PersonCommand::Register(r)).await;
        let uid = CardUid::parse(&format!("04A1{:010X}", 100 + i)).unwrap();
        person(store, &org, &no, PersonCommand::IssueCard { uid }).await;
        let folded = load::<Person>(store, &person_stream(&no), u64::MAX)
            .await
            .unwrap()
            .0;
        let cmd = ProgrammeCommand::Enrol {
            person: Box::new(folded),
            on: NaiveDate::from_ymd_opt(2007, 3, 1).unwrap(),
        };
        programme(store, &ytnp, cmd).await;
        staff.push(no);
    }
    let mut ids = Vec::new();
    for i in 0..sessions {
        let id = Uuid::from_u128(0x5e55_0000 + i as u128 + (seed as u128) * 1000);
        let start = at(1 + (i % 27) as u32, 6, 0);
        let units = vec![slug(UNITS[1 + rng.index(UNITS.len() - 1)].0)];
        let schedule = Schedule {
            id,
            kind: [SessionKind::CentralizedStudy, SessionKind::TrainingLecture][rng.index(2)],
            title: Name::parse(&format!("Study {i}")).unwrap(),
            programme: (i % 3 == 1).then(|| ytnp.clone()),
            organiser: units[0].clone(),
            venue: slug(["hall-a", "hall-b"][rng.index(2)]),
            window: TimeWindow::new(start, start + Duration::minutes(90)).unwrap(),
            check_in: CheckInRules::default(),
            audience: Audience::Units { units },
            speakers: vec![],
            series: None,
        };
        session(store, &org, id, SessionCommand::Schedule(schedule)).await;
        ids.push((id, start));
    }
    let mut tasks = Vec::new();
    for i in 0..3u32 {
        let id = Uuid::from_u128(0x7a5c_0000 + u128::from(i) + (seed as u128) * 1000);
        let a = Assignment {
            id,
            title: Name::parse(&format!("学习任务 {i}")).unwrap(),
            topic: [StudyTopic::PoliticalTheory, StudyTopic::JobSkills][i as usize % 2],
            // The first task is the whole university's.
            audience: Audience::Units {
                units: vec![slug(if i == 0 {
                    "uni"
                } else {
                    UNITS[1 + rng.index(UNITS.len() - 1)].0
                })],
            },
            assigner: staff[0].clone(),
            assigned_on: NaiveDate::from_ymd_opt(2007, 3, 1).unwrap(),
            due: NaiveDate::from_ymd_opt(2007, 3, 10 + i).unwrap(),
        };
        task(store, &org, id, StudyCommand::Assign(a)).await;
        tasks.push(id);
    }

    let waive = StudyCommand::Waive {
        person: staff[1 % staff.len()].clone(),
        reason: "外出进修".into(),
        waiver: staff[0].clone(),
    };
    task(store, &org, tasks[0], waive).await;
    let good = slug("good-teacher");
    let define = AwardCommand::Define {
        category: good.clone(),
        title: Name::parse("我心目中的好老师").unwrap(),
        level: AwardLevel::University,
        kind: AwardKind::Individual,
        criteria: "师德高尚".into(),
        by_vote: true,
    };
    award(store, &org, &good, define).await;
    let define = AwardCommand::Define {
        category: slug("advanced-unit"),
        title: Name::parse("先进集体").unwrap(),
        level: AwardLevel::City,
        kind: AwardKind::Collective,
        criteria: "学习型组织建设成效显著".into(),
        by_vote: false,
    };
    award(store, &org, &slug("advanced-unit"), define).await;
    let nominate = AwardCommand::Nominate {
        year: 2007,
        nominee: Nominee::Unit(slug("cs-dept")),
        nominator: staff[0].clone(),
        citation: "集中学习出勤率高".into(),
    };
    award(store, &org, &slug("advanced-unit"), nominate).await;
    for no in staff.iter().take(5) {
        let nominate = AwardCommand::Nominate {
            year: 2007,
            nominee: Nominee::Person(no.clone()),
            nominator: staff[0].clone(),
            citation: "教书育人".into(),
        };
        award(store, &org, &good, nominate).await;
    }

    for (i, no) in staff.iter().take(2).enumerate() {
        let nominee = Nominee::Person(no.clone());
        let endorse = AwardCommand::Endorse {
            year: 2007,
            nominee: nominee.clone(),
            endorser: staff[0].clone(),
        };
        award(store, &org, &good, endorse).await;
        if i == 0 {
            let confer = AwardCommand::Confer {
                year: 2007,
                nominee,
                ceremony: Name::parse("教师节表彰大会").unwrap(),
                on: NaiveDate::from_ymd_opt(2007, 9, 10).unwrap(),
            };
            award(store, &org, &good, confer).await;
        }
    }

    // The leadership group meets; a union chair checks and reports a month.
    let leader = staff[0].clone();
    let grant = PersonCommand::GrantRole {
        role: Role::LeadershipLeader,
    };
    person(store, &org, &leader, grant).await;
    let folded = |no: StaffNo| async move {
        Box::new(
            load::<Person>(store, &person_stream(&no), u64::MAX)
                .await
                .unwrap()
                .0,
        )
    };
    let meeting = MonthlyCommand::HoldMeeting {
        year: 2007,
        month: 2,
        on: NaiveDate::from_ymd_opt(2007, 2, 27).unwrap(),
        chair: folded(leader.clone()).await,
        attendees: staff.iter().take(3).cloned().collect(),
        minutes: "研究部署集中学习".into(),
    };
    monthly(store, LEADERSHIP_STREAM, meeting).await;
    let chair_of = staff[2 % staff.len()].clone();
    let unit = load::<Person>(store, &person_stream(&chair_of), u64::MAX)
        .await
        .unwrap()
        .0
        .unit
        .unwrap();
    let grant = PersonCommand::GrantRole {
        role: Role::UnionChair { unit: unit.clone() },
    };
    person(store, &org, &chair_of, grant).await;
    let stream = unit_month_stream(&unit, 2007, 2);
    let check = MonthlyCommand::CompleteStudyCheck {
        unit: unit.clone(),
        year: 2007,
        month: 2,
        checker: folded(chair_of.clone()).await,
        on: NaiveDate::from_ymd_opt(2007, 2, 28).unwrap(),
        notes: "笔记齐全".into(),
    };
    monthly(store, &stream, check).await;
    let report = MonthlyCommand::SubmitReport {
        unit: unit.clone(),
        year: 2007,
        month: 2,
        chair: folded(chair_of.clone()).await,
        narrative: "本月集中学习四次".into(),
        figures: UnitMonthFigures {
            sessions_held: 4,
            present: 30,
            late: 2,
            absent: 1,
            excused: 1,
            tasks_done: 5,
        },
        submitted_on: NaiveDate::from_ymd_opt(2007, 3, 3).unwrap(),
    };
    monthly(store, &stream, report).await;

    // A dispute, filed and assigned to an auditor.
    if staff.len() > 4 {
        let auditor = staff[4].clone();
        let grant = PersonCommand::GrantRole {
            role: Role::Auditor,
        };
        person(store, &org, &auditor, grant).await;
        let id = Uuid::from_u128(0xd15b_0000 + (seed as u128) * 1000);
        let file = DisputeCommand::File {
            dispute: id,
            person: staff[3].clone(),
            year: 2007,
            positions: vec![5, 6],
            claim: "我当天请了假".into(),
            filed_on: NaiveDate::from_ymd_opt(2008, 1, 10).unwrap(),
            deadline: None,
            // Made-up positions, for the read models' sake.
            lines: vec![5, 6],
        };
        dispute(store, id, file).await;
        let assign = DisputeCommand::Assign {
            auditor: folded(auditor).await,
        };
        dispute(store, id, assign).await;
    }

    // Two kiosks' raw taps, one with missing counters.
    for (k, counters) in [
        ("hall-a-1", &[1u64, 2, 3, 7, 8][..]),
        ("hall-b-1", &[1, 2][..]),
    ] {
        for (i, counter) in counters.iter().enumerate() {
            let tap = KioskEvent::CardTapped {
                tap: Uuid::from_u128(
                    0x7a90_0000
                        + (seed as u128) * 1000
                        + i as u128
                        + u128::from(k == "hall-b-1") * 100,
                ),
                venue: slug(&k[..6]),
                card: CardUid::parse("04A1B2C3").unwrap(),
                kiosk_time: at(3, 6, i as u32),
                counter: *counter,
                signature: "ab".repeat(32),
                decision: None,
                enrolment: None,
                clock: None,
            };
            run::<KioskLedger>(store, &kiosk_stream(k), |l| l.decide(&tap), no_keys).await;
        }
    }

    // One session is cancelled and one moved before anything happens.
    if let [.., (moved, start), (cancelled, _)] = ids[..] {
        let reason = "holiday".to_owned();
        session(store, &org, cancelled, SessionCommand::Cancel { reason }).await;
        let later = start + Duration::days(1);
        let cmd = SessionCommand::Reschedule {
            window: TimeWindow::new(later, later + Duration::minutes(90)).unwrap(),
            venue: slug("hall-c"),
        };
        session(store, &org, moved, cmd).await;
        ids.pop();
        if let Some(last) = ids.last_mut() {
            last.1 = later;
        }
    }
    for _ in 0..steps {
        let no = staff[rng.index(staff.len())].clone();
        let (id, start) = ids[rng.index(ids.len())];
        let minute = Duration::minutes(rng.index(150) as i64 - 40);
        match rng.index(12) {
            0..=4 => {
                let p = load::<Person>(store, &person_stream(&no), u64::MAX)
                    .await
                    .unwrap()
                    .0;
                let holder = match (&p.card, p.unit.clone()) {
                    (Some(_), Some(unit)) if p.left_on.is_none() => CardHolder::Active(Attendee {
                        staff_no: no.clone(),
                        unit,
                        programmes: vec![],
                    }),
                    _ => CardHolder::Unknown,
                };
                let card = p
                    .card
                    .clone()
                    .unwrap_or_else(|| CardUid::parse("DEADBEEF").unwrap());
                let cmd = SessionCommand::RecordTap {
                    tap: Uuid::now_v7(),
                    card,
                    kiosk: "kiosk-a".into(),
                    holder,
                    at: start + minute,
                    year_closed: false,
                };
                session(store, &org, id, cmd).await;
            }
            5 => {
                let cmd = SessionCommand::RequestLeave {
                    person: no,
                    reason: "teaching".into(),
                    at: start - Duration::hours(5),
                };
                session(store, &org, id, cmd).await;
            }
            6 => {
                let approver = staff[0].clone();
                let cmd = if rng.chance(700) {
                    SessionCommand::ApproveLeave {
                        person: no,
                        approver,
                    }
                } else {
                    SessionCommand::RejectLeave {
                        person: no,
                        approver,
                        reason: "needed".into(),
                    }
                };
                session(store, &org, id, cmd).await;
            }
            7 => {
                let seat = format!("R{}", rng.index(30));
                session(
                    store,
                    &org,
                    id,
                    SessionCommand::AssignSeat { person: no, seat },
                )
                .await;
            }
            8 => {
                let audience = audience_of(store, &org, id, &staff).await;
                let cmd = SessionCommand::Close {
                    at: start + Duration::minutes(100),
                    audience,
                    kiosks_behind: vec![],
                };
                session(store, &org, id, cmd).await;
            }
            9 if rng.chance(400) => {
                let nominee = Nominee::Person(staff[rng.index(5.min(staff.len()))].clone());
                let (year, category) = (2007, good.clone());
                let cmd = match rng.index(8) {
                    0..=3 => AwardCommand::Vote {
                        year,
                        voter: no,
                        nominee,
                    },
                    4 => AwardCommand::Endorse {
                        year,
                        nominee,
                        endorser: staff[0].clone(),
                    },
                    5 => AwardCommand::Confer {
                        year,
                        nominee,
                        ceremony: Name::parse("教师节表彰大会").unwrap(),
                        on: NaiveDate::from_ymd_opt(2007, 9, 10).unwrap(),
                    },
                    6 => AwardCommand::Revoke {
                        year,
                        nominee,
                        reason: "材料不实".into(),
                    },
                    _ => AwardCommand::Feature {
                        year,
                        nominee,
                        channel: Channel::CampusWeb,
                        story: "扎根讲台二十年".into(),
                        on: NaiveDate::from_ymd_opt(2007, 9, 12).unwrap(),
                    },
                };
                award(store, &org, &category, cmd).await;
            }
            9 => {
                let to = [AttendanceStatus::Present, AttendanceStatus::Excused][rng.index(2)];
                let cmd = SessionCommand::Correct {
                    person: no,
                    to,
                    reason: "hand list".into(),
                    corrector: staff[0].clone(),
                    dispute: None,
                };
                session(store, &org, id, cmd).await;
            }
            10 if rng.chance(500) => {
                let t = tasks[rng.index(tasks.len())];
                let cmd = match rng.index(40) {
                    0..=36 => {
                        // Someone the task applies to.
                        let members = task_audience(store, &org, t, &staff).await;
                        let Some(no) = members.get(rng.index(members.len())).cloned() else {
                            continue;
                        };
                        let p = load::<Person>(store, &person_stream(&no), u64::MAX)
                            .await
                            .unwrap()
                            .0;
                        let Some(unit) = p.unit else { continue };
                        StudyCommand::Complete {
                            person: Attendee {
                                staff_no: no,
                                unit,
                                programmes: vec![],
                            },
                            evidence: "读书笔记".into(),
                            on: NaiveDate::from_ymd_opt(2007, 3, 5 + rng.index(10) as u32).unwrap(),
                        }
                    }
                    37 | 38 => StudyCommand::Waive {
                        person: no,
                        reason: "病假".into(),
                        waiver: staff[0].clone(),
                    },
                    _ => {
                        let audience = task_audience(store, &org, t, &staff).await;
                        StudyCommand::Close {
                            today: NaiveDate::from_ymd_opt(2007, 3, 15).unwrap(),
                            audience,
                        }
                    }
                };
                task(store, &org, t, cmd).await;
            }
            10 => {
                let cmd = match rng.index(4) {
                    0 => PersonCommand::Transfer {
                        to: slug(UNITS[1 + rng.index(UNITS.len() - 1)].0),
                        effective: NaiveDate::from_ymd_opt(2007, 2, 1).unwrap(),
                    },
                    1 => PersonCommand::IssueCard {
                        uid: CardUid::parse(&format!("08B2{:010X}", rng.index(1 << 20))).unwrap(),
                    },
                    2 => PersonCommand::GrantRole {
                        role: Role::UnionChair {
                            unit: slug("cs-dept"),
                        },
                    },
                    _ => PersonCommand::Leave {
                        on: NaiveDate::from_ymd_opt(2007, 3, 20).unwrap(),
                        reason: "retired".into(),
                    },
                };
                person(store, &org, &no, cmd).await;
            }
            _ => {
                let cmd = if rng.chance(500) {
                    SessionCommand::Cancel {
                        reason: "holiday".into(),
                    }
                } else {
                    let later = start + Duration::days(1);
                    SessionCommand::Reschedule {
                        window: TimeWindow::new(later, later + Duration::minutes(90)).unwrap(),
                        venue: slug("hall-c"),
                    }
                };
                if rng.chance(200) {
                    session(store, &org, id, cmd).await;
                }
            }
        }
    }
    // The term ends: every task still open is closed, naming who missed it.
    for &t in &tasks {
        let audience = task_audience(store, &org, t, &staff).await;
        let close = StudyCommand::Close {
            today: NaiveDate::from_ymd_opt(2007, 3, 31).unwrap(),
            audience,
        };
        task(store, &org, t, close).await;
    }
}

async fn person(store: &Store, org: &OrgTree, no: &StaffNo, cmd: PersonCommand) -> bool {
    run::<Person>(
        store,
        &person_stream(no),
        |s| s.decide(&cmd, org),
        Person::key_changes,
    )
    .await
}

async fn task(store: &Store, org: &OrgTree, id: TaskId, cmd: StudyCommand) -> bool {
    run::<StudyTask>(store, &task_stream(id), |s| s.decide(&cmd, org), no_keys).await
}

async fn task_audience(
    store: &Store,
    org: &OrgTree,
    id: TaskId,
    staff: &[StaffNo],
) -> Vec<StaffNo> {
    let t = load::<StudyTask>(store, &task_stream(id), u64::MAX)
        .await
        .unwrap()
        .0;
    match t.assignment {
        Some(a) => members(store, org, &a.audience, staff).await,
        None => vec![],
    }
}

/// Who of `staff` (still on the staff) `audience` names.
async fn members(
    store: &Store,
    org: &OrgTree,
    audience: &Audience,
    staff: &[StaffNo],
) -> Vec<StaffNo> {
    let mut out = Vec::new();
    for no in staff {
        let p = load::<Person>(store, &person_stream(no), u64::MAX)
            .await
            .unwrap()
            .0;
        if let (Some(unit), None) = (p.unit, p.left_on) {
            let who = Attendee {
                staff_no: no.clone(),
                unit,
                programmes: vec![],
            };
            if audience.includes(&who, org) {
                out.push(no.clone());
            }
        }
    }
    out
}

async fn award(store: &Store, org: &OrgTree, id: &CategoryId, cmd: AwardCommand) -> bool {
    run::<Award>(store, &award_stream(id), |s| s.decide(&cmd, org), no_keys).await
}

async fn monthly(store: &Store, stream: &str, cmd: MonthlyCommand) -> bool {
    run::<Monthly>(store, stream, |s| s.decide(&cmd), no_keys).await
}

async fn dispute(store: &Store, id: DisputeId, cmd: DisputeCommand) -> bool {
    run::<Dispute>(store, &dispute_stream(id), |s| s.decide(&cmd), no_keys).await
}

async fn programme(store: &Store, id: &ProgrammeId, cmd: ProgrammeCommand) -> bool {
    run::<Programme>(store, &programme_stream(id), |s| s.decide(&cmd), no_keys).await
}

async fn session(store: &Store, org: &OrgTree, id: SessionId, cmd: SessionCommand) -> bool {
    run::<Session>(store, &session_stream(id), |s| s.decide(&cmd, org), no_keys).await
}

async fn audience_of(
    store: &Store,
    org: &OrgTree,
    id: SessionId,
    staff: &[StaffNo],
) -> Vec<StaffNo> {
    let s = load::<Session>(store, &session_stream(id), u64::MAX)
        .await
        .unwrap()
        .0;
    match s.schedule {
        Some(schedule) => members(store, org, &schedule.audience, staff).await,
        None => vec![],
    }
}

/// Every stream's events, folded in memory: what the read models must show.
pub struct Folds {
    pub org: OrgTree,
    pub people: BTreeMap<String, Person>,
    /// Each person's units over time (`lectern_domain::memberships`).
    pub memberships: BTreeMap<String, Vec<(UnitId, NaiveDate, Option<NaiveDate>)>>,
    pub sessions: BTreeMap<String, Session>,
    pub session_histories: Vec<Vec<SessionEvent>>,
    pub programmes: BTreeMap<String, Programme>,
    pub tasks: BTreeMap<String, StudyTask>,
    pub awards: BTreeMap<String, Award>,
    pub monthly: BTreeMap<String, Monthly>,
    pub disputes: BTreeMap<String, Dispute>,
    pub kiosks: BTreeMap<String, KioskLedger>,
}

pub async fn fold_all(store: &Store) -> Folds {
    let mut org = Vec::new();
    let mut people: BTreeMap<String, Vec<PersonEvent>> = BTreeMap::new();
    let mut sessions: BTreeMap<String, Vec<SessionEvent>> = BTreeMap::new();
    let mut programmes: BTreeMap<String, Vec<ProgrammeEvent>> = BTreeMap::new();
    let mut tasks: BTreeMap<String, Vec<StudyEvent>> = BTreeMap::new();
    let mut awards: BTreeMap<String, Vec<AwardEvent>> = BTreeMap::new();
    let mut monthly: BTreeMap<String, Vec<MonthlyEvent>> = BTreeMap::new();
    let mut disputes: BTreeMap<String, Vec<DisputeEvent>> = BTreeMap::new();
    let mut kiosks: BTreeMap<String, Vec<KioskEvent>> = BTreeMap::new();
    for e in store.read_all(0, usize::MAX >> 1, None).await.unwrap() {
        if e.stream_id == ORG_STREAM {
            org.push(serde_json::from_str(&e.payload).unwrap());
        } else if let Some(no) = e.stream_id.strip_prefix("person-") {
            people
                .entry(no.to_owned())
                .or_default()
                .push(serde_json::from_str(&e.payload).unwrap());
        } else if e.stream_id == LEADERSHIP_STREAM || e.stream_id.starts_with("unit-month-") {
            monthly
                .entry(e.stream_id.clone())
                .or_default()
                .push(serde_json::from_str(&e.payload).unwrap());
        } else if let Some(id) = e.stream_id.strip_prefix("kiosk-") {
            kiosks
                .entry(id.to_owned())
                .or_default()
                .push(serde_json::from_str(&e.payload).unwrap());
        } else if let Some(id) = e.stream_id.strip_prefix("dispute-") {
            disputes
                .entry(id.to_owned())
                .or_default()
                .push(serde_json::from_str(&e.payload).unwrap());
        } else if let Some(id) = e.stream_id.strip_prefix("award-") {
            awards
                .entry(id.to_owned())
                .or_default()
                .push(serde_json::from_str(&e.payload).unwrap());
        } else if let Some(id) = e.stream_id.strip_prefix("task-") {
            tasks
                .entry(id.to_owned())
                .or_default()
                .push(serde_json::from_str(&e.payload).unwrap());
        } else if let Some(id) = e.stream_id.strip_prefix("programme-") {
            programmes
                .entry(id.to_owned())
                .or_default()
                .push(serde_json::from_str(&e.payload).unwrap());
        } else if let Some(id) = e.stream_id.strip_prefix("session-") {
            sessions
                .entry(id.to_owned())
                .or_default()
                .push(serde_json::from_str(&e.payload).unwrap());
        }
    }
    Folds {
        org: OrgTree::fold(&org).unwrap(),
        memberships: people
            .iter()
            .map(|(k, v)| (k.clone(), lectern_domain::memberships(v)))
            .collect(),
        people: people
            .into_iter()
            .map(|(k, v)| (k, Person::fold(&v).unwrap()))
            .collect(),
        session_histories: sessions.values().cloned().collect(),
        sessions: sessions
            .into_iter()
            .map(|(k, v)| (k, Session::fold(&v).unwrap()))
            .collect(),
        programmes: programmes
            .into_iter()
            .map(|(k, v)| (k, Programme::fold(&v).unwrap()))
            .collect(),
        tasks: tasks
            .into_iter()
            .map(|(k, v)| (k, StudyTask::fold(&v).unwrap()))
            .collect(),
        awards: awards
            .into_iter()
            .map(|(k, v)| (k, Award::fold(&v).unwrap()))
            .collect(),
        monthly: monthly
            .into_iter()
            .map(|(k, v)| (k, Monthly::fold(&v).unwrap()))
            .collect(),
        disputes: disputes
            .into_iter()
            .map(|(k, v)| (k, Dispute::fold(&v).unwrap()))
            .collect(),
        kiosks: kiosks
            .into_iter()
            .map(|(k, v)| (k, KioskLedger::fold(&v).unwrap()))
            .collect(),
    }
}
