//! Appraisal disputes: filed by staff about lines of their appraisal
//! within a deadline after the year closes (`Api::dispute_working_days`),
//! assigned to an auditor by an administrator, and resolved by that
//! auditor — upheld, appending the correcting events (which name the
//! dispute) in the same transaction as the resolution, or rejected with
//! reasoning. A resolution records the totals before and after.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{Datelike, NaiveDate};
use lectern_audit::replay::{AsOf, Pending, fold_person, gather_person};
use lectern_domain::{
    APPRAISAL_STREAM, AppraisalCommand, AppraisalEvent, Dispute, DisputeCommand, ORG_STREAM,
    OrgTree, Outcome, Period, Person, RuleBook, Session, SessionCommand, StaffNo, dispute_stream,
    filing_deadline, person_stream, session_stream,
};
use lectern_domain::{Aggregate, SessionEvent};
use lectern_projections::{Val, append_request, load, positioned};
use lectern_store::Metadata;
use uuid::Uuid;

use crate::access::{self, Scope};
use crate::auth::{Caller, Principal};
use crate::commands::settle;
use crate::error::{ApiError, Result};
use crate::page::{Where, int, opt, text};
use crate::schema::{Api, parse_enum};

/// Working days after a year closes within which its disputes are filed,
/// unless the server is configured otherwise.
pub const DISPUTE_WORKING_DAYS: u32 = 10;

/// How often a resolution is decided again after a concurrent write to
/// one of its streams.
const ATTEMPTS: usize = 5;

/// An appraisal dispute.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct DisputeView {
    pub(crate) id: String,
    pub(crate) person: String,
    pub(crate) year: i64,
    /// The log positions of the contested lines.
    pub(crate) positions: Vec<u64>,
    pub(crate) claim: String,
    pub(crate) filed_on: String,
    pub(crate) auditor: Option<String>,
    /// filed, assigned, upheld or rejected.
    pub(crate) status: String,
    pub(crate) reasoning: Option<String>,
    /// The person's total for the year as the record stood when the
    /// dispute was resolved.
    pub(crate) total_before: Option<i64>,
    /// The total with the resolution's corrections.
    pub(crate) total_after: Option<i64>,
    /// The ids of the events an upheld resolution appended (each names
    /// this dispute).
    pub(crate) correcting_events: Vec<String>,
}

const DISPUTES: &str = "SELECT d.id, d.person, d.year, d.positions, d.claim, d.filed_on, \
     d.auditor, d.status, d.reasoning, d.total_before, d.total_after, d.correcting_events \
     FROM rm_disputes d LEFT JOIN rm_people p ON p.staff_no = d.person";

fn dispute(r: &[Val]) -> DisputeView {
    DisputeView {
        id: text(&r[0]),
        person: text(&r[1]),
        year: int(&r[2]),
        positions: serde_json::from_str(&text(&r[3])).unwrap_or_default(),
        claim: text(&r[4]),
        filed_on: text(&r[5]),
        auditor: opt(&r[6]),
        status: text(&r[7]),
        reasoning: opt(&r[8]),
        total_before: r[9].as_i64(),
        total_after: r[10].as_i64(),
        correcting_events: opt(&r[11])
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
    }
}

async fn view(api: &Api, id: Uuid) -> Result<DisputeView> {
    let rows = api
        .db()
        .fetch(
            &format!("{DISPUTES} WHERE d.id = $1"),
            &[Val::from(id.to_string())],
        )
        .await?;
    rows.first()
        .map(|r| dispute(r))
        .ok_or_else(|| ApiError::not_found(format!("dispute {id} does not exist")))
}

#[derive(Default)]
pub(crate) struct DisputeQuery;

#[Object]
impl DisputeQuery {
    /// Disputes in the caller's scope (staff: their own), newest first.
    async fn disputes(
        &self,
        ctx: &Context<'_>,
        status: Option<String>,
    ) -> async_graphql::Result<Vec<DisputeView>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut filter = Where::default();
        match Scope::of(caller) {
            Scope::All => {}
            Scope::Subtree(unit) => filter.and(
                "p.unit IN (SELECT id FROM rm_units WHERE path LIKE ?)",
                [Scope::subtree_pattern(&unit)],
            ),
            Scope::Own(no) => filter.and("d.person = ?", [Val::from(no.as_str())]),
        }
        if let Some(s) = status {
            filter.and("d.status = ?", [Val::from(s)]);
        }
        let sql = format!(
            "{DISPUTES}{} ORDER BY d.filed_on DESC, d.id LIMIT 1000",
            filter.sql()
        );
        let rows = api
            .db()
            .fetch(&sql, &filter.args)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.iter().map(|r| dispute(r)).collect())
    }
}

