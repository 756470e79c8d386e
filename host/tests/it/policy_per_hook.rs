//! A component per hook, as a signed bundle's manifest may name: each hook is answered by its
//! own component, each distinct file is loaded once, `status` lists them, and one broken file
//! refuses the whole set while the running policy stays.

use crate::guest;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::guest::Misbehaviour;
use mcpproxy::contract::{DisableDecision, FailureEvent, Limits, Policy};
use mcpproxy::policy::{PerHook, PolicyHost, PolicyOptions};

fn default_wasm() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.wasm")
}

/// A third spawn error: the default disables it, the test guest keeps it.
fn spawn_error() -> FailureEvent {
    guest::event(3)
}

fn options(files: PerHook<PathBuf>) -> PolicyOptions {
    PolicyOptions {
        files: Some(files),
        limits: Limits {
            deadline: Duration::from_millis(250),
            ..Limits::DEFAULT
        },
        ..PolicyOptions::default()
    }
}

/// The guest answers `keep` and a backoff of 4242 ms; the default disables a third spawn
/// error and never answers 4242 ms.
const GUEST_BACKOFF: Duration = Duration::from_millis(4242);

#[test]
fn each_hook_is_answered_by_its_own_component() {
    let dir = tempfile::tempdir().unwrap();
    let guest_path = dir.path().join("guest.wasm");
    std::fs::write(&guest_path, guest::policy(Misbehaviour::Nothing)).unwrap();
    let host = PolicyHost::start(options(PerHook {
        should_disable: default_wasm(),
        backoff: guest_path.clone(),
        filter_reload: default_wasm(),
    }))
    .unwrap();

    assert!(
        matches!(host.should_disable(&spawn_error()), DisableDecision::Disable { reason } if reason.contains("command was not found")),
        "should-disable comes from default.wasm"
    );
    assert_eq!(
        host.backoff(&spawn_error()),
        GUEST_BACKOFF,
        "backoff comes from the guest"
    );

    let status = host.status();
    assert!(!status.fallback_active, "{status:?}");
    assert_eq!(status.fallbacks, 0, "{status:?}");
    assert_eq!(
        status.configured_path.as_deref(),
        Some(default_wasm().as_path())
    );
    let hooks = status
        .hooks
        .expect("status lists the component of each hook");
    let guest_sha = hex_sha256(&std::fs::read(&guest_path).unwrap());
    let default_sha = hex_sha256(&std::fs::read(default_wasm()).unwrap());
    assert_eq!(hooks["backoff"].sha256, guest_sha);
    assert!(hooks["backoff"].source.ends_with("guest.wasm"));
    assert_eq!(hooks["should-disable"].sha256, default_sha);
    assert_eq!(hooks["filter-reload"].sha256, default_sha);

    // Swapped the other way round while running.
    host.replace(
        Some(PerHook {
            should_disable: guest_path.clone(),
            backoff: default_wasm(),
            filter_reload: guest_path.clone(),
        }),
        serde_json::json!({}),
    )
    .unwrap();
    assert_eq!(host.should_disable(&spawn_error()), DisableDecision::Keep);
    assert_ne!(host.backoff(&spawn_error()), GUEST_BACKOFF);
    assert_eq!(host.status().fallbacks, 0);
}

#[test]
fn one_broken_component_refuses_the_whole_set_and_the_running_policy_stays() {
    let dir = tempfile::tempdir().unwrap();
    let guest_path = dir.path().join("guest.wasm");
    std::fs::write(&guest_path, guest::policy(Misbehaviour::Nothing)).unwrap();
    let host = PolicyHost::start(options(guest_path.clone().into())).unwrap();
    assert!(
        host.status().hooks.is_none(),
        "one component serves all hooks"
    );
    assert_eq!(host.backoff(&spawn_error()), GUEST_BACKOFF);

    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"not a component").unwrap();
    let e = host
        .replace(
            Some(PerHook {
                should_disable: default_wasm(),
                backoff: default_wasm(),
                filter_reload: broken.clone(),
            }),
            serde_json::json!({}),
        )
        .unwrap_err();
    assert!(e.to_string().contains("broken.wasm"), "{e}");
    assert_eq!(
        host.backoff(&spawn_error()),
        GUEST_BACKOFF,
        "the guest still runs"
    );
    assert_eq!(host.should_disable(&spawn_error()), DisableDecision::Keep);
    let status = host.status();
    assert!(status.source.ends_with("guest.wasm"), "{status:?}");
    assert!(status.last_error.unwrap().contains("broken.wasm"));
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
