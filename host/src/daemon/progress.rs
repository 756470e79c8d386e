//! Start-up progress. In the log, `N/M servers settled`, so that a user watching a large
//! config come up sees it moving, and sees where it stops if it does. On a terminal, one line
//! rewritten in place (`112/159 ready, 20 retrying, 27 disabled`) instead of scrolling log
//! lines: while it is shown, `console_quiet` keeps info and debug lines off the terminal (the
//! log file still gets every line).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::info;

use crate::status::{ConnectionState, Phase};
use crate::supervisor::{Progress, Registry};

/// At most one progress line in the log per this interval.
const EVERY: Duration = Duration::from_secs(1);
/// At most one look at the servers (and update of the terminal's line) per this interval:
/// a thousand servers starting change state hundreds of times a second.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// Set while the terminal shows the progress line.
static LINE_SHOWN: AtomicBool = AtomicBool::new(false);

/// Whether the console writer is to leave out info and debug lines now.
pub fn console_quiet() -> bool {
    LINE_SHOWN.load(Ordering::Relaxed)
}

/// `112/159 ready, 20 retrying, 27 disabled`: what the servers are doing. Pure.
pub fn line(phases: impl IntoIterator<Item = Phase>) -> String {
    let (mut total, mut ready, mut starting, mut retrying, mut disabled) = (0, 0, 0, 0, 0);
    for phase in phases {
        total += 1;
        match phase.state {
            ConnectionState::Ready => ready += 1,
            ConnectionState::AutoDisabled | ConnectionState::Disabled => disabled += 1,
            // Past its first attempt: waiting for, or making, another.
            _ if phase.is_settled() => retrying += 1,
            _ => starting += 1,
        }
    }
    let mut parts = vec![format!("{ready}/{total} ready")];
    for (n, word) in [
        (starting, "starting"),
        (retrying, "retrying"),
        (disabled, "disabled"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    parts.join(", ")
}

pub async fn log_until_settled(registry: Registry) {
    let terminal = std::io::stderr().is_terminal();
    LINE_SHOWN.store(terminal, Ordering::Relaxed);
    let mut changes = registry.state_changes();
    let mut last: Option<(usize, Instant)> = None;
    loop {
        let looked = Instant::now();
        let phases = registry.phases();
        let Progress { settled, total } = Progress::of(&phases);
        if terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", line(phases));
            let _ = err.flush();
        }
        let due = last.is_none_or(|(logged, at)| {
            logged != settled && (settled == total || at.elapsed() >= EVERY)
        });
        if due {
            info!("{settled}/{total} servers settled");
            last = Some((settled, looked));
        }
        if settled == total {
            if terminal {
                LINE_SHOWN.store(false, Ordering::Relaxed);
                let _ = writeln!(std::io::stderr());
            }
            return;
        }
        // Wake on the next state change, but look no more often than LOOK_EVERY.
        let _ = tokio::time::timeout(EVERY, changes.changed()).await;
        tokio::time::sleep_until((looked + LOOK_EVERY).into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionState::*;

    #[test]
    fn the_line_counts_what_servers_do() {
        let first = |state| Phase {
            state,
            retrying: false,
        };
        let again = |state| Phase {
            state,
            retrying: true,
        };
        let phases = [
            first(Ready),
            first(Ready),
            again(Sleeping),
            first(AutoDisabled),
            first(Disabled),
            first(Connecting),
            again(Connecting),
            first(Pending),
        ];
        assert_eq!(
            line(phases),
            "2/8 ready, 2 starting, 2 retrying, 2 disabled"
        );
        assert_eq!(line([]), "0/0 ready");
    }
}
