//! The config store and its watcher against the real file system: real files, real
//! inotify events, `tempfile` directories. Waits are on events or polls with a deadline;
//! "exactly one update" is proved with a barrier (a marker edit whose update must be the next
//! one to arrive), never by sleeping.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mcpproxy::config::{
    ConfigEdit, ConfigError, ConfigStore, ConfigUpdate, OutsideEdit, ReloadCause, StoreOptions,
    UpdateCause,
};
use mcpproxy::contract::{ChangeKind, ChangeTarget};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(15);
const DEBOUNCE: Duration = Duration::from_millis(100);

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    path: PathBuf,
    store: ConfigStore,
    updates: mpsc::Receiver<ConfigUpdate>,
    marker: usize,
    /// The updates of the daemon's own edits that `barrier` passed over.
    edits: Vec<ConfigUpdate>,
}

fn servers(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"name": format!("s{i}"), "command": "true", "args": [format!("{i}")]}))
        .collect()
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap();
    b.push(b'\n');
    b
}

/// How an editor or a sync tool saves: a temp file renamed over the config.
fn atomic_write(path: &Path, bytes: &[u8]) {
    let tmp = path.with_file_name(format!(".user-edit-{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn read_doc(path: &Path) -> Map<String, Value> {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn server_entry<'a>(doc: &'a Map<String, Value>, name: &str) -> &'a Value {
    doc["mcpServers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no server {name}"))
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn next_update(rx: &mut mpsc::Receiver<ConfigUpdate>) -> ConfigUpdate {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("timed out waiting for a config update")
        .expect("update channel closed")
}

impl Fixture {
    fn new(initial: Value, debounce: Duration) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp_config.json");
        std::fs::write(&path, pretty(&initial)).unwrap();
        Self::open_at(dir, path, debounce)
    }

    fn open_at(dir: tempfile::TempDir, path: PathBuf, debounce: Duration) -> Fixture {
        let d = dir.path().to_path_buf();
        let (store, _config, updates) = ConfigStore::open(
            path.clone(),
            StoreOptions {
                data_dir: d.join("data"),
                debounce: Some(debounce),
            },
        )
        .unwrap();
        Fixture {
            _dir: dir,
            dir: d,
            path,
            store,
            updates,
            marker: 0,
            edits: Vec::new(),
        }
    }

    /// The next update from the file; the updates of the daemon's own edits before it are
    /// collected in `self.edits`.
    async fn next_reload(&mut self) -> ConfigUpdate {
        loop {
            let u = next_update(&mut self.updates).await;
            match u.cause {
                UpdateCause::Edits(_) => self.edits.push(u),
                UpdateCause::Reload(_) => return u,
            }
        }
    }

    /// Writes a marker edit the way a user would and waits for its update; returns every
    /// reload (an update from the file) that arrived before it, which a test usually expects
    /// to be none, and its own. The updates of the daemon's own edits are not reloads: they
    /// are collected in `self.edits`.
    async fn barrier(&mut self) -> (Vec<ConfigUpdate>, ConfigUpdate) {
        self.marker += 1;
        let marker = 1000 + self.marker;
        let mut doc = read_doc(&self.path);
        doc.insert("tools_limit".into(), json!(marker));
        atomic_write(&self.path, &pretty(&Value::Object(doc)));
        let mut before = Vec::new();
        loop {
            let u = next_update(&mut self.updates).await;
            if u.config.tools_limit == marker {
                return (before, u);
            }
            match u.cause {
                UpdateCause::Edits(_) => self.edits.push(u),
                UpdateCause::Reload(_) => before.push(u),
            }
        }
    }

    fn edit_file(&self, f: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
        let mut doc = read_doc(&self.path);
        f(&mut doc);
        pretty(&Value::Object(doc))
    }
}

fn set_args(doc: &mut Map<String, Value>, server: usize, args: Value) {
    doc["mcpServers"][server]["args"] = args;
}

fn assert_modified(u: &ConfigUpdate, server: &str, fields: &[&str]) {
    let c = u
        .diff
        .changes
        .iter()
        .find(|c| c.target == ChangeTarget::Server(server.into()))
        .unwrap_or_else(|| panic!("no change for {server}: {:?}", u.diff));
    assert_eq!(c.kind, ChangeKind::Modified);
    assert_eq!(c.fields, fields);
}

#[tokio::test]
async fn ten_writes_in_200ms_are_one_update() {
    // A window well above the burst, so a slow CI cannot split it.
    let mut f = Fixture::new(
        json!({"mcpServers": servers(3)}),
        Duration::from_millis(600),
    );
    let start = Instant::now();
    for i in 0..10 {
        let bytes = f.edit_file(|d| set_args(d, 1, json!([format!("burst-{i}")])));
        std::fs::write(&f.path, bytes).unwrap(); // in place, as sync tools do
        std::thread::sleep(Duration::from_millis(20)); // the burst's pace, not a sync
    }
    assert!(
        start.elapsed() < Duration::from_millis(600),
        "burst took too long to be one"
    );
    let u = f.next_reload().await;
    assert_modified(&u, "s1", &["args"]);
    assert_eq!(u.config.servers[1].args, ["burst-9"]);
    assert!(matches!(
        u.cause,
        UpdateCause::Reload(ReloadCause::Watcher {
            edit: OutsideEdit::NoGeneration
        })
    ));
    assert!(
        f.barrier().await.0.is_empty(),
        "more than one update for a burst"
    );
    assert_eq!(f.store.stats().reloads, 2);
}

#[tokio::test]
async fn atomic_rename_save_is_one_update() {
    let mut f = Fixture::new(json!({"mcpServers": servers(3)}), DEBOUNCE);
    let bytes = f.edit_file(|d| set_args(d, 2, json!(["renamed"])));
    atomic_write(&f.path, &bytes);
    let u = f.next_reload().await;
    assert_modified(&u, "s2", &["args"]);
    assert_eq!(u.diff.changes.len(), 1);
    assert!(f.barrier().await.0.is_empty());
}

#[tokio::test]
async fn vim_style_save_is_one_update() {
    let mut f = Fixture::new(json!({"mcpServers": servers(3)}), DEBOUNCE);
    let bytes = f.edit_file(|d| set_args(d, 0, json!(["vim"])));
    let backup = f.path.with_file_name("mcp_config.json~");
    std::fs::rename(&f.path, &backup).unwrap();
    std::fs::write(&f.path, bytes).unwrap();
    std::fs::remove_file(&backup).unwrap();
    let u = f.next_reload().await;
    assert_modified(&u, "s0", &["args"]);
    assert!(f.barrier().await.0.is_empty());
}

#[tokio::test]
async fn delete_keeps_running_config_and_recreate_is_one_update() {
    let mut f = Fixture::new(json!({"mcpServers": servers(3)}), DEBOUNCE);
    let bytes = f.edit_file(|d| set_args(d, 1, json!(["recreated"])));
    std::fs::remove_file(&f.path).unwrap();
    let store = f.store.clone();
    wait_until("the deletion to be seen", || {
        store.stats().watch_events >= 1
    })
    .await;
    // Saves while the file is missing park runtime state instead of recreating the file.
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s2".into(),
            reason: "down".into(),
        })
        .await
        .unwrap();
    assert!(!f.path.exists());
    std::fs::write(&f.path, bytes).unwrap();
    let u = f.next_reload().await;
    assert_modified(&u, "s1", &["args"]);
    assert!(
        u.config.servers[2].auto_disabled,
        "parked state merged into the recreated file"
    );
    assert!(f.barrier().await.0.is_empty());
    let store = f.store.clone();
    let path = f.path.clone();
    wait_until("the parked state to be written into the file", || {
        store.stats().state_file.is_none()
            && server_entry(&read_doc(&path), "s2")["auto_disabled"] == true
    })
    .await;
}

