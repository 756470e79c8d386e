//! Test policies: hand-written core modules (WAT) wrapped into components against
//! `wit/policy.wit` or a deliberately wrong variant of it, so the suite needs no wasm
//! toolchain.
//!
//! The base guest answers `keep`, a 4242 ms backoff and `apply` for everything, and accepts
//! any settings. Each hook misbehaves as told only on a trigger input (`attempt == 99`, or
//! `disk-generation == 99`), so the guest passes the host's smoke test and then fails on
//! demand.
#![allow(dead_code)]

use std::time::Duration;

use mcpproxy::contract::FailureKind;
use mcpproxy::contract::{FailureEvent, Transport};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::Resolve;

/// World 0.1.0: the guests here are the policies written before tool pinning, which the host
/// still runs (the embedded default covers 0.2.0).
pub const POLICY_WIT: &str = include_str!("../../../wit/0.1.0/policy.wit");

/// What a hook does on its trigger input.
#[derive(Clone, Copy, Debug)]
pub enum Misbehaviour {
    Nothing,
    Trap,
    InfiniteLoop,
    MemoryBomb,
    /// `disable("")`, a 10-day backoff, one verdict too many.
    AbsurdAnswers,
    /// Calls `wasi:filesystem/preopens.get-directories`; answers `disable("escaped")` if it
    /// sees any directory, traps (as a policy failing to read its file would) otherwise.
    ReadFiles,
}

fn on_trigger(m: Misbehaviour, hook: &str) -> String {
    match (m, hook) {
        (Misbehaviour::Nothing, _) => String::new(),
        (Misbehaviour::Trap, _) => "unreachable".into(),
        (Misbehaviour::InfiniteLoop, _) => "(loop $spin (br $spin))".into(),
        (Misbehaviour::MemoryBomb, _) => "(loop $grow (drop (memory.grow (i32.const 16))) (br $grow))".into(),
        (Misbehaviour::AbsurdAnswers, "should-disable") => {
            "(i32.store8 (i32.const 32) (i32.const 1)) (i32.store (i32.const 36) (i32.const 0)) (i32.store (i32.const 40) (i32.const 0)) (return (i32.const 32))".into()
        }
        (Misbehaviour::AbsurdAnswers, "backoff") => "(return (i64.const 864000000))".into(),
        (Misbehaviour::AbsurdAnswers, _) => "(local.set $count (i32.add (local.get $n) (i32.const 1)))".into(),
        (Misbehaviour::ReadFiles, "should-disable") => r#"
            (call $get_directories (i32.const 64))
            (if (i32.load (i32.const 68))
              (then
                (memory.copy (i32.const 128) (i32.const 200) (i32.const 7))
                (i32.store8 (i32.const 32) (i32.const 1))
                (i32.store (i32.const 36) (i32.const 128))
                (i32.store (i32.const 40) (i32.const 7))
                (return (i32.const 32))))
            unreachable"#
            .into(),
        (Misbehaviour::ReadFiles, _) => String::new(),
    }
}

