//! Replay: a person's or a unit's appraisal as the log stood at a moment,
//! by the domain's folds over the streams themselves (not the read models).
//!
//! Two questions, two cut-offs:
//! - `AsOf::Occurred(t)`: what was true at `t` with everything known now —
//!   events that happened by `t`, however late they were recorded (a kiosk
//!   that synced the next day, a correction dated back);
//! - `AsOf::Recorded(t)`: what the system showed at `t` — events the log
//!   held by `t`.
//!
//! Which streams to read comes from the read models (the sessions,
//! tasks and award categories that ever named the person); what is in
//! them comes from the log alone, so a read model that is wrong can leave a
//! stream out but cannot change a line.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use std::collections::BTreeMap;

use lectern_domain::{
    APPRAISAL_STREAM, Aggregate, Appraisal, AppraisalEvent, AttendanceStatus, AwardEvent, Campus,
    CategoryId, DomainEvent, Histories, Leave, MonthlyEvent, ORG_STREAM, OrgEvent, Period,
    Positioned, Session, SessionEvent, StaffNo, StudyEvent, UnitFacts, UnitId, UnitMonthFigures,
    appraise_entries, appraise_person, appraise_unit, award_stream, person_stream, session_stream,
    task_stream, unit_month, unit_month_stream,
};
use lectern_projections::{
    ReadDb, Val, decode, subtree_pattern, subtree_people, unit_entries, unit_people,
};
use lectern_store::{RecordedEvent, Store};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::{Error, Result};

/// Which events count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Everything in the log now.
    Now,
    /// Events that happened (`occurred_at`) by this moment.
    Occurred(DateTime<Utc>),
    /// Events the log held (`recorded_at`) by this moment.
    Recorded(DateTime<Utc>),
}

impl AsOf {
    fn admits(self, e: &RecordedEvent) -> bool {
        match self {
            AsOf::Now => true,
            AsOf::Occurred(t) => e.occurred_at <= t,
            AsOf::Recorded(t) => e.recorded_at <= t,
        }
    }
}

/// Reads `stream` from the log, the events `as_of` admits, as stored.
async fn raw_history(store: &Store, stream: &str, as_of: AsOf) -> Result<Vec<RecordedEvent>> {
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let page = store.read_stream(stream, from, 1000).await?;
        let Some(last) = page.last() else { break };
        from = last.stream_version + 1;
        out.extend(page.into_iter().filter(|e| as_of.admits(e)));
    }
    Ok(out)
}

/// Decodes stored events as a stream's domain events.
fn decoded<E: DomainEvent + DeserializeOwned>(
    events: &[RecordedEvent],
) -> Result<Vec<Positioned<E>>> {
    events
        .iter()
        .map(|e| {
            Ok(Positioned {
                position: e.position,
                occurred_at: e.occurred_at,
                event: decode(e)?,
            })
        })
        .collect()
}

/// Reads `stream` from the log, the events `as_of` admits, decoded.
async fn history<E: DomainEvent + DeserializeOwned>(
    store: &Store,
    stream: &str,
    as_of: AsOf,
) -> Result<Vec<Positioned<E>>> {
    decoded(&raw_history(store, stream, as_of).await?)
}

/// Reads `stream` as `history` does, without the positions.
async fn events<E: DomainEvent + DeserializeOwned>(
    store: &Store,
    stream: &str,
    as_of: AsOf,
) -> Result<Vec<E>> {
    Ok(history::<E>(store, stream, as_of)
        .await?
        .into_iter()
        .map(|p| p.event)
        .collect())
}

/// The ids a query selects as `id`.
async fn ids(db: &ReadDb, sql: &str, args: &[Val]) -> Result<Vec<String>> {
    Ok(db
        .fetch(sql, args)
        .await?
        .into_iter()
        .filter_map(|r| r.opt("id"))
        .collect())
}

/// The stored events a person's appraisal is folded from, one list per
/// stream (sessions, study tasks, award categories, the appraisal stream).
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub streams: Vec<Vec<RecordedEvent>>,
}

/// Events decided but not yet appended, folded as if they were last in
/// their streams: what a resolution will make of an appraisal.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    pub sessions: Vec<(Uuid, Vec<SessionEvent>)>,
    pub appraisal: Vec<AppraisalEvent>,
}

