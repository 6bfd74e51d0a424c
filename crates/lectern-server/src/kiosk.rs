//! `/kiosk/v1`: the endpoints kiosks call (`lectern-kiosk-protocol`).
//! Enrolment is authenticated by the one-time code an administrator got
//! from `registerKiosk`; every other call is signed with the key the kiosk
//! enrolled (`authenticate`). Refusals are JSON `{"error": ..., "code": ...}`
//! with a 4xx status that names the offending value, never a 500 for bad
//! input.
//!
//! A kiosk's wall clock may be off, so a request is never judged by its
//! time header (that only measures the offset, which is stored and shown).
//! It is judged by the kiosk's monotonic clock against the kiosk's sync
//! point of the same boot (`Stamp::signed_at`): a request signed further
//! than `STALE_AFTER_SECONDS` from the server's now is refused as `STALE`
//! (409, with the server's time, so the kiosk can take a new sync point
//! and sign again). Tap batches are idempotent; heartbeats are taken in
//! the order they were signed, so a replayed one changes nothing.

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
    EnrolRequest, EnrolResponse, HEADER_CLOCK, HEADER_KIOSK, HEADER_SIGNATURE, HEADER_TIME,
    Heartbeat, HeartbeatResponse, PREFIX, PublicKey, STALE, STALE_AFTER_SECONDS, Stamp, TapBatch,
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

/// A refusal: the status for the error's code, and the message.
fn refuse(e: Error) -> Response {
    (
        crate::app::status(e.code),
        axum::Json(json!({ "error": e.message, "code": e.code.as_str() })),
    )
        .into_response()
}

/// Why a signed request was not taken: refused, or stale.
enum Refusal {
    Refused(Error),
    /// Signed too long before (or after) the server's now, by the kiosk's
    /// sync point: 409 `STALE` with the server's time.
    Stale {
        message: String,
        server_time: DateTime<Utc>,
    },
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        Refusal::Refused(e)
    }
}

impl From<lectern_domain::DomainError> for Refusal {
    fn from(e: lectern_domain::DomainError) -> Refusal {
        Refusal::Refused(e.into())
    }
}

impl From<lectern_projections::Error> for Refusal {
    fn from(e: lectern_projections::Error) -> Refusal {
        Refusal::Refused(e.into())
    }
}

/// The answer to a signed request.
fn answer<T: serde::Serialize>(result: Result<T, Refusal>) -> Response {
    match result {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(Refusal::Refused(e)) => refuse(e),
        Err(Refusal::Stale {
            message,
            server_time,
        }) => (
            axum::http::StatusCode::CONFLICT,
            axum::Json(json!({ "error": message, "code": STALE, "server_time": server_time })),
        )
            .into_response(),
    }
}

