//! Awards: Teachers' Day honours at national, provincial, city and
//! university level. Everyone signed in reads categories, nominations and
//! the register; administrators define, endorse, confer, revoke and feature;
//! union chairs nominate within their subtree; anyone with a person votes
//! (once per category and year, never for themselves: the domain decides).

use async_graphql::{Context, Object, SimpleObject};
use chrono::NaiveDate;
use lectern_domain::{
    Award, AwardCommand, CategoryId, Name, Nominee, StaffNo, UnitId, award_stream,
};
use lectern_projections::{Row, Val};

use crate::access;
use crate::api::Api;
use crate::auth::{Caller, Principal};
use crate::enums::{
    AwardKind, AwardLevel, Channel, NominationStatus, NomineeKind, name_of, stored,
};
use crate::error::{ApiError, Result};
use crate::page::Where;

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct AwardCategory {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) level: AwardLevel,
    pub(crate) kind: AwardKind,
    pub(crate) criteria: String,
    pub(crate) by_vote: bool,
}

/// A nomination and what became of it.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct NominationView {
    pub(crate) category: String,
    pub(crate) category_title: String,
    pub(crate) level: AwardLevel,
    pub(crate) year: i64,
    pub(crate) nominee_kind: NomineeKind,
    /// A staff number or a unit id.
    pub(crate) nominee: String,
    /// The person's or unit's name.
    pub(crate) nominee_name: Option<String>,
    pub(crate) citation: String,
    pub(crate) endorsed: bool,
    pub(crate) votes: i64,
    pub(crate) status: NominationStatus,
    pub(crate) ceremony: Option<String>,
    pub(crate) conferred_on: Option<String>,
    pub(crate) revoked_reason: Option<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Exemplar {
    pub(crate) category: String,
    pub(crate) year: i64,
    pub(crate) nominee_kind: NomineeKind,
    pub(crate) nominee: String,
    pub(crate) channel: Channel,
    pub(crate) story: String,
    pub(crate) featured_on: String,
}

const NOMINATIONS: &str = "SELECT n.category, c.title AS category_title, c.level, n.year, \
     n.nominee_kind, n.nominee, COALESCE(p.name, u.name) AS nominee_name, n.citation, \
     n.endorsed, n.votes, n.status, n.ceremony, n.conferred_on, n.revoked_reason FROM rm_nominations n \
     JOIN rm_award_categories c ON c.id = n.category \
     LEFT JOIN rm_people p ON n.nominee_kind = 'person' AND p.staff_no = n.nominee \
     LEFT JOIN rm_units u ON n.nominee_kind = 'unit' AND u.id = n.nominee";

fn nomination(r: &Row) -> Result<NominationView> {
    Ok(NominationView {
        category: r.text("category"),
        category_title: r.text("category_title"),
        level: stored("award level", r.get("level"))?,
        year: r.int("year"),
        nominee_kind: stored("nominee kind", r.get("nominee_kind"))?,
        nominee: r.text("nominee"),
        nominee_name: r.opt("nominee_name"),
        citation: r.text("citation"),
        endorsed: r.int("endorsed") != 0,
        votes: r.int("votes"),
        status: stored("nomination status", r.get("status"))?,
        ceremony: r.opt("ceremony"),
        conferred_on: r.opt("conferred_on"),
        revoked_reason: r.opt("revoked_reason"),
    })
}

/// Nominations matching `filter`, in `order` (an ORDER BY clause).
async fn nominations(api: &Api, filter: Where, order: &str) -> Result<Vec<NominationView>> {
    let sql = format!("{NOMINATIONS}{} ORDER BY {order}", filter.sql());
    let rows = api.db().fetch(&sql, &filter.args).await?;
    rows.iter().map(nomination).collect()
}

#[derive(Default)]
pub(crate) struct AwardQuery;

