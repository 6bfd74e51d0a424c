//! `study`: study tasks (title, topic, audience, due date, state and
//! counts) and, per task, everyone who completed it (in time or late), was
//! excused from it, or missed it when it closed: one state per person
//! (`StudyTask::state_of`), so the counts add up. A person's notes
//! (evidence, a waiver's reason) read as erased once their personal data is.

use lectern_domain::{StaffNo, StudyEvent, StudyTask, TaskState};
use lectern_store::RecordedEvent;

use lectern_domain::personal::ERASED;

use super::{States, erased_person, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};
use crate::sql::Val;

#[derive(Debug, Default)]
pub struct StudyProjector {
    tasks: States<StudyTask>,
}

impl Projector for StudyProjector {
    const NAME: &'static str = "study";
    const VERSION: i64 = 4;
    const TABLES: &'static [Table] = &[
        Table {
            name: "tasks",
            columns: "id TEXT PRIMARY KEY, title TEXT NOT NULL, topic TEXT NOT NULL, \
                      audience TEXT NOT NULL, assigner TEXT NOT NULL, assigned_on TEXT NOT NULL, \
                      due TEXT NOT NULL, status TEXT NOT NULL, completed BIGINT NOT NULL, \
                      completed_late BIGINT NOT NULL, waived BIGINT NOT NULL, \
                      missed BIGINT NOT NULL, \
                      assigned_position BIGINT NOT NULL, closed_position BIGINT NOT NULL",
            indexes: &["due"],
        },
        Table {
            name: "task_people",
            // `named_missing`: 1 when the close named the person as not
            // done by the due date (the appraisal's missed-task line):
            // the missed, and the late completers then in the audience.
            columns: "task_id TEXT NOT NULL, staff_no TEXT NOT NULL, state TEXT NOT NULL, \
                      done_on TEXT, note TEXT, named_missing BIGINT NOT NULL, \
                      PRIMARY KEY (task_id, staff_no)",
            indexes: &["staff_no"],
        },
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        "StudyTaskAssigned",
        "StudyTaskCompleted",
        "StudyTaskWaived",
        "StudyTaskClosed",
        "PersonalDataErased",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if let Some(person) = erased_person(event) {
            cx.exec(
                "UPDATE {task_people} SET note = $2 WHERE staff_no = $1 AND note IS NOT NULL",
                vec![person.into(), ERASED.into()],
            );
            return Ok(());
        }
        if !event.stream_id.starts_with("task-") {
            return Ok(());
        }
        let (t, e) = self.tasks.apply(event, cx).await?;
        let Some(a) = &t.assignment else {
            return Ok(());
        };
        let id = a.id.to_string();
        let counts = t.counts();
        let position_if = |this: bool| Val::from(if this { event.position } else { 0 });
        cx.exec(
            "INSERT INTO {tasks} (id, title, topic, audience, assigner, assigned_on, due, status, \
             completed, completed_late, waived, missed, assigned_position, closed_position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             completed = excluded.completed, completed_late = excluded.completed_late, \
             waived = excluded.waived, missed = excluded.missed, \
             closed_position = CASE WHEN excluded.closed_position > 0 \
             THEN excluded.closed_position ELSE {tasks}.closed_position END",
            vec![
                id.clone().into(),
                a.title.as_str().into(),
                text(&a.topic).into(),
                text(&a.audience).into(),
                a.assigner.as_str().into(),
                a.assigned_on.into(),
                a.due.into(),
                if t.missed.is_some() { "closed" } else { "open" }.into(),
                counts.completed.into(),
                counts.completed_late.into(),
                counts.waived.into(),
                counts.missed.into(),
                // The positions behind a missed task's appraisal line (0:
                // not this event; kept from the row's insert or close).
                position_if(matches!(e, StudyEvent::StudyTaskAssigned(_))),
                position_if(matches!(e, StudyEvent::StudyTaskClosed { .. })),
            ],
        );
        const PERSON: &str = "INSERT INTO {task_people} (task_id, staff_no, state, done_on, note, \
             named_missing) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (task_id, staff_no) DO UPDATE SET \
             state = excluded.state, done_on = excluded.done_on, \
             note = COALESCE(excluded.note, {task_people}.note), \
             named_missing = excluded.named_missing";
        // The note (evidence, a waiver's reason) comes with its event; a
        // close keeps it.
        let waiver = matches!(e, StudyEvent::StudyTaskWaived { .. });
        // Only a close names people, and everyone it names missed the due
        // date.
        let named_missing = matches!(e, StudyEvent::StudyTaskClosed { .. });
        let people: Vec<(StaffNo, Option<String>)> = match e {
            StudyEvent::StudyTaskAssigned(_) => vec![],
            StudyEvent::StudyTaskCompleted {
                person, evidence, ..
            } => vec![(person, Some(evidence))],
            StudyEvent::StudyTaskWaived { person, reason, .. } => vec![(person, Some(reason))],
            StudyEvent::StudyTaskClosed { missed } => {
                missed.into_iter().map(|p| (p, None)).collect()
            }
        };
        for (person, note) in people {
            // A waiver after a completion (older logs) leaves the
            // completion standing.
            let Some(state) = t.state_of(&person) else {
                continue;
            };
            if waiver && state != TaskState::Waived {
                continue;
            }
            cx.exec(
                PERSON,
                vec![
                    id.clone().into(),
                    person.as_str().into(),
                    text(&state).into(),
                    t.completed.get(&person).copied().into(),
                    note.into(),
                    i64::from(named_missing).into(),
                ],
            );
        }
        Ok(())
    }
}
