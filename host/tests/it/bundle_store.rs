//! The activation store and the enterprise pin on real files: atomic activation of newer
//! revisions, refusals that keep the last-known-good, `state.json`/status contents, pin files,
//! a pin overriding the user's policy, and `require_bundle` with nothing valid.

use std::path::Path;

use crate::bundle_common::*;
use chrono::Duration as ChronoDuration;
use mcpproxy::policy::bundle::pin::{self, pin_path};
use mcpproxy::policy::bundle::{
    BundleOrigin, BundleStore, Pin, PinError, PinnedCandidates, PolicyChoice, SigningKey,
    choose_policy, load_pinned,
};
use serde_json::json;

/// Write a pin file trusting `key` for bundle `name` at `bundle_path`, with `extra` fields.
fn write_pin(
    dir: &Path,
    key: &SigningKey,
    name: &str,
    bundle_path: &Path,
    extra: serde_json::Value,
) -> Pin {
    let mut body = json!({
        "trusted_keys": [key.trusted().to_base64()],
        "name": name,
        "bundle_path": bundle_path,
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let path = dir.join("policy-pin.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&body).unwrap()).unwrap();
    pin::load_from(&path).unwrap().expect("pin file exists")
}

/// Put a signed bundle of `revision` at `path` (a `.tar`), replacing what was there.
fn publish(tmp: &Path, path: &Path, name: &str, revision: u64, key: &SigningKey) {
    let bundle = signed_bundle(tmp, &template(name, revision), key);
    std::fs::write(path, bundle.to_tar().unwrap()).unwrap();
}

fn pinned_bundle(source: &PolicyChoice) -> (u64, BundleOrigin, Option<String>) {
    match source {
        PolicyChoice::PinnedBundle {
            bundle,
            origin,
            refused,
        } => (bundle.manifest().revision, *origin, refused.clone()),
        other => panic!("expected a pinned bundle, got {other:?}"),
    }
}

#[test]
fn a_newer_revision_is_activated_after_an_older_one_and_a_rollback_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let data_dir = tmp.path().join("data");
    let store = BundleStore::new(&data_dir);
    let bundle_path = tmp.path().join("acme.tar");
    let pin = write_pin(
        tmp.path(),
        &key,
        "acme",
        &bundle_path,
        json!({"require_bundle": true}),
    );
    let validator = FakeValidator::default();

    publish(tmp.path(), &bundle_path, "acme", 1, &key);
    let loaded = load_pinned(&pin, &store, now(), &validator);
    let source = choose_policy(Some(&pin), None, None, loaded).unwrap();
    assert_eq!(pinned_bundle(&source), (1, BundleOrigin::Fresh, None));
    let status = store.status("acme").unwrap();
    assert_eq!(status.revision, Some(1));
    assert_eq!(status.key_id.as_deref(), Some(key.id()));
    assert_eq!(status.activated_at, Some(now()));
    assert!(
        data_dir
            .join("policy-bundles/acme/rev-1/policy.wasm")
            .is_file()
    );
    // The validator saw the one component with the bundle's settings and limits.
    let calls = validator.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, json!({"max_failures": 2}));
    assert_eq!((calls[0].2.as_millis(), calls[0].3), (10, 16));

    // Loading the same bundle again (a restart) re-activates nothing.
    let later = now() + ChronoDuration::minutes(5);
    let source = choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, later, &validator),
    )
    .unwrap();
    assert_eq!(pinned_bundle(&source), (1, BundleOrigin::Fresh, None));
    assert_eq!(store.status("acme").unwrap().activated_at, Some(now()));
    assert_eq!(validator.calls.lock().unwrap().len(), 1);

    // A newer revision appears while running: it is activated and replaces revision 1.
    publish(tmp.path(), &bundle_path, "acme", 2, &key);
    let source = choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, later, &validator),
    )
    .unwrap();
    assert_eq!(pinned_bundle(&source), (2, BundleOrigin::Fresh, None));
    let status = store.status("acme").unwrap();
    assert_eq!(
        (status.revision, status.activated_at, status.last_error),
        (Some(2), Some(later), None)
    );
    assert!(data_dir.join("policy-bundles/acme/rev-2").is_dir());
    assert!(
        !data_dir.join("policy-bundles/acme/rev-1").exists(),
        "older revision cleaned up"
    );

    // Someone puts revision 1 back: refused as a rollback; revision 2 stays active.
    publish(tmp.path(), &bundle_path, "acme", 1, &key);
    let source = choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, later, &validator),
    )
    .unwrap();
    let (revision, origin, refused) = pinned_bundle(&source);
    assert_eq!((revision, origin), (2, BundleOrigin::LastKnownGood));
    let refused = refused.unwrap();
    assert!(
        refused.contains("rollback")
            && refused.contains("revision 1")
            && refused.contains("revision 2"),
        "{refused}"
    );
    let status = store.status("acme").unwrap();
    assert_eq!(status.revision, Some(2));
    assert_eq!(status.last_error.as_deref(), Some(refused.as_str()));
}

