//! The `mcpproxy policy bundle ...` and `policy keygen` commands as functions: each does its
//! file I/O and returns the text to print. The daemon's `main` only parses arguments and calls
//! these. Secret keys are read unencrypted, or decrypted with `$MCPPROXY_KEY_PASSWORD`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::Utc;

use super::archive::Bundle;
use super::keys::{SigningKey, TrustedKey, keygen as generate};
use super::manifest::{MANIFEST_FILE, SIGNATURE_FILE};
use super::pack::{describe, pack_dir, sign as sign_bundle};
use super::verify::verify as verify_bundle;

/// Environment variable holding the password of an encrypted secret key.
pub const KEY_PASSWORD_ENV: &str = "MCPPROXY_KEY_PASSWORD";

/// `policy bundle pack DIR -o OUT`: an unsigned `.tar` bundle.
pub fn pack(dir: &Path, out: &Path) -> Result<String> {
    let bundle = pack_dir(dir, Utc::now()).with_context(|| format!("packing {}", dir.display()))?;
    let tar = bundle.to_tar()?;
    write_atomically(out, &tar)?;
    let files = bundle.payload_paths().count();
    Ok(format!(
        "packed {files} file(s) from {} into {} (unsigned; sign it with `mcpproxy policy bundle sign {} --key KEY`)\n",
        dir.display(),
        out.display(),
        out.display()
    ))
}

/// `policy bundle sign BUNDLE --key KEY`: adds `manifest.json.minisig` to a `.tar` (rewritten
/// atomically) or a bundle directory.
pub fn sign(bundle_path: &Path, key_path: &Path) -> Result<String> {
    let key = SigningKey::from_file(key_path, std::env::var(KEY_PASSWORD_ENV).ok())?;
    let mut bundle = Bundle::open(bundle_path)?;
    let info = sign_bundle(&mut bundle, &key)
        .with_context(|| format!("signing {}", bundle_path.display()))?;
    if bundle_path.is_dir() {
        let signature = bundle.get(SIGNATURE_FILE).unwrap_or_default();
        write_atomically(&bundle_path.join(SIGNATURE_FILE), signature)?;
    } else {
        write_atomically(bundle_path, &bundle.to_tar()?)?;
    }
    Ok(format!(
        "signed {} with key {} (trusted comment: {})\n",
        bundle_path.display(),
        info.key_id,
        info.trusted_comment
    ))
}

/// `policy bundle verify BUNDLE --pubkey KEY`: every check but the rollback one (there is no
/// activation history here) and the policy host's validation.
pub fn verify(bundle_path: &Path, pubkey_path: &Path) -> Result<String> {
    let key = TrustedKey::from_file(pubkey_path)?;
    let bundle = Bundle::open(bundle_path)?;
    let verified = verify_bundle(bundle, &[key], Utc::now(), None)
        .with_context(|| format!("{} does not verify", bundle_path.display()))?;
    let m = verified.manifest();
    Ok(format!(
        "{}: OK: bundle {} revision {} signed by key {}, {} file(s), manifest sha256 {}\n",
        bundle_path.display(),
        m.name,
        m.revision,
        verified.key_id(),
        m.files.len(),
        verified.manifest_sha256()
    ))
}

/// `policy bundle inspect BUNDLE`.
pub fn inspect(bundle_path: &Path) -> Result<String> {
    let bundle = Bundle::open(bundle_path)?;
    Ok(format!("{}:\n{}", bundle_path.display(), describe(&bundle)))
}

/// `policy keygen OUT_PREFIX`: writes `OUT_PREFIX.pub` and `OUT_PREFIX.key` (unencrypted, mode
/// 0600, like `minisign -G -W`); never overwrites.
pub fn keygen(out_prefix: &Path) -> Result<String> {
    let keys = generate()?;
    let public = with_suffix(out_prefix, ".pub");
    let secret = with_suffix(out_prefix, ".key");
    for path in [&public, &secret] {
        if path.exists() {
            bail!("{} already exists; not overwriting a key", path.display());
        }
    }
    write_new(&secret, keys.secret_key.as_bytes(), 0o600)?;
    write_new(&public, keys.public_key.as_bytes(), 0o644)?;
    Ok(format!(
        "key id {}\npublic key: {} (trust it in a pin: {})\nsecret key: {} (unencrypted: keep it private)\n",
        keys.key_id,
        public.display(),
        keys.public_key.lines().nth(1).unwrap_or_default(),
        secret.display()
    ))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Write a temporary file next to `path`, then rename it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| MANIFEST_FILE.into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
