//! The `custody` command: a thin shell over the library. It parses arguments, calls one
//! library function per command, prints the result and maps outcomes to exit codes:
//! 0 all checks passed, 1 verification found a problem, 2 the command could not run.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

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
            eprintln!("error: {err:#}");
            // A check that failed (exit 1) is not a failure to run (exit 2).
            if err.chain().any(|e| {
                matches!(
                    e.downcast_ref::<custody::error::Error>(),
                    Some(custody::error::Error::Failing(_))
                )
            }) {
                return ExitCode::from(1);
            }
            ExitCode::from(2)
        }
    }
}
