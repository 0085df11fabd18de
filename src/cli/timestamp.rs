//! `custody timestamp`: an RFC 3161 time-stamping authority attests that the latest signed
//! checkpoint existed at a time; the token is verified offline and kept.

use super::LedgerArgs;
use super::util::{open, open_regular, print_json, read_tsa_certs};
use anyhow::{Context, bail};
use clap::Args;
use custody::keys;
use custody::timestamp::{self, Stamp};
use std::path::PathBuf;
use std::process::ExitCode;

/// The largest response read from an authority or a file (one byte more is refused).
const MAX_RESPONSE: u64 = timestamp::MAX_RESPONSE as u64;

#[derive(Args)]
#[command(
    after_help = "The message imprint is the SHA-256 of the latest signed checkpoint note, exactly as \
the ledger stores it. The token is verified before it is kept (signature, imprint, nonce, \
the time-stamping certificate and its chain to --tsa-cert), and kept as \
LEDGER/timestamps/SIZE-SERIAL.tsr. Anyone can check it with OpenSSL alone:\n\n  \
openssl ts -verify -data checkpoint.txt -in SIZE-SERIAL.tsr -CAfile tsa-root.pem\n\n\
For an authority reached another way: --request-out REQ.tsq, then --response-in RESP.tsr."
)]
pub struct TimestampArgs {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The authority's URL (HTTP POST of application/timestamp-query).
    #[arg(long, value_name = "URL", conflicts_with_all = ["request_out", "response_in"])]
    tsa: Option<String>,
    /// The certificate (PEM) the token must lead to: the authority's root, or its own.
    #[arg(long, value_name = "PEM")]
    tsa_cert: Option<PathBuf>,
    /// Write the request (DER) to this file instead of sending it.
    #[arg(long, value_name = "FILE", conflicts_with = "response_in")]
    request_out: Option<PathBuf>,
    /// Verify and keep a response (DER) obtained for a request written with --request-out.
    #[arg(long, value_name = "FILE")]
    response_in: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn exec(a: TimestampArgs) -> anyhow::Result<ExitCode> {
    let trusted = match &a.tsa_cert {
        Some(p) => read_tsa_certs(p)?,
        None if a.request_out.is_some() => Vec::new(),
        None => bail!(
            "give the authority's certificate with --tsa-cert PEM: a token is kept only once it verifies"
        ),
    };
    let ledger = open(&a.ledger)?;
    let (cp, text) = ledger.latest_checkpoint()?.ok_or_else(|| {
        anyhow::anyhow!("the ledger has no signed checkpoint; run `custody checkpoint`")
    })?;
    let imprint: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(text.as_bytes()).into()
    };
    if let Some(out) = &a.request_out {
        if out.symlink_metadata().is_ok() {
            bail!("{} already exists; choose a new file name", out.display());
        }
        let req = timestamp::request_der(&imprint, nonce()?).map_err(anyhow::Error::msg)?;
        // Kept, so that the response taken in later must carry this request's nonce.
        ledger.put_timestamp_request(cp.size, &req)?;
        keys::write_new_file(out, &req, 0o644)?;
        outln!(
            "request for the checkpoint of {} records written to {}; send it to the authority, then run custody timestamp --response-in RESPONSE --tsa-cert PEM",
            cp.size,
            out.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let (response, nonce) = match (&a.tsa, &a.response_in) {
        (Some(url), _) => {
            let n = nonce()?;
            let req = timestamp::request_der(&imprint, n).map_err(anyhow::Error::msg)?;
            (post(url, &req)?, n)
        }
        (None, Some(path)) => {
            let req = ledger.timestamp_request(cp.size)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no request was written for the checkpoint of {} records; run custody timestamp --request-out FILE first, and take in the response to that request",
                    cp.size
                )
            })?;
            let n = timestamp::request_nonce(&req).map_err(anyhow::Error::msg)?;
            let mut body = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(open_regular(path, "response")?, MAX_RESPONSE + 1),
                &mut body,
            )
            .with_context(|| path.display().to_string())?;
            (body, n)
        }
        (None, None) => bail!("give --tsa URL, --request-out FILE or --response-in FILE"),
    };
    let last_recorded = ledger.record(cp.size.saturating_sub(1))?.0.recorded_at_ms;
    let now = custody::unix_ms();
    let verdict = timestamp::verify(&response, &imprint, nonce, &trusted, now).and_then(|s| {
        // An authority cannot date the checkpoint before its last record was recorded.
        custody::rules::check_attestation_time(
            "the stamped time",
            s.time_ms,
            last_recorded,
            now,
            "this machine's clock",
        )
        .map(|()| s)
    });
    let stamp = match verdict {
        Ok(s) => s,
        Err(why) => {
            eprintln!(
                "error: the time-stamp token does not verify, and was not kept: {}",
                custody::encoding::terminal_safe(&why, false)
            );
            return Ok(ExitCode::from(1));
        }
    };
    // The certificates it was verified against are kept beside it, for audits and bundles.
    let pem = timestamp::certificates_to_pem(&trusted).map_err(anyhow::Error::msg)?;
    let kept = ledger.put_timestamp(cp.size, &stamp.serial, &response, pem.as_bytes())?;
    report(&a, cp.size, &stamp, &kept)?;
    Ok(ExitCode::SUCCESS)
}

fn report(a: &TimestampArgs, size: u64, s: &Stamp, kept: &std::path::Path) -> anyhow::Result<()> {
    if a.json {
        return print_json(&serde_json::json!({
            "checkpoint_size": size,
            "stamp": s,
            "time": custody::record::rfc3339(s.time_ms),
            "no_later_than": custody::record::rfc3339(s.time_ms.saturating_add(s.accuracy_ms)),
            "kept": kept,
        }));
    }
    outln!(
        "the checkpoint of {size} records existed no later than {}, attested by {} (serial {}, policy {}); kept in {}",
        custody::record::rfc3339(s.time_ms.saturating_add(s.accuracy_ms)),
        custody::encoding::terminal_safe(&s.authority, false),
        s.serial,
        s.policy,
        kept.display()
    )?;
    Ok(())
}

fn nonce() -> anyhow::Result<u64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness for a nonce: {e}"))?;
    Ok(u64::from_be_bytes(b) >> 1)
}

/// Sends a request to an authority and returns its answer.
fn post(url: &str, req: &[u8]) -> anyhow::Result<Vec<u8>> {
    let answer = custody::http::post(
        url,
        "application/timestamp-query",
        req,
        std::time::Duration::from_secs(20),
        MAX_RESPONSE + 1,
    )?;
    if answer.status != 200 {
        bail!("the authority at {url} answered HTTP {}", answer.status);
    }
    Ok(answer.body)
}
