//! `/graphql`: authenticates the bearer token and runs the request on the
//! schema of `lectern-graphql`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use lectern_graphql::{ApiError, Caller, Code};

use crate::app::AppState;

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/graphql", post(graphql))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

async fn graphql(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let caller = match authenticate(&state, &headers).await {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(ApiError::new(
                Code::BadUserInput,
                format!(
                    "the body is not a GraphQL request (JSON with \"query\", optional \
                     \"variables\" and \"operationName\"): {e}"
                ),
            ));
        }
    };
    let response = lectern_graphql::execute(&state.schema, &state.api, request, caller).await;
    Json(response).into_response()
}

/// The caller named by `Authorization: Bearer <token>`; no header means an
/// anonymous request (which every field refuses with UNAUTHENTICATED).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default().trim();
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return Err(ApiError::new(
            Code::Unauthenticated,
            "the Authorization header must be `Bearer <token>`",
        ));
    };
    state.api.tokens.authenticate(token).await.map(Some)
}

fn error(e: ApiError) -> Response {
    let err: async_graphql::Error = e.into();
    let response = async_graphql::Response::from_errors(vec![
        err.into_server_error(async_graphql::Pos::default()),
    ]);
    Json(response).into_response()
}
