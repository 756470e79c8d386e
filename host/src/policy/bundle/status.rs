//! What `status` shows about the policy bundle: name, revision, manifest sha256, signing key
//! id, activation time, and the last refusal. Plain serde data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::BundleState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleStatus {
    pub name: String,
    /// `None` until a bundle of this name was activated.
    pub revision: Option<u64>,
    pub manifest_sha256: Option<String>,
    pub key_id: Option<String>,
    pub activated_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

impl BundleStatus {
    pub fn from_state(name: &str, state: &BundleState) -> BundleStatus {
        let active = state.active.as_ref();
        BundleStatus {
            name: name.to_string(),
            revision: active.map(|a| a.revision),
            manifest_sha256: active.map(|a| a.manifest_sha256.clone()),
            key_id: active.map(|a| a.key_id.clone()),
            activated_at: active.map(|a| a.activated_at),
            last_error: state.last_error.clone(),
            last_error_at: state.last_error_at,
        }
    }
}
