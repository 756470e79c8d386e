//! Interoperability with Debian's stock `minisign` tool, both ways: a bundle whose manifest
//! `minisign -S` signed verifies in mcpproxy, and a bundle mcpproxy signed verifies with
//! `minisign -V` (and stops verifying once tampered with). Installs minisign first through
//! `tests/tools/install-minisign.sh`; skips loudly only when apt itself is unavailable.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::bundle_common::*;
use mcpproxy::policy::bundle::{
    Bundle, BundleError, SigningKey, TrustedKey, cli, pack_dir, verify,
};

/// Make sure `minisign` is installed; `false` (after a loud message) only if it cannot be.
fn minisign_available() -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/install-minisign.sh");
    let installed = Command::new("bash")
        .arg(&script)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if installed {
        return true;
    }
    let apt = Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    assert!(
        !apt,
        "apt-get exists but {} failed to install minisign",
        script.display()
    );
    eprintln!(
        "\n!!! SKIPPING minisign CLI interop: minisign is not installed and apt-get is unavailable !!!\n"
    );
    false
}

fn minisign(args: &[&str]) -> std::process::Output {
    Command::new("minisign")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run minisign")
}

/// The stock tool prints a key id without leading zeros (`%llX`), mcpproxy and the minisign
/// crate with all 16 digits: the same key either way.
fn same_key_id(a: &str, b: &str) -> bool {
    let n = |s: &str| u64::from_str_radix(s, 16).unwrap_or_else(|e| panic!("key id {s}: {e}"));
    n(a) == n(b)
}

fn key_id_of_pub_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_manifest_signed_by_the_minisign_cli_verifies_in_mcpproxy() {
    if !minisign_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (public, secret) = (tmp.path().join("cli.pub"), tmp.path().join("cli.key"));
    let out = minisign(&[
        "-G",
        "-W",
        "-p",
        public.to_str().unwrap(),
        "-s",
        secret.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "minisign -G: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Pack with mcpproxy, sign the manifest with the CLI, in a bundle directory.
    let src = write_source(&tmp.path().join("src"), &template("acme", 1), b"component");
    let bundle_dir = tmp.path().join("bundle");
    std::fs::create_dir(&bundle_dir).unwrap();
    pack_dir(&src, now())
        .unwrap()
        .write_dir(&bundle_dir)
        .unwrap();
    let manifest = bundle_dir.join("manifest.json");
    let out = minisign(&[
        "-S",
        "-s",
        secret.to_str().unwrap(),
        "-m",
        manifest.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "minisign -S: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(bundle_dir.join("manifest.json.minisig").is_file());

    let trusted = TrustedKey::from_file(&public).unwrap();
    let printed = key_id_of_pub_file(&public);
    assert!(
        same_key_id(trusted.id(), &printed),
        "same key id as minisign prints: {} vs {printed}",
        trusted.id()
    );
    let verified = verify(
        Bundle::open(&bundle_dir).unwrap(),
        std::slice::from_ref(&trusted),
        now(),
        None,
    )
    .unwrap();
    assert_eq!(verified.key_id(), trusted.id());
    // Our CLI function agrees.
    let text = cli::verify(&bundle_dir, &public).unwrap();
    assert!(text.contains("OK") && text.contains(trusted.id()), "{text}");

    // A CLI signature from another key is refused.
    let (other_pub, other_key) = (tmp.path().join("other.pub"), tmp.path().join("other.key"));
    assert!(
        minisign(&[
            "-G",
            "-W",
            "-p",
            other_pub.to_str().unwrap(),
            "-s",
            other_key.to_str().unwrap()
        ])
        .status
        .success()
    );
    assert!(
        minisign(&[
            "-S",
            "-s",
            other_key.to_str().unwrap(),
            "-m",
            manifest.to_str().unwrap()
        ])
        .status
        .success()
    );
    let err = verify(Bundle::open(&bundle_dir).unwrap(), &[trusted], now(), None).unwrap_err();
    assert!(matches!(err, BundleError::UntrustedKey { .. }), "{err}");

    // The CLI's passwordless secret key signs in mcpproxy too, and the CLI verifies that.
    let cli_key = SigningKey::from_file(&secret, None).unwrap();
    assert!(same_key_id(cli_key.id(), &key_id_of_pub_file(&public)));
    let mut bundle = Bundle::open(&bundle_dir).unwrap();
    mcpproxy::policy::bundle::sign(&mut bundle, &cli_key).unwrap();
    bundle.write_dir(&bundle_dir).unwrap();
    let out = minisign(&[
        "-V",
        "-p",
        public.to_str().unwrap(),
        "-m",
        manifest.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "minisign -V: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bundle_signed_by_mcpproxy_verifies_with_the_minisign_cli() {
    if !minisign_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("ours");
    let text = cli::keygen(&prefix).unwrap();
    let public = tmp.path().join("ours.pub");
    let secret = tmp.path().join("ours.key");
    assert!(text.contains(&key_id_of_pub_file(&public)), "{text}");
    assert!(
        cli::keygen(&prefix).is_err(),
        "keygen never overwrites a key"
    );

    // pack -> sign (tar) through the CLI functions, then unpack for minisign.
    let src = write_source(&tmp.path().join("src"), &template("acme", 1), b"component");
    let tar = tmp.path().join("acme.tar");
    cli::pack(&src, &tar).unwrap();
    let signed = cli::sign(&tar, &secret).unwrap();
    assert!(signed.contains(&key_id_of_pub_file(&public)), "{signed}");
    let bundle_dir = tmp.path().join("unpacked");
    std::fs::create_dir(&bundle_dir).unwrap();
    Bundle::open(&tar).unwrap().write_dir(&bundle_dir).unwrap();

    let manifest = bundle_dir.join("manifest.json");
    let out = minisign(&[
        "-V",
        "-p",
        public.to_str().unwrap(),
        "-m",
        manifest.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "minisign -V: {stdout} {stderr}");
    assert!(
        stdout.contains("bundle:acme revision:1"),
        "trusted comment shown: {stdout}"
    );

    // Our passwordless secret key works in the CLI too.
    let cli_sig = tmp.path().join("cli.minisig");
    let out = minisign(&[
        "-S",
        "-s",
        secret.to_str().unwrap(),
        "-m",
        manifest.to_str().unwrap(),
        "-x",
        cli_sig.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "minisign -S with our key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = minisign(&[
        "-V",
        "-p",
        public.to_str().unwrap(),
        "-m",
        manifest.to_str().unwrap(),
        "-x",
        cli_sig.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "minisign -V of its own signature with our key"
    );

    // The same check fails once the manifest changes by one byte.
    let mut bytes = std::fs::read(&manifest).unwrap();
    let at = bytes.iter().position(|b| *b == b'1').unwrap();
    bytes[at] = b'2';
    std::fs::write(&manifest, bytes).unwrap();
    let out = minisign(&[
        "-V",
        "-p",
        public.to_str().unwrap(),
        "-m",
        manifest.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "minisign accepted a tampered manifest"
    );

    // And mcpproxy's own CLI verification of the tar passes, inspect names the key.
    assert!(cli::verify(&tar, &public).unwrap().contains("OK"));
    assert!(
        cli::inspect(&tar)
            .unwrap()
            .contains(&key_id_of_pub_file(&public))
    );
}
