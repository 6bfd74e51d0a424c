//! `lectern bench api`: a synthetic campus of about a million events
//! (`synth`), the projections' catch-up rate from an empty read model, then
//! three queries over HTTP against the real server, each from many
//! concurrent clients: a person's dashboard (profile, this year's
//! attendance, points with explanation), a session roster, and a unit's
//! monthly report.
//!
//! Prints `lectern <db> <case> <count> <seconds> <per second>` lines (the
//! shared benchmark format) and, for the queries, a `#` line with latency
//! percentiles. After catch-up, `flags-analyze` rebuilds the proxy-tap
//! analyzer's flags alone over every tap: its time per tap is what live
//! analysis adds to a tap's ingestion (target: under 1 ms). Targets:
//! catch-up at least 20,000 events/s on SQLite; p99
//! under 20 ms at 50 clients. Between catch-up and the queries, `replay-year`
//! folds 200 people's appraisal for a year from the log, and
//! `replay-year-as-of` the same as the log stood on 1 July (target: each
//! under 100 ms).
//!
//! Last, `api-tuesday` runs a campus's Tuesday afternoon at once for
//! `--mix-seconds`: of every 25 clients, 8 open dashboards, 6 session
//! rosters, 6 units' months, 4 appraisals with their lines, and one replays
//! a person's year as of a date (an auditor), while five kiosks send
//! signed taps, `--taps-per-second` in all, each a batch a second. Each
//! client keeps a schedule: an at-head query every `--mix-interval-ms`
//! (100: 480 a second from 48 clients, as if every member of a
//! 1,500-person campus opened a page every three seconds), a replay every
//! `--replay-interval-ms` (1,000), and a request's latency counts from when
//! it was due. With both at 0 each client asks again as soon as it is
//! answered: the server saturated, where latency is the clients' queue
//! (50 clients over the requests answered a second). One line per kind
//! (`api-tuesday-<kind>`) with its throughput, and its latency
//! percentiles. Targets: at-head queries p99 under 20 ms and replays p99
//! under 200 ms in the mix.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Datelike;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use lectern_graphql::{Principal, Tokens};
use lectern_projections::{Options, Projections, ReadDb, rebuild};
use lectern_synth::bulk::{Synth, generate};
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::store::{Target, target};

/// The server under test, started by the caller (`lectern bench api` starts
/// `lectern serve`'s application in-process): where it answers, and how to
/// stop it.
pub struct Serving {
    pub addr: SocketAddr,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub stopped: tokio::task::JoinHandle<anyhow::Result<()>>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ApiBenchArgs {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "sqlite")]
    pub db: String,
    /// PostgreSQL: a server URL whose user may create databases (the
    /// scratch database `lectern_bench_api` is dropped and recreated).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub url: String,
    /// SQLite `synchronous` level of the log: `full` or `normal`.
    #[arg(long, default_value = "full")]
    pub sync: String,
    /// Events of the synthetic campus.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Requests of each query, in all.
    #[arg(long, default_value_t = 5_000)]
    pub requests: usize,
    /// Seed of the synthetic campus.
    #[arg(long, default_value_t = 2005)]
    pub seed: u64,
    /// How long `api-tuesday` runs, in seconds (0: not at all).
    #[arg(long, default_value_t = 20)]
    pub mix_seconds: u64,
    /// The kiosk's taps per second in `api-tuesday`.
    #[arg(long, default_value_t = 50)]
    pub taps_per_second: u64,
    /// In `api-tuesday`, each client asking at-head queries sends one every
    /// this many milliseconds, on schedule (0: the next as soon as the last
    /// is answered).
    #[arg(long, default_value_t = 100)]
    pub mix_interval_ms: u64,
    /// In `api-tuesday`, each auditor replays a year every this many
    /// milliseconds, on schedule (0: as soon as the last is answered).
    #[arg(long, default_value_t = 1_000)]
    pub replay_interval_ms: u64,
}

