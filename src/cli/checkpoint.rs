//! `custody checkpoint`: the ledger key signs the current state.

use super::LedgerArgs;
use super::util::KeyArgs;
use super::util::{open_write, read_policy};
use anyhow::bail;
use clap::Args;
use custody::checkpoint::Checkpoint;
use custody::keys;
use custody::ledger::Ledger;
use custody::{note, witness};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// Also write the signed checkpoint to this file (keep a copy elsewhere for later audits).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    witnesses: WitnessArgs,
}

/// The witnesses asked to cosign each checkpoint (`checkpoint`, `serve`).
#[derive(Args)]
pub struct WitnessArgs {
    /// Ask the witness at this URL (c2sp.org/tlog-witness) to cosign the checkpoint;
    /// repeatable, each with its --witness-key in the same order. A witness that cannot be
    /// reached does not stop the checkpoint; one that finds it inconsistent does (exit 1).
    #[arg(long = "witness", value_name = "URL")]
    witnesses: Vec<String>,
    /// The witness's verifier key NAME+KEYID+BASE64, as `custody witness init` prints it.
    #[arg(long = "witness-key", value_name = "VKEY")]
    witness_keys: Vec<String>,
    /// Also ask every witness of this policy (Sigsum format) that has a URL, by the key the
    /// policy gives (its cosignature line names it).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

/// A witness to ask: its URL, the name its cosignature lines should carry (from its
/// verifier key, or a guess from a policy), and its public key.
struct Asking {
    url: String,
    name: String,
    key: [u8; 32],
    /// The operator gave its verifier key (`--witness-key`), name and all.
    explicit: bool,
}

/// The witnesses of [`WitnessArgs`], read and checked (before any ledger is opened).
pub struct Witnesses {
    asking: Vec<Asking>,
    policy: Option<custody::policy::Policy>,
}

impl WitnessArgs {
    /// Checks the witnesses' keys and reads the policy.
    pub fn load(&self) -> anyhow::Result<Witnesses> {
        if self.witnesses.len() != self.witness_keys.len() {
            bail!(
                "{} --witness URL(s) and {} --witness-key(s): give each witness's key after its URL",
                self.witnesses.len(),
                self.witness_keys.len()
            );
        }
        let mut asking = Vec::new();
        for (url, vkey) in self.witnesses.iter().zip(&self.witness_keys) {
            let (name, kind, key) = note::parse_verifier_key(vkey)?;
            if kind != note::TYPE_COSIGNATURE_V1 {
                bail!("{vkey} is not a witness's key (its type is not 0x04, cosignature/v1)");
            }
            asking.push(Asking {
                url: url.clone(),
                name,
                key,
                explicit: true,
            });
        }
        let policy = self.policy.as_deref().map(read_policy).transpose()?;
        Ok(Witnesses { asking, policy })
    }
}

pub fn exec_checkpoint(a: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let witnesses = a.witnesses.load()?;
    let key = a.key.load()?;
    if let Some(out) = &a.out
        && out.symlink_metadata().is_ok()
    {
        bail!("{} already exists; choose a new file name", out.display());
    }
    let mut ledger = open_write(&a.ledger)?;
    let (signed, forked) = sign_and_witness(&mut ledger, &key, &witnesses)?;
    if let Some(out) = &a.out {
        keys::write_new_file(out, signed.as_bytes(), 0o644)?;
        eprintln!(
            "saved to {}; keep a copy away from this machine for later `custody audit --against`",
            out.display()
        );
    }
    {
        use std::io::Write as _;
        write!(std::io::stdout().lock(), "{signed}")?;
    }
    ledger.close()?;
    if forked {
        eprintln!(
            "error: a witness found this checkpoint inconsistent with one it cosigned before: two histories of this ledger exist under its key; the witness keeps the evidence"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs a checkpoint of the ledger's head and asks the witnesses to cosign it; returns the
/// checkpoint as kept (with the cosignatures received) and whether a witness found it
/// inconsistent with one it cosigned before. A witness that cannot be reached is said on
/// stderr and does not stop the checkpoint.
pub fn sign_and_witness(
    ledger: &mut Ledger,
    key: &ed25519_dalek::SigningKey,
    witnesses: &Witnesses,
) -> anyhow::Result<(String, bool)> {
    let mut asking: Vec<&Asking> = witnesses.asking.iter().collect();
    let mut from_policy = Vec::new();
    // A policy's witnesses with a URL, under the name a kept key gives them (else the
    // policy's name, corrected by the witness's answer).
    let kept = ledger.witness_keys()?;
    for (name, wkey, url) in witnesses.policy.iter().flat_map(|p| p.witnesses.iter()) {
        let Some(url) = url else { continue };
        if asking.iter().any(|w| w.key == *wkey) {
            continue;
        }
        // Its name: the one kept for its key (the newest), else the policy's own. A witness
        // that signs under another name is pinned with --witness-key NAME+ID+KEY.
        let known = kept.iter().rev().find_map(|v| {
            note::parse_verifier_key(v)
                .ok()
                .filter(|(_, _, k)| k == wkey)
                .map(|(n, _, _)| n)
        });
        from_policy.push(Asking {
            url: url.clone(),
            name: known.unwrap_or_else(|| name.clone()),
            key: *wkey,
            explicit: false,
        });
    }
    asking.extend(&from_policy);
    let (cp, mut signed) = ledger.sign_checkpoint(key)?;
    let mut forked = false;
    if !asking.is_empty() {
        let mut fresh = Vec::new();
        for w in asking {
            match ask_witness(ledger, w, &cp, &signed)? {
                Asked::Cosigned(line, vkey) => {
                    // Kept, so that the cosignature can be checked again (audit, bundles);
                    // a key the operator gave is pinned to its name.
                    ledger.put_witness_key(&vkey, w.explicit)?;
                    fresh.push((line, vkey));
                }
                Asked::Forked => forked = true,
                Asked::NoAnswer => {}
            }
        }
        if !fresh.is_empty() {
            signed = ledger.keep_cosignatures(&cp, &signed, &fresh)?;
        }
    }
    Ok((signed, forked))
}

/// What one witness did with the checkpoint.
enum Asked {
    /// It cosigned: its verified cosignature line, and its verifier key.
    Cosigned(String, String),
    /// It refused the checkpoint as inconsistent with one it cosigned.
    Forked,
    /// It could not be reached, or refused for another reason (said on stderr).
    NoAnswer,
}

/// Asks one witness to cosign, from the size it last cosigned as far as this ledger knows;
/// if the witness knows another size, once more from that one.
fn ask_witness(
    ledger: &Ledger,
    w: &Asking,
    cp: &Checkpoint,
    signed: &str,
) -> anyhow::Result<Asked> {
    let url = w.url.as_str();
    // A witness's words reach a terminal with control characters escaped.
    let shown = safe(&w.name);
    let id = note::typed_key_id(&w.name, note::TYPE_COSIGNATURE_V1, &w.key);
    let mut old = ledger.witnessed_size(&w.name, id)?.min(cp.size);
    for attempt in 0..2 {
        let proof = if old == 0 || old == cp.size {
            Vec::new()
        } else {
            ledger.consistency_proof(old)?.hashes
        };
        let body = witness::request_body(old, &proof, signed);
        let reply = match witness::ask(url, &body, Duration::from_secs(10)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "witness {shown}: {}; the checkpoint stands without its cosignature",
                    safe(&e.to_string())
                );
                return Ok(Asked::NoAnswer);
            }
        };
        match reply.status {
            200 => return Ok(cosignature_in(&reply.body, w, cp, signed, ledger)),
            409 if reply.content_type == "text/x.tlog.size" && attempt == 0 => {
                old = safe(reply.body.trim())
                    .parse()
                    .map_err(|_| anyhow::anyhow!("witness {shown} answered 409 without a size"))?;
                if old > cp.size {
                    eprintln!(
                        "witness {shown} has cosigned size {old}, past this checkpoint's {}: this ledger is behind a history the witness saw",
                        cp.size
                    );
                    return Ok(Asked::Forked);
                }
            }
            409 | 422 => {
                eprintln!(
                    "witness {shown} refused ({}): {}",
                    reply.status,
                    safe(reply.body.trim())
                );
                return Ok(Asked::Forked);
            }
            status => {
                eprintln!(
                    "witness {shown} refused ({status}): {}",
                    safe(reply.body.trim())
                );
                return Ok(Asked::NoAnswer);
            }
        }
    }
    Ok(Asked::NoAnswer)
}

/// The line of a witness's answer that verifies by its key over the checkpoint: under the
/// name of its verifier key, or, for a witness known by its key alone (from a policy),
/// under the name the line gives.
fn cosignature_in(body: &str, w: &Asking, cp: &Checkpoint, signed: &str, ledger: &Ledger) -> Asked {
    let shown = safe(&w.name);
    let mut why = "no cosignature line by its key".to_owned();
    // A name already kept for another witness's key is not this witness's to take (a
    // witness, or anyone between it and the ledger, could otherwise pass for another).
    let taken: Vec<String> = ledger
        .witness_keys()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| note::parse_verifier_key(v).ok())
        .filter(|(_, _, k)| *k != w.key)
        .map(|(n, _, _)| n)
        .collect();
    for line in body.lines().filter(|l| l.starts_with("\u{2014} ")) {
        let Some(name) = line["\u{2014} ".len()..].split(' ').next() else {
            continue;
        };
        // Held to its name: the signature does not cover it, so a line under another name
        // (its own doing, or that of anyone between it and the ledger) is not taken.
        if name != w.name || name.len() > MAX_WITNESS_NAME {
            why = format!(
                "it signed under the name {}, and is held to {}{}",
                safe(name),
                shown,
                if w.explicit {
                    ""
                } else {
                    " (a witness known from a policy signs under the policy's name for it, or the one kept for its key; pin another with --witness-key NAME+ID+KEY)"
                }
            );
            continue;
        }
        if !w.explicit && taken.iter().any(|t| t == name) {
            why = format!(
                "it signed under the name {}, which another witness's key holds",
                safe(name)
            );
            continue;
        }
        let vkey = note::typed_verifier_key(name, note::TYPE_COSIGNATURE_V1, &w.key);
        let line = format!("{line}\n");
        match witness::verify_line(signed, &line, &vkey, cp) {
            Ok((_, time)) => {
                let when = match time.checked_mul(1000) {
                    Some(ms) if time < 253_402_300_800 => custody::record::rfc3339(ms),
                    _ => format!("{time} seconds after 1970"),
                };
                eprintln!("cosigned by witness {} at {when}", safe(name));
                return Asked::Cosigned(line, vkey);
            }
            Err(e) => why = e,
        }
    }
    eprintln!(
        "witness {shown} answered with no cosignature that verifies ({}); not kept",
        safe(&why)
    );
    Asked::NoAnswer
}

/// The longest witness name taken from a witness's answer.
const MAX_WITNESS_NAME: usize = 256;

/// Text from a witness as a terminal may show it: control characters escaped.
fn safe(s: &str) -> String {
    custody::encoding::terminal_safe(s, false).into_owned()
}
