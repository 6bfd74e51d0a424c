//! The `lectern-kiosk` command: see `lectern-kiosk --help`.

fn main() -> std::process::ExitCode {
    lectern_kiosk::cli::main()
}
