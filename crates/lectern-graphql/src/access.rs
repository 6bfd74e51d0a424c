//! Authorization: who may read what and decide what.
//!
//! Two layers. At the door, [`TABLE`] names for every root field of the
//! schema the roles that may call it at all; [`Door`] (an extension of the
//! schema) refuses anyone else before anything runs, and refuses a root
//! field the table does not name. Inside, each resolver narrows a
//! caller's reach to their scope ([`Scope`]: a chair's subtree, a staff
//! member's own records). `docs/access.md` is generated from the table and
//! a test holds every role against every row of it.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextRequest, NextSubscribe,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Context, Positioned, Request, Response, ServerError, ServerResult};
use futures_util::stream::BoxStream;
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
            &format!("p.unit IN ({})", lectern_projections::subtree_units("?")),
            [Scope::subtree_pattern(&unit)],
        ),
        Scope::Own(no) => filter.and("x.staff_no = ?", [Val::from(no.as_str())]),
    }
}

/// A role as the access table names it (kiosks and anonymous callers may
/// call no field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Administrator,
    UnionChair,
    Auditor,
    Staff,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Administrator,
        Role::UnionChair,
        Role::Auditor,
        Role::Staff,
    ];

    /// The role of a token (`None` for a kiosk's).
    pub fn of(principal: &Principal) -> Option<Role> {
        match principal {
            Principal::Administrator => Some(Role::Administrator),
            Principal::UnionChair { .. } => Some(Role::UnionChair),
            Principal::Auditor => Some(Role::Auditor),
            Principal::Staff { .. } => Some(Role::Staff),
            Principal::Kiosk { .. } => None,
        }
    }

    /// As `lectern token create --role` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::UnionChair => "union-chair",
            Role::Auditor => "auditor",
            Role::Staff => "staff",
        }
    }
}

/// The root types of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Query,
    Mutation,
    Subscription,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Query => "Query",
            Operation::Mutation => "Mutation",
            Operation::Subscription => "Subscription",
        }
    }
}

/// One row of the access table: a root field, the roles that may call it,
/// and how far each reaches inside it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub operation: Operation,
    pub field: &'static str,
    pub roles: &'static [Role],
    /// What the resolver narrows the allowed roles to (empty: nothing).
    pub reach: &'static str,
}

use Operation::{Mutation as M, Query as Q, Subscription as S};
use Role::{Administrator as A, Auditor as U, Staff as T, UnionChair as C};

const EVERYONE: &[Role] = &[A, C, U, T];
const ADMIN: &[Role] = &[A];
const OVERSEERS: &[Role] = &[A, U];
const MANAGERS: &[Role] = &[A, C];
const READERS_OF_UNITS: &[Role] = &[A, C, U];
const ACTORS: &[Role] = &[A, C, T];

const fn rule(
    operation: Operation,
    field: &'static str,
    roles: &'static [Role],
    reach: &'static str,
) -> Rule {
    Rule {
        operation,
        field,
        roles,
        reach,
    }
}

const SCOPED: &str = "chair: U's subtree; staff: their own";
const UNIT_SCOPED: &str = "chair: units in U's subtree";
const MANAGED: &str = "chair: sessions organised in U's subtree";
const TASKS: &str = "chair: tasks for U's subtree";
const FLAGGED: &str =
    "chair: flags about people who belong or belonged to U's subtree; auditor: card UIDs masked";

