#!/usr/bin/env python3
"""Independent verifier for custody court bundles (SPEC.md section 11).

custody writes a *court bundle*: one ZIP file proving that chosen ledger records
(the exhibits) belong to a ledger whose signed checkpoint it carries, while
revealing nothing about any other record.  This script checks such a bundle
offline.  It was written from SPEC.md (sections 1-7, 11, 13, 14 and 15) and the
known-answer vectors alone, without reading custody's Rust code, so that the
specification is shown to be enough for an outsider and so that a court has a
second, independent implementation to rely on.

Usage:

    python3 scripts/verify_bundle.py FILE.zip (--trust KEY.pub... | --no-trust)
                                     [--tsa-cert PEM...] [--policy FILE]
                                     [--media-dir DIR] [--json]

One of --trust (repeatable) and --no-trust is required (11.3 check 10): the
script refuses to run (exit 2) without a decision about which keys a court
pins.  With --no-trust (and only then, whatever else happens, a manifest that
does not parse included) the last line of the text output says that the keys
were not pinned.

It performs every check of SPEC.md 11.3 that another verifier can:

 1. archive safety (11.1), including "every byte is accounted for": the ZIP
    structure is parsed here, not by a ZIP library (end record exactly the
    last 22 bytes with no comment, a ZIP64 end record of exactly 56 bytes
    and its locator right before it when needed, a contiguous central
    directory, local entries tiling the bytes from offset 0, local headers
    agreeing with central ones, data descriptors only with flag bit 3,
    well-formed extra fields, Unicode Path fields naming the header's name);
    breaking it is exit 2;
 2-3. the required members and SHA256SUMS;
 4. the manifest's structure: every object has exactly its members (an
    unknown one and a missing one are both errors: an absent optional
    value is written as null), no object at any level (the top, `exporter`,
    `ledger`, each entry, `body`, `effective`, `content`, `files`) repeats
    a member name (however it is escaped), `exhibits` and `supporting` in strictly
    increasing seq with no record twice and record 0 never an exhibit,
    `consent_override` / `include_failing` null or a reason that is not
    white space only, `ledger.checkpoint_file` "checkpoint.txt",
    exported_at written from exported_at_ms, every time at most
    253402300799999, key IDs, fingerprints and key files derived from each
    public key; and `files`;
 5-6. manifest.sig and the signed checkpoint (section 6; its signed text
    has no empty line; checkpoint.txt carries exactly one signature line, the
    ledger's: 11.1, witnesses' cosignatures travel in attest/ only);
 every `keys/<key ID>.pub` member (the exporter's, the ledger's, each
    signer's, and any a record body names) must be exactly the canonical
    SPKI PEM text of its key (11.1 table), byte for byte: a PEM that a
    reader would accept but that differs (CRLF, a trailing vertical tab,
    an extra line, ...) fails that key-file check;
 7. for every exhibit: strict record decoding (sections 2-4, statement kinds
    0-12; a seal-to `count` outside 1 to 16 is an encoding error), the
    field-by-field comparison with the manifest (bodies in their 11.2 JSON
    form; a seal-to's recipients as the `age1…` bech32 strings of BIP 173,
    encoded here; a consent's or erase's `target_statement` as lowercase
    hex), the leaf hash, the statement signature, the RFC 9162
    inclusion proof, the tlog-proof file, and the position rules a record
    shows on its own (genesis at 0 only, claimed time at most 10 minutes
    after the recorded time; time order is not checked between a bundle's
    records, nor any "future-dated" rule, which belong to `custody audit`
    and `verify`: no verdict here depends on the day of the check, and
    none on a neighbouring record's time), and, for an exhibit that
    reveals text (`content` not null), consent for it: the testimony's
    consent in force (section 3: the scope of its last consent record in
    the bundle, else its own consent; a last consent record that does not
    stand, because it broke a rule of 4.1 or a verdict flags it, allows no
    court use), read conservatively (court use only when an item is exactly
    `court` and no item is `none`); otherwise a consent_override, or for an
    amendment the override of its testimony exhibit; and no record, exhibit
    or supporting, reveals text (any version) of a testimony that an erase
    record of the bundle erased (`content`);
 8-9. content commitments (testimonies and amendments with a new text,
    exhibit or supporting), media files and --media-dir;
 10. --trust / --no-trust;
 11. every supporting record as in 7 (without the consent rule), record 0
    among them;
 12. the key authority rules of section 4.1 replayed over the bundle's records
    ("<record>: authority": authorisers, taint, ended and compromised keys,
    compromise declarations that add up (a key may be declared compromised
    again, any number of times; it is compromised for a record when any
    declaration covers it), ledger-role keys, the ledger-key chain, the
    ledger key in force never revoked, revocation, transfer, accept, cancel
    and amend rules (an erased record is never amended), the seal-to
    (admin, no recipient twice; the record is kept, and the recipients in
    force for a later record are those of the last seal-to record before it
    that stands by the final state, which no check of a bundle depends on),
    consent (an earlier testimony, not erased, by its signer or an admin)
    and erase (admin, an earlier testimony or media record not already
    erased) rules, both with `target_statement` equal to SHA-256 of the
    target's statement bytes (else `unauthorized`: a consent change or an
    erasure signed for another ledger's record of the same number changes
    nothing), a compromise declaration that
    would make its own signer compromised for it or tainted refused (a key declaring itself
    compromised, an admin declaring the genesis key compromised from record
    0: no single record voids the authority it is signed under; such a
    record is "unauthorized" and changes nothing), statements that count
    once, texts that count once (a testimony, or an amendment with a new
    text, whose commitment is that of an earlier record's text among the
    bundle's records, whether or not that record obeyed the rules: a signed
    statement appended again); then the verdicts "signed after compromise" and "signed by a
    tainted key", a declaration standing even when its signer is later
    found compromised), and the checkpoint rule ("checkpoint authority":
    the checkpoint is signed by the ledger key in force at its size, which
    is ledger.public_key, untainted and not compromised for its last
    record; a key not in force, or tainted, is `checkpoint-key`, a
    compromise covering that record `checkpoint-compromised`).  Verdicts
    judge only records that obeyed the rules: a record that broke one is
    reported once, as `unauthorized`, never with a verdict code too.  Some
    verdicts on SUPPORTING records (never on exhibits, which are always
    judged) do not fail the check: a flagged revoke record (it only ends
    keys or widens windows, so it can only make the verdicts stricter), a
    flagged ledger-key record whose key is not ledger.public_key (a key
    superseded below the checkpoint), a flagged transfer record that was
    cancelled (a cancel record of the bundle withdrew it: it moved
    nothing), and a flagged consent or erase record (one that does not
    stand allows no court use, which check 7 applies; an erasure only
    withholds text); their line passes and names the flag, and the summary
    and --json ("flagged_revoke_records",
    "flagged_superseded_ledger_key_records",
    "flagged_cancelled_transfer_records", "flagged_consent_records",
    "flagged_erase_records") list them.  A broken rule is never excused;
 13. each exhibit's custody chain ("exhibit N: custody"; a pending or
    cancelled last transfer is reported, not failed);
 4 (attestations). the manifest's `attestations` as 11.2 writes them: exactly
    their members at every level (each attestation, cosignature and
    timestamp), strictly increasing checkpoint_size between 1 and the
    bundle's, the file names 11.1 and 11.2 give, a consistency proof exactly
    below the bundle's size, `cosigned_file` exactly with cosignatures, each
    `time` its `time_ms`, a cosignature's time a whole second, serials of 2
    to 42 lowercase hex digits, certificates as strictly increasing
    `tsa/<sha256>.pem` names, at least one cosignature or token each, and
    the bounds of 11.2: at most 99 cosignatures and 16 tokens an
    attestation, 8 certificates a token, and 2 x (exhibits) + 1
    attestations, and at most 1,024 tokens in all; when any of these rules
    fails, checks 15 and 16 work through no attestation (their cost is the
    forger's);
 15. each attestation ("attestation N: checkpoint", then "attestation N:
    cosignatures" and "attestation N: timestamp FILE"): its checkpoint
    (checkpoint.txt for the bundle's size; otherwise signed by the ledger key
    in force at that size by the bundle's records, valid by the checkpoint
    rule of 4.1 as check 12 applies it, exactly one signature line (the
    ledger's own), and consistent with the bundle's checkpoint, RFC 9162
    2.1.4.2); each cosignature/v1 line (section 13: the file exactly the
    checkpoint and one line per entry, name, key ID, timestamp, Ed25519
    signature, no public key twice (one key under two names is one
    witness), and no key of the bundle's own: ledger.public_key,
    exporter.public_key, any record's signer, any key an authorize, revoke
    or ledger-key record names or a transfer hands to); each RFC 3161 token
    by section 14 rules 1 to 6 with 11.3's differences (DER exactly,
    granted, at most 8 certificates carried (rule 3; every entry of the
    SignedData's certificates counts) and none twice, SignedData of one SignerInfo, content
    type, message digest and ESS signing-certificate attributes, a serial
    above 0 and below 2^160, an accuracy whose seconds is a non-negative
    integer below 2^64 and whose millis and micros are 1 to 999 when present, ECDSA
    P-256/SHA-256, P-384/SHA-384 or RSA PKCS#1 v1.5 SHA-256/384/512, the
    signing certificate's extended key usage critical and exactly
    timeStamping, a chain to one of the listed tsa/ certificates through at
    most three of the token's, each certificate well-formed and valid at the
    stamped time, no nonce checked), and the token's serial, genTime and
    signing certificate those of its entry; every cosignature time and
    stamped time within the *attestation times*: at most exported_at_ms +
    600000 and at least the latest recorded_at_ms of the bundle's records
    below the attested size less 600000.  The tsa/ members are exactly the
    PEM of a certificate whose DER SHA-256 names them; one over 65,536 bytes
    (and a token over 32 KiB) is refused unread.  A verified token's detail
    says the checkpoint existed no later than genTime plus its accuracy;
 16. with --tsa-cert PEM (repeatable; a file may hold several certificates):
    every token verifies as in 15 with those certificates as the trusted ones
    ("pinned authority: FILE").  Without it, a bundle with tokens gets a NOTE
    line before the verdict saying the authorities were not pinned (--json:
    "tsa_pinned": false, and "authorities_pinned": false as before);
 17. with --policy FILE (section 13's Sigsum policy format; a policy that does
    not parse is exit 2 naming its line): the bundle's checkpoint, as the
    cosigned file of the attestation of its size carries it, meets the quorum
    with ledger.public_key as the ledger key ("witness quorum"; only the
    lines cosigned_file adds after checkpoint.txt's bytes count, so
    checkpoint.txt alone counts no witness), and every cosignature the bundle
    carries, on any attested checkpoint, is by a key the policy names as a
    witness ("pinned witnesses", whose detail names each witness by the
    policy's name for its key beside the bundle's label).  Without it, a bundle
    with cosignatures gets a NOTE line before the verdict saying the
    witnesses were not pinned (--json: "witnesses_pinned": false).  The JSON
    fields "tsa_pinned" and "witnesses_pinned" are each true when nothing
    needed pinning or it was pinned.

Points of SPEC.md sections 11 to 14 read one way where another was possible
are marked "SPEC CHOICE" below, like the others.

Check 14 (report.html and VERIFY.txt are exactly what custody renders) needs
custody's own renderer: here those two members are checked only through their
digests, and the result (text and --json) says that their content was checked
only by `custody verify-bundle`.

Nothing is ever extracted to disk: members are read from the archive in memory
(at most 64 MiB each, the 11.1 limit) or streamed (media), and the size limits
are enforced while reading, not only as declared.

Hostile inputs and hostile terminals (robustness; no verdict depends on them):

 * the bundle, every --trust, --tsa-cert and --policy file and every file
   read from --media-dir must be a regular file: anything else (a FIFO, /dev/zero or another device, a
   directory, a socket) is refused promptly with exit 2, without being read
   and without blocking (stat() first; then an open with O_NONBLOCK and
   fstat() on the descriptor; O_NONBLOCK is cleared only for a regular
   file).  Reads are bounded: a --trust file is at most 64 KiB, a --tsa-cert
   or --policy file at most 1 MiB (and a policy 2,000 lines), a token 32 KiB
   (section 14), a media file
   is read to at most one byte past the record's size, and a bundle is read
   through its central directory within the 11.1 limits.  In --media-dir, a
   candidate that is not a regular file (a link, a FIFO, ...) is never
   opened: it is ignored, with a note, as 11.3 check 9 hashes regular files;
 * every line of text output, on stdout and on stderr, shows each control
   character (Unicode Cc: ESC, a newline inside a message, ...), each
   bidirectional control (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066
   to U+2069) and each lone surrogate (a file name byte that is not UTF-8)
   escaped as \\u{XXXX} (lowercase hex, at least 4 digits; ESC is \\u{001b}),
   so that a member name or a manifest field cannot clear the screen, forge
   a line or print a fake "OK".  Strings from outside are quoted as they are
   (not through repr()), so that --json keeps the exact strings (JSON
   escaping is enough there);
 * an unexpected error is exit 2 too ("internal error", never a verdict),
   with one JSON object under --json.

Exit codes (SPEC section 10 / 11.3):
    0  every check passed;
    1  a check failed (tampering, a missing/added/altered member, a CRC-32
       mismatch, a bad signature, a rule of 4.1 broken, an untrusted key, a
       time after the year 9999, ...);
    2  the bundle cannot be read safely (not a ZIP, bytes not accounted for,
       unsafe names, links, directories, duplicates, too many members,
       oversize, compression bombs, unsupported compression or encryption),
       or a usage / I-O error (including neither --trust nor --no-trust, a
       bundle, --trust or --media-dir file that is not a regular file, and a
       --trust file over 64 KiB), a --tsa-cert file that holds no readable
       certificate, and a --policy file that does not parse (naming its line).

With --json, stdout holds exactly one JSON object on every outcome: for exit
0 and 1 the checks (each with its name, result, detail and the rule codes of
SPEC section 9 where they apply), for exit 2 "error" and "exit_code".

`include_failing` (11.2): a bundle whose manifest has a non-null
`include_failing` never verifies as passed.  It fails the check "included
failing" (code `included-failing`), listed first after "archive", whatever
the other checks find (some failures of the exhibits the exporter included,
such as time order, need records a bundle does not carry); every other check
runs and decides as it would without the reason, so the other failing checks
are shown too.  The reason is also shown in the manifest check's detail, the
PROBLEM line and --json "include_failing".

Only the Python standard library and the `cryptography` and `asn1crypto`
packages are used (asn1crypto decodes CMS, X.509 and RFC 3161; cryptography
verifies the signatures).  Without asn1crypto the script exits 2 saying how
to install it.

Points where SPEC.md left room for interpretation are marked "SPEC CHOICE" in
comments below.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import dataclasses
import datetime
import hashlib
import json
import os
import re
import stat
import struct
import sys
import traceback
import zlib
from typing import Any, BinaryIO, Callable, Iterable

try:
    import fcntl
except ImportError:  # not on unix: there is no O_NONBLOCK to clear either
    fcntl = None

from cryptography import x509 as crypto_x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# ASN.1 (CMS, X.509, RFC 3161) is parsed with the asn1crypto package; main()
# refuses to run without it (exit 2, saying how to install it), so that this
# module can still be imported to say so.
try:
    from asn1crypto import cms as asn1_cms
    from asn1crypto import core as asn1_core
    from asn1crypto import tsp as asn1_tsp
    from asn1crypto import x509 as asn1_x509
    ASN1_IMPORT_ERROR: str | None = None

    class TimeStampResp(asn1_core.Sequence):
        """RFC 3161 TimeStampResp, its timeStampToken OPTIONAL as the RFC has it (asn1crypto's own
        tsp.TimeStampResp requires one, so that a response without a token would not even decode)."""
        _fields = [("status", asn1_tsp.PKIStatusInfo), ("time_stamp_token", asn1_cms.ContentInfo, {"optional": True})]
except ImportError as _exc:   # pragma: no cover - depends on the machine
    asn1_cms = asn1_core = asn1_tsp = asn1_x509 = TimeStampResp = None
    ASN1_IMPORT_ERROR = str(_exc)

# ---------------------------------------------------------------------------
# Limits and constants from SPEC.md
# ---------------------------------------------------------------------------

MAX_MEMBERS = 100_000                 # 11.1
MAX_MEMBER_SIZE = 64 * 1024 * 1024    # 11.1: any member not under media/
MAX_MEDIA_SIZE = 1024 ** 4            # 11.1: members under media/ (1 TiB)
BOMB_RATIO = 100                      # 11.1: uncompressed > 100 x compressed ...
BOMB_MIN_SIZE = 1024 * 1024           # ... and > 1 MiB is a compression bomb
MAX_NAME_BYTES = 255                  # 11.1

MAX_STATEMENT = 65_536                # 3
MAX_RECORD = 65_664                   # 4
MAX_NOTE = 64 * 1024                  # 6
CLAIM_SLACK_MS = 10 * 60 * 1000       # 4: claimed_at at most 10 min after recorded_at
U64_MAX = 2 ** 64 - 1

STATEMENT_CONTEXT = b"custody/v1/statement\n"     # 3
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"     # 7
BUNDLE_FORMAT = "custody-bundle/v1"              # 11.2
SIG_LINE_PREFIX = "\u2014 "                      # 6: em dash, space

KIND_GENESIS, KIND_TESTIMONY, KIND_MEDIA = 0, 1, 2
KIND_AUTHORIZE, KIND_REVOKE, KIND_TRANSFER, KIND_ACCEPT, KIND_AMEND = 3, 4, 5, 6, 7
KIND_LEDGER_KEY, KIND_CANCEL = 8, 9
KIND_SEAL_TO, KIND_CONSENT, KIND_ERASE = 10, 11, 12
# 11.2: an entry's `kind` is the kind's name of section 3.
KIND_NAMES = {KIND_GENESIS: "genesis", KIND_TESTIMONY: "testimony", KIND_MEDIA: "media",
              KIND_AUTHORIZE: "authorize", KIND_REVOKE: "revoke", KIND_TRANSFER: "transfer",
              KIND_ACCEPT: "accept", KIND_AMEND: "amend", KIND_LEDGER_KEY: "ledger-key",
              KIND_CANCEL: "cancel", KIND_SEAL_TO: "seal-to", KIND_CONSENT: "consent",
              KIND_ERASE: "erase"}
HELD_KINDS = (KIND_TESTIMONY, KIND_MEDIA)     # 4.1: evidence, the records that have a holder
MAX_SEAL_RECIPIENTS = 16                      # 3, seal-to: `count` is 1 to 16
AGE_HRP = "age"                               # 3, seal-to: bech32 (BIP 173) with the human-readable part `age`

ROLE_ADMIN, ROLE_INVESTIGATOR, ROLE_CUSTODIAN, ROLE_AUDITOR, ROLE_LEDGER = 0, 1, 2, 3, 4
ROLE_NAMES = {ROLE_ADMIN: "admin", ROLE_INVESTIGATOR: "investigator", ROLE_CUSTODIAN: "custodian",
              ROLE_AUDITOR: "auditor", ROLE_LEDGER: "ledger"}
REASON_RETIRED, REASON_COMPROMISED = 0, 1
REASON_NAMES = {REASON_RETIRED: "retired", REASON_COMPROMISED: "compromised"}

# 11.2: every time in a manifest is at most the last millisecond of the year 9999.
MAX_TIME_MS = 253_402_300_799_999

# Section 3: the consent vocabulary.
CONSENT_SCOPES = ("court", "advocacy", "research", "archive", "none")

# Members with fixed names (11.1).  report.html and VERIFY.txt are informative.
MANIFEST, MANIFEST_SIG, CHECKPOINT, SUMS = "manifest.json", "manifest.sig", "checkpoint.txt", "SHA256SUMS"
REQUIRED_MEMBERS = (MANIFEST, MANIFEST_SIG, SUMS, CHECKPOINT)
# 11.1: report.html and VERIFY.txt are optional.
OPTIONAL_MEMBERS = ("report.html", "VERIFY.txt")
NOT_IN_FILES = (MANIFEST, MANIFEST_SIG, SUMS)  # 11.2 `files` lists every other member

DECIMAL = r"(?:0|[1-9][0-9]*)"
SERIAL_HEX = r"(?:[0-9a-f]{2}){1,21}"   # 11.1: a token's serial, 2 to 42 lowercase hex digits, even
# 11.2 (bounded attestations; 11.3 check 4): at most 99 cosignatures (a signed note holds at most 100
# signatures) and 16 tokens an attestation, 8 certificates a token, two attestations an exhibit and one more.
MAX_COSIGNATURES = 99
MAX_TOKENS = 16
MAX_TOKENS_IN_ALL = 1024                # 11.3 check 4: at most 1,024 tokens in all, over all attestations
MAX_TOKEN_CERTIFICATES = 8
# Section 14 rule 3: a token (its SignedData's `certificates`) carries at most 8 certificates.
MAX_CARRIED_CERTIFICATES = 8
MAX_TSA_MEMBER = 65_536                 # 11.3 check 15: a larger `tsa/` member is refused unread
NAME_PATTERNS = (
    re.compile(r"proofs/" + DECIMAL + r"\.tlog-proof"),
    re.compile(r"keys/[0-9a-f]{8}\.pub"),
    re.compile(r"content/" + DECIMAL + r"\.txt"),
    re.compile(r"media/[0-9a-f]{64}"),
    re.compile(r"attest/" + DECIMAL + r"/checkpoint\.txt"),
    re.compile(r"attest/" + DECIMAL + r"/cosigned\.txt"),
    re.compile(r"attest/" + DECIMAL + "/" + SERIAL_HEX + r"\.tsr"),
    re.compile(r"tsa/[0-9a-f]{64}\.pem"),
)

BIDI_CONTROLS = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


class CheckError(Exception):
    """A check failed (leads to exit 1).  The message is the human detail.

    `code`, when given, is the stable rule code of SPEC section 9 (for
    instance "unauthorized" or "signed-after-compromise"); --json carries it.
    """

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


class Unreadable(Exception):
    """The bundle cannot be read safely (exit 2)."""


class UsageError(Exception):
    """Bad command line, unreadable --trust file, I/O error (exit 2)."""


# ---------------------------------------------------------------------------
# Small encoding helpers
# ---------------------------------------------------------------------------

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """RFC 4648 section 4 base64 with padding, canonical only.

    Decoding then re-encoding must give the same string, which rejects
    missing padding, white space, URL-safe letters and non-zero spare bits.
    """
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc
    if b64(data) != text:
        raise ValueError("not canonical base64")
    return data


def parse_decimal_u64(text: str) -> int:
    """ASCII decimal without leading zeros, at most 2^64-1."""
    if not re.fullmatch(DECIMAL, text, re.ASCII):
        raise ValueError(f"not a decimal number without leading zeros: {q(text)}")
    value = int(text)
    if value > U64_MAX:
        raise ValueError(f"number out of range: {text}")
    return value


def rfc3339_ms(ms: int) -> str:
    """Unix milliseconds as RFC 3339 UTC with milliseconds, YYYY-MM-DDTHH:MM:SS.mmmZ (11.2)."""
    try:
        when = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    except OverflowError as exc:
        raise ValueError(f"time {ms} ms cannot be shown as a date") from exc
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def q(value: Any) -> str:
    """A value from outside (a member name, a manifest field, a path) quoted for a message.

    A string is put between single quotes as it is, every character kept:
    the --json output then carries the exact string (JSON escaping is
    enough there), and the text output shows its control characters as
    terminal_safe() escapes them.  (repr() would escape some of them its own
    way, \\x1b or \\u202e, and leave the JSON with an altered string.)
    Any other JSON value is shown as repr() shows it (None, 5, True), or as
    JSON for an array or object.
    """
    if isinstance(value, str):
        return "'" + value + "'"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=repr)
    return repr(value)


# Terminal safety: what the text output (stdout and stderr) never writes raw.
# Control characters (Unicode category Cc: U+0000 to U+001F, U+007F to U+009F,
# ESC and newline included), the bidirectional controls of section 2
# (BIDI_CONTROLS below: U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to
# U+2069), and lone surrogates (U+D800 to U+DFFF: how Python carries bytes of
# a file name or argument that are not UTF-8; written raw they would be those
# bytes, or make the output fail).
_TERMINAL_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def terminal_safe(text: str) -> str:
    """`text` with every character of _TERMINAL_UNSAFE written as \\u{XXXX} (lowercase hex, at
    least 4 digits), so that a member name or a manifest field cannot move the cursor, clear
    the screen, recolour or reorder what follows (a fake green "OK"), or span two lines.

    Applied to every line of the text output and to every message on stderr;
    the --json output keeps the exact strings (json.dumps escapes them).
    """
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\u{{{ord(m.group()):04x}}}", text)


def consent_scopes(consent: str | None) -> list[str]:
    """A recorded consent value read conservatively (section 3).

    It is split on ',' and the spaces (U+0020 only, not other white space)
    around each item are removed; the items are returned as they are, so
    that a scope counts only when an item equals its word exactly.
    """
    if consent is None:
        return []
    return [item.strip(" ") for item in consent.split(",")]


def court_use_allowed(consent: str | None) -> bool:
    """Section 3: exactly when an item is `court` and no item is `none`.

    An absent consent allows no court use; "no court", "Court", "all" and
    "court-only" allow none either.
    """
    items = consent_scopes(consent)
    return "court" in items and "none" not in items


# ---------------------------------------------------------------------------
# Keys (section 1)
# ---------------------------------------------------------------------------

def key_id(public_key: bytes) -> str:
    """Key ID: hex of the first 4 bytes of SHA-256(public key)."""
    return sha256(public_key)[:4].hex()


def fingerprint(public_key: bytes) -> str:
    return "SHA256:" + sha256(public_key).hex()


def note_key_id(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return sha256(name.encode("utf-8") + b"\n\x01" + public_key)[:4]


# ---------------------------------------------------------------------------
# Content recipients (sections 3 and 15): age X25519 keys written as bech32
# ---------------------------------------------------------------------------

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"   # BIP 173
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _bech32_polymod(values: Iterable[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_BECH32_GENERATOR):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def _bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(ch) >> 5 for ch in hrp] + [0] + [ord(ch) & 31 for ch in hrp]


def _to_5_bit_groups(data: bytes) -> list[int]:
    """BIP 173 convertbits(data, 8, 5, pad=True): big-endian bit groups, the last padded with zeros."""
    groups, acc, bits = [], 0, 0
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            groups.append((acc >> bits) & 31)
    if bits:
        groups.append((acc << (5 - bits)) & 31)
    return groups


def bech32_encode_groups(hrp: str, groups: list[int]) -> str:
    """BIP 173 bech32 (the original checksum constant 1, not bech32m's) of 5-bit `groups` under the
    human-readable part `hrp` (lowercase ASCII), lowercase: hrp, "1", the groups and a 6-character
    checksum.

    SPEC CHOICE: the 90-character limit of BIP 173 is not applied: age's recipients
    (62 characters) are far below it, and age itself lifts it for its longer strings."""
    polymod = _bech32_polymod(_bech32_hrp_expand(hrp) + list(groups) + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[g] for g in list(groups) + checksum)


def bech32_encode(hrp: str, data: bytes) -> str:
    """BIP 173 bech32 of the bytes `data` (regrouped into 5-bit groups, the last padded with zeros)."""
    return bech32_encode_groups(hrp, _to_5_bit_groups(data))


def age_recipient(public_key: bytes) -> str:
    """Section 3, seal-to: the `age1…` string of a 32-byte X25519 public key (11.2: lowercase)."""
    return bech32_encode(AGE_HRP, public_key)


# Section 1: the SPKI DER of an Ed25519 public key is this prefix and the 32 key bytes.
SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")
PEM_BEGIN, PEM_END = b"-----BEGIN PUBLIC KEY-----\n", b"\n-----END PUBLIC KEY-----\n"


def canonical_public_key_pem(public_key: bytes) -> bytes:
    """11.1: the exact text of a `keys/<key ID>.pub` member: `-----BEGIN PUBLIC KEY-----\\n`, the
    base64 of the 44-byte DER on one line, `\\n-----END PUBLIC KEY-----\\n`."""
    return PEM_BEGIN + base64.b64encode(SPKI_ED25519_PREFIX + public_key) + PEM_END


def parse_key_file(data: bytes) -> bytes:
    """A bundle's `keys/<key ID>.pub` member -> its 32 raw key bytes (ValueError otherwise).

    11.1: the member is exactly the canonical SPKI PEM text, so any other
    bytes (CRLF line ends, a trailing vertical tab or blank line, the base64
    wrapped or with white space, headers, a second PEM block, ...) fail,
    even when a PEM reader would accept them and find the right key.
    """
    der = None
    if data.startswith(PEM_BEGIN) and data.endswith(PEM_END) and len(data) == len(PEM_BEGIN) + 60 + len(PEM_END):
        try:
            der = b64decode_strict(data[len(PEM_BEGIN):-len(PEM_END)].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            der = None
    if der is not None and len(der) == 44 and der.startswith(SPKI_ED25519_PREFIX):
        key = der[len(SPKI_ED25519_PREFIX):]
        if canonical_public_key_pem(key) == data:
            return key
    # Not canonical: say what a lenient PEM reader would have found, and where the bytes differ.
    try:
        lenient = parse_public_key_pem(data)
    except ValueError as exc:
        raise ValueError(f"not exactly the canonical SPKI PEM text of an Ed25519 key (11.1): {exc}") from exc
    canonical = canonical_public_key_pem(lenient)
    at = next((i for i, (a, b) in enumerate(zip(data, canonical)) if a != b), min(len(data), len(canonical)))
    found = f"byte {data[at]:#04x}" if at < len(data) else "the end of the file"
    expected = f"byte {canonical[at]:#04x}" if at < len(canonical) else "the end of the file"
    sizes = f"{len(data)} bytes instead of {len(canonical)}, " if len(data) != len(canonical) else ""
    raise ValueError(f"holds key {key_id(lenient)} but not as exactly the canonical SPKI PEM text (11.1): "
                     f"{sizes}first difference at offset {at} ({found}, expected {expected})")


def parse_public_key_pem(data: bytes) -> bytes:
    """An SPKI PEM Ed25519 public key -> its 32 raw bytes (ValueError otherwise).

    Lenient (any PEM a PEM reader accepts): used for the --trust files a
    court supplies.  A bundle's own key files must be canonical:
    parse_key_file().
    """
    if b"-----BEGIN PUBLIC KEY-----" not in data:
        raise ValueError("not an SPKI PEM public key (no BEGIN PUBLIC KEY line)")
    try:
        key = serialization.load_pem_public_key(data)
    except Exception as exc:  # cryptography raises several types for bad input
        raise ValueError(f"not a readable PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- strict Ed25519 verification (section 1) --------------------------------
#
# SPEC section 1 accepts a signature (R, S) by A exactly when A decodes and is
# not of small order, S < L, R is not of small order, and the cofactorless
# equation holds with R re-encoding to the exact bytes given.
#
# `cryptography` (OpenSSL) implements the RFC 8032 cofactorless check: it
# rejects S >= L and compares the recomputed R's canonical encoding with the
# given bytes (so a non-canonical R fails).  It does not reject small-order
# points or non-canonical public keys.  Without a curve implementation of our
# own we therefore add these byte-level checks before calling it:
#
#  * small order: an encoding is rejected when its y-coordinate (the 255 low
#    bits, ignoring the x sign bit) is that of one of the 8 small-order points
#    (y = 1: identity; y = p-1: order 2; y = 0: the two points of order 4;
#    y = Y8 or p-Y8: the four points of order 8), or one of the non-canonical
#    y values p and p+1 that decode to those points.  Ignoring the sign bit
#    also covers the non-canonical "x = 0 with sign bit set" encodings.  This
#    is applied to A and to R.
#  * canonical encoding: y must be < p, for A and R.  For R the cofactorless
#    check already implies this; for A, SPEC's rule 1 only says "decodes to
#    a curve point", but its CCTV summary says every vector flagged
#    `non_canonical_A` is rejected.  SPEC CHOICE: reject non-canonical A.
#  * S < L explicitly (OpenSSL does too).

ED25519_P = 2 ** 255 - 19
ED25519_L = 2 ** 252 + 27742317777372353535851937790883648493
_Y_ORDER8 = int.from_bytes(
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little")
SMALL_ORDER_Y = frozenset({
    0, 1, ED25519_P - 1, _Y_ORDER8, ED25519_P - _Y_ORDER8,   # canonical
    ED25519_P, ED25519_P + 1,                                 # non-canonical aliases of 0 and 1
})
_Y_MASK = (1 << 255) - 1


def point_y(encoding: bytes) -> int:
    return int.from_bytes(encoding, "little") & _Y_MASK


def is_small_order_encoding(encoding: bytes) -> bool:
    return point_y(encoding) in SMALL_ORDER_Y


def is_canonical_encoding(encoding: bytes) -> bool:
    return point_y(encoding) < ED25519_P


def is_weak_public_key(public_key: bytes) -> bool:
    return len(public_key) != 32 or is_small_order_encoding(public_key) or not is_canonical_encoding(public_key)


def ed25519_verify_strict(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Section 1 verification; True when the signature is accepted."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    if is_weak_public_key(public_key):
        return False
    r_bytes, s_bytes = signature[:32], signature[32:]
    if int.from_bytes(s_bytes, "little") >= ED25519_L:
        return False
    if is_small_order_encoding(r_bytes) or not is_canonical_encoding(r_bytes):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------
# Canonical encoding, statements and records (sections 2-4)
# ---------------------------------------------------------------------------

def check_text(raw: bytes, max_len: int, what: str) -> str:
    """The text rule of section 2; returns the decoded text."""
    if not 1 <= len(raw) <= max_len:
        raise CheckError(f"{what}: length {len(raw)} outside 1..{max_len}")
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise CheckError(f"{what}: not valid UTF-8") from exc
    for ch in text:
        cp = ord(ch)
        if cp <= 0x1F or 0x7F <= cp <= 0x9F:
            raise CheckError(f"{what}: contains control character U+{cp:04X}")
        if cp in BIDI_CONTROLS:
            raise CheckError(f"{what}: contains bidirectional control U+{cp:04X}")
    return text


def is_valid_key_name(name: str) -> bool:
    """C2SP signed-note key name: non-empty, no Unicode space, no '+'.

    SPEC CHOICE: section 3 says "no white space"; Python's str.isspace (the
    Unicode White_Space set plus a few C0 controls) is used, as in C2SP.
    """
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


class _Reader:
    """Strict reader over canonical bytes: bounds are checked before reading."""

    def __init__(self, data: bytes, what: str):
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int, field: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise CheckError(f"{self.what}: truncated in {field} (need {n} bytes at offset {self.pos}, "
                             f"{len(self.data) - self.pos} left)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u64(self, field: str) -> int:
        return int.from_bytes(self.take(8, field), "big")

    def var_bytes(self, max_len: int, field: str) -> bytes:
        length = int.from_bytes(self.take(4, field + " length"), "big")
        if length > max_len:  # checked before anything is read or allocated
            raise CheckError(f"{self.what}: {field} length {length} exceeds {max_len}")
        return self.take(length, field)

    def text(self, max_len: int, field: str) -> str:
        return check_text(self.var_bytes(max_len, field), max_len, f"{self.what}: {field}")

    def opt_text(self, max_len: int, field: str) -> str | None:
        tag = self.u8(field + " option tag")
        if tag == 0:
            return None
        if tag == 1:
            return self.text(max_len, field)
        raise CheckError(f"{self.what}: {field}: option tag {tag} is neither 0 nor 1")

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise CheckError(f"{self.what}: {len(self.data) - self.pos} byte(s) left after the last field")


@dataclasses.dataclass
class Statement:
    version: int
    kind: int
    claimed_at_ms: int
    signer: bytes
    body: dict            # the decoded body in the manifest's JSON form (11.2)
    # The body's raw values where the JSON form is not enough for section 4.1
    # (keys as bytes, role/reason/effective codes).
    fields: dict = dataclasses.field(default_factory=dict)


class _Unrenderable:
    """Stands for a time that cannot be written as RFC 3339 (after year 9999).

    SPEC CHOICE: such a time is decoded (it is a valid u64), but no manifest
    value can equal it, so a record carrying one fails the body comparison.
    """

    def __repr__(self) -> str:
        return "<time out of range>"


def _show_ms(ms: int) -> str:
    """A time for a message: RFC 3339 when it can be written, else the number of milliseconds."""
    try:
        return rfc3339_ms(ms)
    except (ValueError, OverflowError):
        return f"{ms} ms"


def _time_or_unrenderable(ms: int) -> Any:
    try:
        return rfc3339_ms(ms)
    except ValueError:
        return _Unrenderable()


@dataclasses.dataclass
class Record:
    version: int
    seq: int
    prev: bytes
    recorded_at_ms: int
    statement_bytes: bytes
    signature: bytes
    statement: Statement


def decode_statement(data: bytes) -> Statement:
    """Strictly decode a statement (section 3)."""
    if len(data) > MAX_STATEMENT:
        raise CheckError(f"statement: {len(data)} bytes exceeds {MAX_STATEMENT}")
    r = _Reader(data, "statement")
    version = r.u8("version")
    if version != 1:
        raise CheckError(f"statement: unknown version {version}")
    kind = r.u8("kind")
    if kind not in KIND_NAMES:
        raise CheckError(f"statement: unknown kind {kind}")
    claimed = r.u64("claimed_at_ms")
    signer = r.take(32, "signer")
    body: dict[str, Any]
    if kind == KIND_GENESIS:
        origin = r.text(255, "origin")
        # SPEC CHOICE: the key-name rule for the genesis origin (section 3) is
        # enforced as part of strict decoding.
        if not is_valid_key_name(origin):
            raise CheckError("statement: origin is not a valid signed-note key name (white space or '+')")
        body = {"origin": origin}
    elif kind == KIND_TESTIMONY:
        body = {
            "subject": r.text(256, "subject"),
            "language": r.text(64, "language"),
            "consent": r.opt_text(256, "consent"),
            "location": r.opt_text(1024, "location"),
            "commitment": r.take(32, "commitment").hex(),
            "content_length": r.u64("content_length"),
        }
    elif kind == KIND_MEDIA:
        body = {
            "sha256": r.take(32, "sha256").hex(),
            "size": r.u64("size"),
            "name": r.opt_text(1024, "name"),
            "media_type": r.opt_text(255, "media_type"),
            "description": r.opt_text(4096, "description"),
        }
    else:
        body, fields = _decode_authority_body(kind, r)
        r.finish()
        return Statement(version, kind, claimed, signer, body, fields)
    r.finish()
    return Statement(version, kind, claimed, signer, body)


def _decode_authority_body(kind: int, r: "_Reader") -> tuple[dict, dict]:
    """Bodies of kinds 3-12 (section 3), in their 11.2 JSON form, and raw fields.

    An authorize statement naming role 4 (ledger) decodes: it breaks a rule
    of 4.1, not the encoding; so does a seal-to statement naming a recipient
    twice, and a consent statement whose scope is outside the vocabulary (a
    recorded value is read conservatively, section 3: it is text(256), judged
    by court_use_allowed()).  A seal-to `count` outside 1 to 16 is an
    encoding error, found before any recipient is read.
    """
    if kind == KIND_SEAL_TO:
        count = r.u8("count")
        if not 1 <= count <= MAX_SEAL_RECIPIENTS:
            raise CheckError(f"statement: seal-to count {count} outside 1..{MAX_SEAL_RECIPIENTS}")
        recipients = [r.take(32, f"recipient {i + 1} of {count}") for i in range(count)]
        return ({"recipients": [age_recipient(k) for k in recipients]}, {"recipients": recipients})
    if kind == KIND_CONSENT:
        target = r.u64("target")
        target_statement = r.take(32, "target_statement")
        consent = r.text(256, "consent")
        return ({"target": target, "target_statement": target_statement.hex(), "consent": consent},
                {"target": target, "target_statement": target_statement})
    if kind == KIND_ERASE:
        target = r.u64("target")
        target_statement = r.take(32, "target_statement")
        reason = r.text(4096, "reason")
        return ({"target": target, "target_statement": target_statement.hex(), "reason": reason},
                {"target": target, "target_statement": target_statement})
    if kind == KIND_AUTHORIZE:
        key = r.take(32, "key")
        name = r.text(256, "name")
        role = r.u8("role")
        if role not in ROLE_NAMES:
            raise CheckError(f"statement: unknown role {role}")
        return ({"key": b64(key), "key_id": key_id(key), "name": name, "role": ROLE_NAMES[role]},
                {"key": key, "role": role, "name": name})
    if kind == KIND_REVOKE:
        key = r.take(32, "key")
        reason = r.u8("reason")
        if reason not in REASON_NAMES:
            raise CheckError(f"statement: unknown revocation reason {reason}")
        tag = r.u8("effective tag")
        if tag == 0:
            effective: Any = "now"
            value = None
        elif tag == 1:
            value = r.u64("effective record")
            effective = {"seq": value}
        elif tag == 2:
            value = r.u64("effective time")
            effective = {"time_ms": value, "time": _time_or_unrenderable(value)}
        else:
            raise CheckError(f"statement: unknown effective tag {tag}")
        return ({"key": b64(key), "key_id": key_id(key), "reason": REASON_NAMES[reason], "effective": effective},
                {"key": key, "reason": reason, "effective_tag": tag, "effective": value})
    if kind == KIND_TRANSFER:
        exhibit = r.u64("exhibit")
        to = r.take(32, "to")
        body = {"exhibit": exhibit, "to": b64(to), "to_key_id": key_id(to),
                "reason": r.text(4096, "reason"), "location": r.opt_text(1024, "location")}
        return body, {"exhibit": exhibit, "to": to}
    if kind in (KIND_ACCEPT, KIND_CANCEL):
        transfer = r.u64("transfer")
        return {"transfer": transfer}, {"transfer": transfer}
    if kind == KIND_LEDGER_KEY:
        key = r.take(32, "key")
        return {"key": b64(key), "key_id": key_id(key)}, {"key": key}
    # KIND_AMEND
    target = r.u64("target")
    reason = r.text(4096, "reason")
    description = r.opt_text(4096, "description")
    tag = r.u8("content tag")
    if tag == 0:
        commitment, length = None, None
    elif tag == 1:
        commitment = r.take(32, "commitment").hex()
        length = r.u64("content_length")
    else:
        raise CheckError(f"statement: unknown amendment content tag {tag}")
    return ({"target": target, "reason": reason, "description": description, "commitment": commitment,
             "content_length": length},
            {"target": target, "has_text": tag == 1})


def decode_record(data: bytes) -> Record:
    """Strictly decode a record (section 4), including its statement."""
    # Section 4: anything over 65,664 bytes is refused before reading
    # further; the structure itself enforces the 65,653 of a valid record.
    if len(data) > MAX_RECORD:
        raise CheckError(f"record: {len(data)} bytes exceeds {MAX_RECORD}")
    r = _Reader(data, "record")
    version = r.u8("version")
    if version != 1:
        raise CheckError(f"record: unknown version {version}")
    seq = r.u64("seq")
    prev = r.take(32, "prev")
    recorded = r.u64("recorded_at_ms")
    statement_bytes = r.var_bytes(MAX_STATEMENT, "statement")
    signature = r.take(64, "signature")
    r.finish()
    statement = decode_statement(statement_bytes)
    return Record(version, seq, prev, recorded, statement_bytes, signature, statement)


def leaf_hash(record_bytes: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || record)."""
    return sha256(b"\x00" + record_bytes)


