//! Points-based appraisal (记分考核). Scoring rules are versioned and take
//! effect from a date (stream `appraisal`); the appraisal of a person for a
//! period is a fold over the log that yields the total and one explanation
//! line per point gained or lost, each naming the rule version applied and
//! the log positions of the events behind it. The sum of the lines is the
//! total, by construction.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::award::{AwardEvent, AwardLevel, Nominee};
use crate::campus::Campus;
use crate::error::{DomainError, Result};
use crate::monthly::MonthlyEvent;
use crate::org::UnitId;
use crate::period::Period;
use crate::session::{AttendanceStatus, SessionEvent};
use crate::study::StudyEvent;
use crate::values::StaffNo;

/// The stream of scoring rules, manual adjustments and year-end closes.
pub const APPRAISAL_STREAM: &str = "appraisal";

/// One version of the scoring rules. Deductions are positive numbers that
/// are subtracted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoringRules {
    pub version: u32,
    pub effective_from: NaiveDate,
    /// Points everyone starts a year with.
    pub base_points: i32,
    pub per_absence: i32,
    pub per_late: i32,
    pub per_missed_task: i32,
    /// Points an individual award at each level adds.
    pub award_bonus: BTreeMap<AwardLevel, i32>,
    /// Points a unit loses for a monthly report submitted late.
    pub per_late_report: i32,
    /// A month's report is due by this day of the following month.
    pub report_due_day: u32,
    /// What a unit gains and loses besides late reports (none under rules
    /// adopted before these existed).
    #[serde(default, skip_serializing_if = "UnitRules::is_none")]
    pub unit: UnitRules,
}

/// The seed's rule for a unit (科室): it loses study points when its
/// people miss study or leave study tasks unfinished, and when its monthly
/// report is late or missing; a collective award adds points. A unit's
/// people are the staff of the unit and the units below it on the day of
/// each fact (the people its monthly figures count).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRules {
    /// Points a unit loses for each absence of one of its people.
    #[serde(default)]
    pub per_member_absence: i32,
    /// Points a unit loses for each study task one of its people missed.
    #[serde(default)]
    pub per_member_missed_task: i32,
    /// Points a unit loses for a month whose report was never submitted,
    /// once its due day has passed.
    #[serde(default)]
    pub per_missing_report: i32,
    /// Points a collective award at each level adds to the unit.
    #[serde(default)]
    pub award_bonus: BTreeMap<AwardLevel, i32>,
}

impl UnitRules {
    fn is_none(&self) -> bool {
        self == &UnitRules::default()
    }
}

/// An event as the log holds it: where and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positioned<E> {
    pub position: u64,
    pub occurred_at: DateTime<Utc>,
    pub event: E,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AppraisalEvent {
    ScoringRulesAdopted {
        rules: ScoringRules,
    },
    PointsAdjusted {
        person: StaffNo,
        points: i32,
        reason: String,
        adjuster: StaffNo,
        on: NaiveDate,
        /// The dispute whose upheld resolution made this adjustment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dispute: Option<Uuid>,
    },
    AppraisalPeriodClosed {
        year: i32,
        /// Each person's total at the close.
        results: BTreeMap<StaffNo, i32>,
        /// Each unit's total at the close.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        units: BTreeMap<UnitId, i32>,
    },
}

impl DomainEvent for AppraisalEvent {
    fn event_type(&self) -> &'static str {
        match self {
            AppraisalEvent::ScoringRulesAdopted { .. } => "ScoringRulesAdopted",
            AppraisalEvent::PointsAdjusted { .. } => "PointsAdjusted",
            AppraisalEvent::AppraisalPeriodClosed { .. } => "AppraisalPeriodClosed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppraisalCommand {
    AdoptRules {
        rules: ScoringRules,
    },
    AdjustPoints {
        person: StaffNo,
        points: i32,
        reason: String,
        adjuster: StaffNo,
        on: NaiveDate,
        /// The dispute being upheld: only a dispute's resolution adjusts a
        /// closed year.
        dispute: Option<Uuid>,
    },
    /// Records the year's results; only once the year has ended on the
    /// campus calendar (`today`, the server's date).
    ClosePeriod {
        year: i32,
        results: BTreeMap<StaffNo, i32>,
        units: BTreeMap<UnitId, i32>,
        today: NaiveDate,
    },
}

/// The rules in force over time, and the closed years.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleBook {
    /// Ordered by `effective_from` (and version).
    pub rules: Vec<ScoringRules>,
    /// The closed years (their results stay in the events).
    pub closed: std::collections::BTreeSet<i32>,
}

