//! The enterprise pin: a system file (default `/etc/mcpproxy/policy-pin.json`, or the path in
//! `MCPPROXY_POLICY_PIN`) naming the trusted keys, the required bundle and where it is. While
//! a pin exists nothing the user configures can replace the pinned bundle. `choose_policy`
//! is the pure decision of which policy runs; reading the pin file is the only I/O here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use super::error::BundleError;
use super::keys::TrustedKey;
use super::manifest::check_name;
use super::verify::VerifiedBundle;

pub const DEFAULT_PIN_PATH: &str = "/etc/mcpproxy/policy-pin.json";
pub const PIN_ENV: &str = "MCPPROXY_POLICY_PIN";

#[derive(Debug, Error)]
pub enum PinError {
    #[error("enterprise pin {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("enterprise pin {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "the enterprise pin {pin_file} requires policy bundle {name}; {what} cannot replace it (remove it from your command line / config)"
    )]
    UserPolicyRefused {
        pin_file: PathBuf,
        name: String,
        what: String,
    },
    #[error(
        "refusing to start: the enterprise pin {pin_file} requires a valid policy bundle {name}, and none is available: {reason}"
    )]
    RefusingToStart {
        pin_file: PathBuf,
        name: String,
        reason: String,
    },
}

/// The pin file's JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinFile {
    /// Minisign public keys: `.pub` file texts or their base64 lines.
    trusted_keys: Vec<String>,
    /// The required bundle name.
    name: String,
    #[serde(default)]
    manifest_sha256: Option<String>,
    #[serde(default)]
    min_revision: Option<u64>,
    #[serde(default)]
    require_bundle: bool,
    /// Directory or `.tar`; relative paths are relative to the pin file's directory.
    bundle_path: PathBuf,
}

/// A loaded, checked pin.
#[derive(Debug, Clone)]
pub struct Pin {
    /// The pin file, named in every error.
    pub path: PathBuf,
    pub trusted_keys: Vec<TrustedKey>,
    pub name: String,
    pub manifest_sha256: Option<String>,
    pub min_revision: Option<u64>,
    pub require_bundle: bool,
    pub bundle_path: PathBuf,
}

/// Where the pin file is: `$MCPPROXY_POLICY_PIN` if set and non-empty, else the default.
pub fn pin_path(env_value: Option<OsString>) -> PathBuf {
    match env_value {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_PIN_PATH),
    }
}

/// Load the pin from its place (see `pin_path`). No file: no pin. A file that cannot be read
/// or is invalid is an error (an enterprise pin fails closed).
pub fn load() -> Result<Option<Pin>, PinError> {
    load_from(&pin_path(std::env::var_os(PIN_ENV)))
}

pub fn load_from(path: &Path) -> Result<Option<Pin>, PinError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PinError::Read {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Parse and check pin file text; `path` is where it came from.
pub fn parse(path: &Path, text: &str) -> Result<Pin, PinError> {
    let invalid = |reason: String| PinError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let file: PinFile =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(|e| invalid(e.to_string()))?;
    if file.trusted_keys.is_empty() {
        return Err(invalid("trusted_keys is empty".into()));
    }
    let trusted_keys = file
        .trusted_keys
        .iter()
        .enumerate()
        .map(|(i, k)| TrustedKey::parse(k, &format!("trusted_keys[{i}]")))
        .collect::<Result<Vec<_>, BundleError>>()
        .map_err(|e| invalid(e.to_string()))?;
    check_name(&file.name).map_err(|e| invalid(e.to_string().replace("manifest.json: ", "")))?;
    let manifest_sha256 = match file.manifest_sha256 {
        Some(sha) if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(sha.to_ascii_lowercase())
        }
        Some(sha) => {
            return Err(invalid(format!(
                "manifest_sha256 {sha:?} is not 64 hex digits"
            )));
        }
        None => None,
    };
    let bundle_path = if file.bundle_path.is_absolute() {
        file.bundle_path
    } else {
        path.parent()
            .unwrap_or(Path::new("."))
            .join(file.bundle_path)
    };
    Ok(Pin {
        path: path.to_path_buf(),
        trusted_keys,
        name: file.name,
        manifest_sha256,
        min_revision: file.min_revision,
        require_bundle: file.require_bundle,
        bundle_path,
    })
}

