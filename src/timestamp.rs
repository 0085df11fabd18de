//! RFC 3161 time-stamp tokens over a checkpoint: a request for the SHA-256 of the signed
//! checkpoint note, and the strict offline verification of a response against the
//! authority's certificate the user trusts.
//!
//! A response passes only if: its status is granted; its token is CMS SignedData of a
//! TSTInfo whose message imprint is SHA-256 of exactly the checkpoint, with the nonce
//! asked for; exactly one signer, whose signed attributes hold the TSTInfo content type
//! and its digest, signed (ECDSA P-256/SHA-256, P-384/SHA-384, or RSA PKCS#1 v1.5 with
//! SHA-256/384/512) by a certificate the token carries with the time-stamping extended
//! key usage, valid at the stamped time, and issued by a trusted certificate (directly or
//! through certificates the token carries, each a CA allowed to sign certificates, each
//! signature checked), or trusted itself.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{Int, OctetString};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode, Tagged};
use sha2_10::Digest;
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

/// The most certificates a token may carry.
pub const MAX_CARRIED_CERTS: usize = 8;

/// The largest response taken in: real ones are a few KiB; the bound also keeps decoding
/// cheap (der 0.7 sorts each SET OF as it decodes it, in quadratic time).
pub const MAX_RESPONSE: usize = 32 * 1024;

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stamp {
    /// The stamped time, unix milliseconds.
    pub time_ms: u64,
    /// The signing certificate's subject, as a string.
    pub authority: String,
    /// The token's serial number, hex.
    pub serial: String,
    /// The authority's policy OID.
    pub policy: String,
    /// SHA-256 (hex) of the DER of the certificate that signed the token.
    pub signer_sha256: String,
    /// The token's accuracy, ms (0 when it states none): the authority vouches for the
    /// stamped time within this much either way.
    pub accuracy_ms: u64,
}

/// The DER time-stamp request for the SHA-256 `imprint`, with `nonce`, asking for the
/// authority's certificate in the token.
pub fn request_der(imprint: &[u8; 32], nonce: u64) -> Result<Vec<u8>, String> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: spki_alg(ID_SHA256),
            hashed_message: OctetString::new(imprint.to_vec()).map_err(|e| e.to_string())?,
        },
        req_policy: None,
        nonce: Some(uint(nonce)?),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(|e| e.to_string())
}

fn spki_alg(oid: ObjectIdentifier) -> x509_cert::spki::AlgorithmIdentifier<der::Any> {
    x509_cert::spki::AlgorithmIdentifier {
        oid,
        parameters: Some(der::Any::null()),
    }
}

/// A positive DER INTEGER.
fn uint(n: u64) -> Result<Int, String> {
    let mut bytes = vec![0];
    bytes.extend_from_slice(&n.to_be_bytes());
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .map_or(bytes.len() - 1, |p| {
            if bytes[p] & 0x80 != 0 { p - 1 } else { p }
        });
    Int::new(&bytes[start..]).map_err(|e| e.to_string())
}

/// The nonce of a DER time-stamp request this module wrote.
pub fn request_nonce(der: &[u8]) -> Result<u64, String> {
    let req = TimeStampReq::from_der(der).map_err(|e| format!("not a time-stamp request: {e}"))?;
    let n = req.nonce.ok_or("the request has no nonce")?;
    let bytes = n.as_bytes();
    if bytes.len() > 9 {
        return Err("the request's nonce is not one custody writes".into());
    }
    let mut b = [0u8; 8];
    let tail = &bytes[bytes.len().saturating_sub(8)..];
    b[8 - tail.len()..].copy_from_slice(tail);
    Ok(u64::from_be_bytes(b))
}

/// Reads PEM certificates (one or more) into DER.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Certificate>, String> {
    let certs =
        Certificate::load_pem_chain(pem).map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(certs)
}