/// The core module. `configure_error`: `configure` answers `err(<that text>)`.
pub fn core_wat(m: Misbehaviour, configure_error: Option<&str>) -> String {
    let import = if matches!(m, Misbehaviour::ReadFiles) {
        r#"(import "wasi:filesystem/preopens@0.2.0" "get-directories" (func $get_directories (param i32)))"#
    } else {
        ""
    };
    let configure = match configure_error {
        None => "(i32.store8 (i32.const 16) (i32.const 0)) (i32.store (i32.const 20) (i32.const 0)) (i32.store (i32.const 24) (i32.const 0))".to_string(),
        Some(text) => format!(
            "(i32.store8 (i32.const 16) (i32.const 1)) (i32.store (i32.const 20) (i32.const 256)) (i32.store (i32.const 24) (i32.const {}))",
            text.len()
        ),
    };
    let error_text = configure_error.unwrap_or("").replace('"', "\\\"");
    let disable = on_trigger(m, "should-disable");
    let backoff = on_trigger(m, "backoff");
    let filter = on_trigger(m, "filter-reload");
    format!(
        r#"(module
  {import}
  (memory (export "memory") 1)
  (data (i32.const 200) "escaped")
  (data (i32.const 256) "{error_text}")
  (global $heap (mut i32) (i32.const 4096))
  ;; A bump allocator: each decision runs in a fresh instance, so nothing is ever freed.
  (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and
      (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
      (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.lt_s (memory.grow (i32.add (i32.const 1)
                  (i32.div_u (global.get $heap) (i32.const 65536)))) (i32.const 0))
              (then unreachable))))
    (if (local.get $old_size) (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
    (local.get $p))
  (func (export "mcpproxy:policy/decisions@0.1.0#configure") (param i32 i32) (result i32)
    {configure}
    (i32.const 16))
  ;; Arguments arrive in memory: `attempt` is at offset 40 of (prepared, event).
  (func (export "mcpproxy:policy/decisions@0.1.0#should-disable") (param $args i32) (result i32)
    (if (i32.eq (i32.load offset=40 (local.get $args)) (i32.const 99)) (then {disable}))
    (i32.store8 (i32.const 32) (i32.const 0))
    (i32.const 32))
  (func (export "mcpproxy:policy/decisions@0.1.0#backoff") (param $args i32) (result i64)
    (if (i32.eq (i32.load offset=40 (local.get $args)) (i32.const 99)) (then {backoff}))
    (i64.const 4242))
  (func (export "mcpproxy:policy/decisions@0.1.0#filter-reload")
      (param $pp i32) (param $pl i32) (param $cp i32) (param $n i32)
      (param $has_disk i32) (param $disk i64) (param $has_stamped i32) (param $stamped i64)
      (result i32)
    (local $count i32)
    (local.set $count (local.get $n))
    (if (i32.and (i32.ne (local.get $has_disk) (i32.const 0)) (i64.eq (local.get $disk) (i64.const 99)))
      (then {filter}))
    ;; `count` verdicts of 12 bytes each; zeroed memory is `apply`.
    (i32.store (i32.const 48)
      (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.mul (local.get $count) (i32.const 12))))
    (i32.store (i32.const 52) (local.get $count))
    (i32.const 48))
)"#
    )
}

/// Wraps a core module into a component for `world` of the WIT `packages` (pushed in order;
/// the last one holds the world).
pub fn component_for(packages: &[&str], world: &str, core: &str) -> Vec<u8> {
    let mut resolve = Resolve::default();
    let mut last = None;
    for (i, text) in packages.iter().enumerate() {
        last = Some(
            resolve
                .push_str(format!("pkg{i}.wit"), text)
                .expect("WIT parses"),
        );
    }
    let pkg = last.expect("at least one package");
    let world = resolve
        .select_world(&[pkg], Some(world))
        .expect("world exists");
    let mut module = wat::parse_str(core).expect("WAT parses");
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .expect("metadata embeds");
    ComponentEncoder::default()
        .module(&module)
        .expect("module fits the world")
        .validate(true)
        .encode()
        .expect("component encodes")
}

/// A guest of the real policy world.
pub fn policy(m: Misbehaviour) -> Vec<u8> {
    component_for(&[POLICY_WIT], "policy", &core_wat(m, None))
}

/// A guest whose `configure` rejects every setting with `message`.
pub fn rejecting(message: &str) -> Vec<u8> {
    component_for(
        &[POLICY_WIT],
        "policy",
        &core_wat(Misbehaviour::Nothing, Some(message)),
    )
}

/// A guest whose reload filter ignores every change (with a reason); its other decisions are
/// `Nothing`'s.
pub fn ignoring_reloads() -> Vec<u8> {
    let core = core_wat(Misbehaviour::Nothing, None);
    let start = core
        .find("(func (export \"mcpproxy:policy/decisions@0.1.0#filter-reload\")")
        .expect("filter-reload in core");
    let reason = "the test policy ignores every reload";
    // `count` verdicts of 12 bytes: discriminant 1 (`ignore`), then the reason's pointer and
    // length.
    let filter = format!(
        r#"(data (i32.const 320) "{reason}")
  (func (export "mcpproxy:policy/decisions@0.1.0#filter-reload")
      (param $pp i32) (param $pl i32) (param $cp i32) (param $n i32)
      (param $has_disk i32) (param $disk i64) (param $has_stamped i32) (param $stamped i64)
      (result i32)
    (local $list i32) (local $at i32) (local $i i32)
    (local.set $list (call $realloc (i32.const 0) (i32.const 0) (i32.const 4)
      (i32.mul (local.get $n) (i32.const 12))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $at (i32.add (local.get $list) (i32.mul (local.get $i) (i32.const 12))))
      (i32.store8 (local.get $at) (i32.const 1))
      (i32.store offset=4 (local.get $at) (i32.const 320))
      (i32.store offset=8 (local.get $at) (i32.const {len}))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.store (i32.const 48) (local.get $list))
    (i32.store (i32.const 52) (local.get $n))
    (i32.const 48))
)"#,
        len = reason.len()
    );
    let core = format!("{}{filter}", &core[..start]);
    component_for(&[POLICY_WIT], "policy", &core)
}

