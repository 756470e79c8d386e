//! Config keys the daemon reads only at start (`listen`, `data_dir`: `GlobalKey::is_start_only`),
//! and which of them later edits have changed: status shows those as `restart_needed`, so a
//! user who edits one learns that the edit is waiting for a restart. Pure.

use crate::config::{Config, GlobalKey};

/// The start-only keys as the daemon started with them.
#[derive(Debug, Clone, PartialEq)]
pub struct StartOnly {
    /// The config at start, without its servers (only top-level keys are compared).
    at_start: Config,
}

impl StartOnly {
    pub fn of(config: &Config) -> Self {
        StartOnly {
            at_start: Config {
                servers: Vec::new(),
                ..config.clone()
            },
        }
    }

    /// The start-only keys whose value in `now` differs from the start, in file order.
    pub fn changed_in(&self, now: &Config) -> Vec<GlobalKey> {
        GlobalKey::ALL
            .into_iter()
            .filter(|k| k.is_start_only() && k.differs(&self.at_start, now))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    #[test]
    fn names_only_the_start_only_keys_that_differ_and_forgets_an_edit_undone() {
        let start = crate::config::load::parse(std::path::Path::new("c.json"), "{}").unwrap();
        let at_start = StartOnly::of(&start);
        let mut edited = start.clone();
        edited.watch_debounce = Duration::from_millis(50);
        edited.call_tool_timeout = Duration::from_secs(1);
        assert!(at_start.changed_in(&edited).is_empty(), "both apply live");
        edited.data_dir = Some(PathBuf::from("/elsewhere"));
        assert_eq!(at_start.changed_in(&edited), [GlobalKey::DataDir]);
        edited.listen = "127.0.0.1:9999".parse().unwrap();
        assert_eq!(
            at_start.changed_in(&edited),
            [GlobalKey::Listen, GlobalKey::DataDir]
        );
        assert!(at_start.changed_in(&start).is_empty());
    }
}
