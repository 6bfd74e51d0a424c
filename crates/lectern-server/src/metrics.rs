//! `/metrics` in the Prometheus text format, and the middleware that
//! counts requests. Metric names are `snake_case`, counters end in
//! `_total`, and labels are low-cardinality (the matched route, never the
//! raw path). deploy/README.md lists every metric.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request counts and latencies of this process.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
}

impl Metrics {
    fn observe(&self, route: &str, status: u16, seconds: f64) {
        let mut m = self.inner.lock().expect("metrics lock");
        *m.requests.entry((route.to_owned(), status)).or_default() += 1;
        let h = m.latency.entry(route.to_owned()).or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
    }

    fn render_http(&self, out: &mut String) {
        let m = self.inner.lock().expect("metrics lock");
        out.push_str(
            "# HELP lectern_http_requests_total HTTP requests, by matched route and status.\n\
             # TYPE lectern_http_requests_total counter\n",
        );
        for ((route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "lectern_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP lectern_http_request_duration_seconds Time to answer an HTTP request.\n\
             # TYPE lectern_http_request_duration_seconds histogram\n",
        );
        for (route, h) in &m.latency {
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "lectern_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "lectern_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 lectern_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 lectern_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
    }
}

/// Counts every request by its matched route.
pub(crate) async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.observe(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    state.metrics.render_http(&mut out);
    let _ = writeln!(
        out,
        "# HELP lectern_events_appended_total Events this process appended to the log.\n\
         # TYPE lectern_events_appended_total counter\n\
         lectern_events_appended_total {}",
        state.store.appended_total()
    );
    if let Ok(head) = state.store.head().await {
        let _ = writeln!(
            out,
            "# HELP lectern_log_head_position Position of the newest event in the log.\n\
             # TYPE lectern_log_head_position gauge\n\
             lectern_log_head_position {head}"
        );
    }
    if let Ok(status) = state.api.app.projections.status().await {
        out.push_str(
            "# HELP lectern_projection_position Log position a read model has reached.\n\
             # TYPE lectern_projection_position gauge\n",
        );
        for s in &status {
            let _ = writeln!(
                out,
                "lectern_projection_position{{projector=\"{}\"}} {}",
                s.name, s.position
            );
        }
        out.push_str(
            "# HELP lectern_projection_lag Events a read model is behind the head of the log.\n\
             # TYPE lectern_projection_lag gauge\n",
        );
        for s in &status {
            let _ = writeln!(
                out,
                "lectern_projection_lag{{projector=\"{}\"}} {}",
                s.name, s.lag
            );
        }
        out.push_str(
            "# HELP lectern_projection_leader 1 where this server runs the projector, 0 where it \
             follows the server that does.\n\
             # TYPE lectern_projection_leader gauge\n",
        );
        for s in &status {
            let _ = writeln!(
                out,
                "lectern_projection_leader{{projector=\"{}\"}} {}",
                s.name,
                u8::from(s.leader)
            );
        }
    }
    if let Some((replica, primary)) = state.api.replica_answers() {
        let _ = writeln!(
            out,
            "# HELP lectern_replica_queries_total GraphQL queries since start, by who answered: \
             the replica, or the primary for a query waiting for a position the replica had \
             not replayed.\n\
             # TYPE lectern_replica_queries_total counter\n\
             lectern_replica_queries_total{{answered_by=\"replica\"}} {replica}\n\
             lectern_replica_queries_total{{answered_by=\"primary\"}} {primary}"
        );
    }
    if let Ok(kiosks) = state
        .api
        .db()
        .fetch("SELECT id, taps, missing FROM rm_kiosks ORDER BY id", &[])
        .await
    {
        out.push_str(
            "# HELP lectern_kiosk_taps_total Card taps in the log, by kiosk.\n\
             # TYPE lectern_kiosk_taps_total counter\n",
        );
        for k in &kiosks {
            let _ = writeln!(
                out,
                "lectern_kiosk_taps_total{{kiosk=\"{}\"}} {}",
                k[0].as_str().unwrap_or_default(),
                k[1].as_i64().unwrap_or_default()
            );
        }
        out.push_str(
            "# HELP lectern_kiosk_missing_taps Taps missing from a kiosk's counter sequence.\n\
             # TYPE lectern_kiosk_missing_taps gauge\n",
        );
        for k in &kiosks {
            let _ = writeln!(
                out,
                "lectern_kiosk_missing_taps{{kiosk=\"{}\"}} {}",
                k[0].as_str().unwrap_or_default(),
                k[2].as_i64().unwrap_or_default()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP lectern_kiosk_taps_refused_total Taps refused since start (bad signature, \
         another kiosk's tap, a counter that went backwards, a wrong venue).\n\
         # TYPE lectern_kiosk_taps_refused_total counter\n\
         lectern_kiosk_taps_refused_total {}",
        state.taps.refused_total()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
