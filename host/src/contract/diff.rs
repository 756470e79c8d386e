//! A config diff as a policy sees it: which servers and top-level keys a reload would change.
//! The Rust twin of `change-target`, `change-kind`, `change` and `config-diff` in
//! `wit/policy.wit`; `config::diff` computes it.

/// What a change applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChangeTarget {
    Server(String),
    /// A top-level key, named as in the file (e.g. `call_tool_timeout`).
    Global(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

/// One difference between the running config and the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub target: ChangeTarget,
    pub kind: ChangeKind,
    /// For a modified server: the file names of the fields that differ. Empty otherwise.
    pub fields: Vec<String>,
}

/// All differences of one reload, plus the generations the policy may want to weigh.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigDiff {
    pub changes: Vec<Change>,
    /// `generation` in the file just read.
    pub disk_generation: Option<u64>,
    /// The last generation this daemon stamped, if it has saved.
    pub stamped_generation: Option<u64>,
}

impl ConfigDiff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}
