//! `/graphql`: authenticates the bearer token and runs the request on the
//! schema of `lectern-graphql`.

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::WebSocketUpgrade;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lectern_app::Error;
use lectern_graphql::{ApiError, Caller};

use crate::app::AppState;

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/graphql", post(graphql))
        .route("/graphql/ws", get(websocket))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// Subscriptions over WebSocket (the `graphql-transport-ws` and
/// `graphql-ws` protocols). The token comes in the upgrade request's
/// Authorization header or in the `connection_init` payload as
/// `{"Authorization": "Bearer <token>"}`.
async fn websocket(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from_header = authenticate(&state, &headers).await;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let tokens = state.api.tokens.clone();
            GraphQLWebSocket::new(
                socket,
                lectern_graphql::SchemaExecutor(state.schema.clone()),
                protocol,
            )
            .on_connection_init(move |payload| async move {
                let mut data = async_graphql::Data::default();
                let token = ["Authorization", "authorization"]
                    .iter()
                    .find_map(|k| payload.get(*k).and_then(|v| v.as_str()));
                let caller = match token {
                    Some(v) => {
                        let t = bearer(v).map_err(graphql_error)?;
                        Some(tokens.authenticate(t).await.map_err(graphql_error)?)
                    }
                    None => from_header.map_err(graphql_error)?,
                };
                if let Some(c) = caller {
                    data.insert(c);
                }
                Ok(data)
            })
            .serve()
        })
}

fn graphql_error(e: Error) -> async_graphql::Error {
    ApiError(e).into()
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        // A body over MAX_BODY (or one that cannot be read) is still
        // answered as GraphQL, with a code.
        Err(rejection) => {
            let status = rejection.status();
            let mut response = error(Error::bad_input(format!(
                "the request body was refused: {} (at most {MAX_BODY} bytes)",
                rejection.body_text()
            )));
            *response.status_mut() = status;
            return response;
        }
    };
    let caller = match authenticate(&state, &headers).await {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(Error::bad_input(format!(
                "the body is not a GraphQL request (JSON with \"query\", optional \
                     \"variables\" and \"operationName\"): {e}"
            )));
        }
    };
    let response = lectern_graphql::execute(&state.schema, &state.api, request, caller).await;
    Json(response).into_response()
}

/// The caller named by `Authorization: Bearer <token>`; no header means an
/// anonymous request (which every field refuses with UNAUTHENTICATED).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = bearer(value.to_str().unwrap_or_default())?;
    state.api.tokens.authenticate(token).await.map(Some)
}

/// The token of a `Bearer <token>` credential: the scheme in any case,
/// then one or more spaces (RFC 7235).
pub(crate) fn bearer(value: &str) -> Result<&str, Error> {
    let value = value.trim();
    let refused = || Error::unauthenticated("the Authorization header must be `Bearer <token>`");
    let (scheme, rest) = value.split_at_checked(6).ok_or_else(refused)?;
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(' ') {
        return Err(refused());
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(refused());
    }
    Ok(token)
}

fn error(e: Error) -> Response {
    let err = graphql_error(e);
    let response = async_graphql::Response::from_errors(vec![
        err.into_server_error(async_graphql::Pos::default()),
    ]);
    Json(response).into_response()
}
