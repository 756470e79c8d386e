//! Policies that misbehave (trap, infinite loop, memory bomb, absurd answers, wrong world
//! version, missing export, file-system and unknown imports, rejected settings): each one is
//! refused with a clear message or its decision falls back to the embedded default; the host
//! keeps running and the counters move.

use crate::guest;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::guest::Misbehaviour;
use mcpproxy::contract::{Change, ChangeKind, ChangeTarget, ConfigDiff};
use mcpproxy::contract::{DisableDecision, Limits, OnFailure, Policy, Verdict};
use mcpproxy::daemon::policy_watch::PolicyWatch;
use mcpproxy::policy::{PolicyHost, PolicyOptions, QuarantineSettings};

use crate::guest::event;

/// Two changes; `disk_generation` 99 triggers the guests' misbehaviour.
fn diff(generation: u64) -> ConfigDiff {
    ConfigDiff {
        changes: vec![
            Change {
                target: ChangeTarget::Server("a".into()),
                kind: ChangeKind::Modified,
                fields: vec!["description".into()],
            },
            Change {
                target: ChangeTarget::Global("tools_limit".into()),
                kind: ChangeKind::Modified,
                fields: vec![],
            },
        ],
        disk_generation: Some(generation),
        stamped_generation: None,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Options for these tests: a deadline generous enough that a busy CI machine never times
/// out a well-behaved decision (the infinite loop still hits it).
fn options(path: &Path) -> PolicyOptions {
    PolicyOptions {
        files: Some(path.into()),
        limits: Limits {
            deadline: Duration::from_millis(250),
            ..Limits::DEFAULT
        },
        ..PolicyOptions::default()
    }
}

fn start(path: &Path) -> Arc<PolicyHost> {
    PolicyHost::start(options(path)).unwrap()
}

fn count(host: &PolicyHost, hook: &str, outcome: &str) -> u64 {
    host.status().decisions[hook]
        .get(outcome)
        .copied()
        .unwrap_or(0)
}

/// The embedded default's backoff for `event(attempt)`, which a fallback must answer
/// exactly (the host's seed makes it deterministic).
fn default_backoff(attempt: u32) -> Duration {
    PolicyHost::start(PolicyOptions::default())
        .unwrap()
        .backoff(&event(attempt))
}

/// The embedded default's answer to `event(_)`: the guests would say `keep`.
fn default_disables(d: &DisableDecision) -> bool {
    matches!(d, DisableDecision::Disable { reason } if reason.contains("command was not found"))
}

fn wait_until(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::yield_now();
        std::thread::park_timeout(Duration::from_millis(5));
    }
    cond()
}

#[test]
fn well_behaved_guest_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(&write(
        dir.path(),
        "ok.wasm",
        &guest::policy(Misbehaviour::Nothing),
    ));
    let status = host.status();
    assert!(status.source.ends_with("ok.wasm"), "{status:?}");
    assert!(!status.fallback_active);
    assert_eq!(status.world_version, "0.1.0");
    // A 0.1.0 policy has no review-tools: the embedded default answers it, and status says so.
    assert_eq!(status.review_tools.source, "embedded");
    let note = status.review_tools.note.as_deref().unwrap_or_default();
    assert!(note.contains("ok.wasm is world 0.1.0"), "{note}");
    let review = mcpproxy::contract::ToolReview {
        server: "s".into(),
        tools: vec![mcpproxy::contract::ToolChange {
            name: "echo".into(),
            approved_hash: Some("a".into()),
            current_hash: "b".into(),
            changed_fields: vec!["description".into()],
        }],
        removed: vec![],
    };
    let answer = format!("{:?}", host.review_tools(&review));
    assert!(
        answer.contains("description changed since approval"),
        "{answer}"
    );
    assert_eq!(host.should_disable(&event(1)), DisableDecision::Keep);
    assert_eq!(host.backoff(&event(1)), Duration::from_millis(4242));
    assert_eq!(
        host.filter_reload(&diff(1)),
        vec![Verdict::Apply, Verdict::Apply]
    );
    assert_eq!(count(&host, "should-disable", "ok"), 1);
    assert_eq!(host.status().fallbacks, 0);
}

