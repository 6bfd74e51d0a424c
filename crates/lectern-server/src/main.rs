//! The `lectern` command: see `lectern --help`.

fn main() -> std::process::ExitCode {
    // `lectern replay … | head`: when the reader of our output goes away,
    // stop quietly (as a shell tool does on SIGPIPE) instead of reporting
    // a failed print as a crash.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload_as_str().is_some_and(|m| {
            m.starts_with("failed printing to stdout") && m.contains("Broken pipe")
        }) {
            std::process::exit(141);
        }
        report(info)
    }));
    lectern_server::cli::main()
}
