//! `custody sign` (a field device with no ledger signs statements into a `.cst` file) and
//! `custody ingest` (headquarters appends them).

use super::LedgerArgs;
use super::add::{MediaFields, TestimonyFields};
use super::util::{
    IdentityArgs, KeyArgs, now_ms, open_regular, open_write, print_json, read_bounded, shown,
};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use custody::field::{self, FieldItem};
use custody::ledger::{Checked, Ingested};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const SIGN_NOTE: &str = "The statements are signed now, on this device, with the signer's clock; the .cst file holds them\nand, for testimony, the text sealed to headquarters' content recipients (never the plaintext).\nCarry it to headquarters, which appends it with `custody ingest --ledger L FILE.cst`\n(or send it to a ledger server with `custody push --server URL FILE.cst`).";

#[derive(Subcommand)]
pub enum SignCommand {
    /// Sign a testimony into a .cst file, its text sealed to headquarters' recipients.
    #[command(after_help = format!("The text comes from --text-file or standard input and must be UTF-8.\nA device is configured with headquarters' recipients once: CUSTODY_SEAL_TO=/path/hq.recipient\n\n{SIGN_NOTE}"))]
    Testimony(SignTestimonyArgs),
    /// Sign one media statement per file into a .cst file (the files travel apart).
    #[command(after_help = format!("Files are hashed with SHA-256 (the digest `sha256sum` prints); only the hashes are signed.\n\n{SIGN_NOTE}"))]
    Media(SignMediaArgs),
}

/// Where the signed statements go.
#[derive(Args)]
pub struct OutArgs {
    /// The .cst file to write (it must not exist, unless --append).
    #[arg(long, value_name = "FILE.cst")]
    out: PathBuf,
    /// Add the statements to an existing .cst file instead of refusing it.
    #[arg(long)]
    append: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct SignTestimonyArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Headquarters' content recipients: age1… keys or NAME.recipient files (repeatable,
    /// or comma-separated in CUSTODY_SEAL_TO).
    #[arg(
        long = "seal-to",
        value_name = "RECIPIENT",
        env = "CUSTODY_SEAL_TO",
        value_delimiter = ',',
        required = true
    )]
    seal_to: Vec<String>,
    #[command(flatten)]
    fields: TestimonyFields,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Args)]
pub struct SignMediaArgs {
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    fields: MediaFields,
    #[command(flatten)]
    out: OutArgs,
}

#[derive(Serialize)]
struct Signed {
    kind: &'static str,
    /// SHA-256 of the statement bytes.
    statement_sha256: String,
    claimed_at_ms: u64,
}

#[derive(Serialize)]
struct SignOutput {
    file: String,
    signed: Vec<Signed>,
    statements_in_file: usize,
}

pub fn exec_sign(c: SignCommand) -> anyhow::Result<ExitCode> {
    match c {
        SignCommand::Testimony(a) => {
            let recipients = super::util::read_recipients(&a.seal_to)?;
            custody::seal::check_recipients(&recipients)?;
            let recipients = recipients
                .iter()
                .map(custody::seal::recipient_of)
                .collect::<custody::error::Result<Vec<_>>>()?;
            let existing = read_existing(&a.out)?;
            let key = a.key.load()?;
            let input = a.fields.input()?;
            let item = field::sign_testimony(&key, input, &recipients, now_ms())?;
            write_out(&a.out, existing, vec![item])
        }
        SignCommand::Media(a) => {
            let existing = read_existing(&a.out)?;
            let key = a.key.load()?;
            let files = a.fields.files()?;
            let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            let inputs = a.fields.inputs(&paths, a.out.json)?;
            let now = now_ms();
            let items = inputs
                .into_iter()
                .map(|i| field::sign_media(&key, i, now))
                .collect::<custody::error::Result<Vec<_>>>()?;
            write_out(&a.out, existing, items)
        }
    }
}

/// The statements already in `--out` (with --append), or a refusal to overwrite it; checked
/// before anything is signed.
fn read_existing(out: &OutArgs) -> anyhow::Result<Vec<FieldItem>> {
    let exists = out.out.symlink_metadata().is_ok();
    match (exists, out.append) {
        (false, _) => Ok(Vec::new()),
        (true, false) => bail!(
            "{} already exists; choose a new file name, or pass --append to add to it",
            shown(&out.out)
        ),
        (true, true) => read_cst(&out.out),
    }
}

