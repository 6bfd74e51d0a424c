//! Programmes: the campaign, the Young Teacher Navigation Programme and the
//! Ethics Month, with their plans, notices, participants and reports.
//! Everyone signed in reads programmes and reports; participants are read
//! within the caller's scope; administrators launch, plan, notify and
//! enrol.

use std::collections::BTreeMap;

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::NaiveDate;
use lectern_domain::{
    Eligibility, Launch, Name, Person, Programme, ProgrammeCommand, ProgrammeId, StaffNo,
    person_stream, programme_stream,
};
use lectern_projections::{Row, Val, load};

use crate::access;
use crate::api::Api;
use crate::enums::{ProgrammeKind, SessionKind, StaffCategory, named, stored};
use crate::error::{ApiError, Result};
use crate::page::{Where, fetch_page};

/// A programme of the campaign.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Programme", complex)]
pub(crate) struct ProgrammeView {
    pub(crate) id: String,
    pub(crate) kind: ProgrammeKind,
    pub(crate) title: String,
    pub(crate) launched_on: String,
    /// Who may enrol, as JSON (categories, max_age, hired_within_years).
    pub(crate) eligibility: Option<String>,
}

/// Sessions planned for a year, by kind.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct PlanTarget {
    pub(crate) year: i64,
    pub(crate) kind: SessionKind,
    pub(crate) target: i64,
}

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Notice {
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) issued_on: String,
}

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Participant {
    pub(crate) staff_no: String,
    pub(crate) name: Option<String>,
    pub(crate) unit: Option<String>,
    pub(crate) enrolled_on: String,
}

/// Sessions held of one kind.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct KindCount {
    pub(crate) kind: SessionKind,
    pub(crate) sessions: i64,
}

/// The programme report for a year, or for the whole programme.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct ProgrammeFiguresView {
    /// None for the whole programme.
    pub(crate) year: Option<i64>,
    /// Sessions held (closed, not cancelled), by kind.
    pub(crate) sessions: Vec<KindCount>,
    /// Distinct people present or late at a held session.
    pub(crate) participants: i64,
}

const SELECT: &str = "SELECT id, kind, title, launched_on, eligibility FROM rm_programmes";

impl ProgrammeView {
    fn from_row(r: &Row) -> Result<ProgrammeView> {
        Ok(ProgrammeView {
            id: r.text("id"),
            kind: stored("programme kind", r.get("kind"))?,
            title: r.text("title"),
            launched_on: r.text("launched_on"),
            eligibility: r.opt("eligibility"),
        })
    }

    async fn get(api: &Api, id: &str) -> Result<ProgrammeView> {
        let rows = api
            .db()
            .fetch(&format!("{SELECT} WHERE id = $1"), &[Val::from(id)])
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| ApiError::not_found(format!("programme {id:?} does not exist")))?;
        ProgrammeView::from_row(row)
    }
}

#[ComplexObject]
impl ProgrammeView {
    async fn plans(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PlanTarget>> {
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(
                "SELECT year, kind, target FROM rm_programme_plans WHERE programme = $1 \
                 ORDER BY year, kind",
                &[Val::from(self.id.as_str())],
            )
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(PlanTarget {
                    year: r.int("year"),
                    kind: stored("session kind", r.get("kind"))?,
                    target: r.int("target"),
                })
            })
            .collect::<Result<_>>()?)
    }

    async fn notices(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Notice>> {
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(
                "SELECT title, body, issued_on FROM rm_programme_notices WHERE programme = $1 \
                 ORDER BY seq",
                &[Val::from(self.id.as_str())],
            )
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .iter()
            .map(|r| Notice {
                title: r.text("title"),
                body: r.text("body"),
                issued_on: r.text("issued_on"),
            })
            .collect())
    }

    /// Participants by staff number, within the caller's scope.
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn participants(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Participant>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut filter = Where::default();
        filter.and("x.programme = ?", [Val::from(self.id.as_str())]);
        access::scope_people(&mut filter, caller);
        let select = "SELECT x.staff_no, p.name, p.unit, x.enrolled_on \
                      FROM rm_programme_participants x \
                      LEFT JOIN rm_people p ON p.staff_no = x.staff_no";
        Ok(
            fetch_page(api.db(), select, "x.staff_no", filter, first, after, |r| {
                Ok(Participant {
                    staff_no: r.text("staff_no"),
                    name: r.opt("name"),
                    unit: r.opt("unit"),
                    enrolled_on: r.text("enrolled_on"),
                })
            })
            .await?,
        )
    }

    /// The programme report: one entry per year with sessions held, then
    /// the whole programme (year null).
    async fn report(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProgrammeFiguresView>> {
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(
                "SELECT year, sessions, participants FROM rm_programme_report \
                 WHERE programme = $1 ORDER BY CASE WHEN year = 0 THEN 1 ELSE 0 END, year",
                &[Val::from(self.id.as_str())],
            )
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .iter()
            .map(|r| {
                let sessions: BTreeMap<String, i64> =
                    serde_json::from_str(&r.text("sessions")).unwrap_or_default();
                Ok(ProgrammeFiguresView {
                    year: Some(r.int("year")).filter(|y| *y != 0),
                    sessions: sessions
                        .into_iter()
                        .map(|(kind, sessions)| {
                            Ok(KindCount {
                                kind: named("session kind", &kind)?,
                                sessions,
                            })
                        })
                        .collect::<Result<_>>()?,
                    participants: r.int("participants"),
                })
            })
            .collect::<Result<_>>()?)
    }
}

