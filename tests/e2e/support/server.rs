//! A Lectern server for a test: the real application in this process
//! (`TestApp`), or `lectern serve` in a process of its own
//! (`ServerProcess`) for drills that kill it.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use lectern_domain::Clock;
use lectern_server::app::Application;
use lectern_server::config::{DbArgs, ServeArgs};

use super::LECTERN;

/// The real app on port 0, stopped gracefully by `stop`.
pub struct TestApp {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// The app over `url`, on the system clock.
    pub async fn start(url: &str) -> TestApp {
        TestApp::start_at(url, Clock::system()).await
    }

    /// As `start`, with the server's decisions taken on `clock`.
    pub async fn start_at(url: &str, clock: Clock) -> TestApp {
        TestApp::start_with_clock(&TestApp::args(url), clock).await
    }

    /// The settings `start` uses: `url`, port 0, and tokens looked up on
    /// every request (a revocation by the CLI shows at once).
    pub fn args(url: &str) -> ServeArgs {
        ServeArgs {
            db: DbArgs {
                database_url: Some(url.to_owned()),
                ..DbArgs::default()
            },
            listen: Some("127.0.0.1:0".parse().unwrap()),
            token_cache_seconds: Some(0),
            ..ServeArgs::default()
        }
    }

    /// The real app with these settings.
    pub async fn start_with(args: &ServeArgs) -> TestApp {
        TestApp::start_with_clock(args, Clock::system()).await
    }

    async fn start_with_clock(args: &ServeArgs, clock: Clock) -> TestApp {
        let app = Application::build_with_clock(args, clock)
            .await
            .expect("build");
        let addr = app.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestApp { addr, stop, task }
    }

    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// `lectern serve` in a process of its own, killed (SIGKILL) when dropped
/// or by `kill`: a failing test leaves none behind.
pub struct ServerProcess(Child);

impl ServerProcess {
    /// Starts `lectern serve` on `url` at `addr`; returns once it says it
    /// is serving.
    pub async fn start(url: &str, addr: SocketAddr) -> ServerProcess {
        let mut child = Command::new(LECTERN)
            .args([
                "serve",
                "--database-url",
                url,
                "--listen",
                &addr.to_string(),
            ])
            .env_remove("LECTERN_DATABASE_URL")
            .env("LECTERN_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lectern serve");
        let stderr = child.stderr.take().unwrap();
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut lines = std::io::BufReader::new(stderr).lines();
            for line in lines.by_ref() {
                let line = line.expect("lectern serve's stderr");
                if line.contains("is serving on") {
                    // Keep the pipe drained while the server runs.
                    std::thread::spawn(move || lines.for_each(drop));
                    return;
                }
            }
            panic!("lectern serve ended before it served");
        })
        .await
        .unwrap();
        ServerProcess(child)
    }

    /// kill -9, and reap it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback address nobody listens on (for a server process to take).
pub fn free_port() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}