/// A guest built against `mcpproxy:policy@0.3.0`, a version this host does not know.
pub fn wrong_version() -> Vec<u8> {
    let wit = POLICY_WIT.replace("mcpproxy:policy@0.1.0", "mcpproxy:policy@0.3.0");
    let core =
        core_wat(Misbehaviour::Nothing, None).replace("decisions@0.1.0#", "decisions@0.3.0#");
    component_for(&[&wit], "policy", &core)
}

/// A guest whose `decisions` lacks `filter-reload`.
pub fn missing_filter_reload() -> Vec<u8> {
    let wit = POLICY_WIT.replace(
        "filter-reload: func(prepared: list<u8>, diff: config-diff) -> list<verdict>;",
        "",
    );
    assert_ne!(wit, POLICY_WIT, "filter-reload removed from the WIT");
    let core = core_wat(Misbehaviour::Nothing, None);
    let start = core
        .find("(func (export \"mcpproxy:policy/decisions@0.1.0#filter-reload\")")
        .expect("filter-reload in core");
    let core = format!("{}\n)", &core[..start]);
    component_for(&[&wit], "policy", &core)
}

const FAKE_WASI_FILESYSTEM: &str = r#"
package wasi:filesystem@0.2.0;
interface types {
    resource descriptor;
}
interface preopens {
    use types.{descriptor};
    get-directories: func() -> list<tuple<descriptor, string>>;
}
"#;

/// A guest that imports the WASI file system and tries to list its directories.
pub fn reads_files() -> Vec<u8> {
    let wit = POLICY_WIT.replace(
        "world policy {\n    import host;",
        "world policy {\n    import host;\n    import wasi:filesystem/preopens@0.2.0;",
    );
    assert_ne!(wit, POLICY_WIT, "import added to the world");
    component_for(
        &[FAKE_WASI_FILESYSTEM, &wit],
        "policy",
        &core_wat(Misbehaviour::ReadFiles, None),
    )
}

/// A guest that imports an interface the host does not provide.
pub fn imports_network() -> Vec<u8> {
    let net =
        "package evil:net@1.0.0;\ninterface socket {\n    connect: func(addr: string) -> u32;\n}\n";
    importing(net, "evil:net/socket@1.0.0", "connect")
}

/// A guest whose world also imports `function: func(string) -> u32` of `interface`
/// (declared in `package_wit`), and whose core module imports that function.
fn importing(package_wit: &str, interface: &str, function: &str) -> Vec<u8> {
    let wit = POLICY_WIT.replace(
        "world policy {\n    import host;",
        &format!("world policy {{\n    import host;\n    import {interface};"),
    );
    assert_ne!(wit, POLICY_WIT, "import added to the world");
    let core = core_wat(Misbehaviour::Nothing, None).replace(
        "(memory (export \"memory\") 1)",
        &format!("(import \"{interface}\" \"{function}\" (func (param i32 i32) (result i32)))\n  (memory (export \"memory\") 1)"),
    );
    component_for(&[package_wit, &wit], "policy", &core)
}

/// A spawn error on its third try (the default disables it), with `attempt` as given
/// (99 triggers the test guests' misbehaviour).
pub fn event(attempt: u32) -> FailureEvent {
    FailureEvent {
        server: "srv".into(),
        transport: Transport::Stdio,
        kind: FailureKind::SpawnError,
        detail: "No such file or directory".into(),
        exit_code: None,
        http_status: None,
        attempt,
        consecutive_failures: 3,
        failures_in_window: 3,
        window: Duration::from_secs(600),
        since_first_failure: Duration::from_secs(10),
        ready_for: None,
        seed: 1,
    }
}

/// The base guest with `(old, new)` replaced in its core module (which must contain `old`).
fn base_with(old: &str, new: &str) -> Vec<u8> {
    let core = core_wat(Misbehaviour::Nothing, None);
    assert!(core.contains(old), "{old:?} in the base guest");
    component_for(&[POLICY_WIT], "policy", &core.replacen(old, new, 1))
}

const CONFIGURE_HEAD: &str =
    r#"(func (export "mcpproxy:policy/decisions@0.1.0#configure") (param i32 i32) (result i32)"#;
