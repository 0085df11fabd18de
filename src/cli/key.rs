//! `custody key ...`: generate, show, protect, authorise, revoke, rotate and list keys.

use super::LedgerArgs;
use super::util::{
    KeyArgs, now_ms, open, open_write, parse_time, print_appended, print_json, read_passphrase,
    resolve_key, shown,
};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use custody::record::{Body, Effective, RevokeReason, Role};
use custody::{keys, note};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Write a new key pair: DIR/NAME.key (PKCS#8 PEM, mode 0600) and DIR/NAME.pub (SPKI PEM).
    #[command(
        after_help = "The secret key never leaves DIR/NAME.key. Keep it off shared drives and never commit it.\n\
With --passphrase-file or --protect the secret key is encrypted (PKCS#8 PBES2, scrypt, AES-256);\n\
OpenSSL opens it with `openssl pkey -in DIR/NAME.key -passin file:PASSFILE`."
    )]
    Generate(GenerateArgs),
    /// Make a content recipient: the age identity that opens sealed testimony (kept at
    /// headquarters) and its public `age1…` recipient (given to field ledgers).
    #[command(
        after_help = "Writes DIR/NAME.identity (mode 0600): an age X25519 identity, or with --protect or\n\
--passphrase-file that identity encrypted with the passphrase as `age -p` does; and\n\
DIR/NAME.recipient: its age1... recipient. Any age implementation opens what is sealed to it:\n\
  age -d -i hq.identity FILE.age      (rage, age, pyrage)\n\
Keep the identity away from field devices: it opens every testimony sealed to its recipient."
    )]
    GenerateRecipient(GenerateRecipientArgs),
    /// Print a key's ID and fingerprint (from a .pub or a .key file).
    Show(ShowArgs),
    /// Change (or set) the passphrase of a secret key file.
    Passwd(PasswdArgs),
    /// Authorise a public key in the ledger for a role (signed by an admin key).
    #[command(
        after_help = "Roles: admin (authorises and revokes keys, may record evidence), investigator (records\n\
testimony and media), custodian (holds exhibits handed over), auditor (records no evidence; may receive and hand over exhibits).\n\
The genesis key is the first admin. Appends by keys the ledger never authorised are refused."
    )]
    Authorize(AuthorizeArgs),
    /// Revoke a key (signed by an admin key).
    #[command(
        after_help = "--reason retired: the key's earlier records stay valid; it can sign nothing more.\n\
--reason compromised: also flags as 'signed after compromise' every record it signed from\n\
--effective SEQ (a record number) or --effective TIME (RFC 3339) on; the default is now."
    )]
    Revoke(RevokeArgs),
    /// Authorise a new key and retire the old one, in one signed batch; or, when the old
    /// key is the ledger key, name the new key to sign checkpoints from here on.
    #[command(
        after_help = "Rotating the ledger key (the key that signs checkpoints) appends a ledger-key record signed by\n\
an admin; checkpoints of later sizes are then signed by the new key, and the old key is refused:\n\
  custody key rotate --ledger L --key keys/admin.key --old LEDGER_KEY_ID --new keys/ledger-2026.pub\n\
  custody checkpoint --ledger L --key keys/ledger-2026.key\n\
If the old ledger key was stolen, revoke it afterwards: custody key revoke ... --reason compromised --effective SEQ.\n\
Courts then pin the new key (verify-bundle --trust): bundles carry the chain of ledger keys from the genesis."
    )]
    Rotate(RotateArgs),
    /// List the ledger's keys: name, role, key ID, fingerprint, status and validity range.
    List(ListArgs),
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Name of the key (file names and the key's signed-note name). Letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// Directory to write the key files into (created if missing).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Protect the secret key with the passphrase on the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "protect")]
    pub passphrase_file: Option<PathBuf>,
    /// Protect the secret key with a passphrase typed (twice, without echo) on the terminal.
    #[arg(long)]
    pub protect: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct GenerateRecipientArgs {
    /// Name of the recipient (file names). Letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// Directory to write the files into (created if missing).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Protect the identity with the passphrase on the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "protect")]
    pub passphrase_file: Option<PathBuf>,
    /// Protect the identity with a passphrase typed (twice, without echo) on the terminal.
    #[arg(long)]
    pub protect: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    /// The key file.
    pub file: PathBuf,
    /// The key's signed-note name (defaults to the file name without extension).
    #[arg(long)]
    pub name: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct PasswdArgs {
    /// The secret key file.
    pub file: PathBuf,
    /// The current passphrase (first line of FILE); asked on the terminal when absent.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// The new passphrase (first line of FILE); asked twice on the terminal when absent.
    #[arg(long, value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct AuthorizeArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub admin: KeyArgs,
    /// The public key file (SPKI PEM) to authorise.
    pub pubfile: PathBuf,
    /// The holder's name, as it will appear in histories and bundles.
    #[arg(long)]
    pub name: String,
    /// admin, investigator, custodian or auditor.
    #[arg(long, value_parser = ["admin", "investigator", "custodian", "auditor"])]
    pub role: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub admin: KeyArgs,
    /// The key: its ID (8 hex digits), fingerprint, or public key file.
    pub key_id: String,
    /// retired or compromised.
    #[arg(long, value_parser = ["retired", "compromised"])]
    pub reason: String,
    /// From which record number or time the key is compromised.
    #[arg(long, value_name = "SEQ_OR_TIME")]
    pub effective: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(flatten)]
    pub admin: KeyArgs,
    /// The old key: its ID, fingerprint, or public key file.
    #[arg(long, value_name = "KEYID")]
    pub old: String,
    /// The new public key file.
    #[arg(long, value_name = "PUBFILE")]
    pub new: PathBuf,
    /// The new key's holder name (default: the old key's).
    #[arg(long)]
    pub name: Option<String>,
    /// The new key's role (default: the old key's).
    #[arg(long, value_parser = ["admin", "investigator", "custodian", "auditor"])]
    pub role: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Print the keys as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct KeyInfo {
    name: String,
    key_id: String,
    fingerprint: String,
    public_key: String,
    note_verifier_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protected: Option<bool>,
}

fn info(name: &str, public: &[u8; 32]) -> KeyInfo {
    use base64::Engine;
    KeyInfo {
        name: name.to_owned(),
        key_id: keys::short_id(public),
        fingerprint: keys::fingerprint_string(public),
        public_key: base64::engine::general_purpose::STANDARD.encode(public),
        note_verifier_key: note::verifier_key(name, public),
        secret_key_file: None,
        public_key_file: None,
        protected: None,
    }
}

fn print_info(i: &KeyInfo) -> std::io::Result<()> {
    outln!("name:         {}", i.name)?;
    outln!("key ID:       {}", i.key_id)?;
    outln!("fingerprint:  {}", i.fingerprint)?;
    outln!("verifier key: {}", i.note_verifier_key)?;
    outln!(
        "              (a signed-note key under the name {}; a ledger's checkpoints are signed under its origin: `custody key show FILE --name ORIGIN` prints the key that verifies them)",
        i.name
    )?;
    Ok(())
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        || name.starts_with('.')
    {
        bail!(
            "key name '{name}' is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"
        );
    }
    Ok(())
}

fn new_passphrase(file: Option<&Path>, key: &Path) -> anyhow::Result<zeroize::Zeroizing<Vec<u8>>> {
    use std::io::IsTerminal;
    if file.is_none() && !std::io::stdin().is_terminal() {
        bail!(
            "--protect asks for the new passphrase on a terminal, and there is none here; give it with --passphrase-file FILE (first line, a file only you can read); nothing was written"
        );
    }
    let first = read_passphrase(file, "New passphrase: ", key)?;
    if file.is_none() {
        let again = read_passphrase(None, "Repeat the passphrase: ", key)?;
        if *again != *first {
            bail!("the two passphrases differ; nothing was written");
        }
    }
    if first.len() < 8 {
        bail!("the passphrase is shorter than 8 characters; choose a longer one");
    }
    Ok(first)
}

pub fn exec(cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Generate(a) => generate(a),
        KeyCommand::GenerateRecipient(a) => generate_recipient(a),
        KeyCommand::Show(a) => show(a),
        KeyCommand::Passwd(a) => passwd(a),
        KeyCommand::Authorize(a) => authorize(a),
        KeyCommand::Revoke(a) => revoke(a),
        KeyCommand::Rotate(a) => rotate(a),
        KeyCommand::List(a) => list_keys(a),
    }
}

fn generate(
    GenerateArgs {
        name,
        dir,
        passphrase_file,
        protect,
        json,
    }: GenerateArgs,
) -> anyhow::Result<ExitCode> {
    check_name(&name)?;
    let (secret, public) = keys::pair_paths(&dir, &name);
    let pass = if protect || passphrase_file.is_some() {
        Some(new_passphrase(passphrase_file.as_deref(), &secret)?)
    } else {
        None
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create key directory {}", dir.display()))?;
    let key = keys::generate_pair(&dir, &name, pass.as_deref().map(|p| p.as_slice()))?;
    let mut i = info(&name, &key.verifying_key().to_bytes());
    i.secret_key_file = Some(secret.clone());
    i.public_key_file = Some(public.clone());
    i.protected = Some(pass.is_some());
    if json {
        print_json(&i)?;
    } else {
        outln!(
            "secret key:   {} (mode 0600{}; keep it private)",
            shown(&secret),
            if pass.is_some() {
                ", passphrase-protected"
            } else {
                ""
            }
        )?;
        outln!("public key:   {}", shown(&public))?;
        print_info(&i)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn generate_recipient(a: GenerateRecipientArgs) -> anyhow::Result<ExitCode> {
    check_name(&a.name)?;
    let (identity, recipient_file) = custody::seal::identity_paths(&a.dir, &a.name);
    let pass = if a.protect || a.passphrase_file.is_some() {
        Some(new_passphrase(a.passphrase_file.as_deref(), &identity)?)
    } else {
        None
    };
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("cannot create key directory {}", a.dir.display()))?;
    let created = custody::record::rfc3339(custody::unix_ms());
    let recipient = custody::seal::generate_recipient(
        &a.dir,
        &a.name,
        pass.as_deref().map(|p| p.as_slice()),
        &created,
    )?;
    if a.json {
        print_json(&serde_json::json!({
            "name": a.name,
            "recipient": recipient,
            "identity_file": identity,
            "recipient_file": recipient_file,
            "protected": pass.is_some(),
        }))?;
    } else {
        outln!(
            "identity:     {} (mode 0600{}; keep it at headquarters, never on a field device)",
            shown(&identity),
            if pass.is_some() {
                ", passphrase-protected"
            } else {
                ""
            }
        )?;
        outln!("recipient:    {}", shown(&recipient_file))?;
        outln!("{recipient}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(ShowArgs { file, name, json }: ShowArgs) -> anyhow::Result<ExitCode> {
    let public = keys::load_public(&file)?.to_bytes();
    let name = match name {
        // The name a signed note carries (C2SP signed-note): never empty, no space
        // and no '+', which would make the verifier key ambiguous.
        Some(n) => {
            custody::record::check_origin(&n).map_err(|e| {
                anyhow::anyhow!(
                    "--name '{}': {e}",
                    custody::encoding::terminal_safe(&n, false)
                )
            })?;
            n
        }
        None => stem(&file),
    };
    let i = info(&name, &public);
    if json {
        print_json(&i)?;
    } else {
        print_info(&i)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn passwd(
    PasswdArgs {
        file,
        passphrase_file,
        new_passphrase_file,
    }: PasswdArgs,
) -> anyhow::Result<ExitCode> {
    let key = KeyArgs {
        key: file.clone(),
        passphrase_file,
    }
    .load()?;
    let pass = new_passphrase(new_passphrase_file.as_deref(), &file)?;
    let pem = keys::encrypted_secret_pem(&key, &pass)?;
    // Write beside the old file, then replace it in one rename.
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{}.new", stem(&file)));
    let _ = std::fs::remove_file(&tmp);
    keys::write_new_file(&tmp, pem.as_bytes(), 0o600)?;
    std::fs::rename(&tmp, &file).with_context(|| format!("cannot replace {}", file.display()))?;
    outln!("{}: passphrase changed", shown(&file))?;
    Ok(ExitCode::SUCCESS)
}

fn authorize(
    AuthorizeArgs {
        ledger,
        admin,
        pubfile,
        name,
        role,
        json,
    }: AuthorizeArgs,
) -> anyhow::Result<ExitCode> {
    let admin = admin.load()?;
    let public = keys::load_public(&pubfile)?.to_bytes();
    let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("unknown role {role}"))?;
    let mut l = open_write(&ledger)?;
    let now = now_ms();
    let out = l.authorize(&admin, public, &name, role, now)?;
    print_appended(
        json,
        &[out],
        &format!(
            "authorised key {} for {name} as {}",
            keys::short_id(&public),
            role.name()
        ),
    )?;
    l.close()?;
    Ok(ExitCode::SUCCESS)
}

fn revoke(
    RevokeArgs {
        ledger,
        admin,
        key_id,
        reason,
        effective,
        json,
    }: RevokeArgs,
) -> anyhow::Result<ExitCode> {
    let admin = admin.load()?;
    let mut l = open_write(&ledger)?;
    let target = resolve_key(&l, &key_id)?;
    let reason = if reason == "compromised" {
        RevokeReason::Compromised
    } else {
        RevokeReason::Retired
    };
    let effective = match effective.as_deref() {
        None => Effective::Now,
        // A time is signed as the record it begins at, so that no clock can move
        // a record out of the window (SPEC.md 4.1).
        Some(e) => match parse_effective(e)? {
            Effective::Time(t) => {
                if t > now_ms() {
                    bail!(
                        "--effective {e} is in the future; a compromise is declared from a time or record that has passed"
                    );
                }
                let from = l.first_record_from(t)?;
                if from == l.size() {
                    eprintln!(
                        "note: no record is dated at or after {e} (less 10 minutes for clock skew): the compromise takes effect from this revocation"
                    );
                } else {
                    eprintln!(
                        "note: {e} is signed as record {from}, the first recorded at or after it (less 10 minutes for clock skew)"
                    );
                }
                Effective::Seq(from)
            }
            other => other,
        },
    };
    if reason == RevokeReason::Retired && effective != Effective::Now {
        bail!(
            "--effective applies to compromised keys; a retired key's earlier records stay valid"
        );
    }
    let now = now_ms();
    let out = l.sign_and_append(
        &admin,
        vec![Body::Revoke {
            key: target,
            reason,
            effective,
        }],
        now,
        now,
    )?;
    print_appended(
        json,
        &out,
        &format!(
            "revoked key {} ({})",
            keys::short_id(&target),
            reason.name()
        ),
    )?;
    l.close()?;
    Ok(ExitCode::SUCCESS)
}

fn rotate(
    RotateArgs {
        ledger,
        admin,
        old,
        new,
        name,
        role,
        json,
    }: RotateArgs,
) -> anyhow::Result<ExitCode> {
    let admin = admin.load()?;
    let public = keys::load_public(&new)?.to_bytes();
    let mut l = open_write(&ledger)?;
    let old_key = resolve_key(&l, &old)?;
    let state = l
        .authority()
        .key(&old_key)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("unknown key {old}"))?;
    let now = now_ms();
    if old_key == l.ledger_key() {
        if name.is_some() || role.is_some() {
            bail!(
                "key {} is the ledger key: its successor signs checkpoints only, so --name and --role do not apply",
                keys::short_id(&old_key)
            );
        }
        let mut bodies = vec![Body::LedgerKey { key: public }];
        // A ledger-role key does nothing else: it is retired with its duty. The
        // genesis key stays an admin until an admin retires it.
        if state.role == Role::Ledger && state.ended.is_none() {
            bodies.push(Body::Revoke {
                key: old_key,
                reason: RevokeReason::Retired,
                effective: Effective::Now,
            });
        }
        let out = l.sign_and_append(&admin, bodies, now, now)?;
        print_appended(
            json,
            &out,
            &format!(
                "key {} signs this ledger's checkpoints from record {} on, in place of key {}; sign one now with `custody checkpoint --key NEW.key`",
                keys::short_id(&public),
                out[0].seq + 1,
                keys::short_id(&old_key)
            ),
        )?;
        l.close()?;
        return Ok(ExitCode::SUCCESS);
    }
    let role = match role {
        Some(r) => Role::parse(&r).ok_or_else(|| anyhow::anyhow!("unknown role {r}"))?,
        None => state.role,
    };
    let name = name.unwrap_or(state.name);
    let out = l.sign_and_append(
        &admin,
        vec![
            Body::Authorize {
                key: public,
                name: name.clone(),
                role,
            },
            Body::Revoke {
                key: old_key,
                reason: RevokeReason::Retired,
                effective: Effective::Now,
            },
        ],
        now,
        now,
    )?;
    print_appended(
        json,
        &out,
        &format!(
            "key {} ({name}, {}) replaces key {}, now retired",
            keys::short_id(&public),
            role.name(),
            keys::short_id(&old_key)
        ),
    )?;
    l.close()?;
    Ok(ExitCode::SUCCESS)
}

fn list_keys(ListArgs { ledger, json }: ListArgs) -> anyhow::Result<ExitCode> {
    let l = open(&ledger)?;
    let rows: Vec<serde_json::Value> = l
        .authority()
        .keys()
        .iter()
        .map(|(k, s)| {
            serde_json::json!({
                "name": s.name,
                "role": s.role.name(),
                "key_id": keys::short_id(k),
                "fingerprint": keys::fingerprint_string(k),
                "status": l.authority().status(k),
                "valid_from_seq": s.authorized_at,
                "valid_until_seq": s.ended.map(|r| r.at),
                "revoked_by": s.revocations(),
            })
        })
        .collect();
    if json {
        print_json(&rows)?;
    } else {
        outln!(
            "{:<10} {:<13} {:<20} {:<24} STATUS",
            "KEY ID",
            "ROLE",
            "NAME",
            "VALID"
        )?;
        for r in &rows {
            let valid = match r["valid_until_seq"].as_u64() {
                Some(u) => {
                    format!("records {}..{}", r["valid_from_seq"], u.saturating_sub(1))
                }
                None => format!("from record {}", r["valid_from_seq"]),
            };
            outln!(
                "{:<10} {:<13} {:<20} {:<24} {}",
                r["key_id"].as_str().unwrap_or_default(),
                r["role"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default(),
                valid,
                r["status"].as_str().unwrap_or_default()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_effective(e: &str) -> anyhow::Result<Effective> {
    if let Ok(n) = e.parse::<u64>() {
        return Ok(Effective::Seq(n));
    }
    Ok(Effective::Time(parse_time(e, "--effective").map_err(
        |err| anyhow::anyhow!("{err} (or give a record number)"),
    )?))
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "key".into())
}
