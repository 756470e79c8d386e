//! Bundle verification end to end on real packed, signed bundles (directories and tars):
//! every refusal the issue names, each reported with the file, key or revision concerned.

use crate::bundle_common::*;
use chrono::Duration as ChronoDuration;
use mcpproxy::canonical_json::to_canonical_bytes;
use mcpproxy::policy::bundle::{Bundle, BundleError, TrustedKey, pack_dir, verify};
use serde_json::{Value, json};

fn trusted(key: &mcpproxy::policy::bundle::SigningKey) -> Vec<TrustedKey> {
    vec![key.trusted()]
}

#[test]
fn a_good_bundle_verifies_and_reports_key_and_manifest_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let bundle = signed_bundle(tmp.path(), &template("acme", 1), &key);
    let manifest_sha = mcpproxy::policy::sha256_hex(bundle.manifest_bytes().unwrap());
    let verified = verify(bundle, &trusted(&key), now(), None).unwrap();
    assert_eq!(verified.key_id(), key.id());
    assert_eq!(verified.manifest_sha256(), manifest_sha);
    assert_eq!(verified.manifest().name, "acme");
    assert_eq!(verified.manifest().files.len(), 1);
    assert!(
        verified
            .component(mcpproxy::policy::bundle::Hook::Backoff)
            .starts_with(b"component of")
    );
}

#[test]
fn a_bundle_survives_a_round_trip_through_tar_and_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let bundle = signed_bundle(tmp.path(), &template("acme", 1), &key);
    let tar_path = tmp.path().join("acme.tar");
    std::fs::write(&tar_path, bundle.to_tar().unwrap()).unwrap();
    let from_tar = Bundle::open(&tar_path).unwrap();
    assert_eq!(from_tar, bundle);
    let dir = tmp.path().join("unpacked");
    std::fs::create_dir(&dir).unwrap();
    from_tar.write_dir(&dir).unwrap();
    let from_dir = Bundle::open(&dir).unwrap();
    verify(from_dir, &trusted(&key), now(), None).unwrap();
}

#[test]
fn a_tampered_component_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let mut bundle = signed_bundle(tmp.path(), &template("acme", 1), &key);
    // Same size, one byte different: only the hash can catch it.
    let mut component = bundle.get("policy.wasm").unwrap().to_vec();
    component[0] ^= 0x01;
    bundle.replace("policy.wasm", component.clone()).unwrap();
    let err = verify(bundle.clone(), &trusted(&key), now(), None).unwrap_err();
    assert!(
        matches!(err, BundleError::HashMismatch { ref path, .. } if path == "policy.wasm"),
        "{err}"
    );
    // A different size is reported as such.
    component.push(0);
    bundle.replace("policy.wasm", component).unwrap();
    let err = verify(bundle, &trusted(&key), now(), None).unwrap_err();
    assert!(
        matches!(err, BundleError::SizeMismatch { ref path, .. } if path == "policy.wasm"),
        "{err}"
    );
    assert!(err.to_string().contains("policy.wasm"));
}

#[test]
fn a_tampered_manifest_is_refused_by_the_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let mut bundle = signed_bundle(tmp.path(), &template("acme", 1), &key);
    // Raise the memory limit, keep it canonical: only the signature can catch it.
    let mut manifest: Value = serde_json::from_slice(bundle.manifest_bytes().unwrap()).unwrap();
    manifest["memory_limit_mib"] = json!(4096);
    bundle
        .replace("manifest.json", to_canonical_bytes(&manifest))
        .unwrap();
    let err = verify(bundle, &trusted(&key), now(), None).unwrap_err();
    assert!(matches!(err, BundleError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains(key.id()), "{err}");
}

#[test]
fn an_extra_file_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let mut bundle = signed_bundle(tmp.path(), &template("acme", 1), &key);
    bundle
        .insert("lib/evil.wasm", b"surprise".to_vec())
        .unwrap();
    let err = verify(bundle, &trusted(&key), now(), None).unwrap_err();
    assert!(
        matches!(err, BundleError::ExtraFiles(ref f) if f == &vec!["lib/evil.wasm".to_string()]),
        "{err}"
    );
    assert!(err.to_string().contains("lib/evil.wasm"));
}

#[test]
fn a_missing_file_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let mut bundle = signed_bundle(tmp.path(), &template("acme", 1), &key);
    bundle.remove("policy.wasm");
    let err = verify(bundle, &trusted(&key), now(), None).unwrap_err();
    assert!(
        matches!(err, BundleError::MissingFiles(ref f) if f == &vec!["policy.wasm".to_string()]),
        "{err}"
    );
}