const BACKOFF_ANSWER: &str = "(i64.const 4242))";

/// A guest whose `configure` claims `mib` MiB of linear memory first, so it loads only under
/// a memory cap above that (a JS or Python policy needs 40-64 MiB).
pub fn hungry(mib: u32) -> Vec<u8> {
    base_with(
        CONFIGURE_HEAD,
        &format!(
            "{CONFIGURE_HEAD}\n    (drop (memory.grow (i32.const {})))",
            mib * 16
        ),
    )
}

/// A guest that answers a 10-day backoff to every event: an invalid answer from the first
/// call on, so the host's smoke test refuses it.
pub fn always_absurd_backoff() -> Vec<u8> {
    base_with(BACKOFF_ANSWER, "(i64.const 864000000))")
}

/// A guest that answers a backoff of `ms` to every event (and never disables).
pub fn backoff_of(ms: u64) -> Vec<u8> {
    base_with(BACKOFF_ANSWER, &format!("(i64.const {ms}))"))
}

/// A guest that counts its backoff calls in a global and answers `1000 + count`: it would
/// answer 1001, 1002, ... if any state survived between decisions.
pub fn counting() -> Vec<u8> {
    let core = core_wat(Misbehaviour::Nothing, None)
        .replacen(
            "(global $heap (mut i32) (i32.const 4096))",
            "(global $heap (mut i32) (i32.const 4096))\n  (global $calls (mut i64) (i64.const 1000))",
            1,
        )
        .replacen(
            BACKOFF_ANSWER,
            "(global.set $calls (i64.add (global.get $calls) (i64.const 1))) (global.get $calls))",
            1,
        );
    component_for(&[POLICY_WIT], "policy", &core)
}

/// A guest whose every backoff writes `lines` lines "guest line" to the host's log at warn
/// level.
pub fn logging(lines: u32) -> Vec<u8> {
    let core = core_wat(Misbehaviour::Nothing, None)
        .replacen(
            "(memory (export \"memory\") 1)",
            "(import \"mcpproxy:policy/host@0.1.0\" \"log\" (func $log (param i32 i32 i32)))\n  (memory (export \"memory\") 1)\n  (data (i32.const 300) \"guest line\")",
            1,
        )
        .replacen(
            "(param $args i32) (result i64)",
            "(param $args i32) (result i64) (local $i i32)",
            1,
        )
        .replacen(
            BACKOFF_ANSWER,
            &format!(
                "(loop $more (call $log (i32.const 2) (i32.const 300) (i32.const 10)) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $more (i32.lt_u (local.get $i) (i32.const {lines})))) (i64.const 4242))"
            ),
            1,
        );
    component_for(&[POLICY_WIT], "policy", &core)
}

/// A component of another world: it exports `other:thing/api`, not `decisions`.
pub fn other_world() -> Vec<u8> {
    let wit = "package other:thing@1.0.0;\ninterface api {\n    ping: func() -> u32;\n}\nworld other {\n    export api;\n}\n";
    let core = r#"(module
  (memory (export "memory") 1)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
  (func (export "other:thing/api@1.0.0#ping") (result i32) (i32.const 7)))"#;
    component_for(&[wit], "other", core)
}

/// A guest that imports `wasi:http`, which the host's WASI 0.2 context does not provide.
pub fn imports_wasi_http() -> Vec<u8> {
    let http = "package wasi:http@0.2.0;\ninterface outgoing-handler {\n    handle: func(url: string) -> u32;\n}\n";
    importing(http, "wasi:http/outgoing-handler@0.2.0", "handle")
}

/// A guest whose `should-disable` and `backoff` trap for servers whose name is `name_len`
/// bytes long (the name's length sits at offset 12 of the arguments), and behave otherwise:
/// it passes the host's smoke test (server "example") and fails on a chosen server in a
/// running daemon.
pub fn trapping_for_name_len(name_len: u32) -> Vec<u8> {
    let trigger = "(i32.eq (i32.load offset=40 (local.get $args)) (i32.const 99))";
    let core = core_wat(Misbehaviour::Trap, None);
    assert_eq!(
        core.matches(trigger).count(),
        2,
        "one trigger per event hook"
    );
    let by_name = format!("(i32.eq (i32.load offset=12 (local.get $args)) (i32.const {name_len}))");
    component_for(&[POLICY_WIT], "policy", &core.replace(trigger, &by_name))
}