#[Object]
impl AwardQuery {
    async fn award_categories(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<AwardCategory>> {
        access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(
                "SELECT id, title, level, kind, criteria, by_vote FROM rm_award_categories \
                 ORDER BY id",
                &[],
            )
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(AwardCategory {
                    id: r.text("id"),
                    title: r.text("title"),
                    level: stored("award level", r.get("level"))?,
                    kind: stored("award kind", r.get("kind"))?,
                    criteria: r.text("criteria"),
                    by_vote: r.int("by_vote") != 0,
                })
            })
            .collect::<Result<_>>()?)
    }

    /// Nominations of a category (or all), of a year (or all), most votes
    /// first.
    async fn nominations(
        &self,
        ctx: &Context<'_>,
        category: Option<String>,
        year: Option<i32>,
    ) -> async_graphql::Result<Vec<NominationView>> {
        access::caller(ctx)?;
        let mut filter = Where::default();
        if let Some(c) = category {
            filter.and(
                "n.category = ?",
                [Val::from(CategoryId::parse(&c)?.as_str())],
            );
        }
        if let Some(y) = year {
            filter.and("n.year = ?", [Val::Int(i64::from(y))]);
        }
        let order = "n.year, n.category, n.votes DESC, n.nominee LIMIT 1000";
        Ok(nominations(ctx.data_unchecked::<Api>(), filter, order).await?)
    }

    /// The awards register: awards conferred (and not revoked, unless asked
    /// for), by year and level.
    async fn awards_register(
        &self,
        ctx: &Context<'_>,
        year: Option<i32>,
        level: Option<AwardLevel>,
        #[graphql(default = false)] include_revoked: bool,
    ) -> async_graphql::Result<Vec<NominationView>> {
        access::caller(ctx)?;
        let mut filter = Where::default();
        if include_revoked {
            filter.and("n.status IN ('conferred', 'revoked')", []);
        } else {
            filter.and("n.status = 'conferred'", []);
        }
        if let Some(y) = year {
            filter.and("n.year = ?", [Val::Int(i64::from(y))]);
        }
        if let Some(l) = level {
            filter.and("c.level = ?", [Val::from(name_of(&l))]);
        }
        let order = "n.year, CASE c.level WHEN 'national' THEN 0 WHEN 'provincial' THEN 1 \
                     WHEN 'city' THEN 2 ELSE 3 END, n.category, n.nominee LIMIT 5000";
        Ok(nominations(ctx.data_unchecked::<Api>(), filter, order).await?)
    }

    /// Exemplars featured on campus channels.
    async fn exemplars(
        &self,
        ctx: &Context<'_>,
        year: Option<i32>,
    ) -> async_graphql::Result<Vec<Exemplar>> {
        access::caller(ctx)?;
        let mut filter = Where::default();
        if let Some(y) = year {
            filter.and("year = ?", [Val::Int(i64::from(y))]);
        }
        let sql = format!(
            "SELECT category, year, nominee_kind, nominee, channel, story, featured_on \
             FROM rm_exemplars{} ORDER BY featured_on, category, seq LIMIT 1000",
            filter.sql()
        );
        let rows = ctx
            .data_unchecked::<Api>()
            .db()
            .fetch(&sql, &filter.args)
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(Exemplar {
                    category: r.text("category"),
                    year: r.int("year"),
                    nominee_kind: stored("nominee kind", r.get("nominee_kind"))?,
                    nominee: r.text("nominee"),
                    channel: stored("channel", r.get("channel"))?,
                    story: r.text("story"),
                    featured_on: r.text("featured_on"),
                })
            })
            .collect::<Result<_>>()?)
    }
}

/// What a change to an award category wrote.
#[derive(Debug, SimpleObject)]
pub(crate) struct AwardPayload {
    pub(crate) position: u64,
    pub(crate) category: String,
}

fn nominee(staff_no: Option<String>, unit: Option<String>) -> Result<Nominee> {
    match (staff_no, unit) {
        (Some(p), None) => Ok(Nominee::Person(StaffNo::parse(&p)?)),
        (None, Some(u)) => Ok(Nominee::Unit(UnitId::parse(&u)?)),
        _ => Err(ApiError::bad_input(
            "name exactly one nominee: nomineeStaffNo or nomineeUnit",
        )),
    }
}

async fn decide(
    api: &Api,
    caller: &Caller,
    category: &str,
    command: AwardCommand,
) -> Result<AwardPayload> {
    let id = CategoryId::parse(category)?;
    let written = api
        .execute_with_org::<Award>(
            caller,
            &award_stream(&id),
            |a, org| a.decide(&command, org),
            |_| vec![],
        )
        .await?;
    Ok(AwardPayload {
        position: written.position,
        category: id.as_str().to_owned(),
    })
}

/// For administrators only (the access table sees to it).
async fn admin_decides(
    ctx: &Context<'_>,
    category: &str,
    command: impl FnOnce(&Caller) -> Result<AwardCommand>,
) -> async_graphql::Result<AwardPayload> {
    let caller = access::caller(ctx)?;
    let command = command(caller)?;
    Ok(decide(ctx.data_unchecked::<Api>(), caller, category, command).await?)
}

#[derive(Default)]
pub(crate) struct AwardMutation;

