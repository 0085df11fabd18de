//! What the ledger keeps beside its checkpoints, checked again: every cosignature line in
//! `cosigned/` by a kept witness key, every time-stamp token in `timestamps/` over the
//! stored checkpoint of its size (SPEC.md section 14, `cosignature` and `timestamp`).

use super::Finding;
use crate::error::Result;
use crate::ledger::Ledger;
use crate::rules::Code;
use crate::store::{names, timestamp_name};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

fn finding(code: Code, message: String) -> Finding {
    Finding {
        seq: None,
        code,
        message,
    }
}

/// The file names of a directory of the ledger (none when it is missing); a file left by
/// a write interrupted before its rename (`.new-*`) is passed over.
fn names_in(dir: &std::path::Path) -> Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".new-"))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(crate::error::Error::Io {
            path: dir.to_owned(),
            cause: e,
        }),
    }
}

/// Checks the kept cosignatures and time-stamp tokens; tokens against `trusted` when
/// given, else against the certificates kept beside each. `now_ms` bounds stamped times.
pub fn attestation_findings(
    ledger: &Ledger,
    trusted: &[Certificate],
    now_ms: u64,
) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    cosignature_findings(ledger, &mut out)?;
    timestamp_findings(ledger, trusted, now_ms, &mut out)?;
    Ok(out)
}

fn cosignature_findings(ledger: &Ledger, out: &mut Vec<Finding>) -> Result<()> {
    let dir = ledger.store().dir().join(names::COSIGNED);
    for name in names_in(&dir)? {
        let size_ok = name.parse::<u64>().is_ok_and(|s| s.to_string() == name);
        if !size_ok && name != "witness-keys" {
            out.push(finding(
                Code::Cosignature,
                format!("cosigned/{name} is not a file custody keeps there"),
            ));
        }
    }
    let vkeys = ledger.witness_keys()?;
    for size in ledger.cosigned_sizes()? {
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
            let verified = vkeys.iter().any(|vkey| {
                crate::witness::verify_cosignature(&format!("{stored}{line}"), vkey, &cp).is_ok()
                    && crate::note::parse_verifier_key(vkey)
                        .is_ok_and(|(name, _, _)| line.starts_with(&format!("\u{2014} {name} ")))
            });
            if !verified {
                out.push(finding(
                    Code::Cosignature,
                    format!(
                        "cosigned/{size}: the line {:?} does not verify by any kept witness key",
                        crate::encoding::terminal_safe(line.trim_end(), false)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn timestamp_findings(
    ledger: &Ledger,
    trusted: &[Certificate],
    now_ms: u64,
    out: &mut Vec<Finding>,
) -> Result<()> {
    let dir = ledger.store().dir().join(names::TIMESTAMPS);
    for name in names_in(&dir)? {
        let request = name
            .strip_suffix(".tsq")
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n.to_string() == s));
        let certs = name
            .strip_suffix(".pem")
            .is_some_and(|s| timestamp_name(&format!("{s}.tsr")).is_some());
        if !(request || certs || timestamp_name(&name).is_some()) {
            out.push(finding(
                Code::Timestamp,
                format!("timestamps/{name} is not a file custody keeps there"),
            ));
        }
    }
    for kt in ledger.timestamps()? {
        let file = format!("timestamps/{}-{}.tsr", kt.size, kt.serial);
        let Some((_, text)) = ledger.valid_checkpoint(kt.size)? else {
            out.push(finding(
                Code::Timestamp,
                format!(
                    "{file}: the ledger holds no valid checkpoint of {} records",
                    kt.size
                ),
            ));
            continue;
        };
        let kept: Vec<Certificate>;
        let certs = if trusted.is_empty() {
            match kt
                .trusted_pem
                .as_deref()
                .map(crate::timestamp::certificates_from_pem)
            {
                Some(Ok(c)) => {
                    kept = c;
                    &kept
                }
                _ => {
                    out.push(finding(
                        Code::Timestamp,
                        format!(
                            "{file}: the certificates it was verified against are not kept beside it; give the authority's with --tsa-cert"
                        ),
                    ));
                    continue;
                }
            }
        } else {
            trusted
        };
        let imprint: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        match crate::timestamp::verify_kept(&kt.response, &imprint, certs, now_ms) {
            Ok(stamp) if stamp.serial == kt.serial => {}
            Ok(stamp) => out.push(finding(
                Code::Timestamp,
                format!("{file} holds the token of serial {}", stamp.serial),
            )),
            Err(e) => out.push(finding(
                Code::Timestamp,
                format!(
                    "{file} does not verify over the checkpoint of {} records: {}",
                    kt.size,
                    crate::encoding::terminal_safe(&e, false)
                ),
            )),
        }
    }
    Ok(())
}
