//! Typed errors of policy-bundle handling. Every message names the bundle, file, field or key it
//! is about, because these errors end up in `status` and in the daemon's refusal to start.

use std::path::PathBuf;

use thiserror::Error;

/// Why a bundle could not be read, packed, signed, verified, validated or activated.
#[derive(Debug, Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid bundle archive: {reason}")]
    Archive { path: String, reason: String },
    #[error("bundle {path}: {reason}")]
    Layout { path: String, reason: String },
    #[error("bundle has no {0}")]
    MissingPart(&'static str),
    #[error(
        "unsafe file path {0:?} in bundle (paths must be relative, '/'-separated, without '.' or '..')"
    )]
    UnsafePath(String),
    #[error("manifest.json: {0}")]
    Manifest(String),
    #[error("manifest.json.minisig: {0}")]
    Signature(String),
    #[error(
        "manifest.json is signed by key {signer}, which is not a trusted key (trusted: {trusted})"
    )]
    UntrustedKey { signer: String, trusted: String },
    #[error("manifest.json: signature by key {key_id} does not verify: {reason}")]
    BadSignature { key_id: String, reason: String },
    #[error("files in the bundle but not listed in manifest.json: {}", .0.join(", "))]
    ExtraFiles(Vec<String>),
    #[error("files listed in manifest.json but missing from the bundle: {}", .0.join(", "))]
    MissingFiles(Vec<String>),
    #[error("{path}: size is {actual} bytes, manifest.json says {expected}")]
    SizeMismatch {
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error("{path}: sha256 is {actual}, manifest.json says {expected}")]
    HashMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("bundle {name} expired at {expires} (now {now})")]
    Expired {
        name: String,
        expires: String,
        now: String,
    },
    #[error(
        "bundle {name} revision {revision} is not newer than the last activated revision {last}: rollback refused"
    )]
    Rollback {
        name: String,
        revision: u64,
        last: u64,
    },
    #[error(
        "bundle {name} targets world {bundle_world}, which this host ({host_world}) cannot run"
    )]
    IncompatibleWorld {
        name: String,
        bundle_world: String,
        host_world: String,
    },
    #[error("bundle {name}: {file} failed validation: {reason}")]
    Validation {
        name: String,
        file: String,
        reason: String,
    },
    #[error("bundle refused by the enterprise pin {pin_file}: {reason}")]
    PinMismatch { pin_file: PathBuf, reason: String },
    #[error("key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("policy bundle store {path}: {reason}")]
    Store { path: PathBuf, reason: String },
}

impl BundleError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BundleError::Io {
            path: path.into(),
            source,
        }
    }
}