/// Who may call every root field of the schema.
pub const TABLE: &[Rule] = &[
    // The unit tree.
    rule(Q, "units", EVERYONE, "chair: `under` within U's subtree"),
    rule(Q, "unit", EVERYONE, ""),
    rule(M, "establishUnit", ADMIN, ""),
    rule(M, "renameUnit", ADMIN, ""),
    rule(M, "moveUnit", ADMIN, ""),
    rule(M, "dissolveUnit", ADMIN, ""),
    // People.
    rule(Q, "people", EVERYONE, SCOPED),
    rule(Q, "leadershipGroup", EVERYONE, ""),
    rule(Q, "person", EVERYONE, SCOPED),
    rule(Q, "me", EVERYONE, ""),
    rule(Q, "signedIn", EVERYONE, ""),
    rule(M, "registerPerson", ADMIN, ""),
    rule(M, "transferPerson", ADMIN, ""),
    rule(M, "recordLeaving", ADMIN, ""),
    rule(M, "issueCard", ADMIN, ""),
    rule(M, "revokeCard", ADMIN, ""),
    rule(M, "erasePersonalData", ADMIN, ""),
    rule(M, "grantRole", ADMIN, ""),
    rule(M, "revokeRole", ADMIN, ""),
    // Sessions and attendance.
    rule(
        Q,
        "sessions",
        EVERYONE,
        "chair: U's subtree; staff: their unit's and the units' above",
    ),
    rule(
        Q,
        "session",
        EVERYONE,
        "chair: U's subtree; staff: their unit's and the units' above (their own roster line)",
    ),
    rule(Q, "heldTaps", OVERSEERS, ""),
    rule(Q, "attendance", EVERYONE, SCOPED),
    rule(
        M,
        "scheduleSession",
        MANAGERS,
        "chair: organised in U's subtree, expecting only its staff (or open to all)",
    ),
    rule(M, "cancelSession", MANAGERS, MANAGED),
    rule(M, "rescheduleSession", MANAGERS, MANAGED),
    rule(M, "assignSeat", MANAGERS, MANAGED),
    rule(M, "markByHand", MANAGERS, MANAGED),
    rule(M, "requestLeave", ACTORS, "chair and staff: for themselves"),
    rule(M, "approveLeave", MANAGERS, MANAGED),
    rule(M, "rejectLeave", MANAGERS, MANAGED),
    rule(M, "closeSession", MANAGERS, MANAGED),
    rule(M, "correctAttendance", MANAGERS, MANAGED),
    // The navigation programme.
    rule(Q, "programmes", EVERYONE, ""),
    rule(Q, "programme", EVERYONE, "participants: as `people`"),
    rule(M, "launchProgramme", ADMIN, ""),
    rule(M, "issueAnnualPlan", ADMIN, ""),
    rule(M, "issueNotice", ADMIN, ""),
    rule(M, "enrolParticipant", ADMIN, ""),
    // Study tasks.
    rule(Q, "studyTasks", EVERYONE, ""),
    rule(Q, "studyTask", EVERYONE, ""),
    rule(Q, "studyRecord", EVERYONE, SCOPED),
    rule(M, "assignStudyTask", MANAGERS, TASKS),
    rule(
        M,
        "completeStudyTask",
        ACTORS,
        "chair: for people of tasks for U's subtree; staff: for themselves",
    ),
    rule(M, "waiveStudyTask", MANAGERS, TASKS),
    rule(M, "closeStudyTask", MANAGERS, TASKS),
    // Awards.
    rule(Q, "awardCategories", EVERYONE, ""),
    rule(Q, "nominations", EVERYONE, ""),
    rule(Q, "awardsRegister", EVERYONE, ""),
    rule(Q, "exemplars", EVERYONE, ""),
    rule(M, "defineAwardCategory", ADMIN, ""),
    rule(M, "nominate", MANAGERS, "chair: nominees in U's subtree"),
    rule(M, "endorseNomination", ADMIN, ""),
    rule(M, "vote", ACTORS, "the token's person votes"),
    rule(M, "conferAward", ADMIN, ""),
    rule(M, "revokeAward", ADMIN, ""),
    rule(M, "featureExemplar", ADMIN, ""),
    // Monthly study checks and reports, the leadership group.
    rule(Q, "unitHistory", READERS_OF_UNITS, UNIT_SCOPED),
    rule(Q, "unitMonth", READERS_OF_UNITS, UNIT_SCOPED),
    rule(
        Q,
        "unitRanking",
        EVERYONE,
        "chair: units in U's subtree; staff: members of the leadership group, others none",
    ),
    rule(Q, "leadershipMeetings", EVERYONE, ""),
    rule(
        M,
        "holdLeadershipMeeting",
        ACTORS,
        "the token's person must lead the leadership group or be its deputy",
    ),
    rule(M, "completeStudyCheck", MANAGERS, UNIT_SCOPED),
    rule(M, "submitMonthlyReport", MANAGERS, UNIT_SCOPED),
    // The appraisal.
    rule(Q, "yearEndRecord", EVERYONE, SCOPED),
    rule(Q, "appraisal", EVERYONE, SCOPED),
    rule(Q, "history", EVERYONE, SCOPED),
    rule(Q, "unitAppraisal", READERS_OF_UNITS, UNIT_SCOPED),
    rule(Q, "scoringRules", EVERYONE, ""),
    rule(M, "adoptScoringRules", ADMIN, ""),
    rule(M, "adjustPoints", ADMIN, ""),
    rule(M, "closeAppraisalYear", ADMIN, ""),
    // Disputes.
    rule(
        Q,
        "disputes",
        EVERYONE,
        "chair: U's subtree; auditor: all; staff: their own",
    ),
    rule(M, "fileDispute", &[T], "about lines of their own appraisal"),
    rule(M, "assignDispute", ADMIN, ""),
    rule(
        M,
        "resolveDispute",
        &[U],
        "disputes assigned to the token's person",
    ),
    // Proxy-tap flags.
    rule(Q, "proxyFlags", READERS_OF_UNITS, FLAGGED),
    rule(M, "reviewProxyFlag", MANAGERS, FLAGGED),
    // Reports as files.
    rule(
        Q,
        "exportLink",
        EVERYONE,
        "the report is answered with the caller's access",
    ),
    // Operations and audit.
    rule(Q, "projections", OVERSEERS, ""),
    rule(Q, "auditVerify", OVERSEERS, "one at a time per server"),
    rule(Q, "checkpoints", EVERYONE, ""),
    rule(Q, "inclusionProof", OVERSEERS, ""),
    rule(Q, "checkpointKeys", EVERYONE, ""),
    rule(Q, "kiosks", OVERSEERS, ""),
    rule(Q, "events", OVERSEERS, "auditor: card UIDs masked"),
    rule(M, "registerKiosk", ADMIN, ""),
    // Subscriptions.
    rule(S, "sessionAttendance", EVERYONE, "as `session`"),
    rule(S, "events", OVERSEERS, "auditor: card UIDs masked"),
    rule(S, "proxyFlagRaised", READERS_OF_UNITS, "as `proxyFlags`"),
];

