//! Resolving an appraisal dispute: its assigned auditor upholds it,
//! appending the correcting events (each naming the dispute) in the same
//! transaction as the resolution, or rejects it with reasoning. Either way
//! the resolution records the person's totals for the year before and
//! after, folded by the domain from the log.

use chrono::{Datelike, NaiveDate};
use lectern_audit::replay::{AsOf, Pending, fold_person, gather_person};
use lectern_domain::{
    APPRAISAL_STREAM, Aggregate, AppraisalCommand, AttendanceStatus, Dispute, DisputeCommand,
    ORG_STREAM, OrgTree, Outcome, Period, RuleBook, Session, SessionCommand, SessionEvent, StaffNo,
    dispute_stream, session_stream,
};
use lectern_projections::{append_request, load};
use lectern_store::{AppendRequest, Metadata};
use uuid::Uuid;

use crate::App;
use crate::commands::{Retry, settle};
use crate::error::{Error, Result};

/// Working days after a year closes within which its disputes are filed,
/// unless the server is configured otherwise.
pub const DISPUTE_WORKING_DAYS: u32 = 10;

/// Years after leaving during which a person's personal data is kept
/// (`personal_data_retention_years`): the shortest fixed term of the
/// national archive rules for an institution's records (定期10年).
pub const PERSONAL_DATA_RETENTION_YEARS: u32 = 10;

/// Resolves a dispute as `auditor` decides, with `meta`, deciding again
/// when another writer moves one of its streams, and waits for the read
/// models; answers the position of the resolution.
#[tracing::instrument(name = "dispute_resolution", skip_all, fields(dispute = %r.id, auditor = %auditor))]
pub async fn resolve(
    app: &App,
    auditor: &StaffNo,
    meta: &Metadata,
    r: &Resolution<'_>,
) -> Result<u64> {
    let mut tries = Retry::new(format!("dispute {}", r.id));
    let position = loop {
        let requests = resolution(app, auditor, meta, r).await?;
        match app.store.submit_all(requests).await {
            Ok(appended) => break appended.iter().map(|a| a.last_position).max().unwrap_or(0),
            Err(lectern_store::Error::WrongExpectedVersion { .. }) => tries.moved()?,
            Err(e) => return Err(e.into()),
        }
    };
    settle(&app.projections, position).await?;
    Ok(position)
}

/// Applies a decision's `events` to `state` (so that the next decision
/// sees them) and returns them.
fn applied<A: Aggregate>(state: &mut A, events: Vec<A::Event>) -> Result<Vec<A::Event>> {
    for e in &events {
        state.apply(e)?;
    }
    Ok(events)
}

/// What a resolution is asked to do.
pub struct Resolution<'a> {
    pub id: Uuid,
    pub outcome: Outcome,
    pub reasoning: &'a str,
    pub attendance: &'a [AttendanceFix],
    pub adjustments: &'a [PointsFix],
}

/// An attendance correction an upheld resolution makes: the disputing
/// person's status at a session.
#[derive(Debug, Clone)]
pub struct AttendanceFix {
    pub session: Uuid,
    pub to: AttendanceStatus,
}

/// A points adjustment an upheld resolution makes for the disputing person.
#[derive(Debug, Clone)]
pub struct PointsFix {
    pub points: i32,
    /// The day the adjustment counts on (in the disputed year).
    pub on: NaiveDate,
}

