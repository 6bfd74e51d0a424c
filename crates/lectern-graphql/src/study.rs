//! Study tasks: everyone signed in sees the tasks; who completed, was
//! excused or missed is read within the caller's scope. Administrators
//! assign, excuse and close any task, union chairs those whose audience is
//! within their subtree; staff complete their own.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{Datelike, NaiveDate};
use lectern_domain::{
    Assignment, Audience, Name, ProgrammeId, StaffNo, StudyCommand, StudyTask, TaskId, UnitId,
    task_stream,
};
use lectern_projections::{Row, Val, load};
use uuid::Uuid;

use crate::access;
use crate::api::Api;
use crate::auth::{Caller, Principal};
use crate::enums::{StudyTopic, TaskState, TaskStatus, name_of, stored};
use crate::error::{ApiError, Result};
use crate::page::{Where, fetch_page};

/// A study task: something to study by a due date.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "StudyTask", complex)]
pub(crate) struct TaskView {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) topic: StudyTopic,
    /// Who must do it, as JSON (as a session's audience).
    pub(crate) audience: String,
    pub(crate) assigner: String,
    pub(crate) assigned_on: String,
    pub(crate) due: String,
    pub(crate) status: TaskStatus,
    /// Completed on or before the due date.
    pub(crate) completed: i64,
    /// Completed after the due date (before the close): the task was
    /// unfinished at its deadline, so the appraisal deducts as for a
    /// missed task, but these are not counted in `missed`.
    pub(crate) completed_late: i64,
    pub(crate) waived: i64,
    /// Never completed nor waived; set when the task closes. The four
    /// counts add up to the people the task applied to.
    pub(crate) missed: i64,
}

/// One person's line on a task.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct TaskRecord {
    pub(crate) task_id: String,
    pub(crate) staff_no: String,
    pub(crate) name: Option<String>,
    pub(crate) state: TaskState,
    /// The completion date (also of a completion after the due date).
    pub(crate) done_on: Option<String>,
    /// The evidence of a completion, or the reason for a waiver.
    pub(crate) note: Option<String>,
}

const SELECT: &str = "SELECT id, title, topic, audience, assigner, assigned_on, due, status, \
                      completed, completed_late, waived, missed FROM rm_tasks";
const RECORDS: &str = "SELECT x.staff_no, x.task_id, p.name, x.state, x.done_on, x.note \
                       FROM rm_task_people x LEFT JOIN rm_people p ON p.staff_no = x.staff_no";

impl TaskView {
    fn from_row(r: &Row) -> Result<TaskView> {
        Ok(TaskView {
            id: r.text("id"),
            title: r.text("title"),
            topic: stored("study topic", r.get("topic"))?,
            audience: r.text("audience"),
            assigner: r.text("assigner"),
            assigned_on: r.text("assigned_on"),
            due: r.text("due"),
            status: stored("task status", r.get("status"))?,
            completed: r.int("completed"),
            completed_late: r.int("completed_late"),
            waived: r.int("waived"),
            missed: r.int("missed"),
        })
    }

    async fn get(api: &Api, id: TaskId) -> Result<TaskView> {
        let rows = api
            .db()
            .fetch(
                &format!("{SELECT} WHERE id = $1"),
                &[Val::from(id.to_string())],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| ApiError::not_found(format!("study task {id} does not exist")))?;
        TaskView::from_row(row)
    }
}

fn record(r: &Row) -> Result<TaskRecord> {
    Ok(TaskRecord {
        staff_no: r.text("staff_no"),
        task_id: r.text("task_id"),
        name: r.opt("name"),
        state: stored("task state", r.get("state"))?,
        done_on: r.opt("done_on"),
        note: r.opt("note"),
    })
}

#[ComplexObject]
impl TaskView {
    /// Who completed, was excused from, or missed the task, by staff
    /// number, within the caller's scope.
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn records(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, TaskRecord>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut filter = Where::default();
        filter.and("x.task_id = ?", [Val::from(self.id.as_str())]);
        access::scope_people(&mut filter, caller);
        Ok(fetch_page(
            api.db(),
            RECORDS,
            "x.staff_no",
            filter,
            first,
            after,
            record,
        )
        .await?)
    }
}

