//! The `lectern` and `lectern-kiosk` programs, run as an operator would.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `lectern` (built from the server crate's code by this package).
pub const LECTERN: &str = env!("CARGO_BIN_EXE_lectern-under-test");
/// `lectern-kiosk` (built from the kiosk crate's code by this package).
pub const KIOSK: &str = env!("CARGO_BIN_EXE_lectern-kiosk-under-test");

/// Runs `lectern args…` to the end: exit code, stdout, stderr.
pub fn lectern(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(LECTERN)
        .args(args)
        .env_remove("LECTERN_DATABASE_URL")
        .output()
        .expect("run lectern");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the CLI off the runtime's threads.
pub async fn cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        lectern(&args)
    })
    .await
    .unwrap()
}

/// Runs the kiosk binary on the state in `data`, off the runtime's threads.
pub async fn kiosk(data: &Path, args: &[&str]) -> (i32, String, String) {
    kiosk_with_input(data, args, "").await
}

/// Runs the kiosk binary with `input` on its stdin.
pub async fn kiosk_with_input(data: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    let mut all = vec!["--data-dir".to_owned(), data.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new(KIOSK)
            .args(&all)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lectern-kiosk");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// The kiosk binary started on `data` and left running (its stdout piped,
/// its log quiet): for drills that kill it.
pub fn kiosk_child(data: &Path, args: &[&str]) -> Child {
    Command::new(KIOSK)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("LECTERN_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start lectern-kiosk")
}