#[tokio::test]
async fn touch_without_change_is_zero_updates() {
    let mut f = Fixture::new(json!({"mcpServers": servers(2)}), DEBOUNCE);
    let file = std::fs::File::options().write(true).open(&f.path).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(file);
    let store = f.store.clone();
    wait_until("the touch to be seen", || store.stats().watch_events >= 1).await;
    assert!(f.barrier().await.0.is_empty(), "a touch caused an update");
    assert_eq!(f.store.stats().reloads, 1);
}

#[tokio::test]
async fn configmap_data_symlink_swap_is_one_update() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let write_version = |name: &str, args: &str| {
        std::fs::create_dir(d.join(name)).unwrap();
        let mut s = servers(2);
        s[0]["args"] = json!([args]);
        std::fs::write(
            d.join(name).join("mcp_config.json"),
            pretty(&json!({"mcpServers": s})),
        )
        .unwrap();
    };
    write_version("..2026_01_01", "v1");
    std::os::unix::fs::symlink("..2026_01_01", d.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/mcp_config.json", d.join("mcp_config.json")).unwrap();
    let path = d.join("mcp_config.json");
    let mut f = Fixture::open_at(dir, path, DEBOUNCE);
    let stats = f.store.stats();
    assert!(!stats.writable);
    assert_eq!(stats.state_file, Some(f.dir.join("data/state.json")));

    // What kubelet does: new timestamped dir, new link, renamed over `..data`, old dir removed.
    write_version("..2026_01_02", "v2");
    std::os::unix::fs::symlink("..2026_01_02", f.dir.join("..data_tmp")).unwrap();
    std::fs::rename(f.dir.join("..data_tmp"), f.dir.join("..data")).unwrap();
    std::fs::remove_dir_all(f.dir.join("..2026_01_01")).unwrap();
    let u = f.next_reload().await;
    assert_modified(&u, "s0", &["args"]);
    assert_eq!(u.config.servers[0].args, ["v2"]);

    // The barrier for a ConfigMap: another swap.
    write_version("..2026_01_03", "v3");
    std::os::unix::fs::symlink("..2026_01_03", f.dir.join("..data_tmp")).unwrap();
    std::fs::rename(f.dir.join("..data_tmp"), f.dir.join("..data")).unwrap();
    let u = f.next_reload().await;
    assert_eq!(
        u.config.servers[0].args,
        ["v3"],
        "an extra update after the first swap"
    );
}

