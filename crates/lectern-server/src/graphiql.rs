//! `/graphiql`: the GraphiQL console, served entirely from the binary.
//!
//! The bundle in `assets/` is built from the npm `graphiql` package by
//! `npm ci && npm run build` in `crates/lectern-server/graphiql/` (see its
//! package.json) and committed, so building Lectern needs no Node.js and
//! the console loads nothing from a CDN.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::app::AppState;

const PAGE: &str = r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lectern GraphiQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.css">
<style>html, body { margin: 0; height: 100%; } #graphiql { height: 100vh; }</style>
</head>
<body>
<div id="graphiql">Loading the console… 正在加载…</div>
<script src="/graphiql/graphiql.js"></script>
</body>
</html>
"#;

const JS: &[u8] = include_bytes!("../assets/graphiql.js");
const CSS: &[u8] = include_bytes!("../assets/graphiql.css");

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/graphiql", get(|| async { Html(PAGE) }))
        .route(
            "/graphiql/graphiql.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
        .route(
            "/graphiql/graphiql.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
}

fn asset(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}
