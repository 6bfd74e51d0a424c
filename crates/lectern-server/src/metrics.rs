//! `/metrics` in the OpenMetrics text format, written by the official
//! Prometheus client (`prometheus-client`), and the middleware that counts
//! requests. Metric names are `snake_case`, counters end in `_total`, and
//! labels are low-cardinality (the matched route, never the raw path).
//! deploy/README.md lists every metric.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::app::AppState;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// A metric's labels, by name.
type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Request counts and latencies of this process.
#[derive(Debug, Clone)]
pub struct Metrics {
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl Metrics {
    fn observe(&self, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&vec![("route", route.to_owned())])
            .observe(seconds);
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

/// A counter that reads `value` (a total kept elsewhere: the log, a read
/// model, this process's tap ingestion).
fn counter(value: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(value);
    c
}

fn gauge(value: u64) -> Gauge {
    let g = Gauge::default();
    g.set(i64::try_from(value).unwrap_or(i64::MAX));
    g
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut r = Registry::default();
    r.register(
        "lectern_http_requests",
        "HTTP requests, by matched route and status",
        state.metrics.requests.clone(),
    );
    r.register(
        "lectern_http_request_duration_seconds",
        "Time to answer an HTTP request",
        state.metrics.latency.clone(),
    );
    r.register(
        "lectern_events_appended",
        "Events this process appended to the log",
        counter(state.store.appended_total()),
    );
    if let Ok(head) = state.store.head().await {
        r.register(
            "lectern_log_head_position",
            "Position of the newest event in the log",
            gauge(head),
        );
    }
    if let Ok(status) = state.api.app.projections.status().await {
        let by_projector = |value: &dyn Fn(&lectern_projections::Status) -> u64| {
            let f: Family<Labels, Gauge> = Family::default();
            for s in &status {
                f.get_or_create(&vec![("projector", s.name.to_string())])
                    .set(i64::try_from(value(s)).unwrap_or(i64::MAX));
            }
            f
        };
        r.register(
            "lectern_projection_position",
            "Log position a read model has reached",
            by_projector(&|s| s.position),
        );
        r.register(
            "lectern_projection_lag",
            "Events a read model is behind the head of the log",
            by_projector(&|s| s.lag),
        );
        r.register(
            "lectern_projection_leader",
            "1 where this server runs the projector, 0 where it follows the server that does",
            by_projector(&|s| u64::from(s.leader)),
        );
    }
    let failures = state.api.app.projections.failures();
    let failed: Family<Labels, Gauge> = Family::default();
    for name in lectern_projections::projector_names() {
        let stuck = failures.iter().any(|f| f.projector == name);
        failed
            .get_or_create(&vec![("projector", name.to_string())])
            .set(i64::from(stuck));
    }
    r.register(
        "lectern_projection_failed",
        "1 while a read model's projector has failed on the log and not recovered",
        failed,
    );
    if let Some((replica, primary)) = state.api.replica_answers() {
        let answered: Family<Labels, Counter> = Family::default();
        for (by, n) in [("replica", replica), ("primary", primary)] {
            answered
                .get_or_create(&vec![("answered_by", by.to_owned())])
                .inc_by(n);
        }
        r.register(
            "lectern_replica_queries",
            "GraphQL queries since start, by who answered: the replica, or the primary for a \
             query waiting for a position the replica had not replayed",
            answered,
        );
    }
    if let Ok(kiosks) = state
        .api
        .db()
        .fetch("SELECT id, taps, missing FROM rm_kiosks ORDER BY id", &[])
        .await
    {
        let (taps, missing): (Family<Labels, Counter>, Family<Labels, Gauge>) =
            (Family::default(), Family::default());
        for k in &kiosks {
            let id = vec![("kiosk", k.text("id"))];
            let count = u64::try_from(k.int("taps")).unwrap_or(0);
            taps.get_or_create(&id).inc_by(count);
            missing.get_or_create(&id).set(k.int("missing"));
        }
        r.register("lectern_kiosk_taps", "Card taps in the log, by kiosk", taps);
        r.register(
            "lectern_kiosk_missing_taps",
            "Taps missing from a kiosk's counter sequence",
            missing,
        );
    }
    if let Ok(alarms) = state
        .api
        .db()
        .fetch(
            "SELECT kiosk FROM kiosk_heartbeats WHERE witness_alarm IS NOT NULL ORDER BY kiosk",
            &[],
        )
        .await
    {
        let raised: Family<Labels, Gauge> = Family::default();
        for k in &alarms {
            raised
                .get_or_create(&vec![("kiosk", k.text("kiosk"))])
                .set(1);
        }
        r.register(
            "lectern_kiosk_witness_alarms",
            "Kiosks whose latest heartbeat says the server showed them a log that does not \
             extend the one they saw (a rewritten history)",
            raised,
        );
    }
    if let Ok(flags) = state
        .api
        .db()
        .fetch(
            "SELECT rule, status, COUNT(*) AS n FROM rm_flags GROUP BY rule, status \
             ORDER BY rule, status",
            &[],
        )
        .await
    {
        let by_rule: Family<Labels, Gauge> = Family::default();
        for f in &flags {
            by_rule
                .get_or_create(&vec![
                    ("rule", f.text("rule")),
                    ("status", f.text("status")),
                ])
                .set(f.int("n"));
        }
        r.register(
            "lectern_flags",
            "Proxy-tap flags raised, by rule and status (open, dismissed, confirmed)",
            by_rule,
        );
    }
    r.register(
        "lectern_kiosk_taps_refused",
        "Taps refused since start (bad signature, another kiosk's tap, a counter that went \
         backwards, a wrong venue)",
        counter(state.taps.refused_total()),
    );
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &r) {
        tracing::error!(error = %e, "cannot write the metrics");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
