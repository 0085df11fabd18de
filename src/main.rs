//! The `custody` command: a thin shell over the library. It parses arguments, calls one
//! library function per command, prints the result and maps outcomes to exit codes:
//! 0 all checks passed, 1 verification found a problem, 2 the command could not run.

#![forbid(unsafe_code)]

mod cli;

/// Writes one JSON object on stdout; a failure to write it has nowhere left to be told.
fn println_json(v: &serde_json::Value) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, v).map(|()| writeln!(out));
}

use std::process::ExitCode;

/// The code of a failed command for scripts: the library's error code, or what the
/// command line or the operating system said.
fn error_code(err: &anyhow::Error) -> &'static str {
    for e in err.chain() {
        if let Some(c) = e.downcast_ref::<custody::error::Error>() {
            return c.code();
        }
        if e.downcast_ref::<clap::Error>().is_some() {
            return "usage";
        }
        if e.downcast_ref::<std::io::Error>().is_some() {
            return "io";
        }
    }
    "input"
}

fn main() -> ExitCode {
    // Every time custody writes or compares is after 1970; a clock before it is refused
    // here, clearly, before anything (sled included) reads it.
    if std::time::SystemTime::now() < std::time::UNIX_EPOCH {
        eprintln!(
            "error: this machine's clock reads a time before 1970; set the clock (for example with NTP) and run the command again"
        );
        return ExitCode::from(2);
    }
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (e.g. `custody log | head`) is not an error worth reporting.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let code = error_code(&err);
            // A check that failed (exit 1) is not a failure to run (exit 2).
            let exit = if code == "failing" { 1 } else { 2 };
            match err.downcast_ref::<clap::Error>() {
                Some(usage) => {
                    let _ = usage.print();
                }
                // An error can quote a file name or a member name: print it escaped.
                None => eprintln!(
                    "error: {}",
                    custody::encoding::terminal_safe(&format!("{err:#}"), true)
                ),
            }
            // With --json, stdout holds one object even when the command could not run.
            if std::env::args_os().any(|a| a == "--json") {
                let v = serde_json::json!({
                    "passed": false,
                    "error": format!("{err:#}"),
                    "code": code,
                    "exit_code": exit,
                });
                println_json(&v);
            }
            ExitCode::from(exit)
        }
    }
}
