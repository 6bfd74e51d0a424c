//! The unit tree: queries for everyone signed in, changes by
//! administrators.

use async_graphql::{Context, Object, SimpleObject};
use lectern_domain::{Name, ORG_STREAM, OrgCommand, OrgTree, UnitId};
use lectern_projections::{Row, Val};

use crate::access::{self, Scope};
use crate::api::Api;
use crate::enums::{UnitKind, stored};
use crate::error::{ApiError, Result};
use crate::page::Where;

/// A unit of the university: school, department, office, union branch...
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub(crate) struct Unit {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: UnitKind,
    pub(crate) parent: Option<String>,
    pub(crate) dissolved: bool,
    /// Ids from the root down to this unit, as `/uni/school-cs/cs-dept/`.
    pub(crate) path: String,
    pub(crate) depth: i64,
}

const SELECT: &str = "SELECT id, name, kind, parent, dissolved, path, depth FROM rm_units";

impl Unit {
    fn from_row(r: &Row) -> Result<Unit> {
        Ok(Unit {
            id: r.text("id"),
            name: r.text("name"),
            kind: stored("unit kind", r.get("kind"))?,
            parent: r.opt("parent"),
            dissolved: r.int("dissolved") != 0,
            path: r.text("path"),
            depth: r.int("depth"),
        })
    }

    pub(crate) async fn get(api: &Api, id: &str) -> Result<Unit> {
        let rows = api
            .db()
            .fetch(&format!("{SELECT} WHERE id = $1"), &[Val::from(id)])
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| ApiError::not_found(format!("unit {id:?} does not exist")))?;
        Unit::from_row(row)
    }
}

#[async_graphql::ComplexObject]
impl Unit {
    /// People currently in this unit and the units below it.
    async fn head_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(
                &format!(
                    "SELECT COUNT(*) AS n FROM rm_people WHERE left_on IS NULL AND unit IN ({})",
                    lectern_projections::subtree_units("$1")
                ),
                &[Val::from(format!("{}%", self.path))],
            )
            .await
            .map_err(ApiError::from)?;
        Ok(rows.first().map_or(0, |r| r.int("n")))
    }
}

#[derive(Default)]
pub(crate) struct OrgQuery;

#[Object]
impl OrgQuery {
    /// The unit tree (or the subtree under `under`), root first. A union
    /// chair sees their own subtree.
    async fn units(
        &self,
        ctx: &Context<'_>,
        under: Option<String>,
    ) -> async_graphql::Result<Vec<Unit>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let under = match (Scope::of(caller), under) {
            (Scope::Subtree(own), None) => Some(own.as_str().to_owned()),
            (Scope::Subtree(own), Some(u)) => {
                let unit = Unit::get(api, &u).await?;
                if !unit.path.contains(&format!("/{own}/")) {
                    return Err(access::denied(caller, &format!("read units outside {own}")).into());
                }
                Some(u)
            }
            (_, under) => under,
        };
        let mut filter = Where::default();
        if let Some(u) = under {
            filter.and(
                "path LIKE CAST(? AS TEXT)",
                [Scope::subtree_pattern(&UnitId::parse(&u)?)],
            );
        }
        let sql = format!("{SELECT}{} ORDER BY path", filter.sql());
        let rows = api
            .db()
            .fetch(&sql, &filter.args)
            .await
            .map_err(ApiError::from)?;
        Ok(rows.iter().map(Unit::from_row).collect::<Result<_>>()?)
    }

    async fn unit(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Unit> {
        access::caller(ctx)?;
        Ok(Unit::get(ctx.data_unchecked::<Api>(), &id).await?)
    }
}

/// What a change to the unit tree wrote, and the unit after it.
#[derive(Debug, SimpleObject)]
pub(crate) struct UnitPayload {
    /// The log position of the change; the read models include it.
    pub(crate) position: u64,
    pub(crate) unit: Unit,
}

#[derive(Default)]
pub(crate) struct OrgMutation;

impl OrgMutation {
    async fn change(
        ctx: &Context<'_>,
        id: &str,
        command: impl Fn() -> Result<OrgCommand>,
    ) -> async_graphql::Result<UnitPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let command = command()?;
        let written = api
            .execute::<OrgTree>(caller, ORG_STREAM, |tree| tree.decide(&command), |_| vec![])
            .await?;
        Ok(UnitPayload {
            position: written.position,
            unit: Unit::get(api, id).await?,
        })
    }
}

#[Object]
impl OrgMutation {
    /// Establishes a unit under `parent` (none only for the university).
    async fn establish_unit(
        &self,
        ctx: &Context<'_>,
        id: String,
        name: String,
        kind: UnitKind,
        parent: Option<String>,
    ) -> async_graphql::Result<UnitPayload> {
        Self::change(ctx, &id, || {
            Ok(OrgCommand::EstablishUnit {
                unit: UnitId::parse(&id)?,
                name: Name::parse(&name)?,
                kind: kind.into(),
                parent: parent.as_deref().map(UnitId::parse).transpose()?,
            })
        })
        .await
    }

    async fn rename_unit(
        &self,
        ctx: &Context<'_>,
        id: String,
        name: String,
    ) -> async_graphql::Result<UnitPayload> {
        Self::change(ctx, &id, || {
            Ok(OrgCommand::RenameUnit {
                unit: UnitId::parse(&id)?,
                name: Name::parse(&name)?,
            })
        })
        .await
    }

    async fn move_unit(
        &self,
        ctx: &Context<'_>,
        id: String,
        parent: String,
    ) -> async_graphql::Result<UnitPayload> {
        Self::change(ctx, &id, || {
            Ok(OrgCommand::MoveUnit {
                unit: UnitId::parse(&id)?,
                parent: UnitId::parse(&parent)?,
            })
        })
        .await
    }

    async fn dissolve_unit(
        &self,
        ctx: &Context<'_>,
        id: String,
        reason: String,
    ) -> async_graphql::Result<UnitPayload> {
        Self::change(ctx, &id, || {
            Ok(OrgCommand::DissolveUnit {
                unit: UnitId::parse(&id)?,
                reason: reason.clone(),
            })
        })
        .await
    }
}
