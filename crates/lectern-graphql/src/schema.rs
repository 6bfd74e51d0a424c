//! The schema: every area's queries and mutations merged, the limits, and
//! how a request is run (read-your-writes included). `Api`, which every
//! area reaches, is in `api`, so no area imports this file.

use std::time::Duration;

use async_graphql::{MergedObject, MergedSubscription, Request, Response, Schema};

use crate::api::Api;
use crate::appraisal::{AppraisalMutation, AppraisalQuery};
use crate::auth::Caller;
use crate::awards::{AwardMutation, AwardQuery};
use crate::disputes::{DisputeMutation, DisputeQuery};
use crate::error::ApiError;
use crate::flags::{FlagMutation, FlagQuery, FlagSubscription};
use crate::live::LiveSubscription;
use crate::monthly::{MonthlyMutation, MonthlyQuery};
use crate::ops::{OpsMutation, OpsQuery};
use crate::org::{OrgMutation, OrgQuery};
use crate::people::{PeopleMutation, PeopleQuery};
use crate::programmes::{ProgrammeMutation, ProgrammeQuery};
use crate::sessions::{SessionMutation, SessionQuery};
use crate::study::{StudyMutation, StudyQuery};

/// Deepest query accepted, `ofType` not counted (the access door checks it:
/// `access::nested_within_limits`).
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
    FlagQuery,
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
    FlagMutation,
    OpsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(LiveSubscription, FlagSubscription);

pub type LecternSchema = Schema<Query, Mutation, Subscription>;

/// The schema as an `async_graphql::Executor` of a type that is not
/// generic, for transports generic over their executor (the WebSocket
/// one), so that the execution compiles here and not in the crate that
/// serves it (ARCHITECTURE.md: the build rule for async entry points).
#[derive(Clone)]
pub struct SchemaExecutor(pub LecternSchema);

impl async_graphql::Executor for SchemaExecutor {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let schema = self.0.clone();
        let answer: futures_util::future::BoxFuture<'static, Response> =
            Box::pin(async move { schema.execute(request).await });
        answer
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<std::sync::Arc<async_graphql::Data>>,
    ) -> futures_util::stream::BoxStream<'static, Response> {
        self.0
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
    }
}

/// The schema with its limits; `api` is what resolvers read and write.
pub fn build_schema(api: Api) -> LecternSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_complexity(MAX_COMPLEXITY)
    .extension(crate::access::Door)
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
///
/// Boxed here and never inlined, so the body compiles in this crate only
/// (ARCHITECTURE.md: the build rule for async entry points).
#[inline(never)]
pub fn execute<'a>(
    schema: &'a LecternSchema,
    api: &'a Api,
    request: Request,
    caller: Option<Caller>,
) -> futures_util::future::BoxFuture<'a, Response> {
    Box::pin(run(schema, api, request, caller))
}

async fn run(
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
        if let Err(e) = api.app.projections.wait_for_all(position, MAX_WAIT).await {
            return error_response(e.into());
        }
    }
    if let Some(replica) = api.on_replica().filter(|_| is_query(&request)) {
        let by_replica = !waits || api.replica_caught_up().await;
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

/// Whether the request runs a query (not a mutation or subscription); a
/// request that does not parse is left to the schema to refuse.
fn is_query(request: &Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    crate::access::chosen_operation(&doc, request.operation_name.as_deref())
        .is_some_and(|op| op.ty == OperationType::Query)
}

fn error_response(e: ApiError) -> Response {
    let err: async_graphql::Error = e.into();
    Response::from_errors(vec![err.into_server_error(async_graphql::Pos::default())])
}
