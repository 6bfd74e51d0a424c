//! People: the register, filtered by the caller's scope; changes by
//! administrators. Card UIDs are shown to administrators only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::connection::Connection;
use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::NaiveDate;
use lectern_domain::{
    CardUid, Name, OrgTree, Person, PersonCommand, PersonEvent, Registration, Role, StaffNo,
    UnitId, person_stream,
};
use lectern_projections::{Row, Val};

use crate::access::{self, Scope};
use crate::api::Api;
use crate::auth::{Caller, Principal};
use crate::enums::{RevocationReason, RoleName, StaffCategory, name_of, stored};
use crate::error::{ApiError, Code, Result};
use crate::page::{Where, fetch_page};

/// The people a request has read (request data, see `PersonView::seen`).
#[derive(Default)]
pub(crate) struct RequestPeople(Mutex<HashMap<String, Arc<tokio::sync::OnceCell<PersonView>>>>);

/// A role a person holds.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "RoleGrant")]
pub(crate) struct RoleView {
    pub(crate) role: RoleName,
    /// The unit of a union chair.
    pub(crate) unit: Option<String>,
}

/// A member of staff.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Person")]
pub(crate) struct PersonView {
    pub(crate) staff_no: String,
    pub(crate) name: String,
    pub(crate) unit: String,
    pub(crate) category: StaffCategory,
    /// None once the person's personal data is erased.
    pub(crate) birth_date: Option<String>,
    pub(crate) hire_date: String,
    pub(crate) left_on: Option<String>,
    /// When the person's personal data was erased (server time): their
    /// name, birth date and the personal text of their records read as
    /// `[erased]` since.
    pub(crate) personal_data_erased_at: Option<String>,
    /// The active campus card: the whole UID for administrators, the last
    /// four digits for everyone else.
    pub(crate) card: Option<String>,
    pub(crate) roles: Vec<RoleView>,
}

/// A member of the leadership group, or a unit's union chair.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct Leader {
    /// A leadership role or union_chair.
    pub(crate) role: RoleName,
    /// The unit a union chair chairs.
    pub(crate) of_unit: Option<String>,
    pub(crate) staff_no: String,
    pub(crate) name: String,
    /// The unit the person belongs to.
    pub(crate) unit: String,
}

const SELECT: &str = "SELECT staff_no, name, unit, category, birth_date, hire_date, left_on, \
                      erased_at, card, roles FROM rm_people";

impl PersonView {
    fn from_row(r: &Row, caller: &Caller) -> Result<PersonView> {
        let card = r.opt("card").map(|uid| match caller.principal {
            Principal::Administrator => uid,
            _ => CardUid::parse(&uid).map_or_else(|_| "****".into(), |c| c.masked()),
        });
        let roles: Vec<Role> = serde_json::from_str(&r.text("roles")).unwrap_or_default();
        Ok(PersonView {
            staff_no: r.text("staff_no"),
            name: r.text("name"),
            unit: r.text("unit"),
            category: stored("staff category", r.get("category"))?,
            birth_date: r.opt("birth_date"),
            hire_date: r.text("hire_date"),
            left_on: r.opt("left_on"),
            personal_data_erased_at: r.opt("erased_at"),
            card,
            roles: roles
                .iter()
                .map(|role| {
                    let (role, unit) = RoleName::of(role);
                    RoleView { role, unit }
                })
                .collect(),
        })
    }