#[test]
fn trap_falls_back_to_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(&write(
        dir.path(),
        "trap.wasm",
        &guest::policy(Misbehaviour::Trap),
    ));
    assert!(default_disables(&host.should_disable(&event(99))));
    assert_eq!(count(&host, "should-disable", "trap"), 1);
    // A trap poisons nothing: the next decision runs the guest again.
    assert_eq!(host.should_disable(&event(1)), DisableDecision::Keep);
    assert_eq!(
        host.backoff(&event(99)),
        default_backoff(99),
        "the default's backoff, not 4242 ms"
    );
    assert_eq!(count(&host, "backoff", "trap"), 1);
    let filtered = host.filter_reload(&diff(99));
    assert!(
        matches!(filtered[0], Verdict::Ignore { .. }),
        "the default ignores a description edit"
    );
    let status = host.status();
    assert_eq!(status.fallbacks, 3);
    assert!(status.last_error.unwrap().contains("trap"));
}

#[test]
fn infinite_loop_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(&write(
        dir.path(),
        "loop.wasm",
        &guest::policy(Misbehaviour::InfiniteLoop),
    ));
    let backoff = host.backoff(&event(99));
    assert_ne!(
        backoff,
        Duration::from_millis(4242),
        "the guest cannot have answered"
    );
    assert_eq!(backoff, default_backoff(99), "the default's backoff");
    assert_eq!(count(&host, "backoff", "timeout"), 1);
    assert!(host.status().last_error.unwrap().contains("timeout"));
}

#[test]
fn memory_bomb_hits_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(&write(
        dir.path(),
        "bomb.wasm",
        &guest::policy(Misbehaviour::MemoryBomb),
    ));
    assert!(default_disables(&host.should_disable(&event(99))));
    assert_eq!(count(&host, "should-disable", "limit"), 1);
}

#[test]
fn absurd_answers_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(&write(
        dir.path(),
        "absurd.wasm",
        &guest::policy(Misbehaviour::AbsurdAnswers),
    ));
    assert!(
        default_disables(&host.should_disable(&event(99))),
        "empty reason refused"
    );
    assert_eq!(
        host.backoff(&event(99)),
        default_backoff(99),
        "10-day backoff refused"
    );
    assert_eq!(
        host.filter_reload(&diff(99)).len(),
        2,
        "three verdicts for two changes refused"
    );
    for hook in ["should-disable", "backoff", "filter-reload"] {
        assert_eq!(count(&host, hook, "invalid"), 1, "{hook}");
    }
    assert!(
        host.status()
            .last_error
            .unwrap()
            .contains("verdicts for 2 changes")
    );
}

fn quarantining_host(path: PathBuf, initial: Duration) -> Arc<PolicyHost> {
    PolicyHost::start(PolicyOptions {
        quarantine: QuarantineSettings {
            failures: 3,
            window: Duration::from_secs(600),
            initial,
            max: Duration::from_secs(3600),
        },
        ..options(&path)
    })
    .unwrap()
}

#[test]
fn repeated_failures_quarantine_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "trap.wasm", &guest::policy(Misbehaviour::Trap));
    let host = quarantining_host(path.clone(), Duration::from_secs(3600));
    for _ in 0..3 {
        host.should_disable(&event(99));
    }
    let status = host.status();
    assert!(status.quarantine.quarantined, "{:?}", status.quarantine);
    assert_eq!(status.quarantine.quarantines, 1);
    // Quarantined: even a harmless event is decided by the default.
    assert!(default_disables(&host.should_disable(&event(1))));
    assert_eq!(count(&host, "should-disable", "quarantined"), 1);
    // Loading the policy again lifts the quarantine.
    host.replace(Some(path.into()), serde_json::json!({}))
        .unwrap();
    assert!(!host.status().quarantine.quarantined);
    assert_eq!(host.should_disable(&event(1)), DisableDecision::Keep);
}

