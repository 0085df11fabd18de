//! Court bundles: one ZIP that proves chosen records belong to the ledger, checkable
//! offline, revealing nothing about any other record (SPEC.md section 11).
//!
//! [`export`] gathers each exhibit's record, inclusion proof, revealed content and keys,
//! signs the manifest, and writes a deterministic archive. [`verify_bundle`] checks a
//! bundle without extracting anything: every member is vetted from the central directory
//! before a byte of it is read, then read in memory (media streamed through SHA-256) under
//! enforced size limits.

mod archive;
mod attest;
mod export;
mod manifest;
mod read;
mod report;
pub use report::Lang;
mod verify;

pub use attest::{Attested, Cosigned, Stamped};

/// Whether a manifest's attestations are within what check 4 admits, so that checks 15 and
/// 16 worked through them.
pub fn attestations_admitted(m: &Manifest) -> bool {
    manifest::attestation_problems(m).is_empty()
}
pub use export::{ExportRequest, MediaSource, export};
pub use manifest::{
    Attestation, ContentInfo, CosignatureInfo, Exhibit, ExporterInfo, LedgerInfo, Manifest,
    RecordEntry, Supporting, TimestampInfo,
};
pub use verify::{BundleReport, VerifyOptions, verify_bundle};

use thiserror::Error;

/// Format tag of the manifest.
pub const FORMAT: &str = "custody-bundle/v1";
/// Largest non-media member, in bytes.
pub const MAX_MEMBER: u64 = 64 << 20;
/// Largest media member, in bytes.
pub const MAX_MEDIA: u64 = 1 << 40;
/// Most members in a bundle.
pub const MAX_MEMBERS: usize = 100_000;
/// Most bytes held in memory for all non-media members together.
pub const MAX_HELD: u64 = 1 << 30;
/// Compression ratio beyond which a member over 1 MiB is a bomb.
pub const MAX_RATIO: u64 = 100;

/// Why a bundle could not be read at all (exit 2).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a ZIP, or a ZIP that cannot be read.
    #[error("not a readable ZIP file: {0}")]
    NotZip(String),
    /// A member that must not be read.
    #[error("unsafe bundle, nothing was read from it: {0}")]
    Unsafe(String),
    /// An I/O error.
    #[error("{0}")]
    Io(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::testing::*;
    use crate::rules::Code;
    use std::io::Cursor;

    fn request(seqs: &[u64], at: u64) -> ExportRequest {
        ExportRequest {
            seqs: seqs.to_vec(),
            case: Some("Case 1".into()),
            exported_at_ms: at,
            now_ms: T0 + 60_000,
            override_consent: None,
            include_failing: None,
            media: Vec::new(),
            policy: None,
            tsa_certs: Vec::new(),
            identity: None,
            report_lang: Lang::En,
        }
    }

    fn export_bytes(
        l: &crate::ledger::Ledger,
        req: ExportRequest,
    ) -> crate::error::Result<Vec<u8>> {
        let mut out = Cursor::new(Vec::new());
        export(l, &alice(), req, &mut out)?;
        Ok(out.into_inner())
    }

    #[test]
    fn an_export_verifies_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let l = small(dir.path());
        let bytes = export_bytes(&l, request(&[2, 3], T0 + 5000)).unwrap();
        assert_eq!(
            bytes,
            export_bytes(&l, request(&[3, 2], T0 + 5000)).unwrap()
        );
        let opts = VerifyOptions {
            trust: vec![
                ledger_key().verifying_key().to_bytes(),
                alice().verifying_key().to_bytes(),
            ],
            ..Default::default()
        };
        let report = verify_bundle(Cursor::new(&bytes), &opts).unwrap();
        let failed: Vec<_> = report.checks.iter().filter(|c| !c.passed).collect();
        assert!(report.passed(), "{failed:?}");
        let m = report.manifest.unwrap();
        assert_eq!(m.exhibits.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        let text = &m.exhibits[0].content.as_ref().unwrap().file;
        let zip = crate::bundle::read::read_members(Cursor::new(&bytes)).unwrap();
        assert_eq!(zip[text].bytes.as_deref(), Some(&b"an account"[..]));
        // Untrusted keys fail the trust check, and only it.
        let strangers = VerifyOptions {
            trust: vec![[0x11; 32]],
            ..Default::default()
        };
        let report = verify_bundle(Cursor::new(&bytes), &strangers).unwrap();
        let failed: Vec<Code> = report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.code)
            .collect();
        assert_eq!(failed, [Code::Trust]);
    }

    #[test]
    fn a_request_a_bundle_cannot_honour_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let l = small(dir.path());
        let cases: [(ExportRequest, &str); 7] = [
            (request(&[], T0 + 5000), "at least one record"),
            (request(&[0], T0 + 5000), "genesis"),
            (request(&[9], T0 + 5000), "there is no record 9"),
            (request(&[2], T0 + 1), "before record"),
            // After the exhibit, but before the checkpoint it is proven against existed.
            (
                request(&[2], T0 + 1500),
                "the last the bundle's checkpoint covers",
            ),
            (
                request(&[2], T0 + 120_000),
                "later than this machine's clock",
            ),
            (
                ExportRequest {
                    include_failing: Some("  ".into()),
                    ..request(&[2], T0 + 5000)
                },
                "is empty",
            ),
        ];
        for (req, needle) in cases {
            let err = export_bytes(&l, req).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} does not say {needle:?}");
        }
    }

    #[test]
    fn a_changed_byte_never_changes_what_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let l = small(dir.path());
        let bytes = export_bytes(&l, request(&[2], T0 + 5000)).unwrap();
        let opts = VerifyOptions::default();
        let original = read::read_members(Cursor::new(&bytes)).unwrap();
        let mut refused = 0;
        // Every 7th byte, flipped: refused (an error, or a failed check), or a byte no
        // reader sees (a ZIP header's version or time fields), leaving every member as it was.
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            match verify_bundle(Cursor::new(&b), &opts) {
                Ok(r) if r.passed() => {
                    let members = read::read_members(Cursor::new(&b)).unwrap();
                    assert!(
                        members.len() == original.len()
                            && members.iter().zip(&original).all(|((n, m), (on, om))| {
                                n == on && m.digest == om.digest && m.bytes == om.bytes
                            }),
                        "byte {i} flipped, the bundle passed, and a member changed"
                    );
                }
                _ => refused += 1,
            }
        }
        assert!(refused * 10 > bytes.len() / 7 * 9, "{refused} refused");
    }
}