/// The sessions dated in `period` (on the campus clock) that know of
/// `person` now, by the read models, oldest first.
pub async fn sessions_of(
    db: &ReadDb,
    campus: &Campus,
    person: &StaffNo,
    period: &Period,
) -> Result<Vec<Uuid>> {
    // A day's margin either side for the time zone.
    let from = campus
        .at(period.from - Duration::days(1), NaiveTime::MIN)
        .map_err(|e| Error::invalid("period", period.from.to_string(), e.to_string()))?;
    let until = campus
        .at(period.until + Duration::days(2), NaiveTime::MIN)
        .map_err(|e| Error::invalid("period", period.until.to_string(), e.to_string()))?;
    let rows = db
        .fetch(
            "SELECT session_id, MIN(starts_at) AS starts_at FROM rm_attendance WHERE staff_no = $1 \
             AND starts_at >= $2 AND starts_at < $3 GROUP BY session_id \
             ORDER BY MIN(starts_at), session_id",
            &[
                Val::from(person.as_str()),
                Val::from(from),
                Val::from(until),
            ],
        )
        .await?;
    rows.iter()
        .filter_map(|r| r.get("session_id").as_str())
        .map(|id| Uuid::parse_str(id).map_err(|e| Error::invalid("session id", id, e.to_string())))
        .collect()
}

/// Reads the streams behind `person`'s appraisal over `period`, as the log
/// stood `as_of`.
pub async fn gather_person(
    store: &Store,
    db: &ReadDb,
    campus: &Campus,
    person: &StaffNo,
    period: &Period,
    as_of: AsOf,
) -> Result<Evidence> {
    let session_ids = sessions_of(db, campus, person, period).await?;
    let who = Val::from(person.as_str());
    let task_ids = ids(
        db,
        "SELECT DISTINCT task_id AS id FROM rm_task_people WHERE staff_no = $1",
        std::slice::from_ref(&who),
    )
    .await?;
    let categories = ids(
        db,
        "SELECT DISTINCT category AS id FROM rm_nominations WHERE nominee_kind = 'person' \
         AND nominee = $1",
        std::slice::from_ref(&who),
    )
    .await?;

    let uuid = |what: &'static str, id: &str| {
        Uuid::parse_str(id).map_err(|e| Error::invalid(what, id, e.to_string()))
    };
    let mut streams: Vec<String> = session_ids.iter().map(|&id| session_stream(id)).collect();
    for id in &task_ids {
        streams.push(task_stream(uuid("task id", id)?));
    }
    for c in &categories {
        let category = CategoryId::parse(c)
            .map_err(|e| Error::invalid("award category", c.as_str(), e.to_string()))?;
        streams.push(award_stream(&category));
    }
    streams.push(APPRAISAL_STREAM.to_owned());
    let mut evidence = Evidence::default();
    for stream in &streams {
        evidence
            .streams
            .push(raw_history(store, stream, as_of).await?);
    }
    Ok(evidence)
}