    /// As `get`, reading each person once per request: root fields about
    /// the same person (a dashboard's profile, attendance and appraisal)
    /// share one read. For queries only: a mutation reads afresh.
    pub(crate) async fn seen(ctx: &Context<'_>, staff_no: &str) -> Result<PersonView> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let Some(seen) = ctx.data_opt::<RequestPeople>() else {
            return PersonView::get(api, caller, staff_no).await;
        };
        let cell = seen
            .0
            .lock()
            .expect("not poisoned")
            .entry(staff_no.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| PersonView::get(api, caller, staff_no))
            .await
            .cloned()
    }

    /// One person, if the caller may see them.
    pub(crate) async fn get(api: &Api, caller: &Caller, staff_no: &str) -> Result<PersonView> {
        let no = StaffNo::parse(staff_no)?;
        let mut filter = Where::default();
        filter.and("staff_no = ?", [Val::from(no.as_str())]);
        scope_filter(&mut filter, caller, "read this person's record")?;
        let sql = format!("{SELECT}{}", filter.sql());
        let rows = api.db().fetch(&sql, &filter.args).await?;
        match rows.first() {
            Some(r) => PersonView::from_row(r, caller),
            None if matches!(Scope::of(caller), Scope::All) => Err(ApiError::not_found(format!(
                "staff member {no} does not exist"
            ))),
            None => Err(access::denied(caller, &format!("read the record of {no}"))),
        }
    }
}

/// Limits a query on `rm_people` (or anything with `staff_no` and `unit`
/// columns) to what the caller may read.
pub(crate) fn scope_filter(filter: &mut Where, caller: &Caller, _what: &str) -> Result<()> {
    match Scope::of(caller) {
        Scope::All => {}
        Scope::Subtree(unit) => filter.and(
            &format!("unit IN ({})", lectern_projections::subtree_units("?")),
            [Scope::subtree_pattern(&unit)],
        ),
        Scope::Own(no) => filter.and("staff_no = ?", [Val::from(no.as_str())]),
    }
    Ok(())
}

/// The longest `people(search:)` accepted, in characters.
pub(crate) const MAX_SEARCH: usize = 64;