def verify_statement_signature(statement: Statement, statement_bytes: bytes, signature: bytes) -> bool:
    return ed25519_verify_strict(statement.signer, signature, STATEMENT_CONTEXT + statement_bytes)


# ---------------------------------------------------------------------------
# Key authority and custody (section 4.1), replayed over a bundle's records
# ---------------------------------------------------------------------------

CODE_UNAUTHORIZED = "unauthorized"
CODE_GENESIS = "genesis"
CODE_COMPROMISED = "signed-after-compromise"
CODE_TAINTED = "tainted-signer"
CODE_CHECKPOINT_KEY = "checkpoint-key"
CODE_CHECKPOINT_COMPROMISED = "checkpoint-compromised"
CODE_INCLUDED_FAILING = "included-failing"
CODE_CONSENT = "consent"        # section 9: a revealed text has the consent of section 3, or an override


@dataclasses.dataclass
class Compromise:
    """4.1: one revoke record that declared a key compromised, and its effective point.

    A key has one of these for every such record: declarations add up.
    """
    record: int            # r, the revoke record
    tag: int               # 0: from r itself; 1: from record `value`; 2: from time `value`
    value: int | None

    def covers(self, m: int, t_m: int | None) -> bool | None:
        """Is the key compromised for record m recorded at t_m?  None: t_m needed but unknown."""
        if self.tag == 0:
            return m >= self.record
        if self.tag == 1:
            return m >= self.value
        if t_m is None:
            return None
        return t_m >= self.value

    def text(self) -> str:
        if self.tag == 1:
            point = f"from record {self.value}"
        elif self.tag == 2:
            point = (f"from records recorded at or after {_time_or_unrenderable(self.value)} "
                     f"({self.value} ms)")
        else:
            point = f"from record {self.record} (the revocation itself)"
        return f"declared compromised by record {self.record}, effective {point}"


@dataclasses.dataclass
class KeyState:
    """A key as the replay knows it (4.1)."""
    key: bytes
    name: str
    role: int
    authorised_at: int              # the authorising record (0 for the genesis key)
    authorised_time: int            # that record's recorded time
    authoriser: bytes | None        # that record's signer; None for the genesis key
    ended_at: int | None = None     # the first revocation that ended it
    ended_reason: int | None = None
    compromises: list[Compromise] = dataclasses.field(default_factory=list)   # every declaration, in order

    @property
    def genesis(self) -> bool:
        return self.authoriser is None

    @property
    def label(self) -> str:
        return f"{ROLE_NAMES[self.role]} {q(self.name)} ({key_id(self.key)})"


@dataclasses.dataclass
class Holding:
    """The custody of one testimony or media record (4.1)."""
    seq: int
    holders: list[tuple[bytes, int, int | None]]   # (key, from record, by transfer record or None)
    pending: int | None = None                      # transfer record awaiting acceptance
    cancelled: list[int] = dataclasses.field(default_factory=list)   # transfer records cancelled

    @property
    def holder(self) -> bytes:
        return self.holders[-1][0]


@dataclasses.dataclass
class TransferState:
    seq: int
    exhibit: int
    sender: bytes
    to: bytes
    accepted_at: int | None = None
    cancelled_at: int | None = None

    @property
    def pending(self) -> bool:
        return self.accepted_at is None and self.cancelled_at is None


class AuthorityReplay:
    """Replays the rules of section 4.1 over the records of a bundle alone (11.3 check 12).

    The state starts empty; record 0 makes its signer the first admin and
    the first ledger key; a record that breaks a rule is reported
    ("unauthorized") and changes nothing in the state.  Once every record
    is replayed, each record that obeyed the rules is judged by the final
    state: "signed after compromise" when its signer is compromised for it,
    "signed by a tainted key" when its signer is tainted.  checkpoint()
    applies the checkpoint rule of 4.1.

    SPEC CHOICE: records whose signature or inclusion fails are still
    replayed (those failures are reported by their own checks); records that
    cannot be decoded are left out, and the authority check says so.
    """

    def __init__(self, records: Iterable[Record]):
        self.records: dict[int, Record] = {}
        for rec in records:
            self.records.setdefault(rec.seq, rec)
        self.keys: dict[bytes, KeyState] = {}
        self.chain: list[tuple[int, bytes]] = []          # the ledger-key chain: (record, key)
        self.holdings: dict[int, Holding] = {}
        self.transfers: dict[int, TransferState] = {}
        self.amendments: dict[int, list[int]] = {}
        self.seal_records: list[int] = []                  # the seal-to records that obeyed the rules (4.1: kept)
        self.consents: dict[int, list[tuple[int, str]]] = {}   # testimony -> its consent changes (record, scope)
        self.erased: dict[int, int] = {}                   # testimony or media record -> its erasure record
        self.seen: dict[bytes, int] = {}                   # statement digest -> first record (counts once)
        # A text counts once (4.1): commitment -> the first record of the bundle whose text has it, a
        # testimony or an amendment with a new text, WHETHER OR NOT it obeyed the rules ("among the
        # records at hand").  Records are taken in seq order, so the first seq is the earliest.
        self.texts: dict[str, int] = {}
        for seq in sorted(self.records):
            commitment = self.text_commitment(self.records[seq])
            if commitment is not None:
                self.texts.setdefault(commitment, seq)
        self.problems: dict[int, list[tuple[str, str]]] = {}   # seq -> [(code, message)]
        self.details: dict[int, str] = {}
        self.obeyed: list[int] = []
        self.broken_custody: dict[int, list[int]] = {}   # exhibit seq -> hand-over records that broke a rule
        for seq in sorted(self.records):
            rec = self.records[seq]
            try:
                self.details[seq] = self._apply(rec)
            except CheckError as exc:
                self.problems.setdefault(seq, []).append((exc.code or CODE_UNAUTHORIZED, str(exc)))
                exhibit = self._custody_subject(rec)
                if exhibit is not None:
                    self.broken_custody.setdefault(exhibit, []).append(seq)
            else:
                self.obeyed.append(seq)
        self._verdicts()

    # -- definitions of 4.1 ------------------------------------------------------

    @staticmethod
    def covering(state: KeyState, m: int, t_m: int | None) -> list[Compromise]:
        """The compromises of `state` that cover record m (recorded at t_m)."""
        return [c for c in state.compromises if c.covers(m, t_m)]

    @staticmethod
    def compromised_for(state: KeyState, m: int, t_m: int | None) -> bool | None:
        """4.1: `state` is compromised for record m (recorded at t_m) when ANY of its compromises
        covers m (declarations add up: a later one can widen the window, none can narrow it).
        None when no compromise surely covers m but one by time would need t_m, which is unknown."""
        answers = [c.covers(m, t_m) for c in state.compromises]
        if any(a is True for a in answers):
            return True
        return None if any(a is None for a in answers) else False

    @staticmethod
    def compromise_text(compromises: list[Compromise]) -> str:
        return "; and ".join(c.text() for c in compromises)

    def taint_of(self, state: KeyState) -> str | None:
        """Why `state` is tainted (its authoriser, or one up its chain, was compromised for the
        authorising record), or None.  The chain of authorisers ends at the genesis key."""
        k = state
        while k.authoriser is not None:
            authoriser = self.keys[k.authoriser]
            covering = self.covering(authoriser, k.authorised_at, k.authorised_time)
            if covering:
                who = "it" if k is state else f"{k.label}, in its chain of authorisers,"
                return (f"{who} was authorised by record {k.authorised_at}, signed by {authoriser.label}, "
                        f"which is compromised for that record ({self.compromise_text(covering)})")
            k = authoriser
        return None

    def active_at(self, state: KeyState, n: int) -> bool:
        """4.1: known, not tainted, authorised before n (the genesis key: from 0), not ended at or before n."""
        started = state.genesis or state.authorised_at < n
        return (started and (state.ended_at is None or state.ended_at > n)
                and self.taint_of(state) is None)

    def ledger_key_in_force(self, size: int) -> bytes | None:
        """The key of the last chain entry (m, key) with m < size; at size 0 the genesis key."""
        if not self.chain:
            return None
        if size == 0:
            return self.chain[0][1]
        in_force = None
        for m, key in self.chain:
            if m < size:
                in_force = key
        return in_force

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def text_commitment(rec: Record) -> str | None:
        """The commitment (hex) of a record's text: a testimony's, or an amendment's with a new text
        (whatever its target); None for any other record."""
        st = rec.statement
        if st.kind == KIND_TESTIMONY or (st.kind == KIND_AMEND and st.fields["has_text"]):
            return st.body["commitment"]
        return None

    def _custody_subject(self, rec: Record) -> int | None:
        """The exhibit a transfer, accept or cancel record concerns, when known."""
        st = rec.statement
        if st.kind == KIND_TRANSFER:
            return st.fields["exhibit"]
        if st.kind in (KIND_ACCEPT, KIND_CANCEL):
            transfer = self.records.get(st.fields["transfer"])
            if transfer is not None and transfer.statement.kind == KIND_TRANSFER:
                return transfer.statement.fields["exhibit"]
        return None

    def key_label(self, key: bytes) -> str:
        state = self.keys.get(key)
        return state.label if state else f"key {key_id(key)}"

    def _require_active(self, key: bytes, n: int, what: str) -> KeyState:
        state = self.keys.get(key)
        if state is None:
            hint = "" if 0 in self.records else " (the bundle has no record 0, the genesis)"
            raise CheckError(f"{what} {key_id(key)} is not authorised by any record of the bundle before "
                             f"record {n}{hint}")
        taint = self.taint_of(state)
        if taint is not None:
            raise CheckError(f"{what} {state.label} is tainted and counts as never authorised: {taint}")
        if not (state.genesis or state.authorised_at < n):
            raise CheckError(f"{what} {state.label} is authorised only by record {state.authorised_at}, "
                             f"not before record {n}")
        if state.ended_at is not None and state.ended_at <= n:
            raise CheckError(f"{what} {state.label} was revoked ({REASON_NAMES[state.ended_reason]}) by record "
                             f"{state.ended_at}, so it is not active at record {n}")
        return state

    def _earlier_record(self, target: int, n: int, what: str) -> Record:
        if target >= n:
            raise CheckError(f"names {what} {target}, which is not an earlier record")
        rec = self.records.get(target)
        if rec is None:
            raise CheckError(f"names {what} {target}, which is not in the bundle (a rule needs it)")
        return rec

    @staticmethod
    def _require_target_statement(rec: Record, target: Record, what: str) -> None:
        """4.1, consent and erase: `target_statement` is H(statement bytes of record target), so that a
        consent change or an erasure signed for record N of one ledger cannot be copied into another
        ledger where record N is another witness's (section 3).  Else the record breaks the rules
        (`unauthorized`)."""
        named = rec.statement.fields["target_statement"]
        actual = sha256(target.statement_bytes)
        if named != actual:
            raise CheckError(f"{what} names target_statement {named.hex()}, but record {target.seq}'s statement "
                             f"bytes hash to {actual.hex()} (4.1: the target's statement digest; a consent change "
                             "or erasure signed for another record, or another ledger's record of the same "
                             "number, changes nothing)")

    def _new_key(self, key: bytes, what: str) -> None:
        """The key is canonical, non-weak and never known to the state."""
        if is_weak_public_key(key):
            raise CheckError(f"{what} {key_id(key)} is not a canonical, non-weak Ed25519 key")
        known = self.keys.get(key)
        if known is not None:
            revoked = f", revoked by record {known.ended_at}" if known.ended_at is not None else ""
            origin = ("the genesis" if known.genesis else f"record {known.authorised_at}")
            raise CheckError(f"{what} {key_id(key)} is already known ({known.label}, authorised by {origin}"
                             f"{revoked}); a key is never authorised twice")

    # -- the rules -----------------------------------------------------------

    def _apply(self, rec: Record) -> str:
        """Check the record against the rules of 4.1; on success update the state."""
        n, st = rec.seq, rec.statement
        digest = sha256(rec.statement_bytes)
        if st.kind == KIND_GENESIS:
            if n != 0:
                raise CheckError(f"record {n} is a genesis; only record 0 may be", CODE_GENESIS)
            self.keys[st.signer] = KeyState(st.signer, "ledger", ROLE_ADMIN, 0, rec.recorded_at_ms, None)
            self.chain = [(0, st.signer)]
            self.seen.setdefault(digest, n)
            return f"the genesis: key {key_id(st.signer)} becomes the first admin and the first ledger key"
        if n == 0:
            raise CheckError("record 0 is not the genesis", CODE_GENESIS)
        signer = self._require_active(st.signer, n, "signer")
        if signer.role == ROLE_LEDGER:
            raise CheckError(f"{KIND_NAMES[st.kind]} signed by {signer.label}: a ledger-role key signs "
                             "checkpoints only")
        # A text counts once (4.1): a testimony, or an amendment with a new
        # text, whose commitment an EARLIER record's text of the bundle has
        # (testimony or amendment, whether or not it obeyed the rules) breaks
        # the rules.  With a fresh secret salt no honest text repeats a
        # commitment: a repeat is a signed statement appended again, which
        # would carry the consent it was signed with past a later withdrawal.
        # SPEC CHOICE (order, which only changes the message, never the
        # verdict): checked right after the signer's role, before the
        # statements that count once and the kind-specific rules.
        commitment = self.text_commitment(rec)
        first = self.texts.get(commitment) if commitment is not None else None
        if first is not None and first < n:
            names = {KIND_TESTIMONY: "testimony", KIND_AMEND: "amendment"}
            raise CheckError(f"the {names[st.kind]}'s text commitment {commitment} is that of record {first}'s "
                             f"text ({'a testimony' if self.records[first].statement.kind == KIND_TESTIMONY else 'an amendment'}): a text counts once (4.1; "
                             "with a fresh secret salt no honest text repeats a commitment, so this is a signed "
                             "statement appended again)")
        # Counts once (4.1): a statement equal to an earlier ADMITTED record's
        # breaks the rules; a record that broke a rule changed nothing, so it
        # is not remembered, and a statement refused once (say, a revocation
        # of the ledger key in force) may be appended again once the state
        # allows it.
        if st.kind not in HELD_KINDS and digest in self.seen:
            raise CheckError(f"the same {KIND_NAMES[st.kind]} statement as record {self.seen[digest]}: each "
                             "statement of this kind counts once (a replay)")
        by = f"signed by {signer.label}, active at record {n}"
        by += " (the genesis key)" if signer.genesis else f" (authorised by record {signer.authorised_at})"
        detail = self._apply_kind(rec, signer, by)
        if st.kind not in HELD_KINDS:
            self.seen[digest] = n
        return detail

    def _apply_kind(self, rec: Record, signer: KeyState, by: str) -> str:
        n, st, f = rec.seq, rec.statement, rec.statement.fields

        if st.kind in HELD_KINDS:
            if signer.role not in (ROLE_ADMIN, ROLE_INVESTIGATOR):
                raise CheckError(f"{KIND_NAMES[st.kind]} signed by {signer.label}: the role "
                                 f"{ROLE_NAMES[signer.role]} may not record evidence (admin or investigator needed)")
            self.holdings[n] = Holding(n, [(st.signer, n, None)])
            return by

        if st.kind == KIND_AUTHORIZE:
            if signer.role != ROLE_ADMIN:
                raise CheckError(f"authorize signed by {signer.label}: only an active admin may authorise keys")
            if f["role"] == ROLE_LEDGER:
                raise CheckError("authorize gives role ledger, which only a ledger-key statement gives")
            key = f["key"]
            self._new_key(key, "authorised key")
            self.keys[key] = KeyState(key, f["name"], f["role"], n, rec.recorded_at_ms, st.signer)
            return f"authorises {self.keys[key].label}; {by}"

        if st.kind == KIND_LEDGER_KEY:
            if signer.role != ROLE_ADMIN:
                raise CheckError(f"ledger-key signed by {signer.label}: only an active admin may name a ledger key")
            key = f["key"]
            self._new_key(key, "ledger key")
            self.keys[key] = KeyState(key, "ledger", ROLE_LEDGER, n, rec.recorded_at_ms, st.signer)
            previous = self.chain[-1][1]
            self.chain.append((n, key))
            return (f"names {key_id(key)} the ledger key from record {n + 1} on (instead of "
                    f"{key_id(previous)}); {by}")

        if st.kind == KIND_REVOKE:
            return self._apply_revoke(rec, signer, by)

        if st.kind == KIND_TRANSFER:
            exhibit = f["exhibit"]
            target = self._earlier_record(exhibit, n, "exhibit")
            if target.statement.kind not in HELD_KINDS:
                raise CheckError(f"names record {exhibit}, a {KIND_NAMES[target.statement.kind]}, not a testimony "
                                 "or media record")
            holding = self.holdings.get(exhibit)
            if holding is None:
                raise CheckError(f"exhibit {exhibit} has no holder (its record breaks a rule of 4.1)")
            if holding.holder != st.signer:
                raise CheckError(f"transfer of exhibit {exhibit} signed by {signer.label}, who is not its holder "
                                 f"(held by {self.key_label(holding.holder)})")
            if holding.pending is not None:
                raise CheckError(f"exhibit {exhibit} already has transfer {holding.pending} awaiting acceptance")
            if f["to"] == st.signer:
                raise CheckError(f"transfer of exhibit {exhibit} to its own holder")
            receiver = self._require_active(f["to"], n, "receiver")
            if receiver.role == ROLE_LEDGER:
                raise CheckError(f"receiver {receiver.label} has role ledger and cannot hold exhibits")
            self.transfers[n] = TransferState(n, exhibit, st.signer, f["to"])
            holding.pending = n
            return f"hands exhibit {exhibit} to {receiver.label}; {by}"

        if st.kind in (KIND_ACCEPT, KIND_CANCEL):
            what = KIND_NAMES[st.kind]
            t = f["transfer"]
            target = self._earlier_record(t, n, "transfer")
            if target.statement.kind != KIND_TRANSFER:
                raise CheckError(f"names record {t}, a {KIND_NAMES[target.statement.kind]}, not a transfer")
            transfer = self.transfers.get(t)
            if transfer is None:
                raise CheckError(f"transfer {t} breaks a rule of 4.1, so there is nothing to {what}")
            if transfer.accepted_at is not None:
                raise CheckError(f"transfer {t} was already accepted by record {transfer.accepted_at}")
            if transfer.cancelled_at is not None:
                raise CheckError(f"transfer {t} was cancelled by record {transfer.cancelled_at}")
            holding = self.holdings[transfer.exhibit]
            if st.kind == KIND_ACCEPT:
                if st.signer != transfer.to:
                    raise CheckError(f"acceptance of transfer {t} signed by {signer.label}, but the transfer "
                                     f"names {self.key_label(transfer.to)} as receiver")
                transfer.accepted_at = n
                holding.holders.append((st.signer, n, t))
                holding.pending = None
                return f"accepts transfer {t}: {signer.label} holds exhibit {transfer.exhibit} from here on; {by}"
            if st.signer != transfer.sender and signer.role != ROLE_ADMIN:
                raise CheckError(f"cancel of transfer {t} signed by {signer.label}, who is neither the transfer's "
                                 f"signer ({self.key_label(transfer.sender)}) nor an admin")
            transfer.cancelled_at = n
            holding.pending = None
            holding.cancelled.append(t)
            return (f"cancels transfer {t}: exhibit {transfer.exhibit} stays with "
                    f"{self.key_label(holding.holder)}; {by}")

        if st.kind == KIND_SEAL_TO:
            return self._apply_seal_to(rec, signer, by)

        if st.kind == KIND_CONSENT:
            t = f["target"]
            target = self._earlier_record(t, n, "target")
            tkind = target.statement.kind
            if tkind != KIND_TESTIMONY:
                raise CheckError(f"changes the consent of record {t}, a {KIND_NAMES[tkind]}, not a testimony "
                                 "(consent is a testimony's, never a media record's or an amendment's)")
            if t in self.erased:
                raise CheckError(f"changes the consent of testimony {t}, which record {self.erased[t]} erased")
            self._require_target_statement(rec, target, "consent record")
            if st.signer != target.statement.signer and signer.role != ROLE_ADMIN:
                raise CheckError(f"consent record signed by {signer.label}, who is neither the signer of "
                                 f"testimony {t} ({self.key_label(target.statement.signer)}) nor an admin")
            scope = st.body["consent"]
            self.consents.setdefault(t, []).append((n, scope))
            return f"sets the consent of testimony {t} to {q(scope)} from here on; {by}"

        if st.kind == KIND_ERASE:
            if signer.role != ROLE_ADMIN:
                raise CheckError(f"erase signed by {signer.label}: only an active admin may erase content")
            t = f["target"]
            target = self._earlier_record(t, n, "target")
            tkind = target.statement.kind
            if tkind not in HELD_KINDS:
                raise CheckError(f"erases record {t}, a {KIND_NAMES[tkind]}, not a testimony or media record")
            if t in self.erased:
                raise CheckError(f"erases {KIND_NAMES[tkind]} record {t}, already erased by record {self.erased[t]}")
            self._require_target_statement(rec, target, "erase record")
            self.erased[t] = n
            what = "texts, every version" if tkind == KIND_TESTIMONY else "sealed copy"
            return f"erases the content of {KIND_NAMES[tkind]} record {t} (its {what}); {by}"

        # KIND_AMEND
        t = f["target"]
        target = self._earlier_record(t, n, "target")
        tkind = target.statement.kind
        if tkind == KIND_AMEND:
            raise CheckError(f"amends record {t}, itself an amendment (only testimony or media may be amended)")
        if tkind not in HELD_KINDS:
            raise CheckError(f"amends record {t}, a {KIND_NAMES[tkind]}, not a testimony or media record")
        if t in self.erased:
            raise CheckError(f"amends {KIND_NAMES[tkind]} record {t}, which record {self.erased[t]} erased")
        if st.signer != target.statement.signer and signer.role != ROLE_ADMIN:
            raise CheckError(f"amendment signed by {signer.label}, who is neither the signer of record {t} "
                             "nor an admin")
        if tkind == KIND_TESTIMONY and (not f["has_text"] or st.body["description"] is not None):
            raise CheckError(f"a testimony (record {t}) is amended with a new text and no description")
        if tkind == KIND_MEDIA and (f["has_text"] or st.body["description"] is None):
            raise CheckError(f"a media record (record {t}) is amended with a new description and no text")
        self.amendments.setdefault(t, []).append(n)
        return f"amends {KIND_NAMES[tkind]} record {t}; {by}"

    def _apply_seal_to(self, rec: Record, signer: KeyState, by: str) -> str:
        """4.1, seal-to: `S` is an admin; no recipient is named twice.  The state keeps the record; which
        recipients are in force for a later record is decided by the final state (recipients_in_force)."""
        n, st = rec.seq, rec.statement
        if signer.role != ROLE_ADMIN:
            raise CheckError(f"seal-to signed by {signer.label}: only an active admin may name content recipients")
        recipients = st.fields["recipients"]
        twice = sorted({age_recipient(k) for k in recipients if recipients.count(k) > 1})
        if twice:
            raise CheckError("names the content recipient(s) " + ", ".join(twice) + " more than once")
        self.seal_records.append(n)
        return (f"seals testimony text from record {n + 1} on to {len(recipients)} content recipient(s): "
                + ", ".join(st.body["recipients"]) + " (until a later seal-to record that stands, and only while "
                f"this one stands by the final state: 4.1); {by}")

    def _apply_revoke(self, rec: Record, signer: KeyState, by: str) -> str:
        n, f = rec.seq, rec.statement.fields
        if signer.role != ROLE_ADMIN:
            raise CheckError(f"revoke signed by {signer.label}: only an active admin may revoke keys")
        key, reason = f["key"], f["reason"]
        target = self.keys.get(key)
        if target is None:
            raise CheckError(f"revokes key {key_id(key)}, which no record of the bundle authorises")
        # 4.1: the ledger key in force (the last chain entry) is never
        # revoked, neither retired nor declared compromised.
        if self.chain and key == self.chain[-1][1]:
            raise CheckError(f"revokes {target.label} ({REASON_NAMES[reason]}), but it is the ledger key in force "
                             f"(named by record {self.chain[-1][0]}); a new ledger key must be named first")
        # 4.1: a key already revoked may only be declared compromised (again):
        # a retired key found compromised, or a compromised key whose window
        # is found to be wider.  The windows add up.
        if target.ended_at is not None and reason != REASON_COMPROMISED:
            raise CheckError(f"revokes {target.label} as retired, but it was already revoked "
                             f"({REASON_NAMES[target.ended_reason]}) by record {target.ended_at}; a revoked key "
                             "may only be declared compromised (again)")
        if reason == REASON_COMPROMISED:
            self._refuse_self_voiding(rec, signer, target)
        if target.role == ROLE_ADMIN and self.active_at(target, n) and not any(
                k.role == ROLE_ADMIN and k.key != key and self.active_at(k, n) for k in self.keys.values()):
            raise CheckError(f"revokes {target.label}, an active admin, and no other admin is active at record {n}")
        if f["effective_tag"] == 1 and f["effective"] > n:
            raise CheckError(f"effective record {f['effective']} is after the revocation (record {n})")
        if f["effective_tag"] == 2 and f["effective"] > rec.recorded_at_ms:
            raise CheckError(f"effective time {f['effective']} ms is after the revocation's recorded time "
                             f"{rec.recorded_at_ms} ms")
        earlier = len(target.compromises)
        if target.ended_at is None:
            target.ended_at, target.ended_reason = n, reason
        extra = ""
        if reason == REASON_COMPROMISED:
            compromise = Compromise(n, f["effective_tag"], f["effective"])
            target.compromises.append(compromise)
            extra = f": {compromise.text()}"
            if target.ended_at != n:
                extra += f" ({REASON_NAMES[target.ended_reason]} since record {target.ended_at}"
                if earlier:
                    extra += (f"; this declaration adds to the {earlier} earlier one(s), by record(s) "
                              + ", ".join(str(c.record) for c in target.compromises[:-1]))
                extra += ")"
        return f"revokes {target.label} as {REASON_NAMES[reason]}{extra}; {by}"

    def _refuse_self_voiding(self, rec: Record, signer: KeyState, target: KeyState) -> None:
        """4.1, revoke: a compromise must not make its own signer compromised for this record or
        tainted (no single record voids the authority it is signed under).

        The declaration is tried on the state: with it added to the target's
        compromises, the signer must be neither compromised for this record
        (at its position and recorded time) nor tainted.  The signer is active
        here, so any such finding comes from this declaration alone: a key
        declaring itself compromised (every effective point of it covers the
        declaration itself), or an admin declaring compromised an authoriser
        up its own chain from before the record that authorised the next
        link (declaring the genesis key compromised from record 0 taints
        every key).  Such a record breaks the rules: it is `unauthorized` and
        changes nothing in the state.
        """
        n, f = rec.seq, rec.statement.fields
        compromise = Compromise(n, f["effective_tag"], f["effective"])
        target.compromises.append(compromise)
        try:
            covering = self.covering(signer, n, rec.recorded_at_ms)
            taint = self.taint_of(signer)
        finally:
            target.compromises.pop()
        if covering:
            raise CheckError(f"declares {target.label} compromised ({compromise.text()}), which would make its "
                             f"own signer {signer.label} compromised for this record; no single record voids "
                             "the authority it is signed under")
        if taint is not None:
            raise CheckError(f"declares {target.label} compromised ({compromise.text()}), which would make its "
                             f"own signer {signer.label} tainted: {taint}; no single record voids the "
                             "authority it is signed under")

    def _verdicts(self) -> None:
        """4.1 verdicts: each record that obeyed the rules, judged by the final state.

        Only those: a record that broke a rule was reported once, as
        `unauthorized` (its one problem), and gets no verdict code besides.
        """
        for seq in self.obeyed:
            rec = self.records[seq]
            state = self.keys.get(rec.statement.signer)
            if state is None:
                continue
            covering = self.covering(state, seq, rec.recorded_at_ms)
            if covering:
                self.problems.setdefault(seq, []).append(
                    (CODE_COMPROMISED, f"signed after compromise: {state.label} was "
                                       f"{self.compromise_text(covering)}"))
            taint = self.taint_of(state)
            if taint is not None:
                self.problems.setdefault(seq, []).append(
                    (CODE_TAINTED, f"signed by a tainted key: {state.label}: {taint}"))

    # -- content recipients (4.1, seal-to; section 15) ------------------------------

    def recipients_in_force(self, n: int) -> tuple[int | None, list[bytes]]:
        """4.1, seal-to: the recipients in force for record n are those of the last seal-to record before
        n that *stands* by the final state (it obeyed the rules and no verdict flags it: a thief's seal-to
        stops counting once the theft is declared); (that record, its keys), or (None, []) when none does.

        SPEC CHOICE: no check of 11.3 depends on it (a bundle reveals texts in plain, and sealing changes
        no commitment: section 15); it is kept so that the state is the one 4.1 describes, built from the
        bundle's records alone (11.2 brings no seal-to record into a bundle: one is there as an exhibit, or
        as a supporting record beyond 11.2's inclusions, and is judged like any other record; a flagged one
        is not among the verdicts check 12 excuses).
        """
        for seq in reversed(self.seal_records):
            if seq < n and self.stands(seq):
                return seq, list(self.records[seq].statement.fields["recipients"])
        return None, []

    # -- consent in force and erasure (section 3, 11.3 check 7) ------------------

    def stands(self, seq: int) -> bool:
        """A record *stands* when it obeyed the rules of 4.1 and no verdict flags it (section 3)."""
        return seq in self.records and seq not in self.problems

    def consent_records(self, testimony: int) -> list[int]:
        """Every consent record of the bundle naming `testimony`, in seq order, whether or not it obeyed
        the rules (a last one that broke a rule counts, as allowing no court use: section 3).

        SPEC CHOICE: a consent record naming the testimony's number with a `target_statement` that is not
        the testimony's statement digest (signed for another ledger's record of that number, 4.1) is
        counted too: it broke a rule, so as the last one it allows no court use.  Counting it only makes
        check 7 stricter; check 12 fails on it anyway (`unauthorized`, never excused)."""
        return [seq for seq in sorted(self.records)
                if self.records[seq].statement.kind == KIND_CONSENT
                and self.records[seq].statement.fields["target"] == testimony]

    def consent_in_force(self, testimony: int, own: str | None) -> tuple[bool, str]:
        """Section 3, "consent in force", given the bundle's records: (court use allowed, why).

        The scope of the testimony's last consent record, or the testimony's
        own `consent` when none changed it; a last consent record that does
        not stand (it broke a rule of 4.1, or a verdict flags it) allows no
        court use, whatever it says (a stolen key can withdraw consent but
        never grant it).  `own` is the testimony's own `consent`.
        """
        changes = self.consent_records(testimony)
        if not changes:
            allowed = court_use_allowed(own)
            return allowed, (f"consent in force {q(own)} (the testimony's own; no consent record of the bundle "
                             f"changed it), which {'allows' if allowed else 'does not allow'} court use")
        last = changes[-1]
        scope = self.records[last].statement.body["consent"]
        history = f"consent records of the bundle: {', '.join(map(str, changes))}"
        if not self.stands(last):
            why = "; ".join(f"{msg} [{code}]" for code, msg in self.problems.get(last, []))
            return False, (f"consent in force {q(scope)} by record {last}, the last consent record, which does not "
                           f"stand ({why}), so it allows no court use whatever it says (section 3; {history})")
        allowed = court_use_allowed(scope)
        return allowed, (f"consent in force {q(scope)} (record {last}, the last consent record; {history}), which "
                         f"{'allows' if allowed else 'does not allow'} court use")

    def text_erased_by(self, record: Record) -> tuple[int, int] | None:
        """(the testimony, its erasure record) when `record` is a testimony, or an amendment with a new text
        of one, that an erase record of the bundle erased (its texts, every version: section 3), else None."""
        st = record.statement
        if st.kind == KIND_TESTIMONY:
            testimony = record.seq
        elif st.kind == KIND_AMEND and st.body["commitment"] is not None:
            testimony = st.fields["target"]
        else:
            return None
        target = self.records.get(testimony)
        if target is not None and target.statement.kind == KIND_TESTIMONY and testimony in self.erased:
            return testimony, self.erased[testimony]
        return None

    # -- the checkpoint rule (11.3 check 12) ----------------------------------------

    def checkpoint(self, size: int, signer: bytes) -> str:
        """4.1: a checkpoint of `size` signed by `signer` is valid only when `signer` is the ledger key
        in force at `size`, that key is not tainted, and it is not compromised for record size - 1.

        Codes (4.1): a key that is not the one in force, or is tainted, is
        `checkpoint-key`; a compromise covering record size - 1 (or one by
        time when that record is not at hand) is `checkpoint-compromised`,
        and only that.  The first of these that applies is reported.
        """
        if not self.chain:
            raise CheckError("the bundle has no valid genesis (record 0), so the ledger-key chain is unknown",
                             CODE_CHECKPOINT_KEY)
        in_force = self.ledger_key_in_force(size)
        chain = " -> ".join(f"{key_id(k)} (record {m})" for m, k in self.chain)
        if in_force != signer:
            raise CheckError(f"the checkpoint of size {size} is signed by {key_id(signer)} (ledger.public_key), "
                             f"but the ledger key in force at size {size} is {key_id(in_force)} "
                             f"(ledger-key chain in the bundle: {chain})", CODE_CHECKPOINT_KEY)
        state = self.keys[in_force]
        taint = self.taint_of(state)
        if taint is not None:
            raise CheckError(f"the checkpoint of size {size} is signed by {key_id(in_force)}, the ledger key in "
                             f"force, but that key is tainted (a thief cannot name a ledger key and sign with it): "
                             f"{taint}", CODE_CHECKPOINT_KEY)
        if size > 0 and state.compromises:
            last = self.records.get(size - 1)
            t_last = last.recorded_at_ms if last is not None else None
            covering = self.covering(state, size - 1, t_last)
            if covering:
                raise CheckError(f"the ledger key {key_id(in_force)} was {self.compromise_text(covering)}, and the "
                                 f"checkpoint covers record {size - 1}: it vouches for nothing",
                                 CODE_CHECKPOINT_COMPROMISED)
            unknown = [c for c in state.compromises if c.covers(size - 1, t_last) is None]
            if unknown:
                raise CheckError(f"the ledger key {key_id(in_force)} was {self.compromise_text(unknown)}, and "
                                 f"record {size - 1}, the last the checkpoint covers, is not in the bundle: the "
                                 "checkpoint cannot be shown to precede the compromise", CODE_CHECKPOINT_COMPROMISED)
        return (f"signed by {key_id(in_force)}, the ledger key in force at size {size} (ledger-key chain: "
                f"{chain}), untainted and not compromised for record {size - 1}")

    # -- custody (11.3 check 13) -------------------------------------------------

    def custody(self, exhibit: int) -> str:
        """The holders of an exhibit in order; raises CheckError when the chain is broken."""
        holding = self.holdings.get(exhibit)
        broken = self.broken_custody.get(exhibit, [])
        if holding is None:
            raise CheckError(f"no custody chain: record {exhibit} itself breaks a rule of 4.1 (see its authority)")
        parts = []
        for key, since, via in holding.holders:
            how = f"from record {since}" + (f" (transfer {via} accepted)" if via is not None else " (its signer)")
            parts.append(f"{self.key_label(key)} {how}")
        text = "holders: " + "; then ".join(parts)
        for t in holding.cancelled:
            transfer = self.transfers[t]
            text += (f"; CANCELLED: transfer {t} to {self.key_label(transfer.to)} was cancelled by record "
                     f"{transfer.cancelled_at}")
        if holding.pending is not None:
            transfer = self.transfers[holding.pending]
            text += (f"; PENDING: transfer {holding.pending} to {self.key_label(transfer.to)} "
                     "is not yet accepted")
        if broken:
            raise CheckError(f"record(s) {', '.join(map(str, broken))} handing over, accepting or cancelling this "
                             f"exhibit break a rule of 4.1 (see their authority); {text}", CODE_UNAUTHORIZED)
        return text


