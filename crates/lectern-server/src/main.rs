//! The `lectern` command: see `lectern --help`.

fn main() -> std::process::ExitCode {
    lectern_server::cli::main()
}
