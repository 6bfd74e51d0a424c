//! `/kiosk/v1`: the endpoints kiosks call (`lectern-kiosk-protocol`).
//! Enrolment is authenticated by the one-time code an administrator got
//! from `registerKiosk`; every other call is signed with the key the kiosk
//! enrolled (`authenticate`). Refusals are JSON `{"error": ..., "code": ...}`
//! with a 4xx status that names the offending value, never a 500 for bad
//! input.
//!
//! Signed requests are not refused for their time: a kiosk's clock may be
//! off, and every call is idempotent (a replayed heartbeat or batch adds
//! nothing), so the time header is used to measure the kiosk's clock
//! offset, which is stored and shown.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use lectern_app::Error;
use lectern_domain::Slug;
use lectern_kiosk_protocol::{
    EnrolRequest, EnrolResponse, HEADER_KIOSK, HEADER_SIGNATURE, HEADER_TIME, Heartbeat,
    HeartbeatResponse, PREFIX, PublicKey, TapBatch,
};
use lectern_projections::{Stmt, Val};
use serde_json::json;

use crate::app::AppState;

/// The largest body a kiosk may send: a batch of taps is well below it.
pub const MAX_BODY: usize = 1024 * 1024;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{PREFIX}/enrol"), post(enrol))
        .route(&format!("{PREFIX}/heartbeat"), post(heartbeat))
        .route(&format!("{PREFIX}/taps"), post(taps))
        .route(&format!("{PREFIX}/roster"), get(roster))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// The JSON answer, or the refusal.
fn respond<T: serde::Serialize>(result: Result<T, Error>) -> Response {
    match result {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(e) => refuse(e),
    }
}

/// A refusal: the status for the error's code, and the message.
fn refuse(e: Error) -> Response {
    (
        crate::app::status(e.code),
        axum::Json(json!({ "error": e.message, "code": e.code.as_str() })),
    )
        .into_response()
}

/// `POST /kiosk/v1/enrol`: the kiosk's public key, with the code issued
/// when it was registered. The code is used up; the answer names the
/// venue the kiosk serves.
async fn enrol(State(state): State<AppState>, body: Body) -> Response {
    let body = match read(body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    respond(enrol_kiosk(&state, &body).await)
}

/// A request body as axum read it, or why it could not.
type Body = Result<Bytes, BytesRejection>;

/// The body, or a refusal in the kiosk endpoints' JSON (a body over
/// `MAX_BODY` is 413 with a code, like every other refusal).
fn read(body: Body) -> Result<Bytes, Box<Response>> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let mut response = refuse(Error::bad_input(format!(
            "the request body was refused: {} (at most {MAX_BODY} bytes; send fewer taps \
             a batch)",
            rejection.body_text()
        )));
        *response.status_mut() = status;
        Box::new(response)
    })
}

async fn enrol_kiosk(state: &AppState, body: &[u8]) -> Result<EnrolResponse, Error> {
    let request: EnrolRequest = serde_json::from_slice(body).map_err(|e| {
        Error::bad_input(format!(
            "the body is not an enrolment request (JSON with kiosk, code, public_key and \
             version): {e}"
        ))
    })?;
    lectern_app::kiosks::enrol(&state.api.app, &request).await
}

/// The enrolled kiosk a signed request comes from, its key and venue,
/// and its clock.
struct SignedBy {
    kiosk: Slug,
    key: PublicKey,
    venue: Slug,
    kiosk_time: DateTime<Utc>,
}

impl SignedBy {
    /// Server clock minus kiosk clock, in milliseconds, at `now`.
    fn offset_ms(&self, now: DateTime<Utc>) -> i64 {
        (now - self.kiosk_time).num_milliseconds()
    }
}