impl RuleBook {
    /// The rules in force on `date`.
    pub fn rules_on(&self, date: NaiveDate) -> Option<&ScoringRules> {
        self.rules.iter().rev().find(|r| r.effective_from <= date)
    }

    pub fn decide(&self, command: &AppraisalCommand) -> Result<Vec<AppraisalEvent>> {
        match command {
            AppraisalCommand::AdoptRules { rules } => {
                if let Some(last) = self.rules.last() {
                    if rules.version <= last.version {
                        return Err(DomainError::invalid(
                            "rules version",
                            rules.version.to_string(),
                            format!("must be greater than the current version {}", last.version),
                        ));
                    }
                    if rules.effective_from < last.effective_from {
                        return Err(DomainError::invalid(
                            "effective date",
                            rules.effective_from.to_string(),
                            format!(
                                "is before version {}'s {}",
                                last.version, last.effective_from
                            ),
                        ));
                    }
                }
                if self.closed.contains(&rules.effective_from.year()) {
                    return Err(DomainError::Refused(format!(
                        "{} is closed; rules cannot take effect in it",
                        rules.effective_from.year()
                    )));
                }
                if !(1..=28).contains(&rules.report_due_day) {
                    return Err(DomainError::invalid(
                        "report due day",
                        rules.report_due_day.to_string(),
                        "must be a day from 1 to 28",
                    ));
                }
                for (what, v) in [
                    ("absence deduction", rules.per_absence),
                    ("late deduction", rules.per_late),
                    ("missed-task deduction", rules.per_missed_task),
                    ("late-report deduction", rules.per_late_report),
                    ("unit absence deduction", rules.unit.per_member_absence),
                    (
                        "unit missed-task deduction",
                        rules.unit.per_member_missed_task,
                    ),
                    ("missing-report deduction", rules.unit.per_missing_report),
                ] {
                    if v < 0 {
                        return Err(DomainError::invalid(
                            what,
                            v.to_string(),
                            "is deducted, so give it as 0 or more",
                        ));
                    }
                }
                Ok(vec![AppraisalEvent::ScoringRulesAdopted {
                    rules: rules.clone(),
                }])
            }
            AppraisalCommand::AdjustPoints {
                person,
                points,
                reason,
                adjuster,
                on,
                dispute,
            } => {
                if *points == 0 {
                    return Err(DomainError::invalid(
                        "adjustment",
                        "0",
                        "must add or remove points",
                    ));
                }
                if reason.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "adjustment reason",
                        reason,
                        "must not be empty",
                    ));
                }
                if self.closed.contains(&on.year()) && dispute.is_none() {
                    return Err(DomainError::Refused(format!(
                        "{} is closed: only an upheld dispute changes its points",
                        on.year()
                    )));
                }
                Ok(vec![AppraisalEvent::PointsAdjusted {
                    person: person.clone(),
                    points: *points,
                    reason: reason.trim().to_owned(),
                    adjuster: adjuster.clone(),
                    on: *on,
                    dispute: *dispute,
                }])
            }
            AppraisalCommand::ClosePeriod {
                year,
                results,
                units,
                today,
            } => {
                if self.closed.contains(year) {
                    return Err(DomainError::Refused(format!("{year} is closed already")));
                }
                if today.year() <= *year {
                    return Err(DomainError::Refused(format!(
                        "the {year} appraisal year ends on {year}-12-31 and can be closed from \
                         {}-01-01; today is {today}",
                        year + 1
                    )));
                }
                Ok(vec![AppraisalEvent::AppraisalPeriodClosed {
                    year: *year,
                    results: results.clone(),
                    units: units.clone(),
                }])
            }
        }
    }
}

impl Aggregate for RuleBook {
    type Event = AppraisalEvent;

