//! `lectern demo`: a university from September 2005 to July 2009, made
//! deterministically from a seed, through the real command path.
//!
//! Every fact is decided by the domain against its stream's state (held
//! here as the command path would load it), appended with the expected
//! version and unique keys `lectern_projections::append_request` gives, and
//! dated when it happened. Card taps are signed by each hall's kiosk key
//! and go through the server's own tap ingestion (`lectern_app::Ingest`), which
//! picks the session from the read models, so the read models are kept
//! about one month behind the generator: each month's sessions, people and
//! cards are written a month ahead, and a month's taps are ingested only
//! once the read models show the month before. Sessions are closed, and
//! the year is closed, from the log and the read models like the API does.
//!
//! # The campus
//! - 44 units: the university, eight schools of three departments, eight
//!   offices and three union branches; about 3,000 staff (`--staff`) with
//!   Chinese names, staff numbers by year of hire, categories, birth and
//!   hire dates and one card each; new teachers every September; a few
//!   cards lost and replaced every month (and the old card tapped once).
//! - The leadership group (leader, deputy, members) and every unit's union
//!   chair; an administrator and an auditor.
//! - Tuesday-afternoon study for every staffed unit in term time, skipping
//!   public holidays (most present, some late, some on approved leave, a
//!   few absent), a study task each term, monthly study checks, the
//!   leadership group's monthly meeting and each union chair's monthly
//!   report (a few late).
//! - The Young Teacher Navigation Programme: annual plans and notices; 24
//!   training lectures with invited speakers, 12 demonstration classes and
//!   4 teaching competitions with assigned seats; 480 young teachers
//!   enrolled, every one of whom attends.
//! - Teacher Ethics Month every September (notice, seminar, report
//!   meeting, discussion, the Teachers' Day ceremony) and awards at
//!   national, provincial, city and university level, individual and
//!   collective, with a "good teacher in my mind" vote; exemplars featured.
//! - Appraisal years 2005–2008 closed each January; a few attendance
//!   corrections; two disputes about 2008, one upheld and one rejected.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use lectern_app::{App, AttendanceFix, Ingest, Resolution};
use lectern_domain::{
    APPRAISAL_STREAM, AppraisalCommand, AppraisalEvent, Attendee, Audience, Award, AwardCommand,
    AwardKind, AwardLevel, Campus, CardUid, Channel, CheckInRules, Dispute, DisputeCommand,
    DomainEvent, Eligibility, KeyChange, KioskLedger, LEADERSHIP_STREAM, Launch, Monthly,
    MonthlyCommand, Name, Nominee, ORG_STREAM, OrgCommand, OrgTree, Outcome, Period, Person,
    PersonCommand, Programme, ProgrammeCommand, ProgrammeKind, Registration, RevocationReason,
    Role, RuleBook, Schedule, ScoringRules, Session, SessionCommand, SessionKind, Slug, Speaker,
    StaffCategory, StaffNo, StudyCommand, StudyTask, StudyTopic, TimeWindow, UnitId, UnitKind,
    appraise_entries, award_stream, dispute_stream, filing_deadline, kiosk_stream, person_stream,
    programme_stream, session_stream, task_stream, unit_month_stream,
};
use lectern_kiosk_protocol::{
    KioskKey, MAX_BATCH, MonoReading, SignedTap, SyncPoint, Tap, TapBatch, enrolment_code_hash,
};
use lectern_projections::{
    Projections, ReadDb, Val, append_request, load, person_entries, positioned, unit_month_figures,
};
use lectern_store::{AppendRequest, Metadata, Store};
use uuid::Uuid;

use crate::bulk::{Writer, decided};
use crate::rng::Rng;

/// What to make.
#[derive(Debug, Clone)]
pub struct Options {
    /// Staff on the books in September 2005 (new teachers join each year).
    pub staff: u32,
    /// Weekly study for only the first this many staffed units (a smaller,
    /// faster campus); all of them when `None`.
    pub study_units: Option<usize>,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            staff: 3000,
            study_units: None,
            seed: 2005,
        }
    }
}

/// What was made.
#[derive(Debug, Clone)]
pub struct Summary {
    pub events: u64,
    /// Generation time, the read models caught up.
    pub seconds: f64,
    pub units: usize,
    pub people: usize,
    pub sessions: u64,
    pub taps: u64,
    /// The proxy-tap patterns planted among the honest taps.
    pub planted: Planted,
}

/// Proxy-tap patterns the demo plants for the analyzer to find, among
/// honest taps that come from half an hour before a session's start to its
/// late line:
/// - a pair of colleagues whose cards one of them taps a second apart at
///   every session they both come to (`burst_together`);
/// - a card lent three times to a colleague who taps it at another hall
///   minutes after its holder did (`two_venues`);
/// - another pair who both tap in the last minute before the late line at
///   every session they both come to, 25 seconds apart (`last_seconds`);
/// - two people on approved leave whose cards are read at the session
///   anyway (`on_leave`);
/// - a card read at three other units' studies (`wrong_venue`; at the hour
///   of its holder's own study, `two_venues` too);
/// - a lost card read by someone else (`revoked_card`).
#[derive(Debug, Clone, Default)]
pub struct Planted {
    pub pair: Option<(StaffNo, StaffNo)>,
    pub lender: Option<StaffNo>,
    /// Times the lent card was read at another hall.
    pub lent: u32,
    pub late_pair: Option<(StaffNo, StaffNo)>,
    /// Sessions the late pair came to together.
    pub late_sessions: u32,
    /// People whose cards were read while they were on leave.
    pub on_leave: Vec<StaffNo>,
    /// The person whose card was read at other units' studies.
    pub visitor: Option<StaffNo>,
    /// Times it was.
    pub visits: u32,
    /// The holder of the lost card someone else used.
    pub found_card: Option<StaffNo>,
}

/// When and where a session's taps are read.
#[derive(Debug, Clone, Copy)]
struct Around {
    begins: DateTime<Utc>,
    late_line: DateTime<Utc>,
    kiosk: usize,
}

/// Times the demo's card is lent.
const LENT_TIMES: u32 = 3;
/// People on leave whose cards are read anyway.
const ON_LEAVE_TIMES: usize = 2;
/// Other units' studies the visitor's card is read at.
const VISITS: u32 = 3;

/// Who and what a newcomer's first queries name, read from the read
/// models of a demo campus.
#[derive(Debug, Clone)]
pub struct Guide {
    pub administrator: String,
    pub auditor: String,
    /// The person whose 2008 dispute (about a late arrival) was rejected,
    /// and their unit.
    pub person: String,
    pub unit: String,
    /// A union chair (of `unit` if it has one) and the unit they chair.
    pub chair: String,
    pub chair_unit: String,
}

/// The guide to a demo campus, from its read models.
pub async fn guide(db: &ReadDb) -> anyhow::Result<Guide> {
    // The staff number a query selects as `staff_no`, in its first row.
    let first = |sql: &'static str| async move {
        let rows = db.fetch(sql, &[]).await?;
        rows.first()
            .and_then(|r| r.opt("staff_no"))
            .with_context(|| format!("this is not a demo campus: nothing answers {sql:?}"))
    };
    let person =
        first("SELECT person AS staff_no FROM rm_disputes WHERE status = 'rejected' ORDER BY id")
            .await?;
    let unit = db
        .fetch(
            "SELECT unit FROM rm_people WHERE staff_no = $1",
            &[Val::from(person.as_str())],
        )
        .await?
        .first()
        .and_then(|r| r.opt("unit"))
        .context("the disputing person is not in rm_people")?;
    let mut chairs = Vec::new();
    for r in db
        .fetch(
            "SELECT staff_no, roles FROM rm_people WHERE roles LIKE '%\"union_chair\"%' \
             AND left_on IS NULL ORDER BY staff_no",
            &[],
        )
        .await?
    {
        let roles: Vec<lectern_domain::Role> = serde_json::from_str(&r.text("roles"))?;
        for role in roles {
            if let lectern_domain::Role::UnionChair { unit: u } = role {
                chairs.push((r.text("staff_no"), u.as_str().to_owned()));
            }
        }
    }
    let (chair, chair_unit) = chairs
        .iter()
        .find(|(_, u)| *u == unit)
        .or(chairs.first())
        .cloned()
        .context("this is not a demo campus: no unit has a union chair")?;
    Ok(Guide {
        administrator: first(
            "SELECT staff_no FROM rm_people WHERE roles LIKE '%\"administrator\"%' ORDER BY staff_no",
        )
        .await?,
        auditor: first(
            "SELECT staff_no FROM rm_people WHERE roles LIKE '%\"auditor\"%' ORDER BY staff_no",
        )
        .await?,
        person,
        unit,
        chair,
        chair_unit,
    })
}

/// What a database holds, for `lectern demo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// An empty log.
    Nothing,
    /// The whole demo campus: its last fact, the leadership group's
    /// meeting of July 2009, is in the log.
    Campus,
    /// A demo campus stopped before it was finished.
    Unfinished,
    /// Another log.
    Other,
}

/// What `store` holds.
pub async fn made_by_demo(store: &Store) -> anyhow::Result<Found> {
    let Some(first) = store.read_all(0, 1, None).await?.into_iter().next() else {
        return Ok(Found::Nothing);
    };
    if first.metadata().ok().and_then(|m| m.source).as_deref() != Some("demo") {
        return Ok(Found::Other);
    }
    let (leadership, _) = load::<Monthly>(store, LEADERSHIP_STREAM, u64::MAX).await?;
    Ok(if leadership.meetings.contains(&LAST) {
        Found::Campus
    } else {
        Found::Unfinished
    })
}

/// The navigation programme's id.
pub const YTNP: &str = "ytnp";
/// The whole campaign's id.
pub const CAMPAIGN: &str = "campaign";
/// The demo's first and last months.
const FIRST: (i32, u32) = (2005, 9);
const LAST: (i32, u32) = (2009, 7);

/// The months the demo makes, September 2005 to July 2009 (the length of
/// the progress bar it is given).
pub const MONTHS: u64 = ((LAST.0 - FIRST.0) * 12 + LAST.1 as i32 - FIRST.1 as i32 + 1) as u64;