/// The appends that resolve a dispute as `auditor` (its assigned auditor)
/// decides, with `meta`: the corrections, each naming the dispute, and the
/// resolution with the totals before and after, folded by the domain from
/// the log. Submitted together (`Store::submit_all`); a
/// `WrongExpectedVersion` means another writer moved a stream: decide again.
pub async fn resolution(
    app: &App,
    auditor: &StaffNo,
    meta: &Metadata,
    r: &Resolution<'_>,
) -> Result<Vec<AppendRequest>> {
    let (dispute, dispute_version) =
        load::<Dispute>(&app.store, &dispute_stream(r.id), u64::MAX).await?;
    let Some((_, person, year)) = dispute.filed.clone() else {
        return Err(Error::not_found(format!("dispute {} does not exist", r.id)));
    };
    if dispute.auditor.as_ref() != Some(auditor) {
        return Err(Error::forbidden(format!(
            "dispute {} is not assigned to {auditor}",
            r.id
        )));
    }
    dispute.resolvable()?;
    let reason = format!("dispute {}: {}", r.id, r.reasoning.trim());
    let mut requests = Vec::new();
    let mut pending = Pending::default();
    let mut correcting = Vec::new();

    if !r.attendance.is_empty() {
        let org = load::<OrgTree>(&app.store, ORG_STREAM, u64::MAX).await?.0;
        let mut sessions: Vec<(Uuid, Session, u64, Vec<SessionEvent>)> = Vec::new();
        for fix in r.attendance {
            let at = match sessions.iter().position(|s| s.0 == fix.session) {
                Some(i) => i,
                None => {
                    let (s, v) =
                        load::<Session>(&app.store, &session_stream(fix.session), u64::MAX).await?;
                    if v == 0 {
                        return Err(Error::not_found(format!(
                            "session {} does not exist",
                            fix.session
                        )));
                    }
                    let day = s
                        .schedule
                        .as_ref()
                        .map(|x| app.campus.date(x.window.start()));
                    if let Some(day) = day.filter(|d| d.year() != year) {
                        return Err(Error::bad_input(format!(
                            "session {} was on {day}, not in {year}, the year disputed",
                            fix.session
                        )));
                    }
                    sessions.push((fix.session, s, v, Vec::new()));
                    sessions.len() - 1
                }
            };
            let (sid, state, _, out) = &mut sessions[at];
            let command = SessionCommand::Correct {
                person: person.clone(),
                to: fix.to,
                reason: reason.clone(),
                corrector: auditor.clone(),
                dispute: Some(r.id),
            };
            let events = state.decide(&command, &org)?;
            let events = applied(state, events)?;
            out.extend(events.iter().cloned());
            match pending.sessions.iter_mut().find(|(s, _)| s == sid) {
                Some((_, p)) => p.extend(events),
                None => pending.sessions.push((*sid, events)),
            }
        }
        for (id, _, version, events) in sessions {
            let request = append_request(&session_stream(id), version, &events, &[], meta);
            correcting.extend(request.event_ids());
            requests.push(request);
        }
    }
    if !r.adjustments.is_empty() {
        let (mut book, version) = load::<RuleBook>(&app.store, APPRAISAL_STREAM, u64::MAX).await?;
        for fix in r.adjustments {
            if fix.on.year() != year {
                return Err(Error::bad_input(format!(
                    "an adjustment on {} is not in {year}, the year disputed",
                    fix.on
                )));
            }
            let command = AppraisalCommand::AdjustPoints {
                person: person.clone(),
                points: fix.points,
                reason: reason.clone(),
                adjuster: auditor.clone(),
                on: fix.on,
                dispute: Some(r.id),
            };
            let events = book.decide(&command)?;
            let events = applied(&mut book, events)?;
            pending.appraisal.extend(events);
        }
        let request = append_request(APPRAISAL_STREAM, version, &pending.appraisal, &[], meta);
        correcting.extend(request.event_ids());
        requests.push(request);
    }

    // The totals, folded by the domain from the log (and the corrections).
    let period = Period::year(year)?;
    let evidence = gather_person(
        &app.store,
        app.projections.db(),
        &app.campus,
        &person,
        &period,
        AsOf::Now,
    )
    .await
    .map_err(Error::internal)?;
    let fold = |pending: &Pending| {
        fold_person(&person, &period, &app.campus, &evidence, pending)
            .map(|a| a.total)
            .map_err(Error::internal)
    };
    let before = fold(&Pending::default())?;
    let after = match r.outcome {
        Outcome::Upheld => fold(&pending)?,
        Outcome::Rejected => before,
    };
    let command = DisputeCommand::Resolve {
        outcome: r.outcome,
        reasoning: r.reasoning.to_owned(),
        correcting_events: correcting,
        total_before: before,
        total_after: after,
    };
    let events = dispute.decide(&command)?;
    requests.push(append_request(
        &dispute_stream(r.id),
        dispute_version,
        &events,
        &[],
        meta,
    ));
    Ok(requests)
}