#[tokio::test]
async fn forty_auto_disables_are_few_writes_and_no_reloads() {
    let mut f = Fixture::new(json!({"mcpServers": servers(40)}), DEBOUNCE);
    let edits = (0..40).map(|i| {
        let store = f.store.clone();
        async move {
            store
                .edit(ConfigEdit::SetAutoDisabled {
                    server: format!("s{i}"),
                    reason: format!("failed {i}"),
                })
                .await
        }
    });
    for r in futures::future::join_all(edits).await {
        r.unwrap();
    }
    let stats = f.store.stats();
    assert!(
        stats.saves >= 1 && stats.saves <= 5,
        "{} saves for 40 edits",
        stats.saves
    );
    let doc = read_doc(&f.path);
    assert_eq!(doc["generation"], json!(stats.saves));
    for i in 0..40 {
        let s = server_entry(&doc, &format!("s{i}"));
        assert_eq!(s["auto_disabled"], true);
        assert_eq!(s["auto_disable_reason"], format!("failed {i}"));
    }
    let store = f.store.clone();
    wait_until("the own save to be seen", || {
        store.stats().self_writes_suppressed >= 1
    })
    .await;
    assert!(
        f.barrier().await.0.is_empty(),
        "an own save caused an update"
    );
    assert_eq!(f.store.stats().reloads, 1);
    // Each save sent one update of the daemon's own edits; together they carry all 40.
    assert_eq!(f.edits.len() as u64, stats.saves);
    let mut disabled = std::collections::BTreeSet::new();
    for u in &f.edits {
        let UpdateCause::Edits(edits) = &u.cause else {
            panic!("{:?}", u.cause)
        };
        disabled.extend(edits.iter().flat_map(|e| e.servers()).map(str::to_string));
        for c in &u.diff.changes {
            assert_eq!(c.fields, ["auto_disabled", "auto_disable_reason"]);
        }
    }
    assert_eq!(disabled.len(), 40);
    assert!(
        f.edits
            .last()
            .unwrap()
            .config
            .servers
            .iter()
            .all(|s| s.auto_disabled)
    );
}

