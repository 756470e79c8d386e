//! Tool pinning's half of the contract: the Rust twins of `tool-change`, `tool-review`,
//! `tool-verdict` and `review-decision` in `wit/policy.wit` (0.2.0).

/// The fields of a tool that say what it does, as `tool-change.changed-fields` names them.
pub const TOOL_FIELDS: [&str; 5] = [
    "title",
    "description",
    "input-schema",
    "output-schema",
    "annotations",
];

/// One tool a server offers now, compared with the approved tool of that name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ToolChange {
    pub name: String,
    /// `None`: the tool was not there at approval.
    pub approved_hash: Option<String>,
    pub current_hash: String,
    /// Of `TOOL_FIELDS`, those that differ since approval.
    pub changed_fields: Vec<String>,
}

impl ToolChange {
    pub fn is_new(&self) -> bool {
        self.approved_hash.is_none()
    }

    pub fn is_changed(&self) -> bool {
        self.approved_hash
            .as_deref()
            .is_some_and(|h| h != self.current_hash)
    }
}

/// A server's tools, now that they differ from its approved tools.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ToolReview {
    pub server: String,
    /// Every tool the server offers now, in its order.
    pub tools: Vec<ToolChange>,
    /// Approved tools the server no longer offers.
    pub removed: Vec<String>,
}

/// What becomes of one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolVerdict {
    Expose,
    Hide { reason: String },
}

/// The answer to `review-tools`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewDecision {
    /// One verdict per tool of the review, in order.
    PerTool(Vec<ToolVerdict>),
    /// Quarantine the whole server, for this reason.
    Quarantine { reason: String },
}
