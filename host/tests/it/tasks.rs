//! Tasks (the tasks extension of MCP 2026-07-28) through the proxy: the fixture runs `sleep`
//! as a task for a client that declares the extension; the client sees the task under the
//! proxy's id, polls it to its result, cancels it, and is told an id it was not given does
//! not exist.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

fn tasks_client() -> Value {
    json!({"extensions": {"io.modelcontextprotocol/tasks": {}}})
}

/// Polls `tasks/get` for `id` until the task is in a terminal state (with a deadline).
fn until_done(url: &str, id: &str) -> Value {
    let mut n = 100;
    wait_for(Duration::from_secs(30), "the task to end", || {
        n += 1;
        let got = mcp_stateless_as(url, n, "tasks/get", json!({"taskId": id}), tasks_client());
        let status = got["result"]["status"].as_str().unwrap_or_default();
        assert!(got["error"].is_null(), "{got}");
        ["completed", "failed", "cancelled"]
            .contains(&status)
            .then_some(got["result"].clone())
    })
}

#[test]
fn a_task_runs_through_the_proxy_under_its_id_there() {
    let daemon = Daemon::start(
        json!({"mcpServers": [fixture_server("slow", "healthy")]}),
        &[],
    );
    daemon.wait_state("slow", "Ready", Duration::from_secs(30));
    let all = format!("{}/mcp/all", daemon.base_url);
    let one = format!("{}/mcp/server/slow", daemon.base_url);

    // The extension is offered where a server in view offers it.
    let discover = mcp_stateless_as(&all, 1, "server/discover", json!({}), tasks_client());
    let extensions = &discover["result"]["capabilities"]["extensions"];
    assert!(
        extensions["io.modelcontextprotocol/tasks"].is_object(),
        "{discover}"
    );

    // On /mcp/all the task's id names its server; it is polled to its result.
    let call = json!({"name": "slow__sleep", "arguments": {"ms": 200}});
    let created = mcp_stateless_as(&all, 2, "tools/call", call, tasks_client());
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    let id = created["result"]["taskId"].as_str().unwrap().to_string();
    assert!(id.starts_with("slow:"), "{created}");
    let done = until_done(&all, &id);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["taskId"], json!(id));
    assert_eq!(
        done["result"]["content"][0]["text"], "slept 200 ms",
        "{done}"
    );

    // On the server's own endpoint the id is the server's, and the same task is found there.
    let own = id.trim_start_matches("slow:");
    let got = mcp_stateless_as(&one, 3, "tasks/get", json!({"taskId": own}), tasks_client());
    assert_eq!(got["result"]["status"], "completed", "{got}");
    assert_eq!(got["result"]["taskId"], json!(own));

    // Cancelled through the proxy, the server's task ends cancelled.
    let call = json!({"name": "sleep", "arguments": {"ms": 60_000}});
    let created = mcp_stateless_as(&one, 4, "tools/call", call, tasks_client());
    let long = created["result"]["taskId"].as_str().unwrap().to_string();
    assert!(!long.contains(':'), "{created}");
    let cancel = json!({"taskId": long});
    let acked = mcp_stateless_as(&one, 5, "tasks/cancel", cancel, tasks_client());
    assert!(acked["error"].is_null(), "{acked}");
    assert_eq!(until_done(&one, &long)["status"], "cancelled");

    // An id the proxy did not hand out is unknown, whichever server it names.
    let made_up = json!({"taskId": "slow:not-a-task"});
    let unknown = mcp_stateless_as(&all, 6, "tasks/get", made_up, tasks_client());
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    let foreign = json!({"taskId": format!("other:{own}")});
    let unknown = mcp_stateless_as(&all, 7, "tasks/get", foreign, tasks_client());
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");

    // A client without the extension gets the tool's answer itself.
    let call = json!({"name": "slow__sleep", "arguments": {"ms": 10}});
    let plain = mcp_stateless(&all, 8, "tools/call", call);
    assert_eq!(
        plain["result"]["content"][0]["text"], "slept 10 ms",
        "{plain}"
    );
}