/// An import (servers added in a batch) racing the policy's auto-disables: every edit lands in
/// the file and in the running config, the updates say which edits they carry, and an edit's
/// `Applied` resolves only once the update carrying it has been applied (dropped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_racing_auto_disables_loses_nothing() {
    use futures::FutureExt;
    const N: usize = 12;
    let mut f = Fixture::new(json!({"mcpServers": servers(N)}), DEBOUNCE);
    let imports = (0..N).map(|i| {
        let store = f.store.clone();
        let entry = json!({"name": format!("imported{i}"), "command": "true"});
        async move {
            let entry = entry.as_object().unwrap().clone();
            store.edit(ConfigEdit::AddServer { entry }).await
        }
    });
    let disables = (0..N).map(|i| {
        let store = f.store.clone();
        async move {
            store
                .edit(ConfigEdit::SetAutoDisabled {
                    server: format!("s{i}"),
                    reason: format!("failed {i}"),
                })
                .await
        }
    });
    let (imported, disabled) = futures::future::join(
        futures::future::join_all(imports),
        futures::future::join_all(disables),
    )
    .await;
    let mut applied: Vec<_> = imported
        .into_iter()
        .chain(disabled)
        .map(|r| Box::pin(r.unwrap().wait()))
        .collect();
    // Saved, but no update has been applied yet: none of them may say it has.
    for a in &mut applied {
        assert!(a.as_mut().now_or_never().is_none(), "applied too early");
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut last = None;
    while seen.len() < 2 * N {
        let u = next_update(&mut f.updates).await;
        let UpdateCause::Edits(edits) = &u.cause else {
            panic!("a reload: {:?}", u.cause)
        };
        seen.extend(edits.iter().map(|e| e.label()));
        last = Some(u.config.clone());
        drop(u);
    }
    tokio::time::timeout(DEADLINE, futures::future::join_all(applied))
        .await
        .expect("every edit applied once its update was");
    let last = last.unwrap();
    let doc = read_doc(&f.path);
    for i in 0..N {
        assert!(
            last.server(&format!("imported{i}")).is_some(),
            "imported{i}"
        );
        assert!(last.server(&format!("s{i}")).unwrap().auto_disabled, "s{i}");
        assert_eq!(
            server_entry(&doc, &format!("imported{i}"))["command"],
            "true"
        );
        assert_eq!(server_entry(&doc, &format!("s{i}"))["auto_disabled"], true);
    }
    assert!(f.barrier().await.0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_edits_racing_saves_are_never_lost() {
    const EDITS: usize = 25;
    // A file the daemon has stamped before, so every version the user reads carries a
    // generation. (A version without one is the user's newest word, and wins over the
    // daemon's edits: `a_file_without_generation_wins_over_the_daemon_edits_it_lacks`.)
    let mut f = Fixture::new(
        json!({"mcpServers": servers(EDITS), "generation": 1}),
        DEBOUNCE,
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The user: read-modify-write of their own field as fast as an editor could, alternating
    // atomic renames and in-place writes, while the daemon saves.
    let user = {
        let path = f.path.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut mark = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let Ok(mut doc) = serde_json::from_slice::<Map<String, Value>>(&bytes) else {
                    continue;
                };
                mark += 1;
                doc["mcpServers"][0]["user_mark"] = json!(mark);
                let out = pretty(&Value::Object(doc));
                if mark.is_multiple_of(2) {
                    atomic_write(&path, &out);
                } else {
                    std::fs::write(&path, &out).unwrap();
                }
                std::thread::sleep(Duration::from_millis(2)); // the user's pace, not a sync
            }
            mark
        })
    };
    for i in 0..EDITS {
        f.store
            .edit(ConfigEdit::SetAutoDisabled {
                server: format!("s{i}"),
                reason: format!("r{i}"),
            })
            .await
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let last_mark = user.join().unwrap();
    assert!(last_mark > 0);
    let path = f.path.clone();
    let store = f.store.clone();
    wait_until(
        "the user's last edit and every daemon edit to be in the file",
        || {
            let Ok(bytes) = std::fs::read(&path) else {
                return false;
            };
            let Ok(doc) = serde_json::from_slice::<Map<String, Value>>(&bytes) else {
                return false;
            };
            server_entry(&doc, "s0")["user_mark"] == json!(last_mark)
                && (0..EDITS).all(|i| server_entry(&doc, &format!("s{i}"))["auto_disabled"] == true)
                && store.stats().state_file.is_none()
        },
    )
    .await;
    // The running config has taken the user's last edit in (the barrier's own update
    // carries the latest running config).
    let (_, latest) = f.barrier().await;
    assert_eq!(
        latest.config.servers[0].extra.get("user_mark"),
        Some(&json!(last_mark))
    );
    assert!((0..EDITS).all(|i| latest.config.servers[i].auto_disabled));
    let doc = read_doc(&f.path);
    assert_eq!(server_entry(&doc, "s0")["user_mark"], json!(last_mark));
    for i in 0..EDITS {
        assert_eq!(
            server_entry(&doc, &format!("s{i}"))["auto_disable_reason"],
            format!("r{i}")
        );
    }
}

#[tokio::test]
async fn invalid_edit_keeps_running_config_and_the_next_valid_one_applies() {
    let mut f = Fixture::new(json!({"mcpServers": servers(3)}), DEBOUNCE);
    std::fs::write(
        &f.path,
        "{\n  \"mcpServers\": [\n    {\"name\": \"s0\",, }\n  ]\n}\n",
    )
    .unwrap();
    let store = f.store.clone();
    wait_until("the error to be reported", || {
        store.stats().last_config_error.is_some()
    })
    .await;
    let err = f.store.stats().last_config_error.unwrap();
    assert!(err.contains("mcp_config.json:3:19: invalid JSON"), "{err}");
    let notified = f.store.errors().borrow().clone();
    assert!(
        matches!(
            notified,
            Some(ConfigError::Syntax {
                line: 3,
                column: 19,
                ..
            })
        ),
        "{notified:?}"
    );

    // A daemon edit now must not overwrite the user's broken file.
    let broken = std::fs::read(&f.path).unwrap();
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s1".into(),
            reason: "down".into(),
        })
        .await
        .unwrap();
    assert_eq!(std::fs::read(&f.path).unwrap(), broken);
    assert_eq!(
        f.store.stats().state_file,
        Some(f.dir.join("data/state.json"))
    );
    let add = f
        .store
        .edit(ConfigEdit::AddServer {
            entry: json!({"name": "n", "command": "x"})
                .as_object()
                .unwrap()
                .clone(),
        })
        .await;
    assert!(
        matches!(add, Err(ConfigError::NotWritable { .. })),
        "{add:?}"
    );

    // An invalid server entry: error names server and field.
    let mut bad = servers(3);
    bad[2]["url"] = json!("not a url");
    bad[2]["protocol"] = json!("http");
    std::fs::write(&f.path, pretty(&json!({"mcpServers": bad}))).unwrap();
    let store = f.store.clone();
    wait_until("the server error to be reported", || {
        store
            .stats()
            .last_config_error
            .is_some_and(|e| e.contains("mcpServers[2] \"s2\": field \"url\""))
    })
    .await;

    // The fix: applied, with the parked auto-disable on top.
    let mut good = servers(3);
    good[2]["args"] = json!(["fixed"]);
    std::fs::write(&f.path, pretty(&json!({"mcpServers": good}))).unwrap();
    let u = f.next_reload().await;
    assert_modified(&u, "s2", &["args"]);
    assert!(u.config.servers[1].auto_disabled);
    assert!(f.store.stats().last_config_error.is_none());
    assert!(f.store.errors().borrow().is_none());
    let store = f.store.clone();
    let path = f.path.clone();
    wait_until("the parked state folded into the file", || {
        store.stats().state_file.is_none()
            && server_entry(&read_doc(&path), "s1")["auto_disabled"] == true
    })
    .await;
    assert!(!f.dir.join("data/state.json").exists());
    assert!(f.barrier().await.0.is_empty());
}

