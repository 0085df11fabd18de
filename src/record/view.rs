//! Records rendered for people and for JSON: times in RFC 3339, keys by ID and fingerprint,
//! bytes in hex and base64.

use super::*;

/// A record decoded for people and scripts: every field, plus the canonical bytes in
/// base64 so an outside tool can recheck every hash and signature without this crate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordView {
    /// Sequence number.
    pub seq: u64,
    /// Leaf hash (hex).
    pub leaf_hash: String,
    /// Previous leaf hash (hex).
    pub prev: String,
    /// Kind name.
    pub kind: &'static str,
    /// Decoded body.
    pub body: serde_json::Value,
    /// Signer's claimed time, unix ms.
    pub claimed_at_ms: u64,
    /// Claimed time, RFC 3339.
    pub claimed_at: String,
    /// Ledger time at append, unix ms.
    pub recorded_at_ms: u64,
    /// Recorded time, RFC 3339.
    pub recorded_at: String,
    /// Signer public key (base64, 32 bytes).
    pub signer_key: String,
    /// Signer key ID: first 4 bytes of SHA-256(public key), hex.
    pub signer_key_id: String,
    /// `SHA256:` and the hex SHA-256 of the signer public key.
    pub signer_fingerprint: String,
    /// Signature (base64, 64 bytes).
    pub signature: String,
    /// Canonical record bytes (base64).
    pub record_bytes: String,
    /// Canonical statement bytes (base64).
    pub statement_bytes: String,
}

/// Formats unix milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: u64) -> String {
    use std::fmt::Write;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let mut s = String::new();
    // Times past the year 9999 cannot be written in RFC 3339; show the number instead.
    match write!(s, "{}", humantime::format_rfc3339_millis(t)) {
        Ok(()) => s,
        Err(_) => format!("{ms} ms after 1970-01-01 (beyond the year 9999)"),
    }
}

impl RecordView {
    /// The view of a record whose canonical bytes are `bytes`.
    pub fn new(r: &Record, bytes: &[u8]) -> Self {
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD as B64;
        use serde_json::json;
        let body = match &r.statement.body {
            Body::Genesis { origin } => json!({ "origin": origin }),
            Body::Testimony(t) => json!({
                "subject": t.subject,
                "language": t.language,
                "consent": t.consent,
                "location": t.location,
                "commitment": hex::encode(t.commitment),
                "content_length": t.content_len,
            }),
            Body::Media(m) => json!({
                "sha256": hex::encode(m.sha256),
                "size": m.size,
                "name": m.name,
                "media_type": m.media_type,
                "description": m.description,
            }),
            Body::Authorize { key, name, role } => json!({
                "key": B64.encode(key),
                "key_id": crate::keys::short_id(key),
                "name": name,
                "role": role.name(),
            }),
            Body::Revoke {
                key,
                reason,
                effective,
            } => json!({
                "key": B64.encode(key),
                "key_id": crate::keys::short_id(key),
                "reason": reason.name(),
                "effective": match effective {
                    Effective::Now => json!("now"),
                    Effective::Seq(n) => json!({ "seq": n }),
                    Effective::Time(t) => json!({ "time_ms": t, "time": rfc3339(*t) }),
                },
            }),
            Body::Transfer {
                exhibit,
                to,
                reason,
                location,
            } => json!({
                "exhibit": exhibit,
                "to": B64.encode(to),
                "to_key_id": crate::keys::short_id(to),
                "reason": reason,
                "location": location,
            }),
            Body::Accept { transfer } | Body::Cancel { transfer } => {
                json!({ "transfer": transfer })
            }
            Body::LedgerKey { key } => json!({
                "key": B64.encode(key),
                "key_id": crate::keys::short_id(key),
            }),
            Body::Amend(a) => json!({
                "target": a.target,
                "reason": a.reason,
                "description": a.description,
                "commitment": a.content.map(|(c, _)| hex::encode(c)),
                "content_length": a.content.map(|(_, l)| l),
            }),
            Body::SealTo { recipients } => json!({
                "recipients": recipients
                    .iter()
                    .map(crate::seal::recipient_string)
                    .collect::<Vec<_>>(),
            }),
            Body::Consent {
                target,
                target_statement,
                consent,
            } => json!({
                "target": target,
                "target_statement": hex::encode(target_statement),
                "consent": consent,
            }),
            Body::Erase {
                target,
                target_statement,
                reason,
            } => json!({
                "target": target,
                "target_statement": hex::encode(target_statement),
                "reason": reason,
            }),
        };
        let pk = &r.statement.signer;
        RecordView {
            seq: r.seq,
            leaf_hash: hex::encode(leaf_hash(bytes)),
            prev: hex::encode(r.prev),
            kind: r.statement.body.kind(),
            body,
            claimed_at_ms: r.statement.claimed_at_ms,
            claimed_at: rfc3339(r.statement.claimed_at_ms),
            recorded_at_ms: r.recorded_at_ms,
            recorded_at: rfc3339(r.recorded_at_ms),
            signer_key: B64.encode(pk),
            signer_key_id: crate::keys::short_id(pk),
            signer_fingerprint: crate::keys::fingerprint_string(pk),
            signature: B64.encode(r.signature),
            record_bytes: B64.encode(bytes),
            statement_bytes: B64.encode(&r.statement_bytes),
        }
    }
}
