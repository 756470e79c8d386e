//! Start-up progress in the log (`N/M servers settled`), so that a user watching a large
//! config come up sees it moving, and sees where it stops if it does.

use std::time::Duration;

use tracing::info;

use crate::supervisor::Registry;

/// At most one progress line per this interval.
const EVERY: Duration = Duration::from_secs(1);

pub async fn log_until_settled(registry: Registry) {
    let mut changes = registry.state_changes();
    let mut last = None;
    loop {
        let snapshot = registry.snapshot();
        let total = snapshot.len();
        let settled = snapshot
            .iter()
            .filter(|s| s.connection_state.is_settled())
            .count();
        if last != Some(settled) {
            info!("{settled}/{total} servers settled");
            last = Some(settled);
        }
        if settled == total {
            return;
        }
        // Wake on the next state change, but log no more often than EVERY.
        let _ = tokio::time::timeout(EVERY, changes.changed()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
