//! Argument parsing and dispatch. Each command lives in its own file with an `exec`
//! function that calls the library and formats the result.

/// `println!` that returns the write's error instead of panicking: `main` ends the command
/// quietly on a closed pipe (as ripgrep does) and with exit 2 on any other write error.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod add;
mod audit;
mod bulk;
mod bundle;
mod chain;
mod checkpoint;
mod demo;
mod field;
mod files;
mod init;
mod key;
mod publish;
mod read;
mod recover;
mod sealed;
mod serve;
mod timestamp;
mod util;
mod verify;
mod witness;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A verifiable evidence ledger: sign testimony and media hashes, append them to a
/// hash-chained Merkle tree, and let anyone verify what was recorded, by whom and when.
#[derive(Parser)]
#[command(
    name = "custody",
    version,
    about,
    after_help = "Exit codes: 0 all checks passed, 1 verification found a problem, 2 the command could not run.\n\nStart with `custody demo` to see the whole path from testimony to audit."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate, show and protect keys; authorise, revoke, rotate and list the ledger's keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Create a ledger: record 0 names the origin and the ledger key, which signs checkpoints.
    Init(init::InitArgs),
    /// Sign and append testimony or media records.
    #[command(subcommand)]
    Add(add::AddCommand),
    /// Sign a checkpoint (C2SP signed note) of the ledger's current state with the ledger key.
    Checkpoint(checkpoint::CheckpointArgs),
    /// Hand an exhibit to another key (signed by its current holder).
    Transfer(chain::TransferArgs),
    /// Countersign a hand-over as its receiver.
    Accept(chain::AcceptArgs),
    /// Show an exhibit's chain of custody and versions.
    History(chain::HistoryArgs),
    /// Correct a testimony or media description; the original stays.
    Amend(chain::AmendArgs),
    /// List records.
    Log(read::LogArgs),
    /// Show one record in full.
    Show(read::ShowArgs),
    /// Verify one record, or find and verify the records of a file.
    Verify(verify::VerifyArgs),
    /// Print an inclusion proof (C2SP tlog-proof) or a consistency proof.
    Prove(verify::ProveArgs),
    /// Complete or rebuild the index from the journal after a crash or a damaged database.
    Recover(recover::RecoverArgs),
    /// Check the whole ledger: every record, signature, link, hash, checkpoint and content file.
    Audit(audit::AuditArgs),
    /// Export chosen records as a court bundle (ZIP) that proves them offline.
    Export(bundle::ExportArgs),
    /// Check a court bundle offline.
    VerifyBundle(bundle::VerifyBundleArgs),
    /// Print a shell completion script: custody completions bash > /etc/bash_completion.d/custody
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): custody man | man -l -
    Man,
    /// Append synthetic signed records in bulk (for benchmarks).
    #[command(hide = true)]
    BulkAppend(bulk::BulkArgs),
    /// Measure how many statements per second this machine signs (for benchmarks).
    #[command(hide = true)]
    BenchSign(bulk::BenchSignArgs),
    /// Run a narrated end-to-end demonstration in a new directory.
    Demo(demo::DemoArgs),
    /// Have a time-stamping authority (RFC 3161) attest the latest checkpoint's time.
    Timestamp(timestamp::TimestampArgs),
    /// Run a witness that cosigns other ledgers' consistent checkpoints, or ask one.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Name the content recipients that testimony is sealed to from now on (admin).
    SealTo(sealed::SealToArgs),
    /// Print a sealed (or plain) testimony's text, or restore a sealed media copy.
    Open(sealed::OpenArgs),
    /// Record a change of a testimony's consent, or its withdrawal.
    Consent(sealed::ConsentArgs),
    /// Erase a testimony's texts or a media copy for good; its record and proofs stay (admin).
    Erase(sealed::EraseArgs),
    /// Sign testimony or media statements on a device with no ledger, into a .cst file.
    #[command(subcommand)]
    Sign(field::SignCommand),
    /// Append the statements of .cst files (signed in the field) to the ledger.
    Ingest(field::IngestArgs),
    /// Serve one ledger over HTTP: appends of signed statements, tlog-tiles reads, proofs.
    Serve(serve::ServeArgs),
    /// Send .cst files (signed in the field) to a ledger server.
    Push(field::PushArgs),
    /// Write the ledger's checkpoint and tiles (c2sp.org/tlog-tiles) as static files.
    Publish(publish::PublishArgs),
}

/// Where the ledger is, shared by every command that opens one.
#[derive(Args, Clone)]
pub struct LedgerArgs {
    /// The ledger directory.
    #[arg(long, env = "CUSTODY_LEDGER", value_name = "DIR")]
    pub ledger: PathBuf,
    /// Wait for another custody process to release the ledger instead of failing at once.
    #[arg(long)]
    pub wait: bool,
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // Help and version are output, not errors.
        Err(e) if e.exit_code() == 0 => {
            e.print()?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    match cli.command {
        Command::Key(c) => key::exec(c),
        Command::Init(a) => init::exec(a),
        Command::Add(c) => add::exec(c),
        Command::Checkpoint(a) => checkpoint::exec_checkpoint(a),
        Command::Transfer(a) => chain::exec_transfer(a),
        Command::Accept(a) => chain::exec_accept(a),
        Command::History(a) => chain::exec_history(a),
        Command::Amend(a) => chain::exec_amend(a),
        Command::Log(a) => read::exec_log(a),
        Command::Show(a) => read::exec_show(a),
        Command::Verify(a) => verify::exec_verify(a),
        Command::Prove(a) => verify::exec_prove(a),
        Command::Audit(a) => audit::exec(a),
        Command::Recover(a) => recover::exec_recover(a),
        Command::Export(a) => bundle::exec_export(a),
        Command::VerifyBundle(a) => bundle::exec_verify_bundle(a),
        Command::Demo(a) => demo::exec(a),
        Command::Witness(c) => witness::exec(c),
        Command::Timestamp(a) => timestamp::exec(a),
        Command::SealTo(a) => sealed::exec_seal_to(a),
        Command::Open(a) => sealed::exec_open(a),
        Command::Consent(a) => sealed::exec_consent(a),
        Command::Erase(a) => sealed::exec_erase(a),
        Command::Sign(c) => field::exec_sign(c),
        Command::Ingest(a) => field::exec_ingest(a),
        Command::Serve(a) => serve::exec_serve(a),
        Command::Push(a) => field::exec_push(a),
        Command::Publish(a) => publish::exec_publish(a),
        Command::BulkAppend(a) => bulk::exec_bulk(a),
        Command::BenchSign(a) => bulk::exec_bench_sign(a),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Rendered first, then written, so that a closed pipe is an error, not a panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "custody", &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
