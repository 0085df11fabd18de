//! The `custody` command: a thin shell over the library. It parses arguments, calls one
//! library function per command, prints the result and maps outcomes to exit codes:
//! 0 all checks passed, 1 verification found a problem, 2 the command could not run.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
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
            ExitCode::from(2)
        }
    }
}
