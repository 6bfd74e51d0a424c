//! `awards`: award categories (level, kind, by vote), every nomination
//! with its endorsement, vote count and outcome (the awards register is the
//! conferred ones), and the exemplars featured on campus channels. Voters
//! are not projected: a ballot is counted, not shown.

use lectern_domain::{Award, AwardEvent, Nominee};
use lectern_store::RecordedEvent;

use super::{States, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};
use crate::sql::Val;

#[derive(Debug, Default)]
pub struct AwardsProjector {
    awards: States<Award>,
}

fn nominee(n: &Nominee) -> (Val, Val) {
    match n {
        Nominee::Person(p) => ("person".into(), p.as_str().into()),
        Nominee::Unit(u) => ("unit".into(), u.as_str().into()),
    }
}

impl Projector for AwardsProjector {
    const NAME: &'static str = "awards";
    const VERSION: i64 = 2;
    const TABLES: &'static [Table] = &[
        Table {
            name: "award_categories",
            columns: "id TEXT PRIMARY KEY, title TEXT NOT NULL, level TEXT NOT NULL, \
                      kind TEXT NOT NULL, criteria TEXT NOT NULL, by_vote BIGINT NOT NULL",
            indexes: &[],
        },
        Table {
            name: "nominations",
            columns: "category TEXT NOT NULL, year BIGINT NOT NULL, nominee_kind TEXT NOT NULL, \
                      nominee TEXT NOT NULL, nominator TEXT NOT NULL, citation TEXT NOT NULL, \
                      endorsed BIGINT NOT NULL, votes BIGINT NOT NULL, status TEXT NOT NULL, \
                      ceremony TEXT, conferred_on TEXT, conferred_position BIGINT, \
                      revoked_reason TEXT, \
                      PRIMARY KEY (category, year, nominee_kind, nominee)",
            indexes: &["year, status", "nominee"],
        },
        Table {
            name: "exemplars",
            columns: "category TEXT NOT NULL, seq BIGINT NOT NULL, year BIGINT NOT NULL, \
                      nominee_kind TEXT NOT NULL, nominee TEXT NOT NULL, channel TEXT NOT NULL, \
                      story TEXT NOT NULL, featured_on TEXT NOT NULL, PRIMARY KEY (category, seq)",
            indexes: &["year"],
        },
    ];
    const EVENT_TYPES: &'static [&'static str] = &[
        "AwardCategoryDefined",
        "NominationSubmitted",
        "NominationEndorsed",
        "VoteCast",
        "AwardConferred",
        "AwardRevoked",
        "ExemplarFeatured",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if !event.stream_id.starts_with("award-") {
            return Ok(());
        }
        let (award, e) = self.awards.apply(event, cx).await?;
        let Some(category) = &award.category else {
            return Ok(());
        };
        let id = category.id.as_str().to_owned();
        const UPDATE: &str = "UPDATE {nominations} SET endorsed = $5, votes = $6, status = $7 \
             WHERE category = $1 AND year = $2 AND nominee_kind = $3 AND nominee = $4";
        let state = |year: i32, n: &Nominee| {
            let (kind, who) = nominee(n);
            let nom = award
                .nominations
                .get(&(year, n.clone()))
                .cloned()
                .unwrap_or_default();
            let status = if nom.revoked {
                "revoked"
            } else if nom.conferred {
                "conferred"
            } else {
                "nominated"
            };
            vec![
                id.clone().into(),
                i64::from(year).into(),
                kind,
                who,
                nom.endorsed.into(),
                nom.votes.into(),
                status.into(),
            ]
        };
        match &e {
            AwardEvent::AwardCategoryDefined {
                title,
                level,
                kind,
                criteria,
                by_vote,
                ..
            } => cx.exec(
                "INSERT INTO {award_categories} (id, title, level, kind, criteria, by_vote) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    id.into(),
                    title.as_str().into(),
                    text(level).into(),
                    text(kind).into(),
                    criteria.clone().into(),
                    (*by_vote).into(),
                ],
            ),
            AwardEvent::NominationSubmitted {
                year,
                nominee: n,
                nominator,
                citation,
            } => {
                let (kind, who) = nominee(n);
                cx.exec(
                    "INSERT INTO {nominations} (category, year, nominee_kind, nominee, nominator, \
                     citation, endorsed, votes, status) VALUES ($1, $2, $3, $4, $5, $6, 0, 0, \
                     'nominated')",
                    vec![
                        id.into(),
                        i64::from(*year).into(),
                        kind,
                        who,
                        nominator.as_str().into(),
                        citation.clone().into(),
                    ],
                );
            }
            AwardEvent::NominationEndorsed {
                year, nominee: n, ..
            }
            | AwardEvent::VoteCast {
                year, nominee: n, ..
            } => cx.exec(UPDATE, state(*year, n)),
            AwardEvent::AwardConferred {
                year,
                nominee: n,
                ceremony,
                on,
            } => {
                cx.exec(UPDATE, state(*year, n));
                let (kind, who) = nominee(n);
                cx.exec(
                    "UPDATE {nominations} SET ceremony = $5, conferred_on = $6, \
                     conferred_position = $7 \
                     WHERE category = $1 AND year = $2 AND nominee_kind = $3 AND nominee = $4",
                    vec![
                        id.into(),
                        i64::from(*year).into(),
                        kind,
                        who,
                        ceremony.as_str().into(),
                        (*on).into(),
                        event.position.into(),
                    ],
                );
            }
            AwardEvent::AwardRevoked {
                year,
                nominee: n,
                reason,
            } => {
                cx.exec(UPDATE, state(*year, n));
                let (kind, who) = nominee(n);
                cx.exec(
                    "UPDATE {nominations} SET revoked_reason = $5 \
                     WHERE category = $1 AND year = $2 AND nominee_kind = $3 AND nominee = $4",
                    vec![
                        id.into(),
                        i64::from(*year).into(),
                        kind,
                        who,
                        reason.clone().into(),
                    ],
                );
            }
            AwardEvent::ExemplarFeatured {
                year,
                nominee: n,
                channel,
                story,
                on,
            } => {
                let (kind, who) = nominee(n);
                cx.exec(
                    "INSERT INTO {exemplars} (category, seq, year, nominee_kind, nominee, channel, \
                     story, featured_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    vec![
                        id.into(),
                        event.stream_version.into(),
                        i64::from(*year).into(),
                        kind,
                        who,
                        text(channel).into(),
                        story.clone().into(),
                        (*on).into(),
                    ],
                );
            }
        }
        Ok(())
    }
}
