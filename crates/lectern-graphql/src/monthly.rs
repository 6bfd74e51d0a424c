//! Monthly reporting: a unit's month (live figures, the study check and the
//! union chair's report) and the leadership group's meetings. Figures are
//! computed by the domain's `unit_month` fold from the month's sessions and
//! task completions, the same way whether shown live or submitted.

use async_graphql::{Context, Object, SimpleObject};
use chrono::NaiveDate;
use futures_util::StreamExt;
use lectern_domain::{
    LEADERSHIP_STREAM, Monthly, MonthlyCommand, Period, Person, StaffNo, UnitId, UnitMonthFigures,
    person_stream, unit_month_stream,
};
use lectern_projections::{Val, load, unit_month_figures};

use crate::access::{self, Scope};
use crate::api::Api;
use crate::auth::{Caller, Principal};
use crate::error::{ApiError, Result};

/// A unit's figures for a month.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Figures {
    /// Sessions the unit organised and held (closed, not cancelled).
    pub(crate) sessions_held: u32,
    /// The statuses of the unit's people (the staff of the unit and the
    /// units below it, on the session's day) at the sessions closed in the
    /// month, whoever organised them; `pointsLost` counts the same people.
    pub(crate) present: u32,
    pub(crate) late: u32,
    pub(crate) absent: u32,
    /// On approved leave.
    pub(crate) excused: u32,
    /// Study tasks completed in the month by the unit's people.
    pub(crate) tasks_done: u32,
    /// Present or late per thousand expected; null when nobody was expected.
    pub(crate) attendance_permille: Option<u32>,
}