#[tokio::test]
async fn read_only_file_keeps_runtime_state_in_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    std::fs::write(&path, pretty(&json!({"mcpServers": servers(2)}))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let original = std::fs::read(&path).unwrap();
    let f = Fixture::open_at(dir, path.clone(), DEBOUNCE);
    let stats = f.store.stats();
    assert!(!stats.writable);
    let state = f.dir.join("data/state.json");
    assert_eq!(stats.state_file.as_deref(), Some(state.as_path()));

    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s1".into(),
            reason: "crashed".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        original,
        "read-only file was written"
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["servers"]["s1"]["auto_disabled"], true);
    assert_eq!(saved["servers"]["s1"]["auto_disable_reason"], "crashed");
    let remove = f
        .store
        .edit(ConfigEdit::RemoveServer {
            server: "s0".into(),
        })
        .await;
    assert!(
        matches!(remove, Err(ConfigError::NotWritable { .. })),
        "{remove:?}"
    );
    assert_eq!(f.store.stats().saves, 0);

    // A restart sees the state merged over the file.
    let (_store2, config, _rx) = ConfigStore::open(
        path.clone(),
        StoreOptions {
            data_dir: f.dir.join("data"),
            debounce: Some(DEBOUNCE),
        },
    )
    .unwrap();
    assert!(config.servers[1].auto_disabled);
    assert_eq!(
        config.servers[1].auto_disable_reason.as_deref(),
        Some("crashed")
    );
    assert!(!config.servers[0].auto_disabled);
}

