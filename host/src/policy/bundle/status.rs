//! What `status` shows about the policy bundle: name, revision, manifest sha256, signing key
//! id, activation time, and the last refusal. Plain serde data (`BundleState::status` makes it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