#[test]
fn tampered_unsigned_expired_wrongly_signed_or_invalid_bundles_leave_the_last_known_good_active() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let store = BundleStore::new(&tmp.path().join("data"));
    let bundle_path = tmp.path().join("acme.tar");
    let pin = write_pin(tmp.path(), &key, "acme", &bundle_path, json!({}));
    let validator = FakeValidator {
        refuse_marker: Some(b"\"revision\":3".to_vec()),
        ..FakeValidator::default()
    };
    publish(tmp.path(), &bundle_path, "acme", 1, &key);
    load_pinned(&pin, &store, now(), &validator).fresh.unwrap();

    // Each bad bundle: (what, expected text in the refusal).
    let mut tampered = signed_bundle(tmp.path(), &template("acme", 2), &key);
    tampered
        .replace("policy.wasm", b"tampered component".to_vec())
        .unwrap();
    let wrong_key = signed_bundle(tmp.path(), &template("acme", 2), &new_key());
    let invalid = signed_bundle(tmp.path(), &template("acme", 3), &key);
    let other_name = signed_bundle(tmp.path(), &template("other", 4), &key);
    let unsigned = mcpproxy::policy::bundle::pack_dir(
        &write_source(
            &tmp.path().join("unsigned"),
            &template("acme", 5),
            b"component",
        ),
        now(),
    )
    .unwrap();
    let mut expiring = template("acme", 6);
    expiring["expires"] = json!("2026-05-01T00:00:00Z");
    let expired = signed_bundle(tmp.path(), &expiring, &key);
    for (bundle, want) in [
        (tampered, "policy.wasm"),
        (wrong_key, "not a trusted key"),
        (invalid, "failed validation"),
        (other_name, "the pin requires acme"),
        (unsigned, "manifest.json.minisig"),
        (expired, "2026-05-01T00:00:00Z"),
    ] {
        std::fs::write(&bundle_path, bundle.to_tar().unwrap()).unwrap();
        let loaded = load_pinned(&pin, &store, now(), &validator);
        let source = choose_policy(Some(&pin), None, None, loaded).unwrap();
        let (revision, origin, refused) = pinned_bundle(&source);
        assert_eq!(
            (revision, origin),
            (1, BundleOrigin::LastKnownGood),
            "{want}"
        );
        assert!(
            refused.as_deref().unwrap_or_default().contains(want),
            "{refused:?} lacks {want}"
        );
        let status = store.status("acme").unwrap();
        assert_eq!(status.revision, Some(1));
        assert!(status.last_error.unwrap().contains(want));
    }
}