#[tokio::test]
async fn unknown_keys_key_order_and_mode_survive_a_save() {
    let text = r#"{
  "zeta": {"nested": [1, 2, {"b": 1, "a": 2}]},
  "mcpServers": [
    {"url": "http://127.0.0.1:9/mcp", "name": "web", "x-team": "infra", "created": "2024-01-01"},
    {"name": "local", "command": "true", "quarantined": false}
  ],
  "alpha": true,
  "listen": "127.0.0.1:8080"
}
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let f = Fixture::open_at(dir, path.clone(), DEBOUNCE);
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "web".into(),
            reason: "503".into(),
        })
        .await
        .unwrap();
    let doc = read_doc(&path);
    let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["zeta", "mcpServers", "alpha", "listen", "generation"]
    );
    assert_eq!(doc["zeta"], json!({"nested": [1, 2, {"b": 1, "a": 2}]}));
    let nested_keys: Vec<&str> = doc["zeta"]["nested"][2]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(nested_keys, ["b", "a"]);
    let web: Vec<&str> = server_entry(&doc, "web")
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        web,
        [
            "url",
            "name",
            "x-team",
            "created",
            "auto_disabled",
            "auto_disable_reason"
        ]
    );
    assert_eq!(server_entry(&doc, "local")["quarantined"], false);
    assert_eq!(doc["generation"], 1);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let leftovers: Vec<_> = std::fs::read_dir(&f.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn add_remove_and_enable_edits_are_saved_without_reloads() {
    let mut f = Fixture::new(json!({"mcpServers": servers(2)}), DEBOUNCE);
    let entry = json!({"name": "new", "url": "http://127.0.0.1:7/mcp", "x": 1})
        .as_object()
        .unwrap()
        .clone();
    f.store
        .edit(ConfigEdit::AddServer {
            entry: entry.clone(),
        })
        .await
        .unwrap();
    let dup = f.store.edit(ConfigEdit::AddServer { entry }).await;
    assert!(
        dup.unwrap_err()
            .to_string()
            .contains("duplicate server name")
    );
    f.store
        .edit(ConfigEdit::RemoveServer {
            server: "s0".into(),
        })
        .await
        .unwrap();
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s1".into(),
            reason: "x".into(),
        })
        .await
        .unwrap();
    f.store
        .edit(ConfigEdit::SetEnabled {
            server: "s1".into(),
            enabled: true,
        })
        .await
        .unwrap();
    let unknown = f
        .store
        .edit(ConfigEdit::SetEnabled {
            server: "nope".into(),
            enabled: false,
        })
        .await;
    assert!(
        matches!(unknown, Err(ConfigError::UnknownServer { .. })),
        "{unknown:?}"
    );
    let doc = read_doc(&f.path);
    let names: Vec<&str> = doc["mcpServers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s1", "new"]);
    assert!(server_entry(&doc, "s1").get("auto_disabled").is_none());
    assert!(f.barrier().await.0.is_empty());
}