#[derive(Default)]
pub(crate) struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// Staff, by staff number, within the caller's scope: filtered by unit
    /// (and the units below it), category, programme (its participants), or
    /// a search on name or staff number. Former staff are included on
    /// request.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn people(
        &self,
        ctx: &Context<'_>,
        unit: Option<String>,
        category: Option<StaffCategory>,
        programme: Option<String>,
        search: Option<String>,
        #[graphql(default = false)] include_former: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, PersonView>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut filter = Where::default();
        scope_filter(&mut filter, caller, "list people")?;
        if let Some(u) = unit {
            let u = UnitId::parse(&u)?;
            filter.and(
                &format!("unit IN ({})", lectern_projections::subtree_units("?")),
                [Scope::subtree_pattern(&u)],
            );
        }
        if let Some(c) = category {
            filter.and("category = ?", [Val::from(name_of(&c))]);
        }
        if let Some(p) = programme {
            filter.and(
                "staff_no IN (SELECT staff_no FROM rm_programme_participants WHERE programme = ?)",
                [Val::from(lectern_domain::ProgrammeId::parse(&p)?.as_str())],
            );
        }
        if let Some(s) = search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
        {
            let chars = s.chars().count();
            if chars > MAX_SEARCH {
                return Err(ApiError::bad_input(format!(
                    "search is {chars} characters long; a name or staff number is at most \
                     {MAX_SEARCH}"
                ))
                .into());
            }
            let like = format!("%{}%", s.replace(['%', '_'], ""));
            filter.and(
                "(name LIKE ? OR staff_no LIKE ?)",
                [Val::from(like.clone()), Val::from(like.to_uppercase())],
            );
        }
        if !include_former {
            filter.and("left_on IS NULL", []);
        }
        Ok(
            fetch_page(api.db(), SELECT, "staff_no", filter, first, after, |r| {
                PersonView::from_row(r, caller)
            })
            .await?,
        )
    }

    /// The leadership group: the leader, the deputy leaders, the members,
    /// then every unit's union chair by unit (current staff; anyone signed
    /// in may read it).
    async fn leadership_group(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Leader>> {
        let caller = access::caller(ctx)?;
        if matches!(caller.principal, Principal::Kiosk { .. }) {
            return Err(access::denied(caller, "read the leadership group").into());
        }
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(
                "SELECT staff_no, name, unit, roles FROM rm_people WHERE left_on IS NULL \
                 AND (roles LIKE '%leadership_%' OR roles LIKE '%union_chair%')",
                &[],
            )
            .await
            .map_err(ApiError::from)?;
        let rank = |role: RoleName| match role {
            RoleName::LeadershipLeader => 0,
            RoleName::LeadershipDeputy => 1,
            RoleName::LeadershipMember => 2,
            _ => 3,
        };
        let mut group: Vec<Leader> = rows
            .iter()
            .flat_map(|r| {
                let roles: Vec<Role> = serde_json::from_str(&r.text("roles")).unwrap_or_default();
                roles.into_iter().filter_map(move |role| {
                    let (role, of_unit) = RoleName::of(&role);
                    let leads = !matches!(role, RoleName::Administrator | RoleName::Auditor);
                    leads.then(|| Leader {
                        role,
                        of_unit,
                        staff_no: r.text("staff_no"),
                        name: r.text("name"),
                        unit: r.text("unit"),
                    })
                })
            })
            .collect();
        group.sort_by(|a, b| {
            (rank(a.role), &a.of_unit, &a.staff_no).cmp(&(rank(b.role), &b.of_unit, &b.staff_no))
        });
        Ok(group)
    }

    async fn person(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
    ) -> async_graphql::Result<PersonView> {
        Ok(PersonView::seen(ctx, &staff_no).await?)
    }

    /// Who the token signs in as, the campus date on the server's clock,
    /// and the years that hold sessions: what a page needs to start.
    async fn signed_in(&self, ctx: &Context<'_>) -> async_graphql::Result<SignedIn> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let role = access::Role::of(&caller.principal)
            .map_or("kiosk", access::Role::as_str)
            .to_owned();
        let unit = match &caller.principal {
            Principal::UnionChair { unit } => Some(unit.as_str().to_owned()),
            _ => None,
        };
        // Session starts are RFC 3339 in UTC: a session in the first hours
        // of 1 January on campus counts in the year before, which only
        // widens the list by a year at most.
        let rows = api
            .db()
            .fetch(
                "SELECT DISTINCT substr(starts_at, 1, 4) AS year FROM rm_sessions ORDER BY year",
                &[],
            )
            .await
            .map_err(ApiError::from)?;
        let years = rows
            .iter()
            .filter_map(|r| r.text("year").parse().ok())
            .collect();
        let leadership = match &caller.person {
            Some(p) => in_leadership(api, p).await?,
            None => false,
        };
        Ok(SignedIn {
            leadership,
            role,
            staff_no: caller.person.as_ref().map(|p| p.as_str().to_owned()),
            unit,
            today: api.app.campus.date(api.app.clock.now()),
            time_zone: api.app.campus.tz().name().to_owned(),
            years,
        })
    }

    /// The signed-in person's own record (for tokens tied to a person).
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PersonView>> {
        let caller = access::caller(ctx)?;
        let Some(no) = &caller.person else {
            return Ok(None);
        };
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch(
                &format!("{SELECT} WHERE staff_no = $1"),
                &[Val::from(no.as_str())],
            )
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .first()
            .map(|r| PersonView::from_row(r, caller))
            .transpose()?)
    }
}

/// Whether `person` is on the staff and holds a leadership group role.
pub(crate) async fn in_leadership(api: &Api, person: &StaffNo) -> Result<bool> {
    let rows = api
        .db()
        .fetch(
            "SELECT roles FROM rm_people WHERE staff_no = $1 AND left_on IS NULL",
            &[Val::from(person.as_str())],
        )
        .await?;
    Ok(rows.first().is_some_and(|r| {
        serde_json::from_str::<Vec<lectern_domain::Role>>(&r.text("roles")).is_ok_and(|roles| {
            roles.iter().any(|role| {
                matches!(
                    role,
                    lectern_domain::Role::LeadershipLeader
                        | lectern_domain::Role::LeadershipDeputy
                        | lectern_domain::Role::LeadershipMember
                )
            })
        })
    }))
}

/// Who a token signs in as.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct SignedIn {
    /// As `lectern token create --role` spells it.
    pub(crate) role: String,
    /// The person the token belongs to, if it is tied to one.
    pub(crate) staff_no: Option<String>,
    /// A union chair's unit.
    pub(crate) unit: Option<String>,
    /// Whether the token's person is on the staff and holds a leadership
    /// group role (they may rank the units).
    pub(crate) leadership: bool,
    /// Today on the campus, by the server's clock.
    pub(crate) today: NaiveDate,
    /// The campus's IANA time zone, in which dates and times are shown.
    pub(crate) time_zone: String,
    /// The years that hold sessions, oldest first.
    pub(crate) years: Vec<i32>,
}