/// Folds `person`'s appraisal over `period` from `evidence` (with
/// `pending` after it), by the domain's rules: needs no database.
pub fn fold_person(
    person: &StaffNo,
    period: &Period,
    campus: &Campus,
    evidence: &Evidence,
    pending: &Pending,
) -> Result<Appraisal> {
    let mut appraisal = Vec::new();
    let mut sessions: Vec<(Option<Uuid>, Vec<Positioned<SessionEvent>>)> = Vec::new();
    let mut tasks = Vec::new();
    let mut awards = Vec::new();
    for stream in &evidence.streams {
        let Some(name) = stream.first().map(|e| e.stream_id.as_str()) else {
            continue;
        };
        if name == APPRAISAL_STREAM {
            appraisal.extend(decoded::<AppraisalEvent>(stream)?);
        } else if let Some(id) = name.strip_prefix("session-") {
            sessions.push((Uuid::parse_str(id).ok(), decoded(stream)?));
        } else if name.starts_with("task-") {
            tasks.push(decoded::<StudyEvent>(stream)?);
        } else if name.starts_with("award-") {
            awards.push(decoded::<AwardEvent>(stream)?);
        } else {
            return Err(Error::invalid(
                "evidence",
                name,
                "is not a session, study task, award or the appraisal stream",
            ));
        }
    }
    fn later<E>(event: E) -> Positioned<E> {
        Positioned {
            position: 0,
            occurred_at: chrono::Utc::now(),
            event,
        }
    }
    for (id, events) in &pending.sessions {
        let at = match sessions.iter().position(|(s, _)| s == &Some(*id)) {
            Some(i) => i,
            None => {
                sessions.push((Some(*id), Vec::new()));
                sessions.len() - 1
            }
        };
        sessions[at].1.extend(events.iter().cloned().map(later));
    }
    appraisal.extend(pending.appraisal.iter().cloned().map(later));
    let sessions: Vec<_> = sessions.into_iter().map(|(_, h)| h).collect();
    appraise_person(
        person,
        period,
        campus,
        &Histories {
            appraisal: &appraisal,
            sessions: &sessions,
            tasks: &tasks,
            awards: &awards,
            monthly: &[],
        },
    )
    .map_err(|e| Error::invalid("replay", person.as_str(), e.to_string()))
}

/// `person`'s appraisal over `period`, replayed from the log `as_of`.
pub async fn replay_person(
    store: &Store,
    db: &ReadDb,
    campus: &Campus,
    person: &StaffNo,
    period: &Period,
    as_of: AsOf,
) -> Result<Appraisal> {
    let evidence = gather_person(store, db, campus, person, period, as_of).await?;
    fold_person(person, period, campus, &evidence, &Pending::default())
}

/// Whether `event` is part of `person`'s record: not an event about
/// someone else (a top-level `person` naming another) and not a year's
/// close (everyone's totals).
pub fn concerns(person: &StaffNo, event: &RecordedEvent) -> bool {
    if event.event_type == "AppraisalPeriodClosed" {
        return false;
    }
    match serde_json::from_str::<serde_json::Value>(&event.payload) {
        Ok(v) => match v.get("person").and_then(|p| p.as_str()) {
            Some(who) => who == person.as_str(),
            None => true,
        },
        Err(_) => true,
    }
}

/// The events of `person`'s record for `period` as the log stood `as_of`,
/// in log order: their own stream (registration, transfers, cards, roles)
/// and, from the streams their appraisal is folded from, the events about
/// them or about no one in particular (a session's schedule, the rules).
pub async fn replay_history(
    store: &Store,
    db: &ReadDb,
    campus: &Campus,
    person: &StaffNo,
    period: &Period,
    as_of: AsOf,
) -> Result<Vec<RecordedEvent>> {
    let evidence = gather_person(store, db, campus, person, period, as_of).await?;
    let mut events = raw_history(store, &person_stream(person), as_of).await?;
    events.extend(
        evidence
            .streams
            .into_iter()
            .flatten()
            .filter(|e| concerns(person, e)),
    );
    events.sort_by_key(|e| e.position);
    Ok(events)
}

/// A person's record at one session, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub session: Uuid,
    pub title: String,
    /// When it starts (as rescheduled, if it was).
    pub starts_at: Option<DateTime<Utc>>,
    pub cancelled: bool,
    /// Present, late, excused or absent; none while not checked in.
    pub status: Option<AttendanceStatus>,
    pub leave: Option<Leave>,
    /// When attendance was taken (the latest check-in).
    pub checked_in_at: Option<DateTime<Utc>>,
    /// Log positions of the events about the person at the session.
    pub positions: Vec<u64>,
}

