//! What one upstream server offers: its capabilities and instructions from the handshake,
//! and its tools, resources, resource templates and prompts, listed when it became Ready and
//! again after each of its `list_changed` notifications.

use rmcp::model::{Prompt, Resource, ResourceTemplate, ServerCapabilities, Tool};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offer {
    pub capabilities: ServerCapabilities,
    pub instructions: Option<String>,
    pub tools: Vec<Tool>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
}

impl Offer {
    /// A server that offers tools and nothing else.
    pub fn tools(tools: Vec<Tool>) -> Offer {
        let mut capabilities = ServerCapabilities::default();
        capabilities.tools = Some(Default::default());
        Offer {
            capabilities,
            tools,
            ..Offer::default()
        }
    }

    pub fn has_logging(&self) -> bool {
        self.capabilities.logging.is_some()
    }
}

/// The offer of one Ready server, under its name.
#[derive(Debug, Clone)]
pub struct ServerOffer {
    pub server: String,
    pub offer: std::sync::Arc<Offer>,
}
