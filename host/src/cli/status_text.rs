//! The policy and bundle part of `mcpproxy status` for people (`--json` prints the whole
//! document): which policy runs, how it has been deciding, and the pinned bundle.

use serde_json::Value;

/// The lines after the server summary; `status` is the daemon's status document.
pub fn policy_lines(status: &Value) -> Vec<String> {
    let p = &status["policy"];
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let sha = |v: &Value| text(v).chars().take(12).collect::<String>();
    let decisions: u64 = p["decisions"]
        .as_object()
        .into_iter()
        .flat_map(|hooks| hooks.values())
        .filter_map(Value::as_object)
        .flat_map(|outcomes| outcomes.values())
        .filter_map(Value::as_u64)
        .sum();
    let mut lines = vec![
        format!(
            "policy      {} (sha256 {}…, world {}, {} code)",
            text(&p["source"]),
            sha(&p["sha256"]),
            text(&p["world_version"]),
            text(&p["cache"]),
        ),
        format!(
            "            {decisions} decisions, {} fallbacks, on failure {}, deadline {} ms, memory {} MiB",
            text(&p["fallbacks"]),
            text(&p["on_failure"]),
            text(&p["deadline_ms"]),
            text(&p["memory_limit_mib"]),
        ),
    ];
    if let Some(n) = p["backoffs_clamped"].as_u64().filter(|n| *n > 0) {
        lines.push(format!(
            "            {n} backoffs answered below the 100 ms floor were raised to it"
        ));
    }
    if let Some(hooks) = p["hooks"].as_object() {
        for (hook, c) in hooks {
            lines.push(format!(
                "            {hook}: {} (sha256 {}…)",
                text(&c["source"]),
                sha(&c["sha256"])
            ));
        }
    }
    if p["fallback_active"] == true {
        lines.push(format!(
            "            {} could not be loaded: the embedded default runs",
            text(&p["configured_path"])
        ));
    }
    if p["quarantine"]["quarantined"] == true {
        lines.push(format!(
            "            QUARANTINED for {} ms more: the embedded default decides",
            text(&p["quarantine"]["remaining_ms"])
        ));
    }
    if !p["last_error"].is_null() {
        lines.push(format!(
            "            last error: {}",
            text(&p["last_error"])
        ));
    }
    let b = &status["bundle"];
    if !b.is_null() {
        lines.push(format!(
            "bundle      {} revision {} (manifest {}…, key {}, activated {}), pin {}",
            text(&b["name"]),
            text(&b["revision"]),
            sha(&b["manifest_sha256"]),
            text(&b["key_id"]),
            text(&b["activated_at"]),
            text(&b["pin_file"]),
        ));
        if !b["last_error"].is_null() {
            lines.push(format!(
                "            last error: {}",
                text(&b["last_error"])
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_file_policy_with_a_component_per_hook_and_a_bundle() {
        let status = json!({
            "policy": {
                "source": "/d/acme/policy.wasm", "sha256": "f0b8f65fd47b572ea646", "world_version": "0.1.0",
                "cache": "hit", "fallbacks": 2, "on_failure": "deny", "deadline_ms": 40, "backoffs_clamped": 3,
                "memory_limit_mib": 32, "fallback_active": false, "last_error": "policy x: backoff failed: trap",
                "decisions": {"backoff": {"ok": 5, "trap": 2}, "should-disable": {"ok": 3}, "filter-reload": {}},
                "hooks": {"backoff": {"source": "/d/acme/guest.wasm", "sha256": "aa"}},
                "quarantine": {"quarantined": true, "remaining_ms": 1500},
            },
            "bundle": {"name": "acme-policy", "revision": 2, "manifest_sha256": "0123456789abcdef",
                       "key_id": "0136541A58423499", "activated_at": "2026-11-25T15:00:00Z",
                       "last_error": null, "pin_file": "/etc/mcpproxy/policy-pin.json"},
        });
        let text = policy_lines(&status).join("\n");
        for want in [
            "policy      /d/acme/policy.wasm (sha256 f0b8f65fd47b…, world 0.1.0, hit code)",
            "10 decisions, 2 fallbacks, on failure deny, deadline 40 ms, memory 32 MiB",
            "backoff: /d/acme/guest.wasm",
            "QUARANTINED for 1500 ms more",
            "3 backoffs answered below the 100 ms floor were raised to it",
            "last error: policy x: backoff failed: trap",
            "bundle      acme-policy revision 2 (manifest 0123456789ab…, key 0136541A58423499, activated 2026-11-25T15:00:00Z), pin /etc/mcpproxy/policy-pin.json",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn the_embedded_default_without_a_pin_is_two_lines() {
        let status = json!({"policy": {"source": "embedded", "sha256": "ab", "decisions": {},
            "quarantine": {"quarantined": false}, "last_error": null}, "bundle": null});
        let lines = policy_lines(&status);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("policy      embedded"));
    }
}