#[test]
fn quarantined_policy_is_retried_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "trap.wasm", &guest::policy(Misbehaviour::Trap));
    let host = quarantining_host(path, Duration::from_millis(200));
    for _ in 0..3 {
        host.should_disable(&event(99));
    }
    assert_eq!(host.status().quarantine.quarantines, 1);
    // Released after the backoff: the guest decides again.
    assert!(wait_until(Duration::from_secs(30), || !host
        .status()
        .quarantine
        .quarantined));
    assert_eq!(host.should_disable(&event(1)), DisableDecision::Keep);
    assert_eq!(count(&host, "should-disable", "ok"), 1);
}

/// A policy refused at start: the embedded default runs and `status` says why.
fn assert_refused(bytes: &[u8], fragments: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.wasm", bytes);
    let host = start(&path);
    let status = host.status();
    assert_eq!(status.source, "embedded");
    assert!(status.fallback_active);
    assert_eq!(status.configured_path.as_deref(), Some(path.as_path()));
    let error = status.last_error.expect("an error is reported");
    for f in fragments {
        assert!(error.contains(f), "{error:?} lacks {f:?}");
    }
    assert!(error.contains("bad.wasm"), "{error}");
    // The daemon keeps deciding.
    assert!(default_disables(&host.should_disable(&event(1))));
    // `policy check` refuses it with the same message.
    let check = mcpproxy::policy::check::run(&path, &serde_json::json!({}))
        .unwrap_err()
        .to_string();
    assert!(check.contains(fragments[0]), "{check}");
}

#[test]
fn another_world_is_refused() {
    assert_refused(
        &guest::other_world(),
        &["does not export `mcpproxy:policy/decisions@"],
    );
}

/// A policy that loads and configures but answers the host's smoke test invalidly never
/// replaces anything; `policy check` shows the same answers as failures.
#[test]
fn a_policy_failing_the_smoke_test_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "absurd.wasm", &guest::always_absurd_backoff());
    let host = start(&path);
    let status = host.status();
    assert_eq!(status.source, "embedded");
    let error = status.last_error.expect("an error is reported");
    assert!(
        error.contains("absurd.wasm") && error.contains("smoke test failed"),
        "{error}"
    );
    // A running good policy stays when the bad one is offered as its replacement.
    let good = write(
        dir.path(),
        "good.wasm",
        &guest::policy(Misbehaviour::Nothing),
    );
    let host = start(&good);
    let err = host
        .replace(Some(path.clone().into()), serde_json::json!({}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("smoke test failed"), "{err}");
    assert_eq!(host.backoff(&event(1)), Duration::from_millis(4242));

    let report = mcpproxy::policy::check::run(&path, &serde_json::json!({})).unwrap();
    assert!(report.failures > 0, "{report}");
    assert!(report.to_string().contains("FAILED"), "{report}");
}

/// Every decision runs in a fresh instance: a guest counting its calls in a global sees
/// each call as its first.
#[test]
fn no_state_survives_between_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(&write(dir.path(), "counting.wasm", &guest::counting()));
    assert!(!host.status().fallback_active, "{:?}", host.status());
    for _ in 0..5 {
        assert_eq!(host.backoff(&event(1)), Duration::from_millis(1001));
    }
    assert_eq!(count(&host, "backoff", "ok"), 5);
}

/// The memory cap holds from load on: a policy that needs 20 MiB is refused under the
/// default 16 MiB and runs under 32 MiB (as a config or bundle may give a JS policy).
#[test]
fn the_memory_cap_is_per_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hungry.wasm", &guest::hungry(20));
    let tight = start(&path);
    assert_eq!(tight.status().source, "embedded");
    let error = tight.status().last_error.expect("refused");
    assert!(error.contains("hungry.wasm"), "{error}");

    let roomy_options = PolicyOptions {
        limits: Limits {
            memory_limit: 32 << 20,
            ..options(&path).limits
        },
        ..options(&path)
    };
    let roomy = PolicyHost::start(roomy_options.clone()).unwrap();
    assert!(!roomy.status().fallback_active, "{:?}", roomy.status());
    assert_eq!(roomy.backoff(&event(1)), Duration::from_millis(4242));
    assert_eq!(count(&roomy, "backoff", "ok"), 1);

    // A config edit raising the cap of the running host loads it there too, and lowering
    // the cap again is refused while the running policy stays.
    tight.apply(&roomy_options).unwrap();
    assert!(!tight.status().fallback_active, "{:?}", tight.status());
    assert_eq!(tight.status().memory_limit_mib, 32);
    assert_eq!(tight.backoff(&event(1)), Duration::from_millis(4242));
    let err = tight.apply(&options(&path)).unwrap_err().to_string();
    assert!(err.contains("hungry.wasm"), "{err}");
    assert_eq!(tight.backoff(&event(1)), Duration::from_millis(4242));
}

