//! The `policy bundle` / `policy keygen` command functions on real files: the texts they
//! print, the files they write, and the errors they give for missing or wrong inputs.

use crate::bundle_common::*;
use mcpproxy::policy::bundle::{Bundle, cli};

#[test]
fn keygen_pack_sign_verify_inspect_on_a_bundle_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("signer");
    let out = cli::keygen(&prefix).unwrap();
    let (public, secret) = (tmp.path().join("signer.pub"), tmp.path().join("signer.key"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "secret key readable by its owner only");
    let key_id = out
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("key id ")
        .to_string();
    assert_eq!(key_id.len(), 16, "{out}");

    // Pack to a tar, unpack to a directory bundle, sign the directory in place.
    let src = write_source(&tmp.path().join("src"), &template("acme", 5), b"component");
    let tar = tmp.path().join("acme.tar");
    let text = cli::pack(&src, &tar).unwrap();
    assert!(
        text.contains("1 file(s)") && text.contains("unsigned"),
        "{text}"
    );
    let dir = tmp.path().join("dir-bundle");
    std::fs::create_dir(&dir).unwrap();
    Bundle::open(&tar).unwrap().write_dir(&dir).unwrap();

    let unsigned = cli::verify(&dir, &public).unwrap_err();
    assert!(
        format!("{unsigned:#}").contains("manifest.json.minisig"),
        "{unsigned:#}"
    );

    let text = cli::sign(&dir, &secret).unwrap();
    assert!(
        text.contains(&key_id) && text.contains("revision:5"),
        "{text}"
    );
    assert!(dir.join("manifest.json.minisig").is_file());
    let text = cli::verify(&dir, &public).unwrap();
    assert!(
        text.contains("OK: bundle acme revision 5") && text.contains(&key_id),
        "{text}"
    );
    let text = cli::inspect(&dir).unwrap();
    assert!(
        text.contains("name:            acme") && text.contains(&key_id),
        "{text}"
    );
}

#[test]
fn errors_name_the_file_or_key_concerned() {
    let tmp = tempfile::tempdir().unwrap();
    cli::keygen(&tmp.path().join("a")).unwrap();
    cli::keygen(&tmp.path().join("b")).unwrap();

    // No manifest template.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("policy.wasm"), b"c").unwrap();
    let err = cli::pack(&empty, &tmp.path().join("x.tar")).unwrap_err();
    assert!(format!("{err:#}").contains("manifest.json"), "{err:#}");

    // Signed by a, verified against b.
    let src = write_source(&tmp.path().join("src"), &template("acme", 1), b"component");
    let tar = tmp.path().join("acme.tar");
    cli::pack(&src, &tar).unwrap();
    cli::sign(&tar, &tmp.path().join("a.key")).unwrap();
    let err = format!(
        "{:#}",
        cli::verify(&tar, &tmp.path().join("b.pub")).unwrap_err()
    );
    assert!(
        err.contains("acme.tar") && err.contains("not a trusted key"),
        "{err}"
    );

    // A public key given where a secret key is expected.
    let err = format!(
        "{:#}",
        cli::sign(&tar, &tmp.path().join("a.pub")).unwrap_err()
    );
    assert!(err.contains("a.pub"), "{err}");
    // A missing bundle.
    let err = format!(
        "{:#}",
        cli::inspect(&tmp.path().join("nope.tar")).unwrap_err()
    );
    assert!(err.contains("nope.tar"), "{err}");
}