/// A file without a `generation` is the user's newest word: an auto-disable and an added
/// server it lacks are not re-applied or written back, and status names the daemon edits it
/// superseded.
#[tokio::test]
async fn a_file_without_generation_wins_over_the_daemon_edits_it_lacks() {
    let mut f = Fixture::new(json!({"mcpServers": servers(2)}), DEBOUNCE);
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s0".into(),
            reason: "crashed".into(),
        })
        .await
        .unwrap();
    let entry = json!({"name": "added", "command": "true"});
    f.store
        .edit(ConfigEdit::AddServer {
            entry: entry.as_object().unwrap().clone(),
        })
        .await
        .unwrap();
    assert!(read_doc(&f.path).contains_key("generation"));

    // The user writes their own version: no generation, `s0` without its auto-disable, no
    // `added`, and an edit of their own.
    let mut user = json!({"mcpServers": servers(2)});
    user["mcpServers"][1]["args"] = json!(["mine"]);
    atomic_write(&f.path, &pretty(&user));
    let u = f.next_reload().await;
    assert!(
        matches!(
            u.cause,
            UpdateCause::Reload(ReloadCause::Watcher {
                edit: OutsideEdit::NoGeneration
            })
        ),
        "{:?}",
        u.cause
    );
    assert!(
        !u.config.servers[0].auto_disabled,
        "the auto-disable came back"
    );
    assert!(
        u.config.server("added").is_none(),
        "the removed server came back"
    );
    assert_eq!(u.config.servers[1].args, ["mine"]);
    assert_eq!(
        f.store.stats().superseded_edits,
        ["auto-disable s0", "add added"]
    );
    assert!(f.barrier().await.0.is_empty());
    let doc = read_doc(&f.path);
    assert!(
        server_entry(&doc, "s0").get("auto_disabled").is_none(),
        "{doc:?}"
    );
    assert_eq!(doc["mcpServers"].as_array().unwrap().len(), 2, "{doc:?}");
}

#[tokio::test]
async fn restored_older_copy_gets_daemon_edits_reapplied() {
    let mut f = Fixture::new(json!({"mcpServers": servers(3), "generation": 5}), DEBOUNCE);
    let old = std::fs::read(&f.path).unwrap();
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s0".into(),
            reason: "gone".into(),
        })
        .await
        .unwrap();
    assert_eq!(read_doc(&f.path)["generation"], 6);
    // The user restores the older copy, with an edit of their own.
    let mut doc: Map<String, Value> = serde_json::from_slice(&old).unwrap();
    set_args(&mut doc, 2, json!(["restored"]));
    atomic_write(&f.path, &pretty(&Value::Object(doc)));
    let u = f.next_reload().await;
    assert!(
        matches!(
            u.cause,
            UpdateCause::Reload(ReloadCause::Watcher {
                edit: OutsideEdit::LowerGeneration { disk: 5, ours: 6 }
            })
        ),
        "{:?}",
        u.cause
    );
    assert_modified(&u, "s2", &["args"]);
    assert!(u.config.servers[0].auto_disabled, "daemon edit lost");
    let path = f.path.clone();
    wait_until("the merged version saved", || {
        let d = read_doc(&path);
        server_entry(&d, "s0")["auto_disabled"] == true && d["generation"] == 7
    })
    .await;
    assert!(f.barrier().await.0.is_empty());
}

#[tokio::test]
async fn symlinked_config_is_written_through_to_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let real = elsewhere.path().join("real.json");
    std::fs::write(&real, pretty(&json!({"mcpServers": servers(2)}))).unwrap();
    let link = dir.path().join("mcp_config.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut f = Fixture::open_at(dir, link.clone(), DEBOUNCE);
    assert!(f.store.stats().writable);
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s1".into(),
            reason: "r".into(),
        })
        .await
        .unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(server_entry(&read_doc(&real), "s1")["auto_disabled"], true);
    // An edit of the target itself is seen.
    let mut doc = read_doc(&real);
    doc["mcpServers"][0]["args"] = json!(["via-target"]);
    atomic_write(&real, &pretty(&Value::Object(doc)));
    let u = f.next_reload().await;
    assert_modified(&u, "s0", &["args"]);
}

