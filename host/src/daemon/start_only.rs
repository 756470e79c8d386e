//! Config keys the daemon reads only at start (`listen`, `data_dir`, `watch_debounce_ms`), and
//! which of them later edits have changed: status shows those as `restart_needed`, so a user
//! who edits one learns that the edit is waiting for a restart. Pure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;

/// The start-only keys as the daemon started with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOnly {
    listen: SocketAddr,
    data_dir: Option<PathBuf>,
    watch_debounce: Duration,
}

impl StartOnly {
    pub fn of(config: &Config) -> Self {
        StartOnly {
            listen: config.listen,
            data_dir: config.data_dir.clone(),
            watch_debounce: config.watch_debounce,
        }
    }

    /// The keys (as named in the file) whose value in `now` differs from the start.
    pub fn changed_in(&self, now: &Config) -> Vec<&'static str> {
        [
            ("listen", self.listen != now.listen),
            ("data_dir", self.data_dir != now.data_dir),
            (
                "watch_debounce_ms",
                self.watch_debounce != now.watch_debounce,
            ),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(key, _)| key)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_only_the_start_only_keys_that_differ_and_forgets_an_edit_undone() {
        let start = crate::config::load::parse(std::path::Path::new("c.json"), "{}").unwrap();
        let at_start = StartOnly::of(&start);
        let mut edited = start.clone();
        edited.watch_debounce = Duration::from_millis(50);
        edited.call_tool_timeout = Duration::from_secs(1);
        assert_eq!(at_start.changed_in(&edited), ["watch_debounce_ms"]);
        edited.listen = "127.0.0.1:9999".parse().unwrap();
        edited.data_dir = Some(PathBuf::from("/elsewhere"));
        assert_eq!(
            at_start.changed_in(&edited),
            ["listen", "data_dir", "watch_debounce_ms"]
        );
        assert!(at_start.changed_in(&start).is_empty());
    }
}
