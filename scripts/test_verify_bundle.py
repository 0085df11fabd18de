"""Tests for scripts/verify_bundle.py, the independent bundle verifier.

Run from the repository root:

    python3 -m unittest scripts/test_verify_bundle.py

They use the known-answer vectors in tests/vectors/kat/, the insecure test
keys in keys/, the standard library, `cryptography` and `asn1crypto` (and,
for the attested bundles at the end, the custody binary and openssl):

* every KAT record is decoded and its leaf hash, statement signature, the
  Merkle roots, the inclusion proof and the signed checkpoint are re-checked;
  every fail_record_*.hex and fail_checkpoint_*.txt is rejected;
* the strict Ed25519 rules (small-order table, S < L, non-canonical keys) are
  checked against an independent pure-Python curve computation;
* a small ledger is built here record by record (SPEC sections 2-6: genesis by
  the ledger key, an authorisation of the investigator key, then evidence,
  leaves, tree, proofs and a signed checkpoint), and court bundles are built
  from it exactly as SPEC.md section 11 describes (with the genesis and the
  authorisations in `supporting`); they must verify, while tampered and
  unsafe variants must be refused with the right exit code;
* bundles whose records break the key authority and custody rules of SPEC
  4.1 (unauthorised or wrong-role signers, compromised keys, hand-overs by a
  non-holder, acceptances by the wrong key, a missing record 0, ...) fail
  the "authority" / "custody" checks, while a valid custody chain with a
  pending transfer passes and is reported;
* the SPEC revision "the rules stated once", one class per point:
  ledger-key and cancel statements and role ledger (LedgerKeyAndCancelTests),
  the consent vocabulary (ConsentTests), the new 4.1 state: taint, retired
  then compromised keys, the ledger key in force, "another admin is active",
  statements that count once, the verdicts and the checkpoint rule
  (AuthorityStateTests), the time rules a bundle can show (TimeOrderTests),
  the "every byte is accounted for" archive rule (ArchiveAccountingTests),
  include_failing, supporting `content`, exported_at, times up to the year
  9999 and key fields (ManifestRevisionTests), --trust / --no-trust and the
  report note (TrustAndReportTests), one JSON object on every outcome
  (JsonEveryOutcomeTests), and a bundle made of custody's own
  tests/vectors/kat/authority.json records (AuthorityKnownAnswerTests);
* the SPEC revision "adversary findings", one class per point: key files
  exactly the canonical SPKI PEM, including the differential case of a final
  newline flipped to 0x0B (ExactKeyFileTests); exactly the manifest's
  members, strictly increasing seq, non-empty reasons, checkpoint_file and
  record 0 never an exhibit (StrictManifestMemberTests); compromise
  declarations that add up, the ledger key in force never revoked, a
  declaration standing when its signer is found compromised
  (CompromisesAddUpTests); an untainted checkpoint key and the one verdict
  check 12 excuses, a flagged ledger-key record of a superseded key
  (CheckpointKeyUntaintedTests); no empty line in a checkpoint's text
  (CheckpointEmptyLineTests); a ZIP64 end record of exactly 56 bytes
  (Zip64EndRecordSizeTests); no time-order or future-dated rule in a bundle
  (BundleTimeOrderTests); and consent only for exhibits that reveal text
  (ConsentRevealTests).  Tests whose expectations that revision overturned
  (a second compromise, retiring the ledger key in force) were rewritten.
* the SPEC revision "second adversarial round", one class per point: no
  compromise declaration makes its own signer compromised for it or tainted
  (a key declaring itself compromised, the genesis key from record 0, an
  authoriser up the signer's chain: refused as `unauthorized`, changing
  nothing) (RevokeVoidsNoSignerTests); check 12 names, rather than fails,
  only two verdicts on SUPPORTING records, a flagged revoke record and a
  flagged ledger-key record of a superseded key, and always judges exhibits
  (SupportingVerdictsNamedTests); include_failing changes no verdict
  (IncludeFailingChangesNoVerdictTests); and the time-order wording, under
  which a bundle's verdicts depend neither on a neighbouring record's time
  nor on the day of the check (BundleTimeOrderWordingTests).  Tests whose
  expectations that revision overturned (the genesis key declared
  compromised from record 0, a flagged supporting declaration) were
  rewritten.
* the SPEC revision "third adversarial round", one class per point: a
  non-null include_failing never verifies as passed, failing the check
  `included-failing` listed first, with the other failing checks shown too
  (IncludedFailingTests); a flagged supporting transfer record that was
  cancelled is named rather than failed, exhibits still always judged
  (CancelledTransferNamedTests); a member name repeated in any object of the
  manifest, `body`, `effective`, `content` and `files` included, however
  escaped, is an error (RepeatedMemberNameTests); a checkpoint key not in
  force or tainted is `checkpoint-key`, `checkpoint-compromised` only a
  compromise covering record N - 1 (CheckpointCodeTests); verdicts judge only
  records that obeyed the rules, a refused record is `unauthorized` alone
  (VerdictsOnlyOnObeyedRecordsTests); and the "keys NOT pinned" last line only
  with --no-trust, also when the manifest does not parse (NotPinnedLineTests).
  Tests whose expectations that revision overturned (a reason on a bundle
  that otherwise passes used to pass: ManifestRevisionTests,
  StrictManifestMemberTests, IncludeFailingChangesNoVerdictTests,
  TerminalSafetyTests) were rewritten.
* robustness against hostile inputs and hostile terminals (no verdict
  changes): the bundle, --trust files and --media-dir files are regular files
  opened without blocking and read within bounds, a FIFO (os.mkfifo),
  /dev/zero, a directory, a socket and an oversized --trust file being
  refused promptly with exit 2 (BoundedInputTests, run in a child process
  with a timeout where a regression would block); every string from outside
  reaches the text output and stderr with its control characters and
  bidirectional controls escaped as \\u{XXXX}: a member name with ESC
  sequences (unsafe, exit 2) or with U+202E (an added file, exit 1), manifest
  fields, paths and argparse messages (TerminalSafetyTests); and one JSON
  object with --json on each of these refusals and on an unexpected error
  (JsonOnEveryRefusalTests).

* the SPEC revision "attestations" (11.1 `attest/` and `tsa/` members, 11.2
  `attestations`, 11.3 checks 4 and 15 to 17, sections 13 and 14), one class
  per part: RFC 9162 consistency proofs against an independent PROOF/SUBPROOF
  written here, every pair of sizes up to 20 (ConsistencyProofTests); DER
  exactly, primitive and schema rules, deep nesting (DerTests); RFC 3161
  rules 1 to 6 on tokens built here with asn1crypto and `cryptography` from an
  in-test authority, each test bending one rule of a token that verifies (and
  that `openssl ts -verify` accepts) (TokenTests); cosignature/v1 keys and
  messages (CosignatureUnitTests); the Sigsum policy format and each of its
  rules, exit 2 naming the line (PolicyTests); and real bundles made by the
  custody binary ($CUSTODY_BIN, default /tmp/pyhelper/custody) with openssl
  as the authority and witnesses on free loopback ports (the steps of the
  project's mk.sh, in MAKE_ATTESTED_BUNDLE): P-256 with one witness
  (AttestedBundleTests), RSA under an intermediate CA with two witnesses and
  a group policy (AttestedRsaBundleTests, the same tests), P-384/SHA-384
  (AttestedP384BundleTests).  Each edit of such a bundle (a token byte, a
  swapped token, a cosignature line, a consistency proof, manifest times, a
  certificate file, an unknown member, ...) is made with the manifest signed
  again and SHA256SUMS rebuilt, so that only the attestation checks can catch
  it; rebuilding alone changes nothing (the control).  Those tests are
  skipped, saying why, without the binary, openssl or bash.

* the SPEC revision "attestations, adversarial follow-up", on bundles attested
  here (Attester: attested checkpoints, consistency proofs, cosignatures by
  witness keys made here and tokens by an in-test authority, report.html and
  VERIFY.txt left out) in AttestationFollowUpTests, and on custody's own
  bundles (AttestedBundleTests): the bounds of 11.2 (99 cosignatures, 16
  tokens, 8 certificates a token, 2 x exhibits + 1 attestations; when any
  rule of check 4 on the attestations fails, none of them is worked through
  by checks 15 and 16 (SPEC follow-up 4));
  exactly one signature line on an attested checkpoint; a witness is a key
  (one key under two names counted once) and never a key of the bundle's
  own (ledger, exporter, signers, keys records name or hand to); the
  attestation times (a floor 10 minutes before the last record covered, a
  ceiling 10 minutes after the export); a `tsa/` member over 64 KiB refused
  unread; serials above 0 and below 2^160 and accuracies of section 14 rule
  2 (TokenTests too); `pinned witnesses` of check 17; the pinning notes
  (`tsa_pinned`, `witnesses_pinned`, a NOTE before the verdict); and no
  attestation crashing the verifier.  Wherever the custody binary is there,
  it is asked the same question and must give the same exit code
  (assertAgree).  Tests whose expectations that revision overturned (a
  policy naming only some of the bundle's witnesses, or none, used to pass:
  test_policies) were rewritten.

* the SPEC revision "follow-up 4" (SpecFollowUp4Tests): at most 1,024
  time-stamp tokens in all, on real bundles of 32 exhibits and 65
  attestations (1,024 tokens pass whole, 1,025 fail check 4 alone, with
  checks 15 and 16 working through no attestation), the count over every
  `timestamps` entry as written, and one broken attestation rule leaving
  every attestation unchecked; the custody binary must agree on exit codes.

* the SPEC revision "sealed content" (statement kinds 10 seal-to, 11 consent
  and 12 erase; the consent in force; erasure): the new bodies decode strictly
  and re-encode to the same bytes, a seal-to `count` of 0 or 17, truncated
  bodies and trailing bytes refused (SealConsentEraseDecodingTests); bech32 of
  BIP 173 against its vectors, age's own recipients (pyrage) and one custody
  generated (Bech32Tests); the rules of 4.1 for the new kinds and for amend
  (SealConsentEraseRuleTests); the consent in force, a last consent record that
  does not stand, a stolen key that can withdraw consent but never grant it,
  flagged consent records named by check 12 (ConsentInForceTests); no record
  reveals an erased testimony's text, flagged erase records named
  (ErasureTests); and real bundles of a sealed ledger made by the custody
  binary, as made and edited (CustodySealedBundleTests).  These tests ask
  the custody binary ($CUSTODY_BIN) only when it knows the new kinds (an older
  one is skipped with the reason), and it must give the same exit code.

* the SPEC revision "target_statement": consent (kind 11) and erase (kind 12)
  bodies are `target: u64`, `target_statement: bytes[32]`, then the text,
  shown in 11.2 as {target, target_statement (hex), consent|reason}; the new
  layout decodes and re-encodes, the old one and short digests are refused
  (SealConsentEraseDecodingTests; every consent and erase statement built by
  hand here uses the new layout); 4.1's digest rule, a wrong digest of every
  near miss (another record's statement, the record bytes, the leaf hash,
  one bit off) `unauthorized` and changing nothing, and a consent change and
  an erasure copied from another ledger's record of the same number refused
  (SealConsentEraseRuleTests); the recipients in force as those of the last
  seal-to record that stands; tests/vectors/kat/sealing.json decoded to
  exactly its bodies and leaf hashes, replayed and bundled
  (SealingKnownAnswerTests); and real bundles of the new binary, which
  carries only the consent and erase records that stand, with the thief's
  consent record moved back among the supporting records by hand
  (CustodySealedBundleTests).

* the SPEC revision "a text counts once" (4.1): a testimony or an amendment
  with a new text whose commitment an earlier record's text of the bundle
  has (a testimony's or an amendment's, obeying the rules or not) is
  `unauthorized`: a testimony exhibit repeating a supporting amendment's or a
  testimony's text, an amendment repeating a text, a testimony statement
  appended twice (after its consent was withdrawn), bundles leaving the
  earlier record out (which pass: "among the records at hand"), and a bundle
  custody made with the same words three times under fresh salts
  (TextCountsOnceTests, the custody binary agreeing).  TestLedger gives a
  testimony or amended text of the default salt a fresh salt when its
  commitment is already in the ledger, so that only a test that means a
  repeat makes one.

Every verifier run passes --no-trust unless a test gives --trust (SPEC 11.3
check 10 makes one of them mandatory).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import unittest
import warnings
import zipfile
import zlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KAT = ROOT / "tests" / "vectors" / "kat"
KEYS = ROOT / "keys"
SCRIPT = HERE / "verify_bundle.py"

sys.path.insert(0, str(HERE))
import verify_bundle as vb  # noqa: E402

LEDGER = json.loads((KAT / "ledger.json").read_text())
ORIGIN = LEDGER["origin"]
LEDGER_PUB = bytes.fromhex(LEDGER["ledger_public_key_hex"])
CHECKPOINT_BYTES = (KAT / "checkpoint.txt").read_bytes()
TESTIMONY_TEXT = LEDGER["testimony"]["text"].encode("utf-8")
TESTIMONY_SALT = bytes.fromhex(LEDGER["testimony"]["salt_hex"])


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def load_private(name: str):
    return serialization.load_pem_private_key((KEYS / f"{name}.insecure.key").read_bytes(), password=None)


def raw_public(private) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


LEDGER_KEY = load_private("test-ledger")
INVESTIGATOR_KEY = load_private("test-investigator")
INVESTIGATOR_PUB = raw_public(INVESTIGATOR_KEY)


def kid(pub: bytes) -> str:
    return sha256(pub)[:4].hex()


# --- an RFC 9162 Merkle tree, written here independently of the verifier -----

def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def audit_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D[n]), leaf sibling first."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return audit_path(m, leaves[:k]) + [mth(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [mth(leaves[:k])]


LEAVES = [bytes.fromhex(r["leaf_hash_hex"]) for r in LEDGER["records"]]


# --- Edwards25519 in pure Python, only to check the small-order table --------

P = 2 ** 255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decode_point(encoding: bytes):
    """RFC 8032 decoding, but tolerant of y >= p (as lax decoders are)."""
    y = int.from_bytes(encoding, "little") & ((1 << 255) - 1)
    sign = encoding[31] >> 7
    y %= P
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return (0, y)  # x = 0; the sign bit is ignored here (it is a non-canonical form)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y)


def point_add(a, b):
    x1, y1 = a
    x2, y2 = b
    t = D * x1 * x2 * y1 * y2
    return ((x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P,
            (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P)


def times8(point):
    for _ in range(3):
        point = point_add(point, point)
    return point


# --- bech32 (BIP 173), written here apart from the verifier's, for age recipients --

BECH32_ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_checksum_state(hrp: str, values: list[int]) -> int:
    state = 1
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values:
        top, state = state >> 25, ((state & 0x1FFFFFF) << 5) ^ v
        for bit, g in zip(range(5), (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            state ^= g if (top >> bit) & 1 else 0
    return state


def bech32_of(hrp: str, data: bytes) -> str:
    """bech32 of bytes: the bits in groups of five (the last padded with zeros), then the checksum."""
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    values = [int(bits[i:i + 5], 2) for i in range(0, len(bits), 5)]
    state = _bech32_checksum_state(hrp, values + [0] * 6) ^ 1
    values += [(state >> (5 * (5 - i))) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_ALPHABET[v] for v in values)


def bech32_bytes(text: str, hrp: str) -> bytes:
    """The bytes of a bech32 string of `hrp` (either case, not mixed), its checksum checked."""
    if text.lower() != text and text.upper() != text:
        raise ValueError("mixed case")
    text = text.lower()
    head, _, tail = text.rpartition("1")
    if head != hrp.lower() or len(tail) < 6:
        raise ValueError(f"not a bech32 string of {hrp!r}")
    values = [BECH32_ALPHABET.index(c) for c in tail]
    if _bech32_checksum_state(head, values) != 1:
        raise ValueError("bad checksum")
    bits = "".join(f"{v:05b}" for v in values[:-6])
    pad = len(bits) % 8
    if pad >= 5 or "1" in bits[len(bits) - pad:]:
        raise ValueError("bad padding")
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits) - pad, 8))


def x25519_public(label: str) -> bytes:
    """A deterministic X25519 public key (an age recipient's key) for tests."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    return X25519PrivateKey.from_private_bytes(sha256(label.encode())).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- building bundles exactly as SPEC.md section 11 describes -----------------

def rfc3339(ms: int) -> str:
    import datetime
    if ms > 253402300799999:
        return "(after the year 9999)"
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def tlog_proof(seq: int, hashes: list[bytes], checkpoint: bytes) -> bytes:
    lines = ["c2sp.org/tlog-proof@v1", f"index {seq}"] + [b64(h) for h in hashes]
    return ("\n".join(lines) + "\n\n").encode("ascii") + checkpoint


BODIES = {
    0: {"origin": ORIGIN},
    1: {"subject": "W-17", "language": "en", "consent": "court", "location": None,
        "commitment": "c390d1ff94c7dd716431359663b16fa031c9612bb131a4f0aa9f94d86bbd0469", "content_length": 47},
    2: {"sha256": "021161b4da1759255270625d375ba23fdd2d77d240e1d3f2626c713b4a852e9e", "size": 14,
        "name": "clip-001.mp4", "media_type": "video/mp4", "description": "phone footage"},
    3: {"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "size": 0,
        "name": None, "media_type": None, "description": None},
}
EMPTY_SHA = BODIES[3]["sha256"]


# --- a small ledger built here from SPEC sections 2-4, with the insecure keys -----
#
# The KAT ledger.json alone is no longer a valid ledger under SPEC 4.1 (its
# investigator is never authorised), so the bundles below come from a ledger
# written here record by record: canonical statements (section 3), records
# (section 4), leaf hashes, the RFC 9162 tree, inclusion proofs and a
# checkpoint signed by the ledger key (section 6).  The encoders are this
# file's own, not the verifier's decoders.

T0 = 1767225600000          # 2026-01-01T00:00:00.000Z
ROLES = {"admin": 0, "investigator": 1, "custodian": 2, "auditor": 3, "ledger": 4}
REASONS = {"retired": 0, "compromised": 1}
KINDS = {"genesis": 0, "testimony": 1, "media": 2, "authorize": 3, "revoke": 4, "transfer": 5,
         "accept": 6, "amend": 7, "ledger-key": 8, "cancel": 9, "seal-to": 10, "consent": 11, "erase": 12}


def enc_u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def enc_bytes(b: bytes) -> bytes:
    return len(b).to_bytes(4, "big") + b


def enc_text(t: str) -> bytes:
    return enc_bytes(t.encode("utf-8"))


def enc_opt(t: str | None) -> bytes:
    return b"\x00" if t is None else b"\x01" + enc_text(t)


def make_key(label: str) -> Ed25519PrivateKey:
    """A deterministic extra test key (never a secret: its seed is SHA-256 of the label)."""
    return Ed25519PrivateKey.from_private_bytes(sha256(label.encode()))


def spki_pem(pub: bytes) -> bytes:
    return Ed25519PublicKey.from_public_bytes(pub).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


CUSTODIAN_A = make_key("custodian A")
CUSTODIAN_B = make_key("custodian B")
CUSTODIAN_C = make_key("custodian C")
ADMIN_2 = make_key("second admin")
AUDITOR = make_key("auditor")
STRANGER = make_key("never authorised")
CLIP = b"phone footage!"            # 14 bytes, a media file not put in the bundle


class TestLedger:
    """Appends whatever it is told to (it enforces no rule: tests build bad ledgers too)."""

    def __init__(self, origin: str = ORIGIN, ledger_key=LEDGER_KEY):
        self.origin, self.ledger_key = origin, ledger_key
        self.ledger_pub = raw_public(ledger_key)      # the genesis (first ledger) key
        self.checkpoint_key = ledger_key               # the key that signs checkpoints
        self.entries: list[dict] = []
        self.content: dict[int, tuple[bytes, bytes]] = {}   # seq -> (salt, text)
        self.media: dict[int, bytes] = {}                    # seq -> file bytes

    def append(self, signer, kind: str, body: bytes, body_json: dict, claimed=None, recorded=None) -> int:
        seq = len(self.entries)
        if recorded is None:
            recorded = T0 + 1000 * seq + 500
        if claimed is None:
            claimed = recorded - 500
        pub = raw_public(signer)
        statement = bytes([1, KINDS[kind]]) + enc_u64(claimed) + pub + body
        signature = signer.sign(b"custody/v1/statement\n" + statement)
        prev = self.entries[-1]["leaf"] if self.entries else bytes(32)
        record = b"\x01" + enc_u64(seq) + prev + enc_u64(recorded) + enc_bytes(statement) + signature
        self.entries.append({"seq": seq, "kind": kind, "record": record, "statement": statement,
                             "signature": signature, "signer": pub, "claimed": claimed, "recorded": recorded,
                             "body": body_json, "prev": prev, "leaf": sha256(b"\x00" + record)})
        return seq

    # -- one method per statement kind (SPEC section 3) --------------------------

    def genesis(self, **kw) -> int:
        return self.append(self.ledger_key, "genesis", enc_text(self.origin), {"origin": self.origin}, **kw)

    def fresh_salt(self, salt: bytes | None, default: bytes, text: bytes) -> bytes:
        """The salt given, else `default`, unless a text of this ledger already has that commitment: then a
        salt of its own (SPEC 4.1, a text counts once: an honest text has a fresh salt, so a test's
        second testimony of the default text is not a repeat; a test that wants one passes the salt)."""
        if salt is not None:
            return salt
        taken = {sha256(s + t) for s, t in self.content.values()}
        if sha256(default + text) not in taken:
            return default
        return sha256(b"fresh test salt %d" % len(self.entries))

    def testimony(self, signer, text: bytes = TESTIMONY_TEXT, salt: bytes | None = None, consent="court",
                  subject="W-17", **kw) -> int:
        salt = self.fresh_salt(salt, TESTIMONY_SALT, text)
        commitment = sha256(salt + text)
        body = (enc_text(subject) + enc_text("en") + enc_opt(consent) + enc_opt(None) + commitment
                + enc_u64(len(text)))
        seq = self.append(signer, "testimony", body,
                          {"subject": subject, "language": "en", "consent": consent, "location": None,
                           "commitment": commitment.hex(), "content_length": len(text)}, **kw)
        self.content[seq] = (salt, text)
        return seq

    def media_record(self, signer, data: bytes, name=None, media_type=None, description=None, provide=True,
                     **kw) -> int:
        digest = sha256(data)
        body = digest + enc_u64(len(data)) + enc_opt(name) + enc_opt(media_type) + enc_opt(description)
        seq = self.append(signer, "media", body, {"sha256": digest.hex(), "size": len(data), "name": name,
                                                  "media_type": media_type, "description": description}, **kw)
        if provide:
            self.media[seq] = data
        return seq

    def authorize(self, key: bytes, name: str, role: str, by=None, role_code=None, **kw) -> int:
        code = ROLES[role] if role_code is None else role_code
        body = key + enc_text(name) + bytes([code])
        return self.append(by or self.ledger_key, "authorize", body,
                           {"key": b64(key), "key_id": kid(key), "name": name, "role": role}, **kw)

    def revoke(self, key: bytes, reason: str, effective="now", by=None, **kw) -> int:
        """effective: "now", ("seq", n) or ("time", ms)."""
        if effective == "now":
            eff, eff_json = b"\x00", "now"
        elif effective[0] == "seq":
            eff, eff_json = b"\x01" + enc_u64(effective[1]), {"seq": effective[1]}
        else:
            eff, eff_json = b"\x02" + enc_u64(effective[1]), {"time_ms": effective[1],
                                                              "time": rfc3339(effective[1])}
        body = key + bytes([REASONS[reason]]) + eff
        return self.append(by or self.ledger_key, "revoke", body,
                           {"key": b64(key), "key_id": kid(key), "reason": reason, "effective": eff_json}, **kw)

    def transfer(self, signer, exhibit: int, to: bytes, reason="hand-over to the lab", location=None, **kw) -> int:
        body = enc_u64(exhibit) + to + enc_text(reason) + enc_opt(location)
        return self.append(signer, "transfer", body, {"exhibit": exhibit, "to": b64(to), "to_key_id": kid(to),
                                                      "reason": reason, "location": location}, **kw)

    def accept(self, signer, transfer: int, **kw) -> int:
        return self.append(signer, "accept", enc_u64(transfer), {"transfer": transfer}, **kw)

    def replay(self, seq: int, **kw) -> int:
        """Append a new record carrying exactly the statement and signature of record `seq`."""
        old = self.entries[seq]
        new = len(self.entries)
        recorded = kw.get("recorded", T0 + 1000 * new + 500)
        prev = self.entries[-1]["leaf"]
        record = (b"\x01" + enc_u64(new) + prev + enc_u64(recorded) + enc_bytes(old["statement"])
                  + old["signature"])
        self.entries.append(dict(old, seq=new, record=record, recorded=recorded, prev=prev,
                                 leaf=sha256(b"\x00" + record)))
        if seq in self.content:
            self.content[new] = self.content[seq]
        return new

    def cancel(self, signer, transfer: int, **kw) -> int:
        return self.append(signer, "cancel", enc_u64(transfer), {"transfer": transfer}, **kw)

    def ledger_key_record(self, new_key, by=None, switch=True, **kw) -> int:
        """A ledger-key statement naming new_key's public key; with `switch`, this ledger's
        checkpoints are signed by new_key from then on (SPEC section 6)."""
        pub = raw_public(new_key) if not isinstance(new_key, bytes) else new_key
        seq = self.append(by or self.ledger_key, "ledger-key", pub, {"key": b64(pub), "key_id": kid(pub)}, **kw)
        if switch:
            self.checkpoint_key = new_key
        return seq

    def amend(self, signer, target: int, reason="correction", description=None, text=None,
              salt: bytes | None = None, **kw) -> int:
        if text is not None:
            salt = self.fresh_salt(salt, b"\x33" * 32, text)
        if text is None:
            content, commitment, length = b"\x00", None, None
        else:
            c = sha256(salt + text)
            content, commitment, length = b"\x01" + c + enc_u64(len(text)), c.hex(), len(text)
        body = enc_u64(target) + enc_text(reason) + enc_opt(description) + content
        seq = self.append(signer, "amend", body, {"target": target, "reason": reason, "description": description,
                                                  "commitment": commitment, "content_length": length}, **kw)
        if text is not None:
            self.content[seq] = (salt, text)
        return seq

    def seal_to(self, recipients: list[bytes], by=None, **kw) -> int:
        """A seal-to statement (kind 10): count, then the 32-byte X25519 keys; 11.2 body: their age1 strings."""
        body = bytes([len(recipients)]) + b"".join(recipients)
        return self.append(by or self.ledger_key, "seal-to", body,
                           {"recipients": [bech32_of("age", r) for r in recipients]}, **kw)

    def target_digest(self, target: int) -> bytes:
        """SPEC section 3, consent and erase: `target_statement` = H(statement bytes of record target);
        for a record this ledger does not have (yet), 32 zero bytes."""
        return sha256(self.entries[target]["statement"]) if target < len(self.entries) else bytes(32)

    def consent(self, signer, target: int, scope: str, target_statement: bytes | None = None, **kw) -> int:
        """A consent statement (kind 11): the testimony, its statement digest (by default the right one),
        then the scope in force from now on."""
        digest = self.target_digest(target) if target_statement is None else target_statement
        return self.append(signer, "consent", enc_u64(target) + digest + enc_text(scope),
                           {"target": target, "target_statement": digest.hex(), "consent": scope}, **kw)

    def erase(self, target: int, reason="court order 2026/114", by=None, target_statement: bytes | None = None,
              **kw) -> int:
        """An erase statement (kind 12): the testimony or media record, its statement digest (by default the
        right one), then the reason."""
        digest = self.target_digest(target) if target_statement is None else target_statement
        return self.append(by or self.ledger_key, "erase", enc_u64(target) + digest + enc_text(reason),
                           {"target": target, "target_statement": digest.hex(), "reason": reason}, **kw)

    # -- tree and checkpoint (SPEC sections 5 and 6) -------------------------------

    def leaves(self, size=None) -> list[bytes]:
        return [e["leaf"] for e in self.entries[:size]]

    def checkpoint(self, size=None, key=None) -> bytes:
        key = key or self.checkpoint_key
        leaves = self.leaves(size)
        body = f"{self.origin}\n{len(leaves)}\n{b64(mth(leaves))}\n"
        nkid = sha256(self.origin.encode() + b"\n\x01" + raw_public(key))[:4]
        sig = nkid + key.sign(body.encode())
        return f"{body}\n\u2014 {self.origin} {b64(sig)}\n".encode()


def standard_ledger() -> TestLedger:
    """0 genesis, 1 authorize the investigator, 2 testimony, 3 media (not provided), 4 media (empty, provided)."""
    ledger = TestLedger()
    ledger.genesis()
    ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")
    ledger.testimony(INVESTIGATOR_KEY)
    ledger.media_record(INVESTIGATOR_KEY, CLIP, name="clip-001.mp4", media_type="video/mp4",
                        description="phone footage", provide=False)
    ledger.media_record(INVESTIGATOR_KEY, b"")
    return ledger


KEY_FILES = {LEDGER_PUB: (KEYS / "test-ledger.insecure.pub").read_bytes(),
             INVESTIGATOR_PUB: (KEYS / "test-investigator.insecure.pub").read_bytes()}


def entry_of(ledger: TestLedger, seq: int, size: int, supporting: bool = False) -> dict:
    e = ledger.entries[seq]
    signer = e["signer"]
    entry = {
        "seq": seq, "kind": e["kind"], "leaf_hash": e["leaf"].hex(), "prev": e["prev"].hex(),
        "record_bytes": b64(e["record"]), "statement_bytes": b64(e["statement"]),
        "signature": b64(e["signature"]), "signer_key": b64(signer),
        "signer_key_id": kid(signer), "signer_fingerprint": "SHA256:" + sha256(signer).hex(),
        "signer_key_file": f"keys/{kid(signer)}.pub",
        "claimed_at_ms": e["claimed"], "claimed_at": rfc3339(e["claimed"]),
        "recorded_at_ms": e["recorded"], "recorded_at": rfc3339(e["recorded"]),
        "body": json.loads(json.dumps(e["body"])),
        "proof_file": f"proofs/{seq}.tlog-proof",
        "inclusion_proof": [b64(h) for h in audit_path(seq, ledger.leaves(size))],
    }
    entry["content"] = None
    if supporting:
        return entry
    entry["consent_override"] = None
    entry["media_file"] = None
    if seq in ledger.content:
        entry["content"] = {"file": f"content/{seq}.txt", "salt": ledger.content[seq][0].hex()}
    if seq in ledger.media:
        entry["media_file"] = f"media/{e['body']['sha256']}"
    return entry


class BundleBuilder:
    """The members of a bundle; finish() adds manifest, signature and SHA256SUMS.

    By default: the standard ledger, exhibits 2, 3 and 4, supporting records
    0 (genesis) and 1 (the investigator's authorisation), exported by the
    investigator key.
    """

    def __init__(self, ledger: TestLedger | None = None, exhibits=(2, 3, 4), supporting=(0, 1),
                 exporter=INVESTIGATOR_KEY, size=None, checkpoint_key=None):
        self.ledger = ledger = ledger or standard_ledger()
        self.exporter = exporter
        size = size or len(ledger.entries)
        checkpoint_key = checkpoint_key or ledger.checkpoint_key
        checkpoint = ledger.checkpoint(size, checkpoint_key)
        cp_pub = raw_public(checkpoint_key)   # SPEC 11.2: ledger.public_key signed checkpoint.txt
        exporter_pub = raw_public(exporter)
        self.files: dict[str, bytes] = {
            "checkpoint.txt": checkpoint,
            "report.html": b"<!doctype html><title>bundle</title><p>informative</p>\n",
            "VERIFY.txt": b"sha256sum -c SHA256SUMS\n",
        }
        entries = [entry_of(ledger, s, size) for s in exhibits]
        support = [entry_of(ledger, s, size, supporting=True) for s in supporting]
        # SPEC 11.2: a supporting amendment with a new text of a testimony
        # exhibit whose text is revealed reveals its text too.
        revealed = {e["seq"] for e in entries if e["kind"] == "testimony" and e["content"]}
        for e in support:
            body = e["body"]
            if e["kind"] == "amend" and body["commitment"] and body["target"] in revealed:
                e["content"] = {"file": f"content/{e['seq']}.txt", "salt": ledger.content[e["seq"]][0].hex()}
        for pub in [cp_pub, exporter_pub] + [ledger.entries[s]["signer"] for s in (*exhibits, *supporting)]:
            self.files[f"keys/{kid(pub)}.pub"] = KEY_FILES.get(pub) or spki_pem(pub)
        for e in entries + support:
            self.files[e["proof_file"]] = tlog_proof(e["seq"], [base64.b64decode(h) for h in e["inclusion_proof"]],
                                                     checkpoint)
        for e in entries + support:
            if e["content"]:
                self.files[e["content"]["file"]] = ledger.content[e["seq"]][1]
            if e.get("media_file"):
                self.files[e["media_file"]] = ledger.media[e["seq"]]
        self.manifest = {
            "format": "custody-bundle/v1",
            "case": "KAT-2026-001",
            "include_failing": None,
            "exported_at": rfc3339(1767226200123), "exported_at_ms": 1767226200123,
            "exporter": {"public_key": b64(exporter_pub), "key_id": kid(exporter_pub),
                         "fingerprint": "SHA256:" + sha256(exporter_pub).hex(),
                         "key_file": f"keys/{kid(exporter_pub)}.pub"},
            "ledger": {"origin": ledger.origin, "public_key": b64(cp_pub),
                       "key_id": kid(cp_pub),
                       "fingerprint": "SHA256:" + sha256(cp_pub).hex(),
                       "key_file": f"keys/{kid(cp_pub)}.pub", "checkpoint_file": "checkpoint.txt",
                       "checkpoint_size": size, "checkpoint_root": b64(mth(ledger.leaves(size)))},
            "exhibits": entries,
            "supporting": support,
            "attestations": [],
            "files": {},
        }

    def finish(self) -> dict[str, bytes]:
        self.manifest["files"] = {n: sha256(d).hex() for n, d in sorted(self.files.items())}
        manifest = json.dumps(self.manifest, indent=2).encode("utf-8")
        members = dict(self.files)
        members["manifest.json"] = manifest
        members["manifest.sig"] = self.exporter.sign(manifest)
        members["SHA256SUMS"] = "".join(f"{sha256(d).hex()}  {n}\n" for n, d in
                                        sorted(members.items(), key=lambda kv: kv[0].encode())).encode()
        return members


def regular(name: str, compress=zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3
    info.compress_type = compress
    return info


def write_zip(path: Path, entries) -> Path:
    """entries: (name or ZipInfo, bytes) pairs, written in order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in entries:
                zf.writestr(name if isinstance(name, zipfile.ZipInfo) else regular(name), data)
    return path


def patch_entry(data: bytes, name: bytes, central: dict[int, tuple[str, int]], local: dict[int, tuple[str, int]]):
    """Overwrite fields of one member's central and local headers (offset -> (struct fmt, value))."""
    buf = bytearray(data)
    pos = buf.find(b"PK\x01\x02")
    while pos >= 0:
        n_len = struct.unpack_from("<H", buf, pos + 28)[0]
        if bytes(buf[pos + 46:pos + 46 + n_len]) == name:
            local_at = struct.unpack_from("<L", buf, pos + 42)[0]
            for off, (fmt, value) in central.items():
                struct.pack_into(fmt, buf, pos + off, value)
            for off, (fmt, value) in local.items():
                struct.pack_into(fmt, buf, local_at + off, value)
            return bytes(buf)
        pos = buf.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"member {name!r} not found")


# --- raw ZIP surgery (for the 11.1 "every byte is accounted for" tests) -------

def zip_entries(data: bytes) -> tuple[list[dict], dict]:
    """The central headers (name, position, local offset) and the end record of a plain ZIP."""
    eocd = len(data) - 22
    assert data[eocd:eocd + 4] == b"PK\x05\x06"
    count, cd_size, cd_offset = struct.unpack_from("<HLL", data, eocd + 10)
    entries, pos = [], cd_offset
    for _ in range(count):
        n_len, x_len, c_len = struct.unpack_from("<HHH", data, pos + 28)
        entries.append({"name": data[pos + 46:pos + 46 + n_len].decode(), "central": pos,
                        "local": struct.unpack_from("<L", data, pos + 42)[0]})
        pos += 46 + n_len + x_len + c_len
    return entries, {"at": eocd, "count": count, "cd_size": cd_size, "cd_offset": cd_offset}


def insert_bytes(data: bytes, at: int, extra: bytes) -> bytes:
    """Insert `extra` at `at` (before the central directory) and move every offset after it, so
    that the archive stays consistent for a lenient reader (Python's zipfile reads it)."""
    entries, end = zip_entries(data)
    assert at <= end["cd_offset"]
    buf = bytearray(data[:at] + extra + data[at:])
    shift = len(extra)
    for e in entries:
        if e["local"] >= at:
            struct.pack_into("<L", buf, e["central"] + shift + 42, e["local"] + shift)
    struct.pack_into("<L", buf, end["at"] + shift + 16, end["cd_offset"] + shift)
    return bytes(buf)


def with_zip64_end(data: bytes, gap: bytes = b"", counts=True, extensible: bytes = b"",
                   size_field: int | None = None) -> bytes:
    """Rewrite the end of a plain ZIP as a ZIP64 one: ZIP64 end record and locator before an
    end record whose values are the 0xFFFF / 0xFFFFFFFF sentinels.  `extensible` is an
    extensible data sector appended to the ZIP64 end record (its size field then counts it,
    unless `size_field` says otherwise)."""
    _, end = zip_entries(data)
    body = data[:end["at"]]
    z64_at = len(body)
    n = end["count"]
    size = 44 + len(extensible) if size_field is None else size_field
    record = struct.pack("<4sQHHLLQQQQ", b"PK\x06\x06", size, 45, 45, 0, 0, n, n, end["cd_size"],
                         end["cd_offset"]) + extensible
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, z64_at, 1)
    n16 = 0xFFFF if counts else n
    eocd = struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, n16, n16, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + record + gap + locator + eocd


def run_verifier(*args: str, trust_flag: bool = True) -> tuple[int, str, str]:
    """Run the verifier in-process.  SPEC 11.3 check 10 makes --trust or
    --no-trust mandatory: --no-trust is added when neither is given (unless
    trust_flag is False)."""
    argv = [str(a) for a in args]
    if trust_flag and args and "--trust" not in argv and "--no-trust" not in argv:
        argv.append("--no-trust")
    out, err = io.StringIO(), io.StringIO()
    code = vb.main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def patched(name: str, value):
    old = getattr(vb, name)
    setattr(vb, name, value)
    try:
        yield
    finally:
        setattr(vb, name, old)


# =============================================================================
# Known-answer vectors
# =============================================================================

class KnownAnswerTests(unittest.TestCase):
    def test_records_decode_and_verify(self):
        prev = bytes(32)
        for rec in LEDGER["records"]:
            record_bytes = bytes.fromhex(rec["record_hex"])
            record = vb.decode_record(record_bytes)
            self.assertEqual(record.seq, rec["seq"])
            self.assertEqual(record.prev, prev)
            self.assertEqual(record.statement_bytes.hex(), rec["statement_hex"])
            self.assertEqual(record.signature.hex(), rec["signature_hex"])
            self.assertEqual(record.statement.signer.hex(), rec["signer_public_key_hex"])
            self.assertEqual(vb.KIND_NAMES[record.statement.kind], rec["kind"])
            self.assertEqual(record.statement.body, BODIES[rec["seq"]])
            self.assertEqual((vb.STATEMENT_CONTEXT + record.statement_bytes).hex(), rec["signed_message_hex"])
            self.assertEqual(vb.leaf_hash(record_bytes).hex(), rec["leaf_hash_hex"])
            self.assertTrue(vb.verify_statement_signature(record.statement, record.statement_bytes,
                                                          record.signature))
            bad = bytearray(record.signature)
            bad[0] ^= 1
            self.assertFalse(vb.verify_statement_signature(record.statement, record.statement_bytes, bytes(bad)))
            prev = vb.leaf_hash(record_bytes)

    def test_test_ledger_encoder_reproduces_kat_genesis(self):
        """The test-side encoders (used for every bundle below) give the KAT bytes."""
        genesis = standard_ledger().entries[0]
        self.assertEqual(genesis["record"].hex(), LEDGER["records"][0]["record_hex"])
        self.assertEqual(genesis["leaf"].hex(), LEDGER["records"][0]["leaf_hash_hex"])

    def test_genesis_is_spec_worked_example(self):
        self.assertEqual(LEDGER["records"][0]["leaf_hash_hex"],
                         "51a8a44b2bda0ca41c09ae714b3291023d497ba36530b530d5783022f85c6e94")
        self.assertEqual(vb.decode_record(bytes.fromhex(LEDGER["records"][0]["record_hex"])).statement.signer,
                         LEDGER_PUB)

    def test_testimony_commitment(self):
        self.assertEqual(sha256(TESTIMONY_SALT + TESTIMONY_TEXT).hex(), BODIES[1]["commitment"])
        self.assertEqual(len(TESTIMONY_TEXT), BODIES[1]["content_length"])

    def test_roots(self):
        for size, root in LEDGER["roots"].items():
            self.assertEqual(mth(LEAVES[:int(size)]).hex(), root)

    def test_inclusion_proof_from_ledger_json(self):
        proof = [bytes.fromhex(h) for h in LEDGER["inclusion_proof_seq1_size4"]]
        self.assertEqual(proof, audit_path(1, LEAVES))
        root = bytes.fromhex(LEDGER["roots"]["4"])
        vb.verify_inclusion(LEAVES[1], 1, 4, proof, root)
        with self.assertRaises(vb.CheckError):
            vb.verify_inclusion(LEAVES[1], 2, 4, proof, root)
        with self.assertRaises(vb.CheckError):
            vb.verify_inclusion(LEAVES[1], 1, 4, proof[:1], root)
        with self.assertRaises(vb.CheckError):
            vb.verify_inclusion(LEAVES[1], 1, 4, proof + [proof[0]], root)
        with self.assertRaises(vb.CheckError):
            vb.verify_inclusion(LEAVES[1], 1, 5, proof, root)

    def test_inclusion_every_leaf_every_size(self):
        for size in range(1, 5):
            root = mth(LEAVES[:size])
            for m in range(size):
                vb.verify_inclusion(LEAVES[m], m, size, audit_path(m, LEAVES[:size]), root)
            with self.assertRaises(vb.CheckError):
                vb.verify_inclusion(LEAVES[0], size, size, [], root)

    def test_tlog_proof_file(self):
        proof = vb.parse_tlog_proof((KAT / "inclusion-1.tlog-proof").read_bytes())
        self.assertEqual(proof.index, 1)
        self.assertEqual([h.hex() for h in proof.hashes], LEDGER["inclusion_proof_seq1_size4"])
        self.assertEqual(proof.checkpoint, CHECKPOINT_BYTES)
        cp = vb.verify_checkpoint(proof.checkpoint, ORIGIN, LEDGER_PUB)
        vb.verify_inclusion(LEAVES[1], proof.index, cp.size, proof.hashes, cp.root)

    def test_tlog_proof_extra_line_and_errors(self):
        good = (KAT / "inclusion-1.tlog-proof").read_bytes()
        with_extra = good.replace(b"@v1\n", b"@v1\nextra aGVsbG8=\n", 1)
        self.assertEqual(vb.parse_tlog_proof(with_extra).extra, b"hello")
        for bad in (good.replace(b"index 1", b"index 01"), good.replace(b"@v1", b"@v2"),
                    good.replace(b"index 1\n", b""), good.replace(b"UaikSyva", b"UaikSyv_"),
                    good.split(b"\n\n")[0]):
            with self.assertRaises(vb.CheckError, msg=bad[:60]):
                vb.parse_tlog_proof(bad)

    def test_checkpoint(self):
        cp = vb.verify_checkpoint(CHECKPOINT_BYTES, ORIGIN, LEDGER_PUB)
        self.assertEqual(cp.size, 4)
        self.assertEqual(cp.root.hex(), LEDGER["roots"]["4"])
        self.assertEqual(CHECKPOINT_BYTES.decode(), LEDGER["checkpoint"])
        with self.assertRaises(vb.CheckError):  # not signed by the investigator key
            vb.verify_checkpoint(CHECKPOINT_BYTES, ORIGIN, INVESTIGATOR_PUB)

    def test_fail_records_rejected(self):
        files = sorted(KAT.glob("fail_record_*.hex"))
        self.assertEqual(len(files), 11)
        for path in files:
            with self.subTest(path.name), self.assertRaises(vb.CheckError):
                vb.decode_record(bytes.fromhex(path.read_text().strip()))

    def test_fail_checkpoints_rejected(self):
        files = sorted(KAT.glob("fail_checkpoint_*.txt"))
        self.assertEqual(len(files), 6)
        for path in files:
            with self.subTest(path.name), self.assertRaises(vb.CheckError):
                vb.verify_checkpoint(path.read_bytes(), ORIGIN, LEDGER_PUB)

    def test_resigned_malformed_checkpoints_rejected(self):
        """Body rules hold even when the ledger key signed the malformed body."""
        def signed(body: str, name=ORIGIN) -> bytes:
            sig = vb.note_key_id(name, LEDGER_PUB) + LEDGER_KEY.sign(body.encode())
            return f"{body}\n\u2014 {name} {b64(sig)}\n".encode()
        root = b64(bytes.fromhex(LEDGER["roots"]["4"]))
        self.assertEqual(signed(f"{ORIGIN}\n4\n{root}\n"), CHECKPOINT_BYTES)
        for body in (f"{ORIGIN}\n04\n{root}\n", f"{ORIGIN}\n4\n{b64(bytes(31))}\n", f"{ORIGIN}\n4\n",
                     f"{ORIGIN}\n-4\n{root}\n", f"{ORIGIN}\n4\n{root[:-1]}\n"):
            with self.subTest(body), self.assertRaises(vb.CheckError):
                vb.verify_checkpoint(signed(body), ORIGIN, LEDGER_PUB)
        with self.assertRaises(vb.CheckError):  # right key, other origin
            vb.verify_checkpoint(signed(f"example.org/other\n4\n{root}\n", "example.org/other"),
                                 ORIGIN, LEDGER_PUB)
        # an extension line is kept, not interpreted; a foreign signature is ignored
        ext = signed(f"{ORIGIN}\n4\n{root}\nsome extension\n")
        foreign = "\u2014 other.example/key " + b64(b"\x00\x01\x02\x03" + bytes(64)) + "\n"
        cp = vb.verify_checkpoint(ext + foreign.encode(), ORIGIN, LEDGER_PUB)
        self.assertEqual(cp.extensions, ["some extension"])

    def test_note_key_id(self):
        line = CHECKPOINT_BYTES.decode().split("\n")[-2]
        sig = base64.b64decode(line.split(" ")[-1])
        self.assertEqual(sig[:4], vb.note_key_id(ORIGIN, LEDGER_PUB))
        self.assertEqual(sig[:4], sha256(ORIGIN.encode() + b"\n\x01" + LEDGER_PUB)[:4])


class TextRuleTests(unittest.TestCase):
    def test_text_rule(self):
        self.assertEqual(vb.check_text("é".encode(), 2, "t"), "é")
        for bad, max_len in ((b"", 5), (b"abcdef", 5), (b"a\nb", 5), (b"\xc2\x85", 5), (b"\x7f", 5),
                             ("\u2066".encode(), 5), ("\u061c".encode(), 5), (b"\xed\xa0\x80", 5),
                             (b"\xc0\xaf", 5)):
            with self.subTest(bad), self.assertRaises(vb.CheckError):
                vb.check_text(bad, max_len, "t")

    def test_key_names(self):
        self.assertTrue(vb.is_valid_key_name("example.org/custody/kat"))
        for bad in ("", "a b", "a+b", "a\u00a0b", "a\u3000b"):
            self.assertFalse(vb.is_valid_key_name(bad), bad)


class Ed25519Tests(unittest.TestCase):
    MSG = b"custody test message"

    def test_small_order_table_is_exactly_the_small_order_points(self):
        points = set()
        for y in vb.SMALL_ORDER_Y:
            for sign in (0, 1):
                enc = (y | (sign << 255)).to_bytes(32, "little")
                pt = decode_point(enc)
                self.assertIsNotNone(pt, enc.hex())
                self.assertEqual(times8(pt), (0, 1), f"{enc.hex()} is not of small order")
                points.add(pt)
        self.assertEqual(len(points), 8)
        # and no other y below 2^255 that decodes is of small order
        # (spot check: the canonical y values 2..50)
        for y in range(2, 51):
            pt = decode_point(y.to_bytes(32, "little"))
            if pt is not None:
                self.assertNotEqual(times8(pt), (0, 1))

    def test_honest_signature_accepted(self):
        sig = INVESTIGATOR_KEY.sign(self.MSG)
        self.assertTrue(vb.ed25519_verify_strict(INVESTIGATOR_PUB, sig, self.MSG))
        self.assertFalse(vb.ed25519_verify_strict(INVESTIGATOR_PUB, sig, self.MSG + b"x"))

    def test_non_canonical_s_rejected(self):
        sig = INVESTIGATOR_KEY.sign(self.MSG)
        s = int.from_bytes(sig[32:], "little") + vb.ED25519_L
        self.assertFalse(vb.ed25519_verify_strict(INVESTIGATOR_PUB, sig[:32] + s.to_bytes(32, "little"), self.MSG))

    def test_weak_keys_and_small_order_r_rejected(self):
        identity = (1).to_bytes(32, "little")
        order4 = bytes(32)
        for weak in (identity, order4, bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
                     (P + 1).to_bytes(32, "little"), (1 | 1 << 255).to_bytes(32, "little")):
            self.assertTrue(vb.is_weak_public_key(weak), weak.hex())
        # A = identity, R = identity, S = 0 satisfies the cofactorless
        # equation [0]B = R + [k]A for any message: it must still be refused.
        self.assertFalse(vb.ed25519_verify_strict(identity, identity + bytes(32), self.MSG))
        # small-order R with an honest key
        self.assertFalse(vb.ed25519_verify_strict(INVESTIGATOR_PUB, identity + bytes(32), self.MSG))

    def test_non_canonical_public_key_rejected(self):
        # y = p + 3 decodes (to y = 3) and is not of small order: a
        # non-canonical encoding of an ordinary point.
        enc = (P + 3).to_bytes(32, "little")
        self.assertIsNotNone(decode_point(enc))
        self.assertFalse(vb.is_small_order_encoding(enc))
        self.assertTrue(vb.is_weak_public_key(enc))


# =============================================================================
# Bundles
# =============================================================================

class BundleTestCase(unittest.TestCase):
    """Helpers for tests that build and verify bundles."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def zip_of(self, members: dict[str, bytes], name="bundle.zip") -> Path:
        return write_zip(self.dir / name, list(members.items()))

    def good(self) -> Path:
        return self.zip_of(BundleBuilder().finish())

    def assertVerdict(self, path, code, *extra, failing=None):
        got, out, err = run_verifier(path, *extra)
        self.assertEqual(got, code, f"exit {got}\nstdout:\n{out}\nstderr:\n{err}")
        if code == 2:
            self.assertTrue(err.startswith("error: "), err)
        if failing is not None:
            self.assertIn(f"[FAILED] {failing}", out)
        return out, err

    def assertAgree(self, path, code, *extra, failing=None):
        """assertVerdict, and the custody binary's exit code the same (when the binary is there: the
        independent verifier and custody must agree on the bundles the tests build)."""
        out, err = self.assertVerdict(path, code, *extra, failing=failing)
        if _no_custody_reason() is None:
            got, text = custody_verdict(path, *extra)
            self.assertEqual(got, code, f"custody verify-bundle disagrees (exit {got}):\n{text}")
        return out, err


class BundleTests(BundleTestCase):
    # -- the good bundle ------------------------------------------------------

    def test_good_bundle_verifies(self):
        out, _ = self.assertVerdict(self.good(), 0)
        lines = out.splitlines()
        # SPEC 11.3 check 10: with --no-trust, the last line says the keys were not pinned
        self.assertTrue(lines[-1].startswith("NOTE: keys NOT pinned"), lines[-1])
        self.assertTrue(lines[-2].startswith("OK: "), lines[-2])
        # check 14: the report's content is checked only by custody verify-bundle
        self.assertTrue(lines[-3].startswith("NOTE: report.html and VERIFY.txt"), lines[-3])
        self.assertIn("custody verify-bundle", lines[-3])
        self.assertTrue(all(line.startswith("[ok] ") for line in lines[:-3]), out)
        for name in ("SHA256SUMS", "manifest signature", "checkpoint", "exhibit 2: content",
                     "exhibit 4: media", "exhibit 3: inclusion proof", "trust", "supporting records",
                     "supporting record 0: record", "supporting record 1: signature",
                     "supporting record 1: inclusion proof", "supporting record 1: proof file",
                     "supporting record 0: authority", "supporting record 1: authority",
                     "exhibit 2: authority", "exhibit 2: custody", "exhibit 4: custody", "checkpoint authority"):
            self.assertIn(f"[ok] {name}:", out)
        self.assertIn("[ok] exhibit 3: media: file not provided", out)
        self.assertIn("keys NOT pinned", out)
        self.assertNotIn("supporting record 1: content", out)

    def test_good_bundle_stored_and_single_exhibit(self):
        members = BundleBuilder(exhibits=(2,)).finish()
        path = write_zip(self.dir / "s.zip", [(regular(n, zipfile.ZIP_STORED), d) for n, d in members.items()])
        self.assertVerdict(path, 0)

    def test_zip64_and_data_descriptors(self):
        members = BundleBuilder().finish()
        path = self.dir / "z64.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                with zf.open(regular(name), "w", force_zip64=True) as fh:
                    fh.write(data)
        self.assertVerdict(path, 0)

        class Unseekable(io.RawIOBase):  # makes zipfile write data descriptors
            def __init__(self):
                self.buf = bytearray()

            def writable(self):
                return True

            def write(self, data):
                self.buf += data
                return len(data)

        sink = Unseekable()
        with zipfile.ZipFile(sink, "w") as zf:
            for name, data in members.items():
                zf.writestr(regular(name), data)
        path = self.dir / "dd.zip"
        path.write_bytes(bytes(sink.buf))
        self.assertVerdict(path, 0)

    def test_ledger_key_as_exporter(self):
        self.assertVerdict(self.zip_of(BundleBuilder(exporter=LEDGER_KEY).finish()), 0,
                           "--trust", KEYS / "test-ledger.insecure.pub")

    def test_json_output(self):
        code, out, _ = run_verifier(self.good(), "--json")
        self.assertEqual(code, 0)
        result = json.loads(out)
        self.assertEqual(set(result), {"passed", "exit_code", "checks", "keys_pinned", "include_failing",
                                       "pending_transfers", "cancelled_transfers",
                                       "flagged_superseded_ledger_key_records", "flagged_revoke_records",
                                       "flagged_cancelled_transfer_records",
                                       "flagged_consent_records", "flagged_erase_records",
                                       "timestamp_tokens", "authorities_pinned", "witness_policy_checked",
                                       "cosignatures", "tsa_pinned", "witnesses_pinned",
                                       "report_checked_by", "report_note", "summary"})
        # 11.3 checks 16 and 17: no token and no --tsa-cert (nothing to pin), no --policy
        self.assertEqual(result["timestamp_tokens"], 0)
        self.assertIsNone(result["authorities_pinned"])
        self.assertFalse(result["witness_policy_checked"])
        # nothing needed pinning: both true (11.3, after check 17)
        self.assertEqual((result["cosignatures"], result["tsa_pinned"], result["witnesses_pinned"]), (0, True, True))
        self.assertEqual(result["flagged_superseded_ledger_key_records"], [])
        self.assertEqual(result["flagged_revoke_records"], [])
        self.assertEqual(result["flagged_cancelled_transfer_records"], [])
        self.assertTrue(result["passed"])
        self.assertEqual(result["exit_code"], 0)
        self.assertFalse(result["keys_pinned"])
        self.assertEqual(result["report_checked_by"], "custody verify-bundle")
        self.assertIn("report.html", result["report_note"])
        for check in result["checks"]:
            self.assertEqual(set(check), {"name", "passed", "detail", "codes"})
            self.assertTrue(check["passed"])
            self.assertEqual(check["codes"], [])

    def test_cli_subprocess(self):
        path = self.good()
        proc = subprocess.run([sys.executable, str(SCRIPT), str(path), "--json", "--no-trust"], capture_output=True,
                              text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(json.loads(proc.stdout)["passed"])
        proc = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)   # neither --trust nor --no-trust
        self.assertIn("--no-trust", proc.stderr)
        proc = subprocess.run([sys.executable, str(SCRIPT), str(self.dir / "absent.zip"), "--no-trust"],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertTrue(proc.stderr.startswith("error: "))
        proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertTrue(proc.stderr.startswith("error: "))

    # -- trust ------------------------------------------------------------------

    def test_trust(self):
        path = self.good()
        out, _ = self.assertVerdict(path, 0, "--trust", KEYS / "test-ledger.insecure.pub",
                                    "--trust", KEYS / "test-investigator.insecure.pub")
        self.assertIn("keys are on the trust list", out)
        self.assertVerdict(path, 1, "--trust", KEYS / "test-ledger.insecure.pub", failing="trust")
        self.assertVerdict(path, 1, "--trust", KEYS / "test-investigator.insecure.pub", failing="trust")

    def test_trust_file_errors(self):
        path = self.good()
        self.assertVerdict(path, 2, "--trust", KEYS / "test-ledger.insecure.key")  # a secret key
        garbage = self.dir / "garbage.pub"
        garbage.write_text("not a key\n")
        self.assertVerdict(path, 2, "--trust", garbage)
        self.assertVerdict(path, 2, "--trust", self.dir / "missing.pub")

    # -- media dir ----------------------------------------------------------

    def test_media_dir(self):
        path = self.good()
        media = self.dir / "media"
        media.mkdir()
        (media / EMPTY_SHA).write_bytes(b"")
        out, _ = self.assertVerdict(path, 0, "--media-dir", media)
        self.assertIn(str(media / EMPTY_SHA), out)
        (media / "clip-001.mp4").write_bytes(b"not the clip!!")  # 14 bytes, wrong digest
        self.assertVerdict(path, 1, "--media-dir", media, failing="exhibit 3: media")
        (media / "clip-001.mp4").unlink()
        os.symlink("/etc/hostname", media / "clip-001.mp4")
        out, _ = self.assertVerdict(path, 0, "--media-dir", media)
        self.assertIn("not a regular file", out)
        self.assertVerdict(path, 2, "--media-dir", self.dir / "nowhere")

    # -- tampering: exit 1 ------------------------------------------------------

    def test_changed_byte_in_member(self):
        members = BundleBuilder().finish()
        members["content/2.txt"] = members["content/2.txt"].replace(b"testimony", b"testimonY")
        self.assertVerdict(self.zip_of(members), 1, failing="SHA256SUMS")

    def test_changed_byte_in_raw_archive(self):
        members = BundleBuilder().finish()
        path = write_zip(self.dir / "raw.zip", [(regular(n, zipfile.ZIP_STORED), d) for n, d in members.items()])
        data = path.read_bytes()
        at = data.index(TESTIMONY_TEXT)
        path.write_bytes(data[:at] + b"X" + data[at + 1:])
        out, _ = self.assertVerdict(path, 1, failing="zip CRC-32")
        self.assertIn("[FAILED] exhibit 2: content", out)

    def test_removed_member(self):
        members = BundleBuilder().finish()
        del members["proofs/3.tlog-proof"]
        out, _ = self.assertVerdict(self.zip_of(members), 1, failing="SHA256SUMS")
        self.assertIn("[FAILED] exhibit 3: proof file", out)
        members = BundleBuilder().finish()
        del members["proofs/1.tlog-proof"]
        out, _ = self.assertVerdict(self.zip_of(members), 1, failing="SHA256SUMS")
        self.assertIn("[FAILED] supporting record 1: proof file", out)

    def test_removed_required_member(self):
        members = BundleBuilder().finish()
        del members["manifest.sig"]
        self.assertVerdict(self.zip_of(members), 1, failing="required members")

    def test_added_member(self):
        members = BundleBuilder().finish()
        members["notes.txt"] = b"hello\n"
        self.assertVerdict(self.zip_of(members), 1, failing="SHA256SUMS")

    def test_added_member_signed_by_exporter(self):
        """Listed everywhere and signed, but not a name of the 11.1 table."""
        builder = BundleBuilder()
        builder.files["notes.txt"] = b"hello\n"
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="member names")
        self.assertIn("unknown name", out)
        builder = BundleBuilder()
        builder.files["proofs/9.tlog-proof"] = b"x"  # fits the table, no such exhibit
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="member names")

    def test_manifest_signature(self):
        members = BundleBuilder().finish()
        members["manifest.sig"] = bytes(64)
        self.assertVerdict(self.zip_of(members), 1, failing="manifest signature")

    def test_resigned_manifest_with_false_body(self):
        """The exporter may sign anything; the record still contradicts it."""
        builder = BundleBuilder()
        builder.manifest["exhibits"][0]["body"]["subject"] = "W-18"
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 2: record")
        builder = BundleBuilder()
        builder.manifest["exhibits"][1]["body"]["size"] = True  # true is not 14, nor 1
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 3: record")
        builder = BundleBuilder()
        builder.manifest["supporting"][1]["body"]["role"] = "admin"
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="supporting record 1: record")

    def test_resigned_manifest_with_forged_record(self):
        builder = BundleBuilder(exhibits=(2,))
        entry = builder.manifest["exhibits"][0]
        record = bytearray(base64.b64decode(entry["record_bytes"]))
        record[-1] ^= 1  # break the statement signature
        entry["record_bytes"] = b64(bytes(record))
        entry["signature"] = b64(bytes(record[-64:]))
        entry["leaf_hash"] = sha256(b"\x00" + bytes(record)).hex()
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 2: signature")
        self.assertIn("[FAILED] exhibit 2: inclusion proof", out)

    def test_checkpoint_tampered(self):
        builder = BundleBuilder()
        bad = builder.files["checkpoint.txt"].replace(b"\n5\n", b"\n6\n")
        builder.files["checkpoint.txt"] = bad
        builder.manifest["ledger"]["checkpoint_size"] = 6
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="checkpoint")

    def test_manifest_structure(self):
        for mutate in (lambda m: m.update(extra=1), lambda m: m.pop("case"),
                       lambda m: m.update(format="custody-bundle/v2"),
                       lambda m: m["exhibits"][0].update(seq=7),
                       lambda m: m["exhibits"].reverse(),
                       lambda m: m["ledger"].update(key_id="00000000"),
                       lambda m: m.update(exported_at="2026-01-01T00:10:00Z"),
                       lambda m: m["exhibits"][0].update(kind=1),          # 11.2: the kind's name
                       lambda m: m["supporting"][1].update(kind="authorise")):
            builder = BundleBuilder()
            mutate(builder.manifest)
            with self.subTest(mutate):
                self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")

    def test_content_mismatch(self):
        builder = BundleBuilder()
        builder.files["content/2.txt"] = TESTIMONY_TEXT + b"!"
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 2: content")

    def test_consent_override(self):
        # SPEC 11.2: a testimony whose consent lacks court use needs an override
        # reason.  The KAT testimony says "court", so an override is optional.
        builder = BundleBuilder()
        builder.manifest["exhibits"][0]["consent_override"] = "judge's order 12"
        self.assertVerdict(self.zip_of(builder.finish()), 0)

    # -- unreadable archives: exit 2 ----------------------------------------------

    def unsafe(self, entries, *extra):
        return self.assertVerdict(write_zip(self.dir / "unsafe.zip", entries), 2, *extra)

    def test_path_traversal(self):
        members = list(BundleBuilder().finish().items())
        for name in ("../x", "/abs", "a/../b", "./x", "a//b", "a\\b", "c:x", "a\x01b", "x" * 256):
            with self.subTest(name):
                self.unsafe(members + [(name, b"x")])

    def test_duplicate_names(self):
        members = list(BundleBuilder().finish().items())
        self.unsafe(members + [("VERIFY.txt", b"again")])
        _, err = self.unsafe(members + [("Manifest.JSON", b"{}")])
        self.assertIn("lowercased", err)

    def test_symlink_member(self):
        members = list(BundleBuilder().finish().items())
        link = regular("keys/00000000.pub")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        _, err = self.unsafe(members + [(link, b"/etc/passwd")])
        self.assertIn("symbolic link", err)

    def test_directory_entries(self):
        members = list(BundleBuilder().finish().items())
        self.unsafe(members + [("proofs/", b"")])
        d = regular("somedir")
        d.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
        self.unsafe(members + [(d, b"")])
        fifo = regular("fifo")
        fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
        self.unsafe(members + [(fifo, b"")])

    def test_compression_bomb(self):
        members = list(BundleBuilder().finish().items())
        _, err = self.unsafe(members + [("media/" + "0" * 64, bytes(2 * 1024 * 1024))])
        self.assertIn("bomb", err)

    def test_bomb_with_lying_sizes(self):
        """Sizes are enforced while reading, not only as declared."""
        members = list(BundleBuilder().finish().items())
        path = write_zip(self.dir / "lie.zip", members + [("report2.html", bytes(3 * 1024 * 1024))])
        patched_zip = patch_entry(path.read_bytes(), b"report2.html",
                                  central={24: ("<L", 1000)}, local={22: ("<L", 1000)})
        path.write_bytes(patched_zip)
        _, err = self.assertVerdict(path, 2)
        self.assertIn("larger than its declared size", err)

    def test_oversize_member(self):
        members = BundleBuilder().finish()
        with patched("MAX_MEMBER_SIZE", 1000):
            _, err = self.assertVerdict(self.zip_of(members), 2)
        self.assertIn("more than 1000", err)

    def test_too_many_members(self):
        members = BundleBuilder().finish()
        with patched("MAX_MEMBERS", len(members) - 1):
            self.assertVerdict(self.zip_of(members), 2)
        with patched("MAX_MEMBERS", len(members)):
            self.assertVerdict(self.zip_of(members), 0)

    def test_unsupported_compression(self):
        members = list(BundleBuilder().finish().items())
        self.unsafe(members + [(regular("VERIFY2.txt", zipfile.ZIP_BZIP2), b"x" * 100)])

    def test_encrypted_flag(self):
        members = list(BundleBuilder().finish().items())
        path = write_zip(self.dir / "enc.zip", members)
        path.write_bytes(patch_entry(path.read_bytes(), b"VERIFY.txt",
                                     central={8: ("<H", 0x1)}, local={6: ("<H", 0x1)}))
        _, err = self.assertVerdict(path, 2)
        self.assertIn("encrypted", err)

    def test_local_header_name_mismatch(self):
        members = list(BundleBuilder().finish().items())
        path = write_zip(self.dir / "lh.zip", members)
        data = path.read_bytes()
        at = data.index(b"VERIFY.txt")  # first occurrence: the local header
        path.write_bytes(data[:at] + b"verify.txt" + data[at + 10:])
        self.assertVerdict(path, 2)

    def test_overlapping_members(self):
        path = self.good()
        data = bytearray(path.read_bytes())
        first = data.find(b"PK\x01\x02")  # grow the first member's data over the next one
        struct.pack_into("<L", data, first + 20, struct.unpack_from("<L", data, first + 20)[0] + 200)
        path.write_bytes(bytes(data))
        _, err = self.assertVerdict(path, 2)
        self.assertIn("local header CRC-32 or sizes disagree", err)
        # the same with the local header changed too: then the entries overlap
        path = self.good()
        data = bytearray(path.read_bytes())
        first = data.find(b"PK\x01\x02")
        local = struct.unpack_from("<L", data, first + 42)[0]
        for at in (first + 20, local + 18):
            struct.pack_into("<L", data, at, struct.unpack_from("<L", data, at)[0] + 200)
        path.write_bytes(bytes(data))
        _, err = self.assertVerdict(path, 2)
        self.assertIn("overlap", err)

    def test_name_not_utf8(self):
        data = self.good().read_bytes().replace(b"VERIFY.txt", b"\xffERIFY.txt")
        path = self.dir / "latin.zip"
        path.write_bytes(data)
        self.assertVerdict(path, 2)

    def test_not_a_zip(self):
        path = self.dir / "plain.zip"
        path.write_bytes(b"this is not a zip file\n" * 10)
        self.assertVerdict(path, 2)
        trunc = self.dir / "trunc.zip"
        trunc.write_bytes(self.good().read_bytes()[:-30])
        self.assertVerdict(trunc, 2)
        code, out, err = run_verifier(path, "--json")
        self.assertEqual(code, 2)
        self.assertEqual(json.loads(out)["exit_code"], 2)
        self.assertTrue(err.startswith("error: "))

    def test_missing_file_and_usage(self):
        self.assertVerdict(self.dir / "absent.zip", 2)
        code, _, err = run_verifier()
        self.assertEqual(code, 2)
        self.assertTrue(err.startswith("error: "))
        code, _, err = run_verifier(self.good(), "--frobnicate")
        self.assertEqual(code, 2)
        self.assertTrue(err.startswith("error: "))


# =============================================================================
# Statement kinds 3-7 (SPEC section 3) and the 11.2 JSON of their bodies
# =============================================================================

class AuthorityKindDecodingTests(unittest.TestCase):
    def ledger(self) -> TestLedger:
        ledger = standard_ledger()
        ledger.revoke(INVESTIGATOR_PUB, "retired", ("seq", 4))                   # 5
        ledger.revoke(AUDITOR_PUB, "compromised", ("time", T0 + 1234))           # 6
        ledger.revoke(ADMIN_2_PUB, "compromised")                                 # 7
        ledger.transfer(INVESTIGATOR_KEY, 2, CUSTODIAN_A_PUB, location="Lab 3")  # 8
        ledger.accept(CUSTODIAN_A, 8)                                             # 9
        ledger.amend(INVESTIGATOR_KEY, 2, text=b"new text\n")                    # 10
        ledger.amend(INVESTIGATOR_KEY, 3, description="better description")      # 11
        return ledger

    def test_bodies_decode_to_the_11_2_json(self):
        for entry in self.ledger().entries:
            with self.subTest(entry["kind"], seq=entry["seq"]):
                record = vb.decode_record(entry["record"])
                self.assertEqual(vb.KIND_NAMES[record.statement.kind], entry["kind"])
                self.assertTrue(vb.json_equal(record.statement.body, entry["body"]), record.statement.body)
                self.assertTrue(vb.verify_statement_signature(record.statement, record.statement_bytes,
                                                              record.signature))

    def statement(self, kind: str, body: bytes) -> bytes:
        return bytes([1, KINDS[kind]]) + enc_u64(T0) + INVESTIGATOR_PUB + body

    def test_unknown_tags_rejected(self):
        key = CUSTODIAN_A_PUB
        good = {
            "authorize": key + enc_text("A") + b"\x02",
            "revoke": key + b"\x01\x02" + enc_u64(T0),
            "amend": enc_u64(2) + enc_text("r") + enc_opt(None) + b"\x01" + bytes(32) + enc_u64(3),
            "transfer": enc_u64(2) + key + enc_text("r") + enc_opt("here"),
            "accept": enc_u64(8),
            "ledger-key": key,
            "cancel": enc_u64(8),
            "authorize role ledger": key + enc_text("L") + b"\x04",   # decodes; breaks a rule of 4.1
        }
        for kind, body in good.items():
            vb.decode_statement(self.statement(kind.split(" ")[0], body))
        bad = {
            "unknown role 5": ("authorize", key + enc_text("A") + b"\x05"),
            "unknown reason 2": ("revoke", key + b"\x02\x00"),
            "unknown effective tag 3": ("revoke", key + b"\x01\x03" + enc_u64(1)),
            "effective tag 1 without value": ("revoke", key + b"\x01\x01"),
            "unknown content tag 2": ("amend", enc_u64(2) + enc_text("r") + enc_opt(None) + b"\x02"),
            "content tag 0 then bytes": ("amend", enc_u64(2) + enc_text("r") + enc_opt(None) + b"\x00\x00"),
            "empty reason": ("transfer", enc_u64(2) + key + enc_bytes(b"") + enc_opt(None)),
            "location option tag 2": ("transfer", enc_u64(2) + key + enc_text("r") + b"\x02"),
            "accept trailing byte": ("accept", enc_u64(8) + b"\x00"),
            "accept truncated": ("accept", enc_u64(8)[:7]),
            "name with newline": ("authorize", key + enc_text("A\nB") + b"\x01"),
            "key truncated": ("authorize", key[:31]),
            "kind 13": ("accept", enc_u64(8)),    # SPEC revision "sealed content": 10 to 12 are kinds now
            "ledger-key truncated": ("ledger-key", key[:31]),
            "ledger-key trailing byte": ("ledger-key", key + b"\x00"),
            "cancel truncated": ("cancel", enc_u64(8)[:7]),
            "cancel trailing byte": ("cancel", enc_u64(8) + b"\x00"),
        }
        for what, (kind, body) in bad.items():
            data = self.statement(kind, body)
            if what == "kind 13":
                data = bytes([1, 13]) + data[2:]
            with self.subTest(what), self.assertRaises(vb.CheckError):
                vb.decode_statement(data)


CUSTODIAN_A_PUB, CUSTODIAN_B_PUB, CUSTODIAN_C_PUB = (raw_public(k) for k in (CUSTODIAN_A, CUSTODIAN_B, CUSTODIAN_C))
ADMIN_2_PUB, AUDITOR_PUB, STRANGER_PUB = (raw_public(k) for k in (ADMIN_2, AUDITOR, STRANGER))


# =============================================================================
# Authority (11.3 check 12) and custody (check 13)
# =============================================================================

class AuthorityBundleTests(BundleTestCase):
    """Bundles whose records break, or obey, the rules of SPEC 4.1."""

    def verdict(self, ledger, exhibits, supporting, code, failing=(), **kw):
        out, _ = self.assertVerdict(self.zip_of(BundleBuilder(ledger, exhibits, supporting, **kw).finish()), code)
        for name in failing:
            self.assertIn(f"[FAILED] {name}", out)
        return out

    # -- signers -----------------------------------------------------------------

    def test_unauthorised_exhibit_signer(self):
        ledger = TestLedger()
        ledger.genesis()
        ledger.testimony(INVESTIGATOR_KEY)                       # 1: the investigator was never authorised
        out = self.verdict(ledger, (1,), (0,), 1, failing=("exhibit 1: authority",))
        self.assertIn("not authorised by any record of the bundle", out)
        self.assertIn("[FAILED] exhibit 1: custody", out)
        # every other check passes: signatures, inclusion, proof files
        failed = [line for line in out.splitlines() if line.startswith("[FAILED]")]
        self.assertEqual(len(failed), 2, out)

    def test_authorisation_left_out_of_the_bundle(self):
        out = self.verdict(standard_ledger(), (2, 3, 4), (0,), 1, failing=("exhibit 2: authority",
                                                                            "exhibit 4: authority"))
        self.assertIn("706fa4fe is not authorised", out)

    def test_stranger_signs_next_to_an_authorised_investigator(self):
        ledger = standard_ledger()
        ledger.media_record(STRANGER, b"planted")                # 5
        self.verdict(ledger, (2, 5), (0, 1), 1, failing=("exhibit 5: authority",))

    def test_wrong_role_signer(self):
        for role in ("auditor", "custodian"):
            with self.subTest(role):
                ledger = TestLedger()
                ledger.genesis()
                ledger.authorize(INVESTIGATOR_PUB, "Investigator I", role)
                ledger.testimony(INVESTIGATOR_KEY)
                out = self.verdict(ledger, (2,), (0, 1), 1, failing=("exhibit 2: authority",))
                self.assertIn(f"the role {role} may not record evidence", out)
        # an admin may record evidence
        ledger = TestLedger()
        ledger.genesis()
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "admin")
        ledger.testimony(INVESTIGATOR_KEY)
        self.verdict(ledger, (2,), (0, 1), 0)

    def test_authorize_by_a_non_admin(self):
        ledger = standard_ledger()
        ledger.authorize(CUSTODIAN_A_PUB, "A", "custodian", by=INVESTIGATOR_KEY)   # 5
        out = self.verdict(ledger, (2,), (0, 1, 5), 1, failing=("supporting record 5: authority",))
        self.assertIn("only an active admin may authorise", out)

    def test_admin_chain_and_rules_of_authorize(self):
        ledger = TestLedger()
        ledger.genesis()
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                     # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator", by=ADMIN_2)  # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        out = self.verdict(ledger, (3,), (0, 1, 2), 0)
        self.assertIn("authorised by record 2", out)
        # the second admin's own authorisation left out: the chain is broken
        self.verdict(ledger, (3,), (0, 2), 1, failing=("supporting record 2: authority", "exhibit 3: authority"))
        # a key is never authorised twice, not even after revocation; weak keys never
        ledger.revoke(INVESTIGATOR_PUB, "retired")                                  # 4
        ledger.authorize(INVESTIGATOR_PUB, "Again", "investigator")                 # 5
        ledger.authorize((1).to_bytes(32, "little"), "Identity", "auditor")         # 6
        out = self.verdict(ledger, (3,), (0, 1, 2, 4, 5, 6), 1,
                           failing=("supporting record 5: authority", "supporting record 6: authority"))
        self.assertIn("already known", out)
        self.assertIn("not a canonical, non-weak", out)
        self.assertIn("[ok] exhibit 3: authority", out)  # a retired key's earlier records stay valid

    # -- revocation and compromise -----------------------------------------------------

    def test_compromised_key_effective_before_an_exhibit(self):
        ledger = standard_ledger()
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 3))                  # 5
        out = self.verdict(ledger, (2, 3, 4), (0, 1, 5), 1,
                           failing=("exhibit 3: authority", "exhibit 4: authority"))
        self.assertIn("signed after compromise", out)
        self.assertIn("[ok] exhibit 2: authority", out)
        self.assertIn("[ok] supporting record 5: authority", out)

    def test_compromised_key_effective_time(self):
        ledger = standard_ledger()
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("time", ledger.entries[4]["recorded"]))  # 5
        out = self.verdict(ledger, (2, 3, 4), (0, 1, 5), 1, failing=("exhibit 4: authority",))
        self.assertIn("[ok] exhibit 3: authority", out)
        self.assertIn("signed after compromise", out)

    def test_compromised_from_now_and_retired_keep_earlier_records(self):
        for reason, effective in (("compromised", "now"), ("retired", ("seq", 2)), ("compromised", ("seq", 5))):
            with self.subTest(reason=reason, effective=effective):
                ledger = standard_ledger()
                ledger.revoke(INVESTIGATOR_PUB, reason, effective)                  # 5
                self.verdict(ledger, (2, 3, 4), (0, 1, 5), 0)

    def test_record_after_revocation_is_not_authorised(self):
        ledger = standard_ledger()
        ledger.revoke(INVESTIGATOR_PUB, "retired")                                  # 5
        ledger.testimony(INVESTIGATOR_KEY, subject="late")                          # 6
        out = self.verdict(ledger, (2, 6), (0, 1, 5), 1, failing=("exhibit 6: authority",))
        self.assertIn("was revoked (retired) by record 5", out)

    def test_revocation_rules(self):
        ledger = standard_ledger()
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 9))                  # 5: effective after itself
        ledger.revoke(LEDGER_PUB, "retired", by=LEDGER_KEY)                          # 6: the ledger key in force
        ledger.revoke(CUSTODIAN_A_PUB, "retired")                                    # 7: never authorised
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("time", T0 + 10 ** 9))      # 8: time after recorded
        ledger.revoke(INVESTIGATOR_PUB, "retired", by=INVESTIGATOR_KEY)             # 9: not an admin
        out = self.verdict(ledger, (2,), (0, 1, 5, 6, 7, 8, 9), 1,
                           failing=[f"supporting record {n}: authority" for n in (5, 6, 7, 8, 9)])
        # (the last active admin: AuthorityStateTests.test_another_admin_is_active)
        for text in ("is after the revocation", "it is the ledger key in force", "no record of the bundle authorises",
                     "after the revocation's recorded time", "only an active admin may revoke"):
            self.assertIn(text, out)
        self.assertIn("[ok] exhibit 2: authority", out)  # rule-breaking revocations change nothing

    def test_revoke_twice(self):
        # SPEC 4.1: a retired key may later be declared compromised; it keeps
        # both its end (record 5) and its compromise (record 6, from record 2)
        ledger = standard_ledger()
        ledger.revoke(INVESTIGATOR_PUB, "retired")                                  # 5
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 3))                  # 6
        out = self.verdict(ledger, (2, 3), (0, 1, 5, 6), 1,
                           failing=("exhibit 3: authority",))
        self.assertIn("[ok] supporting record 6: authority", out)
        self.assertIn("(retired since record 5)", out)
        self.assertIn("[ok] exhibit 2: authority", out)
        # but a revoked key is never retired again (only declared compromised again: the windows add
        # up, CompromisesAddUpTests)
        for first, text in ((("retired", "now"), "already revoked (retired)"),
                            (("compromised", ("seq", 4)), "already revoked (compromised)")):
            with self.subTest(first=first):
                ledger = standard_ledger()
                ledger.revoke(INVESTIGATOR_PUB, *first)                             # 5
                ledger.revoke(INVESTIGATOR_PUB, "retired")                          # 6
                out = self.verdict(ledger, (2,), (0, 1, 5, 6), 1, failing=("supporting record 6: authority",))
                self.assertIn(text, out)

    # -- custody -------------------------------------------------------------------

    def custody_ledger(self) -> TestLedger:
        """0 genesis, 1-4 authorise the investigator and custodians A, B, C, 5 a testimony."""
        ledger = TestLedger()
        ledger.genesis()
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")
        ledger.authorize(CUSTODIAN_B_PUB, "Custodian B", "custodian")
        ledger.authorize(CUSTODIAN_C_PUB, "Custodian C", "custodian")
        ledger.testimony(INVESTIGATOR_KEY)
        return ledger

    def test_custody_chain_with_pending_transfer(self):
        ledger = self.custody_ledger()
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)      # 6
        ledger.accept(CUSTODIAN_A, 6)                               # 7
        ledger.transfer(CUSTODIAN_A, 5, CUSTODIAN_B_PUB)            # 8
        ledger.accept(CUSTODIAN_B, 8)                               # 9
        ledger.transfer(CUSTODIAN_B, 5, CUSTODIAN_C_PUB)            # 10: not yet accepted
        builder = BundleBuilder(ledger, (5,), (0, 1, 2, 3, 4, 6, 7, 8, 9, 10))
        code, out, err = run_verifier(self.zip_of(builder.finish()))
        self.assertEqual(code, 0, out + err)
        custody = next(line for line in out.splitlines() if line.startswith("[ok] exhibit 5: custody"))
        self.assertIn("'Investigator I' (706fa4fe) from record 5 (its signer)", custody)
        self.assertIn(f"'Custodian A' ({kid(CUSTODIAN_A_PUB)}) from record 7 (transfer 6 accepted)", custody)
        self.assertIn(f"'Custodian B' ({kid(CUSTODIAN_B_PUB)}) from record 9 (transfer 8 accepted)", custody)
        self.assertIn(f"PENDING: transfer 10 to custodian 'Custodian C' ({kid(CUSTODIAN_C_PUB)})", custody)
        self.assertLess(custody.index("Custodian A"), custody.index("Custodian B"))
        self.assertIn("transfer(s) 10 pending acceptance", out.splitlines()[-2])
        code, out, _ = run_verifier(self.zip_of(builder.finish()), "--json")
        result = json.loads(out)
        self.assertEqual((code, result["exit_code"], result["passed"]), (0, 0, True))
        names = [c["name"] for c in result["checks"]]
        self.assertIn("exhibit 5: custody", names)
        self.assertIn("supporting record 10: authority", names)
        self.assertIn("supporting record 7: signature", names)
        # the pending receiver's key file may be included (it is named by the transfer) ...
        builder = BundleBuilder(ledger, (5,), (0, 1, 2, 3, 4, 6, 7, 8, 9, 10))
        builder.files[f"keys/{kid(CUSTODIAN_C_PUB)}.pub"] = spki_pem(CUSTODIAN_C_PUB)
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 0)
        self.assertIn(f"[ok] key file keys/{kid(CUSTODIAN_C_PUB)}.pub", out)
        # ... but must then hold that key
        builder = BundleBuilder(ledger, (5,), (0, 1, 2, 3, 4, 6, 7, 8, 9, 10))
        builder.files[f"keys/{kid(CUSTODIAN_C_PUB)}.pub"] = spki_pem(STRANGER_PUB)
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing=f"key file keys/{kid(CUSTODIAN_C_PUB)}.pub")

    def test_transfer_by_a_non_holder(self):
        ledger = self.custody_ledger()
        ledger.transfer(CUSTODIAN_B, 5, CUSTODIAN_A_PUB)            # 6: B never held exhibit 5
        out = self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 6), 1,
                           failing=("supporting record 6: authority", "exhibit 5: custody"))
        self.assertIn("who is not its holder", out)

    def test_second_transfer_while_one_is_pending(self):
        ledger = self.custody_ledger()
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)      # 6
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_B_PUB)      # 7
        out = self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 6, 7), 1, failing=("supporting record 7: authority",))
        self.assertIn("already has transfer 6 awaiting acceptance", out)

    def test_acceptance_by_the_wrong_key(self):
        ledger = self.custody_ledger()
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)      # 6
        ledger.accept(CUSTODIAN_B, 6)                               # 7: A was named, B accepts
        out = self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 6, 7), 1,
                           failing=("supporting record 7: authority", "exhibit 5: custody"))
        self.assertIn("names custodian 'Custodian A'", out)
        self.assertIn("[ok] supporting record 6: authority", out)

    def test_transfer_to_unknown_receiver_and_of_a_record_outside_the_bundle(self):
        ledger = self.custody_ledger()
        ledger.transfer(INVESTIGATOR_KEY, 5, STRANGER_PUB)          # 6: receiver never authorised
        out = self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 6), 1, failing=("supporting record 6: authority",))
        self.assertIn("receiver", out)
        ledger = self.custody_ledger()
        ledger.testimony(INVESTIGATOR_KEY, subject="other")         # 6
        ledger.transfer(INVESTIGATOR_KEY, 6, CUSTODIAN_A_PUB)       # 7: exhibit 6 is not in the bundle
        out = self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 7), 1, failing=("supporting record 7: authority",))
        self.assertIn("not in the bundle", out)
        ledger = self.custody_ledger()
        ledger.accept(CUSTODIAN_A, 4)                               # 6: record 4 is not a transfer
        self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 6), 1, failing=("supporting record 6: authority",))

    def test_revoked_holder_cannot_hand_over(self):
        ledger = self.custody_ledger()
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)      # 6
        ledger.accept(CUSTODIAN_A, 6)                               # 7
        ledger.revoke(CUSTODIAN_A_PUB, "retired")                   # 8
        ledger.transfer(CUSTODIAN_A, 5, CUSTODIAN_B_PUB)            # 9
        self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 6, 7, 8, 9), 1,
                     failing=("supporting record 9: authority", "exhibit 5: custody"))

    # -- amendments ----------------------------------------------------------------

    def test_amendments(self):
        ledger = standard_ledger()
        ledger.amend(INVESTIGATOR_KEY, 2, text=b"The corrected testimony.\n")   # 5: by the signer
        ledger.amend(LEDGER_KEY, 3, description="better description")          # 6: by an admin
        self.verdict(ledger, (2, 3), (0, 1, 5, 6), 0)
        # the amendment exported as an exhibit reveals its text
        out = self.verdict(ledger, (2, 3, 5), (0, 1, 6), 0)
        self.assertIn("[ok] exhibit 5: content: content/5.txt", out)
        # its target must be in the bundle
        out = self.verdict(ledger, (2, 5), (0, 1, 6), 1, failing=("supporting record 6: authority",))
        self.assertIn("names target 3, which is not in the bundle", out)
        builder = BundleBuilder(ledger, (2, 3, 5), (0, 1, 6))
        builder.files["content/5.txt"] = b"Another text.\n"
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 5: content")

    def test_amendment_rules(self):
        ledger = self.custody_ledger()
        ledger.media_record(INVESTIGATOR_KEY, b"", provide=False)              # 6
        ledger.amend(INVESTIGATOR_KEY, 6, text=b"text for a media record")     # 7: media needs a description
        ledger.amend(INVESTIGATOR_KEY, 5, description="no text")               # 8: testimony needs a text
        ledger.amend(CUSTODIAN_A, 5, text=b"x")                                # 9: neither signer nor admin
        ledger.amend(INVESTIGATOR_KEY, 4, text=b"x")                           # 10: an authorize record
        ledger.amend(INVESTIGATOR_KEY, 5, text=b"fine")                        # 11
        ledger.amend(INVESTIGATOR_KEY, 11, text=b"x")                          # 12: an amendment
        ledger.amend(INVESTIGATOR_KEY, 99, text=b"x")                          # 13: not earlier
        supporting = (0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13)
        out = self.verdict(ledger, (5, 6), supporting, 1,
                           failing=[f"supporting record {n}: authority" for n in (7, 8, 9, 10, 12, 13)])
        self.assertIn("[ok] supporting record 11: authority", out)

    # -- record 0 and the supporting list ----------------------------------------------

    def test_missing_record_0(self):
        out = self.verdict(standard_ledger(), (2, 3, 4), (1,), 1,
                           failing=("supporting records", "supporting record 1: authority",
                                    "exhibit 2: authority"))
        self.assertIn("record 0 (the genesis) is not among", out)
        self.assertIn("the bundle has no record 0", out)

    def test_genesis_as_an_exhibit(self):
        out = self.verdict(standard_ledger(), (0, 2), (1,), 1, failing=("supporting records",))
        self.assertIn("it is listed as an exhibit", out)
        self.verdict(standard_ledger(), (0, 2), (0, 1), 1, failing=("manifest",))  # both lists

    def test_manifest_without_supporting(self):
        builder = BundleBuilder()
        del builder.manifest["supporting"]
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
        self.assertIn("[FAILED] supporting records", out)
        self.assertIn("missing supporting", out)

    def test_supporting_entry_members(self):
        for mutate in (lambda e: e.update(consent_override=None), lambda e: e.update(media_file=None),
                       lambda e: e.pop("content"),
                       lambda e: e.pop("proof_file"), lambda e: e.update(kind="grant")):
            builder = BundleBuilder()
            mutate(builder.manifest["supporting"][1])
            with self.subTest(mutate):
                out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
                self.assertIn("supporting[1]", out)
        builder = BundleBuilder()
        builder.manifest["supporting"].reverse()
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")

    def test_supporting_record_tampered(self):
        builder = BundleBuilder()
        entry = builder.manifest["supporting"][1]
        record = bytearray(base64.b64decode(entry["record_bytes"]))
        record[-1] ^= 1
        entry["record_bytes"] = b64(bytes(record))
        entry["signature"] = b64(bytes(record[-64:]))
        entry["leaf_hash"] = sha256(b"\x00" + bytes(record)).hex()
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="supporting record 1: signature")
        self.assertIn("[FAILED] supporting record 1: inclusion proof", out)

    def test_undecodable_supporting_record(self):
        builder = BundleBuilder()
        entry = builder.manifest["supporting"][1]
        record = base64.b64decode(entry["record_bytes"]) + b"\x00"   # a trailing byte
        entry["record_bytes"] = b64(record)
        entry["leaf_hash"] = sha256(b"\x00" + record).hex()
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="supporting record 1: record")
        self.assertIn("[FAILED] authority: replayed without supporting record 1", out)
        self.assertIn("[FAILED] exhibit 2: authority", out)

    def test_supporting_proof_and_key_files_are_referenced(self):
        ledger = self.custody_ledger()
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)      # 6
        ledger.accept(CUSTODIAN_A, 6)                               # 7
        members = BundleBuilder(ledger, (5,), (0, 1, 2, 3, 4, 6, 7)).finish()
        self.assertIn(f"keys/{kid(CUSTODIAN_A_PUB)}.pub", members)  # signer of a supporting record only
        self.assertVerdict(self.zip_of(members), 0)
        # a supporting record dropped from the manifest leaves its proof unreferenced
        builder = BundleBuilder(ledger, (5,), (0, 1, 2, 3, 4, 6, 7))
        del builder.manifest["supporting"][-1]
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="member names")
        self.assertIn("proofs/7.tlog-proof", out)
        # the custodian's key file is missing
        builder = BundleBuilder(ledger, (5,), (0, 1, 2, 3, 4, 6, 7))
        del builder.files[f"keys/{kid(CUSTODIAN_A_PUB)}.pub"]
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="member names")
        self.assertIn("[FAILED] supporting record 7: signer key file", out)



# =============================================================================
# The SPEC revision "the rules stated once": one test class per numbered point
# =============================================================================

LEDGER_2 = make_key("second ledger key")
LEDGER_2_PUB = raw_public(LEDGER_2)
ADMIN_3 = make_key("third admin")
ADMIN_3_PUB = raw_public(ADMIN_3)


def pub_file(directory: Path, pub: bytes, name: str) -> Path:
    path = directory / f"{name}.pub"
    path.write_bytes(spki_pem(pub))
    return path


def json_result(path, *extra) -> tuple[int, dict]:
    code, out, _ = run_verifier(path, "--json", *extra)
    return code, json.loads(out)


def codes_of(result: dict, name: str) -> list[str]:
    return next(c["codes"] for c in result["checks"] if c["name"] == name)


class LedgerKeyAndCancelTests(BundleTestCase):
    """Point 1: statement kinds 8 (ledger-key) and 9 (cancel), role 4 (ledger), their 11.2 bodies."""

    def verdict(self, ledger, exhibits, supporting, code, failing=(), **kw):
        out, _ = self.assertVerdict(self.zip_of(BundleBuilder(ledger, exhibits, supporting, **kw).finish()), code)
        for name in failing:
            self.assertIn(f"[FAILED] {name}", out)
        return out

    def test_bodies_of_kinds_8_and_9(self):
        ledger = standard_ledger()
        ledger.ledger_key_record(LEDGER_2)                          # 5
        ledger.transfer(INVESTIGATOR_KEY, 2, LEDGER_PUB)            # 6
        ledger.cancel(INVESTIGATOR_KEY, 6)                          # 7
        ledger.authorize(CUSTODIAN_A_PUB, "L", "ledger")            # 8: decodes (breaks a rule of 4.1)
        for seq, kind, body in ((5, "ledger-key", {"key": b64(LEDGER_2_PUB), "key_id": kid(LEDGER_2_PUB)}),
                                (7, "cancel", {"transfer": 6}),
                                (8, "authorize", {"key": b64(CUSTODIAN_A_PUB), "key_id": kid(CUSTODIAN_A_PUB),
                                                  "name": "L", "role": "ledger"})):
            record = vb.decode_record(ledger.entries[seq]["record"])
            self.assertEqual(vb.KIND_NAMES[record.statement.kind], kind)
            self.assertTrue(vb.json_equal(record.statement.body, body), record.statement.body)
            self.assertEqual(record.statement.kind, KINDS[kind])

    def test_ledger_key_change_verifies(self):
        ledger = standard_ledger()                                  # 0-4
        ledger.ledger_key_record(LEDGER_2)                          # 5: checkpoints by LEDGER_2 from now on
        path = self.zip_of(BundleBuilder(ledger, (2, 3, 4), (0, 1, 5)).finish())
        trust_new = ("--trust", pub_file(self.dir, LEDGER_2_PUB, "l2"),
                     "--trust", KEYS / "test-investigator.insecure.pub")
        out, _ = self.assertVerdict(path, 0, *trust_new)
        # the genesis signer is the FIRST ledger key, not ledger.public_key
        self.assertIn("[ok] supporting record 0: ledger rules: the genesis", out)
        self.assertIn(f"signed by {kid(LEDGER_PUB)} (the first ledger key)", out)
        self.assertIn(f"[ok] checkpoint authority: signed by {kid(LEDGER_2_PUB)}, the ledger key in force at "
                      f"size 6 (ledger-key chain: {kid(LEDGER_PUB)} (record 0) -> {kid(LEDGER_2_PUB)} (record 5))",
                      out)
        self.assertIn(f"[ok] supporting record 5: authority: names {kid(LEDGER_2_PUB)} the ledger key", out)
        self.assertTrue(out.splitlines()[-1].startswith("OK: "))
        # a court that pinned the genesis key has pinned an earlier ledger key: check 10 fails
        out, _ = self.assertVerdict(path, 1, "--trust", KEYS / "test-ledger.insecure.pub",
                                    "--trust", KEYS / "test-investigator.insecure.pub", failing="trust")
        self.assertIn("the ledger key is not among the trusted keys", out)
        # the bundle without its ledger-key record cannot chain the genesis key to the checkpoint's key
        out = self.verdict(ledger, (2, 3, 4), (0, 1), 1, failing=("checkpoint authority",))
        self.assertIn(f"but the ledger key in force at size 6 is {kid(LEDGER_PUB)}", out)
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (2, 3, 4), (0, 1)).finish()))
        self.assertEqual((code, result["exit_code"]), (1, 1))
        self.assertEqual(codes_of(result, "checkpoint authority"), ["checkpoint-key"])

    def test_checkpoint_by_the_previous_ledger_key(self):
        ledger = standard_ledger()
        ledger.ledger_key_record(LEDGER_2)                          # 5
        # signed by the genesis key, which is no longer in force at size 6
        out = self.verdict(ledger, (2,), (0, 1, 5), 1, failing=("checkpoint authority",),
                           checkpoint_key=LEDGER_KEY)
        self.assertIn("[ok] checkpoint: ", out)                     # check 6 alone passes
        # ... and at size 5, before the ledger-key record, the genesis key is the one in force
        self.verdict(ledger, (2,), (0, 1), 0, size=5, checkpoint_key=LEDGER_KEY)

    def test_ledger_key_rules(self):
        ledger = standard_ledger()                                  # 0-4
        ledger.ledger_key_record(LEDGER_2, by=INVESTIGATOR_KEY, switch=False)   # 5: not an admin
        ledger.ledger_key_record(INVESTIGATOR_PUB, switch=False)                 # 6: a known key
        ledger.ledger_key_record((1).to_bytes(32, "little"), switch=False)      # 7: a weak key
        out = self.verdict(ledger, (2,), (0, 1, 5, 6, 7), 1,
                           failing=[f"supporting record {n}: authority" for n in (5, 6, 7)])
        self.assertIn("only an active admin may name a ledger key", out)
        self.assertIn("already known", out)
        self.assertIn("not a canonical, non-weak", out)
        self.assertIn("[ok] checkpoint authority", out)             # rule-breaking records change nothing

    def test_ledger_role_keys_sign_no_record_and_hold_nothing(self):
        ledger = standard_ledger()                                  # 0-4
        ledger.ledger_key_record(LEDGER_2)                          # 5
        ledger.testimony(LEDGER_2, subject="by the ledger key")     # 6: a ledger-role key signs a record
        ledger.transfer(INVESTIGATOR_KEY, 2, LEDGER_2_PUB)          # 7: hand-over to a ledger-role key
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "ledger")  # 8: authorize may not give role ledger
        out = self.verdict(ledger, (2, 6), (0, 1, 5, 7, 8), 1,
                           failing=("exhibit 6: authority", "supporting record 7: authority",
                                    "supporting record 8: authority", "exhibit 2: custody"))
        self.assertIn("a ledger-role key signs checkpoints only", out)
        self.assertIn("has role ledger and cannot hold exhibits", out)
        self.assertIn("only a ledger-key statement gives", out)

    def custody_ledger(self) -> TestLedger:
        return AuthorityBundleTests.custody_ledger(self)

    def test_cancel(self):
        ledger = self.custody_ledger()                              # 0-5, 5 a testimony
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)      # 6
        ledger.cancel(INVESTIGATOR_KEY, 6)                          # 7: by its signer
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_B_PUB)      # 8: nothing pending any more
        ledger.accept(CUSTODIAN_B, 8)                               # 9
        ledger.transfer(CUSTODIAN_B, 5, CUSTODIAN_C_PUB)            # 10
        ledger.cancel(LEDGER_KEY, 10)                               # 11: by an admin
        supporting = (0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11)
        out = self.verdict(ledger, (5,), supporting, 0)
        custody = next(line for line in out.splitlines() if line.startswith("[ok] exhibit 5: custody"))
        self.assertIn(f"CANCELLED: transfer 6 to custodian 'Custodian A' ({kid(CUSTODIAN_A_PUB)}) was cancelled "
                      "by record 7", custody)
        self.assertIn("CANCELLED: transfer 10", custody)
        self.assertIn(f"'Custodian B' ({kid(CUSTODIAN_B_PUB)}) from record 9 (transfer 8 accepted)", custody)
        self.assertNotIn("PENDING", custody)
        self.assertIn("transfer(s) 6, 10 cancelled (not a failure)", out.splitlines()[-2])
        self.assertIn("[ok] supporting record 7: authority: cancels transfer 6", out)
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (5,), supporting).finish()))
        self.assertEqual((code, result["cancelled_transfers"]), (0, [6, 10]))

    def test_cancel_rules(self):
        cases = {
            "accept of a cancelled transfer": (
                lambda l: (l.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB), l.cancel(INVESTIGATOR_KEY, 6),
                           l.accept(CUSTODIAN_A, 6)), "was cancelled by record 7"),
            "cancel by neither the signer nor an admin": (
                lambda l: (l.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB), l.accept(CUSTODIAN_A, 6),
                           l.transfer(CUSTODIAN_A, 5, CUSTODIAN_B_PUB), l.cancel(CUSTODIAN_C, 8)),
                "neither the transfer's signer"),
            "cancel of an accepted transfer": (
                lambda l: (l.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB), l.accept(CUSTODIAN_A, 6),
                           l.cancel(INVESTIGATOR_KEY, 6)), "already accepted by record 7"),
            "cancel twice": (
                lambda l: (l.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB), l.cancel(INVESTIGATOR_KEY, 6),
                           l.cancel(LEDGER_KEY, 6)), "was cancelled by record 7"),
            "cancel of a record that is not a transfer": (
                lambda l: (l.media_record(INVESTIGATOR_KEY, b"", provide=False), l.cancel(INVESTIGATOR_KEY, 5)),
                "not a transfer"),
        }
        for what, (build, text) in cases.items():
            with self.subTest(what):
                ledger = self.custody_ledger()
                build(ledger)
                last = len(ledger.entries) - 1
                supporting = tuple(range(0, 5)) + tuple(range(6, last + 1))
                out = self.verdict(ledger, (5,), supporting, 1, failing=(f"supporting record {last}: authority",))
                self.assertIn(text, out)

    def test_cancel_a_hand_over_to_a_revoked_receiver(self):
        ledger = self.custody_ledger()
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)      # 6
        ledger.revoke(CUSTODIAN_A_PUB, "retired")                   # 7: the receiver leaves
        ledger.cancel(INVESTIGATOR_KEY, 6)                          # 8
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_B_PUB)      # 9
        out = self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 6, 7, 8, 9), 0)
        self.assertIn("PENDING: transfer 9", out)
        self.assertIn("CANCELLED: transfer 6", out)


class ConsentTests(BundleTestCase):
    """Point 2: the consent vocabulary and its conservative reading (section 3)."""

    def test_court_use(self):
        for consent in ("court", "court,research", " court , archive", "research,court", "court,court",
                        "  court  ", "advocacy, court ,archive"):
            self.assertTrue(vb.court_use_allowed(consent), consent)
        for consent in (None, "Court", "COURT", "all", "no court", "court-only", "court,none", "none,court",
                        "none", "courts", "court research", "court;research", "court\u00a0", "\u3000court",
                        "court.", "research", "not court", "court,None,x,none"):
            self.assertFalse(vb.court_use_allowed(consent), consent)
        self.assertEqual(vb.consent_scopes(" court , x y ,"), ["court", "x y", ""])

    def test_consent_in_bundles(self):
        for consent, allowed in (("court", True), ("court, research", True), ("no court", False),
                                 ("Court", False), ("all", False), ("court-only", False), ("court,none", False),
                                 (None, False)):
            with self.subTest(consent=consent):
                ledger = TestLedger()
                ledger.genesis()
                ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")
                ledger.testimony(INVESTIGATOR_KEY, consent=consent)          # 2
                out, _ = self.assertVerdict(self.zip_of(BundleBuilder(ledger, (2,), (0, 1)).finish()),
                                            0 if allowed else 1)
                if not allowed:
                    self.assertIn("[FAILED] exhibit 2: consent", out)
                    self.assertIn("does not allow court use", out)
                    # exported with an override reason, it is revealed legitimately
                    builder = BundleBuilder(ledger, (2,), (0, 1))
                    builder.manifest["exhibits"][0]["consent_override"] = "order of the court, case 12"
                    out, _ = self.assertVerdict(self.zip_of(builder.finish()), 0)
                    self.assertIn("exported with override: 'order of the court, case 12'", out)
                    builder = BundleBuilder(ledger, (2,), (0, 1))
                    builder.manifest["exhibits"][0]["consent_override"] = " "
                    self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")


class AuthorityStateTests(BundleTestCase):
    """Point 3: the rewritten section 4.1 (key state, taint, revocation, counts once, verdicts,
    checkpoint rule)."""

    def verdict(self, ledger, exhibits, supporting, code, failing=(), **kw):
        return LedgerKeyAndCancelTests.verdict(self, ledger, exhibits, supporting, code, failing, **kw)

    def two_admin_ledger(self) -> TestLedger:
        """0 genesis, 1 authorise a second admin, 2 authorise the investigator (by the second admin),
        3 a testimony."""
        ledger = TestLedger()
        ledger.genesis()
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator", by=ADMIN_2)
        ledger.testimony(INVESTIGATOR_KEY)
        return ledger

    def test_taint_through_a_compromised_authoriser(self):
        ledger = self.two_admin_ledger()                            # 0-3
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 2))       # 4: declared later, effective from 2
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c for c in result["checks"] if not c["passed"]}
        self.assertEqual(set(failed), {"supporting record 2: authority", "exhibit 3: authority"})
        self.assertEqual(failed["supporting record 2: authority"]["codes"], ["signed-after-compromise"])
        self.assertEqual(failed["exhibit 3: authority"]["codes"], ["tainted-signer"])
        self.assertIn("signed by a tainted key", failed["exhibit 3: authority"]["detail"])
        # effective from record 3 instead: the authorisation at 2 came first, nothing is tainted
        ledger = self.two_admin_ledger()
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 3))       # 4
        self.verdict(ledger, (3,), (0, 1, 2, 4), 0)

    def test_taint_is_transitive_and_counts_as_never_authorised(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(ADMIN_3_PUB, "Minted admin", "admin", by=ADMIN_2)          # 2: by the thief
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator", by=ADMIN_3)  # 3
        ledger.testimony(INVESTIGATOR_KEY)                                          # 4
        ledger.revoke(ADMIN_2_PUB, "compromised", ("time", ledger.entries[2]["recorded"]))  # 5
        ledger.testimony(INVESTIGATOR_KEY, subject="after")                         # 6: tainted signer
        ledger.revoke(INVESTIGATOR_PUB, "retired", by=ADMIN_3)                      # 7: tainted admin
        ledger.revoke(INVESTIGATOR_PUB, "retired")                                  # 8: a tainted key is known
        out = self.verdict(ledger, (4, 6), (0, 1, 2, 3, 5, 7, 8), 1,
                           failing=("supporting record 2: authority", "supporting record 3: authority",
                                    "exhibit 4: authority", "exhibit 6: authority",
                                    "supporting record 7: authority"))
        self.assertIn("[ok] supporting record 5: authority", out)
        self.assertIn("[ok] supporting record 8: authority", out)
        self.assertIn("is tainted and counts as never authorised", out)
        self.assertIn("in its chain of authorisers", out)

    def test_compromised_genesis_key_after_a_new_ledger_key(self):
        """Compromising the genesis key (allowed once it is no longer the ledger key in force) flags
        the records it signed in its window and taints the keys it authorised there.  SPEC revision
        (4.1, revoke): declaring it compromised from record 0 is refused, since every key descends
        from it: the declaration would taint its own signer (RevokeVoidsNoSignerTests)."""
        ledger = TestLedger()
        ledger.genesis()                                                # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")          # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator", by=ADMIN_2)  # 2
        ledger.testimony(INVESTIGATOR_KEY)                              # 3
        ledger.ledger_key_record(LEDGER_2, by=ADMIN_2)                  # 4
        ledger.revoke(LEDGER_PUB, "compromised", ("seq", 2), by=ADMIN_2)  # 5: the genesis key is not in force
        out = self.verdict(ledger, (3,), (0, 1, 2, 4, 5), 0)
        self.assertIn("[ok] checkpoint authority", out)
        ledger = TestLedger()
        ledger.genesis()
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator", by=ADMIN_2)
        ledger.testimony(INVESTIGATOR_KEY)
        ledger.ledger_key_record(LEDGER_2, by=ADMIN_2)
        ledger.revoke(LEDGER_PUB, "compromised", ("seq", 0), by=ADMIN_2)  # 5: from the genesis itself
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c for c in result["checks"] if not c["passed"]}
        # refused (it would taint its own signer, the second admin), so it changed nothing
        self.assertEqual(set(failed), {"supporting record 5: authority"})
        self.assertEqual(failed["supporting record 5: authority"]["codes"], ["unauthorized"])
        self.assertIn("tainted", failed["supporting record 5: authority"]["detail"])
        self.assertNotIn("signed after compromise", json.dumps(result["checks"]))

    def test_compromise_of_the_ledger_key_in_force_is_refused(self):
        ledger = self.two_admin_ledger()                                    # 0-3
        ledger.revoke(LEDGER_PUB, "compromised", "now", by=ADMIN_2)         # 4
        out = self.verdict(ledger, (3,), (0, 1, 2, 4), 1, failing=("supporting record 4: authority",))
        self.assertIn("it is the ledger key in force", out)
        self.assertIn("[ok] checkpoint authority", out)                     # the refused record changed nothing
        # SPEC revision: retiring it is refused too (the ledger key in force is never revoked) ...
        ledger = self.two_admin_ledger()
        ledger.revoke(LEDGER_PUB, "retired", by=ADMIN_2)                    # 4
        out = self.verdict(ledger, (3,), (0, 1, 2, 4), 1, failing=("supporting record 4: authority",))
        self.assertIn("it is the ledger key in force", out)
        # ... until a new ledger key is named
        ledger = self.two_admin_ledger()
        ledger.ledger_key_record(LEDGER_2, by=ADMIN_2)                      # 4
        ledger.revoke(LEDGER_PUB, "retired", by=ADMIN_2)                    # 5
        self.verdict(ledger, (3,), (0, 1, 2, 4, 5), 0)

    def test_another_admin_is_active(self):
        # (the genesis key is the first ledger key: it may be revoked only once another is named)
        ledger = self.two_admin_ledger()                                    # 0-3
        ledger.ledger_key_record(LEDGER_2)                                  # 4
        ledger.revoke(LEDGER_PUB, "retired", by=LEDGER_KEY)                 # 5: the genesis key retires itself
        self.verdict(ledger, (3,), (0, 1, 2, 4, 5), 0)
        ledger = self.two_admin_ledger()
        ledger.ledger_key_record(LEDGER_2)                                  # 4
        ledger.revoke(ADMIN_2_PUB, "retired", by=ADMIN_2)                   # 5
        ledger.revoke(LEDGER_PUB, "retired", by=LEDGER_KEY)                 # 6: now the last admin
        out = self.verdict(ledger, (3,), (0, 1, 2, 4, 5, 6), 1, failing=("supporting record 6: authority",))
        self.assertIn("no other admin is active at record 6", out)
        # a tainted admin is not another active admin
        ledger = TestLedger()
        ledger.genesis()                                                    # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")              # 1
        ledger.authorize(ADMIN_3_PUB, "Minted", "admin", by=ADMIN_2)        # 2
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 2))               # 3
        ledger.ledger_key_record(LEDGER_2)                                  # 4
        ledger.revoke(LEDGER_PUB, "retired")                                # 5: only the minted admin is left
        out = self.verdict(ledger, (), (0, 1, 2, 3, 4, 5), 1,
                           failing=("supporting record 5: authority", "supporting record 2: authority"))
        self.assertIn("no other admin is active at record 5", out)

    def test_statements_count_once(self):
        ledger = AuthorityBundleTests.custody_ledger(self)              # 0-5
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)           # 6
        ledger.accept(CUSTODIAN_A, 6)                                   # 7
        ledger.transfer(CUSTODIAN_A, 5, INVESTIGATOR_PUB)               # 8
        ledger.accept(INVESTIGATOR_KEY, 8)                              # 9: the investigator holds it again
        ledger.replay(6)                                                # 10: the old hand-over, replayed
        out = self.verdict(ledger, (5,), (0, 1, 2, 3, 4, 6, 7, 8, 9, 10), 1,
                           failing=("supporting record 10: authority",))
        self.assertIn("the same transfer statement as record 6", out)
        # a media statement may be recorded twice; a testimony's may not, since its text counts once (4.1)
        ledger = standard_ledger()
        ledger.replay(3)                                                # 5: the media record 3 again
        self.verdict(ledger, (3, 5), (0, 1), 0)
        ledger.replay(2)                                                # 6: the testimony 2 again
        out = self.verdict(ledger, (2, 6), (0, 1), 1, failing=("exhibit 6: authority",))
        self.assertIn("text counts once", out)
        # a statement that broke a rule changed nothing, so it may be appended again later
        ledger = TestLedger()
        ledger.genesis()                                                # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")   # 1
        ledger.revoke(LEDGER_PUB, "retired", claimed=T0)                # 2: refused, the ledger key in force
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")          # 3
        ledger.ledger_key_record(LEDGER_2, by=ADMIN_2)                  # 4
        ledger.replay(2)                                                # 5: now allowed
        out = self.verdict(ledger, (), (0, 1, 2, 3, 4, 5), 1, failing=("supporting record 2: authority",))
        self.assertIn("[ok] supporting record 5: authority", out)

    def test_checkpoint_compromised(self):
        """The checkpoint rule: the key in force must not be compromised for record N - 1.  (In a bundle
        whose records all lie below the checkpoint this cannot happen, since the ledger key in force
        cannot be declared compromised; records beyond the checkpoint, which fail their inclusion,
        make it happen.)"""
        def ledger_with(effective):
            ledger = TestLedger()
            ledger.genesis()                                                # 0
            ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")          # 1
            ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")  # 2
            ledger.testimony(INVESTIGATOR_KEY)                              # 3
            ledger.media_record(INVESTIGATOR_KEY, b"", provide=False)       # 4
            ledger.ledger_key_record(LEDGER_2, switch=False)                # 5
            ledger.revoke(LEDGER_PUB, "compromised", effective, by=ADMIN_2)  # 6
            return ledger
        for effective, with_record_4, code in ((("seq", 4), False, "checkpoint-compromised"),
                                               (("time", T0 + 3 * 1000 + 500), False, "checkpoint-compromised"),
                                               (("time", T0 + 3 * 1000 + 500), True, "checkpoint-compromised"),
                                               (("time", T0 + 4 * 1000 + 501), True, None)):
            with self.subTest(effective=effective, with_record_4=with_record_4):
                ledger = ledger_with(effective)
                exhibits = (3, 4) if with_record_4 else (3,)
                path = self.zip_of(BundleBuilder(ledger, exhibits, (0, 1, 2, 5, 6), size=5).finish())
                _, result = json_result(path)
                check = next(c for c in result["checks"] if c["name"] == "checkpoint authority")
                self.assertEqual(check["passed"], code is None, check)
                self.assertEqual(check["codes"], [code] if code else [])
                if effective[0] == "time" and not with_record_4:
                    self.assertIn("cannot be shown to precede the compromise", check["detail"])
                self.assertEqual(result["exit_code"], 1)   # records 5 and 6 lie beyond the checkpoint


class TimeOrderTests(BundleTestCase):
    """Point 4: the time rules a bundle's records can show (11.3 check 7)."""

    def test_claimed_after_recorded(self):
        for delta, code in ((600_000, 0), (600_001, 1)):
            with self.subTest(delta=delta):
                ledger = standard_ledger()
                recorded = T0 + 5500
                ledger.testimony(INVESTIGATOR_KEY, claimed=recorded + delta, recorded=recorded)   # 5
                path = self.zip_of(BundleBuilder(ledger, (5,), (0, 1)).finish())
                out, _ = self.assertVerdict(path, code)
                if code:
                    self.assertIn("[FAILED] exhibit 5: ledger rules", out)
                    self.assertIn("more than 10 minutes after recorded_at", out)
                    self.assertEqual(codes_of(json_result(path)[1], "exhibit 5: ledger rules"),
                                     ["claimed-after-recorded"])

    def test_time_order_is_not_checked_between_bundle_records(self):
        """11.3 check 7: time order is not checked between a bundle's records, which are not contiguous.
        A ledger rebuilt with a small decrease (records 2 and 3, both in the bundle) still verifies."""
        ledger = TestLedger()
        ledger.genesis()
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")
        ledger.testimony(INVESTIGATOR_KEY, recorded=T0 + 60_000)                  # 2
        ledger.media_record(INVESTIGATOR_KEY, b"", recorded=T0 + 59_000)          # 3: one second earlier
        ledger.media_record(INVESTIGATOR_KEY, b"x", recorded=T0 + 10_000)         # 4: 49 s earlier still
        self.assertVerdict(self.zip_of(BundleBuilder(ledger, (2, 3, 4), (0, 1)).finish()), 0)


class ArchiveAccountingTests(BundleTestCase):
    """Point 5: 11.1 "every byte is accounted for" (exit 2), and archives Python's zipfile writes
    (exit 0)."""

    def good_bytes(self, compress=zipfile.ZIP_DEFLATED) -> bytes:
        members = BundleBuilder().finish()
        path = write_zip(self.dir / "base.zip", [(regular(n, compress), d) for n, d in members.items()])
        return path.read_bytes()

    def check_bytes(self, data: bytes, code: int, text: str | None = None):
        path = self.dir / "edited.zip"
        path.write_bytes(data)
        _, err = self.assertVerdict(path, code)
        if text is not None:
            self.assertIn(text, err)
        return path

    def test_lenient_reader_accepts_every_edit_below(self):
        """The edits below keep the archive readable by Python's zipfile: only the accounting rule
        refuses them."""
        data = self.good_bytes()
        entries, _ = zip_entries(data)
        for edited in (insert_bytes(data, 0, b"#!/bin/sh\nexit 0\n"), insert_bytes(data, entries[1]["local"], b"\0" * 7),
                       data + b"trailing"):
            with zipfile.ZipFile(io.BytesIO(edited)) as zf:
                self.assertIsNone(zf.testzip())

    def test_bytes_before_the_first_entry(self):
        data = self.good_bytes()
        self.check_bytes(insert_bytes(data, 0, b"#!/bin/sh\nexit 0\n"), 2, "before the first entry")
        # prepended without moving the offsets: the central directory is not where it says
        self.check_bytes(b"PK\x03\x04 junk" + data, 2)

    def test_gap_and_hidden_entry(self):
        data = self.good_bytes()
        entries, _ = zip_entries(data)
        self.check_bytes(insert_bytes(data, entries[2]["local"], b"\0" * 5), 2, "not accounted for")
        # a whole local entry that only a streaming unzip would show
        hidden = write_zip(self.dir / "hidden.zip", [("content/2.txt", b"A different testimony.\n")]).read_bytes()
        _, hidden_end = zip_entries(hidden)
        self.check_bytes(insert_bytes(data, entries[2]["local"], hidden[:hidden_end["cd_offset"]]), 2,
                         "hidden entry")
        # ... or after the last entry, just before the central directory
        _, end = zip_entries(data)
        self.check_bytes(insert_bytes(data, end["cd_offset"], hidden[:hidden_end["cd_offset"]]), 2,
                         "before the central directory")

    def test_comment_and_trailing_bytes(self):
        members = BundleBuilder().finish()
        path = self.dir / "comment.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(regular(name), data)
            zf.comment = b"a comment"
        _, err = self.assertVerdict(path, 2)
        self.assertIn("end of central directory record", err)
        self.check_bytes(self.good_bytes() + b"\0", 2)
        # a comment length patched in without the comment
        data = bytearray(self.good_bytes())
        struct.pack_into("<H", data, len(data) - 2, 1)
        self.check_bytes(bytes(data), 2, "comment length")

    def test_central_directory_counts_and_disks(self):
        data = self.good_bytes()
        _, end = zip_entries(data)
        for offset, value in ((8, end["count"] - 1), (10, end["count"] - 1), (8, end["count"] + 1),
                              (10, end["count"] + 1), (4, 1), (6, 1), (12, end["cd_size"] + 1)):
            with self.subTest(offset=offset, value=value):
                edited = bytearray(data)
                struct.pack_into("<H" if offset < 12 else "<L", edited, end["at"] + offset, value)
                self.check_bytes(bytes(edited), 2)

    def test_local_header_must_agree(self):
        data = self.good_bytes()
        entries, _ = zip_entries(data)
        first = entries[0]["local"]
        for offset, fmt, what in ((14, "<L", "CRC-32"), (18, "<L", "compressed size"), (22, "<L", "size"),
                                  (8, "<H", "method"), (6, "<H", "flags")):
            with self.subTest(what):
                edited = bytearray(data)
                value = struct.unpack_from(fmt, edited, first + offset)[0]
                struct.pack_into(fmt, edited, first + offset, value ^ 0x2)
                self.check_bytes(bytes(edited), 2)

    def test_data_descriptor_only_with_bit_3(self):
        data = self.good_bytes()
        entries, _ = zip_entries(data)
        name = entries[0]["name"].encode()
        # bit 3 set in both headers, but no descriptor follows the data
        self.check_bytes(patch_entry(data, name, central={8: ("<H", 0x8)}, local={6: ("<H", 0x8)}), 2,
                         "data descriptor")

    def test_zip64_end_records(self):
        data = self.good_bytes()
        self.check_bytes(with_zip64_end(data), 0)
        self.check_bytes(with_zip64_end(data, counts=False), 0)   # only the size and offset need ZIP64
        self.check_bytes(with_zip64_end(data, gap=b"\0" * 4), 2, "immediately before")
        # the end record needs ZIP64 values, but the ZIP64 records are missing
        _, end = zip_entries(data)
        eocd = bytearray(data[end["at"]:])
        struct.pack_into("<L", eocd, 16, 0xFFFFFFFF)
        self.check_bytes(data[:end["at"]] + bytes(eocd), 2, "ZIP64")

    def test_python_zipfile_forms_are_readable(self):
        self.check_bytes(self.good_bytes(zipfile.ZIP_STORED), 0)
        self.check_bytes(self.good_bytes(zipfile.ZIP_DEFLATED), 0)
        members = BundleBuilder().finish()
        path = self.dir / "mixed.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for i, (name, data) in enumerate(members.items()):
                info = regular(name, zipfile.ZIP_STORED if i % 2 else zipfile.ZIP_DEFLATED)
                with zf.open(info, "w", force_zip64=bool(i % 3 == 0)) as fh:
                    fh.write(data)
        self.assertVerdict(path, 0)

    @staticmethod
    def hand_zip(members, central_zip64, local_zip64=True) -> bytes:
        """A stored ZIP written by hand.  central_zip64(i) gives, for member i, the ZIP64 form of its
        central header: None, "appnote" (sentinels for both sizes and the offset, each in the
        block) or "crate" (the Rust zip crate's large file: sentinel uncompressed size only, block
        with both sizes and the offset)."""
        out, central = bytearray(), bytearray()
        for i, (name, data) in enumerate(members):
            crc, size, offset = zlib.crc32(data), len(data), len(out)
            raw = name.encode()
            if local_zip64:
                local_extra = struct.pack("<HHQQ", 1, 16, size, size)
                out += struct.pack("<4sHHHHHLLLHH", b"PK\x03\x04", 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                   len(raw), len(local_extra)) + raw + local_extra + data
            else:
                out += struct.pack("<4sHHHHHLLLHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, size, size, len(raw),
                                   0) + raw + data
            form = central_zip64(i)
            if form == "appnote":
                extra = struct.pack("<HHQQQ", 1, 24, size, size, offset)
                c_size, u_size, c_off = 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF
            elif form == "crate":
                extra = struct.pack("<HHQQQ", 1, 24, size, size, offset)
                c_size, u_size, c_off = size, 0xFFFFFFFF, 0xFFFFFFFF
            elif form == "stray":
                extra, c_size, u_size, c_off = b"\x01\x02\x03", size, size, offset
            else:
                extra, c_size, u_size, c_off = b"", size, size, offset
            central += struct.pack("<4sHHHHHHLLLHHHHHLL", b"PK\x01\x02", (3 << 8) | 45, 45, 0, 0, 0, 0, crc,
                                   c_size, u_size, len(raw), len(extra), 0, 0, 0, (stat.S_IFREG | 0o644) << 16,
                                   c_off) + raw + extra
        n = len(members)
        return bytes(out + central + struct.pack("<4sHHHHLLH", b"PK\x05\x06", 0, 0, n, n, len(central),
                                                 len(out), 0))

    def test_zip64_extra_fields_in_central_headers(self):
        members = list(BundleBuilder().finish().items())
        for form in ("appnote", "crate", None):
            with self.subTest(form=form):
                data = self.hand_zip(members, lambda i: form if i % 2 else None)
                if form != "crate":   # Python's zipfile misreads the crate's form (offset from the 2nd value)
                    with zipfile.ZipFile(io.BytesIO(data)) as zf:
                        self.assertIsNone(zf.testzip())
                self.check_bytes(data, 0)
                entries = vb.read_zip_layout(io.BytesIO(data), len(data))
                self.assertEqual([e.raw_name.decode() for e in entries], [n for n, _ in members])
                self.assertEqual([e.file_size for e in entries], [len(d) for _, d in members])
        self.check_bytes(self.hand_zip(members, lambda i: None, local_zip64=False), 0)
        # a sentinel with no ZIP64 extra field to resolve it
        data = bytearray(self.hand_zip(members, lambda i: None, local_zip64=False))
        first_central = data.find(b"PK\x01\x02")
        struct.pack_into("<L", data, first_central + 42, 0xFFFFFFFF)
        self.check_bytes(bytes(data), 2, "no ZIP64 extra field")
        # a malformed extra field (11.1: well-formed extra fields): stray bytes that are no block
        self.check_bytes(self.hand_zip(members, lambda i: "stray" if i == 3 else None), 2, "malformed extra field")

    def test_empty_archive_is_readable(self):
        path = self.dir / "empty.zip"
        with zipfile.ZipFile(path, "w"):
            pass
        self.assertEqual(len(path.read_bytes()), 22)
        out, _ = self.assertVerdict(path, 1, failing="required members")


class ManifestRevisionTests(BundleTestCase):
    """Point 6: include_failing, supporting `content`, exported_at, times, key fields."""

    def test_include_failing(self):
        # 11.2: a non-null include_failing never verifies as passed (IncludedFailingTests); a
        # malformed one fails the manifest check as well
        for value, manifest_fails in ((None, False), ("the defence asked for every record", False), ("", True),
                                      (" ", True), (7, True), (False, True)):
            with self.subTest(value=value):
                builder = BundleBuilder()
                builder.manifest["include_failing"] = value
                out, _ = self.assertVerdict(self.zip_of(builder.finish()), 0 if value is None else 1,
                                            failing="manifest" if manifest_fails else None)
                if value is None:
                    self.assertNotIn("included failing", out)
                else:
                    self.assertIn("[FAILED] included failing: ", out)
                if value and not manifest_fails:
                    self.assertIn("[ok] manifest: ", out)
                    self.assertIn("exported with --include-failing", out)
        builder = BundleBuilder()
        del builder.manifest["include_failing"]
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
        self.assertIn("missing include_failing", out)
        # a bundle exported with a failing exhibit still fails, and says why it was included
        ledger = standard_ledger()
        ledger.media_record(STRANGER, b"planted")                    # 5
        builder = BundleBuilder(ledger, (2, 5), (0, 1))
        builder.manifest["include_failing"] = "shown to the court as a forgery"
        code, result = json_result(self.zip_of(builder.finish()))
        self.assertEqual(code, 1)
        self.assertEqual(result["include_failing"], "shown to the court as a forgery")
        self.assertIn("included failing exhibits on purpose", result["summary"])

    def amended_ledger(self, consent="court") -> TestLedger:
        ledger = TestLedger()
        ledger.genesis()                                                           # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")       # 1
        ledger.testimony(INVESTIGATOR_KEY, consent=consent)                        # 2
        ledger.amend(INVESTIGATOR_KEY, 2, text=b"The corrected testimony.\n")     # 3
        return ledger

    def test_supporting_amendment_reveals_its_text(self):
        ledger = self.amended_ledger()
        members = BundleBuilder(ledger, (2,), (0, 1, 3)).finish()
        self.assertIn("content/3.txt", members)
        manifest = json.loads(members["manifest.json"])
        self.assertEqual(manifest["supporting"][2]["content"],
                         {"file": "content/3.txt", "salt": (b"\x33" * 32).hex()})
        self.assertEqual(manifest["supporting"][1]["content"], None)
        out, _ = self.assertVerdict(self.zip_of(members), 0)
        self.assertIn("[ok] supporting record 3: content: content/3.txt (25 bytes) satisfies the commitment", out)
        self.assertIn("[ok] supporting record 3: consent", out)
        # another text under the same name, re-signed: check 8 fails
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        builder.files["content/3.txt"] = b"A forged correction.\n"
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="supporting record 3: content")
        # content/<seq>.txt only
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        builder.manifest["supporting"][2]["content"]["file"] = "content/2.txt"
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        builder.manifest["supporting"][2]["content"]["extra"] = 1
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")

    def test_supporting_content_only_as_11_2_says(self):
        ledger = self.amended_ledger()
        # on an authorize record
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        builder.manifest["supporting"][1]["content"] = {"file": "content/1.txt", "salt": "00" * 32}
        builder.files["content/1.txt"] = b"x"
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="supporting record 1: content")
        self.assertIn("only an amendment with a new text may", out)
        # for an amendment of a testimony whose own text the bundle does not reveal
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        builder.manifest["exhibits"][0]["content"] = None
        del builder.files["content/2.txt"]
        builder.manifest["supporting"][2]["content"] = {"file": "content/3.txt", "salt": (b"\x33" * 32).hex()}
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="supporting record 3: content")
        self.assertIn("not a testimony exhibit whose text the bundle reveals", out)
        # 11.3 check 8: the testimony's text is revealed, its amendment's new text must be too
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        builder.manifest["supporting"][2]["content"] = None
        del builder.files["content/3.txt"]
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="supporting record 3: content")
        self.assertIn("every version of a revealed testimony is revealed", out)
        # ... also when the amendment is exported as an exhibit
        builder = BundleBuilder(ledger, (2, 3), (0, 1))
        builder.manifest["exhibits"][1]["content"] = None
        del builder.files["content/3.txt"]
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 3: content")
        # neither text revealed: fine
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        builder.manifest["exhibits"][0]["content"] = None
        builder.manifest["supporting"][2]["content"] = None
        del builder.files["content/2.txt"], builder.files["content/3.txt"]
        self.assertVerdict(self.zip_of(builder.finish()), 0)

    def test_amendment_text_under_the_testimony_consent(self):
        ledger = self.amended_ledger(consent="research")
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1,
                                    failing="supporting record 3: consent")
        self.assertIn("[FAILED] exhibit 2: consent", out)
        builder = BundleBuilder(ledger, (2,), (0, 1, 3))
        builder.manifest["exhibits"][0]["consent_override"] = "judge's order 12"
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 0)
        self.assertIn("[ok] supporting record 3: consent: the amended testimony exhibit 2 has consent in force "
                      "'research'", out)
        # the amendment exported as an exhibit: its own override or the testimony exhibit's
        builder = BundleBuilder(ledger, (2, 3), (0, 1))
        builder.manifest["exhibits"][0]["consent_override"] = "judge's order 12"
        self.assertVerdict(self.zip_of(builder.finish()), 0)
        builder = BundleBuilder(ledger, (2, 3), (0, 1))
        builder.manifest["exhibits"][0]["consent_override"] = "judge's order 12"
        builder.manifest["exhibits"][1]["consent_override"] = "judge's order 12"
        self.assertVerdict(self.zip_of(builder.finish()), 0)
        builder = BundleBuilder(ledger, (2, 3), (0, 1))
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 3: consent")

    def test_exported_at(self):
        for text, code in ((rfc3339(1767226200123), 0), ("2026-01-01T00:10:00.123+00:00", 1),
                           ("2026-01-01T00:10:00.12Z", 1), ("2026-01-01T00:10:00.124Z", 1),
                           ("2026-01-01 00:10:00.123Z", 1), ("2026-01-01T00:10:00.123z", 1)):
            with self.subTest(text):
                builder = BundleBuilder()
                builder.manifest["exported_at"] = text
                self.assertVerdict(self.zip_of(builder.finish()), code, failing="manifest" if code else None)

    def test_times_up_to_the_end_of_year_9999(self):
        builder = BundleBuilder()
        builder.manifest["exported_at_ms"] = 253402300799999
        builder.manifest["exported_at"] = "9999-12-31T23:59:59.999Z"
        self.assertVerdict(self.zip_of(builder.finish()), 0)
        builder = BundleBuilder()
        builder.manifest["exported_at_ms"] = 253402300800000
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
        self.assertIn("253402300799999", out)
        # a record claiming a time after the year 9999
        ledger = standard_ledger()
        ledger.testimony(INVESTIGATOR_KEY, claimed=253402300800000, recorded=253402300799000)   # 5
        builder = BundleBuilder(ledger, (5,), (0, 1))
        builder.manifest["exhibits"][0]["claimed_at"] = "+10000-01-01T00:00:00.000Z"
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
        self.assertIn("exhibits[0].claimed_at_ms", out)
        # a revocation effective after the year 9999 (the body's time_ms)
        builder = BundleBuilder(ledger, (2,), (0, 1))
        builder.manifest["supporting"][1]["body"] = {"effective": {"time_ms": 253402300800000, "time": "x"}}
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
        self.assertIn("supporting[1].body.effective.time_ms", out)

    def test_key_fields_derive_from_public_key(self):
        for part in ("exporter", "ledger"):
            for field, value in (("key_id", "00000000"), ("fingerprint", "SHA256:" + "00" * 32),
                                 ("key_file", "keys/00000000.pub"), ("fingerprint", "sha256:" + "00" * 32)):
                with self.subTest(part=part, field=field):
                    builder = BundleBuilder()
                    builder.manifest[part][field] = value
                    out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
                    self.assertIn(f"{part}.{field}", out)


class TrustAndReportTests(BundleTestCase):
    """Point 7: --trust / --no-trust (11.3 check 10) and the report note (check 14)."""

    def test_neither_trust_nor_no_trust_refuses_to_run(self):
        path = self.good()
        code, out, err = run_verifier(path, trust_flag=False)
        self.assertEqual((code, out), (2, ""))
        self.assertTrue(err.startswith("error: "), err)
        self.assertIn("--trust", err)
        self.assertIn("--no-trust", err)
        code, out, err = run_verifier(path, "--json", trust_flag=False)
        result = json.loads(out)
        self.assertEqual((code, result["exit_code"], result["passed"]), (2, 2, False))
        self.assertIn("--no-trust", result["error"])
        # even an unreadable bundle: the usage is refused first, still exit 2
        bad = self.dir / "bad.zip"
        bad.write_bytes(b"not a zip")
        self.assertEqual(run_verifier(bad, trust_flag=False)[0], 2)

    def test_trust_and_no_trust_together(self):
        code, _, err = run_verifier(self.good(), "--no-trust", "--trust", KEYS / "test-ledger.insecure.pub")
        self.assertEqual(code, 2)
        self.assertIn("contradict", err)

    def test_last_line(self):
        path = self.good()
        _, out, _ = run_verifier(path, "--no-trust")
        self.assertIn("NOT pinned", out.splitlines()[-1])
        code, out, _ = run_verifier(path, "--trust", KEYS / "test-ledger.insecure.pub",
                                    "--trust", KEYS / "test-investigator.insecure.pub")
        self.assertEqual(code, 0)
        self.assertTrue(out.splitlines()[-1].startswith("OK: "), out.splitlines()[-1])
        self.assertNotIn("NOT pinned", out)
        # a failing bundle says it too
        members = BundleBuilder().finish()
        members["manifest.sig"] = bytes(64)
        _, out, _ = run_verifier(self.zip_of(members, "bad.zip"), "--no-trust")
        self.assertTrue(out.splitlines()[-2].startswith("PROBLEM: "))
        self.assertIn("NOT pinned", out.splitlines()[-1])

    def test_json_trust_and_report_note(self):
        path = self.good()
        code, result = json_result(path, "--trust", KEYS / "test-ledger.insecure.pub",
                                   "--trust", KEYS / "test-investigator.insecure.pub")
        self.assertEqual(code, 0)
        self.assertTrue(result["keys_pinned"])
        self.assertIn("only by `custody verify-bundle`", result["report_note"])
        code, result = json_result(path, "--no-trust")
        self.assertFalse(result["keys_pinned"])
        _, out, _ = run_verifier(path, "--no-trust")
        self.assertIn("NOTE: report.html and VERIFY.txt were checked here only as members", out)

    def test_report_members_are_still_checked_as_members(self):
        members = BundleBuilder().finish()
        members["report.html"] = b"<p>forged</p>"
        self.assertVerdict(self.zip_of(members), 1, failing="SHA256SUMS")
        builder = BundleBuilder()
        builder.files["report.html"] = b"<p>forged and re-signed</p>"
        self.assertVerdict(self.zip_of(builder.finish()), 0)   # check 14 is custody's only


class JsonEveryOutcomeTests(BundleTestCase):
    """Point 8: with --json, stdout holds one JSON object on every outcome, exit 2 included."""

    def assertJsonExit2(self, *args, trust_flag=True):
        code, out, err = run_verifier(*args, "--json", trust_flag=trust_flag)
        self.assertEqual(code, 2, out + err)
        result = json.loads(out)               # exactly one JSON object
        self.assertEqual(result["exit_code"], 2)
        self.assertFalse(result["passed"])
        self.assertIsInstance(result["error"], str)
        self.assertTrue(err.startswith("error: "))
        return result

    def test_exit_2_outcomes(self):
        good = self.good()
        plain = self.dir / "plain.zip"
        plain.write_bytes(b"not a zip file\n" * 3)
        self.assertTrue(self.assertJsonExit2(plain)["unreadable"])
        self.assertFalse(self.assertJsonExit2(self.dir / "absent.zip")["unreadable"])
        self.assertJsonExit2(good, trust_flag=False)
        self.assertJsonExit2(good, "--trust", self.dir / "missing.pub")
        self.assertJsonExit2(good, "--media-dir", self.dir / "nowhere")
        self.assertJsonExit2(good, "--frobnicate")
        code, out, _ = run_verifier("--json")      # no bundle at all
        self.assertEqual((code, json.loads(out)["exit_code"]), (2, 2))
        prefixed = self.dir / "prefixed.zip"
        prefixed.write_bytes(insert_bytes(good.read_bytes(), 0, b"MZ"))
        self.assertIn("not accounted for", self.assertJsonExit2(prefixed)["error"])

    def test_exit_0_and_1_are_one_object_too(self):
        code, out, _ = run_verifier(self.good(), "--json")
        self.assertEqual((code, json.loads(out)["exit_code"]), (0, 0))
        members = BundleBuilder().finish()
        members["manifest.sig"] = bytes(64)
        code, out, _ = run_verifier(self.zip_of(members, "bad.zip"), "--json")
        self.assertEqual((code, json.loads(out)["exit_code"]), (1, 1))


class AuthorityKnownAnswerTests(BundleTestCase):
    """tests/vectors/kat/authority.json: a valid ledger of every kind (SPEC section 12), written by
    custody itself; replayed here, and exported as a bundle built from its exact record bytes."""

    KAT = json.loads((KAT / "authority.json").read_text())
    BODIES = [
        {"origin": ORIGIN},
        {"key": b64(INVESTIGATOR_PUB), "key_id": kid(INVESTIGATOR_PUB), "name": "Alice Example",
         "role": "investigator"},
        {"subject": "W-18", "language": "en", "consent": "court", "location": "field office 2",
         "commitment": "95843a22e2b6edf4e6bc093e8df289cd206dc357f0b182edd10d9fc4da91ce1e", "content_length": 53},
        {"sha256": "bb2660fcecc6953cb4ca91337d7eb260b31e18b149637435d35993a4fadaf0eb", "size": 14,
         "name": "clip-002.mp4", "media_type": "video/mp4", "description": None},
        {"exhibit": 3, "to": b64(LEDGER_PUB), "to_key_id": kid(LEDGER_PUB), "reason": "to the evidence vault",
         "location": "vault A"},
        {"transfer": 4},
        {"target": 2, "reason": "a date was misheard", "description": None,
         "commitment": "7348d2c5ee1ef1031f8ce57763d8d65672ad1a432349fdbb1dd421b49d760fbe", "content_length": 57},
        {"key": b64(INVESTIGATOR_PUB), "key_id": kid(INVESTIGATOR_PUB), "reason": "retired", "effective": "now"},
    ]

    def kat_ledger(self) -> TestLedger:
        ledger = TestLedger()
        for rec, body in zip(self.KAT["records"], self.BODIES):
            record = bytes.fromhex(rec["record_hex"])
            statement = bytes.fromhex(rec["statement_hex"])
            seq, = struct.unpack_from(">Q", record, 1)
            recorded, = struct.unpack_from(">Q", record, 41)
            claimed, = struct.unpack_from(">Q", statement, 2)
            self.assertEqual(seq, rec["seq"])
            ledger.entries.append({"seq": seq, "kind": rec["kind"], "record": record, "statement": statement,
                                   "signature": bytes.fromhex(rec["signature_hex"]),
                                   "signer": bytes.fromhex(rec["signer_public_key_hex"]), "claimed": claimed,
                                   "recorded": recorded, "body": body, "prev": record[9:41],
                                   "leaf": bytes.fromhex(rec["leaf_hash_hex"])})
        for seq, key in ((2, "testimony"), (6, "amended_testimony")):
            ledger.content[seq] = (bytes.fromhex(self.KAT[key]["salt_hex"]), self.KAT[key]["text"].encode())
        return ledger

    def test_replay(self):
        records = [vb.decode_record(bytes.fromhex(r["record_hex"])) for r in self.KAT["records"]]
        for record, body in zip(records, self.BODIES):
            self.assertTrue(vb.json_equal(record.statement.body, body), record.statement.body)
        replay = vb.AuthorityReplay(records)
        self.assertEqual(replay.problems, {})
        investigator = replay.keys[INVESTIGATOR_PUB]
        self.assertEqual((investigator.ended_at, investigator.ended_reason, investigator.compromises),
                         (7, vb.REASON_RETIRED, []))
        self.assertEqual(replay.holdings[3].holder, LEDGER_PUB)
        self.assertEqual(replay.amendments, {2: [6]})
        self.assertEqual(replay.chain, [(0, LEDGER_PUB)])
        cp = vb.verify_checkpoint(self.KAT["checkpoint"].encode(), ORIGIN, LEDGER_PUB)
        self.assertEqual((cp.size, mth(self.kat_ledger().leaves()).hex()), (8, self.KAT["roots"]["8"]))
        replay.checkpoint(8, LEDGER_PUB)

    def test_bundle_of_the_kat_ledger(self):
        ledger = self.kat_ledger()
        self.assertEqual(ledger.checkpoint(8).decode(), self.KAT["checkpoint"])
        members = BundleBuilder(ledger, (2, 3), (0, 1, 4, 5, 6, 7), exporter=LEDGER_KEY).finish()
        self.assertIn("content/6.txt", members)     # the amendment of a revealed testimony, revealed too
        out, _ = self.assertVerdict(self.zip_of(members), 0, "--trust", KEYS / "test-ledger.insecure.pub")
        self.assertIn("[ok] supporting record 6: content: content/6.txt (57 bytes)", out)
        self.assertIn("[ok] exhibit 3: custody: holders: investigator 'Alice Example' (706fa4fe) from record 3 "
                      f"(its signer); then admin 'ledger' ({kid(LEDGER_PUB)}) from record 5 (transfer 4 accepted)",
                      out)



# =============================================================================
# The SPEC revision "adversary findings": one test class per numbered point
# =============================================================================

LEDGER_3 = make_key("third ledger key")
LEDGER_3_PUB = raw_public(LEDGER_3)
INVESTIGATOR_KID = kid(INVESTIGATOR_PUB)


def resign_checkpoint(builder: BundleBuilder, body: str, key=LEDGER_KEY) -> bytes:
    """Replace a builder's checkpoint by `body` (the note text, ending in a newline) signed by `key`
    as section 6 says, and every proof file's copy of it."""
    origin = builder.ledger.origin
    nkid = sha256(origin.encode() + b"\n\x01" + raw_public(key))[:4]
    checkpoint = f"{body}\n\u2014 {origin} {b64(nkid + key.sign(body.encode()))}\n".encode()
    builder.files["checkpoint.txt"] = checkpoint
    for e in builder.manifest["exhibits"] + builder.manifest["supporting"]:
        builder.files[e["proof_file"]] = tlog_proof(e["seq"], [base64.b64decode(h) for h in e["inclusion_proof"]],
                                                    checkpoint)
    return checkpoint


class ExactKeyFileTests(BundleTestCase):
    """Point 1: a bundle's keys/<key ID>.pub is exactly the canonical SPKI PEM text (11.1 table)."""

    def test_canonical_text(self):
        for name, pub in (("test-ledger", LEDGER_PUB), ("test-investigator", INVESTIGATOR_PUB)):
            data = (KEYS / f"{name}.insecure.pub").read_bytes()
            self.assertEqual(vb.canonical_public_key_pem(pub), data)
            self.assertEqual(vb.canonical_public_key_pem(pub), spki_pem(pub))
            self.assertEqual(vb.parse_key_file(data), pub)
            self.assertEqual(len(data), 27 + 60 + 26)

    def variants(self, data: bytes) -> dict[str, bytes]:
        lines = data.split(b"\n")
        return {
            "final newline flipped to a vertical tab": data[:-1] + b"\x0b",
            "CRLF line ends": data.replace(b"\n", b"\r\n"),
            "no final newline": data[:-1],
            "an extra empty line": data + b"\n",
            "an extra line before": b"Comment: the investigator\n" + data,
            "white space after the base64": data.replace(lines[1], lines[1] + b" "),
            "base64 wrapped": data.replace(lines[1], lines[1][:40] + b"\n" + lines[1][40:]),
            "a second PEM block": data + data,
            "a trailing NUL": data + b"\x00",
            "lowercase armour": data.replace(b"PUBLIC KEY", b"public key"),
        }

    def test_parse_key_file_refuses_every_other_text(self):
        data = KEY_FILES[INVESTIGATOR_PUB]
        for what, bad in self.variants(data).items():
            with self.subTest(what):
                with self.assertRaises(ValueError) as ctx:
                    vb.parse_key_file(bad)
                self.assertIn("canonical SPKI PEM", str(ctx.exception))
        # a PEM reader accepts the vertical tab: the detail says which key it holds and where it differs
        with self.assertRaises(ValueError) as ctx:
            vb.parse_key_file(data[:-1] + b"\x0b")
        self.assertIn(f"holds key {INVESTIGATOR_KID} but not as exactly the canonical SPKI PEM text", str(ctx.exception))
        self.assertIn("offset 112 (byte 0x0b, expected byte 0x0a)", str(ctx.exception))
        # another DER than an Ed25519 SPKI, even when canonical-looking
        der = bytes.fromhex("302a300506032b6571032100") + INVESTIGATOR_PUB      # 1.3.101.113 (Ed448 OID)
        with self.assertRaises(ValueError):
            vb.parse_key_file(b"-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der) + b"\n-----END PUBLIC KEY-----\n")

    def test_the_differential_case(self):
        """custody fails (exit 1) a bundle whose keys/*.pub final newline became 0x0B, with its digests
        in SHA256SUMS and the manifest updated and the manifest re-signed; so does this verifier."""
        name = f"keys/{INVESTIGATOR_KID}.pub"
        builder = BundleBuilder()
        builder.files[name] = KEY_FILES[INVESTIGATOR_PUB][:-1] + b"\x0b"
        path = self.zip_of(builder.finish())
        out, _ = self.assertVerdict(path, 1, failing="exporter key file")
        for check in ("exhibit 2: signer key file", "exhibit 3: signer key file", "exhibit 4: signer key file"):
            self.assertIn(f"[FAILED] {check}: {name}: holds key {INVESTIGATOR_KID} but not as exactly", out)
        # the digests and the signature are right: only the key-file checks fail
        for check in ("SHA256SUMS", "manifest", "manifest files", "manifest signature", "ledger key file"):
            self.assertIn(f"[ok] {check}:", out)
        failed = {line.split(":")[0] for line in out.splitlines() if line.startswith("[FAILED]")}
        self.assertEqual(failed, {"[FAILED] exporter key file", "[FAILED] exhibit 2", "[FAILED] exhibit 3",
                                  "[FAILED] exhibit 4"}, out)
        self.assertEqual(json_result(path)[0], 1)

    def test_every_key_file_of_the_bundle(self):
        for what, bad in self.variants(KEY_FILES[LEDGER_PUB]).items():
            with self.subTest(what):
                builder = BundleBuilder()
                builder.files[f"keys/{kid(LEDGER_PUB)}.pub"] = bad
                out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="ledger key file")
                self.assertIn("[FAILED] supporting record 0: signer key file", out)
        # a key file accepted for a key a record body names (a receiver who signs nothing here)
        ledger = AuthorityBundleTests.custody_ledger(self)                 # 0-5
        ledger.transfer(INVESTIGATOR_KEY, 5, CUSTODIAN_A_PUB)              # 6: pending
        name = f"keys/{kid(CUSTODIAN_A_PUB)}.pub"
        builder = BundleBuilder(ledger, (5,), (0, 1, 2, 6))
        builder.files[name] = spki_pem(CUSTODIAN_A_PUB)
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 0)
        self.assertIn(f"[ok] key file {name}: {name} is the canonical SPKI PEM", out)
        builder = BundleBuilder(ledger, (5,), (0, 1, 2, 6))
        builder.files[name] = spki_pem(CUSTODIAN_A_PUB).replace(b"\n", b"\r\n")
        self.assertVerdict(self.zip_of(builder.finish()), 1, failing=f"key file {name}")

    def test_trust_files_are_read_as_pem(self):
        """SPEC CHOICE: --trust files are the court's own, not bundle members: any PEM of the key."""
        crlf = self.dir / "ledger-crlf.pub"
        crlf.write_bytes(KEY_FILES[LEDGER_PUB].replace(b"\n", b"\r\n") + b"\r\n")
        self.assertVerdict(self.good(), 0, "--trust", crlf, "--trust", KEYS / "test-investigator.insecure.pub")


class StrictManifestMemberTests(BundleTestCase):
    """Point 2: exactly its members at every level (a missing optional member is an error, not null),
    strictly increasing seq, non-empty reasons, checkpoint_file, record 0 never an exhibit."""

    def manifest_fails(self, mutate, text=None, **kw):
        builder = BundleBuilder(**kw)
        mutate(builder)
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="manifest")
        if text is not None:
            self.assertIn(text, out)
        return out

    def test_missing_members_are_errors(self):
        cases = {
            "case": (lambda b: b.manifest.pop("case"), "manifest: missing case"),
            "include_failing": (lambda b: b.manifest.pop("include_failing"), "missing include_failing"),
            "exporter.key_file": (lambda b: b.manifest["exporter"].pop("key_file"), "exporter: missing key_file"),
            "ledger.checkpoint_file": (lambda b: b.manifest["ledger"].pop("checkpoint_file"),
                                       "ledger: missing checkpoint_file"),
            "exhibit consent_override": (lambda b: b.manifest["exhibits"][0].pop("consent_override"),
                                         "exhibits[0]: missing consent_override"),
            "exhibit media_file": (lambda b: b.manifest["exhibits"][1].pop("media_file"),
                                   "exhibits[1]: missing media_file"),
            "exhibit content (null)": (lambda b: b.manifest["exhibits"][1].pop("content"),
                                       "exhibits[1]: missing content"),
            "supporting content": (lambda b: b.manifest["supporting"][0].pop("content"),
                                   "supporting[0]: missing content"),
            "content salt": (lambda b: b.manifest["exhibits"][0]["content"].pop("salt"),
                             "exhibits[0].content: missing salt"),
        }
        for what, (mutate, text) in cases.items():
            with self.subTest(what):
                self.manifest_fails(mutate, text)

    def test_body_members_exactly(self):
        # a body's absent optional value is null, never left out (the body must equal the record's)
        for mutate in (lambda body: body.pop("location"), lambda body: body.update(extra=None)):
            builder = BundleBuilder()
            mutate(builder.manifest["exhibits"][0]["body"])
            out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 2: record")
            self.assertIn("manifest differs from the record in: body", out)

    def test_strictly_increasing_seq_no_record_twice(self):
        def twice(member, i):
            return lambda b: b.manifest[member].insert(i, json.loads(json.dumps(b.manifest[member][i])))
        self.manifest_fails(twice("exhibits", 0), "exhibits[1].seq: exhibits are not in strictly increasing seq "
                                                  "(a record listed twice)")
        self.manifest_fails(twice("supporting", 1), "supporting[2].seq: supporting are not in strictly increasing "
                                                    "seq (a record listed twice)")
        self.manifest_fails(lambda b: b.manifest["exhibits"].reverse(), "not in strictly increasing seq")

    def test_reasons_are_not_white_space(self):
        for value in ("", " ", "\t\n", "\u3000", "\u00a0\u2003", "\u2028", "\x85"):
            with self.subTest(value=value):
                self.manifest_fails(lambda b: b.manifest.update(include_failing=value), "include_failing")
                self.manifest_fails(lambda b: b.manifest["exhibits"][0].update(consent_override=value),
                                    "exhibits[0].consent_override")
        for value in (" a ", "\u3000x", "\x1c"):
            # SPEC CHOICE: white space is Unicode White_Space; U+001C (an information separator,
            # Python-isspace but not White_Space) is not white space
            with self.subTest(value=value):
                builder = BundleBuilder()
                builder.manifest["exhibits"][0]["consent_override"] = value
                self.assertVerdict(self.zip_of(builder.finish()), 0)
                # a valid reason: the manifest check passes; the bundle fails only "included failing"
                builder = BundleBuilder()
                builder.manifest["include_failing"] = value
                code, result = json_result(self.zip_of(builder.finish()))
                self.assertEqual(code, 1)
                self.assertEqual({c["name"]: c["codes"] for c in result["checks"] if not c["passed"]},
                                 {"included failing": ["included-failing"]})
        for value in (7, [], {"reason": "x"}):
            with self.subTest(value=value):
                self.manifest_fails(lambda b: b.manifest["exhibits"][0].update(consent_override=value),
                                    "consent_override")

    def test_checkpoint_file(self):
        for value in ("checkpoint.TXT", "./checkpoint.txt", "proofs/../checkpoint.txt", None, ""):
            with self.subTest(value=value):
                self.manifest_fails(lambda b: b.manifest["ledger"].update(checkpoint_file=value),
                                    "ledger.checkpoint_file: is not 'checkpoint.txt'")

    def test_record_0_is_never_an_exhibit(self):
        out = self.manifest_fails(lambda b: None, "exhibits[0].seq: record 0 is never an exhibit",
                                  exhibits=(0, 2), supporting=(1,))
        self.assertIn("[FAILED] supporting records", out)
        self.manifest_fails(lambda b: None, "record 0 is never an exhibit", exhibits=(0, 2), supporting=(0, 1))


class CompromisesAddUpTests(BundleTestCase):
    """Point 3 (4.1): compromise declarations add up; the ledger key in force is never revoked; a
    declaration stands even when its signer is later found compromised."""

    def verdict(self, ledger, exhibits, supporting, code, failing=(), **kw):
        return LedgerKeyAndCancelTests.verdict(self, ledger, exhibits, supporting, code, failing, **kw)

    def test_a_later_declaration_widens_the_window(self):
        ledger = standard_ledger()                                                  # 0-4
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 4))                  # 5
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 3))                  # 6: found to be earlier
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (2, 3, 4), (0, 1, 5, 6)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c for c in result["checks"] if not c["passed"]}
        self.assertEqual(set(failed), {"exhibit 3: authority", "exhibit 4: authority"})
        self.assertEqual(failed["exhibit 3: authority"]["codes"], ["signed-after-compromise"])
        self.assertIn("declared compromised by record 6, effective from record 3",
                      failed["exhibit 3: authority"]["detail"])
        # record 4 is covered by both declarations, and both are named
        self.assertIn("by record 5, effective from record 4; and declared compromised by record 6",
                      failed["exhibit 4: authority"]["detail"])
        detail = next(c["detail"] for c in result["checks"] if c["name"] == "supporting record 6: authority")
        self.assertIn("adds to the 1 earlier one(s), by record(s) 5", detail)

    def test_no_declaration_narrows_the_window(self):
        """A thief holding an admin key declares the stolen key compromised "from now" first; the
        honest declaration, from earlier, still counts."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3: before the theft
        ledger.testimony(INVESTIGATOR_KEY, subject="by the thief")                  # 4
        ledger.revoke(INVESTIGATOR_PUB, "compromised", "now", by=ADMIN_2)           # 5: "from now"
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 4))                  # 6: the honest one
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 6))                  # 7: narrower, changes nothing
        out = self.verdict(ledger, (3, 4), (0, 1, 2, 5, 6, 7), 1, failing=("exhibit 4: authority",))
        for n in (5, 6, 7):
            self.assertIn(f"[ok] supporting record {n}: authority", out)
        self.assertIn("[ok] exhibit 3: authority", out)
        # by time as well: a window by time adds to one by record number
        ledger = standard_ledger()                                                  # 0-4
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 4))                  # 5
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("time", ledger.entries[3]["recorded"]))   # 6
        self.verdict(ledger, (2, 3, 4), (0, 1, 5, 6), 1, failing=("exhibit 3: authority", "exhibit 4: authority"))

    def test_retired_then_compromised_again_and_again(self):
        ledger = standard_ledger()                                                  # 0-4
        ledger.revoke(INVESTIGATOR_PUB, "retired")                                  # 5
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 4))                  # 6
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 2))                  # 7
        ledger.revoke(INVESTIGATOR_PUB, "retired")                                  # 8: never retired again
        out = self.verdict(ledger, (2, 3, 4), (0, 1, 5, 6, 7, 8), 1,
                           failing=("exhibit 2: authority", "exhibit 3: authority", "exhibit 4: authority",
                                    "supporting record 8: authority"))
        self.assertIn("(retired since record 5; this declaration adds to the 1 earlier one(s), by record(s) 6)",
                      out)
        self.assertIn("[ok] supporting record 7: authority", out)
        self.assertIn("may only be declared compromised (again)", out)

    def test_the_ledger_key_in_force_is_never_revoked(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.ledger_key_record(LEDGER_2)                                          # 2: LEDGER_2 in force
        ledger.revoke(LEDGER_2_PUB, "retired")                                      # 3: refused
        ledger.revoke(LEDGER_2_PUB, "compromised", ("seq", 3))                      # 4: refused
        ledger.revoke(LEDGER_PUB, "compromised", ("seq", 3), by=ADMIN_2)            # 5: no longer in force
        ledger.ledger_key_record(LEDGER_3, by=ADMIN_2)                              # 6
        ledger.revoke(LEDGER_2_PUB, "compromised", ("seq", 7), by=ADMIN_2)          # 7: superseded now
        out = self.verdict(ledger, (), (0, 1, 2, 3, 4, 5, 6, 7), 1,
                           failing=("supporting record 3: authority", "supporting record 4: authority"))
        self.assertIn(f"revokes ledger 'ledger' ({kid(LEDGER_2_PUB)}) (retired), but it is the ledger key in "
                      "force (named by record 2)", out)
        # (records 3 and 4, signed by the genesis key inside its window, broke a rule: no verdict)
        for n in (5, 6, 7):
            self.assertIn(f"[ok] supporting record {n}: authority", out)
        self.assertIn("[ok] checkpoint authority", out)

    def test_a_declaration_stands_when_its_signer_is_found_compromised(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 3), by=ADMIN_2)      # 4
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 4))                       # 5: its signer, later
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}
        # both are flagged: the declaration itself, and the record it flags.  SPEC revision (11.3
        # check 12): the declaration is a supporting revoke record, so it is named, not failed; the
        # exhibit it flags still fails.
        self.assertEqual(failed, {"exhibit 3: authority": ["signed-after-compromise"]})
        check = next(c for c in result["checks"] if c["name"] == "supporting record 4: authority")
        self.assertIn("FLAGGED, not a failure: signed after compromise", check["detail"])
        self.assertEqual(result["flagged_revoke_records"], [4])
        # as an exhibit, the same declaration fails: a verdict on an exhibit is always judged
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3, 4), (0, 1, 2, 5)).finish()))
        failed = {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}
        self.assertEqual(failed, {"exhibit 3: authority": ["signed-after-compromise"],
                                  "exhibit 4: authority": ["signed-after-compromise"]})


class CheckpointKeyUntaintedTests(BundleTestCase):
    """Point 4: the ledger key in force must also be untainted; point 5: a flagged ledger-key record
    whose key is not ledger.public_key does not fail check 12."""

    def theft(self) -> TestLedger:
        """A thief holding the second admin's key names a ledger key of their own (record 4) and
        mints a custodian (record 5); the genesis admin declares the second admin compromised from
        record 4 (record 6)."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.ledger_key_record(LEDGER_2, by=ADMIN_2)                              # 4: the thief's
        ledger.authorize(CUSTODIAN_A_PUB, "Minted", "custodian", by=ADMIN_2)        # 5
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 4))                       # 6
        return ledger

    def test_a_tainted_ledger_key_signs_no_checkpoint(self):
        ledger = self.theft()
        path = self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 6)).finish())
        code, result = json_result(path)
        self.assertEqual(code, 1)
        checks = {c["name"]: c for c in result["checks"]}
        self.assertTrue(checks["checkpoint"]["passed"])                 # check 6: the signature is fine
        self.assertFalse(checks["checkpoint authority"]["passed"])
        self.assertEqual(checks["checkpoint authority"]["codes"], ["checkpoint-key"])
        self.assertIn("that key is tainted", checks["checkpoint authority"]["detail"])
        # the thief's ledger-key record names ledger.public_key: its verdict fails
        self.assertEqual(checks["supporting record 4: authority"]["codes"], ["signed-after-compromise"])
        self.assertTrue(checks["exhibit 3: authority"]["passed"])

    def test_a_ledger_that_recovered_from_a_theft(self):
        ledger = self.theft()
        ledger.ledger_key_record(LEDGER_3)                                          # 7: by the genesis admin
        path = self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 6, 7)).finish())
        out, _ = self.assertVerdict(path, 0)
        line = next(x for x in out.splitlines() if x.startswith("[ok] supporting record 4: authority"))
        self.assertIn("FLAGGED, not a failure: signed after compromise", line)
        self.assertIn("[signed-after-compromise]", line)
        self.assertIn("superseded below the checkpoint", line)
        self.assertIn(f"[ok] checkpoint authority: signed by {kid(LEDGER_3_PUB)}", out)
        self.assertIn("ledger-key record(s) 4 flagged, naming key(s) superseded below the checkpoint",
                      out.splitlines()[-2])
        code, result = json_result(path)
        self.assertEqual(code, 0)
        self.assertEqual(codes_of(result, "supporting record 4: authority"), [])
        self.assertEqual(result["flagged_superseded_ledger_key_records"], [4])
        # every other verdict still fails: the custodian the thief minted
        out = LedgerKeyAndCancelTests.verdict(self, ledger, (3,), (0, 1, 2, 4, 5, 6, 7), 1,
                                              failing=("supporting record 5: authority",))
        self.assertIn("[ok] supporting record 4: authority", out)
        # ... and a rule the ledger-key record breaks is never excused
        ledger = self.theft()
        ledger.ledger_key_record(LEDGER_3)                                          # 7
        ledger.ledger_key_record(ADMIN_3, by=ADMIN_2)                               # 8: by a revoked admin
        ledger.ledger_key_record(make_key("fourth ledger key"))                     # 9
        out = LedgerKeyAndCancelTests.verdict(self, ledger, (3,), (0, 1, 2, 4, 6, 7, 8, 9), 1,
                                              failing=("supporting record 8: authority",),
                                              checkpoint_key=make_key("fourth ledger key"))
        self.assertIn("was revoked (compromised) by record 6", out)

    def test_a_tainted_signer_of_a_superseded_ledger_key(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(ADMIN_3_PUB, "Minted admin", "admin", by=ADMIN_2)          # 2: in the window
        ledger.ledger_key_record(LEDGER_2, by=ADMIN_3)                              # 3: by a tainted admin
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 2))                       # 4
        ledger.ledger_key_record(LEDGER_3)                                          # 5
        out = LedgerKeyAndCancelTests.verdict(self, ledger, (), (0, 1, 2, 3, 4, 5), 1,
                                              failing=("supporting record 2: authority",))
        self.assertIn("[ok] supporting record 3: authority", out)
        self.assertIn("FLAGGED, not a failure: signed by a tainted key", out)
        self.assertIn("[tainted-signer]", out)
        self.assertIn("[ok] checkpoint authority", out)
        # without the recovery the tainted key is in force: its checkpoint fails, and so does record 3
        del ledger.entries[5]
        ledger.checkpoint_key = LEDGER_2
        LedgerKeyAndCancelTests.verdict(self, ledger, (), (0, 1, 2, 3, 4), 1,
                                        failing=("supporting record 3: authority", "checkpoint authority"))

    def test_replay_checkpoint_rule(self):
        ledger = self.theft()
        records = [vb.decode_record(e["record"]) for e in ledger.entries]
        replay = vb.AuthorityReplay(records)
        with self.assertRaises(vb.CheckError) as ctx:
            replay.checkpoint(7, LEDGER_2_PUB)
        self.assertEqual(ctx.exception.code, "checkpoint-key")
        self.assertIn("untainted", replay.checkpoint(4, LEDGER_PUB))


class CheckpointEmptyLineTests(BundleTestCase):
    """Point 6 (section 6): a checkpoint's signed text has no empty line."""

    def body(self, ledger, extra: str) -> str:
        leaves = ledger.leaves()
        return f"{ledger.origin}\n{len(leaves)}\n{b64(mth(leaves))}\n{extra}"

    def test_extension_lines(self):
        builder = BundleBuilder()
        resign_checkpoint(builder, self.body(builder.ledger, "an extension line\n"))
        self.assertVerdict(self.zip_of(builder.finish()), 0)
        for what, extra in (("an empty extension line", "\nan extension line\n"),
                            ("a final empty line", "\n"),
                            ("two empty lines", "\n\n")):
            with self.subTest(what):
                builder = BundleBuilder()
                checkpoint = resign_checkpoint(builder, self.body(builder.ledger, extra))
                out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="checkpoint")
                self.assertIn("signed text has an empty line", out)
                with self.assertRaises(vb.CheckError):
                    vb.verify_checkpoint(checkpoint, ORIGIN, LEDGER_PUB)


class Zip64EndRecordSizeTests(BundleTestCase):
    """Point 7 (11.1): the ZIP64 end record is exactly 56 bytes (size field 44, no extensible data
    sector), directly before its locator."""

    good_bytes = ArchiveAccountingTests.good_bytes
    check_bytes = ArchiveAccountingTests.check_bytes

    def test_exactly_56_bytes(self):
        data = self.good_bytes()
        self.check_bytes(with_zip64_end(data), 0)
        self.check_bytes(with_zip64_end(data, extensible=b"\x00" * 8), 2, "not 44")
        self.check_bytes(with_zip64_end(data, extensible=b"\x01\x00\x04\x00abcd"), 2, "not 44")
        self.check_bytes(with_zip64_end(data, size_field=52), 2, "not 44")     # a size that lies
        self.check_bytes(with_zip64_end(data, size_field=43), 2, "not 44")
        # 56 bytes but not directly before the locator
        self.check_bytes(with_zip64_end(data, gap=b"\x00" * 8), 2, "immediately before")
        # the locator pointing at a ZIP64 end record that is followed by stray bytes
        self.check_bytes(with_zip64_end(data, extensible=b"\x00" * 4, size_field=44), 2)


class BundleTimeOrderTests(BundleTestCase):
    """Point 8 (section 4): time-order and future-dated findings are for `audit` and `verify`; a
    bundle's records are not checked for time order, not even a record dated in the future."""

    def test_clock_ahead_in_a_bundle(self):
        ledger = standard_ledger()                                              # 0-4
        ahead = 4102444800000                                                   # 2100-01-01
        ledger.testimony(INVESTIGATOR_KEY, recorded=ahead)                      # 5: a clock a century ahead
        ledger.testimony(INVESTIGATOR_KEY, subject="W-18", recorded=T0 + 9000)  # 6: back to the right time
        self.assertVerdict(self.zip_of(BundleBuilder(ledger, (2, 5, 6), (0, 1)).finish()), 0)


class ConsentRevealTests(BundleTestCase):
    """11.3 check 7 as now worded: an exhibit that reveals text has consent for it."""

    def test_unrevealed_testimony_needs_no_consent(self):
        ledger = TestLedger()
        ledger.genesis()
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")
        ledger.testimony(INVESTIGATOR_KEY, consent="research")                  # 2
        builder = BundleBuilder(ledger, (2,), (0, 1))
        builder.manifest["exhibits"][0]["content"] = None
        del builder.files["content/2.txt"]
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 0)
        self.assertIn("[ok] exhibit 2: consent: text not revealed, so no consent is needed", out)

    def test_amendment_exhibit_without_its_testimony(self):
        ledger = ManifestRevisionTests.amended_ledger(self, consent="court")     # 0-3
        # the amended testimony is not an exhibit: the amendment needs its own override
        builder = BundleBuilder(ledger, (3,), (0, 1))
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1, failing="exhibit 3: consent")
        self.assertIn("is not a testimony exhibit of the bundle", out)
        builder = BundleBuilder(ledger, (3,), (0, 1))
        builder.manifest["exhibits"][0]["consent_override"] = "judge's order 12"
        out, _ = self.assertVerdict(self.zip_of(builder.finish()), 1)
        self.assertIn("[ok] exhibit 3: consent: record 2, which it amends, is not a testimony exhibit", out)
        # (the bundle still fails check 12: the amendment's target is a record a rule needs)
        self.assertIn("[FAILED] exhibit 3: authority", out)
        # the testimony an exhibit that allows court use: no override needed
        self.assertVerdict(self.zip_of(BundleBuilder(ledger, (2, 3), (0, 1)).finish()), 0)



# =============================================================================
# The SPEC revision "second adversarial round": one test class per point
# =============================================================================

ADMIN_4 = make_key("fourth admin")
ADMIN_4_PUB = raw_public(ADMIN_4)


def verdicts(result: dict) -> list[tuple[str, bool, list[str]]]:
    """What a run decided: each check's name, result and codes (not its wording)."""
    return [(c["name"], c["passed"], c["codes"]) for c in result["checks"]]


class RevokeVoidsNoSignerTests(BundleTestCase):
    """Point 1 (4.1, revoke): a compromise must not make its own signer compromised for that record
    or tainted (no single record voids the authority it is signed under).  Such a record breaks the
    rules: it is `unauthorized` and changes nothing in the state."""

    def replay(self, ledger: TestLedger) -> vb.AuthorityReplay:
        return vb.AuthorityReplay([vb.decode_record(e["record"]) for e in ledger.entries])

    def assertRefused(self, ledger: TestLedger, seq: int, words: str):
        replay = self.replay(ledger)
        self.assertEqual([code for code, _ in replay.problems.get(seq, [])], ["unauthorized"], replay.problems)
        self.assertIn(words, replay.problems[seq][0][1])
        self.assertIn("no single record voids the authority it is signed under", replay.problems[seq][0][1])
        return replay

    def test_a_key_declaring_itself_compromised(self):
        for effective in ("now", ("seq", 4), ("seq", 2), ("seq", 0), ("time", T0 + 4 * 1000 + 500),
                          ("time", T0)):
            with self.subTest(effective=effective):
                ledger = AuthorityStateTests.two_admin_ledger(self)                      # 0-3
                ledger.revoke(ADMIN_2_PUB, "compromised", effective, by=ADMIN_2)         # 4: refused
                ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian", by=ADMIN_2)  # 5
                replay = self.assertRefused(ledger, 4, "make its own signer admin 'Second admin'")
                self.assertIn("compromised for this record", replay.problems[4][0][1])
                # it changed nothing: the second admin is neither ended nor compromised
                admin = replay.keys[ADMIN_2_PUB]
                self.assertEqual((admin.ended_at, admin.compromises), (None, []))
                self.assertEqual(set(replay.problems), {4})
                code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5)).finish()))
                self.assertEqual(code, 1)
                failed = {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}
                self.assertEqual(failed, {"supporting record 4: authority": ["unauthorized"]})
                self.assertEqual(result["flagged_revoke_records"], [])   # a broken rule is never excused
        # retiring itself is no compromise: allowed (another admin is active)
        ledger = AuthorityStateTests.two_admin_ledger(self)
        ledger.revoke(ADMIN_2_PUB, "retired", by=ADMIN_2)                                # 4
        self.assertVerdict(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4)).finish()), 0)
        # another admin may declare it compromised
        ledger = AuthorityStateTests.two_admin_ledger(self)
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 3))                            # 4
        self.assertVerdict(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4)).finish()), 0)

    def test_the_genesis_key_from_record_0(self):
        """Every key descends from the genesis key: declaring it compromised from record 0 (or from
        any point at or before the record that authorised the signer's first link) would taint the
        signer, so it is refused; the ledger stays as it was."""
        def ledger_with(effective):
            ledger = TestLedger()
            ledger.genesis()                                                        # 0
            ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                  # 1
            ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator", by=ADMIN_2)  # 2
            ledger.testimony(INVESTIGATOR_KEY)                                      # 3
            ledger.ledger_key_record(LEDGER_2, by=ADMIN_2)                          # 4
            ledger.revoke(LEDGER_PUB, "compromised", effective, by=ADMIN_2)         # 5
            return ledger
        for effective in (("seq", 0), ("seq", 1), ("time", T0 + 500), ("time", T0 + 1500)):
            with self.subTest(effective=effective):
                ledger = ledger_with(effective)
                replay = self.assertRefused(ledger, 5, "make its own signer admin 'Second admin'")
                self.assertIn("tainted", replay.problems[5][0][1])
                genesis = replay.keys[LEDGER_PUB]
                self.assertEqual((genesis.ended_at, genesis.compromises), (None, []))
                out, _ = self.assertVerdict(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5)).finish()), 1,
                                            failing="supporting record 5: authority")
                for name in ("supporting record 0", "supporting record 1", "supporting record 2", "exhibit 3",
                             "supporting record 4"):
                    self.assertIn(f"[ok] {name}: authority", out)
                self.assertIn("[ok] checkpoint authority", out)
                self.assertEqual(out.count("[FAILED]"), 1)
        # just after the second admin's authorisation: allowed (it taints nothing the signer stands on)
        for effective in (("seq", 2), ("time", T0 + 1501)):
            with self.subTest(effective=effective):
                ledger = ledger_with(effective)
                self.assertEqual(self.replay(ledger).problems, {})
                self.assertVerdict(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5)).finish()), 0)

    def test_an_authoriser_up_the_signers_chain(self):
        def ledger_with(effective, depth):
            ledger = TestLedger()
            ledger.genesis()                                                        # 0
            ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                  # 1
            ledger.authorize(ADMIN_3_PUB, "Third admin", "admin", by=ADMIN_2)       # 2
            signer = ADMIN_3
            if depth == 2:
                ledger.authorize(ADMIN_4_PUB, "Fourth admin", "admin", by=ADMIN_3)  # 3
                signer = ADMIN_4
            seq = ledger.revoke(ADMIN_2_PUB, "compromised", effective, by=signer)  # 3 or 4
            return ledger, seq
        t2 = T0 + 2 * 1000 + 500                                                    # record 2's recorded time
        for depth in (1, 2):
            for effective in (("seq", 2), ("seq", 1), ("time", t2)):
                with self.subTest(depth=depth, effective=effective):
                    ledger, seq = ledger_with(effective, depth)
                    replay = self.assertRefused(ledger, seq, "tainted")
                    if depth == 2:
                        self.assertIn("in its chain of authorisers", replay.problems[seq][0][1])
                    self.assertEqual(replay.keys[ADMIN_2_PUB].compromises, [])
                    supporting = tuple(range(seq + 1))
                    self.assertVerdict(self.zip_of(BundleBuilder(ledger, (), supporting).finish()), 1,
                                       failing=f"supporting record {seq}: authority")
            for effective in (("seq", 3), ("time", t2 + 1), "now"):
                with self.subTest(depth=depth, effective=effective):
                    ledger, seq = ledger_with(effective, depth)
                    self.assertEqual(self.replay(ledger).problems, {})
                    self.assertVerdict(self.zip_of(BundleBuilder(ledger, (), tuple(range(seq + 1))).finish()), 0)

    def test_a_declaration_that_taints_others_but_not_its_signer(self):
        """The rule is about the declaration's own signer only: the genesis admin may still declare
        the second admin compromised from its very authorisation, tainting what it minted."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(ADMIN_3_PUB, "Third admin", "admin", by=ADMIN_2)           # 2
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 1))                       # 3: by the genesis key
        replay = self.replay(ledger)
        self.assertEqual({seq: [c for c, _ in p] for seq, p in replay.problems.items()},
                         {2: ["signed-after-compromise"]})
        self.assertIsNotNone(replay.taint_of(replay.keys[ADMIN_3_PUB]))


class SupportingVerdictsNamedTests(BundleTestCase):
    """Point 2 (11.3 check 12): two verdicts on SUPPORTING records do not fail the check, a flagged
    revoke record and a flagged ledger-key record whose key is not ledger.public_key; they are named in
    the detail instead.  A verdict on an exhibit is always judged."""

    def stolen_admin_revokes(self) -> TestLedger:
        """A thief holding the second admin's key declares the investigator compromised (record 4);
        the genesis admin then declares the second admin compromised from record 4 (record 5)."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.revoke(INVESTIGATOR_PUB, "compromised", "now", by=ADMIN_2)           # 4: the thief's
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 4))                       # 5
        return ledger

    def test_a_flagged_supporting_revocation_is_named(self):
        ledger = self.stolen_admin_revokes()
        path = self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5)).finish())
        out, _ = self.assertVerdict(path, 0)
        line = next(x for x in out.splitlines() if x.startswith("[ok] supporting record 4: authority"))
        self.assertIn("FLAGGED, not a failure: signed after compromise", line)
        self.assertIn("[signed-after-compromise]", line)
        self.assertIn("only ends keys or widens compromise windows", line)
        self.assertIn("supporting revoke record(s) 4 flagged", out.splitlines()[-2])
        code, result = json_result(path)
        self.assertEqual((code, result["flagged_revoke_records"]), (0, [4]))
        self.assertEqual(result["flagged_superseded_ledger_key_records"], [])
        self.assertEqual(codes_of(result, "supporting record 4: authority"), [])
        # what it did stands (it can only make the verdicts stricter): the investigator is revoked
        ledger.testimony(INVESTIGATOR_KEY, subject="after")                         # 6
        out, _ = self.assertVerdict(self.zip_of(BundleBuilder(ledger, (3, 6), (0, 1, 2, 4, 5)).finish()), 1,
                                    failing="exhibit 6: authority")
        self.assertIn("was revoked (compromised) by record 4", out)
        self.assertIn("[ok] supporting record 4: authority", out)

    def test_a_revocation_by_a_key_found_tainted_later(self):
        """A retirement signed by a key minted inside its authoriser's window: tainted by the final
        state, named; the minting authorisation itself (not a revoke record) still fails."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(ADMIN_3_PUB, "Minted admin", "admin", by=ADMIN_2)          # 2
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 3
        ledger.testimony(INVESTIGATOR_KEY)                                          # 4
        ledger.revoke(INVESTIGATOR_PUB, "retired", by=ADMIN_3)                      # 5: tainted later
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 2))                       # 6
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (4,), (0, 1, 2, 3, 5, 6)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}
        self.assertEqual(failed, {"supporting record 2: authority": ["signed-after-compromise"]})
        check = next(c for c in result["checks"] if c["name"] == "supporting record 5: authority")
        self.assertIn("FLAGGED, not a failure: signed by a tainted key", check["detail"])
        self.assertIn("[tainted-signer]", check["detail"])
        self.assertEqual(result["flagged_revoke_records"], [5])

    def test_exhibits_are_always_judged(self):
        # a flagged revoke record exported as an exhibit fails
        ledger = self.stolen_admin_revokes()
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3, 4), (0, 1, 2, 5)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}
        self.assertEqual(failed, {"exhibit 4: authority": ["signed-after-compromise"]})
        self.assertEqual(result["flagged_revoke_records"], [])
        # a flagged ledger-key record of a superseded key exported as an exhibit fails (it passed as
        # a supporting record: CheckpointKeyUntaintedTests.test_a_ledger_that_recovered_from_a_theft)
        ledger = CheckpointKeyUntaintedTests.theft(self)                            # 0-6
        ledger.ledger_key_record(LEDGER_3)                                          # 7
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3, 4), (0, 1, 2, 6, 7)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}
        self.assertEqual(failed, {"exhibit 4: authority": ["signed-after-compromise"]})
        self.assertEqual(result["flagged_superseded_ledger_key_records"], [])
        self.assertNotIn("FLAGGED, not a failure", json.dumps(result["checks"]))

    def test_other_verdicts_on_supporting_records_still_fail(self):
        """Only revoke records and superseded ledger-key records are excused: a flagged amendment or
        authorisation among the supporting records still fails."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.amend(ADMIN_2, 3, text=b"A thief's version.\n")                      # 4: the thief's
        ledger.authorize(CUSTODIAN_A_PUB, "Minted", "custodian", by=ADMIN_2)        # 5: the thief's
        ledger.revoke(CUSTODIAN_A_PUB, "retired", by=ADMIN_2)                       # 6: the thief's
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 4))                       # 7
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5, 6, 7)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}
        self.assertEqual(failed, {"supporting record 4: authority": ["signed-after-compromise"],
                                  "supporting record 5: authority": ["signed-after-compromise"]})
        self.assertEqual(result["flagged_revoke_records"], [6])
        # the theft of CheckpointKeyUntaintedTests: its ledger-key record is named, its minted key fails
        ledger = CheckpointKeyUntaintedTests.theft(self)                            # 0-6
        ledger.ledger_key_record(LEDGER_3)                                          # 7
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5, 6, 7)).finish()))
        self.assertEqual(code, 1)
        failed = {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}
        self.assertEqual(failed, {"supporting record 5: authority": ["signed-after-compromise"]})
        self.assertEqual(result["flagged_superseded_ledger_key_records"], [4])
        self.assertEqual(result["flagged_revoke_records"], [])

    def test_excused_verdict_unit(self):
        ledger = self.stolen_admin_revokes()
        builder = BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5))
        verifier = vb.BundleVerifier.__new__(vb.BundleVerifier)
        verifier.manifest = vb.parse_manifest(json.dumps(builder.manifest).encode())
        record = vb.decode_record(ledger.entries[4]["record"])
        flagged = [("signed-after-compromise", "x")]
        self.assertIsNotNone(verifier.excused_verdict(record, flagged))
        self.assertIsNotNone(verifier.excused_verdict(record, [("tainted-signer", "x")] + flagged))
        self.assertIsNone(verifier.excused_verdict(record, [("unauthorized", "x")]))
        self.assertIsNone(verifier.excused_verdict(record, [("unauthorized", "x")] + flagged))
        self.assertIsNone(verifier.excused_verdict(record, []))
        other = vb.decode_record(ledger.entries[2]["record"])                       # an authorisation
        self.assertIsNone(verifier.excused_verdict(other, flagged))


class IncludeFailingChangesNoVerdictTests(BundleTestCase):
    """11.2: include_failing changes no OTHER check: every check decides the same with it as without
    it, and the reason adds exactly one failing check, "included failing" [included-failing], so the
    bundle never verifies as passed (third adversarial round; this class was rewritten for it: a
    reason on a bundle whose other checks pass used to pass)."""

    def pair(self, ledger, exhibits, supporting):
        results = []
        for reason in (None, "the court asked for every record"):
            builder = BundleBuilder(ledger, exhibits, supporting)
            builder.manifest["include_failing"] = reason
            results.append(json_result(self.zip_of(builder.finish(), f"bundle-{reason is None}.zip")))
        return results

    def test_verdicts_are_the_same(self):
        planted = standard_ledger()
        planted.media_record(STRANGER, b"planted")                                  # 5
        theft = CheckpointKeyUntaintedTests.theft(self)                             # 0-6
        theft.ledger_key_record(LEDGER_3)                                           # 7
        stolen = SupportingVerdictsNamedTests.stolen_admin_revokes(self)            # 0-5
        cases = [("good", standard_ledger(), (2, 3, 4), (0, 1), 0),
                 ("unauthorised exhibit", planted, (2, 5), (0, 1), 1),
                 ("named supporting revoke", stolen, (3,), (0, 1, 2, 4, 5), 0),
                 ("flagged revoke exhibit", stolen, (3, 4), (0, 1, 2, 5), 1),
                 ("named superseded ledger key", theft, (3,), (0, 1, 2, 4, 6, 7), 0),
                 ("flagged ledger-key exhibit", theft, (3, 4), (0, 1, 2, 6, 7), 1)]
        for what, ledger, exhibits, supporting, expected in cases:
            with self.subTest(what):
                (code_a, a), (code_b, b) = self.pair(ledger, exhibits, supporting)
                self.assertEqual((code_a, code_b), (expected, 1))
                self.assertEqual((a["passed"], b["passed"]), (expected == 0, False))
                # the one added check, first after "archive"; every other check decides the same
                added = b["checks"][1]
                self.assertEqual((added["name"], added["passed"], added["codes"]),
                                 ("included failing", False, ["included-failing"]))
                self.assertEqual(verdicts(a), [verdicts(b)[0]] + verdicts(b)[2:])
                for member in ("pending_transfers", "cancelled_transfers", "flagged_superseded_ledger_key_records",
                               "flagged_revoke_records", "flagged_cancelled_transfer_records"):
                    self.assertEqual(a[member], b[member], member)
                self.assertEqual((a["include_failing"], b["include_failing"]),
                                 (None, "the court asked for every record"))
                # only the manifest check's detail differs among the other details
                differ = [x["name"] for x, y in zip(a["checks"], b["checks"][:1] + b["checks"][2:])
                          if x["detail"] != y["detail"]]
                self.assertEqual(differ, ["manifest"])


class BundleTimeOrderWordingTests(BundleTestCase):
    """Point 3 (section 4, time order): `audit` and `verify` always blame the later record, whatever
    the day of the check; a bundle checks no time order between its records at all, so its verdicts
    depend neither on a neighbouring record's time nor on the verifier's clock."""

    def test_a_record_dated_back_after_one_dated_in_the_future(self):
        ledger = standard_ledger()                                                  # 0-4
        ahead = T0 + 3 * 3600 * 1000                                                # three hours ahead
        ledger.testimony(INVESTIGATOR_KEY, recorded=ahead)                          # 5
        ledger.testimony(INVESTIGATOR_KEY, subject="W-18", recorded=ahead - 5 * 60 * 1000)  # 6: 5 min back
        ledger.testimony(INVESTIGATOR_KEY, subject="W-19", recorded=T0 + 7500)      # 7: back to the right time
        results = {}
        for exhibits in ((5, 6, 7), (6,), (5, 6), (6, 7)):
            with self.subTest(exhibits=exhibits):
                code, result = json_result(self.zip_of(BundleBuilder(ledger, exhibits, (0, 1)).finish()))
                self.assertEqual(code, 0)
                for seq in exhibits:
                    # a record's own verdicts are the same whichever neighbours the bundle carries
                    mine = [v for v in verdicts(result) if v[0].startswith(f"exhibit {seq}: ")]
                    results.setdefault(seq, mine)
                    self.assertEqual(results[seq], mine)
                self.assertNotIn("time-order", json.dumps(result))
                self.assertNotIn("future-dated", json.dumps(result))

    def test_no_clock_is_read(self):
        """The verdict never changes with the day of the check: the verifier reads no clock."""
        import ast
        tree = ast.parse(SCRIPT.read_text())
        clocks = {"now", "utcnow", "today", "time", "time_ns", "monotonic", "perf_counter", "localtime",
                  "gmtime", "fromtimestamp", "utcfromtimestamp"}
        self.assertEqual({n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} & clocks, set())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        self.assertFalse(imported & {"time", "calendar"})



# =============================================================================
# Hostile inputs and hostile terminals (robustness: no verdict changes)
# =============================================================================

# What the text output must never write raw: every control character (Unicode Cc) and every
# bidirectional control.
UNSAFE_FOR_TERMINAL = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F,
                                        *range(0x202A, 0x202F), *range(0x2066, 0x206A))]
SUBPROCESS_TIMEOUT = 60   # seconds; the refusals below take well under one


def run_script(*args, timeout=SUBPROCESS_TIMEOUT) -> subprocess.CompletedProcess:
    """The verifier in a child process, so that a regression that blocks (a FIFO opened for
    reading waits for a writer forever) fails the test instead of hanging the suite."""
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class BoundedInputTests(BundleTestCase):
    """Robustness point 1: the bundle, every --trust file and every file read from --media-dir is a
    regular file, opened without blocking and read within bounds; anything else (a FIFO, /dev/zero,
    a directory, a socket, an oversized key file) is refused promptly with exit 2 and a clear
    message, and with --json exactly one JSON object (robustness point 3)."""

    def assertRefused(self, *args, says="not a regular file") -> str:
        """Exit 2, a one-line "error: ..." on stderr, nothing else on stdout; then the same with --json."""
        proc = run_script(*args)
        err = proc.stderr.decode("utf-8")
        self.assertEqual(proc.returncode, 2, err)
        self.assertTrue(err.startswith("error: "), err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn(says, err)
        self.assertEqual(proc.stdout, b"")
        proc = run_script(*args, "--json")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        result = json.loads(proc.stdout)      # exactly one JSON object
        self.assertEqual((result["exit_code"], result["passed"]), (2, False))
        self.assertIn(says, result["error"])
        self.assertTrue(proc.stderr.startswith(b"error: "))
        return err

    @unittest.skipUnless(hasattr(os, "mkfifo"), "no FIFOs here")
    def test_fifo_bundle(self):
        fifo = self.dir / "bundle.zip"
        os.mkfifo(fifo)
        err = self.assertRefused(fifo, "--no-trust")
        self.assertIn("FIFO", err)
        link = self.dir / "link.zip"          # a link to a FIFO is followed, and the FIFO refused
        os.symlink(fifo, link)
        self.assertRefused(link, "--no-trust")

    @unittest.skipUnless(hasattr(os, "mkfifo"), "no FIFOs here")
    def test_fifo_trust_file(self):
        fifo = self.dir / "ledger.pub"
        os.mkfifo(fifo)
        err = self.assertRefused(self.good(), "--trust", fifo)
        self.assertIn("--trust file", err)

    @unittest.skipUnless(hasattr(os, "mkfifo"), "no FIFOs here")
    def test_fifo_in_media_dir_is_never_opened(self):
        """A FIFO in --media-dir is not a regular file: ignored with a note (SPEC 11.3 check 9 hashes
        a regular file), without being opened, so nothing blocks."""
        media = self.dir / "media"
        media.mkdir()
        os.mkfifo(media / "clip-001.mp4")
        os.mkfifo(media / EMPTY_SHA)
        proc = run_script(self.good(), "--no-trust", "--media-dir", media)
        out = proc.stdout.decode("utf-8")
        self.assertEqual(proc.returncode, 0, out + proc.stderr.decode())
        self.assertIn("ignored (not a regular file: a FIFO (named pipe))", out)

    @unittest.skipUnless(hasattr(os, "mkfifo"), "no FIFOs here")
    def test_descriptor_checked_after_a_non_blocking_open(self):
        """A path that looked like a regular file but is a FIFO when opened (replaced in between) is
        opened without blocking and refused by fstat() on the descriptor."""
        fifo = self.dir / "swapped.zip"
        os.mkfifo(fifo)
        code = (f"import os, sys; sys.path.insert(0, {str(HERE)!r}); import verify_bundle as vb\n"
                f"real = os.stat({str(SCRIPT)!r})\n"
                "os.stat = lambda path, *a, **k: real   # stat() says: a regular file\n"
                f"try:\n    vb.open_regular_file({str(fifo)!r}, 'bundle')\n"
                "except vb.UsageError as exc:\n    print(exc)\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=SUBPROCESS_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("is not a regular file (it is a FIFO (named pipe))", proc.stdout)

    @unittest.skipUnless(os.path.exists("/dev/zero"), "no /dev/zero here")
    def test_dev_zero(self):
        err = self.assertRefused("/dev/zero", "--no-trust")
        self.assertIn("character device", err)
        self.assertRefused(self.good(), "--trust", "/dev/zero")
        # in-process too: refused before anything is read
        code, out, err = run_verifier("/dev/zero", "--json")
        self.assertEqual((code, json.loads(out)["exit_code"]), (2, 2))
        self.assertIn("not a regular file", err)

    def test_directory(self):
        err = self.assertRefused(self.dir, "--no-trust")
        self.assertIn("a directory", err)
        self.assertRefused(self.good(), "--trust", self.dir)
        self.assertVerdict(self.dir, 2)

    @unittest.skipUnless(hasattr(__import__("socket"), "AF_UNIX"), "no unix sockets here")
    def test_socket(self):
        import socket
        path = self.dir / "s.zip"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                sock.bind(str(path))
            except OSError as exc:      # a path too long for a socket address, say
                self.skipTest(f"cannot bind a unix socket: {exc}")
            err = self.assertRefused(path, "--no-trust")
            self.assertIn("a socket", err)
            self.assertRefused(self.good(), "--trust", path)
        finally:
            sock.close()

    def test_oversized_trust_key_file(self):
        """A --trust file larger than 64 KiB is refused, even one a PEM reader would accept."""
        pem = (KEYS / "test-ledger.insecure.pub").read_bytes()
        path, investigator = self.good(), KEYS / "test-investigator.insecure.pub"
        big = self.dir / "big.pub"
        big.write_bytes(pem + b"\n" * (vb.MAX_TRUST_KEY_FILE + 1 - len(pem)))
        self.assertEqual(vb.MAX_TRUST_KEY_FILE, 64 * 1024)
        err = self.assertRefused(path, "--trust", big, "--trust", investigator, says="65536")
        self.assertIn("--trust file", err)
        out, err = self.assertVerdict(path, 2, "--trust", big, "--trust", investigator)
        self.assertIn("more than the 65536", err)
        # exactly at the limit it is read (and here accepted: PEM readers skip the trailing newlines)
        big.write_bytes(pem + b"\n" * (vb.MAX_TRUST_KEY_FILE - len(pem)))
        self.assertVerdict(path, 0, "--trust", big, "--trust", investigator)
        huge = self.dir / "huge.pub"           # a sparse 4 GiB file: refused without being read
        with open(huge, "wb") as fh:
            fh.truncate(4 * 1024 ** 3)
        self.assertRefused(path, "--trust", huge, says="more than the 65536")

    def test_trust_file_read_is_bounded(self):
        """Even when fstat() says less (a file that grows), at most 64 KiB + 1 bytes are read."""
        pem = (KEYS / "test-ledger.insecure.pub").read_bytes()
        grown = self.dir / "grown.pub"
        grown.write_bytes(pem + b"\n" * (2 * vb.MAX_TRUST_KEY_FILE))
        real_open = vb.open_regular_file
        reads = []

        def small_stat(path, what, **kw):
            fh, st = real_open(path, what, **kw)
            fake = os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid,
                                   len(pem), st.st_atime, st.st_mtime, st.st_ctime))

            class Counting(io.BufferedReader):
                def read(self, n=-1):
                    reads.append(n)
                    return super().read(n)

            return Counting(fh.detach()), fake

        with patched("open_regular_file", small_stat):
            code, _, err = run_verifier(self.good(), "--trust", grown)
        self.assertEqual(code, 2, err)
        self.assertIn("more than the 65536 bytes", err)
        self.assertEqual(reads, [vb.MAX_TRUST_KEY_FILE + 1])

    def test_media_dir_file_read_is_bounded(self):
        """A file in --media-dir larger than the record's size fails the media check without being
        read (a sparse 4 GiB file for the empty media exhibit 4)."""
        media = self.dir / "media"
        media.mkdir()
        with open(media / EMPTY_SHA, "wb") as fh:
            fh.truncate(4 * 1024 ** 3)
        real_open = vb.open_regular_file
        read = []

        def counting_open(path, what, claimed_size=None, **kw):
            fh, st = real_open(path, what, **kw)
            if what != "--media-dir file":
                return fh, st
            if claimed_size is not None:      # fstat() says less than the file holds (it grows)
                st = os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid,
                                     claimed_size, st.st_atime, st.st_mtime, st.st_ctime))

            class Counting(io.BufferedReader):
                def read(self, n=-1):
                    data = super().read(n)
                    read.append(len(data))
                    return data

            return Counting(fh.detach()), st

        with patched("open_regular_file", counting_open):
            out, _ = self.assertVerdict(self.good(), 1, "--media-dir", media, failing="exhibit 4: media")
        self.assertIn("larger than the record's size (0 bytes)", out)
        self.assertEqual(sum(read), 0)       # the 4 GiB were not read
        # A file that fstat() shows at the record's size but that holds more: at most one byte more is read.
        (media / EMPTY_SHA).unlink()
        (media / "clip-001.mp4").write_bytes(CLIP + b"\0" * (4 * 1024 * 1024))
        with patched("open_regular_file", lambda p, w, **kw: counting_open(p, w, claimed_size=len(CLIP), **kw)):
            out, _ = self.assertVerdict(self.good(), 1, "--media-dir", media, failing="exhibit 3: media")
        self.assertIn(f"larger than the record's size ({len(CLIP)} bytes)", out)
        self.assertEqual(sum(read), len(CLIP) + 1)
        (media / "clip-001.mp4").write_bytes(CLIP)      # the right file still matches
        out, _ = self.assertVerdict(self.good(), 0, "--media-dir", media)
        self.assertIn(f"{media / 'clip-001.mp4'} match(es) the record", out)
        self.assertVerdict(self.good(), 2, "--media-dir", media / EMPTY_SHA)   # not a directory

    def test_regular_files_still_verify(self):
        """A bundle reached through a symbolic link, and trust keys, read as before."""
        link = self.dir / "link.zip"
        os.symlink(self.good(), link)
        self.assertVerdict(link, 0, "--trust", KEYS / "test-ledger.insecure.pub",
                           "--trust", KEYS / "test-investigator.insecure.pub")


class TerminalSafetyTests(BundleTestCase):
    r"""Robustness point 2: no string from outside reaches the terminal (text output and stderr)
    with a raw control character or bidirectional control: each is shown as \u{XXXX}, so that a
    member name cannot clear the screen or print a fake green "OK".  The --json output keeps the
    exact strings (JSON escaping is enough: json.dumps writes them as \uXXXX)."""

    SCREEN = "\x1b[2J\x1b[H\x1b[1;32mOK: all 99 checks passed\x1b[0m"

    def assertTerminalSafe(self, text: str) -> None:
        for ch in UNSAFE_FOR_TERMINAL:
            if ch == "\n":
                continue   # the line ends; each line is checked below
            self.assertNotIn(ch, text, f"raw U+{ord(ch):04X} in the output:\n{text!r}")

    def test_terminal_safe(self):
        for ch in UNSAFE_FOR_TERMINAL:
            self.assertEqual(vb.terminal_safe(f"a{ch}b"), f"a\\u{{{ord(ch):04x}}}b")
        self.assertEqual(vb.terminal_safe("\x1b"), "\\u{001b}")
        self.assertEqual(vb.terminal_safe("\u202e"), "\\u{202e}")
        self.assertEqual(vb.terminal_safe("\n\x7f\x9f"), "\\u{000a}\\u{007f}\\u{009f}")
        ordinary = "caf\u00e9 \u2014 W-17, \u0645\u0631\u062d\u0628\u0627 'x' \\ / \u00a0"
        self.assertEqual(vb.terminal_safe(ordinary), ordinary)
        # a lone surrogate (a file name byte that is not UTF-8) is escaped too, not written raw
        self.assertEqual(vb.terminal_safe("a\udcffb"), "a\\u{dcff}b")

    def test_member_name_with_escape_sequences_is_unsafe(self):
        """SPEC 11.1: a control character in a member name makes the bundle unreadable (exit 2); the
        message shows the name escaped."""
        members = BundleBuilder().finish()
        for name in (self.SCREEN, "VERIFY.txt\nOK: all 99 checks passed", "content/2.txt\r\x1b[K",
                     "a\x9b31mb", "x\x07\x08\x7f"):
            with self.subTest(name=name):
                path = write_zip(self.dir / "esc.zip", list(members.items()) + [(name, b"x")])
                code, out, err = run_verifier(path)
                self.assertEqual(code, 2, err)
                self.assertEqual(out, "")
                self.assertTrue(err.startswith("error: bundle cannot be read safely: unsafe member name"), err)
                self.assertEqual(err.count("\n"), 1, err)     # one line, whatever the name holds
                self.assertTerminalSafe(err)
                self.assertIn("name contains a control character", err)
                self.assertIn(vb.terminal_safe(name), err)
                # --json keeps the exact name (escaped by JSON), and the JSON text itself is safe
                code, out, err = run_verifier(path, "--json")
                self.assertEqual(code, 2)
                result = json.loads(out)
                self.assertIn(name, result["error"])
                self.assertIn(name, result["checks"][0]["detail"])
                self.assertTerminalSafe(out)
                self.assertTerminalSafe(err)
        path = write_zip(self.dir / "esc.zip", list(members.items()) + [(self.SCREEN, b"x")])
        _, _, err = run_verifier(path)
        self.assertIn("\\u{001b}[2J\\u{001b}[H\\u{001b}[1;32mOK: all 99 checks passed\\u{001b}[0m", err)
        proc = run_script(path, "--no-trust")          # through a real stderr too
        self.assertEqual(proc.returncode, 2)
        self.assertNotIn(b"\x1b", proc.stderr)
        self.assertIn(b"\\u{001b}[2J", proc.stderr)

    def test_member_name_with_bidi_override_is_an_added_file(self):
        r"""SPEC 11.1: a bidi control is not a control character of the naming rule: the member is an
        unknown, added file (exit 1); the text output shows U+202E as \u{202e}."""
        for name in ("VERIFY\u202etxt.exe", "report\u2066.html\u2069", "keys/\u200f0000.pub", "a\u061cb"):
            with self.subTest(name=name):
                builder = BundleBuilder()
                builder.files[name] = b"MZ"
                members = builder.finish()         # listed in SHA256SUMS and `files`: only an unknown name
                path = self.zip_of(members, "bidi.zip")
                out, err = self.assertVerdict(path, 1, failing="member names")
                self.assertTerminalSafe(out + err)
                shown = vb.terminal_safe(name)
                self.assertNotEqual(shown, name)
                self.assertIn(f"[FAILED] member names: added member '{shown}' (unknown name)", out)
                self.assertTrue(out.splitlines()[-2].startswith("PROBLEM: "), out)
                code, result = json_result(path)
                self.assertEqual(code, 1)
                detail = next(c["detail"] for c in result["checks"] if c["name"] == "member names")
                self.assertEqual(detail, f"added member '{name}' (unknown name)")   # the exact name
                _, raw, _ = run_verifier(path, "--json")
                self.assertTerminalSafe(raw)
        builder = BundleBuilder()
        builder.files["VERIFY\u202etxt.exe"] = b"MZ"
        proc = run_script(self.zip_of(builder.finish(), "bidi.zip"), "--no-trust")   # a real stdout too
        self.assertEqual(proc.returncode, 1)
        self.assertNotIn("\u202e".encode(), proc.stdout)
        self.assertIn(b"[FAILED] member names: added member 'VERIFY\\u{202e}txt.exe' (unknown name)", proc.stdout)

    def test_manifest_fields(self):
        """A manifest string shown in a detail and in the summary line (include_failing) cannot
        forge output lines: every text line is still a check line, a NOTE, or the summary."""
        reason = self.SCREEN + "\n[ok] trust: all keys pinned\n\u2067hidden\u2069\u202e"
        for failing in (False, True):
            with self.subTest(failing=failing):
                builder = BundleBuilder()
                builder.manifest["include_failing"] = reason
                if failing:
                    builder.manifest["exhibits"][0]["consent_override"] = "\x1b]0;title\x07override"
                    builder.manifest["case"] = 5       # a structural problem: exit 1
                members = builder.finish()
                path = self.zip_of(members, "fields.zip")
                # 11.2: a non-null include_failing never verifies as passed
                out, err = self.assertVerdict(path, 1, failing="included failing")
                self.assertTerminalSafe(out + err)
                lines = out.splitlines()
                self.assertTrue(all(line.startswith(("[ok] ", "[FAILED] ", "NOTE: ", "OK: ", "PROBLEM: "))
                                    for line in lines), out)
                self.assertEqual(sum(line.startswith(("OK: ", "PROBLEM: ")) for line in lines), 1, out)
                self.assertIn("\\u{001b}[2J", out)
                self.assertIn("\\u{000a}[ok] trust: all keys pinned\\u{000a}\\u{2067}hidden\\u{2069}\\u{202e}",
                              out)
                code, result = json_result(path)
                self.assertEqual(result["include_failing"], reason)   # exact in JSON
                if not failing:
                    detail = next(c["detail"] for c in result["checks"] if c["name"] == "manifest")
                    self.assertIn(reason, detail)

    def test_paths_from_the_command_line(self):
        """A --trust path, a bundle path, a --media-dir path and argparse's own messages quoting an
        argument are escaped too."""
        good = self.good()
        evil = self.dir / "\x1b[2Jledger\u202e.pub"
        out, err = self.assertVerdict(good, 2, "--trust", evil)
        self.assertTerminalSafe(err)
        self.assertIn("\\u{001b}[2Jledger\\u{202e}.pub", err)
        code, out, err = run_verifier(good, "--trust", evil, "--json")
        self.assertIn(str(evil), json.loads(out)["error"])
        self.assertTerminalSafe(out + err)
        out, err = self.assertVerdict(self.dir / "\x1b[31mbundle\n.zip", 2)
        self.assertTerminalSafe(err)
        self.assertEqual(err.count("\n"), 1)
        out, err = self.assertVerdict(good, 2, "--frobnicate", "\x1b[2J")
        self.assertTerminalSafe(err)
        self.assertIn("\\u{001b}[2J", err)
        media = self.dir / "m\x1b[31m\u202e"
        media.mkdir()
        (media / EMPTY_SHA).write_bytes(b"")
        out, err = self.assertVerdict(good, 0, "--media-dir", media)
        self.assertTerminalSafe(out + err)
        self.assertIn(f"m\\u{{001b}}[31m\\u{{202e}}{os.sep}{EMPTY_SHA}", out)
        os.mkfifo(media / "clip-001.mp4") if hasattr(os, "mkfifo") else None
        out, err = self.assertVerdict(good, 0, "--media-dir", media)
        self.assertTerminalSafe(out + err)

    @unittest.skipUnless(sys.platform != "win32", "file names as bytes")
    def test_file_name_not_utf8(self):
        """A file name that is not UTF-8 reaches Python as lone surrogates: escaped, never written as
        the raw byte (0x9b is a C1 CSI to some terminals) and never a crash of the output."""
        name = os.fsdecode(b"\x9b2J\xff.zip")
        proc = run_script(self.dir / name, "--no-trust")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertNotIn(b"\x9b", proc.stderr)
        self.assertIn(b"\\u{dc9b}2J\\u{dcff}.zip", proc.stderr)
        proc = run_script(self.dir / name, "--no-trust", "--json")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(json.loads(proc.stdout)["exit_code"], 2)


class JsonOnEveryRefusalTests(BundleTestCase):
    """Robustness point 3: with --json, the new refusals print exactly one JSON object too, even with
    --json abbreviated as argparse allows, and so does an unexpected error (exit 2, not a verdict)."""

    def test_refusals(self):
        good = self.good()
        big = self.dir / "big.pub"
        big.write_bytes(b"x" * (vb.MAX_TRUST_KEY_FILE + 1))
        for args in ((self.dir, "--json"), (self.dir, "--js"), (good, "--trust", big, "--json"),
                     (good, "--trust", self.dir, "--jso"), ("--json", self.dir)):
            with self.subTest(args=args):
                code, out, err = run_verifier(*args)
                self.assertEqual(code, 2, err)
                result = json.loads(out)        # exactly one object, nothing else on stdout
                self.assertEqual((result["exit_code"], result["passed"], result["unreadable"]), (2, False, False))
                self.assertTrue(err.startswith("error: "))

    def test_unexpected_error(self):
        def broken(*_args, **_kw):
            raise RuntimeError("\x1b[2Jboom")

        with patched("verify", broken):
            code, out, err = run_verifier(self.good(), "--json")
            self.assertEqual(code, 2)
            result = json.loads(out)
            self.assertEqual(result["exit_code"], 2)
            self.assertIn("\x1b[2Jboom", result["error"])
            self.assertTrue(err.startswith("error: internal error"), err)
            self.assertNotIn("\x1b", err)
            code, out, err = run_verifier(self.good())
            self.assertEqual((code, out), (2, ""))
            self.assertNotIn("\x1b", err)


# =============================================================================
# The SPEC revision "third adversarial round": one test class per point
# =============================================================================

def failed_checks(result: dict) -> dict[str, list[str]]:
    """The failing checks of a --json result: name -> codes."""
    return {c["name"]: c["codes"] for c in result["checks"] if not c["passed"]}


def resigned(builder: BundleBuilder, transform) -> dict[str, bytes]:
    """The bundle's members with manifest.json's TEXT passed through `transform`, then signed again by
    the exporter and listed again in SHA256SUMS (so that only what the text says can fail)."""
    members = builder.finish()
    text = transform(members["manifest.json"].decode("utf-8"))
    members["manifest.json"] = text.encode("utf-8")
    members["manifest.sig"] = builder.exporter.sign(members["manifest.json"])
    members["SHA256SUMS"] = "".join(f"{sha256(d).hex()}  {n}\n" for n, d in
                                    sorted(members.items(), key=lambda kv: kv[0].encode())
                                    if n != "SHA256SUMS").encode()
    return members


class IncludedFailingTests(BundleTestCase):
    """Point 1 (11.2 include_failing): a bundle with a non-null include_failing never verifies as
    passed: it fails the check `included-failing` (exit 1), listed first, and the other failing checks
    are shown too."""

    REASON = "the defence asked for the planted record"

    def bundle(self, ledger=None, exhibits=(2, 3, 4), supporting=(0, 1), reason=REASON, tamper=None) -> Path:
        builder = BundleBuilder(ledger, exhibits, supporting)
        builder.manifest["include_failing"] = reason
        members = builder.finish()
        if tamper:
            tamper(members)
        return self.zip_of(members)

    def test_a_bundle_whose_other_checks_pass_still_fails(self):
        path = self.bundle()
        code, result = json_result(path)
        self.assertEqual((code, result["exit_code"], result["passed"]), (1, 1, False))
        self.assertEqual(failed_checks(result), {"included failing": ["included-failing"]})
        check = result["checks"][1]                       # first after "archive"
        self.assertEqual(check["name"], "included failing")
        self.assertIn(self.REASON, check["detail"])
        self.assertIn("no other check here fails", check["detail"])
        self.assertIn("such as time order", check["detail"])
        self.assertEqual(result["include_failing"], self.REASON)
        self.assertTrue(result["summary"].startswith("PROBLEM: 1 of "), result["summary"])
        self.assertIn("failed: included failing", result["summary"])
        # the manifest itself is well-formed: its check passes and shows the reason
        manifest = next(c for c in result["checks"] if c["name"] == "manifest")
        self.assertTrue(manifest["passed"])
        out, _ = self.assertVerdict(path, 1, failing="included failing")
        lines = out.splitlines()
        self.assertTrue(lines[1].startswith("[FAILED] included failing: "), lines[1])
        self.assertEqual(sum(line.startswith("[FAILED] ") for line in lines), 1, out)
        self.assertTrue(lines[-2].startswith("PROBLEM: "), lines[-2])
        self.assertIn(self.REASON, lines[-2])
        # even with every key pinned
        code, _, _ = run_verifier(path, "--trust", KEYS / "test-ledger.insecure.pub",
                                  "--trust", KEYS / "test-investigator.insecure.pub")
        self.assertEqual(code, 1)
        # and the same bundle without the reason passes
        self.assertVerdict(self.bundle(reason=None), 0)

    def test_the_other_failing_checks_are_shown_after_it(self):
        ledger = standard_ledger()
        ledger.media_record(STRANGER, b"planted")                                   # 5
        path = self.bundle(ledger, (2, 5), (0, 1))
        code, result = json_result(path)
        self.assertEqual(code, 1)
        self.assertEqual(failed_checks(result), {"included failing": ["included-failing"],
                                                 "exhibit 5: authority": ["unauthorized"],
                                                 "exhibit 5: custody": []})
        names = [c["name"] for c in result["checks"] if not c["passed"]]
        self.assertEqual(names[0], "included failing")
        detail = result["checks"][1]["detail"]
        self.assertIn("the other failing check(s) follow: exhibit 5: authority, exhibit 5: custody", detail)
        self.assertTrue(result["summary"].startswith("PROBLEM: 3 of "))
        self.assertIn("failed: included failing, exhibit 5: authority", result["summary"])
        out, _ = self.assertVerdict(path, 1)
        failed_lines = [line for line in out.splitlines() if line.startswith("[FAILED] ")]
        self.assertTrue(failed_lines[0].startswith("[FAILED] included failing: "), failed_lines)
        self.assertEqual(len(failed_lines), 3)

    def test_listed_first_even_before_an_earlier_failure(self):
        def tamper(members):
            members["report.html"] = b"<p>altered</p>"                # SHA256SUMS fails before the manifest
        code, result = json_result(self.bundle(tamper=tamper))
        self.assertEqual(code, 1)
        names = [c["name"] for c in result["checks"] if not c["passed"]]
        self.assertEqual(names[0], "included failing")
        self.assertIn("SHA256SUMS", names)

    def test_any_non_null_value(self):
        for value in ("", "  ", 7, False, [], {"why": "x"}):
            with self.subTest(value=value):
                code, result = json_result(self.bundle(reason=value))
                self.assertEqual(code, 1)
                failed = failed_checks(result)
                self.assertEqual(failed.get("included failing"), ["included-failing"])
                self.assertIn("manifest", failed)                  # not a non-empty reason
                self.assertEqual(result["checks"][1]["name"], "included failing")
        # null: no such check
        code, result = json_result(self.bundle(reason=None))
        self.assertEqual(code, 0)
        self.assertNotIn("included failing", [c["name"] for c in result["checks"]])


class CancelledTransferNamedTests(BundleTestCase):
    """Point 2 (11.3 check 12): a third verdict on a SUPPORTING record is named rather than failed: a
    flagged transfer record that was cancelled (it moved nothing).  Exhibits are always judged."""

    def stolen_investigator(self, cancel_by=None) -> TestLedger:
        """A thief holding the investigator's key hands exhibit 3 to custodian A (record 4); an admin
        cancels that hand-over (record 5) and declares the investigator compromised from record 4
        (record 6)."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")               # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.transfer(INVESTIGATOR_KEY, 3, CUSTODIAN_A_PUB)                       # 4: the thief's
        ledger.cancel(cancel_by or LEDGER_KEY, 4)                                   # 5
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 4))                  # 6
        return ledger

    def test_a_flagged_cancelled_transfer_is_named(self):
        ledger = self.stolen_investigator()
        path = self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5, 6)).finish())
        out, _ = self.assertVerdict(path, 0)
        line = next(x for x in out.splitlines() if x.startswith("[ok] supporting record 4: authority"))
        self.assertIn("FLAGGED, not a failure: signed after compromise", line)
        self.assertIn("[signed-after-compromise]", line)
        self.assertIn("cancelled by record 5, so it moved nothing", line)
        self.assertIn("supporting transfer record(s) 4 flagged (cancelled, they moved nothing",
                      out.splitlines()[-2])
        self.assertIn("CANCELLED: transfer 4", out)
        code, result = json_result(path)
        self.assertEqual(code, 0)
        self.assertEqual(result["flagged_cancelled_transfer_records"], [4])
        self.assertEqual((result["flagged_revoke_records"], result["flagged_superseded_ledger_key_records"]),
                         ([], []))
        self.assertEqual(codes_of(result, "supporting record 4: authority"), [])
        self.assertEqual(result["cancelled_transfers"], [4])

    def test_a_flagged_transfer_not_cancelled_fails(self):
        # pending: no cancel record
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")               # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.transfer(INVESTIGATOR_KEY, 3, CUSTODIAN_A_PUB)                       # 4: the thief's
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 4))                  # 5
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5)).finish()))
        self.assertEqual(code, 1)
        self.assertEqual(failed_checks(result), {"supporting record 4: authority": ["signed-after-compromise"]})
        self.assertEqual(result["flagged_cancelled_transfer_records"], [])
        # accepted: it moved the exhibit
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")               # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.transfer(INVESTIGATOR_KEY, 3, CUSTODIAN_A_PUB)                       # 4: the thief's
        ledger.accept(CUSTODIAN_A, 4)                                               # 5
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 4))                  # 6
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5, 6)).finish()))
        self.assertEqual(code, 1)
        self.assertEqual(failed_checks(result), {"supporting record 4: authority": ["signed-after-compromise"]})
        self.assertEqual(result["flagged_cancelled_transfer_records"], [])

    def test_exhibits_are_always_judged(self):
        ledger = self.stolen_investigator()
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3, 4), (0, 1, 2, 5, 6)).finish()))
        self.assertEqual(code, 1)
        self.assertEqual(failed_checks(result), {"exhibit 4: authority": ["signed-after-compromise"]})
        self.assertEqual(result["flagged_cancelled_transfer_records"], [])
        self.assertNotIn("FLAGGED, not a failure", json.dumps(result["checks"]))

    def test_only_a_cancel_that_obeyed_the_rules_cancels(self):
        # the custodian may not cancel (neither the transfer's signer nor an admin): the cancel record
        # breaks a rule, changes nothing, and the flagged transfer is still pending: both fail
        ledger = self.stolen_investigator(cancel_by=CUSTODIAN_A)
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5, 6)).finish()))
        self.assertEqual(code, 1)
        self.assertEqual(failed_checks(result), {"supporting record 4: authority": ["signed-after-compromise"],
                                                 "supporting record 5: authority": ["unauthorized"],
                                                 "exhibit 3: custody": ["unauthorized"]})
        self.assertEqual(result["flagged_cancelled_transfer_records"], [])

    def test_the_cancel_record_itself_is_judged(self):
        # the thief cancels their own hand-over: the transfer is named, the flagged cancel still fails
        ledger = self.stolen_investigator(cancel_by=INVESTIGATOR_KEY)
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5, 6)).finish()))
        self.assertEqual(code, 1)
        self.assertEqual(failed_checks(result), {"supporting record 5: authority": ["signed-after-compromise"]})
        self.assertEqual(result["flagged_cancelled_transfer_records"], [4])

    def test_excused_verdict_unit(self):
        ledger = self.stolen_investigator()
        builder = BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5, 6))
        verifier = vb.BundleVerifier.__new__(vb.BundleVerifier)
        verifier.manifest = vb.parse_manifest(json.dumps(builder.manifest).encode())
        verifier.replay = vb.AuthorityReplay([vb.decode_record(e["record"]) for e in ledger.entries])
        transfer = vb.decode_record(ledger.entries[4]["record"])
        for codes in (["signed-after-compromise"], ["tainted-signer"], ["tainted-signer", "signed-after-compromise"]):
            self.assertIsNotNone(verifier.excused_verdict(transfer, [(c, "x") for c in codes]))
        self.assertIsNone(verifier.excused_verdict(transfer, [("unauthorized", "x")]))
        self.assertIsNone(verifier.excused_verdict(transfer, [("unauthorized", "x"), ("signed-after-compromise", "x")]))
        cancel = vb.decode_record(ledger.entries[5]["record"])
        self.assertIsNone(verifier.excused_verdict(cancel, [("signed-after-compromise", "x")]))
        # without its cancel record the transfer is pending, not excused
        verifier.replay = vb.AuthorityReplay([vb.decode_record(e["record"]) for i, e in enumerate(ledger.entries)
                                              if i != 5])
        self.assertIsNone(verifier.excused_verdict(transfer, [("signed-after-compromise", "x")]))


class RepeatedMemberNameTests(BundleTestCase):
    """Point 3 (11.2): a member name repeated in ANY object of the manifest (`body`, `effective` and
    `files` included) is an error, however the name is escaped and whatever the second value."""

    MARK = "\u0000repeat"

    def repeated(self, builder: BundleBuilder, locate, name: str, value=None, escaped=False) -> Path:
        """A bundle whose manifest text repeats `name` (after its first occurrence) in the object
        `locate(manifest)`, with the same value unless `value` is given; re-signed."""
        obj = locate(builder.manifest)
        self.assertIn(name, obj)
        obj[self.MARK] = obj[name] if value is None else value
        spelled = "".join(f"\\u{ord(ch):04x}" for ch in name) if escaped else name
        members = resigned(builder, lambda text: text.replace(json.dumps(self.MARK), f'"{spelled}"'))
        self.assertEqual(members["manifest.json"].decode().count(json.dumps(self.MARK)), 0)
        return self.zip_of(members)

    def revoke_ledger(self, effective) -> TestLedger:
        ledger = standard_ledger()                                                  # 0-4
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")               # 5
        ledger.revoke(CUSTODIAN_A_PUB, "compromised", effective)                    # 6
        return ledger

    def test_every_object(self):
        cases = {
            "top": (lambda m: m, "case"),
            "exporter": (lambda m: m["exporter"], "key_id"),
            "ledger": (lambda m: m["ledger"], "origin"),
            "exhibit": (lambda m: m["exhibits"][0], "seq"),
            "supporting record": (lambda m: m["supporting"][1], "kind"),
            "body": (lambda m: m["exhibits"][0]["body"], "subject"),
            "content": (lambda m: m["exhibits"][0]["content"], "file"),
        }
        for what, (locate, name) in cases.items():
            for escaped in (False, True):
                with self.subTest(what, escaped=escaped):
                    path = self.repeated(BundleBuilder(), locate, name, escaped=escaped)
                    out, _ = self.assertVerdict(path, 1, failing="manifest")
                    self.assertIn(f"the member name '{name}' is repeated in an object", out)

    def test_files(self):
        # `files` is written by finish(): the repeat goes into the text
        builder = BundleBuilder()
        digest = sha256(builder.files["checkpoint.txt"]).hex()
        for spelled in ("checkpoint.txt", "checkpoint\\u002etxt"):
            with self.subTest(spelled=spelled):
                members = resigned(BundleBuilder(), lambda text: text.replace(
                    '"files": {', f'"files": {{\n    "{spelled}": "{digest}",', 1))
                self.assertEqual(members["manifest.json"].decode().count(digest), 2)
                out, _ = self.assertVerdict(self.zip_of(members), 1, failing="manifest")
                self.assertIn("the member name 'checkpoint.txt' is repeated in an object", out)

    def test_effective(self):
        for effective, name in ((("seq", 6), "seq"), (("time", T0), "time_ms"), (("time", T0), "time")):
            with self.subTest(effective=effective, name=name):
                ledger = self.revoke_ledger(effective)
                builder = BundleBuilder(ledger, (2,), (0, 1, 5, 6))
                self.assertVerdict(self.zip_of(BundleBuilder(ledger, (2,), (0, 1, 5, 6)).finish(), "ok.zip"), 0)
                path = self.repeated(builder, lambda m: m["supporting"][3]["body"]["effective"], name)
                out, _ = self.assertVerdict(path, 1, failing="manifest")
                self.assertIn(f"the member name '{name}' is repeated", out)

    def test_a_second_value_is_no_way_round(self):
        # a lenient reader keeping the last value would see another subject, or another digest
        builder = BundleBuilder()
        path = self.repeated(builder, lambda m: m["exhibits"][0]["body"], "subject", value="W-99")
        self.assertVerdict(path, 1, failing="manifest")
        builder = BundleBuilder()
        path = self.repeated(builder, lambda m: m["exhibits"][0]["body"], "consent", value="none")
        self.assertVerdict(path, 1, failing="manifest")

    def test_parser_unit(self):
        for text in ('{"a": 1, "a": 1}', '{"a": {"b": 1, "b": 2}}', '{"a": [{"c": 1, "\\u0063": 1}]}',
                     '{"files": {"x": "0", "x": "0"}}'):
            with self.subTest(text=text):
                with self.assertRaises(ValueError):
                    vb.parse_json_strict(text.encode())
                with self.assertRaises(vb.CheckError) as ctx:
                    vb.parse_manifest(text.encode())
                self.assertIn("is repeated in an object", str(ctx.exception))
        self.assertEqual(vb.parse_json_strict(b'{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}'),
                         {"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]})     # the same name in different objects


class CheckpointCodeTests(BundleTestCase):
    """Point 4 (4.1 checkpoints): a key not in force, or tainted, is `checkpoint-key`;
    `checkpoint-compromised` is only for a compromise covering record N - 1."""

    def replay(self, ledger: TestLedger) -> vb.AuthorityReplay:
        return vb.AuthorityReplay([vb.decode_record(e["record"]) for e in ledger.entries])

    def code_of(self, replay, size, signer):
        with self.assertRaises(vb.CheckError) as ctx:
            replay.checkpoint(size, signer)
        return ctx.exception.code

    def test_a_key_not_in_force_is_checkpoint_key_even_when_compromised(self):
        """The genesis key, superseded by a new ledger key (record 4), is declared compromised from
        record 5 (record 5): a checkpoint of size 6 by it is of a key not in force (checkpoint-key),
        even though that key is also compromised for record 5."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.ledger_key_record(LEDGER_2)                                          # 4
        ledger.revoke(LEDGER_PUB, "compromised", ("seq", 5), by=ADMIN_2)            # 5
        replay = self.replay(ledger)
        self.assertEqual(replay.problems, {})
        self.assertTrue(replay.compromised_for(replay.keys[LEDGER_PUB], 5, None))
        self.assertEqual(self.code_of(replay, 6, LEDGER_PUB), "checkpoint-key")
        self.assertIn("untainted", replay.checkpoint(6, LEDGER_2_PUB))
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5),
                                                             checkpoint_key=LEDGER_KEY).finish()))
        self.assertEqual(code, 1)
        self.assertEqual(failed_checks(result), {"checkpoint authority": ["checkpoint-key"]})
        self.assertVerdict(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5)).finish(), "ok.zip"), 0)

    def test_a_tainted_key_is_checkpoint_key_even_when_compromised(self):
        ledger = CheckpointKeyUntaintedTests.theft(self)                            # LEDGER_2 in force, tainted
        replay = self.replay(ledger)
        self.assertEqual(self.code_of(replay, 7, LEDGER_2_PUB), "checkpoint-key")
        replay.keys[LEDGER_2_PUB].compromises.append(vb.Compromise(6, 1, 0))       # compromised too
        self.assertEqual(self.code_of(replay, 7, LEDGER_2_PUB), "checkpoint-key")

    def test_only_a_compromise_covering_the_last_record_is_checkpoint_compromised(self):
        ledger = standard_ledger()                                                  # 0-4
        replay = self.replay(ledger)
        genesis = replay.keys[LEDGER_PUB]
        genesis.compromises.append(vb.Compromise(4, 1, 4))                          # from record 4
        self.assertEqual(self.code_of(replay, 5, LEDGER_PUB), "checkpoint-compromised")
        self.assertIn("untainted", replay.checkpoint(4, LEDGER_PUB))                 # covers records 0-3 only
        genesis.compromises[-1] = vb.Compromise(4, 2, T0 + 4 * 1000 + 500)          # by time: record 4's
        self.assertEqual(self.code_of(replay, 5, LEDGER_PUB), "checkpoint-compromised")
        del replay.records[4]                                                       # record N - 1 not at hand
        self.assertEqual(self.code_of(replay, 5, LEDGER_PUB), "checkpoint-compromised")
        # a key not in force is checkpoint-key, compromised or not
        self.assertEqual(self.code_of(replay, 5, INVESTIGATOR_PUB), "checkpoint-key")


class VerdictsOnlyOnObeyedRecordsTests(BundleTestCase):
    """Point 5 (4.1 verdicts): "signed after compromise" and "tainted signer" judge only records that
    obeyed the rules; a record that broke a rule is reported once, as `unauthorized`, never with a
    verdict code besides, even when its signer is compromised for it or tainted by the final state."""

    def test_a_compromised_signer_breaking_a_rule(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")               # 2
        ledger.testimony(LEDGER_KEY)                                                # 3: held by the admin
        ledger.testimony(INVESTIGATOR_KEY, subject="the thief's")                   # 4: obeys, flagged
        ledger.transfer(INVESTIGATOR_KEY, 3, CUSTODIAN_A_PUB)                       # 5: not the holder
        ledger.amend(INVESTIGATOR_KEY, 3, text=b"rewritten\n")                      # 6: neither signer nor admin
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 4))                  # 7
        replay = vb.AuthorityReplay([vb.decode_record(e["record"]) for e in ledger.entries])
        self.assertTrue(replay.compromised_for(replay.keys[INVESTIGATOR_PUB], 5, None))
        self.assertEqual({seq: [code for code, _ in p] for seq, p in replay.problems.items()},
                         {4: ["signed-after-compromise"], 5: ["unauthorized"], 6: ["unauthorized"]})
        builder = BundleBuilder(ledger, (3, 4), (0, 1, 2, 5, 6, 7))
        # the amendment's text of a revealed testimony exhibit is revealed too (11.2)
        code, result = json_result(self.zip_of(builder.finish()))
        self.assertEqual(code, 1)
        failed = failed_checks(result)
        self.assertEqual(failed["supporting record 5: authority"], ["unauthorized"])
        self.assertEqual(failed["supporting record 6: authority"], ["unauthorized"])
        self.assertEqual(failed["exhibit 4: authority"], ["signed-after-compromise"])
        for name in ("supporting record 5: authority", "supporting record 6: authority"):
            detail = next(c["detail"] for c in result["checks"] if c["name"] == name)
            self.assertNotIn("signed after compromise", detail)
        self.assertFalse(any("signed-after-compromise" in codes or "tainted-signer" in codes
                             for name, codes in failed.items() if name.startswith("supporting")))

    def test_a_signer_tainted_later_breaking_a_rule(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(CUSTODIAN_A_PUB, "Minted", "custodian", by=ADMIN_2)        # 2: in the window
        ledger.testimony(LEDGER_KEY)                                                # 3
        ledger.amend(CUSTODIAN_A, 3, text=b"rewritten\n")                           # 4: neither signer nor admin
        ledger.transfer(CUSTODIAN_A, 3, ADMIN_2_PUB)                                # 5: not the holder
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 2))                       # 6
        replay = vb.AuthorityReplay([vb.decode_record(e["record"]) for e in ledger.entries])
        self.assertIsNotNone(replay.taint_of(replay.keys[CUSTODIAN_A_PUB]))
        self.assertEqual({seq: [code for code, _ in p] for seq, p in replay.problems.items()},
                         {2: ["signed-after-compromise"], 4: ["unauthorized"], 5: ["unauthorized"]})
        code, result = json_result(self.zip_of(BundleBuilder(ledger, (3,), (0, 1, 2, 4, 5, 6)).finish()))
        self.assertEqual(code, 1)
        failed = failed_checks(result)
        self.assertEqual(failed["supporting record 2: authority"], ["signed-after-compromise"])
        self.assertEqual(failed["supporting record 4: authority"], ["unauthorized"])
        self.assertEqual(failed["supporting record 5: authority"], ["unauthorized"])


class NotPinnedLineTests(BundleTestCase):
    """The last text line says the keys were not pinned only when --no-trust was given, a manifest
    that does not parse included."""

    TRUST = ("--trust", KEYS / "test-ledger.insecure.pub", "--trust", KEYS / "test-investigator.insecure.pub")

    def unparsable(self) -> dict[Path, str]:
        bundles = {}
        builder = BundleBuilder()
        bundles[self.zip_of(resigned(builder, lambda text: text.replace('"case":', '"case": null, "case":', 1)),
                            "repeated.zip")] = "is repeated in an object"
        bundles[self.zip_of(resigned(BundleBuilder(), lambda text: text + ","), "garbage.zip")] = "does not parse"
        return bundles

    def test_a_manifest_that_does_not_parse(self):
        for path, words in self.unparsable().items():
            with self.subTest(path.name):
                code, out, _ = run_verifier(path, *self.TRUST)
                self.assertEqual(code, 1)
                self.assertIn(words, out)
                self.assertIn("[FAILED] manifest: manifest.json does not parse", out)
                self.assertNotIn("NOT pinned", out)
                self.assertTrue(out.splitlines()[-1].startswith("PROBLEM: "), out.splitlines()[-1])
                code, result = json_result(path, *self.TRUST)
                self.assertEqual(code, 1)
                self.assertTrue(result["keys_pinned"])
                code, out, _ = run_verifier(path, "--no-trust")
                self.assertEqual(code, 1)
                self.assertTrue(out.splitlines()[-1].startswith("NOTE: keys NOT pinned (--no-trust)"))
                self.assertTrue(out.splitlines()[-2].startswith("PROBLEM: "))
                code, result = json_result(path, "--no-trust")
                self.assertFalse(result["keys_pinned"])

    def test_other_outcomes(self):
        members = BundleBuilder().finish()
        members["manifest.sig"] = bytes(64)
        for path in (self.good(), self.zip_of(members, "bad.zip")):
            with self.subTest(path.name):
                _, out, _ = run_verifier(path, *self.TRUST)
                self.assertNotIn("NOT pinned", out)
                _, out, _ = run_verifier(path, "--no-trust")
                self.assertTrue(out.splitlines()[-1].startswith("NOTE: keys NOT pinned (--no-trust)"))



# =============================================================================
# Attestations: witness cosignatures and RFC 3161 time-stamp tokens
# (SPEC 11.1 members, 11.2 `attestations`, 11.3 checks 4, 15, 16 and 17,
# sections 13 and 14)
# =============================================================================

# --- RFC 9162 2.1.4.1 consistency proofs, written here independently --------

def consistency_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 2.1.4.1."""
    def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return subproof(m, d[:k], b) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]
    return subproof(m, leaves, True)


class ConsistencyProofTests(unittest.TestCase):
    """verify_consistency() is RFC 9162 2.1.4.2 with section 5's size and hash rules."""

    LEAVES = [sha256(b"\x00" + bytes([i])) for i in range(20)]

    def test_every_pair_of_sizes(self):
        for n in range(1, 21):
            for m in range(1, n + 1):
                proof = consistency_proof(m, self.LEAVES[:n])
                old, new = mth(self.LEAVES[:m]), mth(self.LEAVES[:n])
                vb.verify_consistency(m, n, proof, old, new)   # raises if it does not verify
                if m == n:
                    self.assertEqual(proof, [])
                    continue
                for i in range(len(proof)):
                    bad = list(proof)
                    bad[i] = sha256(bad[i])
                    with self.assertRaises(vb.CheckError, msg=(m, n, i)):
                        vb.verify_consistency(m, n, bad, old, new)
                with self.assertRaises(vb.CheckError):
                    vb.verify_consistency(m, n, proof, sha256(old), new)
                with self.assertRaises(vb.CheckError):
                    vb.verify_consistency(m, n, proof + [old], old, new)      # too long
                with self.assertRaises(vb.CheckError):
                    vb.verify_consistency(m, n, proof[:-1], old, new)         # too short

    def test_section_5_rules(self):
        root = mth(self.LEAVES[:4])
        with self.assertRaisesRegex(vb.CheckError, "between equal sizes must be empty"):
            vb.verify_consistency(4, 4, [root], root, root)
        with self.assertRaisesRegex(vb.CheckError, "different roots"):
            vb.verify_consistency(4, 4, [], root, sha256(root))
        with self.assertRaisesRegex(vb.CheckError, "0 < old size"):
            vb.verify_consistency(0, 4, [], root, root)
        with self.assertRaisesRegex(vb.CheckError, "0 < old size"):
            vb.verify_consistency(5, 4, [], root, root)
        with self.assertRaisesRegex(vb.CheckError, "32 bytes"):
            vb.verify_consistency(3, 4, [root[:31]], root, root)
        with self.assertRaisesRegex(vb.CheckError, "empty"):
            vb.verify_consistency(3, 4, [], mth(self.LEAVES[:3]), root)


class DerTests(unittest.TestCase):
    """Section 14 rule 1: DER exactly, by X.690's primitive rules and the schema's (DEFAULT values left
    out, SET OF sorted)."""

    def test_primitive_rules(self):
        good = {"BOOLEAN TRUE": "0101ff", "BOOLEAN FALSE": "010100", "INTEGER 128": "02020080",
                "INTEGER -1": "0201ff", "NULL": "0500", "OID": "06032b0601", "BIT STRING": "03020680",
                "long length": "0481" + "80" + "00" * 128, "UTCTime": "170d3236303130313030303030305a",
                "GeneralizedTime with a fraction": "1811" + b"20260101000000.5Z".hex(),
                "high tag": "9f1f0100", "SEQUENCE": "3003020101"}
        for name, value in good.items():
            self.assertIsNone(vb.der_problem(bytes.fromhex(value)), name)
        bad = {"BOOLEAN 0x01": ("010101", "BOOLEAN"), "INTEGER 00 05": ("02020005", "INTEGER"),
               "INTEGER ff 80": ("0202ff80", "INTEGER"), "empty INTEGER": ("0200", "INTEGER"),
               "NULL with content": ("050100", "NULL"), "OID arc 0x80": ("0603808001", "OBJECT IDENTIFIER"),
               "truncated OID": ("06022b86", "OBJECT IDENTIFIER"),
               "BIT STRING padding": ("03020681", "unused bits"), "BIT STRING count": ("030108", "unused-bits"),
               "long form below 128": ("04810100", "long-form length below 128"),
               "length leading zero": ("0482000100", "leading zero"),
               "indefinite length": ("3080020101 0000".replace(" ", ""), "indefinite"),
               "constructed OCTET STRING": ("2403040100", "constructed encoding"),
               "primitive SEQUENCE": ("1000", "primitive encoding"),
               "high tag below 31": ("9f1e0100", "below 31"), "trailing byte": ("050000", "after the value"),
               "UTCTime without Z": ("170c" + b"260101000000".hex(), "UTCTime"),
               "GeneralizedTime trailing zero": ("1812" + b"20260101000000.50Z".hex(), "GeneralizedTime"),
               "length past the end": ("3005020101", "past the end"), "end-of-contents": ("30020000", "end-of")}
        for name, (value, words) in bad.items():
            problem = vb.der_problem(bytes.fromhex(value))
            self.assertIsNotNone(problem, name)
            self.assertIn(words, problem, name)

    def test_schema_rules(self):
        # Extension.critical DEFAULT FALSE written out
        ext = bytes.fromhex("300c0603551d130101000402" + "3000")
        with self.assertRaisesRegex(vb.CheckError, "DEFAULT"):
            vb.der_decode_exact(ext, vb.asn1_x509.Extension, "ext")
        self.assertTrue(vb.der_decode_exact(bytes.fromhex("30090603551d1304023000"), vb.asn1_x509.Extension, "e"))
        # a relative distinguished name whose SET OF is not sorted
        a, b = bytes.fromhex("300806035504030c0158"), bytes.fromhex("300806035504060c0141")
        self.assertLess(a, b)
        for first, second, ok in ((a, b, True), (b, a, False)):
            rdn = b"\x31" + bytes([len(first + second)]) + first + second
            name = b"\x30" + bytes([len(rdn)]) + rdn
            if ok:
                vb.der_decode_exact(name, vb.asn1_x509.Name, "name")
            else:
                with self.assertRaisesRegex(vb.CheckError, "SET OF .*RelativeDistinguishedName.* not in increasing"):
                    vb.der_decode_exact(name, vb.asn1_x509.Name, "name")

    def test_deep_nesting_and_garbage_are_check_errors(self):
        nested = b"\x05\x00"
        for _ in range(3000):       # deeper than Python's recursion limit
            length = len(nested)
            nested = b"\x30" + (bytes([length]) if length < 128 else b"\x81" + bytes([length]) if length < 256 else
                                b"\x82" + length.to_bytes(2, "big")) + nested
            if len(nested) > 60000:
                break
        self.assertIsNone(vb.der_problem(nested))
        for data in (nested, b"", b"\x30", b"\xff" * 40, os.urandom(200)):
            with self.assertRaises(vb.CheckError):
                vb.der_decode_exact(data, vb.TimeStampResp, "the response")


# --- an in-test certificate authority and time-stamp tokens built here --------

from cryptography import x509 as cx509                                   # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID           # noqa: E402
from cryptography.hazmat.primitives import hashes                         # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa    # noqa: E402
from asn1crypto import cms as acms, core as acore, tsp as atsp, x509 as ax509   # noqa: E402

STAMP_TIME = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
STAMPED_DATA = ("example.org/case-1\n4\n" + b64(bytes(32)) + "\n\n\u2014 example.org/case-1 AAAA\n").encode()


def make_certificate(subject: str, key, issuer: str | None = None, issuer_key=None, *, ca=False, path_len=None,
                     eku=(ExtendedKeyUsageOID.TIME_STAMPING,), eku_critical=True, key_usage="tsa",
                     valid=(-30, 3650), digest=hashes.SHA256, ski=False) -> bytes:
    """A DER certificate made with `cryptography` (v3; basic constraints and key usage critical)."""
    name = lambda cn: cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, cn)])  # noqa: E731
    builder = (cx509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer or subject))
               .public_key(key.public_key()).serial_number(cx509.random_serial_number())
               .not_valid_before(STAMP_TIME + datetime.timedelta(days=valid[0]))
               .not_valid_after(STAMP_TIME + datetime.timedelta(days=valid[1])))
    if ca:
        builder = builder.add_extension(cx509.BasicConstraints(ca=True, path_length=path_len), critical=True)
    usages = {"tsa": dict(digital_signature=True), "ca": dict(key_cert_sign=True, crl_sign=True),
              "nonrep": dict(content_commitment=True), "crl": dict(crl_sign=True)}
    if key_usage is not None:
        flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                     encipher_only=False, decipher_only=False)
        flags.update(usages["ca" if ca and key_usage == "tsa" else key_usage])
        builder = builder.add_extension(cx509.KeyUsage(**flags), critical=True)
    if eku and not ca:
        builder = builder.add_extension(cx509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    if ski:
        builder = builder.add_extension(cx509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    cert = builder.sign(issuer_key or key, digest())
    return cert.public_bytes(serialization.Encoding.DER)


def resign_certificate(der: bytes, issuer_key, mutate) -> bytes:
    """The certificate with its TBSCertificate changed by `mutate` (on the asn1crypto value) and signed again
    (ECDSA with SHA-256) by `issuer_key`: a certificate `cryptography` would not make."""
    cert = ax509.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    mutate(tbs)
    tbs_der = tbs.dump()
    signature = issuer_key.sign(tbs_der, ec.ECDSA(hashes.SHA256()))
    return ax509.Certificate({"tbs_certificate": ax509.TbsCertificate.load(tbs_der),
                              "signature_algorithm": cert["signature_algorithm"],
                              "signature_value": signature}).dump()


def make_token(key, cert_der: bytes, data: bytes = STAMPED_DATA, *, chain=(), serial=2, when=STAMP_TIME,
               digest="sha256", signature_algorithm=None, ess="v2", ess_hash=None, tsa_name=None,
               tst_extensions=None, gen_time_raw: bytes | None = None, status="granted", signer_infos=1,
               tst_der: bytes | None = None, attrs_der: bytes | None = None, message_digest=None,
               content_type="tst_info", sid="issuer_and_serial_number", imprint=None, nonce=None,
               accuracy: dict | None = None) -> bytes:
    """An RFC 3161 TimeStampResp built here with asn1crypto and signed with `key` (the token's own
    certificate first in its certificates, then `chain`); every argument bends one rule."""
    if tst_der is None:
        tst = {"version": "v1", "policy": "1.2.3.4.1",
               "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                   "hashed_message": imprint if imprint is not None else hashlib.sha256(data).digest()},
               "serial_number": serial, "gen_time": when}
        if nonce is not None:
            tst["nonce"] = nonce
        if accuracy is not None:
            tst["accuracy"] = accuracy
        if tsa_name is not None:
            tst["tsa"] = ax509.GeneralName(name="directory_name", value=ax509.Name.load(tsa_name))
        if tst_extensions is not None:
            tst["extensions"] = tst_extensions
        tst_der = atsp.TSTInfo(tst).dump(force=True)
        if gen_time_raw is not None:
            old = b"\x18\x0f" + when.strftime("%Y%m%d%H%M%SZ").encode()
            assert old in tst_der and tst_der[1] < 0x80 - len(gen_time_raw)
            body = tst_der[2:].replace(old, b"\x18" + bytes([len(gen_time_raw)]) + gen_time_raw)
            tst_der = b"\x30" + bytes([len(body)]) + body
    cert = ax509.Certificate.load(cert_der)
    attrs = [{"type": "content_type", "values": [content_type]},
             {"type": "message_digest",
              "values": [message_digest if message_digest is not None else hashlib.new(digest, tst_der).digest()]}]
    if ess in ("v2", "both"):
        attrs.append({"type": "signing_certificate_v2",
                      "values": [{"certs": [{"cert_hash": ess_hash or hashlib.sha256(cert_der).digest()}]}]})
    if ess in ("v1", "both"):
        attrs.append({"type": "signing_certificate",
                      "values": [{"certs": [{"cert_hash": ess_hash or hashlib.sha1(cert_der).digest()}]}]})
    signed = acms.CMSAttributes.load(attrs_der) if attrs_der is not None else acms.CMSAttributes(attrs)
    to_sign = attrs_der if attrs_der is not None else signed.dump(force=True)
    hash_ = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}[digest]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(to_sign, ec.ECDSA(hash_))
        signature_algorithm = signature_algorithm or f"{digest}_ecdsa"
    else:
        signature = key.sign(to_sign, padding.PKCS1v15(), hash_)
        signature_algorithm = signature_algorithm or f"{digest}_rsa"
    if sid == "issuer_and_serial_number":
        identifier = acms.SignerIdentifier(name=sid, value={"issuer": cert.issuer, "serial_number": cert.serial_number})
    else:
        identifier = acms.SignerIdentifier(name=sid, value=cert.key_identifier)
    info = {"version": "v1" if sid == "issuer_and_serial_number" else "v3", "sid": identifier,
            "digest_algorithm": {"algorithm": digest}, "signed_attrs": signed,
            "signature_algorithm": {"algorithm": signature_algorithm}, "signature": signature}
    signed_data = acms.SignedData({
        "version": "v3", "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": {"content_type": "tst_info", "content": acore.ParsableOctetString(tst_der)},
        "certificates": [cert] + [ax509.Certificate.load(c) for c in chain],
        "signer_infos": [info] * signer_infos})
    response = atsp.TimeStampResp({"status": {"status": status},
                                   "time_stamp_token": acms.ContentInfo({"content_type": "signed_data",
                                                                         "content": signed_data})})
    return response.dump()


def sorted_certificates(token: bytes) -> bytes:
    """The token with its certificates in DER order (what asn1crypto's own encoder writes)."""
    return atsp.TimeStampResp.load(token).dump(force=True)


class TokenTests(unittest.TestCase):
    """Section 14 rules 1 to 6 as 11.3 check 15 applies them, on tokens built here: each test bends one
    rule of a token that otherwise verifies (test_control)."""

    @classmethod
    def setUpClass(cls):
        cls.root_key = ec.generate_private_key(ec.SECP256R1())
        cls.tsa_key = ec.generate_private_key(ec.SECP256R1())
        cls.root = make_certificate("Test Root", cls.root_key, ca=True)
        cls.tsa = make_certificate("Test TSA", cls.tsa_key, "Test Root", cls.root_key, ski=True)

    def verify(self, token: bytes, trusted=None, data: bytes = STAMPED_DATA) -> vb.TokenFacts:
        trusted = [vb.load_certificate(c, "trusted") for c in (trusted or [self.root])]
        return vb.TokenVerifier(trusted).verify(token, data)

    def refused(self, token: bytes, words: str, trusted=None, data: bytes = STAMPED_DATA) -> str:
        with self.assertRaises(vb.CheckError) as caught:
            self.verify(token, trusted, data)
        self.assertIn(words, str(caught.exception))
        return str(caught.exception)

    def token(self, **kw) -> bytes:
        return make_token(self.tsa_key, self.tsa, **kw)

    def test_control(self):
        facts = self.verify(self.token())
        self.assertEqual((facts.serial, facts.gen_time_ms), ("02", 1767268800000))
        self.assertEqual(facts.signer.sha256, hashlib.sha256(self.tsa).hexdigest())
        self.assertEqual([c.sha256 for c in facts.chain],
                         [hashlib.sha256(c).hexdigest() for c in (self.tsa, self.root)])
        # the signer identified by its subject key identifier, and ESS signingCertificate (SHA-1)
        self.verify(self.token(sid="subject_key_identifier"))
        self.verify(self.token(ess="v1"))
        self.verify(self.token(status="granted_with_mods"))

    @unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
    def test_openssl_agrees_on_the_control_token(self):
        """The tokens built here are real: `openssl ts -verify` accepts the control token (11.4)."""
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            (d / "t.tsr").write_bytes(self.token())
            (d / "data").write_bytes(STAMPED_DATA)
            (d / "root.pem").write_bytes(vb.canonical_certificate_pem(self.root))
            proc = subprocess.run(["openssl", "ts", "-verify", "-data", str(d / "data"), "-in", str(d / "t.tsr"),
                                   "-CAfile", str(d / "root.pem"), "-attime", str(int(STAMP_TIME.timestamp()))],
                                  capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
            self.assertIn("Verification: OK", proc.stdout + proc.stderr)

    def test_algorithms(self):
        """ECDSA P-256/SHA-256, P-384/SHA-384 and RSA PKCS#1 v1.5 SHA-256/384/512, the digest agreeing."""
        p384_root_key, p384_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
        p384_root = make_certificate("P-384 Root", p384_root_key, ca=True, digest=hashes.SHA384)
        p384 = make_certificate("P-384 TSA", p384_key, "P-384 Root", p384_root_key, digest=hashes.SHA384)
        self.verify(make_token(p384_key, p384, digest="sha384"), [p384_root])
        self.refused(make_token(p384_key, p384, digest="sha256"), "does not agree", [p384_root])
        self.refused(make_token(self.tsa_key, self.tsa, digest="sha384"), "does not agree")
        self.refused(make_token(self.tsa_key, self.tsa, digest="sha256", signature_algorithm="sha384_ecdsa"),
                     "does not agree")
        # a P-384 authority whose certificate is signed with SHA-256 (the pairing holds for certificates too)
        p384_sha256 = make_certificate("P-384 TSA", p384_key, "P-384 Root", p384_root_key, digest=hashes.SHA256)
        self.refused(make_token(p384_key, p384_sha256, digest="sha384"), "does not chain", [p384_root])
        rsa_root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rsa_root = make_certificate("RSA Root", rsa_root_key, ca=True)
        rsa_tsa = make_certificate("RSA TSA", rsa_key, "RSA Root", rsa_root_key)
        for digest in ("sha256", "sha384", "sha512"):
            self.verify(make_token(rsa_key, rsa_tsa, digest=digest), [rsa_root])
            self.verify(make_token(rsa_key, rsa_tsa, digest=digest, signature_algorithm="rsassa_pkcs1v15"), [rsa_root])
        self.refused(make_token(rsa_key, rsa_tsa, digest="sha256", signature_algorithm="sha512_rsa"),
                     "does not agree", [rsa_root])
        self.refused(make_token(rsa_key, rsa_tsa, digest="sha256", signature_algorithm="sha256_ecdsa"),
                     "not ECDSA", [rsa_root])
        self.refused(make_token(self.tsa_key, self.tsa, signature_algorithm="sha256_rsa"), "not RSA")
        # SHA-1 is no digest algorithm a token may use
        self.refused(self.token(digest="sha256", signature_algorithm="sha1_ecdsa"), "is not ECDSA P-256")

    def test_rule_1_response(self):
        token = self.token()
        long_form = b"\x30\x83\x00" + token[2:]    # the outer length in 3 bytes instead of 2
        self.refused(long_form, "not DER")
        self.refused(token + b"\x00", "not DER")
        self.refused(self.token(status="rejection"), "not granted")
        self.refused(bytes.fromhex("30053003020100"), "carries no token")    # granted, and no token
        self.refused(bytes.fromhex("30053003020102"), "not granted")         # a rejection (no token either)
        self.refused(b"\x00" * (vb.MAX_TOKEN + 1), "more than 32768")

    def test_rule_2_tstinfo(self):
        self.refused(self.token(imprint=bytes(32)), "message imprint is not the SHA-256")
        self.refused(self.token(), "message imprint", data=STAMPED_DATA + b"x")
        for serial in (0, -5, 2 ** 160, 2 ** 200):
            self.refused(self.token(serial=serial), "positive integer (not zero) below 2^160")
        self.assertEqual(self.verify(self.token(serial=1)).serial, "01")
        self.assertEqual(self.verify(self.token(serial=2 ** 160 - 1)).serial, "00" + "ff" * 20)
        critical = [{"extn_id": "1.2.3.4", "critical": True, "extn_value": b"\x05\x00"}]
        self.refused(self.token(tst_extensions=critical), "critical extension 1.2.3.4")
        self.verify(self.token(tst_extensions=[dict(critical[0], critical=False)]))
        subject = ax509.Certificate.load(self.tsa)["tbs_certificate"]["subject"].dump()
        self.verify(self.token(tsa_name=subject))
        other = ax509.Certificate.load(self.root)["tbs_certificate"]["subject"].dump()
        self.refused(self.token(tsa_name=other), "tsa field is not the signing certificate's subject")
        # section 14: genTime exactly YYYYMMDDHHMMSSZ; a fraction is refused (the TSTInfo is still DER)
        self.refused(self.token(gen_time_raw=b"20260101120000.5Z"), "fractional seconds are refused")
        self.refused(self.token(gen_time_raw=b"202601011200Z"), "not DER")
        self.refused(self.token(gen_time_raw=b"20261301120000Z"), "not a valid time")
        tst = atsp.TSTInfo.load(atsp.TimeStampResp.load(self.token())["time_stamp_token"]["content"]
                                ["encap_content_info"]["content"].contents)
        ordering = tst.dump()   # ordering DEFAULT FALSE written out: not DER
        at = ordering.index(b"\x18\x0f") + 17
        forged = b"\x30" + bytes([ordering[1] + 3]) + ordering[2:at] + b"\x01\x01\x00" + ordering[at:]
        self.refused(self.token(tst_der=forged), "DEFAULT")
        self.refused(self.token(content_type="data"), "signed content type")

    def test_rule_2_accuracy(self):
        """Section 14 rule 2: an accuracy, when present, has millis and micros each 1 to 999 when present (a
        malformed one fails the token); the token vouches for genTime plus seconds, millis and micros, micros
        rounded up to a millisecond."""
        for accuracy, ms in (({"seconds": 1}, 1000), ({"millis": 1}, 1), ({"millis": 999}, 999), ({"micros": 1}, 1),
                             ({"micros": 999}, 1), ({"seconds": 2, "millis": 5, "micros": 500}, 2006),
                             ({"seconds": 0}, 0), ({"seconds": 2 ** 64 - 1}, (2 ** 64 - 1) * 1000)):
            with self.subTest(accuracy):
                self.assertEqual(self.verify(self.token(accuracy=accuracy)).accuracy_ms, ms)
        self.assertIsNone(self.verify(self.token()).accuracy_ms)
        for accuracy, words in (({"millis": 0}, "millis is 0, not 1 to 999"),
                                ({"millis": 1000}, "millis is 1000, not 1 to 999"),
                                ({"micros": 0}, "micros is 0, not 1 to 999"),
                                ({"micros": 1000}, "micros is 1000, not 1 to 999"),
                                ({"seconds": 1, "millis": -1}, "millis is -1"),
                                ({"seconds": -1}, "seconds is -1, not a non-negative integer below 2^64"),
                                ({"seconds": 2 ** 64}, "not a non-negative integer below 2^64")):
            with self.subTest(accuracy):
                self.refused(self.token(accuracy=accuracy), words)

    def test_rule_3_signed_attributes(self):
        self.refused(self.token(signer_infos=2), "not exactly one")
        self.refused(self.token(message_digest=bytes(32)), "message digest is not the sha256")
        self.refused(self.token(ess="none"), "exactly one ESS signing-certificate")
        self.refused(self.token(ess="both"), "exactly one ESS signing-certificate")
        self.refused(self.token(ess_hash=bytes(32)), "ESS signing-certificate hash")
        self.refused(self.token(ess="v1", ess_hash=bytes(20)), "ESS signing-certificate hash")
        # signed attributes signed as sent but not in DER order: not DER
        control = atsp.TimeStampResp.load(self.token())
        attrs = control["time_stamp_token"]["content"]["signer_infos"][0]["signed_attrs"]
        items = sorted((a.dump() for a in attrs), reverse=True)
        body = b"".join(items)
        header = bytes([len(body)]) if len(body) < 128 else b"\x81" + bytes([len(body)])
        self.assertLess(len(body), 256)
        unsorted = b"\x31" + header + body
        self.assertIsNone(vb.der_problem(unsorted))
        self.refused(self.token(attrs_der=unsorted), "SET OF")

    def test_rule_3_at_most_8_certificates(self):
        """Section 14 rule 3: a token carries at most 8 certificates (SignedData.certificates), whichever they
        are: the signer's, the root and 6 unrelated CAs (8) verify; one more unrelated CA (9) fails."""
        others = [make_certificate(f"Unrelated {n}", ec.generate_private_key(ec.SECP256R1()), ca=True)
                  for n in range(7)]
        self.verify(self.token(chain=[self.root] + others[:6]))
        self.refused(self.token(chain=[self.root] + others), "the token carries 9 certificates, more than 8")
        # the trusted certificates given apart are not carried
        self.verify(self.token(chain=others), trusted=[self.root])

    def test_rule_4_signature(self):
        token = bytearray(self.token())
        token[-3] ^= 1     # inside the signature value
        self.refused(bytes(token), "signature")
        other_key = ec.generate_private_key(ec.SECP256R1())
        self.refused(make_token(other_key, self.tsa), "the signature does not verify")
        # the signing certificate is found among the trusted ones when the token does not carry it
        bare = atsp.TimeStampResp.load(self.token())
        bare["time_stamp_token"]["content"]["certificates"] = acms.CertificateSet([])
        self.refused(bare.dump(), "no certificate of the token or the trusted ones")
        self.verify(bare.dump(), trusted=[self.tsa])

    def test_rule_5_key_usages(self):
        def tsa(**kw) -> bytes:
            return make_certificate("Test TSA", self.tsa_key, "Test Root", self.root_key, **kw)
        self.refused(make_token(self.tsa_key, tsa(eku_critical=False)), "critical extended key usage")
        self.refused(make_token(self.tsa_key, tsa(eku=())), "critical extended key usage")
        self.refused(make_token(self.tsa_key, tsa(eku=(ExtendedKeyUsageOID.TIME_STAMPING,
                                                       ExtendedKeyUsageOID.CODE_SIGNING))),
                     "exactly id-kp-timeStamping")
        self.refused(make_token(self.tsa_key, tsa(key_usage="crl")), "allows neither digital signatures")
        self.verify(make_token(self.tsa_key, tsa(key_usage="nonrep")))
        self.verify(make_token(self.tsa_key, tsa(key_usage=None)))

    def test_rule_6_chain(self):
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(5)]
        # root -> i1 -> i2 -> i3 -> TSA: three of the token's certificates between them
        names = ["Test Root", "I1", "I2", "I3", "I4"]
        certs = [self.root]
        for n in range(1, 5):
            certs.append(make_certificate(names[n], keys[n], names[n - 1], keys[n - 1] if n > 1 else self.root_key,
                                          ca=True))
        for depth in range(0, 5):
            issuer, issuer_key = names[depth], keys[depth] if depth else self.root_key
            leaf = make_certificate("Deep TSA", self.tsa_key, issuer, issuer_key)
            token = make_token(self.tsa_key, leaf, chain=certs[1:depth + 1])
            if depth <= vb.MAX_TOKEN_INTERMEDIATES:
                self.assertEqual(len(self.verify(token).chain), depth + 2)
            else:
                self.refused(token, "through at most 3 of the token's certificates")
            # pinning an intermediate trusts what it issued
            if depth:
                self.verify(token, trusted=[certs[depth]])
        # a trusted signing certificate needs no chain
        self.verify(self.token(), trusted=[self.tsa])
        # the issuer must be a CA with keyCertSign, its path length respected
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        not_ca = make_certificate("Not A CA", keys[1], "Test Root", self.root_key, key_usage="ca", eku=())
        leaf = make_certificate("Leaf TSA", leaf_key, "Not A CA", keys[1])
        self.refused(make_token(leaf_key, leaf, chain=[not_ca]), "is not a CA")
        no_sign = make_certificate("No Sign", keys[1], "Test Root", self.root_key, ca=True, key_usage="crl")
        leaf = make_certificate("Leaf TSA", leaf_key, "No Sign", keys[1])
        self.refused(make_token(leaf_key, leaf, chain=[no_sign]), "keyCertSign")
        tight_root = make_certificate("Tight Root", self.root_key, ca=True, path_len=0)
        mid = make_certificate("Mid", keys[1], "Tight Root", self.root_key, ca=True)
        leaf = make_certificate("Leaf TSA", leaf_key, "Mid", keys[1])
        self.refused(make_token(leaf_key, leaf, chain=[mid]), "path length constraint 0", trusted=[tight_root])
        direct = make_certificate("Leaf TSA", leaf_key, "Tight Root", self.root_key)
        self.verify(make_token(leaf_key, direct), trusted=[tight_root])
        # another root with the same name does not verify the signature
        impostor = make_certificate("Test Root", ec.generate_private_key(ec.SECP256R1()), ca=True)
        self.refused(self.token(), "does not verify", trusted=[impostor])

    def test_rule_6_validity_at_the_stamped_time_only(self):
        expired_today = make_certificate("Test TSA", self.tsa_key, "Test Root", self.root_key, valid=(-30, 1))
        self.verify(make_token(self.tsa_key, expired_today))         # valid on 2026-01-01, whatever today is
        self.refused(make_token(self.tsa_key, expired_today, when=STAMP_TIME + datetime.timedelta(days=2)),
                     "not valid at the stamped time")
        self.refused(make_token(self.tsa_key, self.tsa, when=STAMP_TIME - datetime.timedelta(days=31)),
                     "not valid at the stamped time")
        old_root = make_certificate("Test Root", self.root_key, ca=True, valid=(-60, -1))
        self.refused(self.token(), "not valid at the stamped time", trusted=[old_root])

    def test_rule_6_well_formed_certificates(self):
        def variant(mutate) -> bytes:
            return resign_certificate(self.tsa, self.root_key, mutate)

        def version_1(tbs):
            tbs["version"] = "v1"

        def duplicate(tbs):
            exts = list(tbs["extensions"])
            tbs["extensions"] = ax509.Extensions(exts + [exts[-1]])

        def unknown_critical(tbs):
            tbs["extensions"] = ax509.Extensions(list(tbs["extensions"]) + [ax509.Extension(
                {"extn_id": "1.2.3.4.5", "critical": True, "extn_value": b"\x05\x00"})])

        def inner_algorithm(tbs):
            tbs["signature"] = {"algorithm": "sha384_ecdsa"}

        self.verify(make_token(self.tsa_key, variant(lambda tbs: None)))   # the re-signing itself is sound
        for mutate, words in ((version_1, "is not v3"), (duplicate, "more than once"),
                              (unknown_critical, "critical extension 1.2.3.4.5"),
                              (inner_algorithm, "inner and outer signature algorithms differ")):
            with self.subTest(mutate.__name__):
                self.refused(make_token(self.tsa_key, variant(mutate)), words)

    def test_certificate_order_in_the_token(self):
        """SPEC CHOICE: the order of the token's certificates is not judged (openssl ts -reply -chain writes
        the signer first, and custody keeps such tokens); every other SET OF must be in DER order."""
        mid_key = ec.generate_private_key(ec.SECP256R1())
        mid = make_certificate("Mid", mid_key, "Test Root", self.root_key, ca=True)
        leaf = make_certificate("Leaf TSA", self.tsa_key, "Mid", mid_key)
        token = atsp.TimeStampResp.load(make_token(self.tsa_key, leaf, chain=[mid]))
        self.verify(token.dump())     # asn1crypto wrote them in DER order
        both = sorted([leaf, mid], reverse=True)
        body = b"".join(both)
        token["time_stamp_token"]["content"]["certificates"] = acms.CertificateSet.load(
            b"\x31\x82" + len(body).to_bytes(2, "big") + body)
        unsorted = token.dump()
        self.assertIn(b"\xa0\x82" + len(body).to_bytes(2, "big") + both[0], unsorted)
        self.verify(unsorted)

    def test_no_input_crashes_the_verifier(self):
        """Random damage to a valid token is a CheckError, never another exception (nor a pass, except in
        the fields no rule covers)."""
        import random
        token = self.token()
        rng = random.Random(20261130)
        passed = 0
        for _ in range(1500):
            data = bytearray(token)
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            if rng.randrange(4) == 0:
                del data[rng.randrange(len(data)):]
            try:
                self.verify(bytes(data))
                passed += 1
            except vb.CheckError:
                pass
        self.assertLess(passed, 100)


class CosignatureUnitTests(unittest.TestCase):
    """Section 13: cosignature/v1 verifier keys and signed messages."""

    def test_verifier_keys(self):
        key = Ed25519PrivateKey.generate()
        pub = raw_public(key)
        name = "witness.example.org/w1"
        kid = sha256(name.encode() + b"\n\x04" + pub)[:4].hex()
        blob, ed25519_blob = b64(b"\x04" + pub), b64(b"\x01" + pub)
        parsed = vb.parse_cosignature_verifier_key(f"{name}+{kid}+{blob}")
        self.assertEqual((parsed.name, parsed.key_id.hex(), parsed.public_key), (name, kid, pub))
        self.assertEqual(vb.parse_cosignature_verifier_key(f"{name}+{kid.upper()}+{blob}").name, name)
        for bad, words in ((f"{name}+{kid}+{ed25519_blob}", "type 0x04"),
                           (f"{name}+{bytes(4).hex()}+{blob}", "name and key give"),
                           (f"other+{kid}+{blob}", "name and key give"),
                           (f"{name}+{kid}", "NAME+KEYID+BASE64"),
                           (f"a b+{kid}+{blob}", "invalid key name"),
                           (f"{name}+{kid[:6]}+{blob}", "8 hex digits"),
                           (f"{name}+{kid}+{blob[:-1]}", "base64"), (5, "not a string")):
            with self.subTest(bad):
                with self.assertRaises(ValueError) as caught:
                    vb.parse_cosignature_verifier_key(bad)
                self.assertIn(words, str(caught.exception))

    def test_message_and_blob(self):
        text = b"example.org/x\n1\n" + b64(bytes(32)).encode() + b"\n"
        self.assertEqual(vb.cosignature_message(1767268800, text), b"cosignature/v1\ntime 1767268800\n" + text)
        blob = b"\x01\x02\x03\x04" + (2 ** 63 - 1).to_bytes(8, "big") + bytes(64)
        self.assertEqual(vb.split_cosignature_blob(blob)[1], 2 ** 63 - 1)
        with self.assertRaisesRegex(ValueError, "below 2\\^63"):
            vb.split_cosignature_blob(blob[:4] + (2 ** 63).to_bytes(8, "big") + bytes(64))
        with self.assertRaisesRegex(ValueError, "not 76"):
            vb.split_cosignature_blob(blob[:-1])


class PolicyTests(BundleTestCase):
    """Section 13's policy format (Sigsum's) and every rule of it; a bad policy is exit 2 naming the line."""

    K1, K2, K3 = "11" * 32, "22" * 32, "33" * 32

    def parse(self, text: str) -> vb.Policy:
        return vb.parse_policy(text.encode())

    def bad(self, text: str, line: int, words: str) -> None:
        with self.assertRaises(vb.PolicyError) as caught:
            self.parse(text)
        self.assertTrue(str(caught.exception).startswith(f"line {line}: "), str(caught.exception))
        self.assertIn(words, str(caught.exception))

    def test_good_policies(self):
        policy = self.parse(f"# witnesses of the case\n\nlog {'ab' * 32} https://log.example\n"
                            f"witness w1 {self.K1} https://w1.example  # first\nwitness w2 {self.K2.upper()}\n"
                            f"witness w3 {self.K3}\n\tgroup two 2 w1 w2 w3\ngroup any-of any w1 w2\nquorum two\n")
        self.assertEqual(policy.logs, [bytes.fromhex("ab" * 32)])
        self.assertEqual(policy.witnesses["w2"], bytes.fromhex(self.K2))
        k1, k2, k3 = (bytes.fromhex(k) for k in (self.K1, self.K2, self.K3))
        self.assertFalse(policy.met(set()))
        self.assertFalse(policy.met({k1}))
        self.assertTrue(policy.met({k1, k3}))
        self.assertTrue(policy.acting({k2})["any-of"])
        nested = self.parse(f"witness a {self.K1}\nwitness b {self.K2}\nwitness c {self.K3}\ngroup ab any a b\n"
                            "group top all ab c\nquorum top\n")
        self.assertFalse(nested.met({k1, k2}))
        self.assertTrue(nested.met({k2, k3}))
        self.assertEqual(self.parse(f"witness a {self.K1}\ngroup g +1 a\nquorum g\n").groups["g"], (1, ["a"]))
        self.assertEqual(self.parse(f"witness a {self.K1}\ngroup g 01 a\nquorum g\n").groups["g"], (1, ["a"]))
        self.assertTrue(self.parse("quorum none\n").met(set()))
        self.assertIsNone(self.parse("quorum none").quorum)
        self.assertEqual(len(self.parse("#\n" * 1999 + "quorum none\n").order), 0)   # exactly 2,000 lines

    def test_bad_policies(self):
        k1, k2 = self.K1, self.K2
        cases = [
            (f"witness w1 {k1}\n", 1, "without a quorum line"),
            ("", 1, "without a quorum line"),
            (f"witness w1 {k1}\nquorum w1\nquorum w1\n", 3, "a second quorum line (the first is line 2)"),
            ("quorum w1\n", 1, "not defined on an earlier line"),
            (f"quorum w1\nwitness w1 {k1}\n", 1, "not defined on an earlier line"),
            (f"group g any w1\nwitness w1 {k1}\nquorum g\n", 1, "not defined on an earlier line"),
            (f"witness w1 {k1}\nwitness w1 {k2}\nquorum w1\n", 2, "already defined"),
            (f"witness w1 {k1}\nwitness w2 {k1}\nquorum w1\n", 2, "a witness key is listed once"),
            (f"log {k1}\nwitness w1 {k1}\nquorum w1\n", 2, "is a log key"),
            (f"witness w1 {k1}\nlog {k1}\nquorum w1\n", 2, "a ledger cannot witness itself"),
            (f"witness none {k1}\nquorum none\n", 1, "'none' is the quorum's word"),
            (f"witness w1 {k1}\ngroup g any w1 none\nquorum g\n", 2, "not defined on an earlier line"),
            (f"witness w1 {k1}\ngroup g any w1 w1\nquorum g\n", 2, "share witness 'w1'"),
            (f"witness w1 {k1}\nwitness w2 {k2}\ngroup a any w1 w2\ngroup b all a w2\nquorum b\n", 4,
             "share witness 'w2'"),
            (f"witness w1 {k1}\ngroup g 0 w1\nquorum g\n", 2, "threshold '0'"),
            (f"witness w1 {k1}\ngroup g 2 w1\nquorum g\n", 2, "threshold '2'"),
            (f"witness w1 {k1}\ngroup g -1 w1\nquorum g\n", 2, "threshold '-1'"),
            (f"witness w1 {k1}\ngroup g any\nquorum g\n", 2, "group NAME all|any|K MEMBER"),
            (f"witness w1 {k1[:-2]}\nquorum w1\n", 1, "64 hex digits"),
            ("witness w1 " + "zz" * 32 + "\nquorum w1\n", 1, "64 hex digits"),
            (f"witness w1 {k1} url extra\nquorum w1\n", 1, "witness NAME KEY [URL]"),
            ("log\nquorum none\n", 1, "log KEY [URL]"),
            ("quorum\n", 1, "quorum NAME|none"),
            ("cosigner w1\nquorum none\n", 1, "unknown keyword 'cosigner'"),
            ("#\n" * 2000 + "quorum none\n", 2001, "more than 2000 lines"),
        ]
        for text, line, words in cases:
            with self.subTest(text[:60]):
                self.bad(text, line, words)
        with self.assertRaisesRegex(vb.PolicyError, "line 2: not valid UTF-8"):
            vb.parse_policy(b"quorum none\n\xff\n")

    def test_a_bad_policy_is_exit_2_naming_the_line(self):
        policy = self.dir / "policy.txt"
        policy.write_text(f"witness w1 {self.K1}\nwitness w2 {self.K1}\nquorum w1\n")
        out, err = self.assertVerdict(self.good(), 2, "--policy", policy)
        self.assertIn("--policy file", err)
        self.assertIn("line 2:", err)
        code, result = json_result(self.good(), "--policy", policy)
        self.assertEqual((code, result["exit_code"]), (2, 2))
        self.assertIn("line 2:", result["error"])
        self.assertVerdict(self.good(), 2, "--policy", self.dir / "absent.txt")

    def test_a_bundle_without_attestations_and_a_policy(self):
        """Check 17 on a bundle with no attestation: checkpoint.txt carries no cosignature."""
        policy = self.dir / "policy.txt"
        policy.write_text("quorum none\n")
        out, _ = self.assertVerdict(self.good(), 0, "--policy", policy)
        self.assertIn("[ok] witness quorum: checkpoint.txt meets the policy's quorum none", out)
        policy.write_text(f"witness w1 {self.K1}\nquorum w1\n")
        self.assertVerdict(self.good(), 1, "--policy", policy, failing="witness quorum")
        # a log line that does not list the ledger key fails; one that does passes
        policy.write_text(f"log {self.K1}\nquorum none\n")
        out, _ = self.assertVerdict(self.good(), 1, "--policy", policy, failing="witness quorum")
        self.assertIn("not among the policy's log keys", out)
        policy.write_text(f"log {LEDGER_PUB.hex()}\nquorum none\n")
        self.assertVerdict(self.good(), 0, "--policy", policy)


# --- real bundles, made by the custody binary with openssl as the authority ----

CUSTODY_BIN = Path(os.environ.get("CUSTODY_BIN", "/tmp/pyhelper/custody"))

# The steps of /tmp/pyhelper/mk.sh, with what the tests need besides: the witnesses' ports
# (free ones, not a fixed one), an RSA or P-384 authority, an intermediate CA, two witnesses
# and a group policy.  The policy's keys are decoded from the verifier key split at its first
# two '+' only (the key's base64 may itself hold a '+', which mk.sh's split('+')[2] cuts).
MAKE_ATTESTED_BUNDLE = r'''
set -euo pipefail
mkdir -p "$D/tsa"; cd "$D/tsa"
DIGEST=sha256; CERTDIGEST=-sha256
case "$ALG" in
  ec) NEWKEY=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
  p384) NEWKEY=(-newkey ec -pkeyopt ec_paramgen_curve:P-384); DIGEST=sha384; CERTDIGEST=-sha384 ;;
  rsa) NEWKEY=(-newkey rsa:2048); DIGEST=sha512 ;;
esac
cat > tsa.cnf <<CNF
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = ./serial
crypto_device = builtin
signer_digest = $DIGEST
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
[ v3_tsa ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[ v3_inter ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
CNF
echo 01 > serial
openssl req -x509 $CERTDIGEST "${NEWKEY[@]}" -nodes -keyout root.key -out root.crt -subj "/CN=Test Root" -days 3650 \
  -config tsa.cnf -extensions v3_ca 2>/dev/null
ISSUER=root; CHAIN=()
if [ "$INTER" = 1 ]; then
  openssl req "${NEWKEY[@]}" -nodes -keyout inter.key -out inter.csr -subj "/CN=Test Intermediate" 2>/dev/null
  openssl x509 -req $CERTDIGEST -in inter.csr -CA root.crt -CAkey root.key -CAcreateserial -out inter.crt -days 3650 \
    -extfile tsa.cnf -extensions v3_inter 2>/dev/null
  ISSUER=inter; CHAIN=(-chain inter.crt)
fi
openssl req "${NEWKEY[@]}" -nodes -keyout tsa.key -out tsa.csr -subj "/CN=Test TSA" 2>/dev/null
openssl x509 -req $CERTDIGEST -in tsa.csr -CA $ISSUER.crt -CAkey $ISSUER.key -CAcreateserial -out tsa.crt -days 3650 \
  -extfile tsa.cnf -extensions v3_tsa 2>/dev/null
cd "$D"
"$C" key generate ledger --dir keys >/dev/null
"$C" key generate amal --dir keys >/dev/null
"$C" init --ledger L --origin example.org/case-1 --key keys/ledger.key >/dev/null
"$C" key authorize --ledger L --key keys/ledger.key keys/amal.pub --name Amal --role investigator >/dev/null
echo "statement one" > w1.txt
"$C" add testimony --ledger L --key keys/amal.key --subject W-1 --language en --consent court \
  --text-file w1.txt >/dev/null
"$C" checkpoint --ledger L --key keys/ledger.key >/dev/null
stamp() {
  rm -f req.tsq resp.tsr
  "$C" timestamp --ledger L --request-out req.tsq >/dev/null
  (cd tsa && openssl ts -reply -queryfile ../req.tsq -signer tsa.crt -inkey tsa.key "${CHAIN[@]}" -config tsa.cnf \
     -out ../resp.tsr 2>/dev/null)
  "$C" timestamp --ledger L --response-in resp.tsr --tsa-cert tsa/root.crt >/dev/null
}
stamp
echo "media bytes" > clip.mp4
"$C" add media --ledger L --key keys/amal.key --description "clip" clip.mp4 >/dev/null
hexkey() { python3 -c 'import base64, sys; print(base64.b64decode(sys.argv[1].split("+", 2)[2])[1:].hex())' "$1"; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
ARGS=(); POLICY=""; MEMBERS=""
for i in $(seq 1 "$WITNESSES"); do
  if [ "$i" = 1 ]; then PORT=$PORT1; else PORT=$PORT2; fi
  "$C" witness init --dir W$i --name witness.example.org/w$i > wkey$i.txt
  VK=$(grep -o "witness.example.org/w$i+[^ ]*" wkey$i.txt | head -1)
  "$C" witness add-log --dir W$i --origin example.org/case-1 --key keys/ledger.pub >/dev/null
  "$C" witness serve --dir W$i --listen 127.0.0.1:$PORT >/dev/null 2>&1 & PIDS+=($!)
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
  ARGS+=(--witness http://127.0.0.1:$PORT --witness-key "$VK")
  POLICY+="witness w$i $(hexkey "$VK")"$'\n'
  MEMBERS+=" w$i"
done
"$C" checkpoint --ledger L --key keys/ledger.key "${ARGS[@]}" >/dev/null
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
PIDS=()
stamp
if [ "$WITNESSES" = 1 ]; then
  POLICY+="quorum w1"$'\n'
else
  POLICY+="group all-of-them all$MEMBERS"$'\n'"quorum all-of-them"$'\n'
fi
printf '%s' "$POLICY" > policy.txt
"$C" export --ledger L --key keys/ledger.key --out b.zip --media clip.mp4 2 3 >/dev/null
'''


def _no_custody_reason() -> str | None:
    if not (CUSTODY_BIN.is_file() and os.access(CUSTODY_BIN, os.X_OK)):
        return f"the custody binary is not at {CUSTODY_BIN} (set CUSTODY_BIN to one)"
    for tool in ("openssl", "bash"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _free_ports(count: int) -> list[int]:
    import socket
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def make_attested_bundle(directory: Path, alg: str = "ec", intermediate: bool = False, witnesses: int = 1) -> Path:
    """A ledger, a test authority (openssl), witnesses on free loopback ports, two tokens and the
    cosignatures, exported by the custody binary as `directory/b.zip`.  The script runs in its own
    process group, which is ended by its id afterwards (its witnesses are ended by the script itself)."""
    last = ""
    for attempt in range(2):       # a port taken meanwhile by another process: once more on others
        if directory.exists():
            shutil.rmtree(directory)
        port1, port2 = _free_ports(2)
        env = dict(os.environ, C=str(CUSTODY_BIN), D=str(directory), PORT1=str(port1), PORT2=str(port2), ALG=alg,
                   INTER="1" if intermediate else "0", WITNESSES=str(witnesses))
        proc = subprocess.Popen(["bash", "-c", MAKE_ATTESTED_BUNDLE], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        if proc.returncode == 0 and (directory / "b.zip").is_file():
            return directory / "b.zip"
        last = f"exit {proc.returncode}\n{out.decode(errors='replace')}\n{err.decode(errors='replace')}"
    raise AssertionError(f"making a bundle with {CUSTODY_BIN} failed: {last}")


class AttestedBundle:
    """A bundle made by custody, its members and manifest, rebuilt after an edit with the manifest signed
    again by the exporter (the ledger key, keys/ledger.key) and SHA256SUMS and `files` made anew, so that
    only the attestation checks can catch the edit."""

    def __init__(self, directory: Path):
        self.dir = directory
        with zipfile.ZipFile(directory / "b.zip") as zf:
            self.members = {name: zf.read(name) for name in zf.namelist()}
        self.manifest = json.loads(self.members["manifest.json"])
        self.key = serialization.load_pem_private_key((directory / "keys" / "ledger.key").read_bytes(), None)
        assert self.manifest["exporter"]["public_key"] == b64(raw_public(self.key))

    def rebuild(self, path: Path, members: dict | None = None, manifest: dict | None = None) -> Path:
        members = dict(self.members if members is None else members)
        manifest = json.loads(json.dumps(self.manifest if manifest is None else manifest))
        for name in ("manifest.json", "manifest.sig", "SHA256SUMS"):
            members.pop(name, None)
        manifest["files"] = {n: sha256(d).hex() for n, d in sorted(members.items())}
        data = json.dumps(manifest, indent=2).encode()
        members["manifest.json"] = data
        members["manifest.sig"] = self.key.sign(data)
        members["SHA256SUMS"] = "".join(f"{sha256(d).hex()}  {n}\n" for n, d in
                                        sorted(members.items(), key=lambda kv: kv[0].encode())).encode()
        return write_zip(path, list(members.items()))

    def without_report(self) -> dict:
        """The members without report.html and VERIFY.txt (optional, 11.2): custody renders them from the
        manifest and the checks (check 14), so that an edit changing what they show would fail there too."""
        return {n: d for n, d in self.members.items() if n not in ("report.html", "VERIFY.txt")}

    def witness_key(self, n: int = 1):
        return serialization.load_pem_private_key((self.dir / f"W{n}" / "witness.key").read_bytes(), None)

    def latest_recorded_ms(self, size: int) -> int:
        return max(e["recorded_at_ms"] for e in self.manifest["exhibits"] + self.manifest["supporting"]
                   if e["seq"] < size)

    def with_cosignature(self, path: Path, key, name: str, timestamp: int, replace: bool = False) -> Path:
        """The bundle's own checkpoint (4 records) with one more cosignature line by `key` under `name` at
        `timestamp` (or, with `replace`, that line in place of the existing ones), its manifest entry
        written, the report left out."""
        members, manifest = self.without_report(), json.loads(json.dumps(self.manifest))
        entry = next(a for a in manifest["attestations"] if a["checkpoint_size"] == 4)
        line = cosignature_line(key, name, timestamp, members["checkpoint.txt"])
        cosign = {"witness": name, "key": verifier_key(name, raw_public(key)), "time_ms": timestamp * 1000,
                  "time": rfc3339(timestamp * 1000)}
        if replace:
            members["attest/4/cosigned.txt"] = members["checkpoint.txt"] + line.encode()
            entry["cosignatures"] = [cosign]
        else:
            members["attest/4/cosigned.txt"] += line.encode()
            entry["cosignatures"].append(cosign)
        return self.rebuild(path, members, manifest)

    def edited(self, path: Path, **changes: bytes) -> Path:
        """The bundle with members replaced (name=bytes; '__' for '/', '_dot_' for '.')."""
        members = dict(self.members)
        for key, value in changes.items():
            members[key.replace("__", "/").replace("_dot_", ".")] = value
        return self.rebuild(path, members)


@unittest.skipIf(_no_custody_reason(), _no_custody_reason() or "")
class AttestedBundleTests(BundleTestCase):
    """11.3 checks 4, 15, 16 and 17 on bundles custody made: a P-256 authority (openssl), one witness, a
    token on the checkpoint of 3 records and on the bundle's own of 4, which one witness cosigned."""

    ALG, INTERMEDIATE, WITNESSES = "ec", False, 1

    @classmethod
    def setUpClass(cls):
        cls.fixture_tmp = tempfile.TemporaryDirectory()
        cls.fixture = Path(cls.fixture_tmp.name) / "run"
        make_attested_bundle(cls.fixture, cls.ALG, cls.INTERMEDIATE, cls.WITNESSES)
        cls.bundle = AttestedBundle(cls.fixture)

    @classmethod
    def tearDownClass(cls):
        cls.fixture_tmp.cleanup()

    def pinned(self) -> list:
        return ["--trust", self.fixture / "keys" / "ledger.pub", "--tsa-cert", self.fixture / "tsa" / "root.crt",
                "--policy", self.fixture / "policy.txt"]

    def trust(self) -> list:
        return ["--trust", self.fixture / "keys" / "ledger.pub"]

    def attest(self, size: int) -> dict:
        return next(a for a in self.bundle.manifest["attestations"] if a["checkpoint_size"] == size)

    def other_root(self) -> Path:
        key = ec.generate_private_key(ec.SECP256R1())
        path = self.dir / "other-root.pem"
        path.write_bytes(vb.canonical_certificate_pem(make_certificate("Test Root", key, ca=True)))
        return path

    def failing(self, out: str) -> list[str]:
        return [line for line in out.splitlines() if line.startswith("[FAILED] ")]

    # -- the bundle as custody made it ----------------------------------------------

    def test_custody_bundle_passes_with_trust_tsa_cert_and_policy(self):
        out, _ = self.assertVerdict(self.fixture / "b.zip", 0, *self.pinned())
        for name in ("attestation 3: checkpoint", "attestation 3: timestamp attest/3/02.tsr",
                     "attestation 4: checkpoint", "attestation 4: cosignatures",
                     "attestation 4: timestamp attest/4/03.tsr", "pinned authority: attest/3/02.tsr",
                     "pinned authority: attest/4/03.tsr", "witness quorum", "member names", "manifest"):
            self.assertIn(f"[ok] {name}: ", out)
        self.assertIn("consistent with the bundle's checkpoint of 4 records", out)
        self.assertIn("cosigned by witness.example.org/w1", out)
        self.assertNotIn("NOT pinned", out)
        self.assertIn("time-stamping authorities pinned (--tsa-cert); witness quorum met (--policy)", out)
        code, result = json_result(self.fixture / "b.zip", *self.pinned())
        self.assertEqual(code, 0)
        self.assertEqual((result["timestamp_tokens"], result["authorities_pinned"], result["witness_policy_checked"]),
                         (2, True, True))
        self.assertEqual(self.bundle.manifest["attestations"][0]["checkpoint_file"], "attest/3/checkpoint.txt")

    def test_rebuilt_without_change_still_passes(self):
        """The control for every edit below: rebuilding (re-signing) alone changes no verdict."""
        self.assertVerdict(self.bundle.rebuild(self.dir / "same.zip"), 0, *self.pinned())

    def test_without_tsa_cert_the_authorities_are_not_pinned(self):
        path = self.fixture / "b.zip"
        out, _ = self.assertVerdict(path, 0, *self.trust())
        self.assertIn("NOTE: time-stamping authorities NOT pinned (no --tsa-cert): the bundle's 2 time-stamp "
                      "token(s) were checked only against the certificates the bundle itself lists", out)
        self.assertIn("time-stamping authorities NOT pinned (no --tsa-cert)", out.splitlines()[-1])
        self.assertNotIn("pinned authority", out)
        code, result = json_result(path, *self.trust())
        self.assertEqual((code, result["authorities_pinned"], result["timestamp_tokens"]), (0, False, 2))
        out, _ = self.assertVerdict(path, 0)   # --no-trust: its line stays the last one
        self.assertTrue(out.splitlines()[-1].startswith("NOTE: keys NOT pinned (--no-trust)"))
        self.assertIn("NOTE: time-stamping authorities NOT pinned", out)

    def witness_lines(self) -> str:
        """The `witness` lines of the fixture's policy: every witness that cosigned the bundle."""
        return "".join(line + "\n" for line in (self.fixture / "policy.txt").read_text().splitlines()
                       if line.startswith("witness "))

    def test_policies(self):
        policy = self.dir / "policy.txt"
        other = Ed25519PrivateKey.generate()
        policy.write_text(f"witness someone {raw_public(other).hex()}\nquorum someone\n")
        out, _ = self.assertVerdict(self.fixture / "b.zip", 1, *self.trust(), "--policy", policy,
                                    failing="witness quorum")
        self.assertIn("the witnesses that acted are none", out)
        # the bundle's witnesses are not the policy's: pinned witnesses fails too (11.3 check 17), nothing else
        self.assertEqual([line.split(":")[0] for line in self.failing(out)],
                         ["[FAILED] witness quorum", "[FAILED] pinned witnesses"])
        w1 = (self.fixture / "policy.txt").read_text().split()[2]
        witnesses = self.witness_lines()
        for text, code in ((f"{witnesses}witness other {raw_public(other).hex()}\ngroup g all w1 other\n"
                            "quorum g\n", 1),
                           (f"{witnesses}witness other {raw_public(other).hex()}\ngroup g any w1 other\n"
                            "quorum g\n", 0),
                           (f"{witnesses}quorum none\n", 0),
                           (f"log {raw_public(other).hex()}\n{witnesses}quorum w1\n", 1),
                           (f"log {raw_public(self.bundle.key).hex()}\n{witnesses}quorum w1\n", 0),
                           # the quorum met, but a cosignature of the bundle by a witness the policy does not name
                           ("quorum none\n", 1),
                           (f"witness w1 {w1}\nquorum w1\n", 0 if self.WITNESSES == 1 else 1)):
            with self.subTest(text):
                policy.write_text(text)
                self.assertVerdict(self.fixture / "b.zip", code, *self.trust(), "--policy", policy)
        # the ledger's own key never counts as a witness
        policy.write_text(f"witness me {raw_public(self.bundle.key).hex()}\nquorum me\n")
        self.assertVerdict(self.fixture / "b.zip", 1, *self.trust(), "--policy", policy, failing="witness quorum")

    def test_wrong_tsa_cert(self):
        out, _ = self.assertVerdict(self.fixture / "b.zip", 1, *self.trust(), "--tsa-cert", self.other_root())
        self.assertEqual([line.split(":")[0] for line in self.failing(out)],
                         ["[FAILED] pinned authority", "[FAILED] pinned authority"])
        self.assertIn("[ok] attestation 3: timestamp attest/3/02.tsr", out)
        # the right one among several (a file may hold several certificates; the option repeats)
        both = self.dir / "both.pem"
        both.write_bytes(self.other_root().read_bytes() + (self.fixture / "tsa" / "root.crt").read_bytes())
        self.assertVerdict(self.fixture / "b.zip", 0, *self.trust(), "--tsa-cert", both)
        self.assertVerdict(self.fixture / "b.zip", 0, *self.trust(), "--tsa-cert", self.other_root(),
                           "--tsa-cert", self.fixture / "tsa" / "root.crt")
        # pinning the authority's own certificate (the one that signs) is pinning too
        self.assertVerdict(self.fixture / "b.zip", 0, *self.trust(), "--tsa-cert", self.fixture / "tsa" / "tsa.crt")
        bad = self.dir / "bad.pem"
        bad.write_text("not a certificate\n")
        _, err = self.assertVerdict(self.fixture / "b.zip", 2, *self.trust(), "--tsa-cert", bad)
        self.assertIn("--tsa-cert file", err)

    # -- each edit, signed again, is caught by the attestation checks -----------------

    def test_tampered_token_byte(self):
        token = bytearray(self.bundle.members["attest/3/02.tsr"])
        token[-1] ^= 0x01
        out, _ = self.assertVerdict(self.bundle.edited(self.dir / "t.zip", attest__3__02_dot_tsr=bytes(token)), 1,
                                    *self.pinned(), failing="attestation 3: timestamp attest/3/02.tsr")
        self.assertIn("[FAILED] pinned authority: attest/3/02.tsr", out)
        self.assertIn("[ok] manifest signature", out)
        self.assertIn("[ok] SHA256SUMS", out)
        self.assertIn("[ok] attestation 4: timestamp attest/4/03.tsr", out)

    def test_not_der_token(self):
        token = self.bundle.members["attest/3/02.tsr"]
        self.assertEqual(token[:2], b"\x30\x82")
        long_form = b"\x30\x83\x00" + token[2:]   # the same value, its length in one byte more
        out, _ = self.assertVerdict(self.bundle.edited(self.dir / "t.zip", attest__3__02_dot_tsr=long_form), 1,
                                    *self.trust(), failing="attestation 3: timestamp attest/3/02.tsr")
        self.assertIn("is not DER", out)

    def test_swapped_token(self):
        path = self.bundle.edited(self.dir / "t.zip", attest__3__02_dot_tsr=self.bundle.members["attest/4/03.tsr"])
        out, _ = self.assertVerdict(path, 1, *self.pinned(), failing="attestation 3: timestamp attest/3/02.tsr")
        self.assertIn("message imprint is not the SHA-256 of the checkpoint file", out)

    def test_cosignature_line_altered(self):
        cosigned = self.bundle.members["attest/4/cosigned.txt"].decode()
        head, last = cosigned[:-1].rsplit("\n", 1)
        sig = base64.b64decode(last.split(" ")[2])
        for what, line in (("signature", last.rsplit(" ", 1)[0] + " " + b64(sig[:-1] + bytes([sig[-1] ^ 1]))),
                           ("time", last.rsplit(" ", 1)[0] + " " + b64(sig[:11] + bytes([sig[11] ^ 1]) + sig[12:])),
                           ("name", "\u2014 witness.example.org/w9 " + last.split(" ")[2])):
            with self.subTest(what):
                path = self.bundle.edited(self.dir / f"{what}.zip",
                                          attest__4__cosigned_dot_txt=(head + "\n" + line + "\n").encode())
                out, _ = self.assertVerdict(path, 1, *self.pinned(), failing="attestation 4: cosignatures")
                if what != "name":
                    self.assertIn("[FAILED] witness quorum", out)
        # a line added or taken away
        for text in (cosigned + last + "\n", head + "\n"):
            path = self.bundle.edited(self.dir / "lines.zip", attest__4__cosigned_dot_txt=text.encode())
            self.assertVerdict(path, 1, *self.trust(), failing="attestation 4: cosignatures")

    def test_consistency_proof_altered(self):
        manifest = json.loads(json.dumps(self.bundle.manifest))
        proof = manifest["attestations"][0]["consistency_proof"]
        proof[0] = b64(sha256(base64.b64decode(proof[0])))
        out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "p.zip", manifest=manifest), 1, *self.pinned(),
                                    failing="attestation 3: checkpoint")
        self.assertIn("consistency proof from size 3 to the bundle's 4 does not verify", out)
        # the checkpoint failed: its token is not checked (11.3 check 15)
        self.assertNotIn("attestation 3: timestamp", out)
        self.assertIn("[ok] attestation 4: timestamp", out)

    def test_attested_checkpoint_altered(self):
        checkpoint = self.bundle.members["attest/3/checkpoint.txt"]
        witness_line = self.bundle.members["attest/4/cosigned.txt"].decode().splitlines()[-1]
        own_line = checkpoint[checkpoint.rindex(b"\n\n") + 2:]
        for what, data in (("a signature byte", checkpoint[:-6] + bytes([checkpoint[-6] ^ 1]) + checkpoint[-5:]),
                           ("another signature line", checkpoint + (witness_line + "\n").encode()),
                           ("the ledger's own line twice", checkpoint + own_line),
                           ("the bundle's checkpoint", self.bundle.members["checkpoint.txt"])):
            with self.subTest(what):
                path = self.bundle.edited(self.dir / "c.zip", attest__3__checkpoint_dot_txt=data)
                self.assertVerdict(path, 1, *self.trust(), failing="attestation 3: checkpoint")

    def test_manifest_times_changed(self):
        def changed(mutate) -> Path:
            manifest = json.loads(json.dumps(self.bundle.manifest))
            mutate(manifest)
            return self.bundle.rebuild(self.dir / "m.zip", manifest=manifest)

        def token_time(m):
            entry = m["attestations"][0]["timestamps"][0]
            entry["time_ms"] += 1000
            entry["time"] = vb.rfc3339_ms(entry["time_ms"])

        def cosignature_time(m):
            entry = m["attestations"][1]["cosignatures"][0]
            entry["time_ms"] -= 1000
            entry["time"] = vb.rfc3339_ms(entry["time_ms"])

        def exported_earlier(m):   # every attestation now dated more than 10 minutes after the export
            m["exported_at_ms"] -= 11 * 60 * 1000 + max(0, m["exported_at_ms"] - max(
                t["time_ms"] for a in m["attestations"] for t in a["timestamps"]))
            m["exported_at"] = vb.rfc3339_ms(m["exported_at_ms"])

        out, _ = self.assertVerdict(changed(token_time), 1, *self.trust(),
                                    failing="attestation 3: timestamp attest/3/02.tsr")
        self.assertIn("not the entry's time_ms", out)
        out, _ = self.assertVerdict(changed(cosignature_time), 1, *self.trust(), failing="attestation 4: cosignatures")
        self.assertIn("is not time_ms", out)
        out, _ = self.assertVerdict(changed(exported_earlier), 1, *self.trust(),
                                    failing="attestation 4: timestamp attest/4/03.tsr")
        self.assertIn("more than 10 minutes after exported_at", out)
        self.assertIn("[FAILED] attestation 4: cosignatures", out)

    def test_manifest_serial_and_signer_changed(self):
        manifest = json.loads(json.dumps(self.bundle.manifest))
        manifest["attestations"][1]["timestamps"][0]["signer_certificate"] = "00" * 32
        out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "s.zip", manifest=manifest), 1, *self.trust(),
                                    failing="attestation 4: timestamp attest/4/03.tsr")
        self.assertIn("not the entry's signer_certificate", out)
        manifest = json.loads(json.dumps(self.bundle.manifest))
        entry = manifest["attestations"][1]["timestamps"][0]
        entry["serial"], entry["file"] = "04", "attest/4/04.tsr"
        members = dict(self.bundle.members)
        members["attest/4/04.tsr"] = members.pop("attest/4/03.tsr")
        out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "s.zip", members, manifest), 1, *self.trust(),
                                    failing="attestation 4: timestamp attest/4/04.tsr")
        self.assertIn("the token's serial is 03, not the entry's 04", out)

    def test_certificate_file_replaced(self):
        name = self.attest(3)["timestamps"][0]["certificates"][0]
        other_der = make_certificate("Test Root", ec.generate_private_key(ec.SECP256R1()), ca=True)
        other_pem = vb.canonical_certificate_pem(other_der)
        # under the same name: not the certificate its name gives
        members = dict(self.bundle.members)
        members[name] = other_pem
        out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "c1.zip", members), 1, *self.trust(),
                                    failing="attestation 3: timestamp")
        self.assertIn("not the one its name gives", out)
        # under its own name, listed by the manifest: the tokens do not chain to it
        members = dict(self.bundle.members)
        del members[name]
        other_name = f"tsa/{hashlib.sha256(other_der).hexdigest()}.pem"
        members[other_name] = other_pem
        manifest = json.loads(json.dumps(self.bundle.manifest))
        for a in manifest["attestations"]:
            for t in a["timestamps"]:
                t["certificates"] = [other_name]
        out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "c2.zip", members, manifest), 1, *self.trust(),
                                    failing="attestation 3: timestamp")
        self.assertIn("does not chain to a trusted certificate", out)
        # the same certificate, its PEM written otherwise (CRLF, one long line)
        pem = self.bundle.members[name]
        for variant in (pem.replace(b"\n", b"\r\n"), pem.replace(b"\n", b"").replace(b"-----BEGIN CERTIFICATE-----",
                                                                                    b"-----BEGIN CERTIFICATE-----\n")
                        + b"\n"):
            members = dict(self.bundle.members)
            members[name] = variant
            out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "c3.zip", members), 1, *self.trust(),
                                        failing="attestation 3: timestamp")

    def test_unknown_and_missing_members_in_attestations(self):
        def changed(mutate) -> Path:
            manifest = json.loads(json.dumps(self.bundle.manifest))
            mutate(manifest)
            return self.bundle.rebuild(self.dir / "u.zip", manifest=manifest)

        for where, mutate, words in (
                ("attestation", lambda m: m["attestations"][0].update(note="x"), "attestations[0]: unexpected note"),
                ("cosignature", lambda m: m["attestations"][1]["cosignatures"][0].update(note="x"),
                 "attestations[1].cosignatures[0]: unexpected note"),
                ("timestamp", lambda m: m["attestations"][1]["timestamps"][0].update(note="x"),
                 "attestations[1].timestamps[0]: unexpected note"),
                ("missing", lambda m: m["attestations"][0].pop("cosigned_file"),
                 "attestations[0]: missing cosigned_file"),
                ("missing in a timestamp", lambda m: m["attestations"][0]["timestamps"][0].pop("signer_certificate"),
                 "missing signer_certificate"),
                ("top", lambda m: m.pop("attestations"), "manifest: missing attestations")):
            with self.subTest(where):
                out, _ = self.assertVerdict(changed(mutate), 1, *self.trust(), failing="manifest")
                self.assertIn(words, out)

    def test_attestation_structure(self):
        def changed(mutate) -> Path:
            manifest = json.loads(json.dumps(self.bundle.manifest))
            mutate(manifest)
            return self.bundle.rebuild(self.dir / "s.zip", manifest=manifest)

        def first(m):
            return m["attestations"][0]

        def last(m):
            return m["attestations"][1]

        cases = [
            ("order", lambda m: m["attestations"].reverse(), "strictly increasing checkpoint_size"),
            ("size 0", lambda m: first(m).update(checkpoint_size=0), "not between 1 and"),
            ("size above", lambda m: last(m).update(checkpoint_size=5), "not between 1 and"),
            ("file", lambda m: first(m).update(checkpoint_file="attest/3/cp.txt"), "checkpoint_file"),
            ("own size file", lambda m: last(m).update(checkpoint_file="attest/4/checkpoint.txt"), "checkpoint_file"),
            ("proof for own size", lambda m: last(m).update(consistency_proof=first(m)["consistency_proof"][:1]),
             "empty exactly when"),
            ("no proof below", lambda m: first(m).update(consistency_proof=[]), "empty exactly when"),
            ("cosigned_file without cosignatures", lambda m: first(m).update(cosigned_file="attest/3/cosigned.txt"),
             "cosigned_file"),
            ("cosignatures without cosigned_file", lambda m: last(m).update(cosigned_file=None), "cosigned_file"),
            ("time string", lambda m: last(m)["cosignatures"][0].update(time="2026-01-01T00:00:00.000Z"), ".time"),
            ("cosignature time not whole seconds", lambda m: last(m)["cosignatures"][0].update(
                time_ms=last(m)["cosignatures"][0]["time_ms"] + 1,
                time=vb.rfc3339_ms(last(m)["cosignatures"][0]["time_ms"] + 1)), "multiple of 1000"),
            ("serial upper case", lambda m: first(m)["timestamps"][0].update(serial="0A", file="attest/3/0A.tsr"),
             "lowercase hex"),
            ("serial odd", lambda m: first(m)["timestamps"][0].update(serial="2", file="attest/3/2.tsr"),
             "lowercase hex"),
            ("file and serial", lambda m: first(m)["timestamps"][0].update(file="attest/3/03.tsr"), ".file"),
            ("no certificates", lambda m: first(m)["timestamps"][0].update(certificates=[]), "certificates"),
            ("certificate twice", lambda m: first(m)["timestamps"][0].update(
                certificates=first(m)["timestamps"][0]["certificates"] * 2), "strictly increasing"),
            ("signer not hex", lambda m: first(m)["timestamps"][0].update(signer_certificate="AB" * 32),
             "signer_certificate"),
            ("nothing attests", lambda m: first(m).update(timestamps=[]), "neither a cosignature nor a token"),
            ("time after 9999", lambda m: first(m)["timestamps"][0].update(time_ms=253402300800000,
                                                                           time="10000-01-01T00:00:00.000Z"),
             "253402300799999"),
        ]
        for what, mutate, words in cases:
            with self.subTest(what):
                out, _ = self.assertVerdict(changed(mutate), 1, *self.trust(), failing="manifest")
                self.assertIn(words, out)

    def test_added_and_missing_attestation_members(self):
        members = dict(self.bundle.members)
        members["attest/9/checkpoint.txt"] = self.bundle.members["attest/3/checkpoint.txt"]
        out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "a.zip", members), 1, *self.trust(),
                                    failing="member names")
        self.assertIn("added member 'attest/9/checkpoint.txt' (not referred to by the manifest)", out)
        members = dict(self.bundle.members)
        members["attest/3/x.tsr"] = b"x"
        out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "a.zip", members), 1, *self.trust(),
                                    failing="member names")
        self.assertIn("(unknown name)", out)
        members = dict(self.bundle.members)
        del members["attest/4/cosigned.txt"]
        out, _ = self.assertVerdict(self.bundle.rebuild(self.dir / "a.zip", members), 1, *self.trust(),
                                    failing="attestation 4: cosignatures")
        self.assertIn("missing member 'attest/4/cosigned.txt'", out)

    def test_forged_tokens_with_the_authority_key(self):
        """Tokens made here with the test authority's own key: the one that follows every rule passes
        (control), the one with fractional seconds in genTime (a valid signature) is refused."""
        tsa_key = serialization.load_pem_private_key((self.fixture / "tsa" / "tsa.key").read_bytes(), None)
        tsa_der = cx509.load_pem_x509_certificate((self.fixture / "tsa" / "tsa.crt").read_bytes()).public_bytes(
            serialization.Encoding.DER)
        entry = self.attest(3)["timestamps"][0]
        when = datetime.datetime.fromtimestamp(entry["time_ms"] // 1000, datetime.timezone.utc)
        data = self.bundle.members["attest/3/checkpoint.txt"]
        chain = []
        if (self.fixture / "tsa" / "inter.crt").exists():
            chain = [cx509.load_pem_x509_certificate((self.fixture / "tsa" / "inter.crt").read_bytes()).public_bytes(
                serialization.Encoding.DER)]
        digest = {"ec": "sha256", "rsa": "sha512", "p384": "sha384"}[self.ALG]
        for raw, code in ((None, 0), (when.strftime("%Y%m%d%H%M%S").encode() + b".5Z", 1)):
            token = make_token(tsa_key, tsa_der, data, serial=2, when=when, gen_time_raw=raw, chain=chain,
                               digest=digest)
            out, _ = self.assertVerdict(self.bundle.edited(self.dir / "f.zip", attest__3__02_dot_tsr=token), code,
                                        *self.pinned())
            if code:
                self.assertIn("fractional seconds are refused", out)

    def test_damaged_tokens_never_crash_the_verifier(self):
        import random
        rng = random.Random(7391)
        token = self.bundle.members["attest/4/03.tsr"]
        for n in range(12):
            data = bytearray(token)
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            path = self.bundle.edited(self.dir / f"d{n}.zip", attest__4__03_dot_tsr=bytes(data))
            code, result = json_result(path, *self.trust(), "--tsa-cert", self.fixture / "tsa" / "root.crt")
            self.assertIn(code, (0, 1))
            self.assertNotIn("error", result)
            if code:
                failed = [c["name"] for c in result["checks"] if not c["passed"]]
                self.assertEqual(failed, ["attestation 4: timestamp attest/4/03.tsr",
                                          "pinned authority: attest/4/03.tsr"])
                self.assertTrue(all("timestamp" in c["codes"] for c in result["checks"] if not c["passed"]))


    # -- the SPEC revision "attestations, adversarial follow-up" on custody's bundles ---------------

    def test_one_witness_key_under_two_names(self):
        entry = self.attest(4)["cosignatures"][0]
        timestamp = entry["time_ms"] // 1000
        path = self.bundle.with_cosignature(self.dir / "alias.zip", self.bundle.witness_key(),
                                            "witness.example.org/alias", timestamp)
        out, _ = self.assertAgree(path, 1, *self.trust(), failing="attestation 4: cosignatures")
        self.assertIn("the same public key as an earlier entry", out)
        # the control: the same edit by another witness key passes (custody agrees)
        path = self.bundle.with_cosignature(self.dir / "other.zip", make_key("another witness"),
                                            "witness.example.org/alias", timestamp)
        self.assertAgree(path, 0, *self.trust())

    def test_the_ledger_and_its_signers_are_no_witnesses(self):
        timestamp = self.attest(4)["cosignatures"][0]["time_ms"] // 1000
        amal = serialization.load_pem_private_key((self.fixture / "keys" / "amal.key").read_bytes(), None)
        for who, key in (("ledger.public_key", self.bundle.key), ("the signer of record 2", amal)):
            with self.subTest(who):
                path = self.bundle.with_cosignature(self.dir / "own.zip", key, "witness.example.org/own", timestamp)
                out, _ = self.assertAgree(path, 1, *self.trust(), failing="attestation 4: cosignatures")
                self.assertIn(f"the witness key is {who}, one of the bundle's own keys", out)

    def test_cosignature_times(self):
        """A cosignature more than 10 minutes before the last record its checkpoint covers is refused, one within
        passes; one more than 10 minutes after the export likewise (each signed with the witness's own key)."""
        floor = self.bundle.latest_recorded_ms(4) - 600_000
        late = self.bundle.manifest["exported_at_ms"] + 600_000
        for what, timestamp, code in (("back-dated", floor // 1000 - 1, 1), ("at the floor", -(-floor // 1000), 0),
                                      ("at the latest", late // 1000, 0), ("too late", late // 1000 + 1, 1)):
            with self.subTest(what):
                path = self.bundle.with_cosignature(self.dir / "t.zip", self.bundle.witness_key(),
                                                    "witness.example.org/w1", timestamp, replace=True)
                out, _ = self.assertAgree(path, code, *self.trust(), "--tsa-cert", self.fixture / "tsa" / "root.crt",
                                          failing="attestation 4: cosignatures" if code else None)
                if code and what == "back-dated":
                    self.assertIn("more than 10 minutes before record 3, which the checkpoint of 4 records covers",
                                  out)

    def test_pinned_witnesses_and_the_notes(self):
        path = self.fixture / "b.zip"
        cosignatures = len(self.attest(4)["cosignatures"])
        out, _ = self.assertAgree(path, 0, *self.trust())
        lines = out.splitlines()
        note = next(n for n, line in enumerate(lines) if line.startswith("NOTE: witnesses NOT pinned (no --policy)"))
        self.assertLess(note, next(n for n, line in enumerate(lines) if line.startswith("OK: ")))
        self.assertIn(f"the bundle's {cosignatures} cosignature(s)", lines[note])
        for args, pinned in ((self.trust(), (False, False)), (self.pinned(), (True, True)),
                             (self.trust() + ["--policy", self.fixture / "policy.txt"], (False, True)),
                             (self.trust() + ["--tsa-cert", self.fixture / "tsa" / "root.crt"], (True, False))):
            with self.subTest(args):
                code, result = json_result(path, *args)
                self.assertEqual((code, result["tsa_pinned"], result["witnesses_pinned"]), (0, *pinned))
        out, _ = self.assertAgree(path, 0, *self.pinned())
        self.assertIn("[ok] pinned witnesses: every cosignature the bundle carries", out)
        self.assertNotIn("NOT pinned", out)
        # a witness the policy does not name, on the bundle's checkpoint, besides those it does
        timestamp = self.attest(4)["cosignatures"][0]["time_ms"] // 1000
        path = self.bundle.with_cosignature(self.dir / "extra.zip", make_key("unpinned witness"),
                                            "witness.example.org/x", timestamp)
        out, _ = self.assertAgree(path, 1, *self.pinned(), failing="pinned witnesses")
        self.assertIn("[ok] witness quorum", out)
        self.assertIn("'witness.example.org/x'", out)


@unittest.skipIf(_no_custody_reason(), _no_custody_reason() or "")
class AttestedRsaBundleTests(AttestedBundleTests):
    """The same on a bundle whose authority is RSA (PKCS#1 v1.5, SHA-512) under an intermediate CA that
    openssl puts into each token, cosigned by two witnesses and judged by a group policy."""

    ALG, INTERMEDIATE, WITNESSES = "rsa", True, 2

    def test_custody_bundle_passes_with_trust_tsa_cert_and_policy(self):
        super().test_custody_bundle_passes_with_trust_tsa_cert_and_policy()
        out, _ = self.assertVerdict(self.fixture / "b.zip", 0, *self.pinned())
        self.assertIn("cosigned by witness.example.org/w1 at", out)
        self.assertIn(", witness.example.org/w2 at", out)
        self.assertIn("'Common Name: Test Intermediate'", out)
        self.assertIn("meets the policy's quorum 'all-of-them'", out)
        # the intermediate pinned is enough; pinning what it did not issue is not
        self.assertVerdict(self.fixture / "b.zip", 0, *self.trust(), "--tsa-cert", self.fixture / "tsa" / "inter.crt")



@unittest.skipIf(_no_custody_reason(), _no_custody_reason() or "")
class AttestedP384BundleTests(BundleTestCase):
    """An ECDSA P-384 authority signing with SHA-384, under an intermediate CA."""

    def test_p384_authority(self):
        with tempfile.TemporaryDirectory() as tmp:
            fixture = Path(tmp) / "run"
            make_attested_bundle(fixture, "p384", intermediate=True)
            out, _ = self.assertVerdict(fixture / "b.zip", 0, "--trust", fixture / "keys" / "ledger.pub",
                                        "--tsa-cert", fixture / "tsa" / "root.crt", "--policy", fixture / "policy.txt")
            self.assertIn("[ok] pinned authority: attest/4/03.tsr", out)



# --- the SPEC revision "attestations, adversarial follow-up": bundles attested here -----------

WITNESS_A, WITNESS_B = make_key("witness A"), make_key("witness B")
WITNESS_NAME = "witness.example.org/a"
ATTEST_MS = T0 + 60_000          # a minute after the standard ledger's first record: within every bound


def verifier_key(name: str, pub: bytes) -> str:
    """Section 13: NAME+KEYID+base64(0x04 || public key)."""
    kid4 = sha256(name.encode() + b"\n\x04" + pub)[:4].hex()
    return f"{name}+{kid4}+" + b64(b"\x04" + pub)


def cosignature_line(key, name: str, timestamp: int, checkpoint: bytes) -> str:
    """A cosignature/v1 line (section 13) by `key` under `name` at `timestamp` seconds over a checkpoint note."""
    text = checkpoint[:checkpoint.rindex(b"\n\n") + 1]
    pub = raw_public(key)
    signature = key.sign(b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text)
    blob = sha256(name.encode() + b"\n\x04" + pub)[:4] + timestamp.to_bytes(8, "big") + signature
    return f"\u2014 {name} {b64(blob)}\n"


class TestAuthority:
    """An RFC 3161 authority made here: a P-256 root and a time-stamping certificate it issued."""

    def __init__(self):
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.root = make_certificate("Attest Root", self.root_key, ca=True)
        self.cert = make_certificate("Attest TSA", self.key, "Attest Root", self.root_key)
        self.root_member = f"tsa/{hashlib.sha256(self.root).hexdigest()}.pem"

    def pem_file(self, directory: Path) -> Path:
        path = directory / "attest-root.pem"
        path.write_bytes(vb.canonical_certificate_pem(self.root))
        return path


class Attester:
    """Adds `attestations` (11.2) to a BundleBuilder: the attested checkpoints (the ledger's own signature
    only), the RFC 9162 consistency proofs, witness cosignatures and time-stamp tokens by a TestAuthority,
    with the `tsa/` members.  It leaves report.html and VERIFY.txt out (they are optional, 11.2), so that
    the custody binary, which renders them (check 14), judges these bundles by the same facts."""

    def __init__(self, builder: BundleBuilder | None = None, authority: TestAuthority | None = None):
        self.builder = builder or BundleBuilder()
        self.authority = authority
        for name in ("report.html", "VERIFY.txt"):
            self.builder.files.pop(name, None)
        self.size = self.builder.manifest["ledger"]["checkpoint_size"]

    @property
    def manifest(self) -> dict:
        return self.builder.manifest

    def checkpoint(self, size: int) -> bytes:
        return self.builder.files["checkpoint.txt"] if size == self.size else self.builder.ledger.checkpoint(size)

    def add(self, size: int, cosigners=(), tokens=(), checkpoint: bytes | None = None) -> dict:
        """cosigners: (key, name, T seconds) each; tokens: (serial, time_ms, make_token keyword arguments)
        each.  Returns the attestation, appended in order of size."""
        ledger = self.builder.ledger
        own = size == self.size
        checkpoint_file = "checkpoint.txt" if own else f"attest/{size}/checkpoint.txt"
        data = checkpoint if checkpoint is not None else self.checkpoint(size)
        if not own:
            self.builder.files[checkpoint_file] = data
        entry = {"checkpoint_size": size, "checkpoint_file": checkpoint_file,
                 "consistency_proof": [] if own else [b64(h) for h in
                                                      consistency_proof(size, ledger.leaves(self.size))],
                 "cosigned_file": None, "cosignatures": [], "timestamps": []}
        if cosigners:
            entry["cosigned_file"] = f"attest/{size}/cosigned.txt"
            lines = ""
            for key, name, timestamp in cosigners:
                lines += cosignature_line(key, name, timestamp, data)
                entry["cosignatures"].append({"witness": name, "key": verifier_key(name, raw_public(key)),
                                              "time_ms": timestamp * 1000, "time": rfc3339(timestamp * 1000)})
            self.builder.files[entry["cosigned_file"]] = data + lines.encode()
        for serial, time_ms, kw in sorted(tokens, key=lambda t: f"{t[0]:02x}" if t[0] < 128 else ""):
            when = datetime.datetime.fromtimestamp(time_ms // 1000, datetime.timezone.utc)
            token = make_token(self.authority.key, self.authority.cert, data, serial=serial, when=when, **kw)
            hexserial = atsp.TSTInfo.load(atsp.TimeStampResp.load(token)["time_stamp_token"]["content"][
                "encap_content_info"]["content"].contents)["serial_number"].contents.hex()
            self.builder.files[f"attest/{size}/{hexserial}.tsr"] = token
            self.builder.files[self.authority.root_member] = vb.canonical_certificate_pem(self.authority.root)
            entry["timestamps"].append({"file": f"attest/{size}/{hexserial}.tsr", "serial": hexserial,
                                        "time_ms": time_ms // 1000 * 1000, "time": rfc3339(time_ms // 1000 * 1000),
                                        "signer_certificate": hashlib.sha256(self.authority.cert).hexdigest(),
                                        "certificates": [self.authority.root_member]})
        entry["timestamps"].sort(key=lambda t: t["file"])
        self.manifest["attestations"].append(entry)
        self.manifest["attestations"].sort(key=lambda a: a["checkpoint_size"])
        return entry

    def finish(self) -> dict[str, bytes]:
        return self.builder.finish()


def custody_verdict(path, *args) -> tuple[int, str]:
    """The custody binary's `verify-bundle` exit code and output on the same bundle (--no-trust added as
    run_verifier adds it)."""
    argv = [str(a) for a in args]
    if "--trust" not in argv and "--no-trust" not in argv:
        argv.append("--no-trust")
    proc = subprocess.run([str(CUSTODY_BIN), "verify-bundle", *argv, str(path)], capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT)
    return proc.returncode, proc.stdout + proc.stderr



def witnessed_ledger() -> TestLedger:
    """A ledger whose records show every kind of key 11.3 check 15 keeps from witnessing: 0 genesis (the first
    ledger key), 1 authorise the investigator, 2 custodian A, 3 an auditor (a key only named), 4 a testimony,
    5 its hand-over to custodian A (pending), 6 authorise custodian B, 7 retire it, 8 a new ledger key
    (LEDGER_2, which signs the bundle's checkpoint), 9 a second testimony."""
    ledger = TestLedger()
    ledger.genesis()
    ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")
    ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")
    ledger.authorize(AUDITOR_PUB, "Auditor", "auditor")
    ledger.testimony(INVESTIGATOR_KEY)
    ledger.transfer(INVESTIGATOR_KEY, 4, CUSTODIAN_A_PUB)
    ledger.authorize(CUSTODIAN_B_PUB, "Custodian B", "custodian")
    ledger.revoke(CUSTODIAN_B_PUB, "retired")
    ledger.ledger_key_record(LEDGER_2)
    ledger.testimony(INVESTIGATOR_KEY, subject="W-2")
    return ledger


def padded_certificate(pem_size: int) -> bytes:
    """A self-issued CA certificate (Ed25519, deterministic) padded by a non-critical extension so that its
    `tsa/` member (the canonical PEM of 11.1) is exactly `pem_size` bytes."""
    key = make_key("padded certificate")
    name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "Padded")])

    def make(pad: int) -> bytes:
        value = b"\x04\x82" + pad.to_bytes(2, "big") + bytes(pad)
        return (cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(4242).not_valid_before(STAMP_TIME - datetime.timedelta(days=30))
                .not_valid_after(STAMP_TIME + datetime.timedelta(days=30))
                .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(cx509.UnrecognizedExtension(cx509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), value),
                               critical=False)
                .sign(key, None).public_bytes(serialization.Encoding.DER))

    base = make(40000)
    for der_size in range(len(base), len(base) + 20000):
        der = make(40000 + der_size - len(base))
        if len(vb.canonical_certificate_pem(der)) == pem_size:
            return der
    raise AssertionError(f"no certificate whose PEM is {pem_size} bytes")


class AttesterTestCase(BundleTestCase):
    """Helpers for bundles attested here (Attester); no test of its own."""

    @classmethod
    def setUpClass(cls):
        cls.authority = TestAuthority()

    def attester(self, builder: BundleBuilder | None = None) -> Attester:
        return Attester(builder, self.authority)

    def bundle(self, attester: Attester, name="a.zip") -> Path:
        return self.zip_of(attester.finish(), name)

    def standard(self, cosigners=None, token_ms=ATTEST_MS) -> Attester:
        a = self.attester()
        a.add(3, tokens=[(2, token_ms, {})])
        a.add(5, cosigners=cosigners or [(WITNESS_A, WITNESS_NAME, ATTEST_MS // 1000)], tokens=[(3, token_ms, {})])
        return a

    def policy(self, text: str) -> Path:
        path = self.dir / "policy.txt"
        path.write_text(text)
        return path

    def failed(self, out: str) -> list[str]:
        return [line for line in out.splitlines() if line.startswith("[FAILED] ")]


class AttestationFollowUpTests(AttesterTestCase):
    """The SPEC revision "attestations, adversarial follow-up" (11.2 bounds, 11.3 checks 4, 15 and 17, the
    pinning notes, section 14 rule 2), on bundles attested here (Attester): a token on the checkpoint of 3
    records and, on the bundle's own of 5, a witness's cosignature and a token.  Each verdict is also asked
    of the custody binary when there is one, which must give the same exit code."""

    def test_control(self):
        path = self.bundle(self.standard())
        out, _ = self.assertAgree(path, 0)
        for name in ("attestation 3: checkpoint", "attestation 3: timestamp attest/3/02.tsr",
                     "attestation 5: checkpoint", "attestation 5: cosignatures",
                     "attestation 5: timestamp attest/5/03.tsr"):
            self.assertIn(f"[ok] {name}: ", out)
        policy = self.policy(f"witness a {raw_public(WITNESS_A).hex()}\nquorum a\n")
        out, _ = self.assertAgree(path, 0, "--tsa-cert", self.authority.pem_file(self.dir), "--policy", policy)
        self.assertIn("[ok] pinned witnesses: every cosignature the bundle carries (1) is by a witness the policy "
                      "names: 'a'", out)

    # -- 11.2 bounds, 11.3 check 4 ------------------------------------------------------------------

    def test_at_most_99_cosignatures(self):
        witnesses = [(make_key(f"witness {n}"), f"w{n}", ATTEST_MS // 1000) for n in range(100)]
        for count, code in ((99, 0), (100, 1)):
            with self.subTest(count):
                a = self.attester()
                a.add(5, cosigners=witnesses[:count])
                out, _ = self.assertAgree(self.bundle(a), code, failing="manifest" if code else None)
                if code:
                    self.assertIn("attestations[0].cosignatures: has 100 entries, more than 99", out)
                    # beyond the bounds: not worked through by check 15 (check 4 fails anyway)
                    self.assertNotIn("attestation 5:", out)
                    self.assertEqual([line.split(":")[0] for line in self.failed(out)], ["[FAILED] manifest"])
                else:
                    self.assertIn("[ok] attestation 5: cosignatures", out)

    def test_at_most_16_tokens(self):
        for count, code in ((16, 0), (17, 1)):
            with self.subTest(count):
                a = self.attester()
                a.add(5, tokens=[(serial, ATTEST_MS, {}) for serial in range(1, count + 1)])
                out, _ = self.assertAgree(self.bundle(a), code, failing="manifest" if code else None)
                if code:
                    self.assertIn("attestations[0].timestamps: has 17 entries, more than 16", out)
                    self.assertNotIn("attestation 5:", out)
                else:
                    self.assertIn("[ok] attestation 5: timestamp attest/5/10.tsr", out)

    def test_at_most_8_certificates_a_token(self):
        others = [make_certificate(f"Other Root {n}", ec.generate_private_key(ec.SECP256R1()), ca=True)
                  for n in range(8)]
        for count, code in ((8, 0), (9, 1)):
            with self.subTest(count):
                a = self.attester()
                entry = a.add(5, tokens=[(2, ATTEST_MS, {})])
                names = [self.authority.root_member]
                for der in others[:count - 1]:
                    names.append(f"tsa/{hashlib.sha256(der).hexdigest()}.pem")
                    a.builder.files[names[-1]] = vb.canonical_certificate_pem(der)
                entry["timestamps"][0]["certificates"] = sorted(names)
                out, _ = self.assertAgree(self.bundle(a), code, failing="manifest" if code else None)
                if code:
                    self.assertIn("attestations[0].timestamps[0].certificates: lists 9 certificates, more than 8",
                                  out)
                    self.assertNotIn("attestation 5:", out)

    def test_at_most_two_attestations_an_exhibit_and_one_more(self):
        for exhibits, sizes, code in (((2,), (3, 4, 5), 0), ((2,), (2, 3, 4, 5), 1), ((2, 3), (1, 2, 3, 4, 5), 0)):
            with self.subTest(exhibits=exhibits, sizes=sizes):
                a = self.attester(BundleBuilder(exhibits=exhibits))
                for size in sizes:
                    a.add(size, tokens=[(2, ATTEST_MS, {})])
                out, _ = self.assertAgree(self.bundle(a), code, failing="manifest" if code else None)
                if code:
                    self.assertIn("attestations: has 4 entries, more than 3", out)
                    # 11.3 check 4 (SPEC follow-up 4): when any of its attestation rules fails, check 15 works
                    # through no attestation, not even those within the bound
                    for size in (2, 3, 4, 5):
                        self.assertNotIn(f"attestation {size}:", out)
                    self.assertEqual([line.split(":")[0] for line in self.failed(out)], ["[FAILED] manifest"])
        self.assertEqual(vb.attestation_cap({"exhibits": [{}, {}]}), 5)
        self.assertEqual(vb.attestation_cap({"exhibits": "none"}), 1)

    def test_a_size_outside_the_bundle_is_not_worked_through(self):
        a = self.standard()
        a.manifest["attestations"][0]["checkpoint_size"] = 6
        out, _ = self.assertAgree(self.bundle(a), 1, failing="manifest")
        self.assertIn("not between 1 and ledger.checkpoint_size", out)
        self.assertNotIn("attestation 6:", out)
        # 11.3 check 4 (SPEC follow-up 4): nor any other attestation, once one of its rules fails
        self.assertNotIn("attestation 5:", out)

    # -- 11.3 check 15 -------------------------------------------------------------------------

    def test_an_attested_checkpoint_has_exactly_one_signature_line(self):
        a = self.attester()
        checkpoint = a.checkpoint(3)
        own_line = checkpoint[checkpoint.rindex(b"\n\n") + 2:]
        a.add(3, tokens=[(2, ATTEST_MS, {})], checkpoint=checkpoint + own_line)
        out, _ = self.assertAgree(self.bundle(a), 1, failing="attestation 3: checkpoint")
        self.assertIn("attest/3/checkpoint.txt carries 2 signature lines", out)
        self.assertNotIn("attestation 3: timestamp", out)     # its token is not checked
        # checkpoint.txt with the ledger's line twice is check 6's to refuse (SpecFollowUp2Tests), not this one's
        builder = BundleBuilder()
        checkpoint = builder.files["checkpoint.txt"]
        twice = checkpoint + checkpoint[checkpoint.rindex(b"\n\n") + 2:]
        for name in list(builder.files):
            if name == "checkpoint.txt" or name.startswith("proofs/"):
                builder.files[name] = builder.files[name].replace(checkpoint, twice)
        out, _ = self.assertAgree(self.bundle(self.attester(builder), "own.zip"), 1, failing="checkpoint")
        self.assertEqual([line.split(":")[0] for line in self.failed(out)], ["[FAILED] checkpoint"])

    def test_a_witness_is_a_key(self):
        t = ATTEST_MS // 1000
        out, _ = self.assertAgree(self.bundle(self.standard([(WITNESS_A, WITNESS_NAME, t),
                                                              (WITNESS_A, "witness.example.org/alias", t)])),
                                  1, failing="attestation 5: cosignatures")
        self.assertIn("cosignature 2 ('witness.example.org/alias'): the same public key as an earlier entry", out)
        self.assertIn("[ok] attestation 5: timestamp", out)
        # two keys under one name are two witnesses
        self.assertAgree(self.bundle(self.standard([(WITNESS_A, WITNESS_NAME, t), (WITNESS_B, WITNESS_NAME, t)]),
                                     "two.zip"), 0)

    def test_no_witness_key_of_the_bundle(self):
        ledger = witnessed_ledger()
        t = ATTEST_MS // 1000

        def bundle(witness, supporting=(0, 1, 2, 3, 5, 6, 7, 8)) -> Path:
            a = self.attester(BundleBuilder(ledger, exhibits=(4,), supporting=supporting, exporter=CUSTODIAN_C))
            a.add(5, cosigners=[(witness, "w", t)], checkpoint=ledger.checkpoint(5, LEDGER_KEY))
            a.add(10, cosigners=[(WITNESS_A, WITNESS_NAME, t)])
            return self.bundle(a, f"{kid(raw_public(witness))}.zip")

        self.assertAgree(bundle(WITNESS_B), 0)     # the control: an independent witness
        for what, key in (("ledger.public_key", LEDGER_2), ("exporter.public_key", CUSTODIAN_C),
                          ("the signer of record 0", LEDGER_KEY), ("the signer of record 4", INVESTIGATOR_KEY),
                          ("the key record 3 (authorize) names", AUDITOR),
                          ("the key record 2 (authorize) names", CUSTODIAN_A),
                          ("the key record 6 (authorize) names", CUSTODIAN_B)):
            with self.subTest(what):
                out, _ = self.assertAgree(bundle(key), 1, failing="attestation 5: cosignatures")
                self.assertEqual([line.split(":")[0] for line in self.failed(out)],
                                 ["[FAILED] attestation 5"])
                self.assertIn(f"the witness key is {what}, one of the bundle's own keys", out)
        # a transfer's receiver and a revoked key, with their authorisations left out (check 12 fails too)
        for what, key, supporting in (("the key transfer record 5 hands to", CUSTODIAN_A, (0, 1, 3, 5, 6, 7, 8)),
                                      ("the key record 7 (revoke) names", CUSTODIAN_B, (0, 1, 2, 3, 5, 7, 8))):
            with self.subTest(what):
                out, _ = self.assertAgree(bundle(key, supporting), 1, failing="attestation 5: cosignatures")
                self.assertIn(f"the witness key is {what}, one of the bundle's own keys", out)

    def test_attestation_times(self):
        """At most exported_at_ms + 600000, at least the latest recorded time of the records the checkpoint
        covers less 600000 (records 0-4 of the standard ledger are recorded at T0 + 500 ms ... T0 + 4500 ms)."""
        ceil_s = lambda ms: -(-ms // 1000)   # noqa: E731
        exported = self.standard().manifest["exported_at_ms"]
        floor5, floor3 = T0 + 4500 - 600_000, T0 + 2500 - 600_000
        for what, seconds, code in (("just before record 4 less 10 minutes", floor5 // 1000, 1),
                                    ("at the floor", ceil_s(floor5), 0),
                                    ("10 minutes after the export", (exported + 600_000) // 1000, 0),
                                    ("a second later", (exported + 600_000) // 1000 + 1, 1)):
            with self.subTest(cosignature=what):
                out, _ = self.assertAgree(self.bundle(self.standard([(WITNESS_A, WITNESS_NAME, seconds)])), code,
                                          failing="attestation 5: cosignatures" if code else None)
                if code and seconds < T0 // 1000:
                    self.assertIn("is more than 10 minutes before record 4, which the checkpoint of 5 records covers",
                                  out)
                elif code:
                    self.assertIn("is more than 10 minutes after exported_at", out)
        # a token's stamped time: the floor is the attestation's own (records below ITS size)
        for size, ms, code in ((3, ceil_s(floor3) * 1000, 0), (3, floor3 // 1000 * 1000, 1),
                               (5, ceil_s(floor3) * 1000, 1), (5, (exported + 600_000) // 1000 * 1000, 0),
                               (5, ((exported + 600_000) // 1000 + 1) * 1000, 1)):
            with self.subTest(token=(size, ms)):
                a = self.attester()
                a.add(size, tokens=[(2, ms, {})])
                failing = f"attestation {size}: timestamp attest/{size}/02.tsr" if code else None
                out, _ = self.assertAgree(self.bundle(a), code, failing=failing)
                if code and ms < T0:
                    self.assertIn(f"is more than 10 minutes before record {size - 1}, which the checkpoint of "
                                  f"{size} records covers", out)

    def test_a_tsa_member_over_64_kib_is_refused_unread(self):
        read: list[str] = []
        original = vb.Archive.read

        def spy(archive, name):
            read.append(name)
            return original(archive, name)

        for size, code in ((65534, 0), (65538, 1)):
            with self.subTest(size):
                der = padded_certificate(size)
                name = f"tsa/{hashlib.sha256(der).hexdigest()}.pem"
                a = self.attester()
                entry = a.add(5, tokens=[(2, ATTEST_MS, {})])
                a.builder.files[name] = vb.canonical_certificate_pem(der)
                entry["timestamps"][0]["certificates"] = sorted([self.authority.root_member, name])
                path = self.bundle(a)
                read.clear()
                vb.Archive.read = spy
                try:
                    out, _ = self.assertVerdict(path, code, failing="attestation 5: timestamp" if code else None)
                finally:
                    vb.Archive.read = original
                if code:
                    self.assertIn(f"{name} is 65538 bytes, more than 65536: refused unread", out)
                    self.assertNotIn(name, read)
                else:
                    self.assertIn(name, read)
                self.assertAgree(path, code)

    def test_a_token_over_32_kib_is_refused_unread(self):
        a = self.attester()
        entry = a.add(5, tokens=[(2, ATTEST_MS, {})])
        a.builder.files[entry["timestamps"][0]["file"]] += bytes(vb.MAX_TOKEN)
        out, _ = self.assertAgree(self.bundle(a), 1, failing="attestation 5: timestamp attest/5/02.tsr")
        self.assertIn("more than 32768 (section 14): refused unread", out)

    # -- section 14 rule 2 in bundles ----------------------------------------------------------

    def test_serials_and_accuracy_in_bundles(self):
        for kw, code in (({"serial": 1}, 0), ({"serial": 2 ** 160 - 1}, 0), ({"accuracy": {"millis": 0}}, 1),
                         ({"accuracy": {"micros": 1000}}, 1), ({"accuracy": {"seconds": 1, "millis": 500,
                                                                            "micros": 1}}, 0)):
            with self.subTest(kw):
                a = self.attester()
                serial = kw.pop("serial", 2)
                entry = a.add(5, tokens=[(serial, ATTEST_MS, kw)])
                out, _ = self.assertAgree(self.bundle(a), code, failing="attestation 5: timestamp" if code else None)
                if "accuracy" in kw and not code:
                    # the token vouches for genTime plus its accuracy (micros rounded up to a millisecond)
                    self.assertIn(f"existed no later than {rfc3339(ATTEST_MS + 1501)} (genTime "
                                  f"{rfc3339(ATTEST_MS)} plus its accuracy of 1501 ms)", out)
                if serial != 2:
                    self.assertIn(f"(serial {entry['timestamps'][0]['serial']})", out)

    # -- 11.3 check 17: pinned witnesses -----------------------------------------------------------

    def test_pinned_witnesses(self):
        t = ATTEST_MS // 1000
        a = self.attester()
        a.add(3, cosigners=[(WITNESS_B, "witness.example.org/b", t)])
        a.add(5, cosigners=[(WITNESS_A, WITNESS_NAME, t)], tokens=[(2, ATTEST_MS, {})])
        path = self.bundle(a)
        ka, kb = raw_public(WITNESS_A).hex(), raw_public(WITNESS_B).hex()
        # the quorum is met (a cosigned the bundle's checkpoint) but b, on the checkpoint of 3, is not pinned
        out, _ = self.assertAgree(path, 1, "--policy", self.policy(f"witness a {ka}\nquorum a\n"),
                                  failing="pinned witnesses")
        self.assertIn("[ok] witness quorum", out)
        self.assertIn("1 of the bundle's 2 cosignature(s) are by keys the policy does not name as witnesses: "
                      "attestation 3 cosignature 1 ('witness.example.org/b'", out)
        self.assertEqual([line.split(":")[0] for line in self.failed(out)], ["[FAILED] pinned witnesses"])
        code, result = json_result(path, "--policy", self.policy(f"witness a {ka}\nquorum a\n"))
        self.assertEqual((code, codes_of(result, "pinned witnesses")), (1, ["trust"]))
        self.assertAgree(path, 0, "--policy", self.policy(f"witness a {ka}\nwitness b {kb}\nquorum a\n"))
        # no quorum asked is no pinning: every cosignature must still be by a witness the policy names
        out, _ = self.assertAgree(path, 1, "--policy", self.policy("quorum none\n"), failing="pinned witnesses")
        self.assertIn("2 of the bundle's 2 cosignature(s)", out)
        # a witness is its key: the policy may call it anything
        self.assertAgree(path, 0, "--policy", self.policy(f"witness x {ka}\nwitness y {kb}\ngroup g all x y\n"
                                                          "quorum x\n"))
        # a bundle without cosignatures pins nothing and needs nothing pinned
        a = self.attester()
        a.add(5, tokens=[(2, ATTEST_MS, {})])
        out, _ = self.assertAgree(self.bundle(a, "none.zip"), 0, "--policy", self.policy("quorum none\n"))
        self.assertIn("[ok] pinned witnesses: the bundle carries no cosignature", out)

    # -- the pinning notes (11.3, after check 17) ----------------------------------------------------

    def test_pinning_notes(self):
        t = ATTEST_MS // 1000
        root = self.authority.pem_file(self.dir)
        policy = self.policy(f"witness a {raw_public(WITNESS_A).hex()}\nquorum a\n")
        tokens_only, cosigned_only = self.attester(), self.attester()
        tokens_only.add(5, tokens=[(2, ATTEST_MS, {})])
        cosigned_only.add(5, cosigners=[(WITNESS_A, WITNESS_NAME, t)])
        bundles = {"none": self.bundle(self.attester(), "none.zip"), "tokens": self.bundle(tokens_only, "t.zip"),
                   "cosignatures": self.bundle(cosigned_only, "c.zip"), "both": self.bundle(self.standard(), "b.zip")}
        for name, args, tsa_pinned, witnesses_pinned in (
                ("none", (), True, True), ("tokens", (), False, True), ("cosignatures", (), True, False),
                ("both", (), False, False), ("both", ("--tsa-cert", root), True, False),
                ("both", ("--policy", policy), False, True),
                ("both", ("--tsa-cert", root, "--policy", policy), True, True),
                ("none", ("--tsa-cert", root, "--policy", self.policy("quorum none\n")), True, True)):
            with self.subTest(bundle=name, args=args):
                if "--policy" in args:
                    self.policy(f"witness a {raw_public(WITNESS_A).hex()}\nquorum a\n" if name != "none"
                                else "quorum none\n")
                code, result = json_result(bundles[name], *args)
                self.assertEqual(code, 0)
                self.assertEqual((result["tsa_pinned"], result["witnesses_pinned"]), (tsa_pinned, witnesses_pinned))
                # the earlier fields stay
                self.assertEqual(result["timestamp_tokens"],
                                 {"none": 0, "tokens": 1, "cosignatures": 0, "both": 2}[name])
                self.assertEqual(result["witness_policy_checked"], "--policy" in args)
                out, _ = self.assertAgree(bundles[name], 0, *args)
                lines = out.splitlines()
                verdict = next(n for n, line in enumerate(lines) if line.startswith("OK: "))
                note = [n for n, line in enumerate(lines)
                        if line.startswith("NOTE: witnesses NOT pinned (no --policy)")]
                if witnesses_pinned:
                    self.assertEqual(note, [])
                    self.assertNotIn("witnesses NOT pinned", lines[verdict])
                else:
                    self.assertEqual(len(note), 1)
                    self.assertLess(note[0], verdict)    # before the verdict
                    self.assertIn(f"the bundle's {result['cosignatures']} cosignature(s)", lines[note[0]])
                    self.assertIn("witnesses NOT pinned (no --policy)", lines[verdict])
                self.assertEqual(any(line.startswith("NOTE: time-stamping authorities NOT pinned") for line in lines),
                                 not tsa_pinned)

    # -- robustness ----------------------------------------------------------------------------

    def test_no_attestation_crashes_the_verifier(self):
        """Random values in the attestations' entries and files (huge times and counts, wrong types, cosignature
        lines at the end of time): exit 0 or 1, never an internal error."""
        import random
        rng = random.Random(20261201)
        junk = [None, True, -1, 0, 2 ** 63, 2 ** 64, 1.5, "", "x" * 300, [], {}, [None], {"a": 1},
                "\u2014 w " + "A" * 100, 253402300799999, verifier_key("w", raw_public(WITNESS_B))]
        t_end = 2 ** 63 - 1
        for n in range(40):
            a = self.standard()
            manifest = a.manifest
            entry = rng.choice(manifest["attestations"])
            target = entry
            choices = ["checkpoint_size", "cosigned_file", "cosignatures", "timestamps", "consistency_proof"]
            if entry["cosignatures"] and rng.randrange(2):
                target, choices = rng.choice(entry["cosignatures"]), ["witness", "key", "time_ms", "time"]
            elif entry["timestamps"] and rng.randrange(2):
                target = rng.choice(entry["timestamps"])
                choices = ["file", "serial", "time_ms", "time", "signer_certificate", "certificates"]
            target[rng.choice(choices)] = rng.choice(junk)
            if n % 5 == 0:   # a cosignature line at the end of time, its entry's time left as it was
                data = a.checkpoint(5)
                a.builder.files["attest/5/cosigned.txt"] = data + cosignature_line(WITNESS_A, WITNESS_NAME, t_end,
                                                                                   data).encode()
            code, result = json_result(self.bundle(a, f"j{n}.zip"), "--policy",
                                       self.policy(f"witness a {raw_public(WITNESS_A).hex()}\nquorum a\n"))
            self.assertIn(code, (0, 1), result)
            self.assertNotIn("error", result)


OPENSSL_TSA_CONFIG = """[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = ./serial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
ess_cert_id_alg = sha256
"""


def openssl_token(directory: Path, authority: TestAuthority, data: bytes, chain: list[bytes], serial: int) -> bytes:
    """A response by `openssl ts -reply` (stamped now) over `data`, signed with the authority's certificate,
    `-chain` the certificates `chain` (the signer's own certificate comes first: 1 + len(chain) carried)."""
    d = directory / f"openssl-tsa-{serial}"
    d.mkdir()
    (d / "tsa.cnf").write_text(OPENSSL_TSA_CONFIG)
    (d / "serial").write_text(f"{serial:02x}\n")
    (d / "data").write_bytes(data)
    (d / "tsa.crt").write_bytes(vb.canonical_certificate_pem(authority.cert))
    (d / "tsa.key").write_bytes(authority.key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    (d / "chain.pem").write_bytes(b"".join(vb.canonical_certificate_pem(c) for c in chain))
    run = lambda *argv: subprocess.run(["openssl", "ts", *argv], cwd=d, capture_output=True,  # noqa: E731
                                       timeout=SUBPROCESS_TIMEOUT, check=True)
    run("-query", "-data", "data", "-sha256", "-cert", "-out", "req.tsq")
    run("-reply", "-config", "tsa.cnf", "-queryfile", "req.tsq", "-signer", "tsa.crt", "-inkey", "tsa.key",
        "-chain", "chain.pem", "-out", "resp.tsr")
    return (d / "resp.tsr").read_bytes()


def carried_certificates(token: bytes) -> int:
    """How many certificates a response's SignedData carries (section 14 rule 3)."""
    return len(atsp.TimeStampResp.load(token)["time_stamp_token"]["content"]["certificates"])


class SpecFollowUp2Tests(AttesterTestCase):
    """The SPEC revision after the second adversarial review: checkpoint.txt carries the ledger's signature
    line alone (11.1, 11.3 check 6), a token carries at most 8 certificates (section 14 rule 3), and check 17's
    `pinned witnesses` names each witness by the policy's name beside the bundle's label.  Each verdict is
    also asked of the custody binary when there is one (assertAgree)."""

    @staticmethod
    def with_checkpoint_lines(builder: BundleBuilder, lines: bytes) -> BundleBuilder:
        """The builder with `lines` appended to checkpoint.txt (and so to the checkpoint every proofs/ file
        carries, which must be exactly checkpoint.txt)."""
        checkpoint = builder.files["checkpoint.txt"]
        for name in list(builder.files):
            if name == "checkpoint.txt" or name.startswith("proofs/"):
                builder.files[name] = builder.files[name].replace(checkpoint, checkpoint + lines)
        return builder

    # -- 11.1, 11.3 check 6: checkpoint.txt with the ledger's signature line alone ---------------------

    def test_a_cosignature_line_in_checkpoint_txt_fails_check_6(self):
        """A valid cosignature line in checkpoint.txt, and no attestation at the bundle's own size (an
        attestation of 3 records only): check 15 never reads checkpoint.txt's lines, so only check 6 can
        refuse it."""
        t = ATTEST_MS // 1000
        for attested in (True, False):
            with self.subTest(attested=attested):
                builder = BundleBuilder()
                line = cosignature_line(WITNESS_A, WITNESS_NAME, t, builder.files["checkpoint.txt"]).encode()
                control, edited = self.attester(), self.attester(self.with_checkpoint_lines(builder, line))
                for a in (control, edited):
                    if attested:
                        a.add(3, cosigners=[(WITNESS_B, "witness.example.org/b", t)], tokens=[(2, ATTEST_MS, {})])
                    self.assertNotIn(5, [x["checkpoint_size"] for x in a.manifest["attestations"]])
                self.assertAgree(self.bundle(control, "control.zip"), 0)
                path = self.bundle(edited, "edited.zip")
                out, _ = self.assertAgree(path, 1, failing="checkpoint")
                self.assertEqual([x.split(":")[0] for x in self.failed(out)], ["[FAILED] checkpoint"])
                self.assertIn("checkpoint.txt carries 2 signature lines, by other keys: 'witness.example.org/a'; "
                              "11.3 check 6: exactly one", out)
                if attested:
                    self.assertIn("[ok] attestation 3: cosignatures", out)
                # a policy the stray line would satisfy does not rescue it
                policy = self.policy(f"witness a {raw_public(WITNESS_A).hex()}\n"
                                     f"witness b {raw_public(WITNESS_B).hex()}\nquorum none\n")
                self.assertAgree(path, 1, "--policy", policy, failing="checkpoint")
                # nor does it count for the quorum: checkpoint.txt, the source without an attestation of the
                # bundle's size, carries no cosignature (11.1), whatever lines it holds
                policy = self.policy(f"witness a {raw_public(WITNESS_A).hex()}\n"
                                     f"witness b {raw_public(WITNESS_B).hex()}\nquorum a\n")
                out, _ = self.assertAgree(path, 1, "--policy", policy, failing="witness quorum")
                self.assertIn("does not meet the policy's quorum 'a': the witnesses that acted are none", out)
                self.assertAgree(self.bundle(control, "control.zip"), 1, "--policy", policy, failing="witness quorum")
                code, result = json_result(path)
                self.assertEqual((code, failed_checks(result).keys()), (1, {"checkpoint"}))

    def test_any_second_signature_line_fails_check_6(self):
        """Whatever the second line is: a signature by another key under the ledger's own name or under another
        name (before or after the ledger's line), or the ledger's own line repeated."""
        builder = BundleBuilder()
        checkpoint = builder.files["checkpoint.txt"]
        split = checkpoint.rindex(b"\n\n")
        own_line, text = checkpoint[split + 2:], checkpoint[:split + 1]
        stranger = make_key("a stranger to the ledger")
        origin = builder.manifest["ledger"]["origin"]
        for name in (origin, "someone.example.org"):
            blob = sha256(name.encode() + b"\n\x01" + raw_public(stranger))[:4] + stranger.sign(text)
            line = f"\u2014 {name} {b64(blob)}\n".encode()
            for where, signatures in (("after", own_line + line), ("before", line + own_line)):
                with self.subTest(name=name, where=where):
                    b = BundleBuilder()
                    for member in list(b.files):
                        if member == "checkpoint.txt" or member.startswith("proofs/"):
                            b.files[member] = b.files[member].replace(checkpoint, text + b"\n" + signatures)
                    out, _ = self.assertAgree(self.bundle(self.attester(b), "s.zip"), 1, failing="checkpoint")
                    self.assertIn(f"checkpoint.txt carries 2 signature lines, by other keys: '{name}'", out)
        b = self.with_checkpoint_lines(BundleBuilder(), own_line)
        out, _ = self.assertAgree(self.bundle(self.attester(b), "twice.zip"), 1, failing="checkpoint")
        self.assertIn("checkpoint.txt carries 2 signature lines (the ledger's own, repeated)", out)

    # -- section 14 rule 3: at most 8 certificates a token -------------------------------------------

    def other_roots(self, count: int) -> list[bytes]:
        return [make_certificate(f"Other Root {n}", ec.generate_private_key(ec.SECP256R1()), ca=True)
                for n in range(count)]

    def test_a_token_carries_at_most_8_certificates(self):
        """Tokens built here: the signer's certificate and 7 others (8) verify, with 8 others (9) the token
        fails, in check 15 and in check 16 alike; the manifest's list of certificates is 1 in both (11.2's
        bound of 8 is another rule)."""
        others = self.other_roots(8)
        root = self.authority.pem_file(self.dir)
        for extra, code in ((7, 0), (8, 1)):
            with self.subTest(carried=extra + 1):
                a = self.attester()
                entry = a.add(5, tokens=[(2, ATTEST_MS, {"chain": others[:extra]})])
                self.assertEqual(entry["timestamps"][0]["certificates"], [self.authority.root_member])
                token = a.builder.files[entry["timestamps"][0]["file"]]
                self.assertEqual(carried_certificates(token), extra + 1)
                path = self.bundle(a, f"c{extra}.zip")
                out, _ = self.assertAgree(path, code, failing="attestation 5: timestamp attest/5/02.tsr" if code
                                          else None)
                out, _ = self.assertAgree(path, code, "--tsa-cert", root,
                                          failing="pinned authority: attest/5/02.tsr" if code else None)
                if code:
                    self.assertIn("the token carries 9 certificates, more than 8 (section 14 rule 3)", out)
                    self.assertEqual(sorted(x.split(": the token")[0] for x in self.failed(out)),
                                     ["[FAILED] attestation 5: timestamp attest/5/02.tsr: attest/5/02.tsr",
                                      "[FAILED] pinned authority: attest/5/02.tsr: attest/5/02.tsr"])

    def test_certificates_counted_as_carried(self):
        """Section 14 rule 3: every entry of the SignedData's certificates counts, a certificate written twice
        twice: the signer's certificate and the root 8 times over is 9 carried; and none may appear twice."""
        a = self.attester()
        entry = a.add(5, tokens=[(2, ATTEST_MS, {"chain": [self.authority.root] * 8})])
        token = a.builder.files[entry["timestamps"][0]["file"]]
        self.assertEqual(carried_certificates(token), 9)
        out, _ = self.assertAgree(self.bundle(a), 1, failing="attestation 5: timestamp attest/5/02.tsr")
        self.assertIn("the token carries 9 certificates", out)
        # 8 carried, within the bound, but the root repeated: rule 3 allows no certificate twice (a set with
        # the same element twice is not DER's SET OF), so the token fails, in check 15 and in check 16 alike.
        a = self.attester()
        entry = a.add(5, tokens=[(2, ATTEST_MS, {"chain": [self.authority.root] * 7})])
        self.assertEqual(carried_certificates(a.builder.files[entry["timestamps"][0]["file"]]), 8)
        path = self.bundle(a, "eight.zip")
        out, _ = self.assertAgree(path, 1, failing="attestation 5: timestamp attest/5/02.tsr")
        self.assertIn("repeats certificate", out)
        out, _ = self.assertAgree(path, 1, "--tsa-cert", self.authority.pem_file(self.dir),
                                  failing="pinned authority: attest/5/02.tsr")
        self.assertIn("repeats certificate", out)
        # the root twice, nothing else: the smallest repetition fails too
        a = self.attester()
        a.add(5, tokens=[(2, ATTEST_MS, {"chain": [self.authority.root] * 2})])
        out, _ = self.assertAgree(self.bundle(a, "twice.zip"), 1, failing="attestation 5: timestamp attest/5/02.tsr")
        self.assertRegex(out, r"the token's certificate \d repeats certificate \d \(section 14 rule 3")

    @unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
    def test_an_openssl_token_with_9_certificates(self):
        """`openssl ts -reply -chain FILE` (the signer's certificate, then the chain's): a chain of 7 makes 8
        carried, which verifies; a chain of 8 (the root and 7 others) makes 9, which fails.  openssl stamps
        the time now, so the bundle is exported now (its attestation times: at most exported_at_ms + 10
        minutes)."""
        others = self.other_roots(7)
        for chain, code in (([self.authority.root] + others[:6], 0), ([self.authority.root] + others, 1)):
            with self.subTest(carried=len(chain) + 1):
                a = self.attester()
                now_ms = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
                a.manifest["exported_at_ms"], a.manifest["exported_at"] = now_ms, rfc3339(now_ms)
                checkpoint = a.checkpoint(5)
                token = openssl_token(self.dir, self.authority, checkpoint, chain, 0x42 + len(chain))
                self.assertEqual(carried_certificates(token), len(chain) + 1)
                tst = atsp.TSTInfo.load(atsp.TimeStampResp.load(token)["time_stamp_token"]["content"][
                    "encap_content_info"]["content"].contents)
                serial = tst["serial_number"].contents.hex()
                gen_ms = vb.gen_time_ms(tst["gen_time"].contents)
                entry = a.add(5)
                entry["timestamps"] = [{"file": f"attest/5/{serial}.tsr", "serial": serial, "time_ms": gen_ms,
                                        "time": rfc3339(gen_ms),
                                        "signer_certificate": hashlib.sha256(self.authority.cert).hexdigest(),
                                        "certificates": [self.authority.root_member]}]
                a.builder.files[f"attest/5/{serial}.tsr"] = token
                a.builder.files[self.authority.root_member] = vb.canonical_certificate_pem(self.authority.root)
                out, _ = self.assertAgree(self.bundle(a, f"o{len(chain)}.zip"), code, "--tsa-cert",
                                          self.authority.pem_file(self.dir),
                                          failing=f"attestation 5: timestamp attest/5/{serial}.tsr" if code else None)
                if code:
                    self.assertIn("the token carries 9 certificates, more than 8", out)
                else:
                    self.assertIn(f"[ok] attestation 5: timestamp attest/5/{serial}.tsr", out)

    # -- 11.3 check 17: the policy's name beside the bundle's label ----------------------------------

    def test_pinned_witnesses_named_by_the_policy_beside_the_bundle_label(self):
        t = ATTEST_MS // 1000
        a = self.attester()
        a.add(3, cosigners=[(WITNESS_B, "witness.example.org/b", t)])
        a.add(5, cosigners=[(WITNESS_A, WITNESS_NAME, t)], tokens=[(2, ATTEST_MS, {})])
        path = self.bundle(a)
        ka, kb = raw_public(WITNESS_A), raw_public(WITNESS_B)
        policy = self.policy(f"witness alice {ka.hex()}\nwitness bob {kb.hex()}\nquorum alice\n")
        out, _ = self.assertAgree(path, 0, "--policy", policy)
        self.assertIn(f"[ok] pinned witnesses: every cosignature the bundle carries (2) is by a witness the policy "
                      f"names: 'bob' (key {kid(kb)}, labelled 'witness.example.org/b' in the bundle), 'alice' "
                      f"(key {kid(ka)}, labelled '{WITNESS_NAME}' in the bundle)", out)
        # the bundle's label is no name the policy knows: the key is what is compared
        self.assertNotIn("'witness.example.org/a' (key", out)


class SpecFollowUp4Tests(AttesterTestCase):
    """The SPEC revision "follow-up 4", 11.3 check 4: a bundle carries at most 1,024 time-stamp tokens in all (over
    all attestations), and when any of check 4's attestation rules fails, checks 15 and 16 work through no
    attestation (their cost is the forger's).  1,025 tokens within every other bound take 65 attestations of at
    most 16 tokens, so 32 exhibits (2 x 32 + 1); the bundles below are real, every token verifying, so that at
    the limit the bundle passes whole and one more token fails check 4 alone.  The custody binary, when there,
    must give the same exit codes."""

    TOKENS_A_SIZE = 16

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # 0 genesis, 1 authorise the investigator, 2 to 65 media records (not provided): 66 records.
        cls.ledger = ledger = TestLedger()
        ledger.genesis()
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")
        for n in range(64):
            ledger.media_record(INVESTIGATOR_KEY, f"clip {n}".encode(), name=f"clip-{n}.mp4", provide=False)

    def attested(self, with_last_token: bool) -> Attester:
        """32 exhibits (2 to 33); attestations of sizes 2 to 65 with 16 tokens each (1,024), and one of the
        bundle's own size (66) with a cosignature, and one token more when `with_last_token`."""
        a = self.attester(BundleBuilder(self.ledger, exhibits=tuple(range(2, 34))))
        self.assertEqual(a.size, 66)
        for size in range(2, 66):
            a.add(size, tokens=[(serial, ATTEST_MS, {}) for serial in range(1, self.TOKENS_A_SIZE + 1)])
        a.add(66, cosigners=[(WITNESS_A, WITNESS_NAME, ATTEST_MS // 1000)],
              tokens=[(1, ATTEST_MS, {})] if with_last_token else ())
        self.assertEqual(len(a.manifest["attestations"]), 65)
        self.assertEqual(len(a.manifest["attestations"]), vb.attestation_cap(a.manifest))
        self.assertEqual(vb.raw_token_count(a.manifest), 1025 if with_last_token else 1024)
        return a

    def test_at_most_1024_tokens_in_all(self):
        pem = self.authority.pem_file(self.dir)
        # at the limit: not refused by the rule; checks 15 and 16 work through every attestation
        path = self.bundle(self.attested(False), "limit.zip")
        out, _ = self.assertAgree(path, 0, "--tsa-cert", pem)
        self.assertRegex(out, r"\[ok\] manifest: ")
        self.assertEqual(sum(line.startswith("[ok] attestation ") and ": timestamp attest/" in line
                             for line in out.splitlines()), 1024)
        self.assertIn("[ok] attestation 66: cosignatures", out)
        self.assertEqual(sum(line.startswith("[ok] pinned authority: attest/") for line in out.splitlines()), 1024)
        # one more, on the bundle's own checkpoint: check 4 fails, and checks 15 and 16 work through nothing
        path = self.bundle(self.attested(True), "over.zip")
        out, _ = self.assertAgree(path, 1, failing="manifest")
        self.assertIn("[FAILED] manifest: attestations: carry 1025 time-stamp tokens in all, more than 1,024", out)
        self.assertNotIn("attestation ", "".join(line for line in out.splitlines() if line.startswith("[")))
        self.assertEqual([line.split(":")[0] for line in self.failed(out)], ["[FAILED] manifest"])
        self.assertIn("the bundle's 1025 time-stamp token(s) were not checked at all", out)
        out, _ = self.assertAgree(path, 1, "--tsa-cert", pem, failing="pinned authorities")
        self.assertNotIn("pinned authority: attest/", out)
        self.assertEqual([line.split(":")[0] for line in self.failed(out)],
                         ["[FAILED] manifest", "[FAILED] pinned authorities"])

    def test_the_total_counts_every_token_as_written(self):
        """The rule alone, on manifests built here without token files (check 4 only): 1,024 entries of
        `timestamps` over all attestations draw no complaint from it, 1,025 do, whatever the entries hold
        and wherever they are (an attestation beyond the bound included)."""
        def manifest(counts: list[int]) -> dict:
            return {"exhibits": [{}] * 40,
                    "attestations": [{"checkpoint_size": n + 1, "timestamps": ["token"] * c}
                                     for n, c in enumerate(counts)]}

        def refused_for_total(raw: dict) -> bool:
            m = vb.parse_manifest(json.dumps(raw).encode())
            total = [p for p in m.problems if "time-stamp tokens in all" in p]
            if total:
                self.assertTrue(m.attestations_refused)
                self.assertEqual(m.attestations_worked_through, [])
            return bool(total)

        self.assertFalse(refused_for_total(manifest([16] * 64)))
        self.assertFalse(refused_for_total(manifest([16] * 63 + [15, 1])))
        self.assertTrue(refused_for_total(manifest([16] * 64 + [1])))
        self.assertTrue(refused_for_total(manifest([1025])))              # one attestation over its own bound too
        self.assertTrue(refused_for_total(manifest([16] * 64 + [0] * 17 + [1])))   # the 82nd, beyond the bound
        self.assertEqual(vb.raw_token_count(manifest([16] * 64 + [1])), 1025)
        self.assertEqual(vb.raw_token_count({"attestations": [{"timestamps": "x"}, 7, {"timestamps": [1, 2]}]}), 2)

    def test_any_attestation_rule_failing_leaves_every_attestation_unchecked(self):
        """Before this revision the attestations that met the rules were worked through when another did not;
        now none is: here the first attestation is sound and the second breaks one rule (a time that is not its
        time_ms)."""
        a = self.standard()
        path = self.bundle(a, "sound.zip")
        out, _ = self.assertAgree(path, 0)
        self.assertIn("[ok] attestation 3: timestamp attest/3/02.tsr", out)
        a.manifest["attestations"][1]["timestamps"][0]["time"] = "2026-01-01T00:00:00.000Z"
        out, _ = self.assertAgree(self.bundle(a, "broken.zip"), 1, failing="manifest")
        self.assertIn("attestations[1].timestamps[0].time: is not", out)
        self.assertNotIn("attestation 3:", out)
        self.assertNotIn("attestation 5:", out)
        self.assertEqual([line.split(":")[0] for line in self.failed(out)], ["[FAILED] manifest"])
        self.assertIn("cosignature(s) were not checked by check 15", out)
        out, _ = self.assertAgree(self.bundle(a, "broken.zip"), 1, "--tsa-cert", self.authority.pem_file(self.dir),
                                  failing="pinned authorities")
        self.assertIn("none of its 2 time-stamp token(s) was checked against the --tsa-cert certificates", out)
        self.assertNotIn("pinned authority: attest/", out)


# =============================================================================
# The SPEC revision "sealed content": seal-to, consent and erase records (kinds 10 to 12), the consent in
# force (section 3), the rules of 4.1 for them, and what check 7 and check 12 make of them
# =============================================================================

RECIPIENT_1, RECIPIENT_2 = x25519_public("content recipient 1"), x25519_public("content recipient 2")
DIGEST_A, DIGEST_B = sha256(b"statement A"), sha256(b"statement B")     # target_statement values for decoding


@functools.lru_cache(maxsize=None)
def _no_sealing_custody_reason() -> str | None:
    """Why the custody binary cannot make (or judge) bundles of this revision, or None."""
    reason = _no_custody_reason()
    if reason is not None:
        return reason
    proc = subprocess.run([str(CUSTODY_BIN), "erase", "--help"], capture_output=True, timeout=SUBPROCESS_TIMEOUT)
    if proc.returncode != 0:
        return (f"the custody binary at {CUSTODY_BIN} predates seal-to, consent and erase records "
                "(set CUSTODY_BIN to a newer one, e.g. /tmp/py13/custody)")
    return None


class SealingTestCase(BundleTestCase):
    """assertAgree for this revision: the custody binary is asked only when it knows kinds 10 to 12 (an older
    one, at the default CUSTODY_BIN, would refuse every such record as an unknown kind)."""

    def assertAgree(self, path, code, *extra, failing=None):
        out, err = self.assertVerdict(path, code, *extra, failing=failing)
        if _no_sealing_custody_reason() is None:
            got, text = custody_verdict(path, *extra)
            self.assertEqual(got, code, f"custody verify-bundle disagrees (exit {got}) on {path}:\n{text}")
        return out, err

    def bundle(self, ledger, exhibits, supporting, name="bundle.zip", withheld=(), overrides=None) -> Path:
        """A bundle of `ledger` with the texts of the exhibits in `withheld` not revealed (content null, as
        export writes an erased testimony or one without consent), and consent_override per exhibit seq."""
        builder = BundleBuilder(ledger, exhibits, supporting)
        for name in ("report.html", "VERIFY.txt"):      # optional (11.2); custody would judge them (check 14)
            builder.files.pop(name)
        for entry in builder.manifest["exhibits"] + builder.manifest["supporting"]:
            target = entry["body"].get("target") if entry["kind"] == "amend" else entry["seq"]
            if entry["content"] is not None and (entry["seq"] in withheld or target in withheld):
                builder.files.pop(entry["content"]["file"])
                entry["content"] = None
        for entry in builder.manifest["exhibits"]:
            entry["consent_override"] = (overrides or {}).get(entry["seq"])
        return self.zip_of(builder.finish(), name)

    def verdict(self, ledger, exhibits, supporting, code, failing=(), says=(), **kw) -> dict:
        """The bundle's --json result; exit `code` (the custody binary agreeing), exactly the checks `failing`
        failing (name -> codes, when a dict is given; the names, when a tuple), and `says` in the output."""
        path = self.bundle(ledger, exhibits, supporting, **kw)
        out, _ = self.assertAgree(path, code)
        got, result = json_result(path)
        self.assertEqual(got, code)
        if isinstance(failing, dict):
            self.assertEqual(failed_checks(result), failing, out)
        else:
            for name in failing:
                self.assertIn(f"[FAILED] {name}", out)
        for words in says:
            self.assertIn(words, out)
        return result


class SealConsentEraseDecodingTests(unittest.TestCase):
    """Sections 2 and 3: the bodies of kinds 10 (seal-to), 11 (consent) and 12 (erase) decode strictly, to the
    11.2 JSON form, and re-encode to the same bytes; the rest is an error."""

    def statement(self, kind: int, body: bytes) -> bytes:
        return bytes([1, kind]) + enc_u64(T0) + INVESTIGATOR_PUB + body

    @staticmethod
    def encode(st: "vb.Statement") -> bytes:
        """This file's encoder, from a decoded statement (section 2: re-encoding gives the identical bytes)."""
        head = bytes([st.version, st.kind]) + enc_u64(st.claimed_at_ms) + st.signer
        if st.kind == 10:
            recipients = [bech32_bytes(r, "age") for r in st.body["recipients"]]
            return head + bytes([len(recipients)]) + b"".join(recipients)
        target = enc_u64(st.body["target"]) + bytes.fromhex(st.body["target_statement"])
        if st.kind == 11:
            return head + target + enc_text(st.body["consent"])
        return head + target + enc_text(st.body["reason"])

    def test_round_trips(self):
        sixteen = [x25519_public(f"recipient {n}") for n in range(16)]
        cases = {
            "seal-to, one recipient": (10, b"\x01" + RECIPIENT_1, {"recipients": [bech32_of("age", RECIPIENT_1)]}),
            "seal-to, two": (10, b"\x02" + RECIPIENT_1 + RECIPIENT_2,
                             {"recipients": [bech32_of("age", RECIPIENT_1), bech32_of("age", RECIPIENT_2)]}),
            "seal-to, sixteen": (10, b"\x10" + b"".join(sixteen),
                                 {"recipients": [bech32_of("age", r) for r in sixteen]}),
            # a recipient named twice decodes: it breaks a rule of 4.1, not the encoding
            "seal-to, twice": (10, b"\x02" + RECIPIENT_1 * 2, {"recipients": [bech32_of("age", RECIPIENT_1)] * 2}),
            # the new layout (SPEC section 3): target u64, target_statement bytes[32], then the text;
            # 11.2: {target, target_statement (hex), consent} and {target, target_statement (hex), reason}
            "consent": (11, enc_u64(5) + DIGEST_A + enc_text("court,research"),
                        {"target": 5, "target_statement": DIGEST_A.hex(), "consent": "court,research"}),
            "consent none": (11, enc_u64(0) + bytes(32) + enc_text("none"),
                             {"target": 0, "target_statement": "00" * 32, "consent": "none"}),
            # outside the vocabulary: decodes, read conservatively (section 3), allows no court use
            "consent Court": (11, enc_u64(2 ** 64 - 1) + b"\xff" * 32 + enc_text("Court"),
                              {"target": 2 ** 64 - 1, "target_statement": "ff" * 32, "consent": "Court"}),
            "consent 256 bytes": (11, enc_u64(9) + DIGEST_B + enc_text("c" * 256),
                                  {"target": 9, "target_statement": DIGEST_B.hex(), "consent": "c" * 256}),
            # a digest whose bytes look like a length prefix and text: still the 32 bytes of the digest
            "consent digest like text": (11, enc_u64(1) + (enc_text("court") * 4)[:32] + enc_text("none"),
                                         {"target": 1, "target_statement": (enc_text("court") * 4)[:32].hex(),
                                          "consent": "none"}),
            "erase": (12, enc_u64(3) + DIGEST_A + enc_text("court order 2026/114"),
                      {"target": 3, "target_statement": DIGEST_A.hex(), "reason": "court order 2026/114"}),
            "erase 4096 bytes": (12, enc_u64(3) + DIGEST_B + enc_text("\u00e9" * 2048),
                                 {"target": 3, "target_statement": DIGEST_B.hex(), "reason": "\u00e9" * 2048}),
        }
        for what, (kind, body, json_body) in cases.items():
            with self.subTest(what):
                data = self.statement(kind, body)
                st = vb.decode_statement(data)
                self.assertEqual((st.kind, vb.KIND_NAMES[st.kind]), (kind, {10: "seal-to", 11: "consent",
                                                                           12: "erase"}[kind]))
                self.assertTrue(vb.json_equal(st.body, json_body), st.body)
                self.assertEqual(self.encode(st), data)
        # in records, signed (TestLedger's encoders), and as the verifier's kind names
        ledger = standard_ledger()
        ledger.seal_to([RECIPIENT_1, RECIPIENT_2])                                 # 5
        ledger.consent(INVESTIGATOR_KEY, 2, "court, archive")                      # 6
        ledger.erase(3)                                                            # 7
        for entry in ledger.entries[5:]:
            record = vb.decode_record(entry["record"])
            self.assertEqual(vb.KIND_NAMES[record.statement.kind], entry["kind"])
            self.assertTrue(vb.json_equal(record.statement.body, entry["body"]))
            self.assertTrue(vb.verify_statement_signature(record.statement, record.statement_bytes, record.signature))
        self.assertEqual([vb._parse_kind(n) for n in ("seal-to", "consent", "erase")], [10, 11, 12])
        self.assertIsNone(vb._parse_kind("sealto"))

    def test_strict_failures(self):
        bad = {
            "seal-to count 0": (10, b"\x00", "count 0 outside 1..16"),
            "seal-to count 0 with a key": (10, b"\x00" + RECIPIENT_1, "count 0 outside 1..16"),
            "seal-to count 17": (10, b"\x11" + RECIPIENT_1 * 17, "count 17 outside 1..16"),
            "seal-to count 17, checked before the keys": (10, b"\x11", "count 17 outside 1..16"),
            "seal-to count 255": (10, b"\xff" + RECIPIENT_1, "count 255 outside 1..16"),
            "seal-to no count": (10, b"", "truncated in count"),
            "seal-to truncated key": (10, b"\x01" + RECIPIENT_1[:31], "truncated in recipient 1 of 1"),
            "seal-to a key short": (10, b"\x02" + RECIPIENT_1, "truncated in recipient 2 of 2"),
            "seal-to trailing byte": (10, b"\x01" + RECIPIENT_1 + b"\x00", "1 byte(s) left"),
            "seal-to one key too many": (10, b"\x01" + RECIPIENT_1 + RECIPIENT_2, "32 byte(s) left"),
            "consent truncated target": (11, enc_u64(3)[:7], "truncated in target"),
            "consent without digest": (11, enc_u64(3), "truncated in target_statement"),
            "consent digest short": (11, enc_u64(3) + DIGEST_A[:31], "truncated in target_statement"),
            # the old layout (no digest): the scope's bytes are read as a digest, and what is left is too short
            "consent, the old layout": (11, enc_u64(3) + enc_text("court"), "truncated in target_statement"),
            "consent, the old layout, a long scope": (11, enc_u64(3) + enc_text("court," * 6),
                                                      "consent length 1949066095 exceeds 256"),
            "consent without scope": (11, enc_u64(3) + DIGEST_A, "truncated in consent length"),
            "consent scope truncated": (11, enc_u64(3) + DIGEST_A + enc_text("court")[:-1], "truncated in consent"),
            "consent empty scope": (11, enc_u64(3) + DIGEST_A + enc_bytes(b""), "length 0 outside 1..256"),
            "consent 257 bytes": (11, enc_u64(3) + DIGEST_A + enc_text("c" * 257), "exceeds 256"),
            "consent newline": (11, enc_u64(3) + DIGEST_A + enc_text("court\n"), "control character"),
            "consent bidi": (11, enc_u64(3) + DIGEST_A + enc_text("\u202ecourt"), "bidirectional control"),
            "consent not UTF-8": (11, enc_u64(3) + DIGEST_A + enc_bytes(b"\xffcourt"), "not valid UTF-8"),
            "consent trailing byte": (11, enc_u64(3) + DIGEST_A + enc_text("court") + b"\x00", "1 byte(s) left"),
            "erase truncated target": (12, b"\x00\x00", "truncated in target"),
            "erase without digest": (12, enc_u64(3), "truncated in target_statement"),
            "erase digest short": (12, enc_u64(3) + DIGEST_A[:16], "truncated in target_statement"),
            "erase, the old layout": (12, enc_u64(3) + enc_text("court order 2026/114"),
                                      "truncated in target_statement"),
            "erase without reason": (12, enc_u64(3) + DIGEST_A, "truncated in reason length"),
            "erase empty reason": (12, enc_u64(3) + DIGEST_A + enc_bytes(b""), "length 0 outside 1..4096"),
            "erase 4097 bytes": (12, enc_u64(3) + DIGEST_A + enc_text("r" * 4097), "exceeds 4096"),
            "erase trailing bytes": (12, enc_u64(3) + DIGEST_A + enc_text("order") + b"\x01\x02", "2 byte(s) left"),
            "kind 13": (13, enc_u64(3) + enc_text("order"), "unknown kind 13"),
        }
        for what, (kind, body, words) in bad.items():
            with self.subTest(what):
                with self.assertRaises(vb.CheckError) as caught:
                    vb.decode_statement(self.statement(kind, body))
                self.assertIn(words, str(caught.exception))



class SealingKnownAnswerTests(SealingTestCase):
    """tests/vectors/kat/sealing.json (data written by custody): records of kinds 10 (seal-to), 11 (consent)
    and 12 (erase) with their decoded bodies.  Each record_hex decodes here to exactly the `body` given, its
    leaf hash is recomputed, and the records replay under 4.1 (the consent and erasure naming the digest of
    record 3's statement bytes) and verify as a bundle."""

    KAT = json.loads((KAT / "sealing.json").read_text())

    def records(self) -> list["vb.Record"]:
        return [vb.decode_record(bytes.fromhex(rec["record_hex"])) for rec in self.KAT["records"]]

    def test_each_record_decodes_to_its_body(self):
        self.assertEqual([r["kind"] for r in self.KAT["records"]],
                         ["genesis", "seal-to", "authorize", "testimony", "consent", "erase"])
        prev = bytes(32)
        for rec in self.KAT["records"]:
            with self.subTest(seq=rec["seq"], kind=rec["kind"]):
                data = bytes.fromhex(rec["record_hex"])
                record = vb.decode_record(data)
                st = record.statement
                self.assertEqual((record.seq, vb.KIND_NAMES[st.kind]), (rec["seq"], rec["kind"]))
                self.assertEqual(record.statement_bytes.hex(), rec["statement_hex"])
                # exactly the body given: the same members, values and JSON types
                self.assertEqual(st.body, rec["body"])
                self.assertEqual(json.dumps(st.body, sort_keys=True), json.dumps(rec["body"], sort_keys=True))
                self.assertTrue(vb.json_equal(st.body, rec["body"]))
                self.assertEqual(vb.leaf_hash(data).hex(), rec["leaf_hash_hex"])
                self.assertEqual(sha256(b"\x00" + data).hex(), rec["leaf_hash_hex"])     # this file's own
                self.assertEqual(record.prev, prev)
                prev = bytes.fromhex(rec["leaf_hash_hex"])
                self.assertTrue(vb.verify_statement_signature(st, record.statement_bytes, record.signature))
                if st.kind in (10, 11, 12):     # re-encoding gives the identical bytes (section 2)
                    self.assertEqual(SealConsentEraseDecodingTests.encode(st), record.statement_bytes)

    def test_the_digests_and_recipients(self):
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        records = self.records()
        keys = [X25519PrivateKey.from_private_bytes(bytes.fromhex(h)).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw) for h in self.KAT["recipient_scalars_hex"]]
        self.assertEqual(records[1].statement.fields["recipients"], keys)
        self.assertEqual(records[1].statement.body["recipients"], [bech32_of("age", k) for k in keys])
        digest = sha256(records[3].statement_bytes)
        for seq in (4, 5):
            self.assertEqual(records[seq].statement.fields["target"], 3)
            self.assertEqual(records[seq].statement.fields["target_statement"], digest)
            self.assertEqual(records[seq].statement.body["target_statement"], digest.hex())
        testimony = self.KAT["testimony"]
        text = testimony["text"].encode()
        self.assertEqual(records[3].statement.body["commitment"],
                         sha256(bytes.fromhex(testimony["salt_hex"]) + text).hex())
        self.assertEqual(records[3].statement.body["content_length"], len(text))
        self.assertEqual((records[0].statement.signer, records[2].statement.fields["key"]),
                         (LEDGER_PUB, INVESTIGATOR_PUB))

    def test_replay(self):
        records = self.records()
        replay = vb.AuthorityReplay(records)
        self.assertEqual(replay.problems, {})
        self.assertEqual(replay.obeyed, [0, 1, 2, 3, 4, 5])
        self.assertEqual(replay.seal_records, [1])
        self.assertEqual(replay.recipients_in_force(2), (1, records[1].statement.fields["recipients"]))
        self.assertEqual((replay.consents, replay.erased), ({3: [(4, "none")]}, {3: 5}))
        self.assertEqual(replay.consent_in_force(3, "court")[0], False)
        self.assertEqual(replay.text_erased_by(records[3]), (3, 5))
        # the consent and erase records replayed after another testimony 3 (another ledger's): refused
        other = TestLedger(origin=self.KAT["origin"])
        other.genesis()                                                             # 0
        other.seal_to([RECIPIENT_1])                                                # 1
        other.authorize(INVESTIGATOR_PUB, "Alice Example", "investigator")          # 2
        other.testimony(INVESTIGATOR_KEY, subject="W-20")                           # 3
        mixed = [vb.decode_record(e["record"]) for e in other.entries] + records[4:]
        replay = vb.AuthorityReplay(mixed)
        self.assertEqual(sorted(replay.problems), [4, 5])
        self.assertIn("target_statement", replay.problems[4][0][1])
        self.assertEqual((replay.consents, replay.erased), ({}, {}))

    def kat_ledger(self, size: int | None = None) -> TestLedger:
        """A TestLedger holding exactly the KAT's records (bytes as given)."""
        ledger = TestLedger(origin=self.KAT["origin"])
        for rec in self.KAT["records"][:size]:
            record = bytes.fromhex(rec["record_hex"])
            statement = bytes.fromhex(rec["statement_hex"])
            recorded, = struct.unpack_from(">Q", record, 41)
            claimed, = struct.unpack_from(">Q", statement, 2)
            ledger.entries.append({"seq": rec["seq"], "kind": rec["kind"], "record": record, "statement": statement,
                                   "signature": record[-64:], "signer": statement[10:42], "claimed": claimed,
                                   "recorded": recorded, "body": rec["body"], "prev": record[9:41],
                                   "leaf": bytes.fromhex(rec["leaf_hash_hex"])})
        ledger.content[3] = (bytes.fromhex(self.KAT["testimony"]["salt_hex"]), self.KAT["testimony"]["text"].encode())
        return ledger

    def test_bundles_of_the_kat_records(self):
        ledger = self.kat_ledger()
        # the erased testimony: its record verifies without its text; revealing it fails
        self.verdict(ledger, (3,), (0, 2, 4, 5), 0, {}, withheld=(3,),
                     says=["testimony 3 was erased by record 5"])
        self.verdict(ledger, (3,), (0, 2, 4, 5), 1, {"exhibit 3: content": ["content"]},
                     overrides={3: "judge's order"})
        self.verdict(ledger, (1, 4, 5), (0, 2, 3), 0, {}, withheld=(3,))
        # before the erasure (size 5): consent withdrawn by record 4
        ledger = self.kat_ledger(5)
        self.verdict(ledger, (3,), (0, 2, 4), 1, {"exhibit 3: consent": ["consent"]},
                     says=["consent in force 'none' (record 4, the last consent record"])
        self.verdict(ledger, (3,), (0, 2, 4), 0, {}, overrides={3: "judge's order"})


class Bech32Tests(unittest.TestCase):
    """Section 3, seal-to: a recipient's key as the `age1…` string, bech32 of BIP 173 with the human-readable
    part `age`, lowercase (11.2), encoded by the verifier itself."""

    BIP173_VALID = ("A12UEL5L", "a12uel5l",
                    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
                    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
                    "11" + "q" * 82 + "c8247j",
                    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
                    "?1ezyfcl")

    def test_bip173_vectors(self):
        for vector in self.BIP173_VALID:
            with self.subTest(vector):
                hrp, _, tail = vector.lower().rpartition("1")
                groups = [BECH32_ALPHABET.index(c) for c in tail[:-6]]
                self.assertEqual(vb.bech32_encode_groups(hrp, groups), vector.lower())
        # a segwit v0 address of BIP 173: the witness version, then the program's bytes in 5-bit groups
        program = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
        self.assertEqual(vb.bech32_encode_groups("bc", [0] + vb._to_5_bit_groups(program)),
                         "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
        self.assertEqual(vb.bech32_encode("a", b""), "a12uel5l")

    def test_age_recipients_of_pyrage_identities(self):
        """age's own recipients (pyrage): the X25519 key derived from the identity's secret encodes to the
        recipient string age prints."""
        try:
            from pyrage import x25519
        except ImportError:
            self.skipTest("pyrage is not installed")
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        for _ in range(8):
            identity = x25519.Identity.generate()
            secret = bech32_bytes(str(identity), "age-secret-key-")
            public = X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self.assertEqual(vb.age_recipient(public), str(identity.to_public()))
            self.assertEqual(bech32_bytes(str(identity.to_public()), "age"), public)
        for n in range(32):
            key = x25519_public(f"key {n}")
            self.assertEqual(vb.age_recipient(key), bech32_of("age", key))
            self.assertEqual(len(vb.age_recipient(key)), 62)

    @unittest.skipIf(_no_sealing_custody_reason(), _no_sealing_custody_reason() or "")
    def test_a_recipient_custody_generated(self):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([str(CUSTODY_BIN), "key", "generate-recipient", "hq", "--dir", tmp], check=True,
                           capture_output=True, timeout=SUBPROCESS_TIMEOUT)
            line = (Path(tmp) / "hq.recipient").read_text().strip()
            identity = next(x for x in (Path(tmp) / "hq.identity").read_text().splitlines()
                            if x.startswith("AGE-SECRET-KEY-1"))
        self.assertTrue(line.startswith("age1"), line)
        key = bech32_bytes(line, "age")
        self.assertEqual(len(key), 32)
        self.assertEqual(vb.age_recipient(key), line)
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
        derived = X25519PrivateKey.from_private_bytes(bech32_bytes(identity, "age-secret-key-")).public_key()
        self.assertEqual(derived.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw), key)


class SealConsentEraseRuleTests(SealingTestCase):
    """4.1 for the new kinds, replayed over bundles built here (check 12): seal-to (admin, no recipient twice),
    consent (an earlier testimony, not erased, by its signer or an admin), erase (admin, an earlier testimony
    or media record, not already erased), amend (not of an erased record), and statements that count once."""

    def test_seal_to(self):
        ledger = standard_ledger()
        ledger.seal_to([RECIPIENT_1, RECIPIENT_2])                                  # 5
        ledger.seal_to([RECIPIENT_1], by=INVESTIGATOR_KEY)                          # 6
        ledger.seal_to([RECIPIENT_2, RECIPIENT_1, RECIPIENT_2])                     # 7
        ledger.seal_to([RECIPIENT_2])                                               # 8
        result = self.verdict(ledger, (5, 8), (0,), 0)
        detail = next(c["detail"] for c in result["checks"] if c["name"] == "exhibit 5: authority")
        self.assertIn(f"to 2 content recipient(s): {bech32_of('age', RECIPIENT_1)}, {bech32_of('age', RECIPIENT_2)}",
                      detail)
        self.verdict(ledger, (6,), (0, 1), 1, {"exhibit 6: authority": ["unauthorized"]},
                     says=["only an active admin may name content recipients"])
        self.verdict(ledger, (7,), (0,), 1, {"exhibit 7: authority": ["unauthorized"]},
                     says=[f"names the content recipient(s) {bech32_of('age', RECIPIENT_2)} more than once"])
        replay = vb.AuthorityReplay(vb.decode_record(e["record"]) for e in ledger.entries)
        # 4.1: the state keeps the seal-to records that obeyed the rules (6 and 7 broke one); the recipients
        # in force for a record are those of the last one before it that stands
        self.assertEqual(replay.seal_records, [5, 8])
        self.assertEqual([replay.recipients_in_force(n) for n in (5, 6, 8, 9, 100)],
                         [(None, []), (5, [RECIPIENT_1, RECIPIENT_2]), (5, [RECIPIENT_1, RECIPIENT_2]),
                          (8, [RECIPIENT_2]), (8, [RECIPIENT_2])])

    def test_only_a_seal_to_record_that_stands_counts(self):
        """4.1, seal-to as now worded: the recipients in force for a later record are those of the last
        seal-to record before it that stands by the final state, so that a thief's seal-to stops counting
        once the theft is declared (the state keeps it; the verdict flags it)."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.seal_to([RECIPIENT_1])                                               # 2: headquarters
        ledger.seal_to([RECIPIENT_2], by=ADMIN_2)                                   # 3: the thief's
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 4
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 3))                       # 5
        records = [vb.decode_record(e["record"]) for e in ledger.entries]
        before = vb.AuthorityReplay(records[:5])        # the theft not yet declared: record 3 stands
        self.assertEqual((before.seal_records, before.recipients_in_force(4)), ([2, 3], (3, [RECIPIENT_2])))
        after = vb.AuthorityReplay(records)             # declared: record 3 is kept but no longer counts
        self.assertEqual(after.seal_records, [2, 3])
        self.assertFalse(after.stands(3))
        self.assertEqual([after.recipients_in_force(n) for n in (3, 4, 6)], [(2, [RECIPIENT_1])] * 3)
        self.assertEqual(after.problems[3][0][0], "signed-after-compromise")
        # the thief's seal-to as an exhibit is judged like any record (and it counts for nothing else here)
        self.verdict(ledger, (2, 3), (0, 1, 5), 1, {"exhibit 3: authority": ["signed-after-compromise"]})
        # ... and as a supporting record (beyond 11.2's inclusions) it is not among the flags check 12 excuses
        self.verdict(ledger, (2,), (0, 1, 3, 5), 1, {"supporting record 3: authority": ["signed-after-compromise"]})
        self.verdict(ledger, (2,), (0,), 0, {})

    def test_a_record_that_does_not_decode(self):
        """A seal-to record with count 0, signed and included: its record check fails, and the authority
        check says the bundle was replayed without it."""
        ledger = standard_ledger()
        ledger.append(LEDGER_KEY, "seal-to", b"\x00", {"recipients": []})          # 5
        path = self.bundle(ledger, (2,), (0, 1, 5))
        out, _ = self.assertAgree(path, 1, failing="supporting record 5: record")
        self.assertIn("seal-to count 0 outside 1..16", out)
        self.assertIn("[FAILED] authority: replayed without supporting record 5", out)

    def test_consent(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.testimony(INVESTIGATOR_KEY)                                          # 2
        ledger.media_record(INVESTIGATOR_KEY, CLIP, provide=False)                  # 3
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")               # 4
        ledger.amend(INVESTIGATOR_KEY, 2, text=b"A second version.\n")              # 5
        ledger.consent(INVESTIGATOR_KEY, 2, "court,research")                       # 6: its recorder
        ledger.consent(LEDGER_KEY, 2, "court")                                      # 7: an admin
        ledger.consent(CUSTODIAN_A, 2, "court,archive")                             # 8: neither
        ledger.consent(INVESTIGATOR_KEY, 3, "court")                                # 9: a media record
        ledger.consent(INVESTIGATOR_KEY, 5, "court")                                # 10: an amendment
        ledger.consent(INVESTIGATOR_KEY, 12, "court")                               # 11: a later record
        ledger.consent(INVESTIGATOR_KEY, 2, "archive")                              # 12
        self.verdict(ledger, (2,), (0, 1, 5, 6), 0, {}, says=["[ok] supporting record 6: authority: sets the "
                                                              "consent of testimony 2 to 'court,research'"])
        self.verdict(ledger, (2,), (0, 1, 5, 6, 7), 0, {})
        self.verdict(ledger, (2,), (0, 1, 4, 8), 1, {"supporting record 8: authority": ["unauthorized"],
                                                        "exhibit 2: consent": ["consent"]},
                     says=["neither the signer of testimony 2 (investigator 'Investigator I'"])
        self.verdict(ledger, (2, 3), (0, 1, 5, 9), 1, {"supporting record 9: authority": ["unauthorized"]},
                     says=["record 3, a media, not a testimony"])
        self.verdict(ledger, (2,), (0, 1, 5, 10), 1, {"supporting record 10: authority": ["unauthorized"]},
                     says=["record 5, a amend, not a testimony"])
        self.verdict(ledger, (2,), (0, 1, 11), 1, {"supporting record 11: authority": ["unauthorized"]},
                     says=["names target 12, which is not an earlier record"])
        # the target outside the bundle: a rule needs it
        self.verdict(ledger, (3,), (0, 1, 6), 1, {"supporting record 6: authority": ["unauthorized"]},
                     says=["names target 2, which is not in the bundle (a rule needs it)"])

    def test_erase(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.testimony(INVESTIGATOR_KEY)                                          # 2
        ledger.media_record(INVESTIGATOR_KEY, CLIP, provide=False)                  # 3
        ledger.erase(2)                                                             # 4: an admin
        ledger.erase(3, by=INVESTIGATOR_KEY)                                        # 5: not an admin
        ledger.erase(1)                                                             # 6: an authorisation
        ledger.erase(2, reason="again")                                             # 7: already erased
        ledger.amend(INVESTIGATOR_KEY, 2, text=b"A new text after the erasure.\n")  # 8
        ledger.consent(INVESTIGATOR_KEY, 2, "court")                                # 9
        ledger.erase(3)                                                             # 10: the media record
        ledger.erase(10)                                                            # 11: an erase record
        result = self.verdict(ledger, (2,), (0, 1, 4), 0, {}, withheld=(2,))
        self.assertIn("erases the content of testimony record 2 (its texts, every version)", json.dumps(result))
        self.assertIn("testimony 2 was erased by record 4", json.dumps(result))
        self.verdict(ledger, (3,), (0, 1, 5), 1, {"supporting record 5: authority": ["unauthorized"]},
                     says=["only an active admin may erase content"])
        self.verdict(ledger, (2,), (0, 1, 6), 1, {"supporting record 6: authority": ["unauthorized"]},
                     says=["erases record 1, a authorize, not a testimony or media record"], withheld=(2,))
        self.verdict(ledger, (2,), (0, 1, 4, 7), 1, {"supporting record 7: authority": ["unauthorized"]},
                     says=["already erased by record 4"], withheld=(2,))
        self.verdict(ledger, (2,), (0, 1, 4, 8), 1, {"supporting record 8: authority": ["unauthorized"]},
                     says=["amends testimony record 2, which record 4 erased"], withheld=(2,))
        self.verdict(ledger, (2,), (0, 1, 4, 9), 1, {"supporting record 9: authority": ["unauthorized"]},
                     says=["changes the consent of testimony 2, which record 4 erased"], withheld=(2,))
        self.verdict(ledger, (3,), (0, 1, 10), 0, {},
                     says=["[ok] exhibit 3: media: file not provided; the ledger's sealed copy was erased by "
                           "record 10"])
        self.verdict(ledger, (3,), (0, 1, 10, 11), 1, {"supporting record 11: authority": ["unauthorized"]},
                     says=["erases record 10, a erase, not a testimony or media record"])
        # the target outside the bundle: a rule needs it (11.3 check 12, "a consent change or an erasure names")
        self.verdict(ledger, (2,), (0, 1, 10), 1, {"supporting record 10: authority": ["unauthorized"]},
                     says=["names target 3, which is not in the bundle (a rule needs it)"])

    def test_target_statement(self):
        """4.1 as now worded: a consent or erase record's `target_statement` must be H(statement bytes of
        record target) (section 3), else the record breaks the rules (`unauthorized`) and changes nothing."""
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.testimony(INVESTIGATOR_KEY, consent="court")                         # 2
        ledger.media_record(INVESTIGATOR_KEY, CLIP, provide=False)                  # 3
        of_2, of_3 = ledger.target_digest(2), ledger.target_digest(3)
        wrong = {
            "another record's statement": of_3,
            "zeros": bytes(32),
            "the record's bytes, not its statement's": sha256(ledger.entries[2]["record"]),
            "the leaf hash": ledger.entries[2]["leaf"],
            "the statement's signed message": sha256(b"custody/v1/statement\n" + ledger.entries[2]["statement"]),
            "one bit off": bytes([of_2[0] ^ 1]) + of_2[1:],
        }
        for what, digest in wrong.items():
            with self.subTest(what):
                self.assertNotEqual(digest, of_2)
                copy = TestLedger()
                copy.entries, copy.content = list(ledger.entries), dict(ledger.content)
                copy.consent(INVESTIGATOR_KEY, 2, "court,research", target_statement=digest)    # 4
                copy.erase(2, target_statement=digest)                                        # 5
                copy.consent(LEDGER_KEY, 2, "court", target_statement=digest)                 # 6: by an admin
                says = f"names target_statement {digest.hex()}, but record 2's statement bytes hash to {of_2.hex()}"
                # a consent record with a wrong digest breaks the rules; as the last one it allows no court use
                self.verdict(copy, (2,), (0, 1, 4), 1, {"supporting record 4: authority": ["unauthorized"],
                                                        "exhibit 2: consent": ["consent"]},
                             says=[f"consent record {says}", "the last consent record, which does not stand"])
                self.verdict(copy, (2,), (0, 1, 4), 1, {"supporting record 4: authority": ["unauthorized"]},
                             withheld=(2,))
                self.verdict(copy, (2,), (0, 1, 6), 1, {"supporting record 6: authority": ["unauthorized"]},
                             overrides={2: "judge's order"}, says=[f"consent record {says}"])
                # as an exhibit too
                self.verdict(copy, (2, 4), (0, 1), 1, {"exhibit 4: authority": ["unauthorized"],
                                                       "exhibit 2: consent": ["consent"]})
                # an erase record with a wrong digest erased nothing: it fails, and withholds nothing
                result = self.verdict(copy, (2,), (0, 1, 5), 1, {"supporting record 5: authority": ["unauthorized"]},
                                      says=[f"erase record {says}"])
                self.assertNotIn("erased by record 5", json.dumps(result))
                self.verdict(copy, (2,), (0, 1, 5), 1, {"supporting record 5: authority": ["unauthorized"]},
                             withheld=(2,))
                replay = vb.AuthorityReplay(vb.decode_record(e["record"]) for e in copy.entries)
                self.assertEqual((replay.consents, replay.erased), ({}, {}))
                self.assertEqual(set(replay.problems), {4, 5, 6})
        # the media record: erased with its own digest only
        ledger.erase(3, target_statement=of_2)                                      # 4: the testimony's digest
        ledger.erase(3)                                                             # 5: its own
        ledger.consent(INVESTIGATOR_KEY, 2, "court,research")                       # 6: the right digest
        self.verdict(ledger, (3,), (0, 1, 4), 1, {"supporting record 4: authority": ["unauthorized"]},
                     says=[f"names target_statement {of_2.hex()}, but record 3's statement bytes hash to "
                           f"{of_3.hex()}"])
        self.verdict(ledger, (3,), (0, 1, 5), 0, {},
                     says=["the ledger's sealed copy was erased by record 5"])
        self.verdict(ledger, (2, 3), (0, 1, 5, 6), 0, {},
                     says=["consent in force 'court,research' (record 6, the last consent record"])
        # the digest rule comes after the kind and erasure rules, before the signer's (4.1's order)
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.media_record(INVESTIGATOR_KEY, CLIP, provide=False)                  # 2
        ledger.consent(INVESTIGATOR_KEY, 2, "court", target_statement=bytes(32))    # 3: a media record
        self.verdict(ledger, (2,), (0, 1, 3), 1, {"supporting record 3: authority": ["unauthorized"]},
                     says=["record 2, a media, not a testimony"])

    def test_a_consent_or_erasure_copied_from_another_ledger(self):
        """Section 3's reason for `target_statement`: a statement names no ledger, so a consent change or an
        erasure signed for record N of one ledger, copied (statement and signature, both valid) into another
        ledger where record N is another witness's testimony, breaks the rules there."""
        first, second = TestLedger(), TestLedger()
        for ledger, subject in ((first, "W-17"), (second, "W-99")):
            ledger.genesis()                                                        # 0
            ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")    # 1
            ledger.testimony(INVESTIGATOR_KEY, subject=subject, consent="none",
                             text=f"What {subject} saw.\n".encode())                 # 2
        first.consent(INVESTIGATOR_KEY, 2, "court")                                 # 3: for W-17
        first.erase(2)                                                              # 4: W-17's text
        self.verdict(first, (2,), (0, 1, 3), 0, {})
        self.verdict(first, (2,), (0, 1, 4), 0, {}, withheld=(2,))
        for seq in (3, 4):              # copied into the second ledger, as its records 3 and 4
            old = first.entries[seq]
            prev = second.entries[-1]["leaf"]
            new = len(second.entries)
            record = (b"\x01" + enc_u64(new) + prev + enc_u64(old["recorded"]) + enc_bytes(old["statement"])
                      + old["signature"])
            second.entries.append(dict(old, seq=new, record=record, prev=prev, leaf=sha256(b"\x00" + record)))
        says = (f"names target_statement {first.target_digest(2).hex()}, but record 2's statement bytes hash to "
                f"{second.target_digest(2).hex()}")
        self.verdict(second, (2,), (0, 1, 3), 1, {"supporting record 3: authority": ["unauthorized"],
                                                  "exhibit 2: consent": ["consent"]}, says=[says])
        self.verdict(second, (2,), (0, 1, 4), 1, {"supporting record 4: authority": ["unauthorized"],
                                                  "exhibit 2: consent": ["consent"]}, says=[says])
        self.verdict(second, (2,), (0, 1, 3, 4), 1, {"supporting record 3: authority": ["unauthorized"],
                                                     "supporting record 4: authority": ["unauthorized"]},
                     withheld=(2,))

    def test_statements_count_once(self):
        ledger = standard_ledger()
        ledger.consent(INVESTIGATOR_KEY, 2, "court,research")                       # 5
        ledger.seal_to([RECIPIENT_1])                                               # 6
        ledger.consent(INVESTIGATOR_KEY, 2, "none")                                 # 7
        ledger.replay(5)                                                            # 8: 'court,research' again
        ledger.replay(6)                                                            # 9
        ledger.erase(3)                                                             # 10
        ledger.replay(10)                                                           # 11
        self.verdict(ledger, (2,), (0, 1, 5, 7, 8), 1, {"supporting record 8: authority": ["unauthorized"],
                                                        "exhibit 2: consent": ["consent"]},
                     says=["the same consent statement as record 5: each statement of this kind counts once",
                           "consent in force 'court,research' by record 8, the last consent record, which does not "
                           "stand"])
        self.verdict(ledger, (6, 9), (0,), 1, {"exhibit 9: authority": ["unauthorized"]},
                     says=["the same seal-to statement as record 6"])
        self.verdict(ledger, (3,), (0, 1, 10, 11), 1, {"supporting record 11: authority": ["unauthorized"]},
                     says=["the same erase statement as record 10"])


class ConsentInForceTests(SealingTestCase):
    """Section 3, "consent in force", as check 7 judges it from the bundle's records: the last consent record
    of the testimony, else its own consent; a last consent record that does not stand allows no court use, so
    a stolen key can withdraw consent but never grant it.  Only exhibits whose content is not null need it."""

    def ledger(self, consent="court") -> TestLedger:
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.testimony(INVESTIGATOR_KEY, consent=consent)                         # 2
        return ledger

    def test_a_withdrawal(self):
        ledger = self.ledger("court")
        ledger.consent(INVESTIGATOR_KEY, 2, "none")                                 # 3
        self.verdict(ledger, (2,), (0, 1, 3), 1, {"exhibit 2: consent": ["consent"]},
                     says=["consent in force 'none' (record 3, the last consent record; consent records of the "
                           "bundle: 3), which does not allow court use", "no consent_override is recorded"])
        self.verdict(ledger, (2,), (0, 1, 3), 0, {}, overrides={2: "order of the court, case 12"},
                     says=["exported with override: 'order of the court, case 12'"])
        # not revealed: no consent needed
        self.verdict(ledger, (2,), (0, 1, 3), 0, {}, withheld=(2,),
                     says=["text not revealed, so no consent is needed (consent in force 'none'"])
        # and given again by an admin: the last one counts
        ledger.consent(LEDGER_KEY, 2, "research, court")                            # 4
        self.verdict(ledger, (2,), (0, 1, 3, 4), 0, {},
                     says=["consent in force 'research, court' (record 4, the last consent record; consent records "
                           "of the bundle: 3, 4), which allows court use"])

    def test_a_grant(self):
        for own in ("research", None, "none", "Court"):
            with self.subTest(own=own):
                ledger = self.ledger(own)
                self.verdict(ledger, (2,), (0, 1), 1, {"exhibit 2: consent": ["consent"]})
                ledger.consent(INVESTIGATOR_KEY, 2, "court, archive")               # 3
                self.verdict(ledger, (2,), (0, 1, 3), 0, {})
                # read conservatively, whatever software wrote it
                ledger.consent(INVESTIGATOR_KEY, 2, "Court")                        # 4
                self.verdict(ledger, (2,), (0, 1, 3, 4), 1, {"exhibit 2: consent": ["consent"]})

    def test_a_last_consent_record_that_broke_a_rule(self):
        ledger = self.ledger("none")
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")               # 3
        ledger.consent(CUSTODIAN_A, 2, "court")                                     # 4: neither signer nor admin
        self.verdict(ledger, (2,), (0, 1, 3, 4), 1, {"supporting record 4: authority": ["unauthorized"],
                                                     "exhibit 2: consent": ["consent"]},
                     says=["consent in force 'court' by record 4, the last consent record, which does not stand"])
        # an earlier one that stands does not count: the last one is the one in force
        ledger = self.ledger("none")
        ledger.consent(INVESTIGATOR_KEY, 2, "court")                                # 3
        ledger.authorize(CUSTODIAN_A_PUB, "Custodian A", "custodian")               # 4
        ledger.consent(CUSTODIAN_A, 2, "court")                                     # 5
        self.verdict(ledger, (2,), (0, 1, 3, 4, 5), 1, {"supporting record 5: authority": ["unauthorized"],
                                                        "exhibit 2: consent": ["consent"]})
        result = self.verdict(ledger, (2,), (0, 1, 3, 4, 5), 1, {"supporting record 5: authority": ["unauthorized"]},
                              overrides={2: "judge's order"})
        self.assertEqual(result["flagged_consent_records"], [])

    def test_a_stolen_key_can_withdraw_consent_but_never_grant_it(self):
        ledger = self.ledger("none")
        ledger.consent(INVESTIGATOR_KEY, 2, "court")                                # 3: the thief's
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 3))                  # 4
        result = self.verdict(ledger, (2,), (0, 1, 3, 4), 1, {"exhibit 2: consent": ["consent"]},
                              says=["which does not stand (signed after compromise"])
        self.assertEqual(result["flagged_consent_records"], [3])
        line = next(c["detail"] for c in result["checks"] if c["name"] == "supporting record 3: authority")
        self.assertIn("FLAGGED, not a failure: signed after compromise", line)
        self.assertIn("a supporting consent record that does not stand allows no court use", line)
        path = self.bundle(ledger, (2,), (0, 1, 3, 4), overrides={2: "judge's order"})
        out, _ = self.assertAgree(path, 0)
        self.assertIn("supporting consent record(s) 3 flagged", out)
        # a withdrawal by the thief stands as a withdrawal: no court use either way
        ledger = self.ledger("court")
        ledger.consent(INVESTIGATOR_KEY, 2, "none")                                 # 3: the thief's
        ledger.revoke(INVESTIGATOR_PUB, "compromised", ("seq", 3))                  # 4
        self.verdict(ledger, (2,), (0, 1, 3, 4), 1, {"exhibit 2: consent": ["consent"]})
        # the flagged consent record as an exhibit is judged (never excused)
        self.verdict(ledger, (2, 3), (0, 1, 4), 1, {"exhibit 3: authority": ["signed-after-compromise"],
                                                    "exhibit 2: consent": ["consent"]})
        # a consent record by a key tainted later
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 2
        ledger.testimony(INVESTIGATOR_KEY, consent="none")                          # 3
        ledger.authorize(ADMIN_3_PUB, "Minted admin", "admin", by=ADMIN_2)          # 4: the thief's
        ledger.consent(ADMIN_3, 3, "court")                                         # 5
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 4))                       # 6
        result = self.verdict(ledger, (3,), (0, 1, 2, 4, 5, 6), 1,
                              {"supporting record 4: authority": ["signed-after-compromise"],
                               "exhibit 3: consent": ["consent"]})
        self.assertEqual(result["flagged_consent_records"], [5])
        self.assertIn("[tainted-signer]", next(c["detail"] for c in result["checks"]
                                                if c["name"] == "supporting record 5: authority"))

    def test_an_amendment_text_under_the_consent_in_force(self):
        ledger = self.ledger("court")
        ledger.amend(INVESTIGATOR_KEY, 2, text=b"A second version.\n")              # 3
        ledger.consent(INVESTIGATOR_KEY, 2, "none")                                 # 4
        # supporting: revealed with its testimony, under the testimony's consent in force and override
        self.verdict(ledger, (2,), (0, 1, 3, 4), 1, {"exhibit 2: consent": ["consent"],
                                                     "supporting record 3: consent": ["consent"]})
        self.verdict(ledger, (2,), (0, 1, 3, 4), 0, {}, overrides={2: "judge's order"},
                     says=["[ok] supporting record 3: consent: the amended testimony exhibit 2 has consent in force "
                           "'none' (record 4"])
        # an exhibit: the testimony exhibit's override, or its own
        self.verdict(ledger, (2, 3), (0, 1, 4), 1, {"exhibit 2: consent": ["consent"],
                                                    "exhibit 3: consent": ["consent"]})
        self.verdict(ledger, (2, 3), (0, 1, 4), 1, {"exhibit 2: consent": ["consent"]}, overrides={3: "judge's order"})
        self.verdict(ledger, (2, 3), (0, 1, 4), 0, {}, overrides={2: "judge's order"})
        # consent given again: no override needed
        ledger.consent(LEDGER_KEY, 2, "court")                                      # 5
        self.verdict(ledger, (2, 3), (0, 1, 4, 5), 0, {})

    def test_replay_unit(self):
        ledger = self.ledger("research")
        ledger.consent(INVESTIGATOR_KEY, 2, "court")                                # 3
        ledger.consent(INVESTIGATOR_KEY, 2, "none")                                 # 4
        ledger.consent(LEDGER_KEY, 2, "court,archive")                              # 5
        records = [vb.decode_record(e["record"]) for e in ledger.entries]
        replay = vb.AuthorityReplay(records)
        self.assertEqual(replay.consents, {2: [(3, "court"), (4, "none"), (5, "court,archive")]})
        self.assertEqual((replay.consent_records(2), replay.consent_in_force(2, "research")[0]), ([3, 4, 5], True))
        self.assertEqual(vb.AuthorityReplay(records[:5]).consent_in_force(2, "research")[0], False)
        self.assertEqual(vb.AuthorityReplay(records[:4]).consent_in_force(2, "research")[0], True)
        self.assertEqual(vb.AuthorityReplay(records[:3]).consent_in_force(2, "research")[0], False)    # its own
        self.assertEqual(vb.AuthorityReplay(records[:3] + records[5:]).consent_in_force(2, "research")[0], True)


class ErasureTests(SealingTestCase):
    """11.2 and 11.3 check 7: no record (exhibit or supporting) reveals text of a testimony that an erase
    record of the bundle erased (`content`), every version of it; the erased exhibit, content null, verifies;
    a flagged erase record among the supporting records is named, not failed, and still withholds."""

    def ledger(self) -> TestLedger:
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.testimony(INVESTIGATOR_KEY)                                          # 2
        ledger.amend(INVESTIGATOR_KEY, 2, text=b"A second version.\n")              # 3
        ledger.erase(2)                                                             # 4
        return ledger

    def test_an_erased_testimony_verifies_without_its_text(self):
        ledger = self.ledger()
        result = self.verdict(ledger, (2,), (0, 1, 3, 4), 0, {}, withheld=(2,))
        detail = {c["name"]: c["detail"] for c in result["checks"]}
        self.assertIn("testimony 2 was erased by record 4", detail["exhibit 2: content"])
        self.assertNotIn("supporting record 3: content", detail)   # nothing to reveal, nothing to check
        self.verdict(ledger, (2, 3), (0, 1, 4), 0, {}, withheld=(2,))

    def test_revealing_an_erased_text_fails(self):
        ledger = self.ledger()
        self.verdict(ledger, (2,), (0, 1, 3, 4), 1, {"exhibit 2: content": ["content"],
                                                     "supporting record 3: content": ["content"]},
                     says=["content/2.txt reveals its text, which erase record 4 of the bundle erased",
                           "content/3.txt reveals a text of testimony 2, which erase record 4 of the bundle erased"])
        # only the amendment's text, as an exhibit (with an override) or as a supporting record
        self.verdict(ledger, (2, 3), (0, 1, 4), 1, {"exhibit 3: content": ["content"]}, withheld=(2,),
                     overrides={3: "judge's order"}, tamper_amendment=True)

    def bundle(self, ledger, exhibits, supporting, name="bundle.zip", withheld=(), overrides=None,
               tamper_amendment=False) -> Path:
        if not tamper_amendment:
            return super().bundle(ledger, exhibits, supporting, name, withheld, overrides)
        # the testimony withheld, the amendment's text revealed anyway
        builder = BundleBuilder(ledger, exhibits, supporting)
        for name in ("report.html", "VERIFY.txt"):
            builder.files.pop(name)
        for entry in builder.manifest["exhibits"]:
            if entry["seq"] in withheld and entry["content"] is not None:
                builder.files.pop(entry["content"]["file"])
                entry["content"] = None
            entry["consent_override"] = (overrides or {}).get(entry["seq"])
        return self.zip_of(builder.finish(), name)

    def test_a_flagged_erase_record_is_named_and_still_withholds(self):
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(ADMIN_2_PUB, "Second admin", "admin")                      # 1
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 2
        ledger.testimony(INVESTIGATOR_KEY)                                          # 3
        ledger.erase(3, by=ADMIN_2)                                                 # 4: the thief's
        ledger.revoke(ADMIN_2_PUB, "compromised", ("seq", 4))                       # 5
        result = self.verdict(ledger, (3,), (0, 1, 2, 4, 5), 0, {}, withheld=(3,))
        self.assertEqual(result["flagged_erase_records"], [4])
        line = next(c["detail"] for c in result["checks"] if c["name"] == "supporting record 4: authority")
        self.assertIn("FLAGGED, not a failure: signed after compromise", line)
        self.assertIn("erase record only withholds text", line)
        self.assertIn("supporting erase record(s) 4 flagged", result["summary"])
        self.verdict(ledger, (3,), (0, 1, 2, 4, 5), 1, {"exhibit 3: content": ["content"]})
        # as an exhibit it is judged
        self.verdict(ledger, (3, 4), (0, 1, 2, 5), 1, {"exhibit 4: authority": ["signed-after-compromise"]},
                     withheld=(3,))

    def test_excused_verdict_unit(self):
        ledger = self.ledger()
        ledger.consent(LEDGER_KEY, 2, "none")                                       # 5 (breaks a rule: erased)
        verifier = vb.BundleVerifier.__new__(vb.BundleVerifier)
        verifier.manifest = vb.parse_manifest(json.dumps(BundleBuilder(ledger, (2,), (0, 1)).manifest).encode())
        verifier.replay = None
        flagged = [("signed-after-compromise", "x")]
        for seq in (4, 5):
            record = vb.decode_record(ledger.entries[seq]["record"])
            self.assertIsNotNone(verifier.excused_verdict(record, flagged))
            self.assertIsNotNone(verifier.excused_verdict(record, [("tainted-signer", "x")]))
            self.assertIsNone(verifier.excused_verdict(record, [("unauthorized", "x")]))
            self.assertIsNone(verifier.excused_verdict(record, []))


class CustodyMadeBundle(AttestedBundle):
    """A bundle custody made (any exporter key), rebuilt after an edit with the manifest signed again by its
    exporter and SHA256SUMS and `files` made anew (AttestedBundle.rebuild), so that only what the edit
    changes can fail."""

    def __init__(self, path: Path, exporter_key: Path):
        self.dir = path.parent
        with zipfile.ZipFile(path) as zf:
            self.members = {name: zf.read(name) for name in zf.namelist()}
        self.manifest = json.loads(self.members["manifest.json"])
        self.key = serialization.load_pem_private_key(exporter_key.read_bytes(), None)
        assert self.manifest["exporter"]["public_key"] == b64(raw_public(self.key))

    def without(self, *seqs: int) -> tuple[dict, dict]:
        """(members, manifest) without report.html and VERIFY.txt (custody renders them from the manifest:
        check 14) and without the supporting records `seqs` and their proof files."""
        members, manifest = self.without_report(), json.loads(json.dumps(self.manifest))
        manifest["supporting"] = [e for e in manifest["supporting"] if e["seq"] not in seqs]
        for seq in seqs:
            members.pop(f"proofs/{seq}.tlog-proof")
        return members, manifest


@unittest.skipIf(_no_sealing_custody_reason(), _no_sealing_custody_reason() or "")
class CustodySealedBundleTests(SealingTestCase):
    """Bundles the custody binary makes from a sealed ledger (init --seal-to), with consent withdrawn and given
    again, a testimony erased and a consent granted by a stolen key, verified here and by `custody
    verify-bundle` alike; then edited (manifest signed again, SHA256SUMS rebuilt, report left out) so that only
    the rules of this revision can catch the edit.

    The ledger: 0 genesis, 1 seal-to hq, 2 authorise Alice (investigator), 3 testimony (court), 4 consent
    withdrawn (Alice), 5 consent court (admin), 6 testimony (court), 7 erase 6, 8 testimony (none), 9 consent
    court (Alice, whose key is then found stolen), 10 revoke Alice compromised from record 9.

    SPEC revision "target_statement": consent and erase records name their target's statement digest (their
    bodies show it as hex), and a bundle carries only the consent and erase records of its exhibits that stand
    (11.2), so the stolen key's consent record 9 is left out of stolen.zip; stolen-with-9.zip carries it as an
    exhibit, from which it is moved among the supporting records to show what a verifier makes of it."""

    @classmethod
    def setUpClass(cls):
        cls.fixture_tmp = tempfile.TemporaryDirectory()
        d = cls.d = Path(cls.fixture_tmp.name)
        cls.refusals: dict[str, subprocess.CompletedProcess] = {}

        def run(*args, expect=0, name=None):
            proc = subprocess.run([str(CUSTODY_BIN), *map(str, args)], cwd=d, capture_output=True, text=True,
                                  timeout=SUBPROCESS_TIMEOUT, stdin=subprocess.DEVNULL)
            if name is not None:
                cls.refusals[name] = proc
            elif proc.returncode != expect:
                raise AssertionError(f"custody {' '.join(map(str, args))}: exit {proc.returncode}\n"
                                     f"{proc.stdout}{proc.stderr}")
            return proc

        def text(name: str, words: str) -> str:
            (d / name).write_text(words + "\n")
            return name

        L, ADMIN, ALICE, HQ = "L", "k/ledger.key", "k/alice.key", "k/hq.identity"
        run("key", "generate", "ledger", "--dir", "k")
        run("key", "generate", "alice", "--dir", "k")
        run("key", "generate-recipient", "hq", "--dir", "k")
        run("init", "--ledger", L, "--origin", "example.org/case-sealed", "--key", ADMIN, "--seal-to", "k/hq.recipient")
        run("key", "authorize", "--ledger", L, "--key", ADMIN, "--name", "Alice", "--role", "investigator",
            "k/alice.pub")
        testimony = ("add", "testimony", "--ledger", L, "--key", ALICE, "--language", "en")
        run(*testimony, "--subject", "W1", "--consent", "court", "--text-file", text("w1.txt", "what W1 saw"))  # 3
        run("consent", "--ledger", L, "--key", ALICE, "3", "--withdraw")                                       # 4
        run("checkpoint", "--ledger", L, "--key", ADMIN)
        run("export", "--ledger", L, "--key", ADMIN, "--out", "refused.zip", "--identity", HQ, "3", name="withdrawn")
        run("export", "--ledger", L, "--key", ADMIN, "--out", "withdrawn.zip", "--identity", HQ,
            "--override-consent", "order of the court, case 12", "3")
        run("consent", "--ledger", L, "--key", ADMIN, "3", "--scope", "court")                                 # 5
        run("checkpoint", "--ledger", L, "--key", ADMIN)
        run("export", "--ledger", L, "--key", ADMIN, "--out", "sealed-no-identity.zip", "3", name="no identity")
        run("export", "--ledger", L, "--key", ADMIN, "--out", "court.zip", "--identity", HQ, "3")
        run(*testimony, "--subject", "W2", "--consent", "court", "--text-file", text("w2.txt", "what W2 saw"))  # 6
        run("checkpoint", "--ledger", L, "--key", ADMIN)
        run("export", "--ledger", L, "--key", ADMIN, "--out", "before-erasure.zip", "--identity", HQ, "6")
        run("erase", "--ledger", L, "--key", ADMIN, "6", "--reason", "court order 2026/114")                   # 7
        run("checkpoint", "--ledger", L, "--key", ADMIN)
        run("export", "--ledger", L, "--key", ADMIN, "--out", "erased.zip", "--identity", HQ, "6")
        run("export", "--ledger", L, "--key", ADMIN, "--out", "seal-to.zip", "1")
        run(*testimony, "--subject", "W3", "--consent", "none", "--text-file", text("w3.txt", "what W3 saw"))  # 8
        run("consent", "--ledger", L, "--key", ALICE, "8", "--scope", "court")                                 # 9
        run("key", "revoke", "--ledger", L, "--key", ADMIN, "--reason", "compromised", "--effective", "9",
            "k/alice.pub")                                                                                     # 10
        run("checkpoint", "--ledger", L, "--key", ADMIN)
        run("export", "--ledger", L, "--key", ADMIN, "--out", "stolen-refused.zip", "--identity", HQ, "8",
            name="stolen")
        run("export", "--ledger", L, "--key", ADMIN, "--out", "stolen.zip", "--identity", HQ,
            "--override-consent", "judge's order", "8")
        # the thief's consent record itself, as an exhibit (it fails its own checks: --include-failing)
        run("export", "--ledger", L, "--key", ADMIN, "--out", "stolen-with-9.zip", "--identity", HQ,
            "--override-consent", "judge's order", "--include-failing", "the thief's consent, for the court",
            "8", "9")
        cls.recipient = (d / "k" / "hq.recipient").read_text().strip()

    @classmethod
    def tearDownClass(cls):
        cls.fixture_tmp.cleanup()

    def made(self, name: str) -> CustodyMadeBundle:
        return CustodyMadeBundle(self.d / name, self.d / "k" / "ledger.key")

    def entry(self, manifest: dict, seq: int) -> dict:
        return next(e for e in manifest["exhibits"] + manifest["supporting"] if e["seq"] == seq)

    def test_a_sealed_ledger_and_its_seal_to_record(self):
        out, _ = self.assertAgree(self.d / "seal-to.zip", 0)
        manifest = self.made("seal-to.zip").manifest
        entry = self.entry(manifest, 1)
        self.assertEqual((entry["kind"], entry["body"]), ("seal-to", {"recipients": [self.recipient]}))
        record = vb.decode_record(base64.b64decode(entry["record_bytes"]))
        self.assertEqual(record.statement.fields["recipients"], [bech32_bytes(self.recipient, "age")])
        self.assertIn(f"seals testimony text from record 2 on to 1 content recipient(s): {self.recipient}", out)
        # the recipient written otherwise in the manifest: the body no longer equals the record's
        bundle = self.made("seal-to.zip")
        members, manifest = bundle.without()
        self.entry(manifest, 1)["body"]["recipients"] = [self.recipient.upper()]
        self.assertAgree(bundle.rebuild(self.dir / "upper.zip", members, manifest), 1, failing="exhibit 1: record")
        # a sealed text cannot be exported without an identity
        self.assertNotEqual(self.refusals["no identity"].returncode, 0)
        self.assertFalse((self.d / "sealed-no-identity.zip").exists())

    def test_consent_withdrawn_then_export_refused(self):
        refused = self.refusals["withdrawn"]
        self.assertNotEqual(refused.returncode, 0, refused.stdout)
        self.assertIn("--override-consent", refused.stderr)
        self.assertFalse((self.d / "refused.zip").exists())
        out, _ = self.assertAgree(self.d / "withdrawn.zip", 0)
        self.assertIn("[ok] exhibit 3: consent: consent in force 'none' (record 4, the last consent record", out)
        self.assertIn("exported with override: 'order of the court, case 12'", out)
        # the override taken away: check 7 fails, in both verifiers
        bundle = self.made("withdrawn.zip")
        members, manifest = bundle.without()
        self.entry(manifest, 3)["consent_override"] = None
        path = bundle.rebuild(self.dir / "no-override.zip", members, manifest)
        self.assertAgree(path, 1, failing="exhibit 3: consent")
        self.assertEqual(failed_checks(json_result(path)[1]), {"exhibit 3: consent": ["consent"]})
        # control: rebuilding alone changes nothing
        self.assertAgree(bundle.rebuild(self.dir / "same.zip", *bundle.without()), 0)

    def test_consent_given_again_then_exported_with_the_identity(self):
        out, _ = self.assertAgree(self.d / "court.zip", 0, "--trust", self.d / "k" / "ledger.pub")
        manifest = self.made("court.zip").manifest
        self.assertEqual([(e["seq"], e["kind"]) for e in manifest["supporting"]],
                         [(0, "genesis"), (2, "authorize"), (4, "consent"), (5, "consent")])
        self.assertIn("consent in force 'court' (record 5, the last consent record; consent records of the bundle: "
                      "4, 5), which allows court use", out)
        self.assertEqual(self.made("court.zip").members["content/3.txt"], b"what W1 saw\n")
        bundle = self.made("court.zip")
        # the last consent record removed: the withdrawal is in force, check 7 fails
        path = bundle.rebuild(self.dir / "without-5.zip", *bundle.without(5))
        self.assertAgree(path, 1, failing="exhibit 3: consent")
        self.assertEqual(failed_checks(json_result(path)[1]), {"exhibit 3: consent": ["consent"]})
        # the last consent record altered in the manifest: it no longer matches its record
        members, manifest = bundle.without()
        self.entry(manifest, 5)["body"]["consent"] = "court,research"
        self.assertAgree(bundle.rebuild(self.dir / "altered-5.zip", members, manifest), 1,
                         failing="supporting record 5: record")
        # ... or its record bytes: a signature (and leaf hash) that no longer holds
        members, manifest = bundle.without()
        entry = self.entry(manifest, 5)
        record = bytearray(base64.b64decode(entry["record_bytes"]))
        record[-65] ^= 1                        # the scope's last byte ('t' of court -> 'u')
        entry["record_bytes"] = b64(bytes(record))
        self.assertAgree(bundle.rebuild(self.dir / "altered-5-bytes.zip", members, manifest), 1,
                         failing="supporting record 5: record")

    def test_records_a_bundle_omits_cannot_be_seen(self):
        """A known limit of the format (not of either verifier), which 11.3 now names: a bundle proves the
        records it carries, not that it carries every consent or erase record of its exhibits (its consent
        changes and erasures are those the exporter included, under the exporter's signature: an exporter who
        drops a withdrawal of consent, or an erasure, signs a bundle that verifies).  Without both consent
        records, the testimony's own 'court' is in force, and both verifiers pass the re-signed bundle; so do
        they the withdrawal alone dropped (and the override with it), and an erased testimony's text revealed
        with its erase record left out."""
        bundle = self.made("court.zip")
        self.assertAgree(bundle.rebuild(self.dir / "without-4-5.zip", *bundle.without(4, 5)), 0)
        withdrawn = self.made("withdrawn.zip")
        members, manifest = withdrawn.without(4)
        self.entry(manifest, 3)["consent_override"] = None
        out, _ = self.assertAgree(withdrawn.rebuild(self.dir / "withdrawal-dropped.zip", members, manifest), 0)
        self.assertIn("consent in force 'court' (the testimony's own; no consent record of the bundle changed it)",
                      out)
        before, after = self.made("before-erasure.zip"), self.made("erased.zip")
        members, manifest = after.without(7)
        self.entry(manifest, 6)["content"] = self.entry(before.manifest, 6)["content"]
        members["content/6.txt"] = before.members["content/6.txt"]
        self.assertAgree(after.rebuild(self.dir / "erasure-left-out.zip", members, manifest), 0)

    def test_an_erased_testimony(self):
        self.assertAgree(self.d / "before-erasure.zip", 0)
        out, _ = self.assertAgree(self.d / "erased.zip", 0)
        manifest = self.made("erased.zip").manifest
        self.assertIsNone(self.entry(manifest, 6)["content"])
        self.assertEqual(self.entry(manifest, 7)["kind"], "erase")
        digest = sha256(base64.b64decode(self.entry(manifest, 6)["statement_bytes"])).hex()
        self.assertEqual(self.entry(manifest, 7)["body"], {"target": 6, "target_statement": digest,
                                                           "reason": "court order 2026/114"})
        self.assertNotIn("content/6.txt", self.made("erased.zip").members)
        self.assertIn("[ok] exhibit 6: content: content not revealed: testimony 6 was erased by record 7", out)
        # the text revealed anyway (the very text and salt the ledger held before the erasure), re-signed
        before, after = self.made("before-erasure.zip"), self.made("erased.zip")
        members, manifest = after.without()
        self.entry(manifest, 6)["content"] = self.entry(before.manifest, 6)["content"]
        members["content/6.txt"] = before.members["content/6.txt"]
        path = after.rebuild(self.dir / "reveals-erased.zip", members, manifest)
        self.assertAgree(path, 1, failing="exhibit 6: content")
        self.assertEqual(failed_checks(json_result(path)[1]), {"exhibit 6: content": ["content"]})

    def test_a_stolen_key_cannot_grant_consent(self):
        refused = self.refusals["stolen"]
        self.assertNotEqual(refused.returncode, 0, refused.stdout)
        self.assertFalse((self.d / "stolen-refused.zip").exists())
        # 11.2 as now worded: the thief's consent record 9 does not stand, so export leaves it out, and the
        # testimony's own consent ('none') is in force
        path = self.d / "stolen.zip"
        out, _ = self.assertAgree(path, 0)
        code, result = json_result(path)
        self.assertEqual((code, result["flagged_consent_records"]), (0, []))
        manifest = self.made("stolen.zip").manifest
        self.assertEqual([e["seq"] for e in manifest["exhibits"]], [8])
        self.assertNotIn(9, [e["seq"] for e in manifest["supporting"]])
        self.assertIn("consent in force 'none' (the testimony's own; no consent record of the bundle changed it)",
                      out)
        self.assertIn("exported with override: 'judge's order'", out)
        bundle = self.made("stolen.zip")
        members, manifest = bundle.without()
        self.entry(manifest, 8)["consent_override"] = None
        path = bundle.rebuild(self.dir / "stolen-no-override.zip", members, manifest)
        self.assertAgree(path, 1, failing="exhibit 8: consent")
        self.assertEqual(failed_checks(json_result(path)[1]), {"exhibit 8: consent": ["consent"]})

    def test_the_stolen_consent_record_carried_anyway(self):
        """The verifier's rule stays (11.3 checks 7 and 12): a last consent record that does not stand allows
        no court use, and as a supporting record it is flagged, not failed.  Record 9 as custody exported it
        (an exhibit, --include-failing), then moved among the supporting records of a re-signed bundle."""
        made = self.made("stolen-with-9.zip")
        self.assertEqual([e["seq"] for e in made.manifest["exhibits"]], [8, 9])
        entry = self.entry(made.manifest, 9)
        self.assertEqual(entry["body"], {"target": 8, "consent": "court", "target_statement": sha256(
            base64.b64decode(self.entry(made.manifest, 8)["statement_bytes"])).hex()})
        out, _ = self.assertAgree(self.d / "stolen-with-9.zip", 1, failing="exhibit 9: authority")
        self.assertEqual(failed_checks(json_result(self.d / "stolen-with-9.zip")[1]),
                         {"included failing": ["included-failing"],
                          "exhibit 9: authority": ["signed-after-compromise"]})
        self.assertIn("[FAILED] exhibit 9: authority: signed after compromise", out)
        members, manifest = made.without()
        manifest["include_failing"] = None
        manifest["exhibits"] = [e for e in manifest["exhibits"] if e["seq"] != 9]
        supporting = {k: v for k, v in entry.items() if k not in ("consent_override", "media_file")}
        manifest["supporting"] = sorted(manifest["supporting"] + [supporting], key=lambda e: e["seq"])
        path = made.rebuild(self.dir / "stolen-9-supporting.zip", members, manifest)
        out, _ = self.assertAgree(path, 0)
        code, result = json_result(path)
        self.assertEqual((code, result["flagged_consent_records"], failed_checks(result)), (0, [9], {}))
        self.assertIn("consent in force 'court' by record 9, the last consent record, which does not stand", out)
        self.assertIn("supporting consent record(s) 9 flagged", out)
        # without the override: no court use, in both verifiers
        self.entry(manifest, 8)["consent_override"] = None
        path = made.rebuild(self.dir / "stolen-9-no-override.zip", members, manifest)
        self.assertAgree(path, 1, failing="exhibit 8: consent")
        self.assertEqual(failed_checks(json_result(path)[1]), {"exhibit 8: consent": ["consent"]})

    def test_the_digests_custody_writes(self):
        """Section 3 and 11.2: custody's consent and erase records name H(statement bytes of the target), shown
        as lowercase hex in the body; a body that says otherwise no longer equals the record's."""
        for name, seq, target in (("court.zip", 4, 3), ("court.zip", 5, 3), ("erased.zip", 7, 6),
                                  ("withdrawn.zip", 4, 3)):
            with self.subTest(name=name, seq=seq):
                manifest = self.made(name).manifest
                digest = sha256(base64.b64decode(self.entry(manifest, target)["statement_bytes"]))
                record = vb.decode_record(base64.b64decode(self.entry(manifest, seq)["record_bytes"]))
                self.assertEqual((record.statement.fields["target"], record.statement.fields["target_statement"]),
                                 (target, digest))
                self.assertEqual(self.entry(manifest, seq)["body"]["target_statement"], digest.hex())
        bundle = self.made("court.zip")
        for what, value in (("upper case", lambda h: h.upper()), ("another digest", lambda h: "00" * 32),
                            ("missing", None)):
            with self.subTest(what):
                members, manifest = bundle.without()
                body = self.entry(manifest, 5)["body"]
                if value is None:
                    del body["target_statement"]
                else:
                    body["target_statement"] = value(body["target_statement"])
                self.assertAgree(bundle.rebuild(self.dir / "digest-edit.zip", members, manifest), 1,
                                 failing="supporting record 5: record")
        # the digest's bytes in the record changed: the signature no longer holds
        members, manifest = bundle.without()
        entry = self.entry(manifest, 5)
        record = bytearray(base64.b64decode(entry["record_bytes"]))
        statement = base64.b64decode(entry["statement_bytes"])
        at = record.index(statement) + 42 + 8                 # version, kind, claimed, signer; then target
        record[at] ^= 1
        entry["record_bytes"] = b64(bytes(record))
        self.assertAgree(bundle.rebuild(self.dir / "digest-bytes.zip", members, manifest), 1,
                         failing="supporting record 5: record")


# =============================================================================
# The SPEC revision "a text counts once" (4.1): a testimony, or an amendment with a new text, whose
# commitment is that of an earlier record's text among the records at hand (the bundle's, whether or not
# that record obeyed the rules) breaks the rules: `unauthorized`, check 12
# =============================================================================

class TextCountsOnceTests(SealingTestCase):
    """Hand-built bundles whose texts repeat a commitment, judged here and by `custody verify-bundle` alike
    (exit codes), and a bundle custody made with the same words recorded three times (fresh salts: no
    repeat)."""

    REPEAT = b"what W-18 saw\n"
    REPEAT_SALT = b"\x44" * 32

    def base(self) -> TestLedger:
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.testimony(INVESTIGATOR_KEY)                                          # 2
        return ledger

    @staticmethod
    def refused(seq: int) -> dict[str, list[str]]:
        """What fails for an exhibit whose record breaks a rule: its authority, and so its custody chain."""
        return {f"exhibit {seq}: authority": ["unauthorized"], f"exhibit {seq}: custody": []}

    def problems(self, ledger: TestLedger) -> dict[int, list[str]]:
        replay = vb.AuthorityReplay([vb.decode_record(e["record"]) for e in ledger.entries])
        return {seq: [code for code, _ in p] for seq, p in replay.problems.items()}

    def test_a_testimony_exhibit_repeating_a_supporting_amendments_text(self):
        ledger = self.base()
        ledger.amend(INVESTIGATOR_KEY, 2, text=self.REPEAT, salt=self.REPEAT_SALT)           # 3
        ledger.testimony(INVESTIGATOR_KEY, text=self.REPEAT, salt=self.REPEAT_SALT, subject="W-18")  # 4
        self.assertEqual(self.problems(ledger), {4: ["unauthorized"]})
        self.verdict(ledger, (2, 4), (0, 1, 3), 1, failing=self.refused(4),
                     says=[f"the testimony's text commitment {sha256(self.REPEAT_SALT + self.REPEAT).hex()} is "
                           "that of record 3's text (an amendment): a text counts once"])
        # the amendment as an exhibit too; the earlier record is what counts, not which of them is an exhibit
        self.verdict(ledger, (2, 3, 4), (0, 1), 1, failing=self.refused(4))
        # control: without record 3 the bundle's records hold no earlier text with that commitment
        self.verdict(ledger, (4,), (0, 1), 0, says=["[ok] exhibit 4: authority"])

    def test_a_testimony_exhibit_repeating_a_testimonys_text(self):
        ledger = self.base()
        ledger.testimony(INVESTIGATOR_KEY, salt=TESTIMONY_SALT, subject="W-18", consent="court,research")  # 3
        self.assertNotEqual(ledger.entries[2]["statement"], ledger.entries[3]["statement"])
        self.assertEqual(self.problems(ledger), {3: ["unauthorized"]})
        self.verdict(ledger, (2, 3), (0, 1), 1, failing=self.refused(3),
                     says=["that of record 2's text (a testimony): a text counts once"])
        self.verdict(ledger, (3,), (0, 1, 2), 1, failing=self.refused(3))
        self.verdict(ledger, (3,), (0, 1), 0)
        # the earlier text in a record that broke a rule (signed by a stranger) counts all the same
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.testimony(STRANGER, salt=self.REPEAT_SALT, text=self.REPEAT)         # 2: never authorised
        ledger.testimony(INVESTIGATOR_KEY, salt=self.REPEAT_SALT, text=self.REPEAT, subject="W-18")  # 3
        self.assertEqual(self.problems(ledger), {2: ["unauthorized"], 3: ["unauthorized"]})
        self.verdict(ledger, (3,), (0, 1, 2), 1, failing={**self.refused(3),
                                                               "supporting record 2: authority": ["unauthorized"]},
                     says=["that of record 2's text (a testimony)"])
        # ... and so does an amendment that broke a rule (a media record amended with a text)
        ledger = TestLedger()
        ledger.genesis()                                                            # 0
        ledger.authorize(INVESTIGATOR_PUB, "Investigator I", "investigator")        # 1
        ledger.media_record(INVESTIGATOR_KEY, CLIP, provide=False)                  # 2
        ledger.amend(INVESTIGATOR_KEY, 2, text=self.REPEAT, salt=self.REPEAT_SALT)  # 3: breaks a rule
        ledger.testimony(INVESTIGATOR_KEY, salt=self.REPEAT_SALT, text=self.REPEAT)  # 4
        self.assertEqual(self.problems(ledger), {3: ["unauthorized"], 4: ["unauthorized"]})
        self.verdict(ledger, (4,), (0, 1, 2, 3), 1, failing={**self.refused(4),
                                                               "supporting record 3: authority": ["unauthorized"]},
                     says=["that of record 3's text (an amendment)"])

    def test_an_amendment_repeating_a_text(self):
        ledger = self.base()
        ledger.amend(INVESTIGATOR_KEY, 2, text=TESTIMONY_TEXT, salt=TESTIMONY_SALT)  # 3: the testimony's own text
        ledger.amend(INVESTIGATOR_KEY, 2, text=self.REPEAT, salt=self.REPEAT_SALT)   # 4
        ledger.amend(LEDGER_KEY, 2, reason="again", text=self.REPEAT, salt=self.REPEAT_SALT)  # 5: 4's text
        self.assertEqual(self.problems(ledger), {3: ["unauthorized"], 5: ["unauthorized"]})
        self.verdict(ledger, (2,), (0, 1, 3, 4, 5), 1,
                     failing={"supporting record 3: authority": ["unauthorized"],
                              "supporting record 5: authority": ["unauthorized"]},
                     says=["the amendment's text commitment", "that of record 2's text (a testimony)",
                           "that of record 4's text (an amendment)"])
        # an amendment with no text (of a media record) has no commitment: nothing to repeat
        ledger = self.base()
        ledger.media_record(INVESTIGATOR_KEY, CLIP, provide=False)                  # 3
        ledger.amend(INVESTIGATOR_KEY, 3, description="clip, corrected")            # 4
        ledger.amend(INVESTIGATOR_KEY, 3, description="clip, corrected", reason="twice")  # 5
        self.assertEqual(self.problems(ledger), {})

    def test_a_testimony_statement_appended_twice(self):
        """The case the rule is for: a testimony signed with consent `court`, its consent withdrawn, then the
        very statement (same bytes, same signature) appended again at another position.  The copy has no
        consent record of its own, so check 7 lets its text out; only the text rule refuses it."""
        ledger = self.base()
        ledger.consent(INVESTIGATOR_KEY, 2, "none")                                 # 3: withdrawn
        ledger.replay(2)                                                            # 4: the same statement
        self.assertEqual(ledger.entries[4]["statement"], ledger.entries[2]["statement"])
        self.assertEqual(self.problems(ledger), {4: ["unauthorized"]})
        self.verdict(ledger, (4,), (0, 1, 2, 3), 1,
                     failing=self.refused(4),
                     says=["that of record 2's text (a testimony): a text counts once", "[ok] exhibit 4: consent"])
        # the original, withdrawn, is refused by check 7 besides
        self.verdict(ledger, (2, 4), (0, 1, 3), 1, failing={**self.refused(4), "exhibit 2: consent": ["consent"]})
        # SPEC: "among the records at hand": a bundle that leaves record 2 out carries no earlier text
        self.verdict(ledger, (4,), (0, 1), 0)
        # the copy appended before the withdrawal: still a repeat
        ledger = self.base()
        ledger.replay(2)                                                            # 3
        self.verdict(ledger, (2, 3), (0, 1), 1, failing=self.refused(3))

    @unittest.skipIf(_no_sealing_custody_reason(), _no_sealing_custody_reason() or "")
    def test_a_custody_bundle_with_the_same_words_three_times(self):
        d = self.dir / "made"
        d.mkdir()

        def run(*args):
            proc = subprocess.run([str(CUSTODY_BIN), *map(str, args)], cwd=d, capture_output=True, text=True,
                                  timeout=SUBPROCESS_TIMEOUT, stdin=subprocess.DEVNULL)
            self.assertEqual(proc.returncode, 0, f"custody {' '.join(map(str, args))}:\n{proc.stdout}{proc.stderr}")

        (d / "w.txt").write_text("what W saw\n")
        run("key", "generate", "ledger", "--dir", "k")
        run("key", "generate", "alice", "--dir", "k")
        run("init", "--ledger", "L", "--origin", "example.org/case-texts", "--key", "k/ledger.key")
        run("key", "authorize", "--ledger", "L", "--key", "k/ledger.key", "--name", "Alice", "--role",
            "investigator", "k/alice.pub")                                                                # 1
        for subject in ("W", "W again"):                                                                  # 2, 3
            run("add", "testimony", "--ledger", "L", "--key", "k/alice.key", "--subject", subject, "--language",
                "en", "--consent", "court", "--text-file", "w.txt")
        run("amend", "--ledger", "L", "--key", "k/alice.key", "--reason", "the same words", "--text-file", "w.txt",
            "2")                                                                                          # 4
        run("checkpoint", "--ledger", "L", "--key", "k/ledger.key")
        run("export", "--ledger", "L", "--key", "k/ledger.key", "--out", "b.zip", "2", "3")
        out, _ = self.assertAgree(d / "b.zip", 0, "--trust", d / "k" / "ledger.pub")
        manifest = json.loads(zipfile.ZipFile(d / "b.zip").read("manifest.json"))
        texts = {e["seq"]: e["body"]["commitment"] for e in manifest["exhibits"] + manifest["supporting"]
                 if e["kind"] in ("testimony", "amend")}
        self.assertEqual(sorted(texts), [2, 3, 4])
        self.assertEqual(len(set(texts.values())), 3, texts)       # fresh salts: the same words, three texts
        for seq in (2, 3):
            self.assertIn(f"[ok] exhibit {seq}: authority", out)


if __name__ == "__main__":
    unittest.main()