/// Who a new member of staff is.
#[derive(Debug, InputObject)]
pub(crate) struct RegisterPersonInput {
    pub(crate) staff_no: String,
    pub(crate) name: String,
    pub(crate) unit: String,
    pub(crate) category: StaffCategory,
    pub(crate) birth_date: NaiveDate,
    pub(crate) hire_date: NaiveDate,
}

/// What a change to a person wrote, and the person after it.
#[derive(Debug, SimpleObject)]
pub(crate) struct PersonPayload {
    pub(crate) position: u64,
    pub(crate) person: PersonView,
}

/// What erasing a person's personal data did.
#[derive(Debug, SimpleObject)]
pub(crate) struct ErasurePayload {
    /// The position of the `PersonalDataErased` event.
    pub(crate) position: u64,
    pub(crate) person: PersonView,
    /// The rule that allowed the erasure, as the log records it.
    pub(crate) rule: String,
    /// False when there was no key to destroy: an erasure cut short
    /// before it was recorded (finished now), or a person whose personal
    /// data all predates sealing.
    pub(crate) key_destroyed: bool,
    /// Events of the person's stream written before personal data was
    /// sealed (a log older than sealing): their personal fields stay in the
    /// clear and cannot be erased.
    pub(crate) unsealed_events: u64,
    /// Whether the database's own files were cleared of the old copies now
    /// (SQLite: its write-ahead log emptied). False: a reader held the log;
    /// its next checkpoint clears it.
    pub(crate) files_cleared: bool,
}

#[derive(Default)]
pub(crate) struct PeopleMutation;

impl PeopleMutation {
    async fn change(
        ctx: &Context<'_>,
        staff_no: &str,
        command: impl Fn() -> Result<PersonCommand>,
    ) -> async_graphql::Result<PersonPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let no = StaffNo::parse(staff_no)?;
        let command = command()?;
        let written = api
            .execute_with_org::<Person>(
                caller,
                &person_stream(&no),
                |p, org| p.decide(&command, org),
                Person::key_changes,
            )
            .await?;
        Ok(PersonPayload {
            position: written.position,
            person: PersonView::get(api, caller, no.as_str()).await?,
        })
    }
}

#[Object]
impl PeopleMutation {
    async fn register_person(
        &self,
        ctx: &Context<'_>,
        input: RegisterPersonInput,
    ) -> async_graphql::Result<PersonPayload> {
        Self::change(ctx, &input.staff_no, || {
            Ok(PersonCommand::Register(Registration {
                staff_no: StaffNo::parse(&input.staff_no)?,
                name: Name::parse(&input.name)?,
                unit: UnitId::parse(&input.unit)?,
                category: input.category.into(),
                birth_date: Some(input.birth_date),
                hire_date: input.hire_date,
            }))
        })
        .await
    }

    async fn transfer_person(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        to: String,
        effective: NaiveDate,
    ) -> async_graphql::Result<PersonPayload> {
        Self::change(ctx, &staff_no, || {
            Ok(PersonCommand::Transfer {
                to: UnitId::parse(&to)?,
                effective,
            })
        })
        .await
    }

    /// Records that a person left the university.
    async fn record_leaving(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        on: NaiveDate,
        reason: String,
    ) -> async_graphql::Result<PersonPayload> {
        Self::change(ctx, &staff_no, || {
            Ok(PersonCommand::Leave {
                on,
                reason: reason.clone(),
            })
        })
        .await
    }

    /// Issues a campus card; a card the person still holds is revoked as
    /// replaced.
    async fn issue_card(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        uid: String,
    ) -> async_graphql::Result<PersonPayload> {
        Self::change(ctx, &staff_no, || {
            Ok(PersonCommand::IssueCard {
                uid: CardUid::parse(&uid)?,
            })
        })
        .await
    }