impl From<UnitMonthFigures> for Figures {
    fn from(f: UnitMonthFigures) -> Figures {
        Figures {
            attendance_permille: f.attendance_permille(),
            sessions_held: f.sessions_held,
            present: f.present,
            late: f.late,
            absent: f.absent,
            excused: f.excused,
            tasks_done: f.tasks_done,
        }
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct StudyCheck {
    pub(crate) checked_on: String,
    pub(crate) checker: String,
    pub(crate) notes: String,
}

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct MonthlyReport {
    pub(crate) chair: String,
    pub(crate) narrative: String,
    /// The figures as submitted.
    pub(crate) figures: Figures,
    pub(crate) submitted_on: String,
}

/// A unit's month.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub(crate) struct UnitMonth {
    pub(crate) unit: String,
    pub(crate) year: i32,
    pub(crate) month: u32,
    /// The figures from the log as it is now (or as of the moment asked).
    pub(crate) figures: Figures,
    pub(crate) study_check: Option<StudyCheck>,
    pub(crate) report: Option<MonthlyReport>,
    #[graphql(skip)]
    pub(crate) as_of: lectern_audit::replay::AsOf,
}

#[async_graphql::ComplexObject]
impl UnitMonth {
    /// Appraisal points the unit's people lost in the month: the sum of
    /// their deduction lines (absences, late check-ins, missed study tasks,
    /// adjustments) dated on days they belonged to the unit or a unit below
    /// it: the same people the figures count, as the figures are (now, or
    /// replayed).
    async fn points_lost(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        use lectern_audit::replay::{AsOf, replay_person};
        let api = ctx.data_unchecked::<Api>();
        let period = Period::month(self.year, self.month)?;
        let unit = UnitId::parse(&self.unit)?;
        let people = lectern_projections::unit_people(api.db(), &unit)
            .await
            .map_err(ApiError::from)?;
        let mut lost = 0i64;
        let _budget = match self.as_of {
            AsOf::Now => None,
            _ => Some(api.replay_budget().await),
        };
        for no in people.during(&period) {
            let a = match self.as_of {
                AsOf::Now => crate::appraisal::appraise(api, &no, &period).await?,
                cut => replay_person(&api.app.store, api.db(), &api.app.campus, &no, &period, cut)
                    .await
                    .map_err(ApiError::internal)?,
            };
            lost -= a
                .lines
                .iter()
                .filter(|l| l.points < 0 && people.on(&no, l.date))
                .map(|l| i64::from(l.points))
                .sum::<i64>();
        }
        Ok(lost)
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct LeadershipMeeting {
    pub(crate) year: i64,
    pub(crate) month: i64,
    pub(crate) held_on: String,
    pub(crate) chair: String,
    pub(crate) attendees: Vec<String>,
    pub(crate) minutes: String,
}

/// The month's figures of `unit`, from the read models.
pub(crate) async fn figures(
    api: &Api,
    unit: &UnitId,
    year: i32,
    month: u32,
) -> Result<UnitMonthFigures> {
    let period = Period::month(year, month)?;
    Ok(unit_month_figures(api.db(), &api.app.campus, unit, &period).await?)
}

/// Whether the caller may read or act for `unit`'s months.
pub(crate) async fn check_unit(
    api: &Api,
    caller: &Caller,
    unit: &UnitId,
    what: &str,
) -> Result<()> {
    let scope = Scope::of(caller);
    if let Scope::Own(_) = scope {
        return Err(access::denied(caller, &format!("{what} of {unit}")));
    }
    // A unit nobody established has no month to show (not a month of
    // zeros), whoever asks.
    let path = crate::org::Unit::get(api, unit.as_str()).await?.path;
    match scope {
        Scope::Subtree(own) if !path.contains(&format!("/{own}/")) => {
            Err(access::denied(caller, &format!("{what} of {unit}")))
        }
        _ => Ok(()),
    }
}

fn month_of(year: i32, month: u32) -> Result<()> {
    Period::month(year, month)
        .map(|_| ())
        .map_err(ApiError::from)
}

/// A unit's figures over a period, for a ranking.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct RankedUnit {
    pub(crate) unit: String,
    pub(crate) name: String,
    pub(crate) figures: Figures,
}

/// Units a ranking figures at once (of the read pool's eight connections).
const RANKING_AT_ONCE: usize = 4;

/// A unit of a ranking with its figures over `period`.
async fn figured_unit(api: &Api, period: &Period, id: String, name: String) -> Result<RankedUnit> {
    let unit = UnitId::parse(&id)?;
    let f = unit_month_figures(api.db(), &api.app.campus, &unit, period).await?;
    Ok(RankedUnit {
        unit: id,
        name,
        figures: f.into(),
    })
}

#[derive(Default)]
pub(crate) struct MonthlyQuery;

#[Object]
impl MonthlyQuery {
    /// The events of a unit's record for a year, in log order: the
    /// organisation's events about it and its monthly streams (study
    /// checks, reports), as the log stood `asOf` (administrators, auditors,
    /// and chairs within their subtree).
    #[graphql(complexity = "crate::page::REPLAY_COST + child_complexity")]
    async fn unit_history(
        &self,
        ctx: &Context<'_>,
        unit: String,
        year: i32,
        #[graphql(name = "asOf", desc = "Replay the log as it stood at this moment.")] at: Option<
            chrono::DateTime<chrono::Utc>,
        >,
        #[graphql(
            default = false,
            desc = "With asOf: what the system showed then (events recorded by then)."
        )]
        as_recorded: bool,
    ) -> async_graphql::Result<Vec<crate::ops::LogEvent>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let unit = UnitId::parse(&unit)?;
        check_unit(api, caller, &unit, "read the unit's history").await?;
        crate::org::Unit::get(api, unit.as_str()).await?;
        let _budget = api.replay_budget().await;
        let events = lectern_audit::replay::replay_unit_history(
            &api.app.store,
            &unit,
            year,
            crate::appraisal::as_of(at, as_recorded)?,
        )
        .await
        .map_err(ApiError::internal)?;
        Ok(events.into_iter().map(Into::into).collect())
    }

    /// The units just below `under` (default: the top unit, or a union
    /// chair's own unit) with their figures over the year, or a month of
    /// it, best attendance first (units nobody was expected at last).
    /// Administrators, auditors, chairs within their subtree, and members
    /// of the leadership group (other staff: none).
    async fn unit_ranking(
        &self,
        ctx: &Context<'_>,
        year: i32,
        month: Option<u32>,
        under: Option<String>,
    ) -> async_graphql::Result<Vec<RankedUnit>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let period = match month {
            Some(m) => Period::month(year, m)?,
            None => Period::year(year)?,
        };
        // A member of staff reaches no unit unless they are in the
        // leadership group.
        if let Principal::Staff { person } = &caller.principal
            && !crate::people::in_leadership(api, person).await?
        {
            return Ok(vec![]);
        }
        let under = match (under, &caller.principal) {
            (Some(u), _) => UnitId::parse(&u)?,
            (None, Principal::UnionChair { unit }) => unit.clone(),
            (None, _) => {
                let top = api
                    .db()
                    .fetch(
                        "SELECT id FROM rm_units WHERE parent IS NULL ORDER BY id LIMIT 1",
                        &[],
                    )
                    .await
                    .map_err(ApiError::from)?;
                match top.first() {
                    Some(r) => UnitId::parse(&r.text("id"))?,
                    None => return Ok(vec![]),
                }
            }
        };
        // (Either way the unit must exist.)
        if matches!(caller.principal, Principal::Staff { .. }) {
            crate::org::Unit::get(api, under.as_str()).await?;
        } else {
            check_unit(api, caller, &under, "rank the units").await?;
        }
        let children = api
            .db()
            .fetch(
                "SELECT id, name FROM rm_units WHERE parent = $1 AND dissolved = 0 ORDER BY id",
                &[Val::from(under.as_str())],
            )
            .await
            .map_err(ApiError::from)?;
        // A unit's year reads every status of its people in the year: the
        // units are figured a few at a time, on the read pool's connections.
        let units: Vec<(String, String)> = children
            .iter()
            .map(|r| (r.text("id"), r.text("name")))
            .collect();
        let figured = units
            .into_iter()
            .map(|(id, name)| figured_unit(api, &period, id, name));
        let mut ranked: Vec<RankedUnit> = futures_util::stream::iter(figured)
            .buffered(RANKING_AT_ONCE)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<std::result::Result<_, _>>()?;
        ranked.sort_by_key(|u| std::cmp::Reverse(u.figures.attendance_permille));
        Ok(ranked)
    }

    /// A unit's month: live figures, study check and report
    /// (administrators, auditors, and chairs within their subtree). With
    /// `asOf`, the figures are replayed from the sessions' and tasks'
    /// streams by the domain's fold as the log stood then.
    #[graphql(complexity = "crate::page::replay_cost(at.is_some(), child_complexity)")]
    async fn unit_month(
        &self,
        ctx: &Context<'_>,
        unit: String,
        year: i32,
        month: u32,
        #[graphql(
            name = "asOf",
            desc = "Replay the figures as the log stood at this moment (see `appraisal`)."
        )]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[graphql(
            default = false,
            desc = "With asOf: what the system showed then (events recorded by then)."
        )]
        as_recorded: bool,
    ) -> async_graphql::Result<UnitMonth> {
        let as_of = crate::appraisal::as_of(at, as_recorded)?;
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let unit = UnitId::parse(&unit)?;
        month_of(year, month)?;
        check_unit(api, caller, &unit, "read the monthly figures").await?;
        crate::org::Unit::get(api, unit.as_str()).await?;
        let live = match as_of {
            lectern_audit::replay::AsOf::Now => figures(api, &unit, year, month).await?,
            cut => {
                let _budget = api.replay_budget().await;
                lectern_audit::replay::replay_unit_month(
                    &api.app.store,
                    api.db(),
                    &api.app.campus,
                    &unit,
                    &Period::month(year, month)?,
                    cut,
                )
                .await
                .map_err(ApiError::internal)?
            }
        };
        let rows = api
            .db()
            .fetch(
                "SELECT checked_on, checker, check_notes AS notes, report_chair AS chair, \
                 narrative, figures, submitted_on FROM rm_unit_months \
                 WHERE unit = $1 AND year = $2 AND month = $3",
                &[
                    Val::from(unit.as_str()),
                    Val::Int(i64::from(year)),
                    Val::from(month),
                ],
            )
            .await
            .map_err(ApiError::from)?;
        let row = rows.first();
        let study_check = row.and_then(|r| {
            Some(StudyCheck {
                checked_on: r.opt("checked_on")?,
                checker: r.text("checker"),
                notes: r.text("notes"),
            })
        });
        let report = row.and_then(|r| {
            let figures: UnitMonthFigures = serde_json::from_str(&r.opt("figures")?).ok()?;
            Some(MonthlyReport {
                chair: r.opt("chair")?,
                narrative: r.text("narrative"),
                figures: figures.into(),
                submitted_on: r.text("submitted_on"),
            })
        });
        Ok(UnitMonth {
            unit: unit.as_str().to_owned(),
            year,
            month,
            figures: live.into(),
            study_check,
            report,
            as_of,
        })
    }

    /// The leadership group's monthly meetings, of a year or all.
    async fn leadership_meetings(
        &self,
        ctx: &Context<'_>,
        year: Option<i32>,
    ) -> async_graphql::Result<Vec<LeadershipMeeting>> {
        access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let (sql, args) = match year {
            Some(y) => (
                "SELECT year, month, held_on, chair, attendees, minutes FROM rm_leadership_meetings \
                 WHERE year = $1 ORDER BY year, month",
                vec![Val::Int(i64::from(y))],
            ),
            None => (
                "SELECT year, month, held_on, chair, attendees, minutes FROM rm_leadership_meetings \
                 ORDER BY year, month",
                vec![],
            ),
        };
        let rows = api.db().fetch(sql, &args).await.map_err(ApiError::from)?;
        Ok(rows
            .iter()
            .map(|r| LeadershipMeeting {
                year: r.int("year"),
                month: r.int("month"),
                held_on: r.text("held_on"),
                chair: r.text("chair"),
                attendees: serde_json::from_str(&r.text("attendees")).unwrap_or_default(),
                minutes: r.text("minutes"),
            })
            .collect())
    }
}

