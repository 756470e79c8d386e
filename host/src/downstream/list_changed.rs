//! What every downstream endpoint says about itself (`server_info`), which lists changed
//! between two catalogs (`Lists`), and which notifications a 2026-07-28 client's
//! `subscriptions/listen` may have (`accepted`); the `notifier` sends them.

use rmcp::model::{Implementation, ServerCapabilities, ServerConfig, SubscriptionFilter};

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