    /// Revokes a card: lost, replaced, damaged or left.
    async fn revoke_card(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        uid: String,
        reason: RevocationReason,
    ) -> async_graphql::Result<PersonPayload> {
        Self::change(ctx, &staff_no, || {
            Ok(PersonCommand::RevokeCard {
                uid: CardUid::parse(&uid)?,
                reason: reason.into(),
            })
        })
        .await
    }

    /// Erases the personal data of someone who left more than
    /// `personal_data_retention_years` ago: destroys their key, so that
    /// their name, birth date and the personal text of their records read
    /// as `[erased]`; records `PersonalDataErased` (who, when, the rule);
    /// overwrites the read models' copies. The log, its checkpoints and
    /// proofs still verify. Refused for current staff, while a dispute of
    /// theirs is open, and inside the retention period.
    async fn erase_personal_data(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
    ) -> async_graphql::Result<ErasurePayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let no = StaffNo::parse(&staff_no)?;
        let stream = person_stream(&no);
        let store = &api.app.store;
        let (person, _) = lectern_projections::load::<Person>(store, &stream, u64::MAX)
            .await
            .map_err(ApiError::from)?;
        if person.registered.is_none() {
            return Err(ApiError::not_found(format!("no staff member {no}")).into());
        }
        let open: Vec<String> = api
            .app
            .projections
            .db()
            .fetch(
                "SELECT id FROM rm_disputes WHERE person = $1 AND status IN ('filed', 'assigned') \
                 ORDER BY id",
                &[Val::from(no.as_str())],
            )
            .await
            .map_err(ApiError::from)?
            .iter()
            .map(|r| r.text("id"))
            .collect();
        if !open.is_empty() {
            return Err(ApiError::new(
                Code::Conflict,
                format!(
                    "staff member {no} has an open appraisal dispute ({}): their personal data \
                     is kept until it is resolved",
                    open.join(", ")
                ),
            )
            .into());
        }
        let at = api.app.clock.now();
        let command = PersonCommand::EraseData {
            at,
            today: api.app.campus.date(at),
            retention_years: api.personal_data_retention_years,
            by: api.meta(caller).actor.unwrap_or_default(),
        };
        let org = OrgTree::default();
        // Decided before the key is touched: a refusal leaves it.
        let rule = match person
            .decide(&command, &org)
            .map_err(ApiError::from)?
            .first()
        {
            Some(PersonEvent::PersonalDataErased { rule, .. }) => rule.clone(),
            _ => String::new(),
        };
        let key_destroyed = store
            .erase_personal_key(no.as_str())
            .await
            .map_err(ApiError::from)?;
        let written = api
            .execute::<Person>(
                caller,
                &stream,
                |p| p.decide(&command, &org),
                Person::key_changes,
            )
            .await?;
        let files_cleared = store.scrub().await.map_err(ApiError::from)?;
        let since = store.personal_since().await.map_err(ApiError::from)?;
        // A person's own stream is short: one read.
        let unsealed_events = store
            .read_stream(&stream, 1, 100_000)
            .await
            .map_err(ApiError::from)?
            .iter()
            .filter(|e| e.position <= since && store.personal_fields().covers(&e.event_type))
            .count() as u64;
        Ok(ErasurePayload {
            position: written.position,
            person: PersonView::get(api, caller, no.as_str()).await?,
            rule,
            key_destroyed,
            unsealed_events,
            files_cleared,
        })
    }

    async fn grant_role(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        role: RoleName,
        unit: Option<String>,
    ) -> async_graphql::Result<PersonPayload> {
        Self::change(ctx, &staff_no, || {
            Ok(PersonCommand::GrantRole {
                role: role.with_unit(unit.as_deref())?,
            })
        })
        .await
    }

    async fn revoke_role(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        role: RoleName,
        unit: Option<String>,
    ) -> async_graphql::Result<PersonPayload> {
        Self::change(ctx, &staff_no, || {
            Ok(PersonCommand::RevokeRole {
                role: role.with_unit(unit.as_deref())?,
            })
        })
        .await
    }
}