/// The access table's row for a root field.
pub fn rule_for(operation: Operation, field: &str) -> Option<&'static Rule> {
    TABLE
        .iter()
        .find(|r| r.operation == operation && r.field == field)
}

/// Whether `caller` may call the root field at all (its reach inside is
/// the resolver's to narrow). A field the table does not name is refused.
pub(crate) fn at_the_door(
    caller: Option<&Caller>,
    operation: Operation,
    field: &str,
) -> Result<()> {
    let Some(caller) = caller else {
        return Err(ApiError::new(
            Code::Unauthenticated,
            "sign in: send the header `Authorization: Bearer <token>` (tokens come from \
             `lectern token create`)",
        ));
    };
    let allowed = rule_for(operation, field)
        .zip(Role::of(&caller.principal))
        .is_some_and(|(rule, role)| rule.roles.contains(&role));
    if allowed {
        return Ok(());
    }
    if let Principal::Kiosk { kiosk } = &caller.principal {
        return Err(ApiError::forbidden(format!(
            "kiosk {kiosk:?} may use only the kiosk endpoints (/kiosk/v1), not GraphQL"
        )));
    }
    Err(denied(caller, &format!("call {field}")))
}

/// The access table as Markdown, as `docs/access.md` holds it.
pub fn table_markdown() -> String {
    let mut out = String::from(
        "# Who may call what\n\n\
         Generated from the access table in `crates/lectern-graphql/src/access.rs`\n\
         (`LECTERN_BLESS=1 cargo test -p lectern-graphql access` writes it); the\n\
         server refuses any other caller with `FORBIDDEN` before the field runs, and\n\
         a test holds every role against every row on both backends. Kiosk tokens\n\
         may call no field (they use `/kiosk/v1`); a request without a token is\n\
         `UNAUTHENTICATED`, except the schema's introspection (`__schema`,\n\
         `__type`), which needs none. \"reach\" is how far an allowed role reaches inside\n\
         the field (U is a union chair's unit).\n\n\
         | operation | field | administrator | union-chair | auditor | staff | reach |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in TABLE {
        let cells: Vec<&str> = Role::ALL
            .iter()
            .map(|role| if r.roles.contains(role) { "yes" } else { "no" })
            .collect();
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            r.operation.as_str(),
            r.field,
            cells.join(" | "),
            r.reach
        ));
    }
    out
}

