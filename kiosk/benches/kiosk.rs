//! The kiosk benchmark, against a real server in this process on a fresh
//! SQLite database (both on this machine):
//! - tap-to-screen: 10,000 card reads, each decided from the roster,
//!   committed to the durable queue (synchronous=FULL) and drawn on an
//!   80x24 screen; the reader's own poll time is not included;
//! - backlog-sync: the 10,000 queued taps sent to the server;
//! - ingest: four kiosks sending 2,500 queued taps each at once.
//!
//! `cargo bench -p lectern-kiosk`. One line per workload:
//! `lectern-kiosk <db> <workload> <taps> <seconds> <taps/s>`, latency
//! percentiles on a `#` line.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use lectern_domain::{CardUid, Slug};
use lectern_kiosk::client::Server;
use lectern_kiosk::queue::{Identity, Queue};
use lectern_kiosk::{Kiosk, screen};
use lectern_kiosk_protocol::{EnrolRequest, EnrolResponse, KioskKey};
use lectern_server::app::Application;
use lectern_server::config::{DbArgs, ServeArgs};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PEOPLE: usize = 3_000;
const TAPS: usize = 10_000;
const KIOSKS: usize = 4;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let args = ServeArgs {
        db: DbArgs {
            data_dir: Some(dir.path().join("server")),
            ..DbArgs::default()
        },
        listen: Some("127.0.0.1:0".parse()?),
        token_cache_seconds: None,
        ..ServeArgs::default()
    };
    let url = args.db.url()?;
    let app = Application::build(&args).await?;
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let tokens = lectern_graphql::Tokens::new(lectern_projections::ReadDb::connect(&url).await?);
    let admin = lectern_graphql::parse_principal("administrator", None, None, None)?;
    let (_, token) = tokens.create(&admin, None, "kiosk bench").await?;
    let codes = campus(addr, &token).await?;
    let cards: Vec<CardUid> = (0..PEOPLE).map(card).collect::<Result<_>>()?;

    // Tap to screen.
    let kiosk = enrolled(dir.path(), addr, 0, &codes[0]).await?;
    let mut terminal = Terminal::new(TestBackend::new(80, 24))?;
    let mut latencies = Vec::with_capacity(TAPS);
    let started = Instant::now();
    for i in 0..TAPS {
        let read = Instant::now();
        let line = kiosk.tap(cards[i % PEOPLE].clone()).await?;
        let shown = screen::Shown {
            outcome: serde_json::from_value(line["outcome"].clone())?,
            name: line["name"].as_str().map(str::to_owned),
            at: Utc::now(),
        };
        let view = kiosk.view(Some(shown)).await?;
        terminal.draw(|f| screen::render(f, &view))?;
        latencies.push(read.elapsed());
    }
    line("tap-to-screen", TAPS, started.elapsed());
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!(
        "# tap-to-screen: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );

    // The backlog they left, sent to the server.
    let started = Instant::now();
    kiosk.sync()?.drain().await?;
    line("backlog-sync", TAPS, started.elapsed());
    if kiosk.queue.backlog().await? != 0 {
        bail!("taps are left in the queue after a sync");
    }

    // Several kiosks at once.
    let mut kiosks = Vec::new();
    for k in 1..=KIOSKS {
        let kiosk = enrolled(dir.path(), addr, k, &codes[k]).await?;
        for i in 0..TAPS / KIOSKS {
            kiosk.tap(cards[(i * 7 + k) % PEOPLE].clone()).await?;
        }
        kiosks.push(kiosk);
    }
    let started = Instant::now();
    let mut sending = Vec::new();
    for kiosk in &kiosks {
        let sync = kiosk.sync()?;
        sending.push(tokio::spawn(async move { sync.drain().await }));
    }
    for s in sending {
        s.await??;
    }
    line(&format!("ingest-{KIOSKS}-kiosks"), TAPS, started.elapsed());

    let status = graphql(addr, &token, "{ kiosks { id taps missing } }", json!({})).await?;
    let recorded: u64 = status["kiosks"]
        .as_array()
        .context("kiosks")?
        .iter()
        .map(|k| k["taps"].as_u64().unwrap_or_default())
        .sum();
    if recorded != 2 * TAPS as u64 {
        bail!("the log holds {recorded} taps, not {}", 2 * TAPS);
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}

fn line(workload: &str, taps: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "lectern-kiosk sqlite-full {workload} {taps} {secs:.3} {:.0}",
        taps as f64 / secs.max(1e-9)
    );
}

