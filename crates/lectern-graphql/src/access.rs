//! Authorization: who may read what and decide what, checked in every
//! resolver that needs it (the README has the matrix; a test checks it).

use async_graphql::Context;
use lectern_domain::{StaffNo, UnitId};
use lectern_projections::Val;

use crate::auth::{Caller, Principal};
use crate::error::{ApiError, Code, Result};

/// The caller of this request, or UNAUTHENTICATED. Kiosk tokens are for
/// the kiosk endpoints only.
pub(crate) fn caller<'a>(ctx: &Context<'a>) -> Result<&'a Caller> {
    let caller = ctx.data_opt::<Caller>().ok_or_else(|| {
        ApiError::new(
            Code::Unauthenticated,
            "sign in: send the header `Authorization: Bearer <token>` (tokens come from \
                 `lectern token create`)",
        )
    })?;
    if let Principal::Kiosk { kiosk } = &caller.principal {
        return Err(ApiError::forbidden(format!(
            "kiosk {kiosk:?} may use only the kiosk endpoints (/kiosk/v1), not GraphQL"
        )));
    }
    Ok(caller)
}

/// What part of the campus a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    All,
    /// A unit and everything below it.
    Subtree(UnitId),
    /// One person's own records.
    Own(StaffNo),
}

impl Scope {
    pub(crate) fn of(caller: &Caller) -> Scope {
        match &caller.principal {
            Principal::Administrator | Principal::Auditor => Scope::All,
            Principal::UnionChair { unit } => Scope::Subtree(unit.clone()),
            Principal::Staff { person } => Scope::Own(person.clone()),
            // Refused by `caller` before any scope is asked for.
            Principal::Kiosk { .. } => Scope::Own(StaffNo::parse("NOBODY00").expect("valid")),
        }
    }

    /// Whether the unit at `path` (`/uni/school-cs/`) is within reach.
    pub(crate) fn reaches(&self, path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Subtree(own) => path.contains(&format!("/{own}/")),
            Scope::Own(_) => false,
        }
    }

    /// The `LIKE` pattern of a subtree's unit paths.
    pub(crate) fn subtree_pattern(unit: &UnitId) -> Val {
        lectern_projections::subtree_pattern(unit)
    }
}

pub(crate) fn administrator(caller: &Caller, what: &str) -> Result<()> {
    match caller.principal {
        Principal::Administrator => Ok(()),
        _ => Err(denied(caller, what)),
    }
}

/// Administrators and auditors: those who oversee the whole record.
pub(crate) fn overseer(caller: &Caller, what: &str) -> Result<()> {
    match caller.principal {
        Principal::Administrator | Principal::Auditor => Ok(()),
        _ => Err(denied(caller, what)),
    }
}

pub(crate) fn denied(caller: &Caller, what: &str) -> ApiError {
    let who = match &caller.principal {
        Principal::UnionChair { unit } => format!("the union chair of {unit}"),
        Principal::Staff { person } => format!("staff member {person}"),
        Principal::Kiosk { kiosk } => format!("kiosk {kiosk}"),
        Principal::Administrator => "an administrator".to_owned(),
        Principal::Auditor => "an auditor".to_owned(),
    };
    ApiError::forbidden(format!("{who} may not {what}"))
}

/// The person a caller acts as (a marker, approver or corrector).
pub(crate) fn acting_person(caller: &Caller) -> Result<StaffNo> {
    caller.person.clone().ok_or_else(|| {
        ApiError::new(
            Code::BadUserInput,
            "this token is not tied to a person, and this decision records who made it; \
             create the token with `--person STAFF_NO`",
        )
    })
}

/// Limits a query over `x.staff_no` joined with people as `p` to the
/// people the caller may see.
pub(crate) fn scope_people(filter: &mut crate::page::Where, caller: &Caller) {
    match Scope::of(caller) {
        Scope::All => {}
        Scope::Subtree(unit) => filter.and(
            "p.unit IN (SELECT id FROM rm_units WHERE path LIKE ?)",
            [Scope::subtree_pattern(&unit)],
        ),
        Scope::Own(no) => filter.and("x.staff_no = ?", [Val::from(no.as_str())]),
    }
}