/// Runs the benchmark; `serve` starts the server on a database URL.
pub async fn run<S, F>(args: &ApiBenchArgs, serve: S) -> anyhow::Result<()>
where
    S: FnOnce(String) -> F,
    F: Future<Output = anyhow::Result<Serving>>,
{
    if args.clients == 0 || args.requests == 0 {
        bail!("--clients and --requests must be at least 1");
    }
    let target = target(&args.db, &args.url, &args.sync)?;
    let result = run_on(args, &target, serve).await;
    target.clean_up();
    result
}

async fn run_on<S, F>(args: &ApiBenchArgs, target: &Target, serve: S) -> anyhow::Result<()>
where
    S: FnOnce(String) -> F,
    F: Future<Output = anyhow::Result<Serving>>,
{
    let label = target.label();
    let (store, url) = target
        .fresh("api", &lectern_projections::personal_fields())
        .await?;
    let t0 = Instant::now();
    let synth = generate(&store, args.events, args.seed).await?;
    line(label, "generate", synth.events, t0.elapsed());

    // Catch-up: every read model from nothing to the head.
    let read = ReadDb::connect(&url).await?;
    let t0 = Instant::now();
    let projections = Projections::start(store.clone(), read.clone(), Options::default()).await?;
    projections
        .wait_for_all(synth.events, Duration::from_secs(3600))
        .await?;
    line(label, "catchup", synth.events, t0.elapsed());

    // The proxy-tap analyzer alone over every tap: what live analysis adds
    // to each tap's ingestion.
    projections.stop().await;
    let t0 = Instant::now();
    rebuild(&store, &read, Some("flags"), Options::default()).await?;
    let took = t0.elapsed();
    line(label, "flags-analyze", synth.taps, took);
    let flags = read
        .fetch("SELECT COUNT(*) AS n FROM rm_flags", &[])
        .await?
        .first()
        .and_then(|r| r.int_opt("n"))
        .unwrap_or_default();
    println!(
        "# flags-analyze: {} taps, {:.1} µs a tap, {flags} flags",
        synth.taps,
        took.as_secs_f64() * 1e6 / synth.taps.max(1) as f64
    );
    let projections = Projections::start(store.clone(), read.clone(), Options::default()).await?;

    // Replay: a person's year folded from the streams it needs.
    replay_years(label, &store, &read, &synth).await?;
    projections.stop().await;
    store.close().await;

    // The server, on the same database (its projectors resume at the head).
    let server = serve(url).await?;
    let addr = server.addr;
    let (_, token) = Tokens::new(read.clone())
        .create(&Principal::Administrator, None, "bench")
        .await?;
    let synth = Arc::new(synth);
    let last = synth.sessions.last().map(|s| s.2).context("no sessions")?;
    let year = last.year();
    let (report_year, report_month) = if last.month() == 1 {
        (year - 1, 12)
    } else {
        (year, last.month() - 1)
    };
    let cases: [(&str, Query); 3] = [
        (
            "api-dashboard",
            Arc::new(move |s: &Synth, i: usize| dashboard(s, i, year)),
        ),
        ("api-roster", Arc::new(|s: &Synth, i: usize| roster(s, i))),
        (
            "api-unit-month",
            Arc::new(move |s: &Synth, i: usize| unit_month(s, i, report_year, report_month)),
        ),
    ];
    for (name, query) in cases.iter().cloned() {
        let t0 = Instant::now();
        let latencies = load(addr, &token, &synth, args, query).await?;
        let elapsed = t0.elapsed();
        line(label, name, latencies.len() as u64, elapsed);
        percentiles(name, args.clients, latencies);
    }
    if args.mix_seconds > 0 {
        let [(_, dashboard), (_, roster), (_, unit_month)] = cases;
        let at_head: Query = Arc::new(move |s: &Synth, i: usize| appraisal(s, i, year, None));
        let as_of = format!("{year}-07-01T00:00:00Z");
        let replay: Query =
            Arc::new(move |s: &Synth, i: usize| appraisal(s, i, year, Some(&as_of)));
        let (at_head_every, replay_every) = (
            Duration::from_millis(args.mix_interval_ms),
            Duration::from_millis(args.replay_interval_ms),
        );
        let kinds: Vec<Kind> = vec![
            ("dashboard", dashboard, 8, at_head_every),
            ("roster", roster, 6, at_head_every),
            ("unit-month", unit_month, 6, at_head_every),
            ("appraisal", at_head, 4, at_head_every),
            ("replay-as-of", replay, 1, replay_every),
        ];
        tuesday(label, addr, &token, &synth, args, kinds).await?;
    }
    let _ = server.stop.send(());
    server.stopped.await??;
    read.close().await;
    Ok(())
}