#[tokio::test]
async fn open_reports_bad_files_and_needs_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    std::fs::write(&path, "{\"mcpServers\": [{\"name\": \"a\"}]}").unwrap();
    let opts = StoreOptions {
        data_dir: dir.path().join("data"),
        debounce: None,
    };
    let err = ConfigStore::open(path.clone(), opts.clone())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mcpServers[0] \"a\": field \"command\": missing"),
        "{err}"
    );
    let missing = ConfigStore::open(dir.path().join("nope.json"), opts.clone()).unwrap_err();
    assert!(matches!(missing, ConfigError::Io { .. }));
    std::fs::write(&path, "{}").unwrap();
    let outside =
        std::thread::spawn(move || ConfigStore::open(path, opts).map(|_| ()).unwrap_err())
            .join()
            .unwrap();
    assert!(matches!(outside, ConfigError::NoRuntime { .. }));
}

#[tokio::test]
async fn file_made_read_only_while_running_switches_to_the_state_file() {
    let f = Fixture::new(json!({"mcpServers": servers(2)}), DEBOUNCE);
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s0".into(),
            reason: "a".into(),
        })
        .await
        .unwrap();
    assert!(f.store.stats().writable);
    std::fs::set_permissions(&f.path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&f.path).unwrap();
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s1".into(),
            reason: "b".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&f.path).unwrap(),
        before,
        "read-only file overwritten"
    );
    let stats = f.store.stats();
    assert!(!stats.writable);
    assert_eq!(stats.state_file, Some(f.dir.join("data/state.json")));

    // Writable again: the next save folds the parked state into the file.
    std::fs::set_permissions(&f.path, std::fs::Permissions::from_mode(0o644)).unwrap();
    f.store
        .edit(ConfigEdit::SetEnabled {
            server: "s0".into(),
            enabled: true,
        })
        .await
        .unwrap();
    let doc = read_doc(&f.path);
    assert_eq!(server_entry(&doc, "s1")["auto_disable_reason"], "b");
    assert!(server_entry(&doc, "s0").get("auto_disabled").is_none());
    let stats = f.store.stats();
    assert!(stats.writable && stats.state_file.is_none());
    assert!(!f.dir.join("data/state.json").exists());
}

#[tokio::test]
async fn dropping_every_handle_stops_the_store() {
    let f = Fixture::new(json!({"mcpServers": servers(1)}), DEBOUNCE);
    let Fixture {
        _dir,
        store,
        mut updates,
        ..
    } = f;
    let clone = store.clone();
    drop(store);
    assert!(!updates.is_closed(), "a clone still holds the store");
    drop(clone);
    let end = tokio::time::timeout(DEADLINE, updates.recv())
        .await
        .expect("store did not stop");
    assert!(end.is_none(), "the update stream ends when the store stops");
}

#[tokio::test]
async fn restoring_the_daemons_last_save_after_an_edit_is_an_edit() {
    let mut f = Fixture::new(json!({"mcpServers": servers(2)}), DEBOUNCE);
    f.store
        .edit(ConfigEdit::SetAutoDisabled {
            server: "s0".into(),
            reason: "r".into(),
        })
        .await
        .unwrap();
    let ours = std::fs::read(&f.path).unwrap();
    let edited = f.edit_file(|d| set_args(d, 1, json!(["user"])));
    atomic_write(&f.path, &edited);
    let u = f.next_reload().await;
    assert_modified(&u, "s1", &["args"]);
    // Undo in the editor: byte for byte the daemon's save, but the user's doing.
    atomic_write(&f.path, &ours);
    let u = f.next_reload().await;
    assert_modified(&u, "s1", &["args"]);
    assert_eq!(u.config.servers[1].args, ["1"]);
    assert!(f.barrier().await.0.is_empty());
}