#[derive(Debug, SimpleObject)]
pub(crate) struct DisputePayload {
    pub(crate) position: u64,
    pub(crate) dispute: DisputeView,
}

/// An attendance correction an upheld resolution makes: the disputing
/// person's status at a session.
#[derive(Debug, InputObject)]
pub struct AttendanceFixInput {
    pub session: Uuid,
    /// present, late, excused or absent.
    pub to: String,
}

/// A points adjustment an upheld resolution makes for the disputing person.
#[derive(Debug, InputObject)]
pub struct PointsFixInput {
    pub points: i32,
    /// The day the adjustment counts on (in the disputed year).
    pub on: NaiveDate,
}

async fn dispute_decides(
    api: &Api,
    caller: &Caller,
    id: Uuid,
    command: DisputeCommand,
) -> Result<DisputePayload> {
    let written = api
        .execute::<Dispute>(
            caller,
            &dispute_stream(id),
            |d| d.decide(&command),
            |_| vec![],
        )
        .await?;
    Ok(DisputePayload {
        position: written.position,
        dispute: view(api, id).await?,
    })
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
    pub attendance: &'a [AttendanceFixInput],
    pub adjustments: &'a [PointsFixInput],
}

/// Decides a resolution against the current streams and appends the
/// corrections and the resolution in one transaction. `Ok(None)`: another
/// writer moved one of the streams; decide again.
async fn resolve_once(
    api: &Api,
    caller: &Caller,
    auditor: &StaffNo,
    r: &Resolution<'_>,
) -> Result<Option<u64>> {
    let meta = Metadata {
        actor: Some(caller.principal.actor(&caller.token_id)),
        source: Some("graphql".into()),
        correlation_id: Some(r.id),
        causation_id: None,
    };
    let requests = resolution(api, auditor, &meta, r).await.map_err(|e| {
        if e.code == crate::error::Code::Forbidden {
            access::denied(
                caller,
                &format!("resolve dispute {} (only its assigned auditor)", r.id),
            )
        } else {
            e
        }
    })?;
    match api.store.submit_all(requests).await {
        Ok(appended) => Ok(appended.iter().map(|a| a.last_position).max()),
        Err(lectern_store::Error::WrongExpectedVersion { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The appends that resolve a dispute as `auditor` (its assigned auditor)
/// decides, with `meta`: the corrections, each naming the dispute, and the
/// resolution with the totals before and after, folded by the domain from
/// the log. Submitted together (`Store::submit_all`); a
/// `WrongExpectedVersion` means another writer moved a stream: decide again.
pub async fn resolution(
    api: &Api,
    auditor: &StaffNo,
    meta: &Metadata,
    r: &Resolution<'_>,
) -> Result<Vec<lectern_store::AppendRequest>> {
    let (dispute, dispute_version) =
        load::<Dispute>(&api.store, &dispute_stream(r.id), u64::MAX).await?;
    let Some((_, person, year)) = dispute.filed.clone() else {
        return Err(ApiError::not_found(format!(
            "dispute {} does not exist",
            r.id
        )));
    };
    if dispute.auditor.as_ref() != Some(auditor) {
        return Err(ApiError::forbidden(format!(
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
        let org = load::<OrgTree>(&api.store, ORG_STREAM, u64::MAX).await?.0;
        let mut sessions: Vec<(Uuid, Session, u64, Vec<SessionEvent>)> = Vec::new();
        for fix in r.attendance {
            let at = match sessions.iter().position(|s| s.0 == fix.session) {
                Some(i) => i,
                None => {
                    let (s, v) =
                        load::<Session>(&api.store, &session_stream(fix.session), u64::MAX).await?;
                    if v == 0 {
                        return Err(ApiError::not_found(format!(
                            "session {} does not exist",
                            fix.session
                        )));
                    }
                    let day = s
                        .schedule
                        .as_ref()
                        .map(|x| api.campus.date(x.window.start()));
                    if let Some(day) = day.filter(|d| d.year() != year) {
                        return Err(ApiError::bad_input(format!(
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
                to: parse_enum("attendance status", &fix.to)?,
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
        let (mut book, version) = load::<RuleBook>(&api.store, APPRAISAL_STREAM, u64::MAX).await?;
        for fix in r.adjustments {
            if fix.on.year() != year {
                return Err(ApiError::bad_input(format!(
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
        &api.store,
        api.db(),
        &api.campus,
        &person,
        &period,
        AsOf::Now,
    )
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let fold = |pending: &Pending| {
        fold_person(&person, &period, &api.campus, &evidence, pending)
            .map(|a| a.total)
            .map_err(|e| ApiError::internal(e.to_string()))
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

#[derive(Default)]
pub(crate) struct DisputeMutation;

#[Object]
impl DisputeMutation {
    /// Files a dispute, today, about lines of one's own appraisal (by their
    /// log positions); once the year is closed, within the configured
    /// number of working days after the close (ten unless configured
    /// otherwise).
    async fn file_dispute(
        &self,
        ctx: &Context<'_>,
        year: i32,
        positions: Vec<u64>,
        claim: String,
    ) -> async_graphql::Result<DisputePayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let Principal::Staff { person } = &caller.principal else {
            return Err(access::denied(caller, "file disputes (staff file their own)").into());
        };
        // The deadline runs from the campus date the year was closed.
        let closes = positioned::<AppraisalEvent>(&api.store, APPRAISAL_STREAM, u64::MAX)
            .await
            .map_err(ApiError::from)?;
        let deadline = closes.iter().find_map(|p| match &p.event {
            AppraisalEvent::AppraisalPeriodClosed { year: y, .. } if *y == year => Some(
                filing_deadline(api.campus.date(p.occurred_at), api.dispute_working_days),
            ),
            _ => None,
        });
        // Filed today, on the campus clock: a filing cannot be backdated.
        let filed_on = api.campus.date(api.clock.now());
        let id = Uuid::now_v7();
        let command = DisputeCommand::File {
            dispute: id,
            person: person.clone(),
            year,
            positions,
            claim,
            filed_on,
            deadline,
        };
        Ok(dispute_decides(api, caller, id, command).await?)
    }

    /// Assigns a dispute to an auditor (a person holding the auditor role,
    /// not the filer).
    async fn assign_dispute(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        auditor: String,
    ) -> async_graphql::Result<DisputePayload> {
        let caller = access::caller(ctx)?;
        access::administrator(caller, "assign disputes")?;
        let api = ctx.data_unchecked::<Api>();
        let no = StaffNo::parse(&auditor)?;
        let person = load::<Person>(&api.store, &person_stream(&no), u64::MAX)
            .await
            .map_err(ApiError::from)?
            .0;
        let command = DisputeCommand::Assign {
            auditor: Box::new(person),
        };
        Ok(dispute_decides(api, caller, id, command).await?)
    }

    /// Resolves a dispute: only its assigned auditor. Upheld appends the
    /// corrections given (the disputing person's attendance at sessions,
    /// points adjustments), each naming the dispute, together with the
    /// resolution; rejected changes nothing. Both record the reasoning and
    /// the year's totals before and after the resolution.
    async fn resolve_dispute(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        #[graphql(desc = "upheld or rejected")] outcome: String,
        reasoning: String,
        #[graphql(default)] attendance: Vec<AttendanceFixInput>,
        #[graphql(default)] adjustments: Vec<PointsFixInput>,
    ) -> async_graphql::Result<DisputePayload> {
        let caller = access::caller(ctx)?;
        let (Principal::Auditor, Some(auditor)) = (&caller.principal, caller.person.as_ref())
        else {
            return Err(access::denied(
                caller,
                "resolve disputes (an auditor's token tied to their staff number)",
            )
            .into());
        };
        let api = ctx.data_unchecked::<Api>();
        let outcome: Outcome = parse_enum("outcome", &outcome)?;
        let fixes = attendance.len() + adjustments.len();
        match outcome {
            Outcome::Upheld if fixes == 0 => {
                return Err(ApiError::bad_input(
                    "an upheld dispute corrects the record: give the attendance to correct \
                     or the points to adjust",
                )
                .into());
            }
            Outcome::Rejected if fixes > 0 => {
                return Err(ApiError::bad_input(format!(
                    "a rejected dispute changes nothing, but {fixes} correction(s) were given"
                ))
                .into());
            }
            _ => {}
        }
        let resolution = Resolution {
            id,
            outcome,
            reasoning: &reasoning,
            attendance: &attendance,
            adjustments: &adjustments,
        };
        for _ in 0..ATTEMPTS {
            if let Some(position) = resolve_once(api, caller, auditor, &resolution).await? {
                settle(&api.projections, position).await?;
                return Ok(DisputePayload {
                    position,
                    dispute: view(api, id).await?,
                });
            }
        }
        Err(ApiError::new(
            crate::error::Code::Conflict,
            format!(
                "dispute {id}: its records kept changing while it was being resolved; try again"
            ),
        )
        .into())
    }
}
