//! A temp-dir fixture with keys and a ledger, and a command helper for the real binary.

#![allow(dead_code)]

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const ORIGIN: &str = "example.org/custody/test";

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl From<std::process::Output> for Output {
    fn from(out: std::process::Output) -> Self {
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Fixture {
    /// An empty temp dir.
    pub fn empty() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Keys `ledger` and `alice`, and a ledger at `ledger/`.
    pub fn new() -> Self {
        let f = Self::empty();
        f.ok(&["key", "generate", "ledger", "--dir", &f.p("keys")]);
        f.ok(&["key", "generate", "alice", "--dir", &f.p("keys")]);
        f.init_ledger();
        f
    }

    /// Creates `ledger/` with the ledger key and authorises alice as an investigator.
    pub fn init_ledger(&self) {
        self.init_ledger_with(&[]);
    }

    /// [`Fixture::init_ledger`] with more arguments for `init` (such as `--seal-to`).
    pub fn init_ledger_with(&self, more: &[&str]) {
        let base = [
            "init",
            "--ledger",
            &self.p("ledger"),
            "--origin",
            ORIGIN,
            "--key",
            &self.p("keys/ledger.key"),
        ];
        self.ok(&[&base[..], more].concat());
        self.ok(&[
            "key",
            "authorize",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
            &self.p("keys/alice.pub"),
            "--name",
            "Alice",
            "--role",
            "investigator",
        ]);
    }

    /// The key ID of `keys/NAME.pub`, as `custody key show` prints it.
    pub fn key_id(&self, name: &str) -> String {
        let o = self.ok(&[
            "key",
            "show",
            &self.p(&format!("keys/{name}.pub")),
            "--json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v["key_id"].as_str().unwrap().to_owned()
    }

    /// Generates `keys/NAME.key` and has the ledger key authorise it for `role`, under the
    /// holder name `name`.
    pub fn add_key(&self, name: &str, role: &str) {
        self.add_key_as(name, name, role);
    }

    /// [`Fixture::add_key`] with the holder name `holder` for the key `keys/NAME`.
    pub fn add_key_as(&self, name: &str, holder: &str, role: &str) {
        self.ok(&["key", "generate", name, "--dir", &self.p("keys")]);
        self.ok(&[
            "key",
            "authorize",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
            &self.p(&format!("keys/{name}.pub")),
            "--name",
            holder,
            "--role",
            role,
        ]);
    }

    /// Has the ledger key revoke `keys/NAME.pub` for `reason`, from `effective` if given.
    pub fn revoke(&self, name: &str, reason: &str, effective: Option<&str>) {
        let id = self.key_id(name);
        let mut args = vec![
            "key",
            "revoke",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
            id.as_str(),
            "--reason",
            reason,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<String>>();
        if let Some(e) = effective {
            args.push("--effective".into());
            args.push(e.into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&args);
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn p(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let out = Command::cargo_bin("custody")
            .unwrap()
            .current_dir(self.dir.path())
            .env_remove("CUSTODY_LEDGER")
            .args(args)
            .write_stdin(stdin.to_vec())
            .output()
            .unwrap();
        out.into()
    }

    /// Starts `custody ARGS` with piped output, without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("custody"))
            .current_dir(self.dir.path())
            .args(args)
            .env_remove("CUSTODY_LEDGER")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Writes `n` small distinct files into `dir/` (relative to the fixture).
    pub fn files(&self, dir: &str, n: usize) -> PathBuf {
        let d = self.path(dir);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..n {
            std::fs::write(d.join(format!("{i:05}.bin")), format!("{dir} {i}")).unwrap();
        }
        d
    }

    /// `custody add media --ledger LEDGER --key KEY FILE`.
    pub fn add_media_to(&self, ledger: &str, key: &str, file: &str) -> Output {
        self.run(&["add", "media", "--ledger", ledger, "--key", key, file])
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_stdin(args, b"")
    }

    /// Runs and requires exit 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert_eq!(o.code, 0, "custody {args:?} failed:\n{}", o.all());
        o
    }

    /// Adds a testimony by alice with the given text; returns its sequence number.
    pub fn testimony(&self, text: &str) -> u64 {
        std::fs::write(self.path("t.txt"), text).unwrap();
        let o: Output = self
            .testimony_cmd("t.txt")
            .arg("--json")
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 0, "add testimony failed:\n{}", o.all());
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v["appended"][0]["seq"].as_u64().unwrap()
    }

    /// The command that adds the text of `FILE` as a testimony by alice, with court consent,
    /// for runs that stop it (crash points, kills).
    pub fn testimony_cmd(&self, file: &str) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("custody"));
        c.args([
            "add",
            "testimony",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/alice.key"),
            "--subject",
            "W-1",
            "--language",
            "en",
            "--consent",
            "court",
            "--text-file",
            &self.p(file),
        ])
        .env_remove("CUSTODY_LEDGER")
        .stdin(std::process::Stdio::null());
        c
    }

    /// Has alice amend record `seq` with a new text; returns the amendment's number.
    pub fn amend_text(&self, seq: u64, text: &str) -> u64 {
        std::fs::write(self.path("a.txt"), text).unwrap();
        let o = self.ok(&[
            "amend",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/alice.key"),
            &seq.to_string(),
            "--reason",
            "the witness corrected a date",
            "--text-file",
            &self.p("a.txt"),
            "--json",
        ]);
        std::fs::remove_file(self.path("a.txt")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v["appended"][0]["seq"].as_u64().unwrap()
    }

    /// Adds a media file with the given bytes; returns its sequence number.
    pub fn media(&self, name: &str, bytes: &[u8]) -> u64 {
        let path = self.path(&format!("media/{name}"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let o = self.ok(&[
            "add",
            "media",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/alice.key"),
            "--json",
            &path.to_string_lossy(),
        ]);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v["appended"][0]["seq"].as_u64().unwrap()
    }

    /// The latest signed checkpoint, as `custody prove` prints it at the end of a proof.
    pub fn checkpoint_text(&self) -> String {
        let o = self.ok(&["prove", "--ledger", &self.p("ledger"), "0"]);
        let at = o.stdout.find(ORIGIN).expect("a checkpoint in the proof");
        o.stdout[at..].to_owned()
    }

    pub fn checkpoint(&self) -> String {
        self.ok(&[
            "checkpoint",
            "--ledger",
            &self.p("ledger"),
            "--key",
            &self.p("keys/ledger.key"),
        ])
        .stdout
    }

    /// A ledger with genesis, `n` more records alternating testimony and media, and a checkpoint.
    pub fn with_records(n: usize) -> Self {
        let f = Self::new();
        for i in 0..n {
            if i % 2 == 0 {
                f.testimony(&format!("testimony number {i}"));
            } else {
                f.media(&format!("m{i}.bin"), format!("media {i}").as_bytes());
            }
        }
        f.checkpoint();
        f
    }

    /// `custody verify-bundle ARGS` and `python3 scripts/verify_bundle.py ARGS`: both
    /// verifiers' outputs for the same arguments.
    pub fn verify_bundle_both(&self, args: &[&str]) -> (Output, Output) {
        let ours = self.run(&[&["verify-bundle"], args].concat());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/verify_bundle.py");
        let out = std::process::Command::new("python3")
            .arg(&script)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        let theirs = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        (ours, theirs)
    }

    /// Runs `ARGS --ledger ledger/ --key keys/KEY.key`, signed by that key.
    /// `custody export --out OUT ARGS` by `keys/KEY.key` from `ledger/`.
    pub fn export_by(&self, key: &str, out: &str, args: &[&str]) -> Output {
        let out = self.p(out);
        self.run_as(key, &[&["export", "--out", out.as_str()], args].concat())
    }

    /// [`Fixture::export_by`], which must succeed.
    pub fn export_ok(&self, key: &str, out: &str, args: &[&str]) -> Output {
        let o = self.export_by(key, out, args);
        assert_eq!(o.code, 0, "export {args:?} failed:\n{}", o.all());
        o
    }

    pub fn run_as(&self, key: &str, args: &[&str]) -> Output {
        let (l, k) = (self.p("ledger"), self.p(&format!("keys/{key}.key")));
        self.run(&[args, &["--ledger", &l, "--key", &k]].concat())
    }

    /// Generates `keys/NAME.key` and has `by` authorise it for `role`.
    pub fn add_key_by(&self, by: &str, name: &str, role: &str) -> Output {
        self.ok(&["key", "generate", name, "--dir", &self.p("keys")]);
        let pubfile = self.p(&format!("keys/{name}.pub"));
        self.run_as(
            by,
            &["key", "authorize", &pubfile, "--name", name, "--role", role],
        )
    }

    /// Has `by` hand exhibit `ex` to the key `keys/TO.pub`; returns the transfer's record.
    pub fn transfer(&self, by: &str, ex: u64, to: &str) -> u64 {
        let to = self.key_id(to);
        let ex = ex.to_string();
        seq_of(&self.run_as(
            by,
            &[
                "transfer",
                "--exhibit",
                &ex,
                "--to",
                &to,
                "--reason",
                "r",
                "--json",
            ],
        ))
    }

    /// Adds a media file signed by `key`; returns the output (`--json`).
    pub fn media_as(&self, key: &str, name: &str) -> Output {
        let path = self.path(&format!("media/{name}"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("the bytes of {name}")).unwrap();
        self.run_as(key, &["add", "media", "--json", &path.to_string_lossy()])
    }

    /// `custody verify SEQ`.
    pub fn verify(&self, seq: u64) -> Output {
        self.run(&["verify", "--ledger", &self.p("ledger"), &seq.to_string()])
    }

    /// Every audit finding as (code, record number).
    pub fn findings(&self) -> Vec<(String, Option<u64>)> {
        finding_codes(&self.audit_json())
    }

    /// Generates `keys/NAME.key`; returns the path of its public key.
    pub fn new_key(&self, name: &str) -> String {
        self.ok(&["key", "generate", name, "--dir", &self.p("keys")]);
        self.p(&format!("keys/{name}.pub"))
    }

    /// Runs `custody ARGS` with this machine's clock reading `when` (faketime, which
    /// `.ci/run` installs).
    pub fn at(&self, when: &str, args: &[&str]) -> Output {
        let o = std::process::Command::new("faketime")
            .arg(when)
            .arg(assert_cmd::cargo::cargo_bin("custody"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CUSTODY_LEDGER")
            .output()
            .expect("faketime is needed (apt-get install faketime; .ci/run installs it)");
        o.into()
    }

    /// The newest recorded time in `ledger/` (unix ms): an `--export-time` that the same
    /// ledger state always gives, and that no exported record postdates.
    pub fn newest_ms(&self) -> u64 {
        let o = self.ok(&["log", "--ledger", &self.p("ledger"), "--json"]);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["recorded_at_ms"].as_u64().unwrap())
            .max()
            .unwrap()
    }

    /// [`Fixture::newest_ms`] as an `--export-time` argument.
    pub fn export_time(&self) -> String {
        self.newest_ms().to_string()
    }

    pub fn audit(&self) -> Output {
        self.run(&["audit", "--ledger", &self.p("ledger")])
    }

    pub fn audit_json(&self) -> serde_json::Value {
        let o = self.run(&["audit", "--ledger", &self.p("ledger"), "--json"]);
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.all()))
    }
}

/// What a ledger holds, compared logically: the journal and content files byte for byte,
/// and every sled tree entry (sled may rewrite its own files when opened, without any
/// change to what they hold).
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Ok(j) = std::fs::read(dir.join("journal")) {
        out.insert("journal".into(), j);
    }
    for sub in ["content", "sealed-keys"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            for e in rd {
                let e = e.unwrap();
                out.insert(
                    format!("{sub}/{}", e.file_name().to_string_lossy()),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    if dir.join("db").exists() {
        let db = open_sled(&dir.join("db"));
        for name in db.tree_names() {
            let t = db.open_tree(&name).unwrap();
            for kv in t.iter() {
                let (k, v) = kv.unwrap();
                out.insert(
                    format!("db/{}/{}", String::from_utf8_lossy(&name), hex::encode(k)),
                    v.to_vec(),
                );
            }
        }
    }
    out
}

/// Asserts two snapshots are equal, naming only what differs.
pub fn assert_same(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "{what}: the ledger changed: {changed:?}"
    );
}

/// The journal's frames as (offset, record bytes), parsed independently of the crate.
pub fn journal_frames(path: &Path) -> Vec<(usize, Vec<u8>)> {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..16], b"CUSTODY-JOURNAL1");
    let mut i = 16;
    let mut out = Vec::new();
    while i < b.len() {
        let len = u32::from_be_bytes(b[i..i + 4].try_into().unwrap()) as usize;
        out.push((i, b[i + 4..i + 4 + len].to_vec()));
        i += 4 + len + 32;
    }
    out
}

/// Writes a journal from record bytes (frames with correct trailers).
pub fn write_journal(path: &Path, records: &[Vec<u8>]) {
    let mut b = b"CUSTODY-JOURNAL1".to_vec();
    for r in records {
        b.extend_from_slice(&(r.len() as u32).to_be_bytes());
        b.extend_from_slice(r);
        b.extend_from_slice(&custody::record::leaf_hash(r));
    }
    std::fs::write(path, b).unwrap();
}

/// Mounts a tmpfs of `size` at `dir`; false where this process may not mount (not root).
pub fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn umount(dir: &Path) {
    let _ = std::process::Command::new("umount").arg(dir).output();
}

/// Runs `f` with a tmpfs of `size` mounted at `dir`, unmounting it afterwards whatever
/// happens; false (and `f` not run) where this process may not mount (not root).
pub fn with_tmpfs(dir: &Path, size: &str, f: impl FnOnce() + std::panic::UnwindSafe) -> bool {
    if !mount_tmpfs(dir, size) {
        eprintln!("skipped: cannot mount a tmpfs here (needs root with mount rights, as in CI)");
        return false;
    }
    let result = std::panic::catch_unwind(f);
    umount(dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    true
}

/// Remounts the tmpfs at `dir` read-only.
pub fn remount_ro(dir: &Path) {
    let o = std::process::Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Opens a sled database from a test. sled releases its file lock from a background thread
/// after the previous handle is dropped, so a quick reopen in the same process may have to
/// wait a moment.
pub fn open_sled(path: &Path) -> sled::Db {
    for _ in 0..100 {
        match sled::open(path) {
            Ok(db) => return db,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    sled::open(path).unwrap()
}

/// Makes a file readable and writable by its owner alone (mode 0600), as secret key and
/// passphrase files must be.
pub fn private(path: &Path) {
    set_mode(path, 0o600);
}

/// The sequence number of the first record an append printed (`--json`), which must have
/// succeeded.
pub fn seq_of(o: &Output) -> u64 {
    assert_eq!(o.code, 0, "{}", o.all());
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    v["appended"][0]["seq"].as_u64().unwrap()
}

/// Sets a file's permission bits.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Each finding of an audit report (`audit --json`) as (code, record number).
pub fn finding_codes(v: &serde_json::Value) -> Vec<(String, Option<u64>)> {
    v["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["code"].as_str().unwrap().to_owned(), x["seq"].as_u64()))
        .collect()
}

/// The codes of an audit report's findings, in order.
pub fn codes_of(v: &serde_json::Value) -> Vec<String> {
    finding_codes(v).into_iter().map(|(c, _)| c).collect()
}

/// A bundle's members, by name.
pub fn read_zip(p: &Path) -> BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).unwrap();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            (String::from_utf8_lossy(e.name_raw()).into_owned(), b)
        })
        .collect()
}

/// Writes members as a ZIP, as custody would (deflated, fixed times).
pub fn write_zip_to(p: &Path, members: &BTreeMap<String, Vec<u8>>) {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::fs::File::create(p).unwrap());
    let opt = zip::write::SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::default())
        .compression_method(zip::CompressionMethod::Deflated);
    for (n, b) in members {
        z.start_file(n.as_str(), opt).unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap();
}

/// Signs `manifest.json` again with the exporter's key and rebuilds `SHA256SUMS`, as an
/// exporter who edited a bundle would: only the checks behind the signature can catch it.
pub fn resign(members: &mut BTreeMap<String, Vec<u8>>, key: &Path) {
    use sha2::Digest;
    let key = custody::keys::load_secret(key).unwrap();
    let sig = custody::keys::sign(&key, &members["manifest.json"]);
    members.insert("manifest.sig".into(), sig.to_vec());
    let sums: String = members
        .iter()
        .filter(|(n, _)| n.as_str() != "SHA256SUMS")
        .map(|(n, b)| format!("{}  {n}\n", hex::encode(sha2::Sha256::digest(b))))
        .collect();
    members.insert("SHA256SUMS".into(), sums.into_bytes());
}

/// A lookup page key as SPEC.md section 8 lays it out: kind tag (`l`eaf, `m`edia,
/// `c`ontent, `a`uthority), run level, the run's first bundle, page.
pub fn lookup_page_key(tag: u8, level: u8, first: u64, page: u32) -> Vec<u8> {
    [&[tag, level][..], &first.to_be_bytes(), &page.to_be_bytes()].concat()
}

/// Edits the one lookup page of kind `tag` in a ledger of fewer than 256 records (one
/// level-0 run from record 0, one page) as a list of entries (the key's first 16 bytes
/// then the u32 position in the run, SPEC.md section 8), writing them back in the order
/// `edit` leaves them; no entries, no page.
pub fn edit_small_lookup(db: &sled::Db, tag: u8, edit: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let t = db.open_tree("lookup").unwrap();
    let key = lookup_page_key(tag, 0, 0, 0);
    let len = if tag == b'a' { 4 } else { 20 };
    let mut entries: Vec<Vec<u8>> = t
        .get(&key)
        .unwrap()
        .map(|v| v.chunks(len).map(<[u8]>::to_vec).collect())
        .unwrap_or_default();
    edit(&mut entries);
    if entries.is_empty() {
        t.remove(&key).unwrap();
    } else {
        t.insert(&key, entries.concat()).unwrap();
    }
}

/// A lookup entry of a run that starts at record 0: the key's first 16 bytes (if it has
/// one) then the big-endian u32 sequence number.
pub fn lookup_entry(key: &[u8], seq: u64) -> Vec<u8> {
    [&key[..key.len().min(16)], &(seq as u32).to_be_bytes()].concat()
}
