//! Authoring operations on bundle bytes: `pack` a source directory (its `manifest.json`
//! template gets the file list, a creation time and the world filled in, and is written in
//! canonical form), `sign` a packed bundle, and `describe` one for humans.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::archive::Bundle;
use super::error::BundleError;
use super::keys::SigningKey;
use super::manifest::{Hook, MANIFEST_FILE, Manifest, SIGNATURE_FILE};
use super::signing::{SignatureInfo, read_signature, sign_manifest};
use super::world::HOST_WORLD;
use crate::policy::sha256_hex;

/// Pack `dir` into an unsigned bundle, as a deterministic tar.
pub fn pack(dir: &Path) -> Result<Vec<u8>, BundleError> {
    pack_dir(dir, Utc::now())?.to_tar()
}

/// Pack `dir`: every file but `manifest.json` (and a stale signature, which is dropped) is
/// listed with its size and sha256; `created` defaults to `now`, `world` to the host's.
pub fn pack_dir(dir: &Path, now: DateTime<Utc>) -> Result<Bundle, BundleError> {
    let mut bundle = Bundle::from_dir(dir)?;
    bundle.remove(SIGNATURE_FILE);
    let template = bundle
        .remove(MANIFEST_FILE)
        .ok_or(BundleError::MissingPart(MANIFEST_FILE))?;
    let mut value: Value = serde_json::from_slice(&template).map_err(|e| {
        BundleError::Manifest(format!(
            "{}: not valid JSON: {e}",
            dir.join(MANIFEST_FILE).display()
        ))
    })?;
    let Some(fields) = value.as_object_mut() else {
        return Err(BundleError::Manifest("must be a JSON object".into()));
    };
    let files: Vec<Value> = bundle
        .payload_paths()
        .map(|path| {
            let data = bundle.get(path).unwrap_or_default();
            json!({"path": path, "size": data.len(), "sha256": sha256_hex(data)})
        })
        .collect();
    fields.insert("files".into(), Value::Array(files));
    fields
        .entry("created")
        .or_insert_with(|| Value::String(now.to_rfc3339_opts(SecondsFormat::Secs, true)));
    fields
        .entry("world")
        .or_insert_with(|| Value::String(HOST_WORLD.into()));
    let manifest = Manifest::from_value(value)?;
    manifest.check()?;
    bundle.insert(MANIFEST_FILE, manifest.to_canonical_bytes()?)?;
    Ok(bundle)
}

/// Sign the bundle's manifest with `key`, adding (or replacing) `manifest.json.minisig`.
/// The manifest must be valid: nobody should sign what cannot be activated.
pub fn sign(bundle: &mut Bundle, key: &SigningKey) -> Result<SignatureInfo, BundleError> {
    let manifest_bytes = bundle.manifest_bytes()?.to_vec();
    let manifest = Manifest::parse(&manifest_bytes)?;
    let comment = format!(
        "timestamp:{} bundle:{} revision:{}",
        Utc::now().timestamp(),
        manifest.name,
        manifest.revision
    );
    let signature = sign_manifest(&manifest_bytes, key, &comment)?;
    bundle.replace(SIGNATURE_FILE, signature.into_bytes())?;
    Ok(SignatureInfo {
        key_id: key.id().to_string(),
        trusted_comment: comment,
    })
}

/// A human description of a bundle, without verifying its signature (use `verify` for that):
/// the manifest's fields, the claimed signer, and each file's state against the manifest.
pub fn describe(bundle: &Bundle) -> String {
    let mut out = String::new();
    let manifest_bytes = match bundle.manifest_bytes() {
        Ok(bytes) => bytes,
        Err(e) => return format!("not a bundle: {e}\n"),
    };
    let _ = writeln!(out, "manifest sha256: {}", sha256_hex(manifest_bytes));
    match bundle.signature_text().and_then(read_signature) {
        Ok(sig) => {
            let _ = writeln!(
                out,
                "signature:       key {} (NOT verified here; run verify)",
                sig.key_id
            );
            let _ = writeln!(out, "trusted comment: {}", sig.trusted_comment);
        }
        Err(e) => {
            let _ = writeln!(out, "signature:       {e}");
        }
    }
    let manifest = match Manifest::parse(manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            let _ = writeln!(out, "{e}");
            return out;
        }
    };
    let _ = writeln!(out, "name:            {}", manifest.name);
    let _ = writeln!(out, "revision:        {}", manifest.revision);
    let _ = writeln!(out, "created:         {}", manifest.created);
    let _ = writeln!(
        out,
        "expires:         {}",
        manifest.expires.as_deref().unwrap_or("never")
    );
    let _ = writeln!(out, "world:           {}", manifest.world);
    let _ = writeln!(out, "deadline:        {} ms", manifest.deadline_ms);
    let _ = writeln!(out, "memory limit:    {} MiB", manifest.memory_limit_mib);
    let on_failure = serde_json::to_value(manifest.on_failure).unwrap_or_default();
    let _ = writeln!(
        out,
        "on failure:      {}",
        on_failure.as_str().unwrap_or("?")
    );
    for hook in Hook::IN_MANIFEST {
        let _ = writeln!(
            out,
            "hook {:<15} {}",
            format!("{}:", hook.field()),
            manifest.hooks.get(hook)
        );
    }
    let _ = writeln!(
        out,
        "smoke tests:     {}",
        manifest.smoke_tests.as_deref().unwrap_or("none")
    );
    let _ = writeln!(out, "settings:        {}", manifest.settings);
    let _ = writeln!(out, "files:");
    for entry in &manifest.files {
        let state = match bundle.get(&entry.path) {
            None => "MISSING",
            Some(data) if data.len() as u64 != entry.size => "SIZE MISMATCH",
            Some(data) if sha256_hex(data) != entry.sha256 => "SHA256 MISMATCH",
            Some(_) => "ok",
        };
        let _ = writeln!(
            out,
            "  {}  {} bytes  {}  {}",
            entry.path, entry.size, entry.sha256, state
        );
    }
    for path in bundle.payload_paths() {
        if !manifest.files.iter().any(|f| f.path == path) {
            let _ = writeln!(out, "  {path}  NOT LISTED in manifest.json");
        }
    }
    out
}
