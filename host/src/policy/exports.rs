//! Load-time checks of a policy component's world: which `decisions` version it exports,
//! whether all functions are there, and whether every import is one the host provides.
//!
//! Pure over the component's type (no instantiation), so a bad policy is refused with a
//! message that names the export or import at fault before it ever runs.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::bindings::{DECISIONS_INTERFACE, WORLD_VERSIONS, decisions_functions};

/// What a component looks like from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldInfo {
    /// The version of `mcpproxy:policy/decisions` it exports, e.g. `0.2.0`.
    pub version: String,
    /// Of `WORLD_VERSIONS`, the one it is run as (and linked against).
    pub world: &'static str,
    /// It imports WASI interfaces, and gets the deny-all WASI context.
    pub needs_wasi: bool,
    /// Every import name, for `policy check`.
    pub imports: Vec<String>,
}

/// Why a component does not fit the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldProblem {
    /// Export or version mismatch, a missing function: the message says which.
    World(String),
    /// An import the host does not provide.
    UnknownImport(String),
}

/// Splits `ns:pkg/iface@1.2.3` into (`ns:pkg/iface`, `Some("1.2.3")`).
fn split_version(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((base, version)) => (base, Some(version)),
        None => (name, None),
    }
}

/// Semver compatibility as the component model applies it: same major, and for 0.x the
/// same minor.
pub fn version_compatible(wanted: &str, offered: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut it = core.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(wanted), parse(offered)) {
        (Some((0, wm)), Some((0, om))) => wm == om,
        (Some((wj, _)), Some((oj, _))) => wj == oj,
        _ => false,
    }
}

pub fn check(engine: &Engine, component: &Component) -> Result<WorldInfo, WorldProblem> {
    let ty = component.component_type();
    let wanted = format!("{DECISIONS_INTERFACE}@{}", WORLD_VERSIONS[0]);

    let exports: Vec<(String, ComponentItem)> = ty
        .exports(engine)
        .map(|(name, e)| (name.to_string(), e.ty))
        .collect();
    let Some((name, item)) = exports
        .iter()
        .find(|(name, _)| split_version(name).0 == DECISIONS_INTERFACE)
    else {
        let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
        return Err(WorldProblem::World(format!(
            "does not export `{wanted}` (it exports: {})",
            if names.is_empty() {
                "nothing".to_string()
            } else {
                names.join(", ")
            }
        )));
    };
    let version = split_version(name).1.unwrap_or("").to_string();
    let Some(world) = WORLD_VERSIONS
        .into_iter()
        .find(|w| version_compatible(w, &version))
    else {
        return Err(WorldProblem::World(format!(
            "exports {name}, this mcpproxy needs @{}",
            WORLD_VERSIONS.join(" or @")
        )));
    };
    let ComponentItem::ComponentInstance(instance) = item else {
        return Err(WorldProblem::World(format!(
            "exports `{name}`, but not as an interface instance"
        )));
    };
    let missing: Vec<&str> = decisions_functions(world)
        .iter()
        .copied()
        .filter(|f| {
            !matches!(
                instance.get_export(engine, f).map(|e| e.ty),
                Some(ComponentItem::ComponentFunc(_))
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(WorldProblem::World(format!(
            "its `{name}` export lacks the function(s) {}",
            missing.join(", ")
        )));
    }

    let mut needs_wasi = false;
    let mut imports = Vec::new();
    for (import, _) in ty.imports(engine) {
        let (base, v) = split_version(import);
        if HOST_INTERFACES.contains(&base) {
            // One world's interfaces: a 0.2.0 `decisions` with a 0.1.0 `host` links nowhere.
            if !v.is_some_and(|v| version_compatible(world, v)) {
                return Err(WorldProblem::World(format!(
                    "imports {import}, and its `decisions` is @{version}: both must be @{world}"
                )));
            }
        } else if is_provided_wasi(base, v) {
            needs_wasi = true;
        } else {
            // Refused here by name, rather than by the linker's generic "cannot be
            // instantiated" later.
            return Err(WorldProblem::UnknownImport(import.to_string()));
        }
        imports.push(import.to_string());
    }
    Ok(WorldInfo {
        version,
        world,
        needs_wasi,
        imports,
    })
}

/// The interfaces of the policy package a component may import.
const HOST_INTERFACES: [&str; 2] = ["mcpproxy:policy/host", "mcpproxy:policy/types"];

/// The WASI 0.2 packages the deny-all WASI context links (`wasmtime_wasi::p2`); `wasi:http`,
/// WASI 0.3 and the like are not provided.
const WASI_PACKAGES: [&str; 6] = [
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/",
    "wasi:filesystem/",
    "wasi:sockets/",
];

fn is_provided_wasi(base: &str, version: Option<&str>) -> bool {
    WASI_PACKAGES.iter().any(|p| base.starts_with(p))
        && version.is_some_and(|v| version_compatible("0.2.0", v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let table = [
            ("0.1.0", "0.1.0", true),
            ("0.1.0", "0.1.7", true),
            ("0.1.0", "0.2.0", false),
            ("0.1.0", "1.0.0", false),
            ("1.0.0", "1.4.0", true),
            ("1.0.0", "2.0.0", false),
            ("0.1.0", "", false),
            ("0.1.0", "0.1.0-rc1", true),
        ];
        for (wanted, offered, ok) in table {
            assert_eq!(
                version_compatible(wanted, offered),
                ok,
                "{wanted} vs {offered}"
            );
        }
    }

    #[test]
    fn only_the_linked_wasi_is_provided() {
        assert!(is_provided_wasi("wasi:io/streams", Some("0.2.6")));
        assert!(is_provided_wasi("wasi:cli/environment", Some("0.2.0")));
        assert!(!is_provided_wasi(
            "wasi:http/outgoing-handler",
            Some("0.2.0")
        ));
        assert!(!is_provided_wasi("wasi:io/streams", Some("0.3.0")));
        assert!(!is_provided_wasi("wasi:io/streams", None));
        assert!(!is_provided_wasi("wasix:io/streams", Some("0.2.0")));
    }

    #[test]
    fn split() {
        assert_eq!(split_version("a:b/c@0.1.0"), ("a:b/c", Some("0.1.0")));
        assert_eq!(split_version("a:b/c"), ("a:b/c", None));
    }
}