# ---------------------------------------------------------------------------
# Merkle tree (section 5)
# ---------------------------------------------------------------------------

def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 section 2.1.3.2; raises CheckError when the proof does not verify."""
    if len(leaf) != 32 or len(root) != 32 or any(len(p) != 32 for p in proof):
        raise CheckError("every hash must be exactly 32 bytes")
    if index >= size:
        raise CheckError(f"index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise CheckError("proof is longer than the tree allows")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CheckError("proof is shorter than the tree requires")
    if r != root:
        raise CheckError(f"computed root {r.hex()} differs from the checkpoint root {root.hex()}")


# ---------------------------------------------------------------------------
# Checkpoints: C2SP signed note + tlog-checkpoint (section 6)
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: list[str]


def parse_signed_note(data: bytes) -> tuple[bytes, list[tuple[str, bytes, bytes]]]:
    """Split a C2SP signed note into (text, [(key name, key ID, signature)])."""
    if len(data) > MAX_NOTE:
        raise CheckError(f"note is {len(data)} bytes, more than {MAX_NOTE}")
    try:
        note = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise CheckError("note is not valid UTF-8") from exc
    for ch in note:
        cp = ord(ch)
        # Section 6: no control character (Unicode Cc) other than newline.
        if ch != "\n" and (cp <= 0x1F or 0x7F <= cp <= 0x9F):
            raise CheckError(f"note contains control character U+{cp:04X}")
    if not note.endswith("\n"):
        raise CheckError("note does not end with a newline")
    split = note.rfind("\n\n")   # C2SP: the text ends at the last empty line
    if split < 0:
        raise CheckError("note has no empty line before its signatures")
    text, sig_block = note[:split + 1], note[split + 2:]
    if not sig_block:
        raise CheckError("note has no signature lines")
    signatures = []
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(SIG_LINE_PREFIX):
            raise CheckError(f"malformed signature line {q(short(line, 80))}")
        name, _, sig_b64 = line[len(SIG_LINE_PREFIX):].partition(" ")
        if not is_valid_key_name(name):
            raise CheckError(f"signature line has an invalid key name {q(short(name, 80))}")
        try:
            blob = b64decode_strict(sig_b64)
        except ValueError as exc:
            raise CheckError(f"signature line by {q(name)}: {exc}") from exc
        if len(blob) < 5:
            raise CheckError(f"signature line by {q(name)} is too short")
        signatures.append((name, blob[:4], blob[4:]))
    return text.encode("utf-8"), signatures


def verify_checkpoint(data: bytes, origin: str, ledger_key: bytes) -> Checkpoint:
    """Verify a signed checkpoint of `origin` under the ledger key (section 6).

    Section 6: the signed text is the whole note text (extension lines are
    kept, signed and not interpreted, but none may be empty: the text has no
    empty line, so a checkpoint whose text has one is invalid like one with
    a bad signature); a checkpoint is accepted only if a signature by
    (origin, ledger note key ID) verifies, and refused if any signature line
    with that name and key ID fails.
    """
    if not is_valid_key_name(origin):
        raise CheckError(f"origin {q(origin)} is not a valid signed-note key name")
    text, signatures = parse_signed_note(data)
    # parse_signed_note splits at the LAST empty line, so an empty line
    # inside the text (an empty extension line) is still in `text` here.
    empty = [n for n, line in enumerate(text.decode("utf-8")[:-1].split("\n"), 1) if not line]
    if empty:
        raise CheckError(f"the checkpoint's signed text has an empty line (line {empty[0]}); section 6: a "
                         "checkpoint's text has no empty line")
    wanted_id = note_key_id(origin, ledger_key)
    ours = [sig for name, kid, sig in signatures if name == origin and kid == wanted_id]
    if not ours:
        raise CheckError(f"no signature by the ledger key ({origin}+{wanted_id.hex()})")
    for sig in ours:
        if not ed25519_verify_strict(ledger_key, sig, text):
            raise CheckError("the ledger key's signature does not verify")
    lines = text.decode("utf-8")[:-1].split("\n")
    if len(lines) < 3:
        raise CheckError("checkpoint body has fewer than three lines")
    if lines[0] != origin:
        raise CheckError(f"checkpoint origin {q(short(lines[0], 80))} is not {q(origin)}")
    try:
        size = parse_decimal_u64(lines[1])
        root = b64decode_strict(lines[2])
    except ValueError as exc:
        raise CheckError(f"checkpoint body: {exc}") from exc
    if len(root) != 32:
        raise CheckError(f"checkpoint root is {len(root)} bytes, not 32")
    return Checkpoint(origin, size, root, lines[3:])


# ---------------------------------------------------------------------------
# tlog-proof (section 7)
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class TlogProof:
    index: int
    hashes: list[bytes]
    checkpoint: bytes
    extra: bytes | None


def parse_tlog_proof(data: bytes) -> TlogProof:
    """Parse a C2SP tlog-proof.

    Section 7: an `extra` line is accepted only directly after the header,
    and ignored.
    """
    split = data.find(b"\n\n")
    if split < 0:
        raise CheckError("no empty line before the checkpoint")
    head, checkpoint = data[:split + 1], data[split + 2:]
    if not checkpoint:
        raise CheckError("no checkpoint after the empty line")
    if not head.isascii():
        raise CheckError("proof lines are not ASCII")
    lines = head.decode("ascii")[:-1].split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise CheckError(f"first line is {q(short(lines[0], 60))}, not {q(TLOG_PROOF_HEADER)}")
    pos, extra = 1, None
    if pos < len(lines) and lines[pos].startswith("extra "):
        try:
            extra = b64decode_strict(lines[pos][len("extra "):])
        except ValueError as exc:
            raise CheckError(f"extra line: {exc}") from exc
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise CheckError("no 'index' line")
    try:
        index = parse_decimal_u64(lines[pos][len("index "):])
    except ValueError as exc:
        raise CheckError(f"index line: {exc}") from exc
    hashes = []
    for n, line in enumerate(lines[pos + 1:], 1):
        try:
            h = b64decode_strict(line)
        except ValueError as exc:
            raise CheckError(f"proof hash {n}: {exc}") from exc
        if len(h) != 32:
            raise CheckError(f"proof hash {n} is {len(h)} bytes, not 32")
        hashes.append(h)
    return TlogProof(index, hashes, checkpoint, extra)


# ---------------------------------------------------------------------------
# Consistency proofs (section 5: RFC 9162 2.1.4.2)
# ---------------------------------------------------------------------------

def verify_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 section 2.1.4.2, as section 5 requires it: 0 < size1 <= size2, every hash exactly
    32 bytes, equal sizes with an empty proof and equal roots.  Raises CheckError."""
    if len(root1) != 32 or len(root2) != 32 or any(len(h) != 32 for h in proof):
        raise CheckError("every hash must be exactly 32 bytes")
    if not 0 < size1 <= size2:
        raise CheckError(f"sizes {size1} and {size2} are not 0 < old size <= new size")
    if size1 == size2:
        if proof:
            raise CheckError("a consistency proof between equal sizes must be empty")
        if root1 != root2:
            raise CheckError("equal sizes with different roots")
        return
    if not proof:
        raise CheckError("the consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:        # an exact power of 2: the old root is the first node
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise CheckError("the consistency proof is longer than the trees allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise CheckError("the consistency proof is shorter than the trees require")
    if fr != root1:
        raise CheckError(f"the proof gives old root {fr.hex()}, not the attested checkpoint's {root1.hex()}")
    if sr != root2:
        raise CheckError(f"the proof gives new root {sr.hex()}, not the bundle checkpoint's {root2.hex()}")


# ---------------------------------------------------------------------------
# Witness cosignatures (section 13: c2sp.org/tlog-cosignature, cosignature/v1)
# ---------------------------------------------------------------------------

COSIGNATURE_CONTEXT = b"cosignature/v1\ntime "
COSIGNATURE_BLOB = 4 + 8 + 64          # key ID, timestamp, Ed25519 signature
KEY_TYPE_ED25519, KEY_TYPE_COSIGNATURE = 0x01, 0x04


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    """Section 13: SHA-256(NAME || 0x0A || 0x04 || public key)[0..4]."""
    return sha256(name.encode("utf-8") + b"\n" + bytes([KEY_TYPE_COSIGNATURE]) + public_key)[:4]


@dataclasses.dataclass
class VerifierKey:
    name: str
    key_id: bytes
    public_key: bytes


def parse_cosignature_verifier_key(text: Any) -> VerifierKey:
    """A witness's verifier key `NAME+KEYID+base64(0x04 || public key)` (section 13); ValueError otherwise.

    The name is a signed-note key name (no white space, no '+'); KEYID is the
    8 hex digits of the key ID, which must be the one name and key give.
    SPEC CHOICE: KEYID is compared as a number, so either case of hex digits
    is read (the C2SP note format does not fix one); the base64 is the strict
    standard base64 of the spec's conventions.
    """
    if not isinstance(text, str):
        raise ValueError("is not a string")
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise ValueError("is not NAME+KEYID+BASE64")
    name, kid, blob_b64 = parts
    if not is_valid_key_name(name):
        raise ValueError(f"has an invalid key name {q(short(name, 80))}")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", kid):
        raise ValueError("has a key ID that is not 8 hex digits")
    blob = b64decode_strict(blob_b64)
    if len(blob) != 33 or blob[0] != KEY_TYPE_COSIGNATURE:
        raise ValueError("is not a cosignature/v1 key (type 0x04 and 32 key bytes)")
    public_key = blob[1:]
    computed = cosignature_key_id(name, public_key)
    if bytes.fromhex(kid) != computed:
        raise ValueError(f"has key ID {kid}, but its name and key give {computed.hex()}")
    return VerifierKey(name, computed, public_key)


def cosignature_message(timestamp: int, checkpoint_text: bytes) -> bytes:
    """Section 13: `cosignature/v1\\ntime T\\n` followed by the checkpoint's text."""
    return COSIGNATURE_CONTEXT + str(timestamp).encode("ascii") + b"\n" + checkpoint_text


def split_cosignature_blob(blob: bytes) -> tuple[bytes, int, bytes]:
    """(key ID, timestamp T, signature) of a 76-byte cosignature; ValueError otherwise."""
    if len(blob) != COSIGNATURE_BLOB:
        raise ValueError(f"the signature is {len(blob)} bytes, not {COSIGNATURE_BLOB} (key ID, timestamp, "
                         "Ed25519 signature)")
    timestamp = int.from_bytes(blob[4:12], "big")
    if timestamp >= 2 ** 63:
        raise ValueError(f"timestamp {timestamp} is not below 2^63")
    return blob[:4], timestamp, blob[12:]


def parse_note_signature_line(line: str) -> tuple[str, bytes]:
    """`— NAME base64` (without its newline) -> (NAME, decoded bytes); ValueError otherwise."""
    if not line.startswith(SIG_LINE_PREFIX):
        raise ValueError("does not start with an em dash and a space")
    name, sep, sig_b64 = line[len(SIG_LINE_PREFIX):].partition(" ")
    if not sep:
        raise ValueError("has no space between the name and the signature")
    if not is_valid_key_name(name):
        raise ValueError(f"has an invalid key name {q(short(name, 80))}")
    return name, b64decode_strict(sig_b64)


# ---------------------------------------------------------------------------
# DER (section 14 rule 1: "decoding and encoding it again gives its bytes")
# ---------------------------------------------------------------------------
#
# asn1crypto decodes BER leniently and keeps the bytes it was given.  Whether
# encoding the decoded value again gives the same bytes is decided in two
# parts: der_problem() applies the rules of X.690 DER to every TLV without a
# schema (minimal tags and lengths, no indefinite length, minimal integers,
# BOOLEAN 0x00/0xFF, BIT STRING padding, canonical OBJECT IDENTIFIER arcs and
# times, primitive/constructed forms), and asn1_canonical_problem() the rules
# that need the schema (no DEFAULT value written out, SET OF sorted) over the
# tree asn1crypto decoded.

_DER_PRIMITIVE_ONLY = frozenset({1, 2, 3, 4, 5, 6, 9, 10, 12, 13, 14, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                                 29, 30, 31, 32, 33, 34, 35, 36})
_DER_CONSTRUCTED_ONLY = frozenset({8, 11, 16, 17})
_UTC_TIME = re.compile(rb"[0-9]{12}Z")
_GENERALIZED_TIME = re.compile(rb"[0-9]{14}(?:\.[0-9]*[1-9])?Z")


def _der_header(data: bytes, pos: int, end: int) -> tuple[int, bool, int, int, int]:
    """(class, constructed, tag number, content start, content end) of the TLV at pos; ValueError."""
    if pos >= end:
        raise ValueError("truncated (no tag)")
    first = data[pos]
    pos += 1
    cls, constructed, number = first >> 6, bool(first & 0x20), first & 0x1F
    if number == 0x1F:
        number = 0
        for i in range(5):
            if pos >= end:
                raise ValueError("truncated tag")
            byte = data[pos]
            pos += 1
            if i == 0 and byte == 0x80:
                raise ValueError("a tag number with a leading zero digit")
            number = (number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        else:
            raise ValueError("a tag number too large")
        if number < 31:
            raise ValueError("a tag number below 31 in the long form")
    if pos >= end:
        raise ValueError("truncated (no length)")
    length = data[pos]
    pos += 1
    if length == 0x80:
        raise ValueError("an indefinite length (BER, not DER)")
    if length > 0x80:
        count = length & 0x7F
        if count > 4:
            raise ValueError("a length of more than 4 bytes")
        if pos + count > end:
            raise ValueError("truncated length")
        if data[pos] == 0:
            raise ValueError("a length with a leading zero byte")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
        if length < 0x80:
            raise ValueError("a long-form length below 128")
    if length > end - pos:
        raise ValueError("a length past the end of the enclosing value")
    return cls, constructed, number, pos, pos + length


def der_problem(data: bytes) -> str | None:
    """Why `data` is not one DER value by the primitive rules of X.690 (None when it is).

    Walks every TLV without recursion (a deep nesting is no danger).
    """
    try:
        _, _, _, _, end = _der_header(data, 0, len(data))
        if end != len(data):
            return f"{len(data) - end} byte(s) after the value"
        ranges = [(0, len(data))]
        while ranges:
            pos, stop = ranges.pop()
            while pos < stop:
                cls, constructed, number, start, end = _der_header(data, pos, stop)
                content = data[start:end]
                at = f"at offset {pos}"
                if cls == 0:
                    if number == 0:
                        return f"an end-of-contents marker {at}"
                    if constructed and number in _DER_PRIMITIVE_ONLY:
                        return f"a constructed encoding of universal type {number} {at}"
                    if not constructed and number in _DER_CONSTRUCTED_ONLY:
                        return f"a primitive encoding of universal type {number} {at}"
                    problem = _der_primitive_problem(number, content) if not constructed else None
                    if problem:
                        return f"{problem} {at}"
                if constructed:
                    ranges.append((start, end))
                pos = end
    except ValueError as exc:
        return str(exc)
    return None


def _der_primitive_problem(number: int, content: bytes) -> str | None:
    if number == 1:
        if len(content) != 1 or content[0] not in (0x00, 0xFF):
            return "a BOOLEAN that is not one byte 0x00 or 0xFF"
    elif number in (2, 10):
        if not content:
            return "an empty INTEGER"
        if len(content) > 1 and ((content[0] == 0 and content[1] < 0x80)
                                 or (content[0] == 0xFF and content[1] >= 0x80)):
            return "an INTEGER that is not minimally encoded"
    elif number == 3:
        if not content or content[0] > 7 or (len(content) == 1 and content[0]):
            return "a BIT STRING with a bad unused-bits count"
        if content[0] and content[-1] & ((1 << content[0]) - 1):
            return "a BIT STRING whose unused bits are not zero"
    elif number == 5:
        if content:
            return "a NULL with content"
    elif number in (6, 13):
        if not content or content[-1] & 0x80:
            return "a truncated OBJECT IDENTIFIER"
        previous = 0
        for byte in content:
            if byte == 0x80 and not previous & 0x80:
                return "an OBJECT IDENTIFIER arc with a leading zero digit"
            previous = byte
    elif number == 23:
        if not _UTC_TIME.fullmatch(content):
            return "a UTCTime that is not YYMMDDHHMMSSZ"
    elif number == 24:
        if not _GENERALIZED_TIME.fullmatch(content):
            return "a GeneralizedTime that is not DER (YYYYMMDDHHMMSS[.f]Z)"
    return None


_DEFAULT_ENCODINGS: dict[tuple[type, int], bytes] = {}

# SPEC CHOICE: the certificates (and CRLs) a SignedData carries are a SET OF whose order DER
# would fix, but `openssl ts -reply -chain` writes the signing certificate first, whatever
# the order of the encodings, and custody keeps such tokens (they carry no signature over
# that order).  So their order is not judged; every other SET OF must be in DER order (the
# signed attributes, the attribute values, each relative distinguished name, ...).
UNORDERED_SETS = frozenset({"CertificateSet", "RevocationInfoChoices"})


def _default_encoding(value: Any, index: int) -> bytes:
    """The DER of field `index`'s DEFAULT value in the asn1crypto Sequence type of `value` (cached)."""
    key = (type(value), index)
    if key not in _DEFAULT_ENCODINGS:
        _, spec, params = value._fields[index][:3]
        _DEFAULT_ENCODINGS[key] = spec(**params).dump()
    return _DEFAULT_ENCODINGS[key]


def asn1_canonical_problem(root: Any) -> str | None:
    """What encoding `root` (freshly decoded by asn1crypto) again would change, beyond der_problem()'s
    rules: a SEQUENCE field written out with its DEFAULT value, a SET OF whose elements are not in
    increasing order of their encodings, a SET whose components are not in tag order.

    asn1crypto can encode again itself (dump(force=True)), and its encoder applies exactly these rules;
    but it revisits every subtree at every level (about 0.2 s for one small token, far more for a large
    hostile one), so this walks the decoded tree once, comparing the bytes as given with what those rules
    require.  It reads asn1crypto's decoded children (`children`, `_fields`, `_lazy_child`): the tuples
    there are the fields present in the bytes, the objects the DEFAULT values it filled in for absent
    ones.  OCTET STRINGs holding DER (a TSTInfo, an extension's value) and ANY values are not entered:
    the TSTInfo and the extensions the checks read are decoded, and so checked, on their own.
    """
    stack = [root]
    while stack:
        value = stack.pop()
        if isinstance(value, asn1_core.Choice):
            stack.append(value.chosen)
        elif isinstance(value, asn1_core.Sequence):
            if value.children is None:
                value._parse_children()
            tags = []
            for index, child in enumerate(value.children):
                if child.__class__ is not tuple:
                    continue   # VOID (an absent optional field) or a DEFAULT filled in for an absent one
                encoding = child[3] + child[4] + child[5]
                if index < len(value._fields) and "default" in value._fields[index][2] \
                        and encoding == _default_encoding(value, index):
                    return f"{type(value).__name__}.{value._fields[index][0]} written out with its DEFAULT value"
                tags.append((child[0], child[2]))
                stack.append(value._lazy_child(index))
            if isinstance(value, asn1_core.Set) and tags != sorted(tags):
                return f"the components of a SET ({type(value).__name__}) are not in tag order"
        elif isinstance(value, asn1_core.SequenceOf):
            if value.children is None:
                value._parse_children()
            encodings = []
            for index, child in enumerate(value.children):
                encodings.append(child[3] + child[4] + child[5] if child.__class__ is tuple else child.dump())
                stack.append(value._lazy_child(index))
            if isinstance(value, asn1_core.SetOf) and type(value).__name__ not in UNORDERED_SETS \
                    and encodings != sorted(encodings):
                return f"the elements of a SET OF ({type(value).__name__}) are not in increasing order"
    return None


def der_decode_exact(data: bytes, spec: Any, what: str) -> Any:
    """Decode `data` as the asn1crypto type `spec`, requiring DER exactly (section 14 rule 1: decoding it
    and encoding it again gives its bytes): the primitive rules of der_problem(), then the structural ones
    of asn1_canonical_problem().  Returns the decoded value.  Raises CheckError."""
    problem = der_problem(data)
    if problem:
        raise CheckError(f"{what} is not DER: {problem}")
    try:
        value = spec.load(data, strict=True)
        problem = asn1_canonical_problem(value)
    except Exception as exc:   # asn1crypto raises several types for bad input
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckError(f"{what} does not decode as {spec.__name__}: {short(message, 200)}") from exc
    if problem:
        raise CheckError(f"{what} is not DER exactly (encoding it again would give other bytes): {problem}")
    return value


# ---------------------------------------------------------------------------
# X.509 certificates and RFC 3161 time-stamp tokens (section 14, 11.3 check 15)
# ---------------------------------------------------------------------------

OID_SHA1 = "1.3.14.3.2.26"
DIGEST_OIDS = {"2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
               "2.16.840.1.101.3.4.2.3": "sha512"}
HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
ECDSA_SIGNATURE_OIDS = {"1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384"}
RSA_SIGNATURE_OIDS = {"1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384",
                      "1.2.840.113549.1.1.13": "sha512"}
OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
CURVE_DIGESTS = {"secp256r1": "sha256", "secp384r1": "sha384"}   # rule 4: P-256/SHA-256, P-384/SHA-384

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
OID_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"

EXT_BASIC_CONSTRAINTS, EXT_KEY_USAGE = "2.5.29.19", "2.5.29.15"
EXT_EXTENDED_KEY_USAGE, EXT_SUBJECT_ALT_NAME = "2.5.29.37", "2.5.29.17"
# Section 14 rule 6: no critical extension but these.
CRITICAL_EXTENSIONS_ALLOWED = frozenset({EXT_BASIC_CONSTRAINTS, EXT_KEY_USAGE, EXT_EXTENDED_KEY_USAGE,
                                         EXT_SUBJECT_ALT_NAME})

MAX_TOKEN = 32 * 1024               # section 14: a response is at most 32 KiB
MAX_TOKEN_INTERMEDIATES = 3         # rule 6: through at most three of the token's certificates
MAX_TSA_CERT_FILE = 1024 * 1024     # a --tsa-cert PEM file
PEM_CERT_BEGIN, PEM_CERT_END = b"-----BEGIN CERTIFICATE-----\n", b"-----END CERTIFICATE-----\n"


def canonical_certificate_pem(der: bytes) -> bytes:
    """11.1: the exact text of a `tsa/<sha256>.pem` member: the base64 of the DER in lines of 64
    characters (the last one shorter or equal), each ending with a newline, between the two lines."""
    text = base64.b64encode(der)
    return PEM_CERT_BEGIN + b"".join(text[i:i + 64] + b"\n" for i in range(0, len(text), 64)) + PEM_CERT_END


def parse_certificate_member(data: bytes) -> bytes:
    """A bundle's `tsa/<sha256>.pem` member -> the certificate's DER (ValueError unless the member is
    exactly canonical_certificate_pem() of it)."""
    if not (data.startswith(PEM_CERT_BEGIN) and data.endswith(PEM_CERT_END)
            and len(data) > len(PEM_CERT_BEGIN) + len(PEM_CERT_END)):
        raise ValueError("is not one PEM certificate block (-----BEGIN CERTIFICATE----- ... -----END "
                         "CERTIFICATE-----, each line ending with a newline)")
    body = data[len(PEM_CERT_BEGIN):-len(PEM_CERT_END)]
    try:
        der = b64decode_strict(body.replace(b"\n", b"").decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"holds no valid base64: {exc}") from exc
    if canonical_certificate_pem(der) != data:
        raise ValueError("is not exactly the PEM text of 11.1 (base64 in lines of 64 characters, each ending with "
                         "a newline, no other bytes)")
    return der


@dataclasses.dataclass
class Certificate:
    """One X.509 certificate, decoded (DER exactly) with what the checks need."""
    der: bytes = dataclasses.field(repr=False)
    asn: Any = dataclasses.field(repr=False)     # asn1crypto.x509.Certificate
    sha256: str
    subject: bytes = dataclasses.field(repr=False)   # DER of the subject Name
    issuer: bytes = dataclasses.field(repr=False)
    serial: int
    label: str                     # for messages: subject and SHA-256 prefix

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer


def load_certificate(der: bytes, what: str) -> Certificate:
    """Decode a certificate, DER exactly (CheckError otherwise)."""
    cert = der_decode_exact(der, asn1_x509.Certificate, what)
    try:
        tbs = cert["tbs_certificate"]
        subject = tbs["subject"].dump()
        issuer = tbs["issuer"].dump()
        serial = tbs["serial_number"].native
        name = tbs["subject"].human_friendly
    except Exception as exc:
        raise CheckError(f"{what} does not decode: {type(exc).__name__}: {exc}") from exc
    digest = sha256(der).hex()
    return Certificate(der, cert, digest, subject, issuer, serial, f"{q(short(name, 120))} (SHA-256 {digest[:16]}...)")


@dataclasses.dataclass
class CertificateFacts:
    """The extensions rule 6 and rule 5 look at, read from a certificate found well-formed."""
    basic_ca: bool | None              # None: no basic constraints
    path_len: int | None
    key_usage: set | None              # None: no key usage
    eku: list[str] | None              # dotted OIDs; None: no extended key usage
    eku_critical: bool
    key_identifier: bytes | None


def certificate_facts(cert: Certificate, at: datetime.datetime) -> CertificateFacts:
    """Section 14 rule 6 for one certificate of a chain: v3, each extension at most once, no critical
    extension but basic constraints, key usage, extended key usage and subject alternative name, inner
    and outer signature algorithms equal, and valid at `at` (the stamped time: 11.3 check 15).
    The extensions it reads are DER exactly.  Raises CheckError naming the certificate."""
    tbs = cert.asn["tbs_certificate"]
    if tbs["version"].native != "v3":
        raise CheckError(f"certificate {cert.label} is not v3")
    if tbs["signature"].dump() != cert.asn["signature_algorithm"].dump():
        raise CheckError(f"certificate {cert.label}: its inner and outer signature algorithms differ")
    validity = tbs["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if not not_before <= at <= not_after:
        raise CheckError(f"certificate {cert.label} is not valid at the stamped time {at.isoformat()} "
                         f"(valid from {not_before.isoformat()} to {not_after.isoformat()})")
    seen: set[str] = set()
    facts = CertificateFacts(None, None, None, None, False, None)
    extensions = tbs["extensions"]
    for ext in ([] if isinstance(extensions, asn1_core.Void) else extensions):
        oid = ext["extn_id"].dotted
        if oid in seen:
            raise CheckError(f"certificate {cert.label} has extension {oid} more than once")
        seen.add(oid)
        critical = bool(ext["critical"].native)
        if critical and oid not in CRITICAL_EXTENSIONS_ALLOWED:
            raise CheckError(f"certificate {cert.label} has a critical extension {oid} (only basic constraints, key "
                             "usage, extended key usage and subject alternative name may be critical)")
        value = ext["extn_value"].contents
        where = f"certificate {cert.label}: extension {oid}"
        if oid == EXT_BASIC_CONSTRAINTS:
            bc = der_decode_exact(value, asn1_x509.BasicConstraints, where)
            facts.basic_ca = bool(bc["ca"].native)
            facts.path_len = bc["path_len_constraint"].native
        elif oid == EXT_KEY_USAGE:
            facts.key_usage = set(der_decode_exact(value, asn1_x509.KeyUsage, where).native)
        elif oid == EXT_EXTENDED_KEY_USAGE:
            facts.eku = [p.dotted for p in der_decode_exact(value, asn1_x509.ExtKeyUsageSyntax, where)]
            facts.eku_critical = critical
        elif oid == "2.5.29.14":
            facts.key_identifier = der_decode_exact(value, asn1_core.OctetString, where).native
        else:
            problem = der_problem(value)
            if problem:
                raise CheckError(f"{where} is not DER: {problem}")
    return facts


def certificate_public_key(cert: Certificate) -> Any:
    try:
        return serialization.load_der_public_key(cert.asn["tbs_certificate"]["subject_public_key_info"].dump())
    except Exception as exc:
        raise CheckError(f"certificate {cert.label}: its public key cannot be read ({exc})") from exc


def verify_with_key(public_key: Any, algorithm_oid: str, digest: str | None, signature: bytes, data: bytes,
                    what: str) -> None:
    """Section 14 rule 4's algorithms: ECDSA P-256 with SHA-256, ECDSA P-384 with SHA-384, RSA PKCS#1 v1.5
    with SHA-256/384/512, the digest agreeing with the signature algorithm.  `digest` is the digest
    algorithm named beside the signature algorithm (a SignerInfo's), or None when the signature
    algorithm alone names it (a certificate's).  Raises CheckError.

    SPEC CHOICE: section 14 lists these algorithms for the token's signature; the same list and the
    same pairing of curve and digest are applied to the certificates' signatures (rule 6), for which
    the spec names none (custody refuses a P-384 certificate signed with SHA-256 too).  A SignerInfo
    may name rsaEncryption as its signature algorithm (as OpenSSL writes it): the digest is then the
    SignerInfo's digest algorithm."""
    if algorithm_oid in ECDSA_SIGNATURE_OIDS:
        wanted = ECDSA_SIGNATURE_OIDS[algorithm_oid]
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise CheckError(f"{what}: an ECDSA signature algorithm with a key that is not ECDSA")
        curve_digest = CURVE_DIGESTS.get(public_key.curve.name)
        if curve_digest is None:
            raise CheckError(f"{what}: ECDSA key on curve {public_key.curve.name} (only P-256 and P-384)")
        if curve_digest != wanted or (digest is not None and digest != wanted):
            raise CheckError(f"{what}: the digest algorithm ({digest or wanted}) does not agree with the signature "
                             f"algorithm (ECDSA with {wanted}) and the key's curve ({public_key.curve.name})")
        verify = lambda: public_key.verify(signature, data, ec.ECDSA(HASHES[wanted]()))  # noqa: E731
    elif algorithm_oid in RSA_SIGNATURE_OIDS or (digest is not None and algorithm_oid == OID_RSA_ENCRYPTION):
        wanted = RSA_SIGNATURE_OIDS.get(algorithm_oid, digest)
        if digest is not None and digest != wanted:
            raise CheckError(f"{what}: the digest algorithm ({digest}) does not agree with the signature algorithm "
                             f"(RSA with {wanted})")
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise CheckError(f"{what}: an RSA signature algorithm with a key that is not RSA")
        verify = lambda: public_key.verify(signature, data, padding.PKCS1v15(), HASHES[wanted]())  # noqa: E731
    else:
        raise CheckError(f"{what}: signature algorithm {algorithm_oid} is not ECDSA P-256/SHA-256, ECDSA "
                         "P-384/SHA-384 or RSA PKCS#1 v1.5 with SHA-256/384/512")
    try:
        verify()
    except InvalidSignature as exc:
        raise CheckError(f"{what}: the signature does not verify") from exc
    except Exception as exc:   # a malformed signature value, an unusable key
        raise CheckError(f"{what}: the signature cannot be verified ({type(exc).__name__}: {exc})") from exc


def _digest_name(algorithm: Any, what: str, allowed=DIGEST_OIDS) -> str:
    """A digest AlgorithmIdentifier of `allowed`, its parameters absent or NULL."""
    oid = algorithm["algorithm"].dotted
    if oid not in allowed:
        raise CheckError(f"{what} {oid} is not SHA-256, SHA-384 or SHA-512")
    params = algorithm["parameters"]
    if not (isinstance(params, (asn1_core.Void, asn1_core.Null)) or params.native is None):
        raise CheckError(f"{what} has parameters (absent or NULL expected)")
    return allowed[oid]


@dataclasses.dataclass
class TokenFacts:
    """What a verified token says (compared with its manifest entry by the caller)."""
    serial: str                    # lowercase hex of the DER content octets
    gen_time_ms: int
    signer: Certificate
    chain: list[Certificate]       # the signing certificate first, the trusted one last
    accuracy_ms: int | None = None  # the TSTInfo's accuracy in ms (micros rounded up), None when absent


def gen_time_ms(raw: bytes) -> int:
    """genTime content octets -> unix ms.  Section 14: exactly YYYYMMDDHHMMSSZ (a fraction is refused)."""
    if not re.fullmatch(rb"[0-9]{14}Z", raw):
        raise CheckError(f"genTime {q(raw.decode('ascii', 'backslashreplace'))} is not exactly YYYYMMDDHHMMSSZ "
                         "(section 14: fractional seconds are refused)")
    try:
        when = datetime.datetime.strptime(raw[:14].decode("ascii"), "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise CheckError(f"genTime {q(raw.decode('ascii'))} is not a valid time") from exc
    delta = when - datetime.datetime(1970, 1, 1)
    return (delta.days * 86400 + delta.seconds) * 1000


class TokenVerifier:
    """Section 14 rules 1 to 6 for a bundle's token (11.3 checks 15 and 16): no nonce, the trusted
    certificates given, the certificates valid at the stamped time only.  Rule 7's replacement (the
    stamped time within the attestation times of 11.3 check 15) and the comparison with the manifest
    entry are the caller's.  Every malformed input is a CheckError, never another exception.

    SPEC CHOICES: the 32 KiB bound section 14 sets on a response the ledger takes in is applied to a
    bundle's tokens too; the TSTInfo's `tsa` name and a certificate's issuer are compared with the
    subject they must equal as DER bytes; a certificate is valid at t when notBefore <= t <= notAfter.
    Fields no rule names (SignedData and SignerInfo versions, the SignedData's digestAlgorithms,
    unsigned attributes) are not judged."""

    def __init__(self, trusted: list[Certificate]):
        self.trusted = trusted
        self._signature_cache: dict[tuple[str, str], str | None] = {}

    def verify(self, tsr: bytes, imprint_data: bytes) -> TokenFacts:
        try:
            return self._verify(tsr, imprint_data)
        except CheckError:
            raise
        except Exception as exc:   # asn1crypto raises many types on malformed input: a failed check
            raise CheckError(f"the token is malformed ({type(exc).__name__}: "
                             f"{short(str(exc).splitlines()[0] if str(exc) else '', 200)})") from exc

    def _verify(self, tsr: bytes, imprint_data: bytes) -> TokenFacts:
        # Rule 1: DER exactly, granted, with a token.
        if len(tsr) > MAX_TOKEN:
            raise CheckError(f"the response is {len(tsr)} bytes, more than {MAX_TOKEN} (section 14)")
        resp = der_decode_exact(tsr, TimeStampResp, "the response")
        status = resp["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise CheckError(f"the response's status is {q(status)}, not granted (0) or granted with modifications (1)")
        token = resp["time_stamp_token"]
        if isinstance(token, asn1_core.Void):
            raise CheckError("the response carries no token")
        # Rule 2: SignedData of id-ct-TSTInfo; the TSTInfo.
        if token["content_type"].dotted != OID_SIGNED_DATA:
            raise CheckError(f"the token's content type is {token['content_type'].dotted}, not SignedData")
        signed = token["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != OID_TST_INFO:
            raise CheckError(f"the encapsulated content type is {encap['content_type'].dotted}, not id-ct-TSTInfo")
        if isinstance(encap["content"], asn1_core.Void):
            raise CheckError("the token encapsulates no TSTInfo")
        tst_bytes = encap["content"].contents
        tst = der_decode_exact(tst_bytes, asn1_tsp.TSTInfo, "the TSTInfo")
        imprint = tst["message_imprint"]
        if _digest_name(imprint["hash_algorithm"], "the message imprint's hash algorithm") != "sha256":
            raise CheckError("the message imprint is not SHA-256")
        if imprint["hashed_message"].native != sha256(imprint_data):
            raise CheckError("the message imprint is not the SHA-256 of the checkpoint file")
        serial_value = tst["serial_number"].native
        if serial_value <= 0 or serial_value >= 2 ** 160:
            raise CheckError(f"the serial number {serial_value} is not a positive integer (not zero) below 2^160")
        accuracy_ms = self._accuracy_ms(tst["accuracy"])
        serial = tst["serial_number"].contents.hex()
        extensions = tst["extensions"]
        if not isinstance(extensions, asn1_core.Void):
            for ext in extensions:
                if ext["critical"].native:
                    raise CheckError(f"the TSTInfo has a critical extension {ext['extn_id'].dotted}")
        stamped_ms = gen_time_ms(tst["gen_time"].contents)
        stamped = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
            milliseconds=stamped_ms)
        # Rule 3: at most 8 certificates, none twice, exactly one SignerInfo and its signed attributes.
        # The count is of every entry of the SignedData's `certificates` set, whatever its choice (an
        # attribute or other certificate is carried too); the chain search below uses only the X.509 ones.
        # No entry may appear twice (a set with the same element twice is not DER's SET OF): two entries
        # are the same when their encodings are.
        carried = signed["certificates"]
        entries = [] if isinstance(carried, asn1_core.Void) else [choice.dump() for choice in carried]
        if len(entries) > MAX_CARRIED_CERTIFICATES:
            raise CheckError(f"the token carries {len(entries)} certificates, more than "
                             f"{MAX_CARRIED_CERTIFICATES} (section 14 rule 3)")
        for n, der in enumerate(entries):
            if der in entries[:n]:
                raise CheckError(f"the token's certificate {n + 1} repeats certificate {entries.index(der) + 1} "
                                 "(section 14 rule 3: none twice, a SET OF with the same element twice is not DER)")
        infos = signed["signer_infos"]
        if len(infos) != 1:
            raise CheckError(f"the token has {len(infos)} SignerInfos, not exactly one")
        info = infos[0]
        digest = _digest_name(info["digest_algorithm"], "the SignerInfo's digest algorithm")
        attrs = info["signed_attrs"]
        if isinstance(attrs, asn1_core.Void):
            raise CheckError("the SignerInfo has no signed attributes")
        by_type: dict[str, list] = {}
        for attr in attrs:
            by_type.setdefault(attr["type"].dotted, []).append(attr)

        def single(oid: str, what: str) -> Any:
            found = by_type.get(oid, [])
            if len(found) != 1 or len(found[0]["values"]) != 1:
                raise CheckError(f"the signed attributes do not hold exactly one {what}")
            return found[0]["values"][0]

        content_type = single(OID_CONTENT_TYPE, "content type")
        if content_type.dotted != OID_TST_INFO:
            raise CheckError(f"the signed content type is {content_type.dotted}, not id-ct-TSTInfo")
        message_digest = single(OID_MESSAGE_DIGEST, "message digest")
        if message_digest.native != hashlib.new(digest, tst_bytes).digest():
            raise CheckError(f"the signed message digest is not the {digest} of the TSTInfo")
        ess = by_type.get(OID_SIGNING_CERTIFICATE, []) + by_type.get(OID_SIGNING_CERTIFICATE_V2, [])
        if len(ess) != 1 or len(ess[0]["values"]) != 1:
            raise CheckError("the signed attributes do not hold exactly one ESS signing-certificate attribute "
                             "(signingCertificate or signingCertificateV2)")
        ess_value = ess[0]["values"][0]
        if len(ess_value["certs"]) == 0:
            raise CheckError("the ESS signing-certificate attribute names no certificate")
        first = ess_value["certs"][0]
        if ess[0]["type"].dotted == OID_SIGNING_CERTIFICATE_V2:
            ess_digest = _digest_name(first["hash_algorithm"], "the signingCertificateV2 hash algorithm")
        else:
            ess_digest = "sha1"
        ess_hash = first["cert_hash"].native
        # Rule 4: the signing certificate, among the token's certificates or the trusted ones.
        token_certs = self._token_certificates(signed)
        candidates = self._signer_candidates(info["sid"], token_certs + self.trusted)
        if not candidates:
            raise CheckError("no certificate of the token or the trusted ones is the one the signer identifier names")
        matching = [c for c in candidates if hashlib.new(ess_digest, c.der).digest() == ess_hash]
        if not matching:
            raise CheckError(f"the ESS signing-certificate hash ({ess_digest}) is not that of the certificate the "
                             "signer identifier names")
        signer = matching[0]
        if not isinstance(tst["tsa"], asn1_core.Void):
            tsa = tst["tsa"]
            subject = asn1_x509.Name.load(signer.subject).chosen.dump()
            if tsa.name != "directory_name" or tsa.chosen.chosen.dump() != subject:
                raise CheckError("the TSTInfo's tsa field is not the signing certificate's subject")
        signed_attrs_der = attrs.dump()
        if signed_attrs_der[:1] != b"\xa0":
            raise CheckError("the signed attributes are not tagged [0]")
        verify_with_key(certificate_public_key(signer), info["signature_algorithm"]["algorithm"].dotted, digest,
                        info["signature"].native, b"\x31" + signed_attrs_der[1:], "the token's signature")
        # Rule 5: the signing certificate's key usages.
        facts = certificate_facts(signer, stamped)
        if facts.eku is None or not facts.eku_critical or facts.eku != [OID_TIME_STAMPING]:
            raise CheckError(f"the signing certificate {signer.label} does not have a critical extended key usage "
                             "of exactly id-kp-timeStamping")
        if facts.key_usage is not None and not facts.key_usage & {"digital_signature", "non_repudiation"}:
            raise CheckError(f"the signing certificate {signer.label}'s key usage allows neither digital signatures "
                             "nor non-repudiation")
        # Rule 6: a chain to a trusted certificate.
        chain = self._chain(signer, token_certs, stamped)
        return TokenFacts(serial, stamped_ms, signer, chain, accuracy_ms)

    @staticmethod
    def _accuracy_ms(accuracy: Any) -> int | None:
        """Rule 2: the TSTInfo's `accuracy`, when present, has `millis` and `micros` each 1 to 999 when present;
        the token then vouches for no later than genTime plus seconds, millis and micros (micros rounded up to a
        millisecond).  Returns that addition in ms, None without an accuracy.

        Rule 2: `seconds` a non-negative integer below 2^64."""
        if isinstance(accuracy, asn1_core.Void):
            return None
        total = 0
        for field, unit in (("seconds", 1000), ("millis", 1), ("micros", None)):
            value = accuracy[field]
            if isinstance(value, asn1_core.Void):
                continue
            n = value.native
            if field == "seconds":
                if not 0 <= n < 2 ** 64:
                    raise CheckError(f"the accuracy's seconds is {n}, not a non-negative integer below 2^64 "
                                     "(section 14 rule 2)")
                total += n * unit
            elif not 1 <= n <= 999:
                raise CheckError(f"the accuracy's {field} is {n}, not 1 to 999 (section 14 rule 2)")
            else:
                total += n if unit else 1      # micros 1 to 999: rounded up to one millisecond
        return total

    @staticmethod
    def _token_certificates(signed: Any) -> list[Certificate]:
        found: list[Certificate] = []
        certificates = signed["certificates"]
        if isinstance(certificates, asn1_core.Void):
            return found
        for n, choice in enumerate(certificates):
            if choice.name != "certificate":
                continue   # attribute and other certificates cannot be in a chain
            der = choice.chosen.dump()
            if all(c.der != der for c in found):
                found.append(load_certificate(der, f"the token's certificate {n + 1}"))
        return found

    @staticmethod
    def _signer_candidates(sid: Any, pool: list[Certificate]) -> list[Certificate]:
        out: list[Certificate] = []
        for cert in pool:
            if any(c.der == cert.der for c in out):
                continue
            if sid.name == "issuer_and_serial_number":
                ias = sid.chosen
                if ias["issuer"].dump() == cert.issuer and ias["serial_number"].native == cert.serial:
                    out.append(cert)
            elif sid.name == "subject_key_identifier":
                try:
                    ski = cert.asn.key_identifier
                except Exception:
                    ski = None
                if ski is not None and ski == sid.chosen.native:
                    out.append(cert)
        return out

    def _issued_by(self, child: Certificate, issuer: Certificate) -> str | None:
        """Why `issuer`'s signature over `child` does not verify (None when it does); cached."""
        key = (issuer.sha256, child.sha256)
        if key not in self._signature_cache:
            try:
                verify_with_key(certificate_public_key(issuer), child.asn["signature_algorithm"]["algorithm"].dotted,
                                None, child.asn["signature_value"].native, child.asn["tbs_certificate"].dump(),
                                f"the signature of {issuer.label} over {child.label}")
                self._signature_cache[key] = None
            except CheckError as exc:
                self._signature_cache[key] = str(exc)
            except Exception as exc:
                self._signature_cache[key] = f"{type(exc).__name__}: {exc}"
        return self._signature_cache[key]

    def _chain(self, signer: Certificate, token_certs: list[Certificate], at: datetime.datetime) -> list[Certificate]:
        """Rule 6: the signing certificate is a trusted one, or is issued by one through at most three of the
        token's certificates; each issuer a CA whose signature verifies; every certificate well-formed
        and valid at the stamped time.  Returns the chain, signer first.

        SPEC CHOICE: "through at most three of the token's certificates" counts the certificates between
        the signing certificate and the trusted one (intermediates), not the signing certificate itself.
        The path length constraint is RFC 5280's: self-issued intermediates do not count.
        """
        if any(t.der == signer.der for t in self.trusted):
            return [signer]
        reasons: list[str] = []
        chain = self._extend([signer], token_certs, at, reasons)
        if chain is None:
            why = "; ".join(dict.fromkeys(reasons)) or "no issuer of the signing certificate is among them"
            raise CheckError(f"the signing certificate {signer.label} does not chain to a trusted certificate "
                             f"through at most {MAX_TOKEN_INTERMEDIATES} of the token's certificates: "
                             f"{short(why, 600)}")
        return chain

    def _extend(self, path: list[Certificate], token_certs: list[Certificate], at: datetime.datetime,
                reasons: list[str]) -> list[Certificate] | None:
        child = path[-1]
        intermediates = len(path) - 1
        options = [(t, True) for t in self.trusted]
        if intermediates < MAX_TOKEN_INTERMEDIATES:
            options += [(c, False) for c in token_certs]
        for issuer, trusted in options:
            if issuer.subject != child.issuer or any(p.der == issuer.der for p in path):
                continue
            try:
                facts = certificate_facts(issuer, at)
            except CheckError as exc:
                reasons.append(str(exc))
                continue
            if not facts.basic_ca:
                reasons.append(f"{issuer.label} is not a CA (basic constraints CA true)")
                continue
            if facts.key_usage is not None and "key_cert_sign" not in facts.key_usage:
                reasons.append(f"{issuer.label}'s key usage does not allow keyCertSign")
                continue
            below = sum(1 for p in path[1:] if not p.self_issued)
            if facts.path_len is not None and below > facts.path_len:
                reasons.append(f"{issuer.label}'s path length constraint {facts.path_len} is exceeded")
                continue
            problem = self._issued_by(child, issuer)
            if problem is not None:
                reasons.append(problem)
                continue
            if trusted:
                return path + [issuer]
            found = self._extend(path + [issuer], token_certs, at, reasons)
            if found is not None:
                return found
        return None


def load_pem_certificates(data: bytes, what: str) -> list[Certificate]:
    """Every certificate of a PEM file given with --tsa-cert (UsageError: exit 2 when there is none or one
    does not decode, DER exactly)."""
    try:
        loaded = crypto_x509.load_pem_x509_certificates(data)
    except Exception as exc:
        raise UsageError(f"{what} holds no readable PEM certificate ({exc})") from exc
    out = []
    for n, cert in enumerate(loaded, 1):
        der = cert.public_bytes(serialization.Encoding.DER)
        try:
            out.append(load_certificate(der, f"{what}: certificate {n}"))
        except CheckError as exc:
            raise UsageError(str(exc)) from exc
    if not out:
        raise UsageError(f"{what} holds no PEM certificate")
    return out


# ---------------------------------------------------------------------------
# Witness policies (section 13: the Sigsum policy format, 11.3 check 17)
# ---------------------------------------------------------------------------

MAX_POLICY_LINES = 2000
MAX_POLICY_FILE = 1024 * 1024


class PolicyError(Exception):
    """A policy that does not parse (exit 2, naming the line)."""


@dataclasses.dataclass
class Policy:
    logs: list[bytes]
    witnesses: dict[str, bytes]                     # name -> key
    groups: dict[str, tuple[int, list[str]]]        # name -> (K, members)
    order: list[str]                                # names in definition order
    quorum: str | None                              # None: `quorum none`

    def acting(self, keys: set[bytes]) -> dict[str, bool]:
        """Which names act, given the witness keys whose cosignature verifies (in definition order, so
        that no recursion is needed)."""
        acts: dict[str, bool] = {}
        for name in self.order:
            if name in self.witnesses:
                acts[name] = self.witnesses[name] in keys
            else:
                k, members = self.groups[name]
                acts[name] = sum(acts[m] for m in members) >= k
        return acts

    def met(self, keys: set[bytes]) -> bool:
        return self.quorum is None or self.acting(keys)[self.quorum]


def _policy_key(text: str) -> bytes:
    """A raw hex Ed25519 public key (section 13).  SPEC CHOICE: hex digits of either case are read, as
    the Sigsum tools read published policies."""
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise PolicyError(f"a key is 32 bytes written as 64 hex digits, not {q(short(text, 80))}")
    return bytes.fromhex(text)


def parse_policy(data: bytes) -> Policy:
    """Section 13's policy format, judged in one pass; PolicyError("line N: ...") when it does not parse.

    `log KEY [URL]`, `witness NAME KEY [URL]`, `group NAME all|any|K MEMBER...`, exactly one
    `quorum NAME|none`; `#` starts a comment; a name is defined before it is used (and once; `none`
    is the quorum's word, never a name); at most 2,000 lines; a witness key listed once and never a
    `log` key; the members of a group never share a witness, directly or through subgroups.
    SPEC CHOICE: K is written in decimal digits, with an optional leading '+' (as the Sigsum tools and
    custody read it), and is between 1 and the number of members (as the Sigsum tools require); `none`
    may not be a group member.
    """
    if len(data) > MAX_POLICY_FILE:
        raise PolicyError(f"the file is more than {MAX_POLICY_FILE} bytes")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) > MAX_POLICY_LINES:
        raise PolicyError(f"line {MAX_POLICY_LINES + 1}: more than {MAX_POLICY_LINES} lines")
    policy = Policy([], {}, {}, [], None)
    sets: dict[str, frozenset[bytes]] = {}
    witness_keys: dict[bytes, str] = {}
    quorum_line = None
    for number, raw in enumerate(lines, 1):
        try:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PolicyError("not valid UTF-8") from exc
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            keyword, args = fields[0], fields[1:]

            def new_name(name: str) -> None:
                if name == "none":
                    raise PolicyError("'none' is the quorum's word for no witness, not a name")
                if name in sets:
                    raise PolicyError(f"the name {q(name)} is already defined")

            if keyword == "log":
                if len(args) not in (1, 2):
                    raise PolicyError("a log line is 'log KEY [URL]'")
                key = _policy_key(args[0])
                if key in witness_keys:
                    raise PolicyError(f"key {args[0]} is already witness {q(witness_keys[key])}'s; a ledger cannot "
                                      "witness itself")
                policy.logs.append(key)
            elif keyword == "witness":
                if len(args) not in (2, 3):
                    raise PolicyError("a witness line is 'witness NAME KEY [URL]'")
                name, key = args[0], _policy_key(args[1])
                new_name(name)
                if key in witness_keys:
                    raise PolicyError(f"the key of {q(name)} is already witness {q(witness_keys[key])}'s (a witness "
                                      "key is listed once)")
                if key in policy.logs:
                    raise PolicyError(f"the key of {q(name)} is a log key (a ledger cannot witness itself)")
                witness_keys[key] = name
                policy.witnesses[name] = key
                sets[name] = frozenset({key})
                policy.order.append(name)
            elif keyword == "group":
                if len(args) < 3:
                    raise PolicyError("a group line is 'group NAME all|any|K MEMBER...'")
                name, threshold, members = args[0], args[1], args[2:]
                new_name(name)
                if threshold == "all":
                    k = len(members)
                elif threshold == "any":
                    k = 1
                elif re.fullmatch(r"\+?[0-9]+", threshold) and 1 <= int(threshold) <= len(members):
                    k = int(threshold)
                else:
                    raise PolicyError(f"the threshold {q(short(threshold, 40))} is not all, any or a number from 1 "
                                      f"to {len(members)} (the number of members)")
                union: set[bytes] = set()
                for member in members:
                    if member not in sets:
                        raise PolicyError(f"{q(member)} is not defined on an earlier line")
                    shared = union & sets[member]
                    if shared:
                        raise PolicyError(f"the members of {q(name)} share witness "
                                          f"{q(witness_keys[sorted(shared)[0]])} (one cosignature would count twice)")
                    union |= sets[member]
                policy.groups[name] = (k, members)
                sets[name] = frozenset(union)
                policy.order.append(name)
            elif keyword == "quorum":
                if len(args) != 1:
                    raise PolicyError("a quorum line is 'quorum NAME|none'")
                if quorum_line is not None:
                    raise PolicyError(f"a second quorum line (the first is line {quorum_line})")
                if args[0] != "none" and args[0] not in sets:
                    raise PolicyError(f"{q(args[0])} is not defined on an earlier line")
                quorum_line = number
                policy.quorum = None if args[0] == "none" else args[0]
            else:
                raise PolicyError(f"unknown keyword {q(short(keyword, 40))} (log, witness, group or quorum)")
        except PolicyError as exc:
            raise PolicyError(f"line {number}: {exc}") from exc
    if quorum_line is None:
        raise PolicyError(f"line {len(lines) or 1}: the policy ends without a quorum line (exactly one is needed)")
    return policy


def load_policy(path: str) -> Policy:
    fh, st = open_regular_file(path, "--policy file")
    with fh:
        if st.st_size > MAX_POLICY_FILE:
            raise UsageError(f"--policy file {path} is more than {MAX_POLICY_FILE} bytes: refused without reading it")
        try:
            data = fh.read(MAX_POLICY_FILE + 1)
        except OSError as exc:
            raise UsageError(f"cannot read --policy file {path}: {exc.strerror or exc}") from exc
    try:
        return parse_policy(data)
    except PolicyError as exc:
        raise UsageError(f"--policy file {path}: {exc}") from exc


def load_tsa_certificates(path: str) -> list[Certificate]:
    fh, st = open_regular_file(path, "--tsa-cert file")
    with fh:
        if st.st_size > MAX_TSA_CERT_FILE:
            raise UsageError(f"--tsa-cert file {path} is more than {MAX_TSA_CERT_FILE} bytes: refused without "
                             "reading it")
        try:
            data = fh.read(MAX_TSA_CERT_FILE + 1)
        except OSError as exc:
            raise UsageError(f"cannot read --tsa-cert file {path}: {exc.strerror or exc}") from exc
    return load_pem_certificates(data, f"--tsa-cert file {path}")


# ---------------------------------------------------------------------------
# Files named on the command line: regular files only, opened without blocking
# ---------------------------------------------------------------------------
#
# The bundle, every --trust key file and every file read from --media-dir is
# a regular file, or it is refused (exit 2) before a byte of it is read: a
# FIFO would block the open (or a read) forever, /dev/zero or /dev/urandom
# would never end, a directory or a socket cannot be read, and opening some
# devices (a tape, a terminal) does something.  The path is first stat()ed,
# and anything but a regular file refused without being opened; then it is
# opened with O_NONBLOCK (an open that cannot block even if the path was
# replaced by a FIFO meanwhile) and O_NOCTTY, the descriptor is fstat()ed and
# refused unless it is a regular file (what is read is what was checked), and
# only then is O_NONBLOCK cleared and the descriptor wrapped.  Reads are
# bounded: the bundle through its central directory and the 11.1 limits, a
# --trust file to MAX_TRUST_KEY_FILE bytes, a media file to the record's size.

MAX_TRUST_KEY_FILE = 64 * 1024        # a --trust PEM key file (an Ed25519 SPKI PEM is 113 bytes)

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_OPEN_FLAGS = (os.O_RDONLY | _O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))


def file_type_name(mode: int) -> str:
    """What a non-regular file is, for a message."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return f"of file type {stat.S_IFMT(mode):o}"


def open_regular_file(path: str, what: str, follow: bool = True,
                      same_as: os.stat_result | None = None) -> tuple[BinaryIO, os.stat_result]:
    """Open `path` (`what` names it in messages) for reading if it is a regular file, never blocking.

    Returns the open file (blocking again) and its fstat().  Raises
    UsageError (exit 2) for anything else: a missing file, a directory, a
    FIFO, a device, a socket, an I/O error.  With follow=False a symbolic
    link in the last component is refused too (O_NOFOLLOW); with `same_as`
    the descriptor must be that file (the one an lstat() found).
    """
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError as exc:
        raise UsageError(f"cannot open {what} {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{what} {path} is not a regular file (it is {file_type_name(st.st_mode)}): refused "
                         "without reading it")
    flags = _OPEN_FLAGS | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UsageError(f"cannot open {what} {path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{what} {path} is not a regular file (it is {file_type_name(st.st_mode)}): refused "
                             "without reading it")
        if same_as is not None and (st.st_dev, st.st_ino) != (same_as.st_dev, same_as.st_ino):
            raise UsageError(f"{what} {path} was replaced while it was being opened")
        if _O_NONBLOCK and fcntl is not None:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_O_NONBLOCK)
        fh = os.fdopen(fd, "rb")
    except OSError as exc:
        os.close(fd)
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except BaseException:
        os.close(fd)
        raise
    return fh, st


# ---------------------------------------------------------------------------
# The archive (11.1): safety checks and bounded reading, all in memory
# ---------------------------------------------------------------------------

METHOD_STORED, METHOD_DEFLATED = 0, 8

SIG_LOCAL = b"PK\x03\x04"
SIG_CENTRAL = b"PK\x01\x02"
SIG_EOCD = b"PK\x05\x06"
SIG_ZIP64_EOCD = b"PK\x06\x06"
SIG_ZIP64_LOCATOR = b"PK\x06\x07"
SIG_DESCRIPTOR = b"PK\x07\x08"
EXTRA_ZIP64 = 0x0001
EXTRA_UNICODE_PATH = 0x7075
FLAG_DESCRIPTOR = 0x0008


@dataclasses.dataclass
class ZipEntry:
    """One member as its central directory header describes it (ZIP64 values resolved)."""
    raw_name: bytes
    flags: int
    method: int
    crc: int
    compress_size: int
    file_size: int
    header_offset: int
    external_attr: int
    create_system: int
    data_start: int = 0        # set when its local header has been read


@dataclasses.dataclass
class Member:
    name: str
    raw_name: bytes
    info: ZipEntry
    limit: int                 # maximum uncompressed size
    sha256: str = ""           # filled by the first full read
    size: int = 0
    crc_ok: bool = True

    @property
    def data_start(self) -> int:
        return self.info.data_start


def _parse_extra(extra: bytes, where: str) -> dict[int, bytes]:
    """An extra field as {header ID: data}.

    11.1: extra fields are well-formed (each ID and length within the field,
    the blocks filling it exactly).  SPEC CHOICE: each ID also appears at
    most once, since two ZIP64 (or Unicode Path) blocks could be read two
    ways; anything else makes the bundle unreadable.
    """
    blocks: dict[int, bytes] = {}
    pos = 0
    while pos < len(extra):
        if len(extra) - pos < 4:
            raise Unreadable(f"{where}: malformed extra field ({len(extra) - pos} stray byte(s))")
        tag, size = struct.unpack_from("<HH", extra, pos)
        if pos + 4 + size > len(extra):
            raise Unreadable(f"{where}: extra field block {tag:#06x} runs past the extra field")
        if tag in blocks:
            raise Unreadable(f"{where}: extra field block {tag:#06x} appears twice")
        blocks[tag] = extra[pos + 4:pos + 4 + size]
        pos += 4 + size
    return blocks


def _zip64_values(blocks: dict[int, bytes], fields: list[tuple[str, int, int]], where: str) -> dict[str, int]:
    """Resolve header fields that hold their sentinel from the ZIP64 extra block.

    `fields` lists (name, header value, sentinel) in the order of APPNOTE
    4.5.3 (uncompressed size, compressed size, local header offset).  Each
    field holding its sentinel takes the next 8 bytes of the block.  Bytes
    left in the block are ignored.

    SPEC CHOICE (compatibility): a block of 24 bytes or more is read as
    carrying both sizes whatever the header says, as the Rust `zip` crate
    (custody's exporter) writes and reads a "large file" entry; for every
    block an APPNOTE writer produces (Python's zipfile included) the two
    readings agree.
    """
    values = {name: value for name, value, _ in fields}
    data = blocks.get(EXTRA_ZIP64)
    if data is None:
        if any(value == sentinel for _, value, sentinel in fields):
            raise Unreadable(f"{where}: a size or offset is 0xFFFFFFFF but there is no ZIP64 extra field")
        return values
    pos = 0
    for i, (name, value, sentinel) in enumerate(fields):
        if value != sentinel and not (i < 2 and len(data) >= 24):
            continue
        if pos + 8 > len(data):
            if value != sentinel:
                break
            raise Unreadable(f"{where}: the ZIP64 extra field is too short for the {name}")
        values[name] = int.from_bytes(data[pos:pos + 8], "little")
        pos += 8
    return values


def read_zip_layout(fh, file_size: int) -> list[ZipEntry]:
    """Parse the ZIP structure and check that every byte is accounted for (11.1).

    The end of central directory record is exactly the last 22 bytes, with
    no comment and disk numbers 0; ZIP64 end record and locator stand
    immediately before it when its values need them; the central
    directory runs exactly from its offset to the ZIP64 end record (or the
    EOCD) and holds exactly the entry count; the local entries, in order
    of offset, tile the bytes before it from offset 0 (local header, data,
    a data descriptor only when flag bit 3 is set), and each local header
    agrees with its central header.  Anything else raises Unreadable.
    """
    def read_at(offset: int, n: int, what: str) -> bytes:
        if offset < 0 or offset + n > file_size:
            raise Unreadable(f"{what} lies outside the file")
        fh.seek(offset)
        data = fh.read(n)
        if len(data) != n:
            raise Unreadable(f"{what} is truncated")
        return data

    if file_size < 22:
        raise Unreadable("not a ZIP file (shorter than an end of central directory record)")
    eocd_at = file_size - 22
    (sig, disk, cd_disk, n_disk, n_total, cd_size, cd_offset,
     comment_len) = struct.unpack("<4sHHHHLLH", read_at(eocd_at, 22, "end of central directory record"))
    if sig != SIG_EOCD:
        raise Unreadable("not a ZIP file, or bytes follow the archive: the last 22 bytes are not an end of "
                         "central directory record with an empty comment")
    if comment_len != 0:
        raise Unreadable(f"the archive has a comment length of {comment_len} (must be 0)")
    if disk != 0 or cd_disk != 0:
        raise Unreadable("multi-disk archive (disk numbers are not 0)")
    cd_end = eocd_at
    if 0xFFFF in (n_disk, n_total) or 0xFFFFFFFF in (cd_size, cd_offset):
        loc_at = eocd_at - 20
        if loc_at < 0:
            raise Unreadable("ZIP64 end of central directory locator missing")
        sig, z64_disk, z64_at, disks = struct.unpack("<4sLQL", read_at(loc_at, 20, "ZIP64 locator"))
        if sig != SIG_ZIP64_LOCATOR:
            raise Unreadable("the end record needs ZIP64 values but no ZIP64 locator stands immediately before it")
        # 11.1: the locator's total number of disks is 0 or 1.
        if z64_disk != 0 or disks not in (0, 1):
            raise Unreadable("multi-disk archive (ZIP64 locator)")
        head = read_at(z64_at, 56, "ZIP64 end of central directory record")
        (sig, rec_size, _made, _need, z_disk, z_cd_disk, z_n_disk, z_n_total, z_cd_size,
         z_cd_offset) = struct.unpack("<4sQHHLLQQQQ", head)
        if sig != SIG_ZIP64_EOCD:
            raise Unreadable("no ZIP64 end of central directory record where the locator points")
        # 11.1: exactly 56 bytes (size field 44, no extensible data sector),
        # directly before its locator.
        if rec_size != 44:
            raise Unreadable(f"the ZIP64 end record's size field is {rec_size}, not 44 (exactly 56 bytes, no "
                             "extensible data)")
        if z64_at + 56 != loc_at:
            raise Unreadable("the ZIP64 end record does not stand immediately before its locator")
        if z_disk != 0 or z_cd_disk != 0:
            raise Unreadable("multi-disk archive (ZIP64 end record)")
        # 11.1: each end-record value that is not the 0xFFFF / 0xFFFFFFFF
        # marker equals the ZIP64 record's.
        for small, big, sentinel in ((n_disk, z_n_disk, 0xFFFF), (n_total, z_n_total, 0xFFFF),
                                     (cd_size, z_cd_size, 0xFFFFFFFF), (cd_offset, z_cd_offset, 0xFFFFFFFF)):
            if small != sentinel and small != big:
                raise Unreadable("the end record and the ZIP64 end record disagree")
        n_disk, n_total, cd_size, cd_offset = z_n_disk, z_n_total, z_cd_size, z_cd_offset
        cd_end = z64_at
    # 11.1: the end record's two entry counts are equal.
    if n_disk != n_total:
        raise Unreadable("the end record's entry counts differ")
    if n_total > MAX_MEMBERS:
        raise Unreadable(f"{n_total} members, more than {MAX_MEMBERS}")
    if cd_offset + cd_size != cd_end:
        raise Unreadable(f"the central directory (offset {cd_offset}, {cd_size} bytes) does not end where the "
                         f"end records begin (offset {cd_end})")

    entries: list[ZipEntry] = []
    pos = cd_offset
    while pos < cd_end:
        if len(entries) >= n_total:
            raise Unreadable(f"the central directory holds more than the {n_total} entries the end record gives")
        where = f"central header {len(entries) + 1}"
        head = read_at(pos, 46, where)
        (sig, made_by, _need, flags, method, _time, _date, crc, csize, usize, name_len, extra_len, comment_len,
         _disk_start, _internal, external, offset) = struct.unpack("<4sHHHHHHLLLHHHHHLL", head)
        if sig != SIG_CENTRAL:
            raise Unreadable(f"{where}: bad signature (central headers must follow each other directly)")
        end = pos + 46 + name_len + extra_len + comment_len
        if end > cd_end:
            raise Unreadable(f"{where} runs past the central directory")
        rest = read_at(pos + 46, name_len + extra_len, where)
        raw_name, extra = rest[:name_len], rest[name_len:]
        where = f"member {q(raw_name.decode('utf-8', 'backslashreplace'))}"
        blocks = _parse_extra(extra, where + " (central header)")
        # The entry's own disk number is not interpreted (11.1 names the
        # EOCD's disk numbers only; the ZIP64 value for it, if any, comes
        # last in the block, so ignoring it changes nothing else).
        v = _zip64_values(blocks, [("uncompressed size", usize, 0xFFFFFFFF),
                                   ("compressed size", csize, 0xFFFFFFFF),
                                   ("local header offset", offset, 0xFFFFFFFF)], where + " (central header)")
        _check_unicode_path(blocks, raw_name, where)
        entries.append(ZipEntry(raw_name, flags, method, crc, v["compressed size"], v["uncompressed size"],
                                v["local header offset"], external, made_by >> 8))
        pos = end
    if pos != cd_end or len(entries) != n_total:
        raise Unreadable(f"the central directory holds {len(entries)} entries, the end record says {n_total}")

    pos = 0
    previous = None
    for entry in sorted(entries, key=lambda e: e.header_offset):
        where = f"member {q(entry.raw_name.decode('utf-8', 'backslashreplace'))}"
        if entry.header_offset < pos:
            raise Unreadable(f"{where} overlaps {previous} (entries must not share bytes)")
        if entry.header_offset > pos:
            gap = "before the first entry" if previous is None else f"between {previous} and {where}"
            raise Unreadable(f"{entry.header_offset - pos} byte(s) {gap} are not accounted for by the central "
                             "directory (a gap or a hidden entry)")
        head = read_at(pos, 30, f"{where}: local header")
        (sig, _need, flags, method, _time, _date, crc, csize, usize, name_len,
         extra_len) = struct.unpack("<4sHHHHHLLLHH", head)
        if sig != SIG_LOCAL:
            raise Unreadable(f"{where}: bad local file header")
        rest = read_at(pos + 30, name_len + extra_len, f"{where}: local header")
        local_name, local_extra = rest[:name_len], rest[name_len:]
        if local_name != entry.raw_name:
            raise Unreadable(f"{where}: local header name differs from the directory")
        if flags != entry.flags or method != entry.method:
            raise Unreadable(f"{where}: local header flags or compression method disagree with the directory")
        blocks = _parse_extra(local_extra, where + " (local header)")
        _check_unicode_path(blocks, entry.raw_name, where)
        if not flags & FLAG_DESCRIPTOR:
            lv = _zip64_values(blocks, [("uncompressed size", usize, 0xFFFFFFFF),
                                        ("compressed size", csize, 0xFFFFFFFF)], where + " (local header)")
            if (crc, lv["compressed size"], lv["uncompressed size"]) != (
                    entry.crc, entry.compress_size, entry.file_size):
                raise Unreadable(f"{where}: local header CRC-32 or sizes disagree with the directory")
        entry.data_start = pos + 30 + name_len + extra_len
        pos = entry.data_start + entry.compress_size
        if pos > cd_offset:
            raise Unreadable(f"{where} runs into the central directory")
        if flags & FLAG_DESCRIPTOR:
            pos = _skip_descriptor(read_at, pos, cd_offset, entry, EXTRA_ZIP64 in blocks, where)
        previous = where
    if pos != cd_offset:
        raise Unreadable(f"{cd_offset - pos} byte(s) before the central directory are not accounted for "
                         "(a gap or a hidden entry)")
    return entries


def _skip_descriptor(read_at, pos: int, limit: int, entry: ZipEntry, zip64: bool, where: str) -> int:
    """The data descriptor after an entry's data: optional signature, CRC-32 and both sizes.

    11.1: the sizes are 8 bytes each exactly when the local header carries a
    ZIP64 extra field, and the descriptor's CRC-32 and sizes equal the
    central header's.
    """
    fmt = "<LQQ" if zip64 else "<LLL"
    size = struct.calcsize(fmt)
    expected = (entry.crc, entry.compress_size, entry.file_size)
    available = min(limit - pos, 4 + size)
    data = read_at(pos, available, f"{where}: data descriptor") if available > 0 else b""
    if len(data) >= 4 + size and data[:4] == SIG_DESCRIPTOR and struct.unpack(fmt, data[4:4 + size]) == expected:
        return pos + 4 + size
    if len(data) >= size and struct.unpack(fmt, data[:size]) == expected:
        return pos + size
    raise Unreadable(f"{where}: flag bit 3 is set but no data descriptor matching the directory follows the data")


def _check_unicode_path(blocks: dict[int, bytes], raw_name: bytes, where: str) -> None:
    """11.1: an Info-ZIP Unicode Path extra field (0x7075), which some
    readers use instead of the header's name, names exactly the header's
    name bytes, so that every reader sees the same member name."""
    data = blocks.get(EXTRA_UNICODE_PATH)
    if data is not None and (len(data) < 5 or data[5:] != raw_name):
        raise Unreadable(f"{where}: its Unicode Path extra field names another file")


def _name_problem(raw: bytes) -> str | None:
    """Why a member name breaks 11.1's naming safety rules, or None."""
    if len(raw) > MAX_NAME_BYTES:
        return f"name longer than {MAX_NAME_BYTES} bytes"
    try:
        # 11.1: member names are UTF-8 (whatever the language encoding
        # flag says); a name that is not cannot be checked and is unsafe.
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "name is not valid UTF-8"
    control = next((ch for ch in name if ord(ch) <= 0x1F or 0x7F <= ord(ch) <= 0x9F), None)
    if control is not None:
        return f"name contains a control character (U+{ord(control):04X})"
    if "\\" in name:
        return "name contains a backslash"
    if ":" in name:
        return "name contains ':'"
    # 11.1: "`..`" and "`.`" mean whole '/'-separated segments ("a..b" is a
    # plain, if unknown, name).
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            what = {"": "an empty", ".": "a '.'", "..": "a '..'"}[segment]
            return f"name has {what} segment (absolute path, directory or traversal)"
    return None


class Archive:
    """A bundle opened for safe, in-memory reading.

    Opening parses the ZIP structure itself (read_zip_layout: every byte
    accounted for) and runs every safety rule of 11.1 that needs no member
    data; then scan() reads every member once (enforcing sizes while
    reading) and records its SHA-256 and size.  Nothing is written to disk.
    """

    CHUNK = 1024 * 1024

    def __init__(self, path: str):
        # A regular file only, opened without blocking (a FIFO, /dev/zero, a
        # directory or a socket is refused before anything is read); then
        # every read is at an offset and of a length the ZIP structure gives,
        # within the file's size.
        self._fh, st = open_regular_file(path, "bundle")
        size = st.st_size
        self.members: dict[str, Member] = {}
        try:
            entries = read_zip_layout(self._fh, size)
            self._check_entries(entries)
        except OSError as exc:
            self._fh.close()
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except BaseException:
            self._fh.close()
            raise

    def close(self) -> None:
        self._fh.close()

    # -- safety rules that need no member data -------------------------------

    def _check_entries(self, entries: list[ZipEntry]) -> None:
        if len(entries) > MAX_MEMBERS:
            raise Unreadable(f"{len(entries)} members, more than {MAX_MEMBERS}")
        lowered: dict[bytes, str] = {}
        for info in entries:
            raw = info.raw_name
            problem = _name_problem(raw)
            if problem:
                shown = raw.decode("utf-8", "backslashreplace")
                raise Unreadable(f"unsafe member name '{short(shown, 80)}': {problem}")
            name = raw.decode("utf-8")
            # Flag bits: 0 encrypted, 6 strong encryption, 13 encrypted
            # central directory; 5 "compressed patched data" is a different
            # data format, unsupported too.
            if info.flags & (0x1 | 0x40 | 0x2000):
                raise Unreadable(f"member {q(name)} is encrypted")
            if info.flags & 0x20:
                raise Unreadable(f"member {q(name)} uses unsupported compressed patched data")
            if info.method not in (METHOD_STORED, METHOD_DEFLATED):
                raise Unreadable(f"member {q(name)} uses unsupported compression method {info.method}")
            mode = info.external_attr >> 16
            # 11.1: the Unix file type, when present, must be a regular file
            # whatever system wrote the archive; a mode without file-type
            # bits has no type present.
            if stat.S_IFMT(mode) == stat.S_IFLNK:
                raise Unreadable(f"member {q(name)} is a symbolic link")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                raise Unreadable(f"member {q(name)} is not a regular file (mode {mode:o})")
            if info.external_attr & 0x18:  # MS-DOS directory / volume label attributes
                raise Unreadable(f"member {q(name)} is a directory entry")
            limit = MAX_MEDIA_SIZE if name.startswith("media/") else MAX_MEMBER_SIZE
            if info.file_size > limit:
                raise Unreadable(f"member {q(name)} declares {info.file_size} bytes, more than {limit}")
            if _is_bomb(info.file_size, info.compress_size):
                raise Unreadable(f"member {q(name)} is a compression bomb "
                                 f"({info.file_size} bytes from {info.compress_size})")
            if info.method == METHOD_STORED and info.compress_size != info.file_size:
                raise Unreadable(f"stored member {q(name)} has different compressed and uncompressed sizes")
            if name in self.members:
                raise Unreadable(f"duplicate member name {q(name)}")
            key = raw.lower()  # bytes.lower() lowercases ASCII letters only
            if key in lowered:
                raise Unreadable(f"member names {q(lowered[key])} and {q(name)} are equal when lowercased")
            lowered[key] = name
            self.members[name] = Member(name, raw, info, limit)

    # -- reading -------------------------------------------------------------

    def _stream(self, member: Member) -> Iterable[bytes]:
        """Yield the member's uncompressed bytes, enforcing 11.1 while reading."""
        info = member.info
        self._fh.seek(member.data_start)
        remaining = info.compress_size
        produced = 0
        crc = 0
        inflater = zlib.decompressobj(-zlib.MAX_WBITS) if info.method == METHOD_DEFLATED else None

        def account(out: bytes) -> bytes:
            nonlocal produced, crc
            produced += len(out)
            if produced > member.limit:
                raise Unreadable(f"member {q(member.name)} is larger than {member.limit} bytes")
            if produced > info.file_size:
                raise Unreadable(f"member {q(member.name)} is larger than its declared size {info.file_size}")
            if _is_bomb(produced, info.compress_size):
                raise Unreadable(f"member {q(member.name)} is a compression bomb")
            crc = zlib.crc32(out, crc)
            return out

        while remaining:
            chunk = self._fh.read(min(self.CHUNK, remaining))
            if not chunk:
                raise Unreadable(f"member {q(member.name)} is truncated")
            remaining -= len(chunk)
            if inflater is None:
                yield account(chunk)
                continue
            pending = chunk
            while True:
                try:
                    out = inflater.decompress(pending, self.CHUNK)
                except zlib.error as exc:
                    raise Unreadable(f"member {q(member.name)}: corrupt deflate data ({exc})") from exc
                if out:
                    yield account(out)
                pending = inflater.unconsumed_tail
                if inflater.eof or (not pending and len(out) < self.CHUNK):
                    break
            if inflater.eof and (inflater.unused_data or remaining):
                raise Unreadable(f"member {q(member.name)}: data after the end of the deflate stream")
        if inflater is not None and not inflater.eof:
            raise Unreadable(f"member {q(member.name)}: deflate stream is incomplete")
        if produced != info.file_size:
            raise Unreadable(f"member {q(member.name)} has {produced} bytes, not its declared {info.file_size}")
        member.crc_ok = (crc & 0xFFFFFFFF) == info.crc

    def scan(self) -> None:
        """Read every member once: SHA-256, size and CRC-32 of each."""
        for member in sorted(self.members.values(), key=lambda m: m.info.header_offset):
            digest = hashlib.sha256()
            for chunk in self._stream(member):
                digest.update(chunk)
            member.sha256, member.size = digest.hexdigest(), member.info.file_size

    def read(self, name: str) -> bytes:
        """A whole (non-media) member in memory; its digest must match the scan."""
        member = self.members[name]
        data = b"".join(self._stream(member))
        if member.sha256 and hashlib.sha256(data).hexdigest() != member.sha256:
            raise Unreadable(f"member {q(name)} changed while it was being read")
        return data

    def hash_with_prefix(self, name: str, prefix: bytes) -> tuple[int, bytes]:
        """(size, SHA-256(prefix || member bytes)), streamed."""
        digest = hashlib.sha256(prefix)
        size = 0
        for chunk in self._stream(self.members[name]):
            digest.update(chunk)
            size += len(chunk)
        return size, digest.digest()


def _is_bomb(uncompressed: int, compressed: int) -> bool:
    return uncompressed > BOMB_MIN_SIZE and uncompressed > BOMB_RATIO * compressed


# ---------------------------------------------------------------------------
# Manifest structure (11.2)
# ---------------------------------------------------------------------------

class _Problems(list):
    """Collects structural problems, each with a JSON path."""

    def add(self, path: str, message: str) -> None:
        self.append(f"{path}: {message}")


def _json_object_no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    """11.2: a member name repeated in any object of the manifest is an error.

    The json module calls this hook for every object at every nesting level
    (the top, `exporter`, `ledger`, each exhibit and supporting record, a
    `body`, a revoke body's `effective`, a `content`, `files`), with the
    names already unescaped, so that "a" and "\\u0061" are the same name.
    """
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"the member name {q(key)} is repeated in an object (11.2: no object of the "
                             "manifest repeats a member name)")
        obj[key] = value
    return obj


def _json_reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_strict(data: bytes) -> Any:
    text = data.decode("utf-8", errors="strict")  # a BOM is rejected by json
    return json.loads(text, object_pairs_hook=_json_object_no_duplicates,
                      parse_constant=_json_reject_constant)


def _is_u64(v: Any) -> bool:
    return type(v) is int and 0 <= v <= U64_MAX


def _has_keys(obj: Any, keys: tuple[str, ...], path: str, problems: _Problems) -> bool:
    """obj is an object with exactly `keys` (SPEC: others are an error).

    11.2: unknown members are an error at every level (the top, exporter,
    ledger, each exhibit, each supporting record and a content), and so is
    a missing one (an absent optional member is written as null).
    """
    if type(obj) is not dict:
        problems.add(path, "is not an object")
        return False
    missing = [k for k in keys if k not in obj]
    extra = sorted(k for k in obj if k not in keys)
    if missing:
        problems.add(path, "missing " + ", ".join(missing))
    if extra:
        problems.add(path, "unexpected " + ", ".join(extra))
    return not missing and not extra


def _get_b64(obj: dict, key: str, length: int, path: str, problems: _Problems) -> bytes | None:
    try:
        value = b64decode_strict(obj[key])
    except ValueError as exc:
        problems.add(f"{path}.{key}", str(exc))
        return None
    if len(value) != length:
        problems.add(f"{path}.{key}", f"is {len(value)} bytes, not {length}")
        return None
    return value


def _get_hex(obj: dict, key: str, length: int, path: str, problems: _Problems) -> bytes | None:
    value = obj[key]
    if not (isinstance(value, str) and re.fullmatch(f"[0-9a-f]{{{2 * length}}}", value)):
        problems.add(f"{path}.{key}", f"is not {length} bytes of lowercase hex")
        return None
    return bytes.fromhex(value)


def _get(obj: dict, key: str, check: Callable[[Any], bool], what: str, path: str, problems: _Problems) -> Any:
    value = obj[key]
    if not check(value):
        problems.add(f"{path}.{key}", f"is not {what}")
        return None
    return value


def _check_time(ms: int, path: str, problems: _Problems) -> bool:
    """11.2: every time in a manifest is at most 253402300799999 (the end of the year 9999)."""
    if ms > MAX_TIME_MS:
        problems.add(path, f"{ms} is after {MAX_TIME_MS} (the last millisecond of the year 9999)")
        return False
    return True


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


# The Unicode White_Space property (PropList.txt): what "white space" means
# in 11.2's "a reason of white space only counts as empty".
WHITE_SPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                        "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _is_reason(v: Any) -> bool:
    """11.2: a `consent_override` or `include_failing` that is present is a non-empty reason, and
    white space only counts as empty.

    SPEC CHOICE: white space is the Unicode White_Space property (as Rust's
    char::is_whitespace), not Python's str.isspace, which also counts the
    information separators U+001C to U+001F.
    """
    return isinstance(v, str) and any(ch not in WHITE_SPACE for ch in v)


@dataclasses.dataclass
class KeyRef:
    """A key as the manifest describes it (exporter, ledger or signer)."""
    public_key: bytes
    key_file: str


def _parse_key_fields(obj: dict, path: str, problems: _Problems, prefix: str = "") -> KeyRef | None:
    """public_key / key_id / fingerprint / key_file (with an optional name prefix)."""
    pk_field = "signer_key" if prefix else "public_key"
    pub = _get_b64(obj, pk_field, 32, path, problems)
    kid = obj[prefix + "key_id"]
    fpr = obj[prefix + "fingerprint"]
    kfile = obj[prefix + "key_file"]
    if pub is None:
        return None
    ok = True
    if kid != key_id(pub):
        problems.add(f"{path}.{prefix}key_id", f"is {short(q(kid), 40)}, the key's ID is {key_id(pub)}")
        ok = False
    if fpr != fingerprint(pub):
        problems.add(f"{path}.{prefix}fingerprint", "does not match the key")
        ok = False
    if kfile != f"keys/{key_id(pub)}.pub":
        problems.add(f"{path}.{prefix}key_file", f"is {short(q(kfile), 60)}, expected 'keys/{key_id(pub)}.pub'")
        ok = False
    return KeyRef(pub, kfile) if ok else None


@dataclasses.dataclass
class LedgerInfo:
    origin: str
    key: KeyRef
    checkpoint_size: int
    checkpoint_root: bytes


EXHIBIT_KEYS = ("seq", "kind", "leaf_hash", "prev", "record_bytes", "statement_bytes", "signature",
                "signer_key", "signer_key_id", "signer_fingerprint", "signer_key_file", "claimed_at_ms",
                "claimed_at", "recorded_at_ms", "recorded_at", "body", "proof_file", "inclusion_proof",
                "content", "consent_override", "media_file")
# 11.2: a supporting record has exactly the members of an exhibit except these.
SUPPORTING_KEYS = tuple(k for k in EXHIBIT_KEYS if k not in ("consent_override", "media_file"))


@dataclasses.dataclass
class Exhibit:
    """One manifest exhibit, its fields type-checked and decoded."""
    index: int
    raw: dict
    seq: int
    kind: int
    leaf_hash: bytes
    prev: bytes
    record_bytes: bytes
    statement_bytes: bytes
    signature: bytes
    signer: KeyRef
    inclusion_proof: list[bytes]
    content_file: str | None
    content_salt: bytes | None
    consent_override: str | None
    media_file: str | None
    supporting: bool = False      # an entry of `supporting` rather than `exhibits`

    @property
    def label(self) -> str:
        return f"supporting record {self.seq}" if self.supporting else f"exhibit {self.seq}"


@dataclasses.dataclass
class CosignatureEntry:
    """One entry of an attestation's `cosignatures` (11.2)."""
    witness: str
    key: str
    time_ms: int


@dataclasses.dataclass
class TimestampEntry:
    """One entry of an attestation's `timestamps` (11.2)."""
    file: str
    serial: str
    time_ms: int
    signer_certificate: str
    certificates: list[str]


@dataclasses.dataclass
class Attestation:
    """One entry of `attestations` (11.2), its members type-checked."""
    index: int
    size: int
    checkpoint_file: str
    consistency_proof: list[bytes]
    cosigned_file: str | None
    cosignatures: list[CosignatureEntry]
    timestamps: list[TimestampEntry]

    @property
    def label(self) -> str:
        return f"attestation {self.size}"

    @property
    def members(self) -> set[str]:
        """The bundle members this attestation refers to."""
        names = {self.checkpoint_file} | {t.file for t in self.timestamps}
        names |= {c for t in self.timestamps for c in t.certificates}
        if self.cosigned_file is not None:
            names.add(self.cosigned_file)
        return names


ATTESTATION_KEYS = ("checkpoint_size", "checkpoint_file", "consistency_proof", "cosigned_file", "cosignatures",
                    "timestamps")
COSIGNATURE_KEYS = ("witness", "key", "time_ms", "time")
TIMESTAMP_KEYS = ("file", "serial", "time_ms", "time", "signer_certificate", "certificates")


def _check_entry_time(obj: dict, path: str, problems: _Problems) -> int | None:
    """`time_ms` (an unsigned integer, at most 253402300799999) and `time` its RFC 3339 form (11.3 check 4)."""
    ms = obj["time_ms"]
    if not _is_u64(ms):
        problems.add(f"{path}.time_ms", "is not an unsigned 64-bit integer")
        return None
    if not _check_time(ms, f"{path}.time_ms", problems):
        return None
    if obj["time"] != rfc3339_ms(ms):
        problems.add(f"{path}.time", f"is not {q(rfc3339_ms(ms))} (its time_ms)")
        return None
    return ms


def _parse_attestation(obj: Any, i: int, ledger: LedgerInfo | None, problems: _Problems) -> Attestation | None:
    """One entry of `attestations`: exactly its members, as 11.2 writes them (11.3 check 4)."""
    path = f"attestations[{i}]"
    before = len(problems)
    if not _has_keys(obj, ATTESTATION_KEYS, path, problems):
        return None
    size = _get(obj, "checkpoint_size", _is_u64, "an unsigned 64-bit integer", path, problems)
    bundle_size = ledger.checkpoint_size if ledger is not None else None
    if size is not None:
        if size < 1 or (bundle_size is not None and size > bundle_size):
            problems.add(f"{path}.checkpoint_size", f"{size} is not between 1 and ledger.checkpoint_size "
                         f"({bundle_size})")
        if bundle_size is not None:
            expected = CHECKPOINT if size == bundle_size else f"attest/{size}/checkpoint.txt"
            if obj["checkpoint_file"] != expected:
                problems.add(f"{path}.checkpoint_file", f"is not {q(expected)}")
    proof: list[bytes] = []
    if type(obj["consistency_proof"]) is not list:
        problems.add(f"{path}.consistency_proof", "is not an array")
    else:
        for n, item in enumerate(obj["consistency_proof"]):
            try:
                h = b64decode_strict(item)
            except ValueError as exc:
                problems.add(f"{path}.consistency_proof[{n}]", str(exc))
                continue
            if len(h) != 32:
                problems.add(f"{path}.consistency_proof[{n}]", f"is {len(h)} bytes, not 32")
            proof.append(h)
        # 11.2: empty exactly when the sizes are equal.
        if size is not None and bundle_size is not None and (not obj["consistency_proof"]) != (size == bundle_size):
            problems.add(f"{path}.consistency_proof", "must be empty exactly when checkpoint_size is the bundle's "
                         "(a consistency proof exactly below the bundle's size)")
    cosignatures: list[CosignatureEntry] = []
    if type(obj["cosignatures"]) is not list:
        problems.add(f"{path}.cosignatures", "is not an array")
    else:
        if len(obj["cosignatures"]) > MAX_COSIGNATURES:
            problems.add(f"{path}.cosignatures", f"has {len(obj['cosignatures'])} entries, more than "
                         f"{MAX_COSIGNATURES} (11.2: a signed note holds at most 100 signatures)")
        for n, entry in enumerate(obj["cosignatures"]):
            where = f"{path}.cosignatures[{n}]"
            if not _has_keys(entry, COSIGNATURE_KEYS, where, problems):
                continue
            witness = _get(entry, "witness", _is_str, "a string", where, problems)
            key = _get(entry, "key", _is_str, "a string", where, problems)
            ms = _check_entry_time(entry, where, problems)
            if ms is not None and ms % 1000:
                problems.add(f"{where}.time_ms", f"{ms} is not a multiple of 1000 (a cosignature's time is in "
                             "seconds)")
            if witness is not None and key is not None and ms is not None:
                cosignatures.append(CosignatureEntry(witness, key, ms))
    cosigned = obj["cosigned_file"]
    if type(obj["cosignatures"]) is list and size is not None:
        expected_cosigned = f"attest/{size}/cosigned.txt" if obj["cosignatures"] else None
        if cosigned != expected_cosigned:
            problems.add(f"{path}.cosigned_file", f"is not {q(expected_cosigned) if expected_cosigned else 'null'} "
                         "(null exactly when there is no cosignature)")
    timestamps: list[TimestampEntry] = []
    if type(obj["timestamps"]) is not list:
        problems.add(f"{path}.timestamps", "is not an array")
    else:
        if len(obj["timestamps"]) > MAX_TOKENS:
            problems.add(f"{path}.timestamps", f"has {len(obj['timestamps'])} entries, more than {MAX_TOKENS} "
                         "(11.2)")
        last_file = None
        for n, entry in enumerate(obj["timestamps"]):
            where = f"{path}.timestamps[{n}]"
            if not _has_keys(entry, TIMESTAMP_KEYS, where, problems):
                continue
            ok = len(problems)
            serial = entry["serial"]
            if not (isinstance(serial, str) and re.fullmatch(SERIAL_HEX, serial)):
                problems.add(f"{where}.serial", "is not 2 to 42 lowercase hex digits, an even number of them")
            elif size is not None and entry["file"] != f"attest/{size}/{serial}.tsr":
                problems.add(f"{where}.file", f"is not {q(f'attest/{size}/{serial}.tsr')}")
            ms = _check_entry_time(entry, where, problems)
            signer = entry["signer_certificate"]
            if not (isinstance(signer, str) and re.fullmatch(r"[0-9a-f]{64}", signer)):
                problems.add(f"{where}.signer_certificate", "is not a SHA-256 in lowercase hex")
            certs = entry["certificates"]
            if not (type(certs) is list and certs
                    and all(isinstance(c, str) and re.fullmatch(r"tsa/[0-9a-f]{64}\.pem", c) for c in certs)):
                problems.add(f"{where}.certificates", "is not a non-empty array of 'tsa/<sha256 hex>.pem' names")
            elif any(a >= b for a, b in zip(certs, certs[1:])):
                problems.add(f"{where}.certificates", "is not in strictly increasing order")
            elif len(certs) > MAX_TOKEN_CERTIFICATES:
                problems.add(f"{where}.certificates", f"lists {len(certs)} certificates, more than "
                             f"{MAX_TOKEN_CERTIFICATES} (11.2)")
            file = entry["file"]
            if isinstance(file, str):
                if last_file is not None and file <= last_file:
                    problems.add(f"{where}.file", "timestamps are not in strictly increasing file")
                last_file = file
            if len(problems) == ok:
                timestamps.append(TimestampEntry(file, serial, ms, signer, list(certs)))
    if type(obj["cosignatures"]) is list and type(obj["timestamps"]) is list and not obj["cosignatures"] \
            and not obj["timestamps"]:
        problems.add(path, "carries neither a cosignature nor a token (at least one is needed)")
    if len(problems) != before:
        return None
    return Attestation(i, size, obj["checkpoint_file"], proof, cosigned, cosignatures, timestamps)


@dataclasses.dataclass
class Manifest:
    raw: dict
    exporter: KeyRef | None
    ledger: LedgerInfo | None
    exhibits: list[Exhibit]
    supporting: list[Exhibit]
    files: dict[str, str] | None
    problems: _Problems
    unusable_entries: int = 0     # exhibit / supporting entries dropped for structural problems
    attestations: list[Attestation] = dataclasses.field(default_factory=list)   # the entries that parse
    # 11.3 check 4: when any of its attestation rules fails, checks 15 and 16 work through no attestation.
    attestations_refused: bool = False

    @property
    def attestations_worked_through(self) -> list[Attestation]:
        """The attestations checks 15 and 16 work through: none when check 4 refused any attestation rule
        (the cost of a forged manifest is the forger's), otherwise every entry."""
        return [] if self.attestations_refused else self.attestations

    @property
    def records(self) -> list[Exhibit]:
        """Exhibits and supporting records together, in seq order (one per seq)."""
        by_seq: dict[int, Exhibit] = {}
        for e in self.exhibits + self.supporting:
            by_seq.setdefault(e.seq, e)
        return [by_seq[s] for s in sorted(by_seq)]


def _parse_kind(value: Any) -> int | None:
    """11.2: `kind` is the kind's name of section 3 ("genesis" ... "ledger-key", "cancel")."""
    if isinstance(value, str):
        for code, name in KIND_NAMES.items():
            if value == name:
                return code
    return None


def _parse_exhibit(obj: Any, i: int, problems: _Problems, supporting: bool = False) -> Exhibit | None:
    """One entry of `exhibits`, or of `supporting` (which lacks consent_override and media_file)."""
    path = f"supporting[{i}]" if supporting else f"exhibits[{i}]"
    before = len(problems)
    if not _has_keys(obj, SUPPORTING_KEYS if supporting else EXHIBIT_KEYS, path, problems):
        return None
    if supporting:
        obj = dict(obj, consent_override=None, media_file=None)
    seq = _get(obj, "seq", _is_u64, "an unsigned 64-bit integer", path, problems)
    kind = _parse_kind(obj["kind"])
    if kind is None:
        problems.add(f"{path}.kind", "is not a statement kind of section 3 (" + ", ".join(KIND_NAMES.values()) + ")")
    leaf = _get_hex(obj, "leaf_hash", 32, path, problems)
    prev = _get_hex(obj, "prev", 32, path, problems)
    record_bytes = statement_bytes = None
    for key in ("record_bytes", "statement_bytes"):
        try:
            value = b64decode_strict(obj[key])
        except ValueError as exc:
            problems.add(f"{path}.{key}", str(exc))
            continue
        if key == "record_bytes":
            record_bytes = value
        else:
            statement_bytes = value
    signature = _get_b64(obj, "signature", 64, path, problems)
    signer = _parse_key_fields(obj, path, problems, prefix="signer_")
    for key in ("claimed_at_ms", "recorded_at_ms"):
        if _get(obj, key, _is_u64, "an unsigned 64-bit integer", path, problems) is not None:
            _check_time(obj[key], f"{path}.{key}", problems)
    body = obj["body"]
    if type(body) is dict and type(body.get("effective")) is dict and _is_u64(body["effective"].get("time_ms")):
        _check_time(body["effective"]["time_ms"], f"{path}.body.effective.time_ms", problems)
    for key in ("claimed_at", "recorded_at"):
        _get(obj, key, _is_str, "a string", path, problems)
    if type(obj["body"]) is not dict:
        problems.add(f"{path}.body", "is not an object")
    if seq is not None and obj["proof_file"] != f"proofs/{seq}.tlog-proof":
        problems.add(f"{path}.proof_file", f"is not 'proofs/{seq}.tlog-proof'")
    proof: list[bytes] = []
    if type(obj["inclusion_proof"]) is not list:
        problems.add(f"{path}.inclusion_proof", "is not an array")
    else:
        for n, item in enumerate(obj["inclusion_proof"]):
            try:
                h = b64decode_strict(item)
            except ValueError as exc:
                problems.add(f"{path}.inclusion_proof[{n}]", str(exc))
                continue
            if len(h) != 32:
                problems.add(f"{path}.inclusion_proof[{n}]", f"is {len(h)} bytes, not 32")
            proof.append(h)
    content_file = salt = None
    content = obj["content"]
    if content is not None and _has_keys(content, ("file", "salt"), f"{path}.content", problems):
        content_file = content["file"]
        # 11.2: `file` is content/<seq>.txt.
        if seq is not None and content_file != f"content/{seq}.txt":
            problems.add(f"{path}.content.file", f"is not 'content/{seq}.txt'")
        salt = _get_hex(content, "salt", 32, f"{path}.content", problems)
        # 11.2: an exhibit's `content` is for a revealed testimony or an
        # amendment's revealed new text.  (A supporting record's `content`,
        # allowed only for an amendment with a new text of a revealed
        # testimony exhibit, is checked by check 8: "supporting record N:
        # content".)
        if not supporting and kind is not None and kind not in (KIND_TESTIMONY, KIND_AMEND):
            problems.add(f"{path}.content", "is set for an exhibit that is neither a testimony nor an amendment")
    override = obj["consent_override"]
    # 11.2: null, or a non-empty reason (white space only counts as empty).
    if not (override is None or _is_reason(override)):
        problems.add(f"{path}.consent_override", "is neither null nor a non-empty reason (white space only "
                     "counts as empty)")
    media_file = obj["media_file"]
    if media_file is not None:
        if not (isinstance(media_file, str) and re.fullmatch(r"media/[0-9a-f]{64}", media_file)):
            problems.add(f"{path}.media_file", "is not null or 'media/<sha256 hex>'")
        if kind is not None and kind != KIND_MEDIA:
            problems.add(f"{path}.media_file", "is set for an exhibit that is not media")
    if len(problems) != before:
        return None
    return Exhibit(i, obj, seq, kind, leaf, prev, record_bytes, statement_bytes, signature, signer,
                   proof, content_file, salt, override, media_file, supporting)


def raw_token_count(raw: Any) -> int:
    """The time-stamp tokens the manifest's `attestations` list as written: the entries of every attestation's
    `timestamps` array, whatever they hold (11.3 check 4 bounds them: at most 1,024 in all)."""
    attestations = raw.get("attestations") if type(raw) is dict else None
    if type(attestations) is not list:
        return 0
    return sum(len(a["timestamps"]) for a in attestations if type(a) is dict and type(a.get("timestamps")) is list)


def attestation_cap(raw: Any) -> int:
    """11.2: a manifest has at most two attestations per exhibit and one more."""
    exhibits = raw.get("exhibits") if type(raw) is dict else None
    return 2 * (len(exhibits) if type(exhibits) is list else 0) + 1


def parse_manifest(data: bytes) -> Manifest:
    """Parse manifest.json; structural problems are collected, not raised.

    Raises CheckError only when the bytes are not a JSON object at all.
    """
    try:
        raw = parse_json_strict(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckError(f"manifest.json does not parse: {exc}") from exc
    problems = _Problems()
    top = ("format", "case", "include_failing", "exported_at", "exported_at_ms", "exporter", "ledger", "exhibits",
           "supporting", "attestations", "files")
    if type(raw) is not dict:
        raise CheckError("manifest.json is not a JSON object")
    _has_keys(raw, top, "manifest", problems)
    get = raw.get
    if get("format") != BUNDLE_FORMAT:
        problems.add("format", f"is not {q(BUNDLE_FORMAT)}")
    if "case" in raw and not _is_opt_str(get("case")):
        problems.add("case", "is neither a string nor null")
    # 11.2: null or a non-empty reason (white space only counts as empty).
    if "include_failing" in raw and not (get("include_failing") is None or _is_reason(get("include_failing"))):
        problems.add("include_failing", "is neither null nor a non-empty reason (white space only counts as empty)")
    if "exported_at_ms" in raw:
        ms = get("exported_at_ms")
        if not _is_u64(ms):
            problems.add("exported_at_ms", "is not an unsigned 64-bit integer")
        elif not _check_time(ms, "exported_at_ms", problems):
            pass
        elif "exported_at" in raw:
            try:
                expected = rfc3339_ms(ms)
            except ValueError as exc:
                problems.add("exported_at_ms", str(exc))
            else:
                if get("exported_at") != expected:
                    problems.add("exported_at", f"is not {q(expected)} (exported_at_ms)")

    exporter = None
    if "exporter" in raw and _has_keys(raw["exporter"], ("public_key", "key_id", "fingerprint", "key_file"),
                                       "exporter", problems):
        exporter = _parse_key_fields(raw["exporter"], "exporter", problems)

    ledger = None
    ledger_keys = ("origin", "public_key", "key_id", "fingerprint", "key_file", "checkpoint_file",
                   "checkpoint_size", "checkpoint_root")
    if "ledger" in raw and _has_keys(raw["ledger"], ledger_keys, "ledger", problems):
        lg = raw["ledger"]
        before = len(problems)
        key = _parse_key_fields(lg, "ledger", problems)
        origin = _get(lg, "origin", lambda v: isinstance(v, str) and is_valid_key_name(v),
                      "a valid key name", "ledger", problems)
        if lg["checkpoint_file"] != CHECKPOINT:
            problems.add("ledger.checkpoint_file", f"is not {q(CHECKPOINT)}")
        size = _get(lg, "checkpoint_size", _is_u64, "an unsigned 64-bit integer", "ledger", problems)
        root = _get_b64(lg, "checkpoint_root", 32, "ledger", problems)
        if len(problems) == before:
            ledger = LedgerInfo(origin, key, size, root)

    lists: dict[str, list[Exhibit]] = {"exhibits": [], "supporting": []}
    unusable = 0
    for member, entries in lists.items():
        if member not in raw:
            continue
        if type(raw[member]) is not list:
            problems.add(member, "is not an array")
            continue
        last_seq = None
        for i, obj in enumerate(raw[member]):
            entry = _parse_exhibit(obj, i, problems, supporting=member == "supporting")
            if entry is None:
                unusable += 1
                continue
            # 11.2: strictly increasing seq, so no record is listed twice.
            if last_seq is not None and entry.seq <= last_seq:
                twice = " (a record listed twice)" if entry.seq == last_seq else ""
                problems.add(f"{member}[{i}].seq", f"{member} are not in strictly increasing seq{twice}")
            # 11.2: record 0 is never an exhibit; it is always a supporting record.
            if member == "exhibits" and entry.seq == 0:
                problems.add(f"exhibits[{i}].seq", "record 0 is never an exhibit (it is always a supporting "
                             "record)")
            last_seq = entry.seq
            entries.append(entry)
    exhibits, supporting = lists["exhibits"], lists["supporting"]
    both = sorted({e.seq for e in exhibits} & {e.seq for e in supporting})
    if both:
        # 11.2: "No record is both an exhibit and a supporting record."
        problems.add("supporting", "record(s) " + ", ".join(map(str, both)) + " are also exhibits")

    files = None
    if "files" in raw:
        f = raw["files"]
        if type(f) is not dict or not all(isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v)
                                          for v in f.values()):
            problems.add("files", "is not an object of lowercase SHA-256 hex digests")
        else:
            files = f

    attestations: list[Attestation] = []
    attestation_problems = len(problems)
    if "attestations" in raw:
        if type(raw["attestations"]) is not list:
            problems.add("attestations", "is not an array")
        else:
            # 11.2: at most two attestations per exhibit and one more.  SPEC CHOICE: the exhibits counted are
            # the entries of `exhibits` as written (0 when it is not an array, which check 4 fails anyway).
            cap = attestation_cap(raw)
            if len(raw["attestations"]) > cap:
                problems.add("attestations", f"has {len(raw['attestations'])} entries, more than {cap} (11.2: at "
                             "most two per exhibit and one more)")
            # 11.3 check 4: at most 1,024 tokens in all.  SPEC CHOICE: counted over every entry as written
            # (every `timestamps` array, each entry of it whatever it holds).
            total = raw_token_count(raw)
            if total > MAX_TOKENS_IN_ALL:
                problems.add("attestations", f"carry {total} time-stamp tokens in all, more than "
                             f"{MAX_TOKENS_IN_ALL:,} (11.3 check 4)")
            last_size = None
            for i, obj in enumerate(raw["attestations"]):
                entry = _parse_attestation(obj, i, ledger, problems)
                if type(obj) is dict and _is_u64(obj.get("checkpoint_size")):
                    # 11.2: strictly increasing checkpoint_size.
                    if last_size is not None and obj["checkpoint_size"] <= last_size:
                        problems.add(f"attestations[{i}].checkpoint_size", "attestations are not in strictly "
                                     "increasing checkpoint_size")
                    last_size = obj["checkpoint_size"]
                if entry is not None and i < cap:
                    attestations.append(entry)
    # 11.3 check 4: when any of these rules fails, checks 15 and 16 work through no attestation (their cost
    # is the forger's).
    refused = len(problems) != attestation_problems
    return Manifest(raw, exporter, ledger, exhibits, supporting, files, problems, unusable, attestations, refused)


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Check:
    name: str
    passed: bool
    detail: str
    codes: list[str] = dataclasses.field(default_factory=list)   # SPEC section 9 rule codes, when they apply


# 11.3 check 14: another verifier cannot share custody's renderer.
REPORT_NOTE = ("report.html and VERIFY.txt were checked here only as members (their SHA-256 digests); "
               "that their content is what custody renders from this bundle (11.3 check 14) is checked only "
               "by `custody verify-bundle`")
NOT_PINNED_NOTE = ("keys NOT pinned (--no-trust): the ledger and exporter keys were not checked against keys "
                   "obtained out of band, so this result does not show whose ledger the bundle comes from")


class Report:
    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.exhibit_seqs: list[int] = []   # for the final summary line
        self.supporting_seqs: list[int] = []
        self.pending_transfers: list[int] = []
        self.cancelled_transfers: list[int] = []
        self.flagged_superseded: list[int] = []   # flagged supporting ledger-key records check 12 does not fail
        self.flagged_revocations: list[int] = []  # flagged supporting revoke records check 12 does not fail
        self.flagged_cancelled: list[int] = []    # flagged supporting transfer records, cancelled, not failed
        self.flagged_consents: list[int] = []     # flagged supporting consent records check 12 does not fail
        self.flagged_erasures: list[int] = []     # flagged supporting erase records check 12 does not fail
        self.trust_checked = False
        self.include_failing: str | None = None
        self.tokens = 0                      # time-stamp tokens the manifest lists (11.3 check 15)
        self.attestations_checked = True     # False when check 4 refused the attestations: checks 15 and 16
                                             # then check none of their tokens or cosignatures
        self.cosignatures = 0                # cosignature entries the manifest lists, every attestation's
        self.authorities_pinned = False      # --tsa-cert given (11.3 check 16)
        self.policy_checked = False          # --policy given (11.3 check 17)

    @property
    def authorities_not_pinned(self) -> bool:
        """11.3 check 16: a verifier that met tokens without --tsa-cert says the authorities were not pinned."""
        return self.tokens > 0 and not self.authorities_pinned

    @property
    def witnesses_not_pinned(self) -> bool:
        """11.3 after check 17: a verifier says when a bundle carries cosignatures and no --policy was given."""
        return self.cosignatures > 0 and not self.policy_checked

    def ok(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, True, detail))

    def fail(self, name: str, detail: str, codes: list[str] | None = None) -> None:
        self.checks.append(Check(name, False, detail, list(codes or [])))

    def run(self, name: str, func: Callable[..., str], *args: Any) -> bool:
        """Run one check: it returns a detail string, or raises CheckError."""
        try:
            detail = func(*args)
        except CheckError as exc:
            self.fail(name, str(exc), [exc.code] if exc.code else None)
            return False
        self.ok(name, detail)
        return True

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


# ---------------------------------------------------------------------------
# The checks of 11.3
# ---------------------------------------------------------------------------

class BundleVerifier:
    def __init__(self, archive: Archive, trusted: list[bytes] | None, media_dir: str | None,
                 tsa_certs: list[Certificate] | None = None, policy: Policy | None = None):
        self.archive = archive
        self.trusted = trusted or []     # empty: --no-trust
        self.media_dir = media_dir
        self.tsa_certs = tsa_certs       # None: no --tsa-cert (check 16 not run)
        self.policy = policy             # None: no --policy (check 17 not run)
        self.report = Report()
        self.report.authorities_pinned = tsa_certs is not None
        self.report.policy_checked = policy is not None
        self._certificate_cache: dict[str, Certificate | str] = {}   # tsa/ member -> certificate, or why not
        self._own_keys: dict[bytes, str] | None = None                # own_keys(), once the records are decoded
        self._recorded_prefix: list[tuple[int, tuple[int, int]]] | None = None   # attestation_floor()
        # --trust given (keys pinned) or --no-trust: known before any check runs, so that a
        # manifest that does not parse changes nothing in what the output says about it.
        self.report.trust_checked = bool(self.trusted)
        self.manifest: Manifest | None = None
        self.sums: dict[str, str] | None = None
        self._key_cache: dict[str, bytes | str] = {}   # name -> key, or why it is no key file
        self.body_key_files: dict[str, bytes] = {}   # keys/ members named only by record bodies
        self.decoded: dict[int, Record] = {}          # seq -> record, for the authority replay
        self.undecodable: list[str] = []              # labels of entries that could not be decoded
        self.replay: AuthorityReplay | None = None

    # -- helpers ---------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self.archive.members

    def read(self, name: str) -> bytes:
        if not self.has(name):
            raise CheckError(f"member {q(name)} is missing")
        return self.archive.read(name)

    def key_file_holds(self, name: str, public_key: bytes) -> str:
        """The member `name` is exactly the canonical SPKI PEM text of `public_key` (11.1)."""
        if name not in self._key_cache:
            try:
                self._key_cache[name] = parse_key_file(self.read(name))
            except ValueError as exc:
                self._key_cache[name] = f"{name}: {exc}"
        held = self._key_cache[name]
        if isinstance(held, str):
            raise CheckError(held)
        if held != public_key:
            raise CheckError(f"{name} holds key {key_id(held)}, not {key_id(public_key)}")
        return f"{name} is the canonical SPKI PEM of key {key_id(public_key)}"

    # -- 1 and 2 ---------------------------------------------------------------

    def check_crc(self) -> str:
        bad = sorted(m.name for m in self.archive.members.values() if not m.crc_ok)
        # 11.1: a CRC-32 mismatch (data altered inside an otherwise readable
        # archive) is a failed check (exit 1), not an unreadable archive.
        if bad:
            raise CheckError("CRC-32 mismatch (altered data) in " + ", ".join(bad))
        return f"CRC-32 of all {len(self.archive.members)} members match"

    def check_required(self) -> str:
        missing = [n for n in REQUIRED_MEMBERS if not self.has(n)]
        if missing:
            raise CheckError("missing " + ", ".join(missing))
        return "manifest.json, manifest.sig, SHA256SUMS and checkpoint.txt present"

    # -- 3 -----------------------------------------------------------------------

    def check_sums(self) -> str:
        data = self.read(SUMS)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckError("SHA256SUMS is not UTF-8") from exc
        if text and not text.endswith("\n"):
            raise CheckError("SHA256SUMS does not end with a newline")
        listed: dict[str, str] = {}
        names_in_order = []
        for n, line in enumerate(text.split("\n")[:-1], 1):
            m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line, re.DOTALL)
            if not m:
                raise CheckError(f"SHA256SUMS line {n} is not '<hex digest>  <name>'")
            digest, name = m.groups()
            if name in listed:
                raise CheckError(f"SHA256SUMS lists {q(name)} twice")
            listed[name] = digest
            names_in_order.append(name)
        # SPEC CHOICE: the "sorted by name (byte order)" rule of 11.1 is
        # enforced as part of being well-formed.
        if names_in_order != sorted(names_in_order, key=lambda s: s.encode("utf-8")):
            raise CheckError("SHA256SUMS is not sorted by name")
        self.sums = listed
        present = set(self.archive.members) - {SUMS}
        problems = []
        if SUMS in listed:
            problems.append("lists SHA256SUMS itself")
        missing = sorted(set(listed) - present - {SUMS})
        added = sorted(present - set(listed))
        if missing:
            problems.append("missing member(s): " + ", ".join(missing))
        if added:
            problems.append("added member(s) not listed: " + ", ".join(added))
        altered = sorted(n for n in set(listed) & present if listed[n] != self.archive.members[n].sha256)
        if altered:
            problems.append("digest mismatch (altered): " + ", ".join(altered))
        if problems:
            raise CheckError("; ".join(problems))
        return f"{len(listed)} members listed, every digest matches"

    # -- 4 -----------------------------------------------------------------------

    def check_manifest(self) -> str:
        self.manifest = parse_manifest(self.read(MANIFEST))
        m = self.manifest
        if m.problems:
            more = f" (and {len(m.problems) - 5} more)" if len(m.problems) > 5 else ""
            raise CheckError("; ".join(m.problems[:5]) + more)
        detail = (f"{BUNDLE_FORMAT}, {len(m.exhibits)} exhibit(s), {len(m.supporting)} supporting record(s), "
                  f"exported {m.raw['exported_at']}")
        if m.raw["include_failing"] is not None:
            detail += (f"; exported with --include-failing: {q(short(m.raw['include_failing'], 200))} (exhibits "
                       "that fail their own checks were included on purpose)")
        return detail

    def check_manifest_files(self) -> str:
        files = self.manifest.files
        if files is None:
            raise CheckError("manifest has no usable 'files'")
        expected = set(self.archive.members) - set(NOT_IN_FILES)
        problems = []
        missing = sorted(set(files) - set(self.archive.members))
        unlisted = sorted(expected - set(files))
        wrongly = sorted(set(files) & set(NOT_IN_FILES))
        if missing:
            problems.append("lists absent member(s): " + ", ".join(missing))
        if unlisted:
            problems.append("does not list member(s): " + ", ".join(unlisted))
        if wrongly:
            problems.append("lists " + ", ".join(wrongly))
        for name in sorted(set(files) & expected):
            if files[name] != self.archive.members[name].sha256:
                problems.append(f"digest of {name} does not match the member")
            elif self.sums is not None and self.sums.get(name) != files[name]:
                problems.append(f"digest of {name} differs from SHA256SUMS")
        if problems:
            raise CheckError("; ".join(problems))
        return f"lists exactly the {len(files)} other members with the SHA256SUMS digests"

    def check_member_names(self) -> str:
        """Every member has a name of the 11.1 table and is part of the bundle.

        11.1: a member whose name fits the table but that no part of the
        manifest refers to (a proof, key, content or media file of no exhibit
        or supporting record) is reported as added, like an unknown name.
        SPEC CHOICE: besides the exporter, ledger and signer key files, a
        `keys/<key ID>.pub` member is accepted (not required) for a key that
        a record body names (an authorised, revoked, receiving or ledger-key
        key, such as an intermediate ledger key of the chain): the manifest
        refers to it through that body's `key_id` / `to_key_id`.
        Such a file must hold that key (checked as "key file ...").
        """
        referenced: set[str] = set(REQUIRED_MEMBERS)
        m = self.manifest
        usable = m is not None and not m.problems
        self.body_key_files = {}
        if usable:
            referenced |= {m.exporter.key_file, m.ledger.key.key_file}
            for a in m.attestations:
                referenced |= a.members
            for e in m.exhibits + m.supporting:
                referenced |= {e.raw["proof_file"], e.signer.key_file}
                referenced |= {n for n in (e.content_file, e.media_file) if n}
                try:
                    fields = decode_record(e.record_bytes).statement.fields
                except CheckError:
                    continue
                for k in (fields.get("key"), fields.get("to")):
                    if k is not None:
                        self.body_key_files.setdefault(f"keys/{key_id(k)}.pub", k)
        problems = []
        for name in sorted(self.archive.members):
            if name in referenced or name in OPTIONAL_MEMBERS:
                continue
            if name in self.body_key_files:
                continue
            if not any(p.fullmatch(name) for p in NAME_PATTERNS):
                problems.append(f"added member {q(name)} (unknown name)")
            elif usable:
                problems.append(f"added member {q(name)} (not referred to by the manifest)")
        if usable:
            for name in sorted(referenced - set(self.archive.members)):
                problems.append(f"missing member {q(name)}")
        if problems:
            raise CheckError("; ".join(problems))
        if not usable:
            return "every member name fits the bundle layout (references not checked: manifest unusable)"
        return "every member is named as 11.1 says and is referred to; none missing"

    def check_supporting(self) -> str:
        """11.3 check 11 (its second half): record 0 is among the supporting records."""
        m = self.manifest
        seqs = [e.seq for e in m.supporting]
        if "supporting" not in m.raw:
            raise CheckError("the manifest has no 'supporting' records (record 0, the genesis, must be among them)")
        if 0 not in seqs:
            where = " (it is listed as an exhibit)" if any(e.seq == 0 for e in m.exhibits) else ""
            raise CheckError(f"record 0 (the genesis) is not among the {len(seqs)} supporting record(s){where}")
        return f"{len(seqs)} supporting record(s) (seq {', '.join(map(str, seqs))}); record 0 among them"

    # -- 5 -----------------------------------------------------------------------

    def check_manifest_sig(self) -> str:
        exporter = self.manifest.exporter
        sig = self.read(MANIFEST_SIG)
        if len(sig) != 64:
            raise CheckError(f"manifest.sig is {len(sig)} bytes, not 64")
        if is_weak_public_key(exporter.public_key):
            raise CheckError("exporter key is weak (small order or non-canonical)")
        if not ed25519_verify_strict(exporter.public_key, sig, self.read(MANIFEST)):
            raise CheckError(f"signature does not verify under exporter key {key_id(exporter.public_key)}")
        return f"signed by exporter key {key_id(exporter.public_key)} ({fingerprint(exporter.public_key)})"

    # -- 6 -----------------------------------------------------------------------

    def check_checkpoint(self) -> str:
        """11.3 check 6: checkpoint.txt is a checkpoint of ledger.origin signed by ledger.public_key (section 6)
        with exactly one signature line, of checkpoint_size and checkpoint_root (the key file is checked
        apart).  11.1: checkpoint.txt carries the ledger's signature line alone; witnesses' cosignatures
        travel in attest/ (where check 15 judges them), so a cosignature line here, or the ledger's own line
        twice, fails: a line nothing judges must not ride along in the checkpoint every proof refers to."""
        ledger = self.manifest.ledger
        data = self.read(CHECKPOINT)
        cp = verify_checkpoint(data, ledger.origin, ledger.key.public_key)
        signatures = parse_signed_note(data)[1]
        if len(signatures) != 1:
            own = note_key_id(ledger.origin, ledger.key.public_key)
            others = [name for name, kid, _ in signatures if (name, kid) != (ledger.origin, own)]
            by_others = f", by other keys: {', '.join(map(q, others))}" if others else " (the ledger's own, repeated)"
            raise CheckError(f"checkpoint.txt carries {len(signatures)} signature lines{by_others}; 11.3 check 6: "
                             "exactly one, the ledger's (11.1: witnesses' cosignatures travel in attest/)")
        if cp.size != ledger.checkpoint_size:
            raise CheckError(f"checkpoint size {cp.size} differs from the manifest's {ledger.checkpoint_size}")
        if cp.root != ledger.checkpoint_root:
            raise CheckError("checkpoint root differs from the manifest's checkpoint_root")
        return (f"{ledger.origin} size {cp.size} root {cp.root.hex()} signed by ledger key "
                f"{key_id(ledger.key.public_key)}")

    # -- 7, 8, 9 -----------------------------------------------------------------

    def check_record(self, e: Exhibit) -> str:
        """record_bytes decodes strictly; every field equals the manifest's; leaf hash."""
        record = decode_record(e.record_bytes)
        raw = e.raw
        diffs = []
        if record.seq != e.seq:
            diffs.append(f"seq is {record.seq}")
        if record.statement_bytes != e.statement_bytes:
            diffs.append("statement_bytes")
        if record.prev != e.prev:
            diffs.append("prev")
        if record.recorded_at_ms != raw["recorded_at_ms"]:
            diffs.append("recorded_at_ms")
        if record.statement.claimed_at_ms != raw["claimed_at_ms"]:
            diffs.append("claimed_at_ms")
        for field, ms in (("recorded_at", record.recorded_at_ms), ("claimed_at", record.statement.claimed_at_ms)):
            try:
                if raw[field] != rfc3339_ms(ms):
                    diffs.append(field)
            except ValueError:
                diffs.append(f"{field} (time out of range)")
        if record.statement.signer != e.signer.public_key:
            diffs.append("signer_key")
        if record.signature != e.signature:
            diffs.append("signature")
        if record.statement.kind != e.kind:
            diffs.append("kind")
        elif not json_equal(raw["body"], record.statement.body):
            diffs.append("body")
        if diffs:
            raise CheckError("manifest differs from the record in: " + ", ".join(diffs))
        computed = leaf_hash(e.record_bytes)
        if computed != e.leaf_hash:
            raise CheckError(f"leaf_hash is not the record's leaf hash {computed.hex()}")
        return (f"{KIND_NAMES[e.kind]} record decodes strictly and matches the manifest; "
                f"leaf hash {computed.hex()}")

    def check_ledger_rules(self, e: Exhibit, record: Record) -> str:
        """The position rules of section 4 that a record shows on its own (11.3 check 7).

        Record 0 is, and only record 0 is, the genesis, naming the ledger's
        origin with a zero prev; its signer is the first ledger key (the
        start of the ledger-key chain).  That the chain leads from it to
        `ledger.public_key`, the key that signed the checkpoint, is the
        checkpoint rule of check 12 ("checkpoint authority"): after a
        ledger-key record, `ledger.public_key` is no longer the genesis key.

        11.3 check 7: time order is not checked between a bundle's records,
        which are not contiguous (not even between two consecutive records
        that both happen to be in it), and `future-dated` is a finding of
        `custody audit` and `verify` only (section 4).  The claimed time is at
        most 10 minutes after the recorded time.
        """
        st = record.statement
        if record.seq == 0:
            if st.kind != KIND_GENESIS:
                raise CheckError("record 0 is not the genesis", CODE_GENESIS)
            if record.prev != bytes(32):
                raise CheckError("record 0's prev is not 32 zero bytes", "chain")
            ledger = self.manifest.ledger
            if ledger is not None and st.body["origin"] != ledger.origin:
                raise CheckError("the genesis origin is not the ledger's origin", CODE_GENESIS)
        elif st.kind == KIND_GENESIS:
            raise CheckError(f"record {record.seq} is a genesis; only record 0 may be", CODE_GENESIS)
        if st.claimed_at_ms > record.recorded_at_ms + CLAIM_SLACK_MS:
            raise CheckError(f"claimed_at ({st.claimed_at_ms} ms) is more than 10 minutes after recorded_at "
                             f"({record.recorded_at_ms} ms)", "claimed-after-recorded")
        if record.seq == 0:
            return (f"the genesis of {st.body['origin']}, prev zero, signed by {key_id(st.signer)} (the first "
                    "ledger key); claimed time at most 10 minutes after the recorded time")
        return "not a genesis; claimed time at most 10 minutes after the recorded time (section 4)"

    def check_signature(self, e: Exhibit, record: Record) -> str:
        if is_weak_public_key(record.statement.signer):
            raise CheckError("signer key is weak (small order or non-canonical)")
        if not verify_statement_signature(record.statement, record.statement_bytes, record.signature):
            raise CheckError(f"statement signature does not verify under signer key {key_id(e.signer.public_key)}")
        return f"statement signed by {key_id(e.signer.public_key)}"

    def check_inclusion(self, e: Exhibit) -> str:
        ledger = self.manifest.ledger
        if ledger is None:
            raise CheckError("no usable ledger section in the manifest")
        if e.seq >= ledger.checkpoint_size:
            raise CheckError(f"seq {e.seq} is not below checkpoint size {ledger.checkpoint_size}")
        verify_inclusion(e.leaf_hash, e.seq, ledger.checkpoint_size, e.inclusion_proof, ledger.checkpoint_root)
        return f"included at {e.seq} in the tree of size {ledger.checkpoint_size} ({len(e.inclusion_proof)} hashes)"

    def check_proof_file(self, e: Exhibit) -> str:
        name = e.raw["proof_file"]
        proof = parse_tlog_proof(self.read(name))
        if proof.index != e.seq:
            raise CheckError(f"{name} has index {proof.index}, not {e.seq}")
        if proof.hashes != e.inclusion_proof:
            raise CheckError(f"{name}'s hashes differ from the manifest's inclusion_proof")
        if not self.has(CHECKPOINT) or proof.checkpoint != self.read(CHECKPOINT):
            raise CheckError(f"{name}'s checkpoint is not exactly checkpoint.txt")
        return f"{name}: index {e.seq}, same hashes, checkpoint identical to checkpoint.txt"

    def revealed_testimony(self, seq: int) -> Exhibit | None:
        """The testimony exhibit `seq` when the bundle reveals its text."""
        for ex in self.manifest.exhibits:
            if ex.seq == seq and ex.kind == KIND_TESTIMONY and ex.content_file is not None:
                return ex
        return None

    def must_reveal(self, record: Record) -> Exhibit | None:
        """For an amendment with a new text of a testimony exhibit whose text is revealed: that exhibit.

        11.3 check 8: such a supporting amendment "must reveal its own" text
        (every version reaches the court).  SPEC CHOICE: the same is
        required of one exported as an exhibit: a bundle that reveals a
        testimony's text but withholds a later version fails check 8.
        """
        st = record.statement
        if st.kind != KIND_AMEND or st.body["commitment"] is None:
            return None
        if self.replay is not None and self.replay.text_erased_by(record) is not None:
            return None     # 11.2: the texts of an erased testimony are never revealed, no version of them
        return self.revealed_testimony(st.fields["target"])

    def check_content(self, e: Exhibit, record: Record) -> str:
        """11.3 check 8, for a testimony and an amendment with a new text (exhibit or supporting); and the
        rule of check 7 that no record (exhibit or supporting) reveals text of a testimony that an erase
        record of the bundle erased (code `content`).

        SPEC CHOICE: "erased" is the state check 12 builds (4.1: an erase
        record that obeyed the rules records its target as erased, a flagged
        one included, since verdicts undo nothing; one that broke a rule
        changed nothing); an amendment's new text is a version of the
        testimony it amends (section 3, erase: "a testimony's texts, every
        version"), so it is erased with it.
        """
        body = record.statement.body
        erased = self.replay.text_erased_by(record) if self.replay is not None else None
        if e.content_file is None:
            target = self.must_reveal(record)
            if target is not None:
                raise CheckError(f"the bundle reveals the text of testimony exhibit {target.seq}, which this "
                                 "record amends with a new text, but not this new text (11.2: every version "
                                 "of a revealed testimony is revealed)", "content")
            if erased is not None:
                return (f"content not revealed: testimony {erased[0]} was erased by record {erased[1]} (its texts, "
                        "every version, are never revealed)")
            return "content not revealed"
        if erased is not None:
            whose = "its text" if erased[0] == record.seq else f"a text of testimony {erased[0]}"
            raise CheckError(f"{e.content_file} reveals {whose}, which erase record {erased[1]} of the bundle "
                             "erased (11.3 check 7: no record reveals text of an erased testimony)", "content")
        if body["commitment"] is None:
            raise CheckError(f"{e.content_file} is given but the amendment carries no new text")
        if not self.has(e.content_file):
            raise CheckError(f"{e.content_file} is missing")
        size, digest = self.archive.hash_with_prefix(e.content_file, e.content_salt)
        if size != body["content_length"]:
            raise CheckError(f"{e.content_file} has {size} bytes, the record says {body['content_length']}")
        if digest.hex() != body["commitment"]:
            raise CheckError(f"H(salt || {e.content_file}) does not equal the record's commitment")
        return f"{e.content_file} ({size} bytes) satisfies the commitment"

    def check_consent(self, e: Exhibit, record: Record) -> str:
        """11.3 check 7: a testimony exhibit that reveals its text (its `content` is not null) has consent
        for it: its consent in force allows court use (section 3, judged by the state check 12 builds from
        the bundle's records: its consent records in the bundle, the last one counting only when it
        stands), or it carries a non-empty consent_override.  One whose text is not revealed needs
        neither."""
        allowed, why = self.replay.consent_in_force(record.seq, record.statement.body["consent"])
        if e.content_file is None:
            return f"text not revealed, so no consent is needed ({why})"
        if allowed:
            return why
        if e.consent_override is None:
            raise CheckError(f"{why} (section 3: an item exactly 'court' and no item 'none', from a last consent "
                             "record that stands) and no consent_override is recorded", CODE_CONSENT)
        return f"{why}; exported with override: {q(short(e.consent_override, 120))}"

    def check_supporting_content(self, e: Exhibit, record: Record) -> str:
        """11.3 check 8 for a supporting record: `content` only for an amendment with a new text
        of a testimony exhibit whose text the bundle reveals (11.2)."""
        st = record.statement
        if e.content_file is not None:
            erased = self.replay.text_erased_by(record) if self.replay is not None else None
            if erased is not None:
                raise CheckError(f"{e.content_file} reveals a text of testimony {erased[0]}, which erase record "
                                 f"{erased[1]} of the bundle erased (11.3 check 7: no record reveals text of an "
                                 "erased testimony)", "content")
            if st.kind != KIND_AMEND or st.body["commitment"] is None:
                raise CheckError(f"a supporting {KIND_NAMES[st.kind]} record carries content; only an amendment "
                                 "with a new text may (11.2)", "content")
            if self.must_reveal(record) is None:
                raise CheckError(f"carries content, but record {st.fields['target']}, which it amends, is not a "
                                 "testimony exhibit whose text the bundle reveals (11.2)", "content")
        return self.check_content(e, record)

    def check_amendment_consent(self, e: Exhibit, record: Record) -> str:
        """A revealed amendment text has consent for it (11.3 checks 7 and 8, 11.2).

        11.3 check 7: an amendment with a new text has consent when its
        testimony is an exhibit of the bundle whose consent in force (section
        3, by the bundle's records) allows court use, or that carries an
        override; otherwise the amendment exhibit itself carries a
        non-empty consent_override.  A supporting amendment reveals its text
        only for a testimony exhibit whose text is revealed (check 8), under
        that exhibit's consent and override.
        """
        target_seq = record.statement.fields["target"]
        testimony = next((ex for ex in self.manifest.exhibits if ex.seq == target_seq), None)
        decoded = self.decoded.get(target_seq)
        if testimony is not None and decoded is not None and decoded.statement.kind == KIND_TESTIMONY:
            allowed, in_force = self.replay.consent_in_force(target_seq, decoded.statement.body["consent"])
            if allowed:
                return f"the amended testimony exhibit {target_seq} has {in_force}"
            if testimony.consent_override is not None:
                return (f"the amended testimony exhibit {target_seq} has {in_force}; it was exported with override: "
                        f"{q(short(testimony.consent_override, 120))}")
            why = f"the amended testimony exhibit {target_seq} has {in_force}, and it carries no consent_override"
        else:
            why = f"record {target_seq}, which it amends, is not a testimony exhibit of the bundle"
        if e.supporting:
            raise CheckError(f"the text is revealed, but {why}", CODE_CONSENT)
        if e.consent_override is None:
            raise CheckError(f"the text is revealed, but {why}, and this exhibit carries no consent_override",
                             CODE_CONSENT)
        return f"{why}; this exhibit was exported with override: {q(short(e.consent_override, 120))}"

    def check_media(self, e: Exhibit, record: Record) -> str:
        body = record.statement.body
        want_hash, want_size = body["sha256"], body["size"]
        matched: list[str] = []
        notes: list[str] = []
        if e.media_file is not None:
            if e.media_file != f"media/{want_hash}":
                raise CheckError(f"media_file is not media/{want_hash}")
            member = self.archive.members.get(e.media_file)
            if member is None:
                raise CheckError(f"{e.media_file} is missing")
            if member.sha256 != want_hash or member.size != want_size:
                raise CheckError(f"{e.media_file}: SHA-256/size ({member.size} bytes) differ from the record's")
            matched.append(e.media_file)
        if self.media_dir is not None:
            self._check_media_dir(body, matched, notes)
        if self.replay is not None and record.seq in self.replay.erased:
            # Section 15: an erasure destroys the ledger's sealed copy; the record and its proofs stay.  A copy
            # given here is still judged against the record (no rule of 11.3 forbids it).
            notes.append(f"the ledger's sealed copy was erased by record {self.replay.erased[record.seq]}")
        if not matched:
            # 11.3.9: not a failure, but said plainly.
            return "; ".join(["file not provided"] + notes)
        return (f"{' and '.join(matched)} match(es) the record (sha256 {want_hash}, {want_size} bytes)"
                + "".join("; " + n for n in notes))

    def _check_media_dir(self, body: dict, matched: list[str], notes: list[str]) -> None:
        """Regular files in --media-dir named as the record's name or sha256 hex.

        Every such file found must match.  SPEC CHOICE: only a plain base name
        is looked up (a recorded name containing '/' or equal to '.' or '..'
        is not, so a record cannot point outside DIR), and a symbolic link or
        other non-regular file is not "a regular file": it is ignored, with a
        note.
        """
        candidates = [body["sha256"]]
        name = body["name"]
        if name and "/" not in name and name not in (".", "..") and name != body["sha256"]:
            candidates.insert(0, name)
        for candidate in candidates:
            path = os.path.join(self.media_dir, candidate)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
            if not stat.S_ISREG(st.st_mode):
                # Never opened: a FIFO or a device is not read, a link not followed.
                notes.append(f"{path} ignored (not a regular file: {file_type_name(st.st_mode)})")
                continue
            # At most one byte more than the record's size is read; the
            # descriptor must be the regular file lstat() found (exit 2 if
            # it was replaced meanwhile).
            size, digest = hash_file(path, body["size"], same_as=st)
            if digest is None:
                raise CheckError(f"{path}: larger than the record's size ({body['size']} bytes), so its SHA-256/size "
                                 "differ from the record's (not read further)")
            if digest.hex() != body["sha256"] or size != body["size"]:
                raise CheckError(f"{path}: SHA-256/size ({size} bytes) differ from the record's")
            matched.append(path)

    # -- 10 ----------------------------------------------------------------------

    def check_trust(self) -> str:
        """11.3 check 10: the ledger key (that signed the checkpoint) and the exporter key are trusted."""
        m = self.manifest
        if not self.trusted:
            return "keys NOT pinned: --no-trust was given, the keys were not checked against a trust list"
        problems = []
        if m.ledger is None or m.ledger.key.public_key not in self.trusted:
            problems.append("the ledger key is not among the trusted keys")
        if m.exporter is None or m.exporter.public_key not in self.trusted:
            problems.append("the exporter key is not among the trusted keys")
        if problems:
            raise CheckError("; ".join(problems))
        return (f"ledger key {key_id(m.ledger.key.public_key)} and exporter key "
                f"{key_id(m.exporter.public_key)} are trusted")

    # -- driver --------------------------------------------------------------------

    def run(self) -> Report:
        r = self.report
        r.ok("archive", f"safe ZIP (11.1): {len(self.archive.members)} members, every byte accounted for, "
                        "all read within the limits")
        r.run("zip CRC-32", self.check_crc)
        # A missing member fails the checks that need it (read() raises
        # CheckError), so every check still runs and reports.
        r.run("required members", self.check_required)
        r.run("SHA256SUMS", self.check_sums)
        manifest_ok = r.run("manifest", self.check_manifest)
        r.run("member names", self.check_member_names)
        m = self.manifest
        if m is None:
            return r
        if m.raw.get("include_failing") is not None and isinstance(m.raw.get("include_failing"), str):
            r.include_failing = m.raw["include_failing"]
        if m.files is not None:
            r.run("manifest files", self.check_manifest_files)
        if m.exporter is not None:
            r.run("manifest signature", self.check_manifest_sig)
            r.run("exporter key file", self.key_file_holds, m.exporter.key_file, m.exporter.public_key)
        if m.ledger is not None:
            r.run("checkpoint", self.check_checkpoint)
            r.run("ledger key file", self.key_file_holds, m.ledger.key.key_file, m.ledger.key.public_key)
        # Every record is decoded first: the consent of an amendment's text
        # needs the testimony it amends, wherever that is in the manifest.
        for e in m.exhibits + m.supporting:
            record = None
            try:
                record = decode_record(e.record_bytes)
            except CheckError:
                pass
            if record is not None and record.seq == e.seq:
                self.decoded.setdefault(e.seq, record)
            else:
                self.undecodable.append(e.label)
        # The state of 4.1 over the bundle's records (check 12), built before the per-record checks:
        # check 7 judges consent in force, and which texts are erased, by it.
        self.replay = AuthorityReplay(self.decoded.values())
        for e in m.exhibits:
            self.run_record(e)
        r.run("supporting records", self.check_supporting)
        for e in m.supporting:
            self.run_record(e)
        checked = {e.signer.key_file for e in m.exhibits + m.supporting}
        checked |= {k.key_file for k in (m.exporter, m.ledger and m.ledger.key) if k is not None}
        for name, key in sorted(self.body_key_files.items()):
            if self.has(name) and name not in checked:
                r.run(f"key file {name}", self.key_file_holds, name, key)
        self.run_authority()
        r.exhibit_seqs = [e.seq for e in m.exhibits]
        r.supporting_seqs = [e.seq for e in m.supporting]
        self.run_attestations()
        if manifest_ok or (m.ledger is not None and m.exporter is not None):
            r.run("trust", self.check_trust)
        self.run_pinned_authorities()
        if self.policy is not None:
            r.run("witness quorum", self.check_witness_quorum)
            r.run("pinned witnesses", self.check_pinned_witnesses)
        self.add_included_failing()
        return r

    def add_included_failing(self) -> None:
        """11.2: a bundle whose manifest has a non-null `include_failing` never verifies as passed:
        it fails the check `included-failing`, and the other failing checks are shown too.

        SPEC CHOICE: the check is listed first after "archive" (so that it is
        the first failing check, text and --json, and first in the PROBLEM
        line), whatever the other checks found; it applies to any non-null
        value, a malformed one (an empty reason, a number) included, which
        the manifest check fails as well.
        """
        m = self.manifest
        if m is None or type(m.raw) is not dict or m.raw.get("include_failing") is None:
            return
        reason = m.raw["include_failing"]
        others = [c.name for c in self.report.checks if not c.passed]
        detail = (f"the manifest's include_failing is {q(short(reason, 200) if isinstance(reason, str) else reason)}: "
                  "the exporter put into this bundle exhibits that fail their own checks (export "
                  "--include-failing), so it never verifies as passed (11.2)")
        if others:
            detail += f"; the other failing check(s) follow: {', '.join(others)}"
        else:
            detail += ("; no other check here fails: the failures the exporter saw may need records a bundle "
                       "does not carry (such as time order), which `custody audit` of the ledger checks")
        self.report.checks.insert(1 if self.report.checks else 0,
                                  Check("included failing", False, detail, [CODE_INCLUDED_FAILING]))

    def run_record(self, e: Exhibit) -> None:
        """Checks 7-9 for an exhibit; check 11 for a supporting record (7 without consent, and 8)."""
        r, label = self.report, e.label
        if not r.run(f"{label}: record", self.check_record, e):
            return
        record = decode_record(e.record_bytes)   # decodes: check_record passed
        r.run(f"{label}: ledger rules", self.check_ledger_rules, e, record)
        r.run(f"{label}: signature", self.check_signature, e, record)
        r.run(f"{label}: signer key file", self.key_file_holds, e.signer.key_file, e.signer.public_key)
        r.run(f"{label}: inclusion proof", self.check_inclusion, e)
        r.run(f"{label}: proof file", self.check_proof_file, e)
        if e.supporting:
            if e.content_file is not None or self.must_reveal(record) is not None:
                if r.run(f"{label}: content", self.check_supporting_content, e, record) and e.content_file:
                    r.run(f"{label}: consent", self.check_amendment_consent, e, record)
            return
        if e.kind == KIND_TESTIMONY:
            r.run(f"{label}: content", self.check_content, e, record)
            r.run(f"{label}: consent", self.check_consent, e, record)
        elif e.kind == KIND_AMEND and (e.content_file is not None or self.must_reveal(record) is not None):
            r.run(f"{label}: content", self.check_content, e, record)
            if e.content_file is not None:
                r.run(f"{label}: consent", self.check_amendment_consent, e, record)
        elif e.kind == KIND_MEDIA:
            r.run(f"{label}: media", self.check_media, e, record)

    # -- 12, 13 ------------------------------------------------------------------

    def run_authority(self) -> None:
        """Check 12 (one "<label>: authority" line per record, and "checkpoint authority") and
        check 13 ("exhibit N: custody")."""
        r, m = self.report, self.manifest
        replay = self.replay
        missing = list(self.undecodable)
        if m.unusable_entries:
            missing.append(f"{m.unusable_entries} manifest entr{'y' if m.unusable_entries == 1 else 'ies'} "
                           "with structural problems")
        if missing:
            r.fail("authority", "replayed without " + ", ".join(missing) + " (they cannot be decoded); "
                   "the rules of 4.1 are not established for the bundle", [CODE_UNAUTHORIZED])
        labels = {e.seq: e.label for e in m.supporting}
        labels.update({e.seq: e.label for e in m.exhibits})
        exhibit_seqs = {e.seq for e in m.exhibits}
        for seq in sorted(replay.records):
            problems = replay.problems.get(seq)
            why = None
            if problems and seq not in exhibit_seqs:
                why = self.excused_verdict(replay.records[seq], problems)
            if why is not None:
                kind = replay.records[seq].statement.kind
                named = {KIND_REVOKE: r.flagged_revocations, KIND_TRANSFER: r.flagged_cancelled,
                         KIND_LEDGER_KEY: r.flagged_superseded, KIND_CONSENT: r.flagged_consents,
                         KIND_ERASE: r.flagged_erasures}
                named[kind].append(seq)
                r.ok(f"{labels[seq]}: authority",
                     f"{replay.details[seq]}; FLAGGED, not a failure: "
                     + "; ".join(f"{msg} [{code}]" for code, msg in problems)
                     + f" (11.3 check 12: {why})")
            elif problems:
                r.fail(f"{labels[seq]}: authority", "; ".join(msg for _, msg in problems),
                       list(dict.fromkeys(code for code, _ in problems)))
            else:
                r.ok(f"{labels[seq]}: authority", replay.details[seq])
        if m.ledger is not None:
            r.run("checkpoint authority", replay.checkpoint, m.ledger.checkpoint_size, m.ledger.key.public_key)
        for e in m.exhibits:
            if e.seq in replay.records and replay.records[e.seq].statement.kind in HELD_KINDS:
                r.run(f"{e.label}: custody", self.check_custody, e.seq)

    def excused_verdict(self, record: Record, problems: list[tuple[str, str]]) -> str | None:
        """11.3 check 12: the verdicts on SUPPORTING records that do not fail the check.

        The caller passes supporting records only: a verdict on an exhibit
        always fails.  A supporting record that obeyed the rules of 4.1 and is
        flagged only by the verdicts (signed after compromise, or by a tainted
        key) is named in the detail instead of failing when it is

        * a revoke record: it only ends keys or widens compromise windows, so
          what it did can only make the bundle's verdicts stricter; or
        * a ledger-key record whose key is not `ledger.public_key`: that key
          was superseded below the checkpoint and vouches for nothing the
          bundle proves; or
        * a transfer record that was cancelled: a cancel record of the
          bundle, one that obeyed the rules (a record that broke one changed
          nothing, so it cancelled nothing), withdrew it, so it moved
          nothing; or
        * a consent record: one that does not stand allows no court use
          (section 3, "consent in force"), which check 7 applies; or
        * an erase record: an erasure only withholds text (check 7: no record
          reveals what it erased).

        Returns why (for the detail), or None when the problems fail the
        check: a broken rule (`unauthorized`, never excused), a verdict on
        any other kind of record, a flagged ledger-key record naming the
        checkpoint's key, a flagged transfer that was not cancelled (pending
        or accepted: it moved, or may still move, the exhibit), or a manifest
        whose ledger key is unknown.
        """
        if not problems or not all(code in (CODE_COMPROMISED, CODE_TAINTED) for code, _ in problems):
            return None
        kind = record.statement.kind
        if kind == KIND_REVOKE:
            return ("a supporting revoke record only ends keys or widens compromise windows, so what it did "
                    "can only make the bundle's verdicts stricter")
        ledger = self.manifest.ledger
        if kind == KIND_LEDGER_KEY and ledger is not None and record.statement.fields["key"] != ledger.key.public_key:
            return ("the key this supporting ledger-key record names is not ledger.public_key; it was "
                    "superseded below the checkpoint and vouches for nothing this bundle proves")
        if kind == KIND_TRANSFER and self.replay is not None:
            transfer = self.replay.transfers.get(record.seq)
            if transfer is not None and transfer.cancelled_at is not None:
                return (f"this supporting transfer record was cancelled by record {transfer.cancelled_at}, so it "
                        "moved nothing")
        if kind == KIND_CONSENT:
            return ("a supporting consent record that does not stand allows no court use (section 3; check 7 "
                    "judges the consent in force so), so it can only make the bundle's verdicts stricter")
        if kind == KIND_ERASE:
            return ("a supporting erase record only withholds text (no record may reveal what it erased), so it "
                    "can only make the bundle's verdicts stricter")
        return None

    # -- 15, 16, 17: attestations ---------------------------------------------------

    def bundle_checkpoint(self) -> Checkpoint:
        """checkpoint.txt as check 6 verifies it (CheckError when it does not)."""
        ledger = self.manifest.ledger
        try:
            cp = verify_checkpoint(self.read(CHECKPOINT), ledger.origin, ledger.key.public_key)
        except CheckError as exc:
            raise CheckError(f"the bundle's checkpoint.txt does not verify (check 6): {exc}") from exc
        if cp.size != ledger.checkpoint_size or cp.root != ledger.checkpoint_root:
            raise CheckError("the bundle's checkpoint.txt is not of ledger.checkpoint_size and checkpoint_root "
                             "(check 6)")
        return cp

    def attestation_limit_ms(self) -> int:
        """exported_at_ms + 10 minutes: the latest time a cosignature or token may carry (11.2, 11.3 check 15)."""
        exported = self.manifest.raw.get("exported_at_ms")
        if not _is_u64(exported):
            raise CheckError("the manifest's exported_at_ms is not usable (check 4), so the attestations' times "
                             "cannot be judged")
        return exported + CLAIM_SLACK_MS

    def attestation_floor(self, size: int) -> tuple[int, int] | None:
        """11.3 check 15, *attestation times*: (the latest recorded_at_ms of the bundle's records with seq below
        `size`, the seq of that record); a cosignature or stamped time of an attestation of that size is at least
        that time less 10 minutes.  None when the bundle holds no such record.

        SPEC CHOICE: the recorded time is taken from each record's bytes and from its manifest entry alike (check
        7 requires them equal), the later of the two, so that neither can lower the bound."""
        if self._recorded_prefix is None:
            # Built once: (seq, latest (recorded_at_ms, seq) up to it) in seq order, so that each of the up to
            # 2 x exhibits + 1 attestations and their cosignatures and tokens costs a binary search.
            m = self.manifest
            times: list[tuple[int, int]] = [(e.seq, e.raw["recorded_at_ms"]) for e in m.exhibits + m.supporting
                                            if _is_u64(e.raw.get("recorded_at_ms"))]
            times += [(rec.seq, rec.recorded_at_ms) for rec in self.decoded.values()]
            prefix: list[tuple[int, tuple[int, int]]] = []
            latest = None
            for seq, ms in sorted(times):
                latest = max(latest or (ms, seq), (ms, seq))
                prefix.append((seq, latest))
            self._recorded_prefix = prefix
        prefix = self._recorded_prefix
        n = bisect.bisect_left(prefix, (size,))   # the entries with seq below `size`
        return prefix[n - 1][1] if n else None

    def attestation_time_problem(self, size: int, ms: int, what: str) -> str | None:
        """Why `ms` (a cosignature or stamped time of the attestation of `size`) is outside the attestation
        times of 11.3 check 15 (at most exported_at_ms + 600000, at least the latest recorded time of the
        records it covers less 600000), or None."""
        limit = self.attestation_limit_ms()
        if ms > limit:
            return (f"{what} {_show_ms(ms)} is more than 10 minutes after exported_at "
                    f"{_show_ms(limit - CLAIM_SLACK_MS)}")
        floor = self.attestation_floor(size)
        if floor is not None and ms < floor[0] - CLAIM_SLACK_MS:
            return (f"{what} {_show_ms(ms)} is more than 10 minutes before record {floor[1]}, which the checkpoint "
                    f"of {size} records covers, was recorded ({_show_ms(floor[0])}): nothing attests a checkpoint "
                    "before the records it covers existed")
        return None

    def own_keys(self) -> dict[bytes, str]:
        """11.3 check 15: the bundle's own keys, none of which is an independent witness of the ledger:
        ledger.public_key, exporter.public_key, the signer of every record the bundle holds, and every key an
        authorize, revoke or ledger-key record of the bundle names or a transfer of it hands to.  Key -> what
        it is (for messages)."""
        if self._own_keys is not None:
            return self._own_keys
        m = self.manifest
        keys: dict[bytes, str] = {}
        if m.ledger is not None:
            keys.setdefault(m.ledger.key.public_key, "ledger.public_key")
        if m.exporter is not None:
            keys.setdefault(m.exporter.public_key, "exporter.public_key")
        for e in m.exhibits + m.supporting:
            keys.setdefault(e.signer.public_key, f"the signer of record {e.seq}")
        for seq in sorted(self.decoded):
            st = self.decoded[seq].statement
            keys.setdefault(st.signer, f"the signer of record {seq}")
            if st.kind in (KIND_AUTHORIZE, KIND_REVOKE, KIND_LEDGER_KEY) and isinstance(st.fields.get("key"), bytes):
                keys.setdefault(st.fields["key"], f"the key record {seq} ({KIND_NAMES[st.kind]}) names")
            if st.kind == KIND_TRANSFER and isinstance(st.fields.get("to"), bytes):
                keys.setdefault(st.fields["to"], f"the key transfer record {seq} hands to")
        self._own_keys = keys
        return keys

    def run_attestations(self) -> None:
        """11.3 check 15, for each entry of `attestations` in order: "attestation N: checkpoint", then,
        when that passes, "attestation N: cosignatures" and one "attestation N: timestamp FILE" per
        token (when the checkpoint fails, its cosignatures and tokens are not checked).  When check 4 refused
        any attestation rule, no attestation is worked through."""
        m, r = self.manifest, self.report
        # The tokens the manifest lists as written (those of every attestation that check 4 accepts; all of
        # them, checked or not, when it refused any attestation rule).
        r.tokens = raw_token_count(m.raw)
        r.attestations_checked = not m.attestations_refused
        r.cosignatures = len(raw_cosignature_keys(m.raw))
        if m.ledger is None:
            return
        for a in m.attestations_worked_through:
            if not r.run(f"{a.label}: checkpoint", self.check_attested_checkpoint, a):
                continue
            if a.cosigned_file is not None:
                r.run(f"{a.label}: cosignatures", self.check_cosignatures, a)
            for t in a.timestamps:
                r.run(f"{a.label}: timestamp {t.file}", self.check_timestamp, a, t)

    def check_attested_checkpoint(self, a: Attestation) -> str:
        """11.3 check 15, its checkpoint: for the bundle's own size checkpoint.txt (check 6); otherwise a
        checkpoint of ledger.origin of that size signed by the ledger key in force at that size by the
        bundle's own records, valid by the checkpoint rule of 4.1 as check 12 applies it, with a
        consistency proof to the bundle's checkpoint (RFC 9162 2.1.4.2).

        11.3 check 15: a checkpoint below the bundle's size has exactly one signature line (11.2: "exactly as
        the ledger keeps it (the ledger's own signature only)"): a line by any other key, or the ledger's own
        line twice, fails.
        """
        ledger = self.manifest.ledger
        bundle = self.bundle_checkpoint()
        if a.size == ledger.checkpoint_size:
            return f"checkpoint.txt, the bundle's own checkpoint of {a.size} records (check 6)"
        if self.replay is None or not self.replay.chain:
            raise CheckError("the bundle has no valid genesis (record 0), so the ledger key in force at size "
                             f"{a.size} is unknown", CODE_CHECKPOINT_KEY)
        key = self.replay.ledger_key_in_force(a.size)
        data = self.read(a.checkpoint_file)
        cp = verify_checkpoint(data, ledger.origin, key)
        if cp.size != a.size:
            raise CheckError(f"{a.checkpoint_file} is a checkpoint of size {cp.size}, not {a.size}")
        own = note_key_id(ledger.origin, key)
        signatures = parse_signed_note(data)[1]
        others = [name for name, kid, _ in signatures if (name, kid) != (ledger.origin, own)]
        if len(signatures) != 1:
            by_others = f", by other keys: {', '.join(map(q, others))}" if others else ""
            raise CheckError(f"{a.checkpoint_file} carries {len(signatures)} signature lines{by_others}; 11.3 "
                             "check 15: exactly one (the checkpoint exactly as the ledger keeps it, the ledger's "
                             "own signature only)")
        rule = self.replay.checkpoint(a.size, key)
        try:
            verify_consistency(a.size, ledger.checkpoint_size, a.consistency_proof, cp.root, bundle.root)
        except CheckError as exc:
            raise CheckError(f"the consistency proof from size {a.size} to the bundle's {ledger.checkpoint_size} "
                             f"does not verify: {exc}") from exc
        return (f"{a.checkpoint_file}: {ledger.origin} size {a.size} root {cp.root.hex()}, {rule}; consistent with "
                f"the bundle's checkpoint of {ledger.checkpoint_size} records (RFC 9162 2.1.4.2, "
                f"{len(a.consistency_proof)} hashes)")

    def check_cosignatures(self, a: Attestation) -> str:
        """11.3 check 15, each cosignature: `cosigned_file` is exactly the bytes of `checkpoint_file` followed by
        one line per entry of `cosignatures`, `— NAME base64\\n`, the entry's key a type 0x04 verifier key
        named NAME and equal to `witness`, the 76-byte signature with that key's ID, a timestamp T below
        2^63 with T x 1000 = time_ms within the attestation times (at most exported_at_ms + 600000, at least
        the latest recorded time of the records the checkpoint covers less 600000), and an Ed25519 signature
        (section 1) over `cosignature/v1\\ntime T\\n` and the checkpoint's text; no two entries with the same
        public key (one key under two names is one witness), and no key of the bundle's own (own_keys())."""
        checkpoint = self.read(a.checkpoint_file)
        cosigned = self.read(a.cosigned_file)
        if not cosigned.startswith(checkpoint):
            raise CheckError(f"{a.cosigned_file} does not start with the bytes of {a.checkpoint_file}", "cosignature")
        try:
            rest = cosigned[len(checkpoint):].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckError(f"{a.cosigned_file}: its cosignature lines are not UTF-8", "cosignature") from exc
        lines = rest.split("\n")
        if lines[-1] != "" or len(lines) - 1 != len(a.cosignatures):
            raise CheckError(f"{a.cosigned_file} holds {rest.count(chr(10))} line(s) after the checkpoint"
                             f"{'' if lines[-1] == '' else ' and bytes after the last newline'}, not exactly the "
                             f"{len(a.cosignatures)} cosignature line(s) of the manifest", "cosignature")
        text = parse_signed_note(checkpoint)[0]
        own = self.own_keys()
        problems, shown, keys = [], [], set()
        for n, (entry, line) in enumerate(zip(a.cosignatures, lines), 1):
            try:
                vkey = parse_cosignature_verifier_key(entry.key)
            except ValueError as exc:
                problems.append(f"cosignature {n}: key {q(short(entry.key, 120))} {exc}")
                continue
            try:
                name, blob = parse_note_signature_line(line)
                kid, timestamp, signature = split_cosignature_blob(blob)
            except ValueError as exc:
                problems.append(f"cosignature {n}: line {q(short(line, 120))} {exc}")
                continue
            why = []
            if name != vkey.name:
                why.append(f"the line names {q(name)}, the key {q(vkey.name)}")
            if entry.witness != vkey.name:
                why.append(f"witness {q(entry.witness)} is not the key's name {q(vkey.name)}")
            if kid != vkey.key_id:
                why.append(f"key ID {kid.hex()} is not the key's {vkey.key_id.hex()}")
            if timestamp * 1000 != entry.time_ms:
                why.append(f"timestamp {timestamp} s is not time_ms {entry.time_ms}")
            late = self.attestation_time_problem(a.size, timestamp * 1000, "the cosignature time")
            if late:
                why.append(late)
            if vkey.public_key in keys:
                why.append("the same public key as an earlier entry (a witness is a key: one key under two names "
                           "is one witness)")
            keys.add(vkey.public_key)
            if vkey.public_key in own:
                why.append(f"the witness key is {own[vkey.public_key]}, one of the bundle's own keys (not an "
                           "independent witness of the ledger)")
            if not ed25519_verify_strict(vkey.public_key, signature, cosignature_message(timestamp, text)):
                why.append("the signature does not verify over the checkpoint")
            if why:
                problems.append(f"cosignature {n} ({q(vkey.name)}): " + "; ".join(why))
            else:
                shown.append(f"{vkey.name} at {rfc3339_ms(entry.time_ms)}")
        if problems:
            raise CheckError("; ".join(problems), "cosignature")
        return f"checkpoint of {a.size} records cosigned by " + ", ".join(shown)

    def certificate_member(self, name: str) -> Certificate:
        """A `tsa/<sha256>.pem` member: exactly the PEM of one certificate whose DER SHA-256 names it (11.1)."""
        if name not in self._certificate_cache:
            try:
                if self.has(name) and self.archive.members[name].size > MAX_TSA_MEMBER:
                    # 11.3 check 15: refused unread.
                    raise CheckError(f"is {self.archive.members[name].size} bytes, more than {MAX_TSA_MEMBER}: "
                                     "refused unread")
                der = parse_certificate_member(self.read(name))
                cert = load_certificate(der, name)
                if f"tsa/{cert.sha256}.pem" != name:
                    raise CheckError(f"holds a certificate whose SHA-256 is {cert.sha256}, not the one its name gives")
                self._certificate_cache[name] = cert
            except (ValueError, CheckError) as exc:
                self._certificate_cache[name] = f"{name} {exc}"
        held = self._certificate_cache[name]
        if isinstance(held, str):
            raise CheckError(held, "timestamp")
        return held

    def verify_token(self, a: Attestation, t: TimestampEntry, trusted: list[Certificate]) -> TokenFacts:
        """Section 14 rules 1 to 6 as 11.3 check 15 applies them, with `trusted` as the trusted certificates, then
        the stamped time at most exported_at_ms + 10 minutes and the entry's serial, time and signer."""
        if self.has(t.file) and self.archive.members[t.file].size > MAX_TOKEN:
            raise CheckError(f"{t.file}: the response is {self.archive.members[t.file].size} bytes, more than "
                             f"{MAX_TOKEN} (section 14): refused unread", "timestamp")
        try:
            facts = TokenVerifier(trusted).verify(self.read(t.file), self.read(a.checkpoint_file))
        except CheckError as exc:
            raise CheckError(f"{t.file}: {exc}", "timestamp") from exc
        problems = []
        when = self.attestation_time_problem(a.size, facts.gen_time_ms, "the stamped time")
        if when:
            problems.append(when)
        if facts.serial != t.serial:
            problems.append(f"the token's serial is {facts.serial}, not the entry's {t.serial}")
        if facts.gen_time_ms != t.time_ms:
            problems.append(f"the token's genTime is {rfc3339_ms(facts.gen_time_ms)} ({facts.gen_time_ms} ms), not "
                            f"the entry's time_ms {t.time_ms}")
        if facts.signer.sha256 != t.signer_certificate:
            problems.append(f"the token's signing certificate has SHA-256 {facts.signer.sha256}, not the entry's "
                            f"signer_certificate {t.signer_certificate}")
        if problems:
            raise CheckError(f"{t.file}: " + "; ".join(problems), "timestamp")
        return facts

    def check_timestamp(self, a: Attestation, t: TimestampEntry) -> str:
        """11.3 check 15, each token, against the certificates its entry lists."""
        trusted = [self.certificate_member(name) for name in t.certificates]
        facts = self.verify_token(a, t, trusted)
        chain = " <- ".join(c.label for c in reversed(facts.chain))
        # 11.3 check 15 (for people): an authority vouches for its time only within its accuracy.
        if facts.accuracy_ms:
            when = (f"{_show_ms(facts.gen_time_ms + facts.accuracy_ms)} (genTime {rfc3339_ms(facts.gen_time_ms)} "
                    f"plus its accuracy of {facts.accuracy_ms} ms)")
        else:
            when = rfc3339_ms(facts.gen_time_ms)
        return (f"the checkpoint of {a.size} records existed no later than {when}, attested "
                f"by {facts.signer.label} (serial {facts.serial}); chain: {chain} (listed in the bundle)")

    def run_pinned_authorities(self) -> None:
        """11.3 check 16, with --tsa-cert: every token verifies as in check 15 with the given certificates as the
        trusted ones ("pinned authority: FILE")."""
        m, r = self.manifest, self.report
        if self.tsa_certs is None or m.ledger is None:
            return
        if m.attestations_refused:
            # 11.3 check 4: when any of its attestation rules fails, check 16 works through no attestation, so
            # no token the bundle lists verifies with the given certificates.
            if r.tokens:
                r.fail("pinned authorities", f"the manifest's attestations break the rules of check 4, so none of "
                       f"its {r.tokens} time-stamp token(s) was checked against the --tsa-cert certificates "
                       "(11.3 check 4: checks 15 and 16 work through no attestation)", ["trust"])
            else:
                r.ok("pinned authorities", "the bundle lists no time-stamp token")
            return
        tokens = [(a, t) for a in m.attestations_worked_through for t in a.timestamps]
        if not tokens:
            r.ok("pinned authorities", "the bundle holds no time-stamp token")
            return
        for a, t in tokens:
            r.run(f"pinned authority: {t.file}", self.check_pinned_token, a, t)

    def check_pinned_token(self, a: Attestation, t: TimestampEntry) -> str:
        facts = self.verify_token(a, t, self.tsa_certs)
        chain = " <- ".join(c.label for c in reversed(facts.chain))
        return f"verifies with the --tsa-cert certificates: {chain}"

    def check_witness_quorum(self) -> str:
        """11.3 check 17, with --policy: the bundle's checkpoint, as the cosigned_file of the attestation of the
        bundle's own size carries it (checkpoint.txt when there is none), meets the policy's quorum, with
        ledger.public_key as the ledger key (section 13: a log key listed must include it; the ledger's own
        key never counts as a witness)."""
        m, policy = self.manifest, self.policy
        if m.ledger is None:
            raise CheckError("no usable ledger section in the manifest", "witness-quorum")
        ledger_key = m.ledger.key.public_key
        if policy.logs and ledger_key not in policy.logs:
            raise CheckError(f"the ledger key {key_id(ledger_key)} is not among the policy's log keys",
                             "witness-quorum")
        checkpoint = self.read(CHECKPOINT)
        own = next((a for a in m.attestations if a.size == m.ledger.checkpoint_size), None)
        source = own.cosigned_file if own is not None and own.cosigned_file is not None else CHECKPOINT
        data = self.read(source)
        if not data.startswith(checkpoint):
            raise CheckError(f"{source} does not start with the bytes of checkpoint.txt", "witness-quorum")
        # 11.1 (and check 6): checkpoint.txt carries the ledger's signature line alone; the cosignatures are the
        # lines cosigned_file adds after its bytes (those check 15 judges).  A line inside checkpoint.txt (check 6
        # refuses it) never counts here, and checkpoint.txt as the source counts no witness.
        try:
            text = parse_signed_note(checkpoint)[0]
            parse_signed_note(data)
            added = data[len(checkpoint):].decode("utf-8")
        except (CheckError, UnicodeDecodeError) as exc:
            raise CheckError(f"{source}: {exc}", "witness-quorum") from exc
        signatures = []
        for line in added.split("\n")[:-1]:
            try:
                signatures.append(parse_note_signature_line(line))
            except ValueError:
                continue
        acting: set[bytes] = set()
        for name, key in policy.witnesses.items():
            if key == ledger_key:
                continue   # section 13: the ledger's own key does not count as a witness
            for line_name, blob in signatures:
                try:
                    line_kid, timestamp, signature = split_cosignature_blob(blob)
                except ValueError:
                    continue
                if line_kid == cosignature_key_id(line_name, key) and ed25519_verify_strict(
                        key, signature, cosignature_message(timestamp, text)):
                    acting.add(key)
                    break
        names = sorted(n for n, k in policy.witnesses.items() if k in acting)
        acted = ", ".join(map(q, names)) or "none"
        if not policy.met(acting):
            raise CheckError(f"the bundle's checkpoint ({source}) does not meet the policy's quorum "
                             f"{q(policy.quorum)}: the witnesses that acted are {acted}", "witness-quorum")
        quorum = "none (no cosignature required)" if policy.quorum is None else q(policy.quorum)
        return f"{source} meets the policy's quorum {quorum}; witnesses that acted: {acted}"

    def check_pinned_witnesses(self) -> str:
        """11.3 check 17, its second half, with --policy: every cosignature the bundle carries, on any attested
        checkpoint, is by a key the policy names as a witness ("pinned witnesses"; a cosignature by a key
        nobody pinned is a claim, not a witness).

        SPEC CHOICE: "every cosignature the bundle carries" is read from the manifest as written, every
        entry of every attestation's `cosignatures` (those check 4 refused included); check 15 ties each
        entry to its line of `cosigned_file`.  A key is compared as a public key, whatever name it carries
        (section 13: a witness is known by its key)."""
        pinned = {key: name for name, key in self.policy.witnesses.items()}
        entries = raw_cosignature_keys(self.manifest.raw)
        if not entries:
            return "the bundle carries no cosignature"
        unpinned, named = [], []
        for where, key in entries:
            try:
                vkey = parse_cosignature_verifier_key(key)
            except ValueError:
                unpinned.append(f"{where} (key {q(short(str(key), 120))}, not a verifier key)")
                continue
            if vkey.public_key in pinned:
                named.append(f"{q(pinned[vkey.public_key])} (key {key_id(vkey.public_key)}, labelled {q(vkey.name)} "
                             "in the bundle)")
            else:
                unpinned.append(f"{where} ({q(vkey.name)}, key {key_id(vkey.public_key)})")
        if unpinned:
            more = f" (and {len(unpinned) - 10} more)" if len(unpinned) > 10 else ""
            raise CheckError(f"{len(unpinned)} of the bundle's {len(entries)} cosignature(s) are by keys the policy "
                             f"does not name as witnesses: {'; '.join(unpinned[:10])}{more} (a cosignature by a key "
                             "nobody pinned is a claim, not a witness)", "trust")
        # 11.3 check 17: the detail names each witness by the policy's name for its key, beside the label the
        # bundle gives it (check 15: a name is a label the cosignature does not cover; the key is what counts).
        return (f"every cosignature the bundle carries ({len(entries)}) is by a witness the policy names: "
                + ", ".join(dict.fromkeys(named))
                + " (a witness is its key: the bundle's label is not covered by the cosignature)")

    def check_custody(self, seq: int) -> str:
        detail = self.replay.custody(seq)
        holding = self.replay.holdings[seq]
        if holding.pending is not None:
            self.report.pending_transfers.append(holding.pending)
        self.report.cancelled_transfers.extend(holding.cancelled)
        return detail


def raw_cosignature_keys(raw: Any) -> list[tuple[str, Any]]:
    """Every cosignature entry of the manifest's `attestations` as written: (where, its `key` value)."""
    out: list[tuple[str, Any]] = []
    attestations = raw.get("attestations") if type(raw) is dict else None
    if type(attestations) is not list:
        return out
    for i, a in enumerate(attestations):
        cosignatures = a.get("cosignatures") if type(a) is dict else None
        if type(cosignatures) is not list:
            continue
        for n, entry in enumerate(cosignatures):
            size = a.get("checkpoint_size")
            where = f"attestation {size if _is_u64(size) else f'[{i}]'} cosignature {n + 1}"
            out.append((where, entry.get("key") if type(entry) is dict else None))
    return out


def json_equal(a: Any, b: Any) -> bool:
    """Structural equality that does not confuse true with 1 or 1.0 with 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return a == b


def hash_file(path: str, limit: int, same_as: os.stat_result | None = None) -> tuple[int, bytes | None]:
    """(size, SHA-256) of a regular file, streamed; refuses to follow a link or to block.

    At most `limit` + 1 bytes are read: a file larger than `limit` gives its
    size (at least limit + 1) and None for the digest.
    """
    fh, st = open_regular_file(path, "--media-dir file", follow=False, same_as=same_as)
    with fh:
        if st.st_size > limit:
            return st.st_size, None
        try:
            digest, size = hashlib.sha256(), 0
            while chunk := fh.read(min(1024 * 1024, limit + 1 - size)):
                digest.update(chunk)
                size += len(chunk)
                if size > limit:
                    return size, None
        except OSError as exc:
            raise UsageError(f"cannot read --media-dir file {path}: {exc.strerror or exc}") from exc
    return size, digest.digest()


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def require_asn1crypto() -> None:
    """UsageError (exit 2) saying how to install asn1crypto when it is missing."""
    if ASN1_IMPORT_ERROR is not None:
        raise UsageError(f"verify_bundle.py needs the asn1crypto package to check time-stamp tokens and "
                         f"certificates ({ASN1_IMPORT_ERROR}): install it with `python3 -m pip install asn1crypto` "
                         "or `apt-get install python3-asn1crypto`")


def verify(path: str, trusted: list[bytes] | None = None, media_dir: str | None = None,
           tsa_certs: list[Certificate] | None = None, policy: Policy | None = None) -> Report:
    """Verify a bundle; `trusted` empty or None means --no-trust; `tsa_certs` None means no --tsa-cert
    (check 16 not run), `policy` None no --policy (check 17 not run).

    Raises Unreadable (exit 2) or UsageError (exit 2).
    """
    require_asn1crypto()
    archive = Archive(path)
    try:
        archive.scan()
        return BundleVerifier(archive, trusted, media_dir, tsa_certs, policy).run()
    finally:
        archive.close()


WITNESSES_NOTE = ("witnesses NOT pinned (no --policy): the bundle's {n} cosignature(s) were checked only against the "
                  "witness keys the bundle itself carries, which anyone can make; give --policy with the keys the "
                  "witnesses publish, obtained out of band, to pin them (11.3 check 17)")
WITNESSES_UNCHECKED_NOTE = ("witnesses NOT pinned (no --policy): the bundle's {n} cosignature(s) were not checked by "
                            "check 15, since the manifest's attestations break the rules of check 4 (11.3 check 4: "
                            "checks 15 and 16 then work through no attestation)")
AUTHORITIES_NOTE = ("time-stamping authorities NOT pinned (no --tsa-cert): the bundle's {n} time-stamp token(s) were "
                    "checked only against the certificates the bundle itself lists (tsa/); give --tsa-cert with the "
                    "authorities' certificates obtained out of band to pin them (11.3 check 16)")
AUTHORITIES_UNCHECKED_NOTE = ("time-stamping authorities NOT pinned (no --tsa-cert): the bundle's {n} time-stamp "
                              "token(s) were not checked at all, since the manifest's attestations break the rules "
                              "of check 4 (11.3 check 4: checks 15 and 16 then work through no attestation)")


def summary(report: Report) -> str:
    """The OK / PROBLEM line."""
    if not report.passed:
        failed = [c.name for c in report.checks if not c.passed]
        line = f"PROBLEM: {len(failed)} of {len(report.checks)} checks failed: " + ", ".join(failed)
        if report.include_failing is not None:
            line += (f" (the exporter included failing exhibits on purpose: "
                     f"{q(short(report.include_failing, 120))})")
        return line
    seqs = ", ".join(map(str, report.exhibit_seqs)) or "none"
    trust = ("ledger and exporter keys are on the trust list" if report.trust_checked
             else "keys NOT pinned (--no-trust)")
    pending = ""
    if report.pending_transfers:
        pending = (f"; transfer(s) {', '.join(map(str, report.pending_transfers))} pending acceptance "
                   "(not a failure)")
    if report.cancelled_transfers:
        pending += (f"; transfer(s) {', '.join(map(str, report.cancelled_transfers))} cancelled "
                    "(not a failure)")
    if report.flagged_superseded:
        pending += (f"; ledger-key record(s) {', '.join(map(str, report.flagged_superseded))} flagged, naming "
                    "key(s) superseded below the checkpoint (not a failure, 11.3 check 12)")
    if report.flagged_revocations:
        pending += (f"; supporting revoke record(s) {', '.join(map(str, report.flagged_revocations))} flagged "
                    "(they only end keys or widen windows: not a failure, 11.3 check 12)")
    if report.flagged_cancelled:
        pending += (f"; supporting transfer record(s) {', '.join(map(str, report.flagged_cancelled))} flagged "
                    "(cancelled, they moved nothing: not a failure, 11.3 check 12)")
    if report.flagged_consents:
        pending += (f"; supporting consent record(s) {', '.join(map(str, report.flagged_consents))} flagged "
                    "(one that does not stand allows no court use: not a failure, 11.3 check 12)")
    if report.flagged_erasures:
        pending += (f"; supporting erase record(s) {', '.join(map(str, report.flagged_erasures))} flagged "
                    "(an erasure only withholds text: not a failure, 11.3 check 12)")
    if report.tokens:
        pending += ("; time-stamping authorities pinned (--tsa-cert)" if report.authorities_pinned
                    else "; time-stamping authorities NOT pinned (no --tsa-cert)")
    if report.policy_checked:
        pending += "; witness quorum met (--policy)"
        if report.cosignatures:
            pending += "; every cosignature by a witness the policy names"
    elif report.cosignatures:
        pending += "; witnesses NOT pinned (no --policy)"
    return (f"OK: all {len(report.checks)} checks passed; {len(report.exhibit_seqs)} exhibit(s) "
            f"(seq {seqs}) proven to belong to the ledger, with {len(report.supporting_seqs)} supporting "
            f"record(s); signers authorised{pending}; {trust}")


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with "error: ..." on stderr
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")   # one line, however wrapped
        raise UsageError(f"{message} (usage: {usage})")


def load_trusted_key(path: str) -> bytes:
    """A --trust file: a regular file (opened without blocking) of at most MAX_TRUST_KEY_FILE bytes."""
    fh, st = open_regular_file(path, "--trust file")
    with fh:
        if st.st_size > MAX_TRUST_KEY_FILE:
            raise UsageError(f"--trust file {path} is {st.st_size} bytes, more than the {MAX_TRUST_KEY_FILE} a PEM "
                             "public key file may have: refused without reading it")
        try:
            data = fh.read(MAX_TRUST_KEY_FILE + 1)
        except OSError as exc:
            raise UsageError(f"cannot read --trust file {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_TRUST_KEY_FILE:
        raise UsageError(f"--trust file {path} is more than the {MAX_TRUST_KEY_FILE} bytes a PEM public key file "
                         "may have")
    try:
        return parse_public_key_pem(data)
    except ValueError as exc:
        raise UsageError(f"--trust file {path} is not an Ed25519 SPKI PEM public key: {exc}") from exc


def _wants_json(argv: list[str]) -> bool:
    """--json is among the options (argparse also takes an unambiguous prefix, such as --js); used
    when the command line itself is refused, before argparse could say."""
    for arg in argv:
        if arg == "--":
            break
        if len(arg) >= 3 and "--json".startswith(arg):
            return True
    return False


def _say(stream, text: str) -> None:
    """One line of text output (stdout or stderr), made safe for a terminal (terminal_safe)."""
    print(terminal_safe(text), file=stream)


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    """The command line.  Exit 0 / 1 / 2 as the module docstring says.

    Text output: every line, on stdout and stderr, passes through
    terminal_safe(), so that no string from outside (member names, manifest
    fields, file names, error messages quoting them) reaches a terminal with
    a raw control character or bidirectional control.  --json: exactly one
    JSON object on stdout on every outcome, exit 2 included; json.dumps
    escapes every control and non-ASCII character, so it is terminal-safe
    while keeping the exact strings.
    """
    if out is None or err is None:
        # A character the terminal's encoding lacks is written escaped, not a crash halfway.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, OSError):
                pass
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _ArgumentParser(prog="verify_bundle.py",
                             description="Verify a custody court bundle (SPEC.md section 11).")
    parser.add_argument("bundle", help="the bundle ZIP file")
    parser.add_argument("--trust", action="append", default=[], metavar="KEY.pub",
                        help="an SPKI PEM public key the ledger and exporter keys must be among (repeatable)")
    parser.add_argument("--no-trust", action="store_true",
                        help="verify without pinning the keys (the result then says they were not pinned)")
    parser.add_argument("--media-dir", metavar="DIR", help="directory holding media files to check too")
    parser.add_argument("--tsa-cert", action="append", default=None, metavar="PEM",
                        help="a PEM file of time-stamping authority certificates every token must chain to instead of "
                             "those the bundle lists (repeatable; 11.3 check 16)")
    parser.add_argument("--policy", metavar="FILE",
                        help="a witness policy (Sigsum format, SPEC section 13) the bundle's checkpoint must meet "
                             "(11.3 check 17)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    argv = list(sys.argv[1:] if argv is None else argv)
    want_json = _wants_json(argv)
    try:
        args = parser.parse_args(argv)
        want_json = args.json
        # 11.3 check 10: refuse to run without a decision about trust.
        if not args.trust and not args.no_trust:
            raise UsageError("refusing to verify without pinned keys: give --trust KEY.pub (the ledger key that "
                             "signed the checkpoint and the exporter's key, obtained out of band; repeatable), "
                             "or --no-trust to verify without pinning them (SPEC 11.3 check 10)")
        # SPEC CHOICE: --trust and --no-trust contradict each other; both
        # together are refused as a usage error.
        if args.trust and args.no_trust:
            raise UsageError("--trust and --no-trust contradict each other: give one of them")
        trusted = [load_trusted_key(p) for p in args.trust]
        if args.media_dir is not None and not os.path.isdir(args.media_dir):
            raise UsageError(f"--media-dir {args.media_dir} is not a directory")
        require_asn1crypto()
        tsa_certs = None
        if args.tsa_cert is not None:
            tsa_certs = [c for path in args.tsa_cert for c in load_tsa_certificates(path)]
        policy = load_policy(args.policy) if args.policy is not None else None
        report = verify(args.bundle, trusted, args.media_dir, tsa_certs, policy)
    except Exception as exc:   # Unreadable, UsageError, an I/O error, or a bug: exit 2
        unreadable = isinstance(exc, Unreadable)
        if unreadable:
            message = f"bundle cannot be read safely: {exc}"
        elif isinstance(exc, UsageError):
            message = str(exc)
        elif isinstance(exc, OSError):
            message = f"I/O error: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
        else:
            # Not a verdict: a bug here must not pass for one, nor print a
            # traceback quoting hostile strings raw.
            message = f"internal error in verify_bundle.py ({type(exc).__name__}: {exc}); the bundle was not verified"
        _say(err, f"error: {message}")
        if not isinstance(exc, (Unreadable, UsageError, OSError)):
            for line in traceback.format_exc().splitlines():
                _say(err, line)
        if want_json:
            checks = [{"name": "archive", "passed": False, "detail": str(exc), "codes": []}] if unreadable else []
            print(json.dumps({"passed": False, "exit_code": 2, "error": message,
                              "unreadable": unreadable, "checks": checks}), file=out)
        return 2
    code = 0 if report.passed else 1
    if args.json:
        print(json.dumps({"passed": report.passed, "exit_code": code,
                          "checks": [dataclasses.asdict(c) for c in report.checks],
                          "keys_pinned": report.trust_checked,
                          "include_failing": report.include_failing,
                          "pending_transfers": report.pending_transfers,
                          "cancelled_transfers": report.cancelled_transfers,
                          "flagged_superseded_ledger_key_records": report.flagged_superseded,
                          "flagged_revoke_records": report.flagged_revocations,
                          "flagged_cancelled_transfer_records": report.flagged_cancelled,
                          "flagged_consent_records": report.flagged_consents,
                          "flagged_erase_records": report.flagged_erasures,
                          "timestamp_tokens": report.tokens,
                          "authorities_pinned": (report.authorities_pinned if report.tokens or report.authorities_pinned
                                                 else None),
                          "witness_policy_checked": report.policy_checked,
                          "cosignatures": report.cosignatures,
                          # 11.3 after check 17: each true when nothing needed pinning or it was pinned.
                          "tsa_pinned": not report.authorities_not_pinned,
                          "witnesses_pinned": not report.witnesses_not_pinned,
                          "report_checked_by": "custody verify-bundle",
                          "report_note": REPORT_NOTE,
                          "summary": summary(report)}, indent=2), file=out)
    else:
        for c in report.checks:
            _say(out, f"[{'ok' if c.passed else 'FAILED'}] {c.name}: {c.detail}")
        _say(out, f"NOTE: {REPORT_NOTE}")
        if report.authorities_not_pinned:
            # 11.3 check 16: without --tsa-cert, a verifier that met tokens says so.
            _say(out, "NOTE: " + (AUTHORITIES_NOTE if report.attestations_checked
                                  else AUTHORITIES_UNCHECKED_NOTE).format(n=report.tokens))
        if report.witnesses_not_pinned:
            # 11.3 after check 17: cosignatures and no --policy, said before the verdict.
            _say(out, "NOTE: " + (WITNESSES_NOTE if report.attestations_checked
                                  else WITNESSES_UNCHECKED_NOTE).format(n=report.cosignatures))
        _say(out, summary(report))
        if args.no_trust:
            # 11.3 check 10: with --no-trust (and only then) the last line says the keys were not pinned.
            _say(out, f"NOTE: {NOT_PINNED_NOTE}")
    return code


if __name__ == "__main__":
    sys.exit(main())