/// `POST /kiosk/v1/enrol`: the kiosk's public key, with the code issued
/// when it was registered. The code is used up; the answer names the
/// venue the kiosk serves.
async fn enrol(State(state): State<AppState>, body: Body) -> Response {
    let body = match read(body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    answer(enrol_kiosk(&state, &body).await.map_err(Refusal::from))
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
/// and its stamp.
struct SignedBy {
    kiosk: Slug,
    key: PublicKey,
    venue: Slug,
    stamp: Stamp,
    /// The kiosk's wall clock at signing (the time header).
    kiosk_time: DateTime<Utc>,
}

impl SignedBy {
    /// Server clock minus kiosk wall clock, in milliseconds, at `now`.
    fn offset_ms(&self, now: DateTime<Utc>) -> i64 {
        (now - self.kiosk_time).num_milliseconds()
    }
}

/// Checks a kiosk request's signature headers against the key the kiosk
/// enrolled (from the kiosks read model, which enrolment waits for), and
/// its age by its sync point against the server's clock.
async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<SignedBy, Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = [HEADER_KIOSK, HEADER_TIME, HEADER_CLOCK, HEADER_SIGNATURE];
    let (Some(signature), true) = (
        header(HEADER_SIGNATURE),
        signed.iter().all(|h| header(h).is_some()),
    ) else {
        return Err(Error::unauthenticated(format!(
            "sign the request: headers {} (see lectern-kiosk-protocol)",
            signed.join(", ")
        ))
        .into());
    };
    let stamp = Stamp::from_headers(header).map_err(|e| Error::bad_input(e.to_string()))?;
    let kiosk = Slug::parse(&stamp.kiosk)?;
    let kiosk_time = DateTime::parse_from_rfc3339(&stamp.time)
        .map_err(|_| {
            Error::bad_input(format!(
                "{HEADER_TIME} is not an RFC 3339 time: {:?}",
                stamp.time
            ))
        })?
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
            ))
            .into());
        }
        Some(None) => {
            return Err(Error::unauthenticated(format!(
                "kiosk {:?} was registered again and is not enrolled: enrol it with the new \
                 code from registerKiosk",
                kiosk.as_str()
            ))
            .into());
        }
        Some(Some(key)) => PublicKey::from_hex(&key).map_err(Error::internal)?,
    };
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    key.verify_request(method.as_str(), path, &stamp, body, signature)
        .map_err(|e| {
            tracing::warn!(kiosk = kiosk.as_str(), path, "refused a kiosk request: {e}");
            Error::unauthenticated(format!(
                "{e}: kiosk {:?} was enrolled with another key since (registered again for a \
                 replaced device?); enrol this device with a new code from registerKiosk",
                kiosk.as_str()
            ))
        })?;
    let now = state.api.app.clock.now();
    if let Some(signed_at) = stamp.signed_at() {
        let age = now - signed_at;
        if age.num_seconds().abs() > STALE_AFTER_SECONDS {
            let message = format!(
                "kiosk {:?} signed this request at {signed_at} by its sync point, {} seconds \
                 {} the server's clock ({now}); at most {STALE_AFTER_SECONDS} are taken: sign \
                 it again",
                kiosk.as_str(),
                age.num_seconds().abs(),
                if age > chrono::Duration::zero() {
                    "before"
                } else {
                    "after"
                },
            );
            tracing::warn!(
                kiosk = kiosk.as_str(),
                path,
                "refused a stale kiosk request: {message}"
            );
            return Err(Refusal::Stale {
                message,
                server_time: now,
            });
        }
    }
    Ok(SignedBy {
        kiosk,
        key,
        venue: venue.ok_or_else(|| Error::internal("an enrolled kiosk has no venue"))?,
        stamp,
        kiosk_time,
    })
}

