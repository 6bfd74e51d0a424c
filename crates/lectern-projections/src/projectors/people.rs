//! `people`: one row per person with their current unit, card and roles,
//! and the log position of the last event that changed the row (kiosks
//! fetch the people changed since a position); `cards`, every card ever
//! issued with its holder and why it was revoked, so that a tap of a lost
//! or replaced card names whose it was; and `memberships`, who belonged to
//! which unit from when (inclusive) until when (exclusive): from the hire
//! date, across transfers, until leaving, so that a session expects the
//! staff of its units as of its day. Card UIDs are stored whole; the API
//! masks them for everyone but administrators. Once a person's personal
//! data is erased, their row shows the erased name and no birth date.

use lectern_domain::{Person, PersonEvent};
use lectern_store::RecordedEvent;

use super::{States, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};

#[derive(Debug, Default)]
pub struct PeopleProjector {
    people: States<Person>,
}

impl Projector for PeopleProjector {
    const NAME: &'static str = "people";
    const VERSION: i64 = 5;
    const TABLES: &'static [Table] = &[
        Table {
            name: "people",
            columns: "staff_no TEXT PRIMARY KEY, name TEXT NOT NULL, unit TEXT NOT NULL, \
                      category TEXT NOT NULL, birth_date TEXT, hire_date TEXT NOT NULL, \
                      left_on TEXT, erased_at TEXT, card TEXT, roles TEXT NOT NULL, \
                      position BIGINT NOT NULL",
            indexes: &["unit", "name", "card", "position"],
        },
        Table {
            name: "cards",
            columns: "uid TEXT PRIMARY KEY, staff_no TEXT NOT NULL, revoked TEXT",
            indexes: &["staff_no"],
        },
        Table {
            name: "memberships",
            columns: "staff_no TEXT NOT NULL, unit TEXT NOT NULL, since TEXT NOT NULL, \
                      until TEXT, PRIMARY KEY (staff_no, since)",
            indexes: &["unit, since"],
        },
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        "PersonRegistered",
        "PersonTransferred",
        "PersonLeft",
        "CardIssued",
        "CardRevoked",
        "RoleGranted",
        "RoleRevoked",
        "PersonalDataErased",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if !event.stream_id.starts_with("person-") {
            return Ok(());
        }
        let (p, e) = self.people.apply(event, cx).await?;
        let (Some(r), Some(unit)) = (&p.registered, &p.unit) else {
            return Ok(());
        };
        let args = vec![
            r.staff_no.as_str().into(),
            r.name.as_str().into(),
            unit.as_str().into(),
            text(&r.category).into(),
            r.birth_date.into(),
            r.hire_date.into(),
            p.left_on.into(),
            p.card.as_ref().map(|c| c.as_str()).into(),
            serde_json::to_string(&p.roles)
                .expect("roles serialize")
                .into(),
            event.position.into(),
            p.erased.map(|at| at.to_rfc3339()).into(),
        ];
        if matches!(e, PersonEvent::PersonRegistered(_)) {
            cx.exec(
                "INSERT INTO {people} (staff_no, name, unit, category, birth_date, hire_date, \
                 left_on, card, roles, position, erased_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                args,
            );
        } else {
            cx.exec(
                "UPDATE {people} SET name = $2, unit = $3, category = $4, birth_date = $5, \
                 hire_date = $6, left_on = $7, card = $8, roles = $9, position = $10, \
                 erased_at = $11 WHERE staff_no = $1",
                args,
            );
        }
        match e {
            PersonEvent::PersonRegistered(_) => cx.exec(
                "INSERT INTO {memberships} (staff_no, unit, since, until) VALUES ($1, $2, $3, NULL)",
                vec![
                    r.staff_no.as_str().into(),
                    unit.as_str().into(),
                    r.hire_date.into(),
                ],
            ),
            PersonEvent::PersonTransferred { to, effective, .. } => {
                cx.exec(
                    "UPDATE {memberships} SET until = $2 WHERE staff_no = $1 AND until IS NULL",
                    vec![r.staff_no.as_str().into(), effective.into()],
                );
                cx.exec(
                    "INSERT INTO {memberships} (staff_no, unit, since, until) \
                     VALUES ($1, $2, $3, NULL) ON CONFLICT (staff_no, since) \
                     DO UPDATE SET unit = excluded.unit, until = NULL",
                    vec![
                        r.staff_no.as_str().into(),
                        to.as_str().into(),
                        effective.into(),
                    ],
                );
            }
            PersonEvent::PersonLeft { on, .. } => cx.exec(
                "UPDATE {memberships} SET until = $2 WHERE staff_no = $1 AND until IS NULL",
                vec![r.staff_no.as_str().into(), on.into()],
            ),
            PersonEvent::CardIssued { uid } => cx.exec(
                "INSERT INTO {cards} (uid, staff_no, revoked) VALUES ($1, $2, NULL) \
                 ON CONFLICT (uid) DO UPDATE SET staff_no = excluded.staff_no, revoked = NULL",
                vec![uid.as_str().into(), r.staff_no.as_str().into()],
            ),
            PersonEvent::CardRevoked { uid, reason } => cx.exec(
                "UPDATE {cards} SET revoked = $2 WHERE uid = $1",
                vec![uid.as_str().into(), text(&reason).into()],
            ),
            _ => {}
        }
        Ok(())
    }
}
