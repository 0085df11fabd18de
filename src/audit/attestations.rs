//! What the ledger keeps beside its checkpoints, checked again: every cosignature line in
//! `cosigned/` by a kept witness key, every time-stamp token in `timestamps/` over the
//! stored checkpoint of its size (SPEC.md section 14, `cosignature` and `timestamp`).

use super::Finding;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::policy::Policy;
use crate::rules::Code;
use crate::store::{names, read_small_file, timestamp_name};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

fn finding(code: Code, message: String) -> Finding {
    Finding {
        seq: None,
        code,
        message,
    }
}

/// What the audit of attestations was given.
pub struct AttestationAudit<'a> {
    /// Certificates the kept tokens must lead to (`--tsa-cert`); none: those kept beside
    /// each token.
    pub trusted: &'a [Certificate],
    /// The witness policy (`--policy`): every kept cosignature must be by a witness it names.
    pub policy: Option<&'a Policy>,
    /// This machine's clock, unix ms.
    pub now_ms: u64,
}

/// Checks the kept cosignatures and time-stamp tokens; returns the findings, and how many
/// tokens and cosignature lines were checked.
pub fn attestation_findings(
    ledger: &Ledger,
    how: &AttestationAudit,
) -> Result<(Vec<Finding>, usize, usize)> {
    let mut out = Vec::new();
    let lines = cosignature_findings(ledger, how, &mut out)?;
    let tokens = timestamp_findings(ledger, how, &mut out)?;
    Ok((out, tokens, lines))
}

/// The attestation-time rule for a checkpoint of `size` of this ledger, at `now_ms`.
fn in_time(ledger: &Ledger, size: u64, ms: u64, now_ms: u64) -> std::result::Result<(), String> {
    crate::rules::check_attestation_time(
        "its time",
        ms,
        ledger.last_recorded_ms(size),
        now_ms,
        "this machine's clock",
    )
}

fn cosignature_findings(
    ledger: &Ledger,
    how: &AttestationAudit,
    out: &mut Vec<Finding>,
) -> Result<usize> {
    let mut sizes = Vec::new();
    for name in ledger.store().names_in(names::COSIGNED)? {
        match name.parse::<u64>() {
            Ok(s) if s.to_string() == name => sizes.push(s),
            _ if name == "witness-keys" => {}
            _ => out.push(finding(
                Code::Cosignature,
                format!("cosigned/{name} is not a file custody keeps there"),
            )),
        }
    }
    sizes.sort_unstable();
    let vkeys = match ledger.witness_keys() {
        Ok(k) => k,
        Err(e) => {
            out.push(finding(
                Code::Cosignature,
                format!("cosigned/witness-keys cannot be read: {e}"),
            ));
            Vec::new()
        }
    };
    // The ledger's own keys witness nothing of it.
    let own = ledger.authority().keys();
    let mut checked = 0;
    for size in sizes {
        let Some(text) = ledger.cosigned(size).ok().flatten() else {
            out.push(finding(
                Code::Cosignature,
                format!("cosigned/{size} cannot be read as a signed note"),
            ));
            continue;
        };
        let Some((cp, stored)) = ledger.valid_checkpoint(size)? else {
            out.push(finding(
                Code::Cosignature,
                format!("cosigned/{size}: the ledger holds no valid checkpoint of {size} records"),
            ));
            continue;
        };
        let Some(rest) = text.strip_prefix(&stored).filter(|r| r.ends_with('\n')) else {
            out.push(finding(
                Code::Cosignature,
                format!(
                    "cosigned/{size} is not the stored checkpoint of {size} records followed by cosignature lines"
                ),
            ));
            continue;
        };
        for line in rest.split_inclusive('\n') {
            checked += 1;
            let shown = crate::encoding::terminal_safe(line.trim_end(), false).into_owned();
            let by = vkeys.iter().find_map(|vkey| {
                let (_, time) = crate::witness::verify_line(&stored, line, vkey, &cp).ok()?;
                Some((crate::note::parse_verifier_key(vkey).ok()?.2, time))
            });
            let verdict = match by {
                None => Err("it does not verify by any kept witness key".to_owned()),
                Some((raw, _)) if own.contains_key(&raw) => {
                    Err("its key is a key of the ledger: no independent witness".to_owned())
                }
                Some((raw, _))
                    if how
                        .policy
                        .is_some_and(|p| !p.witnesses.iter().any(|w| w.1 == raw)) =>
                {
                    Err("its key is not one the policy names".to_owned())
                }
                Some((_, time)) => in_time(ledger, size, time.saturating_mul(1000), how.now_ms),
            };
            if let Err(why) = verdict {
                out.push(finding(
                    Code::Cosignature,
                    format!("cosigned/{size}: the line {shown:?}: {why}"),
                ));
            }
        }
    }
    Ok(checked)
}

fn timestamp_findings(
    ledger: &Ledger,
    how: &AttestationAudit,
    out: &mut Vec<Finding>,
) -> Result<usize> {
    let dir = ledger.store().dir().join(names::TIMESTAMPS);
    let mut tokens = Vec::new();
    for name in ledger.store().names_in(names::TIMESTAMPS)? {
        let request = name
            .strip_suffix(".tsq")
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n.to_string() == s));
        let certs = name
            .strip_suffix(".pem")
            .is_some_and(|s| timestamp_name(&format!("{s}.tsr")).is_some());
        match timestamp_name(&name) {
            Some((size, serial)) => tokens.push((size, serial.to_owned())),
            None if request || certs => {}
            None => out.push(finding(
                Code::Timestamp,
                format!("timestamps/{name} is not a file custody keeps there"),
            )),
        }
    }
    let checked = tokens.len();
    for (size, serial) in tokens {
        let file = format!("timestamps/{size}-{serial}.tsr");
        if let Err(why) = check_token(ledger, how, &dir, size, &serial) {
            out.push(finding(Code::Timestamp, format!("{file}: {why}")));
        }
    }
    Ok(checked)
}

/// One kept token, read without following links or waiting on a FIFO.
fn check_token(
    ledger: &Ledger,
    how: &AttestationAudit,
    dir: &std::path::Path,
    size: u64,
    serial: &str,
) -> std::result::Result<(), String> {
    let response = read_small_file(
        &dir.join(format!("{size}-{serial}.tsr")),
        crate::timestamp::MAX_RESPONSE,
    )
    .map_err(|e| e.to_string())?
    .ok_or("it vanished while the audit ran")?;
    let Some((_, text)) = ledger.valid_checkpoint(size).map_err(|e| e.to_string())? else {
        return Err(format!(
            "the ledger holds no valid checkpoint of {size} records"
        ));
    };
    let kept: Vec<Certificate>;
    let certs = if how.trusted.is_empty() {
        let pem = read_small_file(&dir.join(format!("{size}-{serial}.pem")), 1 << 20)
            .map_err(|e| e.to_string())?
            .ok_or("the certificates it was verified against are not kept beside it; give the authority's with --tsa-cert")?;
        kept = crate::timestamp::certificates_from_pem(&pem)
            .map_err(|e| format!("the certificates kept beside it: {e}"))?;
        &kept
    } else {
        how.trusted
    };
    let imprint: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let stamp =
        crate::timestamp::verify_kept(&response, &imprint, certs, how.now_ms).map_err(|e| {
            format!(
                "it does not verify over the checkpoint of {size} records: {}",
                crate::encoding::terminal_safe(&e, false)
            )
        })?;
    if stamp.serial != serial {
        return Err(format!("it holds the token of serial {}", stamp.serial));
    }
    in_time(ledger, size, stamp.time_ms, how.now_ms)
}