/// Reads and decodes a `.cst` file.
fn read_cst(path: &Path) -> anyhow::Result<Vec<FieldItem>> {
    let limit = (field::MAX_SEALED as u64) * 2 + (64 << 20);
    let bytes = read_bounded(open_regular(path, "signed statements file")?, limit, "file")
        .with_context(|| shown(path))?;
    field::decode(&bytes).with_context(|| shown(path))
}

/// Writes `existing` and `new` to `--out`: a new file (0600), or, with --append, a complete
/// new version put in place by a rename, so that a crash leaves the old file or the new.
fn write_out(
    out: &OutArgs,
    existing: Vec<FieldItem>,
    new: Vec<FieldItem>,
) -> anyhow::Result<ExitCode> {
    use sha2::Digest;
    let signed: Vec<Signed> = new
        .iter()
        .map(|i| Signed {
            kind: i.kind(),
            statement_sha256: hex::encode(sha2::Sha256::digest(&i.signed.bytes)),
            claimed_at_ms: i.signed.statement.claimed_at_ms,
        })
        .collect();
    let appending = !existing.is_empty();
    let mut all = existing;
    all.extend(new);
    if all.len() as u64 > field::MAX_ITEMS {
        bail!(
            "a .cst file holds at most {} statements; start a new file",
            field::MAX_ITEMS
        );
    }
    let bytes = field::encode(&all);
    if appending {
        let dir = match out.out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot write beside {}", shown(&out.out)))?;
        use std::io::Write as _;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&out.out)
            .map_err(|e| anyhow::anyhow!("{}: {}", shown(&out.out), e.error))?;
    } else {
        custody::keys::write_new_file(&out.out, &bytes, 0o600).with_context(|| shown(&out.out))?;
    }
    if out.json {
        print_json(&SignOutput {
            file: out.out.display().to_string(),
            signed,
            statements_in_file: all.len(),
        })?;
    } else {
        for s in &signed {
            outln!("signed {} statement {}", s.kind, s.statement_sha256)?;
        }
        eprintln!(
            "{} now holds {} signed statement(s); headquarters appends them with `custody ingest --ledger L {}`",
            shown(&out.out),
            all.len(),
            shown(&out.out)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
#[command(
    after_help = "Each statement is checked as if it were appended on the spot: its signature, its signer's authority\nnow (a key revoked since it signed is refused), and every rule of the ledger. Each text must be\nsealed as its statement commits to; with --identity it is opened and checked against the commitment.\nA statement already in the ledger is not appended again. The signer's claimed time and the ledger's\nrecorded time are both kept, side by side.\n\nExit status: 0 when every statement was appended or was already there, 1 when a statement was\nrefused (the others are appended), 2 when a file cannot be read (nothing of it is appended)."
)]
pub struct IngestArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    identity: IdentityArgs,
    /// .cst files made by `custody sign`.
    #[arg(required = true, value_name = "FILE.cst")]
    files: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct IngestLine {
    file: String,
    /// 1-based position of the statement in its file.
    statement: usize,
    #[serde(flatten)]
    outcome: Ingested,
    /// `push --wait-proof`: the size of the checkpoint whose inclusion proof was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    included_in: Option<u64>,
    /// `push --wait-proof`: why the statement's inclusion could not be proven.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_proven: Option<String>,
}

#[derive(Serialize)]
struct IngestOutput {
    statements: Vec<IngestLine>,
    unreadable: Vec<Unreadable>,
    appended: usize,
    already: usize,
    refused: usize,
    /// Statements whose inclusion `push --wait-proof` could not prove.
    not_proven: usize,
}

/// A file none of whose statements could be judged: unreadable, or refused whole.
#[derive(Serialize)]
struct Unreadable {
    file: String,
    error: String,
}