/// Checks a kiosk request's signature headers against the key the kiosk
/// enrolled (from the kiosks read model, which enrolment waits for).
async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<SignedBy, Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(kiosk), Some(time), Some(signature)) = (
        header(HEADER_KIOSK),
        header(HEADER_TIME),
        header(HEADER_SIGNATURE),
    ) else {
        return Err(Error::unauthenticated(format!(
            "sign the request: headers {HEADER_KIOSK}, {HEADER_TIME} and {HEADER_SIGNATURE} \
             (see lectern-kiosk-protocol)"
        )));
    };
    let kiosk = Slug::parse(kiosk)?;
    let kiosk_time = DateTime::parse_from_rfc3339(time)
        .map_err(|_| Error::bad_input(format!("{HEADER_TIME} is not an RFC 3339 time: {time:?}")))?
        .with_timezone(&Utc);
    let rows = state
        .api
        .db()
        .fetch(
            "SELECT public_key, venue FROM rm_kiosks WHERE id = $1",
            &[Val::from(kiosk.as_str())],
        )
        .await?;
    let venue = rows
        .first()
        .and_then(|r| r.opt("venue"))
        .map(|v| Slug::parse(&v))
        .transpose()?;
    let key = match rows.first().map(|r| r.opt("public_key")) {
        None => {
            return Err(Error::unauthenticated(format!(
                "kiosk {:?} is not registered; an administrator registers it \
                 (registerKiosk or `lectern kiosk register`)",
                kiosk.as_str()
            )));
        }
        Some(None) => {
            return Err(Error::unauthenticated(format!(
                "kiosk {:?} was registered again and is not enrolled: enrol it with the new \
                 code from registerKiosk",
                kiosk.as_str()
            )));
        }
        Some(Some(key)) => PublicKey::from_hex(&key).map_err(Error::internal)?,
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    key.verify_request(method.as_str(), path, kiosk.as_str(), time, body, signature)
        .map_err(|e| {
            tracing::warn!(kiosk = kiosk.as_str(), path, "refused a kiosk request: {e}");
            Error::unauthenticated(format!(
                "{e}: kiosk {:?} was enrolled with another key since (registered again for a \
                 replaced device?); enrol this device with a new code from registerKiosk",
                kiosk.as_str()
            ))
        })?;
    Ok(SignedBy {
        kiosk,
        key,
        venue: venue.ok_or_else(|| Error::internal("an enrolled kiosk has no venue"))?,
        kiosk_time,
    })
}

/// `POST /kiosk/v1/heartbeat` (signed): the kiosk's version, backlog and
/// last tap; the server stores them with the clock offset it measures.
async fn heartbeat(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read(body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let result = async {
        let by = authenticate(&state, &method, &uri, &headers, &body).await?;
        let beat: Heartbeat = serde_json::from_slice(&body).map_err(|e| {
            Error::bad_input(format!(
                "the body is not a heartbeat (JSON with version, backlog, last_tap and \
                 clock_offset_ms): {e}"
            ))
        })?;
        let now = state.api.app.clock.now();
        let offset = by.offset_ms(now);
        let upsert = Stmt {
            sql: std::sync::Arc::from(
                "INSERT INTO kiosk_heartbeats (kiosk, seen_at, kiosk_time, clock_offset_ms, \
                 version, backlog, last_tap) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (kiosk) DO UPDATE SET seen_at = excluded.seen_at, \
                 kiosk_time = excluded.kiosk_time, clock_offset_ms = excluded.clock_offset_ms, \
                 version = excluded.version, backlog = excluded.backlog, \
                 last_tap = excluded.last_tap",
            ),
            args: vec![
                Val::from(by.kiosk.as_str()),
                Val::from(now),
                Val::from(by.kiosk_time),
                Val::Int(offset),
                Val::from(beat.version.as_str()),
                Val::from(beat.backlog),
                Val::from(beat.last_tap),
            ],
        };
        state.api.db().transact(None, &[upsert]).await?;
        Ok::<_, Error>(HeartbeatResponse { server_time: now })
    }
    .await;
    respond(result)
}

/// `POST /kiosk/v1/taps` (signed): a batch of queued taps, oldest first;
/// the answer has a result per tap and the kiosk's counter gaps.
async fn taps(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read(body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let result = async {
        let by = authenticate(&state, &method, &uri, &headers, &body).await?;
        let batch: TapBatch = serde_json::from_slice(&body).map_err(|e| {
            Error::bad_input(format!(
                "the body is not a tap batch (JSON {{\"taps\": [signed taps]}}): {e}"
            ))
        })?;
        state
            .taps
            .ingest(
                &by.kiosk,
                &by.key,
                by.offset_ms(state.api.app.clock.now()),
                batch,
            )
            .await
    }
    .await;
    respond(result)
}

/// `GET /kiosk/v1/roster[?since=N]` (signed, empty body): the people and
/// the venue's sessions a kiosk needs to decide taps offline.
async fn roster(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read(body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    let result = async {
        let by = authenticate(&state, &method, &uri, &headers, &body).await?;
        let since = match uri.query() {
            None | Some("") => None,
            Some(q) => Some(
                q.strip_prefix("since=")
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| {
                        Error::bad_input(format!(
                            "the query must be since=N (a log position), not {q:?}"
                        ))
                    })?,
            ),
        };
        lectern_app::kiosks::roster(&state.api.app, state.api.db(), &by.venue, since).await
    }
    .await;
    respond(result)
}