#[test]
fn smoke_tests_run_before_activation_and_a_failure_refuses_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let store = BundleStore::new(&tmp.path().join("data"));
    let src = tmp.path().join("src");
    let mut manifest = template("acme", 1);
    manifest["smoke_tests"] = json!("smoke.json");
    write_source(&src, &manifest, b"component");
    std::fs::write(src.join("smoke.json"), br#"{"events": []}"#).unwrap();
    let mut bundle = mcpproxy::policy::bundle::pack_dir(&src, now()).unwrap();
    mcpproxy::policy::bundle::sign(&mut bundle, &key).unwrap();
    let bundle_path = tmp.path().join("acme.tar");
    std::fs::write(&bundle_path, bundle.to_tar().unwrap()).unwrap();
    let pin = write_pin(tmp.path(), &key, "acme", &bundle_path, json!({}));

    let failing = FakeValidator {
        fail_smoke_tests: true,
        ..FakeValidator::default()
    };
    let refused = load_pinned(&pin, &store, now(), &failing)
        .fresh
        .unwrap_err();
    assert!(
        refused.contains("smoke.json") && refused.contains("first failure"),
        "{refused}"
    );
    assert_eq!(store.status("acme").unwrap().revision, None);

    let passing = FakeValidator::default();
    load_pinned(&pin, &store, now(), &passing).fresh.unwrap();
    assert_eq!(
        passing.smoke_runs.lock().unwrap().as_slice(),
        &[br#"{"events": []}"#.to_vec()]
    );
    assert_eq!(store.status("acme").unwrap().revision, Some(1));
}

#[test]
fn a_pin_refuses_a_user_policy_path_and_settings_naming_the_pin_file() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let store = BundleStore::new(&tmp.path().join("data"));
    let bundle_path = tmp.path().join("acme.tar");
    publish(tmp.path(), &bundle_path, "acme", 1, &key);
    let pin = write_pin(tmp.path(), &key, "acme", &bundle_path, json!({}));
    let validator = FakeValidator::default();

    let user_policy = tmp.path().join("my-policy.wasm");
    let err = choose_policy(
        Some(&pin),
        Some(&user_policy),
        None,
        load_pinned(&pin, &store, now(), &validator),
    )
    .unwrap_err();
    assert!(matches!(err, PinError::UserPolicyRefused { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&pin.path.display().to_string()) && text.contains("my-policy.wasm"),
        "{text}"
    );

    let settings = json!({"max_failures": 100});
    let err = choose_policy(
        Some(&pin),
        None,
        Some(&settings),
        load_pinned(&pin, &store, now(), &validator),
    )
    .unwrap_err();
    assert!(err.to_string().contains("policy-pin.json"), "{err}");

    // Without a pin the user's policy is used.
    let no_pin = PinnedCandidates {
        fresh: Err("no pin".into()),
        last_known_good: None,
        last_known_good_error: None,
    };
    match choose_policy(None, Some(&user_policy), None, no_pin).unwrap() {
        PolicyChoice::UserPolicy(p) => assert_eq!(p, user_policy),
        other => panic!("expected the user policy, got {other:?}"),
    }
}

#[test]
fn require_bundle_with_nothing_valid_refuses_to_start_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let store = BundleStore::new(&tmp.path().join("data"));
    let bundle_path = tmp.path().join("acme.tar");
    let validator = FakeValidator::default();

    // No bundle at all.
    let pin = write_pin(
        tmp.path(),
        &key,
        "acme",
        &bundle_path,
        json!({"require_bundle": true}),
    );
    let err = choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, now(), &validator),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("refusing to start:"), "{text}");
    assert!(
        text.contains("policy-pin.json") && text.contains("acme.tar"),
        "{text}"
    );

    // A bundle signed by an untrusted key.
    publish(tmp.path(), &bundle_path, "acme", 1, &new_key());
    let err = choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, now(), &validator),
    )
    .unwrap_err();
    assert!(matches!(err, PinError::RefusingToStart { .. }), "{err}");
    assert!(err.to_string().contains("not a trusted key"), "{err}");

    // Without require_bundle the daemon runs the embedded default and says why.
    let pin = write_pin(
        tmp.path(),
        &key,
        "acme",
        &bundle_path,
        json!({"require_bundle": false}),
    );
    match choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, now(), &validator),
    )
    .unwrap()
    {
        PolicyChoice::PinnedEmbedded { refused, .. } => {
            assert!(refused.contains("not a trusted key"), "{refused}")
        }
        other => panic!("expected the embedded default, got {other:?}"),
    }
}

#[test]
fn a_pinned_manifest_hash_and_min_revision_are_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let store = BundleStore::new(&tmp.path().join("data"));
    let bundle_path = tmp.path().join("acme.tar");
    let validator = FakeValidator::default();
    publish(tmp.path(), &bundle_path, "acme", 2, &key);

    let pin = write_pin(
        tmp.path(),
        &key,
        "acme",
        &bundle_path,
        json!({"min_revision": 3, "require_bundle": true}),
    );
    let err = choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, now(), &validator),
    )
    .unwrap_err();
    assert!(err.to_string().contains("min_revision 3"), "{err}");

    let pin = write_pin(
        tmp.path(),
        &key,
        "acme",
        &bundle_path,
        json!({"manifest_sha256": "ab".repeat(32), "require_bundle": true}),
    );
    let err = choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, now(), &validator),
    )
    .unwrap_err();
    assert!(err.to_string().contains(&"ab".repeat(32)), "{err}");
    assert_eq!(
        store.status("acme").unwrap().revision,
        None,
        "nothing activated"
    );
}

