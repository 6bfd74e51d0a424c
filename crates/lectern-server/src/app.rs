//! The HTTP application: `Application::build(config)`, then
//! `run_until_stopped()`. Tests start it on port 0 with a database of their own.

use std::net::SocketAddr;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use lectern_app::{App, Ingest};
use lectern_domain::{Campus, Clock};
use lectern_graphql::{Api, LecternSchema, Tokens};
use lectern_projections::{Projections, ReadDb};
use lectern_store::Store;
use serde_json::json;
use tokio::net::TcpListener;

use crate::config::ServeArgs;
use lectern_store::redact;

/// The HTTP status of an error's code: the one mapping of the write path's
/// codes to HTTP, for every endpoint that is not GraphQL.
pub fn status(code: lectern_app::Code) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub api: Api,
    pub schema: LecternSchema,
    /// The head of the log when the server started: `/readyz` answers
    /// ready once every read model has reached it.
    pub head_at_start: u64,
    pub metrics: crate::metrics::Metrics,
    /// Kiosks' tap batches (`/kiosk/v1/taps`).
    pub taps: Ingest,
    /// Where signed checkpoints are published (served at `/checkpoint` and
    /// `/checkpoints/…`).
    pub published: std::path::PathBuf,
    /// The log as kiosks are shown it, with their proofs.
    pub log_views: crate::witnesses::LogViews,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    projections: Projections,
    /// How checkpoints are signed and how often (`None`: never).
    checkpoints: Option<(crate::config::Signing, std::time::Duration)>,
}

impl Application {
    /// Opens the database, applies pending migrations and binds the listener.
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Application> {
        Application::build_with_clock(args, Clock::system()).await
    }

    /// As `build`, with the server's decisions (check-in windows, deadlines,
    /// the time a tap is placed at) taken by `clock`: tests move time with
    /// a manual clock.
    pub async fn build_with_clock(args: &ServeArgs, clock: Clock) -> anyhow::Result<Application> {
        if clock.is_manual() {
            tracing::warn!(now = %clock.now(), "the server runs on a manual clock");
        }
        let url = args.db.url()?;
        let replica_url = args.replica_url()?;
        let store = Store::open(&url, lectern_projections::store_options())
            .await
            .with_context(|| format!("cannot open the event log at {}", redact(&url)))?;
        store
            .migrate()
            .await
            .with_context(|| format!("cannot migrate {}", redact(&url)))?;
        let listen = args.listen()?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(database = %redact(&url), backend = store.backend(), "event log ready");
        let read = ReadDb::connect(&url)
            .await
            .with_context(|| format!("cannot open the read models at {}", redact(&url)))?;
        let head_at_start = store.head().await?;
        let projections = Projections::start(store.clone(), read.clone(), args.db.projections()?)
            .await
            .context("cannot start the projections")?;
        let tokens = Tokens::new(read).with_ttl(args.token_cache()?);
        let link_key = tokens
            .link_key()
            .await
            .context("cannot read the download-link key")?;
        let app = App {
            clock,
            ..App::new(store.clone(), projections.clone(), Campus::default())
        };
        let mut api = Api::new(app.clone(), tokens)
            .with_dispute_working_days(args.dispute_working_days()?)
            .with_personal_data_retention_years(args.db.personal_data_retention_years()?)
            .with_link_key(link_key);
        if let Some(replica) = replica_url {
            let db = ReadDb::connect_replica(&replica)
                .await
                .with_context(|| format!("cannot open the replica at {}", redact(&replica)))?;
            tracing::info!(replica = %redact(&replica), "queries are answered from the replica");
            api = api.with_replica(db, args.replica_wait()?);
        }
        let schema = lectern_graphql::build_schema(api.clone());
        let metrics = crate::metrics::Metrics::default();
        let signing = args.signing()?;
        let router = traced(router().route_layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            crate::metrics::track,
        )))
        .with_state(AppState {
            store: store.clone(),
            api,
            schema,
            head_at_start,
            metrics,
            taps: Ingest::new(&app),
            published: signing.publish_dir.clone(),
            log_views: crate::witnesses::LogViews::default(),
        });
        let checkpoints = args.checkpoint_interval()?.map(|every| (signing, every));
        Ok(Application {
            listener,
            router,
            store,
            projections,
            checkpoints,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let signing = self.checkpoints.clone().map(|(signing, every)| {
            tokio::spawn(sign_checkpoints(
                self.store.clone(),
                self.projections.db().clone(),
                self.projections.leases().clone(),
                signing,
                every,
            ))
        });
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the HTTP server failed")?;
        if let Some(task) = signing {
            task.abort();
        }
        self.projections.stop().await;
        self.projections.db().close().await;
        self.store.close().await;
        Ok(())
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Signs a checkpoint of the log every `every` (the key is read, or made,
/// at the first), publishes it and has it witnessed; a refusal — a broken
/// or rewritten log — is logged as an error each time. Among servers
/// sharing a database, the one holding the signer's lease signs; another
/// takes the lease over when it dies.
async fn sign_checkpoints(
    store: Store,
    db: ReadDb,
    leases: lectern_projections::Leases,
    signing: crate::config::Signing,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut lease = None;
    loop {
        tick.tick().await;
        if !lease.as_ref().is_some_and(lectern_projections::Lease::held) {
            lease = match leases.try_acquire("checkpoint-signer").await {
                Ok(lease) => lease,
                Err(e) => {
                    tracing::warn!("cannot take the checkpoint signer's lease: {e}");
                    None
                }
            };
            if lease.is_none() {
                continue;
            }
        }
        if let Err(e) = crate::witnesses::checkpoint(&store, &db, &signing).await {
            tracing::error!("cannot sign a checkpoint: {e:#}");
        }
    }
}

/// The longest an HTTP request may take before it is answered 408 (a
/// query waits at most `MAX_WAIT` for the read models; a WebSocket is
/// handed over well within it).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Every request gets an id (`x-request-id`, kept when the client or a
/// proxy sent one, and echoed in the answer), a span in the log carrying
/// it with the method and route, and a time limit.
fn traced(router: Router<AppState>) -> Router<AppState> {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    use tower_http::timeout::TimeoutLayer;
    use tower_http::trace::TraceLayer;
    let span = |request: &axum::http::Request<axum::body::Body>| {
        let id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            id,
            method = %request.method(),
            path = request.uri().path(),
        )
    };
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/checkpoint", get(published_latest))
        .route("/checkpoints/index", get(published_index))
        .route("/checkpoints/log/{size}", get(published_note))
        .merge(crate::graphql::router())
        .merge(crate::kiosk::router())
        .merge(crate::web::router())
        .merge(crate::reports::router())
}

async fn index() -> &'static str {
    "Lectern: the event log of the staff learning campaign.\n\
     GET /healthz  the process is up\n\
     GET /readyz   the event log answers and the read models caught up (JSON)\n\
     GET /metrics  Prometheus metrics\n\
     GET /checkpoint  the latest signed checkpoint (a C2SP signed note)\n\
     GET /checkpoints/index, /checkpoints/log/SIZE  every published checkpoint\n\
     POST /graphql the GraphQL API (Authorization: Bearer <token>)\n\
     GET /graphql/ws  GraphQL subscriptions over WebSocket (graphql-transport-ws)\n\
     GET /graphiql the GraphQL console for administrators\n\
     GET /pages    the campaign's pages: Me, My unit, The campaign, Kiosks\n\
     GET /export/REPORT.csv|xlsx?…  a report download link from the exportLink query\n"
}

/// A file of the published checkpoints, as text (404 when it is not there).
async fn published_file(state: &AppState, path: std::path::PathBuf) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::fs::read_to_string(state.published.join(&path)).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => (
            axum::http::StatusCode::NOT_FOUND,
            format!("no published checkpoint file {}\n", path.display()),
        )
            .into_response(),
    }
}