/// People whose year `replay-year` folds.
const REPLAYS: usize = 200;

/// `REPLAYS` people's appraisal for a year, replayed from the log one after
/// another (`lectern_audit::replay`), with latency percentiles: as the log
/// stands (`replay-year`), and as it stood on 1 July of that year
/// (`replay-year-as-of`, what an auditor settling a dispute asks).
async fn replay_years(
    label: &str,
    store: &lectern_store::Store,
    read: &ReadDb,
    synth: &Synth,
) -> anyhow::Result<()> {
    use lectern_audit::replay::{AsOf, replay_person};
    let campus = lectern_domain::Campus::default();
    let year = synth
        .sessions
        .get(synth.sessions.len() / 2)
        .map_or(2007, |(_, _, day)| day.year());
    let period = lectern_domain::Period::year(year)?;
    let july = campus.at(
        chrono::NaiveDate::from_ymd_opt(year, 7, 1).context("1 July")?,
        chrono::NaiveTime::MIN,
    )?;
    for (case, cut) in [
        ("replay-year", AsOf::Now),
        ("replay-year-as-of", AsOf::Occurred(july)),
    ] {
        let mut took = Vec::with_capacity(REPLAYS);
        let mut lines = 0;
        let t0 = Instant::now();
        for i in 0..REPLAYS {
            let person = pick(&synth.people, i);
            let t = Instant::now();
            let a = replay_person(store, read, &campus, person, &period, cut).await?;
            took.push(t.elapsed());
            lines += a.lines.len();
        }
        line(label, case, REPLAYS as u64, t0.elapsed());
        took.sort();
        let pct = |p: f64| took[((took.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
        println!(
            "# {case}: {year}, {lines} lines, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0)
        );
    }
    Ok(())
}

/// Prints the `#` line of a case's latency percentiles.
fn percentiles(name: &str, clients: usize, mut latencies: Vec<Duration>) {
    if latencies.is_empty() {
        println!("# {name}: no requests");
        return;
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "# {name}: {clients} clients, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
}

/// Kiosks sending taps in `api-tuesday`, each a batch a second.
const KIOSKS: usize = 5;

/// A kind of request in `api-tuesday`: its name, the query, its share of
/// every 25 clients, and how often each of its clients sends one (zero: as
/// soon as the last is answered).
type Kind = (&'static str, Query, usize, Duration);

/// `api-tuesday`: `kinds` from `args.clients` connections at once, and
/// `KIOSKS` kiosks sending taps, for `args.mix_seconds`; a line and
/// percentiles per kind. A paced client's latency counts from when its
/// request was due, not from when it was sent: a server that falls behind
/// shows it in the figures instead of slowing the clients down.
async fn tuesday(
    label: &str,
    addr: SocketAddr,
    token: &str,
    synth: &Arc<Synth>,
    args: &ApiBenchArgs,
    kinds: Vec<Kind>,
) -> anyhow::Result<()> {
    let mut kiosks = Vec::new();
    for n in 1..=KIOSKS {
        kiosks.push(crate::tapper::Tapper::enrol(addr, token, synth, n).await?);
    }
    let start = Instant::now();
    let until = start + Duration::from_secs(args.mix_seconds);
    // Every kind first (so a few clients try them all), then the rest of
    // each kind's share.
    let slots: Vec<usize> = (0..kinds.len())
        .chain(
            kinds
                .iter()
                .enumerate()
                .flat_map(|(k, (_, _, n, _))| std::iter::repeat_n(k, n.saturating_sub(1))),
        )
        .collect();
    let mut clients = Vec::new();
    let mut clients_of = vec![0; kinds.len()];
    for c in 0..args.clients {
        let kind = slots[c % slots.len()];
        clients_of[kind] += 1;
        let (_, query, _, every) = kinds[kind].clone();
        let (synth, token) = (synth.clone(), token.to_owned());
        // Paced clients start spread over their first interval.
        let mut due = start + every.mul_f64(c as f64 / args.clients as f64);
        clients.push(tokio::spawn(async move {
            let mut conn = Client::connect(addr, token).await?;
            let mut out = Vec::new();
            let mut k = 0;
            while due < until {
                if every.is_zero() {
                    due = Instant::now();
                } else {
                    tokio::time::sleep_until(due.into()).await;
                }
                conn.ask(&query(&synth, c * 7919 + k)).await?;
                out.push(due.elapsed());
                due += every;
                k += 1;
            }
            anyhow::Ok((kind, out))
        }));
    }
    let per_batch = args.taps_per_second.div_ceil(KIOSKS as u64).max(1);
    let taps: Vec<_> = kiosks
        .into_iter()
        .map(|k| tokio::spawn(k.run(per_batch, until)))
        .collect();
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    for c in clients {
        let (kind, out) = c.await??;
        latencies[kind].extend(out);
    }
    let (mut sent, mut batches) = (0, Vec::new());
    for k in taps {
        let (n, took) = k.await??;
        sent += n;
        batches.extend(took);
    }
    let elapsed = start.elapsed();
    for (((name, _, _, every), took), n) in kinds.iter().zip(latencies).zip(clients_of) {
        let case = format!("api-tuesday-{name}");
        line(label, &case, took.len() as u64, elapsed);
        let offered = if every.is_zero() {
            "as fast as answered".to_owned()
        } else {
            format!("each every {} ms", every.as_millis())
        };
        percentiles(&format!("{case} ({offered})"), n, took);
    }
    line(label, "api-tuesday-kiosk-taps", sent, elapsed);
    percentiles("api-tuesday-kiosk-taps (per batch)", KIOSKS, batches);
    Ok(())
}

fn line(label: &str, case: &str, count: u64, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "lectern {label} {case} {count} {secs:.3} {:.0}",
        count as f64 / secs.max(1e-9)
    );
}

/// Builds request `i` of a case: the query and its variables.
type Query = Arc<dyn Fn(&Synth, usize) -> Value + Send + Sync>;

fn pick<T>(items: &[T], i: usize) -> &T {
    // A multiplicative hash spreads requests over the whole campus.
    &items[i.wrapping_mul(2_654_435_761) % items.len()]
}

fn dashboard(s: &Synth, i: usize, year: i32) -> Value {
    json!({
        "query": "query($p: String!, $from: DateTime!, $year: Int!) {
            person(staffNo: $p) { staffNo name unit category card roles { role } }
            attendance(staffNo: $p, from: $from) { status checkedInAt session { title startsAt } }
            appraisal(staffNo: $p, year: $year) { total lines { points rule ruleVersion date subject positions } }
        }",
        "variables": {
            "p": pick(&s.people, i).as_str(),
            "from": format!("{year}-01-01T00:00:00Z"),
            "year": year,
        },
    })
}

/// A person's appraisal with its lines: at the head (from the read
/// models), or replayed from the log as of `as_of`.
fn appraisal(s: &Synth, i: usize, year: i32, as_of: Option<&str>) -> Value {
    json!({
        "query": "query($p: String!, $year: Int!, $at: DateTime) {
            appraisal(staffNo: $p, year: $year, asOf: $at) { total lines { points rule date subject } }
        }",
        "variables": { "p": pick(&s.people, i).as_str(), "year": year, "at": as_of },
    })
}

fn roster(s: &Synth, i: usize) -> Value {
    json!({
        "query": "query($id: UUID!) { session(id: $id) { title status present late excused absent
            roster(first: 100) { edges { node { staffNo name status leave checkedInAt } } } } }",
        "variables": { "id": pick(&s.sessions, i).0.to_string() },
    })
}

