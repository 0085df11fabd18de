//! `custody export` and `custody verify-bundle`.

use super::LedgerArgs;
use super::files::hash_files;
use super::util::{
    KeyArgs, check_line, now_ms, open, open_regular, parse_time, print_json, read_policy,
    read_tsa_certs, shown, verdict,
};
use anyhow::{Context, bail};
use clap::Args;
use custody::bundle::{self, ExportRequest, MediaSource, VerifyOptions};
use custody::keys;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
#[command(
    after_help = "Example:\n  custody export --ledger L --key keys/amal.key --out case-12.zip --case 'ICC-01/26' \\\n      --media footage/clip-001.mp4 12 40 41\n\n\
The bundle holds each exhibit's record, its inclusion proof against the latest signed checkpoint,\n\
revealed testimony text, the media files given with --media, the public keys, SHA256SUMS, a\n\
signature over the manifest, report.html and VERIFY.txt. Nothing about any other record is included.\n\
It also carries, for each exhibit, the earliest time-stamped and the earliest witness-cosigned\n\
checkpoint that cover it (kept by `custody timestamp` and `custody checkpoint --witness`), with\n\
the tokens and the authorities' certificates; with --policy, only the policy's witnesses, and\n\
the export is refused (exit 1) unless the bundle's checkpoint has the policy's quorum.\n\
The same ledger state, arguments and --export-time give a byte-identical file."
)]
pub struct ExportArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// The ZIP file to write (refused if it exists).
    #[arg(long, value_name = "FILE.zip")]
    out: PathBuf,
    /// A case name or number for the report.
    #[arg(long, value_name = "NAME")]
    case: Option<String>,
    /// A media file to include (repeatable); each must be the file of an exported media record.
    #[arg(long, value_name = "PATH")]
    media: Vec<PathBuf>,
    /// Export testimony whose consent scope lacks court use; the reason is recorded in the bundle.
    #[arg(long, value_name = "REASON")]
    override_consent: Option<String>,
    /// Export exhibits that fail their own checks (signed after compromise, by an
    /// unauthorised or tainted key, ...) anyway; the reason is recorded and the report shows
    /// those checks first, in red. Without it such an export exits 1 and writes nothing.
    #[arg(long, value_name = "REASON")]
    include_failing: Option<String>,
    /// A witness policy (Sigsum format): refuse (exit 1, writing nothing) unless the
    /// bundle's checkpoint carries the quorum of witness cosignatures it asks for.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The certificate (PEM) of a time-stamping authority the court trusts: only tokens
    /// that lead to one given go into the bundle (repeatable; default: every kept token).
    #[arg(long, value_name = "PEM")]
    tsa_cert: Vec<PathBuf>,
    #[command(flatten)]
    identity: super::util::IdentityArgs,
    /// The language of report.html's labels: en (English) or fr (French). The data (names,
    /// reasons, testimony) is shown as it was signed, never translated.
    #[arg(long, value_name = "LANG", default_value = "en", value_parser = ["en", "fr"])]
    report_lang: String,
    /// Export time to record (RFC 3339 with a zone, e.g. 2026-11-30T09:00:00Z or
    /// 2026-11-30T12:00:00+03:00, or unix milliseconds); default: now, or SOURCE_DATE_EPOCH.
    /// It may not be earlier than the newest record the bundle holds, nor later than now.
    #[arg(long, value_name = "TIME")]
    export_time: Option<String>,
    /// Sequence numbers of the exhibits.
    #[arg(required = true, value_name = "SEQ")]
    seqs: Vec<u64>,
    /// Print a summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(
    after_help = "Checks, offline: every file against SHA256SUMS and the signed manifest, the manifest signature,\n\
the checkpoint signature, every record's signature and fields, every inclusion proof, revealed text\n\
against its commitment, media files, and what attests the checkpoints: witnesses' cosignatures and\n\
time-stamp tokens. Nothing is extracted to disk. A court pins the ledger and exporting keys\n\
(--trust), the authorities (--tsa-cert) and the witnesses (--policy); what is not pinned is said.\n\n\
Exit 0 when every check passes, 1 when any fails, 2 when the file cannot be read safely."
)]
pub struct VerifyBundleArgs {
    /// The bundle.
    bundle: PathBuf,
    /// A public key you trust (SPKI PEM), obtained from its owner, not from the bundle: the
    /// ledger key that signed the bundle's checkpoint and the exporting key must be among
    /// them. Repeatable. Required, unless you pass --no-trust.
    #[arg(long, value_name = "KEY.pub")]
    trust: Vec<PathBuf>,
    /// Check without pinning any key: the bundle is then only shown consistent with the keys
    /// it carries itself, and the last line says so.
    #[arg(long, conflicts_with = "trust")]
    no_trust: bool,
    /// A directory holding media files kept outside the bundle (matched by name or SHA-256).
    #[arg(long, value_name = "DIR")]
    media_dir: Option<PathBuf>,
    /// A witness policy (Sigsum format): fail (exit 1) unless the bundle's checkpoint
    /// carries the quorum of witness cosignatures it asks for.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The certificate (PEM) of a time-stamping authority you trust, obtained from it, not
    /// from the bundle: every time-stamp token in the bundle must lead to one given.
    /// Repeatable. Without it, tokens are checked against the certificates the bundle
    /// carries, and a note before the verdict says they were not pinned.
    #[arg(long, value_name = "PEM")]
    tsa_cert: Vec<PathBuf>,
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

fn export_time(arg: Option<&str>) -> anyhow::Result<u64> {
    if let Some(t) = arg {
        if let Ok(ms) = t.parse::<u64>() {
            return Ok(ms);
        }
        return parse_time(t, "--export-time");
    }
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: u64 = s
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH '{s}' is not a number of seconds"))?;
        return Ok(secs.saturating_mul(1000));
    }
    Ok(now_ms())
}

