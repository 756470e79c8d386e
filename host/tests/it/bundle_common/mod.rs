//! Shared support for the policy-bundle tests: source directories with a manifest template,
//! packed and signed bundles, and a fake `BundleValidator` that records what it was asked.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mcpproxy::contract::Limits;
use mcpproxy::policy::bundle::{
    Bundle, BundleValidator, SigningKey, VerifiedBundle, keygen, pack_dir, sign,
};
use serde_json::{Value, json};

/// A fixed "now" for verification, after every `created` below and before every `expires`
/// that is meant to be in the future.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

pub fn new_key() -> SigningKey {
    SigningKey::parse(&keygen().expect("keygen").secret_key, None, "test key").expect("parse key")
}

/// The manifest template an author would write (no `files`: `pack` fills them in).
pub fn template(name: &str, revision: u64) -> Value {
    json!({
        "name": name,
        "revision": revision,
        "created": "2026-01-01T00:00:00Z",
        "world": "mcpproxy:policy/policy@0.1.0",
        "hooks": {"should_disable": "policy.wasm", "backoff": "policy.wasm", "filter_reload": "policy.wasm"},
        "settings": {"max_failures": 2},
        "deadline_ms": 10,
        "memory_limit_mib": 16,
        "on_failure": "fallback-to-default"
    })
}

/// Write a bundle source directory: `manifest.json` from `manifest` and a fake component.
pub fn write_source(dir: &Path, manifest: &Value, component: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(manifest).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("policy.wasm"), component).unwrap();
    dir.to_path_buf()
}

/// A packed, signed bundle of `manifest` with a fake component.
pub fn signed_bundle(root: &Path, manifest: &Value, key: &SigningKey) -> Bundle {
    let name = format!(
        "src-{}-{}",
        manifest["name"].as_str().unwrap_or("x"),
        manifest["revision"]
    );
    let src = write_source(
        &root.join(name),
        manifest,
        format!("component of {manifest}").as_bytes(),
    );
    let mut bundle = pack_dir(&src, now()).expect("pack");
    sign(&mut bundle, key).expect("sign");
    bundle
}

/// Records each `validate` call; refuses components containing `refuse_marker`.
#[derive(Default)]
pub struct FakeValidator {
    pub refuse_marker: Option<Vec<u8>>,
    pub fail_smoke_tests: bool,
    pub calls: Mutex<Vec<(usize, Value, Duration, u64)>>,
    pub smoke_runs: Mutex<Vec<Vec<u8>>>,
}

impl BundleValidator for FakeValidator {
    fn validate(&self, component: &[u8], settings: &Value, limits: Limits) -> Result<(), String> {
        self.calls.lock().unwrap().push((
            component.len(),
            settings.clone(),
            limits.deadline,
            limits.memory_limit_mib(),
        ));
        match &self.refuse_marker {
            Some(marker)
                if component
                    .windows(marker.len())
                    .any(|w| w == marker.as_slice()) =>
            {
                Err("component does not compile: fake validator refused it".into())
            }
            _ => Ok(()),
        }
    }

    fn run_smoke_tests(&self, _bundle: &VerifiedBundle, smoke_tests: &[u8]) -> Result<(), String> {
        self.smoke_runs.lock().unwrap().push(smoke_tests.to_vec());
        if self.fail_smoke_tests {
            Err("smoke test 'first failure' expected keep, got disable".into())
        } else {
            Ok(())
        }
    }
}
