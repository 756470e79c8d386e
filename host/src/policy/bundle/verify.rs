//! Bundle verification, in a fixed order so the first failure is the one reported: signature
//! over the exact manifest bytes by a trusted key; the file set equals the manifest's list;
//! every size and sha256 matches; not expired; revision newer than the last activated one;
//! world compatible. Pure: bytes and `now` in, a `VerifiedBundle` or the reason out.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};

use super::archive::Bundle;
use super::error::BundleError;
use super::keys::TrustedKey;
use super::manifest::{Hook, Manifest};
use super::signing::verify_manifest_signature;
use super::world::{HOST_WORLDS, parse_world, world_compatible};
use crate::policy::sha256_hex;

/// A bundle that passed every check of `verify`. Only `verify` makes one.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    manifest: Manifest,
    manifest_sha256: String,
    key_id: String,
    bundle: Bundle,
}

impl VerifiedBundle {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// sha256 of the exact manifest bytes (what a pin's `manifest_sha256` names).
    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }

    /// The id of the trusted key that signed it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The component bytes serving `hook`.
    pub fn component(&self, hook: Hook) -> &[u8] {
        // `verify` checked that every hook file is present.
        self.bundle
            .get(self.manifest.hooks.get(hook))
            .unwrap_or_default()
    }

    pub fn smoke_tests(&self) -> Option<&[u8]> {
        self.manifest
            .smoke_tests
            .as_deref()
            .and_then(|p| self.bundle.get(p))
    }
}

/// Verify `bundle` against `trusted` keys at time `now`. `last_revision` is the last activated
/// revision of this bundle name, if any: the bundle's must be strictly greater.
pub fn verify(
    bundle: Bundle,
    trusted: &[TrustedKey],
    now: DateTime<Utc>,
    last_revision: Option<u64>,
) -> Result<VerifiedBundle, BundleError> {
    let manifest_bytes = bundle.manifest_bytes()?;
    let signature = verify_manifest_signature(manifest_bytes, bundle.signature_text()?, trusted)?;
    let manifest = Manifest::parse(manifest_bytes)?;
    let manifest_sha256 = sha256_hex(manifest_bytes);

    check_file_set(&bundle, &manifest)?;
    check_contents(&bundle, &manifest)?;

    if let Some(expires) = manifest.expires_at()?
        && now >= expires
    {
        return Err(BundleError::Expired {
            name: manifest.name.clone(),
            expires: expires.to_rfc3339_opts(SecondsFormat::Secs, true),
            now: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        });
    }
    if let Some(last) = last_revision
        && manifest.revision <= last
    {
        return Err(BundleError::Rollback {
            name: manifest.name.clone(),
            revision: manifest.revision,
            last,
        });
    }
    check_world(&manifest)?;

    Ok(VerifiedBundle {
        manifest,
        manifest_sha256,
        key_id: signature.key_id,
        bundle,
    })
}

fn check_file_set(bundle: &Bundle, manifest: &Manifest) -> Result<(), BundleError> {
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    let present: BTreeSet<&str> = bundle.payload_paths().collect();
    let extra: Vec<String> = present.difference(&listed).map(|s| s.to_string()).collect();
    if !extra.is_empty() {
        return Err(BundleError::ExtraFiles(extra));
    }
    let missing: Vec<String> = listed.difference(&present).map(|s| s.to_string()).collect();
    if !missing.is_empty() {
        return Err(BundleError::MissingFiles(missing));
    }
    Ok(())
}

fn check_contents(bundle: &Bundle, manifest: &Manifest) -> Result<(), BundleError> {
    for entry in &manifest.files {
        let data = bundle.get(&entry.path).unwrap_or_default();
        if data.len() as u64 != entry.size {
            return Err(BundleError::SizeMismatch {
                path: entry.path.clone(),
                expected: entry.size,
                actual: data.len() as u64,
            });
        }
        let actual = sha256_hex(data);
        if actual != entry.sha256 {
            return Err(BundleError::HashMismatch {
                path: entry.path.clone(),
                expected: entry.sha256.clone(),
                actual,
            });
        }
    }
    Ok(())
}

fn check_world(manifest: &Manifest) -> Result<(), BundleError> {
    let incompatible = || BundleError::IncompatibleWorld {
        name: manifest.name.clone(),
        bundle_world: manifest.world.clone(),
        host_world: HOST_WORLDS.join(" or "),
    };
    let bundle_world = parse_world(&manifest.world).ok_or_else(incompatible)?;
    let runs = HOST_WORLDS
        .iter()
        .filter_map(|w| parse_world(w))
        .any(|host| world_compatible(&bundle_world, &host));
    if runs { Ok(()) } else { Err(incompatible()) }
}