/// `person`'s attendance at `sessions`, each folded by the domain from its
/// stream as the log stood `as_of`; a session the log did not hold then is
/// left out.
pub async fn replay_attendance(
    store: &Store,
    person: &StaffNo,
    sessions: &[Uuid],
    as_of: AsOf,
) -> Result<Vec<SessionRecord>> {
    let mut out = Vec::with_capacity(sessions.len());
    for &id in sessions {
        let history = history::<SessionEvent>(store, &session_stream(id), as_of).await?;
        if history.is_empty() {
            continue;
        }
        let state = Session::fold(history.iter().map(|p| &p.event))
            .map_err(|e| Error::invalid("session", id.to_string(), e.to_string()))?;
        let mut checked_in_at = None;
        let mut positions = Vec::new();
        for p in &history {
            if let SessionEvent::AttendanceRecorded {
                person: who, at, ..
            } = &p.event
                && who == person
            {
                checked_in_at = Some(*at);
            }
            if serde_json::to_value(&p.event)
                .ok()
                .and_then(|v| v.get("person").and_then(|w| w.as_str().map(str::to_owned)))
                .is_some_and(|w| w == person.as_str())
            {
                positions.push(p.position);
            }
        }
        out.push(SessionRecord {
            session: id,
            title: state
                .schedule
                .as_ref()
                .map_or_else(String::new, |s| s.title.to_string()),
            starts_at: state.schedule.as_ref().map(|s| s.window.start()),
            cancelled: state.cancelled,
            status: state.roster.get(person).copied(),
            leave: state.leave.get(person).copied(),
            checked_in_at,
            positions,
        });
    }
    Ok(out)
}

/// A unit's figures for a month (see `lectern_domain::unit_month`),
/// replayed from the log `as_of`. Which sessions and tasks to read, and the
/// unit's people over time, come from the read models.
pub async fn replay_unit_month(
    store: &Store,
    db: &ReadDb,
    campus: &Campus,
    unit: &UnitId,
    period: &Period,
    as_of: AsOf,
) -> Result<UnitMonthFigures> {
    let from = campus
        .at(period.from - Duration::days(1), NaiveTime::MIN)
        .map_err(|e| Error::invalid("period", period.from.to_string(), e.to_string()))?;
    let until = campus
        .at(period.until + Duration::days(2), NaiveTime::MIN)
        .map_err(|e| Error::invalid("period", period.until.to_string(), e.to_string()))?;
    let who = Val::from(unit.as_str());
    let subtree = subtree_pattern(unit);
    let session_ids = ids(
        db,
        &format!(
            "SELECT id FROM rm_sessions WHERE organiser = $1 AND starts_at >= $2 \
             AND starts_at < $3 UNION SELECT session_id AS id FROM rm_attendance \
             WHERE starts_at >= $2 AND starts_at < $3 AND staff_no IN ({})",
            subtree_people("$4")
        ),
        &[who, Val::from(from), Val::from(until), subtree.clone()],
    )
    .await?;
    let task_ids = ids(
        db,
        &format!(
            "SELECT DISTINCT task_id AS id FROM rm_task_people WHERE done_on >= $1 \
             AND done_on <= $2 AND staff_no IN ({})",
            subtree_people("$3")
        ),
        &[Val::from(period.from), Val::from(period.until), subtree],
    )
    .await?;
    let people = unit_people(db, unit).await?;
    let uuid = |what: &'static str, id: &str| {
        Uuid::parse_str(id).map_err(|e| Error::invalid(what, id, e.to_string()))
    };
    let mut sessions = Vec::with_capacity(session_ids.len());
    for id in &session_ids {
        let stream = session_stream(uuid("session id", id)?);
        sessions.push(events::<SessionEvent>(store, &stream, as_of).await?);
    }
    let mut tasks = Vec::with_capacity(task_ids.len());
    for id in &task_ids {
        let stream = task_stream(uuid("task id", id)?);
        tasks.push(events::<StudyEvent>(store, &stream, as_of).await?);
    }
    unit_month(unit, period, campus, &sessions, &tasks, &people)
        .map_err(|e| Error::invalid("replay", unit.as_str(), e.to_string()))
}

/// The events of a unit's record for `year` as the log stood `as_of`, in
/// log order: the organisation's events about it (established, renamed,
/// moved, dissolved) and its monthly streams (study checks, the union
/// chair's reports).
pub async fn replay_unit_history(
    store: &Store,
    unit: &UnitId,
    year: i32,
    as_of: AsOf,
) -> Result<Vec<RecordedEvent>> {
    let mut events: Vec<RecordedEvent> = raw_history(store, ORG_STREAM, as_of)
        .await?
        .into_iter()
        .filter(|e| {
            serde_json::from_str::<serde_json::Value>(&e.payload)
                .ok()
                .and_then(|v| v.get("unit").and_then(|u| u.as_str().map(str::to_owned)))
                .is_some_and(|u| u == unit.as_str())
        })
        .collect();
    for month in 1..=12 {
        events.extend(raw_history(store, &unit_month_stream(unit, year, month), as_of).await?);
    }
    events.sort_by_key(|e| e.position);
    Ok(events)
}

