//! Reports as folds over session and task streams: the programme report
//! (sessions held by kind, distinct participants; per year and in total)
//! and a unit's monthly figures.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::appraisal::UnitPeople;
use crate::campus::Campus;
use crate::error::Result;
use crate::org::UnitId;
use crate::period::Period;
use crate::session::{AttendanceStatus, ProgrammeId, Session, SessionEvent, SessionKind};
use crate::study::StudyEvent;
use crate::values::StaffNo;

/// Sessions held by kind and the number of distinct participants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgrammeFigures {
    pub sessions: BTreeMap<SessionKind, u32>,
    pub participants: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgrammeReport {
    pub by_year: BTreeMap<i32, ProgrammeFigures>,
    pub total: ProgrammeFigures,
}

/// A session counts as held once it is closed and was not cancelled; a
/// participant is a person whose final status at a held session of the
/// programme is present or late.
pub fn programme_report(
    programme: &ProgrammeId,
    campus: &Campus,
    sessions: &[Vec<SessionEvent>],
) -> Result<ProgrammeReport> {
    let mut report = ProgrammeReport::default();
    let mut people_by_year: BTreeMap<i32, BTreeSet<StaffNo>> = BTreeMap::new();
    let mut people: BTreeSet<StaffNo> = BTreeSet::new();
    for history in sessions {
        let s = Session::fold(history)?;
        let Some(schedule) = s.schedule.as_ref() else {
            continue;
        };
        if schedule.programme.as_ref() != Some(programme) || s.cancelled || !s.closed {
            continue;
        }
        let year = campus.date(schedule.window.start()).year();
        let figures = report.by_year.entry(year).or_default();
        *figures.sessions.entry(schedule.kind).or_default() += 1;
        *report.total.sessions.entry(schedule.kind).or_default() += 1;
        for (who, status) in &s.roster {
            if matches!(status, AttendanceStatus::Present | AttendanceStatus::Late) {
                people_by_year.entry(year).or_default().insert(who.clone());
                people.insert(who.clone());
            }
        }
    }
    for (year, who) in people_by_year {
        report.by_year.entry(year).or_default().participants = who.len() as u32;
    }
    report.total.participants = people.len() as u32;
    Ok(report)
}

/// A unit's month, as its union chair reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitMonthFigures {
    /// Sessions the unit organised and held in the month.
    pub sessions_held: u32,
    /// The statuses of the unit's people (the unit and the units below it,
    /// on the day) at the sessions closed in the month.
    pub present: u32,
    pub late: u32,
    pub absent: u32,
    pub excused: u32,
    /// Study tasks completed in the month by the unit's people.
    pub tasks_done: u32,
}

impl UnitMonthFigures {
    /// Present or late, per thousand of everyone expected (excused people
    /// are expected too); `None` when nobody was expected.
    pub fn attendance_permille(&self) -> Option<u32> {
        let expected = self.present + self.late + self.absent + self.excused;
        (expected > 0).then(|| (self.present + self.late) * 1000 / expected)
    }
}

/// The figures of `unit` for `month` (see `Period::month`): the sessions
/// it organised and closed in the month, and what its `people` (the unit
/// and the units below it, on each day) did: their statuses at every
/// session closed in the month, whoever organised it, and the study tasks
/// they completed in it. `sessions` and `tasks` may hold streams that do
/// not concern the unit.
pub fn unit_month(
    unit: &UnitId,
    month: &Period,
    campus: &Campus,
    sessions: &[Vec<SessionEvent>],
    tasks: &[Vec<StudyEvent>],
    people: &UnitPeople,
) -> Result<UnitMonthFigures> {
    let mut f = UnitMonthFigures::default();
    for history in sessions {
        let s = Session::fold(history)?;
        let Some(schedule) = s.schedule.as_ref() else {
            continue;
        };
        let day = campus.date(schedule.window.start());
        if s.cancelled || !s.closed || !month.contains(day) {
            continue;
        }
        if &schedule.organiser == unit {
            f.sessions_held += 1;
        }
        for (who, status) in &s.roster {
            if !people.on(who, day) {
                continue;
            }
            match status {
                AttendanceStatus::Present => f.present += 1,
                AttendanceStatus::Late => f.late += 1,
                AttendanceStatus::Absent => f.absent += 1,
                AttendanceStatus::Excused => f.excused += 1,
            }
        }
    }
    for history in tasks {
        for e in history {
            if let StudyEvent::StudyTaskCompleted { person, on, .. } = e
                && people.on(person, *on)
                && month.contains(*on)
            {
                f.tasks_done += 1;
            }
        }
    }
    Ok(f)
}
