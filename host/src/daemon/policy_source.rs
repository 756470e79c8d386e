//! Which policy the daemon runs. An enterprise pin decides first: while one exists, only its
//! signed bundle (or, failing that, its last-known-good) may run, and a user's `--policy`,
//! `policy.path` or `policy.settings` is refused with an error naming the pin file. Without a
//! pin: the user's policy, else the embedded default.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use tracing::{info, warn};

use crate::config::PolicyConfig;
use crate::config::watch::{FileWatcher, watch_file};
use crate::contract::{GivenLimits, Limits};
use crate::policy::bundle::Hook;
use crate::policy::bundle::{
    self, BundleOrigin, BundleStore, BundleValidator, Pin, PolicyChoice, VerifiedBundle,
};
use crate::policy::{PolicyFiles, PolicyHost, PolicyOptions, check, simulate};

/// The policy to start, and the pin that chose it (if any).
pub struct Chosen {
    pub options: PolicyOptions,
    pub pinned: Option<Pinned>,
}

/// A pin in force, kept for `status` and for activating newer revisions while running.
pub struct Pinned {
    pub pin: Pin,
    pub store: BundleStore,
    validator: HostValidator,
}

impl Pinned {
    pub fn status(&self) -> Value {
        let mut doc = match self.store.status(&self.pin.name) {
            Ok(status) => serde_json::to_value(status).unwrap_or(Value::Null),
            Err(e) => serde_json::json!({"name": self.pin.name, "last_error": e.to_string()}),
        };
        doc["pin_file"] = Value::String(self.pin.path.display().to_string());
        doc
    }

    /// Look at the pinned bundle again (it changed on disk): activate a newer valid revision,
    /// or keep the last-known-good. Returns the options to swap in, if a bundle is active.
    pub fn reload(&self, base: &PolicyOptions) -> anyhow::Result<Option<PolicyOptions>> {
        let candidates =
            bundle::load_pinned(&self.pin, &self.store, chrono::Utc::now(), &self.validator);
        match bundle::choose_policy(Some(&self.pin), None, None, candidates)? {
            PolicyChoice::PinnedBundle {
                bundle, refused, ..
            } => {
                if let Some(why) = refused {
                    warn!(pin = %self.pin.path.display(), "pinned bundle refused, last-known-good stays: {why}");
                }
                Ok(Some(self.options_for(&bundle, base)?))
            }
            _ => Ok(None),
        }
    }

    /// Options running the bundle's active copy: its component per hook (each distinct one
    /// loaded once), settings and limits.
    fn options_for(
        &self,
        bundle: &VerifiedBundle,
        base: &PolicyOptions,
    ) -> anyhow::Result<PolicyOptions> {
        let manifest = bundle.manifest();
        let dir = self
            .store
            .active_dir(&manifest.name)?
            .context("pinned bundle has no active copy")?;
        Ok(PolicyOptions {
            files: Some(manifest.hooks.map(|file| dir.join(file))),
            settings: manifest.settings.clone(),
            limits: manifest.limits(),
            on_failure: manifest.on_failure,
            ..base.clone()
        })
    }
}

/// Re-check the pinned bundle whenever its file changes, and swap in a newer valid revision
/// without a restart. Runs on the watcher's own thread: verifying and compiling take a while.
pub fn watch(
    pinned: Arc<Pinned>,
    policy: Arc<PolicyHost>,
    base: PolicyOptions,
) -> anyhow::Result<FileWatcher> {
    let path = pinned.pin.bundle_path.clone();
    let watcher = watch_file(&path, BUNDLE_DEBOUNCE, move |_| match pinned.reload(&base) {
        Ok(Some(next)) => match policy.apply(&next) {
            Ok(()) => info!(bundle = %pinned.pin.name, "pinned policy bundle re-checked and active"),
            Err(e) => {
                // The store has recorded the new revision (the host loads it from the store's
                // copy); say in the bundle's status that it is not the one running.
                let why = format!("validated but not running (the previous policy stays): {e}");
                let _ = pinned.store.record_error(&pinned.pin.name, &why, chrono::Utc::now());
                warn!(bundle = %pinned.pin.name, "pinned bundle {why}");
            }
        },
        Ok(None) => {}
        Err(e) => warn!(bundle = %pinned.pin.name, "pinned bundle not activated, the running policy stays: {e}"),
    })
    .with_context(|| format!("watching the pinned bundle {}", path.display()))?;
    Ok(watcher)
}

/// Bundles are replaced whole (a new `.tar` or directory renamed into place).
const BUNDLE_DEBOUNCE: Duration = Duration::from_millis(300);

