//! The bundle manifest (`manifest.json`): its fields, parsing with every check that needs no
//! other file, and its canonical bytes. Pure: never touches the file system.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::BundleError;
use super::world::parse_world;
use crate::canonical_json::to_canonical_bytes;
use crate::contract::{GivenLimits, Limits, OnFailure};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const SIGNATURE_FILE: &str = "manifest.json.minisig";

/// `manifest.json`, as signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// Strictly increasing per bundle name; a lower or equal one is a rollback.
    pub revision: u64,
    /// RFC 3339.
    pub created: String,
    /// RFC 3339; after it the bundle is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The WIT world the components target, e.g. `mcpproxy:policy/policy@0.1.0`.
    pub world: String,
    pub files: Vec<FileEntry>,
    pub hooks: Hooks,
    #[serde(default = "empty_object")]
    pub settings: Value,
    pub deadline_ms: u64,
    pub memory_limit_mib: u64,
    pub on_failure: OnFailure,
    /// A file of the bundle holding smoke tests the validator runs before activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke_tests: Option<String>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// One file of the bundle besides the manifest and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// The component file that serves each decision (usually the same file for all three).
pub type Hooks = crate::policy::PerHook<String>;
pub use crate::policy::Hook;

impl Manifest {
    /// The per-call limits the bundle's policy runs under (`deadline_ms`, `memory_limit_mib`).
    pub fn limits(&self) -> Limits {
        Limits::DEFAULT.with(GivenLimits {
            deadline_ms: Some(self.deadline_ms),
            memory_limit_mib: Some(self.memory_limit_mib),
        })
    }

    /// Parse and check manifest bytes: canonical form, known fields, safe unique paths, hooks
    /// and smoke tests among the files, times in RFC 3339, a well-formed world, positive limits.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, BundleError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| BundleError::Manifest(format!("not valid JSON: {e}")))?;
        if to_canonical_bytes(&value) != bytes {
            return Err(BundleError::Manifest(
                "not in canonical form (sorted keys, no whitespace); re-pack the bundle".into(),
            ));
        }
        let manifest = Manifest::from_value(value)?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Deserialize a manifest from a JSON value without the canonical-bytes check (for `pack`).
    /// Errors name the offending field's path.
    pub fn from_value(value: Value) -> Result<Manifest, BundleError> {
        serde_path_to_error::deserialize(value).map_err(|e| BundleError::Manifest(e.to_string()))
    }

    /// The canonical bytes of this manifest: what gets signed.
    pub fn to_canonical_bytes(&self) -> Result<Vec<u8>, BundleError> {
        let value = serde_json::to_value(self).map_err(|e| BundleError::Manifest(e.to_string()))?;
        Ok(to_canonical_bytes(&value))
    }

    pub fn created_at(&self) -> Result<DateTime<Utc>, BundleError> {
        parse_time("created", &self.created)
    }

    pub fn expires_at(&self) -> Result<Option<DateTime<Utc>>, BundleError> {
        self.expires
            .as_deref()
            .map(|t| parse_time("expires", t))
            .transpose()
    }

    /// The checks that need nothing but the manifest itself.
    pub fn check(&self) -> Result<(), BundleError> {
        check_name(&self.name)?;
        self.created_at()?;
        self.expires_at()?;
        if parse_world(&self.world).is_none() {
            return Err(BundleError::Manifest(format!(
                "world {:?} is not of the form namespace:package/world@major.minor.patch",
                self.world
            )));
        }
        let mut seen = BTreeSet::new();
        for entry in &self.files {
            check_path(&entry.path)?;
            if entry.path == MANIFEST_FILE || entry.path == SIGNATURE_FILE {
                return Err(BundleError::Manifest(format!(
                    "files must not list {}",
                    entry.path
                )));
            }
            if !seen.insert(entry.path.as_str()) {
                return Err(BundleError::Manifest(format!(
                    "files lists {} twice",
                    entry.path
                )));
            }
            if entry.sha256.len() != 64
                || !entry
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(BundleError::Manifest(format!(
                    "files: sha256 of {} is not 64 lower-case hex digits",
                    entry.path
                )));
            }
        }
        for hook in Hook::IN_MANIFEST {
            let file = self.hooks.get(hook);
            if !seen.contains(file.as_str()) {
                return Err(BundleError::Manifest(format!(
                    "hooks.{}: {file} is not among the listed files",
                    hook.field()
                )));
            }
        }
        if let Some(smoke) = &self.smoke_tests
            && !seen.contains(smoke.as_str())
        {
            return Err(BundleError::Manifest(format!(
                "smoke_tests: {smoke} is not among the listed files"
            )));
        }
        if !self.settings.is_object() {
            return Err(BundleError::Manifest(
                "settings must be a JSON object".into(),
            ));
        }
        if self.deadline_ms == 0 {
            return Err(BundleError::Manifest("deadline_ms must be positive".into()));
        }
        if self.memory_limit_mib == 0 {
            return Err(BundleError::Manifest(
                "memory_limit_mib must be positive".into(),
            ));
        }
        Ok(())
    }
}

fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, BundleError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            BundleError::Manifest(format!("{field}: {text:?} is not an RFC 3339 time: {e}"))
        })
}

/// Bundle names become directory names in the data dir: keep them plain.
pub fn check_name(name: &str) -> Result<(), BundleError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(BundleError::Manifest(format!(
            "name {name:?} must be 1-128 characters of A-Z a-z 0-9 . _ - and not start with '.'"
        )))
    }
}

/// A file path inside a bundle: relative, '/'-separated, no empty, '.' or '..' components.
pub fn check_path(path: &str) -> Result<(), BundleError> {
    let ok = !path.is_empty()
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if ok {
        Ok(())
    } else {
        Err(BundleError::UnsafePath(path.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "name": "acme-policy",
            "revision": 3,
            "created": "2026-01-01T00:00:00Z",
            "world": "mcpproxy:policy/policy@0.1.0",
            "files": [{"path": "policy.wasm", "size": 4, "sha256": "a".repeat(64)}],
            "hooks": {"should_disable": "policy.wasm", "backoff": "policy.wasm", "filter_reload": "policy.wasm"},
            "settings": {"max_failures": 2},
            "deadline_ms": 10,
            "memory_limit_mib": 16,
            "on_failure": "fallback-to-default"
        })
    }

    fn parse_value(v: &Value) -> Result<Manifest, BundleError> {
        Manifest::parse(&to_canonical_bytes(v))
    }

    #[test]
    fn a_good_manifest_parses_and_round_trips_to_the_same_bytes() {
        let bytes = to_canonical_bytes(&sample());
        let m = Manifest::parse(&bytes).unwrap();
        assert_eq!(m.revision, 3);
        assert_eq!(m.on_failure, OnFailure::FallbackToDefault);
        assert_eq!(m.to_canonical_bytes().unwrap(), bytes);
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        let pretty = serde_json::to_vec_pretty(&sample()).unwrap();
        let err = Manifest::parse(&pretty).unwrap_err().to_string();
        assert!(err.contains("canonical"), "{err}");
    }

    #[test]
    fn bad_manifests_are_refused_naming_the_field() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("name", json!("../etc"), "name"),
            ("name", json!(".hidden"), "name"),
            ("created", json!("yesterday"), "created"),
            ("expires", json!("2026-13-01T00:00:00Z"), "expires"),
            ("world", json!("policy"), "world"),
            (
                "files",
                json!([{"path": "../x.wasm", "size": 1, "sha256": "a".repeat(64)}]),
                "unsafe file path",
            ),
            (
                "files",
                json!([{"path": "policy.wasm", "size": 1, "sha256": "XYZ"}]),
                "sha256",
            ),
            (
                "files",
                json!([{"path": "manifest.json", "size": 1, "sha256": "a".repeat(64)}]),
                "must not list",
            ),
            (
                "hooks",
                json!({"should_disable": "policy.wasm", "backoff": "other.wasm", "filter_reload": "policy.wasm"}),
                "hooks.backoff",
            ),
            ("smoke_tests", json!("smoke.json"), "smoke_tests"),
            ("settings", json!([1]), "settings"),
            ("deadline_ms", json!(0), "deadline_ms"),
            ("memory_limit_mib", json!(0), "memory_limit_mib"),
            ("on_failure", json!("explode"), "on_failure"),
            ("surprise", json!(1), "surprise"),
        ];
        for (field, value, want) in cases {
            let mut v = sample();
            v[field] = value;
            let err = parse_value(&v).unwrap_err().to_string();
            assert!(err.contains(want), "{field}: {err}");
        }
    }

    #[test]
    fn duplicate_file_entries_are_refused() {
        let mut v = sample();
        let entry = v["files"][0].clone();
        v["files"] = json!([entry.clone(), entry]);
        assert!(parse_value(&v).unwrap_err().to_string().contains("twice"));
    }
}
