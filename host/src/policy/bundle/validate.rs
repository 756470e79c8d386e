//! The last gate before activation: the policy host itself checks the bundle's components
//! (compile, `configure` with the bundle's settings under its limits, smoke tests). The bundle
//! module does not know the policy host, so the daemon supplies it as a `BundleValidator`.

use serde_json::Value;

use super::error::BundleError;
use super::verify::VerifiedBundle;
use crate::contract::Limits;

/// Implemented by the daemon with the real policy host.
pub trait BundleValidator {
    /// Compile `component` and `configure` it with `settings`, under the bundle's per-call
    /// `limits`. `Err` says why it cannot be used.
    fn validate(&self, component: &[u8], settings: &Value, limits: Limits) -> Result<(), String>;

    /// Run the bundle's smoke tests (the manifest's `smoke_tests` file) against the bundle.
    /// Only called when the manifest names one.
    fn run_smoke_tests(&self, bundle: &VerifiedBundle, smoke_tests: &[u8]) -> Result<(), String>;
}

/// Validate each distinct hook component once, then the smoke tests.
pub fn validate_bundle(
    bundle: &VerifiedBundle,
    validator: &dyn BundleValidator,
) -> Result<(), BundleError> {
    let manifest = bundle.manifest();
    for file in manifest.hooks.distinct() {
        let component = bundle.bundle().get(file).unwrap_or_default();
        validator
            .validate(component, &manifest.settings, manifest.limits())
            .map_err(|reason| BundleError::Validation {
                name: manifest.name.clone(),
                file: file.to_string(),
                reason,
            })?;
    }
    if let (Some(file), Some(tests)) = (&manifest.smoke_tests, bundle.smoke_tests()) {
        validator
            .run_smoke_tests(bundle, tests)
            .map_err(|reason| BundleError::Validation {
                name: manifest.name.clone(),
                file: file.clone(),
                reason,
            })?;
    }
    Ok(())
}