#[test]
fn a_bundle_signed_by_another_key_is_refused_naming_both_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let (signer, trusted_key) = (new_key(), new_key());
    let bundle = signed_bundle(tmp.path(), &template("acme", 1), &signer);
    let err = verify(bundle, &trusted(&trusted_key), now(), None).unwrap_err();
    assert!(matches!(err, BundleError::UntrustedKey { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(signer.id()) && text.contains(trusted_key.id()),
        "{text}"
    );
}

#[test]
fn an_unsigned_bundle_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let src = write_source(&tmp.path().join("src"), &template("acme", 1), b"component");
    let bundle = pack_dir(&src, now()).unwrap();
    let err = verify(bundle, &trusted(&key), now(), None).unwrap_err();
    assert!(
        matches!(err, BundleError::MissingPart("manifest.json.minisig")),
        "{err}"
    );
}

#[test]
fn an_expired_bundle_is_refused_and_an_unexpired_one_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let mut manifest = template("acme", 1);
    manifest["expires"] = json!("2026-05-01T00:00:00Z");
    let bundle = signed_bundle(tmp.path(), &manifest, &key);
    let err = verify(bundle.clone(), &trusted(&key), now(), None).unwrap_err();
    assert!(matches!(err, BundleError::Expired { .. }), "{err}");
    assert!(err.to_string().contains("2026-05-01T00:00:00Z"), "{err}");
    let before_expiry = now() - ChronoDuration::days(40);
    verify(bundle, &trusted(&key), before_expiry, None).unwrap();
}

#[test]
fn a_rollback_is_refused_naming_both_revisions() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let bundle = signed_bundle(tmp.path(), &template("acme", 4), &key);
    for last in [4, 7] {
        let err = verify(bundle.clone(), &trusted(&key), now(), Some(last)).unwrap_err();
        assert!(
            matches!(err, BundleError::Rollback { revision: 4, .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("revision 4") && text.contains(&format!("revision {last}")),
            "{text}"
        );
    }
    verify(bundle, &trusted(&key), now(), Some(3)).unwrap();
}

#[test]
fn an_incompatible_world_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let mut manifest = template("acme", 1);
    manifest["world"] = json!("mcpproxy:policy/policy@0.3.0");
    let bundle = signed_bundle(tmp.path(), &manifest, &key);
    let err = verify(bundle, &trusted(&key), now(), None).unwrap_err();
    assert!(
        matches!(err, BundleError::IncompatibleWorld { .. }),
        "{err}"
    );
    // The error names the bundle's world and every world this host runs.
    let text = err.to_string();
    assert!(
        text.contains("0.3.0") && text.contains("0.2.0") && text.contains("0.1.0"),
        "{text}"
    );
}

#[test]
fn the_signature_is_checked_before_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (signer, other) = (new_key(), new_key());
    let mut bundle = signed_bundle(tmp.path(), &template("acme", 1), &signer);
    bundle.remove("policy.wasm");
    let err = verify(bundle, &trusted(&other), now(), None).unwrap_err();
    assert!(matches!(err, BundleError::UntrustedKey { .. }), "{err}");
}

#[test]
fn pack_is_deterministic_and_drops_a_stale_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let src = write_source(&tmp.path().join("src"), &template("acme", 1), b"component");
    std::fs::write(src.join("manifest.json.minisig"), "stale").unwrap();
    let a = pack_dir(&src, now()).unwrap();
    let b = pack_dir(&src, now()).unwrap();
    assert_eq!(a.to_tar().unwrap(), b.to_tar().unwrap());
    assert!(a.get("manifest.json.minisig").is_none());
    // The second signature over the same manifest verifies too.
    let mut signed = a;
    mcpproxy::policy::bundle::sign(&mut signed, &key).unwrap();
    verify(signed, &trusted(&key), now(), None).unwrap();
}

#[test]
fn inspect_shows_the_manifest_and_flags_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let mut bundle = signed_bundle(tmp.path(), &template("acme", 9), &key);
    let text = mcpproxy::policy::bundle::describe(&bundle);
    assert!(
        text.contains("acme") && text.contains("revision:        9") && text.contains(key.id()),
        "{text}"
    );
    assert!(
        text.contains("policy.wasm") && text.contains(" ok"),
        "{text}"
    );
    bundle.replace("policy.wasm", b"other".to_vec()).unwrap();
    bundle.insert("extra.txt", b"x".to_vec()).unwrap();
    let text = mcpproxy::policy::bundle::describe(&bundle);
    assert!(
        text.contains("SIZE MISMATCH") && text.contains("extra.txt  NOT LISTED"),
        "{text}"
    );
}