/// Certificates as PEM, one after another.
pub fn certificates_to_pem(certs: &[Certificate]) -> Result<String, String> {
    use der::EncodePem;
    certs
        .iter()
        .map(|c| {
            c.to_pem(der::pem::LineEnding::LF)
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// One certificate's DER.
pub fn certificate_der(cert: &Certificate) -> Result<Vec<u8>, String> {
    cert.to_der().map_err(|e| e.to_string())
}

/// Verifies a DER time-stamp response, as it is taken in, against `imprint`, the nonce
/// asked for and the trusted certificates: the certificates must be valid at the stamped
/// time and at `now_ms`, this machine's time, and the stamped time at most 10 minutes
/// after it.
pub fn verify(
    response: &[u8],
    imprint: &[u8; 32],
    nonce: u64,
    trusted: &[Certificate],
    now_ms: u64,
) -> Result<Stamp, String> {
    verify_with(response, imprint, Some(nonce), trusted, now_ms, true)
}

/// Verifies a kept response (in a ledger, or a bundle) years after it was taken in: as
/// [`verify`] does, except that the request's nonce is not known, the certificates need be
/// valid only at the stamped time (an authority's certificate expires; what it signed
/// while valid stands), and the stamped time is at most 10 minutes after `latest_ms` (when
/// the response was kept or the bundle made).
pub fn verify_kept(
    response: &[u8],
    imprint: &[u8; 32],
    trusted: &[Certificate],
    latest_ms: u64,
) -> Result<Stamp, String> {
    verify_with(response, imprint, None, trusted, latest_ms, false)
}

fn verify_with(
    response: &[u8],
    imprint: &[u8; 32],
    nonce: Option<u64>,
    trusted: &[Certificate],
    now_ms: u64,
    valid_now: bool,
) -> Result<Stamp, String> {
    if response.len() > MAX_RESPONSE {
        return Err(format!("the response is more than {MAX_RESPONSE} bytes"));
    }
    let resp =
        TimeStampResp::from_der(response).map_err(|e| format!("not a time-stamp response: {e}"))?;
    // DER, exactly: what is verified below is what is kept (a SET out of order, a
    // non-minimal length or a BER form would be encoded again differently).
    if resp.to_der().map_err(|e| e.to_string())? != response {
        return Err("the response is not DER (encoded again, it differs)".into());
    }
    let status = resp.status.status as u8;
    if status > 1 {
        return Err(format!(
            "the authority did not grant the time stamp (status {status})"
        ));
    }
    let token: ContentInfo = resp
        .time_stamp_token
        .ok_or("the response holds no time-stamp token")?;
    if token.content_type != ID_SIGNED_DATA {
        return Err("the token is not CMS SignedData".into());
    }
    let sd_der = token.content.to_der().map_err(|e| e.to_string())?;
    let sd = SignedData::from_der(&sd_der)
        .map_err(|e| format!("the token's SignedData does not decode: {e}"))?;
    // Its signer infos are DER as sent (signed attributes out of order would be sorted as
    // they decode, and the signature checked over bytes that were never sent). Authorities
    // list their certificates in chain order, not sorted, so the rest is not held to it.
    let si_der = sd.signer_infos.to_der().map_err(|e| e.to_string())?;
    if !sd_der.windows(si_der.len()).any(|w| w == si_der.as_slice()) {
        return Err("the token's signer information is not DER (encoded again, it differs)".into());
    }
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err("the token does not hold a TSTInfo".into());
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("the token holds no TSTInfo content")?;
    let tst_der = econtent
        .decode_as::<OctetString>()
        .map_err(|e| format!("the TSTInfo is not an OCTET STRING: {e}"))?
        .into_bytes();
    let tst =
        TstInfo::from_der(&tst_der).map_err(|e| format!("the TSTInfo does not decode: {e}"))?;
    if tst.to_der().map_err(|e| e.to_string())? != tst_der {
        return Err("the TSTInfo is not DER (encoded again, it differs)".into());
    }
    if tst.message_imprint.hash_algorithm.oid != ID_SHA256
        || tst.message_imprint.hashed_message.as_bytes() != imprint
    {
        return Err(
            "the token stamps another message than this checkpoint (its message imprint differs)"
                .into(),
        );
    }
    if let Some(nonce) = nonce
        && tst.nonce.as_ref() != Some(&uint(nonce)?)
    {
        return Err("the token's nonce is not the one asked for".into());
    }
    if tst.extensions.iter().flatten().any(|e| e.critical) {
        return Err("the TSTInfo carries a critical extension custody does not know".into());
    }
    // A token names its signer and, at most, the few certificates up to the root; more
    // would only make the chain search costly.
    let carried = sd.certificates.as_ref().map_or(0, |s| s.0.len());
    if carried > MAX_CARRIED_CERTS {
        return Err(format!(
            "the token carries {carried} certificates; at most {MAX_CARRIED_CERTS} are taken"
        ));
    }
    let signers = sd.signer_infos.0.as_slice();
    let [si] = signers else {
        return Err(format!("the token has {} signers, not one", signers.len()));
    };
    let digest = |alg: &ObjectIdentifier, data: &[u8]| -> Result<Vec<u8>, String> {
        Ok(match *alg {
            ID_SHA256 => sha2_10::Sha256::digest(data).to_vec(),
            ID_SHA384 => sha2_10::Sha384::digest(data).to_vec(),
            ID_SHA512 => sha2_10::Sha512::digest(data).to_vec(),
            _ => return Err(format!("digest algorithm {alg} is not SHA-2")),
        })
    };
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or("the signer has no signed attributes")?;
    let attr = |oid: ObjectIdentifier| -> Result<der::Any, String> {
        let a: Vec<_> = attrs.iter().filter(|a| a.oid == oid).collect();
        match a.as_slice() {
            [one] if one.values.len() == 1 => Ok(one
                .values
                .iter()
                .next()
                .cloned()
                .unwrap_or_else(der::Any::null)),
            _ => Err(format!("the signed attribute {oid} is missing or repeated")),
        }
    };
    if attr(ID_CONTENT_TYPE)?.decode_as::<ObjectIdentifier>().ok() != Some(ID_CT_TST_INFO) {
        return Err("the signed content type is not TSTInfo".into());
    }
    let md = attr(ID_MESSAGE_DIGEST)?
        .decode_as::<OctetString>()
        .map_err(|_| "the signed message digest is not an OCTET STRING")?;
    if md.as_bytes() != digest(&si.digest_alg.oid, &tst_der)? {
        return Err("the signed message digest is not the TSTInfo's".into());
    }
    let certs: Vec<&Certificate> = sd
        .certificates
        .as_ref()
        .map(|s| {
            s.0.iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(c) => Some(c),
                    CertificateChoices::Other(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let signer = certs
        .iter()
        .copied()
        .chain(trusted.iter())
        .find(|c| identifies(&si.sid, c))
        .ok_or("the token names a signing certificate it does not carry")?;
    check_ess_certificate(&attr, signer)?;
    if let Some(tsa) = &tst.tsa
        && *tsa
            != x509_cert::ext::pkix::name::GeneralName::DirectoryName(
                signer.tbs_certificate.subject.clone(),
            )
    {
        return Err("the TSTInfo names another authority than its signer".into());
    }
    let signed = attrs.to_der().map_err(|e| e.to_string())?;
    verify_signature(
        signer,
        &si.signature_algorithm.oid,
        &si.digest_alg.oid,
        &signed,
        si.signature.as_bytes(),
    )
    .map_err(|e| format!("the token's signature does not verify: {e}"))?;
    if !time_stamping_eku(signer) {
        return Err("the signing certificate is not for time stamping (its critical extended key usage must be timeStamping alone)".into());
    }
    let time = tst.gen_time.to_unix_duration();
    let time_ms =
        u64::try_from(time.as_millis()).map_err(|_| "the stamped time is out of range")?;
    if time_ms > now_ms.saturating_add(10 * 60 * 1000) {
        return Err(if valid_now {
            "the stamped time is more than 10 minutes after this machine's clock".into()
        } else {
            format!(
                "the stamped time is more than 10 minutes after {}, when the token was kept",
                crate::record::rfc3339(now_ms)
            )
        });
    }
    // Valid when it signed, and now, as the token is taken in: a certificate that expired
    // (its key retired, perhaps leaked) signs nothing new.
    chain_to_trusted(signer, &certs, trusted, time)?;
    if valid_now {
        chain_to_trusted(
            signer,
            &certs,
            trusted,
            std::time::Duration::from_millis(now_ms),
        )
        .map_err(|e| format!("{e} (checked at this machine's time)"))?;
    }
    // RFC 3161: millis and micros are 1 to 999 when present.
    let accuracy_ms = match &tst.accuracy {
        None => 0,
        Some(a) => {
            let part = |v: Option<i16>| match v {
                None => Ok(0u64),
                Some(n @ 1..=999) => Ok(n as u64),
                Some(_) => {
                    Err("the token's accuracy is malformed (millis and micros are 1 to 999)")
                }
            };
            let (ms, us) = (part(a.millis)?, part(a.micros)?);
            a.seconds
                .unwrap_or(0)
                .saturating_mul(1000)
                .saturating_add(ms)
                .saturating_add(us.div_ceil(1000))
        }
    };
    let serial = tst.serial_number.as_bytes();
    // Positive (not zero, no sign bit), and below 2^160: 20 bytes, or 21 whose first is
    // the zero that keeps the sign bit clear.
    if serial.is_empty()
        || serial[0] & 0x80 != 0
        || serial.iter().all(|&b| b == 0)
        || serial.len() > 21
        || (serial.len() == 21 && serial[0] != 0)
    {
        return Err(
            "the token's serial number is not a positive integer of at most 160 bits".into(),
        );
    }
    Ok(Stamp {
        time_ms,
        authority: signer.tbs_certificate.subject.to_string(),
        serial: hex::encode(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
        signer_sha256: hex::encode(sha2_10::Sha256::digest(
            signer.to_der().map_err(|e| e.to_string())?,
        )),
        accuracy_ms,
    })
}

fn identifies(sid: &SignerIdentifier, c: &Certificate) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            isn.issuer == c.tbs_certificate.issuer
                && isn.serial_number == c.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            c.tbs_certificate.extensions.iter().flatten().any(|e| {
                e.extn_id == ObjectIdentifier::new_unwrap("2.5.29.14")
                    && OctetString::from_der(e.extn_value.as_bytes())
                        .is_ok_and(|v| v.as_bytes() == ski.0.as_bytes())
            })
        }
    }
}

/// The certificate's extended key usage is critical and timeStamping alone (RFC 3161
/// 2.3), and its key usage, when present, allows signatures.
fn time_stamping_eku(c: &Certificate) -> bool {
    use x509_cert::ext::pkix::{KeyUsage, KeyUsages};
    let exts = || c.tbs_certificate.extensions.iter().flatten();
    let eku = exts().any(|e| {
        e.extn_id == ID_CE_EXT_KEY_USAGE
            && e.critical
            && Vec::<ObjectIdentifier>::from_der(e.extn_value.as_bytes())
                .is_ok_and(|v| v == [ID_KP_TIME_STAMPING])
    });
    let usage = exts()
        .find(|e| e.extn_id == ObjectIdentifier::new_unwrap("2.5.29.15"))
        .is_none_or(|e| {
            KeyUsage::from_der(e.extn_value.as_bytes()).is_ok_and(|k| {
                k.0.contains(KeyUsages::DigitalSignature) || k.0.contains(KeyUsages::NonRepudiation)
            })
        });
    eku && usage
}

/// The certificate may issue certificates: basicConstraints CA true, and keyUsage (when
/// present) with keyCertSign.
fn is_ca(c: &Certificate) -> bool {
    use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
    let ext = |oid: &str| {
        c.tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == ObjectIdentifier::new_unwrap(oid))
    };
    let ca = ext("2.5.29.19")
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|b| b.ca);
    let signs_certs = match ext("2.5.29.15") {
        None => true,
        Some(e) => KeyUsage::from_der(e.extn_value.as_bytes())
            .is_ok_and(|k| k.0.contains(KeyUsages::KeyCertSign)),
    };
    ca && signs_certs
}

/// What RFC 5280 asks of any certificate custody relies on: version 3, each extension at
/// most once, no critical extension it does not enforce, the inner signature algorithm the
/// outer one.
fn well_formed(c: &Certificate) -> Result<(), String> {
    let tbs = &c.tbs_certificate;
    let who = || tbs.subject.to_string();
    if tbs.version != x509_cert::Version::V3 || tbs.signature != c.signature_algorithm {
        return Err(format!(
            "the certificate of {} is not a well-formed v3 certificate",
            who()
        ));
    }
    let exts: Vec<_> = tbs.extensions.iter().flatten().collect();
    for (i, e) in exts.iter().enumerate() {
        if exts[..i].iter().any(|o| o.extn_id == e.extn_id) {
            return Err(format!(
                "the certificate of {} repeats extension {}",
                who(),
                e.extn_id
            ));
        }
        let known = ["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17"]
            .iter()
            .any(|k| e.extn_id == ObjectIdentifier::new_unwrap(k));
        if e.critical && !known {
            return Err(format!(
                "the certificate of {} has a critical extension custody does not enforce ({})",
                who(),
                e.extn_id
            ));
        }
    }
    Ok(())
}

/// The ESS signing-certificate attribute (RFC 3161 2.4.1, RFC 5816) names the signer's
/// certificate by its hash: signingCertificateV2 (SHA-256/384/512) or signingCertificate
/// (SHA-1), exactly one of them, and its first certificate is the signer's.
fn check_ess_certificate(
    attr: &dyn Fn(ObjectIdentifier) -> Result<der::Any, String>,
    signer: &Certificate,
) -> Result<(), String> {
    let v2 = attr(ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47"));
    let v1 = attr(ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12"));
    let cert = signer.to_der().map_err(|e| e.to_string())?;
    let missing =
        || "the token does not name its signing certificate (ESS signingCertificate)".to_string();
    // SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), ... }: the
    // fields of the first ESSCertID.
    let first_id = |a: &der::Any| -> Result<Vec<der::Any>, String> {
        let outer: Vec<der::Any> = a.decode_as().map_err(|_| missing())?;
        let certs: Vec<der::Any> = outer
            .first()
            .ok_or_else(missing)?
            .decode_as()
            .map_err(|_| missing())?;
        certs
            .first()
            .ok_or_else(missing)?
            .decode_as()
            .map_err(|_| missing())
    };
    let (hash, expected) = match (v2, v1) {
        (Ok(a), Err(_)) => {
            let id = first_id(&a)?;
            let (alg, hash) = match id.as_slice() {
                [h, ..] if h.tag() == der::Tag::OctetString => (ID_SHA256, h.clone()),
                [alg, h, ..] => (
                    alg.decode_as::<x509_cert::spki::AlgorithmIdentifierOwned>()
                        .map_err(|_| missing())?
                        .oid,
                    h.clone(),
                ),
                _ => return Err(missing()),
            };
            let expected = match alg {
                ID_SHA256 => sha2_10::Sha256::digest(&cert).to_vec(),
                ID_SHA384 => sha2_10::Sha384::digest(&cert).to_vec(),
                ID_SHA512 => sha2_10::Sha512::digest(&cert).to_vec(),
                _ => {
                    return Err(format!(
                        "the signing certificate is named by {alg}, not SHA-2"
                    ));
                }
            };
            (hash, expected)
        }
        (Err(_), Ok(a)) => {
            let id = first_id(&a)?;
            (
                id.first().ok_or_else(missing)?.clone(),
                sha1::Sha1::digest(&cert).to_vec(),
            )
        }
        _ => return Err(missing()),
    };
    let hash: OctetString = hash.decode_as().map_err(|_| missing())?;
    if hash.as_bytes() != expected {
        return Err(
            "the token names another signing certificate than the one that signed it".into(),
        );
    }
    Ok(())
}

/// A CA certificate's path length constraint, if it has one.
fn path_len(c: &Certificate) -> Option<u8> {
    use x509_cert::ext::pkix::BasicConstraints;
    c.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ObjectIdentifier::new_unwrap("2.5.29.19"))
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .and_then(|b| b.path_len_constraint)
}

fn valid_at(c: &Certificate, t: std::time::Duration) -> bool {
    let v = &c.tbs_certificate.validity;
    v.not_before.to_unix_duration() <= t && t <= v.not_after.to_unix_duration()
}

/// The signing certificate is trusted itself, or issued by a trusted certificate through
/// at most three carried intermediates, each signature checked, each valid at `t`.
fn chain_to_trusted(
    leaf: &Certificate,
    carried: &[&Certificate],
    trusted: &[Certificate],
    t: std::time::Duration,
) -> Result<(), String> {
    let mut cert = leaf;
    // `below`: the CA certificates between `cert`'s issuer and the signing certificate,
    // which the issuer's path length constraint bounds.
    for below in 0..4u8 {
        well_formed(cert)?;
        if !valid_at(cert, t) {
            return Err(format!(
                "the certificate of {} was not valid at the stamped time",
                cert.tbs_certificate.subject
            ));
        }
        if trusted.iter().any(|tr| tr == cert) {
            return Ok(());
        }
        let tbs = cert.tbs_certificate.to_der().map_err(|e| e.to_string())?;
        let sig = cert
            .signature
            .as_bytes()
            .ok_or("a certificate signature with unused bits")?;
        let issued_by = |issuer: &Certificate| {
            is_ca(issuer)
                && path_len(issuer).is_none_or(|p| below <= p)
                && issuer.tbs_certificate.subject == cert.tbs_certificate.issuer
                && verify_signature(
                    issuer,
                    &cert.signature_algorithm.oid,
                    &cert.signature_algorithm.oid,
                    &tbs,
                    sig,
                )
                .is_ok()
        };
        if let Some(root) = trusted.iter().find(|r| issued_by(r)) {
            well_formed(root)?;
            if !valid_at(root, t) {
                return Err("the trusted certificate was not valid at the stamped time".into());
            }
            return Ok(());
        }
        match carried.iter().copied().find(|c| *c != cert && issued_by(c)) {
            Some(next) => cert = next,
            None => break,
        }
    }
    Err(format!(
        "the certificate of {} does not lead to a trusted certificate (give the authority's root with --tsa-cert)",
        leaf.tbs_certificate.subject
    ))
}

/// Verifies `sig` over `msg` by the key of `cert`, with the signature algorithm `alg` (for
/// a bare rsaEncryption or ecPublicKey, the digest `digest_alg`).
fn verify_signature(
    cert: &Certificate,
    alg: &ObjectIdentifier,
    digest_alg: &ObjectIdentifier,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("a public key with unused bits")?;
    let bad = |e: &dyn std::fmt::Display| e.to_string();
    match spki.algorithm.oid {
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            use p256::ecdsa::signature::Verifier;
            match (curve, *alg, *digest_alg) {
                (Some(P256), ECDSA_SHA256, ID_SHA256 | ECDSA_SHA256)
                | (Some(P256), EC_PUBLIC_KEY, ID_SHA256) => {
                    let vk =
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|e| bad(&e))?;
                    let s = p256::ecdsa::Signature::from_der(sig).map_err(|e| bad(&e))?;
                    vk.verify(msg, &s).map_err(|e| bad(&e))
                }
                (Some(P384), ECDSA_SHA384, ID_SHA384 | ECDSA_SHA384)
                | (Some(P384), EC_PUBLIC_KEY, ID_SHA384) => {
                    let vk =
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|e| bad(&e))?;
                    let s = p384::ecdsa::Signature::from_der(sig).map_err(|e| bad(&e))?;
                    vk.verify(msg, &s).map_err(|e| bad(&e))
                }
                _ => Err(format!("ECDSA with {alg} on this curve is not supported")),
            }
        }
        RSA_ENCRYPTION => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::pkcs1v15::{Signature, VerifyingKey};
            use rsa::signature::Verifier;
            let pk = rsa::RsaPublicKey::from_pkcs1_der(key).map_err(|e| bad(&e))?;
            let s = Signature::try_from(sig).map_err(|e| bad(&e))?;
            let hash = match (*alg, *digest_alg) {
                (SHA256_RSA, ID_SHA256 | SHA256_RSA) | (RSA_ENCRYPTION, ID_SHA256) => ID_SHA256,
                (SHA384_RSA, ID_SHA384 | SHA384_RSA) | (RSA_ENCRYPTION, ID_SHA384) => ID_SHA384,
                (SHA512_RSA, ID_SHA512 | SHA512_RSA) | (RSA_ENCRYPTION, ID_SHA512) => ID_SHA512,
                _ => {
                    return Err(format!(
                        "RSA with {alg} and digest {digest_alg} is not supported"
                    ));
                }
            };
            match hash {
                ID_SHA256 => VerifyingKey::<sha2_10::Sha256>::new(pk).verify(msg, &s),
                ID_SHA384 => VerifyingKey::<sha2_10::Sha384>::new(pk).verify(msg, &s),
                _ => VerifyingKey::<sha2_10::Sha512>::new(pk).verify(msg, &s),
            }
            .map_err(|e| bad(&e))
        }
        other => Err(format!(
            "public keys of algorithm {other} are not supported"
        )),
    }
}