fn unit_month(s: &Synth, i: usize, year: i32, month: u32) -> Value {
    json!({
        "query": "query($u: String!, $y: Int!, $m: Int!) { unitMonth(unit: $u, year: $y, month: $m) {
            figures { sessionsHeld present late absent excused tasksDone attendancePermille }
            studyCheck { checker } report { chair submittedOn } } }",
        "variables": { "u": pick(&s.units, i).as_str(), "y": year, "m": month },
    })
}

/// Runs `args.requests` requests from `args.clients` connections; returns
/// each request's latency. Any error or GraphQL error fails the run.
async fn load(
    addr: SocketAddr,
    token: &str,
    synth: &Arc<Synth>,
    args: &ApiBenchArgs,
    query: Query,
) -> anyhow::Result<Vec<Duration>> {
    let mut clients = Vec::new();
    for c in 0..args.clients {
        let n = args.requests / args.clients + usize::from(c < args.requests % args.clients);
        let (synth, query, token) = (synth.clone(), query.clone(), token.to_owned());
        clients.push(tokio::spawn(async move {
            let mut conn = Client::connect(addr, token).await?;
            let mut out = Vec::with_capacity(n);
            for k in 0..n {
                out.push(conn.timed(&query(&synth, c * 7919 + k)).await?);
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Vec::with_capacity(args.requests);
    for c in clients {
        all.extend(c.await??);
    }
    Ok(all)
}

/// A GraphQL response, checked for well-formed JSON and for errors without
/// building it in memory: the clients share the server's cores.
#[derive(serde::Deserialize)]
struct Checked {
    #[serde(rename = "data")]
    _data: Option<serde::de::IgnoredAny>,
    errors: Option<serde::de::IgnoredAny>,
}

struct Answer {
    errors: Option<serde::de::IgnoredAny>,
    body: Bytes,
}

/// One keep-alive HTTP/1.1 connection posting to `/graphql` (or to the
/// kiosk endpoints).
pub(crate) struct Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    auth: String,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr, token: String) -> anyhow::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Client {
            sender,
            auth: format!("Bearer {token}"),
        })
    }

    /// Posts a query and times it; a GraphQL error fails the run.
    async fn timed(&mut self, body: &Value) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        self.ask(body).await?;
        Ok(t0.elapsed())
    }

    /// Posts a query; a GraphQL error fails the run.
    async fn ask(&mut self, body: &Value) -> anyhow::Result<()> {
        let response = self.post(body).await?;
        if response.errors.is_some() {
            bail!(
                "the query failed: {}",
                String::from_utf8_lossy(&response.body)
            );
        }
        Ok(())
    }

    async fn post(&mut self, body: &Value) -> anyhow::Result<Answer> {
        let auth = self.auth.clone();
        let body = self
            .send(
                "/graphql",
                &[("authorization", auth)],
                serde_json::to_vec(body)?,
            )
            .await?;
        let Checked { errors, .. } = serde_json::from_slice(&body)?;
        Ok(Answer { errors, body })
    }

    /// POSTs `body` to `path` with `headers`; the answer's body, or why it
    /// is not 200.
    pub(crate) async fn send(
        &mut self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> anyhow::Result<Bytes> {
        let mut request = hyper::Request::post(path)
            .header("host", "bench")
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await?;
        let answer = self.sender.send_request(request).await?;
        let status = answer.status();
        let body = answer.into_body().collect().await?.to_bytes();
        if status != hyper::StatusCode::OK {
            bail!("HTTP status {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(body)
    }
}