/// Decide at start-up. An error here means the daemon must not start (a broken pin file, a
/// user policy while pinned, `require_bundle` without a valid bundle).
pub fn choose(
    cli_policy: Option<PathBuf>,
    config: &PolicyConfig,
    data_dir: &Path,
) -> anyhow::Result<Chosen> {
    let user_policy = cli_policy.clone().or_else(|| config.path.clone());
    let base = user_options(cli_policy, config, data_dir);
    let Some(pin) = bundle::pin::load()? else {
        return Ok(Chosen {
            options: base,
            pinned: None,
        });
    };
    info!(pin = %pin.path.display(), bundle = %pin.name, "enterprise policy pin in force");
    let store = BundleStore::new(data_dir);
    let validator = HostValidator {
        cache_dir: data_dir.join("policy-cache"),
    };
    let candidates = bundle::load_pinned(&pin, &store, chrono::Utc::now(), &validator);
    let source = bundle::choose_policy(
        Some(&pin),
        user_policy.as_deref(),
        Some(&config.settings),
        candidates,
    )?;
    let pinned = Pinned {
        pin,
        store,
        validator,
    };
    let options = match source {
        PolicyChoice::PinnedBundle {
            bundle,
            origin,
            refused,
        } => {
            if let Some(why) = refused {
                warn!("pinned bundle refused; running the last-known-good: {why}");
            }
            let m = bundle.manifest();
            let from = if origin == BundleOrigin::Fresh {
                "bundle"
            } else {
                "last-known-good"
            };
            info!(bundle = %m.name, revision = m.revision, key = %bundle.key_id(), "running pinned policy {from}");
            pinned.options_for(&bundle, &base)?
        }
        PolicyChoice::PinnedEmbedded { pin_file, refused } => {
            warn!(pin = %pin_file.display(), "no valid pinned bundle; running the embedded default: {refused}");
            PolicyOptions {
                files: None,
                settings: Value::Object(Default::default()),
                ..base
            }
        }
        PolicyChoice::Embedded | PolicyChoice::UserPolicy(_) => unreachable!("a pin is in force"),
    };
    Ok(Chosen {
        options,
        pinned: Some(pinned),
    })
}

/// The user's policy: `--policy` if given, else the config's `policy` section; compiled
/// code is cached in `<data_dir>/policy-cache/`.
pub fn user_options(
    cli_policy: Option<PathBuf>,
    config: &PolicyConfig,
    data_dir: &Path,
) -> PolicyOptions {
    PolicyOptions {
        files: cli_policy
            .or_else(|| config.path.clone())
            .map(PolicyFiles::from),
        settings: config.settings.clone(),
        limits: config.limits,
        cache_dir: Some(data_dir.join("policy-cache")),
        on_failure: config.on_failure,
        ..PolicyOptions::default()
    }
}

/// Checks a bundle's component with the real policy host before it may be activated:
/// it must load, accept the bundle's settings and answer every smoke scenario.
/// Compiled code goes to the daemon's cache, so the bundle it approves activates from there
/// instead of being compiled again (seconds for a JS or Python component).
pub struct HostValidator {
    cache_dir: PathBuf,
}

impl BundleValidator for HostValidator {
    fn validate(&self, component: &[u8], settings: &Value, limits: Limits) -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary dir: {e}"))?;
        let path = dir.path().join("component.wasm");
        std::fs::write(&path, component).map_err(|e| format!("{}: {e}", path.display()))?;
        // The limits the bundle will run under, not the defaults: a JS or Python component
        // that needs 100 ms and 64 MiB must be judged as it will run.
        let report = check::run_with(&path, settings, limits, Some(&self.cache_dir))
            .map_err(|e| e.to_string())?;
        match report.failures {
            0 => Ok(()),
            n => Err(format!("{n} smoke scenarios failed:\n{report}")),
        }
    }

    /// A bundle's smoke tests are a `policy test` scenario (`examples/scenarios/`), run through
    /// the bundle's components (each serving its hooks) with the bundle's settings; every
    /// expectation must hold.
    fn run_smoke_tests(&self, bundle: &VerifiedBundle, smoke_tests: &[u8]) -> Result<(), String> {
        let manifest = bundle.manifest();
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary dir: {e}"))?;
        let write = |path: &Path, bytes: &[u8]| {
            std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
        };
        // Bundle paths may have directories: each distinct component gets a flat name.
        let distinct = manifest.hooks.distinct();
        let components = manifest.hooks.map(|file| {
            let i = distinct.iter().position(|f| *f == file).unwrap_or(0);
            dir.path().join(format!("component-{i}.wasm"))
        });
        for hook in Hook::IN_MANIFEST {
            write(components.get(hook), bundle.component(hook))?;
        }
        let scenario = dir.path().join("smoke-tests.json");
        write(&scenario, smoke_tests)?;
        let settings = manifest.settings.to_string();
        // The manifest's settings and limits, which the daemon will run the bundle with.
        let overrides = simulate::Overrides {
            settings: Some(&settings),
            limits: GivenLimits {
                deadline_ms: Some(manifest.deadline_ms),
                memory_limit_mib: Some(manifest.memory_limit_mib),
            },
        };
        let (table, passed) =
            simulate::run_files(&components, &scenario, &overrides, Some(&self.cache_dir))
                .map_err(|e| format!("{e:#}"))?;
        if passed {
            Ok(())
        } else {
            Err(format!("smoke tests failed:\n{table}"))
        }
    }
}
