//! What an actor shows of itself: the `ServerStatus` and offer it publishes on its view
//! channel, and the ticks that tell the registry something changed.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Actor, Forwarder, View};
use crate::config::{Protocol, ServerConfig};
use crate::status::{ConnectionState, HiddenTool, ServerStatus};
use crate::upstream::Offer;

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Stdio => "stdio",
        Protocol::StreamableHttp => "streamable-http",
        Protocol::Sse => "sse",
        Protocol::Auto => "auto",
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn idle_state(config: &ServerConfig) -> ConnectionState {
    if !config.enabled {
        ConnectionState::Disabled
    } else if config.auto_disabled {
        ConnectionState::AutoDisabled
    } else {
        ConnectionState::Pending
    }
}

pub(super) fn initial_status(config: &ServerConfig) -> ServerStatus {
    ServerStatus {
        name: config.name.clone(),
        protocol: protocol_name(config.protocol).to_string(),
        connection_state: idle_state(config),
        enabled: config.enabled,
        auto_disabled: config.auto_disabled,
        auto_disable_reason: config.auto_disable_reason.clone(),
        last_error: None,
        attempts: 0,
        consecutive_failures: 0,
        next_retry_at: None,
        connected_at: None,
        pid: None,
        tool_count: 0,
        quarantined: config.quarantined,
        quarantine_reason: None,
        hidden_tools: Vec::new(),
        resource_count: 0,
        prompt_count: 0,
        supervisor_restarts: 0,
        protocol_version: None,
    }
}

impl Actor {
    /// What clients may see of the server's offer: nothing while it is quarantined, else its
    /// tools through the config's filters and the policy's tool review.
    fn exposed_offer(&self) -> Arc<Offer> {
        if self.withheld() {
            return Arc::default();
        }
        if !self.config.filters_tools() && self.reviewed.hidden.is_empty() {
            return self.offer.clone();
        }
        let mut offer = (*self.offer).clone();
        offer.tools.retain(|tool| {
            self.config.exposes(&tool.name)
                && !self.reviewed.hidden.contains_key(tool.name.as_ref())
        });
        Arc::new(offer)
    }

    pub(super) fn publish(&self) {
        let ready = self.state == ConnectionState::Ready;
        let offer = if ready {
            self.exposed_offer()
        } else {
            Arc::default()
        };
        let status = ServerStatus {
            name: self.config.name.clone(),
            protocol: protocol_name(self.config.protocol).to_string(),
            connection_state: self.state,
            enabled: self.config.enabled,
            auto_disabled: self.config.auto_disabled,
            auto_disable_reason: self.config.auto_disable_reason.clone(),
            last_error: self.last_error.clone(),
            attempts: self.counters.attempts,
            consecutive_failures: self.counters.consecutive_failures,
            next_retry_at: self.retry_at.map(|(_, at)| rfc3339(at)),
            connected_at: self.connected_at.map(rfc3339),
            pid: self.live.as_ref().and_then(|l| l.session.pid()),
            // A quarantined server's count is what approving it would show.
            tool_count: match (ready, self.withheld()) {
                (false, _) => 0,
                (true, false) => offer.tools.len(),
                (true, true) => self
                    .offer
                    .tools
                    .iter()
                    .filter(|t| self.config.exposes(&t.name))
                    .count(),
            },
            quarantined: self.withheld(),
            quarantine_reason: self.reviewed.quarantine.clone(),
            hidden_tools: if ready {
                self.reviewed
                    .hidden
                    .iter()
                    .map(|(name, reason)| HiddenTool {
                        name: name.clone(),
                        reason: reason.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            resource_count: if ready { self.offer.resources.len() } else { 0 },
            prompt_count: if ready { self.offer.prompts.len() } else { 0 },
            supervisor_restarts: self.crashes,
            protocol_version: if ready {
                self.offer.protocol_version.clone()
            } else {
                None
            },
        };
        let offer_changed = {
            let old = self.view.borrow();
            !Arc::ptr_eq(&old.offer, &offer) && *old.offer != *offer
        };
        let forwarder = self
            .live
            .as_ref()
            .filter(|_| ready && !self.withheld())
            .map(|live| {
                let tools = offer.tools.iter().map(|t| t.name.to_string()).collect();
                let secrets = self.config.secrets.clone();
                Arc::new(Forwarder::new(
                    live.way(),
                    self.shared.clone(),
                    secrets,
                    tools,
                ))
            });
        self.view.send_replace(View {
            status,
            offer,
            forwarder,
        });
        self.shared
            .state_tick
            .send_modify(|n| *n = n.wrapping_add(1));
        if offer_changed {
            self.shared
                .offer_tick
                .send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}