/// How long a month's taps wait for the read models of the month before.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(600);

/// Schools and their departments: (id, name, [(id, name)]).
/// A unit's id and name.
type Named = (&'static str, &'static str);

const SCHOOLS: &[(&str, &str, [Named; 3])] = &[
    (
        "arts",
        "文学院",
        [
            ("chinese", "中文系"),
            ("history", "历史系"),
            ("philosophy", "哲学系"),
        ],
    ),
    (
        "foreign",
        "外国语学院",
        [
            ("english", "英语系"),
            ("japanese", "日语系"),
            ("translation", "翻译系"),
        ],
    ),
    (
        "math",
        "数学与统计学院",
        [
            ("pure-math", "数学系"),
            ("statistics", "统计系"),
            ("applied-math", "应用数学系"),
        ],
    ),
    (
        "physics",
        "物理学院",
        [
            ("general-physics", "物理系"),
            ("optics", "光学系"),
            ("electronics", "电子科学系"),
        ],
    ),
    (
        "chemistry",
        "化学学院",
        [
            ("chem", "化学系"),
            ("materials", "材料科学系"),
            ("chem-eng", "化学工程系"),
        ],
    ),
    (
        "life",
        "生命科学学院",
        [
            ("biology", "生物科学系"),
            ("ecology", "生态学系"),
            ("biotech", "生物技术系"),
        ],
    ),
    (
        "economics",
        "经济管理学院",
        [
            ("econ", "经济学系"),
            ("management", "管理学系"),
            ("accounting", "会计学系"),
        ],
    ),
    (
        "computing",
        "计算机学院",
        [
            ("cs", "计算机科学系"),
            ("software", "软件工程系"),
            ("networks", "网络工程系"),
        ],
    ),
];
const OFFICES: &[(&str, &str)] = &[
    ("party-office", "党委办公室"),
    ("president-office", "校长办公室"),
    ("personnel", "人事处"),
    ("academic-affairs", "教务处"),
    ("research", "科研处"),
    ("finance", "财务处"),
    ("audit", "审计处"),
    ("library", "图书馆"),
];
const BRANCHES: &[(&str, &str)] = &[
    ("logistics-branch", "后勤集团工会分会"),
    ("hospital-branch", "校医院工会分会"),
    ("school-branch", "附属中学工会分会"),
];
const SPEAKERS: &[(&str, &str, &str)] = &[
    ("顾明远", "北京师范大学", "全国优秀教师"),
    ("叶澜", "华东师范大学", "国家级教学名师"),
    ("林崇德", "北京师范大学", "全国师德标兵"),
    ("钟启泉", "华东师范大学", "国家级教学名师"),
    ("裴娣娜", "北京师范大学", "全国优秀教育工作者"),
    ("朱小蔓", "中央教育科学研究所", "省级教学名师"),
];

/// A staffed unit.
struct UnitInfo {
    id: UnitId,
    kind: UnitKind,
    chair: StaffNo,
    members: Vec<StaffNo>,
}

/// A person's stream as the generator keeps it.
struct Staff {
    person: Person,
    version: u64,
    unit: UnitId,
    card: CardUid,
    category: StaffCategory,
}

/// A hall's kiosk: its key and tap counter.
struct Kiosk {
    id: Slug,
    venue: Slug,
    /// Its signing key, hex.
    secret: String,
    counter: u64,
}

/// Who a session expects, and how they are chosen to come.
#[derive(Clone)]
enum Expect {
    /// A unit's weekly study: its members then.
    Unit(usize),
    /// The navigation programme's cohort at the time.
    Cohort,
    /// Open to all: about this share (per thousand) of the staff come.
    Open(u64),
}

/// A session scheduled ahead, waiting for its day.
struct Planned {
    id: Uuid,
    state: Session,
    version: u64,
    expect: Expect,
    /// The hall's kiosk (an index into `Gen::kiosks`).
    kiosk: usize,
    /// Seats are assigned (demonstration classes, competitions).
    seats: bool,
}

/// A study task and who completes it when.
struct Task {
    id: Uuid,
    state: StudyTask,
    version: u64,
    due: NaiveDate,
    done: Vec<(NaiveDate, StaffNo)>,
}

/// Decisions waiting to be appended together.
struct Batch<'a> {
    writer: Writer<'a>,
    meta: Metadata,
}

impl Batch<'_> {
    /// Queues `events` (decided and applied) for `stream` at `*version`,
    /// dated `at`, and moves the version on.
    async fn stage<E: DomainEvent>(
        &mut self,
        stream: &str,
        version: &mut u64,
        events: &[E],
        keys: &[KeyChange],
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let request = append_request(stream, *version, events, keys, &self.meta).occurred_at(at);
        *version += events.len() as u64;
        self.writer.push(request, events.len()).await
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        self.writer.flush().await
    }
}

/// The units the demo establishes.
fn establish_count() -> usize {
    1 + SCHOOLS.len() * 4 + OFFICES.len() + BRANCHES.len()
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).expect("the demo's ids are valid")
}

fn name(s: &str) -> Name {
    Name::parse(s).expect("the demo's names are valid")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a calendar date")
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("a clock time")
}

/// The first `weekday` on or after `d`.
fn on_or_after(d: NaiveDate, weekday: Weekday) -> NaiveDate {
    let mut d = d;
    while d.weekday() != weekday {
        d = d + Days::new(1);
    }
    d
}

/// Term time: 5 September to 12 January and 26 February to 7 July.
fn in_term(d: NaiveDate) -> bool {
    match d.month() {
        9 => d.day() >= 5,
        10..=12 | 3..=6 => true,
        1 => d.day() <= 12,
        2 => d.day() >= 26,
        7 => d.day() <= 7,
        _ => false,
    }
}

/// New Year, Qingming (a holiday from 2008), the May Day and National Day
/// weeks.
fn holiday(d: NaiveDate) -> bool {
    match (d.month(), d.day()) {
        (1, 1..=3) | (5, 1..=7) | (10, 1..=7) => true,
        (4, 4..=6) => d.year() >= 2008,
        _ => false,
    }
}

fn next_month((y, m): (i32, u32)) -> (i32, u32) {
    if m == 12 { (y + 1, 1) } else { (y, m + 1) }
}

fn prev_month((y, m): (i32, u32)) -> (i32, u32) {
    if m == 1 { (y - 1, 12) } else { (y, m - 1) }
}

/// The days of a month.
fn days_of((y, m): (i32, u32)) -> impl Iterator<Item = NaiveDate> {
    let first = date(y, m, 1);
    first
        .iter_days()
        .take_while(move |d| d.month() == first.month())
}

/// The weekly study days of a month.
fn study_days(month: (i32, u32)) -> Vec<NaiveDate> {
    days_of(month)
        .filter(|d| d.weekday() == Weekday::Tue && in_term(*d) && !holiday(*d))
        .collect()
}

/// The navigation programme's sessions of a month: (day, kind, title).
fn ytnp_sessions((y, m): (i32, u32)) -> Vec<(NaiveDate, SessionKind, String)> {
    use SessionKind::*;
    let academic = if m >= 8 { y } else { y - 1 };
    if !(2005..=2008).contains(&academic) {
        return Vec::new();
    }
    let n = academic - 2004;
    let plan: &[(u32, u32, SessionKind, &str)] = &[
        (10, 20, TrainingLecture, "教学设计与课堂组织"),
        (11, 10, DemonstrationClass, "示范课：启发式教学"),
        (11, 17, TrainingLecture, "教师职业道德与师德修养"),
        (12, 15, TrainingLecture, "现代教育技术应用"),
        (3, 23, TrainingLecture, "课程建设与教学改革"),
        (4, 13, DemonstrationClass, "示范课：研究型教学"),
        (4, 20, TrainingLecture, "科研与教学相长"),
        (5, 18, TrainingLecture, "青年教师成长之路"),
        (5, 28, TeachingCompetition, "青年教师讲课比赛"),
        (6, 8, DemonstrationClass, "示范课：双语教学"),
    ];
    plan.iter()
        .filter(|(pm, ..)| *pm == m)
        .map(|(pm, d, kind, title)| {
            let day = on_or_after(date(y, *pm, *d), Weekday::Thu);
            (day, *kind, format!("{title}（第{n}期）"))
        })
        .collect()
}

/// The Ethics Month's sessions (September): (day, kind, title, time).
fn ethics_sessions(y: i32) -> Vec<(NaiveDate, SessionKind, String, NaiveTime)> {
    use SessionKind::*;
    vec![
        (
            on_or_after(date(y, 9, 6), Weekday::Wed),
            Seminar,
            format!("{y}年师德建设专题研讨会"),
            time(15, 0),
        ),
        (
            date(y, 9, 10),
            Ceremony,
            format!("庆祝第{}个教师节暨表彰大会", y - 1984),
            time(9, 30),
        ),
        (
            on_or_after(date(y, 9, 16), Weekday::Wed),
            ReportMeeting,
            format!("{y}年师德先进事迹报告会"),
            time(15, 0),
        ),
        (
            on_or_after(date(y, 9, 23), Weekday::Wed),
            Discussion,
            format!("“我心目中的好老师”{y}年座谈会"),
            time(15, 0),
        ),
    ]
}

/// The award categories: (id, title, level, kind, by vote).
const AWARDS: &[(&str, &str, AwardLevel, AwardKind, bool)] = &[
    (
        "national-excellent-teacher",
        "全国优秀教师",
        AwardLevel::National,
        AwardKind::Individual,
        false,
    ),
    (
        "provincial-ethics-model",
        "省师德标兵",
        AwardLevel::Provincial,
        AwardKind::Individual,
        false,
    ),
    (
        "city-excellent-educator",
        "市优秀教育工作者",
        AwardLevel::City,
        AwardKind::Individual,
        false,
    ),
    (
        "university-excellent-teacher",
        "校优秀教师",
        AwardLevel::University,
        AwardKind::Individual,
        false,
    ),
    (
        "university-advanced-collective",
        "校先进集体",
        AwardLevel::University,
        AwardKind::Collective,
        false,
    ),
    (
        "good-teacher-vote",
        "我心目中的好老师",
        AwardLevel::University,
        AwardKind::Individual,
        true,
    ),
];

