//! Config keys the daemon reads only at start (`listen`, `data_dir`), and which of them later
//! edits have changed: status shows those as `restart_needed`, so a user who edits one learns
//! that the edit is waiting for a restart. Pure.

use crate::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The start-only keys as the daemon started with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOnly {
    listen: SocketAddr,
    data_dir: Option<PathBuf>,
}

impl StartOnly {
    pub fn of(config: &Config) -> Self {
        StartOnly {
            listen: config.listen,
            data_dir: config.data_dir.clone(),
        }
    }

    /// The keys (as named in the file) whose value in `now` differs from the start.
    pub fn changed_in(&self, now: &Config) -> Vec<&'static str> {
        [
            ("listen", self.listen != now.listen),
            ("data_dir", self.data_dir != now.data_dir),
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
        assert_eq!(at_start.changed_in(&edited), ["data_dir"]);
        edited.listen = "127.0.0.1:9999".parse().unwrap();
        assert_eq!(at_start.changed_in(&edited), ["listen", "data_dir"]);
        assert!(at_start.changed_in(&start).is_empty());
    }
}
