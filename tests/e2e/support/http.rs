//! One HTTP/1.1 client for every suite (hyper's, as the kiosk uses): a
//! request on a fresh connection, the whole answer read.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, StatusCode};
use hyper_util::rt::TokioIo;

/// What the server answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body (a binary body lossily as text).
    pub body: String,
}

/// Sends `method path` with `headers` and a JSON `body` to `addr`.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("a well-formed request");
    let answer = sender.send_request(request).await.expect("an answer");
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.into_body().collect().await.expect("the body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body.to_bytes()).into_owned(),
    }
}

/// GET `path`; returns the status (as "200 OK") and the body.
pub async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let a = send(addr, "GET", path, &[], b"").await;
    (a.status.to_string(), a.body)
}

/// POSTs `body` to `path` with `token` as bearer; returns the status (as
/// "200 OK") and the body.
pub async fn post_to(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (String, String) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    let a = send(addr, "POST", path, &headers, body).await;
    (a.status.to_string(), a.body)
}
