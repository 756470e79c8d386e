//! The actor's tool review: its server's tools against their approval, the policy's answer
//! for any difference, and a user's approval of the tools as they are now.

use tracing::warn;

use super::{Actor, SupervisorError};
use crate::approval::{self, Reviewed};
use crate::status::ConnectionState;

impl Actor {
    /// Shows nothing of the server: quarantined in the config, or by the policy's review (until
    /// the config says so too).
    pub(super) fn withheld(&self) -> bool {
        self.config.quarantined || self.reviewed.quarantine.is_some()
    }

    /// Reviews the offer's tools. A quarantined server is not reviewed: approving it records
    /// its tools. A server never approved nor seen has its tools recorded as seen.
    pub(super) fn review_tools(&mut self) {
        let quarantine = self.reviewed.quarantine.take();
        self.reviewed = Reviewed::default();
        if self.config.quarantined {
            self.reviewed.quarantine = quarantine;
            return;
        }
        let name = &self.config.name;
        let approvals = &self.shared.approvals;
        let Some(approved) = approvals.get(name) else {
            approvals.record_seen(name, approval::approve(&self.offer.tools));
            return;
        };
        let Some(review) = approval::compare(name, &approved, &self.offer.tools) else {
            return;
        };
        let decision = self.shared.policy.review_tools(&review);
        self.reviewed = approval::reviewed(&review, decision);
        if let Some(reason) = &self.reviewed.quarantine {
            warn!(server = %name, "tools changed since approval; the policy quarantined the server: {reason}");
            self.shared.sink.quarantined(name, reason);
        } else if !self.reviewed.hidden.is_empty() {
            let hidden: Vec<&str> = self.reviewed.hidden.keys().map(String::as_str).collect();
            warn!(server = %name, hidden = ?hidden, "tools changed since approval; hidden until approved (`mcpproxy upstream approve {name}`)");
        }
    }

    /// Drops the server's approval: the next tools it offers are recorded as seen.
    pub(super) fn forget_approval(&mut self) {
        if let Err(e) = self.shared.approvals.set(&self.config.name, None) {
            warn!(server = %self.config.name, "could not drop the approval of the tools: {e}");
        }
    }

    /// A user approves the server's tools as offered now. Not Ready: a quarantined server's
    /// first tools will be recorded when it is; any other keeps its record.
    pub(super) fn approve_tools(&mut self) -> Result<Approved, SupervisorError> {
        let config_quarantined = self.config.quarantined;
        let withheld = self.withheld();
        let tools = if self.state == ConnectionState::Ready {
            Some(approval::approve(&self.offer.tools))
        } else if withheld {
            None
        } else {
            return Ok(Approved {
                hidden: 0,
                withheld,
                config_quarantined,
            });
        };
        self.shared
            .approvals
            .set(&self.config.name, tools)
            .map_err(|e| SupervisorError::Approval {
                server: self.config.name.clone(),
                message: e.to_string(),
            })?;
        let hidden = self.reviewed.hidden.len();
        self.reviewed = Reviewed::default();
        self.publish();
        Ok(Approved {
            hidden,
            withheld,
            config_quarantined,
        })
    }
}

/// What an approval of a server's tools found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approved {
    /// Tools that were hidden and now show.
    pub hidden: usize,
    /// The server showed nothing (quarantined in the config or by the review).
    pub withheld: bool,
    /// The config says `quarantined`: approving the server is also a config edit.
    pub config_quarantined: bool,
}
