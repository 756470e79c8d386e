//! The dashboard in a real browser: Debian's headless `chromium`, driven over WebDriver
//! (`chromedriver`, installed by `tests/tools/install-browser.sh`), against a real daemon
//! with tokens on and a real mix of servers. Signing in through the link `mcpproxy ui`
//! prints, every server listed with its state, an auto-disabled server's reason, "enable"
//! making it retry (observed in the daemon), a change made elsewhere appearing without a
//! reload, a server's tools in its detail view, and no JS errors. The page is saved as
//! `target/ui-screenshot.png`.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::common::browser::{browser, driver};
use crate::common::*;

/// The text of `selector` on the page, once `ready` accepts it (polled, 30 s at most).
async fn wait_text(client: &Client, selector: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(element) = client.find(Locator::Css(selector)).await
            && let Ok(text) = element.text().await
            && ready(&text)
        {
            return text;
        }
        if tokio::time::Instant::now() > deadline {
            let page = client.source().await.unwrap_or_default();
            panic!("{selector} never became as expected; page:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn row(server: &str, cell: &str) -> String {
    format!("tr[data-server=\"{server}\"] td.{cell}")
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mcp_config.json");
    let mut off = fixture_server("off", "healthy");
    off["enabled"] = json!(false);
    let doc = json!({"listen": "127.0.0.1:0", "mcpServers": [
        fixture_server("ok1", "healthy"), fixture_server("ok2", "healthy"),
        {"name": "missing", "command": "/nonexistent/mcp-server"}, off,
    ]});
    std::fs::write(&config, doc.to_string()).unwrap();
    let daemon = Daemon::start_on(dir, config, &[]);
    daemon.wait_state("ok1", "Ready", Duration::from_secs(30));
    daemon.wait_state("ok2", "Ready", Duration::from_secs(30));
    let missing = daemon.wait_state("missing", "Auto-Disabled", Duration::from_secs(30));
    let reason = missing["auto_disable_reason"].as_str().unwrap().to_string();
    let link = daemon.cli(&["ui"]).trim().to_string();
    assert!(link.contains("/ui/login#mcpp_"), "{link}");

    let driver = driver();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = browser(&driver).await;
        // Without a token a browser lands on the sign-in page.
        client
            .goto(&format!("{}/ui", daemon.base_url))
            .await
            .unwrap();
        wait_text(&client, "#login h1", |t| t == "mcpproxy").await;
        // The printed link signs in and opens the dashboard.
        client.goto(&link).await.unwrap();
        for name in ["ok1", "ok2", "missing", "off"] {
            wait_text(&client, &row(name, "state"), |t| !t.is_empty()).await;
        }
        assert_eq!(
            wait_text(&client, &row("ok1", "state"), |t| t == "Ready").await,
            "Ready"
        );
        wait_text(&client, &row("off", "state"), |t| t == "Disabled").await;
        let shown = wait_text(&client, &row("missing", "reason"), |t| !t.is_empty()).await;
        assert_eq!(shown, reason, "the policy's reason as the daemon has it");
        wait_text(&client, "#summary", |t| t.contains("4 servers")).await;
        wait_text(&client, "#config", |t| t.contains("generation")).await;
        wait_text(&client, "#policy", |t| t.contains("embedded")).await;

        // enable: the daemon retries the server.
        let enable = "tr[data-server=\"missing\"] button[data-action=\"enable\"]";
        client
            .find(Locator::Css(enable))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // Enabling clears the auto-disable and starts the attempts afresh.
        wait_for_async(|| {
            let s = daemon.server("missing");
            (s["auto_disabled"] == false && s["connection_state"] != "Auto-Disabled").then_some(())
        })
        .await;

        // A change made elsewhere appears without a reload.
        let disable = json!({"operation": "disable", "name": "ok2"});
        call_tool_json(&daemon, "upstream_servers", disable);
        wait_text(&client, &row("ok2", "state"), |t| t == "Disabled").await;

        // Filters, and a server's detail: its tools and log.
        let filter = client.find(Locator::Id("filter-name")).await.unwrap();
        filter.send_keys("ok").await.unwrap();
        wait_text(&client, "#shown", |t| t.starts_with("2 of 4")).await;
        filter.clear().await.unwrap();
        filter.send_keys(" ").await.unwrap();
        let name = "tr[data-server=\"ok1\"] td.name a";
        client
            .find(Locator::Css(name))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&client, "#detail-tools", |t| t.contains("echo")).await;

        let errors = client
            .execute("return window.mcpproxyErrors", vec![])
            .await
            .unwrap();
        assert_eq!(errors, Value::Array(vec![]), "JS errors on the page");
        let png = client.screenshot().await.unwrap();
        let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("ui-screenshot.png"), png).unwrap();
        client.close().await.unwrap();
    });
}

/// Polls `ready` (it may block briefly) until it gives a value, 30 s at most.
async fn wait_for_async<T>(mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = ready() {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
