//! Appraisal disputes over GraphQL: filed by staff about lines of their
//! appraisal within a deadline after the year closes
//! (`Api::dispute_working_days`), assigned to an auditor by an
//! administrator, and resolved by that auditor through the write path
//! (`lectern_app::resolve_dispute`).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::NaiveDate;
use lectern_app::{AttendanceFix, PointsFix, Resolution};
use lectern_domain::{
    APPRAISAL_STREAM, AppraisalEvent, Dispute, DisputeCommand, Period, Person, StaffNo,
    dispute_stream, filing_deadline, person_stream,
};
use lectern_projections::{Row, Val, load, positioned};
use lectern_store::Metadata;
use uuid::Uuid;

use crate::access::{self, Scope};
use crate::api::Api;
use crate::auth::{Caller, Principal};
use crate::enums::{AttendanceStatus, DisputeStatus, Outcome, name_of, stored};
use crate::error::{ApiError, Code, Result};
use crate::page::Where;

/// An appraisal dispute.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub(crate) struct DisputeView {
    pub(crate) id: String,
    pub(crate) person: String,
    pub(crate) year: i64,
    /// The log positions of the contested lines.
    pub(crate) positions: Vec<u64>,
    pub(crate) claim: String,
    pub(crate) filed_on: String,
    pub(crate) auditor: Option<String>,
    pub(crate) status: DisputeStatus,
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

#[async_graphql::ComplexObject]
impl DisputeView {
    /// The last day disputes about its year may be filed
    /// (`dispute_working_days` working days after the year was closed);
    /// none while the year is open.
    async fn filing_deadline(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<NaiveDate>> {
        let api = ctx.data_unchecked::<Api>();
        let year =
            i32::try_from(self.year).map_err(|_| ApiError::internal("a year out of range"))?;
        // As current as the read models the dispute was read from.
        let events = api
            .appraisal_log
            .read(&api.app.store, api.app.projections.position())
            .await?;
        Ok(year_filing_deadline(api, &events, year))
    }
}

/// The last filing day of disputes about `year` in the appraisal stream
/// `events`, counted from the campus date the year was closed (none while
/// it is open).
fn year_filing_deadline(
    api: &Api,
    events: &[lectern_domain::Positioned<AppraisalEvent>],
    year: i32,
) -> Option<NaiveDate> {
    events.iter().find_map(|p| match &p.event {
        AppraisalEvent::AppraisalPeriodClosed { year: y, .. } if *y == year => Some(
            filing_deadline(api.app.campus.date(p.occurred_at), api.dispute_working_days),
        ),
        _ => None,
    })
}

const DISPUTES: &str = "SELECT d.id, d.person, d.year, d.positions, d.claim, d.filed_on, \
     d.auditor, d.status, d.reasoning, d.total_before, d.total_after, d.correcting_events \
     FROM rm_disputes d LEFT JOIN rm_people p ON p.staff_no = d.person";

fn dispute(r: &Row) -> Result<DisputeView> {
    Ok(DisputeView {
        id: r.text("id"),
        person: r.text("person"),
        year: r.int("year"),
        positions: serde_json::from_str(&r.text("positions")).unwrap_or_default(),
        claim: r.text("claim"),
        filed_on: r.text("filed_on"),
        auditor: r.opt("auditor"),
        status: stored("dispute status", r.get("status"))?,
        reasoning: r.opt("reasoning"),
        total_before: r.int_opt("total_before"),
        total_after: r.int_opt("total_after"),
        correcting_events: r
            .opt("correcting_events")
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
    })
}

async fn view(api: &Api, id: Uuid) -> Result<DisputeView> {
    let rows = api
        .db()
        .fetch(
            &format!("{DISPUTES} WHERE d.id = $1"),
            &[Val::from(id.to_string())],
        )
        .await?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("dispute {id} does not exist")))?;
    dispute(row)
}

#[derive(Default)]
pub(crate) struct DisputeQuery;

#[Object]
impl DisputeQuery {
    /// Disputes in the caller's scope (staff: their own), newest first.
    async fn disputes(
        &self,
        ctx: &Context<'_>,
        status: Option<DisputeStatus>,
    ) -> async_graphql::Result<Vec<DisputeView>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut filter = Where::default();
        match Scope::of(caller) {
            Scope::All => {}
            Scope::Subtree(unit) => filter.and(
                &format!("p.unit IN ({})", lectern_projections::subtree_units("?")),
                [Scope::subtree_pattern(&unit)],
            ),
            Scope::Own(no) => filter.and("d.person = ?", [Val::from(no.as_str())]),
        }
        if let Some(s) = status {
            filter.and("d.status = ?", [Val::from(name_of(&s))]);
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
        Ok(rows.iter().map(dispute).collect::<Result<_>>()?)
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
pub(crate) struct AttendanceFixInput {
    pub(crate) session: Uuid,
    pub(crate) to: AttendanceStatus,
}

/// A points adjustment an upheld resolution makes for the disputing person.
#[derive(Debug, InputObject)]
pub(crate) struct PointsFixInput {
    pub(crate) points: i32,
    /// The day the adjustment counts on (in the disputed year).
    pub(crate) on: NaiveDate,
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
        // The whole appraisal stream as the log holds it now (a close just
        // appended counts).
        let closes = positioned::<AppraisalEvent>(&api.app.store, APPRAISAL_STREAM, u64::MAX)
            .await
            .map_err(ApiError::from)?;
        let deadline = year_filing_deadline(api, &closes, year);
        // Filed today, on the campus clock: a filing cannot be backdated.
        let filed_on = api.app.campus.date(api.app.clock.now());
        // Only the filer's own lines for that year can be disputed.
        let own = crate::appraisal::appraise(api, person, &Period::year(year)?).await?;
        let lines = own
            .lines
            .iter()
            .flat_map(|l| l.positions.iter().copied())
            .collect();
        let id = Uuid::now_v7();
        let command = DisputeCommand::File {
            dispute: id,
            person: person.clone(),
            year,
            positions,
            claim,
            filed_on,
            deadline,
            lines,
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
        let api = ctx.data_unchecked::<Api>();
        let no = StaffNo::parse(&auditor)?;
        let person = load::<Person>(&api.app.store, &person_stream(&no), u64::MAX)
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
        outcome: Outcome,
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
        let attendance = attendance
            .iter()
            .map(|fix| {
                Ok(AttendanceFix {
                    session: fix.session,
                    to: fix.to.into(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let adjustments: Vec<PointsFix> = adjustments
            .iter()
            .map(|fix| PointsFix {
                points: fix.points,
                on: fix.on,
            })
            .collect();
        let resolution = Resolution {
            id,
            outcome: outcome.into(),
            reasoning: &reasoning,
            attendance: &attendance,
            adjustments: &adjustments,
        };
        let meta = Metadata {
            correlation_id: Some(id),
            ..api.meta(caller)
        };
        let position = lectern_app::resolve_dispute(&api.app, auditor, &meta, &resolution)
            .await
            .map_err(|e| {
                if e.code == Code::Forbidden {
                    access::denied(
                        caller,
                        &format!("resolve dispute {id} (only its assigned auditor)"),
                    )
                } else {
                    e.into()
                }
            })?;
        Ok(DisputePayload {
            position,
            dispute: view(api, id).await?,
        })
    }
}