/// A policy's `log` lines reach the daemon's log, attributed to it, at most 8 per decision.
#[test]
fn policy_log_lines_are_attributed_and_rate_limited() {
    #[derive(Clone, Default)]
    struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "chatty.wasm", &guest::logging(20));
    let host = start(&path);
    let lines = Lines::default();
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let answer = tracing::subscriber::with_default(subscriber, || host.backoff(&event(1)));
    assert_eq!(answer, Duration::from_millis(4242));
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let logged: Vec<&str> = text.lines().filter(|l| l.contains("guest line")).collect();
    assert_eq!(logged.len(), 8, "{text}");
    assert!(
        logged
            .iter()
            .all(|l| l.contains("WARN") && l.contains("chatty.wasm")),
        "{text}"
    );
}

#[test]
fn wrong_world_version_is_refused() {
    assert_refused(
        &guest::wrong_version(),
        &["exports mcpproxy:policy/decisions@0.3.0, this mcpproxy needs @0.2.0 or @0.1.0"],
    );
}

#[test]
fn missing_export_is_refused() {
    assert_refused(
        &guest::missing_filter_reload(),
        &["lacks the function(s) filter-reload"],
    );
}

#[test]
fn unknown_import_is_refused() {
    assert_refused(
        &guest::imports_network(),
        &["imports `evil:net/socket@1.0.0`"],
    );
}

#[test]
fn a_wasi_interface_the_host_does_not_link_is_refused_by_name() {
    assert_refused(
        &guest::imports_wasi_http(),
        &["imports `wasi:http/outgoing-handler@0.2.0`"],
    );
}

#[test]
fn not_a_component_is_refused() {
    assert_refused(b"\0asm garbage", &["not a valid WebAssembly component"]);
}

#[test]
fn rejected_settings_refuse_the_policy() {
    assert_refused(
        &guest::rejecting("threshold must be positive"),
        &["threshold must be positive"],
    );
}

#[test]
fn file_system_access_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(&write(dir.path(), "fs.wasm", &guest::reads_files()));
    let status = host.status();
    assert!(status.uses_wasi, "{status:?}");
    assert!(status.source.ends_with("fs.wasm"));
    // No preopened directory: the guest traps instead of answering "escaped".
    let d = host.should_disable(&event(99));
    assert!(default_disables(&d), "{d:?}");
    assert_eq!(count(&host, "should-disable", "trap"), 1);
}

#[test]
fn replace_keeps_the_running_policy_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.wasm",
        &guest::policy(Misbehaviour::Nothing),
    );
    let bad = write(dir.path(), "bad.wasm", &guest::wrong_version());
    let host = start(&good);
    let sha = host.status().sha256;
    let err = host
        .replace(Some(bad.into()), serde_json::json!({}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("@0.2.0"), "{err}");
    assert_eq!(host.status().sha256, sha);
    assert_eq!(host.backoff(&event(1)), Duration::from_millis(4242));
    // Back to the embedded default, then to the guest again.
    host.replace(None, serde_json::json!({})).unwrap();
    assert_eq!(host.status().source, "embedded");
    host.replace(Some(good.into()), serde_json::json!({}))
        .unwrap();
    assert_eq!(host.status().sha256, sha);
}

