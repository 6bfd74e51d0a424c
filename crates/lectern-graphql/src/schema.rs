//! The schema: every area's queries and mutations merged, the limits, and
//! how a request is run (read-your-writes included).

use std::time::Duration;

use async_graphql::{MergedObject, MergedSubscription, Request, Response, Schema};
use lectern_app::{App, Written};
use lectern_domain::{Aggregate, DomainError, KeyChange, ORG_STREAM, OrgTree};
use lectern_projections::{ReadDb, load};
use lectern_store::Metadata;
use serde::de::DeserializeOwned;

use crate::appraisal::{AppraisalLog, AppraisalMutation, AppraisalQuery};
use crate::auth::{Caller, Tokens};
use crate::awards::{AwardMutation, AwardQuery};
use crate::disputes::{DisputeMutation, DisputeQuery};
use crate::error::{ApiError, Code, Result};
use crate::live::LiveSubscription;
use crate::monthly::{MonthlyMutation, MonthlyQuery};
use crate::ops::{OpsMutation, OpsQuery};
use crate::org::{OrgMutation, OrgQuery};
use crate::people::{PeopleMutation, PeopleQuery};
use crate::programmes::{ProgrammeMutation, ProgrammeQuery};
use crate::sessions::{SessionMutation, SessionQuery};
use crate::study::{StudyMutation, StudyQuery};

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 10;
/// Most expensive query accepted (each field costs 1; lists cost their page).
pub const MAX_COMPLEXITY: usize = 2_000;
/// The longest a request may wait for the read models to reach a position.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