    fn apply(&mut self, event: &AppraisalEvent) -> Result<()> {
        match event {
            AppraisalEvent::ScoringRulesAdopted { rules } => {
                if self
                    .rules
                    .last()
                    .is_some_and(|l| l.version >= rules.version)
                {
                    return Err(DomainError::Fold {
                        event: event.event_type(),
                        reason: format!("version {} is not newer", rules.version),
                    });
                }
                self.rules.push(rules.clone());
            }
            AppraisalEvent::PointsAdjusted { .. } => {}
            AppraisalEvent::AppraisalPeriodClosed { year, .. } => {
                self.closed.insert(*year);
            }
        }
        Ok(())
    }
}

/// One point gained or lost, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub points: i32,
    /// `base`, `absence`, `late`, `missed_task`, `award`, `adjustment` or
    /// (for units) `late_report`, `missing_report`, `member_absence`,
    /// `member_missed_task`, `collective_award`.
    pub rule: &'static str,
    /// The version of the scoring rules applied (none for a manual adjustment).
    pub rule_version: Option<u32>,
    pub date: NaiveDate,
    /// What the line is about: a session title, an adjustment's reason.
    pub subject: String,
    /// Log positions of the events behind the line.
    pub positions: Vec<u64>,
}

/// The appraisal of a person or a unit for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appraisal {
    /// The staff number or unit id appraised.
    pub subject: String,
    pub total: i32,
    pub lines: Vec<Line>,
}

/// The streams an appraisal reads, each in log order. `sessions` and
/// `tasks` may hold streams that do not concern the person; they count
/// nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Histories<'a> {
    pub appraisal: &'a [Positioned<AppraisalEvent>],
    pub sessions: &'a [Vec<Positioned<SessionEvent>>],
    pub tasks: &'a [Vec<Positioned<StudyEvent>>],
    pub awards: &'a [Vec<Positioned<AwardEvent>>],
    pub monthly: &'a [Vec<Positioned<MonthlyEvent>>],
}

/// A fact that may give a person a line, with what scoring it needs: the
/// fold derives entries from the streams (`appraise_person`), and the read
/// models keep the same entries (the projections' ledger), so both give
/// the same lines through `Entry::line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The person's final status at a session that was not cancelled, on
    /// the session's campus date; `positions` are the events that set it.
    Attendance {
        status: AttendanceStatus,
        date: NaiveDate,
        title: String,
        positions: Vec<u64>,
    },
    /// A study task the person missed: its assignment and its close.
    MissedTask {
        due: NaiveDate,
        title: String,
        assigned: u64,
        closed: u64,
    },
    /// An award the person holds (conferred and not revoked since).
    Award {
        level: AwardLevel,
        title: String,
        year: i32,
        on: NaiveDate,
        position: u64,
    },
}

impl Entry {
    /// The line this entry gives over `period` under `book`, if any.
    pub fn line(&self, period: &Period, book: &RuleBook) -> Option<Line> {
        match self {
            Entry::Attendance {
                status,
                date,
                title,
                positions,
            } => {
                if !period.contains(*date) {
                    return None;
                }
                let rules = book.rules_on(*date)?;
                let (points, rule) = match status {
                    AttendanceStatus::Absent => (-rules.per_absence, "absence"),
                    AttendanceStatus::Late => (-rules.per_late, "late"),
                    AttendanceStatus::Present | AttendanceStatus::Excused => return None,
                };
                Some(Line {
                    points,
                    rule,
                    rule_version: Some(rules.version),
                    date: *date,
                    subject: title.clone(),
                    positions: positions.clone(),
                })
            }
            Entry::MissedTask {
                due,
                title,
                assigned,
                closed,
            } => {
                if !period.contains(*due) {
                    return None;
                }
                let rules = book.rules_on(*due)?;
                Some(Line {
                    points: -rules.per_missed_task,
                    rule: "missed_task",
                    rule_version: Some(rules.version),
                    date: *due,
                    subject: title.clone(),
                    positions: vec![*assigned, *closed],
                })
            }
            Entry::Award {
                level,
                title,
                year,
                on,
                position,
            } => {
                if !period.contains(*on) {
                    return None;
                }
                let rules = book.rules_on(*on)?;
                let points = *rules.award_bonus.get(level)?;
                (points != 0).then(|| Line {
                    points,
                    rule: "award",
                    rule_version: Some(rules.version),
                    date: *on,
                    subject: format!("{title} ({year})"),
                    positions: vec![*position],
                })
            }
        }
    }
}