#[test]
fn pin_files_are_found_checked_and_fail_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    assert_eq!(pin_path(None), Path::new(pin::DEFAULT_PIN_PATH));
    assert_eq!(
        pin_path(Some("/x/pin.json".into())),
        Path::new("/x/pin.json")
    );
    assert!(
        pin::load_from(&tmp.path().join("absent.json"))
            .unwrap()
            .is_none()
    );

    // A relative bundle path is relative to the pin file; the full .pub text is accepted too.
    let path = tmp.path().join("pin.json");
    let public = mcpproxy::policy::bundle::keygen().unwrap().public_key;
    std::fs::write(&path, json!({"trusted_keys": [public, key.trusted().to_base64()], "name": "acme", "bundle_path": "b.tar"}).to_string()).unwrap();
    let pin = pin::load_from(&path).unwrap().unwrap();
    assert_eq!(pin.bundle_path, tmp.path().join("b.tar"));
    assert_eq!(pin.trusted_keys.len(), 2);
    assert!(!pin.require_bundle);

    for (body, want) in [
        (
            json!({"trusted_keys": [], "name": "acme", "bundle_path": "b"}),
            "trusted_keys is empty",
        ),
        (
            json!({"trusted_keys": ["garbage"], "name": "acme", "bundle_path": "b"}),
            "trusted_keys[0]",
        ),
        (
            json!({"trusted_keys": [key.trusted().to_base64()], "name": "../x", "bundle_path": "b"}),
            "name",
        ),
        (
            json!({"trusted_keys": [key.trusted().to_base64()], "name": "acme"}),
            "bundle_path",
        ),
        (
            json!({"trusted_keys": [key.trusted().to_base64()], "name": "acme", "bundle_path": "b", "manifest_sha256": "zz"}),
            "manifest_sha256",
        ),
        (
            json!({"trusted_keys": [key.trusted().to_base64()], "name": "acme", "bundle_path": "b", "require_bundel": true}),
            "require_bundel",
        ),
    ] {
        std::fs::write(&path, body.to_string()).unwrap();
        let err = pin::load_from(&path).unwrap_err().to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains(want),
            "{err} lacks {want}"
        );
    }
}

#[test]
fn a_tampered_last_known_good_on_disk_is_not_used() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let data_dir = tmp.path().join("data");
    let store = BundleStore::new(&data_dir);
    let bundle_path = tmp.path().join("acme.tar");
    let pin = write_pin(
        tmp.path(),
        &key,
        "acme",
        &bundle_path,
        json!({"require_bundle": true}),
    );
    let validator = FakeValidator::default();
    publish(tmp.path(), &bundle_path, "acme", 1, &key);
    load_pinned(&pin, &store, now(), &validator).fresh.unwrap();
    assert!(
        store
            .load_last_known_good("acme", &pin.trusted_keys, now())
            .unwrap()
            .is_some()
    );

    std::fs::write(
        data_dir.join("policy-bundles/acme/rev-1/policy.wasm"),
        b"swapped on disk",
    )
    .unwrap();
    std::fs::remove_file(&bundle_path).unwrap();
    assert!(
        store
            .load_last_known_good("acme", &pin.trusted_keys, now())
            .is_err()
    );
    let err = choose_policy(
        Some(&pin),
        None,
        None,
        load_pinned(&pin, &store, now(), &validator),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("refusing to start:"), "{text}");
    assert!(
        text.contains("last-known-good was refused too") && text.contains("policy.wasm"),
        "{text}"
    );
}

#[test]
fn a_tar_made_by_the_system_tar_tool_is_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key();
    let dir = tmp.path().join("bundle");
    std::fs::create_dir(&dir).unwrap();
    signed_bundle(tmp.path(), &template("acme", 1), &key)
        .write_dir(&dir)
        .unwrap();
    for format in ["gnu", "pax", "ustar"] {
        let tar = tmp.path().join(format!("acme-{format}.tar"));
        let status = std::process::Command::new("tar")
            .arg(format!("--format={format}"))
            .arg("-C")
            .arg(&dir)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(status.success());
        let bundle = mcpproxy::policy::bundle::Bundle::open(&tar).unwrap();
        mcpproxy::policy::bundle::verify(bundle, &[key.trusted()], now(), None)
            .unwrap_or_else(|e| panic!("{format} tar: {e}"));
    }
}