#[derive(MergedObject, Default)]
pub struct Query(
    OrgQuery,
    PeopleQuery,
    SessionQuery,
    ProgrammeQuery,
    StudyQuery,
    AwardQuery,
    MonthlyQuery,
    AppraisalQuery,
    DisputeQuery,
    crate::exports::ExportQuery,
    OpsQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    OrgMutation,
    PeopleMutation,
    SessionMutation,
    ProgrammeMutation,
    StudyMutation,
    AwardMutation,
    MonthlyMutation,
    AppraisalMutation,
    DisputeMutation,
    OpsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(LiveSubscription);

pub type LecternSchema = Schema<Query, Mutation, Subscription>;

/// What every resolver reaches: the write path (the log, the read models,
/// the campus calendar and the server's clock), the tokens.
#[derive(Clone)]
pub struct Api {
    pub app: App,
    pub tokens: Tokens,
    /// Working days after a year closes within which its disputes are
    /// filed (`with_dispute_working_days`; ten by default).
    pub dispute_working_days: u32,
    /// Signs report download links (`exportLink`): new for each process
    /// unless set with `with_link_key` (servers share `Tokens::link_key`).
    pub link_key: std::sync::Arc<[u8; 32]>,
    /// The appraisal stream, which every appraisal reads.
    pub(crate) appraisal_log: AppraisalLog,
    /// A read-only replica of the database that answers queries
    /// (`with_replica`).
    replica: Option<(ReadDb, Duration)>,
    /// Queries answered by the replica and by the primary since start,
    /// when there is a replica (`replica_answers`).
    answered: std::sync::Arc<[std::sync::atomic::AtomicU64; 2]>,
    /// Whether `db()` is the replica: set on the copy a query runs with.
    on_replica: bool,
}

impl Api {
    pub fn new(app: App, tokens: Tokens) -> Api {
        Api {
            app,
            tokens,
            dispute_working_days: lectern_app::DISPUTE_WORKING_DAYS,
            link_key: std::sync::Arc::new(crate::exports::link_key()),
            appraisal_log: AppraisalLog::default(),
            replica: None,
            answered: std::sync::Arc::default(),
            on_replica: false,
        }
    }

    /// Answers queries (not mutations or subscriptions) from `replica`, a
    /// read-only replica of the database; a query that waits for a
    /// position waits up to `wait` for the replica to replay it (see
    /// `execute`).
    pub fn with_replica(mut self, replica: ReadDb, wait: Duration) -> Api {
        self.replica = Some((replica, wait));
        self
    }

    /// Sets the working days within which a closed year's disputes are filed.
    pub fn with_dispute_working_days(mut self, days: u32) -> Api {
        self.dispute_working_days = days;
        self
    }

    /// Signs download links with `key` (`Tokens::link_key`, shared by the
    /// servers on one database).
    pub fn with_link_key(mut self, key: [u8; 32]) -> Api {
        self.link_key = std::sync::Arc::new(key);
        self
    }

    /// The read models: the replica's for a query when one is set, else
    /// the primary's.
    pub fn db(&self) -> &ReadDb {
        match (&self.replica, self.on_replica) {
            (Some((replica, _)), true) => replica,
            _ => self.app.projections.db(),
        }
    }

    /// With a replica: the queries it answered and those the primary
    /// answered instead (they waited for a position the replica had not
    /// replayed), since start.
    pub fn replica_answers(&self) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.replica.as_ref().map(|_| {
            (
                self.answered[0].load(Relaxed),
                self.answered[1].load(Relaxed),
            )
        })
    }

    fn count_answer(&self, by_replica: bool) {
        self.answered[usize::from(!by_replica)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// This API reading from the replica.
    fn on_replica(&self) -> Option<Api> {
        self.replica.as_ref().map(|_| Api {
            on_replica: true,
            ..self.clone()
        })
    }

    /// Runs a decision on `stream` for `caller` and waits until the read
    /// models show what it wrote.
    pub(crate) async fn execute<A: Aggregate>(
        &self,
        caller: &Caller,
        stream: &str,
        decide: impl Fn(&A) -> Result<Vec<A::Event>, DomainError>,
        keys: impl Fn(&[A::Event]) -> Vec<KeyChange>,
    ) -> Result<Written> {
        let written =
            lectern_app::execute::<A>(&self.app.store, stream, &meta(caller), decide, keys).await?;
        lectern_app::settle(&self.app.projections, written.position).await?;
        Ok(written)
    }
}

impl Api {
    /// As `execute`, for decisions that read the unit tree.
    pub(crate) async fn execute_with_org<A: Aggregate>(
        &self,
        caller: &Caller,
        stream: &str,
        decide: impl Fn(&A, &OrgTree) -> Result<Vec<A::Event>, DomainError>,
        keys: impl Fn(&[A::Event]) -> Vec<KeyChange>,
    ) -> Result<Written> {
        let org = load::<OrgTree>(&self.app.store, ORG_STREAM, u64::MAX)
            .await?
            .0;
        self.execute::<A>(caller, stream, |s| decide(s, &org), keys)
            .await
    }
}

/// What the log records of a write by `caller` through this API.
pub(crate) fn meta(caller: &Caller) -> Metadata {
    Metadata {
        actor: Some(caller.principal.actor(&caller.token_id)),
        source: Some("graphql".into()),
        ..Metadata::default()
    }
}

/// The schema with its limits; `api` is what resolvers read and write.
pub fn build_schema(api: Api) -> LecternSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .data(api)
    .finish()
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl()
}

/// Runs one request for `caller` (`None`: no token was sent). A request
/// may ask to read at least what the log held at a position, with the
/// extension `{"waitForPosition": N}`: it waits (at most `MAX_WAIT`) until
/// the read models reach it.
///
/// With a replica (`Api::with_replica`), a query is answered from it. A
/// query that waits for a position is answered from the replica only once
/// the replica has replayed the primary's write-ahead log as far as it
/// stood when the primary's read models reached the position; a replica
/// that cannot tell (it is not a hot standby) or does not get there within
/// the replica's wait (`REPLICA_WAIT` by default) leaves the query to the
/// primary. So a client that reads
/// what it wrote, at the position its mutation returned, always sees it.
pub async fn execute(
    schema: &LecternSchema,
    api: &Api,
    mut request: Request,
    caller: Option<Caller>,
) -> Response {
    let waits = request.extensions.get("waitForPosition").is_some();
    if let Some(v) = request.extensions.get("waitForPosition") {
        let position = match v {
            async_graphql::Value::Number(n) => n.as_u64(),
            _ => None,
        };
        let Some(position) = position else {
            return error_response(ApiError::bad_input(format!(
                "extensions.waitForPosition must be a log position (a whole number ≥ 0), not {v}"
            )));
        };
        if let Err(e) = api.app.projections.wait_for(position, MAX_WAIT).await {
            return error_response(e.into());
        }
    }
    if let Some(replica) = api.on_replica().filter(|_| is_query(&request)) {
        let by_replica = !waits || replica_caught_up(api).await;
        api.count_answer(by_replica);
        if by_replica {
            request = request.data(replica);
        }
    }
    if let Some(c) = caller {
        request = request.data(c);
    }
    schema
        .execute(request.data(crate::people::RequestPeople::default()))
        .await
}

/// The longest a query waits, by default, for the replica to replay what
/// the primary's read models hold, before the primary answers it.
pub const REPLICA_WAIT: Duration = Duration::from_secs(2);

/// Whether the request runs a query (not a mutation or subscription); a
/// request that does not parse is left to the schema to refuse.
fn is_query(request: &Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let ty = match (&doc.operations, &request.operation_name) {
        (DocumentOperations::Single(op), _) => op.node.ty,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name.as_str()) {
            Some(op) => op.node.ty,
            None => return false,
        },
        (DocumentOperations::Multiple(_), None) => return false,
    };
    ty == OperationType::Query
}

