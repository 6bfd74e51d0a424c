//! `/kiosk/v1`: the endpoints kiosks call (`lectern-kiosk-protocol`).
//! Enrolment is authenticated by the one-time code an administrator got
//! from `registerKiosk`; every other call will be signed with the key the
//! kiosk enrolled. Refusals are JSON `{"error": ..., "code": ...}` with a
//! 4xx status that names the offending value, never a 500 for bad input.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use lectern_domain::{KioskLedger, kiosk_stream};
use lectern_graphql::{ApiError, Code, execute_command, settle};
use lectern_kiosk_protocol::{EnrolRequest, EnrolResponse, PREFIX, PublicKey, enrolment_code_hash};
use lectern_projections::load;
use lectern_store::Metadata;
use serde_json::json;

use crate::app::AppState;

/// The largest body a kiosk may send: a batch of taps is well below it.
pub const MAX_BODY: usize = 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{PREFIX}/enrol"), post(enrol))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// A refusal: the status for the error's code, and the message.
fn refuse(e: ApiError) -> Response {
    let status = match e.code {
        Code::BadUserInput => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Forbidden => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Conflict => StatusCode::CONFLICT,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (
        status,
        axum::Json(json!({ "error": e.message, "code": e.code.as_str() })),
    )
        .into_response()
}

/// `POST /kiosk/v1/enrol`: the kiosk's public key, with the code issued
/// when it was registered. The code is used up; the answer names the
/// venue the kiosk serves.
async fn enrol(State(state): State<AppState>, body: Bytes) -> Response {
    match enrol_kiosk(&state, &body).await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => refuse(e),
    }
}

async fn enrol_kiosk(state: &AppState, body: &[u8]) -> Result<EnrolResponse, ApiError> {
    let request: EnrolRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_input(format!(
            "the body is not an enrolment request (JSON with kiosk, code, public_key and \
             version): {e}"
        ))
    })?;
    let key =
        PublicKey::from_hex(&request.public_key).map_err(|e| ApiError::bad_input(e.to_string()))?;
    let kiosk = request.kiosk.as_str();
    let stream = kiosk_stream(kiosk);
    let hash = enrolment_code_hash(&request.code);
    let meta = Metadata {
        actor: Some(format!("kiosk:{kiosk}")),
        source: Some("kiosk".into()),
        ..Metadata::default()
    };
    let at = Utc::now();
    let written = execute_command::<KioskLedger>(
        &state.store,
        &stream,
        &meta,
        |k| k.enrol(kiosk, &hash, &key.to_hex(), &request.version, at),
        |_| vec![],
    )
    .await?;
    settle(&state.api.projections, written.position).await?;
    let ledger = load::<KioskLedger>(&state.store, &stream, u64::MAX)
        .await?
        .0;
    tracing::info!(kiosk, position = written.position, "kiosk enrolled");
    Ok(EnrolResponse {
        kiosk: request.kiosk.clone(),
        venue: ledger
            .venue
            .ok_or_else(|| ApiError::internal(format!("enrolled kiosk {kiosk} has no venue")))?,
        server_time: Utc::now(),
    })
}