/// The schema extension that holds every request to [`TABLE`] (each root
/// field of the operation it runs, through fragments) and refuses text a
/// backend cannot store ([`crate::input::unstorable_argument`]), once per
/// request and before anything runs; and gives every error it answers an
/// `extensions.code`. Queries, mutations and subscriptions, over HTTP and
/// WebSocket alike.
pub struct Door;

impl ExtensionFactory for Door {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Door)
    }
}

/// Every error gets its code. One a resolver passed up with `?` from the
/// write path, the domain, the store or the read models (which
/// async-graphql turns into an error without extensions, keeping the
/// original as its source) is classified as the write path classifies it,
/// its message replaced by the write path's where that hides detail (an
/// internal error); what the schema refuses before any resolver runs (a
/// request that does not parse or validate: an unknown field, a value
/// outside an enum) is the client's mistake, `BAD_USER_INPUT`.
fn coded(mut response: Response) -> Response {
    for e in &mut response.errors {
        if e.extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some())
        {
            continue;
        }
        let classified = if let Some(app) = e.source::<lectern_app::Error>() {
            Some(app.clone())
        } else if let Some(d) = e.source::<lectern_domain::DomainError>() {
            Some(lectern_app::Error::from(d.clone()))
        } else if let Some(s) = e.source::<lectern_store::Error>() {
            Some(lectern_app::Error::from(s.clone()))
        } else {
            e.source::<lectern_projections::Error>()
                .map(|p| lectern_app::Error::from(p.clone()))
        };
        let code = match classified {
            Some(app) => {
                e.message = app.message;
                app.code
            }
            None => Code::BadUserInput,
        };
        e.extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
    response
}

#[async_graphql::async_trait::async_trait]
impl Extension for Door {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        coded(next.run(ctx).await)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        use futures_util::StreamExt;
        next.run(ctx, stream).map(coded).boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // A request that does not parse is the schema's to refuse.
        if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
            let caller = request
                .data
                .get(&TypeId::of::<Caller>())
                .or_else(|| ctx.session_data.get(&TypeId::of::<Caller>()))
                .and_then(|c| c.downcast_ref::<Caller>());
            if let Some(op) = chosen_operation(&doc, request.operation_name.as_deref()) {
                let operation = match op.ty {
                    OperationType::Query => Operation::Query,
                    OperationType::Mutation => Operation::Mutation,
                    OperationType::Subscription => Operation::Subscription,
                };
                let mut fields = Vec::new();
                root_fields(&doc, &op.selection_set.node, &mut Vec::new(), &mut fields);
                let mut memo = HashMap::new();
                for field in &fields {
                    if let Err(e) = nested_within_limits(&doc, field, &mut memo) {
                        return Err(refusal(e, field));
                    }
                }
                for field in fields {
                    let name = field.node.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    if let Err(e) = at_the_door(caller, operation, name) {
                        return Err(refusal(e, field));
                    }
                }
                if let Err(e) = crate::input::unstorable_argument(&doc, op, &request.variables) {
                    return Err(refusal(e, &op.selection_set));
                }
            }
            request.set_parsed_query(doc);
        }
        next.run(ctx, request).await
    }
}

fn refusal<T>(e: ApiError, at: &Positioned<T>) -> ServerError {
    let e: async_graphql::Error = e.into();
    e.into_server_error(at.pos)
}

