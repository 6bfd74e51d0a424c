//! `monthly`: the leadership group's monthly meetings, and per unit and
//! month the study check and the union chair's report with the figures it
//! was submitted with.

use lectern_domain::{Monthly, MonthlyEvent};
use lectern_store::RecordedEvent;

use super::{States, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};

#[derive(Debug, Default)]
pub struct MonthlyProjector {
    months: States<Monthly>,
}

impl Projector for MonthlyProjector {
    const NAME: &'static str = "monthly";
    const VERSION: i64 = 1;
    const TABLES: &'static [Table] = &[
        Table {
            name: "leadership_meetings",
            columns: "year BIGINT NOT NULL, month BIGINT NOT NULL, held_on TEXT NOT NULL, \
                      chair TEXT NOT NULL, attendees TEXT NOT NULL, minutes TEXT NOT NULL, \
                      PRIMARY KEY (year, month)",
            indexes: &[],
        },
        Table {
            name: "unit_months",
            columns: "unit TEXT NOT NULL, year BIGINT NOT NULL, month BIGINT NOT NULL, \
                      checked_on TEXT, checker TEXT, check_notes TEXT, report_chair TEXT, \
                      narrative TEXT, figures TEXT, submitted_on TEXT, \
                      PRIMARY KEY (unit, year, month)",
            indexes: &["year, month"],
        },
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        "MonthlyMeetingHeld",
        "MonthlyStudyCheckCompleted",
        "MonthlyReportSubmitted",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if event.stream_id != lectern_domain::LEADERSHIP_STREAM
            && !event.stream_id.starts_with("unit-month-")
        {
            return Ok(());
        }
        // Folding checks the event fits its stream; rows come from the event.
        let (_, e) = self.months.apply(event, cx).await?;
        match e {
            MonthlyEvent::MonthlyMeetingHeld {
                year,
                month,
                on,
                chair,
                attendees,
                minutes,
            } => cx.exec(
                "INSERT INTO {leadership_meetings} (year, month, held_on, chair, attendees, \
                 minutes) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    i64::from(year).into(),
                    month.into(),
                    on.into(),
                    chair.as_str().into(),
                    text(&attendees).into(),
                    minutes.into(),
                ],
            ),
            MonthlyEvent::MonthlyStudyCheckCompleted {
                unit,
                year,
                month,
                checker,
                on,
                notes,
            } => cx.exec(
                "INSERT INTO {unit_months} (unit, year, month, checked_on, checker, check_notes) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (unit, year, month) DO UPDATE SET \
                 checked_on = excluded.checked_on, checker = excluded.checker, \
                 check_notes = excluded.check_notes",
                vec![
                    unit.as_str().into(),
                    i64::from(year).into(),
                    month.into(),
                    on.into(),
                    checker.as_str().into(),
                    notes.into(),
                ],
            ),
            MonthlyEvent::MonthlyReportSubmitted {
                unit,
                year,
                month,
                chair,
                narrative,
                figures,
                submitted_on,
            } => cx.exec(
                "INSERT INTO {unit_months} (unit, year, month, report_chair, narrative, figures, \
                 submitted_on) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (unit, year, month) DO UPDATE SET \
                 report_chair = excluded.report_chair, narrative = excluded.narrative, \
                 figures = excluded.figures, submitted_on = excluded.submitted_on",
                vec![
                    unit.as_str().into(),
                    i64::from(year).into(),
                    month.into(),
                    chair.as_str().into(),
                    narrative.into(),
                    text(&figures).into(),
                    submitted_on.into(),
                ],
            ),
        }
        Ok(())
    }
}