impl Pin {
    /// Does the pin accept this (already verified) bundle? Name, exact manifest, minimum revision.
    pub fn admits(&self, bundle: &VerifiedBundle) -> Result<(), BundleError> {
        let refuse = |reason: String| BundleError::PinMismatch {
            pin_file: self.path.clone(),
            reason,
        };
        let manifest = bundle.manifest();
        if manifest.name != self.name {
            return Err(refuse(format!(
                "bundle is named {}, the pin requires {}",
                manifest.name, self.name
            )));
        }
        if let Some(sha) = &self.manifest_sha256
            && bundle.manifest_sha256() != sha
        {
            return Err(refuse(format!(
                "manifest sha256 is {}, the pin requires {sha}",
                bundle.manifest_sha256()
            )));
        }
        if let Some(min) = self.min_revision
            && manifest.revision < min
        {
            return Err(refuse(format!(
                "revision {} is below the pin's min_revision {min}",
                manifest.revision
            )));
        }
        Ok(())
    }
}

/// The pinned bundle candidates, as loaded by `activate::load_pinned`.
#[derive(Debug, Clone)]
pub struct PinnedCandidates {
    /// The bundle at the pin's `bundle_path`, verified, validated and activated; or why not.
    pub fresh: Result<VerifiedBundle, String>,
    /// The last-known-good from the activation store, verified again.
    pub last_known_good: Option<VerifiedBundle>,
    /// Why a stored last-known-good could not be used, if there was one.
    pub last_known_good_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleOrigin {
    /// The bundle at the pin's `bundle_path` (just activated, or identical to the last-known-good).
    Fresh,
    /// The stored last-known-good, because the fresh one was refused or absent.
    LastKnownGood,
}

/// Which policy the daemon runs.
#[derive(Debug, Clone)]
pub enum PolicyChoice {
    /// No pin and no user policy: the embedded default.
    Embedded,
    /// No pin: the user's `--policy` / `policy.path`.
    UserPolicy(PathBuf),
    /// The pinned bundle. `refused` says why a fresh bundle was not used, if it was not.
    PinnedBundle {
        bundle: Box<VerifiedBundle>,
        origin: BundleOrigin,
        refused: Option<String>,
    },
    /// A pin without `require_bundle` and no valid bundle: the embedded default, and why.
    PinnedEmbedded { pin_file: PathBuf, refused: String },
}

/// Decide which policy runs. While a pin exists the user's policy path and settings are refused
/// (the error names the pin file); a valid fresh bundle wins, else the last-known-good, else
/// (with `require_bundle`) "refusing to start", else the embedded default.
pub fn choose_policy(
    pin: Option<&Pin>,
    user_policy: Option<&Path>,
    user_settings: Option<&Value>,
    candidates: PinnedCandidates,
) -> Result<PolicyChoice, PinError> {
    let Some(pin) = pin else {
        return Ok(match user_policy {
            Some(path) => PolicyChoice::UserPolicy(path.to_path_buf()),
            None => PolicyChoice::Embedded,
        });
    };
    let user_override = match (user_policy, user_settings) {
        (Some(path), _) => Some(format!("the user policy {}", path.display())),
        (None, Some(settings)) if !is_empty_settings(settings) => {
            Some("user policy settings".to_string())
        }
        _ => None,
    };
    if let Some(what) = user_override {
        return Err(PinError::UserPolicyRefused {
            pin_file: pin.path.clone(),
            name: pin.name.clone(),
            what,
        });
    }
    let refused = match candidates.fresh {
        Ok(bundle) => match pin.admits(&bundle) {
            Ok(()) => {
                return Ok(PolicyChoice::PinnedBundle {
                    bundle: Box::new(bundle),
                    origin: BundleOrigin::Fresh,
                    refused: None,
                });
            }
            Err(e) => e.to_string(),
        },
        Err(reason) => reason,
    };
    if let Some(lkg) = candidates.last_known_good
        && pin.admits(&lkg).is_ok()
    {
        return Ok(PolicyChoice::PinnedBundle {
            bundle: Box::new(lkg),
            origin: BundleOrigin::LastKnownGood,
            refused: Some(refused),
        });
    }
    let refused = match candidates.last_known_good_error {
        Some(lkg_error) => format!("{refused}; the last-known-good was refused too: {lkg_error}"),
        None => refused,
    };
    if pin.require_bundle {
        return Err(PinError::RefusingToStart {
            pin_file: pin.path.clone(),
            name: pin.name.clone(),
            reason: refused,
        });
    }
    Ok(PolicyChoice::PinnedEmbedded {
        pin_file: pin.path.clone(),
        refused,
    })
}

fn is_empty_settings(settings: &Value) -> bool {
    match settings {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}