/// A session readied by `Gen::prepare`.
struct Held {
    id: Uuid,
    kiosk: usize,
    taps: Vec<Tap>,
    expected: Vec<StaffNo>,
    absent: Vec<StaffNo>,
    /// Someone who came late.
    late: Option<StaffNo>,
    chair: StaffNo,
    /// A unit's weekly study.
    unit: bool,
}

/// A kiosk sends its taps to the server's tap ingestion, signed with its
/// key (`secret`, hex), in batches; every tap must be recorded. Returns the
/// taps and the events they made.
async fn send(
    ingest: Ingest,
    kiosk: Slug,
    secret: String,
    taps: Vec<Tap>,
) -> anyhow::Result<(u64, u64)> {
    let key = KioskKey::from_secret_hex(&secret)?;
    let public = lectern_kiosk_protocol::PublicKey::from_hex(&key.public_hex())?;
    let mut events = 0;
    let count = taps.len() as u64;
    let signed: Vec<SignedTap> = taps.into_iter().map(|t| key.sign_tap(t)).collect();
    for chunk in signed.chunks(MAX_BATCH) {
        // A sync point at the batch's first tap, as a kiosk would send.
        let sync = chunk
            .first()
            .map(|t| SyncPoint {
                boot: 1,
                mono_us: t.tap.clock.map_or(0, |c| c.mono_us),
                server_time: t.tap.kiosk_time,
            })
            .into_iter()
            .collect();
        let answer = ingest
            .ingest(
                &kiosk,
                &public,
                0,
                TapBatch {
                    taps: chunk.to_vec(),
                    sync,
                },
            )
            .await
            .with_context(|| format!("kiosk {}", kiosk.as_str()))?;
        if let Some(r) = answer.results.iter().find(|r| r.refused.is_some()) {
            bail!(
                "kiosk {}: tap {} refused: {}",
                kiosk.as_str(),
                r.tap,
                r.refused.clone().unwrap_or_default()
            );
        }
        // A tap is one CardTapped; a recorded one adds its attendance.
        events += answer
            .results
            .iter()
            .map(|r| match r.outcome {
                Some(
                    lectern_kiosk_protocol::Outcome::Present
                    | lectern_kiosk_protocol::Outcome::Late,
                ) => 2,
                _ => 1,
            })
            .sum::<u64>();
    }
    Ok((count, events))
}

struct Gen<'a> {
    store: &'a Store,
    projections: &'a Projections,
    ingest: Ingest,
    app: App,
    campus: Campus,
    opts: Options,
    rng: Rng,
    batch: Batch<'a>,
    org: OrgTree,
    people: BTreeMap<StaffNo, Staff>,
    units: Vec<UnitInfo>,
    kiosks: Vec<Kiosk>,
    /// Staff numbers handed out, by year of hire.
    hired: BTreeMap<i32, u32>,
    cards: u64,
    ids: u128,
    book: (RuleBook, u64),
    programmes: BTreeMap<String, (Programme, u64)>,
    /// YTNP participants and the day they enrolled.
    cohort: BTreeMap<StaffNo, NaiveDate>,
    /// Cohort members who have not attended yet: they come next time.
    first_timers: BTreeSet<StaffNo>,
    planned: BTreeMap<DateTime<Utc>, Vec<Planned>>,
    tasks: Vec<Task>,
    awards: BTreeMap<String, (Award, u64)>,
    leadership: (Monthly, u64),
    /// Cards lost last month: tapped once more by mistake.
    lost: Vec<(StaffNo, CardUid)>,
    planted: Planted,
    /// When the visitor's card was last read at another unit's study.
    last_visit: Option<DateTime<Utc>>,
    /// The lent card's reads at another hall's kiosk, to send with the
    /// time slot's taps: kiosk, when, card.
    lent_reads: Vec<(usize, DateTime<Utc>, CardUid)>,
    leader: StaffNo,
    deputy: StaffNo,
    group: Vec<StaffNo>,
    administrator: StaffNo,
    auditor: StaffNo,
    sessions: u64,
    taps: u64,
    /// Sessions of 2008 with a person marked absent and one marked late,
    /// for the disputes.
    absent_2008: Option<(Uuid, StaffNo, NaiveDate)>,
    late_2008: Option<(Uuid, StaffNo, NaiveDate)>,
}

/// Makes the demo campus in `store` (an empty log), with `projections`
/// running on it; `progress` is told each month.
///
/// Boxed here and never inlined, so the body compiles in this crate only
/// (ARCHITECTURE.md: the build rule for async entry points).
#[inline(never)]
pub fn generate<'a>(
    store: &'a Store,
    projections: &'a Projections,
    opts: &'a Options,
    progress: &'a indicatif::ProgressBar,
) -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<Summary>> + Send + 'a>> {
    Box::pin(make(store, projections, opts, progress))
}