#[test]
fn watched_file_is_reloaded_and_a_broken_save_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "policy.wasm",
        &guest::policy(Misbehaviour::Nothing),
    );
    let host = start(&path);
    let first = host.status().sha256;
    let watch = PolicyWatch::start(&host).unwrap();
    assert_eq!(watch.path(), Some(path.as_path()));

    // An atomic save of a different (valid) policy.
    let trap = guest::policy(Misbehaviour::Trap);
    let tmp = write(dir.path(), ".policy.wasm.tmp", &trap);
    std::fs::rename(&tmp, &path).unwrap();
    let want = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&trap))
    };
    assert!(
        wait_until(Duration::from_secs(30), || host.status().sha256 == want),
        "reloaded"
    );
    assert_ne!(want, first);

    // A broken save: reported, and the running policy stays.
    std::fs::write(&path, b"not wasm").unwrap();
    assert!(wait_until(Duration::from_secs(30), || host
        .status()
        .last_error
        .is_some()));
    assert_eq!(host.status().sha256, want);
    assert!(host.status().last_error.unwrap().contains("policy.wasm"));

    drop(watch);
}

/// A config edit moves the policy to another file, and that file is saved again before the
/// watch follows it (the daemon loads first, then re-arms the watch). Following must notice
/// the missed save, or the new version would never run.
#[test]
fn following_a_new_policy_path_catches_a_save_made_before_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let nothing = guest::policy(Misbehaviour::Nothing);
    let first = write(dir.path(), "first.wasm", &nothing);
    let second = write(dir.path(), "second.wasm", &nothing);
    let host = start(&first);
    let mut watch = PolicyWatch::start(&host).unwrap();

    host.apply(&options(&second)).unwrap();
    let trap = guest::policy(Misbehaviour::Trap);
    std::fs::write(&second, &trap).unwrap();
    watch.follow(&host).unwrap();

    assert_eq!(watch.path(), Some(second.as_path()));
    let want = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&trap))
    };
    assert_eq!(host.status().sha256, want, "the save before the watch runs");
}

#[test]
fn compiled_code_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("policy-cache");
    let opts = PolicyOptions {
        files: None,
        cache_dir: Some(cache.clone()),
        ..options(dir.path())
    };
    let first = PolicyHost::start(opts.clone()).unwrap();
    assert_eq!(first.status().cache, mcpproxy::policy::CacheOutcome::Stored);
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let name = entries[0].to_string_lossy().into_owned();
    assert!(
        name.starts_with(&first.status().sha256) && name.ends_with(".cwasm"),
        "{name}"
    );
    let second = PolicyHost::start(opts.clone()).unwrap();
    assert_eq!(second.status().cache, mcpproxy::policy::CacheOutcome::Hit);
    assert_eq!(second.backoff(&event(1)), first.backoff(&event(1)));

    // Compiled code others could have written is never loaded: it is compiled again.
    use std::os::unix::fs::PermissionsExt;
    let entry = cache.join(&name);
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let writable_entry = PolicyHost::start(opts.clone()).unwrap();
    assert_eq!(
        writable_entry.status().cache,
        mcpproxy::policy::CacheOutcome::Stored
    );
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    let open_dir = PolicyHost::start(opts.clone()).unwrap();
    assert_eq!(
        open_dir.status().cache,
        mcpproxy::policy::CacheOutcome::Stored
    );
    // Storing made the dir private again and replaced the entry with one of its own.
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    let planted = dir.path().join("planted.cwasm");
    std::fs::rename(&entry, &planted).unwrap();
    std::os::unix::fs::symlink(&planted, &entry).unwrap();
    let linked = PolicyHost::start(opts.clone()).unwrap();
    assert_eq!(
        linked.status().cache,
        mcpproxy::policy::CacheOutcome::Stored
    );
    let again = PolicyHost::start(opts).unwrap();
    assert_eq!(again.status().cache, mcpproxy::policy::CacheOutcome::Hit);
}

/// The instance pool holds a few instances; callers beyond it wait for one. Many threads
/// each running a decision that spins until its deadline keep every slot busy: each decision
/// must still end in its own timeout, never in a failure to get an instance.
#[test]
fn decisions_beyond_the_instance_pool_wait_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "loop.wasm",
        &guest::policy(Misbehaviour::InfiniteLoop),
    );
    let host = PolicyHost::start(PolicyOptions {
        limits: Limits {
            deadline: Duration::from_millis(40),
            ..Limits::DEFAULT
        },
        // Never quarantine: every decision must run the spinning guest.
        quarantine: QuarantineSettings {
            failures: u32::MAX,
            window: Duration::from_secs(600),
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        },
        ..options(&path)
    })
    .unwrap();
    const THREADS: u64 = 24;
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| host.backoff(&event(99)));
        }
    });
    let status = host.status();
    assert_eq!(
        count(&host, "backoff", "timeout"),
        THREADS,
        "{:?}",
        status.decisions
    );
    assert_eq!(status.fallbacks, THREADS);
}

