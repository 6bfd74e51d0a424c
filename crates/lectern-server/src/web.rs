//! The browser pages, served entirely from the binary: `/graphiql`, the
//! GraphQL console for administrators, and `/pages`, the campaign's pages
//! for everyone else (Me, My unit, The campaign, Kiosks).
//!
//! Each bundle in `assets/` is built from npm packages by `npm ci && npm
//! run build` in its directory (`crates/lectern-server/graphiql/`,
//! `crates/lectern-server/pages/`; see their package.json) and committed,
//! so building Lectern needs no Node.js and no page loads anything from a
//! CDN.

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::app::AppState;

const GRAPHIQL: &str = r#"<!doctype html>
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

const PAGES: &str = r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>学习型组织 · Lectern</title>
<link rel="stylesheet" href="/pages/pages.css">
</head>
<body>
<div id="app">正在加载… Loading…</div>
<script src="/pages/pages.js"></script>
</body>
</html>
"#;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/graphiql", get(|| async { Html(GRAPHIQL) }))
        .route(
            "/graphiql/graphiql.js",
            get(|| async { js(include_bytes!("../assets/graphiql.js")) }),
        )
        .route(
            "/graphiql/graphiql.css",
            get(|| async { css(include_bytes!("../assets/graphiql.css")) }),
        )
        .route("/pages", get(|| async { Html(PAGES) }))
        .route(
            "/pages/pages.js",
            get(|| async { js(include_bytes!("../assets/pages.js")) }),
        )
        .route(
            "/pages/pages.css",
            get(|| async { css(include_bytes!("../assets/pages.css")) }),
        )
}

fn js(body: &'static [u8]) -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", body)
}

fn css(body: &'static [u8]) -> impl IntoResponse {
    asset("text/css; charset=utf-8", body)
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