fn card(i: usize) -> Result<CardUid> {
    Ok(CardUid::parse(&format!("04B0{i:010X}"))?)
}

async fn graphql(addr: SocketAddr, token: &str, query: &str, variables: Value) -> Result<Value> {
    let body = serde_json::to_vec(&json!({ "query": query, "variables": variables }))?;
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(&body).await?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await?;
    let (_, body) = buf.split_once("\r\n\r\n").context("an HTTP answer")?;
    let r: Value = serde_json::from_str(body)?;
    if let Some(e) = r.get("errors") {
        bail!("{query}: {e}");
    }
    Ok(r["data"].clone())
}

/// A school of `PEOPLE` teachers with cards, a session at hall-a starting
/// in ten minutes for all of them, and `KIOSKS + 1` kiosks registered
/// there; returns their enrolment codes.
async fn campus(addr: SocketAddr, token: &str) -> Result<Vec<String>> {
    graphql(
        addr,
        token,
        "mutation {
           u: establishUnit(id: \"uni\", name: \"大学\", kind: university) { position }
           s: establishUnit(id: \"cs\", name: \"计算机学院\", kind: school, parent: \"uni\") { position }
         }",
        json!({}),
    )
    .await?;
    for chunk in (0..PEOPLE).collect::<Vec<_>>().chunks(50) {
        let mut doc = String::from("mutation {");
        for &i in chunk {
            doc.push_str(&format!(
                "p{i}: registerPerson(input: {{ staffNo: \"T{i:05}\", name: \"教师{i}\", unit: \"cs\",
                   category: teacher, birthDate: \"1980-01-01\", hireDate: \"2005-09-01\" }}) {{ position }}
                 c{i}: issueCard(staffNo: \"T{i:05}\", uid: \"{}\") {{ position }}",
                card(i)?.as_str()
            ));
        }
        doc.push('}');
        graphql(addr, token, &doc, json!({})).await?;
    }
    let starts = Utc::now() + chrono::Duration::minutes(10);
    graphql(
        addr,
        token,
        "mutation($starts: DateTime!, $ends: DateTime!) {
           scheduleSession(input: { id: \"0195f000-0000-7000-8000-0000000be0c4\",
             kind: centralized_study, title: \"集中学习\", organiser: \"cs\", venue: \"hall-a\",
             audienceUnits: [\"cs\"], startsAt: $starts, endsAt: $ends }) { position }
         }",
        json!({ "starts": starts, "ends": starts + chrono::Duration::minutes(90) }),
    )
    .await?;
    let mut codes = Vec::new();
    for k in 0..=KIOSKS {
        let r = graphql(
            addr,
            token,
            "mutation($id: String!) { registerKiosk(id: $id, venue: \"hall-a\") { code } }",
            json!({ "id": format!("hall-a-{k}") }),
        )
        .await?;
        codes.push(
            r["registerKiosk"]["code"]
                .as_str()
                .context("a code")?
                .to_owned(),
        );
    }
    Ok(codes)
}

/// Kiosk hall-a-`k`, enrolled, with the roster downloaded.
async fn enrolled(dir: &std::path::Path, addr: SocketAddr, k: usize, code: &str) -> Result<Kiosk> {
    let queue = Queue::open(&dir.join(format!("kiosk-{k}/kiosk.db"))).await?;
    let server = Server::parse(&format!("http://{addr}"))?;
    let key = KioskKey::generate()?;
    let kiosk = Slug::parse(&format!("hall-a-{k}"))?;
    let answer: EnrolResponse = server
        .post(
            "enrol",
            &EnrolRequest {
                kiosk: kiosk.clone(),
                code: code.to_owned(),
                public_key: key.public_hex(),
                version: lectern_kiosk::VERSION.to_owned(),
            },
        )
        .await?;
    let id = Identity {
        kiosk,
        venue: answer.venue,
        server: server.url(),
    };
    queue.set_identity(&id, &key).await?;
    let kiosk = Kiosk::open(queue).await?;
    kiosk.sync()?.refresh().await?;
    Ok(kiosk)
}
