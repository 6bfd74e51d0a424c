//! `lectern` as the end-to-end suites run it.

fn main() -> std::process::ExitCode {
    lectern_server::cli::main()
}
