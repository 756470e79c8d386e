//! The tasks clients made through this daemon, of either revision: the tasks extension of MCP
//! 2026-07-28 (SEP-2663; `tasks/get`, `tasks/update`, `tasks/cancel`) and the tasks of
//! 2025-11-25 (SEP-1686; `tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel`, see
//! `handler::legacy_requests`). An upstream that answers a tool call with a task has it reach the
//! client; the task's requests then go to the server that made it.
//!
//! Where several servers show (`/mcp`, `/mcp/all`) the client sees a task's id as
//! `<server>:<id>`, so two servers' ids cannot meet and the id says where it goes (server names
//! hold no `:`); on `/mcp/server/<name>` it is the server's own. A task belongs to the token
//! that made it: for any other caller it does not exist, as it does not for the server's
//! other clients.

use std::collections::{HashMap, HashSet, VecDeque};
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
    /// `(server, its id)` → the session that made it, for the 2025-11-25 tasks whose status
    /// the server announces (`notifications/tasks/status`): it goes to that session only.
    made_in: HashMap<(String, String), u64>,
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
                    known.made_in.remove(&(oldest.1, oldest.2));
                }
            }
        }
        shown(scope, server, id)
    }

    /// Records that session `session` made `server`'s task `id` (adopted already).
    pub fn made_in(&self, server: &str, id: &str, session: u64) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known
            .made_in
            .insert((server.to_string(), id.to_string()), session);
    }

    /// The session that made `server`'s task `id`, if one is known.
    pub fn session_of(&self, server: &str, id: &str) -> Option<u64> {
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        known
            .made_in
            .get(&(server.to_string(), id.to_string()))
            .copied()
    }

    /// The tasks `token` made, as `(server, the server's id)`, oldest first.
    pub fn made_by(&self, token: Option<&str>) -> Vec<(String, String)> {
        let token = token.unwrap_or_default();
        let known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = known.order.iter().filter(|owner| owner.0 == token);
        mine.map(|owner| (owner.1.clone(), owner.2.clone()))
            .collect()
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
        // What each token made, and where a task's status goes.
        assert_eq!(
            tasks.made_by(Some("ci")),
            vec![("slow".to_string(), "t-1".to_string())]
        );
        assert_eq!(tasks.made_by(None).len(), 1);
        assert!(tasks.made_by(Some("other")).is_empty());
        tasks.made_in("slow", "t-1", 7);
        assert_eq!(tasks.session_of("slow", "t-1"), Some(7));
        assert_eq!(tasks.session_of("slow", "t:2"), None);
    }

    #[test]
    fn past_the_limit_the_oldest_tasks_are_forgotten() {
        let tasks = Tasks::default();
        for i in 0..=MAX_TASKS {
            tasks.adopt(&Scope::All, None, "s", &i.to_string());
            tasks.made_in("s", &i.to_string(), 1);
        }
        assert!(tasks.route(&Scope::All, None, "s:0").is_err());
        assert_eq!(tasks.session_of("s", "0"), None);
        assert_eq!(tasks.session_of("s", "1"), Some(1));
        assert!(tasks.route(&Scope::All, None, "s:1").is_ok());
        assert!(
            tasks
                .route(&Scope::All, None, &format!("s:{MAX_TASKS}"))
                .is_ok()
        );
    }
}
