//! Config reload latency with 1,000 servers in the file: the time from writing a one-server
//! edit (atomic rename, as editors save) to its `ConfigUpdate` arriving, minus the debounce
//! window; p50/p99 over ~20 edits. Also: parse + diff of the whole file, and a burst of 40
//! daemon edits (auto-disables) until all are persisted.
//!
//! Run: `cargo bench -p mcpproxy --bench config_reload` (figures printed, nothing asserted).

use std::path::Path;
use std::time::{Duration, Instant};

use mcpproxy::config::{ConfigEdit, ConfigStore, StoreOptions, diff, load};
use serde_json::{Map, Value, json};

const SERVERS: usize = 1000;
const EDITS: usize = 21;
const DEBOUNCE: Duration = Duration::from_millis(300);

/// The file with `edits` (server, round) applied: each adds a `--round` arg to one server.
fn config_text(edits: &[(usize, usize)]) -> Vec<u8> {
    let servers: Vec<Value> = (0..SERVERS)
        .map(|i| {
            let mut args = vec![json!("-y"), json!(format!("@example/server-{i}"))];
            for (server, round) in edits {
                if *server == i {
                    args.push(json!(format!("--round={round}")));
                }
            }
            json!({
                "name": format!("server-{i:04}"),
                "command": "npx",
                "args": args,
                "env": {"TOKEN": format!("t{i}")},
                "created": "2026-01-01T00:00:00Z",
            })
        })
        .collect();
    let mut b =
        serde_json::to_vec_pretty(&json!({"listen": "127.0.0.1:8080", "mcpServers": servers}))
            .unwrap();
    b.push(b'\n');
    b
}

fn atomic_write(path: &Path, bytes: &[u8]) {
    let tmp = path.with_file_name(".bench-edit.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcp_config.json");
    let base = config_text(&[]);
    std::fs::write(&path, &base).unwrap();
    println!(
        "config_reload: {SERVERS} servers, file {} KiB, debounce {}",
        base.len() / 1024,
        ms(DEBOUNCE)
    );

    // Pure parts.
    let text = String::from_utf8(base.clone()).unwrap();
    let edited = String::from_utf8(config_text(&[(500, 0)])).unwrap();
    let mut parse_times = Vec::new();
    let mut diff_times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let a = load::parse(&path, &text).unwrap();
        parse_times.push(t.elapsed());
        let b = load::parse(&path, &edited).unwrap();
        let t = Instant::now();
        let d = diff(&a, &b);
        diff_times.push(t.elapsed());
        assert_eq!(d.changes.len(), 1);
    }
    parse_times.sort();
    diff_times.sort();
    println!(
        "  parse + validate: p50 {}  p99 {}",
        ms(percentile(&parse_times, 0.5)),
        ms(percentile(&parse_times, 0.99))
    );
    println!(
        "  diff:             p50 {}  p99 {}",
        ms(percentile(&diff_times, 0.5)),
        ms(percentile(&diff_times, 0.99))
    );

    let (store, _config, mut updates) = ConfigStore::open(
        path.clone(),
        StoreOptions {
            data_dir: dir.path().join("data"),
            debounce: Some(DEBOUNCE),
        },
    )
    .unwrap();

    // Outside edits: write → update.
    let mut beyond = Vec::new();
    let mut applied = Vec::new();
    for round in 0..EDITS {
        applied.push((round * 37 % SERVERS, round));
        let bytes = config_text(&applied);
        let t = Instant::now();
        atomic_write(&path, &bytes);
        let update = tokio::time::timeout(Duration::from_secs(30), updates.recv())
            .await
            .expect("no update within 30 s")
            .expect("store stopped");
        let elapsed = t.elapsed();
        assert_eq!(update.diff.changes.len(), 1, "{:?}", update.diff);
        beyond.push(elapsed.saturating_sub(DEBOUNCE));
    }
    // The first edit also pays for cold caches; keep it, it is one of ~20.
    beyond.sort();
    println!(
        "  write -> ConfigUpdate beyond the debounce window ({EDITS} edits): p50 {}  p99 {}  max {}",
        ms(percentile(&beyond, 0.5)),
        ms(percentile(&beyond, 0.99)),
        ms(*beyond.last().unwrap())
    );

    // Daemon edits: 40 auto-disables at once until all are persisted.
    let before = store.stats();
    let t = Instant::now();
    let edits = (0..40).map(|i| {
        let store = store.clone();
        async move {
            store
                .edit(ConfigEdit::SetAutoDisabled {
                    server: format!("server-{:04}", i * 25),
                    reason: "bench".into(),
                })
                .await
        }
    });
    for r in futures::future::join_all(edits).await {
        r.unwrap();
    }
    let took = t.elapsed();
    let after = store.stats();
    println!(
        "  40 auto-disables in a burst: all persisted in {} with {} save(s)",
        ms(took),
        after.saves - before.saves
    );
    let mut single = Vec::new();
    for i in 0..10 {
        let t = Instant::now();
        store
            .edit(ConfigEdit::SetEnabled {
                server: format!("server-{:04}", i * 25),
                enabled: true,
            })
            .await
            .unwrap();
        single.push(t.elapsed());
    }
    single.sort();
    println!(
        "  one daemon edit until persisted (includes the 200 ms save spacing): p50 {}  max {}",
        ms(percentile(&single, 0.5)),
        ms(*single.last().unwrap())
    );
    let entry: Map<String, Value> = json!({"name": "late", "command": "true"})
        .as_object()
        .unwrap()
        .clone();
    store.edit(ConfigEdit::AddServer { entry }).await.unwrap();
    println!(
        "  stats: {}",
        serde_json::to_string(&store.stats()).unwrap()
    );
}
