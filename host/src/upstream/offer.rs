//! What one upstream server offers: its capabilities and instructions from the handshake,
//! and its tools, resources, resource templates and prompts, listed when it became Ready and
//! again after each of its `list_changed` notifications, with what it said about caching
//! each list (2026-07-28) and the protocol revision it speaks.

use rmcp::model::{CacheScope, Prompt, Resource, ResourceTemplate, ServerCapabilities, Tool};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offer {
    /// The revision the session negotiated (`2026-07-28`, `2025-11-25`, ...).
    pub protocol_version: Option<String>,
    pub capabilities: ServerCapabilities,
    pub instructions: Option<String>,
    pub tools: Vec<Tool>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
    pub hints: ListHints,
}

/// What a list result said about caching it: how long it stays fresh (`ttlMs`) and who may
/// keep it (`cacheScope`). Servers before 2026-07-28 say nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheHint {
    pub ttl_ms: Option<u64>,
    pub scope: Option<CacheScope>,
}

impl CacheHint {
    pub fn new(ttl_ms: Option<u64>, scope: Option<CacheScope>) -> CacheHint {
        CacheHint { ttl_ms, scope }
    }

    /// The hint with nothing left unsaid: no `ttlMs` counts as 0 (stale at once), no
    /// `cacheScope` as private.
    pub fn said(self) -> CacheHint {
        let scope = self.scope.unwrap_or(CacheScope::Private);
        CacheHint::new(Some(self.ttl_ms.unwrap_or(0)), Some(scope))
    }

    /// What holds for a result made of both: the shorter freshness and the narrower scope.
    pub fn and(self, other: CacheHint) -> CacheHint {
        let (a, b) = (self.said(), other.said());
        let scope = if a.scope == b.scope {
            a.scope
        } else {
            Some(CacheScope::Private)
        };
        CacheHint::new(a.ttl_ms.min(b.ttl_ms), scope)
    }

    /// The same freshness, for the caller alone.
    pub fn private(self) -> CacheHint {
        self.and(CacheHint::new(self.ttl_ms, Some(CacheScope::Private)))
    }
}

/// The cache hints of each list an offer holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListHints {
    pub tools: CacheHint,
    pub resources: CacheHint,
    pub templates: CacheHint,
    pub prompts: CacheHint,
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
