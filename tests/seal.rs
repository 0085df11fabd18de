//! Sealed content: the formats are standard age, checked by a third-party implementation
//! (Python's `pyrage`):
//! an identity made by `custody key generate-recipient` (plain or passphrase-protected)
//! opens, in pyrage, an item key wrapped to its recipient, and the item key its item.

use crate::util::*;

/// Runs Python with pyrage; `None` when pyrage is missing (CI installs it).
fn pyrage(script: &str, args: &[&str]) -> Option<std::process::Output> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import pyrage"])
        .output()
        .ok()?;
    assert!(
        probe.status.success() || std::env::var_os("CI").is_none(),
        "pyrage is required in CI"
    );
    if !probe.status.success() {
        eprintln!("skipped: python3 -m pip install pyrage");
        return None;
    }
    Some(
        std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .unwrap(),
    )
}

const OPEN: &str = r##"
import sys, pyrage
identity_file, wrapped, ciphertext = sys.argv[1:4]
data = open(identity_file, "rb").read()
if data.startswith(b"age-encryption.org/"):
    data = pyrage.passphrase.decrypt(data, sys.argv[4])
line = [l for l in data.decode().splitlines() if l and not l.startswith("#")][0]
hq = pyrage.x25519.Identity.from_str(line)
item_key = pyrage.decrypt(open(wrapped, "rb").read(), [hq]).decode().strip()
item = pyrage.x25519.Identity.from_str(item_key)
sys.stdout.write(pyrage.decrypt(open(ciphertext, "rb").read(), [item]).decode())
"##;

#[test]
fn sealed_items_open_in_a_third_party_age_implementation() {
    let f = Fixture::empty();
    std::fs::write(f.path("pass"), "correct horse battery\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f.path("pass"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for (name, protect) in [("hq", false), ("hq-protected", true)] {
        let mut args = vec!["key", "generate-recipient", name, "--dir", "keys", "--json"];
        if protect {
            args.extend(["--passphrase-file", "pass"]);
        }
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "keys" => f.p("keys"),
                "pass" => f.p("pass"),
                other => other.to_owned(),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = f.ok(&args);
        let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
        let recipient = j["recipient"].as_str().unwrap();
        assert!(recipient.starts_with("age1"), "{recipient}");
        assert_eq!(
            std::fs::read_to_string(f.path(&format!("keys/{name}.recipient"))).unwrap(),
            format!("{recipient}\n")
        );
        let identity = f.path(&format!("keys/{name}.identity"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&identity).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = "شهادة: held in the basement cells (marker 7f3a)";
        let sealed = custody::seal::seal(
            text.as_bytes(),
            &[custody::seal::parse_recipient(recipient).unwrap()],
        )
        .unwrap();
        std::fs::write(f.path("wrapped.age"), &sealed.wrapped_key).unwrap();
        std::fs::write(f.path("item.age"), &sealed.ciphertext).unwrap();
        let Some(out) = pyrage(
            OPEN,
            &[
                identity.to_str().unwrap(),
                &f.p("wrapped.age"),
                &f.p("item.age"),
                "correct horse battery",
            ],
        ) else {
            return;
        };
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), text, "{name}");
        // And custody opens it with the same identity.
        let pass = protect.then_some(&b"correct horse battery"[..]);
        let id = custody::seal::load_identity(&identity, pass).unwrap();
        let opened = custody::seal::open(&sealed.ciphertext, &sealed.wrapped_key, &id).unwrap();
        assert_eq!(&*opened, text.as_bytes());
    }
    // An existing name is refused (exit 2) and nothing is overwritten.
    let before = std::fs::read(f.path("keys/hq.identity")).unwrap();
    let o = f.run(&["key", "generate-recipient", "hq", "--dir", &f.p("keys")]);
    assert_eq!(o.code, 2, "{}", o.all());
    assert_eq!(std::fs::read(f.path("keys/hq.identity")).unwrap(), before);
}
