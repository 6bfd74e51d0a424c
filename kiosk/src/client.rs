//! The kiosk's side of `/kiosk/v1`: HTTP/1.1 requests signed with the
//! kiosk's key. Plain HTTP only: put the kiosk and the server on a trusted
//! network or behind a TLS tunnel (the requests are signed, and a tampered
//! request or tap is refused, but they are not secret).

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use lectern_kiosk_protocol::{HEADER_SIGNATURE, KioskKey, PREFIX, STALE, Stamp};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long one request may take before the kiosk counts the server as
/// unreachable.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server is: `http://host:port`.
#[derive(Debug, Clone)]
pub struct Server {
    authority: String,
}

/// Why a request failed: the server could not be reached (try again
/// later), or it answered with a refusal (which names the problem).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the server cannot be reached: {0}")]
    Unreachable(String),
    #[error("the server refused ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The server found the request signed too long before its now (held
    /// on the way, or the kiosk's sync point is out of date): sign it
    /// again, taking `server_time` as a sync point.
    #[error("the server refused a stale request: {message}")]
    Stale {
        message: String,
        server_time: DateTime<Utc>,
    },
}

impl CallError {
    /// The server no longer accepts this kiosk's key (it was registered
    /// again, or another device enrolled as it): nothing is sent until it
    /// is enrolled anew.
    pub fn voided(&self) -> bool {
        matches!(self, CallError::Refused { status: 401, .. })
    }
}

impl Server {
    pub fn parse(url: &str) -> Result<Server> {
        let rest = url.trim().trim_end_matches('/');
        if rest.starts_with("https://") {
            bail!(
                "the kiosk speaks plain HTTP; {url:?} asks for HTTPS (reach the server through \
                 a TLS tunnel on the kiosk, see docs/kiosk.md)"
            );
        }
        let authority = rest.strip_prefix("http://").ok_or_else(|| {
            anyhow!("the server URL must look like http://host:port, not {url:?}")
        })?;
        if authority.is_empty() || authority.contains('/') {
            bail!("the server URL must look like http://host:port, not {url:?}");
        }
        let authority = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Server { authority })
    }

    /// `http://host:port`, as stored.
    pub fn url(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// Sends one request and reads the JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> Result<T, CallError> {
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(&self.authority)
                .await
                .map_err(|e| CallError::Unreachable(format!("{}: {e}", self.authority)))?;
            let _ = stream.set_nodelay(true);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| CallError::Unreachable(e.to_string()))?;
            tokio::spawn(conn);
            let mut request = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", &self.authority)
                .header("content-type", "application/json");
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let request = request
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| CallError::Unreachable(e.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| CallError::Unreachable(e.to_string()))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Unreachable(e.to_string()))?
                .to_bytes();
            if status != 200 {
                let refusal = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                let message = refusal
                    .as_ref()
                    .and_then(|v| v["error"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
                if let Some(server_time) = refusal
                    .as_ref()
                    .filter(|v| v["code"] == STALE)
                    .and_then(|v| serde_json::from_value(v["server_time"].clone()).ok())
                {
                    return Err(CallError::Stale {
                        message,
                        server_time,
                    });
                }
                // 5xx: the server is there but cannot answer now; retry.
                if status >= 500 {
                    return Err(CallError::Unreachable(format!("{status}: {message}")));
                }
                return Err(CallError::Refused { status, message });
            }
            serde_json::from_slice(&bytes).map_err(|e| CallError::Refused {
                status,
                message: format!("an answer the kiosk does not understand: {e}"),
            })
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| CallError::Unreachable(format!("no answer within {TIMEOUT:?}")))?
    }

    /// An unsigned call (enrolment).
    pub async fn post<T: DeserializeOwned>(
        &self,
        what: &str,
        body: &impl Serialize,
    ) -> Result<T, CallError> {
        let body = serde_json::to_vec(body).expect("messages serialize");
        self.call("POST", &format!("{PREFIX}/{what}"), vec![], body)
            .await
    }

    /// A call signed with the kiosk's key, stamped with `stamp`.
    pub async fn signed<T: DeserializeOwned>(
        &self,
        key: &KioskKey,
        stamp: &Stamp,
        method: &str,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<T, CallError> {
        let path = format!("{PREFIX}/{path_and_query}");
        let mut headers = stamp.headers();
        headers.push((
            HEADER_SIGNATURE,
            key.sign_request(method, &path, stamp, &body),
        ));
        self.call(method, &path, headers, body).await
    }
}
