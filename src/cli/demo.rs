//! `custody demo`: the whole path from testimony to audit, narrated, using the real
//! commands (this same binary, run as child processes) on a fresh directory.

use anyhow::{Context, bail};
use clap::Args;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[derive(Args)]
pub struct DemoArgs {
    /// Directory to create the demo in (must not exist). Default: a new directory under the system temp dir.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

struct Demo {
    exe: PathBuf,
    dir: PathBuf,
    step: u32,
    /// Whether a time-stamping authority stamped a checkpoint (OpenSSL was at hand).
    stamped: bool,
}

/// The configuration of the demo's time-stamping authority (OpenSSL's `ts`).
const TSA_CNF: &str = "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\nserial = ./serial\ncrypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\ness_cert_id_alg = sha256\n[ v3_tsa ]\nbasicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = critical, timeStamping\n[ v3_ca ]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n";

impl Demo {
    fn say(&mut self, title: &str, why: &str) -> std::io::Result<()> {
        self.step += 1;
        outln!("\n== Step {}: {title}", self.step)?;
        for line in why.lines() {
            outln!("   {line}")?;
        }
        Ok(())
    }

    /// Runs `custody ARGS` and returns its exit code.
    fn run(&self, args: &[&str]) -> anyhow::Result<i32> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.replace(&*self.dir.to_string_lossy(), "$DEMO"))
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
            .collect();
        outln!("\n$ custody {}", shown.join(" "))?;
        let status = Command::new(&self.exe)
            .args(args.iter().map(OsString::from))
            .status()
            .context("cannot run the custody binary")?;
        Ok(status.code().unwrap_or(2))
    }

    fn must(&self, args: &[&str]) -> anyhow::Result<()> {
        match self.run(args)? {
            0 => Ok(()),
            c => bail!(
                "the demo step `custody {}` failed with exit code {c}",
                args.join(" ")
            ),
        }
    }

    fn p(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub fn exec(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = match a.dir {
        Some(d) => {
            if d.exists() {
                bail!("{} already exists; give --dir a new directory", d.display());
            }
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("custody-demo-")
            .tempdir()
            .context("cannot create a demo directory")?
            .keep(),
    };
    let mut d = Demo {
        exe: std::env::current_exe().context("cannot find the custody binary")?,
        dir: dir.canonicalize()?,
        step: 0,
        stamped: false,
    };
    outln!("custody demo in {} (shown below as $DEMO)", d.dir.display())?;
    outln!("Keys here are demo keys: never use them for real evidence.")?;

    d.record_evidence()?;
    d.check_it()?;
    d.go_to_court()?;
    d.erase()?;
    d.tamper()?;
    outln!("\nDone. Everything is in {}.", d.dir.display())?;
    outln!(
        "Unzip {} and open report.html in a browser for the judge's report; VERIFY.txt explains every check.",
        d.dir.join("case-demo.zip").display()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else if e.file_name() != "lock" {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

impl Demo {
    /// Keys, a ledger, an authorised investigator, a testimony and media.
    fn record_evidence(&mut self) -> anyhow::Result<()> {
        self.say("Keys", "The ledger key signs checkpoints; each investigator signs with her own key.\nSecret keys are PKCS#8 files with mode 0600; public keys are SPKI PEM. Both load in OpenSSL.")?;
        self.must(&["key", "generate", "ledger", "--dir", &self.p("keys")])?;
        self.must(&[
            "key",
            "generate",
            "investigator-amal",
            "--dir",
            &self.p("keys"),
        ])?;
        self.say("Headquarters' content key", "Testimony is sealed to headquarters: an age X25519 recipient. The identity (the secret\nhalf) stays at headquarters ($DEMO/hq here); the field device gets only hq.recipient.")?;
        self.must(&["key", "generate-recipient", "hq", "--dir", &self.p("hq")])?;

        self.say(
            "A sealed field ledger",
            "Record 0 names the ledger's origin and key; record 1 seals every testimony text to\nheadquarters. The first checkpoint is signed at once.",
        )?;
        self.must(&[
            "init",
            "--ledger",
            &self.p("ledger"),
            "--origin",
            "example.org/custody/demo",
            "--key",
            &self.p("keys/ledger.key"),
            "--seal-to",
            &self.p("hq/hq.recipient"),
        ])?;

        self.say("Who may sign", "The ledger key (the first admin) authorises the investigator's key. From now on the ledger\nrefuses evidence signed by any key it has not authorised, and audits flag any that slips in.")?;
        self.must(&[
            "key",
            "authorize",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
            &self.p("keys/investigator-amal.pub"),
            "--name",
            "Amal (field investigator)",
            "--role",
            "investigator",
        ])?;

        self.say("Testimony", "The signed record holds only a salted commitment to the text. The text itself is sealed\nto headquarters on the way in: this device keeps ciphertext and a wrapped key, and could\nnot read it back if it were seized.")?;
        write(
            &self.dir.join("input/testimony-w17.txt"),
            "I was held in the basement cells from March to November. Every night names were read out.\n(demo text)\n".as_bytes(),
        )?;
        self.testimony(
            "W-17",
            "input/testimony-w17.txt",
            &["--location", "field office 3"],
        )?;

        self.say("Media", "Each file gets one record with its SHA-256 (the digest sha256sum prints) and size.\nA directory is added in name order with a single fsync for the batch; --seal also keeps\nsealed copies, so the originals can be wiped from the device.")?;
        let mut clip = Vec::with_capacity(256 * 1024);
        let mut x: u32 = 0x1234_5678;
        for _ in 0..256 * 1024 {
            // A deterministic pseudo-random stand-in for video bytes.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            clip.push(x as u8);
        }
        write(&self.dir.join("input/footage/clip-001.mp4"), &clip)?;
        write(
            &self.dir.join("input/footage/photo-002.jpg"),
            b"demo photo bytes",
        )?;
        self.must(&[
            "add",
            "media",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/investigator-amal.key"),
            "--description",
            "phone footage, demo",
            "--seal",
            &self.p("input/footage"),
        ])?;

        self.say("At headquarters", "The field device cannot open record 3; headquarters' identity can. The text is checked\nagainst the signed commitment, and the sealed video copy is restored byte for byte.")?;
        if self.run(&["open", "--ledger", &self.p("ledger"), "3"])? != 2 {
            bail!("the sealed testimony opened without headquarters' identity");
        }
        outln!(
            "   (exit code 2, as expected: the field device cannot read its own testimony back)"
        )?;
        self.must(&[
            "open",
            "--ledger",
            &self.p("ledger"),
            "3",
            "--identity",
            &self.p("hq/hq.identity"),
        ])?;
        self.must(&[
            "open",
            "--ledger",
            &self.p("ledger"),
            "4",
            "--identity",
            &self.p("hq/hq.identity"),
            "--out",
            &self.p("hq/clip-001.mp4"),
        ])?;
        Ok(())
    }

    /// A checkpoint, the log, one file verified, a proof and a full audit.
    fn check_it(&mut self) -> anyhow::Result<()> {
        self.say("A checkpoint", "The ledger key signs the current size and root. Keep a copy elsewhere: later audits\nagainst it catch any rewrite, even by someone holding the database and every key.")?;
        self.must(&[
            "checkpoint",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
            "--out",
            &self.p("saved-checkpoint.txt"),
        ])?;

        self.witness()?;
        self.trusted_time()?;

        self.say("The log", "Every record, its signer and its time.")?;
        self.must(&["log", "--ledger", &self.p("ledger")])?;

        self.say(
            "Was this exact file recorded?",
            "An auditor holds only the video file.",
        )?;
        self.must(&[
            "verify",
            "--ledger",
            &self.p("ledger"),
            "--file",
            &self.p("input/footage/clip-001.mp4"),
        ])?;

        self.say(
            "An inclusion proof",
            "A C2SP tlog-proof: checkable offline against the signed checkpoint.",
        )?;
        self.must(&["prove", "--ledger", &self.p("ledger"), "4"])?;

        self.say("A full audit", "Every record, signature, chain link, stored tree hash, sealed text and checkpoint, and\nconsistency with the checkpoint saved earlier; headquarters' identity opens each sealed text\nand checks it against its commitment.")?;
        self.must(&[
            "audit",
            "--ledger",
            &self.p("ledger"),
            "--against",
            &self.p("saved-checkpoint.txt"),
            "--identity",
            &self.p("hq/hq.identity"),
        ])?;
        Ok(())
    }

    /// A witness on this machine cosigns the next checkpoint, and an audit with a policy
    /// requires its cosignature.
    fn witness(&mut self) -> anyhow::Result<()> {
        use std::io::BufRead;
        self.say("A witness", "An independent witness cosigns a checkpoint only if it is consistent with every one of\nthis ledger it cosigned before: whoever holds the ledger key cannot show two histories.\nHere it runs on this machine, on a loopback port.")?;
        let init = Command::new(&self.exe)
            .args(["witness", "init", "--dir", &self.p("witness"), "--name"])
            .arg("witness.example.org/demo")
            .output()
            .context("cannot run the custody binary")?;
        if !init.status.success() {
            bail!("the demo could not create a witness");
        }
        let vkey = String::from_utf8_lossy(&init.stdout).trim().to_owned();
        outln!("\n$ custody witness init --dir $DEMO/witness --name witness.example.org/demo")?;
        outln!("{vkey}")?;
        self.must(&[
            "witness",
            "add-log",
            "--dir",
            &self.p("witness"),
            "--origin",
            "example.org/custody/demo",
            "--key",
            &self.p("keys/ledger.pub"),
        ])?;
        let mut server = Command::new(&self.exe)
            .args(["witness", "serve", "--dir", &self.p("witness")])
            .args(["--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("cannot start the witness")?;
        let mut line = String::new();
        if let Some(out) = server.stdout.take() {
            std::io::BufReader::new(out).read_line(&mut line)?;
        }
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_default()
            .to_owned();
        outln!(
            "\n$ custody witness serve --dir $DEMO/witness --listen 127.0.0.1:0 &\n{}",
            line.trim()
        )?;
        let asked = self.run(&[
            "checkpoint",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
            "--witness",
            &url,
            "--witness-key",
            &vkey,
        ]);
        let _ = server.kill();
        let _ = server.wait();
        if asked? != 0 {
            bail!("the demo's witness did not cosign");
        }
        let (_, _, key) = custody::note::parse_verifier_key(&vkey)?;
        write(
            &self.dir.join("witness.policy"),
            format!(
                "# Checkpoints count only when this witness cosigned them.\nwitness demo {}\nquorum demo\n",
                hex::encode(key)
            )
            .as_bytes(),
        )?;
        self.say(
            "A witness policy",
            "A policy in the Sigsum format names the witnesses a checkpoint needs.",
        )?;
        self.must(&[
            "verify",
            "--ledger",
            &self.p("ledger"),
            "3",
            "--policy",
            &self.p("witness.policy"),
        ])?;
        Ok(())
    }

    /// Runs `openssl ARGS` in the authority's directory, quietly; false when it fails.
    fn openssl(&self, args: &[&str]) -> bool {
        Command::new("openssl")
            .args(args)
            .current_dir(self.dir.join("tsa"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A time-stamping authority on this machine (OpenSSL's, when it is installed) stamps
    /// the latest checkpoint.
    fn trusted_time(&mut self) -> anyhow::Result<()> {
        self.say("Trusted time", "An RFC 3161 time-stamping authority, of the kind courts already accept, signs that the\ncheckpoint (and every record it covers) existed no later than a time: nothing it covers\ncan have been written later and back-dated. Here OpenSSL's authority runs on this machine.")?;
        write(&self.dir.join("tsa/tsa.cnf"), TSA_CNF.as_bytes())?;
        write(&self.dir.join("tsa/serial"), b"01\n")?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let made = self.openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "root.key",
                    "-out",
                    "root.crt",
                    "-subj",
                    "/CN=Demo Time Authority Root",
                ],
                &[
                    "-days",
                    "3650",
                    "-config",
                    "tsa.cnf",
                    "-extensions",
                    "v3_ca",
                ],
            ]
            .concat(),
        ) && self.openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "tsa.key",
                    "-out",
                    "tsa.csr",
                    "-subj",
                    "/CN=Demo Time Authority",
                ],
            ]
            .concat(),
        ) && self.openssl(&[
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "root.crt",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "tsa.crt",
            "-days",
            "3650",
            "-extfile",
            "tsa.cnf",
            "-extensions",
            "v3_tsa",
        ]);
        if !made {
            outln!(
                "   (skipped: OpenSSL is not installed here, so no authority can run on this machine;\n    `custody timestamp --tsa URL --tsa-cert ROOT.pem` asks a public one)"
            )?;
            return Ok(());
        }
        outln!(
            "\n$ openssl req -x509 ... -out $DEMO/tsa/root.crt    # the authority's root and its time-stamping certificate"
        )?;
        self.must(&[
            "timestamp",
            "--ledger",
            &self.p("ledger"),
            "--request-out",
            &self.p("tsa/request.tsq"),
        ])?;
        outln!(
            "\n$ openssl ts -reply -queryfile $DEMO/tsa/request.tsq -signer tsa.crt -inkey tsa.key -config tsa.cnf -out $DEMO/tsa/response.tsr"
        )?;
        if !self.openssl(&[
            "ts",
            "-reply",
            "-queryfile",
            "request.tsq",
            "-signer",
            "tsa.crt",
            "-inkey",
            "tsa.key",
            "-config",
            "tsa.cnf",
            "-out",
            "response.tsr",
        ]) {
            bail!("the demo's time-stamping authority did not answer");
        }
        self.must(&[
            "timestamp",
            "--ledger",
            &self.p("ledger"),
            "--response-in",
            &self.p("tsa/response.tsr"),
            "--tsa-cert",
            &self.p("tsa/root.crt"),
        ])?;
        self.stamped = true;
        Ok(())
    }

    /// A court bundle, checked as a court would.
    fn go_to_court(&mut self) -> anyhow::Result<()> {
        self.say("A court bundle", "Headquarters sends records 3 (the testimony) and 4 (the video) to court as one ZIP: the\nrecords, their inclusion proofs, the signed checkpoint, the testimony text (opened with\nheadquarters' identity), the video itself, the public keys, SHA256SUMS, a signed manifest, a\nreport for the judge and VERIFY.txt. Nothing about record 5 (the photo) is in it.")?;
        self.must(&[
            "export",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/investigator-amal.key"),
            "--out",
            &self.p("case-demo.zip"),
            "--case",
            "Demo case 1",
            "--policy",
            &self.p("witness.policy"),
            "--media",
            &self.p("hq/clip-001.mp4"),
            "--identity",
            &self.p("hq/hq.identity"),
            "3",
            "4",
        ])?;

        self.say(
            "The court checks the bundle offline",
            "Only the ZIP, the two public keys the court obtained from their holders, the witness policy\nand the authority's certificate are needed.",
        )?;
        let (bundle, ledger_pub, amal_pub, policy, root) = (
            self.p("case-demo.zip"),
            self.p("keys/ledger.pub"),
            self.p("keys/investigator-amal.pub"),
            self.p("witness.policy"),
            self.p("tsa/root.crt"),
        );
        let mut args = vec![
            "verify-bundle",
            &bundle,
            "--trust",
            &ledger_pub,
            "--trust",
            &amal_pub,
            "--policy",
            &policy,
        ];
        if self.stamped {
            args.extend(["--tsa-cert", root.as_str()]);
        }
        self.must(&args)?;
        Ok(())
    }

    /// A second testimony withdrawn and erased: its record and proofs stay.
    fn erase(&mut self) -> anyhow::Result<()> {
        self.say("Consent withdrawn, then erasure", "A second witness withdraws consent: export would now be refused. A court then orders the\ntestimony destroyed: an admin signs an erasure record and its item key is destroyed, so no\ncopy of its ciphertext, in any backup, can be opened again. Its record and every proof stay,\nand the audit reports it as erased, not as missing.")?;
        write(
            &self.dir.join("input/testimony-w18.txt"),
            b"A second account, later withdrawn.\n(demo text)\n",
        )?;
        self.testimony("W-18", "input/testimony-w18.txt", &[])?;
        let seq = self.last_seq()?;
        self.must(&[
            "consent",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/investigator-amal.key"),
            &seq,
            "--withdraw",
        ])?;
        self.must(&[
            "erase",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
            &seq,
            "--reason",
            "court order 2026/114 (demo)",
        ])?;
        self.must(&[
            "checkpoint",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
        ])?;
        self.must(&["history", "--ledger", &self.p("ledger"), &seq])?;
        self.must(&[
            "audit",
            "--ledger",
            &self.p("ledger"),
            "--identity",
            &self.p("hq/hq.identity"),
        ])?;
        Ok(())
    }

    /// Amal records the text of `file` as the testimony of `subject`, with court consent.
    fn testimony(&self, subject: &str, file: &str, more: &[&str]) -> anyhow::Result<()> {
        let (ledger, key, file) = (
            self.p("ledger"),
            self.p("keys/investigator-amal.key"),
            self.p(file),
        );
        let args = [
            "add",
            "testimony",
            "--ledger",
            &ledger,
            "--key",
            &key,
            "--subject",
            subject,
            "--language",
            "en",
            "--consent",
            "court",
            "--text-file",
            &file,
        ];
        self.must(&[&args[..], more].concat())
    }

    /// The number of the ledger's last record.
    fn last_seq(&self) -> anyhow::Result<String> {
        let out = std::process::Command::new(&self.exe)
            .args(["log", "--ledger", &self.p("ledger"), "--json"])
            .output()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        v.as_array()
            .and_then(|a| a.last())
            .and_then(|r| r["seq"].as_u64())
            .map(|s| s.to_string())
            .ok_or_else(|| anyhow::anyhow!("the ledger lists no records"))
    }

    /// A tampered copy of the ledger fails its audit.
    fn tamper(&mut self) -> anyhow::Result<()> {
        self.say("Tampering is caught", "A copy of the ledger has one byte of a sealed testimony changed. The audit with\nheadquarters' identity must fail (exit 1) and name the record.")?;
        let tampered = self.dir.join("tampered-ledger");
        copy_dir(&self.dir.join("ledger"), &tampered)?;
        let content_dir = tampered.join("content");
        let first = std::fs::read_dir(&content_dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                // A sealed text whose item key is still there (not the erased one).
                p.file_name().is_some_and(|n| {
                    !n.to_string_lossy().starts_with("media-")
                        && tampered.join("sealed-keys").join(n).exists()
                })
            })
            .ok_or_else(|| anyhow::anyhow!("no content file to tamper with"))?;
        let mut bytes = std::fs::read(&first)?;
        if let Some(b) = bytes.last_mut() {
            *b ^= 0x20;
        }
        std::fs::write(&first, bytes)?;
        let code = self.run(&[
            "audit",
            "--ledger",
            &tampered.to_string_lossy(),
            "--identity",
            &self.p("hq/hq.identity"),
        ])?;
        if code != 1 {
            bail!("the audit of the tampered copy exited {code}, expected 1");
        }
        outln!("   (exit code 1, as expected: the change was detected)")?;
        Ok(())
    }
}