async fn published_latest(State(state): State<AppState>) -> axum::response::Response {
    published_file(&state, "checkpoint".into()).await
}

async fn published_index(State(state): State<AppState>) -> axum::response::Response {
    published_file(&state, "index".into()).await
}

async fn published_note(
    State(state): State<AppState>,
    axum::extract::Path(size): axum::extract::Path<u64>,
) -> axum::response::Response {
    published_file(&state, std::path::Path::new("log").join(size.to_string())).await
}

async fn healthz() -> &'static str {
    "ok"
}

/// How long `/readyz` waits for the event log before it answers 503.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let unavailable = |body: serde_json::Value| (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    let head = match tokio::time::timeout(READY_WAIT, state.store.head()).await {
        Ok(Ok(head)) => head,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            return unavailable(
                json!({ "status": "unavailable", "error": "the event log does not answer" }),
            );
        }
        Err(_) => {
            tracing::warn!("readiness check: the event log did not answer within a second");
            return unavailable(json!({
                "status": "unavailable",
                "error": "the event log did not answer within a second",
            }));
        }
    };
    let projected = state.api.app.projections.position();
    let failed: Vec<_> = state
        .api
        .app
        .projections
        .failures()
        .into_iter()
        .map(|f| json!({ "projector": f.projector, "position": f.position, "error": f.reason }))
        .collect();
    let body = |status: &str| {
        json!({
            "status": status,
            "backend": state.store.backend(),
            "head": head,
            "projected": projected,
            "failed": failed,
        })
    };
    if !failed.is_empty() {
        unavailable(body("projector failed"))
    } else if projected >= state.head_at_start {
        (StatusCode::OK, Json(body("ready")))
    } else {
        unavailable(body("catching up"))
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