/// `apply` changes the deadline of the running host: a spinning decision runs until the
/// new, longer deadline, not the one the host started with.
#[test]
fn apply_changes_the_deadline_and_memory_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "loop.wasm",
        &guest::policy(Misbehaviour::InfiniteLoop),
    );
    let start = PolicyOptions {
        limits: Limits {
            deadline: Duration::from_millis(20),
            ..Limits::DEFAULT
        },
        ..options(&path)
    };
    let host = PolicyHost::start(start.clone()).unwrap();
    assert_eq!(host.status().deadline_ms, 20);
    assert_eq!(host.status().memory_limit_mib, 16);

    let longer = Duration::from_millis(600);
    host.apply(&PolicyOptions {
        limits: Limits {
            deadline: longer,
            memory_limit: 32 << 20,
        },
        ..start
    })
    .unwrap();
    let status = host.status();
    assert_eq!((status.deadline_ms, status.memory_limit_mib), (600, 32));
    let began = Instant::now();
    host.backoff(&event(99));
    let spun = began.elapsed();
    assert_eq!(count(&host, "backoff", "timeout"), 1);
    // Epochs can only stop a call late, never early.
    assert!(
        spun >= longer,
        "stopped after {spun:?}, before the new deadline"
    );
}

/// `on_failure: deny` fails closed: a failing decision is answered with "keep", the longest
/// backoff and "ignore", never by the (more permissive) embedded default; so are decisions
/// while the policy is quarantined.
#[test]
fn on_failure_deny_answers_no_instead_of_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "trap.wasm", &guest::policy(Misbehaviour::Trap));
    let host = PolicyHost::start(PolicyOptions {
        on_failure: OnFailure::Deny,
        ..options(&path)
    })
    .unwrap();
    assert_eq!(host.status().on_failure, OnFailure::Deny);

    let d = host.should_disable(&event(99));
    assert_eq!(d, DisableDecision::Keep, "the default would disable");
    assert_eq!(host.backoff(&event(99)), Duration::from_secs(300));
    let verdicts = host.filter_reload(&diff(99));
    assert_eq!(verdicts.len(), 2);
    assert!(
        verdicts
            .iter()
            .all(|v| matches!(v, Verdict::Ignore { reason } if reason.contains("deny"))),
        "{verdicts:?}"
    );
    // Three failures quarantined the policy: this answer comes from quarantine.
    assert_eq!(host.should_disable(&event(99)), DisableDecision::Keep);
    let status = host.status();
    assert_eq!(status.fallbacks, 4, "{:?}", status.decisions);
    assert_eq!(count(&host, "should-disable", "quarantined"), 1);
}

/// A policy answering a backoff of 0 ms (and never disabling) would have a failing server
/// retried in a tight loop: the host raises every backoff to its floor and counts it.
#[test]
fn a_backoff_below_the_floor_is_raised_to_it_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(&write(dir.path(), "zero.wasm", &guest::backoff_of(0)));
    assert!(
        host.status().last_error.is_none(),
        "{:?}",
        host.status().last_error
    );
    for attempt in 1..=3 {
        assert_eq!(host.backoff(&event(attempt)), Duration::from_millis(100));
    }
    let status = host.status();
    assert_eq!(status.backoffs_clamped, 3);
    assert_eq!(count(&host, "backoff", "ok"), 3, "{:?}", status.decisions);
    assert_eq!(status.fallbacks, 0);
    // An answer at or above the floor is left as it is.
    let host = start(&write(dir.path(), "slow.wasm", &guest::backoff_of(250)));
    assert_eq!(host.backoff(&event(1)), Duration::from_millis(250));
    assert_eq!(host.status().backoffs_clamped, 0);
}