/// Appraises `person` over `period`.
pub fn appraise_person(
    person: &StaffNo,
    period: &Period,
    campus: &Campus,
    histories: &Histories<'_>,
) -> Result<Appraisal> {
    let mut entries: Vec<Entry> = Vec::new();
    for history in histories.sessions {
        entries.extend(attendance_entry(person, campus, history));
    }
    for history in histories.tasks {
        entries.extend(missed_task_entry(person, history));
    }
    for history in histories.awards {
        entries.extend(award_entries(person, history));
    }
    appraise_entries(person, period, histories.appraisal, &entries)
}

/// Appraises `person` over `period` from the entries that concern them
/// (entries of other people must not be given) and the appraisal stream:
/// the base points of a year, a line per entry that scores, and the
/// manual adjustments.
pub fn appraise_entries(
    person: &StaffNo,
    period: &Period,
    appraisal: &[Positioned<AppraisalEvent>],
    entries: &[Entry],
) -> Result<Appraisal> {
    let book = RuleBook::fold(appraisal.iter().map(|p| &p.event))?;
    let mut lines: Vec<Line> = base_line(period, &book, appraisal).into_iter().collect();
    lines.extend(entries.iter().filter_map(|e| e.line(period, &book)));
    for p in appraisal {
        if let AppraisalEvent::PointsAdjusted {
            person: who,
            points,
            reason,
            on,
            ..
        } = &p.event
            && who == person
            && period.contains(*on)
        {
            lines.push(Line {
                points: *points,
                rule: "adjustment",
                rule_version: None,
                date: *on,
                subject: reason.clone(),
                positions: vec![p.position],
            });
        }
    }
    Ok(Appraisal {
        subject: person.to_string(),
        total: lines.iter().map(|l| l.points).sum(),
        lines: sorted(lines),
    })
}

/// What a unit's appraisal reads besides the streams.
#[derive(Debug, Clone, Copy)]
pub struct UnitFacts<'a> {
    /// The server's campus date: a report never submitted costs points
    /// once its due day is before it.
    pub today: NaiveDate,
    /// The first campus date the unit existed (no report is due for a
    /// month that ended before it).
    pub established: NaiveDate,
    /// The unit's people over time (the unit and the units below it).
    pub people: &'a UnitPeople,
    /// The appraisals over the period of everyone who was one of its
    /// people during it (`subject` is the staff number).
    pub members: &'a [Appraisal],
}