#[Object]
impl AwardMutation {
    #[allow(clippy::too_many_arguments)]
    async fn define_award_category(
        &self,
        ctx: &Context<'_>,
        id: String,
        title: String,
        level: AwardLevel,
        kind: AwardKind,
        criteria: String,
        #[graphql(default = false)] by_vote: bool,
    ) -> async_graphql::Result<AwardPayload> {
        admin_decides(ctx, &id, |_| {
            Ok(AwardCommand::Define {
                category: CategoryId::parse(&id)?,
                title: Name::parse(&title)?,
                level: level.into(),
                kind: kind.into(),
                criteria,
                by_vote,
            })
        })
        .await
    }

    /// Nominates a person or a unit; the nominator is the token's person.
    /// Union chairs nominate within their subtree.
    async fn nominate(
        &self,
        ctx: &Context<'_>,
        category: String,
        year: i32,
        nominee_staff_no: Option<String>,
        nominee_unit: Option<String>,
        citation: String,
    ) -> async_graphql::Result<AwardPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let nominee = nominee(nominee_staff_no, nominee_unit)?;
        match &caller.principal {
            Principal::Administrator => {}
            Principal::UnionChair { unit } => {
                let nominee_unit = match &nominee {
                    Nominee::Unit(u) => u.as_str().to_owned(),
                    Nominee::Person(p) => {
                        crate::people::PersonView::get(api, caller, p.as_str())
                            .await?
                            .unit
                    }
                };
                let path = crate::org::Unit::get(api, &nominee_unit).await?.path;
                if !path.contains(&format!("/{unit}/")) {
                    return Err(access::denied(caller, "nominate outside their subtree").into());
                }
            }
            Principal::Auditor | Principal::Staff { .. } | Principal::Kiosk { .. } => {
                return Err(access::denied(caller, "nominate for awards").into());
            }
        }
        let command = AwardCommand::Nominate {
            year,
            nominee,
            nominator: access::acting_person(caller)?,
            citation,
        };
        Ok(decide(api, caller, &category, command).await?)
    }

    async fn endorse_nomination(
        &self,
        ctx: &Context<'_>,
        category: String,
        year: i32,
        nominee_staff_no: Option<String>,
        nominee_unit: Option<String>,
    ) -> async_graphql::Result<AwardPayload> {
        admin_decides(ctx, &category, |caller| {
            Ok(AwardCommand::Endorse {
                year,
                nominee: nominee(nominee_staff_no, nominee_unit)?,
                endorser: access::acting_person(caller)?,
            })
        })
        .await
    }

    /// Casts the token's person's vote in a category decided by vote.
    async fn vote(
        &self,
        ctx: &Context<'_>,
        category: String,
        year: i32,
        nominee_staff_no: Option<String>,
        nominee_unit: Option<String>,
    ) -> async_graphql::Result<AwardPayload> {
        let caller = access::caller(ctx)?;
        let command = AwardCommand::Vote {
            year,
            voter: access::acting_person(caller)?,
            nominee: nominee(nominee_staff_no, nominee_unit)?,
        };
        Ok(decide(ctx.data_unchecked::<Api>(), caller, &category, command).await?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn confer_award(
        &self,
        ctx: &Context<'_>,
        category: String,
        year: i32,
        nominee_staff_no: Option<String>,
        nominee_unit: Option<String>,
        ceremony: String,
        on: NaiveDate,
    ) -> async_graphql::Result<AwardPayload> {
        admin_decides(ctx, &category, |_| {
            Ok(AwardCommand::Confer {
                year,
                nominee: nominee(nominee_staff_no, nominee_unit)?,
                ceremony: Name::parse(&ceremony)?,
                on,
            })
        })
        .await
    }

    async fn revoke_award(
        &self,
        ctx: &Context<'_>,
        category: String,
        year: i32,
        nominee_staff_no: Option<String>,
        nominee_unit: Option<String>,
        reason: String,
    ) -> async_graphql::Result<AwardPayload> {
        admin_decides(ctx, &category, |_| {
            Ok(AwardCommand::Revoke {
                year,
                nominee: nominee(nominee_staff_no, nominee_unit)?,
                reason,
            })
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn feature_exemplar(
        &self,
        ctx: &Context<'_>,
        category: String,
        year: i32,
        nominee_staff_no: Option<String>,
        nominee_unit: Option<String>,
        channel: Channel,
        story: String,
        on: NaiveDate,
    ) -> async_graphql::Result<AwardPayload> {
        admin_decides(ctx, &category, |_| {
            Ok(AwardCommand::Feature {
                year,
                nominee: nominee(nominee_staff_no, nominee_unit)?,
                channel: channel.into(),
                story,
                on,
            })
        })
        .await
    }
}