async fn make(
    store: &Store,
    projections: &Projections,
    opts: &Options,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Summary> {
    if store.head().await? != 0 {
        bail!("the demo is made in an empty event log");
    }
    let started = Instant::now();
    let campus = Campus::default();
    let app = App::new(store.clone(), projections.clone(), campus);
    let mut g = Gen {
        store,
        projections,
        ingest: Ingest::new(&app).without_settling(),
        app,
        campus,
        opts: opts.clone(),
        rng: Rng::new(opts.seed),
        batch: Batch {
            writer: Writer {
                store,
                pending: Vec::new(),
                events: 0,
            },
            meta: Metadata {
                actor: Some("demo".into()),
                source: Some("demo".into()),
                ..Metadata::default()
            },
        },
        org: OrgTree::default(),
        people: BTreeMap::new(),
        units: Vec::new(),
        kiosks: Vec::new(),
        hired: BTreeMap::new(),
        cards: 0,
        ids: 0,
        book: (RuleBook::default(), 0),
        programmes: BTreeMap::new(),
        cohort: BTreeMap::new(),
        first_timers: BTreeSet::new(),
        planned: BTreeMap::new(),
        tasks: Vec::new(),
        awards: BTreeMap::new(),
        leadership: (Monthly::default(), 0),
        lost: Vec::new(),
        planted: Planted::default(),
        last_visit: None,
        lent_reads: Vec::new(),
        leader: StaffNo::parse("0000").expect("valid"),
        deputy: StaffNo::parse("0000").expect("valid"),
        group: Vec::new(),
        administrator: StaffNo::parse("0000").expect("valid"),
        auditor: StaffNo::parse("0000").expect("valid"),
        sessions: 0,
        taps: 0,
        absent_2008: None,
        late_2008: None,
    };
    g.setup().await?;
    let months = {
        let mut all = vec![FIRST];
        while *all.last().expect("one") != LAST {
            all.push(next_month(*all.last().expect("one")));
        }
        all
    };
    debug_assert_eq!(months.len() as u64, MONTHS);
    progress.set_length(MONTHS);
    g.plan(FIRST).await?;
    g.batch.flush().await?;
    let mut mark = store.head().await?;
    for month in months {
        progress.set_message(format!(
            "{}-{:02}, {} events",
            month.0, month.1, g.batch.writer.events
        ));
        if month != LAST {
            g.plan(next_month(month)).await?;
        }
        g.batch.flush().await?;
        projections
            .wait_for(mark, CATCH_UP)
            .await
            .context("the read models did not catch up with the demo")?;
        g.month(month).await?;
        g.batch.flush().await?;
        mark = store.head().await?;
        progress.inc(1);
    }
    progress.set_message("the read models catch up");
    // The flags the analyzer records are events after `mark`: caught up
    // (the analyzer included, which writers do not wait for) when the log
    // stops growing.
    loop {
        projections
            .wait_for_all(mark, CATCH_UP)
            .await
            .context("the read models did not catch up with the demo")?;
        let head = store.head().await?;
        if head == mark {
            break;
        }
        mark = head;
    }
    Ok(Summary {
        events: store.head().await?,
        seconds: started.elapsed().as_secs_f64(),
        units: establish_count(),
        people: g.people.len(),
        sessions: g.sessions,
        taps: g.taps,
        planted: g.planted,
    })
}

impl Gen<'_> {
    fn chance(&mut self, per_thousand: u64) -> bool {
        self.rng.chance(per_thousand)
    }

    fn next_id(&mut self) -> Uuid {
        self.ids += 1;
        Uuid::from_u128((u128::from(self.opts.seed) << 64) | self.ids)
    }

    fn at(&self, d: NaiveDate, t: NaiveTime) -> anyhow::Result<DateTime<Utc>> {
        Ok(self.campus.at(d, t)?)
    }

    fn new_card(&mut self) -> CardUid {
        self.cards += 1;
        let n = (self.opts.seed.wrapping_mul(0x1_0000_0001) & 0xFF_FFFF) << 24 | self.cards;
        CardUid::parse(&format!("04{:012X}", n & 0xFFFF_FFFF_FFFF)).expect("a 7-byte UID")
    }

    fn chinese_name(&mut self) -> Name {
        self.rng.chinese_name()
    }

    async fn setup(&mut self) -> anyhow::Result<()> {
        let t0 = self.at(date(2005, 8, 25), time(9, 0))?;
        // The unit tree.
        let mut establish = Vec::new();
        establish.push(("uni", "江城大学".to_owned(), UnitKind::University, None));
        for (id, title, depts) in SCHOOLS {
            establish.push((id, (*title).to_owned(), UnitKind::School, Some("uni")));
            for (d, dname) in depts {
                establish.push((
                    d,
                    format!("{title}{dname}"),
                    UnitKind::Department,
                    Some(*id),
                ));
            }
        }
        for (id, title) in OFFICES {
            establish.push((id, (*title).to_owned(), UnitKind::Office, Some("uni")));
        }
        for (id, title) in BRANCHES {
            establish.push((id, (*title).to_owned(), UnitKind::UnionBranch, Some("uni")));
        }
        let mut events = Vec::new();
        for (id, title, kind, parent) in &establish {
            let cmd = OrgCommand::EstablishUnit {
                unit: slug(id),
                name: name(title),
                kind: *kind,
                parent: parent.map(slug),
            };
            events.extend(decided(&mut self.org, |o| o.decide(&cmd))?);
        }
        let mut v = 0;
        self.batch
            .stage(ORG_STREAM, &mut v, &events, &[], t0)
            .await?;
        for (id, _, kind, _) in &establish {
            if matches!(
                kind,
                UnitKind::Department | UnitKind::Office | UnitKind::UnionBranch
            ) {
                self.units.push(UnitInfo {
                    id: slug(id),
                    kind: *kind,
                    chair: StaffNo::parse("0000")?,
                    members: Vec::new(),
                });
            }
        }

        // Staff: departments are mostly teachers, offices administrators,
        // branches workers.
        let weights: Vec<u32> = self
            .units
            .iter()
            .map(|u| match u.kind {
                UnitKind::Department => 10,
                _ => 4,
            })
            .collect();
        let total: u32 = weights.iter().sum();
        let mut quota: Vec<u32> = weights
            .iter()
            .map(|w| self.opts.staff * w / total)
            .collect();
        let short = self.opts.staff - quota.iter().sum::<u32>();
        for q in quota.iter_mut().take(short as usize) {
            *q += 1;
        }
        for (u, q) in quota.into_iter().enumerate() {
            for i in 0..q {
                let kind = self.units[u].kind;
                let category = match (kind, self.rng.below(10)) {
                    (UnitKind::Department, 0) => StaffCategory::Administrator,
                    (UnitKind::Department, _) => StaffCategory::Teacher,
                    (UnitKind::Office, 0..=7) => StaffCategory::Administrator,
                    (UnitKind::Office, _) => StaffCategory::Worker,
                    (_, 0..=1) => StaffCategory::Administrator,
                    _ => StaffCategory::Worker,
                };
                // The unit's first member is its union chair, an older hand.
                let young = i > 0 && category == StaffCategory::Teacher && self.chance(400);
                let born = if young {
                    1971 + self.rng.below(12) as i32
                } else {
                    1946 + self.rng.below(25) as i32
                };
                let hired = (born + 24 + self.rng.below(5) as i32).min(2005);
                let birth = date(
                    born,
                    1 + self.rng.below(12) as u32,
                    1 + self.rng.below(28) as u32,
                );
                let hire = date(hired, if hired == 2005 { 7 } else { 9 }, 1);
                self.register(u, category, birth, hire, t0).await?;
            }
        }
        for u in &mut self.units {
            u.chair = u.members[0].clone();
        }

        // Roles: the leadership group, the union chairs, an administrator
        // and an auditor.
        let first_of = |g: &Gen, unit: &str, k: usize| -> StaffNo {
            let u = g
                .units
                .iter()
                .find(|u| u.id.as_str() == unit)
                .expect("a unit");
            u.members[k.min(u.members.len() - 1)].clone()
        };
        self.leader = first_of(self, "party-office", 1);
        self.deputy = first_of(self, "party-office", 2);
        self.group = vec![
            self.leader.clone(),
            self.deputy.clone(),
            first_of(self, "president-office", 1),
            first_of(self, "personnel", 1),
            first_of(self, "academic-affairs", 1),
            first_of(self, "research", 1),
        ];
        self.administrator = first_of(self, "personnel", 2);
        self.auditor = first_of(self, "audit", 1);
        let mut grants: Vec<(StaffNo, Role)> = vec![
            (self.leader.clone(), Role::LeadershipLeader),
            (self.deputy.clone(), Role::LeadershipDeputy),
            (self.deputy.clone(), Role::UnionChair { unit: slug("uni") }),
            (self.administrator.clone(), Role::Administrator),
            (self.auditor.clone(), Role::Auditor),
        ];
        for m in &self.group[2..] {
            grants.push((m.clone(), Role::LeadershipMember));
        }
        for u in &self.units {
            grants.push((u.chair.clone(), Role::UnionChair { unit: u.id.clone() }));
        }
        for (no, role) in grants {
            self.person(&no, t0, PersonCommand::GrantRole { role })
                .await?;
        }

        // The scoring rules, from the start of the campaign.
        let rules = ScoringRules {
            version: 1,
            effective_from: date(2005, 9, 1),
            base_points: 100,
            per_absence: 5,
            per_late: 2,
            per_missed_task: 3,
            award_bonus: [
                (AwardLevel::University, 5),
                (AwardLevel::City, 10),
                (AwardLevel::Provincial, 15),
                (AwardLevel::National, 20),
            ]
            .into_iter()
            .collect(),
            per_late_report: 10,
            report_due_day: 5,
            unit: Default::default(),
        };
        let cmd = AppraisalCommand::AdoptRules { rules };
        let events = decided(&mut self.book.0, |b| b.decide(&cmd))?;
        self.batch
            .stage(APPRAISAL_STREAM, &mut self.book.1, &events, &[], t0)
            .await?;

        // The campaign and the navigation programme.
        let launched = date(2005, 9, 1);
        self.launch(
            CAMPAIGN,
            ProgrammeKind::Campaign,
            "创建学习型组织，争做知识型职工",
            None,
            launched,
        )
        .await?;
        self.notice(
            CAMPAIGN,
            "关于开展“创建学习型组织，争做知识型职工”活动的实施意见",
            launched,
        )
        .await?;
        self.launch(
            YTNP,
            ProgrammeKind::YoungTeacherNavigation,
            "青年教师教育教学导航计划",
            Some(Eligibility::young_teachers()),
            launched,
        )
        .await?;
        for (year, targets) in [
            (2005, [3, 1, 0]),
            (2006, [6, 3, 1]),
            (2007, [6, 3, 1]),
            (2008, [6, 3, 1]),
            (2009, [3, 2, 1]),
        ] {
            let targets = [
                SessionKind::TrainingLecture,
                SessionKind::DemonstrationClass,
                SessionKind::TeachingCompetition,
            ]
            .into_iter()
            .zip(targets)
            .collect();
            let on = if year == 2005 {
                launched
            } else {
                date(year, 1, 5)
            };
            self.programme(YTNP, on, ProgrammeCommand::IssuePlan { year, targets })
                .await?;
        }

        // Award categories.
        for (id, title, level, kind, by_vote) in AWARDS {
            let cmd = AwardCommand::Define {
                category: slug(id),
                title: name(title),
                level: *level,
                kind: *kind,
                criteria: format!("{title}评选条件见学校师德建设实施办法"),
                by_vote: *by_vote,
            };
            self.award(id, t0, cmd).await?;
        }

        // A kiosk in every unit's hall, the programme's hall and the
        // auditorium.
        let mut halls: Vec<String> = self
            .units
            .iter()
            .map(|u| u.id.as_str().to_owned())
            .collect();
        halls.push("ytnp".into());
        halls.push("auditorium".into());
        for hall in halls {
            let id = slug(&format!("kiosk-{hall}"));
            let venue = slug(&format!("hall-{hall}"));
            let mut secret = [0u8; 32];
            for chunk in secret.chunks_mut(8) {
                chunk.copy_from_slice(&self.rng.below(u64::MAX).to_le_bytes());
            }
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            let key = KioskKey::from_secret_hex(&hex)?;
            let code = format!("DEMO-{}", self.kiosks.len());
            let hash = enrolment_code_hash(&code);
            let mut ledger = KioskLedger::default();
            let mut v = 0;
            let events = decided(&mut ledger, |l| l.register(&venue, &hash, t0))?;
            let stream = kiosk_stream(id.as_str());
            self.batch.stage(&stream, &mut v, &events, &[], t0).await?;
            let public = key.public_hex();
            let events = decided(&mut ledger, |l| {
                l.enrol(id.as_str(), &hash, &public, "demo", t0)
            })?;
            self.batch.stage(&stream, &mut v, &events, &[], t0).await?;
            self.kiosks.push(Kiosk {
                id,
                venue,
                secret: hex,
                counter: 0,
            });
        }
        // The navigation programme's first cohort.
        self.enrol(2005).await
    }

    /// Registers a new member of `unit` (an index) with a card.
    async fn register(
        &mut self,
        unit: usize,
        category: StaffCategory,
        birth: NaiveDate,
        hire: NaiveDate,
        at: DateTime<Utc>,
    ) -> anyhow::Result<StaffNo> {
        let seq = self.hired.entry(hire.year()).or_default();
        *seq += 1;
        let no = StaffNo::parse(&format!("{}{:04}", hire.year(), seq))?;
        let registration = Registration {
            staff_no: no.clone(),
            name: self.chinese_name(),
            unit: self.units[unit].id.clone(),
            category,
            birth_date: Some(birth),
            hire_date: hire,
        };
        let card = self.new_card();
        let mut person = Person::default();
        let mut events = decided(&mut person, |p| {
            p.decide(&PersonCommand::Register(registration), &self.org)
        })?;
        events.extend(decided(&mut person, |p| {
            p.decide(&PersonCommand::IssueCard { uid: card.clone() }, &self.org)
        })?);
        let mut version = 0;
        self.batch
            .stage(
                &person_stream(&no),
                &mut version,
                &events,
                &Person::key_changes(&events),
                at,
            )
            .await?;
        self.units[unit].members.push(no.clone());
        self.people.insert(
            no.clone(),
            Staff {
                person,
                version,
                unit: self.units[unit].id.clone(),
                card,
                category,
            },
        );
        Ok(no)
    }

    async fn person(
        &mut self,
        no: &StaffNo,
        at: DateTime<Utc>,
        cmd: PersonCommand,
    ) -> anyhow::Result<()> {
        let s = self.people.get_mut(no).context("a known person")?;
        let events = decided(&mut s.person, |p| p.decide(&cmd, &self.org))?;
        self.batch
            .stage(
                &person_stream(no),
                &mut s.version,
                &events,
                &Person::key_changes(&events),
                at,
            )
            .await
    }

    async fn launch(
        &mut self,
        id: &str,
        kind: ProgrammeKind,
        title: &str,
        eligibility: Option<Eligibility>,
        on: NaiveDate,
    ) -> anyhow::Result<()> {
        let cmd = ProgrammeCommand::Launch(Launch {
            id: slug(id),
            kind,
            title: name(title),
            launched_on: on,
            eligibility,
        });
        self.programme(id, on, cmd).await
    }

    async fn notice(&mut self, id: &str, title: &str, on: NaiveDate) -> anyhow::Result<()> {
        let cmd = ProgrammeCommand::IssueNotice {
            title: name(title),
            text: format!("各单位：现将《{title}》印发给你们，请认真组织实施。"),
            issued_on: on,
        };
        self.programme(id, on, cmd).await
    }

    async fn programme(
        &mut self,
        id: &str,
        on: NaiveDate,
        cmd: ProgrammeCommand,
    ) -> anyhow::Result<()> {
        let at = self.at(on, time(9, 0))?;
        let (state, version) = self.programmes.entry(id.to_owned()).or_default();
        let events = decided(state, |p| p.decide(&cmd))?;
        self.batch
            .stage(&programme_stream(&slug(id)), version, &events, &[], at)
            .await
    }

    async fn award(
        &mut self,
        category: &str,
        at: DateTime<Utc>,
        cmd: AwardCommand,
    ) -> anyhow::Result<()> {
        let (state, version) = self.awards.entry(category.to_owned()).or_default();
        let events = decided(state, |a| a.decide(&cmd, &self.org))?;
        self.batch
            .stage(&award_stream(&slug(category)), version, &events, &[], at)
            .await
    }

    /// Schedules a session ahead of its day.
    #[allow(clippy::too_many_arguments)]
    async fn schedule(
        &mut self,
        day: NaiveDate,
        starts: NaiveTime,
        minutes: i64,
        kind: SessionKind,
        title: String,
        programme: Option<&str>,
        organiser: UnitId,
        kiosk: usize,
        expect: Expect,
        speakers: Vec<Speaker>,
    ) -> anyhow::Result<()> {
        let begins = self.at(day, starts)?;
        let audience = match &expect {
            Expect::Unit(u) => Audience::Units {
                units: vec![self.units[*u].id.clone()],
            },
            Expect::Cohort => Audience::Cohort {
                programme: slug(YTNP),
            },
            Expect::Open(_) => Audience::Open,
        };
        let id = self.next_id();
        let schedule = Schedule {
            id,
            kind,
            title: name(&title),
            programme: programme.map(slug),
            organiser,
            venue: self.kiosks[kiosk].venue.clone(),
            window: TimeWindow::new(begins, begins + Duration::minutes(minutes))?,
            check_in: CheckInRules::default(),
            audience,
            speakers,
            series: None,
        };
        let mut state = Session::default();
        let events = decided(&mut state, |s| {
            s.decide(&SessionCommand::Schedule(schedule), &self.org)
        })?;
        let mut version = 0;
        let published = self.at(
            day - Days::new(14).min(Days::new(u64::from(day.day()))),
            time(9, 0),
        )?;
        self.batch
            .stage(&session_stream(id), &mut version, &events, &[], published)
            .await?;
        let seats = matches!(
            kind,
            SessionKind::DemonstrationClass | SessionKind::TeachingCompetition
        );
        self.planned.entry(begins).or_default().push(Planned {
            id,
            state,
            version,
            expect,
            kiosk,
            seats,
        });
        Ok(())
    }

    /// Schedules `month`'s sessions and study tasks, and in September the
    /// Ethics Month's programme.
    async fn plan(&mut self, month: (i32, u32)) -> anyhow::Result<()> {
        let (y, m) = month;
        let studying = self
            .opts
            .study_units
            .unwrap_or(self.units.len())
            .min(self.units.len());
        for day in study_days(month) {
            for u in 0..studying {
                let unit = self.units[u].id.clone();
                let week = day.iso_week().week();
                let title = format!("{}年第{}周集中学习", y, week);
                self.schedule(
                    day,
                    time(14, 30),
                    90,
                    SessionKind::CentralizedStudy,
                    title,
                    None,
                    unit,
                    u,
                    Expect::Unit(u),
                    vec![],
                )
                .await?;
            }
        }
        let ytnp_hall = self.kiosks.len() - 2;
        let auditorium = self.kiosks.len() - 1;
        for (day, kind, title) in ytnp_sessions(month) {
            let speakers = if kind == SessionKind::TrainingLecture {
                let (n, aff, honour) = SPEAKERS[self.rng.below(SPEAKERS.len() as u64) as usize];
                vec![Speaker {
                    name: name(n),
                    affiliation: aff.into(),
                    honours: vec![honour.into()],
                }]
            } else {
                vec![]
            };
            self.schedule(
                day,
                time(14, 30),
                120,
                kind,
                title,
                Some(YTNP),
                slug("academic-affairs"),
                ytnp_hall,
                Expect::Cohort,
                speakers,
            )
            .await?;
        }
        if m == 9 {
            let id = format!("ethics-{y}");
            let first = date(y, 9, 1);
            self.launch(
                &id,
                ProgrammeKind::EthicsMonth,
                &format!("{y}年师德建设教育月"),
                None,
                first,
            )
            .await?;
            self.notice(
                &id,
                &format!("关于开展{y}年师德建设教育月活动的通知"),
                first,
            )
            .await?;
            for (day, kind, title, starts) in ethics_sessions(y) {
                let share = if kind == SessionKind::Ceremony {
                    300
                } else {
                    80
                };
                self.schedule(
                    day,
                    starts,
                    120,
                    kind,
                    title,
                    Some(&id),
                    slug("uni"),
                    auditorium,
                    Expect::Open(share),
                    vec![],
                )
                .await?;
            }
        }
        // A study task each term, for everyone, due before the term ends.
        if let Some((due, topic, title)) = match m {
            9 => Some((date(y, 12, 20), StudyTopic::PoliticalTheory, "政治理论学习")),
            3 => Some((
                date(y, 6, 20),
                StudyTopic::ProfessionalKnowledge,
                "业务知识学习",
            )),
            _ => None,
        } {
            self.assign_task(date(y, m, 8), due, topic, title).await?;
        }
        Ok(())
    }

    async fn assign_task(
        &mut self,
        on: NaiveDate,
        due: NaiveDate,
        topic: StudyTopic,
        title: &str,
    ) -> anyhow::Result<()> {
        let id = self.next_id();
        let assignment = lectern_domain::Assignment {
            id,
            title: name(&format!("{}年{}月{}", on.year(), on.month(), title)),
            topic,
            audience: Audience::Units {
                units: vec![slug("uni")],
            },
            assigner: self.deputy.clone(),
            assigned_on: on,
            due,
        };
        let mut state = StudyTask::default();
        let events = decided(&mut state, |t| {
            t.decide(&StudyCommand::Assign(assignment), &self.org)
        })?;
        let mut version = 0;
        let at = self.at(on, time(9, 0))?;
        self.batch
            .stage(&task_stream(id), &mut version, &events, &[], at)
            .await?;
        let span = (due - on).num_days().max(2) as u64;
        let everyone: Vec<StaffNo> = self.people.keys().cloned().collect();
        let mut done = Vec::new();
        for no in everyone {
            if self.chance(955) {
                done.push((on + Days::new(1 + self.rng.below(span - 1)), no));
            }
        }
        done.sort();
        self.tasks.push(Task {
            id,
            state,
            version,
            due,
            done,
        });
        Ok(())
    }

    /// Everything that happens in `month`, whose sessions are scheduled and
    /// whose people and cards the read models show.
    async fn month(&mut self, month: (i32, u32)) -> anyhow::Result<()> {
        let (y, m) = month;
        let from = self.at(date(y, m, 1), NaiveTime::MIN)?;
        let (ny, nm) = next_month(month);
        let until = self.at(date(ny, nm, 1), NaiveTime::MIN)?;
        let starts: Vec<DateTime<Utc>> = self.planned.range(from..until).map(|(t, _)| *t).collect();
        for t in starts {
            let slot = self.planned.remove(&t).unwrap_or_default();
            self.hold(slot).await?;
        }
        self.study_tasks(month).await?;
        self.monthly(month).await?;
        if m == 9 {
            self.awards_of(y).await?;
        }
        if m == 1 && (2006..=2009).contains(&y) {
            self.close_year(y - 1).await?;
            if y == 2009 {
                self.disputes().await?;
            }
        }
        self.end_of_month(month).await
    }

    /// Who a session expects on `day`.
    fn expected(&self, expect: &Expect, day: NaiveDate) -> Vec<StaffNo> {
        match expect {
            Expect::Unit(u) => self.units[*u].members.clone(),
            Expect::Cohort => self
                .cohort
                .iter()
                .filter(|(_, on)| **on <= day)
                .map(|(no, _)| no.clone())
                .collect(),
            Expect::Open(_) => Vec::new(),
        }
    }

    /// Readies a planned session: leave asked and approved, seats, and the
    /// taps its kiosk will read (signed when they are sent).
    async fn prepare(&mut self, mut p: Planned) -> anyhow::Result<Held> {
        let schedule = p.state.schedule.clone().context("a scheduled session")?;
        let begins = schedule.window.start();
        let day = self.campus.date(begins);
        let stream = session_stream(p.id);
        let expected = self.expected(&p.expect, day);
        let chair = match &p.expect {
            Expect::Unit(u) => self.units[*u].chair.clone(),
            _ => self.deputy.clone(),
        };
        let mut comers: Vec<(StaffNo, bool)> = Vec::new();
        let mut absent = Vec::new();
        let mut on_leave = Vec::new();
        for no in &expected {
            let first = self.first_timers.contains(no);
            let roll = self.rng.below(1000);
            if !first && roll < 30 && no != &chair {
                let asked = begins - Duration::days(1);
                let reasons = ["外出开会", "因病请假", "出差", "带学生实习"];
                let reason = reasons[self.rng.below(4) as usize].to_owned();
                let cmds = [
                    SessionCommand::RequestLeave {
                        person: no.clone(),
                        reason,
                        at: asked,
                    },
                    SessionCommand::ApproveLeave {
                        person: no.clone(),
                        approver: chair.clone(),
                    },
                ];
                for cmd in cmds {
                    let events = decided(&mut p.state, |s| s.decide(&cmd, &self.org))?;
                    self.batch
                        .stage(&stream, &mut p.version, &events, &[], asked)
                        .await?;
                }
                on_leave.push(no.clone());
            } else if !first && roll < 60 && no != &chair {
                absent.push(no.clone());
            } else {
                comers.push((no.clone(), !first && roll < 130));
            }
        }
        if let Expect::Open(share) = p.expect {
            let everyone: Vec<StaffNo> = self.people.keys().cloned().collect();
            for no in everyone {
                if self.chance(share) {
                    comers.push((no, false));
                }
            }
        }
        if p.seats {
            for (k, no) in expected.iter().enumerate() {
                let seat = format!("{}排{}座", k / 20 + 1, k % 20 + 1);
                let cmd = SessionCommand::AssignSeat {
                    person: no.clone(),
                    seat,
                };
                let events = decided(&mut p.state, |s| s.decide(&cmd, &self.org))?;
                let at = begins - Duration::days(2);
                self.batch
                    .stage(&stream, &mut p.version, &events, &[], at)
                    .await?;
            }
        }
        self.batch.flush().await?;

        // The taps, in the order the kiosk read them.
        let mut reads: Vec<(DateTime<Utc>, CardUid)> = Vec::new();
        let lost: Vec<(StaffNo, CardUid)> = std::mem::take(&mut self.lost);
        let mut times: BTreeMap<StaffNo, DateTime<Utc>> = BTreeMap::new();
        let late_line = begins + Duration::minutes(i64::from(schedule.check_in.grace_minutes));
        for (no, late) in &comers {
            let at = if *late {
                begins + Duration::minutes(11 + self.rng.below(30) as i64)
            } else {
                // From 26 minutes before the start to the late line.
                late_line - Duration::seconds(self.rng.below(2160) as i64)
            };
            times.insert(no.clone(), at);
        }
        let at = Around {
            begins,
            late_line,
            kiosk: p.kiosk,
        };
        self.plant(&p.expect, &chair, &comers, &mut times, at);
        if matches!(p.expect, Expect::Unit(_)) {
            reads.extend(self.plant_more(&expected, &comers, &on_leave, &lost, at));
        }
        for (no, _) in &comers {
            let at = times[no];
            let card = self.people[no].card.clone();
            if let Some((_, old)) = lost.iter().find(|(who, _)| who == no) {
                reads.push((at - Duration::seconds(20), old.clone()));
            } else if self.chance(5) {
                reads.push((at + Duration::seconds(40), card.clone()));
            }
            reads.push((at, card));
            self.first_timers.remove(no);
        }
        self.lost = lost
            .into_iter()
            .filter(|(no, _)| {
                !comers.iter().any(|(c, _)| c == no) && self.planted.found_card.as_ref() != Some(no)
            })
            .collect();
        reads.sort();
        let k = p.kiosk;
        let taps = reads
            .into_iter()
            .map(|(at, card)| self.read(k, at, card))
            .collect();
        Ok(Held {
            id: p.id,
            kiosk: k,
            taps,
            expected,
            absent,
            late: comers
                .iter()
                .find(|(_, late)| *late)
                .map(|(no, _)| no.clone()),
            chair,
            unit: matches!(p.expect, Expect::Unit(_)),
        })
    }

    /// Plants the pairs' patterns (`Planted`) at a session whose comers
    /// read their cards at `times` on `at.kiosk`: the pair's second card a
    /// second after the first, the late pair's cards 40 and 15 seconds
    /// before the late line, and the lent card read at another hall's kiosk
    /// three minutes after its holder's tap.
    fn plant(
        &mut self,
        expect: &Expect,
        chair: &StaffNo,
        comers: &[(StaffNo, bool)],
        times: &mut BTreeMap<StaffNo, DateTime<Utc>>,
        at: Around,
    ) {
        let kiosk = at.kiosk;
        let on_time: Vec<&StaffNo> = comers
            .iter()
            .filter(|(no, late)| !late && no != chair)
            .map(|(no, _)| no)
            .collect();
        if matches!(expect, Expect::Unit(_)) && on_time.len() >= 2 {
            if self.planted.pair.is_none() {
                self.planted.pair = Some((on_time[0].clone(), on_time[1].clone()));
            } else if self.planted.lender.is_none()
                && self
                    .planted
                    .pair
                    .as_ref()
                    .is_some_and(|(a, _)| self.people[a].unit != self.people[on_time[0]].unit)
            {
                self.planted.lender = Some(on_time[0].clone());
            } else if self.planted.late_pair.is_none()
                && self.planted.lender.as_ref().is_some_and(|l| {
                    self.people[l].unit != self.people[on_time[0]].unit
                        && self.planted.pair.as_ref().is_some_and(|(a, _)| {
                            self.people[a].unit != self.people[on_time[0]].unit
                        })
                })
            {
                self.planted.late_pair = Some((on_time[0].clone(), on_time[1].clone()));
            }
        }
        if let Some((a, b)) = &self.planted.pair
            && let (Some(at), true) = (times.get(a).copied(), on_time.contains(&b))
        {
            times.insert(b.clone(), at + Duration::seconds(1));
        }
        if let Some((a, b)) = &self.planted.late_pair
            && on_time.contains(&a)
            && on_time.contains(&b)
        {
            times.insert(a.clone(), at.late_line - Duration::seconds(40));
            times.insert(b.clone(), at.late_line - Duration::seconds(15));
            self.planted.late_sessions += 1;
        }
        let venue = &self.kiosks[kiosk].venue;
        if let Some(l) = &self.planted.lender
            && self.planted.lent < LENT_TIMES
            && on_time.contains(&l)
            && let Some(at) = times.get(l)
            && let Some(other) = self.kiosks.iter().position(|k| k.venue != *venue)
        {
            let card = self.people[l].card.clone();
            self.lent_reads
                .push((other, *at + Duration::minutes(3), card));
            self.planted.lent += 1;
        }
    }

    /// Plants the single people's patterns at a unit's study (`expected`,
    /// of whom `comers` come and `on_leave` are excused): a card of someone
    /// on leave read 2 minutes before the start; the visitor's card (of
    /// another unit's) read 3 minutes before it; a lost card of someone
    /// who is not expected here read 4 minutes before it (its holder then
    /// never taps it by mistake).
    fn plant_more(
        &mut self,
        expected: &[StaffNo],
        comers: &[(StaffNo, bool)],
        on_leave: &[StaffNo],
        lost: &[(StaffNo, CardUid)],
        at: Around,
    ) -> Vec<(DateTime<Utc>, CardUid)> {
        let mut reads = Vec::new();
        let planted_already = |p: &Planted, no: &StaffNo| {
            p.pair.as_ref().is_some_and(|(a, b)| a == no || b == no)
                || p.late_pair
                    .as_ref()
                    .is_some_and(|(a, b)| a == no || b == no)
                || p.lender.as_ref() == Some(no)
        };
        if self.planted.late_pair.is_none() {
            return reads;
        }
        if self.planted.on_leave.len() < ON_LEAVE_TIMES
            && let Some(no) = on_leave.first()
            && !planted_already(&self.planted, no)
        {
            reads.push((
                at.begins - Duration::minutes(2),
                self.people[no].card.clone(),
            ));
            self.planted.on_leave.push(no.clone());
        }
        if self.planted.visitor.is_none()
            && let Some(no) = self
                .people
                .keys()
                .find(|no| !expected.contains(no) && !planted_already(&self.planted, no))
        {
            self.planted.visitor = Some(no.clone());
        }
        if let Some(v) = self.planted.visitor.clone()
            && self.planted.visits < VISITS
            && !expected.contains(&v)
            && self
                .last_visit
                .is_none_or(|last| at.begins - last > Duration::days(1))
        {
            reads.push((
                at.begins - Duration::minutes(3),
                self.people[&v].card.clone(),
            ));
            self.planted.visits += 1;
            self.last_visit = Some(at.begins);
        }
        if self.planted.found_card.is_none()
            && let Some((no, old)) = lost.iter().find(|(no, _)| {
                !expected.contains(no)
                    && !comers.iter().any(|(c, _)| c == no)
                    && !planted_already(&self.planted, no)
            })
        {
            reads.push((at.begins - Duration::minutes(4), old.clone()));
            self.planted.found_card = Some(no.clone());
        }
        reads
    }

    /// A tap `kiosk` reads of `card` at `at` (its next counter).
    fn read(&mut self, kiosk: usize, at: DateTime<Utc>, card: CardUid) -> Tap {
        let id = self.next_id();
        let k = &mut self.kiosks[kiosk];
        k.counter += 1;
        Tap {
            id,
            kiosk: k.id.clone(),
            venue: k.venue.clone(),
            card,
            counter: k.counter,
            kiosk_time: at,
            // The demo's kiosks never drift: their monotonic clocks count
            // microseconds since 1970, and their sync points (`send`) agree
            // with their wall clocks.
            clock: Some(MonoReading {
                boot: 1,
                mono_us: u64::try_from(at.timestamp_micros()).unwrap_or_default(),
            }),
        }
    }

    /// Holds a time slot's sessions: each readied, their taps sent by
    /// their kiosks at once (as the halls' kiosks would), then each closed.
    async fn hold(&mut self, slot: Vec<Planned>) -> anyhow::Result<()> {
        let mut held = Vec::with_capacity(slot.len());
        for p in slot {
            held.push(self.prepare(p).await?);
        }
        self.batch.flush().await?;
        let mut sending = Vec::with_capacity(held.len());
        for h in &mut held {
            let k = &self.kiosks[h.kiosk];
            sending.push(tokio::spawn(send(
                self.ingest.clone(),
                k.id.clone(),
                k.secret.clone(),
                std::mem::take(&mut h.taps),
            )));
        }
        for task in sending {
            let (taps, events) = task.await??;
            self.taps += taps;
            self.batch.writer.events += events;
        }
        // The lent card at another hall, after that kiosk's own taps (its
        // counter runs on from them).
        for (k, at, card) in std::mem::take(&mut self.lent_reads) {
            let tap = self.read(k, at, card);
            let kiosk = &self.kiosks[k];
            let (taps, events) = send(
                self.ingest.clone(),
                kiosk.id.clone(),
                kiosk.secret.clone(),
                vec![tap],
            )
            .await?;
            self.taps += taps;
            self.batch.writer.events += events;
        }
        for h in held {
            self.finish(h).await?;
        }
        Ok(())
    }

    /// Closes a held session from the session as the log holds it, and now
    /// and then corrects an absence.
    async fn finish(&mut self, h: Held) -> anyhow::Result<()> {
        let Held {
            id,
            expected,
            mut absent,
            late,
            chair,
            unit,
            ..
        } = h;
        let stream = session_stream(id);
        let (mut state, mut version) = load::<Session>(self.store, &stream, u64::MAX).await?;
        let window = state
            .schedule
            .as_ref()
            .map(|s| s.window)
            .context("a scheduled session")?;
        let ends = window.end();
        let day = self.campus.date(window.start());
        let close = SessionCommand::Close {
            at: ends + Duration::minutes(10),
            audience: expected,
            kiosks_behind: vec![],
        };
        let events = decided(&mut state, |s| s.decide(&close, &self.org))?;
        let closed = ends + Duration::minutes(10);
        self.batch
            .stage(&stream, &mut version, &events, &[], closed)
            .await?;
        self.sessions += 1;

        // Now and then the union chair corrects an absence: the person was
        // away on university business.
        if let Some(no) = absent.first()
            && self.chance(25)
        {
            let cmd = SessionCommand::Correct {
                person: no.clone(),
                to: lectern_domain::AttendanceStatus::Excused,
                reason: "经核实，当日参加学校公务活动".into(),
                corrector: chair.clone(),
                dispute: None,
            };
            let events = decided(&mut state, |s| s.decide(&cmd, &self.org))?;
            let at = closed + Duration::days(2);
            self.batch
                .stage(&stream, &mut version, &events, &[], at)
                .await?;
            absent.remove(0);
        }
        if day.year() == 2008 && unit {
            if self.absent_2008.is_none()
                && let Some(no) = absent.first()
            {
                self.absent_2008 = Some((id, no.clone(), day));
            }
            if self.late_2008.is_none()
                && let Some(no) = late
            {
                self.late_2008 = Some((id, no, day));
            }
        }
        Ok(())
    }

    /// Study task completions in `month`, and the close of a task due in it.
    async fn study_tasks(&mut self, month: (i32, u32)) -> anyhow::Result<()> {
        for t in 0..self.tasks.len() {
            let task = &mut self.tasks[t];
            let (now, later): (Vec<_>, Vec<_>) = task
                .done
                .drain(..)
                .partition(|(d, _)| (d.year(), d.month()) == month);
            task.done = later;
            let stream = task_stream(task.id);
            for (on, no) in now {
                let Some(s) = self.people.get(&no) else {
                    continue;
                };
                let cmd = StudyCommand::Complete {
                    person: Attendee {
                        staff_no: no.clone(),
                        unit: s.unit.clone(),
                        programmes: vec![],
                    },
                    evidence: "学习笔记已提交".into(),
                    on,
                };
                let task = &mut self.tasks[t];
                let events = decided(&mut task.state, |s| s.decide(&cmd, &self.org))?;
                let at = self.campus.at(on, time(20, 0))?;
                self.batch
                    .stage(&stream, &mut task.version, &events, &[], at)
                    .await?;
            }
            let task = &mut self.tasks[t];
            if (task.due.year(), task.due.month()) == month {
                let cmd = StudyCommand::Close {
                    today: task.due,
                    audience: self.people.keys().cloned().collect(),
                };
                let events = decided(&mut task.state, |s| s.decide(&cmd, &self.org))?;
                let at = self.campus.at(task.due, time(23, 0))?;
                self.batch
                    .stage(&stream, &mut task.version, &events, &[], at)
                    .await?;
            }
        }
        self.tasks.retain(|t| t.state.missed.is_none());
        Ok(())
    }

    /// The study checks and union chairs' reports of the month before `month`
    /// (its figures from the read models, which show it by now), then the
    /// leadership group's meeting of `month`.
    async fn monthly(&mut self, month: (i32, u32)) -> anyhow::Result<()> {
        let (y, m) = month;
        let (py, pm) = prev_month(month);
        if (py, pm) >= FIRST && !matches!(pm, 2 | 8) {
            self.reports(py, pm, (y, m)).await?;
        }
        // Last: in July 2009, the demo's last fact (`made_by_demo`).
        if !matches!(m, 2 | 8) {
            let on = on_or_after(date(y, m, 1), Weekday::Thu);
            let cmd = MonthlyCommand::HoldMeeting {
                year: y,
                month: m,
                on,
                chair: Box::new(self.people[&self.leader].person.clone()),
                attendees: self.group.clone(),
                minutes: format!("领导小组{y}年{m}月例会：听取各单位学习情况汇报，部署下月工作。"),
            };
            let events = decided(&mut self.leadership.0, |l| l.decide(&cmd))?;
            let at = self.at(on, time(10, 0))?;
            self.batch
                .stage(LEADERSHIP_STREAM, &mut self.leadership.1, &events, &[], at)
                .await?;
        }
        Ok(())
    }

    /// The study checks and union chairs' reports of `py`-`pm`, made in
    /// `month`.
    async fn reports(&mut self, py: i32, pm: u32, (y, m): (i32, u32)) -> anyhow::Result<()> {
        let studying = self
            .opts
            .study_units
            .unwrap_or(self.units.len())
            .min(self.units.len());
        let period = Period::month(py, pm)?;
        for u in 0..studying {
            let unit = self.units[u].id.clone();
            let chair = self.people[&self.units[u].chair].person.clone();
            let stream = unit_month_stream(&unit, py, pm);
            let (mut state, mut version) = (Monthly::default(), 0);
            let checked = date(y, m, 2);
            let cmd = MonthlyCommand::CompleteStudyCheck {
                unit: unit.clone(),
                year: py,
                month: pm,
                checker: Box::new(chair.clone()),
                on: checked,
                notes: "学习笔记、考勤记录齐全".into(),
            };
            let events = decided(&mut state, |s| s.decide(&cmd))?;
            let at = self.at(checked, time(16, 0))?;
            self.batch
                .stage(&stream, &mut version, &events, &[], at)
                .await?;
            let figures =
                unit_month_figures(self.projections.db(), &self.campus, &unit, &period).await?;
            let submitted = date(y, m, if self.chance(40) { 8 } else { 3 });
            let cmd = MonthlyCommand::SubmitReport {
                unit: unit.clone(),
                year: py,
                month: pm,
                chair: Box::new(chair),
                narrative: format!(
                    "{py}年{pm}月共组织集中学习{}次，出勤率良好。",
                    figures.sessions_held
                ),
                figures,
                submitted_on: submitted,
            };
            let events = decided(&mut state, |s| s.decide(&cmd))?;
            let at = self.at(submitted, time(17, 0))?;
            self.batch
                .stage(&stream, &mut version, &events, &[], at)
                .await?;
        }
        Ok(())
    }

    /// Teachers' Day awards of `year`: nominations, endorsement, the vote,
    /// conferral on 10 September, exemplars featured.
    async fn awards_of(&mut self, year: i32) -> anyhow::Result<()> {
        let teachers: Vec<StaffNo> = self
            .people
            .iter()
            .filter(|(_, s)| s.category == StaffCategory::Teacher)
            .map(|(no, _)| no.clone())
            .collect();
        let nominated = self.at(date(year, 6, 15), time(10, 0))?;
        let endorsed = self.at(date(year, 7, 1), time(10, 0))?;
        let teachers_day = date(year, 9, 10);
        let conferred = self.at(teachers_day, time(10, 0))?;
        let ceremony = name(&format!("庆祝第{}个教师节暨表彰大会", year - 1984));
        for (id, title, level, kind, by_vote) in AWARDS {
            let (count, win) = match (level, kind, by_vote) {
                (_, _, true) => (8, 3),
                (AwardLevel::National, ..) => (1, 1),
                (AwardLevel::Provincial, ..) => (2, 2),
                (AwardLevel::City, ..) => (3, 3),
                (_, AwardKind::Collective, _) => (3, 2),
                _ => (10, 10),
            };
            let mut nominees = Vec::new();
            while nominees.len() < count {
                let n = if *kind == AwardKind::Collective {
                    Nominee::Unit(
                        self.units[self.rng.below(self.units.len() as u64) as usize]
                            .id
                            .clone(),
                    )
                } else {
                    Nominee::Person(
                        teachers[self.rng.below(teachers.len() as u64) as usize].clone(),
                    )
                };
                if !nominees.contains(&n) {
                    nominees.push(n);
                }
            }
            for n in &nominees {
                let cmd = AwardCommand::Nominate {
                    year,
                    nominee: n.clone(),
                    nominator: self.deputy.clone(),
                    citation: format!("爱岗敬业，为人师表，推荐参评{title}"),
                };
                self.award(id, nominated, cmd).await?;
                let cmd = AwardCommand::Endorse {
                    year,
                    nominee: n.clone(),
                    endorser: self.leader.clone(),
                };
                self.award(id, endorsed, cmd).await?;
            }
            let mut winners: Vec<Nominee> = nominees.iter().take(win).cloned().collect();
            if *by_vote {
                // Staff vote in the days before Teachers' Day; the most
                // votes win.
                let mut tally: HashMap<Nominee, u32> = HashMap::new();
                let voters: Vec<StaffNo> = self.people.keys().cloned().collect();
                for voter in voters {
                    if !self.chance(150) {
                        continue;
                    }
                    let pick = nominees[(self.rng.below(1000) * self.rng.below(1000) / 125_000)
                        as usize
                        % nominees.len()]
                    .clone();
                    if pick == Nominee::Person(voter.clone()) {
                        continue;
                    }
                    *tally.entry(pick.clone()).or_default() += 1;
                    let day = 1 + self.rng.below(7) as u32;
                    let at = self.at(date(year, 9, day), time(12, 0))?;
                    let cmd = AwardCommand::Vote {
                        year,
                        voter,
                        nominee: pick,
                    };
                    self.award(id, at, cmd).await?;
                }
                winners = nominees.clone();
                winners.sort_by_key(|n| std::cmp::Reverse(tally.get(n).copied().unwrap_or(0)));
                winners.truncate(win);
            }
            for n in &winners {
                let cmd = AwardCommand::Confer {
                    year,
                    nominee: n.clone(),
                    ceremony: ceremony.clone(),
                    on: teachers_day,
                };
                self.award(id, conferred, cmd).await?;
            }
            if matches!(level, AwardLevel::National | AwardLevel::Provincial) || *by_vote {
                let channel = match level {
                    AwardLevel::National => Channel::CampusTv,
                    AwardLevel::Provincial => Channel::Newspaper,
                    _ => Channel::CampusWeb,
                };
                let on = date(year, 9, 20);
                let at = self.at(on, time(9, 0))?;
                for n in winners.iter().take(1) {
                    let cmd = AwardCommand::Feature {
                        year,
                        nominee: n.clone(),
                        channel,
                        story: format!("{title}事迹：扎根讲台，潜心育人"),
                        on,
                    };
                    self.award(id, at, cmd).await?;
                }
            }
        }
        Ok(())
    }

    /// Closes `year` on the first working day after 8 January: every
    /// person's and every unit's total, appraised as the API does.
    async fn close_year(&mut self, year: i32) -> anyhow::Result<()> {
        let appraisal =
            positioned::<AppraisalEvent>(self.store, APPRAISAL_STREAM, u64::MAX).await?;
        let everyone = lectern_app::year_appraisals(
            self.projections.db(),
            &self.campus,
            &appraisal,
            self.people.keys(),
            year,
        )
        .await?;
        let on = on_or_after(date(year + 1, 1, 9), Weekday::Fri);
        let at = self.at(on, time(17, 0))?;
        let units: Vec<UnitId> = self.org.units().map(|u| u.id.clone()).collect();
        let units = lectern_app::unit_year_totals(
            self.store,
            self.projections.db(),
            &self.campus,
            &everyone,
            &units,
            year,
            on,
        )
        .await?;
        let cmd = AppraisalCommand::ClosePeriod {
            year,
            results: everyone.into_iter().map(|(no, a)| (no, a.total)).collect(),
            units,
            today: on,
        };
        let events = decided(&mut self.book.0, |b| b.decide(&cmd))?;
        self.batch
            .stage(APPRAISAL_STREAM, &mut self.book.1, &events, &[], at)
            .await?;
        self.batch.flush().await
    }

    /// Two disputes about 2008: an absence (upheld: the person was excused)
    /// and a late arrival (rejected: the kiosk's record stands). Filed
    /// within the deadline, assigned to the auditor, resolved as the API
    /// resolves them.
    async fn disputes(&mut self) -> anyhow::Result<()> {
        let closes = positioned::<AppraisalEvent>(self.store, APPRAISAL_STREAM, u64::MAX).await?;
        let closed_on = closes
            .iter()
            .find_map(|p| match &p.event {
                AppraisalEvent::AppraisalPeriodClosed { year: 2008, .. } => {
                    Some(self.campus.date(p.occurred_at))
                }
                _ => None,
            })
            .context("2008 is closed")?;
        let deadline = filing_deadline(closed_on, lectern_app::DISPUTE_WORKING_DAYS);
        let cases = [
            (
                self.absent_2008.clone(),
                Outcome::Upheld,
                "当日我在外参加学校组织的教学检查，不应记为缺席",
            ),
            (
                self.late_2008.clone(),
                Outcome::Rejected,
                "当日我按时到场，打卡机记录有误",
            ),
        ];
        let period = Period::year(2008)?;
        for (k, (case, outcome, claim)) in cases.into_iter().enumerate() {
            let Some((session, person, day)) = case else {
                continue;
            };
            // The contested line: the session's event behind it.
            let entries =
                person_entries(self.projections.db(), &self.campus, &person, &period).await?;
            let appraisal =
                positioned::<AppraisalEvent>(self.store, APPRAISAL_STREAM, u64::MAX).await?;
            let lines = appraise_entries(&person, &period, &appraisal, &entries)?.lines;
            let rule = if outcome == Outcome::Upheld {
                "absence"
            } else {
                "late"
            };
            let positions: Vec<u64> = lines
                .iter()
                .find(|l| l.rule == rule && l.date == day)
                .map(|l| l.positions.clone())
                .context("the disputed line is in the appraisal")?;
            let id = self.next_id();
            let filed_on = closed_on + Days::new(3 + k as u64);
            let mut dispute = (Dispute::default(), 0);
            let cmd = DisputeCommand::File {
                dispute: id,
                person: person.clone(),
                year: 2008,
                positions,
                claim: claim.into(),
                filed_on,
                deadline: Some(deadline),
                lines: lines.iter().flat_map(|l| l.positions.clone()).collect(),
            };
            let events = decided(&mut dispute.0, |d| d.decide(&cmd))?;
            let at = self.at(filed_on, time(10, 0))?;
            self.batch
                .stage(&dispute_stream(id), &mut dispute.1, &events, &[], at)
                .await?;
            let cmd = DisputeCommand::Assign {
                auditor: Box::new(self.people[&self.auditor].person.clone()),
            };
            let events = decided(&mut dispute.0, |d| d.decide(&cmd))?;
            let at = self.at(filed_on + Days::new(1), time(9, 0))?;
            self.batch
                .stage(&dispute_stream(id), &mut dispute.1, &events, &[], at)
                .await?;
            self.batch.flush().await?;
            let fixes = [AttendanceFix {
                session,
                to: lectern_domain::AttendanceStatus::Excused,
            }];
            let resolution = Resolution {
                id,
                outcome,
                reasoning: match outcome {
                    Outcome::Upheld => "经核实教务处派出记录，当日确在参加教学检查，改为请假",
                    Outcome::Rejected => "打卡机记录与考勤表一致，迟到属实，维持原记录",
                },
                attendance: if outcome == Outcome::Upheld {
                    &fixes
                } else {
                    &[]
                },
                adjustments: &[],
            };
            let meta = Metadata {
                actor: Some(format!("auditor:{}", self.auditor)),
                source: Some("demo".into()),
                correlation_id: Some(id),
                causation_id: None,
                at: None,
            };
            let resolved = self.at(filed_on + Days::new(7), time(15, 0))?;
            let requests =
                lectern_app::dispute_resolution(&self.app, &self.auditor, &meta, &resolution)
                    .await
                    .with_context(|| format!("resolving dispute {id}"))?;
            let requests: Vec<AppendRequest> = requests
                .into_iter()
                .map(|r| r.occurred_at(resolved))
                .collect();
            self.store.submit_all(requests).await?;
        }
        Ok(())
    }

    /// The end of `month`: next month's facts about people (the read
    /// models show them before its taps): lost cards replaced, new
    /// teachers in September, the navigation programme's new cohort.
    async fn end_of_month(&mut self, month: (i32, u32)) -> anyhow::Result<()> {
        let (ny, nm) = next_month(month);
        if (ny, nm) > LAST {
            return Ok(());
        }
        let first = date(ny, nm, 1);
        let at = self.at(first, time(8, 0))?;
        let everyone: Vec<StaffNo> = self.people.keys().cloned().collect();
        for no in everyone {
            if no == self.leader || !self.chance(2) {
                continue;
            }
            let old = self.people[&no].card.clone();
            let new = self.new_card();
            self.person(
                &no,
                at,
                PersonCommand::RevokeCard {
                    uid: old.clone(),
                    reason: RevocationReason::Lost,
                },
            )
            .await?;
            self.person(&no, at, PersonCommand::IssueCard { uid: new.clone() })
                .await?;
            self.people.get_mut(&no).expect("known").card = new;
            self.lost.push((no, old));
        }
        if nm == 9 && ny > 2005 {
            // New teachers join the departments.
            let hires = (self.opts.staff / 50).max(10);
            let departments: Vec<usize> = (0..self.units.len())
                .filter(|u| self.units[*u].kind == UnitKind::Department)
                .collect();
            for i in 0..hires {
                let u = departments[i as usize % departments.len()];
                let born = ny - 24 - self.rng.below(6) as i32;
                let birth = date(
                    born,
                    1 + self.rng.below(12) as u32,
                    1 + self.rng.below(28) as u32,
                );
                self.register(u, StaffCategory::Teacher, birth, date(ny, 9, 1), at)
                    .await?;
            }
        }
        if nm == 9 {
            self.enrol(ny).await?;
        }
        Ok(())
    }

    /// Enrols the navigation programme's cohort of `year` (200, then 100,
    /// 100 and 80: 480 in all) from the eligible young teachers.
    async fn enrol(&mut self, year: i32) -> anyhow::Result<()> {
        let want = match year {
            2005 => 200,
            2006 | 2007 => 100,
            2008 => 80,
            _ => return Ok(()),
        };
        let on = date(year, 9, 20);
        let rule = Eligibility::young_teachers();
        let eligible: Vec<StaffNo> = self
            .people
            .iter()
            .filter(|(no, s)| {
                !self.cohort.contains_key(*no) && rule.refusal(&s.person, on).is_none()
            })
            .map(|(no, _)| no.clone())
            .collect();
        if eligible.len() < want {
            bail!(
                "the navigation programme needs {want} eligible young teachers in {year}, \
                 but the campus has {}; give --staff a larger number",
                eligible.len()
            );
        }
        // An even spread over the eligible.
        let step = eligible.len() as f64 / want as f64;
        for i in 0..want {
            let no = eligible[(i as f64 * step) as usize].clone();
            let cmd = ProgrammeCommand::Enrol {
                person: Box::new(self.people[&no].person.clone()),
                on,
            };
            self.programme(YTNP, on, cmd).await?;
            self.cohort.insert(no.clone(), on);
            self.first_timers.insert(no);
        }
        Ok(())
    }
}