/// `POST /kiosk/v1/heartbeat` (signed): the kiosk's version, backlog and
/// last tap; the server stores them with the clock offset it measures,
/// unless a heartbeat signed later by the same key was taken already.
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
        for (what, text) in [
            ("version", Some(&beat.version)),
            ("reader_fault", beat.reader_fault.as_ref()),
            ("disk_fault", beat.disk_fault.as_ref()),
            ("witness_alarm", beat.witness_alarm.as_ref()),
        ] {
            if let Some(text) = text {
                storable_text(what, text)?;
            }
        }
        if let Some(cosigned) = &beat.cosigned {
            if cosigned.len() > COSIGNED_MAX {
                return Err(Error::bad_input(format!(
                    "the heartbeat's cosigned checkpoint is {} bytes long; at most {COSIGNED_MAX}",
                    cosigned.len()
                ))
                .into());
            }
            let public = lectern_audit::checkpoints::unhex::<32>("a kiosk key", &by.key.to_hex())
                .map_err(|e| Error::bad_input(e.to_string()))?;
            if let Err(e) = crate::witnesses::take_cosignature(
                state.api.db(),
                by.kiosk.as_str(),
                public,
                cosigned,
            )
            .await
            {
                tracing::warn!(kiosk = by.kiosk.as_str(), "a cosignature not taken: {e:#}");
            }
        }
        if let Some(alarm) = &beat.witness_alarm {
            tracing::error!(
                kiosk = by.kiosk.as_str(),
                "a kiosk refuses the log it was shown: {alarm}"
            );
        }
        let now = state.api.app.clock.now();
        let offset = by.offset_ms(now);
        // Taken only when signed after the last one taken from this key: by
        // boot, then monotonic reading.
        let upsert = Stmt {
            sql: std::sync::Arc::from(
                "INSERT INTO kiosk_heartbeats (kiosk, seen_at, kiosk_time, clock_offset_ms, \
                 version, backlog, last_tap, public_key, boot, mono_us, reader_fault, \
                 disk_fault, witness_alarm) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (kiosk) DO UPDATE SET seen_at = excluded.seen_at, \
                 kiosk_time = excluded.kiosk_time, clock_offset_ms = excluded.clock_offset_ms, \
                 version = excluded.version, backlog = excluded.backlog, \
                 last_tap = excluded.last_tap, public_key = excluded.public_key, \
                 boot = excluded.boot, mono_us = excluded.mono_us, \
                 reader_fault = excluded.reader_fault, disk_fault = excluded.disk_fault, \
                 witness_alarm = excluded.witness_alarm \
                 WHERE kiosk_heartbeats.public_key IS NULL \
                 OR kiosk_heartbeats.public_key <> excluded.public_key \
                 OR kiosk_heartbeats.boot < excluded.boot \
                 OR (kiosk_heartbeats.boot = excluded.boot \
                     AND kiosk_heartbeats.mono_us < excluded.mono_us)",
            ),
            args: vec![
                Val::from(by.kiosk.as_str()),
                Val::from(now),
                Val::from(by.kiosk_time),
                Val::Int(offset),
                Val::from(beat.version.as_str()),
                Val::from(beat.backlog),
                Val::from(beat.last_tap),
                Val::from(by.key.to_hex().as_str()),
                Val::Int(i64::from(by.stamp.clock.boot)),
                Val::Int(i64::try_from(by.stamp.clock.mono_us).unwrap_or(i64::MAX)),
                Val::from(beat.reader_fault),
                Val::from(beat.disk_fault),
                Val::from(beat.witness_alarm),
            ],
        };
        // As a guard, the upsert tells whether it changed the row.
        let taken = state.api.db().transact(Some(&upsert), &[]).await?;
        Ok::<_, Refusal>(HeartbeatResponse {
            server_time: now,
            replayed: !taken,
        })
    }
    .await;
    answer(result)
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
                "the body is not a tap batch (JSON {{\"taps\": [signed taps], \"sync\": [sync \
                 points]}}): {e}"
            ))
        })?;
        Ok::<_, Refusal>(
            state
                .taps
                .ingest(
                    &by.kiosk,
                    &by.key,
                    by.offset_ms(state.api.app.clock.now()),
                    batch,
                )
                .await?,
        )
    }
    .await;
    answer(result)
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
        let (mut since, mut witnessed) = (None, 0);
        for pair in uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let number = |text: &str| text.parse::<u64>().ok();
            match pair.split_once('=') {
                Some(("since", n)) if number(n).is_some() => since = number(n),
                Some(("witnessed", n)) if number(n).is_some() => witnessed = number(n).unwrap_or(0),
                _ => {
                    return Err(Error::bad_input(format!(
                        "the query takes since=N (a log position) and witnessed=N (the size of \
                         the checkpoint the kiosk holds), not {pair:?}"
                    ))
                    .into());
                }
            }
        }
        let mut roster =
            lectern_app::kiosks::roster(&state.api.app, state.api.db(), &by.venue, since).await?;
        roster.log = state
            .log_views
            .view(&state.store, state.api.db(), by.kiosk.as_str(), witnessed)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(
                    kiosk = by.kiosk.as_str(),
                    "cannot show the log to a kiosk: {e:#}"
                );
                None
            });
        Ok::<_, Refusal>(roster)
    }
    .await;
    answer(result)
}

/// The longest cosigned checkpoint a heartbeat may carry.
const COSIGNED_MAX: usize = 8_000;

/// The longest text a heartbeat field may hold.
const HEARTBEAT_TEXT_MAX: usize = 500;

/// A heartbeat's text as both backends can store it: no NUL (PostgreSQL
/// refuses it in text) and at most `HEARTBEAT_TEXT_MAX` characters.
fn storable_text(what: &str, text: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::bad_input(format!(
            "the heartbeat's {what} {text:?} holds a NUL character"
        )));
    }
    let n = text.chars().count();
    if n > HEARTBEAT_TEXT_MAX {
        return Err(Error::bad_input(format!(
            "the heartbeat's {what} is {n} characters long; at most {HEARTBEAT_TEXT_MAX}"
        )));
    }
    Ok(())
}