/// A unit's appraisal over `period` (see `lectern_domain::appraise_unit`)
/// replayed from the log `as_of`, on the campus date `today` (a report
/// never submitted costs points once its due day is before it; a unit the
/// log did not hold yet has no lines): its
/// monthly streams, the appraisal stream, the award categories, and the
/// appraisals of its people over the period (from the read models' ledger
/// at head, else each replayed the same way). The unit's people over time
/// come from the read models.
pub async fn replay_unit(
    store: &Store,
    db: &ReadDb,
    campus: &Campus,
    unit: &UnitId,
    period: &Period,
    as_of: AsOf,
    today: NaiveDate,
) -> Result<Appraisal> {
    let none = BTreeMap::new();
    replay_unit_knowing(store, db, campus, unit, period, as_of, today, &none).await
}

/// As `replay_unit`, with the appraisals over `period` of people already
/// appraised the same way (`known`, by staff number), which are not
/// appraised again: closing a year appraises everyone once for every unit.
#[allow(clippy::too_many_arguments)]
pub async fn replay_unit_knowing(
    store: &Store,
    db: &ReadDb,
    campus: &Campus,
    unit: &UnitId,
    period: &Period,
    as_of: AsOf,
    today: NaiveDate,
    known: &BTreeMap<StaffNo, Appraisal>,
) -> Result<Appraisal> {
    let established = history::<OrgEvent>(store, ORG_STREAM, as_of)
        .await?
        .into_iter()
        .find_map(|p| match &p.event {
            OrgEvent::UnitEstablished { unit: u, .. } if u == unit => {
                Some(campus.date(p.occurred_at))
            }
            _ => None,
        });
    // A unit the log did not hold yet had no appraisal.
    let Some(established) = established else {
        return Ok(Appraisal {
            subject: unit.to_string(),
            total: 0,
            lines: vec![],
        });
    };
    let mut monthly = Vec::new();
    // From the month whose report falls due at the period's start.
    let mut month = period.from.with_day(1).expect("day 1 exists") - chrono::Months::new(1);
    while month <= period.until {
        let stream = unit_month_stream(unit, month.year(), month.month());
        monthly.push(history::<MonthlyEvent>(store, &stream, as_of).await?);
        month = month + chrono::Months::new(1);
    }
    let appraisal = history::<AppraisalEvent>(store, APPRAISAL_STREAM, as_of).await?;
    let mut awards = Vec::new();
    for id in ids(db, "SELECT id FROM rm_award_categories", &[]).await? {
        let category = CategoryId::parse(&id)
            .map_err(|e| Error::invalid("award category", &id, e.to_string()))?;
        awards.push(history::<AwardEvent>(store, &award_stream(&category), as_of).await?);
    }
    let people = unit_people(db, unit).await?;
    // At head, the people's ledgers come in one query.
    let ledger = match as_of {
        AsOf::Now => unit_entries(db, campus, unit, period).await?,
        _ => BTreeMap::new(),
    };
    let mut members = Vec::new();
    for person in people.during(period) {
        if let Some(a) = known.get(&person) {
            members.push(a.clone());
            continue;
        }
        members.push(match as_of {
            AsOf::Now => {
                let entries = ledger.get(&person).map_or(&[][..], Vec::as_slice);
                appraise_entries(&person, period, &appraisal, entries)
                    .map_err(|e| Error::invalid("replay", person.as_str(), e.to_string()))?
            }
            cut => replay_person(store, db, campus, &person, period, cut).await?,
        });
    }
    appraise_unit(
        unit,
        period,
        &Histories {
            appraisal: &appraisal,
            monthly: &monthly,
            awards: &awards,
            ..Histories::default()
        },
        &UnitFacts {
            today,
            established,
            people: &people,
            members: &members,
        },
    )
    .map_err(|e| Error::invalid("replay", unit.as_str(), e.to_string()))
}
