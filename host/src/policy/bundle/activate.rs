//! The I/O edge of bundles: read the pinned bundle, verify it against the pin, validate it
//! with the policy host, activate it in the store, and load the last-known-good. A refused
//! bundle has its error recorded in `state.json` and changes nothing else.

use chrono::{DateTime, Utc};

use super::archive::Bundle;
use super::error::BundleError;
use super::pin::{Pin, PinnedCandidates};
use super::store::BundleStore;
use super::validate::{BundleValidator, validate_bundle};
use super::verify::{VerifiedBundle, verify};
use crate::policy::sha256_hex;

/// Verify `bundle` against the pin, validate it and activate it.
pub fn activate_pinned(
    bundle: Bundle,
    pin: &Pin,
    store: &BundleStore,
    now: DateTime<Utc>,
    validator: &dyn BundleValidator,
) -> Result<VerifiedBundle, BundleError> {
    let last = store.state(&pin.name)?.active.map(|a| a.revision);
    let verified = verify(bundle, &pin.trusted_keys, now, last)?;
    pin.admits(&verified)?;
    validate_bundle(&verified, validator)?;
    store.activate(&verified, now)?;
    Ok(verified)
}

/// Load what the pin allows: the last-known-good, and the bundle at the pin's `bundle_path`
/// (activated if it is new and valid). Call at start and whenever the bundle file changes;
/// then `choose_policy`.
pub fn load_pinned(
    pin: &Pin,
    store: &BundleStore,
    now: DateTime<Utc>,
    validator: &dyn BundleValidator,
) -> PinnedCandidates {
    let (last_known_good, last_known_good_error) =
        match store.load_last_known_good(&pin.name, &pin.trusted_keys, now) {
            Ok(lkg) => (lkg, None),
            Err(e) => (None, Some(e.to_string())),
        };
    let fresh = match Bundle::open(&pin.bundle_path) {
        Err(e) => Err(e),
        Ok(bundle) => {
            let same_as_lkg = match (&last_known_good, bundle.manifest_bytes()) {
                (Some(lkg), Ok(bytes)) => lkg.manifest_sha256() == sha256_hex(bytes),
                _ => false,
            };
            match (&last_known_good, same_as_lkg) {
                // Already active (the usual restart): nothing to activate again.
                (Some(lkg), true) => Ok(lkg.clone()),
                _ => activate_pinned(bundle, pin, store, now, validator),
            }
        }
    };
    let fresh = fresh.map_err(|e| {
        let reason = format!("policy bundle {}: {e}", pin.bundle_path.display());
        // Best effort: the refusal is also returned to the caller.
        let _ = store.record_error(&pin.name, &reason, now);
        reason
    });
    PinnedCandidates {
        fresh,
        last_known_good,
        last_known_good_error,
    }
}