#[derive(Debug, SimpleObject)]
pub(crate) struct MonthlyPayload {
    pub(crate) position: u64,
}

/// The token's person, folded: the domain checks their roles.
async fn acting(api: &Api, caller: &Caller) -> Result<Box<Person>> {
    let no = access::acting_person(caller)?;
    let p = load::<Person>(&api.app.store, &person_stream(&no), u64::MAX)
        .await?
        .0;
    Ok(Box::new(p))
}

async fn decide(
    api: &Api,
    caller: &Caller,
    stream: &str,
    command: MonthlyCommand,
) -> Result<MonthlyPayload> {
    let written = api
        .execute::<Monthly>(caller, stream, |m| m.decide(&command), |_| vec![])
        .await?;
    Ok(MonthlyPayload {
        position: written.position,
    })
}

#[derive(Default)]
pub(crate) struct MonthlyMutation;

#[Object]
impl MonthlyMutation {
    /// Records the leadership group's meeting; the chair is the token's
    /// person, who must be its leader or deputy leader.
    async fn hold_leadership_meeting(
        &self,
        ctx: &Context<'_>,
        year: i32,
        month: u32,
        on: NaiveDate,
        attendees: Vec<String>,
        minutes: String,
    ) -> async_graphql::Result<MonthlyPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let command = MonthlyCommand::HoldMeeting {
            year,
            month,
            on,
            chair: acting(api, caller).await?,
            attendees: attendees
                .iter()
                .map(|a| StaffNo::parse(a))
                .collect::<Result<_, _>>()?,
            minutes,
        };
        Ok(decide(api, caller, LEADERSHIP_STREAM, command).await?)
    }

    /// Records a unit's monthly study check; the checker is the token's
    /// person (the unit's union chair or an administrator).
    async fn complete_study_check(
        &self,
        ctx: &Context<'_>,
        unit: String,
        year: i32,
        month: u32,
        on: NaiveDate,
        notes: String,
    ) -> async_graphql::Result<MonthlyPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let unit = UnitId::parse(&unit)?;
        month_of(year, month)?;
        check_unit(api, caller, &unit, "check the study").await?;
        let command = MonthlyCommand::CompleteStudyCheck {
            unit: unit.clone(),
            year,
            month,
            checker: acting(api, caller).await?,
            on,
            notes,
        };
        Ok(decide(api, caller, &unit_month_stream(&unit, year, month), command).await?)
    }

    /// Submits the union chair's report for a month that has ended, with
    /// the figures as the log shows them now. It is dated by the server's
    /// clock (the campus date), which decides whether it is late.
    async fn submit_monthly_report(
        &self,
        ctx: &Context<'_>,
        unit: String,
        year: i32,
        month: u32,
        narrative: String,
    ) -> async_graphql::Result<MonthlyPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let unit = UnitId::parse(&unit)?;
        month_of(year, month)?;
        if !matches!(
            caller.principal,
            Principal::UnionChair { .. } | Principal::Administrator
        ) {
            return Err(access::denied(caller, "submit monthly reports").into());
        }
        check_unit(api, caller, &unit, "submit the report").await?;
        // A report falls due in the next month: once that year is closed,
        // submitting it would turn a recorded missing report into a late
        // one.
        let due_year = if month == 12 { year + 1 } else { year };
        crate::appraisal::year_open(api, due_year, "submitting this report").await?;
        let command = MonthlyCommand::SubmitReport {
            unit: unit.clone(),
            year,
            month,
            chair: acting(api, caller).await?,
            narrative,
            figures: figures(api, &unit, year, month).await?,
            submitted_on: api.app.campus.date(api.app.clock.now()),
        };
        Ok(decide(api, caller, &unit_month_stream(&unit, year, month), command).await?)
    }
}