#[derive(Default)]
pub(crate) struct ProgrammeQuery;

#[Object]
impl ProgrammeQuery {
    async fn programmes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProgrammeView>> {
        access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(&format!("{SELECT} ORDER BY launched_on, id"), &[])
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .iter()
            .map(ProgrammeView::from_row)
            .collect::<Result<_>>()?)
    }

    async fn programme(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<ProgrammeView> {
        access::caller(ctx)?;
        Ok(ProgrammeView::get(ctx.data_unchecked::<Api>(), &id).await?)
    }
}

/// A new programme.
#[derive(Debug, InputObject)]
pub(crate) struct LaunchProgrammeInput {
    pub(crate) id: String,
    pub(crate) kind: ProgrammeKind,
    pub(crate) title: String,
    pub(crate) launched_on: NaiveDate,
    /// Enrolment rule; the navigation programme defaults to teachers aged
    /// 35 or under, or hired within 3 years.
    pub(crate) eligible_categories: Option<Vec<StaffCategory>>,
    pub(crate) max_age: Option<u32>,
    pub(crate) hired_within_years: Option<u32>,
}

/// Sessions planned of one kind.
#[derive(Debug, InputObject)]
pub(crate) struct PlanTargetInput {
    pub(crate) kind: SessionKind,
    pub(crate) target: u32,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct ProgrammePayload {
    pub(crate) position: u64,
    pub(crate) programme: ProgrammeView,
}

#[derive(Default)]
pub(crate) struct ProgrammeMutation;

async fn decide(
    ctx: &Context<'_>,
    id: &str,
    command: ProgrammeCommand,
) -> async_graphql::Result<ProgrammePayload> {
    let caller = access::caller(ctx)?;
    let api = ctx.data_unchecked::<Api>();
    let pid = ProgrammeId::parse(id)?;
    let written = api
        .execute::<Programme>(
            caller,
            &programme_stream(&pid),
            |p| p.decide(&command),
            |_| vec![],
        )
        .await?;
    Ok(ProgrammePayload {
        position: written.position,
        programme: ProgrammeView::get(api, pid.as_str()).await?,
    })
}

#[Object]
impl ProgrammeMutation {
    async fn launch_programme(
        &self,
        ctx: &Context<'_>,
        input: LaunchProgrammeInput,
    ) -> async_graphql::Result<ProgrammePayload> {
        let eligibility = match (
            &input.eligible_categories,
            input.max_age,
            input.hired_within_years,
        ) {
            (None, None, None) => None,
            (categories, max_age, hired) => {
                let default = Eligibility::young_teachers();
                Some(Eligibility {
                    categories: match categories {
                        Some(c) => c.iter().map(|c| (*c).into()).collect(),
                        None => default.categories,
                    },
                    max_age: max_age.unwrap_or(default.max_age),
                    hired_within_years: hired.unwrap_or(default.hired_within_years),
                })
            }
        };
        let launch = Launch {
            id: ProgrammeId::parse(&input.id)?,
            kind: input.kind.into(),
            title: Name::parse(&input.title)?,
            launched_on: input.launched_on,
            eligibility,
        };
        decide(ctx, &input.id, ProgrammeCommand::Launch(launch)).await
    }

    /// Issues a year's plan: sessions to hold, by kind.
    async fn issue_annual_plan(
        &self,
        ctx: &Context<'_>,
        programme: String,
        year: i32,
        targets: Vec<PlanTargetInput>,
    ) -> async_graphql::Result<ProgrammePayload> {
        let targets = targets
            .iter()
            .map(|t| (t.kind.into(), t.target))
            .collect::<BTreeMap<lectern_domain::SessionKind, _>>();
        decide(
            ctx,
            &programme,
            ProgrammeCommand::IssuePlan { year, targets },
        )
        .await
    }

    async fn issue_notice(
        &self,
        ctx: &Context<'_>,
        programme: String,
        title: String,
        body: String,
        issued_on: NaiveDate,
    ) -> async_graphql::Result<ProgrammePayload> {
        let command = ProgrammeCommand::IssueNotice {
            title: Name::parse(&title)?,
            text: body,
            issued_on,
        };
        decide(ctx, &programme, command).await
    }

    /// Enrols a member of staff; the programme's eligibility rule decides.
    async fn enrol_participant(
        &self,
        ctx: &Context<'_>,
        programme: String,
        staff_no: String,
        on: NaiveDate,
    ) -> async_graphql::Result<ProgrammePayload> {
        let api = ctx.data_unchecked::<Api>();
        let no = StaffNo::parse(&staff_no)?;
        let person = load::<Person>(&api.app.store, &person_stream(&no), u64::MAX)
            .await
            .map_err(ApiError::from)?
            .0;
        if person.registered.is_none() {
            return Err(ApiError::not_found(format!("staff member {no} does not exist")).into());
        }
        let command = ProgrammeCommand::Enrol {
            person: Box::new(person),
            on,
        };
        decide(ctx, &programme, command).await
    }
}