pub fn exec_ingest(a: IngestArgs) -> anyhow::Result<ExitCode> {
    let identity = a.identity.load()?;
    let mut items = Vec::new();
    let mut origin = Vec::new();
    let mut unreadable = Vec::new();
    for f in &a.files {
        match read_cst(f) {
            Ok(got) => {
                origin.extend((1..=got.len()).map(|i| (f.display().to_string(), i)));
                items.extend(got);
            }
            Err(e) => unreadable.push(Unreadable {
                file: f.display().to_string(),
                error: format!("{e:#}"),
            }),
        }
    }
    let outcomes = if items.is_empty() {
        Vec::new()
    } else {
        let mut ledger = open_write(&a.ledger)?;
        // In a sealing ledger the identity must be one of its recipients; a ledger that keeps
        // texts in plain needs it only to open what the field sealed.
        if let Some(id) = &identity
            && !ledger.authority().seal_to_history().is_empty()
        {
            ledger.check_identity(id)?;
        }
        let out = ledger.ingest(Checked::new(items), identity.as_ref(), now_ms(), false)?;
        ledger.close()?;
        out
    };
    let lines: Vec<IngestLine> = origin
        .into_iter()
        .zip(outcomes)
        .map(|((file, statement), outcome)| IngestLine {
            file,
            statement,
            outcome,
            included_in: None,
            not_proven: None,
        })
        .collect();
    report(
        lines,
        unreadable,
        a.json,
        "not yet covered by a signed checkpoint; the ledger key holder runs `custody checkpoint`",
    )
}

/// Says what became of each statement (and of each file that could not be judged), and
/// gives the exit status: 2 when a file could not be, else 1 when a statement was refused.
fn report(
    lines: Vec<IngestLine>,
    unreadable: Vec<Unreadable>,
    json: bool,
    after: &str,
) -> anyhow::Result<ExitCode> {
    let count = |f: fn(&Ingested) -> bool| lines.iter().filter(|l| f(&l.outcome)).count();
    let appended = count(|o| matches!(o, Ingested::Appended { .. }));
    let already = count(|o| matches!(o, Ingested::Already { .. }));
    let refused = count(Ingested::refused);
    let not_proven = lines.iter().filter(|l| l.not_proven.is_some()).count();
    let bad_files = !unreadable.is_empty();
    if json {
        print_json(&IngestOutput {
            statements: lines,
            unreadable,
            appended,
            already,
            refused,
            not_proven,
        })?;
    } else {
        for l in &lines {
            let at = format!("{} #{}", l.file, l.statement);
            match &l.outcome {
                Ingested::Appended {
                    seq,
                    kind,
                    leaf_hash,
                    claimed_at_ms,
                    recorded_at_ms,
                } => outln!(
                    "{at}: appended record {seq} ({kind}) leaf {leaf_hash}; signed {}, recorded {}",
                    custody::record::rfc3339(*claimed_at_ms),
                    custody::record::rfc3339(*recorded_at_ms)
                )?,
                Ingested::Already { seq, kind } => outln!(
                    "{at}: already in the ledger as record {seq} ({kind}); nothing appended"
                )?,
                Ingested::Refused { kind, reason, .. } => outln!(
                    "{at}: REFUSED ({kind}): {}",
                    custody::encoding::terminal_safe(reason, false)
                )?,
            }
            if let Some(size) = l.included_in {
                outln!("  included in the checkpoint of {size} records (inclusion proof checked)")?;
            }
            if let Some(why) = &l.not_proven {
                outln!(
                    "  NOT PROVEN: {}",
                    custody::encoding::terminal_safe(why, false)
                )?;
            }
        }
        for u in &unreadable {
            outln!(
                "{}: NOT TAKEN: {}",
                u.file,
                custody::encoding::terminal_safe(&u.error, false)
            )?;
        }
        eprintln!(
            "{appended} appended, {already} already in the ledger, {refused} refused{}{}",
            if not_proven > 0 {
                format!(", {not_proven} not proven")
            } else {
                String::new()
            },
            if unreadable.is_empty() {
                String::new()
            } else {
                format!(", {} file(s) not taken", unreadable.len())
            }
        );
        if appended > 0 {
            eprintln!("note: {after}");
        }
    }
    Ok(if bad_files {
        ExitCode::from(2)
    } else if refused > 0 || not_proven > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Args)]