#[derive(Default)]
pub(crate) struct StudyQuery;

#[Object]
impl StudyQuery {
    /// Study tasks by due date, filtered by topic, status and a due range.
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn study_tasks(
        &self,
        ctx: &Context<'_>,
        topic: Option<StudyTopic>,
        status: Option<TaskStatus>,
        due_from: Option<NaiveDate>,
        due_to: Option<NaiveDate>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, TaskView>> {
        access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut filter = Where::default();
        if let Some(t) = topic {
            filter.and("topic = ?", [Val::from(name_of(&t))]);
        }
        if let Some(s) = status {
            filter.and("status = ?", [Val::from(name_of(&s))]);
        }
        if let Some(d) = due_from {
            filter.and("due >= ?", [Val::from(d)]);
        }
        if let Some(d) = due_to {
            filter.and("due <= ?", [Val::from(d)]);
        }
        const KEY: &str = "due || '|' || id";
        Ok(
            fetch_page(api.db(), SELECT, KEY, filter, first, after, |r| {
                TaskView::from_row(r)
            })
            .await?,
        )
    }

    async fn study_task(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<TaskView> {
        access::caller(ctx)?;
        Ok(TaskView::get(ctx.data_unchecked::<Api>(), id).await?)
    }

    /// A person's lines on every task, newest due date first.
    async fn study_record(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
    ) -> async_graphql::Result<Vec<TaskRecord>> {
        let api = ctx.data_unchecked::<Api>();
        let person = crate::people::PersonView::seen(ctx, &staff_no).await?;
        let rows = api
            .db()
            .fetch(
                &format!(
                    "{RECORDS} JOIN rm_tasks t ON t.id = x.task_id WHERE x.staff_no = $1 \
                     ORDER BY t.due DESC LIMIT 1000"
                ),
                &[Val::from(person.staff_no.as_str())],
            )
            .await
            .map_err(ApiError::from)?;
        Ok(rows.iter().map(record).collect::<Result<_>>()?)
    }
}

/// A new study task.
#[derive(Debug, InputObject)]
pub(crate) struct AssignStudyTaskInput {
    /// Chosen by the client, so that a retried request is recognised.
    pub(crate) id: Option<Uuid>,
    pub(crate) title: String,
    pub(crate) topic: StudyTopic,
    /// Units whose people (and those below) must do it...
    pub(crate) audience_units: Option<Vec<String>>,
    /// ...or the participants of a programme.
    pub(crate) audience_cohort: Option<String>,
    pub(crate) assigned_on: NaiveDate,
    pub(crate) due: NaiveDate,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct StudyTaskPayload {
    pub(crate) position: u64,
    pub(crate) task: TaskView,
}

/// Whether the caller manages a task with this audience.
async fn check_manages(api: &Api, caller: &Caller, audience: &Audience, what: &str) -> Result<()> {
    match (&caller.principal, audience) {
        (Principal::Administrator, _) => Ok(()),
        (Principal::UnionChair { unit }, Audience::Units { units }) => {
            for u in units {
                let within = crate::org::Unit::get(api, u.as_str())
                    .await?
                    .path
                    .contains(&format!("/{unit}/"));
                if !within {
                    return Err(access::denied(
                        caller,
                        &format!("{what} (for {u}, outside {unit})"),
                    ));
                }
            }
            Ok(())
        }
        _ => Err(access::denied(caller, what)),
    }
}

async fn current(api: &Api, id: TaskId) -> Result<StudyTask> {
    let t = load::<StudyTask>(&api.app.store, &task_stream(id), u64::MAX)
        .await?
        .0;
    if t.assignment.is_none() {
        return Err(ApiError::not_found(format!(
            "study task {id} does not exist"
        )));
    }
    Ok(t)
}

async fn write(
    api: &Api,
    caller: &Caller,
    id: TaskId,
    command: StudyCommand,
) -> Result<StudyTaskPayload> {
    let written = api
        .execute_with_org::<StudyTask>(
            caller,
            &task_stream(id),
            |t, org| t.decide(&command, org),
            |_| vec![],
        )
        .await?;
    Ok(StudyTaskPayload {
        position: written.position,
        task: TaskView::get(api, id).await?,
    })
}

#[derive(Default)]
pub(crate) struct StudyMutation;

#[Object]
impl StudyMutation {
    /// Assigns a task; the assigner is the token's person.
    async fn assign_study_task(
        &self,
        ctx: &Context<'_>,
        input: AssignStudyTaskInput,
    ) -> async_graphql::Result<StudyTaskPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let audience = match (&input.audience_units, &input.audience_cohort) {
            (Some(units), None) => Audience::Units {
                units: units
                    .iter()
                    .map(|u| UnitId::parse(u))
                    .collect::<Result<_, _>>()?,
            },
            (None, Some(p)) => Audience::Cohort {
                programme: ProgrammeId::parse(p)?,
            },
            _ => {
                return Err(ApiError::bad_input(
                    "give exactly one of audienceUnits and audienceCohort",
                )
                .into());
            }
        };
        check_manages(api, caller, &audience, "assign study tasks").await?;
        let id = input.id.unwrap_or_else(Uuid::now_v7);
        let assignment = Assignment {
            id,
            title: Name::parse(&input.title)?,
            topic: input.topic.into(),
            audience,
            assigner: access::acting_person(caller)?,
            assigned_on: input.assigned_on,
            due: input.due,
        };
        Ok(write(api, caller, id, StudyCommand::Assign(assignment)).await?)
    }

    /// Records a completion with its evidence: staff for themselves,
    /// administrators and chairs for people they manage. It is dated by the
    /// server (the campus date), which decides whether it was in time.
    async fn complete_study_task(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        staff_no: Option<String>,
        evidence: String,
    ) -> async_graphql::Result<StudyTaskPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let task = current(api, id).await?;
        let audience = &task.assignment.as_ref().expect("checked").audience;
        let no = match (&caller.principal, staff_no) {
            (Principal::Staff { person }, None) => person.clone(),
            (Principal::Staff { person }, Some(n)) if StaffNo::parse(&n)? == *person => {
                person.clone()
            }
            (Principal::Staff { .. }, Some(n)) => {
                return Err(access::denied(caller, &format!("record study for {n}")).into());
            }
            (_, Some(n)) => {
                check_manages(api, caller, audience, "record study for this task").await?;
                StaffNo::parse(&n)?
            }
            (_, None) => {
                return Err(ApiError::bad_input("give the staffNo of who completed it").into());
            }
        };
        let person = crate::sessions::attendee_of(api, &no, audience).await?;
        let command = StudyCommand::Complete {
            person,
            evidence,
            on: api.app.campus.date(api.app.clock.now()),
        };
        Ok(write(api, caller, id, command).await?)
    }

    /// Excuses a person from a task; the waiver is the token's person.
    async fn waive_study_task(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        staff_no: String,
        reason: String,
    ) -> async_graphql::Result<StudyTaskPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let task = current(api, id).await?;
        let assignment = task.assignment.as_ref().expect("checked");
        check_manages(
            api,
            caller,
            &assignment.audience,
            "excuse people from this task",
        )
        .await?;
        crate::appraisal::year_open(api, assignment.due.year(), "a waiver").await?;
        let command = StudyCommand::Waive {
            person: StaffNo::parse(&staff_no)?,
            reason,
            waiver: access::acting_person(caller)?,
        };
        Ok(write(api, caller, id, command).await?)
    }

    /// Closes a task on or after its due date: everyone it applies to who
    /// neither completed it by then nor was excused is recorded as missing it.
    async fn close_study_task(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<StudyTaskPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let task = current(api, id).await?;
        let assignment = task.assignment.as_ref().expect("checked");
        check_manages(api, caller, &assignment.audience, "close this task").await?;
        crate::appraisal::year_open(api, assignment.due.year(), "closing this task").await?;
        // Who it applies to: the staff of its units on its due date.
        let audience =
            crate::sessions::members_of(api, &assignment.audience, assignment.due).await?;
        let command = StudyCommand::Close {
            today: api.app.campus.date(api.app.clock.now()),
            audience,
        };
        Ok(write(api, caller, id, command).await?)
    }
}
