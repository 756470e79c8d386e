//! End-to-end: enterprise-pinned, signed policy bundles in the running daemon. The pin
//! overrides a user's policy, a newer signed revision is activated without a restart, and
//! `require_bundle` without a valid bundle stops the daemon from starting.

use crate::guest;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

fn default_wasm() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/default.wasm")
}

fn mcpproxy(args: &[&str]) -> std::process::Output {
    Command::new(MCPPROXY).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = mcpproxy(args);
    assert!(
        out.status.success(),
        "mcpproxy {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Pack and sign a bundle of the default policy at `revision` with `settings` into `out`.
fn signed_bundle(work: &Path, key: &Path, revision: u64, settings: Value, out: &Path) {
    signed_bundle_with_smoke_tests(work, key, revision, settings, None, out)
}

fn signed_bundle_with_smoke_tests(
    work: &Path,
    key: &Path,
    revision: u64,
    settings: Value,
    smoke: Option<Value>,
    out: &Path,
) {
    signed_bundle_with(work, key, revision, settings, smoke, json!({}), out)
}

/// The bundle holds `policy.wasm` (the default policy) and `guest.wasm` (answers `keep` and
/// a 4242 ms backoff). By default `policy.wasm` serves every hook, with a 10 ms deadline and
/// 16 MiB; `manifest_fields` overrides those fields.
fn signed_bundle_with(
    work: &Path,
    key: &Path,
    revision: u64,
    settings: Value,
    smoke: Option<Value>,
    manifest_fields: Value,
    out: &Path,
) {
    let dir = work.join(format!("bundle-src-{revision}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(default_wasm(), dir.join("policy.wasm")).unwrap();
    let mut manifest = json!({
        "name": "acme-policy", "revision": revision,
        "hooks": {"should_disable": "policy.wasm", "backoff": "policy.wasm", "filter_reload": "policy.wasm"},
        "settings": settings, "deadline_ms": 10, "memory_limit_mib": 16, "on_failure": "fallback-to-default",
    });
    for (field, value) in manifest_fields.as_object().unwrap() {
        manifest[field] = value.clone();
    }
    let hooks = manifest["hooks"].as_object().unwrap();
    if hooks.values().any(|f| f == "guest.wasm") {
        let guest = guest::policy(guest::Misbehaviour::Nothing);
        std::fs::write(dir.join("guest.wasm"), guest).unwrap();
    }
    if hooks.values().any(|f| f == "hungry.wasm") {
        std::fs::write(dir.join("hungry.wasm"), guest::hungry(20)).unwrap();
    }
    if let Some(scenario) = smoke {
        std::fs::write(dir.join("smoke.json"), scenario.to_string()).unwrap();
        manifest["smoke_tests"] = json!("smoke.json");
    }
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    let staged = work.join(format!("staged-{revision}.tar"));
    ok(&[
        "policy",
        "bundle",
        "pack",
        dir.to_str().unwrap(),
        "-o",
        staged.to_str().unwrap(),
    ]);
    ok(&[
        "policy",
        "bundle",
        "sign",
        staged.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    std::fs::rename(&staged, out).unwrap(); // replaced whole, as a deployment would
}

struct Setup {
    work: tempfile::TempDir,
    key: PathBuf,
    pin: PathBuf,
    bundle: PathBuf,
}

fn setup(require_bundle: bool) -> Setup {
    let work = tempfile::tempdir().unwrap();
    let prefix = work.path().join("acme");
    ok(&["policy", "keygen", prefix.to_str().unwrap()]);
    let bundle = work.path().join("acme-policy.tar");
    let pin = work.path().join("policy-pin.json");
    let pubkey = std::fs::read_to_string(prefix.with_extension("pub")).unwrap();
    let pin_doc = json!({"trusted_keys": [pubkey], "name": "acme-policy", "bundle_path": bundle, "require_bundle": require_bundle});
    std::fs::write(&pin, pin_doc.to_string()).unwrap();
    Setup {
        key: prefix.with_extension("key"),
        work,
        pin,
        bundle,
    }
}

fn start_pinned(setup: &Setup, config: Value, args: &[&str]) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    let mut config = config;
    config["listen"] = json!("127.0.0.1:0");
    std::fs::write(&path, config.to_string()).unwrap();
    Daemon::start_with_env(
        dir,
        path,
        args,
        &[("MCPPROXY_POLICY_PIN", setup.pin.as_os_str())],
    )
}

fn serve_pinned_expecting_failure(setup: &Setup, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    std::fs::write(&config, r#"{"listen": "127.0.0.1:0", "mcpServers": []}"#).unwrap();
    let out = Command::new(MCPPROXY)
        .arg("serve")
        .args(["--config".as_ref(), config.as_os_str()])
        .args(["--data-dir".as_ref(), dir.path().join("data").as_os_str()])
        .args(["--log-dir".as_ref(), dir.path().join("logs").as_os_str()])
        .args(args)
        .env("MCPPROXY_POLICY_PIN", &setup.pin)
        .output()
        .unwrap();
    assert!(!out.status.success(), "serve should have refused to start");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_pinned_bundle_runs_and_a_newer_revision_is_activated_without_a_restart() {
    let s = setup(true);
    signed_bundle(s.work.path(), &s.key, 1, json!({}), &s.bundle);
    let daemon = start_pinned(&s, json!({"mcpServers": []}), &[]);
    let status = daemon.status();
    assert_eq!(status["bundle"]["name"], "acme-policy", "{status}");
    assert_eq!(status["bundle"]["revision"], 1, "{}", status["bundle"]);
    assert!(
        status["bundle"]["key_id"].is_string(),
        "{}",
        status["bundle"]
    );
    let first_path = status["policy"]["configured_path"].clone();
    assert!(
        first_path.as_str().unwrap().contains("acme-policy"),
        "{}",
        status["policy"]
    );
    assert_eq!(status["policy"]["deadline_ms"], 10);
    assert_eq!(status["policy"]["memory_limit_mib"], 16);
    assert_eq!(status["policy"]["on_failure"], "fallback-to-default");

    // Revision 2 brings new settings, limits and failure behaviour: all of them take effect.
    signed_bundle_with(
        s.work.path(),
        &s.key,
        2,
        json!({"deterministic_failures": 1}),
        None,
        json!({"deadline_ms": 40, "memory_limit_mib": 32, "on_failure": "deny"}),
        &s.bundle,
    );
    // The bundle store records revision 2 before the policy host has swapped it in, and
    // `configured_path` names the file being loaded: wait until it is the one running.
    let status = wait_for(Duration::from_secs(60), "revision 2 to be active", || {
        let st = daemon.status();
        let p = &st["policy"];
        (st["bundle"]["revision"] == 2
            && p["configured_path"] != first_path
            && p["source"] == p["configured_path"])
            .then_some(st)
    });
    assert!(
        status["bundle"]["last_error"].is_null(),
        "{}",
        status["bundle"]
    );
    assert_eq!(status["policy"]["deadline_ms"], 40, "{}", status["policy"]);
    assert_eq!(status["policy"]["memory_limit_mib"], 32);
    assert_eq!(status["policy"]["on_failure"], "deny");
    // And `mcpproxy status` says so to a person.
    let text = daemon.cli(&["status"]);
    assert!(
        text.contains("bundle      acme-policy revision 2")
            && text.contains("on failure deny, deadline 40 ms, memory 32 MiB"),
        "{text}"
    );

    // A rollback to revision 1 is refused; revision 2 stays active.
    signed_bundle(s.work.path(), &s.key, 1, json!({}), &s.bundle);
    let status = wait_for(
        Duration::from_secs(60),
        "the rollback to be refused",
        || {
            let st = daemon.status();
            st["bundle"]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("revision"))
                .then_some(st)
        },
    );
    assert_eq!(status["bundle"]["revision"], 2, "{}", status["bundle"]);
}

#[test]
fn while_pinned_a_user_policy_is_refused_naming_the_pin_file() {
    let s = setup(false);
    signed_bundle(s.work.path(), &s.key, 1, json!({}), &s.bundle);
    let stderr =
        serve_pinned_expecting_failure(&s, &["--policy", default_wasm().to_str().unwrap()]);
    assert!(stderr.contains(s.pin.to_str().unwrap()), "{stderr}");
}

#[test]
fn require_bundle_without_a_valid_bundle_refuses_to_start() {
    let s = setup(true);
    signed_bundle(s.work.path(), &s.key, 1, json!({}), &s.bundle);
    // Tamper with the signed bundle: flip a byte of the component inside the tar.
    let mut bytes = std::fs::read(&s.bundle).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"\0asm")
        .expect("component in the tar")
        + 64;
    bytes[at] ^= 0xff;
    std::fs::write(&s.bundle, bytes).unwrap();
    let stderr = serve_pinned_expecting_failure(&s, &[]);
    assert!(
        stderr.contains("refusing to start") && stderr.contains(s.pin.to_str().unwrap()),
        "{stderr}"
    );
}

/// A `policy test` scenario: a missing command, disabled at the third failure under the
/// default settings.
fn smoke_scenario() -> Value {
    let step = |at: &str, disable: bool| json!({"at": at, "server": "B", "kind": "spawn_error", "detail": "command not found", "expect": {"disable": disable}});
    json!({"steps": [step("0s", false), step("1s", false), step("3s", true)]})
}

#[test]
fn a_bundles_smoke_tests_must_pass_before_it_is_activated() {
    let s = setup(true);
    signed_bundle_with_smoke_tests(
        s.work.path(),
        &s.key,
        1,
        json!({}),
        Some(smoke_scenario()),
        &s.bundle,
    );
    let daemon = start_pinned(&s, json!({"mcpServers": []}), &[]);
    assert_eq!(daemon.status()["bundle"]["revision"], 1);
    drop(daemon);

    // Settings that disable at the first failure contradict the bundle's own smoke tests.
    let s = setup(true);
    let strict = json!({"deterministic_failures": 1});
    signed_bundle_with_smoke_tests(
        s.work.path(),
        &s.key,
        1,
        strict,
        Some(smoke_scenario()),
        &s.bundle,
    );
    let stderr = serve_pinned_expecting_failure(&s, &[]);
    assert!(
        stderr.contains("refusing to start") && stderr.contains("smoke tests failed"),
        "{stderr}"
    );
}

/// A bundle is validated under the limits its manifest declares, the ones it will run
/// under: a component that needs 20 MiB is activated with a 32 MiB cap and refused with 16.
#[test]
fn a_bundle_is_validated_under_its_own_limits() {
    let hungry = json!({"should_disable": "hungry.wasm", "backoff": "hungry.wasm", "filter_reload": "hungry.wasm"});
    let s = setup(true);
    let roomy = json!({"hooks": hungry, "memory_limit_mib": 32});
    signed_bundle_with(s.work.path(), &s.key, 1, json!({}), None, roomy, &s.bundle);
    let daemon = start_pinned(&s, json!({"mcpServers": []}), &[]);
    let status = daemon.status();
    assert_eq!(status["bundle"]["revision"], 1, "{}", status["bundle"]);
    assert_eq!(
        status["policy"]["memory_limit_mib"], 32,
        "{}",
        status["policy"]
    );
    assert_eq!(
        status["policy"]["fallback_active"], false,
        "{}",
        status["policy"]
    );
    drop(daemon);

    let s = setup(true);
    let tight = json!({"hooks": hungry, "memory_limit_mib": 16});
    signed_bundle_with(s.work.path(), &s.key, 1, json!({}), None, tight, &s.bundle);
    let stderr = serve_pinned_expecting_failure(&s, &[]);
    assert!(
        stderr.contains("refusing to start") && stderr.contains("hungry.wasm"),
        "{stderr}"
    );
}

/// A bundle whose hooks name different components: the daemon runs each hook on its own
/// component. Here the default policy decides auto-disable and the guest decides backoff
/// (4242 ms, where the default's first backoff is at most a second or two).
#[test]
fn a_bundle_with_a_component_per_hook_runs_each_on_its_own() {
    let s = setup(true);
    let hooks = json!({"should_disable": "policy.wasm", "backoff": "guest.wasm", "filter_reload": "policy.wasm"});
    signed_bundle_with(
        s.work.path(),
        &s.key,
        1,
        json!({"deterministic_failures": 1}),
        None,
        json!({ "hooks": hooks }),
        &s.bundle,
    );
    let config = json!({"mcpServers": [
        {"name": "missing", "command": "/nonexistent/mcpproxy-test-command"},
        {"name": "hangs", "command": FIXTURE, "args": ["--mode", "hang"], "init_timeout": "1s"},
    ]});
    let daemon = start_pinned(&s, config, &[]);

    let status = daemon.status();
    assert_eq!(status["bundle"]["revision"], 1, "{}", status["bundle"]);
    let hooks = &status["policy"]["hooks"];
    let guest_source = hooks["backoff"]["source"].as_str().unwrap_or_default();
    assert!(guest_source.ends_with("guest.wasm"), "{hooks}");
    assert!(
        guest_source.contains("acme-policy"),
        "runs from the bundle's copy: {hooks}"
    );
    assert!(
        hooks["should-disable"]["source"]
            .as_str()
            .is_some_and(|p| p.ends_with("policy.wasm")),
        "{hooks}"
    );

    // should-disable: the default's (the guest would keep it).
    let missing = daemon.wait_state("missing", "Auto-Disabled", Duration::from_secs(30));
    assert!(
        missing["auto_disable_reason"]
            .as_str()
            .is_some_and(|r| r.contains("not found")),
        "{missing}"
    );
    // backoff: the guest's 4242 ms, seen from the moment the server starts sleeping.
    let sleeping = daemon.wait_state("hangs", "Sleeping", Duration::from_secs(30));
    let retry_at =
        chrono::DateTime::parse_from_rfc3339(sleeping["next_retry_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
    let wait = (retry_at - chrono::Utc::now()).to_std().unwrap_or_default();
    assert!(
        wait > Duration::from_millis(2500) && wait <= Duration::from_millis(4242),
        "retry in {wait:?}: {sleeping}"
    );
    assert_eq!(daemon.status()["policy"]["fallbacks"], 0);
}

/// While pinned, a live edit of the config's `policy` section is not applied either.
#[test]
fn while_pinned_a_config_edit_of_policy_is_ignored() {
    let s = setup(true);
    signed_bundle(s.work.path(), &s.key, 1, json!({}), &s.bundle);
    let daemon = start_pinned(&s, json!({"mcpServers": []}), &[]);
    let pinned_path = daemon.status()["policy"]["configured_path"].clone();
    assert!(pinned_path.as_str().unwrap().contains("acme-policy"));

    let mut config = read_json(daemon.config_path());
    config["policy"] = json!({"path": default_wasm(), "settings": {"deterministic_failures": 1}});
    save_atomically(daemon.config_path(), &config);
    wait_for(Duration::from_secs(30), "the edit to be refused", || {
        let log = daemon.main_log();
        log.lines()
            .any(|l| {
                l.contains("`policy` changed in the config") && l.contains(s.pin.to_str().unwrap())
            })
            .then_some(())
    });
    let status = daemon.status();
    assert_eq!(
        status["policy"]["configured_path"], pinned_path,
        "{}",
        status["policy"]
    );
    assert_eq!(status["bundle"]["revision"], 1);
}