/// Appraises a unit over `period` (the seed's rule, see `UnitRules`): base
/// points for a year; for each monthly report submitted after its due day
/// (`late_report`) or never submitted by a due day now past
/// (`missing_report`); for each absence (`member_absence`) and missed study
/// task (`member_missed_task`) of someone who was one of the unit's people
/// on its day; and for each collective award conferred on the unit
/// (`collective_award`).
pub fn appraise_unit(
    unit: &UnitId,
    period: &Period,
    histories: &Histories<'_>,
    facts: &UnitFacts<'_>,
) -> Result<Appraisal> {
    let book = RuleBook::fold(histories.appraisal.iter().map(|p| &p.event))?;
    let adopted = |version: u32| {
        histories.appraisal.iter().find_map(|p| match &p.event {
            AppraisalEvent::ScoringRulesAdopted { rules } if rules.version == version => {
                Some(p.position)
            }
            _ => None,
        })
    };
    let mut lines: Vec<Line> = base_line(period, &book, histories.appraisal)
        .into_iter()
        .collect();
    let mut submitted: BTreeMap<(i32, u32), (NaiveDate, u64)> = BTreeMap::new();
    for history in histories.monthly {
        for p in history {
            if let MonthlyEvent::MonthlyReportSubmitted {
                unit: u,
                year,
                month,
                submitted_on,
                ..
            } = &p.event
                && u == unit
            {
                submitted.insert((*year, *month), (*submitted_on, p.position));
            }
        }
    }
    // Every month whose report falls due in the period.
    let mut first = period.from.with_day(1).expect("day 1 exists") - chrono::Months::new(1);
    while first <= period.until {
        let m = Period::month(first.year(), first.month())?;
        first = first + chrono::Months::new(1);
        if m.until < facts.established {
            continue;
        }
        let Some(rules) = book.rules_on(m.until) else {
            continue;
        };
        let Some(due) = (m.until + chrono::Days::new(1)).with_day(rules.report_due_day) else {
            continue;
        };
        let label = format!("{}-{:02}", m.from.year(), m.from.month());
        match submitted.get(&(m.from.year(), m.from.month())) {
            Some((on, position)) if *on > due && period.contains(*on) => lines.push(Line {
                points: -rules.per_late_report,
                rule: "late_report",
                rule_version: Some(rules.version),
                date: *on,
                subject: format!("monthly report for {label}, due {due}"),
                positions: vec![*position],
            }),
            None if due < facts.today && period.contains(due) => lines.push(Line {
                points: -rules.unit.per_missing_report,
                rule: "missing_report",
                rule_version: Some(rules.version),
                date: due,
                subject: format!("monthly report for {label}, due {due}, not submitted"),
                positions: adopted(rules.version).into_iter().collect(),
            }),
            _ => {}
        }
    }
    for member in facts.members {
        let Ok(no) = StaffNo::parse(&member.subject) else {
            continue;
        };
        for l in &member.lines {
            if !period.contains(l.date) || !facts.people.on(&no, l.date) {
                continue;
            }
            let Some(rules) = book.rules_on(l.date) else {
                continue;
            };
            let (points, rule) = match l.rule {
                "absence" => (rules.unit.per_member_absence, "member_absence"),
                "missed_task" => (rules.unit.per_member_missed_task, "member_missed_task"),
                _ => continue,
            };
            lines.push(Line {
                points: -points,
                rule,
                rule_version: Some(rules.version),
                date: l.date,
                subject: format!("{no}: {}", l.subject),
                positions: l.positions.clone(),
            });
        }
    }
    let me = Nominee::Unit(unit.clone());
    for history in histories.awards {
        for entry in awards_of(&me, history) {
            let Entry::Award {
                level,
                title,
                year,
                on,
                position,
            } = entry
            else {
                continue;
            };
            let Some(rules) = book.rules_on(on).filter(|_| period.contains(on)) else {
                continue;
            };
            lines.push(Line {
                points: rules.unit.award_bonus.get(&level).copied().unwrap_or(0),
                rule: "collective_award",
                rule_version: Some(rules.version),
                date: on,
                subject: format!("{title} ({year})"),
                positions: vec![position],
            });
        }
    }
    // A rule worth nothing (older rules, or a deduction set to 0) adds no
    // line, as for a person.
    lines.retain(|l| l.points != 0 || l.rule == "base");
    Ok(Appraisal {
        subject: unit.to_string(),
        total: lines.iter().map(|l| l.points).sum(),
        lines: sorted(lines),
    })
}

/// The people of a unit and of the units below it over time: each
/// person's spans of belonging, `[since, until)` on the campus calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitPeople {
    spans: BTreeMap<StaffNo, Vec<(NaiveDate, Option<NaiveDate>)>>,
}

impl UnitPeople {
    /// Adds a span: `person` belonged from `since` until the day before
    /// `until` (`None`: still).
    pub fn insert(&mut self, person: StaffNo, since: NaiveDate, until: Option<NaiveDate>) {
        self.spans.entry(person).or_default().push((since, until));
    }

    /// Whether `person` was one of the unit's people on `date`.
    pub fn on(&self, person: &StaffNo, date: NaiveDate) -> bool {
        self.spans.get(person).is_some_and(|spans| {
            spans
                .iter()
                .any(|(since, until)| *since <= date && until.is_none_or(|u| date < u))
        })
    }

    /// Everyone who was one of the unit's people at some time in `period`.
    pub fn during(&self, period: &Period) -> Vec<StaffNo> {
        self.spans
            .iter()
            .filter(|(_, spans)| {
                spans.iter().any(|(since, until)| {
                    *since <= period.until && until.is_none_or(|u| u > period.from)
                })
            })
            .map(|(p, _)| p.clone())
            .collect()
    }
}

fn sorted(mut lines: Vec<Line>) -> Vec<Line> {
    lines.sort_by(|a, b| (a.date, a.positions.first()).cmp(&(b.date, b.positions.first())));
    lines
}