#[command(
    after_help = "Each file is checked here first (a file that is not a .cst file is not sent), then sent whole to\nthe server's POST /add; the server judges each statement as `custody ingest` does and answers only\nonce the appended ones are durable. Sending a file again appends nothing new.\n\nWith --wait-proof and the ledger's key (--ledger-key), push then waits for the server's next\ncheckpoint and checks, for each statement, that the record at its number holds exactly the statement\nand signature sent and is in a checkpoint signed by that key (--proofs DIR keeps the proofs as receipts).\n\nExit status: 0 when every statement was appended or was already there (and proven, with\n--wait-proof), 1 when the server refused a statement or one could not be proven, 2 when a file\ncould not be read, sent or taken."
)]
pub struct PushArgs {
    /// The ledger server's URL (`custody serve`), e.g. http://127.0.0.1:8080 or an https://
    /// address behind a reverse proxy.
    #[arg(long, value_name = "URL")]
    server: String,
    /// .cst files made by `custody sign`.
    #[arg(required = true, value_name = "FILE.cst")]
    files: Vec<PathBuf>,
    /// How long to wait for the server's answer to each file.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = humantime::parse_duration)]
    timeout: std::time::Duration,
    /// Then wait up to this long for a checkpoint to cover each statement appended (or already
    /// there), and check its inclusion proof: the record at its number holds exactly the
    /// statement and signature sent, and its leaf is in a checkpoint signed by --ledger-key.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, requires = "ledger_key")]
    wait_proof: Option<std::time::Duration>,
    /// The ledger's checkpoint verifier key, NAME+KEYID+BASE64 with the ledger's origin as
    /// name: `custody key show LEDGER.pub --name ORIGIN` prints it at headquarters.
    #[arg(long, value_name = "VKEY", requires = "wait_proof")]
    ledger_key: Option<String>,
    /// Keep each checked proof (C2SP tlog-proof, with its signed checkpoint) as
    /// DIR/SEQ.tlog-proof: the device's receipt that the ledger holds the statement.
    #[arg(long, value_name = "DIR", requires = "wait_proof")]
    proofs: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The ledger's checkpoint key, pinned by the device.
struct Pinned {
    origin: String,
    key: [u8; 32],
}

/// Waits until `GET /proof/SEQ` answers, then checks that record `seq` holds exactly
/// `statement`, with its signature, and that its leaf is in a checkpoint signed by the pinned key; gives the
/// proof text and the checkpoint's size.
fn proven(
    base: &str,
    seq: u64,
    statement: &custody::ledger::SignedStatement,
    pin: &Pinned,
    deadline: std::time::Instant,
) -> Result<(String, u64), String> {
    use custody::proof::InclusionProofText;
    use std::time::{Duration, Instant};
    let get = |path: String| {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        custody::http::get(&format!("{base}{path}"), wait, 1 << 20).map_err(|e| e.to_string())
    };
    let text = loop {
        let ans = get(format!("/proof/{seq}"))?;
        if ans.status == 200 {
            break String::from_utf8(ans.body)
                .map_err(|_| "the server's proof is not text".to_string())?;
        }
        let why = String::from_utf8_lossy(&ans.body[..ans.body.len().min(500)])
            .trim()
            .to_owned();
        if ans.status != 404 || Instant::now() >= deadline {
            return Err(format!(
                "no proof of record {seq} (the server answered {}: {why})",
                ans.status
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let ans = get(format!("/record/{seq}"))?;
    #[derive(serde::Deserialize)]
    struct RecordJson {
        record_bytes: String,
    }
    let record = (ans.status == 200)
        .then(|| serde_json::from_slice::<RecordJson>(&ans.body).ok())
        .flatten()
        .and_then(|r| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(r.record_bytes)
                .ok()
        })
        .ok_or_else(|| format!("the server did not give record {seq}'s bytes"))?;
    let rec = custody::record::Record::decode(&record)
        .map_err(|e| format!("record {seq} from the server: {e}"))?;
    if rec.seq != seq
        || rec.statement_bytes != statement.bytes
        || rec.signature != statement.signature
    {
        return Err(format!(
            "record {seq} on the server does not hold the statement sent with its signature: the ledger did not keep it as acknowledged"
        ));
    }
    let proof = InclusionProofText::parse(&text).map_err(|e| e.to_string())?;
    let cp = custody::checkpoint::open_checkpoint(&proof.checkpoint, &pin.origin, &pin.key)
        .map_err(|e| {
            format!("the proof's checkpoint is not the pinned ledger key's ({e}); is --ledger-key this ledger's, or was the ledger key rotated?")
        })?;
    custody::merkle::verify_inclusion_proof(
        &custody::record::leaf_hash(&record),
        seq,
        cp.size,
        &proof.hashes,
        &cp.root,
    )
    .map_err(|e| format!("record {seq}'s inclusion proof does not hold: {e}"))?;
    if proof.index != seq {
        return Err(format!(
            "the proof of record {seq} is for record {}",
            proof.index
        ));
    }
    Ok((text, cp.size))
}

#[derive(serde::Deserialize)]
struct AddAnswer {
    results: Vec<Ingested>,
}

pub fn exec_push(a: PushArgs) -> anyhow::Result<ExitCode> {
    let base = a.server.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("--server is a URL: http://HOST:PORT or https://HOST");
    }
    let url = format!("{base}/add");
    let pin = match &a.ledger_key {
        Some(vkey) => {
            let (origin, _, key) = custody::note::parse_verifier_key(vkey.trim()).map_err(|e| {
                anyhow::anyhow!("--ledger-key: {e}; give NAME+KEYID+BASE64 as `custody key show LEDGER.pub --name ORIGIN` prints it")
            })?;
            Some(Pinned { origin, key })
        }
        None => None,
    };
    if let Some(dir) = &a.proofs {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--proofs: cannot create {}", dir.display()))?;
    }
    let mut lines = Vec::new();
    // The statements sent, line by line.
    let mut sent: Vec<custody::ledger::SignedStatement> = Vec::new();
    let mut failed = Vec::new();
    for f in &a.files {
        let file = f.display().to_string();
        let items = match read_cst(f) {
            Ok(i) => i,
            Err(e) => {
                failed.push(Unreadable {
                    file,
                    error: format!("{e:#}"),
                });
                continue;
            }
        };
        let body = field::encode(&items);
        let answer = custody::http::post(&url, field::MEDIA_TYPE, &body, a.timeout, 16 << 20);
        match answer {
            Ok(ans) if ans.status == 200 || ans.status == 422 => {
                match serde_json::from_slice::<AddAnswer>(&ans.body) {
                    Ok(r) if r.results.len() == items.len() => {
                        lines.extend(r.results.into_iter().enumerate().map(|(i, outcome)| {
                            sent.push(items[i].signed.clone());
                            IngestLine {
                                file: file.clone(),
                                statement: i + 1,
                                outcome,
                                included_in: None,
                                not_proven: None,
                            }
                        }));
                    }
                    _ => failed.push(Unreadable {
                        file,
                        error: format!(
                            "the server answered {} but not with one outcome per statement; is {base} a custody server?",
                            ans.status
                        ),
                    }),
                }
            }
            Ok(ans) => failed.push(Unreadable {
                file,
                error: format!(
                    "the server answered {}: {}",
                    ans.status,
                    String::from_utf8_lossy(&ans.body[..ans.body.len().min(2000)]).trim()
                ),
            }),
            Err(e) => failed.push(Unreadable {
                file,
                error: format!("{e}; nothing of it is known to be appended: send it again (a statement already there is not appended twice)"),
            }),
        }
    }
    if let (Some(wait), Some(pin)) = (a.wait_proof, &pin) {
        let deadline = std::time::Instant::now() + wait;
        for (line, statement) in lines.iter_mut().zip(&sent) {
            let seq = match line.outcome {
                Ingested::Appended { seq, .. } | Ingested::Already { seq, .. } => seq,
                Ingested::Refused { .. } => continue,
            };
            let saved = proven(base, seq, statement, pin, deadline).and_then(|(text, size)| {
                if let Some(dir) = &a.proofs {
                    let path = dir.join(format!("{seq}.tlog-proof"));
                    std::fs::write(&path, text)
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                }
                Ok(size)
            });
            match saved {
                Ok(size) => line.included_in = Some(size),
                Err(why) => line.not_proven = Some(why),
            }
        }
    }
    report(
        lines,
        failed,
        a.json,
        if a.wait_proof.is_some() {
            "each statement's inclusion proof was checked against the pinned ledger key"
        } else {
            "the server covers them by its next scheduled checkpoint; their proofs are then at /proof/SEQ (`--wait-proof` waits for them and checks them)"
        },
    )
}
