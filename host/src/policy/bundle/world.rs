//! Which WIT worlds a bundle may target: the same package and world as this host, and a version
//! the host can run (same major.minor while the package is 0.x, else same major and a minor no
//! newer than the host's). Pure.

/// The policy worlds this host runs, newest first (`package mcpproxy:policy@0.2.0; world
/// policy`, and 0.1.0 before it).
pub const HOST_WORLDS: [&str; 2] = [
    "mcpproxy:policy/policy@0.2.0",
    "mcpproxy:policy/policy@0.1.0",
];
/// The newest, which a bundle gets when its manifest names none.
pub const HOST_WORLD: &str = HOST_WORLDS[0];

/// A parsed world reference `namespace:package/world@major.minor.patch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldRef {
    pub package: String,
    pub world: String,
    pub version: (u64, u64, u64),
}

/// Parse `ns:pkg/world@1.2.3`; `None` when it has another shape.
pub fn parse_world(text: &str) -> Option<WorldRef> {
    let (path, version) = text.split_once('@')?;
    let (package, world) = path.split_once('/')?;
    let (ns, pkg) = package.split_once(':')?;
    if ns.is_empty() || pkg.is_empty() || world.is_empty() {
        return None;
    }
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() {
        return None;
    }
    Some(WorldRef {
        package: package.to_string(),
        world: world.to_string(),
        version,
    })
}

/// Can a host implementing `host` run a component built against `bundle`?
pub fn world_compatible(bundle: &WorldRef, host: &WorldRef) -> bool {
    if bundle.package != host.package || bundle.world != host.world {
        return false;
    }
    let (bmaj, bmin, _) = bundle.version;
    let (hmaj, hmin, _) = host.version;
    if hmaj == 0 {
        bmaj == 0 && bmin == hmin
    } else {
        bmaj == hmaj && bmin <= hmin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_world_matches_the_wit_file() {
        let wit = include_str!("../../../../wit/policy.wit");
        let old = include_str!("../../../../wit/0.1.0/policy.wit");
        assert!(old.contains("package mcpproxy:policy@0.1.0;"));
        let host = parse_world(HOST_WORLD).unwrap();
        let (maj, min, patch) = host.version;
        assert!(wit.contains(&format!("package {}@{maj}.{min}.{patch};", host.package)));
        assert!(wit.contains(&format!("world {} {{", host.world)));
    }

    #[test]
    fn compatibility_table() {
        let cases = [
            (
                "mcpproxy:policy/policy@0.1.0",
                "mcpproxy:policy/policy@0.1.0",
                true,
            ),
            (
                "mcpproxy:policy/policy@0.1.7",
                "mcpproxy:policy/policy@0.1.0",
                true,
            ),
            (
                "mcpproxy:policy/policy@0.2.0",
                "mcpproxy:policy/policy@0.1.0",
                false,
            ),
            (
                "mcpproxy:policy/policy@1.0.0",
                "mcpproxy:policy/policy@0.1.0",
                false,
            ),
            (
                "mcpproxy:other/policy@0.1.0",
                "mcpproxy:policy/policy@0.1.0",
                false,
            ),
            (
                "mcpproxy:policy/other@0.1.0",
                "mcpproxy:policy/policy@0.1.0",
                false,
            ),
            (
                "mcpproxy:policy/policy@1.1.0",
                "mcpproxy:policy/policy@1.2.0",
                true,
            ),
            (
                "mcpproxy:policy/policy@1.3.0",
                "mcpproxy:policy/policy@1.2.0",
                false,
            ),
            (
                "mcpproxy:policy/policy@2.0.0",
                "mcpproxy:policy/policy@1.2.0",
                false,
            ),
        ];
        for (bundle, host, want) in cases {
            let got = world_compatible(&parse_world(bundle).unwrap(), &parse_world(host).unwrap());
            assert_eq!(got, want, "{bundle} on {host}");
        }
    }

    #[test]
    fn malformed_worlds_do_not_parse() {
        for bad in [
            "",
            "policy",
            "mcpproxy:policy/policy",
            "mcpproxy:policy@0.1.0",
            ":p/w@0.1.0",
            "a:b/c@0.1",
            "a:b/c@0.1.0.1",
            "a:b/c@x.1.0",
        ] {
            assert_eq!(parse_world(bad), None, "{bad}");
        }
    }
}