/// The list fields of the introspection types (`__schema`, `__type`):
/// GraphiQL's schema query nests three (types, their fields, their
/// arguments). Nesting more (a type's fields' types' fields …) multiplies
/// the answer by the size of the schema at each level.
const INTROSPECTION_LISTS: &[&str] = &[
    "types",
    "fields",
    "inputFields",
    "args",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "directives",
];

/// Most introspection list fields nested along one path.
const MAX_INTROSPECTION_LISTS: usize = 3;

/// Refuses a root field nested deeper than `MAX_DEPTH`, or an introspection
/// field that nests more than `MAX_INTROSPECTION_LISTS` lists. `ofType` is
/// not counted in the depth: it is a chain of type wrappers that ends at a
/// named type within a few links, and GraphiQL's schema query asks for
/// seven of them.
fn nested_within_limits<'d>(
    doc: &'d ExecutableDocument,
    root: &'d Positioned<Field>,
    memo: &mut HashMap<(&'d str, bool), (usize, usize)>,
) -> Result<()> {
    let introspection = root.node.name.node.starts_with("__");
    let (below, lists) = nesting(
        doc,
        &root.node.selection_set.node,
        introspection,
        &mut Vec::new(),
        memo,
    );
    let depth = below + 1;
    if depth > crate::schema::MAX_DEPTH {
        return Err(ApiError::bad_input(format!(
            "{} is nested {depth} levels deep (`ofType` not counted); at most {} are allowed",
            root.node.name.node,
            crate::schema::MAX_DEPTH
        )));
    }
    if introspection && lists > MAX_INTROSPECTION_LISTS {
        return Err(ApiError::bad_input(format!(
            "{} nests {lists} lists of the schema ({}); at most {MAX_INTROSPECTION_LISTS} are \
             allowed",
            root.node.name.node,
            INTROSPECTION_LISTS.join(", ")
        )));
    }
    Ok(())
}

/// How deep a selection set nests (fields, through fragments; `ofType` not
/// counted), and, when `introspection`, the most introspection list fields
/// along one path. Each fragment is measured once (`memo`), so a fragment
/// spread many times costs nothing more; one that spreads itself (which
/// validation refuses later) counts nothing.
fn nesting<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    introspection: bool,
    on_path: &mut Vec<&'d str>,
    memo: &mut HashMap<(&'d str, bool), (usize, usize)>,
) -> (usize, usize) {
    let mut most = (0, 0);
    for selection in &set.items {
        let (depth, lists) = match &selection.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                let (d, l) = nesting(
                    doc,
                    &f.node.selection_set.node,
                    introspection,
                    on_path,
                    memo,
                );
                (
                    d + usize::from(name != "ofType"),
                    l + usize::from(introspection && INTROSPECTION_LISTS.contains(&name)),
                )
            }
            Selection::InlineFragment(f) => nesting(
                doc,
                &f.node.selection_set.node,
                introspection,
                on_path,
                memo,
            ),
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.as_str();
                match doc.fragments.get(name) {
                    _ if on_path.contains(&name) => (0, 0),
                    Some(f) => match memo.get(&(name, introspection)) {
                        Some(known) => *known,
                        None => {
                            on_path.push(name);
                            let found = nesting(
                                doc,
                                &f.node.selection_set.node,
                                introspection,
                                on_path,
                                memo,
                            );
                            on_path.pop();
                            memo.insert((name, introspection), found);
                            found
                        }
                    },
                    None => (0, 0),
                }
            }
        };
        most = (most.0.max(depth), most.1.max(lists));
    }
    most
}

/// The operation a request runs, as the schema will choose it.
pub(crate) fn chosen_operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The fields of a selection set, through fragment spreads (each followed
/// once) and inline fragments.
fn root_fields<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    seen: &mut Vec<&'d str>,
    out: &mut Vec<&'d Positioned<Field>>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(f) => out.push(f),
            Selection::InlineFragment(f) => root_fields(doc, &f.node.selection_set.node, seen, out),
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.as_str();
                if seen.contains(&name) {
                    continue;
                }
                seen.push(name);
                if let Some(f) = doc.fragments.get(name) {
                    root_fields(doc, &f.node.selection_set.node, seen, out);
                }
            }
        }
    }
}