pub fn exec_export(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.load()?;
    let exported_at_ms = export_time(a.export_time.as_deref())?;
    let policy = a.policy.as_deref().map(read_policy).transpose()?;
    let mut tsa_certs = Vec::new();
    for p in &a.tsa_cert {
        tsa_certs.extend(read_tsa_certs(p)?);
    }
    if a.out.exists() {
        bail!("{} already exists; choose a new file name", a.out.display());
    }
    let dir = match a.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Media files can be large: hashed on all cores under one progress bar, on a terminal.
    let paths: Vec<&Path> = a.media.iter().map(PathBuf::as_path).collect();
    let mut media = Vec::new();
    for (hashed, p) in hash_files(&paths, "hashing media", a.json)
        .into_iter()
        .zip(&a.media)
    {
        let (sha256, size) = hashed?;
        let path = p.clone();
        media.push(MediaSource {
            sha256,
            size,
            label: p.display().to_string(),
            open: Box::new(move || {
                Ok(Box::new(std::fs::File::open(&path)?) as Box<dyn std::io::Read>)
            }),
        });
    }
    let identity = a.identity.load()?;
    let ledger = open(&a.ledger)?;
    if let Some(id) = &identity {
        ledger.check_identity(id)?;
    }
    let tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let manifest = bundle::export(
        &ledger,
        &key,
        ExportRequest {
            seqs: a.seqs.clone(),
            case: a.case.clone(),
            exported_at_ms,
            now_ms: now_ms(),
            override_consent: a.override_consent.clone(),
            include_failing: a.include_failing.clone(),
            media,
            policy,
            tsa_certs,
            identity,
            report_lang: custody::bundle::Lang::from_tag(&a.report_lang).unwrap_or_default(),
        },
        std::io::BufWriter::new(tmp.as_file()),
    )?;
    tmp.as_file()
        .sync_all()
        .context("cannot flush the bundle")?;
    tmp.persist_noclobber(&a.out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {}", a.out.display(), e.error))?;
    if a.json {
        print_json(&serde_json::json!({
            "bundle": a.out,
            "exhibits": manifest.exhibits.iter().map(|e| e.seq).collect::<Vec<_>>(),
            "checkpoint_size": manifest.ledger.checkpoint_size,
            "files": manifest.files.len() + 3,
        }))?;
    } else {
        outln!(
            "wrote {} with {} exhibit(s) ({}), proven against the checkpoint of {} records",
            shown(&a.out),
            manifest.exhibits.len(),
            manifest
                .exhibits
                .iter()
                .map(|e| e.seq.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            manifest.ledger.checkpoint_size
        )?;
        outln!(
            "check it with: custody verify-bundle {} --trust LEDGER.pub --trust EXPORTER.pub",
            shown(&a.out)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn exec_verify_bundle(a: VerifyBundleArgs) -> anyhow::Result<ExitCode> {
    if a.trust.is_empty() && !a.no_trust {
        bail!(
            "give the keys you trust: --trust LEDGER.pub --trust EXPORTER.pub (the ledger key that signed the checkpoint and the exporting key, obtained from their owners, not from the bundle); or pass --no-trust to check the bundle against the keys it carries, unpinned"
        );
    }
    let mut trust = Vec::new();
    for p in &a.trust {
        trust.push(keys::load_public(p)?.to_bytes());
    }
    if let Some(d) = &a.media_dir
        && !d.is_dir()
    {
        bail!("--media-dir {} is not a directory", d.display());
    }
    let policy = a.policy.as_deref().map(read_policy).transpose()?;
    let mut tsa_certs = Vec::new();
    for p in &a.tsa_cert {
        tsa_certs.extend(read_tsa_certs(p)?);
    }
    let f = open_regular(&a.bundle, "bundle (a .zip file)")?;
    let report = bundle::verify_bundle(
        std::io::BufReader::new(f),
        &VerifyOptions {
            trust,
            media_dir: a.media_dir.clone(),
            tsa_certs,
            policy,
        },
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", a.bundle.display()))?;
    let ok = report.passed();
    let count = |f: fn(&custody::bundle::Attestation) -> usize| {
        report
            .manifest
            .as_ref()
            .map_or(0, |m| m.attestations.iter().map(f).sum::<usize>())
    };
    let (tokens, cosignatures) = (
        count(|x| x.timestamps.len()),
        count(|x| x.cosignatures.len()),
    );
    // Whether what attests the checkpoints rests on authorities and witnesses the verifier
    // named, not only on what the bundle carries.
    let tsa_pinned = tokens == 0 || !a.tsa_cert.is_empty();
    let witnesses_pinned = cosignatures == 0 || a.policy.is_some();
    if a.json {
        print_json(&serde_json::json!({
            "passed": ok,
            "exit_code": if ok { 0 } else { 1 },
            "keys_trusted": report.keys_trusted,
            "tsa_pinned": tsa_pinned,
            "witnesses_pinned": witnesses_pinned,
            "checks": report.checks,
        }))?;
        return Ok(verdict(ok));
    }
    // Failing checks first, so that none scrolls out of sight.
    for c in report.checks.iter().filter(|c| !c.passed) {
        outln!("{}", check_line(c))?;
    }
    for c in report.checks.iter().filter(|c| c.passed) {
        outln!("{}", check_line(c))?;
    }
    let checked = report
        .manifest
        .as_ref()
        .is_some_and(bundle::attestations_admitted);
    let how = |what: &str| {
        if checked {
            format!("were checked against the {what} the bundle carries, which anyone can make")
        } else {
            "were not checked at all (the manifest's attestations break its rules)".to_owned()
        }
    };
    if !tsa_pinned {
        outln!(
            "NOTE: the time-stamp authorities were not pinned: {tokens} token(s) {}; pass --tsa-cert AUTHORITY.pem, obtained from the authority",
            how("certificates")
        )?;
    }
    if !witnesses_pinned {
        outln!(
            "NOTE: the witnesses were not pinned: {cosignatures} cosignature(s) {}; pass --policy WITNESSES.policy, with the keys the witnesses publish",
            how("keys")
        )?;
    }
    if ok {
        outln!("OK: every check passed.")?;
    } else {
        let n = report.checks.iter().filter(|c| !c.passed).count();
        outln!("PROBLEM: {n} check(s) failed (see above).")?;
    }
    if !report.keys_trusted {
        outln!(
            "NOTE: the keys were not pinned (--no-trust): this shows the bundle consistent with the keys it carries, not that they are the ledger's; pass --trust LEDGER.pub --trust EXPORTER.pub"
        )?;
    }
    Ok(verdict(ok))
}
