//! `custody key generate` and `custody key show`.

use super::util::print_json;
use anyhow::Context;
use clap::Subcommand;
use custody::{keys, note};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Write a new key pair: DIR/NAME.key (PKCS#8 PEM, mode 0600) and DIR/NAME.pub (SPKI PEM).
    #[command(
        after_help = "The secret key never leaves DIR/NAME.key. Keep it off shared drives and never commit it.\nBoth files load in OpenSSL, e.g. `openssl pkey -in DIR/NAME.key -noout -text`."
    )]
    Generate {
        /// Name of the key (file names and the key's signed-note name). Letters, digits, `.`, `_`, `-`.
        name: String,
        /// Directory to write the key files into (created if missing).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a key's ID and fingerprint (from a .pub or a .key file).
    Show {
        /// The key file.
        file: PathBuf,
        /// The key's signed-note name (defaults to the file name without extension).
        #[arg(long)]
        name: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Serialize)]
struct KeyInfo {
    name: String,
    key_id: String,
    fingerprint: String,
    public_key: String,
    note_verifier_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_key_file: Option<PathBuf>,
}

fn info(name: &str, public: &[u8; 32]) -> KeyInfo {
    use base64::Engine;
    KeyInfo {
        name: name.to_owned(),
        key_id: keys::short_id(public),
        fingerprint: keys::fingerprint_string(public),
        public_key: base64::engine::general_purpose::STANDARD.encode(public),
        note_verifier_key: note::verifier_key(name, public),
        secret_key_file: None,
        public_key_file: None,
    }
}

fn print_info(i: &KeyInfo) {
    println!("name:         {}", i.name);
    println!("key ID:       {}", i.key_id);
    println!("fingerprint:  {}", i.fingerprint);
    println!("verifier key: {}", i.note_verifier_key);
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        || name.starts_with('.')
    {
        anyhow::bail!(
            "key name '{name}' is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"
        );
    }
    Ok(())
}

pub fn exec(cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::Generate { name, dir, json } => {
            check_name(&name)?;
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create key directory {}", dir.display()))?;
            let key = keys::generate_pair(&dir, &name)?;
            let (secret, public) = keys::pair_paths(&dir, &name);
            let mut i = info(&name, &key.verifying_key().to_bytes());
            i.secret_key_file = Some(secret.clone());
            i.public_key_file = Some(public.clone());
            if json {
                print_json(&i)?;
            } else {
                println!(
                    "secret key:   {} (mode 0600; keep it private)",
                    secret.display()
                );
                println!("public key:   {}", public.display());
                print_info(&i);
            }
        }
        KeyCommand::Show { file, name, json } => {
            let public = keys::load_public(&file)?.to_bytes();
            let name = match name {
                Some(n) => n,
                None => stem(&file),
            };
            let i = info(&name, &public);
            if json {
                print_json(&i)?;
            } else {
                print_info(&i);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "key".into())
}
