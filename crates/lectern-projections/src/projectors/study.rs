//! `study`: study tasks (title, topic, audience, due date, state and
//! counts) and, per task, everyone who completed it, was excused from it,
//! or missed it when it closed.

use lectern_domain::{StudyEvent, StudyTask};
use lectern_store::RecordedEvent;

use super::{States, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};
use crate::sql::Val;

#[derive(Debug, Default)]
pub struct StudyProjector {
    tasks: States<StudyTask>,
}

impl Projector for StudyProjector {
    const NAME: &'static str = "study";
    const VERSION: i64 = 2;
    const TABLES: &'static [Table] = &[
        Table {
            name: "tasks",
            columns: "id TEXT PRIMARY KEY, title TEXT NOT NULL, topic TEXT NOT NULL, \
                      audience TEXT NOT NULL, assigner TEXT NOT NULL, assigned_on TEXT NOT NULL, \
                      due TEXT NOT NULL, status TEXT NOT NULL, completed BIGINT NOT NULL, \
                      waived BIGINT NOT NULL, missed BIGINT NOT NULL, \
                      assigned_position BIGINT NOT NULL, closed_position BIGINT NOT NULL",
            indexes: &["due"],
        },
        Table {
            name: "task_people",
            columns: "task_id TEXT NOT NULL, staff_no TEXT NOT NULL, state TEXT NOT NULL, \
                      done_on TEXT, note TEXT, PRIMARY KEY (task_id, staff_no)",
            indexes: &["staff_no"],
        },
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        "StudyTaskAssigned",
        "StudyTaskCompleted",
        "StudyTaskWaived",
        "StudyTaskClosed",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if !event.stream_id.starts_with("task-") {
            return Ok(());
        }
        let (t, e) = self.tasks.apply(event, cx).await?;
        let Some(a) = &t.assignment else {
            return Ok(());
        };
        let id = a.id.to_string();
        let missed = t.missed.as_ref().map_or(0, Vec::len) as i64;
        let position_if = |this: bool| Val::from(if this { event.position } else { 0 });
        cx.exec(
            "INSERT INTO {tasks} (id, title, topic, audience, assigner, assigned_on, due, status, \
             completed, waived, missed, assigned_position, closed_position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             completed = excluded.completed, waived = excluded.waived, missed = excluded.missed, \
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
                (t.completed.len() as i64).into(),
                (t.waived.len() as i64).into(),
                missed.into(),
                // The positions behind a missed task's appraisal line (0:
                // not this event; kept from the row's insert or close).
                position_if(matches!(e, StudyEvent::StudyTaskAssigned(_))),
                position_if(matches!(e, StudyEvent::StudyTaskClosed { .. })),
            ],
        );
        const PERSON: &str = "INSERT INTO {task_people} (task_id, staff_no, state, done_on, note) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (task_id, staff_no) DO UPDATE SET \
             state = excluded.state, done_on = excluded.done_on, note = excluded.note";
        match e {
            StudyEvent::StudyTaskAssigned(_) => {}
            StudyEvent::StudyTaskCompleted {
                person,
                evidence,
                on,
            } => cx.exec(
                PERSON,
                vec![
                    id.into(),
                    person.as_str().into(),
                    "completed".into(),
                    on.into(),
                    evidence.into(),
                ],
            ),
            StudyEvent::StudyTaskWaived { person, reason, .. } => {
                // A waiver after a completion leaves the completion standing.
                if !t.completed.contains_key(&person) {
                    cx.exec(
                        PERSON,
                        vec![
                            id.into(),
                            person.as_str().into(),
                            "waived".into(),
                            None::<String>.into(),
                            reason.into(),
                        ],
                    );
                }
            }
            StudyEvent::StudyTaskClosed { missed } => {
                for person in missed {
                    cx.exec(
                        PERSON,
                        vec![
                            id.clone().into(),
                            person.as_str().into(),
                            "missed".into(),
                            t.completed.get(&person).copied().into(),
                            None::<String>.into(),
                        ],
                    );
                }
            }
        }
        Ok(())
    }
}