/// The base points of a year, under the rules in force at its start (or,
/// for rules first adopted during the year, at its end).
fn base_line(
    period: &Period,
    book: &RuleBook,
    appraisal: &[Positioned<AppraisalEvent>],
) -> Option<Line> {
    if !period.grants_base {
        return None;
    }
    let rules = book
        .rules_on(period.from)
        .or_else(|| book.rules_on(period.until))?;
    let adopts_these = |e: &AppraisalEvent| match e {
        AppraisalEvent::ScoringRulesAdopted { rules: r } => r.version == rules.version,
        _ => false,
    };
    let adopted = appraisal
        .iter()
        .find(|p| adopts_these(&p.event))
        .map(|p| p.position);
    Some(Line {
        points: rules.base_points,
        rule: "base",
        rule_version: Some(rules.version),
        date: period.from,
        subject: format!("base points for {}", period.from.year()),
        positions: adopted.into_iter().collect(),
    })
}

/// The awards of a category's stream that `person` holds: one entry per
/// year conferred and not revoked since.
fn award_entries(person: &StaffNo, history: &[Positioned<AwardEvent>]) -> Vec<Entry> {
    awards_of(&Nominee::Person(person.clone()), history)
}

/// The awards of a category's stream that `me` (a person or a unit)
/// holds: one entry per year conferred and not revoked since.
fn awards_of(me: &Nominee, history: &[Positioned<AwardEvent>]) -> Vec<Entry> {
    let Some((level, title)) = history.iter().find_map(|p| match &p.event {
        AwardEvent::AwardCategoryDefined { level, title, .. } => Some((*level, title.to_string())),
        _ => None,
    }) else {
        return Vec::new();
    };
    let mut held: BTreeMap<i32, (u64, NaiveDate)> = BTreeMap::new();
    for p in history {
        match &p.event {
            AwardEvent::AwardConferred {
                year, nominee, on, ..
            } if nominee == me => {
                held.insert(*year, (p.position, *on));
            }
            AwardEvent::AwardRevoked { year, nominee, .. } if nominee == me => {
                held.remove(year);
            }
            _ => {}
        }
    }
    held.into_iter()
        .map(|(year, (position, on))| Entry::Award {
            level,
            title: title.clone(),
            year,
            on,
            position,
        })
        .collect()
}

/// The entry of a closed study task if `person` missed it.
fn missed_task_entry(person: &StaffNo, history: &[Positioned<StudyEvent>]) -> Option<Entry> {
    let (assigned, title, due) = history.iter().find_map(|p| match &p.event {
        StudyEvent::StudyTaskAssigned(a) => Some((p.position, a.title.to_string(), a.due)),
        _ => None,
    })?;
    let closed = history.iter().find_map(|p| match &p.event {
        StudyEvent::StudyTaskClosed { missed } if missed.contains(person) => Some(p.position),
        _ => None,
    })?;
    Some(Entry::MissedTask {
        due,
        title,
        assigned,
        closed,
    })
}

/// The entry of a session for `person`, if they have a status there and
/// it was not cancelled: their final status (the latest of attendance,
/// leave, absence and corrections, as the session's roster folds it) on
/// the session's campus date.
fn attendance_entry(
    person: &StaffNo,
    campus: &Campus,
    history: &[Positioned<SessionEvent>],
) -> Option<Entry> {
    let mut title = String::new();
    let mut date = None;
    let mut cancelled = false;
    let mut status: Option<AttendanceStatus> = None;
    let mut positions: Vec<u64> = Vec::new();
    for p in history {
        if p.event.status_of() == Some(person) {
            positions.push(p.position);
        }
        match &p.event {
            SessionEvent::SessionScheduled(s) => {
                title = s.title.to_string();
                date = Some(campus.date(s.window.start()));
            }
            SessionEvent::SessionRescheduled { window, .. } => {
                date = Some(campus.date(window.start()))
            }
            SessionEvent::SessionCancelled { .. } => cancelled = true,
            SessionEvent::AttendanceRecorded {
                person: who,
                status: s,
                ..
            } if who == person => status = Some(*s),
            SessionEvent::LeaveApproved { person: who, .. } if who == person => {
                status.get_or_insert(AttendanceStatus::Excused);
            }
            SessionEvent::AbsenceRecorded { person: who } if who == person => {
                status = Some(AttendanceStatus::Absent)
            }
            SessionEvent::AttendanceCorrected {
                person: who, to, ..
            } if who == person => status = Some(*to),
            _ => {}
        }
    }
    if cancelled {
        return None;
    }
    Some(Entry::Attendance {
        status: status?,
        date: date?,
        title,
        positions,
    })
}
