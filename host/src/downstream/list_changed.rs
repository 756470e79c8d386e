//! What every downstream endpoint says about itself (`server_info`), which lists changed
//! between two catalogs (`Lists`), and forwarding `tools/list_changed` to one client on every
//! tick of a watch channel until the client is gone or `stop` resolves, for 2026-07-28
//! clients (`subscriptions/listen`). Session clients get theirs from their `notifier`.

use std::future::Future;

use rmcp::ErrorData as McpError;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig, SubscriptionFilter};
use rmcp::service::SubscriptionContext;
use tokio::sync::watch;

use super::catalog::Catalog;

/// An endpoint's `initialize` answer: its name, capabilities and instructions.
pub fn server_info(
    name: &str,
    capabilities: ServerCapabilities,
    instructions: Option<String>,
) -> ServerConfig {
    let info = ServerConfig::new(capabilities)
        .with_server_info(Implementation::new(name, env!("CARGO_PKG_VERSION")));
    match instructions {
        Some(text) => info.with_instructions(text),
        None => info,
    }
}

/// Which lists a client is told have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lists {
    pub tools: bool,
    pub resources: bool,
    pub prompts: bool,
}

impl Lists {
    /// The lists that differ between `old` and `new` (resource templates count as resources).
    pub fn changed(old: &Catalog, new: &Catalog) -> Lists {
        let (tools, resources, prompts) = old.same_lists(new);
        Lists {
            tools: !tools,
            resources: !resources,
            prompts: !prompts,
        }
    }

    /// The lists in both.
    pub fn and(self, other: Lists) -> Lists {
        Lists {
            tools: self.tools && other.tools,
            resources: self.resources && other.resources,
            prompts: self.prompts && other.prompts,
        }
    }
}

/// A handler's `accepted_subscription_filter`: the part of `requested` that `info` supports.
pub fn accepted(requested: &SubscriptionFilter, info: &ServerConfig) -> SubscriptionFilter {
    requested.supported_by(&info.capabilities)
}

/// A handler's `listen` (one `subscriptions/listen` stream): forwards tool-list changes while
/// the subscription is open and `stop` has not resolved, if the client asked for them.
pub async fn listen(
    changes: watch::Receiver<u64>,
    context: SubscriptionContext,
    stop: impl Future<Output = ()>,
) -> Result<(), McpError> {
    let open = async {
        tokio::select! {
            _ = context.cancelled() => {}
            _ = stop => {}
        }
    };
    if wants_tool_changes(context.accepted()) {
        forward(changes, open, || async {
            context.sink().notify_tool_list_changed().await.is_ok()
        })
        .await;
    } else {
        open.await;
    }
    Ok(())
}

/// Calls `notify` once per tick of `changes`, until `notify` reports the client gone
/// (`false`), the channel closes, or `stop` resolves. A tick that `changes` has not seen yet
/// is forwarded at once: callers subscribe before the client can have listed its tools, so
/// no change falls between the listing and the start of forwarding (at worst a client relists
/// once more).
pub async fn forward<N, F>(
    mut changes: watch::Receiver<u64>,
    stop: impl Future<Output = ()>,
    mut notify: N,
) where
    N: FnMut() -> F,
    F: Future<Output = bool>,
{
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            changed = changes.changed() => {
                if changed.is_err() || !notify().await {
                    return;
                }
            }
        }
    }
}

/// Whether a subscription asked for (and was granted) tool-list changes.
fn wants_tool_changes(accepted: &SubscriptionFilter) -> bool {
    accepted.tools_list_changed == Some(true)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio_util::sync::CancellationToken;

    use super::*;

    #[tokio::test]
    async fn one_notification_per_tick_until_the_client_is_gone() {
        let (ticks, changes) = watch::channel(0u64);
        ticks.send_replace(1); // before forwarding starts: forwarded once, at once
        let sent = Arc::new(AtomicUsize::new(0));
        let (delivered_tx, mut delivered_rx) = tokio::sync::mpsc::unbounded_channel();
        let counter = sent.clone();
        let task = tokio::spawn(forward(changes, std::future::pending(), move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let delivered_tx = delivered_tx.clone();
            async move {
                let _ = delivered_tx.send(n);
                n < 2 // the second send finds the client gone
            }
        }));
        assert_eq!(delivered_rx.recv().await, Some(1));
        ticks.send_modify(|n| *n += 1);
        assert_eq!(delivered_rx.recv().await, Some(2));
        task.await.unwrap();
        assert_eq!(sent.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn stop_and_closed_channel_end_forwarding() {
        let (_ticks, changes) = watch::channel(0u64);
        let stop = CancellationToken::new();
        let task = tokio::spawn(forward(changes, stop.clone().cancelled_owned(), || async {
            true
        }));
        stop.cancel();
        task.await.unwrap();

        let (ticks, changes) = watch::channel(0u64);
        let task = tokio::spawn(forward(changes, std::future::pending(), || async { true }));
        drop(ticks);
        task.await.unwrap();
    }
}