/// Waits (at most the replica's wait) until the replica has replayed the
/// primary's write-ahead log as far as it is now; `false` when it does not
/// get there, or is not a hot standby and so cannot tell.
async fn replica_caught_up(api: &Api) -> bool {
    let Some((replica, patience)) = &api.replica else {
        return false;
    };
    let primary = match api
        .app
        .projections
        .db()
        .fetch("SELECT pg_current_wal_lsn()::text", &[])
        .await
    {
        Ok(rows) => rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_str().map(str::to_owned)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the primary's WAL position");
            None
        }
    };
    let Some(lsn) = primary else {
        return false;
    };
    let deadline = tokio::time::Instant::now() + *patience;
    let mut wait = Duration::from_millis(1);
    loop {
        let replayed = replica
            .fetch(
                "SELECT CASE WHEN NOT pg_is_in_recovery() THEN -1 \
                 WHEN pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 1 ELSE 0 END",
                &[lectern_projections::Val::from(lsn.as_str())],
            )
            .await;
        match replayed
            .as_deref()
            .map(|r| r.first().and_then(|r| r.first()))
        {
            Ok(Some(v)) if v.as_i64() == Some(1) => return true,
            Ok(Some(v)) if v.as_i64() == Some(0) => {}
            Ok(_) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the replica's replay position");
                return false;
            }
        }
        if tokio::time::Instant::now() + wait > deadline {
            tracing::info!(%lsn, "the replica is behind; the primary answers");
            return false;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(50));
    }
}

fn error_response(e: ApiError) -> Response {
    let err: async_graphql::Error = e.into();
    Response::from_errors(vec![err.into_server_error(async_graphql::Pos::default())])
}

/// Reads a domain enum from its stored name (`"department"`), naming the
/// accepted values when it is not one.
pub(crate) fn parse_enum<T: DeserializeOwned>(what: &str, value: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|e| {
        let reason = e.to_string();
        let accepted = reason
            .split_once("expected ")
            .map_or(reason.as_str(), |(_, a)| a);
        ApiError::new(
            Code::BadUserInput,
            format!("invalid {what} {value:?}: expected {accepted}"),
        )
    })
}

/// The stored name of a domain enum value (`"teacher"`).
pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value).expect("domain values serialize") {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}
