//! Tasks (the tasks extension of MCP 2026-07-28, SEP-2663) passed through. An upstream that
//! answers a tool call with a task handle has it reach the client; `tasks/get`,
//! `tasks/update` and `tasks/cancel` then go to the server that made the task.
//!
//! Where several servers show (`/mcp`, `/mcp/all`) the client sees a task's id as
//! `<server>:<id>`, so two servers' ids cannot meet and the id says where it goes (server names
//! hold no `:`); on `/mcp/server/<name>` it is the server's own. A task belongs to the token
//! that made it: for any other caller it does not exist, as it does not for the server's
//! other clients.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

use rmcp::ErrorData as McpError;

use super::catalog::Scope;

/// Tasks remembered at most; past it the oldest are forgotten (their clients are told they
/// do not exist). Servers keep a task for its TTL, minutes by default.
const MAX_TASKS: usize = 10_000;

/// The tasks clients made through this daemon, by owner. A std mutex: a set update under
/// it, never an await.
#[derive(Default)]
pub struct Tasks {
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    owners: HashSet<Owner>,
    /// In the order they were made, to forget the oldest.
    order: VecDeque<Owner>,
}

/// Token (empty without tokens), server, the server's task id.
type Owner = (String, String, String);

impl Tasks {
    /// Records the task `id` that `server` made for `token`; the id the client is to see.
    pub fn adopt(&self, scope: &Scope, token: Option<&str>, server: &str, id: &str) -> String {
        let owner = (
            token.unwrap_or_default().to_string(),
            server.to_string(),
            id.to_string(),
        );
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.owners.insert(owner.clone()) {
            known.order.push_back(owner);
            while known.order.len() > MAX_TASKS {
                if let Some(oldest) = known.order.pop_front() {
                    known.owners.remove(&oldest);
                }
            }
        }
        shown(scope, server, id)
    }

    /// The server and its own id of the task the client calls `shown`, if `token` made it.
    pub fn route(
        &self,
        scope: &Scope,
        token: Option<&str>,
        shown: &str,
    ) -> Result<(String, String), McpError> {
        let (server, id) = match scope {
            Scope::All => shown.split_once(':').unwrap_or(("", shown)),
            Scope::One(server) => (server.as_str(), shown),
        };
        let owner = (
            token.unwrap_or_default().to_string(),
            server.to_string(),
            id.to_string(),
        );
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.owners.contains(&owner) {
            Ok((owner.1, owner.2))
        } else {
            Err(McpError::invalid_params(
                format!("unknown task {shown:?}"),
                None,
            ))
        }
    }
}

/// The id a client of `scope` sees for `server`'s task `id`.
pub fn shown(scope: &Scope, server: &str, id: &str) -> String {
    match scope {
        Scope::All => format!("{server}:{id}"),
        Scope::One(_) => id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_found_by_the_id_its_client_sees_and_only_by_its_token() {
        let tasks = Tasks::default();
        let all = Scope::All;
        let one = Scope::One("slow".to_string());
        assert_eq!(tasks.adopt(&all, Some("ci"), "slow", "t-1"), "slow:t-1");
        assert_eq!(
            tasks.route(&all, Some("ci"), "slow:t-1").unwrap(),
            ("slow".to_string(), "t-1".to_string())
        );
        // The same task on the server's own endpoint, by its own id.
        assert_eq!(
            tasks.route(&one, Some("ci"), "t-1").unwrap(),
            ("slow".to_string(), "t-1".to_string())
        );
        assert_eq!(tasks.adopt(&one, None, "slow", "t:2"), "t:2");
        assert!(tasks.route(&all, None, "slow:t:2").is_ok());
        // Another token, another server, an id never handed out: unknown.
        assert!(tasks.route(&all, Some("other"), "slow:t-1").is_err());
        assert!(tasks.route(&all, Some("ci"), "fast:t-1").is_err());
        assert!(tasks.route(&all, Some("ci"), "t-1").is_err());
    }

    #[test]
    fn past_the_limit_the_oldest_tasks_are_forgotten() {
        let tasks = Tasks::default();
        for i in 0..=MAX_TASKS {
            tasks.adopt(&Scope::All, None, "s", &i.to_string());
        }
        assert!(tasks.route(&Scope::All, None, "s:0").is_err());
        assert!(tasks.route(&Scope::All, None, "s:1").is_ok());
        assert!(
            tasks
                .route(&Scope::All, None, &format!("s:{MAX_TASKS}"))
                .is_ok()
        );
    }
}
